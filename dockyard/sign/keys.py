"""cosign's key files: read what cosign writes, write what cosign reads.

``cosign.pub`` is a PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo). ``cosign.key`` is a PEM block of
type ``ENCRYPTED SIGSTORE PRIVATE KEY`` (``ENCRYPTED COSIGN PRIVATE KEY`` in files from cosign
before 2.0) whose bytes are the JSON envelope of go-securesystemslib's ``encrypted`` package::

    {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<base64>"},
     "cipher":{"name":"nacl/secretbox","nonce":"<base64>"},
     "ciphertext":"<base64>"}

The secretbox key is ``scrypt(password, salt, N, r, p, 32)``; the plaintext is the private key
in PKCS#8 DER. New keys use N=65536 (``encrypted.Encrypt``'s "standard" strength, what cosign
writes today); N=32768 (what older cosign wrote) and N=131072 are read too, and nothing else,
as ``encrypted.Decrypt`` does.

Signatures are what cosign's signers make: ECDSA P-256 with SHA-256 (ASN.1 DER, cosign's own
keys), RSA PKCS#1 v1.5 with SHA-256, Ed25519 over the message itself.
"""

from __future__ import annotations

import base64
import json
import os

from dockyard import errors
from dockyard.sign.deps import require

SIGSTORE_PEM = "ENCRYPTED SIGSTORE PRIVATE KEY"
COSIGN_PEM = "ENCRYPTED COSIGN PRIVATE KEY"
PUBLIC_PEM = "PUBLIC KEY"
SCRYPT_PARAMS = ({"N": 32768, "r": 8, "p": 1}, {"N": 65536, "r": 8, "p": 1}, {"N": 131072, "r": 8, "p": 1})
NEW_KEY_PARAMS = SCRYPT_PARAMS[1]
MAX_KEY_FILE = 1 << 20


class BadKey(errors.InvalidArgument):
    """A key file that cannot be used (corrupt, wrong type, wrong password)."""


class WrongPassword(errors.PermissionDenied):
    """The password does not open the encrypted private key."""


# ============================================================================ PEM

def pem_encode(kind: str, der: bytes) -> bytes:
    """Go's ``pem.EncodeToMemory``: base64 in 64-column lines."""
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return (f"-----BEGIN {kind}-----\n" + "".join(f"{line}\n" for line in lines) + f"-----END {kind}-----\n").encode()


def pem_decode(data: bytes, what: str) -> tuple[str, bytes]:
    """The first PEM block of ``data``: (type, bytes)."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise BadKey(f"{what} is not a PEM file (it holds non-ASCII bytes)") from None
    start = text.find("-----BEGIN ")
    if start < 0:
        raise BadKey(f"{what} is not a PEM file: no '-----BEGIN' line")
    head_end = text.find("-----", start + 11)
    if head_end < 0:
        raise BadKey(f"{what} has a broken PEM header")
    kind = text[start + 11:head_end]
    footer = f"-----END {kind}-----"
    end = text.find(footer, head_end)
    if end < 0:
        raise BadKey(f"{what} has no '{footer}' line")
    body = text[head_end + 5:end]
    if ":" in body:  # RFC 1421 headers (Proc-Type: ...), which Go's pem skips
        body = body.split("\n\n", 1)[-1]
    try:
        return kind, base64.b64decode("".join(body.split()), validate=True)
    except ValueError:
        raise BadKey(f"{what}: the PEM block {kind!r} is not valid base64") from None


def read_file(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_KEY_FILE + 1)
    except FileNotFoundError:
        raise errors.NotFound(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise errors.InvalidArgument(f"{what} {path} is a directory") from None
    except OSError as e:
        raise errors.PermissionDenied(f"cannot read {what} {path}: {e.strerror}") from None
    if len(data) > MAX_KEY_FILE:
        raise BadKey(f"{what} {path} is too large to be a key")
    return data


# ============================================================================ the envelope

def _b64(doc: dict, key: str, what: str) -> bytes:
    value = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(value, str):
        raise BadKey(f"{what}: the encrypted key has no {key!r}")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise BadKey(f"{what}: {key!r} of the encrypted key is not base64") from None


def _scrypt(password: bytes, salt: bytes, params: dict) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=params["N"], r=params["r"], p=params["p"]).derive(password)


def encrypt(plaintext: bytes, password: bytes, params: dict = NEW_KEY_PARAMS) -> bytes:
    """go-securesystemslib's ``encrypted.Encrypt``: the JSON envelope, as Go marshals it."""
    require()
    from nacl.secret import SecretBox

    salt, nonce = os.urandom(32), os.urandom(24)
    box = SecretBox(_scrypt(password, salt, params)).encrypt(plaintext, nonce).ciphertext
    doc = {"kdf": {"name": "scrypt", "params": {"N": params["N"], "r": params["r"], "p": params["p"]},
                   "salt": base64.b64encode(salt).decode()},
           "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
           "ciphertext": base64.b64encode(box).decode()}
    return json.dumps(doc, separators=(",", ":")).encode()


