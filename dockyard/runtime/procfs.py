"""Reading process facts from /proc: enough to tell a live init from a recycled pid."""

from __future__ import annotations

import os
import time

from dockyard.ownership import start_time as proc_start_time


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
