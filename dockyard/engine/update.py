"""docker update: a container's resource limits and restart policy changed, live.

The request is the Engine API's UpdateConfig (HostConfig's resource keys and RestartPolicy); a
zero or empty value leaves a limit as it is, as dockerd reads it. The same checks as create
(create.resource_limits, hostopts.resource_options) run on the merged result; the container's
config is rewritten, and a running container's cgroup gets the new limits at once (through the
same resources the spec would carry, specgen.resources + specopts.host_resources). What cannot
change live is refused with a clear message, never accepted and ignored.
"""

from __future__ import annotations

from dockyard.errors import Conflict, InvalidArgument

LIMITS = ("Memory", "MemorySwap", "NanoCpus", "CpuShares", "CpusetCpus", "PidsLimit")
HOST_OPTS = ("MemoryReservation", "CpuPeriod", "CpuQuota", "CpusetMems", "BlkioWeight")
REFUSED = ("CpuRealtimePeriod", "CpuRealtimeRuntime", "KernelMemory", "KernelMemoryTCP", "BlkioWeightDevice",
           "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps",
           "DeviceRequests", "Devices", "DeviceCgroupRules", "Ulimits", "CpuCount", "CpuPercent",
           "IOMaximumIOps", "IOMaximumBandwidth", "OomKillDisable", "MemorySwappiness", "CgroupParent")


def _given(body: dict, key: str) -> bool:
    v = body.get(key)
    return v not in (None, 0, "", [], {})


def update(engine, ref: str, body: dict) -> list[str]:
    """Apply an UpdateConfig to a container; the warnings: dockerd's for a limit this host's
    cgroups cannot apply (that limit is discarded, as dockerd's update does)."""
    from dockyard.engine.config import ContainerConfig, parse_restart
    from dockyard.engine.create import resource_limits
    from dockyard.engine.hostopts import resource_options
    from dockyard.engine.status import ContainerLock, container_cgroup, effective_state

    if not isinstance(body, dict):
        raise InvalidArgument("the update body must be a JSON object")
    for key in REFUSED:
        if _given(body, key):
            raise InvalidArgument(f"{key} cannot be changed by dockyard's update; recreate the container with it")
    rec = engine.db.get_container(ref)
    with ContainerLock(engine, rec.id):
        rec = engine.db.get_container(rec.id)
        cfg = ContainerConfig.from_json(rec.config)
        hc = {"Memory": cfg.memory, "MemorySwap": cfg.memory_swap, "CpuShares": cfg.cpu_shares,
              "CpusetCpus": cfg.cpuset_cpus, "PidsLimit": cfg.pids_limit}
        hc.update({k: body[k] for k in LIMITS if _given(body, k)})
        if _given(body, "Memory") and not _given(body, "MemorySwap") and cfg.memory_swap > 0 \
                and body["Memory"] > cfg.memory_swap:
            raise InvalidArgument("Memory limit should be smaller than already set memoryswap limit, "
                                  "update the memoryswap at the same time")
        limits = resource_limits(hc)
        changes = {k: limits.get(k, 0) for k in ("memory", "memory_swap", "cpu_shares", "pids_limit")}
        changes["cpuset_cpus"] = limits.get("cpuset_cpus", "")
        opts = dict(cfg.host_opts or {})
        if _given(body, "NanoCpus"):
            if _given(body, "CpuPeriod"):  # dockerd's words, the period checked first
                raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
            if _given(body, "CpuQuota") or opts.get("CpuQuota"):
                raise InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
            changes["cpu_period"], changes["cpu_quota"] = limits["cpu_period"], limits["cpu_quota"]
            opts["NanoCpus"] = body["NanoCpus"]  # reported as asked, as create keeps it
        wanted = {k: body[k] for k in HOST_OPTS if _given(body, k)}
        warnings = _unsupported(wanted)
        if wanted:
            if ("CpuPeriod" in wanted or "CpuQuota" in wanted) and cfg.cpu_quota and not _given(body, "NanoCpus"):
                which = "Period" if "CpuPeriod" in wanted else "Quota"  # dockerd's words
                raise InvalidArgument(f"Cannot update container {rec.id}: Conflicting options: CPU {which} cannot "
                                      "be updated as NanoCPUs has already been set")
            checked: dict = {}
            resource_options(wanted, checked, memory=changes["memory"], nano_cpus=0)
            opts.update(checked)
        if opts.get("MemoryReservation") and changes["memory"] and changes["memory"] < opts["MemoryReservation"]:
            raise InvalidArgument("Minimum memory limit can not be less than memory reservation limit, see usage")
        restart = cfg.restart
        policy = body.get("RestartPolicy")
        if isinstance(policy, dict) and policy.get("Name") is not None:
            name, count = policy.get("Name") or "no", int(policy.get("MaximumRetryCount") or 0)
            restart = f"{name}:{count}" if count else name
            parse_restart(restart)
            if cfg.auto_remove and name != "no":
                raise InvalidArgument("Restart policy cannot be updated because AutoRemove is enabled "
                                      "for the container")
        new = cfg.replace(**changes, host_opts=opts, restart=restart)
        if effective_state(rec, engine.db).get("Status") in ("running", "paused", "restarting"):
            if cfg.runtime not in ("", "dockyard"):
                raise Conflict(f"container {rec.name} runs under {cfg.runtime}: its limits can only be changed "
                               "while it is stopped")
            cg = container_cgroup(engine, rec)
            if cg is None:
                raise Conflict(f"container {rec.name} has no cgroup to update")
            cg.set(_live_resources(new))
        engine.db.update_config(rec.id, new.to_json())
    from dockyard.engine import events

    events.container(engine, rec, "update")
    return warnings


def _unsupported(wanted: dict) -> list[str]:
    """dockerd's warnings for the HOST_OPTS in `wanted` this host's cgroups cannot apply; those
    are taken out of `wanted` (discarded, not refused, as dockerd's update does)."""
    from dockyard.engine.resources import HOST_OPT_NEEDS, host_support

    needs = [k for k in wanted if k in HOST_OPT_NEEDS]
    if not needs:
        return []
    support = host_support()
    warnings = []
    for k in needs:
        feature, warning = HOST_OPT_NEEDS[k]
        if not support.get(feature):
            del wanted[k]
            if warning not in warnings:
                warnings.append(warning)
    return warnings


def _live_resources(cfg) -> dict:
    """linux.resources for the new config, limits removed written as "unlimited"."""
    from dockyard.engine.specgen import resources
    from dockyard.engine.specopts import host_resources

    res = resources(cfg)
    host_resources(res, cfg.host_opts or {})
    res.pop("devices", None)
    mem = res.setdefault("memory", {})
    mem.setdefault("limit", -1)
    mem.setdefault("swap", -1)
    cpu = res.setdefault("cpu", {})
    cpu.setdefault("quota", -1)
    res.setdefault("pids", {"limit": -1})
    return res
