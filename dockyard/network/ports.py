"""Published ports: docker's `-p` syntax, `-P`, and holding the host ports while in use.

A published port is a DNAT rule (network/firewall.py) plus a socket bound to the host address
and port, held by the process that watches the container (the foreground CLI or its monitor)
for as long as the container runs. The socket never listens - the DNAT rule sends traffic on
before it could reach it - but holding it makes the kernel refuse the port to everybody else,
and makes a port someone already uses fail `run` with a clear error before the container
starts, as Docker's docker-proxy does.
"""

from __future__ import annotations

import _socket

from dockyard.errors import Conflict, InvalidArgument


def _port(s: str, what: str, text: str) -> int:
    if not s.isdigit() or not 0 < int(s) < 65536:  # docker's words (nat.ParsePortSpec), ports 1-65535
        raise InvalidArgument(f"invalid {what}: {text}", hint="ports are 1-65535")
    return int(s)


def _range(s: str, spec: str, what: str) -> list[int]:
    lo, dash, hi = s.partition("-")
    if not dash:
        return [_port(s, what, s)]
    a, b = _port(lo, what, s), _port(hi, what, s)
    if b < a:
        raise InvalidArgument(f"invalid port range {s!r} in {spec!r}")
    return list(range(a, b + 1))


def parse_publish(spec: str) -> list[dict]:
    """`[ip:][host_port[-end]:]container_port[-end][/tcp|udp]` → port dicts (host_port 0: any)."""
    body, slash, proto = spec.partition("/")
    proto = proto.lower() if slash else "tcp"
    if proto not in ("tcp", "udp"):
        raise InvalidArgument(f"invalid proto {proto!r} in {spec!r}: tcp or udp")
    if body.startswith("[") and "]" in body:
        raise InvalidArgument(f"invalid publish spec {spec!r}: ports are published on IPv4 host addresses only "
                              "(a container on an IPv6 network answers them on its IPv4 address)",
                              hint="give an IPv4 host address (127.0.0.1:8080:80) or none")
    parts = body.split(":")
    if len(parts) > 3 or not parts[-1]:
        raise InvalidArgument(f"invalid publish spec {spec!r}: expected [ip:][host_port:]container_port[/proto]")
    host_ip = parts[0] if len(parts) == 3 else ""
    host = parts[-2] if len(parts) >= 2 else ""
    if host_ip:
        from dockyard.network.ipam import to_int

        try:
            to_int(host_ip)
        except InvalidArgument:
            raise InvalidArgument(f"invalid IP address: {host_ip}", hint="only IPv4 is supported") from None
    ctr = _range(parts[-1], spec, "containerPort")
    hosts = _range(host, spec, "hostPort") if host else [0] * len(ctr)
    if len(hosts) != len(ctr):
        if len(ctr) == 1 and host:  # docker: -p 8000-8010:80 picks one free port of the range
            raise InvalidArgument(f"publishing one container port to a host port range is not supported: {spec!r}")
        raise InvalidArgument(f"invalid ranges in {spec!r}: the host and container ranges differ in size")
    return [{"proto": proto, "host_ip": host_ip, "host_port": h, "container_port": c} for h, c in zip(hosts, ctr)]


def exposed_ports(image_cfg: dict) -> list[dict]:
    """-P: every port the image EXPOSEs, to a random host port."""
    from dockyard.oci.ports import exposed_port

    out = []
    for key in sorted((image_cfg.get("ExposedPorts") or {}).keys()):
        port, proto = exposed_port(key)
        out.append({"proto": proto, "host_ip": "", "host_port": 0, "container_port": port})
    return out


def merge(explicit: list[dict], exposed: list[dict]) -> list[dict]:
    """-p entries win over -P for the same container port."""
    seen = {(p["proto"], p["container_port"]) for p in explicit}
    return list(explicit) + [p for p in exposed if (p["proto"], p["container_port"]) not in seen]


class Reservation:
    """Bound host sockets for a container's published ports, closed together."""

    def __init__(self) -> None:
        self.socks: list = []
        self.bound: list[dict] = []  # port dicts with the real host_port

    def close(self) -> None:
        for s in self.socks:
            s.close()
        self.socks = []


def reserve(ports: list[dict], container: str) -> Reservation:
    """Bind every port (host_port 0: the kernel picks one) or raise Conflict, holding none."""
    res = Reservation()
    try:
        for p in ports:
            kind = _socket.SOCK_STREAM if p["proto"] == "tcp" else _socket.SOCK_DGRAM
            s = _socket.socket(_socket.AF_INET, kind | _socket.SOCK_CLOEXEC, 0)
            res.socks.append(s)
            ip = p["host_ip"] or "0.0.0.0"
            try:
                s.bind((ip, p["host_port"]))
            except OSError as e:
                reason = "port is already allocated" if e.errno == 98 else e.strerror
                raise Conflict(f"driver failed programming external connectivity on endpoint {container}: "
                               f"Bind for {ip}:{p['host_port']} failed: {reason}") from None
            res.bound.append(dict(p, host_port=s.getsockname()[1]))
    except BaseException:
        res.close()
        raise
    return res


def render(bound: list[dict]) -> dict:
    """docker's NetworkSettings.Ports: {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}."""
    out: dict = {}
    for p in bound:
        out.setdefault(f"{p['container_port']}/{p['proto']}", []).append(
            {"HostIp": p["host_ip"] or "0.0.0.0", "HostPort": str(p["host_port"])})
    return out


def ps_column(ports: dict) -> str:
    """docker ps's PORTS text: 0.0.0.0:8080->80/tcp, 53/udp (exposed, unpublished)."""
    items = []
    for key, binds in sorted(ports.items(), key=lambda kv: (int(kv[0].split("/")[0]), kv[0])):
        if not binds:
            items.append(key)
        for b in binds or ():
            items.append(f"{b['HostIp']}:{b['HostPort']}->{key}")
    return ", ".join(items)
