"""Entries (`dockyard.engine.fsentries.Entry`) written into a tree by descriptor: the write side
of `cp`. Each entry is created relative to its parent's descriptor with ``O_EXCL``/``O_NOFOLLOW``;
parents are resolved inside the root."""

from __future__ import annotations

import os
import stat

from dockyard import errors
from dockyard.archive import inroot

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.engine.fsentries import Entry

_CHUNK = 1 << 20


class Extractor:
    """Writes entries below directory ``dest`` (real parts) of the tree at ``root_fd``.

    Parents are resolved inside the root (as Docker's chrooted extraction would), entries are
    created relative to their parent's descriptor and never through a symlink; an existing
    directory is never replaced by a non-directory or the reverse (NoOverwriteDirNonDir).
    ``owner(entry)`` gives the (uid, gid) to set, or None to leave files to the caller.
    """

    def __init__(self, root_fd: int, dest: tuple[str, ...], *, owner, label: str) -> None:
        self.root_fd, self.dest, self.owner, self.label = root_fd, dest, owner, label
        self.deferred: list[tuple[tuple[str, ...], int, float]] = []
        self._key: tuple[str, ...] | None = None
        self._parent: tuple[int, tuple[str, ...]] | None = None
        self.total = 0

    def close(self) -> None:
        if self._parent is not None:
            os.close(self._parent[0])
            self._parent = None

    def _where(self, real: tuple[str, ...]) -> str:
        return "/" + "/".join(real)

    def _dir_of(self, parts: tuple[str, ...]) -> tuple[int, tuple[str, ...]]:
        if self._parent is not None and self._key == parts:
            return self._parent
        found = inroot.resolve_dir(self.root_fd, (*self.dest, *parts), entry=self._where((*self.dest, *parts)),
                                create=True, on_create=self._created)
        assert found is not None
        self.close()
        self._key, self._parent = parts, found
        return found

    def _created(self, real: tuple[str, ...]) -> None:
        ids = self.owner(None) if self.owner else None
        if ids is not None:
            fd = inroot.open_dir_strict(self.root_fd, real)
            if fd is not None:
                try:
                    os.fchown(fd, *ids)
                finally:
                    os.close(fd)

    def add(self, e: Entry, parts: tuple[str, ...]) -> None:
        if not parts:
            return  # the destination directory itself (the "." of a dir/. copy): left alone
        pfd, preal = self._dir_of(parts[:-1])
        base = parts[-1]
        real = (*preal, base)
        existing = inroot.lstat_at(pfd, base)
        is_dir = e.kind == "dir"
        if existing is not None:
            if stat.S_ISDIR(existing.st_mode) and not is_dir:
                raise errors.Conflict(f'cannot overwrite directory "{self._where(real)}" with non-directory')
            if not stat.S_ISDIR(existing.st_mode) and is_dir:
                raise errors.Conflict(f'cannot overwrite non-directory "{self._where(real)}" with directory')
            if not is_dir:
                os.unlink(base, dir_fd=pfd)
        ids = self.owner(e) if self.owner else None
        mtime_ns = int(e.mtime * 1_000_000_000)
        if is_dir:
            if existing is None:
                os.mkdir(base, 0o700, dir_fd=pfd)
            fd = os.open(base, inroot.O_DIR, dir_fd=pfd)
            try:
                if ids is not None:
                    os.fchown(fd, *ids)
            finally:
                os.close(fd)
            self.deferred.append((real, e.mode, mtime_ns))  # after its children are written
        elif e.kind == "file":
            fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=pfd)
            try:
                self._copy(e, fd)
                if ids is not None:
                    os.fchown(fd, *ids)
                os.fchmod(fd, e.mode)  # after chown, which clears setuid bits
                os.utime(fd, ns=(mtime_ns, mtime_ns))
            finally:
                os.close(fd)
        elif e.kind == "symlink":
            os.symlink(e.linkname, base, dir_fd=pfd)
            if ids is not None:
                os.chown(base, *ids, dir_fd=pfd, follow_symlinks=False)
            os.utime(base, ns=(mtime_ns, mtime_ns), dir_fd=pfd, follow_symlinks=False)
        elif e.kind == "link":
            self._hardlink(e, pfd, base)
        else:
            kind = {"fifo": stat.S_IFIFO, "chr": stat.S_IFCHR, "blk": stat.S_IFBLK}[e.kind]
            os.mknod(base, kind | 0o600, e.rdev, dir_fd=pfd)
            self._meta_path(pfd, base, kind, e.mode, ids, mtime_ns)

    def _copy(self, e: Entry, fd: int) -> None:
        left = e.size
        while left > 0:
            chunk = e.data.read(min(_CHUNK, left)) if e.data is not None else b""
            if not chunk:
                raise errors.InvalidArgument(f"{self.label}: data of {'/'.join(e.rel) or '.'} is truncated")
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
            left -= len(chunk)
            self.total += len(chunk)

    def _hardlink(self, e: Entry, pfd: int, base: str) -> None:
        target = e.linkname
        if not target:
            raise errors.UnsafeArchive(f"{self.label}: hardlink {'/'.join(e.rel)!r} points at the root")
        found = inroot.resolve_dir(self.root_fd, (*self.dest, *target[:-1]), entry="/".join(e.rel), create=False)
        if found is None:
            raise errors.InvalidArgument(f"{self.label}: hardlink target {'/'.join(target)!r} does not exist")
        tfd, _ = found
        try:
            tst = inroot.lstat_at(tfd, target[-1])
            if tst is None or stat.S_ISDIR(tst.st_mode):
                raise errors.InvalidArgument(f"{self.label}: hardlink target {'/'.join(target)!r} is not a file")
            os.link(target[-1], base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        finally:
            os.close(tfd)

    @staticmethod
    def _meta_path(pfd: int, base: str, kind: int, mode: int, ids, mtime_ns: int) -> None:
        """Owner, mode and times of a node we just made, through an O_PATH handle checked to be
        that node (chmod has no no-follow variant, and the name could be swapped for a link)."""
        fd = os.open(base, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
        try:
            if stat.S_IFMT(os.fstat(fd).st_mode) != kind:
                raise errors.Conflict(f"{base!r} was replaced while it was being written")
            path = f"/proc/self/fd/{fd}"
            if ids is not None:
                os.chown(path, *ids)
            os.chmod(path, mode)
            os.utime(path, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)

    def finish(self) -> None:
        """Directory modes and times, deepest first (children changed the times, and a 0555
        directory must not stop its own children from being written)."""
        self.close()
        for real, mode, mtime_ns in reversed(self.deferred):
            fd = inroot.open_dir_strict(self.root_fd, real)
            if fd is None:
                continue
            try:
                os.fchmod(fd, mode)
                os.utime(fd, ns=(mtime_ns, mtime_ns))
            finally:
                os.close(fd)
