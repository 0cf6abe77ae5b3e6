"""Write a directory as a deterministic layer tar (container diff, build step, `export`).

The same tree must give the same bytes, hence the same digest, on any machine and at any time:
that is what makes build caches and pushes deduplicate. So the tar is PAX with entries in path
order (parents first, siblings sorted by their bytes), numeric owners only (empty user and
group names, which depend on the host's passwd), whole-second mtimes clamped to
``mtime_clamp`` (SOURCE_DATE_EPOCH) when given, no atime/ctime, xattrs as sorted
``SCHILY.xattr.*`` records, and hardlinks as links to the first path of the inode.

For an overlayfs upper directory (``overlay_upper=True``) the overlay's own markers become the
OCI ones: a 0:0 character device becomes an empty ``.wh.<name>`` file and a directory with
``trusted.overlay.opaque=y`` gets a ``.wh..wh..opq`` entry listed right after it.
``trusted.overlay.*`` xattrs are never written. Sockets are skipped, as Docker does.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Protocol

from dockyard import errors
from dockyard.archive.compression import compress_gzip  # noqa: F401 - part of this module's API

if TYPE_CHECKING:
    import tarfile

WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"

_CHUNK = 1 << 20


class Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


class _CountingWriter:
    """Counts (and optionally hashes) bytes on their way to ``out``."""

    def __init__(self, out: Writable, *, hashed: bool = False) -> None:
        self._out = out
        self.size = 0
        self.hash = hashlib.sha256() if hashed else None

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self.size += len(data)
        if self.hash is not None:
            self.hash.update(data)
        return len(data)

    def flush(self) -> None:
        flush = getattr(self._out, "flush", None)
        if flush is not None:
            flush()

    def digest(self) -> str:
        assert self.hash is not None
        return "sha256:" + self.hash.hexdigest()


def write_layer_tar(src_dir: str, out: Writable, *, overlay_upper: bool, mtime_clamp: int | None = None) -> int:
    """Write ``src_dir`` as a deterministic PAX tar to ``out``; return the bytes written."""
    import tarfile

    counter = _CountingWriter(out)
    tf = tarfile.open(
        fileobj=counter,  # type: ignore[arg-type]
        mode="w|",
        format=tarfile.PAX_FORMAT,
        encoding="utf-8",
        errors="surrogateescape",
    )
    try:
        _Writer(tf, mtime_clamp=mtime_clamp, overlay_upper=overlay_upper).walk(os.path.abspath(src_dir), "")
    finally:
        tf.close()
    counter.flush()
    return counter.size


def write_rootfs_tar(src_dir: str, out: Writable, *, mtime_clamp: int | None = None) -> int:
    """`dockyard export`: a plain tar of a (merged) root filesystem, whiteouts left as they are."""
    return write_layer_tar(src_dir, out, overlay_upper=False, mtime_clamp=mtime_clamp)


class _Writer:
    def __init__(self, tf: tarfile.TarFile, *, mtime_clamp: int | None, overlay_upper: bool) -> None:
        self.tf = tf
        self.clamp = mtime_clamp
        self.overlay_upper = overlay_upper
        self.inodes: dict[tuple[int, int], str] = {}

    def _mtime(self, st: os.stat_result) -> int:
        secs = st.st_mtime_ns // 1_000_000_000
        return min(secs, self.clamp) if self.clamp is not None else secs

    def _children(self, path: str) -> list[tuple[bytes, str, str, os.stat_result, bool]]:
        """(sort key, name on disk, name in tar, lstat, is whiteout) for each child."""
        out = []
        for name in os.listdir(path):
            st = os.lstat(os.path.join(path, name))
            whiteout = self.overlay_upper and stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
            tar_name = WHITEOUT_PREFIX + name if whiteout else name
            out.append((os.fsencode(tar_name), name, tar_name, st, whiteout))
        out.sort(key=lambda c: c[0])
        return out

    def walk(self, path: str, rel: str) -> None:
        for _, name, tar_name, st, whiteout in self._children(path):
            child = os.path.join(path, name)
            child_rel = f"{rel}{tar_name}"
            if whiteout:
                self._whiteout(child_rel, st)
            elif stat.S_ISSOCK(st.st_mode):
                continue
            elif stat.S_ISDIR(st.st_mode):
                xattrs = _read_xattrs(child)
                self._add(child_rel, child, st, xattrs)
                if self.overlay_upper and xattrs.get(OVERLAY_OPAQUE_XATTR) == b"y":
                    self._opaque(f"{child_rel}/{WHITEOUT_OPAQUE}", st)
                self.walk(child, child_rel + "/")
            else:
                self._add(child_rel, child, st, None)

    def _info(self, name: str, st: os.stat_result) -> tarfile.TarInfo:
        import tarfile

        ti = tarfile.TarInfo(name)
        ti.mode = stat.S_IMODE(st.st_mode)
        ti.uid, ti.gid = st.st_uid, st.st_gid
        ti.uname = ti.gname = ""
        ti.mtime = self._mtime(st)
        return ti

    def _add(self, name: str, path: str, st: os.stat_result, xattrs: dict[str, bytes] | None) -> None:
        import tarfile

        ti = self._info(name, st)
        key = (st.st_dev, st.st_ino)
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
            first = self.inodes.get(key)
            if first is not None:
                ti.type = tarfile.LNKTYPE
                ti.linkname = first
                self.tf.addfile(ti)
                return
            self.inodes[key] = name
        if xattrs is None:
            xattrs = _read_xattrs(path)
        ti.pax_headers = {
            f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape")
            for k, v in sorted(xattrs.items())
            if not k.startswith("trusted.overlay.")
        }
        mode = st.st_mode
        if stat.S_ISREG(mode):
            ti.type = tarfile.REGTYPE
            ti.size = st.st_size
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as f:
                self.tf.addfile(ti, f)
            return
        if stat.S_ISDIR(mode):
            ti.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(mode):
            ti.type = tarfile.SYMTYPE
            ti.linkname = os.readlink(path)
        elif stat.S_ISFIFO(mode):
            ti.type = tarfile.FIFOTYPE
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        else:
            raise errors.InvalidArgument(f"cannot archive {path!r}: unsupported file type {stat.S_IFMT(mode):o}")
        self.tf.addfile(ti)

    def _whiteout(self, name: str, st: os.stat_result) -> None:
        """An overlay whiteout (0:0 char device) as the OCI ``.wh.<name>`` empty file.

        Each whiteout is its own entry even though overlayfs may share one inode among them.
        """
        ti = self._info(name, st)
        ti.mode = 0o600
        self.tf.addfile(ti)

    def _opaque(self, name: str, dir_st: os.stat_result) -> None:
        ti = self._info(name, dir_st)
        ti.mode = stat.S_IMODE(dir_st.st_mode) & 0o777
        self.tf.addfile(ti)


def _read_xattrs(path: str) -> dict[str, bytes]:
    """All xattrs of ``path`` (not following a symlink); none where the filesystem has none."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for name in names:
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue  # vanished or unreadable: not part of the layer
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerBlob:
    """A compressed layer written to a temporary file, ready to be ingested into a store.

    Unpacks as ``(path, diff_id, size)`` for callers that only need those three.
    """

    path: str
    diff_id: str  # sha256 of the uncompressed tar, for the image config's rootfs.diff_ids
    size: int  # uncompressed tar size
    digest: str  # sha256 of the blob as written, for the manifest descriptor
    compressed_size: int
    compression: str  # gzip, zstd or none

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter((self.path, self.diff_id, self.size))


