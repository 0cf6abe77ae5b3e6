"""Turning a directory (or a rootfs tarball) into an image layer in the content store."""

from __future__ import annotations

import hashlib
import os
import tempfile

from dockyard.oci import image as oi


class _HashingFile:
    """A write-only file that hashes (and counts) what passes through to `raw`."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.h = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.h.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


def layer_from_dir(content, src_dir: str, *, tmp_dir: str, overlay_upper: bool = False,
                   mtime_clamp: int | None = None) -> tuple[dict, str, int]:
    """Deterministic tar of `src_dir`, gzipped into the store: (descriptor, diff_id, tar size)."""
    from dockyard.archive.create import write_layer_tar

    os.makedirs(tmp_dir, exist_ok=True)
    with tempfile.TemporaryFile(dir=tmp_dir) as tmp:
        hf = _HashingFile(tmp)
        write_layer_tar(src_dir, hf, overlay_upper=overlay_upper, mtime_clamp=mtime_clamp)
        tmp.seek(0)
        desc = ingest_gzip(content, tmp)
        return desc, "sha256:" + hf.h.hexdigest(), hf.size


def ingest_gzip(content, tar_file) -> dict:
    """Compress a plain tar stream with deterministic gzip into the store; its descriptor."""
    from dockyard.archive.compression import compress_gzip

    with content.ingest() as w:
        compress_gzip(tar_file, w)
    return {"mediaType": oi.OCI_LAYER_GZIP, "digest": w.digest, "size": w.size}
