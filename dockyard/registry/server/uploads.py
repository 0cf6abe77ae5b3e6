"""Blob upload sessions: ``<root>/uploads/<uuid>`` holds the bytes received so far and
``<uuid>.json`` the sidecar (repository, digest algorithm, committed offset, start time).

Bytes are hashed as they are written, so closing a 50 MB upload costs one fsync, not a second
read. The running hash lives in memory; a restarted server re-hashes the file once on first use.
A chunk that fails half way (client gone, server killed) is cut off again: the sidecar's offset
only moves after a whole chunk is on disk, and a reload truncates the file to it. Nothing in
``uploads/`` is ever visible to clients: only :meth:`RegistryStorage.commit_upload` makes an
upload a blob, after :meth:`Uploads.verify` has checked its digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time

from dockyard.registry.server.errors import RegistryError

_IDLE_IN_MEMORY_S = 3600.0  # forget the in-memory state of sessions idle this long (files stay)


class Upload:
    """One session. Writes are serialised by the caller (one request at a time per session)."""

    __slots__ = ("id", "repo", "algorithm", "offset", "started", "updated", "path", "_hasher", "lock")

    def __init__(self, uid: str, repo: str, algorithm: str, offset: int, started: float, path: str) -> None:
        self.id, self.repo, self.algorithm, self.offset, self.started = uid, repo, algorithm, offset, started
        self.updated = time.time()
        self.path = path
        self._hasher = None if offset else hashlib.new(algorithm)
        self.lock = None  # an asyncio.Lock, set by the HTTP layer

    @property
    def sidecar(self) -> str:
        return self.path + ".json"

    # The methods below do blocking I/O: the server runs them in worker threads.

    def _hash(self):
        if self._hasher is None:  # resumed after a restart: hash what is on disk, once
            h = hashlib.new(self.algorithm)
            with open(self.path, "rb") as f:
                remaining = self.offset
                while remaining and (chunk := f.read(min(1 << 20, remaining))):
                    h.update(chunk)
                    remaining -= len(chunk)
            self._hasher = h
        return self._hasher

    def checkpoint(self):
        """State to :meth:`rollback` to if the next chunk fails part way."""
        return self.offset, self._hash().copy()

    def rollback(self, state) -> None:
        self.offset, self._hasher = state[0], state[1]
        try:
            os.truncate(self.path, self.offset)
        except FileNotFoundError:
            pass

    def write(self, fd: int, data: bytes | bytearray | memoryview) -> None:
        h = self._hash()
        view = memoryview(data)
        while view:
            n = os.pwrite(fd, view, self.offset)
            h.update(view[:n])
            self.offset += n
            view = view[n:]

    def save(self) -> None:
        """Record the offset (after a whole chunk is on disk)."""
        self.updated = time.time()
        tmp = f"{self.sidecar}.{threading.get_ident()}.tmp"
        with open(tmp, "w") as f:
            json.dump({"repo": self.repo, "algorithm": self.algorithm, "offset": self.offset,
                       "started": self.started, "updated": self.updated}, f)
        os.replace(tmp, self.sidecar)

    def digest(self, algorithm: str) -> str:
        if algorithm == self.algorithm:
            return f"{algorithm}:{self._hash().hexdigest()}"
        h = hashlib.new(algorithm)  # the client asked for another algorithm at the end
        with open(self.path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return f"{algorithm}:{h.hexdigest()}"

    def fsync(self) -> None:
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Uploads:
    """The sessions of one registry root."""

    def __init__(self, directory: str) -> None:
        self.dir = directory
        self._live: dict[str, Upload] = {}

    def create(self, repo: str, uid: str, algorithm: str = "sha256") -> Upload:
        if algorithm not in ("sha256", "sha512"):
            raise RegistryError("DIGEST_INVALID", "unsupported digest algorithm", detail={"algorithm": algorithm[:40]})
        os.makedirs(self.dir, exist_ok=True)
        path = os.path.join(self.dir, uid)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        upload = Upload(uid, repo, algorithm, 0, time.time(), path)
        upload.save()
        self._forget_idle()
        self._live[uid] = upload
        return upload

    def get(self, repo: str, uid: str) -> Upload:
        """The session ``uid`` of ``repo`` (``uid`` already checked to be a UUID)."""
        upload = self._live.get(uid)
        if upload is None:
            upload = self._load(uid)
        if upload is None or upload.repo != repo or not os.path.exists(upload.path):
            self._live.pop(uid, None)
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": uid})
        return upload

    def open_fd(self, upload: Upload) -> int:
        try:
            return os.open(upload.path, os.O_WRONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            self._live.pop(upload.id, None)
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload.id}) from None

    def discard(self, upload: Upload) -> None:
        """Drop a session and its data (cancelled, failed verification, or turned into a blob)."""
        self._live.pop(upload.id, None)
        for path in (upload.path, upload.sidecar):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def verify(self, upload: Upload, digest: str) -> None:
        """DIGEST_INVALID (and the data discarded) unless the upload hashes to ``digest``;
        on success the data is fsynced, ready to be renamed into place."""
        actual = upload.digest(digest.partition(":")[0])
        if actual != digest:
            self.discard(upload)
            raise RegistryError("DIGEST_INVALID", detail={"expected": digest, "actual": actual,
                                                          "size": upload.offset})
        upload.fsync()

    def _load(self, uid: str) -> Upload | None:
        path = os.path.join(self.dir, uid)
        try:
            with open(path + ".json") as f:
                meta = json.load(f)
            size = os.stat(path).st_size
            offset = min(int(meta["offset"]), size)
            if size > offset:  # a chunk that never completed
                os.truncate(path, offset)
            upload = Upload(uid, str(meta["repo"]), str(meta.get("algorithm", "sha256")), offset,
                            float(meta.get("started", 0)), path)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if upload.algorithm not in ("sha256", "sha512"):
            return None
        self._live[uid] = upload
        return upload

    def _forget_idle(self) -> None:
        cutoff = time.time() - _IDLE_IN_MEMORY_S
        for uid in [u for u, up in self._live.items() if up.updated < cutoff and (up.lock is None or not up.lock.locked())]:
            del self._live[uid]
