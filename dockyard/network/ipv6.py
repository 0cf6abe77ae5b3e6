"""IPv6 address management for bridge networks: subnets, the gateway, addresses, the ULA pool.

Pure functions over integers, parsed and printed by the C module's `inet_pton`/`inet_ntop` (no
`ipaddress`: it imports `re` and `functools`, and this runs on the `run` path), so addresses
come out in their canonical (RFC 5952) form, as dockerd prints them.

A network asked for with `--ipv6` and no IPv6 subnet gets one, as dockerd 27 does (20.10 failed
instead): the first /64 of dockyard's ULA prefix fd79:6f63:6b79::/48 (a fixed prefix, so one host's
networks are predictable; dockerd derives its /48 from the host's ID) clear of every IPv6 route
on the host and of the store's other networks. The gateway is the subnet's first address (::1),
as dockerd's; containers get the next free ones in order.
"""

from __future__ import annotations

import _socket

from dockyard.errors import InvalidArgument, Unavailable

ULA_POOL = "fd79:6f63:6b79::/48"
ULA_PREFIX = 64
_ALL = (1 << 128) - 1


def to_int(addr: str, what: str = "IPv6 address") -> int:
    try:
        return int.from_bytes(_socket.inet_pton(_socket.AF_INET6, addr), "big")
    except (OSError, ValueError, TypeError):
        raise InvalidArgument(f"invalid {what}: {addr!r}") from None


def to_str(n: int) -> str:
    return _socket.inet_ntop(_socket.AF_INET6, n.to_bytes(16, "big"))


def canonical(addr: str, what: str = "IPv6 address") -> str:
    return to_str(to_int(addr, what))


def is_v6(text: str) -> bool:
    return ":" in text


class Subnet6:
    """An IPv6 network: `net` (the network address as an int) and `prefix`."""

    __slots__ = ("net", "prefix")

    def __init__(self, net: int, prefix: int) -> None:
        self.net, self.prefix = net, prefix

    @classmethod
    def parse(cls, cidr: str) -> Subnet6:
        addr, slash, prefix = cidr.partition("/")
        if not slash or not prefix.isdigit() or not 0 <= int(prefix) <= 128:
            raise InvalidArgument(f"invalid subnet {cidr!r}: expected an IPv6 CIDR such as fd00:1::/64")
        p = int(prefix)
        n = to_int(addr, f"subnet {cidr!r}")
        mask = _mask(p)
        if n & ~mask & _ALL:
            raise InvalidArgument(f"invalid subnet {cidr!r}: host bits are set (did you mean {to_str(n & mask)}/{p}?)")
        if p > 126:
            raise InvalidArgument(f"subnet {cidr} is too small: it needs room for a gateway and containers")
        if p == 0:
            raise InvalidArgument(f"invalid subnet {cidr}: it covers every address (the host's default route)")
        if n >> 118 == 0x3FA:  # fe80::/10
            raise InvalidArgument(f"invalid subnet {cidr}: link-local addresses are every interface's own")
        if n >> 120 == 0xFF:
            raise InvalidArgument(f"invalid subnet {cidr}: a multicast block")
        return cls(n, p)

    @property
    def size(self) -> int:
        return 1 << (128 - self.prefix)

    @property
    def gateway(self) -> str:
        return to_str(self.net + 1)

    def contains(self, addr: str) -> bool:
        return to_int(addr) & _mask(self.prefix) == self.net

    def overlaps(self, other: Subnet6) -> bool:
        return self.net < other.net + other.size and other.net < self.net + self.size

    def __str__(self) -> str:
        return f"{to_str(self.net)}/{self.prefix}"


def _mask(prefix: int) -> int:
    return (_ALL << (128 - prefix)) & _ALL


