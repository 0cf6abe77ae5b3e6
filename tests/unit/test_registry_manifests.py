"""What the registry server accepts as a pushed manifest, and what it extracts from one."""

from __future__ import annotations

import json

import pytest

from dockyard.oci import mediatypes as mt
from dockyard.registry.server import manifests as mf
from dockyard.registry.server.errors import RegistryError


def d(n: int) -> str:
    return "sha256:" + f"{n:064x}"


def desc(n: int, media_type: str = mt.OCI_LAYER_GZIP, **kw) -> dict:
    return {"mediaType": media_type, "digest": d(n), "size": 10 + n, **kw}


def image(media_type: str | None = mt.OCI_MANIFEST, **extra) -> bytes:
    doc = {"schemaVersion": 2, "config": desc(1, mt.OCI_CONFIG), "layers": [desc(2), desc(3)], **extra}
    if media_type:
        doc["mediaType"] = media_type
    return json.dumps(doc).encode()


def invalid(data: bytes, content_type: str | None) -> str:
    with pytest.raises(RegistryError) as e:
        mf.parse(data, content_type)
    assert e.value.code == "MANIFEST_INVALID"
    return str(e.value.detail)


def test_oci_image_manifest():
    p = mf.parse(image(), mt.OCI_MANIFEST)
    assert p.media_type == mt.OCI_MANIFEST
    assert p.children == (d(1), d(2), d(3))
    assert p.artifact_type == mt.OCI_CONFIG  # the config's type stands in for a missing artifactType
    assert p.subject is None and p.annotations is None


def test_docker_manifest_and_list():
    p = mf.parse(image(mt.DOCKER_MANIFEST), mt.DOCKER_MANIFEST + "; charset=utf-8")
    assert p.media_type == mt.DOCKER_MANIFEST
    lst = {"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_LIST,
           "manifests": [desc(7, mt.DOCKER_MANIFEST, platform={"os": "linux", "architecture": "amd64"}),
                         desc(8, mt.DOCKER_MANIFEST)]}
    p = mf.parse(json.dumps(lst).encode(), mt.DOCKER_MANIFEST_LIST)
    assert (p.media_type, p.children, p.artifact_type) == (mt.DOCKER_MANIFEST_LIST, (d(7), d(8)), None)


def test_oci_without_media_type_is_told_apart_by_shape():
    assert mf.parse(image(None), mt.OCI_MANIFEST).media_type == mt.OCI_MANIFEST
    assert mf.parse(image(None), None).media_type == mt.OCI_MANIFEST
    idx = json.dumps({"schemaVersion": 2, "manifests": [desc(4, mt.OCI_MANIFEST)]}).encode()
    assert mf.parse(idx, "application/json").media_type == mt.OCI_INDEX


def test_artifact_with_subject_and_annotations():
    data = image(artifactType="application/vnd.example.sbom", subject=desc(9, mt.OCI_MANIFEST),
                 annotations={"org.example": "yes"})
    p = mf.parse(data, mt.OCI_MANIFEST)
    assert (p.subject, p.artifact_type, p.annotations) == (d(9), "application/vnd.example.sbom", {"org.example": "yes"})


def test_foreign_layers_are_not_required_to_be_present():
    doc = json.loads(image(mt.DOCKER_MANIFEST))
    doc["layers"].append(desc(5, mt.DOCKER_FOREIGN_LAYER_GZIP, urls=["https://example.com/layer"]))
    assert mf.parse(json.dumps(doc).encode(), mt.DOCKER_MANIFEST).children == (d(1), d(2), d(3))


def test_duplicate_children_are_listed_once():
    doc = json.loads(image())
    doc["layers"] = [desc(2), desc(2)]
    assert mf.parse(json.dumps(doc).encode(), mt.OCI_MANIFEST).children == (d(1), d(2))


@pytest.mark.parametrize("data,ctype,why", [
    (b"{not json", mt.OCI_MANIFEST, "not valid JSON"),
    (b"\xff\xfe", mt.OCI_MANIFEST, "not valid JSON"),
    (b"[]", mt.OCI_MANIFEST, "JSON object"),
    (json.dumps({"schemaVersion": 1, "name": "x"}).encode(), mt.DOCKER_MANIFEST_V1_SIGNED, "schema1"),
    (json.dumps({"schemaVersion": 3}).encode(), mt.OCI_MANIFEST, "schemaVersion"),
    (json.dumps({"schemaVersion": True}).encode(), mt.OCI_MANIFEST, "schemaVersion"),
    (image(mt.OCI_MANIFEST), mt.DOCKER_MANIFEST, "does not match Content-Type"),
    (image(None), mt.DOCKER_MANIFEST, "must carry its mediaType"),
    (image("application/vnd.example+json"), None, "unsupported manifest media type"),
])
def test_refused(data, ctype, why):
    assert why in invalid(data, ctype)


@pytest.mark.parametrize("mutate,why", [
    (lambda m: m.pop("config"), "config"),
    (lambda m: m.update(layers="x"), "layers must be a list"),
    (lambda m: m["layers"].append("x"), "layers[2]"),
    (lambda m: m["layers"][0].update(digest="sha256:../../x"), "invalid digest"),
    (lambda m: m["layers"][0].update(digest="md5:" + "0" * 32), "invalid digest"),
    (lambda m: m["layers"][0].update(size=-1), "size"),
    (lambda m: m["layers"][0].update(size="10"), "size"),
    (lambda m: m["layers"][0].pop("mediaType"), "mediaType"),
    (lambda m: m.update(annotations={"a": 1}), "annotations"),
    (lambda m: m.update(subject="sha256:x"), "subject"),
    (lambda m: m.update(manifests=[]), "cannot list manifests"),
    (lambda m: m.update(artifactType=5), "artifactType"),
])
def test_bad_descriptors_are_refused(mutate, why):
    doc = json.loads(image())
    mutate(doc)
    assert why in invalid(json.dumps(doc).encode(), mt.OCI_MANIFEST)


def test_index_needs_manifests_and_no_layers():
    assert "manifests must be a list" in invalid(json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX}).encode(),
                                                 mt.OCI_INDEX)
    bad = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [], "layers": []}
    assert "cannot have config or layers" in invalid(json.dumps(bad).encode(), mt.OCI_INDEX)


def test_accept_negotiation():
    assert mf.accepts([], mt.OCI_MANIFEST)
    assert mf.accepts([f"{mt.DOCKER_MANIFEST}, {mt.OCI_MANIFEST};q=0.5"], mt.OCI_MANIFEST)
    assert mf.accepts([mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST_LIST], mt.OCI_INDEX)  # sent as stored
    assert mf.accepts(["*/*"], mt.OCI_INDEX)
    assert mf.accepts(["text/html"], mt.OCI_MANIFEST)
    assert not mf.accepts([mt.DOCKER_MANIFEST_V1_SIGNED], mt.DOCKER_MANIFEST)
    assert not mf.accepts(["application/vnd.docker.distribution.manifest.v1+json"], mt.OCI_MANIFEST)
    assert mf.accepts([mt.DOCKER_MANIFEST_V1_SIGNED, mt.DOCKER_MANIFEST], mt.DOCKER_MANIFEST)
