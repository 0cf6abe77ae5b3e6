"""Small OCI artifact transfers over the registry client: HEAD/GET/PUT a manifest, upload a blob
(bytes or a file, monolithic: POST then PUT), download a blob to a file with its digest checked.
Used for SBOM referrers and for a vulnerability database kept in a registry."""

from __future__ import annotations

import hashlib
import os

from dockyard import errors
from dockyard.oci import digest as dg

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_BYTES = b"{}"
MANIFEST_ACCEPT = ", ".join([OCI_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json",
                             "application/vnd.oci.image.index.v1+json",
                             "application/vnd.docker.distribution.manifest.list.v2+json"])
MAX_MANIFEST = 4 << 20


def connect(name: str, insecure: bool, creds=None):
    """(reference with a tag or digest, an open Registry, pull/push scopes) for ``name``; ``creds``
    replace those of Docker's config.json (the API's X-Registry-Auth)."""
    from dockyard.oci import reference
    from dockyard.registry import credentials
    from dockyard.registry.client import Registry

    ref = reference.parse(name)
    if not ref.digest:
        ref = ref.with_default_tag()
    reg = Registry(ref.domain, insecure=insecure, credentials=creds or credentials.get(ref.domain))
    return ref, reg, (f"repository:{ref.path}:pull,push",)


def head_manifest(reg, ref, scopes, *, missing_hint: str | None = None) -> dict:
    """The descriptor (mediaType, digest, size) of ``ref``'s manifest in the registry."""
    target = ref.digest or ref.tag
    with reg.request("HEAD", f"/v2/{ref.path}/manifests/{target}", headers={"Accept": MANIFEST_ACCEPT},
                     scopes=scopes) as resp:
        if resp.status == 404:
            raise errors.NotFound(f"{ref.familiar()} is not in registry {ref.domain}", hint=missing_hint)
        if resp.status != 200:
            raise reg.error(resp, f"looking up {ref.familiar()}")
        digest = resp.header("Docker-Content-Digest") or ref.digest
        length = resp.header("Content-Length") or ""  # a HEAD answer has no body: the header tells
        media_type = (resp.header("Content-Type") or "").split(";")[0].strip()
    if not digest or not dg.is_valid(digest) or not length.isdigit():
        raise errors.Unavailable(f"registry {ref.domain} did not give the digest and size of {ref.familiar()}")
    return {"mediaType": media_type or OCI_MANIFEST, "digest": digest, "size": int(length)}


def get_manifest(reg, ref, scopes, reference: str, accept: str = MANIFEST_ACCEPT) -> bytes:
    """A manifest's bytes; checked against ``reference`` when that is a digest."""
    with reg.request("GET", f"/v2/{ref.path}/manifests/{reference}", headers={"Accept": accept},
                     scopes=scopes) as resp:
        if resp.status == 404:
            raise errors.NotFound(f"manifest {reference} is not in {ref.domain}/{ref.path}")
        if resp.status != 200:
            raise reg.error(resp, f"fetching manifest {reference} of {ref.domain}/{ref.path}")
        body = resp.read(MAX_MANIFEST)
    if reference.startswith("sha256:") and dg.sha256_of(body) != reference:
        raise errors.DigestMismatch(f"manifest {reference} from {ref.domain} does not match its content")
    return body


def put_manifest(reg, ref, scopes, reference: str, body: bytes, media_type: str = OCI_MANIFEST) -> str:
    with reg.request("PUT", f"/v2/{ref.path}/manifests/{reference}", body=body, scopes=scopes,
                     headers={"Content-Type": media_type}) as resp:
        if resp.status not in (200, 201):
            raise reg.error(resp, f"pushing a manifest to {ref.domain}/{ref.path}")
        resp.read()
    return dg.sha256_of(body)


def push_blob(reg, ref, scopes, data: bytes | None = None, *, path: str | None = None) -> tuple[str, int]:
    """Upload ``data`` (or the file ``path``) unless the repository has it; (digest, size)."""
    from dockyard.registry.client import FileBody

    if path is not None:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest, size = "sha256:" + h.hexdigest(), os.path.getsize(path)
        body = FileBody(path, 0, size)
    else:
        digest, size, body = dg.sha256_of(data), len(data), data
    try:
        with reg.request("HEAD", f"/v2/{ref.path}/blobs/{digest}", scopes=scopes) as resp:
            if resp.status == 200:
                return digest, size
        with reg.request("POST", f"/v2/{ref.path}/blobs/uploads/", scopes=scopes) as resp:
            location = resp.header("Location")
            if resp.status != 202 or not location:
                raise reg.error(resp, f"starting an upload to {ref.domain}/{ref.path}")
            resp.read()
        sep = "&" if "?" in location else "?"
        with reg.request("PUT", f"{location}{sep}digest={digest}", body=body, scopes=scopes,
                         headers={"Content-Type": "application/octet-stream"}) as resp:
            if resp.status not in (201, 204):
                raise reg.error(resp, f"uploading blob {digest} to {ref.domain}/{ref.path}")
            resp.read()
    finally:
        if path is not None:
            body.close()
    return digest, size


def read_blob(reg, ref, scopes, digest: str, limit: int) -> bytes:
    with reg.request("GET", f"/v2/{ref.path}/blobs/{digest}", scopes=scopes, follow=True) as resp:
        if resp.status != 200:
            raise reg.error(resp, f"fetching blob {digest} of {ref.domain}/{ref.path}")
        data = resp.read(limit)
    if dg.sha256_of(data) != digest:
        raise errors.DigestMismatch(f"blob {digest} from {ref.domain} does not match its content")
    return data


def download_blob(reg, ref, scopes, digest: str, target: str) -> None:
    """Stream a blob into ``target`` (written beside it, checked, then renamed into place)."""
    tmp = f"{target}.{os.getpid()}.part"
    h = hashlib.sha256()
    try:
        with reg.request("GET", f"/v2/{ref.path}/blobs/{digest}", scopes=scopes, follow=True) as resp:
            if resp.status != 200:
                raise reg.error(resp, f"fetching blob {digest} of {ref.domain}/{ref.path}")
            buf = bytearray(1 << 20)
            with open(tmp, "wb") as out:
                while True:
                    n = resp.readinto(buf)
                    if not n:
                        break
                    h.update(buf[:n])
                    out.write(buf[:n])
        if "sha256:" + h.hexdigest() != digest:
            raise errors.DigestMismatch(f"blob {digest} from {ref.domain} does not match its content")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
