"""Checking one stored signature against public keys and the image's manifest digest.

A simple-signing signature is accepted when one of the keys verifies it over the exact payload
bytes, the payload's ``critical.type`` is cosign's, and its ``docker-manifest-digest`` is the
image's. A Sigstore bundle's DSSE envelope is accepted when a key verifies it over DSSE's PAE,
it holds an in-toto statement of cosign's signing predicate, and a subject has the image's
digest. A bundle's messageSignature is accepted when its message digest is the image's manifest
digest and a key verifies the signature over it. What identity the signature claims is left to the caller (``dockyard verify`` wants the
same repository; a policy's ``signedIdentity`` says what it wants).
"""

from __future__ import annotations

import json

from dockyard.sign import payload as pl


class Rejected(Exception):
    """Why one signature was not accepted (the message is shown to the user)."""


class Accepted:
    """``identity``: the payload's docker-reference (None for a bundle, which names none);
    ``doc``: the signed document, as printed by ``dockyard verify``."""

    __slots__ = ("identity", "doc", "where")

    def __init__(self, identity: str | None, doc: dict, where: str) -> None:
        self.identity, self.doc, self.where = identity, doc, where


def check(sig, keys: list, digest: str) -> Accepted:
    if sig.error:
        raise Rejected(f"{sig.where}: {sig.error}")
    if sig.kind == "message":
        return _check_message(sig, keys, digest)
    message = sig.payload if sig.kind == "simple" else pl.pae(sig.payload_type, sig.payload)
    if not any(k.verify(sig.signature, message) for k in keys):
        names = ", ".join(k.source or k.kind for k in keys)
        raise Rejected(f"{sig.where}: the signature does not verify with {names} (wrong key, or the payload "
                       "or signature was altered)")
    if sig.kind == "simple":
        try:
            p = pl.parse(sig.payload)
        except pl.BadPayload as e:
            raise Rejected(f"{sig.where}: {e}") from None
        if p.type != pl.SIGNATURE_TYPE:
            raise Rejected(f"{sig.where}: payload type {p.type!r} is not {pl.SIGNATURE_TYPE!r}")
        if p.digest != digest:
            raise Rejected(f"{sig.where}: the signature is for digest {p.digest}, not {digest}")
        return Accepted(p.reference, p.doc, sig.where)
    if sig.payload_type != pl.INTOTO_PAYLOAD:
        raise Rejected(f"{sig.where}: DSSE payload type {sig.payload_type!r} is not {pl.INTOTO_PAYLOAD!r}")
    try:
        statement = json.loads(sig.payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Rejected(f"{sig.where}: the in-toto statement is not JSON") from None
    if not isinstance(statement, dict) or statement.get("predicateType") != pl.SIGN_PREDICATE:
        got = statement.get("predicateType") if isinstance(statement, dict) else None
        raise Rejected(f"{sig.where}: predicate type {got!r} is not cosign's signature ({pl.SIGN_PREDICATE})")
    algorithm, _, hexdigest = digest.partition(":")
    subjects = statement.get("subject") if isinstance(statement.get("subject"), list) else []
    if not any(isinstance(s, dict) and isinstance(s.get("digest"), dict) and s["digest"].get(algorithm) == hexdigest
               for s in subjects):
        raise Rejected(f"{sig.where}: no subject of the statement has digest {digest}")
    return Accepted(None, statement, sig.where)


def _check_message(sig, keys: list, digest: str) -> Accepted:
    """A bundle's messageSignature: its message digest must be the image's manifest digest and a
    key must verify the signature over that manifest (checked against the digest, prehashed)."""
    algorithm, _, hexdigest = digest.partition(":")
    if sig.payload_type != "SHA2_256" or algorithm != "sha256":
        raise Rejected(f"{sig.where}: message digest algorithm {sig.payload_type!r} is not SHA2_256")
    if sig.payload.hex() != hexdigest:
        raise Rejected(f"{sig.where}: the signature is for digest sha256:{sig.payload.hex()}, not {digest}")
    if not any(k.verify_digest(sig.signature, sig.payload) for k in keys):
        names = ", ".join(k.source or k.kind for k in keys)
        raise Rejected(f"{sig.where}: the signature does not verify with {names} (wrong key, or the message "
                       "or signature was altered)")
    return Accepted(None, {"messageDigest": {"algorithm": sig.payload_type, "digest": digest}}, sig.where)


def verify_image(sigs: list, keys: list, repository: str, digest: str) -> tuple[list[Accepted], list[str]]:
    """What ``dockyard verify`` checks: each signature as :func:`check`, and a payload's
    docker-reference must name ``repository``. (accepted, reasons for the others)."""
    accepted, reasons = [], []
    for sig in sigs:
        try:
            ok = check(sig, keys, digest)
        except Rejected as e:
            reasons.append(str(e))
            continue
        if ok.identity is not None and not pl.same_repository(ok.identity, repository):
            reasons.append(f"{sig.where}: the payload's docker-reference {ok.identity!r} is not {repository}")
            continue
        accepted.append(ok)
    return accepted, reasons
