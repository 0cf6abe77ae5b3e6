"""A container's filesystem from the host: `diff`, `export`, `commit` and `cp`.

Where the files are read and written:

- a running (or paused) container: its own root, ``/proc/<pid>/root``, so `cp` sees and changes
  what its processes see (its /etc/hosts, files written a moment ago). Walks never descend into
  the container's /proc, /sys and /dev; `export` descends into no mount at all (as Docker, it
  exports the container's filesystem, not what is mounted on it).
- a stopped or created one: its overlay, mounted on a private temporary directory under
  ``<root>/tmp`` (read-only as upper+lowers stacked as lowers, or read-write for `cp` into it),
  unmounted in a ``finally``, while holding the container's lock so `start` waits for us.

Security: the container's files belong to whoever controls the container, so none of its
symlinks may take us outside its root. Every container path is resolved like a chroot would
(``secure_join`` semantics: symlinks relative to the container root, ``..`` clamped at it), by
directory descriptor (`dockyard.archive.inroot`), and the last component is never followed unless
Docker's rules say so, and then it is resolved inside the root too. Trees are walked by
descriptor without following symlinks; regular files are opened through an ``O_PATH`` handle
checked to be a regular file, so a racing container cannot swap in a device node or a link.
Writes create each entry relative to its parent's descriptor with ``O_EXCL``/``O_NOFOLLOW``.

`cp` follows Docker's client and daemon (``archive.CopyInfoSourcePath``, ``PrepareArchiveCopy``,
``CopyInfoDestinationPath``): a source is a stream of entries named after its base name (``.``
for ``dir/.``: the contents), renamed to the destination's base name when it is created or
replaced, and extracted into a destination directory. The same stream is what ``-`` writes to
stdout or reads from stdin as a tar.
"""

from __future__ import annotations

import errno
import os
import stat
from contextlib import ExitStack, contextmanager

from dockyard import errors
from dockyard.archive import inroot

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import IO

_O_DIR = inroot.O_DIR
_CHUNK = 1 << 20
# Mount points the runtime creates in the container's upper layer when the image lacks them
# (Docker keeps them in its "-init" layer, so its diff never shows them).
_STUB_FILES = frozenset({"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"})
_SPECIAL_TOP = frozenset({"proc", "sys", "dev"})  # a running container's kernel filesystems


# ---------------------------------------------------------------------------- container roots


class ContainerRoot:
    """An open container root: ``fd`` (a directory descriptor) and ``shift`` (the host uid of
    the container's root: non-zero with --userns auto)."""

    __slots__ = ("rec", "fd", "shift", "running")

    def __init__(self, rec, fd: int, shift: int, running: bool) -> None:
        self.rec, self.fd, self.shift, self.running = rec, fd, shift, running


@contextmanager
def open_root(engine, ref: str, *, writable: bool = False, volumes: bool = False) -> Iterator[ContainerRoot]:
    """The container's root filesystem for the duration of the block (see the module doc);
    with ``volumes``, a stopped container's volumes and binds are mounted on it as a running
    one's are (Docker's view for cp, `engine/mountview.py`)."""
    from dockyard.engine.config import ContainerConfig
    from dockyard.engine.launch import USERNS_SHIFT
    from dockyard.engine.status import ContainerLock, effective_state

    rec = engine.db.get_container(ref)
    shift = USERNS_SHIFT if ContainerConfig.from_json(rec.config).userns else 0
    with ExitStack() as stack:
        fd = _running_root(rec)
        if fd is None:
            stack.enter_context(ContainerLock(engine, rec.id))
            rec = engine.db.get_container(rec.id)
            fd = _running_root(rec)  # started while we waited for the lock
        running = fd is not None
        if fd is None:
            restarting = effective_state(rec, engine.db).get("Status") == "restarting"
            if writable and restarting:
                # its monitor is about to mount the same upper dir again, without our lock
                raise errors.Conflict(f"container {rec.name} is restarting, wait until it is running")
            view = []
            if volumes and not restarting:  # mount points may have to be made: a writable overlay
                from dockyard.engine.mountview import view_mounts

                view = view_mounts(engine, ContainerConfig.from_json(rec.config))
            target = stack.enter_context(_mounted(engine, rec.id, writable=writable or bool(view)))
            if view:
                from dockyard.engine.mountview import mount_view

                mount_view(target, view)  # detached with the overlay by _mounted
            fd = os.open(target, _O_DIR)
        stack.callback(os.close, fd)
        yield ContainerRoot(rec, fd, shift, running)


