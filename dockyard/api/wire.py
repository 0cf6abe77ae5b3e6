"""HTTP plumbing of the Engine API: a request as the routes see it, JSON and streamed answers,
hijacking the connection (attach, exec), chunked request bodies, and the one table that maps
dockyard's error categories to dockerd's status codes.

The server (server.py) parses the request line and headers with the standard library's
`http.server`; everything after that is here, so a route never touches the socket by hand.
"""

from __future__ import annotations

import json
import time

from dockyard import errors

MAX_JSON_BODY = 16 << 20

# dockerd's status per error category (errdefs → httpstatus in moby): the only such table.
STATUS = (
    (errors.NotFound, 404),
    (errors.AlreadyExists, 409),
    (errors.Conflict, 409),
    (errors.InvalidArgument, 400),
    (errors.PermissionDenied, 403),
    (errors.Unavailable, 503),
    (errors.NotImplemented, 501),
)


def error_status(e: BaseException) -> int:
    """The HTTP status of an error: its category's, 500 for anything that is a real fault."""
    for cls, status in STATUS:
        if isinstance(e, cls):
            return status
    return 500


class Request:
    """One API request: method, path without its version prefix, query, headers, body access and
    the ways to answer (`send_json`, `stream`, `hijack`). `answered` tells the dispatcher whether
    an error can still be sent as JSON."""

    def __init__(self, handler, method: str, path: str, query: dict, version: tuple[int, int]) -> None:
        self.handler = handler
        self.method = method
        self.path = path
        self.query = query
        self.version = version
        self.headers = handler.headers
        self.answered = False
        self.params: dict = {}
        self._body: bytes | None = None

    @property
    def service(self):
        return self.handler.server.service

    # -- input ---------------------------------------------------------------------------------

    def q(self, name: str, default: str | None = None) -> str | None:
        """A query value; the first of a repeated one, as Go's FormValue (dockerd): docker-py sends
        `dockerfile=.dockerfile.<hex>&dockerfile=<its text>` for a Dockerfile outside the context."""
        v = self.query.get(name)
        return v[0] if v else default

    def qbool(self, name: str, default: bool = False) -> bool:
        """Docker's boolean query values: 1/true/True… are true, 0/false/"" false, else 400."""
        v = self.q(name)
        if v is None:
            return default
        low = v.lower()
        if low in ("1", "true", "t", "yes", "y"):
            return True
        if low in ("0", "false", "f", "no", "n", ""):
            return False
        raise errors.InvalidArgument(f"invalid value for {name!r}: {v!r} is not a boolean")

    def qint(self, name: str, default: int | None = None) -> int | None:
        v = self.q(name)
        if v in (None, ""):
            return default
        try:
            return int(v)
        except ValueError:
            raise errors.InvalidArgument(f"invalid value for {name!r}: {v!r} is not an integer") from None

    def body(self, limit: int = MAX_JSON_BODY) -> bytes:
        """The whole request body (Content-Length or chunked), read once."""
        if self._body is None:
            self._body = read_body(self.handler.rfile, self.headers, limit)
        return self._body

    def json(self, *, required: bool = True):
        """The body as JSON; a clear 400 when it is missing or malformed."""
        raw = self.body()
        if not raw.strip():
            if required:
                raise errors.InvalidArgument("a JSON request body is required")
            return None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise errors.InvalidArgument(f"invalid JSON in the request body: {e}") from None

    def body_unread(self) -> bool:
        """A body the route did not read (it must not be taken for the next request)."""
        if self._body is not None or self.answered and self.handler.close_connection:
            return False
        h = self.headers
        return bool(h.get("Content-Length", "0") not in ("", "0") or "chunked" in (h.get("Transfer-Encoding") or ""))

    # -- output --------------------------------------------------------------------------------

    def send(self, status: int, body: bytes = b"", content_type: str = "application/json",
             headers: dict | None = None) -> None:
        h = self.handler
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if body and self.method != "HEAD":
            h.wfile.write(body)
        h.wfile.flush()
        self.answered = True

    def send_json(self, obj, status: int = 200) -> None:
        self.send(status, json.dumps(obj).encode() + b"\n")

    def no_content(self) -> None:
        h = self.handler
        h.send_response(204)
        h.end_headers()
        h.wfile.flush()
        self.answered = True

    def hijack_websocket(self):
        """Take the connection over as a WebSocket (RFC 6455's handshake: 101 Switching
        Protocols with the Sec-WebSocket-Accept of the client's key); the socket is the caller's."""
        key = self.headers.get("Sec-WebSocket-Key") or ""
        if "websocket" not in (self.headers.get("Upgrade") or "").lower() or not key:
            raise errors.InvalidArgument("this endpoint takes a WebSocket upgrade (Upgrade: websocket, Sec-WebSocket-Key)")
        h = self.handler
        h.send_response(101, "Switching Protocols")
        h.send_header("Upgrade", "websocket")
        h.send_header("Connection", "Upgrade")
        h.send_header("Sec-WebSocket-Accept", websocket_accept(key.strip()))
        h.end_headers()
        h.wfile.flush()
        h.close_connection = True
        self.answered = True
        return h.connection

    def stream(self, content_type: str, status: int = 200, headers: dict | None = None) -> "Chunked":
        """Start a chunked answer; headers go out at once (a waiting client sees them)."""
        h = self.handler
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.wfile.flush()
        self.answered = True
        return Chunked(h.wfile)

    def hijack(self, content_type: str):
        """Take the connection over (attach, exec start): 101 UPGRADED when the client asked for
        an upgrade, else a bare 200 whose body is the raw stream; the socket is the caller's,
        and the connection is closed after."""
        h = self.handler
        upgrade = "upgrade" in (self.headers.get("Connection") or "").lower()
        if upgrade:
            h.send_response(101, "UPGRADED")
            h.send_header("Content-Type", content_type)
            h.send_header("Connection", "Upgrade")
            h.send_header("Upgrade", "tcp")
        else:
            h.send_response(200)
            h.send_header("Content-Type", content_type)
        h.end_headers()
        h.wfile.flush()
        if upgrade:
            until_read(h.connection)
        h.close_connection = True
        self.answered = True
        return h.connection


