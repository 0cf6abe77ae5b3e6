"""`dockyard sbom --attach` / `--from-registry`: the SBOM as an OCI 1.1 referrer of its image in
`dockyard registry serve` (on 127.0.0.1, a port the kernel picks), read back byte for byte, seen
through the referrers API with its artifactType, and refused clearly when it cannot be right."""

from __future__ import annotations

import hashlib
import json

import pytest
from test_registry_server import Registry

pytest.importorskip("aiohttp", reason="dockyard registry serve needs aiohttp")


@pytest.fixture
def server(tmp_path):
    s = Registry(tmp_path)
    yield s
    s.stop()
    assert "Traceback" not in s.logtext(), s.logtext()


def test_attach_and_read_back(dy, busybox, server, tmp_path):
    ref = f"127.0.0.1:{server.port}/test/busybox:1"
    dy("tag", busybox, ref)
    p = dy("sbom", "--attach", ref, check=False)
    assert p.returncode == 1 and "is not in registry" in p.err  # nothing to attach to yet
    dy("push", ref)
    out = tmp_path / "attached.spdx.json"
    digest = dy("sbom", "--attach", "-o", str(out), ref).out.strip()
    cdx_digest = dy("sbom", "--attach", "--format", "cyclonedx-json", ref).out.strip()
    manifest_digest = server.request("HEAD", "/v2/test/busybox/manifests/1").headers["Docker-Content-Digest"]
    # the referrers API lists both, each with its artifactType
    index = server.request("GET", f"/v2/test/busybox/referrers/{manifest_digest}").json()
    kinds = {d["digest"]: d["artifactType"] for d in index["manifests"]}
    assert kinds == {digest: "application/spdx+json", cdx_digest: "application/vnd.cyclonedx+json"}
    m = server.request("GET", f"/v2/test/busybox/manifests/{digest}",
                       headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert hashlib.sha256(m.body).hexdigest() == digest.split(":")[1]
    doc = m.json()
    assert doc["subject"]["digest"] == manifest_digest and doc["artifactType"] == "application/spdx+json"
    assert doc["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    # read back from the registry alone: the very bytes attached
    dy("rmi", ref)
    back = dy("sbom", "--from-registry", ref).out
    assert back == out.read_text()
    assert json.loads(back)["spdxVersion"] == "SPDX-2.3"
    cdx = json.loads(dy("sbom", "--from-registry", "--format", "cyclonedx-json", ref).out)
    assert cdx["bomFormat"] == "CycloneDX" and cdx["components"][0]["name"] == "busybox"


def test_refusals(dy, busybox, server, tmp_path):
    ref = f"127.0.0.1:{server.port}/test/other:1"
    dy("tag", busybox, ref)
    dy("push", ref)
    p = dy("sbom", "--from-registry", ref, check=False)
    assert p.returncode == 1 and "no spdx-json SBOM is attached" in p.err and "Traceback" not in p.err
    # a local image that is not what the registry holds under that name is not described there
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx/Dockerfile").write_text("FROM busybox\nLABEL changed=1\n")
    dy("build", "-q", "-t", ref, str(tmp_path / "ctx"), timeout=120)
    p = dy("sbom", "--attach", ref, check=False)
    assert p.returncode == 1 and "not the local image's manifest" in p.err
    p = dy("sbom", "--attach", "--format", "table", ref, check=False)
    assert p.returncode == 1 and "not an SBOM document" in p.err
    p = dy("sbom", "--attach", "--from-registry", ref, check=False)
    assert p.returncode == 1 and "mutually exclusive" in p.err
