"""A container's state record: its status, its lock, and whether its processes still live.

The bottom of the container lifecycle (docs/architecture.md): launch.py and teardown.py sit
above it, monitor.py above them, the commands (containers.py, lifecycle.py, observe.py,
repair.py, …) on top. Nothing here imports any of those.

The record in the state database is the truth about a container; the status shown to users is
derived from it plus the kernel (a "running" container whose init is gone is reported exited),
so a killed CLI never leaves `ps` lying.

`Status` has an Enum's interface (`Status.RUNNING`, `Status("running")`, `.value`, `.name`,
iteration) without importing `enum`, which costs `dockyard run --rm` more than the rest of this
module: its members are the very strings Docker shows, so the stored record stays plain JSON.
"""

from __future__ import annotations

import os
import time


class StatusType(type):
    """Status's metaclass: iteration and membership over its members, as an Enum class has."""

    def __iter__(cls):
        return iter(cls.MEMBERS)

    def __len__(cls):
        return len(cls.MEMBERS)

    def __contains__(cls, value) -> bool:
        return value in cls.MEMBERS


class Status(str, metaclass=StatusType):
    """Docker's container statuses. A member is a str equal to Docker's word."""

    __slots__ = ()
    MEMBERS: tuple = ()

    def __new__(cls, value):
        for m in cls.MEMBERS:
            if m == value:
                return m
        raise ValueError(f"{value!r} is not a valid Status")

    @classmethod
    def define(cls, name: str, value: str) -> "Status":
        m = str.__new__(cls, value)
        setattr(cls, name, m)
        cls.MEMBERS += (m,)
        return m

    @property
    def value(self) -> str:
        return str(self[:])

    @property
    def name(self) -> str:
        return next(k for k, v in vars(type(self)).items() if v is self)

    def __repr__(self) -> str:
        return f"<Status.{self.name}: {self.value!r}>"


for _name, _value in (("CREATED", "created"), ("RUNNING", "running"), ("PAUSED", "paused"),
                      ("RESTARTING", "restarting"), ("REMOVING", "removing"), ("EXITED", "exited"),
                      ("DEAD", "dead")):
    Status.define(_name, _value)
del _name, _value

# An init may be alive (the kernel decides: see effective_state); a container that is stopped.
ACTIVE = (Status.RUNNING, Status.PAUSED, Status.RESTARTING)
STOPPED = (Status.EXITED, Status.CREATED, Status.DEAD)
NEVER = "0001-01-01T00:00:00Z"  # Docker's zero time, for StartedAt/FinishedAt not yet reached


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def alive(pid: int, start_time: int | None) -> bool:
    """The process `pid` still lives and is the one that started at `start_time` (not a reuse)."""
    from dockyard.runtime.procfs import proc_start_time

    return bool(pid) and proc_start_time(pid) == start_time


def owner_now() -> str:
    """What a command records as itself in ``PausedBy``/``Launcher`` (`pid@start time`)."""
    from dockyard.ownership import owner_tag

    return owner_tag()


def owner_alive(tag) -> bool:
    """The command an `owner_now()` tag names still runs."""
    if not isinstance(tag, str) or "@" not in tag:
        return False
    from dockyard.ownership import start_time

    pid, _, started = tag.partition("@")
    return pid.isdigit() and started.isdigit() and start_time(int(pid)) == int(started)


def effective_state(rec, db=None) -> dict:
    """The record's state, corrected by the kernel: a dead init means the container has exited.

    While its monitor lives, the monitor is about to record the exit itself (with the real exit
    code), so only a container with neither init nor monitor is declared exited here. Given the
    database, a record whose monitor is found dead is read once more: the monitor may have
    recorded the exit (its last write) between that read and the liveness check, and a container
    that exited 0 must not be reported as killed.
    """
    st = dict(rec.state)
    if st.get("Status") in ACTIVE and not alive(st.get("Pid", 0), st.get("PidStartTime")):
        if alive(st.get("MonitorPid", 0), st.get("MonitorStartTime")):
            return st
        if db is not None:
            from dockyard.errors import ContainerNotFound

            try:
                fresh = db.get_container(rec.id)
            except ContainerNotFound:
                fresh = None
            if fresh is not None and fresh.state != rec.state:
                return effective_state(fresh)
        st.update(Status=Status.EXITED, Running=False, Paused=False, Restarting=False, Pid=0,
                  ExitCode=st.get("ExitCode") or 137,
                  Error=st.get("Error") or "container process disappeared")
    return st


def update_state(engine, cid: str, **changes) -> dict:
    """Change fields of a container's recorded state in one transaction; the new state."""
    with engine.db.transaction():
        st = dict(engine.db.get_container(cid).state)
        st.update(changes)
        engine.db.update_state(cid, st)
    return st


class ContainerLock:
    """Exclusive lock on one container (fcntl.flock on <root>/containers/<id>/lock): lifecycle
    commands on one container take turns; the monitor never holds it."""

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


def container_cgroup(engine, rec):
    """The container's cgroup, rebuilt from its bundle's spec (None if it has no bundle)."""
    from dockyard import jsonfast
    from dockyard.runtime.cgroups.cgroup import Cgroup

    try:
        with open(os.path.join(engine.container_dir(rec.id), "config.json")) as f:
            spec = jsonfast.load(f)
    except OSError:
        return None
    except ValueError:  # cut short by a kill while it was written: nothing ran from it, no cgroup
        return None
    return Cgroup.for_spec(spec, rec.id)
