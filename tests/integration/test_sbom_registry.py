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


def test_vulnerability_database_in_the_registry(dy, busybox, server, tmp_path):
    """`--db oci://…`: the SQLite index kept as an OCI artifact, for machines with only a registry."""
    import os
    import zipfile

    data = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "unit", "data", "osv")
    zips = {}
    for sub in ("samples", "debian12"):
        zips[sub] = tmp_path / f"{sub}.zip"
        with zipfile.ZipFile(zips[sub], "w") as z:
            for f in os.listdir(os.path.join(data, sub)):
                z.write(os.path.join(data, sub, f), f)
    db = f"oci://127.0.0.1:{server.port}/security/osv:latest"
    p = dy("scan", "--db", db, "--sbom", str(tmp_path / "none.json"), check=False)
    assert p.returncode == 1 and "is not in registry" in p.err
    out = dy("scan", "--db-import", str(zips["samples"]), "--db", db).out
    assert "imported 10 OSV records" in out  # 11 samples, one withdrawn
    first = server.request("HEAD", "/v2/security/osv/manifests/latest").headers["Docker-Content-Digest"]
    assert "imported 57 OSV records" in dy("scan", "--db-import", str(zips["debian12"]), "--db", db).out
    manifest = server.request("GET", "/v2/security/osv/manifests/latest",
                              headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert manifest.json()["artifactType"] == "application/vnd.dockyard.osv.index.v1+sqlite3"
    assert manifest.headers["Docker-Content-Digest"] != first  # the second import added to the first
    sbom = tmp_path / "sbom.json"
    sbom.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [
        {"type": "library", "name": "requests", "version": "2.30.0", "purl": "pkg:pypi/requests@2.30.0"},
        {"type": "library", "name": "libexpat1", "version": "2.5.0-1",
         "purl": "pkg:deb/debian/libexpat1@2.5.0-1?arch=amd64&distro=debian-12&upstream=expat"}]}))
    found = json.loads(dy("scan", "--db", db, "--sbom", str(sbom), "--format", "json").out)["vulnerabilities"]
    ids = {v["id"] for v in found}
    assert "PYSEC-2023-74" in ids and "DEBIAN-CVE-2024-45490" in ids
    direct = json.loads(dy("scan", "--db", data + "/samples", "--sbom", str(sbom), "--format", "json").out)
    assert {v["id"] for v in direct["vulnerabilities"]} == {i for i in ids if not i.startswith("DEBIAN-")}
    assert os.listdir(os.path.join(dy.root, "cache", "osv"))  # downloaded once, by digest
    # an image is not a database
    ref = f"127.0.0.1:{server.port}/test/busybox:1"
    dy("tag", busybox, ref)
    dy("push", ref)
    p = dy("scan", "--db", f"oci://{ref}", "--sbom", str(sbom), check=False)
    assert p.returncode == 1 and "is not a dockyard vulnerability database" in p.err and "Traceback" not in p.err
