"""Registry storage: blob bytes in a content store, repository metadata in SQLite.

Layout under the registry root::

    blobs/sha256/<hex>     every blob and manifest, by digest (dockyard.content.store)
    ingest/                the content store's temps (manifests being written)
    uploads/<uuid>         upload sessions: the data, plus <uuid>.json (see uploads.py)
    registry.db            SQLite (WAL): what each repository links, its manifests and tags

Tables: ``blobs`` (every file the registry vouches for: digest, size, last touched),
``blob_links`` (repository → blob, last touched), ``manifests`` (repository → manifest with
its media type, size, subject, artifactType and annotations), ``manifest_refs`` (what a
manifest refers to: config, layers, index entries) and ``tags``.

The rules that let ``gc`` run while the server serves, whatever the interleaving:

1. Every change is one ``BEGIN IMMEDIATE`` transaction, so a gc sweep and a server write never
   interleave: a manifest PUT either sees its blobs (and touches them, so a later sweep keeps
   them for the grace period) or fails cleanly with MANIFEST_BLOB_UNKNOWN.
2. A ``blobs`` row is only inserted by a transaction that has seen the file in place (an upload
   is renamed into ``blobs/`` inside its transaction), and a blob file is only unlinked by a
   transaction that has seen there is no ``blobs`` row for it. So a row never names a missing
   file, and a file that a row names is never removed.
3. A client only ever sees content through a row, so a file without one (an upload renamed
   just before a crash) is invisible, and gc removes it once it is older than the grace period.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from dockyard.content.store import ContentStore
from dockyard.registry.server.errors import RegistryError, several
from dockyard.registry.server.manifests import PushedManifest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = 1
_SCHEMA = (
    """CREATE TABLE blobs (
        digest TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        touched REAL NOT NULL)""",
    """CREATE TABLE blob_links (
        repo TEXT NOT NULL,
        digest TEXT NOT NULL,
        touched REAL NOT NULL,
        PRIMARY KEY (repo, digest))""",
    "CREATE INDEX blob_links_digest ON blob_links(digest)",
    """CREATE TABLE manifests (
        repo TEXT NOT NULL,
        digest TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        subject TEXT,
        artifact_type TEXT,
        annotations TEXT,
        touched REAL NOT NULL,
        PRIMARY KEY (repo, digest))""",
    "CREATE INDEX manifests_digest ON manifests(digest)",
    "CREATE INDEX manifests_subject ON manifests(repo, subject)",
    """CREATE TABLE manifest_refs (
        repo TEXT NOT NULL,
        parent TEXT NOT NULL,
        child TEXT NOT NULL,
        PRIMARY KEY (repo, parent, child))""",
    """CREATE TABLE tags (
        repo TEXT NOT NULL,
        tag TEXT NOT NULL,
        digest TEXT NOT NULL,
        updated REAL NOT NULL,
        PRIMARY KEY (repo, tag))""",
    "CREATE INDEX tags_digest ON tags(repo, digest)",
)


@dataclass(frozen=True, slots=True)
class ManifestInfo:
    digest: str
    media_type: str
    size: int


class RegistryStorage:
    """One registry root. Safe for use from several threads (a connection per thread) and
    processes (the server and ``gc``)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.content = ContentStore(root)
        self.db_path = os.path.join(root, "registry.db")
        self.uploads_dir = os.path.join(root, "uploads")
        self._local = threading.local()

    # ------------------------------------------------------------ connection and transactions

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            os.makedirs(self.root, exist_ok=True)
            conn = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable enough under WAL
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                self._migrate(conn)
            self._local.conn = conn
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                from dockyard import errors

                raise errors.Unavailable(f"registry database {self.db_path} has schema version {version}, newer "
                                         f"than this dockyard understands ({SCHEMA_VERSION})")
            if version == 0:
                for statement in _SCHEMA:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: the lock is taken up front (``BEGIN IMMEDIATE``)."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several reads (WAL readers never block writers)."""
        conn = self.conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ------------------------------------------------------------ blobs

    def blob_size(self, repo: str, digest: str) -> int | None:
        """Size of a blob (or manifest) the repository has, or None."""
        conn = self.conn()
        row = conn.execute("SELECT b.size FROM blob_links l JOIN blobs b ON b.digest = l.digest "
                           "WHERE l.repo = ? AND l.digest = ?", (repo, digest)).fetchone()
        if row is None:
            row = conn.execute("SELECT size FROM manifests WHERE repo = ? AND digest = ?", (repo, digest)).fetchone()
        return None if row is None else row[0]

    def touch_blob(self, repo: str, digest: str, *, now: float | None = None) -> None:
        """Refresh a link a client has just been told exists (a HEAD before skipping an upload),
        so gc keeps it for a grace period. Writes at most once a minute per link."""
        now = time.time() if now is None else now
        with self.write() as conn:
            if conn.execute("UPDATE blob_links SET touched = ? WHERE repo = ? AND digest = ? AND touched < ?",
                            (now, repo, digest, now - 60)).rowcount:
                conn.execute("UPDATE blobs SET touched = MAX(touched, ?) WHERE digest = ?", (now, digest))

    def blob_path(self, digest: str) -> str:
        return self.content.path(digest)

    def commit_upload(self, repo: str, data_path: str, digest: str, size: int) -> None:
        """Make a verified, fsynced upload file the blob ``digest`` and link it into ``repo``.

        The rename happens inside the transaction (rule 2 of the module docstring): the blob is
        visible to clients exactly when the transaction commits, and a crash before that leaves
        at most an unlinked file that nobody can see.
        """
        target = self.content.path(digest)
        now = time.time()
        with self.write() as conn:
            if os.path.exists(target):
                os.unlink(data_path)  # same digest, same bytes: keep the one in place
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.rename(data_path, target)
            self._register_blob(conn, digest, size, now)
            conn.execute("INSERT INTO blob_links (repo, digest, touched) VALUES (?, ?, ?) "
                         "ON CONFLICT (repo, digest) DO UPDATE SET touched = excluded.touched", (repo, digest, now))
        _fsync_dir(os.path.dirname(target))

    def mount_blob(self, repo: str, source: str, digest: str) -> int | None:
        """Link a blob ``source`` has into ``repo``; its size, or None if ``source`` lacks it."""
        now = time.time()
        with self.write() as conn:
            row = conn.execute("SELECT b.size FROM blob_links l JOIN blobs b ON b.digest = l.digest "
                               "WHERE l.repo = ? AND l.digest = ?", (source, digest)).fetchone()
            if row is None or not os.path.isfile(self.content.path(digest)):
                return None
            conn.execute("INSERT INTO blob_links (repo, digest, touched) VALUES (?, ?, ?) "
                         "ON CONFLICT (repo, digest) DO UPDATE SET touched = excluded.touched", (repo, digest, now))
            conn.execute("UPDATE blobs SET touched = ? WHERE digest = ?", (now, digest))
            return row[0]

    def unlink_blob(self, repo: str, digest: str) -> bool:
        """Remove a repository's link to a blob (the bytes go at the next gc if nothing else
        links them)."""
        with self.write() as conn:
            return conn.execute("DELETE FROM blob_links WHERE repo = ? AND digest = ?", (repo, digest)).rowcount > 0

    # ------------------------------------------------------------ manifests

    def resolve(self, repo: str, *, tag: str | None = None, digest: str | None = None) -> ManifestInfo | None:
        conn = self.conn()
        if tag is not None:
            row = conn.execute("SELECT m.digest, m.media_type, m.size FROM tags t JOIN manifests m "
                               "ON m.repo = t.repo AND m.digest = t.digest WHERE t.repo = ? AND t.tag = ?",
                               (repo, tag)).fetchone()
        else:
            row = conn.execute("SELECT digest, media_type, size FROM manifests WHERE repo = ? AND digest = ?",
                               (repo, digest)).fetchone()
        return None if row is None else ManifestInfo(*row)

    def manifest_bytes(self, digest: str) -> bytes:
        return self.content.read_bytes(digest)

    def missing(self, repo: str, digests: Iterable[str], conn: sqlite3.Connection | None = None) -> list[str]:
        """Which of ``digests`` the repository has neither as a blob nor as a manifest."""
        conn = conn or self.conn()
        out = []
        for d in digests:
            if (conn.execute("SELECT 1 FROM blob_links WHERE repo = ? AND digest = ?", (repo, d)).fetchone() is None
                    and conn.execute("SELECT 1 FROM manifests WHERE repo = ? AND digest = ?",
                                     (repo, d)).fetchone() is None):
                out.append(d)
        return out

    def moved_tags(self, repo: str, digest: str, tags: Iterable[str], conn: sqlite3.Connection | None = None,
                   ) -> list[str]:
        """Which of ``tags`` exist in ``repo`` pointing at another manifest than ``digest``."""
        conn = conn or self.conn()
        out = []
        for tag in tags:
            row = conn.execute("SELECT digest FROM tags WHERE repo = ? AND tag = ?", (repo, tag)).fetchone()
            if row is not None and row[0] != digest:
                out.append(tag)
        return out

    def put_manifest(self, repo: str, digest: str, data: bytes, pushed: PushedManifest, tags: Iterable[str],
                     immutable=None) -> None:
        """Store a validated manifest and tag it: MANIFEST_BLOB_UNKNOWN (one per missing digest)
        if the repository lacks anything it refers to, TAG_INVALID if it would move a tag for
        which ``immutable(tag)`` is true; in either case nothing is stored."""
        tags = list(tags)
        frozen = [t for t in tags if immutable is not None and immutable(t)]
        if frozen and self.moved_tags(repo, digest, frozen):
            raise tag_immutable(repo, self.moved_tags(repo, digest, frozen)[0])
        missing = self.missing(repo, pushed.children)
        if missing:
            raise _blob_unknown(missing)
        created = not self.content.has(digest)
        if created:
            self.content.write_bytes(data, digest)
        now = time.time()
        annotations = json.dumps(pushed.annotations, sort_keys=True) if pushed.annotations else None
        with self.write() as conn:
            missing = self.missing(repo, pushed.children, conn)
            moved = self.moved_tags(repo, digest, frozen, conn) if frozen else []
            if missing or moved:  # a gc, a delete or another push got there between the check and the lock
                if created and conn.execute("SELECT 1 FROM blobs WHERE digest = ?", (digest,)).fetchone() is None:
                    self.content.delete(digest)
                raise _blob_unknown(missing) if missing else tag_immutable(repo, moved[0])
            if not self.content.has(digest):  # gc removed our unregistered copy meanwhile
                self.content.write_bytes(data, digest)
            self._register_blob(conn, digest, len(data), now)
            conn.execute(
                "INSERT INTO manifests (repo, digest, media_type, size, subject, artifact_type, annotations, touched) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repo, digest) DO UPDATE SET touched = excluded.touched",
                (repo, digest, pushed.media_type, len(data), pushed.subject, pushed.artifact_type, annotations, now))
            conn.execute("DELETE FROM manifest_refs WHERE repo = ? AND parent = ?", (repo, digest))
            conn.executemany("INSERT INTO manifest_refs (repo, parent, child) VALUES (?, ?, ?)",
                             [(repo, digest, c) for c in pushed.children])
            for child in pushed.children:  # rule 1: what this manifest needs is young again
                conn.execute("UPDATE blob_links SET touched = ? WHERE repo = ? AND digest = ?", (now, repo, child))
                conn.execute("UPDATE manifests SET touched = ? WHERE repo = ? AND digest = ?", (now, repo, child))
                conn.execute("UPDATE blobs SET touched = ? WHERE digest = ?", (now, child))
            for tag in tags:
                conn.execute("INSERT INTO tags (repo, tag, digest, updated) VALUES (?, ?, ?, ?) "
                             "ON CONFLICT (repo, tag) DO UPDATE SET digest = excluded.digest, updated = excluded.updated",
                             (repo, tag, digest, now))

    def delete_manifest(self, repo: str, digest: str) -> bool:
        """Remove a manifest from a repository, with every tag pointing at it."""
        with self.write() as conn:
            if not conn.execute("DELETE FROM manifests WHERE repo = ? AND digest = ?", (repo, digest)).rowcount:
                return False
            conn.execute("DELETE FROM manifest_refs WHERE repo = ? AND parent = ?", (repo, digest))
            conn.execute("DELETE FROM tags WHERE repo = ? AND digest = ?", (repo, digest))
            return True

    def delete_tag(self, repo: str, tag: str) -> bool:
        with self.write() as conn:
            return conn.execute("DELETE FROM tags WHERE repo = ? AND tag = ?", (repo, tag)).rowcount > 0

    # ------------------------------------------------------------ listings

    def repo_exists(self, repo: str) -> bool:
        conn = self.conn()
        return any(conn.execute(f"SELECT 1 FROM {table} WHERE repo = ? LIMIT 1", (repo,)).fetchone()
                   for table in ("manifests", "blob_links", "tags"))

    def tags_of(self, repo: str, digest: str) -> list[str]:
        return [r[0] for r in self.conn().execute("SELECT tag FROM tags WHERE repo = ? AND digest = ? ORDER BY tag",
                                                   (repo, digest))]

    def tags(self, repo: str, last: str | None, n: int | None) -> tuple[list[str], bool]:
        """Tags in byte order after ``last``, at most ``n``; and whether there are more."""
        return self._page("SELECT tag FROM tags WHERE repo = ? AND tag > ? ORDER BY tag", (repo, last or ""), n)

    def catalog(self, last: str | None, n: int | None) -> tuple[list[str], bool]:
        return self._page("SELECT repo FROM (SELECT repo FROM manifests UNION SELECT repo FROM blob_links) "
                          "WHERE repo > ? ORDER BY repo", (last or "",), n)

    def _page(self, sql: str, args: tuple, n: int | None) -> tuple[list[str], bool]:
        if n is None:
            return [r[0] for r in self.conn().execute(sql, args)], False
        rows = [r[0] for r in self.conn().execute(sql + " LIMIT ?", (*args, n + 1))]
        return rows[:n], len(rows) > n

    def referrers(self, repo: str, subject: str, artifact_type: str | None) -> list[dict]:
        """Descriptors of the manifests in ``repo`` whose subject is ``subject``."""
        sql = "SELECT digest, media_type, size, artifact_type, annotations FROM manifests WHERE repo = ? AND subject = ?"
        args: tuple = (repo, subject)
        if artifact_type is not None:
            sql += " AND artifact_type = ?"
            args += (artifact_type,)
        out = []
        for digest, media_type, size, atype, annotations in self.conn().execute(sql + " ORDER BY digest", args):
            d = {"mediaType": media_type, "digest": digest, "size": size}
            if atype:
                d["artifactType"] = atype
            if annotations:
                d["annotations"] = json.loads(annotations)
            out.append(d)
        return out

    # ------------------------------------------------------------ internals

    @staticmethod
    def _register_blob(conn: sqlite3.Connection, digest: str, size: int, now: float) -> None:
        conn.execute("INSERT INTO blobs (digest, size, touched) VALUES (?, ?, ?) "
                     "ON CONFLICT (digest) DO UPDATE SET touched = excluded.touched", (digest, size, now))


def tag_immutable(repo: str, tag: str) -> RegistryError:
    """ECR's answer to a push that would move an immutable tag (400 TAG_INVALID, in its words)."""
    return RegistryError("TAG_INVALID", f"The image tag '{tag}' already exists in the '{repo}' repository and cannot "
                         "be overwritten because the tag is immutable.", detail={"name": repo, "tag": tag})


def _blob_unknown(missing: list[str]) -> RegistryError:
    return several([RegistryError("MANIFEST_BLOB_UNKNOWN", detail={"digest": d}) for d in missing])


def _fsync_dir(path: str) -> None:
    """Make a rename durable (the data itself was fsynced before it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
