"""COPY and ADD by directory descriptor: sources resolved inside their root, writes inside the layer.

A build context and a stage's filesystem are the Dockerfile author's, so none of their symlinks
may take the build outside them, and the layer being written may not either (an earlier source
can put a symlink in it). Both sides are handled by descriptor (`dockyard.archive.inroot`):

- Sources: a source path is resolved like ``chroot(root)`` would resolve it (symlinks relative
  to the root, ``..`` clamped at it) and the source itself is followed, as Docker's and
  BuildKit's COPY do (``FollowSymlinks``): ``COPY link /x`` copies what ``link`` names *inside*
  the root, and a link that leaves the root names nothing there. Wildcards are matched one
  component at a time in the real directories. Below a copied directory nothing is followed:
  symlinks are copied as symlinks. Only regular files are opened (through an ``O_PATH``
  handle checked first), so a device node or FIFO in a stage is never read.
- Destinations: the layer directory is opened once; a destination directory is opened from it
  with the same in-root resolution (a link an earlier source put in the layer resolves inside
  the layer) and every entry is created relative to its parent's descriptor (``O_EXCL``,
  ``O_NOFOLLOW``, ``mkdirat``, ``symlinkat``, ``fchownat`` without following).
"""

from __future__ import annotations

import hashlib
import os
import stat
from fnmatch import fnmatchcase

from dockyard import errors
from dockyard.archive import inroot

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

MAGIC = "*?["
_ROOT_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC  # a root itself may be reached by a link


class MissingSource(errors.NotFound):
    """A source (or one of its wildcard matches) names nothing inside its root."""

    def __init__(self, path: str) -> None:
        super().__init__(f"stat {path}: file does not exist")
        self.path = path


class Match:
    """One thing a source names: ``name`` is the path as written (its base names the copy),
    ``real`` the symlink-free path inside the root, ``st`` its lstat."""

    __slots__ = ("name", "real", "st")

    def __init__(self, name: tuple[str, ...], real: tuple[str, ...], st: os.stat_result) -> None:
        self.name, self.real, self.st = name, real, st

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)


class SourceRoot:
    """A tree sources come from (the build context, a stage's or an image's rootfs), open by
    descriptor. ``excluded(relpath)`` hides paths (.dockerignore); ``reenter(reldir)`` says
    whether an excluded directory may hold re-included paths."""

    def __init__(self, path: str, *, excluded: Callable[[str], bool] | None = None,
                 reenter: Callable[[str], bool] | None = None) -> None:
        self.fd = os.open(path, _ROOT_DIR)
        self.excluded = excluded or (lambda _rel: False)
        self.reenter = reenter or (lambda _rel: False)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> SourceRoot:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def lookup(self, name: tuple[str, ...]) -> Match | None:
        """``name`` resolved inside the root, the last component followed too; None if it does
        not exist there (or is excluded)."""
        real = inroot.realpath(self.fd, name)
        hidden = bool(real) and self.excluded("/".join(real))
        if hidden and not self.reenter("/".join(real)):
            return None
        if not real:
            return Match(name, real, os.fstat(self.fd))
        pfd = inroot.open_dir_strict(self.fd, real[:-1])
        if pfd is None:
            return None
        try:
            st = inroot.lstat_at(pfd, real[-1])
        finally:
            os.close(pfd)
        if st is None or (hidden and not stat.S_ISDIR(st.st_mode)):
            return None  # an excluded directory is still a source for what it re-includes
        return Match(name, real, st)

    def _names(self, parts: tuple[str, ...]) -> list[str]:
        """The entries of directory ``parts`` (resolved in the root), sorted; [] if none."""
        fd = inroot.open_dir_strict(self.fd, inroot.realpath(self.fd, parts))
        if fd is None:
            return []
        try:
            return sorted(os.listdir(fd))
        finally:
            os.close(fd)

    def expand(self, source: str) -> list[Match]:
        """What ``source`` names: itself, or every match of its wildcards (Go's filepath.Match
        rules, one component at a time, ``*`` matching dot files too); [] when a wildcard
        matches nothing. `MissingSource` when a name (a link, say) resolves to nothing here."""
        parts = inroot.clean_parts(source)
        names: list[tuple[str, ...]] = [()]
        globbing = False  # after a wildcard, only what a directory lists matches (Go's Glob)
        for comp in parts:
            globbing = globbing or any(c in comp for c in MAGIC)
            if globbing:
                names = [(*n, e) for n in names for e in self._names(n) if fnmatchcase(e, comp)]
            else:
                names = [(*n, comp) for n in names]
        out = []
        for n in names:
            if n and self.excluded("/".join(n)) and not self.reenter("/".join(n)):
                continue
            m = self.lookup(n)
            if m is None:
                raise MissingSource("/".join(n) if any(c in source for c in MAGIC) else source)
            out.append(m)
        return out

    def open_file(self, real: tuple[str, ...]) -> int | None:
        """A read descriptor on the regular file at ``real`` (None if it is not one)."""
        pfd = inroot.open_dir_strict(self.fd, real[:-1])
        if pfd is None:
            return None
        try:
            return inroot.open_regular(pfd, real[-1])
        finally:
            os.close(pfd)

    def walk(self, m: Match) -> Iterator[tuple[tuple[str, ...], os.stat_result, int, str]]:
        """(path below the match, lstat, parent descriptor, name) of the match (path ()) and,
        for a directory, of everything below it, parents first, sorted, following nothing.
        Excluded paths are skipped (an excluded directory is kept only if a later pattern may
        re-include something in it). The descriptors are valid during the step only."""
        if not m.real:
            yield (), m.st, self.fd, "."
            yield from self._below(os.dup(self.fd), (), ())
            return
        pfd = inroot.open_dir_strict(self.fd, m.real[:-1])
        if pfd is None:
            return
        try:
            yield (), m.st, pfd, m.real[-1]
            if m.is_dir:
                try:
                    fd = os.open(m.real[-1], inroot.O_DIR, dir_fd=pfd)
                except OSError:
                    return  # replaced meanwhile
                yield from self._below(fd, m.real, ())
        finally:
            os.close(pfd)

    def _below(self, dfd: int, real: tuple[str, ...], rel: tuple[str, ...]):
        try:
            for child in sorted(os.listdir(dfd)):
                st = inroot.lstat_at(dfd, child)
                if st is None:
                    continue
                crel = "/".join((*real, child))
                is_dir = stat.S_ISDIR(st.st_mode)
                # an excluded directory holding re-included paths is sent too, as the docker
                # CLI sends the parents of what it sends
                if self.excluded(crel) and not (is_dir and self.reenter(crel)):
                    continue
                yield (*rel, child), st, dfd, child
                if is_dir:
                    try:
                        cfd = os.open(child, inroot.O_DIR, dir_fd=dfd)
                    except OSError:
                        continue
                    yield from self._below(cfd, (*real, child), (*rel, child))
        finally:
            os.close(dfd)


