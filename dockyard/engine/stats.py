"""Container statistics as the Engine API's GET /containers/{id}/stats gives them: the cgroup's
counters (v1 or v2, runtime/cgroups/stats.py), the host's CPU time, and network I/O read from the
container's own network namespace (`/proc/<init pid>/net/dev`, whichever netns that is: its
own, a joined container's, or the host's for --network host, as docker shows)."""

from __future__ import annotations

import os
import time

NET_FIELDS = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes", "tx_packets", "tx_errors",
              "tx_dropped")


def network_stats(pid: int) -> dict:
    """{interface: {rx_bytes, rx_packets, rx_errors, rx_dropped, tx_…}} of the namespace `pid`
    is in, loopback left out (docker's `networks`)."""
    out = {}
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return {}
    for line in lines:
        name, _, rest = line.partition(":")
        name = name.strip()
        f = rest.split()
        if name == "lo" or len(f) < 16:
            continue
        vals = [int(x) for x in f]
        out[name] = dict(zip(NET_FIELDS, vals[0:4] + vals[8:12]))
    return out


def net_totals(networks: dict) -> tuple[int, int]:
    return (sum(n["rx_bytes"] for n in networks.values()), sum(n["tx_bytes"] for n in networks.values()))


def system_cpu_usage() -> int:
    """Host CPU time in nanoseconds (docker's system_cpu_usage), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    tick = 1_000_000_000 // (os.sysconf("SC_CLK_TCK") or 100)
    return sum(int(x) for x in fields) * tick


def document(engine, ref: str, previous: dict | None = None) -> dict:
    """One stats document (Docker's JSON); `previous` (the last document) fills precpu_stats
    and preread. A container that does not run gives zeros, as dockerd's."""
    from dockyard.engine.status import NEVER, container_cgroup, effective_state, rfc3339

    rec = engine.db.get_container(ref)
    st = effective_state(rec, engine.db)
    cg = container_cgroup(engine, rec)
    running = st.get("Status") in ("running", "paused") and cg is not None
    s = cg.stats() if running else {}
    cpu = dict(s.get("cpu_stats") or {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0,
                                                       "usage_in_usermode": 0},
                                         "throttling_data": {"periods": 0, "throttled_periods": 0,
                                                             "throttled_time": 0}})
    if running:
        cpu["system_cpu_usage"] = system_cpu_usage()
        cpu["online_cpus"] = len(os.sched_getaffinity(0)) or os.cpu_count() or 1
    blkio = {k: None for k in ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
                                "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
                                "io_time_recursive", "sectors_recursive")}
    blkio.update(s.get("blkio_stats") or {})
    doc = {
        "read": rfc3339(time.time()) if running else NEVER,
        "preread": (previous or {}).get("read", NEVER),
        "pids_stats": s.get("pids_stats") or {},
        "blkio_stats": blkio,
        "num_procs": 0, "storage_stats": {},
        "cpu_stats": cpu,
        "precpu_stats": (previous or {}).get("cpu_stats") or {"cpu_usage": {"total_usage": 0},
                                                               "throttling_data": {"periods": 0,
                                                                                   "throttled_periods": 0,
                                                                                   "throttled_time": 0}},
        "memory_stats": s.get("memory_stats") or {},
        "name": "/" + rec.name, "id": rec.id,
    }
    if running and st.get("Pid"):
        doc["networks"] = network_stats(st["Pid"])
    return doc
