"""The vulnerability database: OSV records indexed by (ecosystem, package) in SQLite.

``dockyard scan --db-import all.zip`` indexes a download once into a file (default
``<root>/cache/osv.db``); a scan then reads only the rows of the packages it has. A directory
or zip given straight to ``--db`` is indexed in memory the same way, for one scan."""

from __future__ import annotations

import json
import os
import sqlite3
import time

from dockyard.errors import InvalidArgument, NotFound
from dockyard.scan.osv import read_records
from dockyard.scan.query import normalize_name

SCHEMA = """
CREATE TABLE vulns (id TEXT PRIMARY KEY, modified TEXT, doc TEXT NOT NULL);
CREATE TABLE affects (ecosystem TEXT NOT NULL, name TEXT NOT NULL, id TEXT NOT NULL,
                      PRIMARY KEY (ecosystem, name, id)) WITHOUT ROWID;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
"""
SQLITE_MAGIC = b"SQLite format 3\0"


def _fill(conn: sqlite3.Connection, sources: list[str]) -> int:
    n = 0
    for src in sources:
        for doc in read_records(src):
            if doc.get("withdrawn"):
                continue
            old = conn.execute("SELECT modified FROM vulns WHERE id = ?", (doc["id"],)).fetchone()
            if old is not None and (old[0] or "") >= str(doc.get("modified") or ""):
                continue  # the same record twice (several exports): the newer one stands
            conn.execute("DELETE FROM affects WHERE id = ?", (doc["id"],))
            conn.execute("INSERT OR REPLACE INTO vulns VALUES (?, ?, ?)",
                         (doc["id"], str(doc.get("modified") or ""), json.dumps(doc, separators=(",", ":"))))
            for a in doc.get("affected", []):
                pkg = a.get("package") or {}
                eco, name = pkg.get("ecosystem", ""), pkg.get("name", "")
                if eco and name:
                    conn.execute("INSERT OR IGNORE INTO affects VALUES (?, ?, ?)",
                                 (eco, normalize_name(eco.split(":", 1)[0], name), doc["id"]))
            n += 1
    return n


def import_records(sources: list[str], target: str) -> int:
    """Index the records of ``sources`` (zips or directories) into the database file ``target``,
    adding to what it holds; written to a temporary copy and renamed, so a failed import leaves
    the old database as it was. Returns the number of records imported."""
    import stat

    try:
        st = os.lstat(target)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        # the new database replaces the file by a rename: never a device, fifo, link or directory
        raise InvalidArgument(f"{target} is not a database file: refusing to replace it",
                              hint="give --db the path of a database file (new or made by --db-import)")
    os.makedirs(os.path.dirname(os.path.abspath(target)) or ".", exist_ok=True)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        if is_database(target):
            import shutil

            shutil.copyfile(target, tmp)
            conn = sqlite3.connect(tmp)
        else:
            conn = sqlite3.connect(tmp)
            conn.executescript(SCHEMA)
        with conn:
            n = _fill(conn, sources)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('imported', ?)",
                         (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),))
        conn.close()
        os.replace(tmp, target)
        return n
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def is_database(path: str) -> bool:
    if not os.path.isfile(path):  # never open a fifo or device to look
        return False
    with open(path, "rb") as f:
        return f.read(16) == SQLITE_MAGIC


class Database:
    def __init__(self, path: str) -> None:
        if is_database(path):
            try:
                self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                self.conn.execute("SELECT count(*) FROM affects").fetchone()
            except sqlite3.DatabaseError as e:
                raise InvalidArgument(f"{path}: not a dockyard vulnerability database: {e}") from None
        elif os.path.isdir(path) or os.path.isfile(path):  # a fifo or device is no database
            self.conn = sqlite3.connect(":memory:")
            self.conn.executescript(SCHEMA)
            with self.conn:
                _fill(self.conn, [path])
        else:
            raise NotFound(f"vulnerability database {path} not found",
                           hint="download OSV records (e.g. https://osv-vulnerabilities.storage.googleapis.com/"
                                "Debian:12/all.zip) and give the zip or directory to --db, or import it once "
                                "with 'dockyard scan --db-import all.zip'")

    def lookup(self, ecosystem: str, name: str) -> list[dict]:
        base = ecosystem.split(":", 1)[0]
        rows = self.conn.execute(
            "SELECT v.doc FROM affects a JOIN vulns v ON v.id = a.id WHERE a.name = ? AND a.ecosystem IN (?, ?)",
            (name, ecosystem, base)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM vulns").fetchone()[0]

    def close(self) -> None:
        self.conn.close()
