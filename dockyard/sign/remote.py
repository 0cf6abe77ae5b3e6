"""Signatures in a registry, where cosign keeps them.

- The ``sha256-<hex>.sig`` tag of the image's repository: an OCI image manifest whose layers are
  simple-signing payloads (``application/vnd.dev.cosign.simplesigning.v1+json``), each carrying
  its base64 signature in the ``dev.cosignproject.cosign/signature`` annotation. Signing again
  re-pushes that manifest with one more layer (an identical signature is not added twice).
- OCI 1.1 referrers (cosign v3's ``--new-bundle-format``): manifests whose ``subject`` is the
  image and whose artifactType is ``application/vnd.dev.sigstore.bundle.v0.3+json``; their layer
  is a Sigstore bundle holding a DSSE envelope or a messageSignature (over the image's manifest).
  Read through the registry's referrers API, or the spec's ``sha256-<hex>`` fallback tag.

Everything fetched is checked against its digest and bounded in size.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import quote, urljoin

from dockyard import errors
from dockyard.oci import digest as dg
from dockyard.oci import mediatypes as mt
from dockyard.sign import payload as pl

MAX_MANIFEST = 4 << 20
MAX_BLOB = 1 << 20
MAX_REFERRERS = 100
MAX_SIGNATURES = 100  # layers of a .sig manifest looked at: a hostile registry cannot make us fetch more
ACCEPT = ", ".join((mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST))


class Signature:
    """One stored signature: the payload bytes and what claims to sign them.

    ``kind`` is ``"simple"`` (a .sig tag layer: ``signature`` is the raw signature over
    ``payload``), ``"dsse"`` (a bundle's DSSE envelope: ``signature`` is over DSSE's PAE of
    ``payload``) or ``"message"`` (a bundle's messageSignature: ``payload`` is the digest of the
    signed manifest, ``signature`` is over the manifest bytes that digest names)."""

    __slots__ = ("kind", "payload", "signature", "payload_type", "where", "error")

    def __init__(self, kind: str, payload: bytes, signature: bytes | None, where: str, *,
                 payload_type: str = "", error: str = "") -> None:
        self.kind, self.payload, self.signature, self.where = kind, payload, signature, where
        self.payload_type, self.error = payload_type, error


def open_registry(ref, insecure: bool = False):
    from dockyard.registry import credentials
    from dockyard.registry.client import Registry

    return Registry(ref.domain, insecure=insecure, credentials=credentials.get(ref.domain))


def scopes(ref, push: bool = False) -> tuple[str, ...]:
    return (f"repository:{ref.path}:{'pull,push' if push else 'pull'}",)


# ============================================================================ reading

def get_manifest(reg, ref, reference: str, scope, accept: str = ACCEPT) -> tuple[bytes, str] | None:
    """(bytes, digest) of a manifest, or None if the registry has none by that reference."""
    resp = reg.request("GET", f"/v2/{ref.path}/manifests/{reference}", headers={"Accept": accept}, scopes=scope)
    with resp:
        if resp.status == 404:
            resp.read()
            return None
        if resp.status != 200:
            raise reg.error(resp, f"fetching manifest {ref.name}:{reference}")
        body = resp.read(MAX_MANIFEST)
    digest = dg.sha256_of(body)
    if dg.is_valid(reference) and reference != digest:
        raise errors.DigestMismatch(f"manifest {ref.name}@{reference} from {reg.domain} hashes to {digest}")
    return body, digest


def resolve(reg, ref, scope) -> str:
    """The manifest digest ``ref`` names (its digest, or what its tag points to now); the
    manifest must be in the registry (nothing is signed that is not there)."""
    found = get_manifest(reg, ref, ref.digest or ref.tag or "latest", scope)
    if found is None:
        raise errors.ImageNotFound(f"manifest for {ref.familiar()} not found in {reg.domain}")
    return found[1]


def get_blob(reg, ref, digest: str, scope, limit: int = MAX_BLOB) -> bytes:
    resp = reg.request("GET", f"/v2/{ref.path}/blobs/{digest}", scopes=scope, follow=True)
    with resp:
        if resp.status != 200:
            raise reg.error(resp, f"fetching blob {digest} of {ref.name}")
        data = resp.read(limit)
    if dg.sha256_of(data) != digest:
        raise errors.DigestMismatch(f"blob {digest} of {ref.name} from {reg.domain} does not match its digest")
    return data


def _json(data: bytes, what: str) -> dict:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise errors.InvalidArgument(f"{what} is not JSON") from None
    if not isinstance(doc, dict):
        raise errors.InvalidArgument(f"{what} is not a JSON object")
    return doc


def tag_signatures(reg, ref, digest: str, scope) -> tuple[dict | None, list[Signature]]:
    """The .sig tag's manifest (None if there is none) and the signatures in its layers."""
    tag = pl.signature_tag(digest)
    found = get_manifest(reg, ref, tag, scope, accept=mt.OCI_MANIFEST + ", " + mt.DOCKER_MANIFEST)
    if found is None:
        return None, []
    doc = _json(found[0], f"signature manifest {ref.name}:{tag}")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise errors.InvalidArgument(f"signature manifest {ref.name}:{tag} has no layers")
    out = []
    if len(layers) > MAX_SIGNATURES:
        out.append(Signature("simple", b"", None, f"{ref.name}:{tag}",
                             error=f"{len(layers)} layers: only the first {MAX_SIGNATURES} are checked"))
    for i, layer in enumerate(layers[:MAX_SIGNATURES]):
        where = f"{ref.name}:{tag} layer {i + 1}"
        if not isinstance(layer, dict) or layer.get("mediaType") != pl.SIMPLESIGNING:
            continue
        d = layer.get("digest")
        if not isinstance(d, str) or not dg.is_valid(d) or not isinstance(layer.get("size"), int):
            out.append(Signature("simple", b"", None, where, error="the layer has no valid digest or size"))
            continue
        if layer["size"] > pl.MAX_PAYLOAD:
            out.append(Signature("simple", b"", None, where, error=f"the payload is too large ({layer['size']} bytes)"))
            continue
        annotations = layer.get("annotations") if isinstance(layer.get("annotations"), dict) else {}
        sig = annotations.get(pl.SIGNATURE_ANNOTATION)
        data = get_blob(reg, ref, d, scope)
        if not isinstance(sig, str):
            out.append(Signature("simple", data, None, where, error=f"missing {pl.SIGNATURE_ANNOTATION} annotation"))
            continue
        import base64

        try:
            raw = base64.b64decode(sig, validate=True)
        except ValueError:
            out.append(Signature("simple", data, None, where, error="the signature annotation is not base64"))
            continue
        out.append(Signature("simple", data, raw, where))
    return doc, out


