"""start, stop, kill, restart, wait: changing a container's state, one command at a time.

Commands on the same container are serialised by an flock on the container's own lock file, so
`stop` and `start` racing cannot both act; commands on different containers never wait for
each other. The monitor (monitor.py) is the only writer of exits; these commands write intent
(`ManuallyStopped`) and wait for the monitor to record the outcome — or record it themselves
when the monitor is gone (killed with -9), so the truth survives crashes.
"""

from __future__ import annotations

import os
import time

from dockyard.errors import Conflict, InvalidArgument, Unavailable

STOP_TIMEOUT = 10.0


class ContainerLock:
    """Exclusive lock on one container (fcntl.flock on <root>/containers/<id>/lock)."""

    def __init__(self, engine, cid: str) -> None:
        d = engine.container_data_dir(cid)
        os.makedirs(d, exist_ok=True)
        self.path = os.path.join(d, "lock")
        self.fd = -1

    def __enter__(self):
        import fcntl

        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.fd)
        self.fd = -1


def _alive(pid: int, start_time) -> bool:
    from dockyard.runtime.procfs import proc_start_time

    return bool(pid) and proc_start_time(pid) == start_time


def _set(engine, cid: str, **changes) -> dict:
    with engine.db.transaction():
        st = dict(engine.db.get_container(cid).state)
        st.update(changes)
        engine.db.update_state(cid, st)
    return st


def start(engine, ref: str) -> str:
    """docker start: a stopped or created container runs again, detached, under a new monitor."""
    from dockyard.engine.containers import effective_state, prepare
    from dockyard.engine.monitor import start_detached

    rec = engine.db.get_container(ref)
    with ContainerLock(engine, rec.id):
        rec = engine.db.get_container(rec.id)
        st = effective_state(rec)
        if st.get("Status") in ("running", "restarting"):
            return rec.name
        if st.get("Status") == "paused":
            raise Conflict("cannot start a paused container, try unpause instead")
        _set(engine, rec.id, ManuallyStopped=False)
        start_detached(engine, prepare(engine, rec))
    return rec.name


def _signal_number(sig) -> int:
    from dockyard.signals import parse_signal

    return parse_signal(sig)


def stop(engine, ref: str, *, timeout: float | None = None, signal=None) -> str:
    """docker stop: STOPSIGNAL (default SIGTERM), wait the grace period, then SIGKILL."""
    from dockyard.engine.containers import effective_state
    from dockyard.runtime.procfs import wait_gone

    rec = engine.db.get_container(ref)
    with ContainerLock(engine, rec.id):
        rec = engine.db.get_container(rec.id)
        st = effective_state(rec)
        _set(engine, rec.id, ManuallyStopped=True)
        if st.get("Status") not in ("running", "paused", "restarting"):
            return rec.name
        cfg = rec.config
        if timeout is None:
            timeout = cfg.get("stop_timeout") if cfg.get("stop_timeout") is not None else STOP_TIMEOUT
        sig = _signal_number(signal or cfg.get("stop_signal") or st.get("StopSignal") or "SIGTERM")
        pid, start_time = st.get("Pid", 0), st.get("PidStartTime")
        if st.get("Status") == "paused":
            thaw(engine, rec.id)
        if _alive(pid, start_time):
            _signal(engine, rec, pid, sig)
            if not wait_gone(pid, start_time, float("inf") if timeout == -1 else max(timeout, 0)):  # -1: forever
                _signal(engine, rec, pid, 9)
                wait_gone(pid, start_time, 30.0)
        _await_exit_recorded(engine, rec.id)
    return rec.name


def kill(engine, ref: str, signal="SIGKILL") -> str:
    from dockyard.engine.containers import effective_state

    rec = engine.db.get_container(ref)
    sig = _signal_number(signal)
    with ContainerLock(engine, rec.id):
        st = effective_state(engine.db.get_container(rec.id))
        if st.get("Status") not in ("running", "paused"):
            raise Conflict(f"Cannot kill container: {ref}: Container {rec.id} is not running")
        if sig in (9, 15):  # docker: a container killed by the user is not restarted
            _set(engine, rec.id, ManuallyStopped=True)
        if st.get("Status") == "paused" and sig == 9:
            thaw(engine, rec.id)
        if _alive(st.get("Pid", 0), st.get("PidStartTime")):
            _signal(engine, rec, st["Pid"], sig)
    return rec.name


