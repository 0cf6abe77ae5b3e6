"""Starting a process that outlives the CLI (a container's monitor, a detached exec's reaper).

`spawn_detached` (the monitor) starts a new interpreter on a small entry point with posix_spawn,
so nothing of the caller's heap, threads or locks is copied (an API server with threads may call
it): a new session, /dev/null on its stdio, the report pipe as fd 3, nothing else inherited.
The entry point forks once more, before it imports anything, so the survivor is nobody's child.
It is started before the container is created, so its start-up and imports overlap the
caller's work; the container's id follows on fd 4 once its bundle is written.

`fork_detached` (a detached exec's reaper) forks the caller instead: close SQLite first (its lock bookkeeping must never cross a fork), fork,
drop every inherited fd but the report pipe (the CLI's container lock among them), start a new
session, fork again so the survivor is nobody's child, put /dev/null on its stdio (a pipe the
caller reads must not stay open), and tell the CLI one JSON line: what started, or why it did not.
"""

from __future__ import annotations

import os
import signal

from dockyard import jsonfast as json


def report(fd: int, **msg) -> None:
    try:
        os.write(fd, (json.dumps(msg) + "\n").encode())
    except OSError:
        pass


REPORT_FD = 3  # where a spawned entry point writes its report
GO_FD = 4  # where it reads its last argument: it loads its modules while the caller works


class Spawned:
    """A detached process started on `module.main()` ahead of time (`spawn_detached`): it imports
    what it needs while the caller gets the work ready, then `go(arg)` hands it its last argument
    and returns its first report; `cancel()` (or a caller that dies) lets it exit unused."""

    def __init__(self, pid: int, report_r: int, go_w: int, default_code: int) -> None:
        self.pid, self.report_r, self.go_w, self.default_code = pid, report_r, go_w, default_code

    def go(self, arg: str) -> dict:
        try:
            os.write(self.go_w, arg.encode() + b"\n")
        except OSError:
            pass  # it died already: its report says so (or its silence does)
        self._close()
        return _read_report(self.report_r, self.default_code)

    def cancel(self) -> None:
        self._close()
        os.close(self.report_r)

    def _close(self) -> None:
        if self.go_w >= 0:
            os.close(self.go_w)
            self.go_w = -1
            try:
                os.waitpid(self.pid, 0)  # its first process exits as soon as it has forked
            except ChildProcessError:
                pass  # a spare started by another process (the API's zygote), which reaped it

    def __enter__(self) -> "Spawned":
        return self

    def __exit__(self, *exc) -> None:
        if self.go_w >= 0:
            self.cancel()


def spawn_detached(module: str, args: list[str], *, default_code: int = 125) -> Spawned:
    """Start `python -I -S` on `module.main()` (argv: `args`) in a new session: stdio /dev/null,
    the report pipe as fd 3, the pipe of its last argument as fd 4, nothing else inherited."""
    import sys

    report_r, report_w = os.pipe()  # close-on-exec, all four: the child gets its two ends by dup2
    go_r, go_w = os.pipe()
    child_fds = []
    for fd in (report_w, go_r):
        if fd <= GO_FD:  # a caller started with a closed stdio fd: keep clear of the fds set below
            import fcntl

            moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, GO_FD + 1)
            os.close(fd)
            fd = moved
        child_fds.append(fd)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # -I: neither PYTHON* variables nor the working directory can put modules in its way
    boot = f"import sys; sys.path.insert(0, {package_root!r}); from {module} import main; main()"
    try:
        pid = os.posix_spawn(sys.executable, [sys.executable, "-I", "-S", "-c", boot, *args], os.environ,
                             file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDWR, 0),
                                           (os.POSIX_SPAWN_DUP2, 0, 1), (os.POSIX_SPAWN_DUP2, 0, 2),
                                           (os.POSIX_SPAWN_DUP2, child_fds[0], REPORT_FD),
                                           (os.POSIX_SPAWN_DUP2, child_fds[1], GO_FD)],
                             setsid=True, setsigmask=(),
                             # an ignored signal stays ignored across exec: the API's zygote ignores
                             # SIGCHLD, and a monitor that inherited that could not wait for its init
                             setsigdef=[s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)])
    except BaseException:
        os.close(report_r)
        os.close(go_w)
        raise
    finally:
        for fd in child_fds:
            os.close(fd)
    return Spawned(pid, report_r, go_w, default_code)


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
