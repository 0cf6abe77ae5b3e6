"""Resolving paths inside a container root without ever leaving it.

An image can contain `/proc -> /` or `/etc/hosts -> ../../../host/file`; the runtime mounts onto
paths inside the rootfs *before* pivot_root, so every mount target is resolved here the way a
chroot would resolve it (symlinks interpreted relative to the root, `..` clamped at the root),
as runc does with filepath-securejoin.
"""

from __future__ import annotations

import os
import stat

_MAX_LINKS = 255


def secure_join(root: str, unsafe: str) -> str:
    """Return root + unsafe with every symlink resolved inside root; the result never escapes."""
    root = os.path.abspath(root)
    parts = [p for p in unsafe.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > _MAX_LINKS:
                raise OSError(40, "too many levels of symbolic links", unsafe)
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def mkdir_all(root: str, path: str, mode: int = 0o755) -> str:
    """Create `path` (inside root) and its parents, securely; returns the host path."""
    host = secure_join(root, path)
    os.makedirs(host, mode=mode, exist_ok=True)
    return host


def create_file(root: str, path: str) -> str:
    """Create an empty file at `path` inside root (a bind-mount target for a file source)."""
    host = secure_join(root, path)
    os.makedirs(os.path.dirname(host), exist_ok=True)
    if not os.path.lexists(host):
        os.close(os.open(host, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    return host