def entry_digest(src: SourceRoot, st: os.stat_result, pfd: int, name: str) -> str:
    """Mode, type and content (or link target) of one entry: what the build cache keys on."""
    h = hashlib.sha256(f"{stat.S_IMODE(st.st_mode):o}\0{stat.S_IFMT(st.st_mode)}\0".encode())
    if stat.S_ISREG(st.st_mode):
        fd = inroot.open_regular(pfd, name)
        if fd is not None:
            with os.fdopen(fd, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
    elif stat.S_ISLNK(st.st_mode):
        h.update(os.readlink(name, dir_fd=pfd).encode())
    return h.hexdigest()


class Layer:
    """The directory a COPY/ADD step writes, open by descriptor. ``uid``/``gid`` own every
    entry written, ``mode`` (None: the source's) is given to every file and directory."""

    def __init__(self, path: str, *, uid: int = 0, gid: int = 0, mode: int | None = None) -> None:
        self.fd = os.open(path, _ROOT_DIR)
        self.uid, self.gid, self.mode = uid, gid, mode

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> Layer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def directory(self, path: str) -> int:
        """A descriptor on directory ``path`` of the layer, created (0755, root) as needed;
        symlinks already in the layer are resolved inside it."""
        found = inroot.resolve_dir(self.fd, inroot.clean_parts(path), entry=path, create=True)
        assert found is not None  # create=True never gives None
        return found[0]

    def parent(self, path: str) -> tuple[int, str | None]:
        """(descriptor of the parent directory, base name) of ``path``; name None for ``/``."""
        parts = inroot.clean_parts(path)
        if not parts:
            return os.dup(self.fd), None
        return self.directory("/".join(parts[:-1])), parts[-1]

    def _clear(self, pfd: int, name: str, *, keep_dir: bool) -> bool:
        """Remove what is at ``name`` unless it is a directory and ``keep_dir``: True if a
        directory is left there."""
        st = inroot.lstat_at(pfd, name)
        if st is None:
            return False
        if keep_dir and stat.S_ISDIR(st.st_mode):
            return True
        inroot.remove_at(pfd, name, st)
        return False

    def _own(self, fd: int, st: os.stat_result) -> None:
        os.fchown(fd, self.uid, self.gid)
        os.fchmod(fd, self.mode if self.mode is not None else stat.S_IMODE(st.st_mode))

    def put_file(self, pfd: int, name: str, data_fd: int, st: os.stat_result) -> None:
        """Write a regular file's content at ``name`` in ``pfd`` (replacing what is there)."""
        self._clear(pfd, name, keep_dir=False)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=pfd)
        try:
            while True:
                try:
                    n = os.copy_file_range(data_fd, fd, 1 << 30)
                except OSError:  # across filesystems on old kernels
                    n = os.sendfile(fd, data_fd, None, 1 << 30)
                if n == 0:
                    break
            self._own(fd, st)
        finally:
            os.close(fd)

    def put_bytes(self, pfd: int, name: str, data: bytes, default_mode: int) -> None:
        """A file holding ``data`` at ``name`` in ``pfd`` (a heredoc's body)."""
        self._clear(pfd, name, keep_dir=False)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=pfd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchown(fd, self.uid, self.gid)
            os.fchmod(fd, self.mode if self.mode is not None else default_mode)
        finally:
            os.close(fd)

    def put_symlink(self, pfd: int, name: str, target: str) -> None:
        self._clear(pfd, name, keep_dir=False)
        os.symlink(target, name, dir_fd=pfd)
        os.chown(name, self.uid, self.gid, dir_fd=pfd, follow_symlinks=False)

    def put_dir(self, pfd: int, name: str, st: os.stat_result | None) -> int:
        """A directory at ``name`` (an existing one is kept, anything else replaced); with
        ``st`` it gets the owner and mode of a copied directory. Returns its descriptor."""
        if not self._clear(pfd, name, keep_dir=True):
            os.mkdir(name, 0o755, dir_fd=pfd)
            os.chmod(name, 0o755, dir_fd=pfd)
        fd = os.open(name, inroot.O_DIR, dir_fd=pfd)
        if st is not None:
            self._own(fd, st)
        return fd

    def copy(self, src: SourceRoot, m: Match, dfd: int, name: str | None,
             skip: Callable[[tuple[str, ...]], bool] | None = None) -> None:
        """Copy match ``m`` to ``name`` in ``dfd``; a directory's contents go into ``dfd``
        itself when ``name`` is None. Devices, FIFOs and sockets are skipped, and so is what
        ``skip(path below m)`` names (COPY --exclude; a skipped directory with all below it).
        Only the directories on the current path stay open, however large the tree."""
        stack: list[tuple[tuple[str, ...], int]] = []  # (path below m, descriptor) being filled
        try:
            for rel, st, pfd, ename in src.walk(m):
                if rel and skip is not None and skip(rel):
                    continue
                if not rel:
                    if m.is_dir:
                        stack.append(((), os.dup(dfd) if name is None else self.put_dir(dfd, name, st)))
                    else:
                        self._put(dfd, name if name is not None else m.name[-1], st, pfd, ename)
                    continue
                parent = rel[:-1]
                while stack and parent[:len(stack[-1][0])] != stack[-1][0]:
                    os.close(stack.pop()[1])
                if not stack or stack[-1][0] != parent:
                    continue  # below a directory that was not copied
                if stat.S_ISDIR(st.st_mode):
                    stack.append((rel, self.put_dir(stack[-1][1], rel[-1], st)))
                else:
                    self._put(stack[-1][1], rel[-1], st, pfd, ename)
        finally:
            for _rel, fd in stack:
                os.close(fd)

    def _put(self, dfd: int, name: str, st: os.stat_result, src_dfd: int, src_name: str) -> None:
        """A symlink or regular file of the source tree at ``name`` in ``dfd``."""
        if stat.S_ISLNK(st.st_mode):
            self.put_symlink(dfd, name, os.readlink(src_name, dir_fd=src_dfd))
        elif stat.S_ISREG(st.st_mode):
            data = inroot.open_regular(src_dfd, src_name)
            if data is not None:
                try:
                    self.put_file(dfd, name, data, os.fstat(data))
                finally:
                    os.close(data)

def read_inside(root: str, rel: str) -> bytes | None:
    """The content of ``rel`` resolved inside ``root`` (a Dockerfile or .dockerignore of a
    context), or None when it names no regular file there: a link out of the root names
    nothing, so nothing outside is read."""
    with SourceRoot(root) as src:
        m = src.lookup(inroot.clean_parts(rel))
        fd = None if m is None else src.open_file(m.real)
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read()
