"""Filesystem helpers used on hot paths, where importing `shutil` and `tempfile` costs more
than the work itself."""

from __future__ import annotations

import os
import stat


def rmtree(path: str, *, missing_ok: bool = True) -> None:
    """Remove a tree without following symlinks, coping with directories left mode 000 (overlayfs'
    work/work) and with a concurrent remover deleting the same entries."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if missing_ok:
            return
        raise
    if not stat.S_ISDIR(st.st_mode):
        _unlink(path)
        return
    for _ in range(2):
        try:
            _rmtree_dir(path)
            return
        except PermissionError:
            _make_writable(path)  # not root, or CAP_DAC_OVERRIDE dropped: fix modes and retry
    _rmtree_dir(path)


def _rmtree_dir(path: str) -> None:
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    for e in entries:
        try:
            if e.is_dir(follow_symlinks=False):
                _rmtree_dir(e.path)
            else:
                _unlink(e.path)
        except FileNotFoundError:
            continue
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _make_writable(path: str) -> None:
    for root, dirs, _files in os.walk(path):
        for d in dirs:
            p = os.path.join(root, d)
            try:
                if not os.path.islink(p):
                    os.chmod(p, 0o700)
            except FileNotFoundError:
                pass
    try:
        os.chmod(path, 0o700)
    except FileNotFoundError:
        pass


def unique_name(prefix: str) -> str:
    return f"{prefix}{os.getpid()}-{os.urandom(6).hex()}"


def unmount_below(path: str) -> None:
    """Lazily unmount every mount at or below `path`, deepest first: what a killed debootstrap
    (its /proc and /sys) or a killed test leaves behind."""
    from dockyard.errors import SyscallError
    from dockyard.linux.syscalls import MNT_DETACH, umount2

    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4].replace("\\040", " ") for line in f]
    for p in sorted((p for p in points if p == real or p.startswith(real + "/")), key=len, reverse=True):
        try:
            umount2(p, MNT_DETACH)
        except SyscallError:
            pass  # already gone (a parent's lazy unmount took it along)


def first_unsearchable(path: str) -> tuple[str, int] | None:
    """(directory, its mode) of the first directory from `path` up to / that other users cannot
    search (no o+x), or None. A user-namespaced container works as an unprivileged host uid, so
    every directory above its bundle and its volumes must be searchable. One not made yet counts
    as 0755, the mode dockyard makes it with."""
    d = path
    while True:
        try:
            mode = os.stat(d).st_mode
        except FileNotFoundError:
            mode = 0o755
        if not mode & 0o001:
            return d, mode
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent
