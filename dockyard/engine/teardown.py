"""Taking a container down: waiting for its exit to be on record (recording it when its monitor
is gone), and `rm` itself (its files, cgroup and network leftovers go through launch.cleanup_files).

Above launch.py; below monitor.py (which removes `--rm` containers) and the commands.
"""

from __future__ import annotations

import time

from dockyard.engine.launch import cleanup_files, signal_container, thaw
from dockyard.engine.status import ACTIVE, ContainerLock, Status, alive, effective_state, rfc3339
from dockyard.engine.status import update_state
from dockyard.errors import ContainerRunning


def await_exit_recorded(engine, cid: str, timeout: float = 10.0) -> None:
    """The monitor records the exit; if it is gone (killed), record it ourselves."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = engine.db.get_container(cid).state
        if st.get("Status") not in ACTIVE:
            return
        if not alive(st.get("MonitorPid", 0), st.get("MonitorStartTime")):
            break
        time.sleep(0.02)
    rec = engine.db.get_container(cid)
    st = effective_state(rec, engine.db)
    if st.get("Status") == Status.EXITED:
        update_state(engine, cid, Status=Status.EXITED, Running=False, Paused=False, Restarting=False, Pid=0,
                     ExitCode=st.get("ExitCode", 137), FinishedAt=rfc3339(time.time()), NetworkSettings={})
        # nobody else is left to give back its addresses, port rules and interfaces
        from dockyard.engine.networking import detach

        detach(engine, cid, had_ports=bool(rec.config.get("ports")), reap_links=True)


def remove(engine, ref: str, *, force: bool = False, volumes: bool = False, only_if=None) -> str:
    """docker rm [-f] [-v]: a running container needs force (then it is killed first); -v also
    removes its anonymous volumes (those no other container uses). `only_if(rec)`, checked under
    the container's lock, must hold for the removal to go on (a repair re-checking its reason)."""
    from dockyard.fsutil import rmtree

    rec = engine.db.get_container(ref)
    with ContainerLock(engine, rec.id):
        rec = engine.db.get_container(rec.id)
        if only_if is not None and not only_if(rec):
            return rec.name
        st = effective_state(rec, engine.db)
        if st.get("Status") in ACTIVE:
            if not force:
                raise ContainerRunning(
                    f"You cannot remove a running container {rec.id}. Stop the container before attempting "
                    "removal or force remove")
            from dockyard.runtime.procfs import wait_gone

            update_state(engine, rec.id, ManuallyStopped=True)
            if st.get("Status") == Status.PAUSED:  # frozen tasks cannot die: thaw first (runc resume)
                thaw(engine, rec.id)
            if alive(st.get("Pid", 0), st.get("PidStartTime")):
                signal_container(engine, rec, st["Pid"], 9)  # through the runtime that made it
                wait_gone(st["Pid"], st.get("PidStartTime"), 10.0)
            await_exit_recorded(engine, rec.id)
        if rec.config.get("runtime") not in (None, "", "dockyard"):
            from dockyard.engine.runtimes import forget

            forget(rec.config["runtime"], engine.runroot, rec.id)  # e.g. an init stuck at runc's start gate
        later = []  # the snapshot's files go once the record has: `wait --condition removed` ends sooner
        cleanup_files(engine, rec.id, had_ports=bool(rec.config.get("ports")), later=later)
        engine.db.must(engine.db.delete_container, rec.id)
    rmtree(engine.container_data_dir(rec.id))
    from dockyard.engine import events

    events.container(engine, rec, "destroy")
    for call in later:
        call()
    if volumes and rec.config.get("mounts"):
        from dockyard.engine.volumes import remove_anonymous

        remove_anonymous(engine, rec.config["mounts"])
    return rec.name
