"""What cosign signs, and where it keeps it: pure data, no I/O, no crypto.

The payload is the "simple signing" JSON of containers/image (cosign's SIGNATURE_SPEC), as Go's
``encoding/json`` writes sigstore's ``payload.SimpleContainerImage``: compact, struct fields in
declaration order (which is alphabetical here), map keys sorted, ``<``, ``>`` and ``&`` escaped
as ``\\u003c`` etc., and ``"optional":null`` when there are no annotations::

    {"critical":{"identity":{"docker-reference":"index.docker.io/library/busybox"},
     "image":{"docker-manifest-digest":"sha256:…"},"type":"cosign container image signature"},
     "optional":{"key":"value"}}

``docker-reference`` is the repository without tag or digest, spelled as go-containerregistry
spells it: Docker Hub is ``index.docker.io``.
"""

from __future__ import annotations

import json

from dockyard import errors
from dockyard.oci import digest as dg

SIGNATURE_TYPE = "cosign container image signature"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
INTOTO_PAYLOAD = "application/vnd.in-toto+json"
HUB_DOMAIN, HUB_INDEX = "docker.io", "index.docker.io"
MAX_PAYLOAD = 1 << 20


class BadPayload(errors.InvalidArgument):
    """A signature payload that is not cosign's simple-signing JSON."""


class Payload:
    """A parsed simple-signing payload; ``raw`` is the exact bytes that were signed."""

    __slots__ = ("raw", "doc", "reference", "digest", "type", "optional")

    def __init__(self, raw: bytes, doc: dict, reference: str, digest: str, kind: str, optional) -> None:
        self.raw, self.doc, self.reference, self.digest, self.type, self.optional = \
            raw, doc, reference, digest, kind, optional


def docker_reference(ref) -> str:
    """The payload's ``docker-reference`` for a Reference: its repository, Hub as index.docker.io."""
    domain = HUB_INDEX if ref.domain == HUB_DOMAIN else ref.domain
    return f"{domain}/{ref.path}"


def same_repository(signed: str, repository: str) -> bool:
    """Whether a payload's ``docker-reference`` (tag or digest ignored) names ``repository``
    (``domain/path``, as ``Reference.name`` gives it)."""
    from dockyard.oci import reference

    try:
        parsed = reference.parse(signed)
    except errors.InvalidArgument:
        return False
    domain = HUB_DOMAIN if parsed.domain == HUB_INDEX else parsed.domain
    return f"{domain}/{parsed.path}" == repository


def go_json(value) -> bytes:
    """``json.Marshal``'s bytes for plain JSON values: compact, sorted keys, HTML-escaped."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for a, b in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(a, b)
    return text.encode()


def make(ref, digest: str, annotations: dict | None = None) -> bytes:
    """The payload cosign signs for ``ref``'s repository at manifest ``digest``."""
    dg.validate(digest)
    doc = {"critical": {"identity": {"docker-reference": docker_reference(ref)},
                        "image": {"docker-manifest-digest": digest},
                        "type": SIGNATURE_TYPE},
           "optional": dict(annotations) if annotations else None}
    return go_json(doc)


def parse(raw: bytes) -> Payload:
    """A payload's fields, checked for shape (not for what they say: see ``verify``)."""
    if len(raw) > MAX_PAYLOAD:
        raise BadPayload(f"payload is too large ({len(raw)} bytes)")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadPayload("payload is not JSON") from None
    critical = doc.get("critical") if isinstance(doc, dict) else None
    if not isinstance(critical, dict):
        raise BadPayload("payload has no 'critical' object")
    identity, image = critical.get("identity"), critical.get("image")
    reference = identity.get("docker-reference") if isinstance(identity, dict) else None
    digest = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    kind = critical.get("type")
    if not isinstance(reference, str):
        raise BadPayload("payload has no critical.identity.docker-reference")
    if not isinstance(digest, str) or not dg.is_valid(digest):
        raise BadPayload(f"payload has no valid critical.image.docker-manifest-digest ({digest!r})")
    if not isinstance(kind, str):
        raise BadPayload("payload has no critical.type")
    optional = doc.get("optional")
    if optional is not None and not isinstance(optional, dict):
        raise BadPayload("payload's 'optional' is not an object")
    return Payload(raw, doc, reference, digest, kind, optional)


def signature_tag(digest: str) -> str:
    """``sha256:abc…`` → ``sha256-abc….sig``, the tag cosign keeps an image's signatures under."""
    dg.validate(digest)
    return digest.replace(":", "-", 1) + ".sig"


def signature_config(payload_digests: list[str]) -> bytes:
    """The config blob of a signature manifest, as go-containerregistry's ``mutate.Append`` on
    ``empty.Image`` writes it (one history entry and one diff_id per payload layer)."""
    doc = {"architecture": "", "created": "0001-01-01T00:00:00Z",
           "history": [{"created": "0001-01-01T00:00:00Z"} for _ in payload_digests],
           "os": "", "rootfs": {"type": "layers", "diff_ids": list(payload_digests)}, "config": {}}
    return json.dumps(doc, separators=(",", ":")).encode()


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding, what a DSSE envelope's signature covers."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)
