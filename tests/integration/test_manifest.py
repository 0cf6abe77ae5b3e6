"""`dockyard manifest create/annotate/inspect/push/rm` against `dockyard registry serve` on
127.0.0.1: a two-platform list of two images (the second re-labelled linux/arm64/v8 with
annotate) pushed, inspected, pulled by its tag (linux/amd64 chosen), removed; Docker-schema2
entries give a Docker manifest list; bad input fails with docker's words and exit 1, and
leaves the local list as it was."""

from __future__ import annotations

import base64
import json
import os

import pytest
from test_registry_server import Registry

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture
def reg(tmp_path):
    r = Registry(tmp_path)
    yield r
    r.stop()


def _image_id(dy, ref: str) -> str:
    return dy("image", "inspect", "--format", "{{.Id}}", ref).out.strip()


def _two_images(dy, busybox, tmp_path, host: str) -> tuple[str, str]:
    """busybox pushed as HOST/bb:amd64, a derived image pushed to another repository
    (HOST/other/bb:arm): the list's push must mount its blobs into bb."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nLABEL platform=arm\n")
    dy("build", "-q", "-t", f"{host}/other/bb:arm", str(ctx), timeout=120)
    dy("tag", busybox, f"{host}/bb:amd64")
    dy("push", f"{host}/bb:amd64")
    dy("push", f"{host}/other/bb:arm")
    return f"{host}/bb:amd64", f"{host}/other/bb:arm"


def test_create_annotate_push_inspect_pull_rm(dy, busybox, tmp_path, reg):
    host = f"127.0.0.1:{reg.port}"
    amd, arm = _two_images(dy, busybox, tmp_path, host)
    want_amd, want_arm = _image_id(dy, amd), _image_id(dy, arm)
    lst = f"{host}/bb:multi"
    assert dy("manifest", "create", lst, amd, arm).out == f"Created manifest list {lst}\n"
    assert dy("manifest", "annotate", "--arch", "arm64", "--variant", "v8", "--os-features", "a,b", lst, arm).out == ""
    stored = os.listdir(os.path.join(dy.root, "manifests", f"127.0.0.1-{reg.port}_bb-multi"))
    assert sorted(stored) == [f"127.0.0.1-{reg.port}_bb-amd64", f"127.0.0.1-{reg.port}_other_bb-arm"]

    local = json.loads(dy("manifest", "inspect", lst).out)
    assert local["mediaType"] == OCI_INDEX and local["schemaVersion"] == 2
    plats = [m["platform"] for m in local["manifests"]]
    assert plats == [{"architecture": "amd64", "os": "linux"},
                     {"architecture": "arm64", "os": "linux", "os.features": ["a", "b"], "variant": "v8"}]
    verbose = json.loads(dy("manifest", "inspect", "-v", lst).out)
    assert [v["Ref"] for v in verbose] == [amd, arm]
    assert json.loads(base64.b64decode(verbose[0]["Raw"]))["config"]["digest"] == want_amd
    entry = json.loads(dy("manifest", "inspect", lst, arm).out)
    assert entry["config"]["digest"] == want_arm

    lines = dy("manifest", "push", lst).out.splitlines()
    digest = lines[-1]
    arm_digest = local["manifests"][1]["digest"]
    assert lines == [f"Pushed ref {host}/bb@{arm_digest} with digest: {arm_digest}", digest]  # the copied entry
    r = reg.request("GET", "/v2/bb/manifests/multi", headers={"Accept": OCI_INDEX})
    assert r.status == 200 and r.headers["Docker-Content-Digest"] == digest
    assert r.headers["Content-Type"] == OCI_INDEX
    assert r.json()["manifests"] == local["manifests"]
    for m in local["manifests"]:  # the entry of other/bb was copied into bb, its blobs mounted
        assert reg.request("HEAD", f"/v2/bb/manifests/{m['digest']}").status == 200
    arm_doc = reg.request("GET", f"/v2/bb/manifests/{local['manifests'][1]['digest']}").json()
    for blob in [arm_doc["config"], *arm_doc["layers"]]:
        assert reg.request("HEAD", f"/v2/bb/blobs/{blob['digest']}").status == 200
    # the list is still local (no --purge); the registry now serves the same index
    assert json.loads(dy("manifest", "inspect", lst).out) == local

    dy("rmi", amd, arm)
    out = dy("pull", lst).out
    assert f"Digest: {digest}" in out
    assert _image_id(dy, lst) == want_amd  # linux/amd64 chosen from the list

    assert dy("manifest", "rm", lst).out == ""
    assert not os.path.exists(os.path.join(dy.root, "manifests", f"127.0.0.1-{reg.port}_bb-multi"))
    p = dy("manifest", "rm", lst, check=False)
    assert p.returncode == 1 and f"No such manifest: {lst}" in p.err
    # with the local list gone, inspect reads the registry's index
    assert json.loads(dy("manifest", "inspect", lst).out)["manifests"] == local["manifests"]
    remote_v = json.loads(dy("manifest", "inspect", "-v", lst).out)
    assert [v["Descriptor"]["platform"]["architecture"] for v in remote_v] == ["amd64", "arm64"]


def test_docker_schema2_entries_make_a_docker_manifest_list(dy, tmp_path, reg):
    host = f"127.0.0.1:{reg.port}"
    one, _ = reg.push_image("d", "one", [b"layer one"], docker=True)
    two, _ = reg.push_image("d", "two", [b"layer two"], docker=True)
    lst = f"{host}/d:list"
    dy("manifest", "create", lst, f"{host}/d:one", f"{host}/d:two")
    digest = dy("manifest", "push", "--purge", lst).out.strip()
    assert not os.path.exists(os.path.join(dy.root, "manifests", f"127.0.0.1-{reg.port}_d-list"))
    r = reg.request("GET", "/v2/d/manifests/list", headers={"Accept": DOCKER_LIST})
    assert r.status == 200 and r.headers["Docker-Content-Digest"] == digest
    doc = r.json()
    assert doc["mediaType"] == DOCKER_LIST and r.headers["Content-Type"] == DOCKER_LIST
    assert [(m["mediaType"], m["digest"], m["platform"]) for m in doc["manifests"]] == [
        (DOCKER_MANIFEST, one, {"architecture": "amd64", "os": "linux"}),
        (DOCKER_MANIFEST, two, {"architecture": "amd64", "os": "linux"})]
    # --amend adds to a list; without it an existing list is refused
    dy("manifest", "create", lst, f"{host}/d:one")
    p = dy("manifest", "create", lst, f"{host}/d:two", check=False)
    assert p.returncode == 1 and "refusing to amend an existing manifest list with no --amend flag" in p.err
    dy("manifest", "create", "--amend", lst, f"{host}/d:two")
    assert len(json.loads(dy("manifest", "inspect", lst).out)["manifests"]) == 2


def test_bad_input_docker_words_nothing_lost(dy, tmp_path, reg):
    host = f"127.0.0.1:{reg.port}"
    reg.push_image("d", "one", [b"layer one"])
    lst, one = f"{host}/d:list", f"{host}/d:one"
    dy("manifest", "create", lst, one)
    path = os.path.join(dy.root, "manifests", f"127.0.0.1-{reg.port}_d-list", f"127.0.0.1-{reg.port}_d-one")
    before = open(path, "rb").read()
    cases = [
        (("inspect", f"{host}/d:nolist"), f"no such manifest: {host}/d:nolist"),
        (("inspect", f"{host}/nope:x"), f"no such manifest: {host}/nope:x"),
        (("create", "--amend", lst, one, f"{host}/d:missing"), f"no such manifest: {host}/d:missing"),
        (("annotate", "--arch", "arm64", f"{host}/d:none", one), f"manifest for image {one} does not exist in {host}/d:none"),
        (("annotate", "--arch", "arm64", lst, f"{host}/d:other"), f"manifest for image {host}/d:other does not exist in {lst}"),
        (("annotate", "--arch", "bogus", lst, one), "manifest entry for image has unsupported os/arch combination"),
        (("push", f"{host}/d:none"), f"No such manifest: {host}/d:none"),
        (("rm", f"{host}/d:none"), f"No such manifest: {host}/d:none"),
        (("create", "Bad", one), "error parsing name for manifest list Bad: invalid reference format"),
        (("create", f"{host}/d:x", "localhost:1/d:one"), "cannot use source images from a different registry"),
        (("create", lst), "'dockyard manifest create' requires at least 2 arguments"),
        (("annotate", lst), "'dockyard manifest annotate' requires 2 arguments"),
        (("inspect",), "'dockyard manifest inspect' requires at least 1 and at most 2 arguments"),
        (("push",), "'dockyard manifest push' requires 1 argument"),
        (("rm",), "'dockyard manifest rm' requires at least 1 argument"),
    ]
    for args, words in cases:
        p = dy("manifest", *args, check=False)
        assert p.returncode == 1, (args, p.returncode, p.err)
        assert words in p.err and "Traceback" not in p.err, (args, p.err)
    p = dy("manifest", "inspect", "--bogus", lst, check=False)
    assert p.returncode == 125 and "Traceback" not in p.err
    assert open(path, "rb").read() == before  # failed create --amend and annotate changed nothing
    assert [n for n in os.listdir(os.path.dirname(path)) if n.startswith(".")] == []
    assert not os.path.exists(os.path.join(dy.root, "manifests", f"127.0.0.1-{reg.port}_d-x"))

    # hostile names never leave <root>/manifests; a damaged entry file is a clear error
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "keep").write_text("x")
    for bad in ("../../canary", f"{host}/../canary", "/tmp/x"):
        p = dy("manifest", "rm", bad, check=False)
        assert p.returncode == 1 and "invalid reference format" in p.err and "Traceback" not in p.err, p.err
    assert (canary / "keep").read_text() == "x"
    with open(path, "wb") as f:
        f.write(b'{"Ref": 1}')
    for args in (("inspect", lst), ("annotate", "--arch", "arm64", lst, one), ("push", lst)):
        p = dy("manifest", *args, check=False)
        assert p.returncode == 1 and f"local manifest list {lst} is damaged" in p.err, p.err
        assert "Traceback" not in p.err
    dy("manifest", "rm", lst)


def test_with_htpasswd_credentials(dy, busybox, tmp_path):
    """Behind Basic auth: the credentials of `dockyard login` (Docker's config.json) serve create,
    the cross-repository mount and push; without them create fails with the registry's answer."""
    import subprocess

    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_bytes(subprocess.run(["htpasswd", "-Bbn", "alice", "wonder land"], capture_output=True,
                                        check=True).stdout)
    reg = Registry(tmp_path, "--htpasswd", str(htpasswd))
    try:
        host = f"127.0.0.1:{reg.port}"
        dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
        dy("login", "-u", "alice", "--password-stdin", host, input="wonder land\n")
        dy("tag", busybox, f"{host}/a/bb:1")
        dy("push", f"{host}/a/bb:1")
        dy("manifest", "create", f"{host}/b/list:1", f"{host}/a/bb:1")
        digest = dy("manifest", "push", f"{host}/b/list:1").out.splitlines()[-1]
        r = reg.request("GET", "/v2/b/list/manifests/1", headers={"Accept": OCI_INDEX}, auth=("alice", "wonder land"))
        assert r.status == 200 and r.headers["Docker-Content-Digest"] == digest
        dy("logout", host)
        p = dy("manifest", "create", f"{host}/b/list:2", f"{host}/a/bb:1", check=False)
        assert p.returncode == 1 and "unauthorized: authentication required" in p.err, p.err
        assert f"dockyard login {host}" in p.err and "Traceback" not in p.err
        assert not os.path.exists(os.path.join(dy.root, "manifests", f"127.0.0.1-{reg.port}_b_list-2"))
    finally:
        reg.stop()


def test_hostile_registry_content(dy, tmp_path, reg):
    """What a registry serves is input: a config with non-string platform fields, a config that
    is not JSON and a manifest without a config give clear outcomes, never a traceback."""
    host = f"127.0.0.1:{reg.port}"
    odd = reg.push_blob("h", json.dumps({"architecture": ["amd64"], "os": {"x": 1}, "variant": 7,
                                         "os.features": [1, 2]}).encode())
    notjson = reg.push_blob("h", b"\xff not json")
    for tag, cfg in (("odd", odd), ("notjson", notjson)):
        size = int(reg.request("HEAD", f"/v2/h/blobs/{cfg}").headers["Content-Length"])
        doc = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": size},
               "layers": []}
        assert reg.push_manifest("h", tag, doc).status == 201
    dy("manifest", "create", f"{host}/h:l", f"{host}/h:odd")
    plat = json.loads(dy("manifest", "inspect", f"{host}/h:l").out)["manifests"][0]["platform"]
    assert plat == {"architecture": "", "os": ""}
    p = dy("manifest", "create", f"{host}/h:l2", f"{host}/h:notjson", check=False)
    assert p.returncode == 1 and "is not valid" in p.err and "Traceback" not in p.err, p.err
    assert not os.path.exists(os.path.join(dy.root, "manifests", f"127.0.0.1-{reg.port}_h-l2"))
