"""``dockyard registry gc``: mark and sweep, safe next to a serving registry.

Mark: every tag is a root, and so is every manifest touched within the grace period (just
pushed, perhaps as an index entry whose index is still on its way). From the roots, follow index
entries to manifests, manifests to their config and layers, and subjects back to their referrers
(a signature or SBOM lives as long as what it describes).

Sweep, in this order:

1. One write transaction deletes the rows of unreached manifests and blob links older than the
   grace period, then the ``blobs`` rows nothing links any more. A manifest PUT is either
   before it (its blobs are linked and freshly touched, so they are kept) or after it (it sees
   the blobs gone and fails with MANIFEST_BLOB_UNKNOWN): never half of each.
2. A second write transaction unlinks the files of those blobs, each only after checking that no
   row has named it again meanwhile (a re-upload of the same bytes), plus files no row names that
   are older than the grace period (left by a crash between rename and commit).
3. Upload sessions idle for longer than the grace period, and content-store temps of dead
   writers, are removed.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field

from dockyard.errors import InvalidArgument, NotFound
from dockyard.registry.server.storage import RegistryStorage

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", re.ASCII)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration: ``1h``, ``90m``, ``1h30m``, ``10s``, ``0``; a bare number
    is seconds."""
    s = text.strip()
    try:
        value = float(s)
    except ValueError:
        pos, value = 0, 0.0
        for m in _DURATION_RE.finditer(s):
            if m.start() != pos:
                break
            value += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if pos != len(s) or not s:
            raise InvalidArgument(f"invalid duration {text!r}", hint="use e.g. 1h, 30m, 1h30m, 45s or 0") from None
    if value < 0 or value != value:
        raise InvalidArgument(f"invalid duration {text!r}: must not be negative")
    return value


@dataclass
class GcReport:
    manifests: list[tuple[str, str]] = field(default_factory=list)  # (repo, digest)
    links: list[tuple[str, str]] = field(default_factory=list)  # (repo, digest)
    blobs: list[tuple[str, int]] = field(default_factory=list)  # (digest, size) of files removed
    uploads: list[tuple[str, str, int]] = field(default_factory=list)  # (uuid, repo, size)

    @property
    def freed(self) -> int:
        return sum(size for _, size in self.blobs) + sum(size for _, _, size in self.uploads)


def collect(root: str, *, grace: float, dry_run: bool = False, now: float | None = None) -> GcReport:
    storage = RegistryStorage(root)
    if not os.path.isfile(storage.db_path):
        raise NotFound(f"no registry at {root}: {storage.db_path} does not exist",
                       hint="point --root at the directory 'dockyard registry serve --root' uses")
    now = time.time() if now is None else now
    cutoff = now - grace
    report = GcReport()
    try:
        candidates = _sweep_rows(storage, cutoff, dry_run, report)
        _sweep_files(storage, cutoff, candidates, dry_run, report)
        _sweep_uploads(storage, cutoff, dry_run, report)
        if not dry_run:
            storage.content.prune_ingest(older_than=max(grace, 3600.0))
    finally:
        storage.close()
    return report


