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


def mounts_under(path: str) -> list[tuple[int, str]]:
    """(mount id, mount point) of every mount at or below `path` in our mount namespace, in
    /proc/self/mountinfo order (a mount is listed after the ones it sits on)."""
    out = []
    prefix = path.rstrip("/") + "/"
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            fields = line.split(b" ", 5)
            point = _unescape(fields[4])
            if point == path or point.startswith(prefix):
                out.append((int(fields[0]), point))
    return out


def _unescape(b: bytes) -> str:
    """mountinfo writes space, tab, newline and backslash as \\ooo."""
    out = bytearray()
    i = 0
    while i < len(b):
        if b[i] == 0x5C and b[i + 1:i + 4].isdigit():
            out.append(int(b[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(b[i])
            i += 1
    return out.decode(errors="surrogateescape")
