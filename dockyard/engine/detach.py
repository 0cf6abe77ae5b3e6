"""Starting a process that outlives the CLI (a container's monitor, a detached exec's reaper).

`spawn_detached` (the monitor) starts a new interpreter on a small entry point with posix_spawn,
so nothing of the caller's heap, threads or locks is copied (an API server with threads may call
it): a new session, /dev/null on its stdio, the report pipe as fd 3, nothing else inherited.
The entry point forks once more, before it imports anything, so the survivor is nobody's child.

`fork_detached` (a detached exec's reaper) forks the caller instead: close SQLite first (its lock bookkeeping must never cross a fork), fork,
drop every inherited fd but the report pipe (the CLI's container lock among them), start a new
session, fork again so the survivor is nobody's child, put /dev/null on its stdio (a pipe the
caller reads must not stay open), and tell the CLI one JSON line: what started, or why it did not.
"""

from __future__ import annotations

import os

from dockyard import jsonfast as json


def report(fd: int, **msg) -> None:
    try:
        os.write(fd, (json.dumps(msg) + "\n").encode())
    except OSError:
        pass


REPORT_FD = 3  # where a spawned entry point finds its report pipe


def spawn_detached(engine, module: str, args: list[str], *, default_code: int = 125) -> dict:
    """Run `module.main()` (argv: `args`) in a detached process; return the first message it
    reports on fd 3, as `fork_detached` does (StartError for an error, or for a silent death)."""
    import sys

    engine.db.close()  # the CLI's transaction state is its own; nothing of it may look shared
    r, w = os.pipe()  # both close-on-exec: the child gets w only as the dup2 to fd 3
    if w <= REPORT_FD:  # a caller started with a closed stdio fd: keep w clear of the fds we set
        import fcntl

        w2 = fcntl.fcntl(w, fcntl.F_DUPFD_CLOEXEC, REPORT_FD + 1)
        os.close(w)
        w = w2
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # -I: neither PYTHON* variables nor the working directory can put modules in its way
    boot = f"import sys; sys.path.insert(0, {package_root!r}); from {module} import main; main()"
    try:
        pid = os.posix_spawn(sys.executable, [sys.executable, "-I", "-S", "-c", boot, *args], os.environ,
                             file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDWR, 0),
                                           (os.POSIX_SPAWN_DUP2, 0, 1), (os.POSIX_SPAWN_DUP2, 0, 2),
                                           (os.POSIX_SPAWN_DUP2, w, REPORT_FD)],
                             setsid=True, setsigmask=())
    finally:
        os.close(w)
    os.waitpid(pid, 0)  # the entry point's first process exits as soon as it has forked
    return _read_report(r, default_code)


def _read_report(r: int, default_code: int) -> dict:
    with os.fdopen(r, "rb") as f:
        line = f.readline()
    msg = json.loads(line) if line else {"error": "the detached process died before it reported"}
    if "error" in msg:
        from dockyard.runtime.spawn import StartError

        raise StartError(msg["error"], msg.get("code", default_code))
    return msg


def fork_detached(engine, work, *, default_code: int = 125, on_crash=None) -> dict:
    """Run `work(report_fd)` in a detached grandchild; return the first message it reports.

    `work` must report once (e.g. {"pid": …}); an exception it raises becomes {"error", "code"},
    and a child that dies silently becomes an error too. Raises StartError for errors."""
    engine.db.close()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            for name in os.listdir("/proc/self/fd"):
                fd = int(name)
                if fd > 2 and fd != w:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            null = os.open(os.devnull, os.O_RDWR)  # let go of the caller's stdio: `… | cat` ends
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.close(null)
            work(w)
        except BaseException as e:  # noqa: BLE001 - a detached process never unwinds into CLI code
            report(w, error=str(e), code=getattr(e, "code", default_code))
            if on_crash is not None:
                on_crash()
            code = 1
        os._exit(code)
    os.close(w)
    os.waitpid(pid, 0)
    return _read_report(r, default_code)
