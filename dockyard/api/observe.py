"""Container routes that look at a container: stats (streamed or one-shot), top, changes, export;
and update (its limits)."""

from __future__ import annotations

import json
import time

from dockyard.api.streams import hung_up


def stats(engine, req, name: str) -> None:
    """docker stats: a document per second while `stream` (the default), else one whose
    precpu_stats come from a reading half a second earlier (none with one-shot=1)."""
    from dockyard.engine.stats import document

    rec = engine.db.get_container(name)
    stream = req.qbool("stream", True)
    if not stream:
        first = None if req.qbool("one-shot") else document(engine, rec.id)
        if first is not None:
            time.sleep(0.5)
        req.send_json(document(engine, rec.id, first))
        return
    out = req.stream("application/json")
    conn = req.handler.connection
    prev = None
    try:
        while True:
            try:
                doc = document(engine, rec.id, prev)
            except Exception:  # noqa: BLE001 - removed meanwhile: the stream ends, as dockerd's
                break
            out.write(json.dumps(doc, separators=(",", ":")).encode() + b"\n")
            prev = doc
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                if hung_up(conn):
                    return
                time.sleep(0.1)
    except OSError:
        return
    out.close()


def top(engine, req, name: str) -> None:
    """{"Titles": [...], "Processes": [[...]]}: the host's ps over the container's processes,
    split as dockerd splits it (the last column keeps its spaces)."""
    import shlex

    from dockyard.engine.observe import top as top_text

    args = shlex.split(req.q("ps_args") or "-ef")
    lines = top_text(engine, name, args).splitlines()
    titles = lines[0].split() if lines else []
    procs = [ln.split(None, len(titles) - 1) for ln in lines[1:]] if titles else []
    req.send_json({"Titles": titles, "Processes": procs})


def changes(engine, req, name: str) -> None:
    from dockyard.engine.fsdiff import diff

    kinds = {"C": 0, "A": 1, "D": 2}
    req.send_json([{"Path": path, "Kind": kinds[kind]} for kind, path in diff(engine, name)])


def export(engine, req, name: str) -> None:
    from dockyard.engine.filesystem import export as export_container

    engine.db.get_container(name)  # a 404 before the headers
    out = req.stream("application/x-tar")
    try:
        export_container(engine, name, out)
    except OSError:
        return  # the client left
    out.close()


def update(engine, req, name: str) -> None:
    from dockyard.engine.update import update as update_container

    req.send_json({"Warnings": update_container(engine, name, req.json())})
