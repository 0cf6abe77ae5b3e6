"""Resource limits the host cannot apply: dockerd's verifyPlatformContainerResources for the
flags dockyard takes (-m, --memory-swap, --cpus, --cpu-shares, --cpuset-cpus, --pids-limit).

Docker does not fail a container over a limit the kernel lacks: it discards the limit and warns
("WARNING: Your kernel does not support ... Limitation discarded."), except --cpus without CFS
bandwidth control, which it refuses. The runtime then never sees a limit it would refuse
(dockyard-runtime and runc refuse such limits, see runtime/cgroups/).

    support = host_support()                       # what this host's cgroups can do
    cfg, warnings = check_resources(cfg, support)   # cfg without what it cannot, and why
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument

W_MEMORY = ("Your kernel does not support memory limit capabilities or the cgroup is not mounted. "
            "Limitation discarded.")
W_SWAP = ("Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
          "Memory limited without swap.")
W_SHARES = "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded."
W_CPUSET = "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded."
W_PIDS = ("Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. "
          "PIDs limit discarded.")
E_CFS = "NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted"

FEATURES = ("memory", "swap", "cpu_shares", "cpu_cfs", "cpuset", "pids", "swappiness", "oom_kill_disable",
            "blkio_weight", "blkio_throttle")
# HostConfig keys of engine/hostopts.py: (feature needed, dockerd's warning when it is missing)
HOST_OPT_NEEDS = {
    "MemoryReservation": ("memory", "Your kernel does not support memory soft limit capabilities or the cgroup is not "
                                    "mounted. Limitation discarded."),
    "MemorySwappiness": ("swappiness", "Your kernel does not support memory swappiness capabilities or the cgroup is "
                                       "not mounted. Memory swappiness discarded."),
    "OomKillDisable": ("oom_kill_disable", "Your kernel does not support OomKillDisable. OomKillDisable discarded."),
    "CpuPeriod": ("cpu_cfs", "Your kernel does not support CPU CFS period or the cgroup is not mounted. "
                             "Period discarded."),
    "CpuQuota": ("cpu_cfs", "Your kernel does not support CPU CFS quota or the cgroup is not mounted. "
                            "Quota discarded."),
    "CpusetMems": ("cpuset", W_CPUSET),
    "BlkioWeight": ("blkio_weight", "Your kernel does not support Block I/O weight or the cgroup is not mounted. "
                                    "Weight discarded."),
    "BlkioWeightDevice": ("blkio_weight", "Your kernel does not support Block I/O weight_device or the cgroup is "
                                          "not mounted. Weight-device discarded."),
    "BlkioDeviceReadBps": ("blkio_throttle", "Your kernel does not support BPS Block I/O read limit or the cgroup "
                                             "is not mounted. Block I/O BPS read limit discarded."),
    "BlkioDeviceWriteBps": ("blkio_throttle", "Your kernel does not support BPS Block I/O write limit or the cgroup "
                                              "is not mounted. Block I/O BPS write limit discarded."),
    "BlkioDeviceReadIOps": ("blkio_throttle", "Your kernel does not support IOPS Block read limit or the cgroup is "
                                              "not mounted. Block I/O IOPS read limit discarded."),
    "BlkioDeviceWriteIOps": ("blkio_throttle", "Your kernel does not support IOPS Block write limit or the cgroup "
                                               "is not mounted. Block I/O IOPS write limit discarded."),
}


def host_support(mountinfo: str | None = None, own_cgroup: str | None = None) -> dict:
    """{feature: bool} for FEATURES, read as moby's pkg/sysinfo reads them: on cgroup v1 the
    controller's mount and its files (memory.memsw.limit_in_bytes for swap, cpu.cfs_quota_us
    for CFS), on cgroup v2 the root's cgroup.controllers (swap: memory.swap.max in our own
    cgroup)."""
    from dockyard.runtime.cgroups.paths import layout_of, parse_mountinfo, parse_proc_cgroup

    if mountinfo is None:
        with open("/proc/self/mountinfo") as f:
            mountinfo = f.read()
    v1, v2 = parse_mountinfo(mountinfo)
    if layout_of(v1, v2) == "v2":
        controllers = set((_read(os.path.join(v2[0], "cgroup.controllers")) or "").split())
        if own_cgroup is None:
            own_cgroup = parse_proc_cgroup(_read("/proc/self/cgroup") or "").get("", "/")
        swap = os.path.exists(os.path.join(v2[0], own_cgroup.lstrip("/"), "memory.swap.max"))
        return {"memory": "memory" in controllers, "swap": "memory" in controllers and swap,
                "cpu_shares": "cpu" in controllers, "cpu_cfs": "cpu" in controllers,
                "cpuset": "cpuset" in controllers, "pids": "pids" in controllers, "swappiness": False,
                "oom_kill_disable": False, "blkio_weight": "io" in controllers, "blkio_throttle": "io" in controllers}

    def has(controller: str, f: str | None = None) -> bool:
        if controller not in v1:
            return False
        return f is None or os.path.exists(os.path.join(v1[controller][0], f))

    return {"memory": has("memory", "memory.limit_in_bytes"), "swap": has("memory", "memory.memsw.limit_in_bytes"),
            "cpu_shares": has("cpu", "cpu.shares"), "cpu_cfs": has("cpu", "cpu.cfs_quota_us"),
            "cpuset": has("cpuset"), "pids": has("pids"), "swappiness": has("memory", "memory.swappiness"),
            "oom_kill_disable": has("memory", "memory.oom_control"),
            "blkio_weight": has("blkio", "blkio.weight") or has("blkio", "blkio.bfq.weight"),
            "blkio_throttle": has("blkio", "blkio.throttle.read_bps_device")}


def check_resources(cfg, support: dict | None = None):
    """(cfg without the limits this host cannot apply, [docker's warnings]); raises
    InvalidArgument for --cpus without CFS, as dockerd does."""
    limits = (cfg.memory, cfg.memory_swap, cfg.cpu_quota, cfg.cpu_period, cfg.cpu_shares, cfg.cpuset_cpus,
              cfg.pids_limit)
    opts = cfg.host_opts or {}
    if not any(limits) and not any(k in HOST_OPT_NEEDS for k in opts):
        return cfg, []
    if support is None:
        support = host_support()
    warnings: list = []
    changes: dict = {}
    if opts.get("OomKillDisable") and not cfg.memory:  # docker's CLI says this one
        warnings.append("Disabling the OOM killer on containers without setting a '-m/--memory' limit may be "
                        "dangerous.")
    discard = [k for k in opts if k in HOST_OPT_NEEDS and not support.get(HOST_OPT_NEEDS[k][0])]
    for k in discard:
        if HOST_OPT_NEEDS[k][1] not in warnings:
            warnings.append(HOST_OPT_NEEDS[k][1])
    if discard:
        changes["host_opts"] = opts = {k: v for k, v in opts.items() if k not in discard}
    if "MemorySwappiness" in opts and not 0 <= opts["MemorySwappiness"] <= 100:  # dockerd: after the discard
        raise InvalidArgument(f"Invalid value: {opts['MemorySwappiness']}, valid memory swappiness range is 0-100")
    if opts.get("BlkioWeight") and not 10 <= opts["BlkioWeight"] <= 1000:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    memory, swap = cfg.memory, cfg.memory_swap
    if memory > 0 and not support["memory"]:
        warnings.append(W_MEMORY)
        memory, swap = 0, 0
        changes.update(memory=0, memory_swap=0)
    if memory > 0 and swap != -1 and not support["swap"]:
        warnings.append(W_SWAP)
        changes["memory_swap"] = -1
    if cfg.pids_limit and not support["pids"]:
        if cfg.pids_limit > 0:
            warnings.append(W_PIDS)
        changes["pids_limit"] = 0
    if (cfg.cpu_quota or cfg.cpu_period) and not support["cpu_cfs"]:
        raise InvalidArgument(E_CFS)  # dockyard's quota and period only ever come from --cpus
    if cfg.cpu_shares > 0 and not support["cpu_shares"]:
        warnings.append(W_SHARES)
        changes["cpu_shares"] = 0
    if cfg.cpuset_cpus and not support["cpuset"]:
        warnings.append(W_CPUSET)
        changes["cpuset_cpus"] = ""
    return (cfg.replace(**changes) if changes else cfg), warnings


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None