def restart(engine, ref: str, *, timeout: float | None = None) -> str:
    stop(engine, ref, timeout=timeout)
    return start(engine, ref)


def wait(engine, ref: str, *, poll: float = 0.05) -> int:
    """docker wait: block until the container is not running; its exit code."""
    from dockyard.engine.containers import effective_state

    from dockyard.engine.monitor import exit_file
    from dockyard.errors import ContainerNotFound

    rec = engine.db.get_container(ref)
    while True:
        try:
            rec = engine.db.get_container(rec.id)
        except ContainerNotFound:  # removed (--rm) after exiting: its monitor left the code
            try:
                with open(exit_file(engine, rec.id)) as f:
                    return int(f.read().strip() or 0)
            except (OSError, ValueError):
                raise ContainerNotFound(f"No such container: {ref}") from None
        st = effective_state(rec)
        if st.get("Status") not in ("running", "paused", "restarting"):
            return int(st.get("ExitCode", 0))
        time.sleep(poll)


def _signal(engine, rec, pid: int, sig: int) -> None:
    """Signal a container's init through the runtime that made it: `runc kill` for runc's
    containers (as containerd and podman do), the kernel directly for our own."""
    from dockyard.engine.runtimes import external_runtime

    runtime = external_runtime(engine, rec)
    if runtime is None:
        _kill(pid, sig)
        return
    try:
        runtime.kill(rec.id, sig)
    except Unavailable:
        # runc no longer knows it (its state dir went with a reboot of the runroot, or it just
        # exited): the init's pid, checked against its start time by the caller, is still right
        _kill(pid, sig)


def _kill(pid: int, sig: int) -> None:
    if not isinstance(pid, int) or pid <= 0:  # kill(0) or kill(-1) would hit other processes
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def thaw(engine, cid: str) -> None:
    from dockyard.engine.containers import container_cgroup
    from dockyard.engine.runtimes import external_runtime

    rec = engine.db.get_container(cid)
    runtime = external_runtime(engine, rec)
    if runtime is not None:
        runtime.resume(cid)
    else:
        cg = container_cgroup(engine, rec)
        if cg is not None:
            cg.thaw()
    _set(engine, cid, Status="running", Paused=False, PausedBy=None)


def _await_exit_recorded(engine, cid: str, timeout: float = 10.0) -> None:
    """The monitor records the exit; if it is gone (killed), record it ourselves."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = engine.db.get_container(cid).state
        if st.get("Status") not in ("running", "paused", "restarting"):
            return
        if not _alive(st.get("MonitorPid", 0), st.get("MonitorStartTime")):
            break
        time.sleep(0.02)
    from dockyard.engine.containers import effective_state, rfc3339

    rec = engine.db.get_container(cid)
    st = effective_state(rec)
    if st.get("Status") == "exited":
        _set(engine, cid, Status="exited", Running=False, Paused=False, Restarting=False, Pid=0,
             ExitCode=st.get("ExitCode", 137), FinishedAt=rfc3339(time.time()), NetworkSettings={})
        # nobody else is left to give back its addresses, port rules and interfaces
        from dockyard.engine.networking import detach

        detach(engine, cid, had_ports=bool(rec.config.get("ports")), reap_links=True)


def parse_timeout(value) -> int | None:
    """docker stop/restart -t: whole seconds (an int, as docker's flag), -1 waits for ever."""
    if value in (None, ""):
        return None
    v = str(value)
    digits = v[1:] if v[:1] in "+-" else v
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18 or int(v) < -1:
        raise InvalidArgument(f"invalid timeout: {value!r}: a number of seconds, or -1 to wait for ever")
    return int(v)
