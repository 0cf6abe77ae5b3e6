"""cosign's key files: what dockyard writes opens with an independent decryption (hashlib's scrypt,
PyNaCl's secretbox, openssl for the PKCS#8 inside), and the keys cosign's own tests and CI use
(tests/unit/data/cosign, see its README) open with dockyard, or fail as they fail in cosign."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess

import pytest

pytest.importorskip("cryptography")
pytest.importorskip("nacl")

from dockyard import errors  # noqa: E402
from dockyard.sign import keys  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "data", "cosign")


def fixture(name: str) -> bytes:
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def pair():
    return keys.generate(b"s3cret")


def envelope(pem: bytes) -> dict:
    kind, body = keys.pem_decode(pem, "key")
    return kind, json.loads(body)


def test_generated_key_is_cosigns_format(pair):
    private, public = pair
    kind, env = envelope(private)
    assert kind == "ENCRYPTED SIGSTORE PRIVATE KEY"
    # field for field what go-securesystemslib's encrypted.Encrypt marshals (and in its order)
    assert list(env) == ["kdf", "cipher", "ciphertext"]
    assert list(env["kdf"]) == ["name", "params", "salt"] and list(env["cipher"]) == ["name", "nonce"]
    assert env["kdf"]["name"] == "scrypt" and env["kdf"]["params"] == {"N": 65536, "r": 8, "p": 1}
    assert env["cipher"]["name"] == "nacl/secretbox"
    assert len(base64.b64decode(env["kdf"]["salt"])) == 32
    assert len(base64.b64decode(env["cipher"]["nonce"])) == 24
    # the first line matches cosign's own N=65536 fixture byte for byte (same JSON prefix)
    assert private.splitlines()[1] == fixture("ec-sec1-cosign-hello.key").splitlines()[1]
    lines = private.splitlines()
    assert all(len(x) == 64 for x in lines[1:-2]) and 0 < len(lines[-2]) <= 64  # Go's pem: 64 columns
    assert public.startswith(b"-----BEGIN PUBLIC KEY-----\n")


def test_generated_key_opens_independently(pair, tmp_path):
    """Decrypt with hashlib.scrypt + nacl directly, then let openssl read the PKCS#8 and derive
    the public key: it must be the one in cosign.pub."""
    from nacl.secret import SecretBox

    private, public = pair
    _kind, env = envelope(private)
    p = env["kdf"]["params"]
    box_key = hashlib.scrypt(b"s3cret", salt=base64.b64decode(env["kdf"]["salt"]), n=p["N"], r=p["r"], p=p["p"],
                             maxmem=256 << 20, dklen=32)
    der = SecretBox(box_key).decrypt(base64.b64decode(env["ciphertext"]), base64.b64decode(env["cipher"]["nonce"]))
    (tmp_path / "k.der").write_bytes(der)
    text = subprocess.run(["openssl", "pkey", "-inform", "DER", "-in", str(tmp_path / "k.der"), "-noout", "-text"],
                          capture_output=True, check=True).stdout.decode()
    assert "prime256v1" in text or "P-256" in text
    derived = subprocess.run(["openssl", "pkey", "-inform", "DER", "-in", str(tmp_path / "k.der"), "-pubout"],
                             capture_output=True, check=True).stdout
    assert derived == public
    # and it is PKCS#8 (openssl asn1parse: SEQUENCE, INTEGER 0, SEQUENCE id-ecPublicKey …)
    assert keys.is_pkcs8(der)


def test_roundtrip_and_wrong_password(pair):
    private, public = pair
    signer = keys.load_private(private, b"s3cret", "cosign.key")
    assert signer.kind == "ECDSA P-256"
    assert signer.public().pem() == public
    with pytest.raises(keys.WrongPassword, match="decryption failed"):
        keys.load_private(private, b"wrong", "cosign.key")
    with pytest.raises(keys.WrongPassword):
        keys.load_private(private, b"", "cosign.key")


def test_signature_checks_with_openssl(pair, tmp_path):
    private, public = pair
    signer = keys.load_private(private, b"s3cret", "cosign.key")
    payload = b'{"critical":{}}'
    sig = signer.sign(payload)
    (tmp_path / "payload").write_bytes(payload)
    (tmp_path / "sig.der").write_bytes(sig)
    (tmp_path / "cosign.pub").write_bytes(public)
    p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "cosign.pub"), "-signature",
                        str(tmp_path / "sig.der"), str(tmp_path / "payload")], capture_output=True)
    assert p.returncode == 0 and b"Verified OK" in p.stdout
    verifier = keys.load_public(public, "cosign.pub")
    assert verifier.verify(sig, payload)
    assert not verifier.verify(sig, payload + b" ")
    assert not verifier.verify(b"\x30\x00", payload)
    # openssl's own signature verifies with dockyard
    key_pem = tmp_path / "k.pem"
    _kind, env = envelope(private)
    der = keys.decrypt(keys.pem_decode(private, "k")[1], b"s3cret")
    key_pem.write_bytes(keys.pem_encode("PRIVATE KEY", der))
    theirs = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key_pem), str(tmp_path / "payload")],
                            capture_output=True, check=True).stdout
    assert verifier.verify(theirs, payload)


@pytest.mark.parametrize("name", ["cosign-hello.key", "sigstore-hello.key"])
def test_cosigns_test_keys_open(name):
    signer = keys.load_private(fixture(name), b"hello", name)
    assert signer.kind == "ECDSA P-256"
    assert envelope(fixture(name))[1]["kdf"]["params"] == {"N": 32768, "r": 8, "p": 1}  # older cosign's strength
    assert signer.public().verify(signer.sign(b"x"), b"x")
    with pytest.raises(keys.WrongPassword):
        keys.load_private(fixture(name), b"hell0", name)


def test_cosigns_sec1_key_is_refused_as_cosign_refuses_it():
    # cosign's TestReadingPrivatePemTypes expects "failed to parse private key" for this one
    with pytest.raises(keys.BadKey, match="not PKCS#8"):
        keys.load_private(fixture("ec-sec1-cosign-hello.key"), b"hello", "k")


def test_cosigns_ci_key():
    """cosign's CI key: its password is a secret, so: the envelope parses (N=32768), a wrong
    password is told apart from a corrupt file, and its public key loads."""
    kind, env = envelope(fixture("cosign-test.key"))
    assert kind == "ENCRYPTED COSIGN PRIVATE KEY" and env["kdf"]["params"]["N"] == 32768
    with pytest.raises(keys.WrongPassword):
        keys.load_private(fixture("cosign-test.key"), b"not-the-password", "cosign-test.key")
    assert keys.load_public(fixture("cosign-test.pub"), "cosign-test.pub").kind == "ECDSA P-256"


def _pem(kind: str, body: bytes) -> bytes:
    return keys.pem_encode(kind, body)


@pytest.mark.parametrize("data, message", [
    (b"", "not a PEM file"),
    (b"\xff\xfe garbage", "non-ASCII"),
    (b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nabc\n", "no '-----END"),
    (b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n!!!\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
     "not valid base64"),
    (_pem("ENCRYPTED SIGSTORE PRIVATE KEY", b"not json"), "not JSON"),
    (_pem("ENCRYPTED SIGSTORE PRIVATE KEY", b"[]"), "not a JSON object"),
    (_pem("ENCRYPTED SIGSTORE PRIVATE KEY", b'{"kdf":{"name":"pbkdf2"}}'), "unknown kdf"),
    (_pem("ENCRYPTED SIGSTORE PRIVATE KEY", b'{"kdf":{"name":"scrypt","params":{"N":2,"r":1,"p":1}},'
                                            b'"cipher":{"name":"nacl/secretbox"}}'), "unsupported scrypt parameters"),
    (_pem("ENCRYPTED SIGSTORE PRIVATE KEY", b'{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"AA=="},'
                                            b'"cipher":{"name":"nacl/secretbox","nonce":"AA=="},"ciphertext":"AA=="}'),
     "incorrect nonce size"),
    (_pem("PUBLIC KEY", b"x"), "not an encrypted cosign private key"),
    (_pem("PRIVATE KEY", b"x"), "not an encrypted cosign private key"),
])
def test_corrupt_private_keys(data, message):
    with pytest.raises(errors.InvalidArgument, match=message):
        keys.load_private(data, b"pw", "cosign.key")


def test_corrupt_public_keys(pair):
    with pytest.raises(keys.BadKey, match="not a 'PUBLIC KEY'"):
        keys.load_public(pair[0], "cosign.key")
    with pytest.raises(keys.BadKey, match="parsing public key"):
        keys.load_public(_pem("PUBLIC KEY", b"\x30\x03\x02\x01\x00"), "x.pub")


def test_other_curves_are_refused():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    der = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(keys.BadKey, match="secp384r1"):
        keys.load_public(_pem("PUBLIC KEY", der), "p384.pub")


def test_read_file_errors(tmp_path):
    with pytest.raises(errors.NotFound):
        keys.read_file(str(tmp_path / "nope"), "key")
    with pytest.raises(errors.InvalidArgument, match="directory"):
        keys.read_file(str(tmp_path), "key")
