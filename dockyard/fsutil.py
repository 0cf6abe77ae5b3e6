"""Filesystem helpers used on hot paths, where importing `shutil` and `tempfile` costs more
than the work itself."""

from __future__ import annotations

import os
import stat


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def rmtree(path: str, *, missing_ok: bool = True) -> None:
    """Remove a tree by directory descriptors: never follows a symlink, reaches any depth (paths
    longer than PATH_MAX, deeper than Python's recursion limit) holding two descriptors at a
    time, copes with directories left mode 000 (overlayfs' work/work) and with a concurrent
    remover deleting the same entries."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if missing_ok:
            return
        raise
    if not stat.S_ISDIR(st.st_mode):
        _unlink(path)
        return
    parent = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        rmtree_at(parent, os.path.basename(os.path.abspath(path)))
    finally:
        os.close(parent)


def rmtree_at(parent_fd: int, name: str) -> None:
    """Remove the directory `name` of the directory open as `parent_fd`, and all below it.

    Depth first, one level open at a time: going down opens a child by name (O_NOFOLLOW); going
    up opens ".." and checks it is the directory we came from (device and inode), so a tree
    moved while it is being removed makes this fail rather than remove something else."""
    try:
        fd = _open_dir(parent_fd, name)
    except FileNotFoundError:
        return
    except OSError as e:
        if e.errno in (20, 40):  # ENOTDIR, ELOOP: not a directory (any more)
            _unlink_at(parent_fd, name)
            return
        raise
    top = os.fstat(parent_fd)
    # each level: (its name in its parent, the parent's (dev, ino), its subdirectories left to do)
    levels: list[tuple[str, tuple[int, int], list[str]]] = [(name, (top.st_dev, top.st_ino), [])]
    try:
        levels[-1][2].extend(_clear_files(fd))
        while levels:
            name_here, parent_id, todo = levels[-1]
            if todo:
                child = todo.pop()
                try:
                    cfd = _open_dir(fd, child)
                except FileNotFoundError:
                    continue
                except OSError as e:
                    if e.errno in (20, 40):
                        _unlink_at(fd, child)
                        continue
                    raise
                here = os.fstat(fd)
                os.close(fd)
                fd = cfd
                levels.append((child, (here.st_dev, here.st_ino), _clear_files(fd)))
                continue
            up = os.open("..", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
            ust = os.fstat(up)
            if (ust.st_dev, ust.st_ino) != parent_id:
                os.close(up)
                raise OSError(16, "directory moved while it was being removed", name_here)
            os.close(fd)
            fd = up
            levels.pop()
            try:
                os.rmdir(name_here, dir_fd=fd)
            except FileNotFoundError:
                pass
    finally:
        os.close(fd)


def _open_dir(dir_fd: int, name: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:  # mode 000 and no CAP_DAC_OVERRIDE: make it ours to read, then retry
        o_path = os.open(name, getattr(os, "O_PATH", 0o10000000) | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC,
                         dir_fd=dir_fd)
        try:
            os.chmod(f"/proc/self/fd/{o_path}", 0o700)
        finally:
            os.close(o_path)
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)


def _clear_files(fd: int) -> list[str]:
    """Unlink every non-directory in the directory `fd`; the names of its subdirectories."""
    dirs = []
    with os.scandir(fd) as it:
        for e in it:
            try:
                is_dir = e.is_dir(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if is_dir:
                dirs.append(e.name)
            else:
                _unlink_at(fd, e.name)
    return dirs


def _unlink_at(dir_fd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    except IsADirectoryError:  # became a directory meanwhile
        rmtree_at(dir_fd, name)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
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


def disk_usage(path: str) -> int:
    """Allocated bytes below ``path``, counting each inode once, following no symlink."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [path]
    while stack:
        p = stack.pop()
        try:
            st = os.lstat(p)
        except OSError:  # gone meanwhile, or a name past PATH_MAX
            continue
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        total += st.st_blocks * 512
        if os.path.isdir(p) and not os.path.islink(p):
            try:
                stack.extend(os.path.join(p, n) for n in os.listdir(p))
            except OSError:
                pass
    return total


def content_bytes(path: str) -> int:
    """Docker's size of a directory tree (moby's directory.Size, SizeRw): the sizes of everything
    below ``path`` that is not a directory, each inode once, following no symlink."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [path]
    while stack:
        p = stack.pop()
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            try:
                stack.extend(os.path.join(p, n) for n in os.listdir(p))
            except OSError:
                pass
        elif st.st_size and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


def write_output(path: str, write, *, mode: str = "wb") -> None:
    """Write a command's ``-o FILE`` output: ``write(f)`` fills a temporary file next to ``path``
    that is renamed over it once complete (docker's CopyToFile), so a failure never leaves a
    truncated file under the requested name. A ``path`` that exists and is not a regular file
    (``/dev/null``, a fifo, ``/dev/stdout``) is written in place: a rename would replace the
    device node itself, which as root breaks the host."""
    import tempfile

    target = os.path.abspath(path)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):  # a device, fifo, socket or symlink
        if os.path.isdir(target):
            raise IsADirectoryError(21, "Is a directory", path)
        with open(target, mode) as f:  # opened where it is, never replaced (O_TRUNC: no-op on devices)
            write(f)
        return
    fd, tmp = tempfile.mkstemp(prefix=".dockyard_temp_", dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