def decrypt(envelope: bytes, password: bytes, what: str = "the key") -> bytes:
    """go-securesystemslib's ``encrypted.Decrypt``; WrongPassword when the box does not open."""
    require()
    try:
        doc = json.loads(envelope)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadKey(f"{what} is corrupt: its encrypted envelope is not JSON") from None
    if not isinstance(doc, dict):
        raise BadKey(f"{what} is corrupt: its encrypted envelope is not a JSON object")
    kdf, cipher = doc.get("kdf"), doc.get("cipher")
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise BadKey(f"{what}: unknown kdf {kdf.get('name') if isinstance(kdf, dict) else kdf!r}")
    if not isinstance(cipher, dict) or cipher.get("name") != "nacl/secretbox":
        raise BadKey(f"{what}: unknown cipher {cipher.get('name') if isinstance(cipher, dict) else cipher!r}")
    params = kdf.get("params")
    if params not in SCRYPT_PARAMS:
        raise BadKey(f"{what}: unsupported scrypt parameters {params!r}")
    salt, nonce, box = _b64(kdf, "salt", what), _b64(cipher, "nonce", what), _b64(doc, "ciphertext", what)
    if len(nonce) != 24:
        raise BadKey(f"{what}: incorrect nonce size {len(nonce)}")
    from nacl.exceptions import CryptoError
    from nacl.secret import SecretBox

    try:
        return SecretBox(_scrypt(password, salt, params)).decrypt(box, nonce)
    except CryptoError:
        raise WrongPassword(f"{what}: decryption failed (wrong password?)") from None


# ============================================================================ keys

