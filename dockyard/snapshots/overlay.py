"""The overlayfs snapshotter: committed layers unpacked once, containers stacked on top.

Layout under ``root`` (everything a path, nothing in a database, so a glance at the disk tells
the truth and two CLI processes need no daemon to agree)::

    layers/<chain-hex>/fs        the layer unpacked in overlay form (whiteouts as 0:0 devices)
    layers/<chain-hex>/parent    the parent chain ID, empty for a bottom layer
    layers/<chain-hex>/size      uncompressed tar size; diff_id: the layer's diff ID
    active/<key>/{upper,work}    a container's (or build step's) writable layer
    active/<key>/parent          the chain ID it stacks on, so that layer cannot be removed
    tmp/                         unpacks in progress and removals being deleted
    empty/                       the lowerdir of a ``scratch`` snapshot
    lock                         flock taken for the few steps that check-then-act

Layers are keyed by chain ID, so the same stack unpacks once whatever image it came from. An
unpack happens in ``tmp/`` and is renamed into ``layers/`` whole: a killed unpack leaves
nothing visible, and when two processes race the first rename wins and the other drops its
copy. Snapshotters return `Mount`s and mount nothing (see `dockyard.linux.mount`).

This module is on the ``dockyard run`` hot path: it imports no archive code until it unpacks.
"""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager

from dockyard import errors
from dockyard.linux.mount import Mount
from dockyard.oci import digest as dg

TYPE_CHECKING = False  # without importing typing: this module is on the `run` hot path
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO

    from dockyard.archive.apply import ApplyResult

_KEY_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_KEY_CHARS = _KEY_FIRST | frozenset("_.-@")
_HEX_ALGOS = {64: "sha256", 128: "sha512"}
MAX_DEPTH = 500  # a parent chain longer than this is a loop, not an image
STALE_TMP_SECONDS = 60


