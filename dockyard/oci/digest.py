"""Content digests (``sha256:<hex>``) as the OCI image-spec defines them.

Digests name blobs on disk and on the wire, so every digest that comes from outside (a
manifest, a registry, the user) goes through :func:`validate` before it is used: that is what
keeps a string like ``sha256:../../etc`` from ever becoming a path.
"""

from __future__ import annotations

from dockyard import errors

# The image-spec grammar (descriptor.md "Digests"):
#   digest    ::= algorithm ":" encoded
#   algorithm ::= algorithm-component (algorithm-separator algorithm-component)*
#   algorithm-component ::= [a-z0-9]+ ; algorithm-separator ::= [+._-]
#   encoded   ::= [a-zA-Z0-9=_-]+
# Checked with character sets rather than a regex: this module is on the `run` hot path, and
# importing `re` costs more than every digest check `run` makes.
_ALG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ENC_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789=_-")


def _grammar_ok(digest: str) -> bool:
    algorithm, colon, encoded = digest.partition(":")
    if not colon or not algorithm or not encoded or not set(encoded) <= _ENC_CHARS:
        return False
    after_separator = True
    for c in algorithm:
        if c in _ALG_CHARS:
            after_separator = False
        elif c in "+._-" and not after_separator:
            after_separator = True
        else:
            return False
    return not after_separator


# Registered algorithms: the encoded part is lowercase hex of a fixed length.
HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_HEX_CHARS = frozenset("0123456789abcdef")

SHORT_LEN = 12


def sha256_of(data: bytes) -> str:
    """The ``sha256:<hex>`` digest of ``data``."""
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def validate(digest: str) -> str:
    """Return ``digest`` unchanged if it is a well-formed sha256/sha512 digest, else raise.

    Unknown algorithms are refused rather than passed through: we could not verify such content,
    and an unverifiable digest must not name a blob.
    """
    if not isinstance(digest, str) or not _grammar_ok(digest):
        raise errors.InvalidDigest(f"invalid digest format: {digest!r}")
    algorithm, _, encoded = digest.partition(":")
    length = HEX_LENGTHS.get(algorithm)
    if length is None:
        raise errors.InvalidDigest(
            f"unsupported digest algorithm {algorithm!r} in {digest!r}",
            hint="dockyard supports sha256 and sha512 digests",
        )
    if len(encoded) != length:
        raise errors.InvalidDigest(
            f"invalid {algorithm} digest length in {digest!r}: "
            f"want {length} hex characters, got {len(encoded)}"
        )
    if not set(encoded) <= _HEX_CHARS:
        raise errors.InvalidDigest(f"invalid digest {digest!r}: {algorithm} must be lowercase hex")
    return digest


def is_valid(digest: str) -> bool:
    """True if :func:`validate` would accept ``digest``."""
    try:
        validate(digest)
    except errors.InvalidDigest:
        return False
    return True


def algorithm_of(digest: str) -> str:
    """``"sha256"`` for ``"sha256:…"`` (validated)."""
    return validate(digest).partition(":")[0]


def hex_of(digest: str) -> str:
    """The encoded (hex) part of a validated digest."""
    return validate(digest).partition(":")[2]


def short_id(digest: str) -> str:
    """The 12-hex-character short form Docker prints in ID columns.

    Accepts a bare 64-hex id (container ids carry no algorithm) as well as a digest.
    """
    if ":" not in digest and len(digest) == HEX_LENGTHS["sha256"] and set(digest) <= _HEX_CHARS:
        return digest[:SHORT_LEN]
    return hex_of(digest)[:SHORT_LEN]


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI ChainIDs of a layer stack, bottom first.

    ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
    A chain ID names a whole stack, so identical stacks unpack once whatever image they came from.
    """
    out: list[str] = []
    for diff_id in diff_ids:
        validate(diff_id)
        out.append(diff_id if not out else sha256_of(f"{out[-1]} {diff_id}".encode("ascii")))
    return out
