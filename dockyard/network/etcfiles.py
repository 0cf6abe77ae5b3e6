"""/etc/hosts, /etc/hostname and /etc/resolv.conf for a container, written like docker's.

Docker bind-mounts these three files from the container's own directory on the host, so they are
per container, survive image changes, and can be edited by the engine later (network connect).
"""

from __future__ import annotations

import os

_HOSTS_BASE = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
_FALLBACK_DNS = ("8.8.8.8", "8.8.4.4")


def hosts_content(hostname: str, ip: str | None = None, extra: list[tuple[str, str]] = (), ip6: str = "") -> str:
    """`ip6`: the container's own IPv6 address (an IPv6 network), listed after its IPv4 one, as Docker's."""
    out = _HOSTS_BASE
    for host, addr in extra:
        out += f"{addr}\t{host}\n"
    if ip:
        out += f"{ip}\t{hostname}\n"
    if ip6:
        out += f"{ip6}\t{hostname}\n"
    return out


def resolv_content(host_resolv: str = "/etc/resolv.conf", *, embedded_dns: bool = False, dns=(), search=(),
                   options=()) -> str:
    """The host's resolv.conf without loopback nameservers (unreachable from a container's own
    network namespace), falling back to public resolvers as docker does when none remain.
    `embedded_dns` (user networks): the host's search and options, and 127.0.0.11 as the only
    server, as Docker writes it. `dns`, `search`, `options` (--dns, --dns-search, --dns-option)
    replace the host's servers, search list and options, each on its own, as dockerd's; a search
    of "." alone means none (the embedded server forwards to `dns`, see engine/networking.py)."""
    try:
        with open(host_resolv) as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    if search or options:
        search_lines = [] if list(search) == ["."] else \
            ["search " + " ".join(search)] if search else [ln for ln in lines if ln.split()[:1] in (["search"],
                                                                                                  ["domain"])]
        opt_lines = ["options " + " ".join(options)] if options else [ln for ln in lines
                                                                       if ln.split()[:1] == ["options"]]
    if embedded_dns:  # libnetwork's order: search, the one nameserver, then one options line (ndots:0 added)
        if not (search or options):
            search_lines = [ln for ln in lines if ln.split()[:1] in (["search"], ["domain"])]
        opts = list(options) or [o for ln in lines if ln.split()[:1] == ["options"] for o in ln.split()[1:]]
        if not any(o.startswith("ndots:") for o in opts):
            opts.append("ndots:0")
        return "\n".join(search_lines + ["nameserver 127.0.0.11", "options " + " ".join(opts)]) + "\n"
    if dns or search or options:
        servers = [f"nameserver {ip}" for ip in dns] or [ln for ln in _plain(lines) if ln.split()[:1] == ["nameserver"]]
        if not (search or options):
            search_lines = [ln for ln in lines if ln.split()[:1] in (["search"], ["domain"])]
            opt_lines = [ln for ln in lines if ln.split()[:1] == ["options"]]
        return "\n".join(search_lines + servers + opt_lines) + "\n"
    return "\n".join(_plain(lines)) + "\n"


def _plain(lines: list[str]) -> list[str]:
    out = []
    servers = 0
    for line in lines:
        parts = line.split()
        if parts and parts[0] == "nameserver" and len(parts) > 1:
            if parts[1].startswith("127.") or parts[1] == "::1":
                continue
            servers += 1
        out.append(line)
    if not servers:
        out += [f"nameserver {ip}" for ip in _FALLBACK_DNS]
    return out


def write_etc_files(directory: str, hostname: str, *, host_network: bool = False, ip: str | None = None,
                    embedded_dns: bool = False, extra_hosts=(), dns=(), search=(), options=()) -> dict:
    """Write the three files into `directory`; return {container path: host path} to bind.
    `extra_hosts`: (name, address) pairs (--add-host), after the host's or the default entries."""
    files = {}
    added = "".join(f"{addr}\t{name}\n" for name, addr in extra_hosts)
    custom = bool(dns or search or options)
    if host_network:
        contents = {"hosts": (_read("/etc/hosts") or hosts_content(hostname)) + added,
                    "hostname": _read("/etc/hostname") or os.uname().nodename + "\n",
                    "resolv.conf": resolv_content(dns=dns, search=search, options=options) if custom
                    else _read("/etc/resolv.conf") or resolv_content()}
    else:
        contents = {"hosts": hosts_content(hostname, ip, extra_hosts), "hostname": hostname + "\n",
                    "resolv.conf": resolv_content(embedded_dns=embedded_dns, dns=dns, search=search, options=options)}
    for name, text in contents.items():
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(text)
        files[f"/etc/{name}"] = path
    return files


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None