def _running_root(rec) -> int | None:
    """A descriptor of a live container's root directory, None when its init is not running."""
    from dockyard.engine.status import alive as process_status
    from dockyard.engine.status import effective_state

    st = effective_state(rec)
    pid, start = st.get("Pid") or 0, st.get("PidStartTime")
    if st.get("Status") not in ("running", "paused", "restarting") or not process_status(pid, start):
        return None
    try:
        fd = os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    if not process_status(pid, start):  # exited, and the pid may be someone else's now
        os.close(fd)
        return None
    fst, host = os.fstat(fd), os.stat("/")
    if (fst.st_dev, fst.st_ino) == (host.st_dev, host.st_ino):
        os.close(fd)
        raise errors.Unavailable(f"container {rec.name} is still setting up its root filesystem; try again")
    return fd


@contextmanager
def _mounted(engine, cid: str, *, writable: bool) -> Iterator[str]:
    """Mount a stopped container's snapshot on a private temporary directory."""
    import tempfile

    from dockyard.linux.mount import Mount
    from dockyard.snapshots.mount import mount_all, unmount_all

    mounts = [m if writable else _readonly(m) for m in engine.snapshots.mounts(cid)]
    mounts = [Mount(type=m.type, source=m.source, target=m.target, options=(*m.options, "private"))
              for m in mounts]
    from dockyard.ownership import owner_tag

    target = tempfile.mkdtemp(prefix=f"mnt-{owner_tag()}-", dir=engine.tmp_dir())
    try:
        mount_all(mounts, target)
        try:
            yield target
        finally:
            try:
                unmount_all(target)
            except errors.SyscallError:
                unmount_all(target, detach=True)
    finally:
        os.rmdir(target)


def _readonly(m):
    """The container's overlay, read-only: its upper dir becomes the top lower dir, so the
    mount needs no work dir and cannot change anything."""
    from dockyard.linux.mount import Mount

    if m.type != "overlay":
        return Mount(type=m.type, source=m.source, target=m.target, options=(*m.options, "ro"))
    opts = _options(m.options)
    lower = opts.get("lowerdir", "")
    if opts.get("upperdir"):
        lower = opts["upperdir"] + ":" + lower
    return Mount(type="overlay", source=m.source, target=m.target, options=(f"lowerdir={lower}", "index=off", "ro"))


def _options(options) -> dict[str, str]:
    out = {}
    for o in options:
        k, eq, v = o.partition("=")
        if eq:
            out[k] = v
    return out


# ---------------------------------------------------------------------------- paths in scope


class PathSpec:
    """A path as Docker's cp reads it: cleaned components (``filepath.Join("/", p)``), whether it
    asserts a directory (a trailing ``/`` or ``/.``) and whether it names the contents (``/.``)."""

    __slots__ = ("text", "parts", "asserts_dir", "contents")

    def __init__(self, text: str, *, cwd: str | None = None) -> None:
        self.text = text
        self.parts = inroot.clean_parts(os.path.join(cwd, text) if cwd is not None else text)
        self.contents = text == "." or text.endswith("/.")
        self.asserts_dir = self.contents or text.endswith("/")

    @property
    def base(self) -> str:
        """The name its entries get: ``.`` for the contents of a directory (or the root)."""
        return "." if self.contents or not self.parts else self.parts[-1]


