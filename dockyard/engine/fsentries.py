"""Entry streams for `cp` and `export`: a tree walked by descriptor (following no symlink,
regular files opened through a checked ``O_PATH`` handle, so a racing container cannot swap in a
device node or a link), a tar read as entries, and entries written as a tar."""

from __future__ import annotations

import errno
import os
import stat

from dockyard import errors
from dockyard.archive import inroot

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import IO

_SPECIAL_TOP = frozenset({"proc", "sys", "dev"})  # a running container's kernel filesystems


class Entry:
    """One file of a copy: ``rel`` is its path below the copied source (() for the source)."""

    __slots__ = ("rel", "kind", "mode", "uid", "gid", "mtime", "size", "linkname", "rdev", "data")

    def __init__(self, rel, kind, mode, uid, gid, mtime, *, size=0, linkname="", rdev=0, data=None) -> None:
        self.rel, self.kind, self.mode, self.uid, self.gid, self.mtime = rel, kind, mode, uid, gid, mtime
        self.size, self.linkname, self.rdev, self.data = size, linkname, rdev, data


class _Exact:
    """Exactly ``size`` bytes of an open file: one that shrinks while it is read (a running
    container writes to it) is padded with zeros and one that grows is cut, so a tar stays whole."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.left = fd, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        out = b""
        while len(out) < n:
            data = os.read(self.fd, n - len(out))
            if not data:
                out += bytes(n - len(out))
                break
            out += data
        self.left -= len(out)
        return out


_KINDS = {stat.S_IFIFO: "fifo", stat.S_IFCHR: "chr", stat.S_IFBLK: "blk"}


class Tree:
    """Walks a tree by descriptor, following no symlink, and yields its `Entry`s in path order.

    ``mounts``: "all" descends into every directory; "special" not into another filesystem at
    a container's /proc, /sys or /dev; "none" into no other filesystem at all (export).
    """

    def __init__(self, *, shift: int = 0, mounts: str = "all") -> None:
        self.shift = shift
        self.mounts = mounts
        self.inodes: dict[tuple[int, int], tuple[str, ...]] = {}
        self.total = 0

    def _id(self, n: int) -> int:
        if not self.shift:
            return n
        return n - self.shift if self.shift <= n < self.shift + 65536 else 65534  # the overflow id

    def _entry(self, rel, kind, st, **kw) -> Entry:
        return Entry(rel, kind, stat.S_IMODE(st.st_mode), self._id(st.st_uid), self._id(st.st_gid),
                     st.st_mtime, **kw)

    def walk(self, pfd: int, name: str | None, st: os.stat_result, rel: tuple[str, ...] = (),
             cpath: tuple[str, ...] = (), parent_dev: int | None = None) -> Iterator[Entry]:
        """Entries of ``name`` in directory ``pfd`` (``name`` None: ``pfd`` itself) and below;
        ``cpath`` is its path from the root, for the mount rules."""
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            try:
                fd = os.dup(pfd) if name is None else os.open(name, inroot.O_DIR, dir_fd=pfd)
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                    return  # replaced while we walked
                raise
            try:
                st = os.fstat(fd)
                yield self._entry(rel, "dir", st)
                if not self._descend(st, cpath, parent_dev):
                    return
                for child in sorted(os.listdir(fd), key=os.fsencode):
                    cst = inroot.lstat_at(fd, child)
                    if cst is not None:
                        yield from self.walk(fd, child, cst, (*rel, child), (*cpath, child), st.st_dev)
            finally:
                os.close(fd)
        elif stat.S_ISREG(mode):
            yield from self._file(pfd, name, rel)
        elif stat.S_ISLNK(mode):
            try:
                target = os.readlink(name, dir_fd=pfd)
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.EINVAL):
                    return
                raise
            yield self._entry(rel, "symlink", st, linkname=target)
        elif stat.S_IFMT(mode) in _KINDS:
            yield self._entry(rel, _KINDS[stat.S_IFMT(mode)], st, rdev=st.st_rdev)
        # sockets are skipped, as Docker does

    def _descend(self, st: os.stat_result, cpath: tuple[str, ...], parent_dev: int | None) -> bool:
        if parent_dev is None or st.st_dev == parent_dev or self.mounts == "all":
            return True
        if self.mounts == "none":
            return False
        return not (cpath and cpath[0] in _SPECIAL_TOP)

    def _file(self, pfd: int, name: str, rel: tuple[str, ...]) -> Iterator[Entry]:
        # O_PATH first: opening for reading whatever a racing container put there (a FIFO, a
        # disk's device node) could block or read the host's disk. The checked handle is then
        # reopened through /proc, which names exactly that inode.
        try:
            pfd_ = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ELOOP):
                return
            raise
        try:
            st = os.fstat(pfd_)
            if not stat.S_ISREG(st.st_mode):
                return
            if st.st_nlink > 1:
                first = self.inodes.get((st.st_dev, st.st_ino))
                if first is not None:
                    yield self._entry(rel, "link", st, linkname=first)
                    return
                self.inodes[(st.st_dev, st.st_ino)] = rel
            fd = os.open(f"/proc/self/fd/{pfd_}", os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
        finally:
            os.close(pfd_)
        try:
            self.total += st.st_size
            yield self._entry(rel, "file", st, size=st.st_size, data=_Exact(fd, st.st_size))
        finally:
            os.close(fd)


def tar_entries(src: IO[bytes]) -> Iterator[Entry]:
    """The entries of a tar stream (plain, gzip or zstd), names normalised as Docker does."""
    import tarfile

    from dockyard.archive.compression import open_decompressed

    kinds = {tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "link",
             tarfile.FIFOTYPE: "fifo", tarfile.CHRTYPE: "chr", tarfile.BLKTYPE: "blk"}
    try:
        with open_decompressed(src) as dec:
            tf = tarfile.open(fileobj=dec.reader, mode="r|")
            for m in tf:
                tf.members.clear()
                rel = inroot.split_name(m.name, what="tar entry")
                kind = "file" if m.isreg() else kinds.get(m.type)
                if kind is None:
                    continue  # GNU long-name and other bookkeeping entries tarfile passes on
                link = inroot.split_name(m.linkname, what=f"hardlink {m.name!r} target") if kind == "link" else m.linkname
                yield Entry(rel, kind, m.mode & 0o7777, m.uid, m.gid, m.mtime, size=m.size, linkname=link,
                            rdev=os.makedev(m.devmajor, m.devminor) if kind in ("chr", "blk") else 0,
                            data=tf.extractfile(m) if kind == "file" else None)
    except tarfile.TarError as e:
        raise errors.InvalidArgument(f"the input is not a valid tar archive: {e}") from e


def write_tar(entries, out, name: Callable[[tuple[str, ...]], str]) -> None:
    """Write entries as a PAX tar. On an error the archive is left unterminated, so nobody takes
    a partial stream for a whole one."""
    import tarfile

    types = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "link": tarfile.LNKTYPE,
             "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE, "file": tarfile.REGTYPE}
    tf = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape")
    try:
        _add_all(tf, types, entries, name)
    except BaseException:
        tf.closed = tf.fileobj.closed = True  # no end-of-archive blocks, now or when collected
        raise
    tf.close()


def _add_all(tf, types, entries, name) -> None:
    import tarfile

    for e in entries:
        ti = tarfile.TarInfo(name(e.rel))
        ti.type = types[e.kind]
        ti.mode, ti.uid, ti.gid, ti.mtime = e.mode, e.uid, e.gid, int(e.mtime)
        ti.uname = ti.gname = ""
        if e.kind == "file":
            ti.size = e.size
            tf.addfile(ti, e.data)
            continue
        if e.kind == "symlink":
            ti.linkname = e.linkname
        elif e.kind == "link":
            ti.linkname = name(e.linkname)
        elif e.kind in ("chr", "blk"):
            ti.devmajor, ti.devminor = os.major(e.rdev), os.minor(e.rdev)
        tf.addfile(ti)
