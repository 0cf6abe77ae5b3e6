"""COPY and ADD: written through an overlay of the stage's own filesystem whose upper dir becomes
the layer, so a destination under one of the image's links lands where the link points (resolved
inside the image) and directories that exist keep their owner and mode, as Docker's. The writes
and the source lookups are by descriptor (`dockyard.builder.copier`)."""

from __future__ import annotations

import os
import posixpath
import stat

from dockyard.builder.sources import context_root, context_sources, download, excluder, from_state
from dockyard.builder.state import BuildError, State
from dockyard.errors import NotImplemented


def copy_step(builder, instr, state: State, states: dict, df) -> State:
    from dockyard.builder.copier import Layer

    # --link gives the same filesystem (only the layer's independence differs): accepted as is
    if (getattr(instr, "parents", False) or instr.exclude) and (
            instr.heredocs or any("://" in s for s in instr.sources)):
        raise NotImplemented(f"{builder.name}:{instr.line}: {instr.keyword} --parents/--exclude apply to files of "
                             "the context or a stage, not to heredocs or URLs")

    cc = state.cc
    workdir = cc.get("WorkingDir") or "/"
    dest = instr.dest if instr.dest.startswith("/") else os.path.join(workdir, instr.dest)
    dest_is_dir = instr.dest.endswith("/") or len(instr.sources) > 1 or any(ch in s for s in instr.sources
                                                                            for ch in "*?[")
    uid = gid = 0
    if instr.chown:
        uid, gid = chown_ids(builder, instr.chown, state)
    mode = None
    if instr.chmod:
        from dockyard.builder.dockerfile import parse_chmod

        mode = parse_chmod(instr.chmod, where=f"{builder.name}:{instr.line}")
    root, unmount, upper = builder.mount_state(state, writable=True)
    try:
        with Layer(root, uid=uid, gid=gid, mode=mode) as layer:
            if instr.heredocs:  # COPY <<EOF /file: the body is the file
                copy_heredocs(builder, instr, layer, dest, dest_is_dir)
            elif any("://" in src for src in instr.sources):  # ADD URL: the file as downloaded
                copy_urls(builder, instr, layer, dest, dest_is_dir)
            elif getattr(instr, "from_", None):
                copy_from(builder, instr, layer, dest, dest_is_dir, states, df)
            else:
                with context_root(builder) as src:
                    matches = [m for s in instr.sources for m in context_sources(src, s)]
                    for m in matches:
                        place(src, m, layer, dest, dest_is_dir, extract=instr.keyword == "ADD", instr=instr)
        unmount(keep=True)
        return builder.add_layer(state, upper, overlay_upper=True, created_by=f"/bin/sh -c #(nop) {instr.original}")
    finally:
        unmount()


def copy_heredocs(builder, instr, layer, dest: str, dest_is_dir: bool) -> None:
    bodies = {f"<<{h.name}": h for h in instr.heredocs} | {f"<<-{h.name}": h for h in instr.heredocs}
    for src in instr.sources:
        h = bodies.get(src)
        if h is None:
            raise NotImplemented(f"{builder.name}:{instr.line}: mixing heredocs and files in one "
                                 f"{instr.keyword} is not supported yet")
        target = os.path.join(dest, h.name) if dest_is_dir and len(instr.sources) > 1 else dest
        pfd, name = layer.parent(target)
        try:
            if name is None:
                raise BuildError(f"{builder.name}:{instr.line}: cannot write a heredoc over /")
            layer.put_bytes(pfd, name, h.content.encode(), 0o644)
        finally:
            os.close(pfd)


def copy_urls(builder, instr, layer, dest: str, dest_is_dir: bool) -> None:
    for url in instr.sources:
        base = os.path.basename(url.split("?", 1)[0].rstrip("/")) or "index.html"
        pfd, name = layer.parent(os.path.join(dest, base) if dest_is_dir else dest)
        try:
            with open(download(builder, url, instr), "rb") as f:  # our own temp file, mode 0600
                layer.put_file(pfd, name or base, f.fileno(), os.fstat(f.fileno()))  # docker: 0600
        finally:
            os.close(pfd)