def _lookup(root_fd: int, parts: tuple[str, ...], *, follow: bool):
    """(parent fd or None, name, lstat or None, real parts) of a path in scope. The last
    component is followed only with ``follow``; the caller closes the descriptor."""
    if follow:
        parts = inroot.realpath(root_fd, parts)
    if not parts:
        return os.dup(root_fd), None, os.fstat(root_fd), ()
    preal = inroot.realpath(root_fd, parts[:-1])
    real = (*preal, parts[-1])
    pfd = inroot.open_dir_strict(root_fd, preal)
    if pfd is None:
        return None, parts[-1], None, real
    return pfd, parts[-1], inroot.lstat_at(pfd, parts[-1]), real


# ---------------------------------------------------------------------------- entry streams


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


class _Tree:
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
                fd = os.dup(pfd) if name is None else os.open(name, _O_DIR, dir_fd=pfd)
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


def _tar_entries(src: IO[bytes]) -> Iterator[Entry]:
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


class _Extractor:
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
            fd = os.open(base, _O_DIR, dir_fd=pfd)
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


# ---------------------------------------------------------------------------- cp


class Endpoint:
    """One side of a copy: the tree at ``fd`` (a container root or the host's /), and how to
    name its paths in messages."""

    __slots__ = ("fd", "shift", "container", "running", "check")

    def __init__(self, fd: int, *, shift: int = 0, container: str | None = None, running: bool = False,
                 check: Callable[[tuple[str, ...]], None] | None = None) -> None:
        self.fd, self.shift, self.container, self.running = fd, shift, container, running
        self.check = check  # called with the real directory a copy into this tree goes into

    def label(self, spec: PathSpec) -> str:
        return f"{self.container}:{spec.text}" if self.container is not None else spec.text


class _Source:
    __slots__ = ("pfd", "name", "st", "base")

    def __init__(self, pfd, name, st, base) -> None:
        self.pfd, self.name, self.st, self.base = pfd, name, st, base


def _open_source(ep: Endpoint, spec: PathSpec, *, follow_link: bool) -> _Source:
    """Docker's source rules: the last component is followed with -L or a trailing / or /.,
    its entries are named after the requested base name either way."""
    pfd, name, st, _ = _lookup(ep.fd, spec.parts, follow=follow_link or spec.asserts_dir)
    if st is None:
        if pfd is not None:
            os.close(pfd)
        if ep.container is not None:
            raise errors.NotFound(f"Could not find the file {spec.text} in container {ep.container}")  # docker CLI 28
        raise errors.NotFound(f"lstat {spec.text}: no such file or directory")
    if spec.asserts_dir and not stat.S_ISDIR(st.st_mode):
        os.close(pfd)
        raise errors.InvalidArgument(f"{ep.label(spec)}: not a directory")
    return _Source(pfd, name, st, spec.base)


