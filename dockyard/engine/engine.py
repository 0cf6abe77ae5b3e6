"""The engine: the one library API the CLI and the HTTP API call.

It only wires stores together, lazily, so a command pays for what it touches: `dockyard ps`
opens the database and nothing else; `dockyard run` opens the database, reads two blobs and
stats one snapshot directory before it forks.
"""

from __future__ import annotations

import os

DEFAULT_ROOT = "/var/lib/dockyard"
DEFAULT_RUNROOT = "/run/dockyard"


class Engine:
    def __init__(self, root: str | None = None, runroot: str | None = None) -> None:
        self.root = os.path.abspath(root or os.environ.get("DOCKYARD_ROOT") or DEFAULT_ROOT)
        self.runroot = os.path.abspath(runroot or os.environ.get("DOCKYARD_RUNROOT") or DEFAULT_RUNROOT)
        self._db = self._content = self._snapshots = self._images = None
        self._tmp_reclaimed = False

    @property
    def db(self):
        if self._db is None:
            from dockyard.state.db import Database

            self._db = Database(os.path.join(self.root, "state.db"))
        return self._db

    @property
    def content(self):
        if self._content is None:
            from dockyard.content.store import ContentStore

            self._content = ContentStore(os.path.join(self.root, "content"))
        return self._content

    @property
    def snapshots(self):
        if self._snapshots is None:
            from dockyard.snapshots.overlay import OverlaySnapshotter

            self._snapshots = OverlaySnapshotter(os.path.join(self.root, "snapshots"))
        return self._snapshots

    @property
    def images(self):
        if self._images is None:
            from dockyard.images.store import ImageStore

            self._images = ImageStore(self.content, self.db, self.snapshots, os.path.join(self.root, "leases"))
        return self._images

    def lease(self):
        """``with engine.lease() as lease:`` around a command that writes content (pull, load,
        build, commit, import): until the block ends, `rmi`'s collection keeps what it writes or
        retains (`dockyard.leases`)."""
        from dockyard import leases

        return leases.hold(os.path.join(self.root, "leases"))

    def tmp_dir(self) -> str:
        """``<root>/tmp``, for temps of commit, cp, import, save, bootstrap: made if missing, and
        the first time a process asks, emptied of what killed processes left there (a temp's
        name says whose it is, see `dockyard.ownership`)."""
        path = os.path.join(self.root, "tmp")
        os.makedirs(path, mode=0o700, exist_ok=True)
        self.reclaim_tmp_once()
        return path

    def reclaim_tmp_once(self) -> None:
        """What killed commands left in ``<root>/tmp``, reclaimed once per process (one
        listdir when there is nothing)."""
        if not self._tmp_reclaimed:
            from dockyard.ownership import reclaim

            self._tmp_reclaimed = True
            reclaim(os.path.join(self.root, "tmp"))

    def reclaim_temps(self) -> tuple[int, int]:
        """Reclaim every temp a killed process left (blob ingests, unpacks, snapshot removals,
        engine temps): (entries removed, bytes freed). Live processes' temps are never touched."""
        from dockyard.ownership import reclaim

        n1, b1 = self.content.reclaim()
        n3, b3 = reclaim(os.path.join(self.root, "tmp"))  # first: it detaches dead builds' mounts
        n2, b2 = self.snapshots.cleanup()
        self._tmp_reclaimed = True
        return n1 + n2 + n3, b1 + b2 + b3

    def container_data_dir(self, container_id: str) -> str:
        """Per-container files that outlive reboots (logs, lock): under the storage root."""
        return os.path.join(self.root, "containers", container_id)

    def container_dir(self, container_id: str) -> str:
        """Per-container runtime files (bundle, /etc/hosts…): on the runroot tmpfs, gone at reboot."""
        return os.path.join(self.runroot, "containers", container_id)
