"""Reading process facts from /proc: enough to tell a live init from a recycled pid."""

from __future__ import annotations

import os
import time


def proc_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (after the parenthesised comm, which may contain spaces);
    None when the process is gone or a zombie (dead for our purposes)."""
    if not isinstance(pid, int) or pid <= 0:  # never let 0 or -1 mean "the process group"
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()
    if fields[0] == b"Z":
        return None
    return int(fields[19])


def wait_gone(pid: int, start_time: int | None, timeout: float) -> bool:
    """Poll until the process recorded as (pid, start_time) no longer exists, reaping it if ours."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        now = proc_start_time(pid)
        if now is None or now != start_time:
            return True
        time.sleep(0.005)
    return False