def _dest(ep: Endpoint, spec: PathSpec, src_base: str, src_is_dir: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Docker's CopyInfoDestinationPath + PrepareArchiveCopy: (the real directory to extract
    into, the name prefix entries get there)."""
    pfd, _name, st, real = _lookup(ep.fd, spec.parts, follow=spec.asserts_dir)
    if pfd is not None:
        os.close(pfd)
    if st is not None and stat.S_ISLNK(st.st_mode):  # a symlink destination is followed, in scope
        pfd, _name, st, real = _lookup(ep.fd, spec.parts, follow=True)
        if pfd is not None:
            os.close(pfd)
    exists = st is not None
    is_dir = exists and stat.S_ISDIR(st.st_mode)
    label = ep.label(spec)
    if exists and not (is_dir or stat.S_ISREG(st.st_mode)):
        raise errors.InvalidArgument(f'destination "{label}" must be a directory or a regular file')
    if spec.asserts_dir and exists and not is_dir:
        raise errors.InvalidArgument(f'destination "{label}" is not a directory')
    src_prefix = () if src_base == "." else (src_base,)
    if is_dir:
        return real, src_prefix  # into the directory, under the source's own name
    if exists and src_is_dir:
        raise errors.InvalidArgument(f'cannot copy a directory to the file "{label}"')
    if not exists and not src_is_dir and spec.asserts_dir:
        raise errors.NotFound(f'no such directory: "{label}"')
    return real[:-1], real[-1:]  # created or replaced under the destination's name


def _open_dest_dir(ep: Endpoint, real: tuple[str, ...], spec: PathSpec) -> None:
    fd = inroot.open_dir_strict(ep.fd, real)
    if fd is None:
        where = "/" + "/".join(real)
        if ep.container is not None:
            raise errors.NotFound(f"Could not find the file {where} in container {ep.container}")
        raise errors.NotFound(f'invalid output path: directory "{where}" does not exist')
    os.close(fd)


def _copy(src_ep: Endpoint, src: str | IO[bytes], dst_ep: Endpoint, dst: str | IO[bytes], *,
          archive: bool, follow_link: bool, src_spec: PathSpec | None, dst_spec: PathSpec | None) -> int:
    """Copy between two endpoints; ``src``/``dst`` may be binary streams (a tar: ``cp -``)."""
    into_container = dst_ep.container is not None
    if into_container:
        shift = dst_ep.shift
        owner = (lambda e: (shift + e.uid, shift + e.gid) if e else (shift, shift)) if archive else \
            (lambda e: (shift, shift))
    else:
        owner = (lambda e: (e.uid, e.gid) if e else None) if archive else None

    if not isinstance(src, str):  # a tar from stdin, into an existing directory
        assert dst_spec is not None
        pfd, _name, st, real = _lookup(dst_ep.fd, dst_spec.parts, follow=True)
        if pfd is not None:
            os.close(pfd)
        if st is None or not stat.S_ISDIR(st.st_mode):
            raise errors.InvalidArgument(f'destination "{dst_ep.label(dst_spec)}" must be a directory')
        if dst_ep.check is not None:
            dst_ep.check(real)
        return _extract(dst_ep, real, (), _tar_entries(src), owner, dst_ep.label(dst_spec))

    assert src_spec is not None
    source = _open_source(src_ep, src_spec, follow_link=follow_link)
    try:
        tree = _Tree(shift=src_ep.shift, mounts="special" if src_ep.running else "all")
        entries = tree.walk(source.pfd, source.name, source.st)
        if not isinstance(dst, str):  # a tar to stdout
            prefix = () if source.base == "." else (source.base,)
            write_tar(entries, dst, lambda rel: "/".join((*prefix, *rel)) or ".")
            return tree.total
        assert dst_spec is not None
        real, prefix = _dest(dst_ep, dst_spec, source.base, stat.S_ISDIR(source.st.st_mode))
        _open_dest_dir(dst_ep, real, dst_spec)
        if dst_ep.check is not None:
            dst_ep.check(real)
        _extract(dst_ep, real, prefix, entries, owner, dst_ep.label(dst_spec))
        return tree.total
    finally:
        os.close(source.pfd)


def _extract(ep: Endpoint, real, prefix, entries, owner, label: str) -> int:
    ex = _Extractor(ep.fd, real, owner=owner, label=label)
    try:
        for e in entries:
            if e.kind == "link":
                e.linkname = (*prefix, *e.linkname)
            ex.add(e, (*prefix, *e.rel))
        ex.finish()
    except OSError as e:
        where = f": {e.filename}" if e.filename else ""
        raise errors.DockyardError(f"copying to {label}: {e.strerror or e}{where}") from e
    finally:
        ex.close()
    return ex.total


def copy_from_container(engine, container: str, path: str, dest: str | IO[bytes], *, archive: bool = False,
                        follow_link: bool = False) -> int:
    """docker cp CONTAINER:SRC DEST (DEST a host path, or a binary stream for a tar)."""
    src_spec = PathSpec(path or "/")
    dst_spec = PathSpec(dest, cwd=os.getcwd()) if isinstance(dest, str) else None
    if dst_spec is not None:
        _check_output_path(dst_spec)
    with open_root(engine, container, volumes=True) as root:
        host = os.open("/", _O_DIR)
        try:
            return _copy(Endpoint(root.fd, shift=root.shift, container=container, running=root.running), path or "/",
                         Endpoint(host), dest, archive=archive, follow_link=follow_link,
                         src_spec=src_spec, dst_spec=dst_spec)
        finally:
            os.close(host)


def copy_to_container(engine, container: str, path: str, src: str | IO[bytes], *, archive: bool = False,
                      follow_link: bool = False) -> int:
    """docker cp SRC CONTAINER:DEST (SRC a host path, or a binary stream holding a tar)."""
    src_spec = PathSpec(src, cwd=os.getcwd()) if isinstance(src, str) else None
    dst_spec = PathSpec(path or "/")
    from dockyard.engine.config import ContainerConfig
    from dockyard.engine.mountview import check_writable

    with open_root(engine, container, writable=True, volumes=True) as root:
        cfg = ContainerConfig.from_json(root.rec.config)
        host = os.open("/", _O_DIR)
        try:
            return _copy(Endpoint(host), src, Endpoint(root.fd, shift=root.shift, container=container,
                                                       running=root.running, check=lambda real: check_writable(cfg, real)),
                         path or "/",
                         archive=archive, follow_link=follow_link, src_spec=src_spec, dst_spec=dst_spec)
        finally:
            os.close(host)


def stat_path(engine, container: str, path: str) -> dict:
    """What docker's archive API says of a path (X-Docker-Container-Path-Stat): name, size, mode
    as Go's os.FileMode bits, mtime, and for a symlink its target resolved in the container."""
    import time

    spec = PathSpec(path or "/")
    with open_root(engine, container, volumes=True) as root:
        pfd, name, st, real = _lookup(root.fd, spec.parts, follow=spec.asserts_dir)
        if pfd is not None:
            os.close(pfd)
        if st is None:
            raise errors.NotFound(f"Could not find the file {path} in container {container}")
        target = ""
        if stat.S_ISLNK(st.st_mode):
            target = "/" + "/".join(inroot.realpath(root.fd, spec.parts))
    mode = stat.S_IMODE(st.st_mode) & 0o777
    for bit, go in ((stat.S_ISUID, 1 << 23), (stat.S_ISGID, 1 << 22), (stat.S_ISVTX, 1 << 20)):
        if st.st_mode & bit:
            mode |= go
    fmt = stat.S_IFMT(st.st_mode)
    mode |= {stat.S_IFDIR: 1 << 31, stat.S_IFLNK: 1 << 27, stat.S_IFIFO: 1 << 25, stat.S_IFSOCK: 1 << 24,
             stat.S_IFBLK: 1 << 26, stat.S_IFCHR: (1 << 26) | (1 << 21)}.get(fmt, 0)
    mtime = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(st.st_mtime)) + f".{st.st_mtime_ns % 10**9:09d}Z"
    return {"name": spec.base if spec.parts else "/", "size": st.st_size, "mode": mode, "mtime": mtime,
            "linkTarget": target}


