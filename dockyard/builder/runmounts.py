"""`RUN --mount=…` (BuildKit's Dockerfile syntax): what each mount becomes for the step's container.

- ``type=cache``: a directory of the store, ``<root>/cache/mounts/<sha256(id)>`` (the id defaults
  to the target), made on first use with ``mode``/``uid``/``gid`` (0755, 0:0) and kept across
  builds; never part of the layer. ``sharing=shared`` lets concurrent builds use it together,
  ``locked`` waits for the other user (an exclusive ``flock``), ``private`` takes a fresh
  instance when the first one is in use. The id is hashed, so no id names a path outside the store.
- ``type=bind``: ``source`` (default: all) of the build context (``.dockerignore`` applied) or of
  ``from=`` a stage or image, resolved *inside* that root (symlinks too) and copied to a temp
  directory that is bound read-only (``rw``: writable, and the writes are thrown away). A source
  that leaves its root (``..``) is refused.
- ``type=tmpfs``: a tmpfs (``size`` as Docker's tmpfs sizes).
- ``type=secret``: the ``dockyard build --secret`` of that id, written to a 0400 temp file (mode,
  uid, gid as asked) bound read-only at the target, or given as the ``env`` variable. It is not
  in the cache key, the history or any layer; a missing secret fails the step only if ``required``.
- ``type=ssh`` is refused.

`prepare` returns the mount dicts (see engine/mounts.py), env entries and a cleanup function.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat

from dockyard.builder.sources import context_root, from_state, named_root
from dockyard.errors import InvalidArgument, NotImplemented


def parse_secret(spec: str) -> tuple[str, dict]:
    """`--secret id=ID[,src=FILE|,env=VAR][,type=file|env]` → (id, {"src"|"env": …}).
    Without src/env the id names an environment variable (when it is set), else a file."""
    vals: dict = {}
    for field in spec.split(","):
        k, eq, v = field.strip().partition("=")
        k = k.lower()
        if not eq:
            raise InvalidArgument(f"invalid secret {spec!r}: {field!r} must be key=value")
        if k in ("source", "src"):
            k = "src"
        if k not in ("id", "src", "env", "type"):
            raise InvalidArgument(f"invalid secret {spec!r}: unexpected key {k!r}")
        vals[k] = v
    sid = vals.get("id") or ""
    if vals.get("type") not in (None, "file", "env"):
        raise InvalidArgument(f"invalid secret {spec!r}: type must be file or env")
    if "src" in vals and "env" in vals:
        raise InvalidArgument(f"invalid secret {spec!r}: give src or env, not both")
    if "env" in vals or vals.get("type") == "env":
        name = vals.get("env") or vals.get("src") or sid
        sid = sid or name
        if name not in os.environ:
            raise InvalidArgument(f"secret {sid}: environment variable {name} is not set")
        return sid, {"data": os.environ[name].encode()}
    src = vals.get("src")
    if src is None and vals.get("type") is None and sid in os.environ:
        return sid, {"data": os.environ[sid].encode()}
    src = src or sid
    sid = sid or os.path.basename(src)
    if not sid:
        raise InvalidArgument(f"invalid secret {spec!r}: an id is required")
    try:
        with open(src, "rb") as f:
            return sid, {"data": f.read()}
    except OSError as e:
        raise InvalidArgument(f"secret {sid}: cannot read {src}: {e.strerror}") from None


def _size(text: str) -> int:
    from dockyard.units import ram_in_bytes

    try:
        return ram_in_bytes(text)
    except (ValueError, InvalidArgument):
        raise InvalidArgument(f"invalid tmpfs size {text!r}") from None


class _KeepOwner:
    """A copier Layer that keeps each entry's owner (a bind mount shows the files as they are)."""

    @staticmethod
    def make(path: str):
        from dockyard.builder.copier import Layer

        class Keep(Layer):
            def _own(self, fd, st):
                os.fchown(fd, st.st_uid, st.st_gid)
                os.fchmod(fd, stat.S_IMODE(st.st_mode))

        return Keep(path)


def _clean_target(target: str, workdir: str) -> str:
    import posixpath

    t = target if target.startswith("/") else posixpath.join(workdir or "/", target)
    t = posixpath.normpath(t)
    return "/" + t.lstrip("/")