class SigningKey:
    """A private key that signs as cosign's signers do."""

    def __init__(self, key) -> None:
        self.key = key
        self.kind = describe(key)

    def sign(self, message: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(message, ec.ECDSA(hashes.SHA256()))
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return self.key.sign(message)  # Ed25519

    def public(self) -> VerifyingKey:
        return VerifyingKey(self.key.public_key())


class VerifyingKey:
    """A public key; :meth:`verify` says whether a signature is good over the exact bytes."""

    def __init__(self, key, source: str = "") -> None:
        self.key = key
        self.kind = describe(key)
        self.source = source

    def pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        der = self.key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return pem_encode(PUBLIC_PEM, der)

    def verify(self, signature: bytes, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

        try:
            if isinstance(self.key, ec.EllipticCurvePublicKey):
                self.key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
            elif isinstance(self.key, rsa.RSAPublicKey):
                self.key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            else:
                self.key.verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


    def verify_digest(self, signature: bytes, digest: bytes) -> bool:
        """Whether ``signature`` is over the message whose SHA-256 is ``digest`` (ECDSA and RSA sign
        the hash, so the message itself is not needed; Ed25519 signs the message: never true)."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

        prehashed = utils.Prehashed(hashes.SHA256())
        try:
            if isinstance(self.key, ec.EllipticCurvePublicKey):
                self.key.verify(signature, digest, ec.ECDSA(prehashed))
            elif isinstance(self.key, rsa.RSAPublicKey):
                self.key.verify(signature, digest, padding.PKCS1v15(), prehashed)
            else:
                return False
        except (InvalidSignature, ValueError):
            return False
        return True


def describe(key) -> str:
    """``ECDSA P-256``, ``RSA 2048``, ``Ed25519``; InvalidArgument for anything cosign refuses."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if key.curve.name != "secp256r1":
            raise BadKey(f"ECDSA keys on curve {key.curve.name} are not supported: use P-256 "
                            "(what `dockyard key generate` and `cosign generate-key-pair` make)")
        return "ECDSA P-256"
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        if key.key_size < 2048 or key.key_size > 4096:
            raise BadKey(f"RSA keys of {key.key_size} bits are not supported (cosign takes 2048 to 4096)")
        return f"RSA {key.key_size}"
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "Ed25519"
    raise BadKey(f"unsupported key type {type(key).__name__}")


def generate(password: bytes) -> tuple[bytes, bytes]:
    """A new ECDSA P-256 pair as ``cosign generate-key-pair`` writes it: (cosign.key, cosign.pub)."""
    require()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    private = pem_encode(SIGSTORE_PEM, encrypt(der, password))
    return private, SigningKey(key).public().pem()


def load_private(data: bytes, password: bytes, what: str) -> SigningKey:
    """An encrypted cosign/sigstore private key."""
    require()
    kind, body = pem_decode(data, what)
    if kind not in (SIGSTORE_PEM, COSIGN_PEM):
        raise BadKey(f"{what} holds a PEM {kind!r}, not an encrypted cosign private key "
                        f"({SIGSTORE_PEM!r} or {COSIGN_PEM!r})",
                        hint="make one with `dockyard key generate` (or `cosign generate-key-pair`)")
    der = decrypt(body, password, what)
    if not is_pkcs8(der):
        raise BadKey(f"{what}: parsing private key: the encrypted key is not PKCS#8 (cosign writes PKCS#8 "
                     "and refuses SEC1 or PKCS#1 keys here too)")
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError) as e:
        raise BadKey(f"{what}: parsing private key: {e}") from None
    return SigningKey(key)


def _der_item(der: bytes, i: int) -> tuple[int, int, int]:
    """(tag, start of contents, end) of the DER item at ``i``."""
    if i + 2 > len(der):
        raise ValueError("truncated")
    tag, n = der[i], der[i + 1]
    i += 2
    if n & 0x80:
        count = n & 0x7F
        if count == 0 or count > 4 or i + count > len(der):
            raise ValueError("bad length")
        n = int.from_bytes(der[i:i + count], "big")
        i += count
    if i + n > len(der):
        raise ValueError("truncated")
    return tag, i, i + n


def is_pkcs8(der: bytes) -> bool:
    """PrivateKeyInfo ::= SEQUENCE { INTEGER, SEQUENCE (AlgorithmIdentifier), OCTET STRING, … }:
    what Go's ``x509.ParsePKCS8PrivateKey`` (cosign) insists on."""
    try:
        tag, start, end = _der_item(der, 0)
        if tag != 0x30 or end != len(der):
            return False
        tag, _s, after = _der_item(der, start)
        if tag != 0x02:
            return False
        tag, _s, after = _der_item(der, after)
        if tag != 0x30:
            return False
        return _der_item(der, after)[0] == 0x04
    except ValueError:
        return False


def load_public(data: bytes, what: str) -> VerifyingKey:
    """A PEM ``PUBLIC KEY``."""
    require("cryptography")
    kind, body = pem_decode(data, what)
    if kind != PUBLIC_PEM:
        raise BadKey(f"{what} holds a PEM {kind!r}, not a {PUBLIC_PEM!r}",
                        hint="verify with the public key (cosign.pub), not the private one")
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_der_public_key(body)
    except (ValueError, TypeError) as e:
        raise BadKey(f"{what}: parsing public key: {e}") from None
    return VerifyingKey(key, what)
