"""Checks a pushed manifest and lists what it refers to.

The registry stores the client's exact bytes; this module only decides whether they are a
manifest we serve (Docker schema2 manifest or list, OCI manifest or index, ``schemaVersion`` 2,
``mediaType`` consistent with ``Content-Type``) and extracts what storage needs: the blobs and
manifests that must already be in the repository, the ``subject`` for the referrers API, and the
``artifactType`` and annotations a referrers listing reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from dockyard.oci import mediatypes as mt
from dockyard.registry.server.errors import RegistryError
from dockyard.registry.server.names import check_digest

MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # distribution's maxManifestBodySize

IMAGE_TYPES = frozenset({mt.OCI_MANIFEST, mt.DOCKER_MANIFEST})
INDEX_TYPES = frozenset({mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST})
SERVED_TYPES = IMAGE_TYPES | INDEX_TYPES
SCHEMA1_TYPES = frozenset({mt.DOCKER_MANIFEST_V1_SIGNED, "application/vnd.docker.distribution.manifest.v1+json"})
_GENERIC_TYPES = frozenset({"", "application/json", "application/octet-stream"})


@dataclass(frozen=True, slots=True, kw_only=True)
class PushedManifest:
    """What a valid pushed manifest means to storage.

    ``children``: digests that must exist in the repository first (config and layers of an
    image, the entries of an index; foreign layers with ``urls`` are not ours to check).
    """

    media_type: str
    children: tuple[str, ...]
    subject: str | None = None
    artifact_type: str | None = None
    annotations: dict | None = None


def media_type_of(content_type: str | None) -> str:
    """``Content-Type`` without parameters, as the spec says registries should read it."""
    return (content_type or "").split(";", 1)[0].strip()


def parse(data: bytes, content_type: str | None) -> PushedManifest:
    """Validate ``data`` pushed with ``content_type``; MANIFEST_INVALID (or DIGEST_INVALID) if not."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise _invalid(f"manifest is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise _invalid("manifest must be a JSON object")
    version = doc.get("schemaVersion")
    if isinstance(version, bool):
        raise _invalid(f"unsupported schemaVersion {version!r} (want 2)")
    if version == 1:
        raise _invalid("schema1 manifests are not supported; push a schema2 or OCI manifest")
    if version != 2:
        raise _invalid(f"unsupported schemaVersion {version!r} (want 2)")

    header_type = media_type_of(content_type)
    body_type = doc.get("mediaType")
    if body_type is not None and not isinstance(body_type, str):
        raise _invalid("mediaType must be a string")
    if body_type:
        if header_type not in _GENERIC_TYPES and header_type != body_type:
            raise _invalid(f"mediaType {body_type!r} does not match Content-Type {header_type!r}")
        media_type = body_type
    elif header_type in (mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST_LIST):
        raise _invalid(f"a {header_type} must carry its mediaType field")
    elif header_type in (mt.OCI_MANIFEST, mt.OCI_INDEX):
        media_type = header_type
    else:  # an OCI manifest may omit mediaType; tell image from index by shape, as distribution does
        media_type = mt.OCI_INDEX if "manifests" in doc else mt.OCI_MANIFEST
    if media_type not in SERVED_TYPES:
        raise _invalid(f"unsupported manifest media type {media_type!r}")

    artifact_type = _optional_str(doc, "artifactType")
    annotations = _annotations(doc.get("annotations"), "annotations")
    subject = doc.get("subject")
    subject_digest = _descriptor(subject, "subject")[0] if subject is not None else None

    if media_type in IMAGE_TYPES:
        if "manifests" in doc:
            raise _invalid("an image manifest cannot list manifests")
        config_digest, config_type = _descriptor(doc.get("config"), "config")
        layers = doc.get("layers", [] if media_type == mt.OCI_MANIFEST else None)
        if not isinstance(layers, list):
            raise _invalid("layers must be a list")
        children = [config_digest]
        for i, layer in enumerate(layers):
            digest, _ = _descriptor(layer, f"layers[{i}]")
            if not layer.get("urls"):  # a foreign layer lives elsewhere; nothing to check here
                children.append(digest)
        return PushedManifest(media_type=media_type, children=tuple(dict.fromkeys(children)),
                              subject=subject_digest, artifact_type=artifact_type or config_type,
                              annotations=annotations)

    if "layers" in doc or "config" in doc:
        raise _invalid("an index cannot have config or layers")
    entries = doc.get("manifests")
    if not isinstance(entries, list):
        raise _invalid("manifests must be a list")
    children = [_descriptor(entry, f"manifests[{i}]")[0] for i, entry in enumerate(entries)]
    return PushedManifest(media_type=media_type, children=tuple(dict.fromkeys(children)),
                          subject=subject_digest, artifact_type=artifact_type, annotations=annotations)


def _descriptor(d: object, where: str) -> tuple[str, str]:
    """``(digest, mediaType)`` of a descriptor, checked."""
    if not isinstance(d, dict):
        raise _invalid(f"{where}: descriptor missing or not an object")
    media_type = d.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        raise _invalid(f"{where}: descriptor needs a mediaType")
    digest = d.get("digest")
    if not isinstance(digest, str):
        raise _invalid(f"{where}: descriptor needs a digest")
    try:
        check_digest(digest)
    except RegistryError:
        raise _invalid(f"{where}: invalid digest {digest[:100]!r}") from None
    size = d.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(f"{where}: descriptor needs a non-negative integer size")
    _annotations(d.get("annotations"), f"{where}.annotations")
    return digest, media_type


def _optional_str(doc: dict, key: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise _invalid(f"{key} must be a string")
    return value or None


def _annotations(value: object, where: str) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _invalid(f"{where} must map strings to strings")
    return value or None


def _invalid(detail: str) -> RegistryError:
    return RegistryError("MANIFEST_INVALID", detail=detail)


def accepts(accept_headers: list[str], media_type: str) -> bool:
    """Whether a manifest of ``media_type`` may be sent to a client that sent ``Accept``.

    Like distribution we always send the stored bytes (never convert), so the only client we
    turn away is one that names manifest types but none we have, i.e. a schema1-only client.
    """
    types = {media_type_of(t) for header in accept_headers for t in header.split(",")}
    types.discard("")
    if not types or media_type in types or types & SERVED_TYPES:
        return True
    if "*/*" in types or "application/*" in types or "application/json" in types:
        return True
    return not types & SCHEMA1_TYPES
