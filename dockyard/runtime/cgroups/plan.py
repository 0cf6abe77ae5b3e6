"""linux.resources → the file writes that apply them, for cgroup v1 hierarchies (`plan_v1`) or
the one cgroup v2 directory (`plan_v2`), and the words for what a host cannot do
(`resource_name`, `why_missing`). Pure but for `why_missing`'s look at the host's huge pages.
Hot path module: only os (builtin) is imported.

Each write is (hierarchy, file, value, kind); hierarchy "" is the cgroup2 one:
  ""        must succeed
  "opt"     skip (and report in Cgroup.skipped) when the controller or file is missing (v2 only:
            on v1 a limit this host cannot apply is refused, as runc 1.1 refuses it)
  "quiet"   skip silently when missing
  "verify"  must succeed and read back the same (cpu.shares is clamped silently otherwise)
  "defer"   on EINVAL retry after the other writes (cfs period vs. quota, as runc)
`exists`/`read` let tests and callers answer questions about the cgroup.
"""

from __future__ import annotations

import os

from dockyard.errors import BadSpec
from dockyard.runtime.cgroups.values import blkio_to_io_weight, cpu_max, shares_to_weight, swap_to_v2


def _num(obj: dict, key: str, where: str, default=0):
    v = obj.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int):
        raise BadSpec(f"linux.resources.{where}.{key} must be an integer, not {v!r}")
    return v


def _devnum(d: dict, where: str) -> str:
    return f"{_num(d, 'major', where)}:{_num(d, 'minor', where)}"


def plan_v1(res: dict, *, exists=lambda h, f: True, read=lambda h, f: None) -> tuple:
    """linux.resources → ([writes], [skipped notes]) for cgroup v1 hierarchies."""
    w: list = []
    skipped: list = []
    mem = res.get("memory") or {}
    if mem:
        limit = _num(mem, "limit", "memory")
        swap = _num(mem, "swap", "memory")
        swap_kind = "quiet" if swap == -1 else ""  # unlimited is what no swap accounting gives
        if limit == -1 and swap == 0:
            swap, swap_kind = -1, "quiet"
        mem_w = [("memory", "memory.limit_in_bytes", str(limit), "")] if limit else []
        swap_w = [("memory", "memory.memsw.limit_in_bytes", str(swap), swap_kind)] if swap else []
        if limit and swap:
            # memory ≤ memsw always: raise memsw first when the new swap is above the current limit
            cur = read("memory", "memory.limit_in_bytes")
            if swap == -1 or (cur is not None and cur.strip().isdigit() and int(cur) < swap):
                w += swap_w + mem_w
            else:
                w += mem_w + swap_w
        else:
            w += mem_w + swap_w
        if _num(mem, "reservation", "memory"):
            w.append(("memory", "memory.soft_limit_in_bytes", str(mem["reservation"]), ""))
        sw = mem.get("swappiness")
        if sw is not None and _num(mem, "swappiness", "memory", -1) >= 0:
            if sw > 100:
                raise BadSpec(f"linux.resources.memory.swappiness {sw} is not in [0, 100]")
            w.append(("memory", "memory.swappiness", str(sw), ""))
        if mem.get("disableOOMKiller"):
            w.append(("memory", "memory.oom_control", "1", ""))
    cpu = res.get("cpu") or {}
    if cpu:
        if _num(cpu, "shares", "cpu"):
            w.append(("cpu", "cpu.shares", str(cpu["shares"]), "verify"))
        period, quota = _num(cpu, "period", "cpu"), _num(cpu, "quota", "cpu")
        if period:
            w.append(("cpu", "cpu.cfs_period_us", str(period), "defer" if quota else ""))
        if quota:
            w.append(("cpu", "cpu.cfs_quota_us", str(quota), ""))
        if _num(cpu, "realtimePeriod", "cpu"):
            w.append(("cpu", "cpu.rt_period_us", str(cpu["realtimePeriod"]), ""))
        if _num(cpu, "realtimeRuntime", "cpu"):
            w.append(("cpu", "cpu.rt_runtime_us", str(cpu["realtimeRuntime"]), ""))
        if cpu.get("idle") is not None:
            w.append(("cpu", "cpu.idle", str(_num(cpu, "idle", "cpu")), ""))
        for key in ("cpus", "mems"):
            if cpu.get(key):
                w.append(("cpuset", f"cpuset.{key}", str(cpu[key]), ""))
    pids = res.get("pids") or {}
    if _num(pids, "limit", "pids"):
        w.append(("pids", "pids.max", str(pids["limit"]) if pids["limit"] > 0 else "max", ""))
    bio = res.get("blockIO") or {}
    if bio:
        wfile = "blkio.weight" if exists("blkio", "blkio.weight") else "blkio.bfq.weight"
        if _num(bio, "weight", "blockIO"):
            w.append(("blkio", wfile, str(bio["weight"]), ""))
        if _num(bio, "leafWeight", "blockIO"):
            w.append(("blkio", "blkio.leaf_weight", str(bio["leafWeight"]), ""))
        for d in bio.get("weightDevice") or ():
            if d.get("weight"):
                w.append(("blkio", wfile + "_device", f"{_devnum(d, 'blockIO')} {_num(d, 'weight', 'blockIO')}",
                          ""))
        for key, file in (("throttleReadBpsDevice", "read_bps_device"), ("throttleWriteBpsDevice", "write_bps_device"),
                          ("throttleReadIOPSDevice", "read_iops_device"),
                          ("throttleWriteIOPSDevice", "write_iops_device")):
            for d in bio.get(key) or ():
                w.append(("blkio", f"blkio.throttle.{file}", f"{_devnum(d, 'blockIO')} {_num(d, 'rate', 'blockIO')}",
                          ""))
    for h in res.get("hugepageLimits") or ():
        w.append(("hugetlb", f"hugetlb.{_pagesize(h)}.limit_in_bytes", str(_num(h, "limit", "hugepageLimits")), ""))
    net = res.get("network") or {}
    if net.get("classID") is not None:
        w.append(("net_cls", "net_cls.classid", str(_num(net, "classID", "network")), ""))
    for p in net.get("priorities") or ():
        w.append(("net_prio", "net_prio.ifpriomap", f"{p.get('name')} {_num(p, 'priority', 'network')}", ""))
    for dev, lim in (res.get("rdma") or {}).items():
        parts = [f"{k}={_num(lim, key, 'rdma')}" for key, k in (("hcaHandles", "hca_handle"), ("hcaObjects", "hca_object"))
                 if lim.get(key) is not None]
        w.append(("rdma", "rdma.max", " ".join([dev, *parts]), ""))
    if mem.get("kernel") is not None or mem.get("kernelTCP") is not None:
        skipped.append("linux.resources.memory.kernel/kernelTCP: kernel memory settings are ignored (as runc ignores them)")
    if res.get("unified"):
        raise BadSpec("linux.resources.unified needs cgroup v2; this host uses cgroup v1 controllers")
    return w, skipped


