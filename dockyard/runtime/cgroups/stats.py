"""A container cgroup's counters in the Docker API's shape: memory_stats, cpu_stats, pids_stats,
blkio_stats (the API adds the host-wide fields: system_cpu_usage, online_cpus, read/preread).
Hot path module: only os (builtin) is imported."""

from __future__ import annotations

import os

from dockyard.runtime.cgroups.files import int_file, kv_file, read_file


def stats_v1(dirs: dict) -> dict:
    """Docker-API-shaped stats from cgroup v1 hierarchies ({controller: directory})."""
    out: dict = {}
    m = dirs.get("memory")
    if m:
        limit = int_file(m + "/memory.limit_in_bytes")
        out["memory_stats"] = {
            "usage": int_file(m + "/memory.usage_in_bytes") or 0,
            "max_usage": int_file(m + "/memory.max_usage_in_bytes") or 0,
            "failcnt": int_file(m + "/memory.failcnt") or 0,
            "limit": clamp_limit(limit),
            "stats": kv_file(m + "/memory.stat"),
        }
    a = dirs.get("cpuacct")
    if a:
        usage = {"total_usage": int_file(a + "/cpuacct.usage") or 0}
        percpu = (read_file(a + "/cpuacct.usage_percpu") or "").split()
        usage["percpu_usage"] = [int(x) for x in percpu if x.isdigit()]
        user, system = int_file(a + "/cpuacct.usage_user"), int_file(a + "/cpuacct.usage_sys")
        if user is None or system is None:  # older kernels: USER_HZ ticks in cpuacct.stat
            st = kv_file(a + "/cpuacct.stat")
            tick = 1_000_000_000 // (os.sysconf("SC_CLK_TCK") or 100)
            user, system = st.get("user", 0) * tick, st.get("system", 0) * tick
        usage["usage_in_usermode"], usage["usage_in_kernelmode"] = user, system
        out["cpu_stats"] = {"cpu_usage": usage}
    c = dirs.get("cpu")
    if c:
        st = kv_file(c + "/cpu.stat")
        out.setdefault("cpu_stats", {"cpu_usage": {"total_usage": 0}})["throttling_data"] = {
            "periods": st.get("nr_periods", 0), "throttled_periods": st.get("nr_throttled", 0),
            "throttled_time": st.get("throttled_time", 0)}
    p = dirs.get("pids")
    if p:
        out["pids_stats"] = {"current": int_file(p + "/pids.current") or 0,
                             "limit": int_file(p + "/pids.max") or 0}
    b = dirs.get("blkio")
    if b:
        entries = []
        for line in (read_file(b + "/blkio.throttle.io_service_bytes_recursive") or "").splitlines():
            f = line.split()
            if len(f) == 3 and ":" in f[0]:
                maj, _, mi = f[0].partition(":")
                entries.append({"major": int(maj), "minor": int(mi), "op": f[1], "value": int(f[2])})
        out["blkio_stats"] = {"io_service_bytes_recursive": entries}
    return out


def stats_v2(dirs: dict) -> dict:
    """Docker-API-shaped stats from the cgroup v2 directory (dirs[""])."""
    d = dirs[""]
    mstat = kv_file(d + "/memory.stat")
    out: dict = {"memory_stats": {"usage": int_file(d + "/memory.current") or 0,
                                  "max_usage": int_file(d + "/memory.peak") or 0,
                                  "limit": clamp_limit(int_file(d + "/memory.max")),
                                  "stats": mstat}}
    st = kv_file(d + "/cpu.stat")
    out["cpu_stats"] = {
        "cpu_usage": {"total_usage": st.get("usage_usec", 0) * 1000,
                      "usage_in_usermode": st.get("user_usec", 0) * 1000,
                      "usage_in_kernelmode": st.get("system_usec", 0) * 1000},
        "throttling_data": {"periods": st.get("nr_periods", 0), "throttled_periods": st.get("nr_throttled", 0),
                            "throttled_time": st.get("throttled_usec", 0) * 1000}}
    out["pids_stats"] = {"current": int_file(d + "/pids.current") or 0, "limit": int_file(d + "/pids.max") or 0}
    entries = []
    for line in (read_file(d + "/io.stat") or "").splitlines():
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


def clamp_limit(limit: int | None) -> int:
    """An unlimited (or huge) memory limit reads as the host's memory, as dockerd reports it."""
    total = host_memory()
    if limit is None or (total and limit > total):
        return total
    return limit


def host_memory() -> int:
    for line in (read_file("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0