def copy_from(builder, instr, layer, dest: str, dest_is_dir: bool, states: dict, df) -> None:
    """COPY --from: sources resolved inside the stage's or image's filesystem."""
    from dockyard.builder.copier import MissingSource, SourceRoot

    if instr.from_ in builder.build_contexts:
        root, unmount = builder.build_contexts[instr.from_], (lambda: None)
    else:
        root, unmount, _ = builder.mount_state(from_state(builder, instr.from_, states, df))
    try:
        with SourceRoot(root) as src:
            matches = []
            for s in instr.sources:
                try:
                    found = src.expand(s)
                except MissingSource as e:
                    raise BuildError(f"COPY failed: {e}") from None
                if not found:
                    raise BuildError(f"COPY failed: stat {s}: file does not exist")
                matches += found
            for m in matches:
                place(src, m, layer, dest, dest_is_dir, extract=False, instr=instr)
    finally:
        unmount()


def place(src, m, layer, dest: str, dest_is_dir: bool, *, extract: bool, instr=None) -> None:
    """One resolved source into the layer: a directory's contents into ``dest``, a local tar
    (ADD) unpacked into it, anything else to ``dest`` or to ``dest``/its name. COPY --exclude
    skips what its patterns name; COPY --parents keeps the source's path (below a ``/./`` in
    the source when there is one) under ``dest``."""
    excl = excluder(instr) if instr is not None else None
    if excl and excl(m, ()):
        return
    skip = (lambda rel: excl(m, rel)) if excl else None
    if instr is not None and getattr(instr, "parents", False):
        dest = posixpath.join(dest, *m.name[pivot(instr, m):]) if m.name else dest
        dest_is_dir = False
    if m.is_dir:
        dfd = layer.directory(dest)
        try:
            layer.copy(src, m, dfd, None, skip)
        finally:
            os.close(dfd)
        return
    if extract and stat.S_ISREG(m.st.st_mode):
        data = src.open_file(m.real)
        if data is not None:
            with os.fdopen(data, "rb") as f:
                if is_tar(f):
                    from dockyard.archive.apply import apply_layer

                    dfd = layer.directory(dest)
                    try:  # the directory's own descriptor, named through /proc: no path walk
                        apply_layer(f, f"/proc/self/fd/{dfd}", mode="flatten")
                    finally:
                        os.close(dfd)
                    return
    target = os.path.join(dest, m.name[-1]) if dest_is_dir or dest.endswith("/") else dest
    pfd, name = layer.parent(target)
    try:
        layer.copy(src, m, pfd, name, skip)
    finally:
        os.close(pfd)


def chown_ids(builder, spec: str, state: State) -> tuple[int, int]:
    """--chown USER[:GROUP] as ids, names read from the stage's own /etc/passwd and /etc/group."""
    from dockyard.engine.users import resolve_user

    user, _, group = spec.partition(":")
    if user.isdigit() and (not group or group.isdigit()):
        return int(user), int(group or user)
    root, unmount, _ = builder.mount_state(state)
    try:
        from dockyard.builder.copier import SourceRoot

        with SourceRoot(root) as src:
            def read(p):  # inside the stage's root: an image's /etc/passwd may be a link
                m = src.lookup(tuple(p.split("/")))
                fd = None if m is None else src.open_file(m.real)
                if fd is None:
                    return None
                with os.fdopen(fd, encoding="utf-8", errors="replace") as f:
                    return f.read()
            u = resolve_user(spec, read("etc/passwd"), read("etc/group"))
        return u.uid, u.gid
    finally:
        unmount()


def is_tar(f) -> bool:
    """Whether an open file is a (compressed) tar, as ADD decides to unpack it; rewinds it."""
    import tarfile

    head = os.pread(f.fileno(), 262, 0)
    if head[:2] == b"\x1f\x8b" or head[:4] == b"\x28\xb5\x2f\xfd" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        return True
    try:
        return tarfile.is_tarfile(f)
    finally:
        f.seek(0)


def pivot(instr, m) -> int:
    """How many leading components of a --parents match are dropped: those before a ``/./`` of
    the source that produced it (BuildKit's pivot), none without one."""
    from dockyard.archive.inroot import clean_parts

    for source in instr.sources:
        head, sep, _ = ("/" + source).rpartition("/./")
        if sep:
            from fnmatch import fnmatchcase

            want = clean_parts(head)
            n = len(want)
            if len(m.name) > n and all(fnmatchcase(a, b) for a, b in zip(m.name[:n], want)):
                return n
    return 0
