"""Registry authentication: ``WWW-Authenticate`` challenges, Basic, and the Bearer token flow.

A registry answers an unauthenticated request with 401 and a challenge (the distribution spec's
token flow, Docker's ``registry/auth``):

- ``Basic realm="…"``: send ``Authorization: Basic base64(user:password)`` on every request.
- ``Bearer realm="https://auth.example/token",service="registry.example",scope="…"``: GET the
  realm with ``service`` and one ``scope`` parameter per scope (``repository:ns/app:pull,push``),
  with Basic credentials when we have some (anonymous otherwise), and send the ``token`` (or
  ``access_token``) it returns as ``Authorization: Bearer …``.

Tokens are cached per set of scopes until shortly before ``expires_in`` runs out (60 s when the
server does not say), so a pull's parallel blob downloads share one token instead of each asking
the token server. The cache and the challenge are shared between threads under one lock.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from urllib.parse import urlencode

from dockyard import errors

TOKEN_MARGIN_S = 10.0
DEFAULT_TOKEN_TTL_S = 60.0
MAX_TOKEN_RESPONSE = 1 << 20


def parse_challenges(header: str) -> list[tuple[str, dict[str, str]]]:
    """``Bearer realm="x",service="y", Basic realm="z"`` → [("bearer", {...}), ("basic", {...})].

    RFC 7235's grammar, forgivingly: schemes are lowercased, parameter names too, values may be
    quoted (with backslash escapes) or bare tokens, and commas separate both parameters and
    challenges (a bare word not followed by ``=`` starts the next challenge).
    """
    out: list[tuple[str, dict[str, str]]] = []
    i, n = 0, len(header)

    def skip_ws(j: int) -> int:
        while j < n and header[j] in " \t,":
            j += 1
        return j

    def token(j: int) -> tuple[str, int]:
        k = j
        while k < n and header[k] not in " \t,=\"":
            k += 1
        return header[j:k], k

    i = skip_ws(i)
    while i < n:
        scheme, i = token(i)
        if not scheme:  # stray character: skip it
            i += 1
            i = skip_ws(i)
            continue
        params: dict[str, str] = {}
        out.append((scheme.lower(), params))
        while True:
            j = skip_ws(i)
            name, k = token(j)
            while k < n and header[k] in " \t":
                k += 1
            if not name or k >= n or header[k] != "=":
                i = j
                break  # end of header, or the next challenge's scheme
            k += 1
            if k >= n or header[k] in "=,":  # token68 (``abc==``): a credential, not a parameter
                while k < n and header[k] == "=":
                    k += 1
                i = k
                continue
            while k < n and header[k] in " \t":
                k += 1
            if k < n and header[k] == '"':
                k += 1
                value = []
                while k < n and header[k] != '"':
                    if header[k] == "\\" and k + 1 < n:
                        k += 1
                    value.append(header[k])
                    k += 1
                k += 1  # closing quote
                params[name.lower()] = "".join(value)
            else:
                value_s, k = token(k)
                params[name.lower()] = value_s
            i = k
        i = skip_ws(i)
    return out


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode("utf-8")).decode("ascii")


class Authorizer:
    """What to put in ``Authorization`` for a registry, learnt from its challenges.

    ``fetch(url, headers) -> (status, body)`` performs a GET for the token request (the client's
    transport: the realm may live on another host).
    """

    def __init__(self, domain: str, credentials, fetch) -> None:
        self.domain = domain
        self.credentials = credentials
        self._fetch = fetch
        self._lock = threading.Lock()
        self.scheme: str | None = None     # "basic" | "bearer" | None (nothing asked for yet)
        self.params: dict[str, str] = {}
        self._tokens: dict[str, tuple[str, float]] = {}

    # ------------------------------------------------------------ challenges

    def challenge(self, headers: list[str]) -> bool:
        """Remember the best challenge among ``headers`` (Bearer over Basic); False if none usable."""
        found: dict[str, dict[str, str]] = {}
        for h in headers:
            for scheme, params in parse_challenges(h):
                found.setdefault(scheme, params)
        with self._lock:
            if "bearer" in found and found["bearer"].get("realm"):
                self.scheme, self.params = "bearer", found["bearer"]
                return True
            if "basic" in found:
                self.scheme, self.params = "basic", found["basic"]
                return True
        return False

    def forget(self, scopes: tuple[str, ...]) -> None:
        """Drop a token the registry refused (expired early, or too narrow a scope)."""
        with self._lock:
            self._tokens.pop(_scope_key(scopes), None)

    # ------------------------------------------------------------ headers

    def header(self, scopes: tuple[str, ...] = ()) -> str | None:
        """The ``Authorization`` value for a request needing ``scopes`` (None: send none)."""
        scheme = self.scheme
        if scheme == "basic":
            if self.credentials is None:
                return None
            return basic_header(self.credentials.username, self.credentials.password)
        if scheme == "bearer":
            return "Bearer " + self.token(scopes)
        return None

    def token(self, scopes: tuple[str, ...]) -> str:
        key = _scope_key(scopes)
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and cached[1] > time.monotonic():
                return cached[0]
            token, ttl = self._request_token(scopes)
            self._tokens[key] = (token, time.monotonic() + max(ttl - TOKEN_MARGIN_S, 1.0))
            return token

    def _request_token(self, scopes: tuple[str, ...]) -> tuple[str, float]:
        realm = self.params["realm"]
        query: list[tuple[str, str]] = []
        if self.params.get("service"):
            query.append(("service", self.params["service"]))
        for s in scopes:
            query.append(("scope", s))
        headers = {}
        if self.credentials is not None:
            query.append(("account", self.credentials.username))
            headers["Authorization"] = basic_header(self.credentials.username, self.credentials.password)
        url = realm + ("&" if "?" in realm else "?") + urlencode(query) if query else realm
        status, body = self._fetch(url, headers)
        if status in (401, 403):
            detail = describe_errors(body) or ("incorrect username or password" if self.credentials
                                               else "authentication required")
            raise errors.PermissionDenied(
                f"unauthorized: {detail} (token server {realm} refused"
                f"{' the credentials of ' + self.credentials.username if self.credentials else ' anonymous access'})",
                hint=f"log in with `dockyard login {self.domain}`" if self.domain != "docker.io"
                else "log in with `dockyard login`")
        if status != 200:
            raise errors.Unavailable(f"token server {realm} answered {status} for scope {' '.join(scopes) or '-'}")
        try:
            doc = json.loads(body[:MAX_TOKEN_RESPONSE])
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise errors.Unavailable(f"token server {realm} sent a response that is not JSON") from None
        token = (doc.get("token") or doc.get("access_token")) if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise errors.Unavailable(f"token server {realm} sent no token")
        ttl = doc.get("expires_in")
        if not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or ttl <= 0:
            ttl = DEFAULT_TOKEN_TTL_S
        return token, float(ttl)


def _scope_key(scopes: tuple[str, ...]) -> str:
    return " ".join(sorted(set(scopes)))


def _code_text(code: str) -> str:
    return code.lower().replace("_", " ")


def describe_errors(body: bytes) -> str:
    """A registry error body as Docker renders it: ``code text: message[; …]`` ('' if none)."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return ""
    items = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        if isinstance(doc, dict) and isinstance(doc.get("details") or doc.get("message"), str):
            return str(doc.get("details") or doc.get("message"))
        return ""
    parts = []
    for e in items:
        if not isinstance(e, dict):
            continue
        code, message = str(e.get("code") or "unknown"), str(e.get("message") or "")
        parts.append(f"{_code_text(code)}: {message}" if message else _code_text(code))
    return "; ".join(parts)
