"""Finishing what a killed command left half-done to containers.

With no daemon, a `dockyard` process killed mid-command (SIGKILL, a closed terminal, the OOM
killer) cannot finish its own work, so the next command does:

- a container frozen by `commit` (its state names the committing process in ``PausedBy``) whose
  committer is gone is thawed: Docker keeps a container running through an interrupted commit;
- a `run --rm` container whose launcher is gone (its state names it in ``Launcher``) and which
  no longer runs, with no live monitor, is removed, as its launcher would have done. Runtimes'
  leftovers go with it (an external runtime's init stuck at its start gate, the rootfs the
  engine mounted for it on the host).

`sweep` is cheap when there is nothing to do (one indexed read of the few candidate rows), so
every CLI command runs it once before its own work.
"""

from __future__ import annotations

from dockyard.engine.status import ACTIVE, ContainerLock, Status, alive, container_cgroup, effective_state
from dockyard.engine.status import owner_alive, update_state


def frozen_by_dead_commit(state: dict) -> bool:
    return state.get("Status") == Status.PAUSED and bool(state.get("PausedBy")) and not owner_alive(state["PausedBy"])


def abandoned_auto_remove(rec) -> bool:
    """A --rm container that nobody is left to remove."""
    if not rec.config.get("auto_remove"):
        return False
    st = effective_state(rec)
    if st.get("Status") in ACTIVE or st.get("Status") == Status.REMOVING:
        return False
    if alive(st.get("MonitorPid", 0), st.get("MonitorStartTime")):
        return False  # its monitor removes it
    launcher = st.get("Launcher")
    if st.get("Status") == Status.CREATED and not launcher:
        return False  # `create --rm`: it waits for a `start`
    return not owner_alive(launcher)


def thaw(engine, cid: str) -> None:
    """Undo a dead committer's pause (under the container's lock, re-checked there)."""
    with ContainerLock(engine, cid):
        rec = engine.db.get_container(cid)
        if not frozen_by_dead_commit(rec.state):
            return
        cg = container_cgroup(engine, rec)
        if cg is not None:
            cg.thaw()
        update_state(engine, cid, Status=Status.RUNNING, Paused=False, PausedBy=None)


def finish_removal(engine, cid: str) -> None:
    from dockyard.engine.teardown import remove

    remove(engine, cid, force=True, volumes=True, only_if=abandoned_auto_remove)


def sweep(engine) -> None:
    """Repair every container a dead command left half-done. Errors are not this command's:
    the container is left as it was, for `rm -f` or the next sweep."""
    from dockyard.errors import DockyardError

    engine.reclaim_tmp_once()
    try:
        candidates = engine.db.containers_needing_repair()
    except DockyardError:
        return  # a store that cannot be read now: the command itself will say why
    for rec in candidates:
        try:
            if frozen_by_dead_commit(rec.state):
                thaw(engine, rec.id)
            elif abandoned_auto_remove(rec):
                finish_removal(engine, rec.id)
        except (DockyardError, OSError):
            continue


def release_stale_endpoints(engine) -> int:
    """Addresses, rules and interfaces still held for containers that no longer run (their
    monitor was killed, or the host rebooted under them), and for records gone without their
    endpoints (killed mid-rm): how many containers' endpoints were released."""
    from dockyard.engine.networking import detach
    from dockyard.state.networks import endpoints

    held = {e.container_id for e in endpoints(engine.db)}
    fixed = 0
    for rec in engine.db.list_containers():
        if rec.id in held and effective_state(rec, engine.db).get("Status") not in ACTIVE:
            detach(engine, rec.id, had_ports=bool(rec.config.get("ports")), reap_links=True)
            fixed += 1
    known = {r.id for r in engine.db.list_containers()}
    for cid in held - known:
        detach(engine, cid, had_ports=True, reap_links=True)
        fixed += 1
    return fixed
