"""Apply an OCI/Docker layer tar onto a directory: the hardened extractor.

A layer comes from a registry, i.e. from anyone, and is unpacked as root, so this module is a
security boundary. The references are moby's ``pkg/archive`` + ``chrootarchive`` and
containerd's ``archive/tar.go``. The rules:

- Names are normalised as Docker does: a leading ``/`` or ``./`` is stripped (so ``/etc/x``
  lands at ``<root>/etc/x``), ``..`` is folded lexically and a name that climbs above the root
  is refused with `UnsafeArchive` naming the entry.
- Parent directories are walked by descriptor with ``O_NOFOLLOW`` (see `inroot`): a symlink in a
  parent position, whether from this layer or already on disk, is resolved *inside the root*
  as a chroot would (moby's and containerd's behaviour, which real images rely on). The final
  component is never followed.
- Hardlink targets are resolved the same way, so they cannot name a file outside the root; a
  target that does not exist inside the root, or is a directory, is refused.
- Device nodes are refused when ``allow_devices`` is False; entries of unknown type always.
- ``trusted.overlay.*`` xattrs in a tar are dropped: overlayfs would obey them (opaque,
  redirect, metacopy) and no well-formed layer carries them.

Whiteouts follow the OCI image spec. In ``mode="overlay"`` each layer is unpacked into its own
empty directory that overlayfs stacks later, so ``.wh.<name>`` becomes a 0:0 character device
and ``.wh..wh..opq`` becomes ``trusted.overlay.opaque=y`` on the directory. In
``mode="flatten"`` the layer is applied onto a tree holding the lower layers, so whiteouts
delete; they only ever hide lower content, never entries of this same layer (OCI spec), in
whatever order the tar lists them.

``tarfile`` is imported inside the function: `dockyard run` must not pay for it when the layers
are already unpacked.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from dockyard import errors
from dockyard.archive import inroot
from dockyard.archive.compression import open_decompressed

if TYPE_CHECKING:
    import tarfile

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"

# Tar type flags, spelled out so that importing this module does not import tarfile.
REGTYPE, AREGTYPE, CONTTYPE, SPARSETYPE = b"0", b"\0", b"7", b"S"
LNKTYPE, SYMTYPE, CHRTYPE, BLKTYPE, DIRTYPE, FIFOTYPE = b"1", b"2", b"3", b"4", b"5", b"6"
_KNOWN_TYPES = frozenset(
    {REGTYPE, AREGTYPE, CONTTYPE, SPARSETYPE, LNKTYPE, SYMTYPE, CHRTYPE, BLKTYPE, DIRTYPE, FIFOTYPE}
)

_CHUNK = 1 << 20
_TAR_BUFSIZE = 1 << 16
_IGNORED_XATTR_ERRNOS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyResult:
    """What the caller needs to verify and record a layer: its diff ID, and its size as Docker
    counts a layer's size (overlay2: moby's directory.Size of the unpacked diff: the size of
    every file and symlink, hard links once, directories nothing; no tar headers or padding)."""

    size: int
    diff_id: str


def apply_layer(
    src: str | os.PathLike[str] | IO[bytes],
    root: str,
    *,
    mode: str = "overlay",
    allow_devices: bool = True,
    same_owner: bool = True,
) -> ApplyResult:
    """Unpack the layer ``src`` (path or binary file; gzip, zstd or plain tar) under ``root``.

    The uncompressed stream is hashed while it is read, so the returned ``diff_id`` can be
    checked against the image config without a second pass. ``same_owner=False`` leaves files
    owned by the caller (rootless). Raises `UnsafeArchive` for hostile entries and
    `InvalidArgument` for a corrupt stream; a partially applied root is the caller's to discard.
    """
    if mode not in ("overlay", "flatten"):
        raise errors.InvalidArgument(f"unknown layer apply mode {mode!r} (want overlay or flatten)")
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            return _apply_stream(f, root, mode, allow_devices, same_owner)
    return _apply_stream(src, root, mode, allow_devices, same_owner)


class _HashingReader:
    """Counts and hashes the uncompressed bytes; turns codec failures into `InvalidArgument`."""

    def __init__(self, reader: IO[bytes]) -> None:
        self._reader = reader
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        try:
            data = self._reader.read(n)
        except errors.DockyardError:
            raise
        except Exception as e:  # gzip.BadGzipFile, EOFError, zlib/lzma errors, ...
            raise errors.InvalidArgument(f"layer stream is corrupt: {e}") from e
        self.hash.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        """Read to the end so the digest covers padding after the tar's end-of-archive blocks."""
        while self.read(_CHUNK):
            pass


