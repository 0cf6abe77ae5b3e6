"""One stored signature against keys, a digest and (for `dockyard verify`) a repository."""

from __future__ import annotations

import base64
import json

import pytest

pytest.importorskip("cryptography")

from dockyard.oci import reference  # noqa: E402
from dockyard.sign import keys, remote, verify  # noqa: E402
from dockyard.sign import payload as pl  # noqa: E402

DIGEST = "sha256:" + "12" * 32


@pytest.fixture(scope="module")
def signer():
    private, _public = keys.generate(b"")
    return keys.load_private(private, b"", "k")


def simple(signer, image: str, digest: str = DIGEST, **over):
    body = over.pop("body", None) or pl.make(reference.parse(image), digest)
    return remote.Signature("simple", body, over.pop("sig", None) or signer.sign(body), "sig", **over)


def test_verify_image(signer):
    key = signer.public()
    good = simple(signer, "127.0.0.1:5000/app:1")
    accepted, reasons = verify.verify_image([good], [key], "127.0.0.1:5000/app", DIGEST)
    assert [a.identity for a in accepted] == ["127.0.0.1:5000/app"] and reasons == []
    # another repository's signature of the same digest is not this image's
    accepted, reasons = verify.verify_image([simple(signer, "127.0.0.1:5000/other:1")], [key],
                                            "127.0.0.1:5000/app", DIGEST)
    assert accepted == [] and "docker-reference '127.0.0.1:5000/other' is not 127.0.0.1:5000/app" in reasons[0]


@pytest.mark.parametrize("case, message", [
    ("error", "missing dev.cosignproject.cosign/signature annotation"),
    ("type", "is not 'cosign container image signature'"),
    ("json", "payload is not JSON"),
    ("digest", "is for digest"),
])
def test_rejections(signer, case, message):
    key = signer.public()
    if case == "error":
        sig = remote.Signature("simple", b"{}", None, "sig", error=f"missing {pl.SIGNATURE_ANNOTATION} annotation")
    elif case == "type":
        doc = json.loads(pl.make(reference.parse("a.example/x"), DIGEST))
        doc["critical"]["type"] = "atomic container signature"
        sig = simple(signer, "a.example/x", body=json.dumps(doc).encode())
    elif case == "json":
        sig = simple(signer, "a.example/x", body=b"\x00not json")
    else:
        sig = simple(signer, "a.example/x", "sha256:" + "34" * 32)
    with pytest.raises(verify.Rejected, match=message):
        verify.check(sig, [key], DIGEST)


def test_bundle_signature_parsing(signer):
    statement = json.dumps({"predicateType": pl.SIGN_PREDICATE,
                            "subject": [{"digest": {"sha256": DIGEST.split(":")[1]}}]}).encode()
    sig = signer.sign(pl.pae(pl.INTOTO_PAYLOAD, statement))
    bundle = json.dumps({"dsseEnvelope": {"payload": base64.b64encode(statement).decode(),
                                          "payloadType": pl.INTOTO_PAYLOAD,
                                          "signatures": [{"sig": base64.b64encode(sig).decode()}]}}).encode()
    ok = verify.check(remote.bundle_signature(bundle, "ref"), [signer.public()], DIGEST)
    assert ok.identity is None and ok.doc["predicateType"] == pl.SIGN_PREDICATE
    for broken, message in ((b"[]", "not a JSON object"), (b"{}", "neither a DSSE envelope nor a message signature"),
                            (b'{"dsseEnvelope":{"payload":"!!"}}', "malformed"),
                            (b'{"dsseEnvelope":{"payload":"","signatures":[]}}', "no signature")):
        with pytest.raises(verify.Rejected, match=message):
            verify.check(remote.bundle_signature(broken, "ref"), [signer.public()], DIGEST)


def message_bundle(signature: bytes, digest: bytes, algorithm: str = "SHA2_256") -> bytes:
    """A Sigstore bundle v0.3 with a messageSignature (what cosign writes for a signed blob; for a
    referrer of an image, the blob is the image's manifest)."""
    return json.dumps({"mediaType": pl.BUNDLE_V03, "verificationMaterial": {"publicKey": {"hint": "k"}},
                       "messageSignature": {"messageDigest": {"algorithm": algorithm,
                                                              "digest": base64.b64encode(digest).decode()},
                                            "signature": base64.b64encode(signature).decode()}}).encode()


def test_bundle_message_signature(signer):
    import hashlib

    manifest = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
    raw = hashlib.sha256(manifest).digest()
    digest = "sha256:" + raw.hex()
    ok = verify.check(remote.bundle_signature(message_bundle(signer.sign(manifest), raw), "ref"), [signer.public()],
                      digest)
    assert ok.identity is None and ok.doc == {"messageDigest": {"algorithm": "SHA2_256", "digest": digest}}
    other = keys.load_private(keys.generate(b"")[0], b"", "other")
    cases = [
        (message_bundle(signer.sign(manifest + b" "), raw), "does not verify"),     # over other bytes
        (message_bundle(other.sign(manifest), raw), "does not verify"),             # another key
        (message_bundle(signer.sign(manifest), b"\x34" * 32), "is for digest sha256:3434"),  # another image
        (message_bundle(signer.sign(manifest), raw, "SHA2_512"), "is not SHA2_256"),
        (message_bundle(b"", raw), "has no signature"),
        (b'{"messageSignature":{"signature":"AA=="}}', "names no message digest"),
        (b'{"messageSignature":{"messageDigest":{"digest":"!!"}}}', "malformed"),
    ]
    for bundle, message in cases:
        with pytest.raises(verify.Rejected, match=message):
            verify.check(remote.bundle_signature(bundle, "ref"), [signer.public()], digest)
