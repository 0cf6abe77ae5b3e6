"""pause/unpause (the freezer), top (host ps over the container's cgroup), stats (cgroup counters and
the netns's interfaces, engine/stats.py)."""

from __future__ import annotations

import time

from dockyard.errors import Conflict, Unavailable
from dockyard.units import binary_size, human_size


def _running(engine, ref: str):
    from dockyard.engine.status import container_cgroup, effective_state

    rec = engine.db.get_container(ref)
    st = effective_state(rec, engine.db)
    cg = container_cgroup(engine, rec)
    return rec, st, cg


def pause(engine, ref: str, *, by: str | None = None) -> str:
    """docker pause. `by` names a process (pid@start time) that will unpause it itself (commit):
    recorded before the freeze, so if that process dies first the next command thaws it."""
    from dockyard.engine.launch import thaw
    from dockyard.engine.status import ContainerLock, Status, update_state

    rec, st, cg = _running(engine, ref)
    with ContainerLock(engine, rec.id):
        if st.get("Status") == "paused":
            raise Conflict(f"Container {rec.id} is already paused")
        if st.get("Status") != "running":
            raise Conflict(f"Container {rec.id} is not running")
        from dockyard.engine.runtimes import external_runtime

        runtime = external_runtime(engine, rec)
        if runtime is None and cg is None:
            raise Unavailable("the container has no cgroup to freeze")
        update_state(engine, rec.id, Status=Status.PAUSED, Paused=True, PausedBy=by)
        try:
            if runtime is not None:
                runtime.pause(rec.id)
            else:
                cg.freeze()
        except BaseException:
            thaw(engine, rec.id)
            raise
    from dockyard.engine import events

    events.container(engine, rec, "pause")
    return rec.name


def unpause(engine, ref: str) -> str:
    from dockyard.engine.launch import thaw
    from dockyard.engine.status import ContainerLock

    rec, st, _cg = _running(engine, ref)
    with ContainerLock(engine, rec.id):
        if st.get("Status") != "paused":
            raise Conflict(f"Container {rec.id} is not paused")
        thaw(engine, rec.id)
    from dockyard.engine import events

    events.container(engine, rec, "unpause")
    return rec.name


def top(engine, ref: str, ps_args: list[str]) -> str:
    """docker top: the host's `ps` output, keeping the header and the container's processes."""
    import subprocess

    rec, st, cg = _running(engine, ref)
    if st.get("Status") not in ("running", "paused"):
        raise Conflict(f"Container {rec.id} is not running")
    pids = set(cg.pids()) if cg is not None else {st["Pid"]}
    args = ps_args or ["-ef"]
    out = subprocess.run(["ps", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise Unavailable(f"ps failed: {out.stderr.strip()}")
    lines = out.stdout.splitlines()
    if not lines:
        return ""
    header = lines[0].split()
    if "PID" not in header:
        raise Unavailable("Couldn't find PID field in ps output")
    col = header.index("PID")
    keep = [lines[0]] + [ln for ln in lines[1:] if len(ln.split()) > col and ln.split()[col].isdigit()
                         and int(ln.split()[col]) in pids]
    return "\n".join(keep)


def sample(engine, ref: str) -> dict:
    """One stats reading of a container (zeros for a stopped one, as docker shows)."""
    import os

    from dockyard.engine.stats import net_totals, network_stats, system_cpu_usage

    rec, st, cg = _running(engine, ref)
    running = st.get("Status") in ("running", "paused") and cg is not None
    s = cg.stats() if running else {}
    rx, tx = net_totals(network_stats(st["Pid"])) if running and st.get("Pid") else (0, 0)
    mem = s.get("memory_stats") or {}
    stats = mem.get("stats") or {}
    usage = mem.get("usage", 0) - stats.get("total_inactive_file", stats.get("inactive_file", 0))
    return {"id": rec.id, "name": rec.name, "cpu": (s.get("cpu_stats") or {}).get("cpu_usage", {}).get("total_usage", 0),
            "system": system_cpu_usage(), "rx": rx, "tx": tx, "ncpu": os.cpu_count() or 1, "mem": max(usage, 0),
            "limit": mem.get("limit", 0) if running else 0, "pids": (s.get("pids_stats") or {}).get("current", 0),
            "blkio": (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or [], "running": running}


def stats_rows(engine, refs: list[str], interval: float = 0.5, trunc: bool = True) -> list[dict]:
    """Two readings `interval` apart, as `docker stats --no-stream` computes CPU %. A row's
    Container is the reference as given (docker's), its ID the short one unless not `trunc`."""
    first = [sample(engine, r) for r in refs]
    time.sleep(interval)
    rows = []
    for ref, a in zip(refs, first):
        b = sample(engine, a["id"])
        dsys = b["system"] - a["system"]
        cpu = (b["cpu"] - a["cpu"]) / dsys * b["ncpu"] * 100.0 if dsys > 0 and b["running"] else 0.0
        read = sum(e["value"] for e in b["blkio"] if e.get("op", "").lower() == "read")
        write = sum(e["value"] for e in b["blkio"] if e.get("op", "").lower() == "write")
        rows.append({"ID": b["id"][:12] if trunc else b["id"], "Name": b["name"], "CPUPerc": f"{cpu:.2f}%",
                     "MemUsage": f"{binary_size(b['mem'])} / {binary_size(b['limit'])}",
                     "MemPerc": f"{(b['mem'] / b['limit'] * 100 if b['limit'] else 0):.2f}%",
                     "NetIO": f"{human_size(b['rx'])} / {human_size(b['tx'])}", "BlockIO": f"{human_size(read)} / {human_size(write)}", "PIDs": str(b["pids"]),
                     "Container": ref})
    return rows