def _check_output_path(spec: PathSpec) -> None:
    """docker's ValidateOutputPath: the destination's parent directory must exist."""
    parent = "/" + "/".join(spec.parts[:-1])
    if spec.parts and not os.path.isdir(parent):
        raise errors.NotFound(f'invalid output path: directory "{parent}" does not exist')


# ---------------------------------------------------------------------------- export, diff, commit


def export(engine, ref: str, out) -> None:
    """docker export: the container's filesystem as a plain tar (no whiteouts, no mounts)."""
    with open_root(engine, ref) as root:
        tree = _Tree(shift=root.shift, mounts="none")
        entries = (e for e in tree.walk(root.fd, None, os.fstat(root.fd)) if e.rel)
        write_tar(entries, out, "/".join)


def _overlay_dirs(engine, cid: str) -> tuple[str, list[str]]:
    """The container's upper dir and its lower dirs (top first), as its overlay stacks them."""
    opts: dict[str, str] = {}
    for m in engine.snapshots.mounts(cid):
        opts.update(_options(m.options))
    upper = opts.get("upperdir") or engine.snapshots.upper_dir(cid)
    return upper, [d for d in opts.get("lowerdir", "").split(":") if d]


def _whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def _lower(layers: list[str], name: str) -> tuple[os.stat_result | None, list[str]]:
    """``name`` in the merged view of ``layers`` (dirs of one directory, top first): its lstat
    (None if absent or whited out) and, for a directory, the layer dirs that make it up."""
    found = None
    dirs: list[str] = []
    for layer in layers:
        p = os.path.join(layer, name)
        try:
            st = os.lstat(p)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if _whiteout(st) or (found is not None and not stat.S_ISDIR(st.st_mode)):
            break
        if found is None:
            found = st
            if not stat.S_ISDIR(st.st_mode):
                break
        dirs.append(p)
        if _opaque(p):
            break
    return found, dirs


