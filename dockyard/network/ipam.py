"""IPv4 address management: subnets that clash with nothing, and addresses within them.

Pure functions over integers (no `ipaddress`: it costs an import of `re` and `functools` on the
`run` path). What is taken comes from the caller: the state database's endpoints, and the
host's routing table, which also shows the bridges of other dockyard roots and of Docker.

Pools: the default network asks for 10.210.0.0/16 (clear of Docker's 172.17.0.0/16 and its
172.18-31 pools, and of Podman's 10.88.0.0/16 and 10.89.x.0/24); when that is taken (another
root's default bridge, a VPN), it and user networks get the first free /24 of 10.211.0.0/16 -
10.223.255.0/24. When a host route covers all of those (a VPN's 10.0.0.0/8), Docker's own default
pools follow, as dockerd hands them out: 172.17.0.0/16 - 172.31.0.0/16, then the /20s of
192.168.0.0/16.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument, Unavailable

DEFAULT_SUBNET = "10.210.0.0/16"
POOL_START, POOL_END, POOL_PREFIX = "10.211.0.0", "10.223.255.255", 24
# (first, last, prefix) in order: dockyard's pool, then Docker's default address pools
POOLS = ((POOL_START, POOL_END, POOL_PREFIX), ("172.17.0.0", "172.31.255.255", 16),
         ("192.168.0.0", "192.168.255.255", 20))


def to_int(addr: str) -> int:
    parts = addr.split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 and int(p) < 256 for p in parts):
        raise InvalidArgument(f"invalid IPv4 address: {addr!r}")
    a, b, c, d = (int(p) for p in parts)
    return a << 24 | b << 16 | c << 8 | d


def to_str(n: int) -> str:
    return f"{n >> 24 & 255}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


class Subnet:
    """An IPv4 network: `net` (the network address as an int) and `prefix`."""

    __slots__ = ("net", "prefix")

    def __init__(self, net: int, prefix: int) -> None:
        self.net, self.prefix = net, prefix

    @classmethod
    def parse(cls, cidr: str) -> Subnet:
        addr, slash, prefix = cidr.partition("/")
        if not slash or not prefix.isdigit() or not 0 <= int(prefix) <= 32:
            raise InvalidArgument(f"invalid subnet {cidr!r}: expected an IPv4 CIDR such as 10.1.2.0/24")
        p = int(prefix)
        n = to_int(addr)
        mask = (0xFFFFFFFF << (32 - p)) & 0xFFFFFFFF
        if n & ~mask & 0xFFFFFFFF:
            raise InvalidArgument(f"invalid subnet {cidr!r}: host bits are set (did you mean "
                                  f"{to_str(n & mask)}/{p}?)")
        if p > 30:
            raise InvalidArgument(f"subnet {cidr} is too small: it needs room for a gateway and containers")
        return cls(n, p)

    @property
    def mask(self) -> int:
        return (0xFFFFFFFF << (32 - self.prefix)) & 0xFFFFFFFF

    @property
    def size(self) -> int:
        return 1 << (32 - self.prefix)

    @property
    def broadcast(self) -> str:
        return to_str(self.net + self.size - 1)

    @property
    def gateway(self) -> str:
        """Docker's choice: the first host address."""
        return to_str(self.net + 1)

    def contains(self, addr: str) -> bool:
        return to_int(addr) & self.mask == self.net

    def overlaps(self, other: Subnet) -> bool:
        return self.net < other.net + other.size and other.net < self.net + self.size

    def __str__(self) -> str:
        return f"{to_str(self.net)}/{self.prefix}"


def host_routes(path: str = "/proc/net/route") -> list[Subnet]:
    """Every IPv4 destination the host already routes (except the default route)."""
    out = []
    try:
        with open(path) as f:
            next(f)
            for line in f:
                fields = line.split()
                dest, mask = int(fields[1], 16), int(fields[7], 16)
                if mask == 0:
                    continue
                # /proc/net/route prints the addresses in the kernel's (little-endian) byte order
                dest = int.from_bytes(dest.to_bytes(4, "little"), "big")
                mask = int.from_bytes(mask.to_bytes(4, "little"), "big")
                out.append(Subnet(dest, bin(mask).count("1")))
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    return out


def choose_subnet(taken: list[Subnet], *, default: bool) -> Subnet:
    """The first subnet clear of `taken`: the default network's /16 first, then the pools."""
    if default:
        first = Subnet.parse(DEFAULT_SUBNET)
        if not any(first.overlaps(t) for t in taken):
            return first
    for first, last, prefix in POOLS:
        step = 1 << (32 - prefix)
        n, end = to_int(first), to_int(last)
        while n < end:
            cand = Subnet(n, prefix)
            if not any(cand.overlaps(t) for t in taken):
                return cand
            n += step
    raise Unavailable("no free subnet left in the address pools (10.211.0.0/16-10.223.255.0/24, "
                      "172.17-31.0.0/16, 192.168.0.0/16 in /20s)",
                      hint="remove unused networks (dockyard network prune) or give one with --subnet")


def allocate(subnet: Subnet, used: set[str], gateway: str) -> str:
    """The lowest free host address (docker hands them out in order too)."""
    skip = used | {gateway}
    for n in range(subnet.net + 1, subnet.net + subnet.size - 1):
        a = to_str(n)
        if a not in skip:
            return a
    raise Unavailable(f"no available IPv4 addresses on this network's address pool: {subnet}")


def mac_for(addr: str) -> str:
    """Docker's generated MAC: 02:42 then the four bytes of the address."""
    n = to_int(addr)
    return "02:42:" + ":".join(f"{n >> s & 255:02x}" for s in (24, 16, 8, 0))
