"""The simple-signing payload: byte for byte what cosign makes (its TestObsoletePayload golden),
and what `dockyard verify` prints has the structure of cosign's TestPrintVerification output."""

from __future__ import annotations

import json
import os

import pytest

from dockyard.oci import reference
from dockyard.sign import payload as pl

DATA = os.path.join(os.path.dirname(__file__), "data", "cosign")
DIGEST = "sha256:4aa3054270f7a70b4528f2064ee90961788e1e1518703592ae4463de3b889dec"


def read(name: str) -> bytes:
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


def test_payload_is_cosigns_bytes():
    ref = reference.parse(f"docker.io/namespace/image@{DIGEST}")
    assert pl.make(ref, DIGEST) == read("obsolete-payload.json")
    # the Hub is spelled as go-containerregistry spells it; other registries as they are
    assert pl.docker_reference(reference.parse("busybox")) == "index.docker.io/library/busybox"
    assert pl.docker_reference(reference.parse("127.0.0.1:5000/a/b:1")) == "127.0.0.1:5000/a/b"


def test_annotations_as_go_marshals_them():
    ref = reference.parse("127.0.0.1:5000/app:1")
    body = pl.make(ref, DIGEST, {"z": "1", "a": "<b>&", "ü": "ü"})
    assert body.endswith(b',"optional":{"a":"\\u003cb\\u003e\\u0026","z":"1","\xc3\xbc":"\xc3\xbc"}}')
    p = pl.parse(body)
    assert (p.reference, p.digest, p.type) == ("127.0.0.1:5000/app", DIGEST, pl.SIGNATURE_TYPE)
    assert p.optional == {"z": "1", "a": "<b>&", "ü": "ü"}


def test_verify_output_has_cosigns_structure():
    """The document `dockyard verify` prints per signature (built in cli/sign.py the same way)
    has exactly the keys cosign's verify prints, at every level."""
    theirs = json.loads(read("verify-output.json"))[0]
    ours = json.loads(pl.make(reference.parse("gcr.io/baz/baz:1"), theirs["critical"]["image"]["docker-manifest-digest"],
                              {"Issuer": "x"}))

    def shape(d):
        return {k: shape(v) if isinstance(v, dict) and k != "optional" else type(v).__name__ for k, v in d.items()}

    assert shape(ours) == shape(theirs)
    assert ours["critical"] == theirs["critical"]  # same repository and digest: the same critical section


@pytest.mark.parametrize("raw, message", [
    (b"nope", "not JSON"),
    (b"[]", "no 'critical'"),
    (b'{"critical":{"identity":{},"image":{},"type":"x"}}', "docker-reference"),
    (b'{"critical":{"identity":{"docker-reference":"a/b"},"image":{"docker-manifest-digest":"md5:x"},"type":"x"}}',
     "docker-manifest-digest"),
    (b'{"critical":{"identity":{"docker-reference":"a/b"},"image":{"docker-manifest-digest":"' + DIGEST.encode() +
     b'"}}}', "critical.type"),
    (b'{"critical":{"identity":{"docker-reference":"a/b"},"image":{"docker-manifest-digest":"' + DIGEST.encode() +
     b'"},"type":"t"},"optional":[1]}', "'optional'"),
    (b" " * (pl.MAX_PAYLOAD + 1), "too large"),
])
def test_bad_payloads(raw, message):
    with pytest.raises(pl.BadPayload, match=message):
        pl.parse(raw)


def test_signature_tag_and_identity():
    assert pl.signature_tag(DIGEST) == "sha256-" + DIGEST[7:] + ".sig"
    with pytest.raises(Exception):
        pl.signature_tag("sha256:short")
    assert pl.same_repository("index.docker.io/library/busybox", "docker.io/library/busybox")
    assert pl.same_repository("127.0.0.1:5000/app:1", "127.0.0.1:5000/app")
    assert not pl.same_repository("127.0.0.1:5000/app2", "127.0.0.1:5000/app")
    assert not pl.same_repository("NOT A REF", "127.0.0.1:5000/app")


def test_signature_config_and_pae():
    cfg = json.loads(pl.signature_config(["sha256:" + "a" * 64, "sha256:" + "b" * 64]))
    assert cfg["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + "a" * 64, "sha256:" + "b" * 64]}
    assert len(cfg["history"]) == 2
    # DSSE's spec example: PAE("http://example.com/HelloWorld", "hello world")
    assert pl.pae("http://example.com/HelloWorld", b"hello world") == \
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
