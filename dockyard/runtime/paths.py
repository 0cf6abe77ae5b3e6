"""Resolving paths inside a container root without ever leaving it.

An image can contain `/proc -> /` or `/etc/hosts -> ../../../host/file`; the runtime mounts onto
paths inside the rootfs *before* pivot_root, so every mount target is resolved here the way a
chroot would resolve it (symlinks interpreted relative to the root, `..` clamped at the root),
as runc does with filepath-securejoin.
"""

from __future__ import annotations

import os
import stat

_MAX_LINKS = 255


def secure_join(root: str, unsafe: str) -> str:
    """Return root + unsafe with every symlink resolved inside root; the result never escapes."""
    root = os.path.abspath(root)
    parts = [p for p in unsafe.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > _MAX_LINKS:
                raise OSError(40, "too many levels of symbolic links", unsafe)
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


_O_PATH = getattr(os, "O_PATH", 0o10000000)


def open_in_root(root: str, unsafe: str, *, create: str | None = None, follow: bool = True) -> int:
    """An O_PATH descriptor of `unsafe` resolved inside `root`, one component at a time
    (openat with O_NOFOLLOW from the descriptor of the directory before it), as runc's
    MkdirAllInRoot/OpenInRoot do: symlinks are read and resolved inside root by us, never
    followed by the kernel, and `..` climbs the directories *we* opened, so a directory swapped
    for a symlink by a process sharing the volume cannot redirect the result outside root.

    `create`: "dir" makes missing components directories; "file" makes the last one an empty
    file. `follow=False` refuses a symlink anywhere on the way (for proc and sysfs, as runc).
    Mount onto the result through `/proc/self/fd/N`; close it afterwards."""
    parts = [p for p in unsafe.split("/") if p not in ("", ".")]
    root_fd = os.open(root, _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    stack = [root_fd]  # the descriptors of the components resolved so far
    links = 0
    try:
        while parts:
            part = parts.pop(0)
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            cur = stack[-1]
            try:
                fd = os.open(part, _O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=cur)
            except FileNotFoundError:
                if create is None:
                    raise
                try:
                    if create == "file" and not parts:
                        os.close(os.open(part, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                         0o644, dir_fd=cur))
                    else:
                        os.mkdir(part, 0o755, dir_fd=cur)
                except FileExistsError:
                    pass  # made meanwhile (maybe as a symlink): opened and checked below like any other
                fd = os.open(part, _O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=cur)
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode):
                os.close(fd)
                if not follow:
                    raise OSError(40, "a symbolic link is in the way", unsafe)
                links += 1
                if links > _MAX_LINKS:
                    raise OSError(40, "too many levels of symbolic links", unsafe)
                target = os.readlink(part, dir_fd=cur)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                parts = [p for p in target.split("/") if p not in ("", ".")] + parts
                continue
            if parts and not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise NotADirectoryError(20, "not a directory", unsafe)
            stack.append(fd)
        return os.dup(stack[-1]) if len(stack) == 1 else stack.pop()
    finally:
        for fd in stack:
            os.close(fd)


def fd_path(fd: int) -> str:
    """The magic link that names what `fd` refers to (a mount target that cannot be swapped)."""
    return f"/proc/self/fd/{fd}"


def mkdir_all(root: str, path: str, mode: int = 0o755) -> str:
    """Create `path` (inside root) and its parents, securely; returns the host path."""
    host = secure_join(root, path)
    os.makedirs(host, mode=mode, exist_ok=True)
    return host


def create_file(root: str, path: str) -> str:
    """Create an empty file at `path` inside root (a bind-mount target for a file source)."""
    host = secure_join(root, path)
    os.makedirs(os.path.dirname(host), exist_ok=True)
    if not os.path.lexists(host):
        os.close(os.open(host, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    return host


# runc's checkProcMount: nothing may be mounted inside /proc but these files (lxcfs emulates them),
# and /proc itself takes only a proc filesystem.
PROC_MOUNTS_ALLOWED = ("/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
                       "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/sys/kernel/ns_last_pid",
                       "/proc/sys/crypto/fips_enabled")


def proc_mount_refused(dest: str, mtype: str) -> str | None:
    """Why a mount at `dest` (a clean absolute path) of type `mtype` is refused, or None."""
    if dest == "/proc":
        return None if mtype == "proc" else f'"{dest}" cannot be mounted because it is inside /proc'
    if dest.startswith("/proc/") and dest not in PROC_MOUNTS_ALLOWED:
        return f'"{dest}" cannot be mounted because it is inside /proc'
    return None