class OverlaySnapshotter:
    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self._layers = os.path.join(self.root, "layers")
        self._active = os.path.join(self.root, "active")
        self._tmp = os.path.join(self.root, "tmp")
        self._empty = os.path.join(self.root, "empty")
        self._cleaned = False

    # -- paths -----------------------------------------------------------------------------

    def _layer(self, chain_id: str) -> str:
        """The layer's directory; validating the ID keeps ``sha256:../..`` from being a path."""
        return os.path.join(self._layers, dg.hex_of(chain_id))

    def _key_dir(self, key: str) -> str:
        if not isinstance(key, str) or not (0 < len(key) <= 128 and key[0] in _KEY_FIRST
                                            and set(key) <= _KEY_CHARS):
            raise errors.InvalidArgument(
                f"invalid snapshot key {key!r}: use letters, digits, '_', '.', '-' and '@' (at most 128)"
            )
        return os.path.join(self._active, key)

    def _ensure_dirs(self) -> None:
        for d in (self._layers, self._tmp):
            os.makedirs(d, mode=0o700, exist_ok=True)
        if not self._cleaned:  # the first change a process makes reclaims what dead ones left
            self.cleanup()
        # 0711: a user-namespaced container's root (an unprivileged host uid) must traverse to
        # its own upper/work dirs; it still cannot list anyone else's.
        if not os.path.isdir(self._active):
            os.makedirs(self._active, mode=0o711, exist_ok=True)
            os.chmod(self._active, 0o711)
        if not os.path.isdir(self._empty):
            os.makedirs(self._empty, mode=0o755, exist_ok=True)
            os.chmod(self._empty, 0o755)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise check-then-act steps (parent still there? any child?) across processes."""
        import fcntl

        os.makedirs(self.root, mode=0o700, exist_ok=True)
        fd = os.open(os.path.join(self.root, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- committed layers ------------------------------------------------------------------

    def has_layer(self, chain_id: str) -> bool:
        """One stat: a layer directory exists only once its unpack is complete."""
        return os.path.isdir(self._layer(chain_id))

    def layer_path(self, chain_id: str) -> str:
        """The unpacked content (``fs/``) of a committed layer."""
        return os.path.join(self._layer(chain_id), "fs")

    def unpack_layer(
        self, chain_id: str, parent: str | None, src: str | IO[bytes], *, diff_id: str | None = None
    ) -> ApplyResult:
        """Unpack layer ``src`` as ``chain_id`` on top of ``parent`` (None for a bottom layer).

        Idempotent: an already committed layer is left alone and its recorded result returned.
        With ``diff_id`` the content is checked before it becomes visible, so a layer that does
        not match its image config never appears (`DigestMismatch`).
        """
        from dockyard.archive.apply import apply_layer

        final = self._layer(chain_id)
        if os.path.isdir(final) and self.retain_layer(chain_id):
            return self._stored_result(chain_id)
        if parent is not None and not self.has_layer(parent):
            raise errors.NotFound(f"cannot unpack layer {chain_id}: parent layer {parent} is not unpacked")
        self._ensure_dirs()
        import fcntl
        import tempfile

        from dockyard.ownership import owner_tag

        tmp = tempfile.mkdtemp(prefix=f"{dg.hex_of(chain_id)[:12]}-{owner_tag()}-", dir=self._tmp)
        lock_fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)  # tells `cleanup` this unpack is alive
            fs = os.path.join(tmp, "fs")
            os.mkdir(fs, 0o755)
            os.chmod(fs, 0o755)
            result = apply_layer(src, fs, mode="overlay")
            if diff_id is not None and result.diff_id != diff_id:
                raise errors.DigestMismatch(
                    f"layer {chain_id} has diff ID {result.diff_id}, expected {diff_id}"
                )
            _write(os.path.join(tmp, "parent"), parent or "")
            _write(os.path.join(tmp, "size"), str(result.size))
            _write(os.path.join(tmp, "diff_id"), result.diff_id)
            with self._lock():
                if parent is not None and not self.has_layer(parent):
                    raise errors.NotFound(f"parent layer {parent} was removed while {chain_id} was unpacked")
                try:
                    os.rename(tmp, final)
                except OSError as e:
                    if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                        raise
                    # another process committed the same chain first: theirs stands, ours goes
            return result
        finally:
            os.close(lock_fd)
            if os.path.lexists(tmp):
                _force_rmtree(tmp)

    def _stored_result(self, chain_id: str) -> ApplyResult:
        from dockyard.archive.apply import ApplyResult

        d = self._layer(chain_id)
        size = int(_read(os.path.join(d, "size")) or 0)
        return ApplyResult(size=size, diff_id=_read(os.path.join(d, "diff_id")))

    def parent_of(self, chain_id: str) -> str | None:
        try:
            return _read(os.path.join(self._layer(chain_id), "parent")) or None
        except FileNotFoundError:
            raise errors.NotFound(f"layer {chain_id} is not unpacked") from None

    def lowerdirs(self, chain_id: str) -> list[str]:
        """The ``fs/`` directories of the stack ending at ``chain_id``, top layer first."""
        out: list[str] = []
        cur: str | None = chain_id
        while cur:
            if len(out) >= MAX_DEPTH:
                raise errors.InvalidArgument(f"layer chain of {chain_id} is longer than {MAX_DEPTH}: a loop?")
            out.append(os.path.join(self._layer(cur), "fs"))
            cur = self.parent_of(cur)
        return out

    def depth(self, chain_id: str) -> int:
        return len(self.lowerdirs(chain_id))

    def layer_size(self, chain_id: str) -> int | None:
        """Uncompressed size recorded at unpack time; None if the layer is not unpacked."""
        try:
            return int(_read(os.path.join(self._layer(chain_id), "size")))
        except (FileNotFoundError, ValueError):
            return None

    def list_layers(self) -> list[str]:
        try:
            names = os.listdir(self._layers)
        except FileNotFoundError:
            return []
        ids = (f"{_HEX_ALGOS[len(n)]}:{n}" for n in names if len(n) in _HEX_ALGOS)
        return sorted(i for i in ids if dg.is_valid(i))

    def retain_layer(self, chain_id: str) -> bool:
        """`has_layer` for a writer about to reuse the layer (unpack on it, stack on it): touch it
        so that a collection respecting leases (`dockyard.leases`) keeps it; False if it is not
        there. Under the lock `remove_layer` takes, so it never falls between its check and act."""
        d = self._layer(chain_id)
        with self._lock():
            try:
                os.utime(d)
            except FileNotFoundError:
                return False
        return True

    def remove_layer(self, chain_id: str, *, older_than: float | None = None) -> bool:
        """Delete a committed layer; `Conflict` while a layer or an active snapshot stacks on it.
        With ``older_than`` (a file-clock time, `dockyard.leases.cutoff`) a layer unpacked or
        retained since then is kept: False."""
        d = self._layer(chain_id)
        with self._lock():
            try:
                if older_than is not None and os.stat(d).st_mtime >= older_than:
                    return False
            except FileNotFoundError:
                pass
            if not os.path.isdir(d):
                raise errors.NotFound(f"layer {chain_id} is not unpacked")
            for child in self.list_layers():
                if self._parent_or_none(child) == chain_id:
                    raise errors.Conflict(f"layer {chain_id} is the parent of layer {child}")
            for key in self._active_keys():
                if _read_or(os.path.join(self._active, key, "parent")) == chain_id:
                    raise errors.Conflict(f"layer {chain_id} is in use by snapshot {key!r}")
            self._ensure_dirs()
            import tempfile

            from dockyard.ownership import owner_tag

            grave = tempfile.mkdtemp(prefix=f"rm-{owner_tag()}-", dir=self._tmp)
            os.rename(d, os.path.join(grave, "layer"))  # gone from view in one step
        _force_rmtree(grave)
        return True

    def _parent_or_none(self, chain_id: str) -> str | None:
        try:
            return self.parent_of(chain_id)
        except errors.NotFound:
            return None

    # -- active snapshots ------------------------------------------------------------------

    def prepare(self, key: str, parent: str | None, *, readonly: bool = False, uid_shift: int = 0) -> list[Mount]:
        """Create snapshot ``key`` over layer ``parent`` (None: ``scratch``) and say how to mount it.

        Writable: one overlay with ``upper``/``work`` under ``active/<key>``. Read-only: a bind
        mount for zero or one layer (overlayfs needs two lowers without an upper), else a
        lowerdir-only overlay. The mount options must fit in one page (the kernel's limit for
        mount data); deeper stacks are refused with a clear error, never truncated.

        With ``uid_shift`` (a user-namespaced container whose root is host uid ``uid_shift``) the
        lowers are copies of the layers with every owner shifted by that much, made once per
        shift (Docker's userns-remap keeps such a copy too), and upper/work belong to the shift.
        """
        adir = self._key_dir(key)
        lowers = self._lowers(parent, uid_shift)
        upper, work = os.path.join(adir, "upper"), os.path.join(adir, "work")
        mounts = self._mounts(lowers, upper, work, readonly=readonly)
        self._ensure_dirs()
        with self._lock():
            if parent is not None and not self.has_layer(parent):
                raise errors.NotFound(f"layer {parent} is not unpacked")
            try:
                os.mkdir(adir, 0o700)
            except FileExistsError:
                raise errors.AlreadyExists(f"snapshot {key!r} already exists") from None
            try:
                _write(os.path.join(adir, "parent"), parent or "")
                _write(os.path.join(adir, "readonly"), "1" if readonly else "")
                _write(os.path.join(adir, "uidshift"), str(uid_shift))
                if not readonly:
                    os.mkdir(upper, 0o755)
                    os.chmod(upper, 0o755)  # the container's / : not subject to our umask
                    os.mkdir(work, 0o700)
                    if uid_shift:
                        for d in (adir, upper, work):
                            os.chown(d, uid_shift, uid_shift)
            except BaseException:
                _force_rmtree(adir)
                raise
        return mounts

    def mounts(self, key: str) -> list[Mount]:
        """The mounts of an existing snapshot again (e.g. to restart a container)."""
        adir = self._key_dir(key)
        if not os.path.isdir(adir):
            raise errors.NotFound(f"snapshot {key!r} does not exist")
        parent = _read_or(os.path.join(adir, "parent")) or None
        lowers = self._lowers(parent, int(_read_or(os.path.join(adir, "uidshift")) or 0))
        readonly = _read_or(os.path.join(adir, "readonly")) == "1"
        return self._mounts(lowers, os.path.join(adir, "upper"), os.path.join(adir, "work"), readonly=readonly)

    def _lowers(self, parent: str | None, uid_shift: int) -> list[str]:
        if parent is None:
            return []
        if not uid_shift:
            return self.lowerdirs(parent)
        out = []
        chain: str | None = parent
        while chain:
            out.append(self._shifted(chain, uid_shift))
            chain = self.parent_of(chain)
        return out

    def _shifted(self, chain_id: str, shift: int) -> str:
        """The layer's content with owners shifted by `shift`, copied once (atomic rename)."""
        final = os.path.join(self.root, "shifted", str(shift), dg.hex_of(chain_id))
        if os.path.isdir(final):
            return os.path.join(final, "fs")
        import subprocess

        from dockyard.ownership import owner_tag

        os.makedirs(os.path.dirname(final), exist_ok=True)
        tmp = os.path.join(os.path.dirname(final), f".tmp-{owner_tag()}-{os.urandom(6).hex()}")
        os.mkdir(tmp, 0o700)
        try:
            # cp -a keeps hardlinks, devices (overlay whiteouts), xattrs (opaque dirs) and times
            subprocess.run(["cp", "-a", self.layer_path(chain_id), os.path.join(tmp, "fs")], check=True)
            _shift_owners(os.path.join(tmp, "fs"), shift)
            try:
                os.rename(tmp, final)
            except OSError:  # another process shifted it first
                _force_rmtree(tmp)
        except BaseException:
            _force_rmtree(tmp)
            raise
        return os.path.join(final, "fs")

    def _mounts(self, lowers: list[str], upper: str, work: str, *, readonly: bool) -> list[Mount]:
        for p in (*lowers, upper, work, self._empty):
            if ":" in p or "," in p:
                raise errors.InvalidArgument(
                    f"overlay paths cannot contain ':' or ',': {p!r}", hint="choose a --root without them"
                )
        if readonly:
            if len(lowers) <= 1:
                src = lowers[0] if lowers else self._empty
                return [Mount(type="bind", source=src, options=("ro", "rbind"))]
            options: tuple[str, ...] = ("lowerdir=" + ":".join(lowers), "index=off")
        else:
            options = (
                "lowerdir=" + ":".join(lowers or [self._empty]),
                f"upperdir={upper}",
                f"workdir={work}",
                "index=off",  # as Docker: lets the same lowers serve many overlays safely
            )
        data = ",".join(options)
        limit = os.sysconf("SC_PAGE_SIZE") - 1  # mount(2) copies one page including the NUL
        if len(data) > limit:
            raise errors.InvalidArgument(
                f"image has too many layers ({len(lowers)}) for one overlay mount: the options take "
                f"{len(data)} bytes, the kernel accepts {limit}",
                hint="squash the image into fewer layers, or use a shorter --root path",
            )
        return [Mount(type="overlay", source="overlay", options=options)]

    def upper_dir(self, key: str) -> str:
        return os.path.join(self._key_dir(key), "upper")

    def work_dir(self, key: str) -> str:
        return os.path.join(self._key_dir(key), "work")

    def exists(self, key: str) -> bool:
        return os.path.isdir(self._key_dir(key))

    def _active_keys(self) -> list[str]:
        try:
            return sorted(os.listdir(self._active))
        except FileNotFoundError:
            return []

    def list_active(self) -> list[str]:
        return self._active_keys()

    def remove(self, key: str, *, missing_ok: bool = False, later: list | None = None) -> None:
        """Delete snapshot ``key``; the caller unmounts it first (we mount nothing).

        The directory is renamed away first, so a half-deleted snapshot is never visible, and
        then removed even where overlayfs left ``work/work`` with mode 000. With ``later`` (a
        list), the deletion of what was renamed away is appended to it as a call, for the caller
        to make once it has told its own waiters (what a killed caller leaves is a dead temp,
        reclaimed by `cleanup`).
        """
        adir = self._key_dir(key)
        self._ensure_dirs()
        from dockyard.ownership import owner_tag

        grave = os.path.join(self._tmp, f"rm-{owner_tag()}-{os.urandom(6).hex()}")
        os.mkdir(grave, 0o700)
        try:
            os.rename(adir, os.path.join(grave, "snapshot"))
        except FileNotFoundError:
            os.rmdir(grave)
            if missing_ok:
                return
            raise errors.NotFound(f"snapshot {key!r} does not exist") from None
        if later is not None:
            later.append(lambda: _force_rmtree(grave))
        else:
            _force_rmtree(grave)

    def usage(self, key: str) -> int:
        """What the snapshot's upper layer holds, counted as Docker's SizeRw (file sizes, each
        inode once, directories nothing)."""
        from dockyard.fsutil import content_bytes

        return content_bytes(self.upper_dir(key))

    def cleanup(self) -> tuple[int, int]:
        """Delete what killed unpacks, removals and uid shifts left in ``tmp/`` and
        ``shifted/*/`` (never a live process's: see `dockyard.ownership`); (entries, bytes)."""
        from dockyard.ownership import reclaim

        self._cleaned = True
        removed, freed = reclaim(self._tmp, grace=STALE_TMP_SECONDS)
        shifted = os.path.join(self.root, "shifted")
        try:
            shifts = os.listdir(shifted)
        except FileNotFoundError:
            shifts = []
        for shift in shifts:
            n, size = reclaim(os.path.join(shifted, shift), grace=STALE_TMP_SECONDS, prefix=".tmp-")
            removed, freed = removed + n, freed + size
        n, size = self._reclaim_dead_build_snapshots()
        return removed + n, freed + size

    def _reclaim_dead_build_snapshots(self) -> tuple[int, int]:
        """A build step's snapshot (key ``build-<owner>-…``) whose build was killed; never one
        that is still mounted (its mount point in the engine's tmp is reclaimed first)."""
        from dockyard.fsutil import disk_usage
        from dockyard.ownership import is_dead

        removed = freed = 0
        for key in self._active_keys():
            path = self._key_dir(key)
            if not key.startswith("build-") or not is_dead(path, grace=STALE_TMP_SECONDS) \
                    or _mounted_from(path):
                continue
            size = disk_usage(path)
            self.remove(key, missing_ok=True)
            removed, freed = removed + 1, freed + size
        return removed, freed


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def _read_or(path: str, default: str = "") -> str:
    try:
        return _read(path)
    except OSError:
        return default


def _force_rmtree(path: str) -> None:
    """rmtree that copes with directories overlayfs leaves unreadable (``work/work`` is 000)
    and with a concurrent `cleanup` deleting the same tree."""
    from dockyard.fsutil import rmtree

    rmtree(path)


def _shift_owners(top: str, shift: int) -> None:
    """lchown every entry by +shift, restoring the set-id bits chown clears on files."""
    import stat

    st = os.lstat(top)
    os.lchown(top, st.st_uid + shift, st.st_gid + shift)
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            if (st.st_dev, st.st_ino) in seen:
                continue  # a hardlink already shifted
            seen.add((st.st_dev, st.st_ino))
            os.lchown(path, st.st_uid + shift, st.st_gid + shift)
            if stat.S_ISREG(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                os.chmod(path, stat.S_IMODE(st.st_mode))


def _mounted_from(snapshot_dir: str) -> bool:
    """Is an overlay mounted with its upper or lower in ``snapshot_dir``?"""
    with open("/proc/self/mountinfo") as f:
        return any(snapshot_dir + "/" in line for line in f)
