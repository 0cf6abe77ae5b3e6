"""A container's filesystem from the host: `cp`, `stat_path` and `export` (`diff` is in
`dockyard.engine.fsdiff`, `commit` in `dockyard.engine.commit`).

Where the files are read and written:

- a running (or paused) container: its own root, ``/proc/<pid>/root``, so `cp` sees and changes
  what its processes see (its /etc/hosts, files written a moment ago). Walks never descend into
  the container's /proc, /sys and /dev; `export` descends into no mount at all (as Docker, it
  exports the container's filesystem, not what is mounted on it).
- a stopped or created one: its overlay, mounted on a private temporary directory under
  ``<root>/tmp`` (read-only as upper+lowers stacked as lowers, or read-write for `cp` into it),
  unmounted in a ``finally``, while holding the container's lock so `start` waits for us.

Security: the container's files belong to whoever controls the container, so none of its
symlinks may take us outside its root. Every container path is resolved like a chroot would
(``secure_join`` semantics: symlinks relative to the container root, ``..`` clamped at it), by
directory descriptor (`dockyard.archive.inroot`), and the last component is never followed unless
Docker's rules say so, and then it is resolved inside the root too. Trees are walked by
descriptor without following symlinks; regular files are opened through an ``O_PATH`` handle
checked to be a regular file, so a racing container cannot swap in a device node or a link.
Writes create each entry relative to its parent's descriptor with ``O_EXCL``/``O_NOFOLLOW``.

`cp` follows Docker's client and daemon (``archive.CopyInfoSourcePath``, ``PrepareArchiveCopy``,
``CopyInfoDestinationPath``): a source is a stream of entries named after its base name (``.``
for ``dir/.``: the contents), renamed to the destination's base name when it is created or
replaced, and extracted into a destination directory. The same stream is what ``-`` writes to
stdout or reads from stdin as a tar.

Its pieces: `dockyard.engine.fsroot` (the root opened, paths in it), `dockyard.engine.fsentries`
(the walk, tar in and out) and `dockyard.engine.fsextract` (the writes).
"""

from __future__ import annotations

import os
import stat

from dockyard import errors
from dockyard.archive import inroot
from dockyard.engine.fsentries import Tree, tar_entries, write_tar
from dockyard.engine.fsextract import Extractor
from dockyard.engine.fsroot import PathSpec, lookup, open_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO


class Endpoint:
    """One side of a copy: the tree at ``fd`` (a container root or the host's /), and how to
    name its paths in messages."""

    __slots__ = ("fd", "shift", "container", "running", "check")

    def __init__(self, fd: int, *, shift: int = 0, container: str | None = None, running: bool = False,
                 check: Callable[[tuple[str, ...]], None] | None = None) -> None:
        self.fd, self.shift, self.container, self.running = fd, shift, container, running
        self.check = check  # called with the real directory a copy into this tree goes into

    def label(self, spec: PathSpec) -> str:
        return f"{self.container}:{spec.text}" if self.container is not None else spec.text


class _Source:
    __slots__ = ("pfd", "name", "st", "base")

    def __init__(self, pfd, name, st, base) -> None:
        self.pfd, self.name, self.st, self.base = pfd, name, st, base


def _open_source(ep: Endpoint, spec: PathSpec, *, follow_link: bool) -> _Source:
    """Docker's source rules: the last component is followed with -L or a trailing / or /.,
    its entries are named after the requested base name either way."""
    pfd, name, st, _ = lookup(ep.fd, spec.parts, follow=follow_link or spec.asserts_dir)
    if st is None:
        if pfd is not None:
            os.close(pfd)
        if ep.container is not None:
            raise errors.NotFound(f"Could not find the file {spec.text} in container {ep.container}")  # docker CLI 28
        raise errors.NotFound(f"lstat {spec.text}: no such file or directory")
    if spec.asserts_dir and not stat.S_ISDIR(st.st_mode):
        os.close(pfd)
        raise errors.InvalidArgument(f"{ep.label(spec)}: not a directory")
    return _Source(pfd, name, st, spec.base)


