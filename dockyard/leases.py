"""Leases: what a command that writes content holds, so that `rmi`'s garbage collection never
deletes blobs and layer snapshots that are written but not yet recorded as an image.

containerd's idea, kept on the disk as everything else here: a command that writes content
(pull, load, build, commit, import) holds a lease, a file ``<root>/leases/<pid>@<start>.<rand>``
named by its owner (`ownership.owner_tag`). Its mtime is when the lease began. The writer's
content is stamped too: a blob or snapshot it writes gets its mtime as it is written, and one it
finds already there and reuses is touched (`ContentStore.retain`, `OverlaySnapshotter.
retain_layer`). So the rule of the collector is simple and sound:

    content no image refers to is deleted only if its mtime is older than `cutoff`: the
    beginning of the oldest live lease, or the collection's own beginning when none lives.

The times compared are all stamped by the kernel's file clock (a lease's mtime, a blob's, a
temp file the collector creates), never by `time.time()`, whose finer clock can run ahead of
them. A lease whose owner is dead (killed, crashed) is ignored and removed by the next
collection: nothing is protected forever. The collector reads the leases *before* it reads which
images exist, so a writer that recorded its image and dropped its lease in between is seen by
the second read; stamping and deleting are serialised by locks in the stores, so a blob is
either touched before the collector looks at it or found missing (and written again) after.

Pure stdlib; nothing of `dockyard` above `ownership`.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


class Lease:
    """One held lease: ``path`` is its file, ``since`` its beginning (the file's mtime)."""

    __slots__ = ("path", "since")

    def __init__(self, path: str, since: float) -> None:
        self.path = path
        self.since = since


@contextmanager
def hold(leases_dir: str) -> Iterator[Lease]:
    """Hold a lease for the ``with`` block: what is written or retained meanwhile survives any
    collection until the block ends (and a collection after that keeps what an image records)."""
    import threading

    from dockyard.ownership import owner_tag

    os.makedirs(leases_dir, mode=0o700, exist_ok=True)
    while True:
        path = os.path.join(leases_dir, f"{owner_tag()}.{threading.get_ident()}.{os.urandom(6).hex()}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        break
    try:
        since = os.fstat(fd).st_mtime
    finally:
        os.close(fd)
    try:
        yield Lease(path, since)
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def cutoff(leases_dir: str, *, exclude: Lease | None = None, newer_than: float | None = None) -> float:
    """The time (on the file clock) before which unreferenced content may be deleted: the oldest
    live lease's beginning, else now. Leases of dead owners are removed on the way; ``exclude``
    (the caller's own lease, when it cleans up after itself) does not count. ``newer_than``: wait
    (a clock tick, a few ms) until "now" is past it, so that what the caller wrote itself just
    before, within the same tick, counts as older."""
    os.makedirs(leases_dir, mode=0o700, exist_ok=True)
    # "now" as the file clock says it: a fresh file's mtime. Taken before the leases are listed,
    # so a lease that begins after the listing also begins after this.
    oldest = _now(leases_dir)
    if newer_than is not None and oldest <= newer_than:
        import time

        deadline = time.monotonic() + 1.0
        while oldest <= newer_than and time.monotonic() < deadline:
            time.sleep(0.002)
            oldest = _now(leases_dir)
    from dockyard.ownership import owner_alive

    for name in os.listdir(leases_dir):
        if name.startswith("."):
            continue  # another collector's probe
        path = os.path.join(leases_dir, name)
        if exclude is not None and path == exclude.path:
            continue
        alive = owner_alive(name)
        if alive is None:
            continue  # not a lease's name: not ours to judge
        if not alive:
            try:
                os.unlink(path)  # its owner was killed: it protects nothing any more
            except FileNotFoundError:
                pass
            continue
        try:
            oldest = min(oldest, os.lstat(path).st_mtime)
        except FileNotFoundError:
            continue  # released meanwhile: what it wrote is recorded, or no longer wanted
    return oldest


def _now(leases_dir: str) -> float:
    from dockyard.ownership import owner_tag

    probe = os.path.join(leases_dir, f".now-{owner_tag()}-{os.urandom(6).hex()}")
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        return os.fstat(fd).st_mtime
    finally:
        os.close(fd)
        os.unlink(probe)