def until_read(sock, limit: float = 0.5) -> None:
    """Wait (at most `limit` s) until the client has read what was sent so far. docker-py reads an
    upgraded response's headers through a buffered reader and the stream from the raw socket after
    it: stream bytes that arrive with the headers land in the buffer and are lost (`attach(logs=1,
    stream=0)` of an exited container got b""). On a unix socket, SIOCOUTQ counts the bytes the
    peer has not read yet; on TCP (bytes not yet acknowledged) the wait is short and no guarantee."""
    import fcntl
    import struct
    import termios

    deadline = time.monotonic() + limit
    buf = bytearray(4)
    while time.monotonic() < deadline:
        try:
            fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, buf)
        except OSError:
            return
        if struct.unpack("i", buf)[0] == 0:
            return
        time.sleep(0.001)


def pauses(first: float = 0.002, most: float = 0.05):
    """The sleeps of a poll for something that is often quick (a `docker run --rm` container's
    removal, a monitor's attach socket): short at first, then growing to `most`."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 1.25, most)


WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455's constant


def websocket_accept(key: str) -> str:
    import base64
    import hashlib

    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


class Chunked:
    """Writes HTTP/1.1 chunks; `close()` sends the last one. A vanished client raises OSError."""

    def __init__(self, wfile) -> None:
        self.wfile = wfile

    def write(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def close(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass


def read_body(rfile, headers, limit: int) -> bytes:
    te = (headers.get("Transfer-Encoding") or "").lower()
    if "chunked" in te:
        out = bytearray()
        while True:
            line = rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip() or b"x", 16)
            except ValueError:
                raise errors.InvalidArgument("malformed chunked request body") from None
            if size == 0:
                while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(out)
            if len(out) + size > limit:
                raise errors.InvalidArgument(f"request body too large (over {limit} bytes)")
            out += rfile.read(size)
            rfile.readline(16)
    length = headers.get("Content-Length")
    if not length:
        return b""
    try:
        n = int(length)
    except ValueError:
        raise errors.InvalidArgument(f"invalid Content-Length: {length!r}") from None
    if n < 0 or n > limit:
        raise errors.InvalidArgument(f"request body too large (over {limit} bytes)")
    return rfile.read(n)
