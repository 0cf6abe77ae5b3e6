"""SBOMs kept next to their image in a registry, as OCI 1.1 referrers (what `oras attach` and
`cosign attach sbom --type` write): an artifact manifest whose ``subject`` is the image's
manifest, ``artifactType`` the SBOM's media type, the empty config, and one layer, the document.
It is pushed by digest (no tag) and found again through the registry's referrers API."""

from __future__ import annotations

import json
import time

from dockyard import errors
from dockyard.registry import artifact_io as aio

MEDIA_TYPES = {"spdx-json": "application/spdx+json", "cyclonedx-json": "application/vnd.cyclonedx+json"}
MAX_SBOM = 256 << 20


def _subject(reg, ref, scopes) -> dict:
    return aio.head_manifest(reg, ref, scopes, missing_hint=f"push it first: dockyard push {ref.familiar()}")


def attach(name: str, fmt: str, document: bytes, *, local_manifest_digest: str | None = None,
           insecure: bool = False, created: str | None = None, creds=None) -> str:
    """Push ``document`` as a referrer of image ``name`` in its registry; returns its digest.
    ``created`` (the document's own creation time) makes the manifest the same for the same
    document, so attaching it again adds nothing; by default it is now."""
    media_type = MEDIA_TYPES[fmt]
    ref, reg, scopes = aio.connect(name, insecure, creds)
    with reg:
        subject = _subject(reg, ref, scopes)
        if local_manifest_digest and subject["digest"] != local_manifest_digest:
            raise errors.Conflict(f"{ref.familiar()} in registry {ref.domain} is {subject['digest']}, not the local "
                                  f"image's manifest {local_manifest_digest}: the SBOM would describe another image",
                                  hint=f"push the local image first: dockyard push {ref.familiar()}")
        with reg.request("GET", f"/v2/{ref.path}/referrers/{subject['digest']}", scopes=scopes) as resp:
            status = resp.status
            resp.read(aio.MAX_MANIFEST)
        if status != 200:
            raise errors.NotImplemented(f"registry {ref.domain} has no OCI 1.1 referrers API (GET "
                                        f"/v2/{ref.path}/referrers/{subject['digest']} answered {status})",
                                        hint="use a registry that implements distribution-spec 1.1 "
                                             "(dockyard registry serve does)")
        empty, empty_size = aio.push_blob(reg, ref, scopes, aio.EMPTY_BYTES)
        layer, size = aio.push_blob(reg, ref, scopes, document)
        manifest = {
            "schemaVersion": 2, "mediaType": aio.OCI_MANIFEST, "artifactType": media_type,
            "config": {"mediaType": aio.EMPTY, "digest": empty, "size": empty_size},
            "layers": [{"mediaType": media_type, "digest": layer, "size": size}],
            "subject": subject,
            "annotations": {"org.opencontainers.image.created":
                            created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        }
        body = json.dumps(manifest, separators=(",", ":")).encode()
        from dockyard.oci import digest as dg

        return aio.put_manifest(reg, ref, scopes, dg.sha256_of(body), body)


def fetch(name: str, fmt: str, *, insecure: bool = False) -> bytes:
    """The newest SBOM of ``fmt`` attached to image ``name`` (digests checked on the way)."""
    from urllib.parse import quote

    from dockyard.oci import digest as dg

    media_type = MEDIA_TYPES[fmt]
    ref, reg, scopes = aio.connect(name, insecure)
    with reg:
        subject = _subject(reg, ref, scopes)
        query = quote(media_type, safe="")  # a bare "+" would be read as a space
        with reg.request("GET", f"/v2/{ref.path}/referrers/{subject['digest']}?artifactType={query}",
                         scopes=scopes) as resp:
            if resp.status != 200:
                raise reg.error(resp, f"listing the referrers of {ref.familiar()}")
            index = _json(resp.read(aio.MAX_MANIFEST), "referrers index")
        found = [d for d in index.get("manifests") or () if isinstance(d, dict) and d.get("artifactType") == media_type
                 and isinstance(d.get("digest"), str) and dg.is_valid(d["digest"])]
        if not found:
            raise errors.NotFound(f"no {fmt} SBOM is attached to {ref.familiar()} ({subject['digest']})",
                                  hint=f"attach one: dockyard sbom --attach --format {fmt} {ref.familiar()}")
        found.sort(key=lambda d: ((d.get("annotations") or {}).get("org.opencontainers.image.created", ""), d["digest"]))
        desc = found[-1]
        manifest = _json(aio.get_manifest(reg, ref, scopes, desc["digest"], aio.OCI_MANIFEST), "SBOM manifest")
        layers = [x for x in manifest.get("layers") or () if isinstance(x, dict) and x.get("mediaType") == media_type
                  and isinstance(x.get("digest"), str) and dg.is_valid(x["digest"])]
        if (manifest.get("subject") or {}).get("digest") != subject["digest"] or len(layers) != 1:
            raise errors.InvalidArgument(f"referrer {desc['digest']} is not one {fmt} SBOM of {subject['digest']}")
        return aio.read_blob(reg, ref, scopes, layers[0]["digest"], MAX_SBOM)


def _json(body: bytes, what: str) -> dict:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise errors.InvalidArgument(f"registry sent a {what} that is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise errors.InvalidArgument(f"registry sent a {what} that is not a JSON object")
    return doc
