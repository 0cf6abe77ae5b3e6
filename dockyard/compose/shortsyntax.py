"""Compose's short syntax for ports (docker/go-connections' ParsePortSpecs, as compose-go uses it)
and volumes (compose-go's format.ParseVolume), parsed into their long forms."""

from __future__ import annotations

import posixpath

from dockyard.errors import InvalidArgument


class CanonicalError(InvalidArgument):
    pass


# ---- ports (docker/go-connections nat.ParsePortSpecs, as compose-go uses it)

def parse_port(spec: str, where: str = "") -> list[dict]:
    raw = spec
    proto = "tcp"
    if "/" in spec:
        spec, proto = spec.rsplit("/", 1)
        if not proto:
            raise CanonicalError(f"invalid proto: {proto}")
    ip = ""
    if spec.startswith("["):  # [v6]:host:container
        end = spec.find("]")
        if end < 0:
            raise CanonicalError(f"invalid IP address: {spec}")
        ip, rest = spec[1:end], spec[end + 1:]
        parts = [ip] + (rest[1:].split(":") if rest.startswith(":") else [rest])
    else:
        parts = spec.split(":")
    if len(parts) == 1:
        host, container = "", parts[0]
    elif len(parts) == 2:
        host, container = parts
    elif len(parts) == 3:
        ip, host, container = parts
    else:
        # an unbracketed IPv6 address: everything before the last two parts
        ip, host, container = ":".join(parts[:-2]), parts[-2], parts[-1]
    if ip:
        import ipaddress

        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise CanonicalError(f"invalid IP address: {ip}") from None
    if not container:
        raise CanonicalError(f"no port specified: {raw}<empty>")
    c_lo, c_hi = _port_range(container, "containerPort", raw)
    if host:
        h_lo, h_hi = _port_range(host, "hostPort", raw)
    else:
        h_lo = h_hi = None
    n = c_hi - c_lo
    if host and (h_hi - h_lo) != n and n != 0:
        raise CanonicalError(f"invalid ranges specified for container and host Ports: {container} and {host}")
    out = []
    proto = proto.lower()
    keys = sorted(range(c_lo, c_hi + 1), key=lambda p: f"{p}/{proto}")
    for p in keys:
        if not host:
            published = ""
        elif n == 0 and h_hi != h_lo:
            published = f"{h_lo}-{h_hi}"
        else:
            published = str(h_lo + (p - c_lo))
        entry = {"mode": "ingress"}
        if ip:
            entry["host_ip"] = ip
        entry["target"] = p
        if published:
            entry["published"] = published
        entry["protocol"] = proto
        out.append(entry)
    return out


def _port_range(s: str, what: str, raw: str) -> tuple[int, int]:
    lo, sep, hi = s.partition("-")
    try:
        a = int(lo, 10)
        b = int(hi, 10) if sep else a
    except ValueError:
        raise CanonicalError(f"invalid {what}: {s}") from None
    if not (0 <= a <= 65535 and 0 <= b <= 65535) or b < a:
        raise CanonicalError(f"invalid {what}: {s}")
    return a, b


# ---- volumes (compose-go's format.ParseVolume)

_PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")


def parse_volume(spec: str) -> dict:
    if not spec:
        raise CanonicalError("invalid empty volume spec")
    if len(spec) <= 2:
        return {"type": "volume", "target": spec, "volume": {}}
    fields: list[str] = []
    buf = ""
    depth = 0
    i = 0
    text = spec
    while i <= len(text):
        c = text[i] if i < len(text) else None
        if c == "$" and i + 1 < len(text) and text[i + 1] == "{":
            depth += 1
            buf += c
        elif c == "}" and depth:
            depth -= 1
            buf += c
        elif c == ":" and len(buf) == 1 and buf.isalpha():  # a Windows drive letter
            buf += c
        elif (c == ":" or c is None) and depth == 0:
            if not buf:
                raise CanonicalError(f"invalid spec: {spec}: empty section between colons")
            if len(fields) == 3:
                raise CanonicalError(f"invalid spec: {spec}: too many colons")
            fields.append(buf)
            buf = ""
        else:
            buf += c
        i += 1
    vol: dict = {}
    if len(fields) == 1:
        vol["target"] = fields[0]
    else:
        vol["source"], vol["target"] = fields[0], fields[1]
    read_only = False
    bind: dict = {}
    volume: dict | None = None
    if len(fields) == 3:
        for opt in fields[2].split(","):
            if opt == "ro":
                read_only = True
            elif opt == "rw":
                read_only = False
            elif opt == "nocopy":
                volume = {"nocopy": True}
            elif opt in _PROPAGATIONS:
                bind["propagation"] = opt
            elif opt in ("z", "Z"):
                bind["selinux"] = opt
    src = vol.get("source", "")
    out = {}
    if src[:1] in (".", "/", "~") or src.startswith("\\\\") or (len(src) > 1 and src[0].isalpha() and src[1] == ":"):
        out["type"] = "bind"
        out.update(vol)
        if read_only:
            out["read_only"] = True
        bind["create_host_path"] = True
        out["bind"] = bind
    else:
        out["type"] = "volume"
        out.update(vol)
        if read_only:
            out["read_only"] = True
        if bind:
            out["bind"] = bind
        out["volume"] = volume or {}
    if out.get("target"):
        out["target"] = posixpath.normpath(out["target"]) if out["target"] != "" else ""
        if out["target"].startswith("//"):
            out["target"] = out["target"][1:]
    return out
