"""Control groups for a container: what runc's cgroupfs driver does for `linux.cgroupsPath` and
`linux.resources` of an OCI spec.

    cg = Cgroup.for_spec(spec, container_id)   # None when the spec asks for no cgroup at all
    cg.create()                                # directories (+ cpuset copy on v1, controllers on v2)
    cg.set()                                   # linux.resources → files
    cg.apply(pid)                              # pid → cgroup.procs of every hierarchy
    ... cg.freeze() / cg.thaw() / cg.stats() / cg.pids() / cg.oom_killed() ...
    cg.destroy()                               # SIGKILL leftovers, wait, rmdir everywhere

Layouts, detected at run time from /proc/self/mountinfo (`current_layout()`):
- "v2": one cgroup2 tree (/sys/fs/cgroup); the container is one directory, its controllers are
  enabled in every ancestor's cgroup.subtree_control.
- "v1": one tree per controller (/sys/fs/cgroup/{cpu,memory,pids,...}); the container gets the
  same relative directory in each, plus the named `name=systemd` tree (join only), as runc does.
- "hybrid": v1 controllers plus an empty cgroup2 at /sys/fs/cgroup/unified. Limits go to v1; the
  container also joins the unified tree (runc does too), which gives us `cgroup.kill`.

Paths: an absolute cgroupsPath is under each hierarchy's root, a relative one under the caller's
own cgroup in that hierarchy (runc's rule); none means `/dockyard/<id>`. A systemd-style
`slice:prefix:name` (podman's `machine.slice:libpod:<id>`) becomes the plain path systemd would
have used (`/machine.slice/libpod-<id>.scope`); we never talk to systemd.

Every failure is an `InvalidArgument` (the kernel refused a value; names file and value),
`Unavailable` (a controller or file is missing) or `SyscallError`, never a bare OSError.
Hot path module: only os, errno and time (all builtin) are imported.
"""

from __future__ import annotations

import errno
import os
import time

from dockyard.errors import BadSpec, DockyardError, InvalidArgument, SyscallError, Unavailable
from dockyard.errors import NotImplemented as NotImplementedErr

# v1 hierarchies a container joins (when mounted), in runc's order. `name=systemd` only tracks.
V1_HIERARCHIES = ("cpuset", "cpu", "cpuacct", "memory", "devices", "freezer", "blkio", "pids", "net_cls",
                  "net_prio", "perf_event", "hugetlb", "rdma", "misc", "name=systemd")
DEFAULT_PARENT = "/dockyard"
CPU_PERIOD = 100000  # µs, docker's --cpus period

_MOUNTS: tuple | None = None  # (v1 {controller: (mountpoint, root)}, v2 (mountpoint, root) | None)


# ---------------------------------------------------------------------------------------------
# Docker CLI values

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


# ---------------------------------------------------------------------------------------------
# Paths

def systemd_path(value: str) -> str:
    """`slice:prefix:name` → the cgroup path systemd would give the unit, e.g.
    `machine.slice:libpod:abc` → `/machine.slice/libpod-abc.scope` (runc's ExpandSlice rules)."""
    parts = value.split(":")
    if len(parts) != 3:
        raise InvalidArgument(f"invalid systemd cgroupsPath {value!r}: expected slice:prefix:name")
    slice_, prefix, name = parts
    if not name or any("/" in p for p in parts):
        raise InvalidArgument(f"invalid systemd cgroupsPath {value!r}: expected slice:prefix:name")
    base = expand_slice(slice_ or "system.slice")
    unit = name if name.endswith(".slice") else (f"{prefix}-{name}.scope" if prefix else f"{name}.scope")
    return base.rstrip("/") + "/" + unit


def expand_slice(slice_: str) -> str:
    """systemd's slice nesting: `a-b-c.slice` → `/a.slice/a-b.slice/a-b-c.slice`; `-.slice` → `/`."""
    if not slice_.endswith(".slice") or "/" in slice_:
        raise InvalidArgument(f"invalid systemd slice {slice_!r}")
    if slice_ == "-.slice":
        return "/"
    name = slice_[:-len(".slice")]
    if not name or name.startswith("-") or name.endswith("-") or "--" in name:
        raise InvalidArgument(f"invalid systemd slice {slice_!r}")
    path, prefix = "", ""
    for comp in name.split("-"):
        prefix = f"{prefix}-{comp}" if prefix else comp
        path += f"/{prefix}.slice"
    return path


