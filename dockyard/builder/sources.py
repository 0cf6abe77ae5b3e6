"""What COPY, ADD and ``RUN --mount=type=bind`` read: the build context (by descriptor,
.dockerignore applied), a ``--build-context`` directory, an earlier stage or an image, and ADD's
URLs (downloaded once per build); and the digest of a step's sources for its cache key (content
and modes, never mtimes)."""

from __future__ import annotations

import hashlib
import json
import os

from dockyard.builder.state import BuildError, State, file_digest
from dockyard.errors import DockyardError, NotImplemented
from dockyard.ownership import owner_tag


def sources_digest(builder, instr, states: dict, df) -> str:
    """Content and modes of what the step copies (not mtimes): a changed file changes it. The
    files and their digests are left in ``builder.last_files`` (to say what changed on a miss)."""
    h = hashlib.sha256()
    if instr.heredocs:
        return ""  # the bodies are hashed with the step (see Builder.step)
    urls = [src for src in instr.sources if "://" in src]
    if urls:
        if instr.keyword != "ADD" or len(urls) != len(instr.sources):
            raise BuildError(f"{builder.name}:{instr.line}: {instr.keyword} of a URL needs ADD and only URLs")
        files = builder.last_files = {}
        for url in urls:
            files[url] = file_digest(download(builder, url, instr))
            h.update(f"{url}\0{files[url]}\n".encode())
        return h.hexdigest()
    if getattr(instr, "from_", None) and instr.from_ not in builder.build_contexts:
        st = from_state(builder, instr.from_, states, df)
        h.update(st.key.encode())
        h.update(json.dumps(instr.sources).encode())
        builder.last_files = {f"--from={instr.from_}": st.key}
        return h.hexdigest()
    from dockyard.builder.copier import entry_digest

    files = builder.last_files = {}
    skip = excluder(instr)
    with named_root(builder, getattr(instr, "from_", None)) as src:
        for source in instr.sources:
            for m in context_sources(src, source):
                if skip and skip(m, ()):
                    continue
                for rel, st, pfd, name in src.walk(m):
                    if rel and skip and skip(m, rel):
                        continue  # (what is below an excluded directory is skipped too: no matter)
                    path = "/".join((*m.name, *rel)) or "."
                    files[path] = entry_digest(src, st, pfd, name)
    for path in sorted(files):
        h.update(f"{path}\0{files[path]}\n".encode())
    return h.hexdigest()


def download(builder, url: str, instr) -> str:
    """ADD's URL source, fetched once per build (to hash it for the cache, then to copy it);
    `--checksum` is verified before anything uses it. The file is kept in ``builder.downloads``,
    which the build removes when it ends."""
    cached = builder.downloads.get(url)
    if cached:
        return cached
    import shutil
    import tempfile
    import urllib.error
    import urllib.request

    where = f"{builder.name}:{instr.line}"
    if not url.startswith(("http://", "https://")):
        raise NotImplemented(f"{where}: ADD from {url.split(':', 1)[0]} URLs is not supported")
    fd, path = tempfile.mkstemp(dir=builder.engine.tmp_dir(), prefix=f"add-{owner_tag()}-")
    try:
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=60) as resp:
            shutil.copyfileobj(resp, f)
    except (urllib.error.URLError, OSError, ValueError) as e:
        os.unlink(path)
        raise BuildError(f"{where}: failed to GET {url}: {getattr(e, 'reason', e)}") from None
    if getattr(instr, "checksum", None):
        algo, _, want = instr.checksum.partition(":")
        if algo not in ("sha256", "sha384", "sha512") or not want:
            raise BuildError(f"{where}: invalid --checksum {instr.checksum!r}")
        got = file_digest(path, algo)
        if got != want:
            os.unlink(path)
            from dockyard.errors import DigestMismatch

            raise DigestMismatch(f"{where}: digest mismatch for {url}: expected {instr.checksum}, got {algo}:{got}")
    builder.downloads[url] = path
    return path


def context_root(builder):
    """The build context, open by descriptor, with .dockerignore applied."""
    from dockyard.builder.copier import SourceRoot

    f = builder.context_filter
    return SourceRoot(builder.context, excluded=f.excluded,
                      reenter=lambda rel: f.has_exclusions and f.may_reinclude(rel))


def named_root(builder, name: str | None):
    """The build context (``name`` None) or the --build-context directory ``name``, by descriptor."""
    if name is None:
        return context_root(builder)
    from dockyard.builder.copier import SourceRoot

    return SourceRoot(builder.build_contexts[name])


def context_sources(src, source: str) -> list:
    """What one COPY source names in the context, resolved inside it (an error if nothing)."""
    if os.path.normpath(source.lstrip("/")).startswith(".."):
        raise BuildError(f"COPY failed: forbidden path outside the build context: {source}")
    from dockyard.builder.copier import MissingSource

    try:
        matches = src.expand(source)
    except MissingSource as e:
        source = e.path
        matches = []
    if not matches:
        raise BuildError(f"COPY failed: file not found in build context or excluded by .dockerignore: "
                         f"stat {source}: file does not exist")
    return matches


def from_state(builder, ref: str, states: dict, df) -> State:
    """COPY --from: an earlier stage (by name or index), else an image in the store."""
    for s in df.stages:
        if (s.name and s.name.lower() == ref.lower()) or str(s.index) == ref:
            if s.index in states:
                return states[s.index]
    try:
        rec = builder.engine.images.resolve(ref)
    except DockyardError as e:
        raise BuildError(f"COPY --from={ref}: {e}") from None
    return State(list(builder.engine.images.manifest(rec).get("layers") or ()), builder.engine.images.config(rec),
                 rec.id.removeprefix("sha256:"))


def excluder(instr):
    """COPY/ADD --exclude as a test (match, path below it) -> skipped: the patterns (.dockerignore
    syntax, Go's filepath.Match per component) are matched against the path relative to the
    source directory, or the base name of a file source, as BuildKit's copy does."""
    pats = getattr(instr, "exclude", None)
    if not pats:
        return None
    from dockyard.builder.context import ContextFilter

    f = ContextFilter(pats, dockerfile=None, keep_sent=False)

    def skip(m, rel) -> bool:
        if m.is_dir:
            return bool(rel) and f.excluded("/".join(rel))
        return f.excluded("/".join((m.name[-1] if m.name else "", *rel)))
    return skip
