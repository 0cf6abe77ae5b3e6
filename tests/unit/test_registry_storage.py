"""Registry storage, upload sessions and gc, without HTTP: the rules that keep a serving
registry and a concurrent gc consistent."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

from dockyard.errors import InvalidArgument, NotFound
from dockyard.oci import mediatypes as mt
from dockyard.registry.server import manifests as mf
from dockyard.registry.server.errors import RegistryError
from dockyard.registry.server.gc import collect, parse_duration
from dockyard.registry.server.storage import RegistryStorage
from dockyard.registry.server.uploads import Uploads

LATER = 10 * 24 * 3600.0  # gc "now" far enough ahead that everything is old


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def storage(tmp_path):
    s = RegistryStorage(str(tmp_path / "reg"))
    yield s
    s.close()


def add_blob(storage: RegistryStorage, repo: str, data: bytes) -> str:
    uploads = Uploads(storage.uploads_dir)
    up = uploads.create(repo, os.urandom(16).hex()[:8] + "-0000-0000-0000-" + os.urandom(6).hex())
    fd = uploads.open_fd(up)
    up.write(fd, data)
    os.close(fd)
    up.save()
    uploads.verify(up, sha(data))
    storage.commit_upload(repo, up.path, sha(data), len(data))
    uploads.discard(up)
    return sha(data)


def image(storage: RegistryStorage, repo: str, layers: list[bytes], tag: str | None = None, **extra) -> str:
    config = json.dumps({"architecture": "amd64", "os": "linux", "n": os.urandom(4).hex()}).encode()
    descs = [{"mediaType": mt.OCI_LAYER_GZIP, "digest": add_blob(storage, repo, lay), "size": len(lay)} for lay in layers]
    doc = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
           "config": {"mediaType": mt.OCI_CONFIG, "digest": add_blob(storage, repo, config), "size": len(config)},
           "layers": descs, **extra}
    data = json.dumps(doc).encode()
    storage.put_manifest(repo, sha(data), data, mf.parse(data, mt.OCI_MANIFEST), [tag] if tag else [])
    return sha(data)


def files(storage: RegistryStorage) -> set[str]:
    return set(storage.content.walk())


def test_blobs_links_and_mounts(storage):
    d = add_blob(storage, "a", b"hello")
    assert storage.blob_size("a", d) == 5
    assert storage.blob_size("b", d) is None
    assert storage.mount_blob("b", "nowhere", d) is None
    assert storage.mount_blob("b", "a", d) == 5
    assert storage.blob_size("b", d) == 5
    assert storage.unlink_blob("a", d) and not storage.unlink_blob("a", d)
    assert storage.blob_size("a", d) is None and storage.blob_size("b", d) == 5
    assert os.listdir(storage.uploads_dir) == []


def test_manifest_needs_its_blobs_and_stores_nothing_otherwise(storage):
    config = b'{"os":"linux"}'
    doc = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
           "config": {"mediaType": mt.OCI_CONFIG, "digest": sha(config), "size": len(config)},
           "layers": [{"mediaType": mt.OCI_LAYER, "digest": sha(b"L"), "size": 1}]}
    data = json.dumps(doc).encode()
    with pytest.raises(RegistryError) as e:
        storage.put_manifest("r", sha(data), data, mf.parse(data, None), ["t"])
    assert e.value.code == "MANIFEST_BLOB_UNKNOWN"
    assert [x["detail"]["digest"] for x in e.value.entries()] == [sha(config), sha(b"L")]
    assert files(storage) == set() and storage.resolve("r", tag="t") is None
    add_blob(storage, "r", config)
    add_blob(storage, "other", b"L")  # in the registry, but not in this repository
    with pytest.raises(RegistryError):
        storage.put_manifest("r", sha(data), data, mf.parse(data, None), ["t"])
    add_blob(storage, "r", b"L")
    storage.put_manifest("r", sha(data), data, mf.parse(data, None), ["t"])
    info = storage.resolve("r", tag="t")
    assert (info.digest, info.media_type, info.size) == (sha(data), mt.OCI_MANIFEST, len(data))
    assert storage.resolve("r", digest=sha(data)) == info
    assert storage.manifest_bytes(info.digest) == data
    assert storage.blob_size("r", sha(data)) == len(data)  # manifests are blobs too


def test_listings(storage):
    m = image(storage, "lib/x", [b"1"], "v1")
    for t in ("b", "a", "C", "v2"):
        storage.put_manifest("lib/x", m, storage.manifest_bytes(m), mf.parse(storage.manifest_bytes(m), None), [t])
    assert storage.tags("lib/x", None, None) == (["C", "a", "b", "v1", "v2"], False)  # byte order
    assert storage.tags("lib/x", None, 2) == (["C", "a"], True)
    assert storage.tags("lib/x", "a", 2) == (["b", "v1"], True)
    assert storage.tags("lib/x", "v1", 2) == (["v2"], False)
    add_blob(storage, "only/blobs", b"z")
    assert storage.catalog(None, None) == (["lib/x", "only/blobs"], False)
    assert storage.catalog(None, 1) == (["lib/x"], True)
    assert storage.catalog("lib/x", 1) == (["only/blobs"], False)
    assert storage.repo_exists("only/blobs") and not storage.repo_exists("nope")
    assert storage.delete_manifest("lib/x", m)
    assert storage.tags("lib/x", None, None) == ([], False)
    assert not storage.delete_manifest("lib/x", m)


def test_referrers(storage):
    subject = image(storage, "r", [b"base"], "v1")
    sub_desc = {"mediaType": mt.OCI_MANIFEST, "digest": subject, "size": 1}
    sig = image(storage, "r", [b"sig"], subject=sub_desc, artifactType="application/vnd.example.sig",
                annotations={"k": "v"})
    sbom = image(storage, "r", [b"sbom"], subject=sub_desc)
    found = storage.referrers("r", subject, None)
    assert {x["digest"] for x in found} == {sig, sbom}
    by = {x["digest"]: x for x in found}
    assert by[sig]["artifactType"] == "application/vnd.example.sig" and by[sig]["annotations"] == {"k": "v"}
    assert by[sbom]["artifactType"] == mt.OCI_CONFIG and "annotations" not in by[sbom]
    assert [x["digest"] for x in storage.referrers("r", subject, "application/vnd.example.sig")] == [sig]
    assert storage.referrers("other", subject, None) == []


def test_upload_sessions_survive_a_restart_and_drop_half_written_chunks(tmp_path):
    uploads = Uploads(str(tmp_path / "uploads"))
    up = uploads.create("r", "00000000-0000-0000-0000-000000000001")
    fd = uploads.open_fd(up)
    up.write(fd, b"first chunk,")
    up.save()
    up.write(fd, b"half of the sec")  # never saved: the server died mid-chunk
    os.close(fd)
    again = Uploads(str(tmp_path / "uploads")).get("r", up.id)
    assert again.offset == len(b"first chunk,") == os.path.getsize(again.path)
    fd = os.open(again.path, os.O_WRONLY)
    again.write(fd, b"second chunk")
    os.close(fd)
    assert again.digest("sha256") == sha(b"first chunk,second chunk")
    assert again.digest("sha512") == "sha512:" + hashlib.sha512(b"first chunk,second chunk").hexdigest()
    with pytest.raises(RegistryError) as e:
        Uploads(str(tmp_path / "uploads")).get("other-repo", up.id)
    assert e.value.code == "BLOB_UPLOAD_UNKNOWN"


def test_failed_verification_discards_the_upload(tmp_path):
    uploads = Uploads(str(tmp_path / "uploads"))
    up = uploads.create("r", "00000000-0000-0000-0000-000000000002")
    fd = uploads.open_fd(up)
    up.write(fd, b"data")
    os.close(fd)
    with pytest.raises(RegistryError) as e:
        uploads.verify(up, sha(b"other data"))
    assert e.value.code == "DIGEST_INVALID" and e.value.detail["actual"] == sha(b"data")
    assert os.listdir(tmp_path / "uploads") == []


def test_gc_marks_from_tags_index_entries_and_referrers(storage):
    kept = image(storage, "r", [b"shared", b"kept-only"], "v1")
    gone = image(storage, "r", [b"shared", b"gone-only"], "v2")
    child = image(storage, "r", [b"child-layer"])
    idx = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                      "manifests": [{"mediaType": mt.OCI_MANIFEST, "digest": child, "size": 1}]}).encode()
    storage.put_manifest("r", sha(idx), idx, mf.parse(idx, None), ["index"])
    sig = image(storage, "r", [b"sig-layer"], subject={"mediaType": mt.OCI_MANIFEST, "digest": kept, "size": 1})
    stray = add_blob(storage, "r", b"stray blob")
    storage.delete_tag("r", "v2")
    gone_config = json.loads(storage.manifest_bytes(gone))["config"]["digest"]
    before = files(storage)

    young = collect(storage.root, grace=3600)  # everything was just pushed: nothing goes
    assert (young.manifests, young.links, young.blobs) == ([], [], [])

    dry = collect(storage.root, grace=3600, now=time.time() + LATER, dry_run=True)
    assert files(storage) == before and storage.resolve("r", digest=gone) is not None

    report = collect(storage.root, grace=3600, now=time.time() + LATER)
    assert (dry.manifests, dry.links, dry.blobs) == (report.manifests, report.links, report.blobs)
    assert report.manifests == [("r", gone)]
    assert {d for d, _ in report.blobs} == {gone, gone_config, sha(b"gone-only"), stray}
    assert {d for _, d in report.links} == {gone_config, sha(b"gone-only"), stray}
    assert report.freed == sum(size for _, size in report.blobs) > 0
    for m in (kept, child, sha(idx), sig):
        assert storage.resolve("r", digest=m) is not None
    for blob in (sha(b"shared"), sha(b"kept-only"), sha(b"child-layer"), sha(b"sig-layer")):
        assert storage.blob_size("r", blob) and storage.content.has(blob)
    assert storage.resolve("r", digest=gone) is None and not storage.content.has(sha(b"gone-only"))


def test_gc_then_a_late_manifest_fails_cleanly(storage):
    layer = add_blob(storage, "r", b"layer pushed long ago")
    config = add_blob(storage, "r", b"{}")
    collect(storage.root, grace=60, now=time.time() + LATER)
    assert not storage.content.has(layer)
    doc = {"schemaVersion": 2, "config": {"mediaType": mt.OCI_CONFIG, "digest": config, "size": 2},
           "layers": [{"mediaType": mt.OCI_LAYER, "digest": layer, "size": 21}]}
    data = json.dumps(doc).encode()
    with pytest.raises(RegistryError) as e:
        storage.put_manifest("r", sha(data), data, mf.parse(data, mt.OCI_MANIFEST), ["t"])
    assert e.value.code == "MANIFEST_BLOB_UNKNOWN"
    assert files(storage) == set()


def test_gc_removes_old_orphan_files_and_idle_uploads(storage):
    keep = add_blob(storage, "r", b"linked")
    orphan = storage.content.write_bytes(b"renamed before a crash, never committed")
    uploads = Uploads(storage.uploads_dir)
    up = uploads.create("r", "00000000-0000-0000-0000-000000000003")
    fd = uploads.open_fd(up)
    up.write(fd, b"x" * 1000)
    os.close(fd)
    up.save()
    assert collect(storage.root, grace=3600).blobs == []  # young
    report = collect(storage.root, grace=3600, now=time.time() + LATER)
    assert (orphan, 39) in report.blobs and not storage.content.has(orphan)
    assert report.uploads == [(up.id, "r", 1000)] and os.listdir(storage.uploads_dir) == []
    assert not storage.content.has(keep)  # a link nothing references is garbage too, once old


def test_gc_needs_a_registry(tmp_path):
    with pytest.raises(NotFound):
        collect(str(tmp_path / "nothing"), grace=0)


@pytest.mark.parametrize("text,seconds", [("1h", 3600), ("90m", 5400), ("1h30m", 5400), ("10s", 10), ("0", 0),
                                          ("2.5", 2.5), ("250ms", 0.25), ("1d", 86400), ("0s", 0)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1x", "-1h", "1h-", "one hour", "nan"])
def test_parse_duration_refuses(text):
    with pytest.raises(InvalidArgument):
        parse_duration(text)