def prepare(builder, instr, states: dict, df, workdir: str) -> tuple[list, list, callable]:
    """The step's mounts → (mount dicts, env entries, cleanup)."""
    import tempfile

    from dockyard.ownership import owner_tag

    where = f"{builder.name}:{instr.line}"
    mounts: list = []
    env: list = []
    undo: list = []

    def cleanup() -> None:
        for fn in reversed(undo):
            try:
                fn()
            except OSError:
                pass

    def temp_dir() -> str:
        import shutil

        d = tempfile.mkdtemp(dir=builder.engine.tmp_dir(), prefix=f"runmount-{owner_tag()}-")
        undo.append(lambda: shutil.rmtree(d, ignore_errors=True))
        return d

    try:
        seen: set = set()
        for m in instr.mounts:
            if m.type == "ssh":
                raise NotImplemented(f"{where}: RUN --mount=type=ssh is not supported by dockyard build")
            target = _clean_target(m.target, workdir) if m.target else ""
            if target:
                if target == "/":
                    raise InvalidArgument(f"{where}: a RUN --mount cannot target /")
                if target in seen:
                    raise InvalidArgument(f"{where}: two RUN --mount at {target}")
                seen.add(target)
            if m.type == "tmpfs":
                opts = [f"size={_size(m.size)}"] if m.size else []
                mounts.append({"type": "tmpfs", "source": "", "target": target, "readonly": False,
                               "origin": "build", "tmpfs": opts})
            elif m.type == "cache":
                mounts.append({"type": "bind", "source": _cache_dir(builder, m, target, undo, where),
                               "target": target, "readonly": m.readonly, "origin": "build"})
            elif m.type == "bind":
                mounts.append({"type": "bind", "source": _bind_copy(builder, m, temp_dir(), states, df, where),
                               "target": target, "readonly": m.readonly, "origin": "build"})
            elif m.type == "secret":
                data = builder.secrets.get(m.id)
                if data is None:
                    if m.required:
                        raise InvalidArgument(f"{where}: secret {m.id} not found (give it with --secret id={m.id},src=…)")
                    continue
                if m.env:
                    env.append(f"{m.env}={data.decode('utf-8', 'surrogateescape')}")
                if m.target and (not m.env or m.target):
                    d = temp_dir()
                    path = os.path.join(d, "secret")
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
                    try:
                        os.write(fd, data)
                        os.fchown(fd, m.uid or 0, m.gid or 0)
                        os.fchmod(fd, 0o400 if m.mode is None else m.mode)
                    finally:
                        os.close(fd)
                    mounts.append({"type": "bind", "source": path, "target": target, "readonly": True,
                                   "origin": "build"})
            else:
                raise NotImplemented(f"{where}: RUN --mount=type={m.type} is not supported")
    except BaseException:
        cleanup()
        raise
    return mounts, env, cleanup


def _cache_dir(builder, m, target: str, undo: list, where: str) -> str:
    if m.from_ or m.source:
        raise NotImplemented(f"{where}: RUN --mount=type=cache with from= or source= is not supported "
                             "by dockyard build (the cache starts empty)")
    cid = m.id or target
    base = os.path.join(builder.engine.root, "cache", "mounts")
    os.makedirs(base, mode=0o700, exist_ok=True)
    name = hashlib.sha256(cid.encode()).hexdigest()
    sharing = m.sharing or "shared"
    n = 0
    while True:
        path = os.path.join(base, name if n == 0 else f"{name}-{n}")
        lock = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        if sharing == "shared":
            fcntl.flock(lock, fcntl.LOCK_SH)
        elif sharing == "locked":
            fcntl.flock(lock, fcntl.LOCK_EX)
        else:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # private: another build has this instance, take the next
                os.close(lock)
                n += 1
                continue
        undo.append(lambda fd=lock: os.close(fd))
        break
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(f"{where}: cache mount {cid!r}: the store's cache entry is not a directory")
        return path
    os.chown(path, m.uid or 0, m.gid or 0, follow_symlinks=False)
    os.chmod(path, 0o755 if m.mode is None else m.mode, follow_symlinks=False)
    return path


