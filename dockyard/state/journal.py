"""The events journal's writer: `<root>/events.log`, one JSON line per event in Docker's shape.

Kept at the bottom of the store (beside the database, whose directory is the root) so every layer
that changes the store can report what it did: the image store (tag, untag, delete), the
registry client (pull, push), the engine (containers, networks, volumes; engine/events.py also
reads the journal back). One `write(2)` to an O_APPEND file per event, nothing but `os` and
`jsonfast` imported: cheap on the `run --rm` path. A journal that cannot be written loses the
event, never the operation. Rotated at MAX_BYTES to `events.log.1` (one older generation).
"""

from __future__ import annotations

import os
import time

from dockyard import jsonfast as json

MAX_BYTES = 8 << 20
NAME = "events.log"


def path_in(root: str) -> str:
    return os.path.join(root, NAME)


def append(root: str, type_: str, action: str, actor_id: str, attributes: dict | None = None) -> None:
    now = time.time_ns()
    ev = {"Type": type_, "Action": action, "Actor": {"ID": actor_id, "Attributes": attributes or {}},
          "scope": "local", "time": now // 1_000_000_000, "timeNano": now}
    if type_ in ("container", "image"):  # the pre-1.22 keys docker still sends for these
        old = {"status": action, "id": actor_id}
        if type_ == "container" and attributes and "image" in attributes:
            old["from"] = attributes["image"]
        ev = {**old, **ev}
    line = (json.dumps(ev) + "\n").encode()
    path = path_in(root)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        if os.fstat(fd).st_size > MAX_BYTES:
            try:
                os.rename(path, path + ".1")  # a writer holding the old file appends there; readers follow by inode
            except OSError:
                pass
        os.write(fd, line)
    except OSError:
        pass
    finally:
        os.close(fd)


def of_db(db) -> str:
    """The root a database lives in (the journal's directory)."""
    return os.path.dirname(db.path)


def image(db, action: str, ref: str, name: str = "") -> None:
    """An image event (pull, push, tag, untag, delete, …): Actor.ID is the reference or the id,
    Attributes.name the name it concerns, as dockerd's."""
    append(of_db(db), "image", action, ref, {"name": name or ref})
