"""Helpers shared by the integration tests (processes, mounts, cgroups left by containers)."""

from __future__ import annotations

import os
import re
import time

HEX64 = re.compile(r"[0-9a-f]{64}")
CGROUP_BASE = "/sys/fs/cgroup"
CREATED: list[str] = []  # ids of detached containers a test started, for the safety net


def mounts_under(path: str) -> list[str]:
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == real or p.startswith(real + "/")]


def container_processes(path: str) -> list[int]:
    """Processes in another mount namespace whose mounts mention `path` (a container of this test).

    /proc/PID/root of a container's init reads "/" from the host, so it cannot be matched by
    path; its mount table names the overlay's upper/lower dirs, which live under our root.
    """
    real = os.path.realpath(path)
    own = os.readlink("/proc/self/ns/mnt")
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{name}/ns/mnt") == own:
                continue
            with open(f"/proc/{name}/mountinfo") as f:
                if real in f.read():
                    pids.append(int(name))
        except OSError:
            continue
    return pids


def monitors_of(root: str) -> list[int]:
    """`dockyard-mon` processes started for the store at `root`."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "dockyard-mon":
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if b"DOCKYARD_ROOT=" + root.encode() in f.read().split(b"\0"):
                    out.append(int(pid))
        except OSError:
            continue
    return out


def cgroup_dirs(cid: str) -> list[str]:
    """The container's cgroup directories in every hierarchy (v1 controllers and the v2 tree)."""
    out = []
    try:
        hierarchies = [os.path.join(CGROUP_BASE, h) for h in os.listdir(CGROUP_BASE)] + [CGROUP_BASE]
    except OSError:
        return out
    for h in hierarchies:
        d = os.path.join(h, "dockyard", cid)
        if os.path.isdir(d):
            out.append(d)
    return out


def listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def wait_for(pred, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def no_traceback(p) -> None:
    assert "Traceback" not in p.err, p.err
    assert "Traceback" not in p.out, p.out


def run_d(dy, name: str, *args: str, flags: tuple = ()) -> str:
    """`dockyard run -d --name NAME FLAGS… busybox ARGS…`: the printed id (64 hex)."""
    p = dy("run", "-d", "--name", name, *flags, "busybox", *args, timeout=30)
    cid = p.out.strip()
    assert HEX64.fullmatch(cid), p.out + p.err
    CREATED.append(cid)
    return cid
