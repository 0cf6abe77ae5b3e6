"""Several containers' json-file logs read together, as `compose logs [-f]` and a foreground `up`
show them: each record with the container it came from, following the files by offset."""

from __future__ import annotations

import json
import os
import time


def log_path(engine, rec) -> str:
    return os.path.join(engine.container_data_dir(rec.id), f"{rec.id}-json.log")


class Follower:
    """Reads new whole lines of each container's current log file; a file that shrank (rotated)
    is read again from its start."""

    def __init__(self, engine, recs, *, tail: int | None = None, from_end: bool = False) -> None:
        self.engine = engine
        self.recs = list(recs)
        self.offsets: dict[str, int] = {}
        self.partial: dict[str, bytes] = {}
        self.tail = tail
        if from_end:
            for rec in self.recs:
                try:
                    self.offsets[rec.id] = os.path.getsize(log_path(engine, rec))
                except OSError:
                    self.offsets[rec.id] = 0

    def add(self, rec, *, from_end: bool = False) -> None:
        if all(r.id != rec.id for r in self.recs):
            self.recs.append(rec)
            if from_end:
                try:
                    self.offsets[rec.id] = os.path.getsize(log_path(self.engine, rec))
                except OSError:
                    pass

    def poll(self):
        """[(rec, record)] written since the last poll, per container in order."""
        out = []
        for rec in self.recs:
            path = log_path(self.engine, rec)
            off = self.offsets.get(rec.id, 0)
            try:
                with open(path, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    if size < off:
                        off, self.partial[rec.id] = 0, b""
                    f.seek(off)
                    data = f.read()
            except OSError:
                continue
            self.offsets[rec.id] = off + len(data)
            data = self.partial.pop(rec.id, b"") + data
            lines = data.split(b"\n")
            self.partial[rec.id] = lines.pop()
            records = []
            for line in lines:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
            if self.tail is not None:
                records = records[-self.tail:] if self.tail else []
            out.extend((rec, r) for r in records)
        self.tail = None  # only the first read is cut
        return out


def follow(engine, recs, emit, *, tail: int | None = None, follow: bool = True, from_end: bool = False,
           interval: float = 0.1) -> None:
    """Emit (rec, record) for the containers' logs; with `follow`, until none of them runs any
    more."""
    from dockyard.compose.project import state_of
    from dockyard.errors import ContainerNotFound

    reader = Follower(engine, recs, tail=tail, from_end=from_end)
    while True:
        for rec, r in reader.poll():
            emit(rec, r)
        if not follow:
            return
        running = False
        for rec in reader.recs:
            try:
                st = state_of(engine.db.get_container(rec.id))
            except ContainerNotFound:  # removed meanwhile
                continue
            if st.get("Status") in ("running", "restarting", "paused", "created"):
                running = True
        if not running:
            for rec, r in reader.poll():
                emit(rec, r)
            return
        time.sleep(interval)
