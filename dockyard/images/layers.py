"""Turning a directory into an image layer in the content store."""

from __future__ import annotations

import os


def layer_from_dir(content, src_dir: str, *, tmp_dir: str, overlay_upper: bool = False,
                   mtime_clamp: int | None = None) -> tuple[dict, str, int]:
    """Deterministic gzipped tar of `src_dir`, ingested: (descriptor, diff_id, uncompressed size)."""
    from dockyard.archive.create import layer_from_dir as make_blob
    from dockyard.oci import image as oi

    os.makedirs(tmp_dir, exist_ok=True)
    blob = make_blob(src_dir, overlay_upper=overlay_upper, mtime_clamp=mtime_clamp, tmp_dir=tmp_dir)
    try:
        with open(blob.path, "rb") as f:
            digest, size = content.ingest_file(f, blob.digest)
    finally:
        os.unlink(blob.path)
    return {"mediaType": oi.OCI_LAYER_GZIP, "digest": digest, "size": size}, blob.diff_id, blob.size


def ingest_gzip(content, tar_file) -> dict:
    """Compress a plain tar stream with deterministic gzip into the store; its descriptor."""
    from dockyard.archive.compression import compress_gzip
    from dockyard.oci import image as oi

    with content.ingest() as w:
        compress_gzip(tar_file, w)
    return {"mediaType": oi.OCI_LAYER_GZIP, "digest": w.digest, "size": w.size}