def clean_path(path: str) -> str:
    """Normalise a cgroup path; refuse `..`, NUL and the root cgroup itself."""
    if not isinstance(path, str) or "\0" in path:
        raise BadSpec(f"invalid cgroupsPath {path!r}")
    comps = [c for c in path.split("/") if c and c != "."]
    if ".." in comps:
        raise BadSpec(f"invalid cgroupsPath {path!r}: '..' is not allowed")
    if not comps:
        raise BadSpec(f"invalid cgroupsPath {path!r}: a container cannot use the root cgroup")
    return ("/" if path.startswith("/") else "") + "/".join(comps)


def spec_cgroup_path(spec: dict, container_id: str, *, systemd: bool = False) -> str | None:
    """The (clean) cgroup path for a spec: cgroupsPath, a converted systemd path, or
    `/dockyard/<id>`; None when the spec has neither cgroupsPath nor resources."""
    linux = spec.get("linux") or {}
    path = linux.get("cgroupsPath") or ""
    if not path and not linux.get("resources") and not systemd:
        return None
    if not isinstance(path, str):
        raise BadSpec(f"linux.cgroupsPath must be a string, not {path!r}")
    if systemd or (path.count(":") == 2 and not path.startswith("/")):
        if systemd and os.path.isdir("/run/systemd/system"):
            raise NotImplementedErr(
                "the systemd cgroup driver is not implemented (systemd is running here and would "
                "fight over the directories)", hint="run without --systemd-cgroup")
        path = systemd_path(path or f":dockyard:{container_id}")
    elif not path:
        path = f"{DEFAULT_PARENT}/{container_id}"
    return clean_path(path)


def _unescape(s: str) -> str:
    if "\\" not in s:
        return s
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> tuple[dict, tuple | None]:
    """cgroup mounts from /proc/self/mountinfo text: ({v1 controller: (mountpoint, root)},
    (cgroup2 mountpoint, root) or None). The first mount of a hierarchy wins; for cgroup2 the
    one at /sys/fs/cgroup, then /sys/fs/cgroup/unified, then the first."""
    v1: dict = {}
    v2 = []
    for line in text.splitlines():
        if " - cgroup" not in line:
            continue
        left, _, right = line.partition(" - ")
        f = left.split()
        r = right.split()
        if len(f) < 5 or len(r) < 3:
            continue
        root, mnt = _unescape(f[3]), _unescape(f[4])
        if r[0] == "cgroup2":
            v2.append((mnt, root))
        elif r[0] == "cgroup":
            for opt in r[2].split(","):
                if opt in V1_HIERARCHIES and opt not in v1:
                    v1[opt] = (mnt, root)
    best = None
    for want in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        best = best or next((m for m in v2 if m[0] == want), None)
    return v1, best or (v2[0] if v2 else None)


def _mounts() -> tuple[dict, tuple | None]:
    global _MOUNTS
    if _MOUNTS is None:
        try:
            with open("/proc/self/mountinfo") as f:
                _MOUNTS = parse_mountinfo(f.read())
        except OSError as e:
            raise SyscallError("open", e.errno or errno.EIO, "/proc/self/mountinfo") from None
    return _MOUNTS


def layout_of(v1: dict, v2) -> str:
    if any(c != "name=systemd" for c in v1):
        return "hybrid" if v2 else "v1"
    if v2:
        return "v2"
    raise Unavailable("no cgroup filesystem is mounted", hint="mount cgroup2 on /sys/fs/cgroup")


def current_layout() -> str:
    """"v2" (unified), "v1" (legacy) or "hybrid" (v1 controllers plus an empty cgroup2)."""
    return layout_of(*_mounts())


