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
    for broken, message in ((b"[]", "not a JSON object"), (b"{}", "no DSSE envelope"),
                            (b'{"dsseEnvelope":{"payload":"!!"}}', "malformed"),
                            (b'{"dsseEnvelope":{"payload":"","signatures":[]}}', "no signature")):
        with pytest.raises(verify.Rejected, match=message):
            verify.check(remote.bundle_signature(broken, "ref"), [signer.public()], DIGEST)
