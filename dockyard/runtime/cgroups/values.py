"""Docker's CPU values and the cgroup v1 → v2 conversions (runc's): `--cpus`, cpu.shares →
cpu.weight, blkio.weight → io.weight, memory+swap → memory.swap.max, quota/period → cpu.max.
Pure functions; only the error classes are imported."""

from __future__ import annotations

from dockyard.errors import BadSpec, InvalidArgument

CPU_PERIOD = 100000  # µs, docker's --cpus period


def _is_decimal(s: str) -> bool:
    """`12`, `1.5`, `.5` (ASCII digits only; no sign, no exponent)."""
    ip, dot, fp = s.partition(".")
    if not s.isascii():
        return False
    if dot:
        return (ip == "" or ip.isdigit()) and fp.isdigit()
    return ip.isdigit()


def parse_nano_cpus(value) -> int:
    """docker --cpus: a decimal number of CPUs → NanoCPUs (`0.5` → 500000000)."""
    s = str(value).strip()
    if not s or not _is_decimal(s):
        raise InvalidArgument(f"invalid argument {s!r} for --cpus: not a number of CPUs")
    ip, _, fp = s.partition(".")
    if len(fp) > 9:
        raise InvalidArgument(f"invalid argument {s!r} for --cpus: value is too precise")
    return int(ip or "0") * 1_000_000_000 + int((fp or "0").ljust(9, "0"))


def parse_cpus(value, *, ncpu: int | None = None) -> tuple[int, int]:
    """docker --cpus → (cfs quota µs, period µs): `0.5` → (50000, 100000); `0` → (0, 0), unset.

    With `ncpu`, values above the host's CPU count are refused as dockerd refuses them."""
    nano = parse_nano_cpus(value)
    if nano == 0:
        return 0, 0
    if ncpu is not None and not 10_000_000 <= nano <= ncpu * 1_000_000_000:
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")
    if nano < 10_000_000:
        raise InvalidArgument(f"invalid --cpus {value!r}: the minimum is 0.01")
    return nano * CPU_PERIOD // 1_000_000_000, CPU_PERIOD


def shares_to_weight(shares: int) -> int:
    """cgroup v1 cpu.shares [2, 262144] → cgroup v2 cpu.weight [1, 10000] (runc's linear map);
    0 means unset and stays 0."""
    if not shares:
        return 0
    shares = min(max(int(shares), 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_to_io_weight(weight: int) -> int:
    """blkio.weight [10, 1000] → io.weight [1, 10000] (runc's ConvertBlkIOToIOWeightValue)."""
    if not weight:
        return 0
    return 1 + (int(weight) - 10) * 9999 // 990


def swap_to_v2(swap: int, memory: int) -> int:
    """OCI memory.swap (memory+swap, v1 meaning) → memory.swap.max (swap alone); -1 is max, 0 unset."""
    if memory == -1 and swap == 0:
        return -1
    if swap in (-1, 0):
        return swap
    if memory in (0, -1):
        raise BadSpec("linux.resources.memory.swap needs a memory limit as well")
    if swap < memory:
        raise BadSpec(f"memory+swap limit ({swap}) must not be smaller than the memory limit ({memory})")
    return swap - memory


def cpu_max(quota: int, period: int) -> str:
    """cgroup v2 cpu.max from OCI quota/period: `50000 100000`, `max 100000`, or `50000`."""
    s = str(quota) if quota > 0 else "max"
    return f"{s} {period}" if period else s
