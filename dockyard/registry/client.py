"""HTTP transport to an OCI distribution registry: connections, TLS, insecure registries, auth, errors.

One :class:`Registry` talks to one registry domain (``docker.io`` is served by
``registry-1.docker.io``). It keeps a small pool of keep-alive connections per host, so parallel
blob downloads each get their own connection and sequential requests reuse one; a connection
the server closed while idle is replaced transparently.

**TLS and insecure registries** (as Docker does it): a registry is spoken to over HTTPS with the
system's CAs plus, like Docker's ``certs.d``, any ``*.crt`` (extra CAs) and ``*.cert``/``*.key``
(client certificate) in ``<dir>/<host[:port]>/`` for each ``<dir>`` in ``$DOCKYARD_CERTS_D``
(colon-separated; default ``/etc/dockyard/certs.d:/etc/docker/certs.d``). A registry is
*insecure* when ``--insecure`` is given, when it is listed in ``$DOCKYARD_INSECURE_REGISTRIES``
(comma-separated ``host[:port]`` entries or CIDRs such as ``10.0.0.0/8``), or when it is on a
loopback address (``localhost``, ``127.0.0.0/8``, ``::1``), which Docker also allows by default.
For an insecure registry HTTPS is tried first without certificate verification and, when the TLS
handshake fails or the port refuses, plain HTTP is used.

**Errors**: a registry's JSON error body (``{"errors": [{"code": "MANIFEST_UNKNOWN", "message":
…}]}``) is rendered Docker's way (``manifest unknown: manifest unknown``) inside a dockyard
error whose category follows the HTTP status (401/403 → PermissionDenied, 404 → NotFound,
429/5xx → Unavailable, other 4xx → InvalidArgument). Connection failures name the host.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import threading
from urllib.parse import urljoin, urlsplit

from dockyard import errors
from dockyard.registry.auth import Authorizer, describe_errors  # noqa: F401 - describe_errors is part of this API

INSECURE_ENV = "DOCKYARD_INSECURE_REGISTRIES"
CERTS_ENV = "DOCKYARD_CERTS_D"
DEFAULT_CERTS_DIRS = ("/etc/dockyard/certs.d", "/etc/docker/certs.d")
HUB_API_HOST = "registry-1.docker.io"
BLOCK = 1 << 20
TIMEOUT_S = 120.0
MAX_ERROR_BODY = 64 << 10
MAX_REDIRECTS = 5
USER_AGENT = "dockyard"

# Failures of a reused keep-alive connection the server had already closed: safe to retry once.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
# An HTTPS attempt to an insecure registry that speaks plain HTTP (or nothing) on that port.
_NO_TLS = (ssl.SSLError, ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected,
           http.client.BadStatusLine)


def api_host(domain: str) -> str:
    """Where the registry API of ``domain`` is served (docker.io's is registry-1.docker.io)."""
    return HUB_API_HOST if domain == "docker.io" else domain


def _split_host(netloc: str) -> tuple[str, int | None]:
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    host, colon, port = netloc.rpartition(":")
    if colon and port.isdigit() and host:
        return host, int(port)
    return netloc, None


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_insecure(domain: str, flag: bool = False) -> bool:
    """True when ``domain`` may be spoken to without verified TLS (see the module docstring)."""
    if flag:
        return True
    host, _port = _split_host(domain)
    if _is_loopback(host):
        return True
    for entry in (e.strip() for e in os.environ.get(INSECURE_ENV, "").split(",")):
        if not entry:
            continue
        entry = entry.removeprefix("http://").removeprefix("https://").rstrip("/")
        if entry in (domain, host):
            return True
        if "/" in entry:
            import ipaddress

            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


def certs_dirs() -> list[str]:
    value = os.environ.get(CERTS_ENV)
    return [d for d in value.split(":") if d] if value is not None else list(DEFAULT_CERTS_DIRS)


def tls_context(netloc: str, *, verify: bool = True) -> ssl.SSLContext:
    """The system's trust store plus certs.d's CAs and client certificate for ``netloc``.

    Without ``verify`` (an insecure registry) the system's CAs are not even loaded: that alone
    takes a tenth of a second, a fifth of a small pull."""
    if verify:
        ctx = ssl.create_default_context()
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    for base in certs_dirs():
        d = os.path.join(base, netloc)
        try:
            names = sorted(os.listdir(d))
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as e:
            raise errors.PermissionDenied(f"cannot read certificates in {d}: {e.strerror}") from e
        for name in names:
            path = os.path.join(d, name)
            try:
                if name.endswith(".crt"):
                    ctx.load_verify_locations(cafile=path)
                elif name.endswith(".cert"):
                    key = path[: -len(".cert")] + ".key"
                    if not os.path.exists(key):
                        raise errors.InvalidArgument(f"client certificate {path} has no matching key {key}")
                    ctx.load_cert_chain(path, key)
            except (ssl.SSLError, OSError) as e:
                raise errors.InvalidArgument(f"cannot load certificate {path}: {e}") from e
    return ctx


# ============================================================================ errors

# What a registry's error body would have said, for answers that have none (HEAD requests):
# distribution's own messages for these codes.
_BODYLESS = {401: "unauthorized: authentication required", 403: "denied: requested access to the resource is denied"}


def status_error(status: int, message: str, hint: str | None = None) -> errors.DockyardError:
    if status in (401, 403):
        return errors.PermissionDenied(message, hint=hint)
    if status == 404:
        return errors.NotFound(message, hint=hint)
    if status == 429 or status >= 500:
        return errors.Unavailable(message, hint=hint)
    return errors.InvalidArgument(message, hint=hint)


# ============================================================================ transport

class FileBody:
    """``length`` bytes of a file from ``offset``, as a request body that can be sent again
    (after a 401 or on a fresh connection). ``on_read(position)`` reports progress: the file
    offset read up to."""

    def __init__(self, path: str, offset: int, length: int, on_read=None) -> None:
        self.path, self.offset, self.length, self.on_read = path, offset, length, on_read
        self._f = None
        self._left = 0

    def rewind(self) -> None:
        if self._f is None:
            self._f = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        self._f.seek(self.offset)
        self._left = self.length

    def read(self, n: int = -1) -> bytes:
        if self._f is None:
            self.rewind()
        n = self._left if n < 0 else min(n, self._left)
        data = self._f.read(n) if n else b""
        if len(data) < n:
            raise errors.Unavailable(f"{self.path} shrank while it was being uploaded")
        self._left -= len(data)
        if self.on_read is not None and data:
            self.on_read(self.offset + self.length - self._left)
        return data

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


class Response:
    """A response whose connection goes back to the pool once the body has been read."""

    def __init__(self, url: str, resp: http.client.HTTPResponse, conn, pool: _Pool) -> None:
        self.url = url
        self.status = resp.status
        self.reason = resp.reason
        self.headers = resp.headers
        self._resp, self._conn, self._pool = resp, conn, pool
        self._body: bytes | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def length(self) -> int | None:
        return self._resp.length

    def readinto(self, buf) -> int:
        return self._resp.readinto(buf)

    def read(self, limit: int = MAX_ERROR_BODY) -> bytes:
        """The whole body; InvalidArgument if it is larger than ``limit`` (a registry gone mad)."""
        length = self._resp.length
        if length is not None and length > limit:
            self.close()
            raise errors.InvalidArgument(f"response from {self.url} is too large ({length} bytes, at most {limit})")
        data = self._resp.read(limit + 1)
        if len(data) > limit:
            self.close()
            raise errors.InvalidArgument(f"response from {self.url} is too large (more than {limit} bytes)")
        self.close()
        return data

    def close(self) -> None:
        """Release the connection: to the pool if the body was read to the end, else closed."""
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        resp = self._resp
        if resp.isclosed() and not resp.will_close:
            self._pool.put(conn)
        else:
            resp.close()
            conn.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _dropped(conn) -> bool:
    import select

    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class _Pool:
    """Idle keep-alive connections per (scheme, netloc); thread-safe."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._idle: dict[tuple[str, str], list] = {}
        self._contexts: dict[tuple[str, bool], ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def context(self, netloc: str, verify: bool) -> ssl.SSLContext:
        with self._lock:
            ctx = self._contexts.get((netloc, verify))
        if ctx is None:
            ctx = tls_context(netloc, verify=verify)
            with self._lock:
                self._contexts[(netloc, verify)] = ctx
        return ctx

    def get(self, scheme: str, netloc: str, verify: bool) -> tuple[object, bool]:
        """(connection, reused). An idle connection the server has closed meanwhile (its socket
        reads as ready: EOF) is dropped here, before a request could be lost on it."""
        while True:
            with self._lock:
                idle = self._idle.get((scheme, netloc))
                conn = idle.pop() if idle else None
            if conn is None:
                break
            if not _dropped(conn):
                return conn, True
            conn.close()
        host, port = _split_host(netloc)
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout, blocksize=BLOCK,
                                               context=self.context(netloc, verify))
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout, blocksize=BLOCK)
        conn._dockyard_key = (scheme, netloc)
        return conn, False

    def put(self, conn) -> None:
        with self._lock:
            self._idle.setdefault(conn._dockyard_key, []).append(conn)

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for c in conns:
            c.close()


# ============================================================================ the registry

class Registry:
    """A session with one registry. Thread-safe once :meth:`ping` has run (requests ping first)."""

    def __init__(self, domain: str, *, insecure: bool = False, credentials=None, timeout: float = TIMEOUT_S) -> None:
        self.domain = domain
        self.host = api_host(domain)
        self.insecure = is_insecure(domain, insecure)
        self.credentials = credentials
        self.scheme: str | None = None
        self._pool = _Pool(timeout)
        self._ping_lock = threading.Lock()
        self.auth = Authorizer(domain, credentials, self._fetch_token)

    @property
    def base(self) -> str:
        return f"{self.scheme or 'https'}://{self.host}"

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ ping

    def ping(self) -> None:
        """GET /v2/ once: settles HTTPS or HTTP and learns the auth challenge (as Docker does)."""
        with self._ping_lock:
            if self.scheme is not None:
                return
            schemes = ("https", "http") if self.insecure else ("https",)
            last: BaseException | None = None
            for scheme in schemes:
                try:
                    resp = self._send("GET", f"{scheme}://{self.host}/v2/", {}, None)
                except _NO_TLS as e:
                    last = e
                    if scheme == "https" and self.insecure:
                        continue
                    raise self._connect_error(e, scheme) from None
                except OSError as e:
                    raise self._connect_error(e, scheme) from None
                self.scheme = scheme
                resp.read()
                if resp.status == 401:
                    self.auth.challenge(resp.headers.get_all("WWW-Authenticate") or [])
                elif resp.status == 404:
                    raise errors.NotFound(f"{self.host} is not an OCI registry: GET {scheme}://{self.host}/v2/ "
                                          "answered 404 Not Found")
                return
            raise self._connect_error(last, "http")  # pragma: no cover - loop always returns or raises

    def _connect_error(self, e: BaseException, scheme: str, url: str | None = None) -> errors.DockyardError:
        url = url or f"{scheme}://{self.host}/v2/"
        if isinstance(e, ssl.SSLCertVerificationError):
            return errors.Unavailable(
                f"cannot verify the TLS certificate of registry {self.host}: {e.verify_message or e}",
                hint=f"put its CA certificate in /etc/docker/certs.d/{self.host}/ca.crt (or a certs.d directory "
                     f"named in ${CERTS_ENV}), or mark it insecure with --insecure or ${INSECURE_ENV}")
        if isinstance(e, ssl.SSLError):
            return errors.Unavailable(
                f"TLS handshake with registry {self.host} failed: {e.reason or e}",
                hint=f"if {self.host} speaks plain HTTP, mark it insecure with --insecure or ${INSECURE_ENV}")
        if isinstance(e, ConnectionRefusedError):
            return errors.Unavailable(f"cannot connect to registry {self.host}: connection refused ({url})",
                                      hint="is the registry running, and is the address right?")
        if isinstance(e, socket.gaierror):
            return errors.Unavailable(f"cannot resolve registry host {self.host}: {e.strerror}")
        if isinstance(e, TimeoutError):
            return errors.Unavailable(f"registry {self.host} did not answer in time ({url})")
        return errors.Unavailable(f"cannot talk to registry {self.host} ({url}): {e}")

    # ------------------------------------------------------------ requests

    def request(self, method: str, path: str, *, headers: dict | None = None, body=None,
                scopes: tuple[str, ...] = (), follow: bool = False) -> Response:
        """Send a request (``path`` relative to the registry, or an absolute URL it gave us),
        answering one 401 challenge and, with ``follow``, redirects (blob downloads)."""
        if self.scheme is None:
            self.ping()
        url = path if "://" in path else self.base + path
        for attempt in range(2):
            hdrs = dict(headers or {})
            if self._same_host(url):
                auth = self.auth.header(scopes)
                if auth:
                    hdrs["Authorization"] = auth
            resp = self._send_checked(method, url, hdrs, body)
            if resp.status == 401 and attempt == 0 and self._same_host(url):
                challenges = resp.headers.get_all("WWW-Authenticate") or []
                resp._body = resp.read()  # kept for error(): the 401 may be the final answer
                had = self.auth.scheme
                if self.auth.challenge(challenges) and not (had == "basic" and self.auth.scheme == "basic"):
                    self.auth.forget(scopes)
                    continue  # answer the (new) challenge; Basic already sent is not worth a retry
                return resp
            redirects = 0
            while follow and resp.status in (301, 302, 303, 307, 308) and method in ("GET", "HEAD"):
                location = resp.header("Location")
                resp.read()
                redirects += 1
                if not location or redirects > MAX_REDIRECTS:
                    raise errors.Unavailable(f"registry {self.host} redirected {method} {url} too often or nowhere")
                url = urljoin(url, location)
                hdrs = {k: v for k, v in (headers or {}).items()}
                if self._same_host(url):
                    auth = self.auth.header(scopes)
                    if auth:
                        hdrs["Authorization"] = auth
                resp = self._send_checked(method, url, hdrs, None)
            return resp
        return resp  # pragma: no cover

    def _same_host(self, url: str) -> bool:
        return urlsplit(url).netloc == self.host

    def _send_checked(self, method: str, url: str, headers: dict, body) -> Response:
        try:
            return self._send(method, url, headers, body)
        except errors.DockyardError:
            raise
        except (OSError, http.client.HTTPException) as e:
            if self._same_host(url):
                raise self._connect_error(e, urlsplit(url).scheme, f"{method} {url}") from None
            raise errors.Unavailable(f"{method} {url} failed: {e}") from None

    def _send(self, method: str, url: str, headers: dict, body) -> Response:
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        verify = not (self.insecure and parts.netloc == self.host)
        headers.setdefault("User-Agent", USER_AGENT)
        if body is None and method in ("PUT", "POST", "PATCH"):
            headers.setdefault("Content-Length", "0")
        elif isinstance(body, (bytes, bytearray)):
            headers["Content-Length"] = str(len(body))
        elif body is not None:
            headers["Content-Length"] = str(body.length)
        for attempt in range(2):
            conn, reused = self._pool.get(parts.scheme, parts.netloc, verify)
            if hasattr(body, "rewind"):
                body.rewind()
            try:
                conn.request(method, target, body=body, headers=headers)
                resp = conn.getresponse()
            except _STALE:
                conn.close()
                # The server closed a kept-alive connection under us. Sending again is only safe
                # when repeating the request changes nothing: an upload chunk may have arrived
                # in part (the push resumes it from the offset the registry reports instead).
                if reused and attempt == 0 and method in ("GET", "HEAD"):
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            return Response(url, resp, conn, self._pool)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fetch_token(self, url: str, headers: dict) -> tuple[int, bytes]:
        resp = self._send_checked("GET", url, dict(headers), None)
        return resp.status, resp.read(1 << 20)

    # ------------------------------------------------------------ errors

    def error(self, resp: Response, what: str, *, hint: str | None = None) -> errors.DockyardError:
        """The dockyard error for a failed response (its body is read and rendered)."""
        body = resp._body
        if body is None:
            try:
                body = resp.read() if resp._conn is not None else b""
            except errors.DockyardError:
                body = b""
        detail = describe_errors(body) or _BODYLESS.get(resp.status) or f"{resp.status} {resp.reason}".strip()
        if resp.status == 401 and hint is None:
            hint = (f"log in with `dockyard login {self.domain}`" if self.domain != "docker.io"
                    else "log in with `dockyard login`")
        return status_error(resp.status, f"{what}: {detail}", hint)


# ============================================================================ login

def check_login(domain: str, credentials, *, insecure: bool = False) -> None:
    """Verify ``credentials`` against ``/v2/`` of ``domain`` (Basic, or the Bearer token flow).

    A registry that asks for no authentication at all accepts any login, as with Docker.
    """
    with Registry(domain, insecure=insecure, credentials=credentials) as reg:
        reg.ping()
        if reg.auth.scheme is None:
            return
        url = f"{reg.base}/v2/"
        try:
            resp = reg.request("GET", "/v2/")
        except errors.PermissionDenied as e:
            raise errors.PermissionDenied(f'login to {domain} failed: Get "{url}": {e.message}', hint=e.hint) from None
        with resp:
            if resp.status == 200:
                resp.read()
                return
            if resp.status in (401, 403):  # dockerd's words for a refused login
                import http

                resp.read()
                raise errors.PermissionDenied(f"login attempt to {url} failed with status: {resp.status} "
                                              f"{http.HTTPStatus(resp.status).phrase}",
                                              hint="check the username and password")
            err = reg.error(resp, f'login to {domain} failed: Get "{url}"', hint="check the username and password")
        raise err
