"""SBOMs kept next to their image in a registry, as OCI 1.1 referrers (what `oras attach` and
`cosign attach sbom --type` write): an artifact manifest whose ``subject`` is the image's
manifest, ``artifactType`` the SBOM's media type, the empty config, and one layer, the document.
It is pushed by digest (no tag) and found again through the registry's referrers API."""

from __future__ import annotations

import json
import time

from dockyard import errors
from dockyard.oci import digest as dg

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_BYTES = b"{}"
MEDIA_TYPES = {"spdx-json": "application/spdx+json", "cyclonedx-json": "application/vnd.cyclonedx+json"}
MANIFEST_ACCEPT = ", ".join([OCI_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json",
                             "application/vnd.oci.image.index.v1+json",
                             "application/vnd.docker.distribution.manifest.list.v2+json"])
MAX_MANIFEST = 4 << 20
MAX_SBOM = 256 << 20


def _connect(name: str, insecure: bool):
    from dockyard.oci import reference
    from dockyard.registry import credentials
    from dockyard.registry.client import Registry

    ref = reference.parse(name)
    if not ref.digest:
        ref = ref.with_default_tag()
    reg = Registry(ref.domain, insecure=insecure, credentials=credentials.get(ref.domain))
    return ref, reg, (f"repository:{ref.path}:pull,push",)


def _subject(reg, ref, scopes) -> dict:
    """The descriptor of the image's manifest in the registry (HEAD by tag or digest)."""
    target = ref.digest or ref.tag
    with reg.request("HEAD", f"/v2/{ref.path}/manifests/{target}", headers={"Accept": MANIFEST_ACCEPT},
                     scopes=scopes) as resp:
        if resp.status == 404:
            raise errors.ImageNotFound(f"{ref.familiar()} is not in registry {ref.domain}",
                                       hint=f"push it first: dockyard push {ref.familiar()}")
        if resp.status != 200:
            raise reg.error(resp, f"looking up {ref.familiar()}")
        digest = resp.header("Docker-Content-Digest") or ref.digest
        length = resp.header("Content-Length") or ""  # a HEAD answer has no body: the header tells
        size = int(length) if length.isdigit() else None
        media_type = (resp.header("Content-Type") or "").split(";")[0].strip()
    if not digest or not dg.is_valid(digest) or size is None:
        raise errors.Unavailable(f"registry {ref.domain} did not give the digest and size of {ref.familiar()}")
    return {"mediaType": media_type or OCI_MANIFEST, "digest": digest, "size": size}


def _check_referrers_api(reg, ref, digest: str, scopes) -> None:
    with reg.request("GET", f"/v2/{ref.path}/referrers/{digest}", scopes=scopes) as resp:
        ok = resp.status == 200
        resp.read()
    if not ok:
        raise errors.NotImplemented(f"registry {ref.domain} has no OCI 1.1 referrers API (GET "
                                    f"/v2/{ref.path}/referrers/{digest} answered {resp.status})",
                                    hint="use a registry that implements distribution-spec 1.1 "
                                         "(dockyard registry serve does)")


def _push_blob(reg, ref, scopes, data: bytes) -> str:
    digest = dg.sha256_of(data)
    with reg.request("HEAD", f"/v2/{ref.path}/blobs/{digest}", scopes=scopes) as resp:
        if resp.status == 200:
            return digest
    with reg.request("POST", f"/v2/{ref.path}/blobs/uploads/", scopes=scopes) as resp:
        location = resp.header("Location")
        if resp.status != 202 or not location:
            raise reg.error(resp, f"starting an upload to {ref.domain}/{ref.path}")
        resp.read()
    sep = "&" if "?" in location else "?"
    with reg.request("PUT", f"{location}{sep}digest={digest}", body=data, scopes=scopes,
                     headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))}) as resp:
        if resp.status not in (201, 204):
            raise reg.error(resp, f"uploading blob {digest} to {ref.domain}/{ref.path}")
        resp.read()
    return digest


