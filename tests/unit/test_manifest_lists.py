"""The local side of `dockyard manifest` (no registry): the index built from a list's entries
(OCI index or Docker manifest list, Docker's key order and indent), annotate's checks, inspect of
an entry, rm, and a damaged entry file."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest

from dockyard import errors
from dockyard.registry import manifest_lists as ml

OCI = "application/vnd.oci.image.manifest.v1+json"
DOCKER = "application/vnd.docker.distribution.manifest.v2+json"
LIST = "reg.example:5000/app:multi"


def _entry(root: str, ref: str, media: str, raw: bytes, arch: str = "amd64") -> str:
    d = os.path.join(root, "manifests", "reg.example-5000_app-multi")
    os.makedirs(d, exist_ok=True)
    rec = {"Ref": ref, "Descriptor": {"mediaType": media, "digest": "sha256:" + hashlib.sha256(raw).hexdigest(),
                                      "size": len(raw), "platform": {"architecture": arch, "os": "linux"}},
           "Raw": base64.b64encode(raw).decode(), "OCIManifest": json.loads(raw)}
    path = os.path.join(d, ref.replace(":", "-").replace("/", "_"))
    with open(path, "w") as f:
        json.dump(rec, f)
    return path


RAW = b'{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"x","digest":"sha256:%s","size":1},"layers":[]}'


def test_index_media_type_and_key_order(tmp_path):
    root = str(tmp_path)
    _entry(root, "reg.example:5000/app:a", OCI, RAW % (OCI.encode(), b"a" * 64))
    _entry(root, "reg.example:5000/app:b", OCI, RAW % (OCI.encode(), b"b" * 64), arch="arm64")
    entries = ml.load_list(root, ml.parse_list(LIST))
    index, media = ml.index_of(entries)
    assert media == "application/vnd.oci.image.index.v1+json" == index["mediaType"]
    assert list(index) == ["schemaVersion", "mediaType", "manifests"]
    assert [list(m) for m in index["manifests"]] == [["mediaType", "size", "digest", "platform"]] * 2
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]
    _entry(root, "reg.example:5000/app:c", DOCKER, RAW % (DOCKER.encode(), b"c" * 64))
    _, media = ml.index_of(ml.load_list(root, ml.parse_list(LIST)))
    assert media == "application/vnd.oci.image.index.v1+json"  # any OCI entry: an OCI index, as docker decides
    docker_only = [e for e in ml.load_list(root, ml.parse_list(LIST)) if e["Descriptor"]["mediaType"] == DOCKER]
    index, media = ml.index_of(docker_only)
    assert media == index["mediaType"] == "application/vnd.docker.distribution.manifest.list.v2+json"


def test_annotate_checks_and_keeps_the_entry_on_failure(tmp_path):
    root = str(tmp_path)
    ref = "reg.example:5000/app:a"
    path = _entry(root, ref, OCI, RAW % (OCI.encode(), b"a" * 64))
    before = open(path, "rb").read()
    with pytest.raises(errors.InvalidArgument, match="unsupported os/arch combination: linux/bogus"):
        ml.annotate(root, LIST, ref, arch="bogus")
    with pytest.raises(errors.NotFound, match=f"manifest for image reg.example:5000/app:zz does not exist in {LIST}"):
        ml.annotate(root, LIST, "reg.example:5000/app:zz", arch="arm64")
    assert open(path, "rb").read() == before
    ml.annotate(root, LIST, ref, arch="arm64", variant="v8", os_version="1", os_features=["f"])
    plat = json.loads(open(path, "rb").read())["Descriptor"]["platform"]
    assert plat == {"architecture": "arm64", "os": "linux", "os.version": "1", "os.features": ["f"], "variant": "v8"}
    assert list(plat) == list(ml.PLATFORM_KEYS)
    assert [n for n in os.listdir(os.path.dirname(path)) if n.startswith(".")] == []


def test_inspect_entry_rm_and_damage(tmp_path):
    root = str(tmp_path)
    ref = "reg.example:5000/app:a"
    raw = RAW % (OCI.encode(), b"a" * 64)
    path = _entry(root, ref, OCI, raw)
    out = ml.inspect(root, LIST, ref)
    assert out == json.dumps(json.loads(raw), indent="\t") and out.index("schemaVersion") < out.index("config")
    with pytest.raises(errors.NotFound, match="No such manifest: reg.example:5000/app:b"):
        ml.inspect(root, LIST, "reg.example:5000/app:b")
    with open(path, "w") as f:
        f.write('{"Ref": "x", "Descriptor": []}')
    with pytest.raises(errors.InvalidArgument, match=f"local manifest list {LIST} is damaged"):
        ml.load_list(root, ml.parse_list(LIST))
    assert ml.remove(root, [LIST, "reg.example:5000/app:none"]) == ["No such manifest: reg.example:5000/app:none"]
    assert not os.path.exists(os.path.dirname(path))
    with pytest.raises(errors.BadReference, match="error parsing name for manifest list Bad"):
        ml.remove(root, ["Bad"])
