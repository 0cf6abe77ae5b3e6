"""Where blobs came from and went to: ``<root>/distribution/blob-sources.json``.

A push can skip uploading a layer another repository of the same registry already holds by
asking the registry to *mount* it (``POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<other>``),
but only if it knows such a repository. Docker keeps that knowledge in its v2 metadata; we keep a
small JSON file: ``{"sha256:…": ["127.0.0.1:5000/ns/app", …]}``, most recent first, a few
repositories per blob. Pulls and pushes add to it; entries of blobs no longer in the content
store are dropped whenever it is written, so it never outgrows the store.

Writers take an flock on ``<root>/distribution/lock`` and replace the file atomically, so
concurrent pulls and pushes of separate processes lose nothing and readers never see half a file.
The record is a hint: a wrong or stale entry only costs a failed mount, after which the blob is
uploaded normally.
"""

from __future__ import annotations

import json
import os

MAX_REPOS_PER_BLOB = 5


class BlobSources:
    def __init__(self, root: str, content) -> None:
        self.dir = os.path.join(root, "distribution")
        self.path = os.path.join(self.dir, "blob-sources.json")
        self.content = content

    def _read(self) -> dict[str, list[str]]:
        try:
            with open(self.path, "rb") as f:
                doc = json.loads(f.read() or b"{}")
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, UnicodeDecodeError):
            return {}  # a damaged hint is no hint
        return doc if isinstance(doc, dict) else {}

    def repos(self, digest: str, domain: str) -> list[str]:
        """Repository paths on ``domain`` known to hold ``digest``, most recent first."""
        prefix = domain + "/"
        return [r[len(prefix):] for r in self._read().get(digest) or [] if isinstance(r, str) and r.startswith(prefix)]

    def add(self, repo_name: str, digests: list[str]) -> None:
        """Record that ``repo_name`` (``domain/path``) holds ``digests``."""
        if not digests:
            return
        import fcntl

        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            doc = self._read()
            for d in digests:
                repos = [r for r in doc.get(d) or [] if isinstance(r, str) and r != repo_name]
                doc[d] = [repo_name, *repos][:MAX_REPOS_PER_BLOB]
            doc = {d: r for d, r in doc.items() if _stored(self.content, d)}
            tmp = f"{self.path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                json.dump(doc, f, sort_keys=True, separators=(",", ":"))
            os.replace(tmp, self.path)


def _stored(content, digest: str) -> bool:
    try:
        return content.has(digest)
    except Exception:  # noqa: BLE001 - an invalid key is simply dropped
        return False