def layer_from_dir(
    src_dir: str,
    *,
    overlay_upper: bool,
    mtime_clamp: int | None = None,
    compression: str = "gzip",
    tmp_dir: str | None = None,
) -> LayerBlob:
    """Tar and compress ``src_dir`` into a temporary file (in ``tmp_dir``: put it on the
    content store's filesystem so ingesting is a rename). The caller owns the file."""
    if compression not in _SUFFIXES:
        raise errors.InvalidArgument(f"unknown layer compression {compression!r} (want gzip, zstd or none)")
    from dockyard.ownership import owner_tag

    fd, path = tempfile.mkstemp(prefix=f"layer-{owner_tag()}-", suffix=_SUFFIXES[compression], dir=tmp_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            blob = _CountingWriter(f, hashed=True)
            tar = _write_compressed(src_dir, f, blob, compression, overlay_upper, mtime_clamp)
        if compression == "zstd":  # zstd wrote to the descriptor itself: hash what it wrote
            digest, csize = _hash_file(path)
        else:
            digest, csize = blob.digest(), blob.size
        return LayerBlob(
            path=path,
            diff_id=tar.digest(),
            size=tar.size,
            digest=digest,
            compressed_size=csize,
            compression=compression,
        )
    except BaseException:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        raise


_SUFFIXES = {"gzip": ".tar.gz", "zstd": ".tar.zst", "none": ".tar"}


def _write_compressed(
    src_dir: str, f: IO[bytes], blob: _CountingWriter, compression: str, overlay_upper: bool, clamp: int | None
) -> _CountingWriter:
    """Stream the tar through the compressor; return the (hashed) uncompressed side."""
    if compression == "none":
        write_layer_tar(src_dir, blob, overlay_upper=overlay_upper, mtime_clamp=clamp)
        return blob
    if compression == "gzip":
        import gzip

        with gzip.GzipFile(filename="", mode="wb", fileobj=blob, mtime=0, compresslevel=6) as gz:  # type: ignore[arg-type]
            tar = _CountingWriter(gz, hashed=True)
            write_layer_tar(src_dir, tar, overlay_upper=overlay_upper, mtime_clamp=clamp)
        return tar
    from dockyard.archive.compression import ZstdWriter

    f.flush()
    zw = ZstdWriter(f.fileno())
    tar = _CountingWriter(zw, hashed=True)
    try:
        write_layer_tar(src_dir, tar, overlay_upper=overlay_upper, mtime_clamp=clamp)
    except BaseException:
        zw.abort()
        raise
    zw.close()
    return tar


def _hash_file(path: str) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return "sha256:" + h.hexdigest(), size
