"""A vulnerability database kept in a registry as an OCI artifact, for air-gapped machines:
``--db oci://127.0.0.1:5000/security/osv:latest``. The artifact is one layer, the SQLite index
``--db-import`` writes (artifactType ``application/vnd.dockyard.osv.index.v1+sqlite3``); a scan
downloads it once per digest into ``<root>/cache/osv/`` and reads it there."""

from __future__ import annotations

import json
import os
import time

from dockyard import errors
from dockyard.registry import artifact_io as aio

ARTIFACT_TYPE = "application/vnd.dockyard.osv.index.v1+sqlite3"
PREFIX = "oci://"


def is_remote(db: str) -> bool:
    return db.startswith(PREFIX)


def _layer(manifest_bytes: bytes, ref) -> dict:
    from dockyard.oci import digest as dg

    try:
        doc = json.loads(manifest_bytes)
    except (ValueError, RecursionError):
        doc = None
    layers = doc.get("layers") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or doc.get("artifactType") != ARTIFACT_TYPE or not isinstance(layers, list) \
            or len(layers) != 1 or not isinstance(layers[0], dict) or not dg.is_valid(str(layers[0].get("digest"))):
        raise errors.InvalidArgument(f"{ref.familiar()} is not a dockyard vulnerability database "
                                     f"(artifactType {ARTIFACT_TYPE})")
    return layers[0]


def fetch(db: str, cache_dir: str, *, insecure: bool = False) -> str:
    """The local path of the database ``oci://REF`` names (downloaded unless cached)."""
    ref, reg, scopes = aio.connect(db[len(PREFIX):], insecure)
    with reg:
        desc = aio.head_manifest(reg, ref, scopes, missing_hint="push one: dockyard scan --db-import all.zip "
                                                                f"--db {db}")
        layer = _layer(aio.get_manifest(reg, ref, scopes, desc["digest"], aio.OCI_MANIFEST), ref)
        os.makedirs(cache_dir, exist_ok=True)
        target = os.path.join(cache_dir, layer["digest"].replace(":", "-") + ".db")
        if not os.path.exists(target):
            aio.download_blob(reg, ref, scopes, layer["digest"], target)
    return target


def push(db_path: str, db: str, *, insecure: bool = False) -> str:
    """Push the database file as the artifact ``oci://REF``; returns the manifest digest."""
    ref, reg, scopes = aio.connect(db[len(PREFIX):], insecure)
    if ref.digest:
        raise errors.InvalidArgument(f"{db}: name a tag to push the database to, not a digest")
    with reg:
        empty, empty_size = aio.push_blob(reg, ref, scopes, aio.EMPTY_BYTES)
        layer, size = aio.push_blob(reg, ref, scopes, path=db_path)
        manifest = {
            "schemaVersion": 2, "mediaType": aio.OCI_MANIFEST, "artifactType": ARTIFACT_TYPE,
            "config": {"mediaType": aio.EMPTY, "digest": empty, "size": empty_size},
            "layers": [{"mediaType": ARTIFACT_TYPE, "digest": layer, "size": size,
                        "annotations": {"org.opencontainers.image.title": "osv.db"}}],
            "annotations": {"org.opencontainers.image.created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        }
        return aio.put_manifest(reg, ref, scopes, ref.tag, json.dumps(manifest, separators=(",", ":")).encode())