def host_routes(path: str = "/proc/net/ipv6_route") -> list[Subnet6]:
    """Every IPv6 destination the host routes, but the default route, link-local, multicast and
    host (/128) routes."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                fields = line.split()
                dest, plen = int(fields[0], 16), int(fields[1], 16)
                if plen == 0 or plen == 128 or dest >> 118 == 0x3FA or dest >> 120 == 0xFF:
                    continue
                out.append(Subnet6(dest & _mask(plen), plen))
    except (OSError, ValueError, IndexError):
        pass
    return out


def choose_subnet(taken: list[Subnet6]) -> Subnet6:
    """The first /64 of the ULA pool clear of `taken`."""
    pool = Subnet6.parse(ULA_POOL)
    step = 1 << (128 - ULA_PREFIX)
    for n in range(pool.net, pool.net + pool.size, step):
        cand = Subnet6(n, ULA_PREFIX)
        if not any(cand.overlaps(t) for t in taken):
            return cand
    raise Unavailable(f"no free IPv6 subnet left in dockyard's pool {ULA_POOL}",
                      hint="remove unused networks (dockyard network prune) or give one with --subnet")


def check_config(subnet: Subnet6, *, ip_range: str = "", gateway: str = "") -> tuple[Subnet6 | None, str]:
    """An IPv6 subnet's IPAM config checked as dockerd's ValidateIPAM (every fault, one line each);
    returns the allocation pool (None: the whole subnet) and the gateway (given, else the
    subnet's first address, canonical)."""
    errs = []
    pool = None
    if ip_range:
        try:
            pool = Subnet6.parse(ip_range)
        except InvalidArgument:
            errs.append(f"invalid ip-range {ip_range}: invalid CIDR block notation" if is_v6(ip_range)
                        else f"invalid ip-range {ip_range}: parent subnet is an IPv6 block")
        else:
            if pool.prefix < subnet.prefix or not subnet.overlaps(pool):
                errs.append(f"invalid ip-range {ip_range}: parent subnet {subnet} doesn't contain ip-range")
    if gateway:
        if not is_v6(gateway):
            errs.append(f"invalid gateway {gateway}: parent subnet is an IPv6 block")
        else:
            try:
                if not subnet.contains(gateway):
                    errs.append(f"invalid gateway {gateway}: parent subnet {subnet} doesn't contain this address")
            except InvalidArgument:
                errs.append(f"invalid gateway {gateway}: invalid address")
    if errs:
        raise InvalidArgument("invalid network config:\n" + "\n".join(errs))
    if gateway:
        if to_int(gateway) == subnet.net:
            raise InvalidArgument(f"failed to allocate gateway ({gateway}): Address already in use")
        return pool, canonical(gateway)
    return pool, subnet.gateway


def allocate(subnet: Subnet6, used: set[str], gateway: str, *, pool: Subnet6 | None = None,
             network: str = "") -> str:
    """The lowest free address of the pool (the subnet, or its IPRange) after the subnet's own
    address, never the gateway; `used` holds canonical addresses."""
    skip = used | {gateway}
    first, last = subnet.net + 1, subnet.net + subnet.size - 1
    if pool is not None:
        first, last = max(first, pool.net), min(last, pool.net + pool.size - 1)
    n = first
    while n <= last and n - first < 1 << 20:
        a = to_str(n)
        if a not in skip:
            return a
        n += 1
    raise Unavailable(f"no available IPv6 addresses on this network's address pools: {network or subnet}")


def check_address(subnet: Subnet6, addr: str, network: str) -> str:
    """A fixed address (--ip6, IPAMConfig.IPv6Address) in the network's subnet, canonical."""
    n = to_int(addr)
    if n & _mask(subnet.prefix) != subnet.net:
        raise InvalidArgument(f"invalid IPv6 address {addr}: it is not in network {network}'s subnet {subnet}")
    if n == subnet.net:
        raise InvalidArgument(f"invalid IPv6 address {addr}: the subnet's own address")
    return to_str(n)


def host_supports() -> str:
    """Why the host cannot have IPv6 bridge networks ("" when it can): IPv6 off in the kernel or
    disabled, or no ip6tables to isolate them."""
    import os
    import shutil

    try:
        with open("/proc/sys/net/ipv6/conf/all/disable_ipv6") as f:
            if f.read().strip() != "0":
                return "IPv6 is disabled on this host (net.ipv6.conf.all.disable_ipv6=1)"
    except OSError:
        return "this host's kernel has no IPv6 (no /proc/sys/net/ipv6)"
    path = "/usr/sbin:/sbin:/usr/bin:/bin:" + os.environ.get("PATH", "")
    for exe in ("ip6tables", "ip6tables-restore"):
        if shutil.which(exe, path=path) is None:
            return f"{exe} is not installed: IPv6 networks need it to isolate them"
    return ""


def link_local(addr: str) -> tuple[int, str]:
    """A --link-local-ip / LinkLocalIPs entry: (family 4 or 6, canonical address). As dockerd's
    validateEndpointSettings: any address but the unspecified one (169.254.0.0/16 and fe80::/10
    are what it is for, but dockerd does not insist)."""
    from dockyard.network.ipam import to_int as v4

    try:
        n = to_int(addr) if is_v6(addr) else v4(addr)
    except InvalidArgument:
        raise InvalidArgument(f"invalid link-local IP address: {addr!r}") from None
    if n == 0:
        raise InvalidArgument(f"invalid link-local IP address: {addr} (unspecified)")
    return (6, to_str(n)) if is_v6(addr) else (4, addr)


def is_link_local(addr: str) -> bool:
    """In fe80::/10 (an IPv6 address)."""
    return to_int(addr) >> 118 == 0x3FA