def plan_v2(res: dict, *, exists=lambda h, f: True, read=lambda h, f: None) -> tuple:
    """linux.resources → ([writes], [skipped notes]) for the one cgroup v2 directory."""
    w: list = []
    skipped: list = []
    mem = res.get("memory") or {}
    if mem:
        limit = _num(mem, "limit", "memory")
        raw_swap = _num(mem, "swap", "memory")
        swap = swap_to_v2(raw_swap, limit)
        sval = "max" if swap == -1 else str(swap) if swap else ""
        if not sval and raw_swap > 0:
            sval = "0"  # memory and memory+swap equal: no swap at all
        if sval:
            # without swap accounting memory.swap.max is missing: fine when asking for max or none
            w.append(("", "memory.swap.max", sval, "quiet" if sval in ("max", "0") else ""))
        if limit:
            w.append(("", "memory.max", "max" if limit == -1 else str(limit), ""))
        if _num(mem, "reservation", "memory"):
            r = mem["reservation"]
            w.append(("", "memory.low", "max" if r == -1 else str(r), ""))
        sw = mem.get("swappiness")
        if sw is not None and sw != -1:
            skipped.append("memory.swappiness (no cgroup v2 equivalent)")
        if mem.get("disableOOMKiller"):
            skipped.append("memory.disableOOMKiller (no cgroup v2 equivalent)")
    cpu = res.get("cpu") or {}
    if cpu:
        weight = shares_to_weight(_num(cpu, "shares", "cpu"))
        if weight:
            w.append(("", "cpu.weight", str(weight), ""))
        period, quota = _num(cpu, "period", "cpu"), _num(cpu, "quota", "cpu")
        if quota or period:
            w.append(("", "cpu.max", cpu_max(quota, period), ""))
        if _num(cpu, "realtimePeriod", "cpu") or _num(cpu, "realtimeRuntime", "cpu"):
            raise BadSpec("linux.resources.cpu.realtimePeriod/realtimeRuntime are not supported on cgroup v2")
        if cpu.get("idle") is not None:
            w.append(("", "cpu.idle", str(_num(cpu, "idle", "cpu")), ""))
        for key in ("cpus", "mems"):
            if cpu.get(key):
                w.append(("", f"cpuset.{key}", str(cpu[key]), ""))
    pids = res.get("pids") or {}
    if _num(pids, "limit", "pids"):
        w.append(("", "pids.max", str(pids["limit"]) if pids["limit"] > 0 else "max", ""))
    bio = res.get("blockIO") or {}
    if bio:
        bfq = exists("", "io.bfq.weight")
        if _num(bio, "weight", "blockIO"):
            w.append(("", "io.bfq.weight", str(bio["weight"]), "") if bfq  # required, as runc's fs2
                     else ("", "io.weight", str(blkio_to_io_weight(bio["weight"])), ""))
        for d in bio.get("weightDevice") or ():
            if d.get("weight"):
                w.append(("", "io.bfq.weight", f"{_devnum(d, 'blockIO')} {_num(d, 'weight', 'blockIO')}", "opt"))
        for key, name in (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
                          ("throttleReadIOPSDevice", "riops"), ("throttleWriteIOPSDevice", "wiops")):
            for d in bio.get(key) or ():
                w.append(("", "io.max", f"{_devnum(d, 'blockIO')} {name}={_num(d, 'rate', 'blockIO')}", ""))
    for h in res.get("hugepageLimits") or ():
        w.append(("", f"hugetlb.{_pagesize(h)}.max", str(_num(h, "limit", "hugepageLimits")), ""))
    net = res.get("network") or {}
    if net.get("classID") is not None or net.get("priorities"):
        skipped.append("linux.resources.network (net_cls/net_prio do not exist on cgroup v2)")
    for key, value in (res.get("unified") or {}).items():
        if not isinstance(key, str) or "/" in key or key.startswith(".") or "." not in key:
            raise BadSpec(f"invalid linux.resources.unified key {key!r}")
        w.append(("", key, str(value), ""))
    return w, skipped


