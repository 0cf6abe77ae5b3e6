"""`dockyard build --sbom`: the SBOM is made from the built image and kept with it, and `dockyard
push` pushes it as an OCI 1.1 referrer of the image's manifest (BuildKit's `--sbom` with a push),
to `dockyard registry serve` on 127.0.0.1 (a port the kernel picks)."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from apiclient import api  # noqa: F401 - the fixture
from test_registry_server import OCI_MANIFEST, Registry

pytest.importorskip("aiohttp", reason="dockyard registry serve needs aiohttp")


@pytest.fixture
def server(tmp_path):
    s = Registry(tmp_path)
    yield s
    s.stop()
    assert "Traceback" not in s.logtext(), s.logtext()


def purls(doc: dict) -> set[str]:
    return {r["referenceLocator"] for p in doc["packages"] for r in p.get("externalRefs", [])
            if r.get("referenceType") == "purl"}


def referrers(server, repo: str, tag: str) -> tuple[str, list[dict]]:
    digest = server.request("HEAD", f"/v2/{repo}/manifests/{tag}").headers["Docker-Content-Digest"]
    return digest, server.request("GET", f"/v2/{repo}/referrers/{digest}").json()["manifests"]


def test_build_sbom_is_kept_and_pushed(dy, busybox, server, tmp_path):
    ref = f"127.0.0.1:{server.port}/test/app:1"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY pkg /usr/lib/python3/dist-packages/demo-1.2.dist-info/\n")
    (ctx / "pkg").mkdir()
    (ctx / "pkg/METADATA").write_text("Metadata-Version: 2.1\nName: demo\nVersion: 1.2\n")
    p = dy("build", "--sbom", "-t", ref, str(ctx), timeout=120)
    assert "SBOM: 2 packages (SPDX 2.3), kept with the image" in p.out
    image_id = json.loads(dy("image", "inspect", ref).out)[0]["Id"]
    kept = os.path.join(dy.root, "sbom", image_id.split(":")[1] + ".spdx.json")
    doc = json.loads(open(kept).read())
    assert doc["spdxVersion"] == "SPDX-2.3" and doc["name"] == ref
    # what the build kept is what `dockyard sbom` finds in the image
    fresh = json.loads(dy("sbom", "--format", "spdx-json", ref).out)
    assert purls(doc) == purls(fresh) and "pkg:pypi/demo@1.2" in purls(doc)

    p = dy("push", ref, timeout=120)
    digest, found = referrers(server, "test/app", "1")
    assert [d["artifactType"] for d in found] == ["application/spdx+json"]
    # the document describes the very manifest pushed (the image's root package is versioned by it)
    assert [p["versionInfo"] for p in doc["packages"] if p.get("primaryPackagePurpose") == "CONTAINER"] == [digest]
    assert f"1: sbom: {found[0]['digest']} (application/spdx+json, OCI 1.1 referrer of {digest})" in p.out
    # read back from the registry alone: the very document the build kept
    assert dy("sbom", "--from-registry", ref).out == open(kept).read()
    # pushing again adds no second referrer (the referrer manifest is the same for the same document)
    dy("push", ref, timeout=120)
    assert referrers(server, "test/app", "1")[1] == found


def test_build_without_sbom_pushes_none(dy, busybox, server, tmp_path):
    ref = f"127.0.0.1:{server.port}/test/plain:1"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nLABEL plain=1\n")
    out = dy("build", "-t", ref, str(ctx), timeout=120).out
    assert "SBOM" not in out
    p = dy("push", ref, timeout=120)
    assert "sbom:" not in p.out
    assert referrers(server, "test/plain", "1")[1] == []
    p = dy("sbom", "--from-registry", ref, check=False)
    assert p.returncode == 1 and "no spdx-json SBOM is attached" in p.err


def test_build_sbom_of_removed_image_goes(dy, busybox, tmp_path):
    """A kept SBOM goes once its image is gone (at the next build --sbom)."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    ids = []
    for n in (1, 2):
        (ctx / "Dockerfile").write_text(f"FROM busybox\nLABEL n={n}\n")
        dy("build", "--sbom", "-t", f"sbomgc:{n}", str(ctx), timeout=120)
        ids.append(json.loads(dy("image", "inspect", f"sbomgc:{n}").out)[0]["Id"].split(":")[1])
        if n == 1:
            dy("rmi", "sbomgc:1")
    assert sorted(os.listdir(os.path.join(dy.root, "sbom"))) == [ids[1] + ".spdx.json"]


def test_build_sbom_flag_value(dy, busybox, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\n")
    p = dy("build", "--sbom=maybe", str(ctx), check=False)
    assert p.returncode == 125 and "invalid argument \"maybe\" for \"--sbom\" flag" in p.err
    assert "SBOM" not in dy("build", "--sbom=false", str(ctx), timeout=120).out


def test_api_push_attaches_build_sbom(api, dy, server, tmp_path):
    """A push through the Docker API (the docker CLI against dockyard's socket) takes it along too."""
    ref = f"127.0.0.1:{server.port}/test/viaapi:1"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nLABEL api=1\n")
    dy("build", "--sbom", "-t", ref, str(ctx), timeout=120)
    p = api.docker("push", ref)
    _digest, found = referrers(server, "test/viaapi", "1")
    assert [d["artifactType"] for d in found] == ["application/spdx+json"], p.out
    assert f"sbom: {found[0]['digest']}" in p.out


DISTRIBUTION = shutil.which("docker-registry") or "/usr/bin/docker-registry"


@pytest.mark.skipif(not os.path.exists(DISTRIBUTION), reason="docker-registry is not installed")
def test_registry_without_referrers_api_gets_image_and_warning(dy, busybox, tmp_path):
    from test_registry_client import Registry as Distribution

    (tmp_path / "dist").mkdir()
    reg = Distribution(tmp_path / "dist")
    try:
        ref = f"{reg.addr}/ns/app:1"
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text("FROM busybox\nLABEL dist=1\n")
        dy("build", "--sbom", "-t", ref, str(ctx), timeout=120)
        p = dy("push", ref, timeout=120)
        assert f"WARNING: {ref}: the build SBOM was not attached: registry {reg.addr} has no OCI 1.1 referrers API" \
            in p.err and "Traceback" not in p.err
        assert reg.request("GET", "/v2/ns/app/manifests/1", headers={"Accept": OCI_MANIFEST})[0] == 200
    finally:
        reg.stop()
