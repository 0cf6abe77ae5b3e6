"""Forking a process that outlives the CLI (a container's monitor, a detached exec's reaper).

The same dance for both: close SQLite first (its lock bookkeeping must never cross a fork), fork,
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
    with os.fdopen(r, "rb") as f:
        line = f.readline()
    msg = json.loads(line) if line else {"error": "the detached process died before it reported"}
    if "error" in msg:
        from dockyard.runtime.spawn import StartError

        raise StartError(msg["error"], msg.get("code", default_code))
    return msg
