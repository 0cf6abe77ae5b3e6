"""IPv6 on bridge networks, and link-local addresses (engine/networking.py's IPv6 half).

What dockerd (moby 27) does, which dockyard follows:

- `network create --ipv6` gives the network an IPv6 subnet besides its IPv4 one: the one asked
  for (`--subnet fd…/64`, with its own `--gateway`/`--ip-range`), else a /64 of dockyard's ULA
  pool (network/ipv6.py; dockerd 27 allocates one from its default pool too, 20.10 failed). An
  IPv6 subnet without `--ipv6` turns IPv6 on too (see network_config). The
  bridge gets the gateway address; its ip6tables rules mirror the IPv4 ones (network/firewall.py).
  A host with IPv6 disabled or without ip6tables gets a clear refusal, never a half network.
- A container on such a network gets an IPv6 address on its interface (the IPAM's next free one,
  or `--ip6` / IPAMConfig.IPv6Address), a default IPv6 route via the gateway (on its first
  network, unless --internal), and IPv6 enabled in its namespace (disable_ipv6=0). Its endpoint
  row holds the address (unique per network by the schema), which the embedded DNS answers as
  AAAA and /etc/hosts lists.
- `--link-local-ip` / IPAMConfig.LinkLocalIPs: extra addresses (169.254.0.0/16 or fe80::/10, though
  dockerd takes any address, and so does dockyard: /16 for IPv4, /64 for IPv6) on the container's
  interface of that network, on any bridge network, as dockerd adds them.
"""

from __future__ import annotations

import os

from dockyard.errors import Conflict, InvalidArgument, Unavailable


def network_config(enable: bool, subnet: str | None, gateway: str | None, ip_range: str) -> tuple | None:
    """Check a create request's IPv6 part before anything is made: (subnet or None, checked
    gateway, ip range); None for an IPv4-only network. An IPv6 subnet turns IPv6 on without
    `enable` (dockerd 20.10 records it with EnableIPv6 false and gives containers no IPv6
    address, an asked-for IPv6Address included: dockyard honours what was asked instead)."""
    from dockyard.network import ipv6

    if not enable and not subnet:
        if gateway or ip_range:
            raise InvalidArgument("an IPv6 gateway or ip-range needs its IPv6 subnet")
        return None
    why = ipv6.host_supports()
    if why:
        raise Unavailable(f"cannot create an IPv6 network: {why}",
                          hint="enable IPv6 on the host (sysctl net.ipv6.conf.all.disable_ipv6=0) and install "
                          "ip6tables, or create the network without --ipv6")
    if (gateway or ip_range) and not subnet:
        raise InvalidArgument("an IPv6 gateway or ip-range needs its IPv6 subnet")
    if not subnet:
        return None, "", ""
    sub = ipv6.Subnet6.parse(subnet)
    _, gw = ipv6.check_config(sub, ip_range=ip_range, gateway=gateway or "")
    return sub, gw, ip_range


def allocate_subnet(checked: tuple | None, networks: list) -> dict:
    """Under the network lock: the network's `ipv6` record ({} when IPv4 only), its subnet clear of
    the host's IPv6 routes and of the store's other IPv6 networks."""
    from dockyard.network import ipv6

    if checked is None:
        return {}
    sub, gw, ip_range = checked
    taken = ipv6.host_routes() + [ipv6.Subnet6.parse(n.ipv6["Subnet"]) for n in networks if n.ipv6]
    if sub is not None:
        if any(sub.overlaps(t) for t in taken):
            raise Conflict(f"invalid pool request: Pool overlaps with other one on this address space ({sub})")
    else:
        sub = ipv6.choose_subnet(taken)
        gw = sub.gateway
    return {"Subnet": str(sub), **({"IPRange": ip_range} if ip_range else {}), "Gateway": gw}  # dockerd's order


def bring_up(rec, nl, index: int) -> None:
    """The bridge's IPv6 side: IPv6 on, forwarding on, its ip6tables rules, the gateway address
    (the IPv4 side's rules are in place already; `remove_tagged` removed both families')."""
    from dockyard.network import firewall, ipv6

    if not rec.ipv6:
        # IPv6 off on an IPv4-only network's bridge: the host forwards IPv6 once any IPv6 network
        # exists, and this bridge has no ip6tables rules, so a container here (any can write a
        # frame with CAP_NET_RAW) would otherwise get IPv6 packets routed out of it
        if os.path.exists(f"/proc/sys/net/ipv6/conf/{rec.bridge}"):
            firewall.sysctl(f"/proc/sys/net/ipv6/conf/{rec.bridge}/disable_ipv6", "1")
        return
    why = ipv6.host_supports()
    if why:
        raise Unavailable(f"network {rec.name} has IPv6, but {why}")
    firewall.ensure_base(v6=True)
    firewall.apply(firewall.network_rules6(rec.bridge, rec.ipv6["Subnet"], rec.internal), v6=True)
    firewall.sysctl(f"/proc/sys/net/ipv6/conf/{rec.bridge}/disable_ipv6", "0")
    nl.add_address6(index, rec.ipv6["Gateway"], ipv6.Subnet6.parse(rec.ipv6["Subnet"]).prefix)