def diff(engine, ref: str) -> list[tuple[str, str]]:
    """docker diff: [(kind, path)] with kind A (added), C (changed) or D (deleted), by path."""
    from dockyard.runtime.defaults import default_mounts

    rec = engine.db.get_container(ref)
    upper, lowers = _overlay_dirs(engine, rec.id)
    stub_dirs = frozenset(m["destination"] for m in default_mounts())
    out: list[tuple[str, str]] = []
    _diff_dir(upper, "", lowers, out, stub_dirs)
    return sorted(out, key=lambda c: os.fsencode(c[1]))


def _diff_dir(path: str, rel: str, lowers: list[str], out: list, stub_dirs) -> tuple[bool, bool]:
    """Changes below upper dir ``path``; returns (any reported, children exist and none is).

    As moby's overlay changes: a whiteout is D, what the lowers lack is A, what they have is C
    (a directory only if its metadata differ or something below it changed), an opaque
    directory is C and all it holds is A. Mount points the runtime made are left out.
    """
    names = sorted(os.listdir(path), key=os.fsencode)
    reported = False
    for name in names:
        p = os.path.join(path, name)
        st = os.lstat(p)
        cpath = f"{rel}/{name}"
        if _whiteout(st):
            out.append(("D", cpath))
            reported = True
            continue
        lst, dirs = _lower(lowers, name)
        if stat.S_ISDIR(st.st_mode):
            opaque = _opaque(p)
            sub, hidden = _diff_dir(p, cpath, [] if opaque else dirs, out, stub_dirs)
            if lst is None:
                if hidden or (cpath in stub_dirs and not os.listdir(p)):
                    continue  # made by the runtime for its mounts
                kind = "A"
            elif opaque or not stat.S_ISDIR(lst.st_mode) or sub:
                kind = "C"
            elif (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) != (stat.S_IMODE(lst.st_mode), lst.st_uid, lst.st_gid) \
                    or (st.st_mtime_ns != lst.st_mtime_ns and not hidden):
                kind = "C"
            else:
                continue  # copied up, unchanged
        else:
            if lst is None and cpath in _STUB_FILES and stat.S_ISREG(st.st_mode) and st.st_size == 0:
                continue
            kind = "A" if lst is None else "C"
        out.append((kind, cpath))
        reported = True
    return reported, bool(names) and not reported


def commit(engine, ref: str, repo: str | None = None, *, message: str = "", author: str = "",
           changes: list[str] = (), pause: bool = True) -> str:
    """docker commit: the container's upper dir as a new layer on its image; the new image id.

    A running container is paused meanwhile (docker's default): the layer writer walks the upper
    dir by path, and a container changing it under the walk (a directory swapped for a symlink)
    must not get to lead it outside. Without a freezer the commit goes on unpaused.
    """
    from dockyard.engine.status import effective_state

    rec = engine.db.get_container(ref)
    paused = False
    with _signals_unwind():  # SIGTERM/SIGHUP/SIGINT unwind through the unpause below
        if pause and effective_state(rec, engine.db).get("Status") == "running":
            from dockyard.engine.observe import pause as freeze
            from dockyard.engine.status import owner_now

            with _signals_held():  # frozen and `paused` set, or neither
                try:
                    freeze(engine, rec.id, by=owner_now())  # SIGKILL: the next command thaws it
                    paused = True
                except errors.DockyardError:
                    pass  # no cgroup or freezer here; it may also have just stopped
        try:
            with engine.lease():  # until the image is recorded, `rmi` keeps the new layer
                return _commit(engine, rec, repo, message=message, author=author, changes=changes)
        finally:
            if paused:
                from dockyard.engine.observe import unpause

                with _signals_held():  # a signal now waits until the container is thawed
                    try:
                        unpause(engine, rec.id)
                    except errors.Conflict:  # its exit was recorded meanwhile (docker-py commits a
                        from dockyard.engine.status import container_cgroup  # short-lived container)

                        try:  # the record stays "exited"; only the freezer is let go
                            cg = container_cgroup(engine, engine.db.get_container(rec.id))
                            if cg is not None:
                                cg.thaw()
                        except (errors.DockyardError, OSError):
                            pass