def _apply_stream(f: IO[bytes], root: str, mode: str, allow_devices: bool, same_owner: bool) -> ApplyResult:
    import tarfile

    class _TarInfo(tarfile.TarInfo):
        """Records why tarfile stopped: it ends silently on a truncated or garbled header."""

        @classmethod
        def fromtarfile(cls, tf):  # type: ignore[override]
            try:
                return super().fromtarfile(tf)
            except tarfile.HeaderError as e:
                tf._dockyard_end = e
                raise

    os.makedirs(root, exist_ok=True)
    with open_decompressed(f) as dec:
        reader = _HashingReader(dec.reader)  # type: ignore[arg-type]
        try:
            tf = tarfile.open(
                fileobj=reader, mode="r|", tarinfo=_TarInfo, bufsize=_TAR_BUFSIZE  # type: ignore[arg-type]
            )
        except tarfile.ReadError as e:
            if reader.size == 0:  # an empty blob is an empty layer, as for Go's archive/tar
                return ApplyResult(size=0, diff_id="sha256:" + reader.hash.hexdigest())
            raise errors.InvalidArgument(f"layer is not a valid tar archive: {e}") from e
        applier = _Applier(root, mode=mode, allow_devices=allow_devices, same_owner=same_owner)
        content = 0
        try:
            while True:
                try:
                    member = tf.next()
                    if member is None:
                        break
                    tf.members.clear()  # stream mode keeps every header otherwise
                    content += _content(member)
                    applier.apply(tf, member)
                except tarfile.TarError as e:  # bad headers, or member data cut short
                    raise errors.InvalidArgument(f"layer is not a valid tar archive: {e}") from e
            end = getattr(tf, "_dockyard_end", None)
            if end is not None and not isinstance(end, (tarfile.EOFHeaderError, tarfile.EmptyHeaderError)):
                raise errors.InvalidArgument(f"layer tar is truncated or corrupt: {end}")
            reader.drain()
            applier.finish()
        finally:
            applier.close()
    return ApplyResult(size=content, diff_id="sha256:" + reader.hash.hexdigest())


def _content(member) -> int:
    """What one entry adds to a layer's size (see ApplyResult)."""
    if member.isreg():
        return member.size
    if member.issym():
        return len(member.linkname.encode("utf-8", "surrogateescape"))
    return 0


def content_size(src: IO[bytes]) -> int:
    """A layer's size as Docker counts it (see ApplyResult), read without unpacking it."""
    import tarfile

    from dockyard.archive.compression import open_decompressed

    total = 0
    try:
        with open_decompressed(src) as d, tarfile.open(fileobj=d.reader, mode="r|", bufsize=_TAR_BUFSIZE) as tf:
            for member in tf:
                tf.members.clear()
                total += _content(member)
    except (tarfile.TarError, EOFError, OSError, ValueError) as e:
        if total == 0 and isinstance(e, tarfile.ReadError):
            return 0  # an empty blob is an empty layer
        raise errors.InvalidArgument(f"layer is not a valid tar archive: {e}") from e
    return total


def _ns(value: str | None, fallback: float) -> int:
    """A PAX time ("1700000000.123456789") in exact nanoseconds; floats would lose precision."""
    if value:
        try:
            sec, _, frac = value.partition(".")
            ns = int(sec) * 1_000_000_000
            if frac:
                part = int((frac + "000000000")[:9])
                ns += -part if value.startswith("-") else part
            return ns
        except ValueError:
            pass
    return int(fallback) * 1_000_000_000


def _os_error(name: str, e: OSError) -> errors.DockyardError:
    """Map a failed filesystem call while applying ``name`` onto the error tree."""
    msg = f"applying layer entry {name!r}: {e.strerror or e}"
    if e.errno in (errno.EPERM, errno.EACCES):
        return errors.PermissionDenied(msg)
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO):
        return errors.Unavailable(msg)
    return errors.InvalidArgument(msg)