def parse_proc_cgroup(text: str) -> dict:
    """/proc/<pid>/cgroup → {controller: path}, with "" for the cgroup2 entry."""
    own = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if not parts[1]:
            own[""] = parts[2]
        for c in parts[1].split(","):
            if c:
                own[c] = parts[2]
    return own


def _own_cgroups() -> dict:
    try:
        with open("/proc/self/cgroup") as f:
            return parse_proc_cgroup(f.read())
    except OSError as e:
        raise SyscallError("open", e.errno or errno.EIO, "/proc/self/cgroup") from None


def hierarchy_dir(mountpoint: str, root: str, own: str, path: str) -> str:
    """Where `path` lives in one hierarchy: absolute → under the hierarchy's root (the mount),
    relative → under `own` (the caller's cgroup there, seen through a mount whose root is `root`)."""
    if path.startswith("/"):
        return mountpoint.rstrip("/") + path
    base = own or "/"
    if root not in ("", "/"):
        if base == root or base.startswith(root.rstrip("/") + "/"):
            base = base[len(root.rstrip("/")):] or "/"
    return mountpoint.rstrip("/") + ("/" + base.strip("/") if base.strip("/") else "") + "/" + path


def resolve_dirs(path: str, v1: dict, v2, own: dict | None, layout: str) -> dict:
    """{hierarchy: directory} for a clean path; hierarchy "" is the cgroup2 one."""
    if not path.startswith("/") and own is None:
        own = _own_cgroups()
    own = own or {}
    dirs = {}
    if layout != "v2":
        for c in V1_HIERARCHIES:
            if c in v1:
                dirs[c] = hierarchy_dir(v1[c][0], v1[c][1], own.get(c, "/"), path)
    if v2 is not None and layout in ("v2", "hybrid"):
        dirs[""] = hierarchy_dir(v2[0], v2[1], own.get("", "/"), path)
    return dirs


# ---------------------------------------------------------------------------------------------
# linux.resources → file writes (pure; `exists`/`read` let tests and callers answer questions
# about the cgroup). Each write is (hierarchy, file, value, kind):
#   ""        must succeed
#   "opt"     skip (and report in Cgroup.skipped) when the controller or file is missing (v2 only:
#             on v1 a limit this host cannot apply is refused, as runc 1.1 refuses it)
#   "quiet"   skip silently when missing
#   "verify"  must succeed and read back the same (cpu.shares is clamped silently otherwise)
#   "defer"   on EINVAL retry after the other writes (cfs period vs. quota, as runc)

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


def cpu_max(quota: int, period: int) -> str:
    """cgroup v2 cpu.max from OCI quota/period: `50000 100000`, `max 100000`, or `50000`."""
    s = str(quota) if quota > 0 else "max"
    return f"{s} {period}" if period else s


def _pagesize(h: dict) -> str:
    ps = h.get("pageSize")
    if not isinstance(ps, str) or not ps.isalnum():
        raise BadSpec(f"invalid linux.resources.hugepageLimits pageSize {ps!r}")
    return ps


# ---------------------------------------------------------------------------------------------
# File access with errors that name the file and the value

def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno in (errno.ENODEV, errno.ESRCH):  # cgroup removed under us
            return None
        raise SyscallError("read", e.errno or errno.EIO, path) from None


def _write(path: str, value: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Unavailable(f"cannot write {value!r} to {path}: no such file (is the controller mounted and "
                          "enabled for this cgroup?)") from None
    except OSError as e:
        raise SyscallError("open", e.errno or errno.EIO, f"{path} to write {value!r}") from None
    try:
        os.write(fd, value.encode())
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.ERANGE):
            raise InvalidArgument(f"invalid value {value!r} for {path}: the kernel refused it "
                                  f"({os.strerror(e.errno)})") from None
        hint = None
        if e.errno == errno.EBUSY and path.endswith(("limit_in_bytes", "memory.max")):
            hint = "the limit is below what the container already uses"
        elif e.errno == errno.ENOSPC and path.endswith("cgroup.procs"):
            hint = "the cgroup's cpuset.cpus or cpuset.mems is empty"
        raise SyscallError("write", e.errno or errno.EIO, f"{value!r} to {path}", hint=hint) from None
    finally:
        os.close(fd)