def referrers_index(reg, ref, digest: str, scope) -> dict:
    """The OCI 1.1 referrers of ``digest``: from the referrers API, or, where a registry has none,
    the spec's fallback index tagged ``<alg>-<hex>`` (what cosign writes there)."""
    resp = reg.request("GET", f"/v2/{ref.path}/referrers/{digest}?artifactType={quote(pl.BUNDLE_V03, safe='')}",
                       headers={"Accept": mt.OCI_INDEX}, scopes=scope)
    with resp:
        if resp.status == 200:
            return _json(resp.read(MAX_MANIFEST), f"referrers of {ref.name}@{digest}")
        if resp.status not in (404, 405):
            raise reg.error(resp, f"listing the referrers of {ref.name}@{digest}")
        resp.read()
    tag = digest.replace(":", "-", 1)[:128]
    found = get_manifest(reg, ref, tag, scope, accept=mt.OCI_INDEX)
    return _json(found[0], f"referrers index {ref.name}:{tag}") if found is not None else {}


def referrer_signatures(reg, ref, digest: str, scope) -> list[Signature]:
    """Signatures kept as Sigstore bundles in OCI 1.1 referrers of ``digest``."""
    index = referrers_index(reg, ref, digest, scope)
    out = []
    for desc in (index.get("manifests") or [])[:MAX_REFERRERS]:
        if not isinstance(desc, dict) or desc.get("artifactType") != pl.BUNDLE_V03:
            continue
        d = desc.get("digest")
        if not isinstance(d, str) or not dg.is_valid(d):
            continue
        where = f"{ref.name}@{d} (referrer)"
        found = get_manifest(reg, ref, d, scope, accept=mt.OCI_MANIFEST)
        if found is None:
            continue
        doc = _json(found[0], f"referrer {where}")
        layers = doc.get("layers") or []
        if not layers or not isinstance(layers[0], dict) or not isinstance(layers[0].get("digest"), str):
            out.append(Signature("dsse", b"", None, where, error="the referrer has no bundle layer"))
            continue
        out.append(bundle_signature(get_blob(reg, ref, layers[0]["digest"], scope), where))
    return out


