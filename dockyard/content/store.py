"""Content-addressed blob store: ``<root>/blobs/<alg>/<hex>`` plus ``<root>/ingest/`` for temps.

Writers hash while they write into a private temp file under ``ingest/``, fsync, check the
digest, and only then ``rename`` into ``blobs/``. Rename is atomic within a file system, so a
blob path either does not exist or holds exactly the bytes its name promises: a crash, a kill or
a digest mismatch can leave a temp behind in ``ingest/`` (see :meth:`ContentStore.prune_ingest`)
but never a half-written blob. Concurrent writers of the same blob race harmlessly: both temps
hold the same bytes and the second rename (or the existence check) wins nothing and loses nothing.

A blob found already there is touched, not just seen (`ContentStore.retain`, and the commit of a
blob that exists): its mtime says a writer wants it, which `rmi`'s collection respects while that
writer holds a lease (`dockyard.leases`). Touching and the collector's check-then-delete
(`delete_stale`) are serialised by ``<root>/gc.lock`` (shared for writers, exclusive for it).
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from dockyard import errors
from dockyard.oci import digest as _digest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO

CHUNK = 1 << 20
_TEMP_SUFFIX = ".part"


class Writer:
    """What :meth:`ContentStore.ingest` yields: ``write`` chunks, then read ``digest``/``size``."""

    __slots__ = ("_fd", "_hash", "_algorithm", "_final", "size", "expected_size", "temp_path")

    def __init__(self, fd: int, temp_path: str, algorithm: str, expected_size: int | None) -> None:
        import hashlib

        self._fd = fd
        self._hash = hashlib.new(algorithm)
        self._algorithm = algorithm
        self._final: str | None = None
        self.size = 0
        self.expected_size = expected_size
        self.temp_path = temp_path

    def write(self, chunk: bytes) -> int:
        if self._final is not None:
            raise errors.InvalidArgument("write to a blob writer that is already committed")
        if self.expected_size is not None and self.size + len(chunk) > self.expected_size:
            raise errors.DigestMismatch(
                f"blob is larger than the expected {self.expected_size} bytes"
            )
        view = memoryview(chunk)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self._hash.update(chunk)
        self.size += len(chunk)
        return len(chunk)

    @property
    def digest(self) -> str:
        """The digest of what was written so far (final once the ``with`` block has ended)."""
        if self._final is not None:
            return self._final
        return f"{self._algorithm}:{self._hash.hexdigest()}"


class ContentStore:
    """Blobs by digest under ``root``. Safe for concurrent use by threads and processes."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.blobs_dir = os.path.join(root, "blobs")
        self.ingest_dir = os.path.join(root, "ingest")
        self._reclaimed = False

    # ------------------------------------------------------------ reading

    def path(self, digest: str) -> str:
        """Where the blob lives (whether or not it exists). The digest is validated first."""
        algorithm, _, encoded = _digest.validate(digest).partition(":")
        return os.path.join(self.blobs_dir, algorithm, encoded)

    def has(self, digest: str) -> bool:
        return os.path.isfile(self.path(digest))

    def size(self, digest: str) -> int:
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError:
            raise self._not_found(digest) from None

    def open(self, digest: str) -> BinaryIO:
        """The blob as a binary file object (the caller closes it)."""
        try:
            return open(self.path(digest), "rb")  # noqa: SIM115 - the caller owns it
        except FileNotFoundError:
            raise self._not_found(digest) from None

    def read_bytes(self, digest: str, verify: bool = False) -> bytes:
        """The whole blob. With ``verify``, re-hash it and raise DigestMismatch on corruption."""
        with self.open(digest) as f:
            data = f.read()
        if verify:
            import hashlib

            algorithm = digest.partition(":")[0]
            actual = f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"
            if actual != digest:
                raise errors.DigestMismatch(
                    f"blob {digest} is corrupt: its content hashes to {actual}",
                    hint="delete it and pull or import the image again",
                )
        return data

    def verify(self, digest: str) -> bool:
        """True if the stored bytes still hash to ``digest``; BlobNotFound if it is missing."""
        import hashlib

        algorithm, _, encoded = _digest.validate(digest).partition(":")
        h = hashlib.new(algorithm)
        with self.open(digest) as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
        return h.hexdigest() == encoded

    def walk(self) -> Iterator[str]:
        """Every stored blob's digest (names that are not valid digests are ignored)."""
        for algorithm in sorted(_digest.HEX_LENGTHS):
            try:
                names = os.listdir(os.path.join(self.blobs_dir, algorithm))
            except FileNotFoundError:
                continue
            for name in sorted(names):
                candidate = f"{algorithm}:{name}"
                if _digest.is_valid(candidate):
                    yield candidate

    # ------------------------------------------------------------ writing

    @contextmanager
    def ingest(self, expected: str | None = None, expected_size: int | None = None) -> Iterator[Writer]:
        """Stream a blob in: ``with store.ingest(d) as w: w.write(chunk)``.

        On a clean exit the content is fsynced, checked against ``expected`` (and
        ``expected_size``), and renamed into place; ``w.digest`` is then final. On any error the
        temp file is removed and nothing becomes visible.
        """
        algorithm = _digest.algorithm_of(expected) if expected is not None else "sha256"
        os.makedirs(self.ingest_dir, exist_ok=True)
        self.reclaim_once()
        temp_path, fd = self._temp()
        writer = Writer(fd, temp_path, algorithm, expected_size)
        committed = False
        try:
            yield writer
            os.fsync(fd)
            os.close(fd)
            fd = -1
            actual = writer.digest
            if expected is not None and actual != expected:
                raise errors.DigestMismatch(
                    f"digest mismatch: expected {expected}, got {actual} ({writer.size} bytes)",
                    hint="the source sent different content than it promised; try again",
                )
            if expected_size is not None and writer.size != expected_size:
                raise errors.DigestMismatch(
                    f"size mismatch for {actual}: expected {expected_size} bytes, got {writer.size}"
                )
            self._commit(temp_path, actual)
            writer._final = actual
            committed = True
        finally:
            if fd >= 0:
                os.close(fd)
            if not committed:
                _unlink(temp_path)

    def write_bytes(self, data: bytes, expected: str | None = None) -> str:
        """Store ``data`` and return its digest (verified against ``expected`` if given).

        Content already stored is not written again: a blob's name is its digest, so an
        existing blob *is* this content (and a rewrite would cost an fsync for nothing)."""
        import hashlib

        algorithm = _digest.algorithm_of(expected) if expected is not None else "sha256"
        digest = f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"
        if expected is not None and digest != expected:
            raise errors.DigestMismatch(f"digest mismatch: expected {expected}, got {digest} ({len(data)} bytes)",
                                        hint="the source sent different content than it promised; try again")
        if self.retain(digest):
            return digest
        with self.ingest(expected, len(data)) as w:
            w.write(data)
        return w.digest

    def ingest_file(
        self, src: BinaryIO, expected: str | None = None, expected_size: int | None = None
    ) -> tuple[str, int]:
        """Copy a readable binary file object in; return ``(digest, size)``."""
        with self.ingest(expected, expected_size) as w:
            while chunk := src.read(CHUNK):
                w.write(chunk)
        return w.digest, w.size

    def retain(self, digest: str) -> bool:
        """`has` for a writer about to reuse the blob: touch it (its mtime is now) so that a
        garbage collection respecting leases (`dockyard.leases`) keeps it; False if it is not
        there. Serialised with `delete_stale`, so the blob is either touched before the collector
        looks at it, or already gone (and the caller writes it again)."""
        path = self.path(digest)
        with self._gc_lock(exclusive=False):
            try:
                os.utime(path)
            except FileNotFoundError:
                return False
        return True

    def delete_stale(self, digests, cutoff: float) -> list[str]:
        """Delete those of ``digests`` whose mtime is older than ``cutoff`` (a file-clock time,
        `dockyard.leases.cutoff`); the ones deleted. Blobs written or retained since are kept."""
        deleted = []
        with self._gc_lock(exclusive=True):
            for digest in digests:
                path = self.path(digest)
                try:
                    if os.lstat(path).st_mtime >= cutoff:
                        continue
                    os.unlink(path)
                except FileNotFoundError:
                    continue
                deleted.append(digest)
        return deleted

    def delete(self, digest: str) -> bool:
        """Remove a blob; False if it was not there (deletes race with other deleters)."""
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            return False
        return True

    def prune_ingest(self, older_than: float = 24 * 3600.0) -> int:
        """Remove temps left by dead writers: a temp's name says which process (pid and start
        time) writes it, and that writer holds an flock on it, so a live writer's temp is never
        touched. Temps of an older, unowned form go once idle for ``older_than`` s."""
        return self.reclaim(older_than)[0]

    def reclaim(self, older_than: float = 24 * 3600.0) -> tuple[int, int]:
        """Like `prune_ingest`: (temps removed, bytes freed)."""
        from dockyard.ownership import reclaim

        self._reclaimed = True
        return reclaim(self.ingest_dir, grace=older_than)

    def reclaim_once(self) -> None:
        """What killed writers left, reclaimed once per process by the first writer."""
        if not self._reclaimed:
            self.reclaim()

    # ------------------------------------------------------------ internals

    def _temp(self) -> tuple[str, int]:
        """A fresh temp file named ``<pid>@<start time>.<thread>.<random>.part``, flocked for as
        long as it is written: unique across processes and threads, and it tells
        :meth:`prune_ingest` whose it is and that its writer still lives."""
        import fcntl
        import threading

        from dockyard.ownership import owner_tag

        while True:
            name = f"{owner_tag()}.{threading.get_ident()}.{os.urandom(8).hex()}{_TEMP_SUFFIX}"
            path = os.path.join(self.ingest_dir, name)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            except FileExistsError:  # pragma: no cover - 64 random bits
                continue
            fcntl.flock(fd, fcntl.LOCK_EX)
            return path, fd

    def _commit(self, temp_path: str, digest: str) -> None:
        target = self.path(digest)
        directory = os.path.dirname(target)
        os.makedirs(directory, exist_ok=True)
        with self._gc_lock(exclusive=False):  # no collector between the check and the rename
            try:
                os.utime(target)  # there already: it is this content; touched, it is retained
            except FileNotFoundError:
                os.rename(temp_path, target)
                _fsync_dir(directory)
                return
        _unlink(temp_path)

    @contextmanager
    def _gc_lock(self, *, exclusive: bool) -> Iterator[None]:
        """``<root>/gc.lock``: shared by writers that commit or retain a blob, exclusive for a
        collector checking mtimes and deleting, so the two never interleave."""
        import fcntl

        os.makedirs(self.root, exist_ok=True)
        fd = os.open(os.path.join(self.root, "gc.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def _not_found(self, digest: str) -> errors.BlobNotFound:
        return errors.BlobNotFound(f"blob {digest} not found in content store {self.root}")


def _unlink(path: str) -> int:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return 0
    return 1


def _fsync_dir(path: str) -> None:
    """Make the rename itself durable, not just the file's bytes."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
