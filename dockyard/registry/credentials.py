"""Registry credentials in Docker's client config file, so `dockyard login` and `docker login` share them.

The file is ``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``), Docker's format:

    {"auths": {"https://index.docker.io/v1/": {"auth": "<base64 user:password>"},
               "127.0.0.1:5000": {"auth": "..."}}, ...other keys...}

Docker Hub's key is the legacy ``https://index.docker.io/v1/``; every other registry's is its
``host[:port]``. Lookups are as tolerant as Docker's (``ConvertToHostname``): a key written as
``https://host:5000/v2/`` still matches ``host:5000``. Writes keep every other key of the file
(Docker's ``credsStore``, ``psFormat``, proxies…) and replace it atomically with mode 0600: the
file holds passwords, and a crash must never leave half a config behind.

Not supported: credential helpers (``credsStore``/``credHelpers``: we never run
``docker-credential-*`` programs) and identity tokens (``identitytoken``, OAuth refresh tokens).
With a helper configured, ``dockyard login`` still stores the credentials inline in ``auths``,
where Docker also finds them.
"""

from __future__ import annotations

import base64
import json
import os

from dockyard import errors

INDEX_SERVER = "https://index.docker.io/v1/"
_HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})


class Credentials:
    __slots__ = ("username", "password")

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password

    def __repr__(self) -> str:  # never print a password by accident
        return f"Credentials(username={self.username!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Credentials) and (self.username, self.password) == (other.username, other.password)


def config_path() -> str:
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def hostname(server: str) -> str:
    """Docker's ConvertToHostname: ``https://host:5000/v2/`` → ``host:5000``."""
    s = server.strip()
    for prefix in ("http://", "https://"):
        if s.startswith(prefix):
            s = s[len(prefix):]
            break
    return s.split("/", 1)[0]


def domain_of(server: str) -> str:
    """The registry domain a login SERVER argument means (Docker Hub's many names → docker.io)."""
    host = hostname(server)
    if not host:
        raise errors.InvalidArgument(f"invalid registry address {server!r}")
    return "docker.io" if host in _HUB_NAMES else host


def server_key(domain: str) -> str:
    """The ``auths`` key Docker uses for ``domain``."""
    return INDEX_SERVER if domain in _HUB_NAMES else domain


def load_config(path: str | None = None) -> dict:
    path = path or config_path()
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise errors.PermissionDenied(f"cannot read {path}: {e.strerror}") from e
    if not raw.strip():
        return {}
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise errors.InvalidArgument(f"{path} is not valid JSON: {e}",
                                     hint="fix or remove the file (it is Docker's client config)") from None
    if not isinstance(doc, dict):
        raise errors.InvalidArgument(f"{path} is not a JSON object")
    return doc


def _matching_key(auths: dict, domain: str) -> str | None:
    want = server_key(domain)
    if want in auths:
        return want
    for key in auths:
        if domain_of(key) == domain:
            return key
    return None


def get(domain: str, path: str | None = None) -> Credentials | None:
    """Stored credentials for a registry domain (``docker.io``, ``host:5000``), or None."""
    path = path or config_path()
    auths = load_config(path).get("auths")
    if not isinstance(auths, dict):
        return None
    key = _matching_key(auths, domain)
    entry = auths.get(key) if key else None
    if not isinstance(entry, dict):
        return None
    if entry.get("auth"):
        try:
            user, sep, password = base64.b64decode(entry["auth"], validate=False).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise errors.InvalidArgument(f"{path}: the stored auth for {key} is not base64 of user:password",
                                         hint=f"run `dockyard login {domain}` again") from None
        if not sep:
            raise errors.InvalidArgument(f"{path}: the stored auth for {key} has no ':' between user and password",
                                         hint=f"run `dockyard login {domain}` again")
        return Credentials(user, password)
    if entry.get("username") and entry.get("password"):
        return Credentials(str(entry["username"]), str(entry["password"]))
    return None


def _write(path: str, doc: dict) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = os.path.join(directory, f".config.json.{os.getpid()}.tmp")
    data = (json.dumps(doc, indent="\t") + "\n").encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def store(domain: str, creds: Credentials, path: str | None = None) -> str:
    """Save credentials for ``domain`` (other entries and keys untouched); returns the file's path."""
    path = path or config_path()
    doc = load_config(path)
    auths = doc.get("auths")
    if not isinstance(auths, dict):
        auths = doc["auths"] = {}
    old = _matching_key(auths, domain)
    if old is not None and old != server_key(domain):
        del auths[old]
    token = base64.b64encode(f"{creds.username}:{creds.password}".encode("utf-8")).decode("ascii")
    entry = auths.get(server_key(domain))
    entry = dict(entry) if isinstance(entry, dict) else {}
    entry.pop("username", None)
    entry.pop("password", None)
    entry["auth"] = token
    auths[server_key(domain)] = entry
    _write(path, doc)
    return path


def erase(domain: str, path: str | None = None) -> str | None:
    """Remove the credentials for ``domain``; the key removed, or None if there were none."""
    path = path or config_path()
    doc = load_config(path)
    auths = doc.get("auths")
    if not isinstance(auths, dict):
        return None
    key = _matching_key(auths, domain)
    if key is None:
        return None
    del auths[key]
    _write(path, doc)
    return key