def check_fixed(rec, ip6: str, link_local: list | tuple) -> tuple[str, list[str]]:
    """A container's --ip6 and --link-local-ip for network `rec`, checked at create and connect:
    (canonical IPv6 address or "", canonical link-local addresses)."""
    from dockyard.network import ipv6

    lls = [ipv6.link_local(a)[1] for a in link_local or ()]
    if ip6:
        if not rec.ipv6:
            raise InvalidArgument(f"invalid IPv6 address {ip6}: network {rec.name} has no IPv6 "
                                  "(create it with --ipv6)")
        ip6 = ipv6.check_address(ipv6.Subnet6.parse(rec.ipv6["Subnet"]), ip6, rec.name)
    return ip6, lls


def endpoint_address(engine, rec, fixed: str) -> str:
    """The endpoint's IPv6 address on `rec` ("" on an IPv4-only network): the fixed one, or the
    IPAM's next free one. The caller records it (unique per network by the schema)."""
    from dockyard.network import ipv6
    from dockyard.state.networks import used_addresses6

    if not rec.ipv6:
        return ""
    sub = ipv6.Subnet6.parse(rec.ipv6["Subnet"])
    used = used_addresses6(engine.db, rec.id)
    gw = rec.ipv6["Gateway"]
    if fixed:
        fixed = ipv6.canonical(fixed)
        if fixed in used or fixed == gw:
            raise Conflict(f"Address already in use: {fixed} on network {rec.name}")
        return fixed
    pool = ipv6.Subnet6.parse(rec.ipv6["IPRange"]) if rec.ipv6.get("IPRange") else None
    return ipv6.allocate(sub, used, gw, pool=pool, network=f"{rec.name} ({rec.id})")


def enable_in_netns(pid: int, ifname: str) -> None:
    """IPv6 on in the container's namespace and on its interface (a host or a kernel that creates
    namespaces with it disabled, net.ipv6.conf.default.disable_ipv6=1), and no router
    advertisements taken: the route is ours."""
    from dockyard.linux.netdev import in_netns

    def write() -> None:
        for path, value in ((f"/proc/sys/net/ipv6/conf/{ifname}/accept_ra", "0"),
                            ("/proc/sys/net/ipv6/conf/all/disable_ipv6", "0"),
                            (f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6", "0")):
            try:
                with open(path, "w") as f:
                    f.write(value)
            except OSError as e:
                raise Unavailable(f"cannot set {path} to {value} in the container's namespace: {e.strerror}") from None

    in_netns(pid, write)


def plug(cnl, pid: int, cidx: int, ifname: str, rec, ip6: str, link_local: list, default_route: bool) -> dict:
    """The container's side: its IPv6 address and default route on `rec`, its link-local
    addresses; returns the NetworkSettings.Networks fields they show in."""
    from dockyard.network import ipv6

    out: dict = {}
    if ip6 or any(":" in a for a in link_local):
        enable_in_netns(pid, ifname)
    for addr in link_local:
        if ":" in addr:
            cnl.add_address6(cidx, addr, 64, link_scope=ipv6.is_link_local(addr))
        else:
            cnl.add_address(cidx, addr, 16, "169.254.255.255")
    if ip6:
        prefix = ipv6.Subnet6.parse(rec.ipv6["Subnet"]).prefix
        cnl.add_address6(cidx, ip6, prefix)
        if default_route and not rec.internal:
            cnl.add_default_route6(rec.ipv6["Gateway"], cidx)
        out = {"GlobalIPv6Address": ip6, "GlobalIPv6PrefixLen": prefix, "IPv6Gateway": rec.ipv6["Gateway"]}
    return out


def ipam_config(ip4: str, ip6: str, link_local) -> dict | None:
    """EndpointSettings.IPAMConfig as dockerd shows it (None when nothing was asked for)."""
    out = {k: v for k, v in (("IPv4Address", ip4), ("IPv6Address", ip6)) if v}
    if link_local:
        out["LinkLocalIPs"] = list(link_local)
    return out or None

