"""htpasswd Basic authentication, as distribution's ``auth: htpasswd`` does it.

Only bcrypt entries (``htpasswd -B``) are accepted: they are the only ones distribution accepts,
and the others (MD5-crypt, SHA1, crypt) are too weak to offer. Every request needs valid
credentials, reads included. A bcrypt check costs milliseconds, and Docker sends the credentials
with every request of a push or pull, so a verified password is remembered (as a salted SHA-256
in memory) until the file changes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from dockyard.errors import InvalidArgument

_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$", "$2x$")
# An unrelated bcrypt hash to spend the same time on unknown users as on known ones.
_DUMMY = b"$2b$05$4p2G39Qmi9EpmUtGQ/lBAeApfg0NH3Q7qVkmKVk5b599VYz92iOJS"


def parse_htpasswd(text: str, source: str = "htpasswd") -> dict[str, bytes]:
    """``{user: bcrypt hash}``; InvalidArgument naming the line for anything else."""
    users: dict[str, bytes] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not user or not hashed:
            raise InvalidArgument(f"{source}:{lineno}: not a 'user:hash' line")
        if not hashed.startswith(_BCRYPT_PREFIXES):
            raise InvalidArgument(f"{source}:{lineno}: user {user!r} has a non-bcrypt password hash",
                                  hint="only bcrypt entries are supported: create them with htpasswd -B")
        users[user] = hashed.encode()
    return users


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """``(user, password)`` from an ``Authorization: Basic …`` header, or None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class Htpasswd:
    """The users of an htpasswd file, re-read when the file changes."""

    def __init__(self, path: str) -> None:
        import bcrypt  # noqa: F401 - fail at start-up, not at the first request

        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, bytes] = {}
        self._verified: dict[str, bytes] = {}
        self._salt = os.urandom(16)
        self._reload()

    def _reload(self) -> None:
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp == self._stamp:
                return
            with open(self.path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise InvalidArgument(f"cannot read htpasswd file {self.path}: {e.strerror}") from None
        self._users = parse_htpasswd(text, self.path)
        self._verified.clear()
        self._stamp = stamp

    def verify(self, user: str, password: str) -> bool:
        """Whether the credentials are valid. Blocking (bcrypt): call it from a worker thread."""
        import bcrypt

        try:
            self._reload()
        except InvalidArgument:
            pass  # a file being rewritten; keep the users we had
        key = hashlib.sha256(self._salt + user.encode() + b"\0" + password.encode()).digest()
        hashed = self._users.get(user)
        if hashed is not None and hmac.compare_digest(self._verified.get(user, b""), key):
            return True
        try:
            ok = bcrypt.checkpw(password.encode(), hashed if hashed is not None else _DUMMY)
        except ValueError:  # a malformed hash in the file
            ok = False
        if ok and hashed is not None:
            self._verified[user] = key
            return True
        return False

    def cached(self, user: str, password: str) -> bool:
        """True if these credentials were verified before (no bcrypt, safe on the event loop)."""
        try:
            self._reload()  # a stat; the file is only read again when it changed
        except InvalidArgument:
            pass
        if user not in self._users:
            return False
        key = hashlib.sha256(self._salt + user.encode() + b"\0" + password.encode()).digest()
        return hmac.compare_digest(self._verified.get(user, b""), key)
