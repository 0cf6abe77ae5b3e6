"""An image's merged filesystem, read from its unpacked layers without mounting anything.

Each layer is a snapshot directory in overlay form (``snapshots/overlay.py``): whiteouts are 0:0
character devices and opaque directories carry ``trusted.overlay.opaque=y``. Walking the layers
bottom to top and applying those two rules gives the merged tree as a dict ``path -> Entry``,
where each entry remembers the layer that last wrote it: that is the *layer origin* the SBOM
records for a package (the layer in which its metadata file last changed).

Files are opened by their path inside their own layer directory, a tree dockyard itself unpacked
with a hardened extractor; the walk descends only into real directories and every open uses
``O_NOFOLLOW``, so a symlink in an image can never lead a read out to the host.
"""

from __future__ import annotations

import os
import stat

from dockyard.errors import InvalidArgument

OPAQUE_XATTR = "trusted.overlay.opaque"
MAX_METADATA = 64 << 20  # no package metadata file is this large; a bigger one is hostile


class Entry:
    __slots__ = ("layer", "host", "mode", "size")

    def __init__(self, layer: int, host: str, mode: int, size: int) -> None:
        self.layer, self.host, self.mode, self.size = layer, host, mode, size


class ImageFS:
    """The merged view of ``layer_dirs`` (bottom first); ``layer_ids[i]`` names layer i."""

    def __init__(self, layer_dirs: list[str], layer_ids: list[str]) -> None:
        self.layer_ids = list(layer_ids)
        self.files: dict[str, Entry] = {}
        for i, d in enumerate(layer_dirs):
            self._apply(i, d)

    def _apply(self, layer: int, top: str) -> None:
        files = self.files
        stack = [("", top)]
        while stack:
            rel, host = stack.pop()
            try:
                it = os.scandir(host)
            except OSError as e:
                raise InvalidArgument(f"cannot read layer {self.layer_ids[layer]}: {e.strerror}: {host}") from None
            with it:
                for de in it:
                    path = f"{rel}/{de.name}"
                    st = de.stat(follow_symlinks=False)
                    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:  # whiteout
                        self._remove(path)
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        old = files.get(path)
                        if old is not None and not stat.S_ISDIR(old.mode):
                            files.pop(path)
                        if _opaque(de.path):
                            self._remove(path, keep_self=True)
                        stack.append((path, de.path))
                    else:
                        old = files.get(path)
                        if old is not None and stat.S_ISDIR(old.mode):
                            self._remove(path)
                    files[path] = Entry(layer, de.path, st.st_mode, st.st_size)

    def _remove(self, path: str, keep_self: bool = False) -> None:
        old = self.files.get(path)
        if old is None:
            return
        if not keep_self:
            del self.files[path]
        if stat.S_ISDIR(old.mode):
            prefix = path + "/"
            for p in [p for p in self.files if p.startswith(prefix)]:
                del self.files[p]

    # -- reading -----------------------------------------------------------------------------

    def regular(self, path: str) -> Entry | None:
        e = self.files.get(path)
        return e if e is not None and stat.S_ISREG(e.mode) else None

    def read(self, path: str, limit: int = MAX_METADATA) -> bytes | None:
        """A regular file's bytes (None when absent or not a regular file)."""
        e = self.regular(path)
        if e is None:
            return None
        if e.size > limit:
            raise InvalidArgument(f"{path} in the image is {e.size} bytes, more than {limit}: refusing to read it")
        fd = os.open(e.host, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            return _read_all(fd, limit)
        finally:
            os.close(fd)

    def open_fd(self, path: str) -> int:
        e = self.regular(path)
        if e is None:
            raise FileNotFoundError(path)
        return os.open(e.host, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)

    def text(self, path: str) -> str | None:
        data = self.read(path)
        return None if data is None else data.decode("utf-8", "replace")

    def layer_of(self, path: str) -> str | None:
        e = self.files.get(path)
        return self.layer_ids[e.layer] if e is not None else None

    def resolve_link(self, path: str, depth: int = 0) -> str | None:
        """Follow symlinks inside the image (chroot semantics) to a regular file's path."""
        e = self.files.get(path)
        if e is None or depth > 40:
            return None
        if not stat.S_ISLNK(e.mode):
            return path
        target = os.readlink(e.host)
        base = target if target.startswith("/") else os.path.join(os.path.dirname(path), target)
        return self.resolve_link(os.path.normpath("/" + base.lstrip("/")), depth + 1)


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _read_all(fd: int, limit: int) -> bytes:
    chunks, total = [], 0
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            return b"".join(chunks)
        total += len(b)
        if total > limit:
            raise InvalidArgument(f"a metadata file in the image is larger than {limit} bytes")
        chunks.append(b)


def open_image(engine, name: str) -> tuple[ImageFS, object, dict]:
    """The merged filesystem of image ``name`` (unpacking its layers if needed), its record, config."""
    from dockyard.oci import digest as dg

    rec = engine.images.resolve(name)
    config = engine.images.config(rec)
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    engine.images.ensure_unpacked(rec, config)
    chains = dg.chain_ids(diff_ids) if diff_ids else []
    dirs = [engine.snapshots.layer_path(c) for c in chains]
    return ImageFS(dirs, diff_ids), rec, config
