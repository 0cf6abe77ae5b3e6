"""Walking a tree by directory file descriptors so a layer can never write outside its root.

The hardened extractor never hands the kernel a path that it would resolve through a symlink
already on disk. Every parent directory of an entry is opened one component at a time with
``O_NOFOLLOW``; when a component is a symlink, we read it and resolve its target *inside the
root*, the way the kernel would inside ``chroot(root)``: an absolute target restarts at the
root, and ``..`` stops at the root. This is the behaviour of moby's ``chrootarchive`` (which
really chroots) and of containerd's ``fs.RootPath``; real images rely on it (a layer that ships
``lib -> usr/lib`` and then ``lib/x``), so refusing such paths would break them. We only
resolve, we never chroot: no fork, no mount namespace, and the check cannot be skipped.

The final component of an entry is never followed: it is created, replaced or linked with the
``*at`` calls relative to its parent's descriptor.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Callable

from dockyard import errors

O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAXSYMLINKS = 40  # the kernel's limit for one path walk


def split_name(name: str, *, what: str) -> tuple[str, ...]:
    """Normalise a tar name as Docker does (``filepath.Clean`` then join under the root).

    A leading ``/`` or ``./`` is dropped, ``.`` and empty components vanish and ``..`` is folded
    lexically. A name whose ``..`` climbs above the root is refused rather than clamped,
    because nothing legitimate produces one.
    """
    parts: list[str] = []
    for comp in name.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if not parts:
                raise errors.UnsafeArchive(f"{what} {name!r} points outside the root")
            parts.pop()
        else:
            parts.append(comp)
    return tuple(parts)


def clean_parts(path: str) -> tuple[str, ...]:
    """A path's components as ``filepath.Join("/", path)`` cleans them: no empty or ``.``
    components, ``..`` clamped at the root (``/..`` is ``/``)."""
    parts: list[str] = []
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if parts:
                parts.pop()
        else:
            parts.append(comp)
    return tuple(parts)


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    """lstat relative to a directory descriptor, None when the name does not exist."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def remove_at(dir_fd: int, name: str, st: os.stat_result | None = None) -> None:
    """Remove whatever ``name`` is (a whole directory tree included) without following links."""
    if st is None:
        st = lstat_at(dir_fd, name)
        if st is None:
            return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)  # the fd-based walk: never follows a symlink
    else:
        os.unlink(name, dir_fd=dir_fd)


def resolve_dir(
    root_fd: int,
    parts: tuple[str, ...],
    *,
    entry: str,
    create: bool,
    on_create: Callable[[tuple[str, ...]], None] | None = None,
) -> tuple[int, tuple[str, ...]] | None:
    """Open directory ``parts`` below ``root_fd`` with chroot semantics; never leave the root.

    Returns a descriptor the caller must close and the *real* path of the directory (no
    symlinks in it, so it can be re-opened strictly later). Missing directories are created
    with mode 0755 when ``create`` (Docker's ``MkdirAll``) and reported to ``on_create``;
    otherwise a missing one gives None. A component that exists but is neither a directory
    nor a symlink is an error naming ``entry``.
    """
    todo = list(reversed(parts))
    fds: list[int] = []  # open descriptors of the real directories below the root
    names: list[str] = []
    links = 0
    try:
        while todo:
            comp = todo.pop()
            if comp in ("", "."):
                continue
            if comp == "..":
                if fds:  # above the root is the root, as in a chroot
                    os.close(fds.pop())
                    names.pop()
                continue
            cur = fds[-1] if fds else root_fd
            try:
                fd = os.open(comp, O_DIR, dir_fd=cur)
            except FileNotFoundError:
                if not create:
                    return None
                os.mkdir(comp, 0o755, dir_fd=cur)
                os.chmod(comp, 0o755, dir_fd=cur)  # independent of the umask
                if on_create is not None:
                    on_create((*names, comp))
                fd = os.open(comp, O_DIR, dir_fd=cur)
            except OSError as e:
                if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                st = os.stat(comp, dir_fd=cur, follow_symlinks=False)
                if not stat.S_ISLNK(st.st_mode):
                    where = "/".join((*names, comp))
                    raise errors.InvalidArgument(
                        f"layer entry {entry!r}: parent {where!r} exists and is not a directory"
                    ) from e
                links += 1
                if links > MAXSYMLINKS:
                    raise errors.UnsafeArchive(
                        f"layer entry {entry!r}: too many levels of symbolic links"
                    ) from e
                target = os.readlink(comp, dir_fd=cur)
                if target.startswith("/"):
                    while fds:
                        os.close(fds.pop())
                    names.clear()
                todo.extend(reversed(target.split("/")))
                continue
            fds.append(fd)
            names.append(comp)
        result = fds.pop() if fds else os.dup(root_fd)
        return result, tuple(names)
    finally:
        for fd in fds:
            os.close(fd)


def open_dir_strict(root_fd: int, parts: tuple[str, ...]) -> int | None:
    """Open a real directory path (as returned by `resolve_dir`) following no symlink at all.

    None if anything on the way is no longer a plain directory, e.g. a later entry of the same
    layer replaced it by a symlink: then the deferred metadata must not land on its target.
    """
    fd = os.dup(root_fd)
    for comp in parts:
        try:
            nfd = os.open(comp, O_DIR, dir_fd=fd)
        except OSError:
            os.close(fd)
            return None
        os.close(fd)
        fd = nfd
    return fd


def realpath(root_fd: int, parts: tuple[str, ...]) -> tuple[str, ...]:
    """The symlink-free path of ``parts`` inside the root (every symlink resolved in scope, the
    last one too); components that do not exist are kept as they are, as secure_join does."""
    todo = list(reversed(parts))
    real: list[str] = []
    fds: list[int] = []  # fds[i] is the directory real[:i+1] while the path exists
    links = 0
    try:
        while todo:
            comp = todo.pop()
            if comp in ("", "."):
                continue
            if comp == "..":
                if real:
                    real.pop()
                    if len(fds) > len(real):
                        os.close(fds.pop())
                continue
            if len(fds) < len(real):  # below something missing or not a directory
                real.append(comp)
                continue
            cur = fds[-1] if fds else root_fd
            st = lstat_at(cur, comp)
            if st is not None and stat.S_ISLNK(st.st_mode):
                links += 1
                if links > MAXSYMLINKS:
                    raise errors.InvalidArgument(f"too many levels of symbolic links: /{'/'.join(parts)}")
                target = os.readlink(comp, dir_fd=cur)
                if target.startswith("/"):
                    while fds:
                        os.close(fds.pop())
                    real.clear()
                todo.extend(reversed(target.split("/")))
                continue
            real.append(comp)
            if st is not None and stat.S_ISDIR(st.st_mode):
                try:
                    fds.append(os.open(comp, O_DIR, dir_fd=cur))
                except OSError as e:  # replaced meanwhile: treat as not a directory
                    if e.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                        raise
        return tuple(real)
    finally:
        for fd in fds:
            os.close(fd)


def open_regular(dir_fd: int, name: str) -> int | None:
    """Open ``name`` in ``dir_fd`` for reading only if it is a regular file (None otherwise).

    ``O_PATH`` first: opening whatever a hostile tree put there (a FIFO, a disk's device node)
    could block or read the host's disk. The checked handle is reopened through /proc, which
    names exactly that inode, never a path.
    """
    try:
        pfd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
            return None
        raise
    try:
        if not stat.S_ISREG(os.fstat(pfd).st_mode):
            return None
        return os.open(f"/proc/self/fd/{pfd}", os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
    finally:
        os.close(pfd)
