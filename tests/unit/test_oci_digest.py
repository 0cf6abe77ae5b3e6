from __future__ import annotations

import hashlib

import pytest

from dockyard import errors
from dockyard.oci import digest

EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_sha256_of_known_vectors():
    assert digest.sha256_of(b"") == EMPTY
    assert digest.sha256_of(b"abc") == (
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


@pytest.mark.parametrize(
    "good",
    [EMPTY, "sha512:" + hashlib.sha512(b"x").hexdigest()],
)
def test_validate_accepts_registered_algorithms(good):
    assert digest.validate(good) == good
    assert digest.is_valid(good)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "sha256",
        "sha256:",
        ":" + "a" * 64,
        "sha256:../../etc/passwd",
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 65,
        "sha256:" + "A" * 64,  # registered algorithms are lowercase hex
        "sha256:" + "g" * 64,
        "SHA256:" + "a" * 64,
        "sha512:" + "a" * 64,
        "md5:d41d8cd98f00b204e9800998ecf8427e",  # well-formed but not supported
        "sha256:" + "a" * 64 + "\n",
        "sha256:/" + "a" * 63,
    ],
)
def test_validate_rejects_malformed(bad):
    with pytest.raises(errors.InvalidDigest) as e:
        digest.validate(bad)
    assert isinstance(e.value, errors.InvalidArgument)
    assert not digest.is_valid(bad)


def test_unsupported_algorithm_says_so():
    with pytest.raises(errors.InvalidDigest, match="unsupported digest algorithm 'md5'"):
        digest.validate("md5:d41d8cd98f00b204e9800998ecf8427e")


def test_hex_and_short_id():
    assert digest.hex_of(EMPTY) == EMPTY[7:]
    assert digest.algorithm_of(EMPTY) == "sha256"
    assert digest.short_id(EMPTY) == "e3b0c44298fc"
    assert digest.short_id(EMPTY[7:]) == "e3b0c44298fc"  # bare container ids too
    with pytest.raises(errors.InvalidDigest):
        digest.short_id("nonsense")


def test_chain_ids_follow_the_spec_formula():
    d0, d1, d2 = (digest.sha256_of(x) for x in (b"l0", b"l1", b"l2"))
    c1 = "sha256:" + hashlib.sha256(f"{d0} {d1}".encode()).hexdigest()
    c2 = "sha256:" + hashlib.sha256(f"{c1} {d2}".encode()).hexdigest()
    assert digest.chain_ids([d0, d1, d2]) == [d0, c1, c2]
    assert digest.chain_ids([]) == []
    assert digest.chain_ids([d0]) == [d0]


def test_chain_ids_known_value():
    # Computed independently with: printf '%s %s' "sha256:aaa…" "sha256:bbb…" | sha256sum
    a = "sha256:" + "a" * 64
    b = "sha256:" + "b" * 64
    assert digest.chain_ids([a, b]) == [
        a,
        "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c",
    ]


def test_chain_ids_validate_inputs():
    with pytest.raises(errors.InvalidDigest):
        digest.chain_ids(["sha256:nothex"])
