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
        if p == 0:
            raise InvalidArgument(f"invalid subnet {cidr}: it covers every address (the host's default route)")
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


def parse_cidr(text: str) -> tuple[int, int] | None:
    """(address, prefix) of an IPv4 CIDR, host bits and all; None when it is not one."""
    addr, slash, prefix = text.partition("/")
    if not slash or not prefix.isdigit() or len(prefix) > 2 or int(prefix) > 32:
        return None
    try:
        return to_int(addr), int(prefix)
    except InvalidArgument:
        return None


def _address_error(addr: str, subnet: Subnet) -> str:
    """What moby's ValidateIPAM says of an address (gateway, auxiliary) in a subnet, or ""."""
    if ":" in addr:
        return "parent subnet is an IPv4 block"
    try:
        to_int(addr)
    except InvalidArgument:
        return "invalid address"
    return "" if subnet.contains(addr) else f"parent subnet {subnet} doesn't contain this address"


def _range_errors(ip_range: str, subnet: Subnet) -> list[str]:
    if ":" in ip_range:
        return [f"invalid ip-range {ip_range}: parent subnet is an IPv4 block"]
    parsed = parse_cidr(ip_range)
    if parsed is None:
        return [f"invalid ip-range {ip_range}: invalid CIDR block notation"]
    n, p = parsed
    masked = n & (0xFFFFFFFF << (32 - p)) & 0xFFFFFFFF
    errs = []
    if p < subnet.prefix:
        errs.append(f"invalid ip-range {ip_range}: CIDR block is bigger than its parent subnet {subnet}")
    if n != masked:
        errs.append(f"invalid ip-range {ip_range}: it should be {to_str(masked)}/{p}")
    if not subnet.overlaps(Subnet(masked, p)):
        errs.append(f"invalid ip-range {ip_range}: parent subnet {subnet} doesn't contain ip-range")
    return errs


def check_config(subnet: Subnet, *, ip_range: str = "", gateway: str = "",
                 aux: dict[str, str] | None = None) -> tuple[Subnet | None, str]:
    """A subnet's IPAM config checked as dockerd checks it: moby's ValidateIPAM first (every fault,
    one line each), then libnetwork's reservations (the gateway, then each auxiliary address).

    Returns the allocation pool (the IPRange, None for the whole subnet) and the gateway: the one
    given (anywhere in the subnet), else the first free address of the pool, as dockerd picks it.
    Auxiliary addresses may lie outside the range; none may be the gateway, the subnet's network
    or broadcast address, or another auxiliary address."""
    errs = _range_errors(ip_range, subnet) if ip_range else []
    if gateway and (why := _address_error(gateway, subnet)):
        errs.append(f"invalid gateway {gateway}: {why}")
    for name, addr in sorted((aux or {}).items()):
        if why := _address_error(addr, subnet):
            errs.append(f"invalid auxiliary address {name}: {why}")
    if errs:
        raise InvalidArgument("invalid network config:\n" + "\n".join(errs))
    pool = Subnet(*parse_cidr(ip_range)) if ip_range else None
    first, last = usable(subnet, pool)
    edges = (subnet.net, subnet.net + subnet.size - 1)
    if gateway:
        if to_int(gateway) in edges:
            raise InvalidArgument(f"failed to allocate gateway ({gateway}): Address already in use")
    elif first > last:
        raise InvalidArgument(f"failed to allocate gateway: no available addresses in ip-range {ip_range}")
    else:
        gateway = to_str(first)
    taken = {to_int(gateway)}
    for name, addr in sorted((aux or {}).items()):
        n = to_int(addr)
        if n in edges or n in taken:
            raise InvalidArgument(f"failed to allocate secondary ip address ({name}:{addr}): Address already in use")
        taken.add(n)
    return pool, gateway


def usable(subnet: Subnet, pool: Subnet | None = None) -> tuple[int, int]:
    """The first and last address a container may get: the subnet's hosts, within the pool if any."""
    first, last = subnet.net + 1, subnet.net + subnet.size - 2
    if pool is not None:
        first, last = max(first, pool.net), min(last, pool.net + pool.size - 1)
    return first, last


def pool_of(config: dict) -> Subnet | None:
    """The allocation pool of a network's stored IPAM config (its IPRange), if it has one."""
    parsed = parse_cidr(config.get("IPRange") or "")
    return Subnet(*parsed) if parsed else None


def allocate(subnet: Subnet, used: set[str], gateway: str, *, pool: Subnet | None = None,
             reserved: set[str] | frozenset = frozenset(), network: str = "") -> str:
    """The lowest free address of the pool (the subnet, or its IPRange), never the gateway nor a
    reserved (auxiliary) address: docker hands them out in order too."""
    skip = used | {gateway} | reserved
    first, last = usable(subnet, pool)
    for n in range(first, last + 1):
        a = to_str(n)
        if a not in skip:
            return a
    raise Unavailable(f"no available IPv4 addresses on this network's address pools: {network or subnet}")


def mac_for(addr: str) -> str:
    """Docker's generated MAC: 02:42 then the four bytes of the address."""
    n = to_int(addr)
    return "02:42:" + ":".join(f"{n >> s & 255:02x}" for s in (24, 16, 8, 0))
