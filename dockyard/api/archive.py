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
    body = BodyReader(req.handler.rfile, req.headers)
    try:
        copy_to_container(engine, name, path, body, archive=req.qbool("copyUIDGID"))
    except DockyardError:
        body.drain()  # refused before the tar was read: the client still gets the answer, not EPIPE
        req.handler.close_connection = True
        raise
    body.drain()
    req.handler.close_connection = True  # the body was read here, as a stream, not by the request
    req.send(200, b"")


class BodyReader:
    """The request body as a file (read(n)), chunked or by Content-Length, never all in memory."""

    def __init__(self, rfile, headers) -> None:
        self.rfile = rfile
        self.chunked = "chunked" in (headers.get("Transfer-Encoding") or "").lower()
        length = headers.get("Content-Length")
        try:
            self.left = int(length) if length and not self.chunked else 0
        except ValueError:
            raise InvalidArgument(f"invalid Content-Length: {length!r}") from None
        self.done = not self.chunked and self.left <= 0

    def _next_chunk(self) -> None:
        line = self.rfile.readline(1024)
        try:
            size = int(line.split(b";")[0].strip() or b"x", 16)
        except ValueError:
            raise InvalidArgument("malformed chunked request body") from None
        if size == 0:
            while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass
            self.done = True
        self.left = size

    def read(self, n: int = -1) -> bytes:
        out = bytearray()
        while not self.done and (n < 0 or len(out) < n):
            if self.left == 0:
                if not self.chunked:
                    self.done = True
                    break
                self._next_chunk()
                continue
            want = self.left if n < 0 else min(self.left, n - len(out))
            data = self.rfile.read(want)
            if not data:
                self.done = True
                break
            out += data
            self.left -= len(data)
            if self.left == 0 and self.chunked:
                self.rfile.readline(16)
        return bytes(out)

    def drain(self) -> None:
        while self.read(1 << 16):
            pass
