"""start, stop, kill, restart, wait: changing a container's state, one command at a time.

Commands on the same container are serialised by an flock on the container's own lock file, so
`stop` and `start` racing cannot both act; commands on different containers never wait for
each other. The monitor (monitor.py) is the only writer of exits; these commands write intent
(`ManuallyStopped`) and wait for the monitor to record the outcome — or record it themselves
when the monitor is gone (killed with -9), so the truth survives crashes.
"""

from __future__ import annotations

import time

from dockyard.engine.launch import prepare, signal_container, thaw
from dockyard.engine.monitor import exit_file, prestart
from dockyard.engine.status import ACTIVE, ContainerLock, Status, alive, effective_state, update_state
from dockyard.engine.teardown import await_exit_recorded
from dockyard.errors import Conflict, DockyardError, InvalidArgument

STOP_TIMEOUT = 10.0


def start(engine, ref: str) -> str:
    """docker start: a stopped or created container runs again, detached, under a new monitor.
    An auto-remove container that fails to start is removed, as dockerd does."""
    with prestart(engine) as monitor:  # first: its interpreter loads while the store is read
        rec = engine.db.get_container(ref)
        try:
            with ContainerLock(engine, rec.id):
                rec = engine.db.get_container(rec.id)
                st = effective_state(rec, engine.db)
                if st.get("Status") in (Status.RUNNING, Status.RESTARTING):
                    return rec.name
                if st.get("Status") == Status.PAUSED:
                    raise Conflict("cannot start a paused container, try unpause instead")
                update_state(engine, rec.id, ManuallyStopped=False)
                monitor.go(prepare(engine, rec))
        except DockyardError as e:
            from dockyard.runtime.spawn import StartError

            if isinstance(e, StartError) and rec.config.get("auto_remove"):
                from dockyard.engine.teardown import remove

                remove(engine, rec.id, force=True, volumes=True)
            raise
    return rec.name


def _signal_number(sig) -> int:
    from dockyard.signals import parse_signal

    return parse_signal(sig)


def stop(engine, ref: str, *, timeout: float | None = None, signal=None) -> str:
    """docker stop: STOPSIGNAL (default SIGTERM), wait the grace period, then SIGKILL."""
    from dockyard.runtime.procfs import wait_gone

    rec = engine.db.get_container(ref)
    with ContainerLock(engine, rec.id):
        rec = engine.db.get_container(rec.id)
        st = effective_state(rec, engine.db)
        update_state(engine, rec.id, ManuallyStopped=True)
        if st.get("Status") not in ACTIVE:
            return rec.name
        cfg = rec.config
        if timeout is None:
            timeout = cfg.get("stop_timeout") if cfg.get("stop_timeout") is not None else STOP_TIMEOUT
        sig = _signal_number(signal or cfg.get("stop_signal") or st.get("StopSignal") or "SIGTERM")
        pid, start_time = st.get("Pid", 0), st.get("PidStartTime")
        if st.get("Status") == Status.PAUSED:
            thaw(engine, rec.id)
        if alive(pid, start_time):
            signal_container(engine, rec, pid, sig)
            if not wait_gone(pid, start_time, float("inf") if timeout == -1 else max(timeout, 0)):  # -1: forever
                signal_container(engine, rec, pid, 9)
                wait_gone(pid, start_time, 30.0)
        await_exit_recorded(engine, rec.id)
    from dockyard.engine import events

    events.container(engine, rec, "stop")
    return rec.name


def kill(engine, ref: str, signal="SIGKILL") -> str:
    from dockyard.errors import ContainerNotFound

    try:
        rec = engine.db.get_container(ref)
    except ContainerNotFound as e:  # dockerd's words
        raise ContainerNotFound(f"Cannot kill container: {ref}: {e}") from None
    try:
        sig = _signal_number(signal)
    except InvalidArgument:
        raise InvalidArgument(f"Invalid signal: {signal}") from None  # dockerd's words
    with ContainerLock(engine, rec.id):
        st = effective_state(engine.db.get_container(rec.id), engine.db)
        if st.get("Status") not in (Status.RUNNING, Status.PAUSED):
            raise Conflict(f"Cannot kill container: {ref}: Container {rec.id} is not running")
        if sig in (9, 15):  # docker: a container killed by the user is not restarted
            update_state(engine, rec.id, ManuallyStopped=True)
        if st.get("Status") == Status.PAUSED and sig == 9:
            thaw(engine, rec.id)
        if alive(st.get("Pid", 0), st.get("PidStartTime")):
            signal_container(engine, rec, st["Pid"], sig)
    from dockyard.engine import events

    events.container(engine, rec, "kill", signal=sig)
    return rec.name


def restart(engine, ref: str, *, timeout: float | None = None, signal=None) -> str:
    stop(engine, ref, timeout=timeout, signal=signal)
    return start(engine, ref)


def wait(engine, ref: str, *, poll: float = 0.05) -> int:
    """docker wait: block until the container is not running; its exit code."""
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
        st = effective_state(rec, engine.db)
        if st.get("Status") not in ACTIVE:
            return int(st.get("ExitCode", 0))
        time.sleep(poll)


def parse_timeout(value) -> int | None:
    """docker stop/restart -t: whole seconds (an int, as docker's flag), -1 waits for ever."""
    if value in (None, ""):
        return None
    v = str(value)
    digits = v[1:] if v[:1] in "+-" else v
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18 or int(v) < -1:
        raise InvalidArgument(f"invalid timeout: {value!r}: a number of seconds, or -1 to wait for ever")
    return int(v)
