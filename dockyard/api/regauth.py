"""X-Registry-Auth (the credentials an API client sends for a pull or push) and Docker's JSON
progress messages for pulls and pushes."""

from __future__ import annotations

import json
import threading

from dockyard.errors import InvalidArgument, NotImplemented


def registry_auth(req):
    """X-Registry-Auth (base64url JSON, as the docker CLI and docker-py send it) as `Credentials`,
    or None when it names none (then the host's `dockyard login` credentials are used)."""
    import base64

    from dockyard.registry.credentials import Credentials

    raw = req.headers.get("X-Registry-Auth")
    if not raw:
        return None
    try:
        doc = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)) or b"{}")
    except ValueError:
        raise InvalidArgument("invalid X-Registry-Auth header: not base64url JSON") from None
    if not isinstance(doc, dict):
        raise InvalidArgument("invalid X-Registry-Auth header: a JSON object is required")
    if doc.get("identitytoken") or doc.get("registrytoken"):
        raise NotImplemented("identity and registry tokens in X-Registry-Auth are not supported",
                             hint="send a username and password")
    user, password = doc.get("username") or "", doc.get("password") or ""
    if doc.get("auth") and not user:
        try:
            user, _, password = base64.b64decode(doc["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise InvalidArgument("invalid X-Registry-Auth header: auth is not base64 user:password") from None
    if not isinstance(user, str) or not isinstance(password, str):
        raise InvalidArgument("invalid X-Registry-Auth header: username and password must be strings")
    return Credentials(user, password) if user or password else None


class JsonProgress:
    """registry.progress events as Docker's JSON progress messages."""

    def __init__(self, out) -> None:
        self.out = out
        self.lock = threading.Lock()

    def send(self, doc: dict) -> None:
        with self.lock:
            self.out.write(json.dumps(doc).encode() + b"\r\n")

    def line(self, text: str) -> None:
        self.send({"status": text})

    def status(self, ident: str, text: str) -> None:
        self.send({"status": text, "id": ident, "progressDetail": {}})

    def progress(self, ident: str, action: str, current: int, total: int) -> None:
        self.send({"status": action, "id": ident, "progressDetail": {"current": current, "total": total}})

    def finish(self) -> None:
        pass
