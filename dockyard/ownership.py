"""Temporary files and directories that say who owns them, so what a killed process left can be
reclaimed without ever touching a live process's work.

A temp's name carries its owner as ``<pid>@<start time>`` (field 22 of /proc/<pid>/stat, so a
recycled pid is not mistaken for the owner); where the owner keeps a descriptor open it also
holds an flock on it for the temp's whole life. A temp is dead when its owner is gone and no
flock is held on it: then anyone may delete it. Temps in the old, unowned form are left alone
unless they are older than a grace period and unlocked.

Pure stdlib and no `dockyard` imports above `fsutil`: the content store, the snapshotter and the
engine's own ``<root>/tmp`` all use it.
"""

from __future__ import annotations

import os

UNOWNED_GRACE_S = 24 * 3600.0
_SELF: str | None = None


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (after the parenthesised comm, which may contain spaces); None
    when the process is gone or a zombie (dead for our purposes). The one reader of it: the runtime
    (`runtime/procfs.py`) uses it too."""
    if not isinstance(pid, int) or pid <= 0:  # never let 0 or -1 mean "the process group"
        return None
    try:  # one open and one read(2): ps checks every container's init this way
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    fields = data[data.rfind(b")") + 2:].split()
    if not fields or fields[0] == b"Z":
        return None
    return int(fields[19])


def owner_tag() -> str:
    """``<pid>@<start time>`` of this process (recomputed after a fork)."""
    global _SELF
    pid = os.getpid()
    if _SELF is None or not _SELF.startswith(f"{pid}@"):
        _SELF = f"{pid}@{start_time(pid)}"
    return _SELF


def owner_of(name: str) -> tuple[int, int] | None:
    """(pid, start time) from a name holding ``<pid>@<start>``, or None for an unowned name."""
    at = name.find("@")
    if at <= 0:
        return None
    i = at
    while i > 0 and name[i - 1].isdigit():
        i -= 1
    j = at + 1
    while j < len(name) and name[j].isdigit():
        j += 1
    if i == at or j == at + 1:
        return None
    return int(name[i:at]), int(name[at + 1:j])


def owner_alive(name: str) -> bool | None:
    """True/False for an owned name, None for an unowned one."""
    owner = owner_of(name)
    if owner is None:
        return None
    pid, started = owner
    return start_time(pid) == started


def locked(path: str) -> bool:
    """Whether some process holds an flock on `path` (a live writer or unpack)."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False  # gone, or a symlink: nothing of ours holds it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def is_dead(path: str, *, grace: float = UNOWNED_GRACE_S, now: float | None = None) -> bool:
    """May `path` (a temp) be deleted? Never while its owner lives or anyone holds its flock."""
    alive = owner_alive(os.path.basename(path))
    if alive:
        return False
    if alive is None:  # unowned (older dockyard): only when old and unlocked
        import time

        try:
            age = (now or time.time()) - os.lstat(path).st_mtime
        except FileNotFoundError:
            return False
        if age < grace:
            return False
    return not locked(path)


def reclaim(directory: str, *, grace: float = UNOWNED_GRACE_S, prefix: str = "") -> tuple[int, int]:
    """Delete the dead temps in `directory` (those whose names start with `prefix`): (entries
    removed, bytes freed). A dead temp that is a mount point (a killed `commit` or `cp` left its
    snapshot mounted) is detached first, so the removal never reaches into what was mounted."""
    from dockyard.fsutil import disk_usage, rmtree, unmount_below

    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return 0, 0
    removed = freed = 0
    for name in names:
        if not name.startswith(prefix):
            continue
        path = os.path.join(directory, name)
        if not is_dead(path, grace=grace):
            continue
        unmount_below(path)
        if _has_mounts(path):
            continue  # could not detach it: never delete through a mount
        size = disk_usage(path)
        rmtree(path)
        if not os.path.lexists(path):
            removed += 1
            freed += size
    return removed, freed


def _has_mounts(path: str) -> bool:
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            p = line.split()[4].replace("\\040", " ")
            if p == real or p.startswith(real + "/"):
                return True
    return False
