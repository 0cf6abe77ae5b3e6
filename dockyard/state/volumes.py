"""Volumes in the state database (the `volumes` table of migration 2 of state/db.py).

Which containers use a volume is not stored here: it is read from the containers' configs
(`config.mounts`, the mounts resolved at create time) with SQLite's JSON functions, so there is no
second copy of that fact to go stale when a container is removed by a killed CLI. Callers that
check-then-act ("unused? then delete") do both inside one `db.transaction()`: a concurrent
`create` that inserts a container using the volume is serialised against it by the write lock.
"""

from __future__ import annotations

from dockyard import jsonfast as json
from dockyard.record import Record

_COLS = "name, driver, mountpoint, created, labels, options, anonymous"

# Container ids whose resolved mounts name a volume (one row per use).
_USES = ("SELECT c.id, json_extract(m.value, '$.source') FROM containers AS c, "
         "json_each(c.config, '$.mounts') AS m WHERE json_extract(m.value, '$.type') = 'volume'")


class VolumeRecord(Record):
    """name: docker's rule, or 64 hex for an anonymous one; mountpoint: `<root>/volumes/<name>/_data`;
    created: time.time(); labels, options: dicts (options: the local driver's `-o`);
    anonymous: made for one container (image VOLUME, `-v /path`), removed by `rm -v` and `--rm`."""

    __slots__ = ("name", "driver", "mountpoint", "created", "labels", "options", "anonymous")


def _vol(row: tuple) -> VolumeRecord:
    return VolumeRecord(name=row[0], driver=row[1], mountpoint=row[2], created=row[3], labels=json.loads(row[4]),
                        options=json.loads(row[5]), anonymous=bool(row[6]))


def insert_volume(db, rec: VolumeRecord) -> bool:
    """Add a volume; False (and nothing changed) if one of that name exists already."""
    with db.transaction():
        cur = db.conn().execute(
            f"INSERT INTO volumes ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO NOTHING",
            (rec.name, rec.driver, rec.mountpoint, rec.created, json.dumps(rec.labels, sort_keys=True),
             json.dumps(rec.options, sort_keys=True), int(rec.anonymous)))
        return cur.rowcount > 0


def get_volume(db, name: str) -> VolumeRecord | None:
    rows = db.query(f"SELECT {_COLS} FROM volumes WHERE name = ?", (name,))
    return _vol(rows[0]) if rows else None


def list_volumes(db) -> list[VolumeRecord]:
    return [_vol(r) for r in db.query(f"SELECT {_COLS} FROM volumes ORDER BY name")]


def delete_volume(db, name: str) -> bool:
    with db.transaction():
        return db.conn().execute("DELETE FROM volumes WHERE name = ?", (name,)).rowcount > 0


def containers_using(db, name: str) -> list[str]:
    """Ids of the containers (running or not) whose mounts include volume `name`."""
    rows = db.query(
        "SELECT DISTINCT c.id FROM containers AS c, json_each(c.config, '$.mounts') AS m "
        "WHERE json_extract(m.value, '$.type') = 'volume' AND json_extract(m.value, '$.source') = ? "
        "ORDER BY c.id", (name,))
    return [r[0] for r in rows]


def volumes_in_use(db) -> set[str]:
    """Names of every volume some container's mounts include."""
    return {r[1] for r in db.query(_USES)}
