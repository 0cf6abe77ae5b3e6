"""/containers/{id}/archive: HEAD (the path's stat), GET (a tar of it), PUT (a tar extracted into
a directory) — what `docker cp` uses both ways. The stat travels base64-encoded JSON in the
X-Docker-Container-Path-Stat header. The copying is the engine's (`cp`'s: by descriptor,
inside the container's root, archive/inroot.py)."""

from __future__ import annotations

import base64
import json

from dockyard.errors import DockyardError, InvalidArgument


def _path(req) -> str:
    path = req.q("path")
    if not path:
        raise InvalidArgument("path is required: an absolute path in the container")
    return path


def _stat_header(engine, name: str, path: str) -> dict:
    from dockyard.engine.filesystem import stat_path

    doc = stat_path(engine, name, path)
    return {"X-Docker-Container-Path-Stat": base64.b64encode(json.dumps(doc).encode()).decode()}


def head(engine, req, name: str) -> None:
    req.send(200, b"", headers=_stat_header(engine, name, _path(req)))


def get(engine, req, name: str) -> None:
    from dockyard.engine.filesystem import copy_from_container

    path = _path(req)
    headers = _stat_header(engine, name, path)  # a missing path is a 404 before anything is sent
    out = req.stream("application/x-tar", headers=headers)
    try:
        copy_from_container(engine, name, path, out)
    except OSError:
        return  # the client left
    out.close()


def put(engine, req, name: str) -> None:
    """The tar's entries are already named for the destination (docker's CLI renames them), so
    `path` is the existing directory they go into."""
    from dockyard.engine.filesystem import copy_to_container

    path = _path(req)
    from dockyard.api.bodies import BodyStream

    body = BodyStream(req.handler.rfile, req.headers)
    try:
        copy_to_container(engine, name, path, body, archive=req.qbool("copyUIDGID"))
    except DockyardError:
        body.drain()  # refused before the tar was read: the client still gets the answer, not EPIPE
        req.handler.close_connection = True
        raise
    body.drain()
    req.handler.close_connection = True  # the body was read here, as a stream, not by the request
    req.send(200, b"")