def _dest(ep: Endpoint, spec: PathSpec, src_base: str, src_is_dir: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Docker's CopyInfoDestinationPath + PrepareArchiveCopy: (the real directory to extract
    into, the name prefix entries get there)."""
    pfd, _name, st, real = lookup(ep.fd, spec.parts, follow=spec.asserts_dir)
    if pfd is not None:
        os.close(pfd)
    if st is not None and stat.S_ISLNK(st.st_mode):  # a symlink destination is followed, in scope
        pfd, _name, st, real = lookup(ep.fd, spec.parts, follow=True)
        if pfd is not None:
            os.close(pfd)
    exists = st is not None
    is_dir = exists and stat.S_ISDIR(st.st_mode)
    label = ep.label(spec)
    if exists and not (is_dir or stat.S_ISREG(st.st_mode)):
        raise errors.InvalidArgument(f'destination "{label}" must be a directory or a regular file')
    if spec.asserts_dir and exists and not is_dir:
        raise errors.InvalidArgument(f'destination "{label}" is not a directory')
    src_prefix = () if src_base == "." else (src_base,)
    if is_dir:
        return real, src_prefix  # into the directory, under the source's own name
    if exists and src_is_dir:
        raise errors.InvalidArgument(f'cannot copy a directory to the file "{label}"')
    if not exists and not src_is_dir and spec.asserts_dir:
        raise errors.NotFound(f'no such directory: "{label}"')
    return real[:-1], real[-1:]  # created or replaced under the destination's name


def _open_dest_dir(ep: Endpoint, real: tuple[str, ...], spec: PathSpec) -> None:
    fd = inroot.open_dir_strict(ep.fd, real)
    if fd is None:
        where = "/" + "/".join(real)
        if ep.container is not None:
            raise errors.NotFound(f"Could not find the file {where} in container {ep.container}")
        raise errors.NotFound(f'invalid output path: directory "{where}" does not exist')
    os.close(fd)


def _copy(src_ep: Endpoint, src: str | IO[bytes], dst_ep: Endpoint, dst: str | IO[bytes], *,
          archive: bool, follow_link: bool, src_spec: PathSpec | None, dst_spec: PathSpec | None) -> int:
    """Copy between two endpoints; ``src``/``dst`` may be binary streams (a tar: ``cp -``)."""
    into_container = dst_ep.container is not None
    if into_container:
        shift = dst_ep.shift
        owner = (lambda e: (shift + e.uid, shift + e.gid) if e else (shift, shift)) if archive else \
            (lambda e: (shift, shift))
    else:  # docker's CLI extracts out of a container without chown, -a or not (archive.CopyTo: NoLchown)
        owner = None

    if not isinstance(src, str):  # a tar from stdin, into an existing directory
        assert dst_spec is not None
        pfd, _name, st, real = lookup(dst_ep.fd, dst_spec.parts, follow=True)
        if pfd is not None:
            os.close(pfd)
        if st is None or not stat.S_ISDIR(st.st_mode):
            raise errors.InvalidArgument(f'destination "{dst_ep.label(dst_spec)}" must be a directory')
        if dst_ep.check is not None:
            dst_ep.check(real)
        return _extract(dst_ep, real, (), tar_entries(src), owner, dst_ep.label(dst_spec))

    assert src_spec is not None
    source = _open_source(src_ep, src_spec, follow_link=follow_link)
    try:
        tree = Tree(shift=src_ep.shift, mounts="special" if src_ep.running else "all")
        entries = tree.walk(source.pfd, source.name, source.st)
        if not isinstance(dst, str):  # a tar to stdout
            prefix = () if source.base == "." else (source.base,)
            write_tar(entries, dst, lambda rel: "/".join((*prefix, *rel)) or ".")
            return tree.total
        assert dst_spec is not None
        real, prefix = _dest(dst_ep, dst_spec, source.base, stat.S_ISDIR(source.st.st_mode))
        _open_dest_dir(dst_ep, real, dst_spec)
        if dst_ep.check is not None:
            dst_ep.check(real)
        _extract(dst_ep, real, prefix, entries, owner, dst_ep.label(dst_spec))
        return tree.total
    finally:
        os.close(source.pfd)


def _extract(ep: Endpoint, real, prefix, entries, owner, label: str) -> int:
    ex = Extractor(ep.fd, real, owner=owner, label=label)
    try:
        for e in entries:
            if e.kind == "link":
                e.linkname = (*prefix, *e.linkname)
            ex.add(e, (*prefix, *e.rel))
        ex.finish()
    except OSError as e:
        where = f": {e.filename}" if e.filename else ""
        raise errors.DockyardError(f"copying to {label}: {e.strerror or e}{where}") from e
    finally:
        ex.close()
    return ex.total


def copy_from_container(engine, container: str, path: str, dest: str | IO[bytes], *, archive: bool = False,
                        follow_link: bool = False) -> int:
    """docker cp CONTAINER:SRC DEST (DEST a host path, or a binary stream for a tar)."""
    src_spec = PathSpec(path or "/")
    dst_spec = PathSpec(dest, cwd=os.getcwd()) if isinstance(dest, str) else None
    if dst_spec is not None:
        _check_output_path(dst_spec)
    with open_root(engine, container, volumes=True) as root:
        host = os.open("/", inroot.O_DIR)
        try:
            n = _copy(Endpoint(root.fd, shift=root.shift, container=container, running=root.running), path or "/",
                      Endpoint(host), dest, archive=archive, follow_link=follow_link,
                      src_spec=src_spec, dst_spec=dst_spec)
        finally:
            os.close(host)
        _event(engine, root.rec, "archive-path")  # dockerd's event for an archive read
        return n


def copy_to_container(engine, container: str, path: str, src: str | IO[bytes], *, archive: bool = False,
                      follow_link: bool = False) -> int:
    """docker cp SRC CONTAINER:DEST (SRC a host path, or a binary stream holding a tar)."""
    src_spec = PathSpec(src, cwd=os.getcwd()) if isinstance(src, str) else None
    dst_spec = PathSpec(path or "/")
    from dockyard.engine.config import ContainerConfig
    from dockyard.engine.mountview import check_writable

    with open_root(engine, container, writable=True, volumes=True) as root:
        cfg = ContainerConfig.from_json(root.rec.config)
        host = os.open("/", inroot.O_DIR)
        try:
            n = _copy(Endpoint(host), src, Endpoint(root.fd, shift=root.shift, container=container,
                                                    running=root.running,
                                                    check=lambda real: check_writable(cfg, real)), path or "/",
                      archive=archive, follow_link=follow_link, src_spec=src_spec, dst_spec=dst_spec)
        finally:
            os.close(host)
        _event(engine, root.rec, "extract-to-dir")  # dockerd's event for an archive written
        return n


def stat_path(engine, container: str, path: str) -> dict:
    """What docker's archive API says of a path (X-Docker-Container-Path-Stat): name, size, mode
    as Go's os.FileMode bits, mtime, and for a symlink its target resolved in the container."""
    import time

    spec = PathSpec(path or "/")
    with open_root(engine, container, volumes=True) as root:
        pfd, name, st, real = lookup(root.fd, spec.parts, follow=spec.asserts_dir)
        if pfd is not None:
            os.close(pfd)
        if st is None:
            raise errors.NotFound(f"Could not find the file {path} in container {container}")
        target = ""
        if stat.S_ISLNK(st.st_mode):
            target = "/" + "/".join(inroot.realpath(root.fd, spec.parts))
    mode = stat.S_IMODE(st.st_mode) & 0o777
    for bit, go in ((stat.S_ISUID, 1 << 23), (stat.S_ISGID, 1 << 22), (stat.S_ISVTX, 1 << 20)):
        if st.st_mode & bit:
            mode |= go
    fmt = stat.S_IFMT(st.st_mode)
    mode |= {stat.S_IFDIR: 1 << 31, stat.S_IFLNK: 1 << 27, stat.S_IFIFO: 1 << 25, stat.S_IFSOCK: 1 << 24,
             stat.S_IFBLK: 1 << 26, stat.S_IFCHR: (1 << 26) | (1 << 21)}.get(fmt, 0)
    mtime = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(st.st_mtime)) + f".{st.st_mtime_ns % 10**9:09d}Z"
    return {"name": spec.base if spec.parts else "/", "size": st.st_size, "mode": mode, "mtime": mtime,
            "linkTarget": target}


def _check_output_path(spec: PathSpec) -> None:
    """docker's ValidateOutputPath: the destination's parent directory must exist."""
    parent = "/" + "/".join(spec.parts[:-1])
    if spec.parts and not os.path.isdir(parent):
        raise errors.NotFound(f'invalid output path: directory "{parent}" does not exist')


def export(engine, ref: str, out) -> None:
    """docker export: the container's filesystem as a plain tar (no whiteouts, no mounts)."""
    with open_root(engine, ref) as root:
        tree = Tree(shift=root.shift, mounts="none")
        entries = (e for e in tree.walk(root.fd, None, os.fstat(root.fd)) if e.rel)
        write_tar(entries, out, "/".join)
        _event(engine, root.rec, "export")


def _event(engine, rec, action: str) -> None:
    from dockyard.engine import events

    events.container(engine, rec, action)