def _int_file(path: str) -> int | None:
    s = _read(path)
    if s is None:
        return None
    s = s.strip()
    if s == "max":
        return None
    try:
        return int(s)
    except ValueError:
        return None


def _kv_file(path: str) -> dict:
    """`key value` lines (memory.stat, cpu.stat, memory.events, memory.oom_control) → {key: int}."""
    out = {}
    for line in (_read(path) or "").splitlines():
        k, _, v = line.partition(" ")
        try:
            out[k] = int(v)
        except ValueError:
            continue
    return out


def _procs(d: str, out: set) -> None:
    """Pids in cgroup `d` and every cgroup below it."""
    s = _read(d + "/cgroup.procs")
    if s is None:
        return
    out.update(int(p) for p in s.split())
    try:
        subs = [e.path for e in os.scandir(d) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return
    for sub in subs:
        _procs(sub, out)


def _rmdir_tree(d: str, deadline: float) -> None:
    """rmdir a cgroup and its children, deepest first; tolerate already-removed ones and retry
    EBUSY (a cgroup stays populated for a moment after its last task exits) until `deadline`."""
    try:
        subs = [e.path for e in os.scandir(d) if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return
    except OSError as e:
        raise SyscallError("scandir", e.errno or errno.EIO, d) from None
    for sub in subs:
        _rmdir_tree(sub, deadline)
    delay = 0.001
    while True:
        try:
            os.rmdir(d)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno == errno.EBUSY and time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
                continue
            raise SyscallError("rmdir", e.errno or errno.EIO, d,
                               hint="processes are still in it" if e.errno == errno.EBUSY else None) from None


def _kill(pids, sig: int) -> None:
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            pass  # not ours to signal (user namespace oddities); destroy's wait reports it


# ---------------------------------------------------------------------------------------------

class Cgroup:
    """One container's cgroup in every hierarchy of this host (plain class: the run hot path
    does not import dataclasses)."""

    __slots__ = ("path", "layout", "dirs", "resources", "skipped")

    def __init__(self, path: str, dirs: dict, layout: str, *, resources: dict | None = None) -> None:
        self.path = path
        self.layout = layout
        self.dirs = dirs  # {"cpu": "/sys/fs/cgroup/cpu/dockyard/x", ..., "": cgroup2 dir}
        self.resources = resources or {}
        self.skipped: list = []  # resources this host cannot apply (callers may warn, as dockerd does)

    def __repr__(self) -> str:
        return f"Cgroup({self.path!r}, layout={self.layout!r})"

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def at(cls, path: str, **kw) -> Cgroup:
        """The cgroup at `path` (absolute, or relative to our own cgroup) in this host's layout."""
        path = clean_path(path)
        v1, v2 = _mounts()
        layout = layout_of(v1, v2)
        return cls(path, resolve_dirs(path, v1, v2, None, layout), layout, **kw)

    @classmethod
    def for_spec(cls, spec: dict, container_id: str, *, systemd: bool = False) -> Cgroup | None:
        """The cgroup runc would use for `spec`; None when it sets neither cgroupsPath nor resources."""
        path = spec_cgroup_path(spec, container_id, systemd=systemd)
        if path is None:
            return None
        linux = spec.get("linux") or {}
        return cls.at(path, resources=linux.get("resources") or {})

    def to_json(self) -> dict:
        """What a state file keeps: the resolved directories (a relative path depends on the
        creator's own cgroup, so a later `delete` must not recompute them)."""
        return {"path": self.path, "layout": self.layout, "dirs": self.dirs}

    @classmethod
    def from_json(cls, d: dict) -> Cgroup:
        return cls(d["path"], dict(d["dirs"]), d["layout"])

    def _unique(self) -> list:
        return list(dict.fromkeys(self.dirs.values()))

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self._unique())

    # -- create / join / limits ---------------------------------------------------------------
    def create(self) -> None:
        """mkdir in every hierarchy. v1 cpuset: fill empty cpuset.cpus/mems from the parent at
        each level (a task cannot join an empty cpuset); v2: enable the parent's controllers.
        An existing directory is joined as is (runc's rule); on failure only the directories
        made here are removed again."""
        v1, v2 = _mounts()
        made: list = []
        done: set = set()
        try:
            for name, d in self.dirs.items():
                if d in done:
                    continue  # co-mounted controllers (cpu,cpuacct) share one directory
                done.add(d)
                if name == "":
                    top = v2[0] if v2 else None
                else:
                    top = v1[name][0] if name in v1 else None
                self._mkdirs(d, top, made, cpuset=d == self.dirs.get("cpuset"),
                             controllers=name == "" and self.layout == "v2")
        except BaseException:
            for d in reversed(made):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            raise

    @staticmethod
    def _mkdirs(d: str, top: str | None, made: list, *, cpuset: bool, controllers: bool) -> None:
        top = (top or "").rstrip("/")
        if not top or not d.startswith(top + "/"):
            raise Unavailable(f"cannot create cgroup {d}: not under a mounted cgroup hierarchy")
        cur = top
        for comp in d[len(top) + 1:].split("/"):
            if controllers:
                _enable_controllers(cur)
            parent, cur = cur, cur + "/" + comp
            try:
                os.mkdir(cur, 0o755)
                made.append(cur)
            except FileExistsError:
                pass
            except OSError as e:
                raise SyscallError("mkdir", e.errno or errno.EIO, cur) from None
            if cpuset:
                for f in ("cpuset.cpus", "cpuset.mems"):
                    if not (_read(f"{cur}/{f}") or "").strip():
                        value = (_read(f"{parent}/{f}") or "").strip()
                        if value:
                            _write(f"{cur}/{f}", value)

    def apply(self, pid: int) -> None:
        """Move `pid` (0: the calling process) into the cgroup in every hierarchy."""
        for d in self._unique():
            _write(d + "/cgroup.procs", str(pid))

    def set(self, resources: dict | None = None) -> None:
        """Apply linux.resources (default: the spec's). Things this host cannot do that docker
        only warns about (blkio weight without BFQ, swap without accounting, v2 device rules) land
        in `self.skipped`; anything else failing raises. The device policy is applied with the
        spec's resources (even when they name no devices, as runc does) or when `resources` has
        "devices"."""
        res = self.resources if resources is None else resources
        if resources is None or "devices" in res:
            self.set_devices(res.get("devices"))
        if not res:
            return

        def exists(h: str, f: str) -> bool:
            d = self.dirs.get(h)
            return d is not None and os.path.exists(f"{d}/{f}")

        def read(h: str, f: str) -> str | None:
            d = self.dirs.get(h)
            return None if d is None else _read(f"{d}/{f}")

        plan = plan_v2 if self.layout == "v2" else plan_v1
        writes, skipped = plan(res, exists=exists, read=read)
        self.skipped.extend(skipped)
        deferred = []
        for h, f, value, kind in writes:
            d = self.dirs.get(h)
            if d is None:
                if kind == "opt":
                    self.skipped.append(f"{f}={value} (the {h} controller is not mounted)")
                    continue
                if kind == "quiet":
                    continue
                raise Unavailable(f"{resource_name(f)}: cannot set {f} to {value!r}: the {h or 'cgroup2'} "
                                  "cgroup controller is not mounted on this host")
            path = f"{d}/{f}"
            if not os.path.exists(path):
                if kind == "opt":
                    self.skipped.append(f"{f}={value} (not supported by this kernel)")
                if kind in ("opt", "quiet"):
                    continue
                raise Unavailable(f"{resource_name(f)}: cannot set {f} to {value!r}: {why_missing(f)}")
            try:
                _write(path, value)
            except InvalidArgument:
                if kind != "defer":
                    raise
                deferred.append((path, value))
                continue
            if kind == "verify":
                got = (_read(path) or "").strip()
                if got != value:
                    raise InvalidArgument(f"{path}: asked for {value}, the kernel set {got} (out of range)")
        for path, value in deferred:
            _write(path, value)

    def set_devices(self, rules) -> None:
        """Device access: deny all, then `rules` (OCI linux.resources.devices), then runc's
        defaults (devices.py). cgroup v1: devices.deny/devices.allow in the devices hierarchy;
        cgroup v2 (or a hybrid host without the v1 devices controller): an eBPF program attached
        to the unified directory. Applied once, at creation: a second v2 program would stack (an
        access must pass both). Refuses when neither is possible, unless all is allowed anyway."""
        from dockyard.runtime.devices import effective

        emu = effective(rules)
        if self.layout != "v2" and "devices" in self.dirs:
            d = self.dirs["devices"]
            for f, value in emu.v1_writes():
                _write(f"{d}/{f}", value)
            return
        if "" in self.dirs:
            from dockyard.linux.bpf import attach_device_filter
            from dockyard.runtime.devfilter import LICENSE, encode, instructions

            attach_device_filter(self.dirs[""], encode(instructions(emu)), LICENSE)
            return
        if not (emu.default_allow and not emu.exceptions):
            raise Unavailable("cannot enforce the container's device rules: neither the cgroup v1 devices "
                              "controller nor a cgroup2 hierarchy is mounted")

    # -- freezer ------------------------------------------------------------------------------
    def _freezer(self) -> tuple[str, str] | None:
        if "freezer" in self.dirs:
            return "v1", self.dirs["freezer"]
        if "" in self.dirs and os.path.exists(self.dirs[""] + "/cgroup.freeze"):
            return "v2", self.dirs[""]
        return None

    def freeze(self, timeout: float = 10.0) -> None:
        """Freeze every process; returns once the kernel reports the cgroup frozen."""
        fz = self._freezer()
        if fz is None:
            raise Unavailable(f"cannot freeze {self.path}: no freezer controller on this host")
        kind, d = fz
        deadline = time.monotonic() + timeout
        delay = 0.0005
        if kind == "v2":
            _write(d + "/cgroup.freeze", "1")
            while _kv_file(d + "/cgroup.events").get("frozen") != 1:
                if time.monotonic() > deadline:
                    _write(d + "/cgroup.freeze", "0")
                    raise Unavailable(f"cannot freeze {d}: still not frozen after {timeout:g}s")
                time.sleep(delay)
                delay = min(delay * 2, 0.02)
            return
        state_file = d + "/freezer.state"
        n = 0
        while True:
            _write(state_file, "FROZEN")
            state = (_read(state_file) or "").strip()
            if state == "FROZEN":
                return
            if state != "FREEZING":
                raise Unavailable(f"cannot freeze {d}: freezer.state reads {state!r}")
            if time.monotonic() > deadline:
                _write(state_file, "THAWED")
                raise Unavailable(f"cannot freeze {d}: stuck in FREEZING after {timeout:g}s")
            n += 1
            if n % 50 == 0:  # as runc: thaw for a moment so tasks stuck mid-freeze can move on
                _write(state_file, "THAWED")
                time.sleep(0.01)
            time.sleep(delay)
            delay = min(delay * 2, 0.02)

    def thaw(self) -> None:
        fz = self._freezer()
        if fz is None:
            raise Unavailable(f"cannot thaw {self.path}: no freezer controller on this host")
        kind, d = fz
        if kind == "v2":
            _write(d + "/cgroup.freeze", "0")
        else:
            _write(d + "/freezer.state", "THAWED")

    def frozen(self) -> bool:
        fz = self._freezer()
        if fz is None:
            return False
        kind, d = fz
        if kind == "v2":
            return (_read(d + "/cgroup.freeze") or "").strip() == "1"
        return (_read(d + "/freezer.state") or "").strip() == "FROZEN"

    # -- processes ----------------------------------------------------------------------------
    def _primary(self) -> str:
        for h in ("pids", "freezer", "memory", "", "cpu"):
            if h in self.dirs:
                return self.dirs[h]
        return next(iter(self.dirs.values()))

    def pids(self) -> list:
        """Every process in the container's cgroup (and cgroups below it), sorted."""
        out: set = set()
        _procs(self._primary(), out)
        return sorted(out)

    def _all_pids(self) -> list:
        out: set = set()
        for d in self._unique():
            _procs(d, out)
        return sorted(out)

    def kill_all(self, sig: int = 9) -> None:
        """Signal every process. SIGKILL uses cgroup.kill when the kernel has it (v2, or the
        unified tree on hybrid hosts); otherwise the cgroup is frozen while we signal, so nothing
        forks behind our back (runc's signalAllProcesses)."""
        u = self.dirs.get("")
        if sig == 9 and u is not None and os.path.exists(u + "/cgroup.kill"):
            try:
                _write(u + "/cgroup.kill", "1")
                return
            except DockyardError:
                pass  # fall back to signalling one by one
        froze = False
        if self._freezer() is not None and not self.frozen():
            try:
                self.freeze()
                froze = True
            except DockyardError:
                pass
        try:
            # Frozen, one pass sees everyone. Not frozen, a process may fork while we signal:
            # go again while new pids keep appearing (bounded).
            seen: set = set()
            for _ in range(1 if froze else 20):
                pids = [p for p in self._all_pids() if p not in seen]
                if not pids:
                    break
                _kill(pids, sig)
                seen.update(pids)
        finally:
            if froze:
                self.thaw()

    def destroy(self, timeout: float = 10.0) -> None:
        """SIGKILL whatever is left, wait until the cgroup is empty, rmdir it (and any cgroups
        the container made below it) in every hierarchy. Already-removed is fine."""
        dirs = [d for d in self._unique() if os.path.isdir(d)]
        if not dirs:
            return
        deadline = time.monotonic() + timeout
        pids = self._all_pids()
        if pids:
            self.kill_all(9)
        if self._freezer() is not None and self.frozen():
            self.thaw()  # frozen tasks cannot act on SIGKILL
        delay = 0.001
        # No reaping here: the init's exit status belongs to whoever waits for it, and zombies
        # leave cgroup.procs (and stop counting as populated) as soon as they exit.
        while pids:
            pids = self._all_pids()
            if not pids:
                break
            if time.monotonic() > deadline:
                raise Unavailable(f"cannot remove cgroup {self.path}: processes {pids} did not die "
                                  f"after SIGKILL within {timeout:g}s")
            _kill(pids, 9)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        for d in dirs:
            _rmdir_tree(d, deadline)

    # -- accounting ---------------------------------------------------------------------------
    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer killed something here (read before destroy())."""
        if self.layout == "v2":
            return _kv_file(self.dirs[""] + "/memory.events").get("oom_kill", 0) > 0
        d = self.dirs.get("memory")
        if d is None:
            return False
        oc = _kv_file(d + "/memory.oom_control")
        return oc.get("oom_kill", 0) > 0 or oc.get("under_oom", 0) == 1

    def stats(self) -> dict:
        """Docker-API-shaped stats: memory_stats, cpu_stats, pids_stats, blkio_stats (the API adds
        the host-wide fields: system_cpu_usage, online_cpus, read/preread)."""
        if self.layout == "v2":
            return self._stats_v2()
        return self._stats_v1()

    def _stats_v1(self) -> dict:
        out: dict = {}
        m = self.dirs.get("memory")
        if m:
            limit = _int_file(m + "/memory.limit_in_bytes")
            out["memory_stats"] = {
                "usage": _int_file(m + "/memory.usage_in_bytes") or 0,
                "max_usage": _int_file(m + "/memory.max_usage_in_bytes") or 0,
                "failcnt": _int_file(m + "/memory.failcnt") or 0,
                "limit": _clamp_limit(limit),
                "stats": _kv_file(m + "/memory.stat"),
            }
        a = self.dirs.get("cpuacct")
        if a:
            usage = {"total_usage": _int_file(a + "/cpuacct.usage") or 0}
            percpu = (_read(a + "/cpuacct.usage_percpu") or "").split()
            usage["percpu_usage"] = [int(x) for x in percpu if x.isdigit()]
            user, system = _int_file(a + "/cpuacct.usage_user"), _int_file(a + "/cpuacct.usage_sys")
            if user is None or system is None:  # older kernels: USER_HZ ticks in cpuacct.stat
                st = _kv_file(a + "/cpuacct.stat")
                tick = 1_000_000_000 // (os.sysconf("SC_CLK_TCK") or 100)
                user, system = st.get("user", 0) * tick, st.get("system", 0) * tick
            usage["usage_in_usermode"], usage["usage_in_kernelmode"] = user, system
            out["cpu_stats"] = {"cpu_usage": usage}
        c = self.dirs.get("cpu")
        if c:
            st = _kv_file(c + "/cpu.stat")
            out.setdefault("cpu_stats", {"cpu_usage": {"total_usage": 0}})["throttling_data"] = {
                "periods": st.get("nr_periods", 0), "throttled_periods": st.get("nr_throttled", 0),
                "throttled_time": st.get("throttled_time", 0)}
        p = self.dirs.get("pids")
        if p:
            out["pids_stats"] = {"current": _int_file(p + "/pids.current") or 0,
                                 "limit": _int_file(p + "/pids.max") or 0}
        b = self.dirs.get("blkio")
        if b:
            entries = []
            for line in (_read(b + "/blkio.throttle.io_service_bytes_recursive") or "").splitlines():
                f = line.split()
                if len(f) == 3 and ":" in f[0]:
                    maj, _, mi = f[0].partition(":")
                    entries.append({"major": int(maj), "minor": int(mi), "op": f[1], "value": int(f[2])})
            out["blkio_stats"] = {"io_service_bytes_recursive": entries}
        return out

    def _stats_v2(self) -> dict:
        d = self.dirs[""]
        mstat = _kv_file(d + "/memory.stat")
        out: dict = {"memory_stats": {"usage": _int_file(d + "/memory.current") or 0,
                                      "max_usage": _int_file(d + "/memory.peak") or 0,
                                      "limit": _clamp_limit(_int_file(d + "/memory.max")),
                                      "stats": mstat}}
        st = _kv_file(d + "/cpu.stat")
        out["cpu_stats"] = {
            "cpu_usage": {"total_usage": st.get("usage_usec", 0) * 1000,
                          "usage_in_usermode": st.get("user_usec", 0) * 1000,
                          "usage_in_kernelmode": st.get("system_usec", 0) * 1000},
            "throttling_data": {"periods": st.get("nr_periods", 0), "throttled_periods": st.get("nr_throttled", 0),
                                "throttled_time": st.get("throttled_usec", 0) * 1000}}
        out["pids_stats"] = {"current": _int_file(d + "/pids.current") or 0, "limit": _int_file(d + "/pids.max") or 0}
        entries = []
        for line in (_read(d + "/io.stat") or "").splitlines():
            f = line.split()
            if not f or ":" not in f[0]:
                continue
            maj, _, mi = f[0].partition(":")
            kv = dict(x.split("=", 1) for x in f[1:] if "=" in x)
            for op, key in (("read", "rbytes"), ("write", "wbytes")):
                if key in kv:
                    entries.append({"major": int(maj), "minor": int(mi), "op": op, "value": int(kv[key])})
        out["blkio_stats"] = {"io_service_bytes_recursive": entries}
        return out


def _enable_controllers(d: str) -> None:
    """Enable in `d`'s subtree_control every controller `d` has (runc does the same); one by one
    when the batch fails, ignoring refusals: a cgroup with processes of its own cannot delegate
    (the "no internal processes" rule), and a later write to the missing file names the problem."""
    have = (_read(d + "/cgroup.controllers") or "").split()
    on = set((_read(d + "/cgroup.subtree_control") or "").split())
    want = [c for c in have if c not in on]
    if not want:
        return
    try:
        _write(d + "/cgroup.subtree_control", " ".join("+" + c for c in want))
    except DockyardError:
        for c in want:
            try:
                _write(d + "/cgroup.subtree_control", "+" + c)
            except DockyardError:
                pass


def _clamp_limit(limit: int | None) -> int:
    """An unlimited (or huge) memory limit reads as the host's memory, as dockerd reports it."""
    total = _host_memory()
    if limit is None or (total and limit > total):
        return total
    return limit


def _host_memory() -> int:
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0
