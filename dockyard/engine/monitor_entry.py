"""The entry point a container's monitor is started on (`engine/detach.spawn_detached`).

    python -I -S -c "…from dockyard.engine.monitor_entry import main; main()" ROOT RUNROOT [--spare]

stdio is /dev/null; fd 3 is the report pipe (the CLI waits for one JSON line: the init's pid, or
why it did not start); fd 4 brings the container's id. The process is started before the
container is created: it forks once before importing anything (so the monitor is nobody's
child), imports what a monitor needs and opens the store while the CLI works, then reads the id
(end of file: the CLI gave up, and it exits) and reads the container back from its record and
its bundle.

`--spare`: started well ahead, for a start nobody has asked for yet (the API's zygote keeps one):
it loads under SCHED_IDLE, so only on CPU time nobody else wants, then takes the normal policy
back and says READY on fd 3 before it waits for its id.
"""

import os
import sys

REPORT_FD, GO_FD = 3, 4
READY = b"ready\n"
# what every monitor imports before its container runs: loaded while the caller writes the bundle
PRELOAD = ("dockyard.engine.attachsock", "dockyard.engine.logs", "dockyard.engine.runtimes", "dockyard.runtime.spawn",
           "dockyard.runtime.init", "dockyard.runtime.cgroups.cgroup", "dockyard.runtime.cgroups.plan",
           "dockyard.runtime.mounts", "dockyard.linux.netdev", "dockyard.snapshots.overlay", "dockyard.state.db")


def _read_id() -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(GO_FD, 128)
        if not chunk:
            return ""
        data += chunk
    return data.decode().strip()


def can_leave_idle() -> bool:
    """Whether this process may go back from SCHED_IDLE to the normal policy: it needs
    CAP_SYS_NICE, or an RLIMIT_NICE that allows nice 0 (20); a service in a container without
    SYS_NICE has neither, and its spares then load at the normal policy."""
    import resource

    limit = resource.getrlimit(resource.RLIMIT_NICE)[0]
    if limit == resource.RLIM_INFINITY or limit >= 20:
        return True
    try:
        with open("/proc/self/status") as f:
            caps = next(line for line in f if line.startswith("CapEff:"))
    except (OSError, StopIteration):
        return False
    return bool(int(caps.split()[1], 16) >> 23 & 1)  # CAP_SYS_NICE


def main(argv: list[str] | None = None) -> None:
    root, runroot, *flags = argv if argv is not None else sys.argv[1:]
    if os.fork() != 0:  # the CLI waits for this first process only
        os._exit(0)
    spare = "--spare" in flags
    idle = spare and can_leave_idle()
    if idle:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    os.closerange(GO_FD + 1, 1 << 16)  # nothing inherited beyond stdio and the two pipes
    from dockyard.engine.engine import Engine
    from dockyard.engine.launch import load_created
    from dockyard.engine.monitor import Monitor

    for name in PRELOAD:
        __import__(name)
    engine = Engine(root, runroot)
    try:
        engine.db  # noqa: B018 - opened now, while the caller works
    except Exception:  # noqa: BLE001 - used again below, where a failure is reported
        pass
    if idle:  # loaded: the container must not inherit the idle policy
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    if spare:
        os.write(REPORT_FD, READY)
    cid = _read_id()
    os.close(GO_FD)
    if not cid:
        os._exit(0)
    code = 0
    try:
        Monitor(engine, load_created(engine, engine.db.get_container(cid)), report_fd=REPORT_FD).run()
    except BaseException as e:  # noqa: BLE001 - a detached process reports, it never unwinds
        from dockyard.engine.detach import report
        from dockyard.engine.monitor import log_crash

        report(REPORT_FD, error=str(e), code=getattr(e, "code", 125))
        log_crash(engine, cid)
        code = 1
    os._exit(code)