def _bind_copy(builder, m, tmp: str, states: dict, df, where: str) -> str:
    """The bind's source copied (in-root resolution, owners and modes kept) under ``tmp``."""
    import posixpath

    from dockyard.builder.copier import SourceRoot

    source = m.source or "/"
    rel = posixpath.normpath("/" + source.lstrip("/")) if source.startswith("/") else posixpath.normpath(source)
    if rel == ".." or rel.startswith("../"):
        raise InvalidArgument(f"{where}: RUN --mount source {source!r} leaves the "
                              f"{'stage' if m.from_ else 'build context'}")
    parts = tuple(p for p in rel.split("/") if p and p != ".")
    unmount = None
    if m.from_ and m.from_ in builder.build_contexts:
        src = SourceRoot(builder.build_contexts[m.from_])
    elif m.from_:
        root, unmount, _ = builder.mount_state(from_state(builder, m.from_, states, df))
        src = SourceRoot(root)
    else:
        src = context_root(builder)
    try:
        with src:
            found = src.lookup(parts)
            if found is None:
                raise InvalidArgument(f"{where}: RUN --mount source {source!r}: no such file or directory "
                                      f"in the {'stage ' + m.from_ if m.from_ else 'build context'}")
            with _KeepOwner.make(tmp) as layer:
                if found.is_dir:
                    dfd = layer.directory("/data")
                    try:
                        layer.copy(src, found, dfd, None)
                    finally:
                        os.close(dfd)
                else:
                    layer.copy(src, found, layer.fd, "data")
        return os.path.join(tmp, "data")
    finally:
        if unmount:
            unmount()


def bind_digest(builder, instr, states: dict, df) -> str:
    """What the step's bind mounts show, for its cache key (as BuildKit keys on them): the content
    and modes of a context's or --build-context's source, the stage's or image's key for from=.
    Cache, tmpfs and secret mounts are not part of the key."""
    from dockyard.builder.copier import entry_digest

    h = hashlib.sha256()
    for m in instr.mounts:
        if m.type != "bind":
            continue
        source = m.source or "/"
        h.update(f"bind\0{m.from_ or ''}\0{source}\n".encode())
        if m.from_ and m.from_ not in builder.build_contexts:
            h.update(from_state(builder, m.from_, states, df).key.encode())
            continue
        with named_root(builder, m.from_) as src:
            found = src.lookup(tuple(p for p in source.split("/") if p and p not in (".", "..")))
            if found is None:
                continue  # the step fails on it when it runs
            for rel, st, pfd, name in src.walk(found):
                h.update(f"{'/'.join(rel)}\0{entry_digest(src, st, pfd, name)}\n".encode())
    return h.hexdigest()


def drop_mountpoints(upper: str, targets: list[str], existed: set) -> None:
    """Remove from the step's layer the empty files/directories the runtime made as mountpoints
    (and their empty parents the image did not have), walking by descriptor, never through a link."""
    for t in sorted(targets, key=lambda t: -t.count("/")):
        parts = [p for p in t.split("/") if p]
        while parts:
            path = "/".join(parts)
            parent = "/" + "/".join(parts[:-1])
            fd = _open_dir(upper, parts[:-1])
            if fd is None:
                break
            try:
                st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
            except OSError:
                st = None
            try:
                if st is None:
                    pass
                elif stat.S_ISDIR(st.st_mode):
                    try:
                        os.rmdir(parts[-1], dir_fd=fd)  # only if empty
                    except OSError:
                        break
                elif stat.S_ISREG(st.st_mode) and st.st_size == 0 and "/" + path not in existed:
                    os.unlink(parts[-1], dir_fd=fd)
                else:
                    break
            finally:
                os.close(fd)
            if parent in existed or parent == "/":
                break
            parts = parts[:-1]


def _open_dir(root: str, parts: list[str]) -> int | None:
    """`root`/parts… opened by descriptor, following no link (archive/inroot.open_dir_strict)."""
    from dockyard.archive.inroot import open_dir_strict

    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return open_dir_strict(fd, tuple(parts))
    finally:
        os.close(fd)