_UNWIND_SIGNALS = ("SIGTERM", "SIGHUP", "SIGINT")


class _Interrupted(BaseException):
    """A terminating signal, raised where the process was so that `finally` blocks run."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum


@contextmanager
def _signals_unwind():
    """While a command holds something others must get back (a frozen container), SIGTERM,
    SIGHUP and SIGINT unwind the stack (running every `finally`) instead of killing the process
    where it stands; then the signal is delivered again with its old disposition, so the process
    still dies of it (or, for SIGINT, raises KeyboardInterrupt) as it would have. Only the main
    thread can take signals; elsewhere this does nothing."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        raise _Interrupted(signum)

    sigs = [getattr(signal, n) for n in _UNWIND_SIGNALS]
    old = {s: signal.signal(s, handler) for s in sigs}
    try:
        yield
    except _Interrupted as e:
        for s, h in old.items():
            signal.signal(s, h)
        old = {}
        os.kill(os.getpid(), e.signum)  # its old disposition: dies, or KeyboardInterrupt (SIGINT)
        raise errors.Unavailable(f"interrupted by signal {e.signum}") from None  # if it was ignored
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextmanager
def _signals_held():
    """Block the unwinding signals for a step that must not be cut in half (thawing)."""
    import signal

    sigs = {getattr(signal, n) for n in _UNWIND_SIGNALS}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _commit(engine, rec, repo: str | None, *, message: str, author: str, changes) -> str:
    import copy
    import time

    from dockyard.engine.config import ContainerConfig
    from dockyard.engine.status import rfc3339
    from dockyard.images.importer import apply_changes
    from dockyard.images.layers import layer_from_dir

    if ContainerConfig.from_json(rec.config).userns:
        raise errors.NotImplemented("commit of a --userns auto container is not supported yet")
    tags = [repo] if repo else []
    for t in tags:
        engine.images.normalize_tag(t)
    image = engine.db.get_image(rec.image_id)
    if image is None:
        raise errors.ImageNotFound(f"No such image: {rec.image_id} (the container's image was removed)")
    full = copy.deepcopy(engine.images.config(image))
    cfg = dict(full.get("config") or {})
    apply_changes(cfg, list(changes))
    old_layers = list(engine.images.manifest(image).get("layers") or [])
    desc, diff_id, _tar_size = layer_from_dir(engine.content, engine.snapshots.upper_dir(rec.id),
                                         tmp_dir=engine.tmp_dir(), overlay_upper=True)
    now = rfc3339(time.time())
    st = rec.state
    entry = {"created": now, "created_by": " ".join([st.get("Path", ""), *(st.get("Args") or [])]).strip()}
    if author:
        entry["author"] = author
    if message:
        entry["comment"] = message
    rootfs = full.get("rootfs") or {}
    full.update(created=now, config=cfg, history=[*(full.get("history") or []), entry],
                rootfs={"type": "layers", "diff_ids": [*(rootfs.get("diff_ids") or []), diff_id]})
    if author:
        full["author"] = author
    else:
        full.pop("author", None)
    return engine.images.add(full, [*old_layers, desc], tags, parent=image.id)  # docker commit's Parent
