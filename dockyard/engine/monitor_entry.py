"""The entry point a container's monitor is started on (`engine/detach.spawn_detached`).

    python -I -S -c "…from dockyard.engine.monitor_entry import main; main()" ROOT RUNROOT ID

fd 3 is the report pipe (the CLI waits for one JSON line: the init's pid, or why it did not
start); stdio is /dev/null. The process forks once before importing anything, so the monitor is
nobody's child, then imports only what a monitor needs and reads the container back from its
record and its bundle, which `create` (or `start`'s `prepare`) has just written.
"""

import os
import sys

REPORT_FD = 3


def main(argv: list[str] | None = None) -> None:
    root, runroot, cid = argv if argv is not None else sys.argv[1:]
    if os.fork() != 0:  # the CLI waits for this first process only
        os._exit(0)
    os.closerange(REPORT_FD + 1, 1 << 16)  # nothing inherited beyond stdio and the report pipe
    from dockyard.engine.engine import Engine

    engine = Engine(root, runroot)
    code = 0
    try:
        from dockyard.engine.launch import load_created
        from dockyard.engine.monitor import Monitor

        Monitor(engine, load_created(engine, engine.db.get_container(cid)), report_fd=REPORT_FD).run()
    except BaseException as e:  # noqa: BLE001 - a detached process reports, it never unwinds
        from dockyard.engine.detach import report
        from dockyard.engine.monitor import log_crash

        report(REPORT_FD, error=str(e), code=getattr(e, "code", 125))
        log_crash(engine, cid)
        code = 1
    os._exit(code)