# OCI names of the files' resources, and why a file may be missing when its controller is there
_RESOURCE_NAMES = (
    ("memory.memsw.", "memory.swap"), ("memory.limit", "memory.limit"), ("memory.soft", "memory.reservation"),
    ("memory.swappiness", "memory.swappiness"), ("memory.oom_control", "memory.disableOOMKiller"),
    ("memory.", "memory"), ("cpu.shares", "cpu.shares"), ("cpu.cfs_period", "cpu.period"),
    ("cpu.cfs_quota", "cpu.quota"), ("cpu.rt_period", "cpu.realtimePeriod"), ("cpu.rt_runtime", "cpu.realtimeRuntime"),
    ("cpu.idle", "cpu.idle"), ("cpuset.cpus", "cpu.cpus"), ("cpuset.mems", "cpu.mems"), ("pids.", "pids.limit"),
    ("blkio.leaf_weight", "blockIO.leafWeight"), ("blkio.weight_device", "blockIO.weightDevice"),
    ("blkio.bfq.weight_device", "blockIO.weightDevice"), ("blkio.weight", "blockIO.weight"),
    ("blkio.bfq.weight", "blockIO.weight"), ("blkio.throttle.", "blockIO.throttle"), ("hugetlb.", "hugepageLimits"),
    ("net_cls.", "network.classID"), ("net_prio.", "network.priorities"), ("rdma.", "rdma"),
)
_WHY_MISSING = (
    ("memory.memsw.", "this kernel does not account swap (boot it with swapaccount=1)"),
    ("blkio.bfq.weight", "the block I/O controller has no weight here (it needs the BFQ I/O scheduler)"),
    ("blkio.leaf_weight", "the block I/O controller has no leaf weight here (it needs the CFQ I/O scheduler)"),
    ("cpu.rt_", "this kernel has no real-time group scheduling (CONFIG_RT_GROUP_SCHED)"),
    ("cpu.cfs_", "this kernel has no CFS bandwidth control (CONFIG_CFS_BANDWIDTH)"),
)


def resource_name(f: str) -> str:
    """The linux.resources field a cgroup file carries: `memory.memsw.limit_in_bytes` → memory.swap."""
    for prefix, name in _RESOURCE_NAMES:
        if f.startswith(prefix):
            return "linux.resources." + name
    return "linux.resources"


def why_missing(f: str) -> str:
    """Why a controller's directory lacks file `f`: the kernel feature it needs."""
    if f.startswith("hugetlb."):
        size = f.split(".")[1]
        have = ", ".join(hugepage_sizes()) or "none"
        return f"this host has no {size} huge pages (its sizes: {have})"
    for prefix, why in _WHY_MISSING:
        if f.startswith(prefix):
            return why
    return "this kernel does not support it"


def hugepage_sizes() -> list:
    """The host's huge page sizes as cgroup file names spell them (2MB, 1GB), smallest first."""
    try:
        names = os.listdir("/sys/kernel/mm/hugepages")
    except OSError:
        return []
    kbs = sorted(int(n[len("hugepages-"):-2]) for n in names if n.startswith("hugepages-") and n.endswith("kB"))
    out = []
    for kb in kbs:
        for unit, size in (("GB", 1 << 20), ("MB", 1 << 10), ("KB", 1)):
            if kb % size == 0:
                out.append(f"{kb // size}{unit}")
                break
    return out


def _pagesize(h: dict) -> str:
    ps = h.get("pageSize")
    if not isinstance(ps, str) or not ps.isalnum():
        raise BadSpec(f"invalid linux.resources.hugepageLimits pageSize {ps!r}")
    return ps
