"""The registry server's grammar checks: names, tags, digests, upload ids, Content-Range, and the
JSON error bodies they produce."""

from __future__ import annotations

import json

import pytest

from dockyard.registry.server import names
from dockyard.registry.server.errors import CODES, RegistryError, several

DIGEST = "sha256:" + "ab" * 32


def _code(fn, *args) -> str:
    with pytest.raises(RegistryError) as e:
        fn(*args)
    return e.value.code


@pytest.mark.parametrize("name", ["a", "library/busybox", "a0/b-c/d.e/f_g/h__i", "x--y", "a" * 255, "0/1/2"])
def test_valid_names(name):
    assert names.check_name(name) == name


@pytest.mark.parametrize("name", [
    "", "A", "Library/busybox", "a/", "/a", "a//b", "a/../b", "..", ".", "a/.", "-a", "a-", "a_", "a.", "a...b",
    "a___b", "a b", "a\x00b", "a" * 256, "a:5000/b", "a\\b", "ä",
])
def test_invalid_names(name):
    assert _code(names.check_name, name) == "NAME_INVALID"


@pytest.mark.parametrize("segments", [["%2e%2e"], ["a", "%2E%2E", "b"], ["a%2fb"], ["a%2Fb"], ["%00"], ["a%"],
                                      ["%ff"], ["."]])
def test_encoded_path_tricks_are_invalid_names(segments):
    assert _code(names.name_from_segments, segments) == "NAME_INVALID"


def test_percent_encoding_of_ordinary_characters_is_decoded():
    assert names.name_from_segments(["a%2db", "c"]) == "a-b/c"


def test_name_length_limit_counts_the_whole_name():
    assert names.name_from_segments(["a" * 127, "b" * 127]) == "a" * 127 + "/" + "b" * 127  # 255
    assert _code(names.name_from_segments, ["a" * 128, "b" * 127]) == "NAME_INVALID"


@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "_x", "A-b_c.d", "0", "a" * 128])
def test_valid_tags(tag):
    assert names.check_tag(tag) == tag
    assert names.parse_reference(tag) == (tag, None)


@pytest.mark.parametrize("tag", ["", ".x", "-x", "a" * 129, "a/b", "a b", "a+b", "..", "%2e"])
def test_invalid_tags(tag):
    assert _code(names.check_tag, tag) == "TAG_INVALID"


def test_reference_with_a_colon_is_a_digest():
    assert names.parse_reference(DIGEST) == (None, DIGEST)
    assert names.parse_reference(DIGEST.replace(":", "%3A")) == (None, DIGEST)
    sha512 = "sha512:" + "0" * 128
    assert names.parse_reference(sha512) == (None, sha512)
    for bad in ("sha256:abc", "sha256:" + "AB" * 32, "md5:" + "0" * 32, "sha256:../../etc/passwd", "x:y"):
        assert _code(names.parse_reference, bad) == "DIGEST_INVALID"


def test_upload_ids_must_be_uuids():
    uid = names.new_upload_id()
    assert names.check_upload_id(uid) == uid
    for bad in ("..", "../x", "a" * 36, uid.upper(), uid + "x", "", "%2e%2e"):
        assert _code(names.check_upload_id, bad) == "BLOB_UPLOAD_UNKNOWN"


@pytest.mark.parametrize("value,expected", [("0-99", (0, 99)), ("100-100", (100, 100)),
                                            ("bytes 0-9/10", (0, 9)), ("bytes=5-9/*", (5, 9)), (" 3-4 ", (3, 4))])
def test_content_range(value, expected):
    assert names.parse_content_range(value) == expected


def test_bad_content_range():
    assert _code(names.parse_content_range, "0-") == "BLOB_UPLOAD_INVALID"
    assert _code(names.parse_content_range, "-5") == "BLOB_UPLOAD_INVALID"
    assert _code(names.parse_content_range, "a-b") == "BLOB_UPLOAD_INVALID"
    with pytest.raises(RegistryError) as e:
        names.parse_content_range("9-3")
    assert e.value.status == 416


def test_error_body_is_the_spec_form():
    e = RegistryError("BLOB_UNKNOWN", detail={"digest": DIGEST})
    assert e.status == 404
    assert json.loads(e.body()) == {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry",
                                                "detail": {"digest": DIGEST}}]}
    e = RegistryError("UNAUTHORIZED", headers={"WWW-Authenticate": 'Basic realm="r"'})
    assert (e.status, e.headers) == (401, {"WWW-Authenticate": 'Basic realm="r"'})
    assert json.loads(e.body())["errors"][0]["detail"] is None
    assert RegistryError("SIZE_INVALID", "too big", status=413).status == 413


def test_several_errors_share_one_body():
    e = several([RegistryError("MANIFEST_BLOB_UNKNOWN", detail={"digest": d}) for d in ("sha256:1", "sha256:2")])
    assert e.status == 400
    assert [x["detail"]["digest"] for x in json.loads(e.body())["errors"]] == ["sha256:1", "sha256:2"]


def test_every_spec_error_code_is_known():
    spec = {"BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN",
            "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED",
            "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS"}
    assert spec <= set(CODES)
    assert {CODES[c][0] for c in ("UNAUTHORIZED", "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS")} == {401, 403, 405, 429}
