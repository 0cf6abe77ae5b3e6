"""The state database: images, tags and containers in one SQLite file (WAL).

Dockyard has no daemon, so several CLI processes may change state at once. SQLite gives us that
safely if every write transaction starts with ``BEGIN IMMEDIATE`` (the write lock is taken up
front and waited for under ``busy_timeout``, instead of a read transaction failing to upgrade
with "database is locked") and readers use WAL (they never block writers or each other).

Connections are per thread and per process (re-opened after ``fork``), opened lazily, and the
schema script only runs when ``PRAGMA user_version`` says it must: opening the database is a
couple of pragmas on the ``run`` hot path.
"""

from __future__ import annotations

from dockyard import jsonfast as json  # the C codec without `re` & co: a hot path

import os
import sqlite3
from _thread import _local  # threading.local without importing threading
from contextlib import contextmanager

from dockyard import errors
from dockyard.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

BUSY_TIMEOUT_S = 30.0
# A full disk must not stop dockyard from undoing a half-made change or recording an exit:
# `<db>.reserve` holds this much space, given up (and re-made once space returns) for those.
RESERVE_BYTES = 1 << 20
RESERVE_REMAKE_FREE = 8 << 20  # re-made only when this much is free again

# MIGRATIONS[n] takes the schema from user_version n to n + 1. Append; never edit a shipped step.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE images (
            id TEXT PRIMARY KEY,
            manifest_digest TEXT NOT NULL,
            manifest_media_type TEXT NOT NULL,
            config_digest TEXT NOT NULL,
            size INTEGER NOT NULL,
            created TEXT NOT NULL,
            added REAL NOT NULL)""",
        """CREATE TABLE tags (
            name TEXT PRIMARY KEY,
            image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE)""",
        "CREATE INDEX tags_image_id ON tags(image_id)",
        """CREATE TABLE containers (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            image_id TEXT NOT NULL,
            image TEXT NOT NULL,
            created REAL NOT NULL,
            config TEXT NOT NULL,
            state TEXT NOT NULL)""",
        "CREATE INDEX containers_image_id ON containers(image_id)",
    ),
    (
        # networks: bridge networks and their IPAM; endpoints: one row per (network, container),
        # the address it holds (unique per network) and the names it answers to there.
        """CREATE TABLE networks (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            driver TEXT NOT NULL,
            subnet TEXT NOT NULL,
            gateway TEXT NOT NULL,
            bridge TEXT NOT NULL UNIQUE,
            internal INTEGER NOT NULL,
            created REAL NOT NULL,
            labels TEXT NOT NULL,
            options TEXT NOT NULL)""",
        """CREATE TABLE endpoints (
            network_id TEXT NOT NULL REFERENCES networks(id),
            container_id TEXT NOT NULL,
            ip TEXT NOT NULL,
            mac TEXT NOT NULL,
            aliases TEXT NOT NULL,
            PRIMARY KEY (network_id, container_id),
            UNIQUE (network_id, ip))""",
        "CREATE INDEX endpoints_container_id ON endpoints(container_id)",
        # volumes: named and anonymous local volumes; which containers use one is read from
        # the containers' configs, so there is no second copy of that fact to go stale.
        """CREATE TABLE volumes (
            name TEXT PRIMARY KEY,
            driver TEXT NOT NULL,
            mountpoint TEXT NOT NULL,
            created REAL NOT NULL,
            labels TEXT NOT NULL,
            options TEXT NOT NULL,
            anonymous INTEGER NOT NULL)""",
    ),
    (
        # a network's IPAM config beyond subnet and gateway, as a JSON object under dockerd's
        # names: IPRange (the allocation pool), AuxiliaryAddresses (name -> reserved address),
        # Options (null or {}, as the create request had it). Rows made before: '{}'.
        "ALTER TABLE networks ADD COLUMN ipam TEXT NOT NULL DEFAULT '{}'",
    ),
    (
        # images.parent: the image a committed image was made from (docker inspect's Parent);
        # '' for every other image, the rows made before this step included.
        "ALTER TABLE images ADD COLUMN parent TEXT NOT NULL DEFAULT ''",
    ),
    (
        # IPv6 on bridge networks: networks.ipv6 is '{}' (IPv4 only, every row made before) or the
        # IPv6 subnet's IPAM config under dockerd's names {Subnet, Gateway, IPRange?};
        # endpoints.ip6 the endpoint's IPv6 address ('' when none), unique per network as its ip.
        "ALTER TABLE networks ADD COLUMN ipv6 TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE endpoints ADD COLUMN ip6 TEXT NOT NULL DEFAULT ''",
        "CREATE UNIQUE INDEX endpoints_ip6 ON endpoints (network_id, ip6) WHERE ip6 != ''",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# Connections inherited across fork are kept alive, never closed: closing one in the child could
# drop POSIX locks that the child's own fresh connection holds on the same file.
_inherited: list[sqlite3.Connection] = []


class ImageRecord(Record):
    """id: the config digest "sha256:<hex>"; size: sum of uncompressed layer sizes (docker's SIZE);
    created: RFC 3339 from the image config; added: when this store got it (time.time());
    parent: the id of the image a commit was made from ("" otherwise)."""

    __slots__ = ("id", "manifest_digest", "manifest_media_type", "config_digest", "size", "created", "added",
                 "parent")
    _defaults = {"parent": ""}


class ContainerRecord(Record):
    """id: 64 hex, no algorithm prefix; name: unique, stored without Docker's leading "/";
    image: as the user typed it; created: time.time(); config and state: JSON objects."""

    __slots__ = ("id", "name", "image_id", "image", "created", "config", "state")


_IMAGE_COLS = "id, manifest_digest, manifest_media_type, config_digest, size, created, added, parent"
_CONTAINER_COLS = "id, name, image_id, image, created, config, state"
_HEX = frozenset("0123456789abcdef")


def _image(row: tuple) -> ImageRecord:
    return ImageRecord(
        id=row[0], manifest_digest=row[1], manifest_media_type=row[2], config_digest=row[3],
        size=row[4], created=row[5], added=row[6], parent=row[7],
    )


def _container(row: tuple) -> ContainerRecord:
    return ContainerRecord(
        id=row[0], name=row[1], image_id=row[2], image=row[3], created=row[4],
        config=json.loads(row[5]), state=json.loads(row[6]),
    )


def _dumps(obj: dict) -> str:
    return json.dumps(obj, sort_keys=True)


def _is_busy(e: sqlite3.OperationalError) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(e) or "busy" in str(e)


def _is_hex(s: str) -> bool:
    return bool(s) and all(c in _HEX for c in s)


class Database:
    """State at ``path``. Cheap to construct; the file is opened on first use."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = _local()

    # ------------------------------------------------------------ connection and transactions

    def conn(self) -> sqlite3.Connection:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is not None:
            if local.pid == os.getpid():
                return conn
            _inherited.append(conn)
        conn, exclusive = self._open()
        local.conn, local.pid, local.depth, local.exclusive = conn, os.getpid(), 0, exclusive
        return conn

    def _done(self) -> None:
        """After a top-level transaction or read: an exclusive (full-disk) connection is closed
        at once, so it never keeps other processes (a monitor's, a CLI's) out for longer."""
        local = self._local
        if getattr(local, "exclusive", False) and local.depth == 0 and local.conn is not None:
            local.conn.close()
            local.conn = None

    def _open(self) -> tuple[sqlite3.Connection, bool]:
        directory = os.path.dirname(self.path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        try:
            conn = self._connect(exclusive=False)
        except sqlite3.OperationalError as e:
            if not self._out_of_space(e):
                raise
        else:
            self._keep_reserve()
            return conn, False
        # A full disk: WAL's shared-memory index (<db>-shm, 32 KiB) cannot be created. In
        # exclusive locking mode SQLite keeps that index in private memory instead, so the store
        # can still be read (and `rm`/`rmi` can free space); other processes wait for our lock.
        try:
            return self._connect(exclusive=True), True
        except sqlite3.OperationalError as e:
            raise self._failure(e) from e

    def _keep_reserve(self) -> None:
        """One stat on the common path; the file is (re)written only when missing."""
        path = self.path + ".reserve"
        if os.path.exists(path):
            return
        try:
            st = os.statvfs(os.path.dirname(self.path) or ".")
            if st.f_bavail * st.f_frsize < RESERVE_REMAKE_FREE:
                return
            fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                os.posix_fallocate(fd, 0, RESERVE_BYTES)
            finally:
                os.close(fd)
            os.replace(path + ".tmp", path)
        except OSError:
            try:
                os.unlink(path + ".tmp")
            except OSError:
                pass

    def must(self, fn, *args, **kwargs):
        """Call ``fn`` (a change that must not be lost: undoing a half-made container, recording
        an exit); on a full disk give up the reserve once and try again."""
        try:
            return fn(*args, **kwargs)
        except errors.DiskFull:
            try:
                os.unlink(self.path + ".reserve")
            except FileNotFoundError:
                gone = True
            else:
                gone = False
            if gone:
                raise
            if not getattr(self._local, "depth", 0):
                self.close()  # a fresh connection, not one stuck in exclusive (full-disk) mode
            return fn(*args, **kwargs)

    def _connect(self, *, exclusive: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            if exclusive:
                conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                self._migrate(conn, version)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable enough under WAL, much faster
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise errors.Unavailable(
                f"state database {self.path} has schema version {version}, "
                f"newer than this dockyard understands ({SCHEMA_VERSION})",
                hint="upgrade dockyard, or use a different --root",
            )
        self._set_wal(conn)
        self._begin(conn)
        try:
            # Another process may have migrated while we waited for the lock.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for step in MIGRATIONS[version:]:
                for statement in step:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _set_wal(self, conn: sqlite3.Connection) -> None:
        """Switch a new file to WAL (persistent, so only done when migrating).

        The switch needs an exclusive lock and SQLite reports contention on it at once, without
        the busy handler, when several processes create the database together: so retry here.
        """
        import time

        deadline = time.monotonic() + BUSY_TIMEOUT_S
        delay = 0.001
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as e:
                if not _is_busy(e) or time.monotonic() > deadline:
                    raise self._busy(e) if _is_busy(e) else e
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _begin(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise self._failure(e) from e

    def _out_of_space(self, e: sqlite3.Error) -> bool:
        """SQLITE_FULL, or an I/O error (growing the -shm or -wal file) on a device with no room."""
        code = (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF
        if code == sqlite3.SQLITE_FULL:
            return True
        if code != sqlite3.SQLITE_IOERR:
            return False
        try:
            st = os.statvfs(os.path.dirname(self.path) or ".")
        except OSError:
            return False
        return st.f_bavail * st.f_frsize < 1 << 20 or st.f_favail == 0

    def _failure(self, e: sqlite3.Error) -> errors.DockyardError:
        """What a failed SQLite call means to the user: a full disk, a lock held too long, or
        a damaged or unreadable database. Never a bare sqlite3 traceback."""
        if isinstance(e, sqlite3.OperationalError) and _is_busy(e):
            return self._busy(e)
        if self._out_of_space(e):
            return errors.DiskFull(f"no space left on device: cannot write state database {self.path} ({e})",
                                   hint="free some space (dockyard system prune, rm, rmi) and try again")
        return errors.Unavailable(f"state database {self.path}: {e}")

    def _busy(self, e: sqlite3.OperationalError) -> errors.Unavailable:
        return errors.Unavailable(
            f"state database {self.path} stayed locked by another dockyard process for "
            f"{BUSY_TIMEOUT_S:.0f}s ({e})",
            hint="a dockyard command may be stuck; check running dockyard processes",
        )

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """One atomic unit of change. Re-entrant: an inner ``transaction()`` (and every method
        called inside) joins the outer one through a SAVEPOINT, so callers compose steps like
        ``with db.transaction(): db.set_tag(…); db.remove_tag(…)`` and get all or nothing."""
        conn = self.conn()
        local = self._local
        if local.depth == 0:
            self._begin(conn)
            local.depth = 1
            try:
                yield self
                conn.execute("COMMIT")
            except BaseException as e:
                self._rollback(conn)
                if isinstance(e, sqlite3.Error):
                    raise self._failure(e) from e
                raise
            finally:
                local.depth = 0
                self._done()
        else:
            savepoint = f"sp{local.depth}"
            conn.execute(f"SAVEPOINT {savepoint}")
            local.depth += 1
            try:
                yield self
            except BaseException:
                conn.execute(f"ROLLBACK TO {savepoint}")
                conn.execute(f"RELEASE {savepoint}")
                raise
            else:
                conn.execute(f"RELEASE {savepoint}")
            finally:
                local.depth -= 1

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        """Undo an open transaction; SQLite may already have rolled back itself (SQLITE_FULL)."""
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # nothing was committed: the journal undoes it when the connection closes

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """A read: one statement sees one consistent snapshot under WAL, no write lock needed."""
        try:
            return self.conn().execute(sql, params).fetchall()
        except sqlite3.Error as e:
            if getattr(self._local, "depth", 0):
                raise  # inside a transaction: transaction() converts it once, on the way out
            raise self._failure(e) from e
        finally:
            self._done()

    def close(self) -> None:
        """Close this thread's connection (others close when their threads' locals go away)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None

    # ------------------------------------------------------------ images

    def put_image(self, rec: ImageRecord) -> None:
        """Insert or update an image record (tags pointing at it are kept)."""
        with self.transaction():
            self.conn().execute(
                f"INSERT INTO images ({_IMAGE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest, "
                "manifest_media_type = excluded.manifest_media_type, "
                "config_digest = excluded.config_digest, size = excluded.size, "
                "created = excluded.created, added = excluded.added, "
                # the same image stored again (a load, a pull) keeps the parent a commit gave it
                "parent = CASE WHEN excluded.parent != '' THEN excluded.parent ELSE images.parent END",
                (rec.id, rec.manifest_digest, rec.manifest_media_type, rec.config_digest,
                 rec.size, rec.created, rec.added, rec.parent or ""),
            )

    def get_image(self, image_id: str) -> ImageRecord | None:
        rows = self.query(f"SELECT {_IMAGE_COLS} FROM images WHERE id = ?", (image_id,))
        return _image(rows[0]) if rows else None

    def find_images(self, prefix: str) -> list[ImageRecord]:
        """Images whose id starts with ``prefix`` (``"sha256:ab…"`` or just ``"ab…"``)."""
        algorithm, colon, hex_prefix = prefix.partition(":")
        if not colon:
            algorithm, hex_prefix = "sha256", prefix
        if not algorithm.isalnum() or not _is_hex(hex_prefix):
            return []  # also keeps GLOB metacharacters out of the pattern
        return [_image(r) for r in self.query(
            f"SELECT {_IMAGE_COLS} FROM images WHERE id GLOB ? ORDER BY id",
            (f"{algorithm}:{hex_prefix}*",),
        )]

    def list_images(self) -> list[ImageRecord]:
        """All images, most recently added first."""
        return [_image(r) for r in self.query(
            f"SELECT {_IMAGE_COLS} FROM images ORDER BY added DESC, id")]

    def delete_image(self, image_id: str) -> bool:
        """Remove an image record and its tags; False if there was none. Whether it *may* be
        removed (tags, containers using it) is the engine's decision, not the store's."""
        with self.transaction():
            conn = self.conn()
            gone = conn.execute("DELETE FROM images WHERE id = ?", (image_id,)).rowcount > 0
            if gone:  # its children no longer name a parent that is not there
                conn.execute("UPDATE images SET parent = '' WHERE parent = ?", (image_id,))
            return gone

    # ------------------------------------------------------------ tags

    def set_tag(self, name: str, image_id: str) -> None:
        """Point ``name`` (a full reference, e.g. ``docker.io/library/busybox:latest``) at an
        image, moving it if it pointed elsewhere (as ``docker tag`` and ``pull`` do)."""
        with self.transaction():
            conn = self.conn()
            if conn.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone() is None:
                raise errors.ImageNotFound(f"No such image: {image_id}")
            conn.execute(
                "INSERT INTO tags (name, image_id) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
                (name, image_id),
            )

    def remove_tag(self, name: str) -> bool:
        with self.transaction():
            return self.conn().execute("DELETE FROM tags WHERE name = ?", (name,)).rowcount > 0

    def resolve_tag(self, name: str) -> str | None:
        rows = self.query("SELECT image_id FROM tags WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def tags_for(self, image_id: str) -> list[str]:
        return [r[0] for r in self.query(
            "SELECT name FROM tags WHERE image_id = ? ORDER BY name", (image_id,))]

    def list_tags(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.query("SELECT name, image_id FROM tags ORDER BY name")]

    # ------------------------------------------------------------ containers

    def insert_container(self, rec: ContainerRecord) -> None:
        name = rec.name.removeprefix("/")
        with self.transaction():
            conn = self.conn()
            self._check_name_free(name)
            try:
                conn.execute(
                    f"INSERT INTO containers ({_CONTAINER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (rec.id, name, rec.image_id, rec.image, rec.created,
                     _dumps(rec.config), _dumps(rec.state)),
                )
            except sqlite3.IntegrityError as e:
                raise errors.AlreadyExists(f"container {rec.id} already exists") from e

    def get_container(self, ref: str) -> ContainerRecord:
        """Resolve ``ref`` as Docker does: exact id, then exact name (``web`` or ``/web``), then a
        unique id prefix."""
        name = ref.removeprefix("/")
        pattern = f"{ref}*" if _is_hex(ref) else ""  # hex only: no GLOB metacharacters
        rows = self.query(
            f"SELECT {_CONTAINER_COLS} FROM containers WHERE id = ? OR name = ? OR id GLOB ?",
            (ref, name, pattern),
        ) if ref else []
        exact = [r for r in rows if r[0] == ref] or [r for r in rows if r[1] == name]
        if exact:
            return _container(exact[0])
        if len(rows) > 1:
            raise errors.InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        if rows:
            return _container(rows[0])
        raise errors.ContainerNotFound(f"No such container: {ref}")

    def endpoint_settings(self, container_id: str) -> tuple[str | None, str | None]:
        """A container's config `endpoint_opts` and state `NetworkSettings.Networks` as JSON text
        (None: absent), by exact id: what its embedded DNS reads at each query (~10 µs, where the
        whole record decoded costs ~10 times that)."""
        rows = self.query("SELECT json_extract(config, '$.endpoint_opts'), "
                           "json_extract(state, '$.NetworkSettings.Networks') FROM containers WHERE id = ?",
                           (container_id,))
        return rows[0] if rows else (None, None)

    def update_state(self, container_id: str, state: dict) -> None:
        self._update(container_id, "state", _dumps(state))

    def update_config(self, container_id: str, config: dict) -> None:
        self._update(container_id, "config", _dumps(config))

    def rename_container(self, container_id: str, new_name: str) -> None:
        new_name = new_name.removeprefix("/")
        with self.transaction():
            self._check_name_free(new_name, allow=container_id)
            self._update(container_id, "name", new_name)

    def delete_container(self, container_id: str) -> bool:
        with self.transaction():
            return self.conn().execute(
                "DELETE FROM containers WHERE id = ?", (container_id,)).rowcount > 0

    def list_containers(self) -> list[ContainerRecord]:
        """All containers, newest first (``docker ps`` order)."""
        return [_container(r) for r in self.query(
            f"SELECT {_CONTAINER_COLS} FROM containers ORDER BY created DESC, id")]

    def containers_needing_repair(self) -> list[ContainerRecord]:
        """Containers a killed command may have left half-done: paused by a `commit`, or
        `--rm` (see `dockyard.engine.repair`)."""
        return [_container(r) for r in self.query(
            f"SELECT {_CONTAINER_COLS} FROM containers WHERE json_extract(state, '$.PausedBy') IS NOT NULL "
            "OR json_extract(config, '$.auto_remove')")]

    def container_counts_by_image(self) -> dict[str, int]:
        """{image id: how many containers use it}, in one query (for image lists)."""
        return {r[0]: r[1] for r in self.query("SELECT image_id, count(*) FROM containers GROUP BY image_id")}

    def containers_using_image(self, image_id: str) -> list[ContainerRecord]:
        return [_container(r) for r in self.query(
            f"SELECT {_CONTAINER_COLS} FROM containers WHERE image_id = ? ORDER BY created DESC, id",
            (image_id,))]

    def _check_name_free(self, name: str, allow: str | None = None) -> None:
        row = self.conn().execute("SELECT id FROM containers WHERE name = ?", (name,)).fetchone()
        if row is not None and row[0] != allow:
            raise errors.NameInUse(
                f'Conflict. The container name "/{name}" is already in use by container '
                f'"{row[0]}". You have to remove (or rename) that container to be able to reuse '
                "that name."
            )

    def _update(self, container_id: str, column: str, value: str) -> None:
        with self.transaction():
            cur = self.conn().execute(
                f"UPDATE containers SET {column} = ? WHERE id = ?", (value, container_id))
            if cur.rowcount == 0:
                raise errors.ContainerNotFound(f"No such container: {container_id}")
