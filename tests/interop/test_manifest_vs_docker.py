"""`dockyard manifest` beside docker CLI 28's `docker manifest` (no daemon needed; DOCKER_CONFIG is
the test's own directory) against one `dockyard registry serve` on 127.0.0.1: the same list pushed
by both has the same bytes and digest, skopeo reads ours, both print the same JSON, and bad
input fails with the same words and exit codes."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import subprocess

import pytest
from test_registry_server_interop import serve  # noqa: F401 - the fixture

DOCKER = "/usr/local/bin/docker"  # docker CLI 28: Debian's 20.10 cannot list OCI manifests at all
SKOPEO = shutil.which("skopeo")
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
needs_docker = pytest.mark.skipif(not os.access(DOCKER, os.X_OK), reason="docker CLI 28 is not installed")
needs_skopeo = pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed")


def docker(tmp_path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, DOCKER_CONFIG=str(tmp_path / "docker-config")))
    if check and p.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {p.returncode}:\n{p.stderr}")
    return p


@pytest.fixture
def pushed(dy, busybox, serve):  # noqa: F811 - serve is the fixture imported above
    srv = serve()
    host = srv.host
    for tag in ("amd64", "arm"):
        dy("tag", busybox, f"{host}/bb:{tag}")
        dy("push", f"{host}/bb:{tag}")
    return host


@needs_docker
def test_same_list_same_digest_as_docker_and_skopeo_reads_it(dy, tmp_path, pushed):
    host = pushed
    entries = (f"{host}/bb:amd64", f"{host}/bb:arm")
    outputs = {}
    for tool, lst in (("dockyard", f"{host}/bb:ours"), ("docker", f"{host}/bb:theirs")):
        run = (lambda *a: dy(*a).out) if tool == "dockyard" else (lambda *a: docker(tmp_path, *a).stdout)
        assert run("manifest", "create", "--insecure", lst, *entries) == f"Created manifest list {lst}\n"
        run("manifest", "annotate", "--arch", "arm64", "--variant", "v8", lst, entries[1])
        outputs[tool] = (json.loads(run("manifest", "inspect", lst)), json.loads(run("manifest", "inspect", "-v", lst)),
                         json.loads(run("manifest", "inspect", lst, entries[1])))
        outputs[tool + " digest"] = run("manifest", "push", "--insecure", lst).strip()
    assert outputs["dockyard"] == outputs["docker"]
    assert outputs["dockyard digest"] == outputs["docker digest"]  # byte for byte the same index
    # each reads the other's pushed list from the registry the same way
    ours = dy("manifest", "inspect", "--insecure", f"{host}/bb:theirs").out
    theirs = docker(tmp_path, "manifest", "inspect", "--insecure", f"{host}/bb:ours").stdout
    assert json.loads(ours) == json.loads(theirs) == outputs["docker"][0]
    ours_v = dy("manifest", "inspect", "-v", f"{host}/bb:theirs").out
    theirs_v = docker(tmp_path, "manifest", "inspect", "--insecure", "-v", f"{host}/bb:ours").stdout
    assert ours_v == theirs_v.replace("bb:ours@", "bb:theirs@")  # entries named repo:tag@digest, as docker does
    single = docker(tmp_path, "manifest", "inspect", "--insecure", entries[0]).stdout
    assert dy("manifest", "inspect", entries[0]).out == single  # raw manifest re-indented with tabs, key order kept


@needs_skopeo
def test_skopeo_reads_the_pushed_list(dy, pushed):
    host = pushed
    lst = f"{host}/bb:ours"
    dy("manifest", "create", lst, f"{host}/bb:amd64", f"{host}/bb:arm")
    dy("manifest", "annotate", "--arch", "arm64", "--variant", "v8", lst, f"{host}/bb:arm")
    local = json.loads(dy("manifest", "inspect", lst).out)
    digest = dy("manifest", "push", lst).out.strip()
    raw = subprocess.run([SKOPEO, "inspect", "--raw", "--tls-verify=false", f"docker://{host}/bb:ours"],
                         capture_output=True, timeout=60, check=True).stdout
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    assert json.loads(raw) == local and local["mediaType"] == OCI_INDEX
    # skopeo resolves the list to the linux/amd64 entry as a pull does
    plain = json.loads(subprocess.run([SKOPEO, "inspect", "--tls-verify=false", f"docker://{lst}"],
                                      capture_output=True, timeout=60, check=True).stdout)
    assert plain["Digest"] == digest and plain["Architecture"] == "amd64" and plain["Os"] == "linux"


@needs_docker
def test_cross_repository_entries_as_docker(dy, tmp_path, pushed):
    """Entries from other repositories: both copy them into the list's repository (blobs mounted,
    manifests PUT by digest), print the same lines and push the same index."""
    host = pushed
    entries = (f"{host}/bb:amd64", f"{host}/bb:arm")
    ours = dy("manifest", "create", f"{host}/ours:1", *entries).out
    dy("manifest", "push", "--insecure", f"{host}/ours:1")  # pushed twice: the second copies nothing new
    docker(tmp_path, "manifest", "create", "--insecure", f"{host}/theirs:1", *entries)
    theirs = docker(tmp_path, "manifest", "push", "--insecure", f"{host}/theirs:1").stdout
    ours = dy("manifest", "push", "--insecure", f"{host}/ours:1").out
    assert ours.replace("/ours", "/theirs") == theirs
    assert theirs.count("Pushed ref ") == 2
    for tool in ("ours", "theirs"):
        pulled = dy("pull", f"{host}/{tool}:1").out
        assert f"Digest: {theirs.split()[-1]}" in pulled


def _docker_schema2_copy(host: str, src: str, dest: str) -> None:
    """PUT a Docker schema2 manifest naming the blobs of the OCI manifest ``bb:src`` as ``bb:dest``."""
    conn = http.client.HTTPConnection(*host.split(":"), timeout=30)
    conn.request("GET", f"/v2/bb/manifests/{src}", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    oci = json.loads(conn.getresponse().read())
    doc = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
           "config": {**oci["config"], "mediaType": "application/vnd.docker.container.image.v1+json"},
           "layers": [{**x, "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"} for x in oci["layers"]]}
    conn.request("PUT", f"/v2/bb/manifests/{dest}", body=json.dumps(doc).encode(),
                 headers={"Content-Type": doc["mediaType"]})
    assert conn.getresponse().status == 201
    conn.close()


@needs_docker
def test_docker_schema2_and_mixed_lists_as_docker(dy, tmp_path, pushed):
    """All entries Docker schema2: a Docker manifest list; one OCI entry among them: an OCI index
    (docker's rule). Same bytes pushed by both."""
    host = pushed
    _docker_schema2_copy(host, "amd64", "docker")
    for name, entries in (("d", [f"{host}/bb:docker"]), ("mixed", [f"{host}/bb:docker", f"{host}/bb:arm"])):
        ours = f"{host}/bb:{name}-ours"
        theirs = f"{host}/bb:{name}-theirs"
        dy("manifest", "create", ours, *entries)
        docker(tmp_path, "manifest", "create", "--insecure", theirs, *entries)
        assert dy("manifest", "inspect", ours).out == docker(tmp_path, "manifest", "inspect", theirs).stdout
        want = docker(tmp_path, "manifest", "push", "--insecure", theirs).stdout.strip()
        assert dy("manifest", "push", ours).out.strip() == want
        media = json.loads(dy("manifest", "inspect", ours).out)["mediaType"]
        assert media == ("application/vnd.docker.distribution.manifest.list.v2+json" if name == "d" else OCI_INDEX)


@needs_docker
def test_bad_input_same_words_and_exit_codes_as_docker(dy, tmp_path, pushed):
    host = pushed
    lst, one = f"{host}/bb:list", f"{host}/bb:amd64"
    dy("manifest", "create", lst, one)
    docker(tmp_path, "manifest", "create", "--insecure", lst, one)
    cases = [
        ("inspect", "--insecure", f"{host}/bb:nolist"),
        ("inspect", "--insecure", f"{host}/nope:x"),
        ("create", "--insecure", lst, one),
        ("create", "--insecure", f"{host}/bb:new", f"{host}/bb:missing"),
        ("annotate", f"{host}/bb:none", one),
        ("annotate", lst, f"{host}/bb:arm"),
        ("annotate", "--arch", "bogus", "--os", "linux", lst, one),
        ("push", "--insecure", f"{host}/bb:none"),
        ("rm", f"{host}/bb:none"),
        ("inspect", lst, f"{host}/bb:arm"),
        ("create", "Bad", one),
        ("create", lst),
        ("annotate", lst),
        ("inspect",),
        ("push",),
        ("rm",),
    ]
    for args in cases:
        theirs = docker(tmp_path, "manifest", *args, check=False)
        ours = dy("manifest", *args, check=False)
        assert ours.returncode == theirs.returncode, (args, ours.err, theirs.stderr)
        words = theirs.stderr.strip().splitlines()[0].replace("docker:", "").replace("docker", "dockyard").strip()
        assert words in ours.err, (args, ours.err, theirs.stderr)
        assert "Traceback" not in ours.err