def _sweep_rows(storage: RegistryStorage, cutoff: float, dry_run: bool, report: GcReport) -> dict[str, int]:
    """Steps 1 (mark, delete rows); the blobs whose last row went, with their sizes."""
    conn = storage.conn()
    conn.execute("BEGIN IMMEDIATE")
    try:
        manifests = {(r, d): t for r, d, t in conn.execute("SELECT repo, digest, touched FROM manifests")}
        refs: dict[tuple[str, str], list[str]] = {}
        for repo, parent, child in conn.execute("SELECT repo, parent, child FROM manifest_refs"):
            refs.setdefault((repo, parent), []).append(child)
        referrers: dict[tuple[str, str], list[str]] = {}
        for repo, digest, subject in conn.execute("SELECT repo, digest, subject FROM manifests WHERE subject IS NOT NULL"):
            referrers.setdefault((repo, subject), []).append(digest)

        stack = [(r, d) for r, d in conn.execute("SELECT repo, digest FROM tags")]
        stack += [m for m, touched in manifests.items() if touched > cutoff]
        reached: set[tuple[str, str]] = set()
        needed: set[tuple[str, str]] = set()
        while stack:
            m = stack.pop()
            if m in reached or m not in manifests:
                continue
            reached.add(m)
            repo = m[0]
            for child in refs.get(m, ()):
                needed.add((repo, child))
                stack.append((repo, child))
            stack.extend((repo, d) for d in referrers.get(m, ()))

        for repo, digest in sorted(set(manifests) - reached):
            conn.execute("DELETE FROM manifests WHERE repo = ? AND digest = ?", (repo, digest))
            conn.execute("DELETE FROM manifest_refs WHERE repo = ? AND parent = ?", (repo, digest))
            conn.execute("DELETE FROM tags WHERE repo = ? AND digest = ?", (repo, digest))
            report.manifests.append((repo, digest))
        for repo, digest, touched in conn.execute("SELECT repo, digest, touched FROM blob_links ORDER BY repo, digest").fetchall():
            if (repo, digest) not in needed and touched <= cutoff:
                conn.execute("DELETE FROM blob_links WHERE repo = ? AND digest = ?", (repo, digest))
                report.links.append((repo, digest))
        unreferenced = conn.execute(
            "SELECT digest, size FROM blobs b WHERE touched <= ? "
            "AND NOT EXISTS (SELECT 1 FROM blob_links l WHERE l.digest = b.digest) "
            "AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest) ORDER BY digest", (cutoff,)).fetchall()
        conn.executemany("DELETE FROM blobs WHERE digest = ?", [(d,) for d, _ in unreferenced])
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("ROLLBACK" if dry_run else "COMMIT")
    return dict(unreferenced)


def _sweep_files(storage: RegistryStorage, cutoff: float, candidates: dict[str, int], dry_run: bool,
                 report: GcReport) -> None:
    """Step 2: unlink blob files no row names (candidates, and old orphans)."""
    conn = storage.conn()
    registered = {d for (d,) in conn.execute("SELECT digest FROM blobs")}
    for digest in storage.content.walk():
        if digest in candidates or digest in registered:
            continue
        try:
            st = os.stat(storage.content.path(digest))
        except FileNotFoundError:
            continue
        if st.st_mtime <= cutoff:
            candidates[digest] = st.st_size
    if dry_run:
        report.blobs.extend(sorted(candidates.items()))
        return
    with storage.write() as conn:
        for digest, size in sorted(candidates.items()):
            if conn.execute("SELECT 1 FROM blobs WHERE digest = ?", (digest,)).fetchone() is None:
                if storage.content.delete(digest):
                    report.blobs.append((digest, size))


def _sweep_uploads(storage: RegistryStorage, cutoff: float, dry_run: bool, report: GcReport) -> None:
    """Step 3: sessions (data + sidecar) with no activity since the cutoff."""
    import json

    try:
        names = os.listdir(storage.uploads_dir)
    except FileNotFoundError:
        return
    for name in sorted(names):
        if name.endswith((".json", ".tmp")):
            continue
        data = os.path.join(storage.uploads_dir, name)
        sidecar = data + ".json"
        try:
            st = os.stat(data)
        except FileNotFoundError:
            continue
        last = st.st_mtime
        repo = "?"
        try:
            last = max(last, os.stat(sidecar).st_mtime)
            with open(sidecar) as f:
                repo = str(json.load(f).get("repo", "?"))
        except (OSError, ValueError, AttributeError):
            pass
        if last > cutoff:
            continue
        report.uploads.append((name, repo, st.st_size))
        if not dry_run:
            for path in (data, sidecar):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
    # sidecars and temps whose data file is gone
    for name in names:
        if not name.endswith((".json", ".tmp")):
            continue
        path = os.path.join(storage.uploads_dir, name)
        data = path.removesuffix(".json") if name.endswith(".json") else None
        try:
            old = os.stat(path).st_mtime <= cutoff
        except FileNotFoundError:
            continue
        if old and not dry_run and (data is None or not os.path.exists(data)):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