class _Applier:
    """State of one layer application: the root descriptor and what this layer has written."""

    def __init__(self, root: str, *, mode: str, allow_devices: bool, same_owner: bool) -> None:
        self.root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.flatten = mode == "flatten"
        self.allow_devices = allow_devices
        self.same_owner = same_owner
        # Real paths written by this layer plus all their ancestors: whiteouts spare them.
        self.touched: set[tuple[str, ...]] = set()
        # Directory mode and times are set last: children change the mtime, and a 0555 dir
        # must not stop its own children from being created.
        self.deferred: dict[tuple[str, ...], tuple[int, int, int]] = {}
        # The last resolved parent: tars list siblings together, so this saves most walks.
        # Any removal marks it stale (it may have been on the resolved path); the descriptor
        # stays open until the next lookup, so the entry being applied can keep using it.
        self._cache_key: tuple[str, ...] | None = None
        self._cache: tuple[int, tuple[str, ...]] | None = None
        self._stale = False

    def close(self) -> None:
        self._drop_cache()
        os.close(self.root_fd)

    # -- parents ---------------------------------------------------------------------------

    def _drop_cache(self) -> None:
        if self._cache is not None:
            os.close(self._cache[0])
        self._cache = None
        self._cache_key = None
        self._stale = False

    def _parent(self, parts: tuple[str, ...], entry: str, *, create: bool) -> tuple[int, tuple[str, ...]] | None:
        """Borrowed descriptor + real path of an entry's parent (owned by the cache)."""
        if self._stale:
            self._drop_cache()
        if self._cache is not None and self._cache_key == parts:
            return self._cache
        found = inroot.resolve_dir(self.root_fd, parts, entry=entry, create=create, on_create=self._touch)
        if found is None:
            return None
        self._drop_cache()
        self._cache_key, self._cache = parts, found
        return found

    def _touch(self, real: tuple[str, ...]) -> None:
        for i in range(len(real), 0, -1):
            p = real[:i]
            if p in self.touched:
                break  # its ancestors are in already
            self.touched.add(p)

    def _remove(self, dir_fd: int, name: str, st: os.stat_result | None = None) -> None:
        self._stale = True
        inroot.remove_at(dir_fd, name, st)

    # -- entries ---------------------------------------------------------------------------

    def apply(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        try:
            self._apply(tf, m)
        except errors.DockyardError:
            raise
        except OSError as e:
            raise _os_error(m.name, e) from e
        except ValueError as e:  # e.g. an embedded NUL byte in a PAX path
            raise errors.InvalidArgument(f"layer entry {m.name!r}: {e}") from e

    def _apply(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        name = m.name
        parts = inroot.split_name(name, what="layer entry")
        if parts and parts[0].startswith(WHITEOUT_META_PREFIX) and parts != (WHITEOUT_OPAQUE,):
            return  # AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): Docker skips it too
        if parts and parts[-1] == WHITEOUT_OPAQUE:
            self._opaque(parts[:-1], name)
            return
        if parts and parts[-1].startswith(WHITEOUT_PREFIX):
            self._whiteout(parts[:-1], parts[-1][len(WHITEOUT_PREFIX) :], m)
            return

        t = m.type
        if t in (CHRTYPE, BLKTYPE) and not self.allow_devices:
            raise errors.UnsafeArchive(f"layer entry {name!r} is a device node, which is not allowed here")
        if t not in _KNOWN_TYPES:
            raise errors.UnsafeArchive(f"layer entry {name!r} has unsupported tar type {t!r}")
        is_dir = t == DIRTYPE
        if not parts:
            if not is_dir:
                raise errors.UnsafeArchive(f"layer entry {name!r} names the root but is not a directory")
            fd = os.dup(self.root_fd)
            try:
                self._dir_meta(fd, (), m)
            finally:
                os.close(fd)
            return

        found = self._parent(parts[:-1], name, create=True)
        assert found is not None
        pfd, preal = found
        base = parts[-1]
        real = (*preal, base)

        if t == LNKTYPE:
            self._hardlink(pfd, base, real, m)
            self._touch(real)
            return

        existing = inroot.lstat_at(pfd, base)
        if is_dir:
            if existing is not None and not stat.S_ISDIR(existing.st_mode):
                self._remove(pfd, base, existing)  # a non-dir never survives a dir entry
                existing = None
            if existing is None:
                os.mkdir(base, 0o700, dir_fd=pfd)
            fd = os.open(base, inroot.O_DIR, dir_fd=pfd)
            try:
                self._dir_meta(fd, real, m)
            finally:
                os.close(fd)
            self._touch(real)
            return

        if existing is not None:
            self._remove(pfd, base, existing)  # replace whatever was there, a directory included

        if m.isreg():
            self._write_file(tf, m, pfd, base)
        elif t == SYMTYPE:
            os.symlink(m.linkname, base, dir_fd=pfd)
        elif t == FIFOTYPE:
            os.mknod(base, stat.S_IFIFO | 0o600, dir_fd=pfd)
        else:  # char or block device
            kind = stat.S_IFCHR if t == CHRTYPE else stat.S_IFBLK
            os.mknod(base, kind | 0o600, os.makedev(m.devmajor, m.devminor), dir_fd=pfd)
        self._meta(pfd, base, m, symlink=t == SYMTYPE)
        self._touch(real)

    def _write_file(self, tf: tarfile.TarFile, m: tarfile.TarInfo, pfd: int, base: str) -> None:
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=pfd)
        with os.fdopen(fd, "wb", buffering=0) as out:
            data = tf.extractfile(m)
            remaining = m.size
            while remaining > 0:
                chunk = data.read(min(_CHUNK, remaining)) if data is not None else b""
                if not chunk:
                    raise errors.InvalidArgument(f"layer entry {m.name!r}: file data is truncated")
                view = memoryview(chunk)
                while view:
                    view = view[out.write(view) :]
                remaining -= len(chunk)

    def _hardlink(self, pfd: int, base: str, real: tuple[str, ...], m: tarfile.TarInfo) -> None:
        name = m.name
        tparts = inroot.split_name(m.linkname, what=f"hardlink {name!r} target")
        if not tparts:
            raise errors.UnsafeArchive(f"hardlink {name!r} points at the root directory")
        tfound = inroot.resolve_dir(self.root_fd, tparts[:-1], entry=name, create=False)
        if tfound is None:
            raise errors.UnsafeArchive(f"hardlink {name!r} target {m.linkname!r} does not exist inside the root")
        tfd, treal = tfound
        try:
            tbase = tparts[-1]
            tst = inroot.lstat_at(tfd, tbase)
            if tst is None:
                raise errors.UnsafeArchive(f"hardlink {name!r} target {m.linkname!r} does not exist inside the root")
            if stat.S_ISDIR(tst.st_mode):
                raise errors.UnsafeArchive(f"hardlink {name!r} target {m.linkname!r} is a directory")
            if (*treal, tbase) == real:
                return  # a link to itself: nothing to do
            existing = inroot.lstat_at(pfd, base)
            if existing is not None:
                if existing.st_ino == tst.st_ino and existing.st_dev == tst.st_dev:
                    return  # already this very inode
                self._remove(pfd, base, existing)
            os.link(tbase, base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        finally:
            os.close(tfd)
        self._meta(pfd, base, m, symlink=stat.S_ISLNK(tst.st_mode))

    # -- metadata --------------------------------------------------------------------------

    def _xattrs(self, m: tarfile.TarInfo) -> list[tuple[str, bytes]]:
        out = []
        for key, value in m.pax_headers.items():
            if key.startswith("SCHILY.xattr."):
                xname = key[len("SCHILY.xattr.") :]
                if xname.startswith("trusted.overlay."):
                    continue  # overlayfs control data has no business in a layer tar
                out.append((xname, value.encode("utf-8", "surrogateescape")))
        return out

    @staticmethod
    def _setxattr(target: int | str, xname: str, value: bytes) -> None:
        try:
            if isinstance(target, int):
                os.setxattr(target, xname, value)
            else:
                os.setxattr(target, xname, value, follow_symlinks=False)
        except OSError as e:
            if e.errno not in _IGNORED_XATTR_ERRNOS:  # e.g. security.* without privilege
                raise

    def _times(self, m: tarfile.TarInfo) -> tuple[int, int]:
        mtime = _ns(m.pax_headers.get("mtime"), m.mtime)
        atime = _ns(m.pax_headers.get("atime"), m.mtime) if "atime" in m.pax_headers else mtime
        return atime, mtime

    def _dir_meta(self, fd: int, real: tuple[str, ...], m: tarfile.TarInfo) -> None:
        if self.same_owner:
            os.chown(fd, m.uid, m.gid)
        for xname, value in self._xattrs(m):
            self._setxattr(fd, xname, value)
        atime, mtime = self._times(m)
        self.deferred[real] = (m.mode & 0o7777, atime, mtime)

    def _meta(self, pfd: int, base: str, m: tarfile.TarInfo, *, symlink: bool) -> None:
        """Owner, xattrs, mode, times, in that order: chown clears setuid bits and capabilities."""
        if self.same_owner:
            os.chown(base, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        xattrs = self._xattrs(m)
        if xattrs:
            path = f"/proc/self/fd/{pfd}/{base}"  # short even when the tree is deep; final part not followed
            for xname, value in xattrs:
                self._setxattr(path, xname, value)
        if not symlink:
            os.chmod(base, m.mode & 0o7777, dir_fd=pfd)  # our own fresh node, never a symlink
        atime, mtime = self._times(m)
        os.utime(base, ns=(atime, mtime), dir_fd=pfd, follow_symlinks=False)

    # -- whiteouts -------------------------------------------------------------------------

    def _whiteout(self, parent: tuple[str, ...], wname: str, m: tarfile.TarInfo) -> None:
        if wname in ("", ".", ".."):
            raise errors.UnsafeArchive(f"layer entry {m.name!r} is a whiteout without a valid name")
        found = self._parent(parent, m.name, create=not self.flatten)
        if found is None:
            return  # flatten: nothing there to hide
        pfd, preal = found
        if (*preal, wname) in self.touched:
            return  # a whiteout only hides lower layers, never this layer's own entries
        existing = inroot.lstat_at(pfd, wname)
        if self.flatten:
            if existing is not None:
                self._remove(pfd, wname, existing)
            return
        if existing is not None:
            self._remove(pfd, wname, existing)
        os.mknod(wname, stat.S_IFCHR, os.makedev(0, 0), dir_fd=pfd)
        if self.same_owner:
            os.chown(wname, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)

    def _opaque(self, parts: tuple[str, ...], entry: str) -> None:
        found = inroot.resolve_dir(self.root_fd, parts, entry=entry, create=not self.flatten, on_create=self._touch)
        if found is None:
            return
        fd, real = found
        try:
            if self.flatten:
                self._clear_lower(fd, real)
            else:
                try:
                    os.setxattr(fd, OVERLAY_OPAQUE_XATTR, b"y")
                except OSError as e:
                    raise errors.PermissionDenied(
                        f"layer entry {entry!r}: cannot mark an opaque directory ({e.strerror})",
                        hint="overlay-mode unpacking sets trusted.* xattrs and needs CAP_SYS_ADMIN",
                    ) from e
                self._touch(real)
        finally:
            os.close(fd)

    def _clear_lower(self, dfd: int, real: tuple[str, ...]) -> None:
        """Delete everything below ``real`` that this layer did not write (opaque, flatten)."""
        for child in os.listdir(dfd):
            p = (*real, child)
            st = inroot.lstat_at(dfd, child)
            if st is None:
                continue
            if p not in self.touched:
                self._remove(dfd, child, st)
            elif stat.S_ISDIR(st.st_mode):
                cfd = os.open(child, inroot.O_DIR, dir_fd=dfd)
                try:
                    self._clear_lower(cfd, p)
                finally:
                    os.close(cfd)

    def finish(self) -> None:
        """Set directory modes and times, deepest first, re-opening each strictly."""
        for real in sorted(self.deferred, key=len, reverse=True):
            mode, atime, mtime = self.deferred[real]
            fd = inroot.open_dir_strict(self.root_fd, real)
            if fd is None:
                continue  # replaced by a later entry; never chase it through a symlink
            try:
                os.chmod(fd, mode)
                os.utime(fd, ns=(atime, mtime))
            finally:
                os.close(fd)

