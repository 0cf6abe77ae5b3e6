"""The HTTP/1.1 server of the Engine API: a thread per connection (stdlib `socketserver`), keep-alive,
versioned paths, and Docker's JSON errors.

Why threads and the standard library, not aiohttp: the engine's calls block (SQLite, waiting for
a container, reading logs) and a thread per connection runs them as they are written; a hijacked
connection (attach, exec) is simply the thread's socket; and dockyard itself needs no third-party
package for it (aiohttp stays an extra of `registry serve`). Nothing here is imported by
`dockyard run`. Calls that fork run in a fresh process (isolated.py), never from these threads.
"""

from __future__ import annotations

import re
import socketserver
import sys
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from dockyard import __version__
from dockyard.api import routes
from dockyard.engine.info import API_VERSION, MIN_API_VERSION
from dockyard.api.wire import Request, error_status
from dockyard.errors import DockyardError

VERSIONED = re.compile(r"/v(\d+)\.(\d+)(/.*)\Z")
CURRENT = tuple(int(x) for x in API_VERSION.split("."))
HANDSHAKE_TIMEOUT = 10.0
BACKLOG = 128  # socketserver's 5 refuses a burst of clients (a unix socket says EAGAIN)
MINIMUM = tuple(int(x) for x in MIN_API_VERSION.split("."))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def version_string(self) -> str:
        return f"dockyard/{__version__} (linux)"

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        if self.server.service.debug:
            sys.stderr.write("api: " + (format % args) + "\n")

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_HEAD(self) -> None:
        self.dispatch("HEAD")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_PUT(self) -> None:
        self.dispatch("PUT")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    def send_error(self, code, message=None, explain=None) -> None:
        """Malformed requests the base class refuses: Docker's JSON shape, not an HTML page."""
        import json

        body = json.dumps({"message": message or self.responses.get(code, ("error",))[0]}).encode() + b"\n"
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # an unparsable request line: answer as HTTP/1.1 anyway
            self.request_version = "HTTP/1.1"
        try:
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            pass

    def dispatch(self, method: str) -> None:
        service = self.server.service
        url = urlsplit(self.path)
        path, version = url.path, CURRENT
        req = Request(self, method, path, parse_qs(url.query, keep_blank_values=True), version)
        service.busy(+1)
        engine = None
        try:
            m = VERSIONED.match(path)
            if m:
                version, req.path = (int(m.group(1)), int(m.group(2))), m.group(3)
                req.version = version
                if version > CURRENT:
                    raise _Status(400, f"client version {m.group(1)}.{m.group(2)} is too new. "
                                       f"Maximum supported API version is {API_VERSION}")
                if version < MINIMUM:
                    raise _Status(400, f"client version {m.group(1)}.{m.group(2)} is too old. Minimum supported "
                                       f"API version is {MIN_API_VERSION}, please upgrade your client to a newer "
                                       "version")
            fn, params = routes.match(method, req.path)
            if fn is None:
                raise _Status(405, "method not allowed") if params else _Status(404, "page not found")
            engine = service.engine()
            fn(engine, req, **{k: unquote(v) for k, v in params.items()})
        except (DockyardError, _Status) as e:
            self._fail(req, e.status if isinstance(e, _Status) else error_status(e), str(e))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - a real fault: answer 500, say what, keep serving
            import traceback

            traceback.print_exc(file=sys.stderr)
            self._fail(req, 500, f"internal error: {type(e).__name__}: {e}")
        finally:
            service.busy(-1)
            if engine is not None:
                service.release(engine)
            if req.body_unread():
                self.close_connection = True

    def _fail(self, req: Request, status: int, message: str) -> None:
        if req.answered:  # the stream had begun: all that can be done is to end it
            self.close_connection = True
            return
        try:
            req.send_json({"message": message}, status)
        except OSError:
            self.close_connection = True


class _Status(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Quiet:
    """A client that hangs up is no fault of ours: no traceback for it."""

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) and not isinstance(exc, (FileNotFoundError, PermissionError)):
            return
        super().handle_error(request, client_address)


class Workers:
    """socketserver.ThreadingMixIn's thread per connection, except that a thread whose connection
    ended waits for the next one (up to IDLE_MAX of them wait): it keeps its engine, and so its
    SQLite connection, from request to request instead of opening a new one each time."""

    IDLE_MAX = 16

    def process_request(self, request, client_address) -> None:
        import queue
        import threading

        lock = self.__dict__.setdefault("_idle_lock", threading.Lock())
        with lock:
            idle = self.__dict__.setdefault("_idle", [])
            inbox = idle.pop() if idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(target=self._work, args=(inbox,), daemon=True).start()
        inbox.put((request, client_address))

    def _work(self, inbox) -> None:
        try:
            while True:
                request, client_address = inbox.get()
                self.process_request_thread(request, client_address)  # handles and closes it
                with self._idle_lock:
                    if len(self._idle) >= self.IDLE_MAX:
                        return
                    self._idle.append(inbox)
        finally:
            self.service.thread_done()


class UnixServer(Workers, Quiet, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = BACKLOG

    def __init__(self, path: str, service) -> None:
        self.service = service
        super().__init__(path, Handler, bind_and_activate=False)

    def get_request(self):
        conn, _ = self.socket.accept()
        return conn, ("unix", 0)  # the base class's logging expects an address tuple


class TCPServer(Workers, Quiet, socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = BACKLOG

    def __init__(self, address: tuple, service, family, tls=None) -> None:
        self.service = service
        self.address_family = family
        self.tls = tls
        super().__init__(address, Handler, bind_and_activate=False)

    def finish_request(self, request, client_address) -> None:
        """With TLS, the handshake (and the client certificate check) happens here, on the
        connection's own thread: a client that never finishes it holds up no one else."""
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(HANDSHAKE_TIMEOUT)
        conn = self.tls.wrap_socket(request, server_side=True)  # takes the descriptor over
        try:
            conn.settimeout(None)
            super().finish_request(conn, client_address)
        finally:
            conn.close()