def attach(name: str, fmt: str, document: bytes, *, local_manifest_digest: str | None = None,
           insecure: bool = False) -> str:
    """Push ``document`` as a referrer of image ``name`` in its registry; returns its digest."""
    media_type = MEDIA_TYPES[fmt]
    ref, reg, scopes = _connect(name, insecure)
    with reg:
        subject = _subject(reg, ref, scopes)
        if local_manifest_digest and subject["digest"] != local_manifest_digest:
            raise errors.Conflict(f"{ref.familiar()} in registry {ref.domain} is {subject['digest']}, not the local "
                                  f"image's manifest {local_manifest_digest}: the SBOM would describe another image",
                                  hint=f"push the local image first: dockyard push {ref.familiar()}")
        _check_referrers_api(reg, ref, subject["digest"], scopes)
        empty = _push_blob(reg, ref, scopes, EMPTY_BYTES)
        layer = _push_blob(reg, ref, scopes, document)
        manifest = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": media_type,
            "config": {"mediaType": EMPTY, "digest": empty, "size": len(EMPTY_BYTES)},
            "layers": [{"mediaType": media_type, "digest": layer, "size": len(document)}],
            "subject": subject,
            "annotations": {"org.opencontainers.image.created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        }
        body = json.dumps(manifest, separators=(",", ":")).encode()
        digest = dg.sha256_of(body)
        with reg.request("PUT", f"/v2/{ref.path}/manifests/{digest}", body=body, scopes=scopes,
                         headers={"Content-Type": OCI_MANIFEST}) as resp:
            if resp.status not in (200, 201):
                raise reg.error(resp, f"pushing the SBOM of {ref.familiar()}")
            resp.read()
    return digest


def fetch(name: str, fmt: str, *, insecure: bool = False) -> bytes:
    """The newest SBOM of ``fmt`` attached to image ``name`` (digests checked on the way)."""
    media_type = MEDIA_TYPES[fmt]
    ref, reg, scopes = _connect(name, insecure)
    with reg:
        subject = _subject(reg, ref, scopes)
        from urllib.parse import quote

        query = quote(media_type, safe="")  # a bare "+" would be read as a space
        with reg.request("GET", f"/v2/{ref.path}/referrers/{subject['digest']}?artifactType={query}",
                         scopes=scopes) as resp:
            if resp.status != 200:
                raise reg.error(resp, f"listing the referrers of {ref.familiar()}")
            index = _json(resp.read(MAX_MANIFEST), "referrers index")
        found = [d for d in index.get("manifests") or () if isinstance(d, dict) and d.get("artifactType") == media_type
                 and isinstance(d.get("digest"), str) and dg.is_valid(d["digest"])]
        if not found:
            raise errors.NotFound(f"no {fmt} SBOM is attached to {ref.familiar()} ({subject['digest']})",
                                  hint=f"attach one: dockyard sbom --attach --format {fmt} {ref.familiar()}")
        found.sort(key=lambda d: ((d.get("annotations") or {}).get("org.opencontainers.image.created", ""), d["digest"]))
        desc = found[-1]
        with reg.request("GET", f"/v2/{ref.path}/manifests/{desc['digest']}", headers={"Accept": OCI_MANIFEST},
                         scopes=scopes) as resp:
            if resp.status != 200:
                raise reg.error(resp, f"fetching the SBOM manifest {desc['digest']}")
            body = resp.read(MAX_MANIFEST)
        _verify(body, desc["digest"], "SBOM manifest")
        manifest = _json(body, "SBOM manifest")
        layers = [x for x in manifest.get("layers") or () if isinstance(x, dict) and x.get("mediaType") == media_type]
        if (manifest.get("subject") or {}).get("digest") != subject["digest"] or len(layers) != 1:
            raise errors.InvalidArgument(f"referrer {desc['digest']} is not one {fmt} SBOM of {subject['digest']}")
        with reg.request("GET", f"/v2/{ref.path}/blobs/{layers[0]['digest']}", scopes=scopes, follow=True) as resp:
            if resp.status != 200:
                raise reg.error(resp, f"fetching the SBOM {layers[0]['digest']}")
            data = resp.read(MAX_SBOM)
        _verify(data, layers[0]["digest"], "SBOM")
        return data


def _verify(data: bytes, digest: str, what: str) -> None:
    if dg.sha256_of(data) != digest:
        raise errors.DigestMismatch(f"{what} {digest} does not match its content")


def _json(body: bytes, what: str) -> dict:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise errors.InvalidArgument(f"registry sent a {what} that is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise errors.InvalidArgument(f"registry sent a {what} that is not a JSON object")
    return doc