def bundle_signature(data: bytes, where: str) -> Signature:
    """The DSSE envelope of a Sigstore bundle (v0.3) as a Signature."""
    import base64

    try:
        bundle = _json(data, f"bundle {where}")
        env = bundle.get("dsseEnvelope")
        if not isinstance(env, dict):
            return _message_signature(bundle.get("messageSignature"), where)
        body = base64.b64decode(env.get("payload") or "", validate=True)
        sigs = env.get("signatures")
        if not isinstance(sigs, list) or not sigs or not isinstance(sigs[0], dict):
            return Signature("dsse", body, None, where, error="the DSSE envelope has no signature")
        raw = base64.b64decode(sigs[0].get("sig") or "", validate=True)
        return Signature("dsse", body, raw, where, payload_type=str(env.get("payloadType") or ""))
    except (ValueError, errors.InvalidArgument) as e:
        return Signature("dsse", b"", None, where, error=f"the bundle is malformed: {e}")


def _message_signature(msg, where: str) -> Signature:
    """A bundle's messageSignature: a signature over the signed artifact's bytes, whose digest it
    names (``messageDigest``); for a referrer of an image that artifact is the image's manifest.
    ``payload`` is the digest's raw bytes, ``payload_type`` its algorithm (``SHA2_256``)."""
    import base64

    if not isinstance(msg, dict):
        return Signature("message", b"", None, where, error="the bundle holds neither a DSSE envelope nor a "
                                                              "message signature")
    md = msg.get("messageDigest")
    if not isinstance(md, dict) or not isinstance(md.get("digest"), str):
        return Signature("message", b"", None, where, error="the message signature names no message digest")
    digest = base64.b64decode(md["digest"], validate=True)
    raw = base64.b64decode(msg.get("signature") or "", validate=True)
    if not raw:
        return Signature("message", digest, None, where, error="the message signature has no signature")
    return Signature("message", digest, raw, where, payload_type=str(md.get("algorithm") or ""))


def all_signatures(reg, ref, digest: str, scope) -> list[Signature]:
    return tag_signatures(reg, ref, digest, scope)[1] + referrer_signatures(reg, ref, digest, scope)


# ============================================================================ writing

def put_blob(reg, ref, data: bytes, scope) -> str:
    """Upload ``data`` unless the repository has it; its digest."""
    digest = dg.sha256_of(data)
    with reg.request("HEAD", f"/v2/{ref.path}/blobs/{digest}", scopes=scope) as resp:
        resp.read()
        if resp.status == 200:
            return digest
    with reg.request("POST", f"/v2/{ref.path}/blobs/uploads/", scopes=scope) as resp:
        if resp.status != 202 or not resp.header("Location"):
            raise reg.error(resp, f"starting an upload to {ref.name}")
        location = urljoin(resp.url, resp.header("Location"))
        resp.read()
    location += ("&" if "?" in location else "?") + "digest=" + quote(digest)
    with reg.request("PUT", location, headers={"Content-Type": "application/octet-stream"}, body=data,
                     scopes=scope) as resp:
        if resp.status not in (201, 204):
            raise reg.error(resp, f"uploading blob {digest} to {ref.name}")
        resp.read()
    return digest


def put_manifest(reg, ref, reference: str, body: bytes, media_type: str, scope) -> str:
    with reg.request("PUT", f"/v2/{ref.path}/manifests/{reference}", headers={"Content-Type": media_type},
                     body=body, scopes=scope) as resp:
        if resp.status not in (200, 201, 202):
            raise reg.error(resp, f"pushing manifest {ref.name}:{reference}")
        resp.read()
    return hashlib.sha256(body).hexdigest()


def append_signature(reg, ref, digest: str, payload: bytes, signature_b64: str, scope,
                     same_signer=None) -> tuple[str, bool]:
    """Add a signature to the .sig tag of ``digest`` (creating it); (tag, added).

    Like cosign's duplicate detector, nothing is added when the tag already holds this payload
    signed by the same key (``same_signer(signature)`` says whether a stored signature of the
    same payload verifies with the signer's public key)."""
    tag = pl.signature_tag(digest)
    existing, sigs = tag_signatures(reg, ref, digest, scope)
    layers = [x for x in (existing or {}).get("layers") or [] if isinstance(x, dict)]
    for sig in sigs:
        if sig.payload == payload and sig.signature is not None and same_signer is not None \
                and same_signer(sig.signature):
            return tag, False
    payload_digest = dg.sha256_of(payload)
    put_blob(reg, ref, payload, scope)
    layers.append({"mediaType": pl.SIMPLESIGNING, "size": len(payload), "digest": payload_digest,
                   "annotations": {pl.SIGNATURE_ANNOTATION: signature_b64}})
    config = pl.signature_config([x.get("digest") for x in layers])
    config_digest = put_blob(reg, ref, config, scope)
    manifest = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                "config": {"mediaType": mt.OCI_CONFIG, "size": len(config), "digest": config_digest},
                "layers": layers}
    put_manifest(reg, ref, tag, json.dumps(manifest, separators=(",", ":")).encode(), mt.OCI_MANIFEST, scope)
    return tag, True
