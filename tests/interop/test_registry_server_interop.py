"""`dockyard registry serve` with real clients: skopeo pushes, inspects and pulls (plain and with
htpasswd credentials), and the Docker daemon pushes, pulls and runs an image saved by dockyard.

Missing tools skip the tests that need them, with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest
from dockyard_interop import private_dockerd

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKOPEO = shutil.which("skopeo")
needs_skopeo = pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed")


def run(*cmd: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


class Server:
    """A `dockyard registry serve` on a kernel-picked port of 127.0.0.1 (it prints which)."""

    def __init__(self, tmp_path, *args: str) -> None:
        self.root = str(tmp_path / "registry")
        self.log = str(tmp_path / "registry.log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-S", "-m", "dockyard", "registry", "serve", "--addr", "127.0.0.1:0",
                 "--root", self.root, *args],
                cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 20
        while not (m := re.search(r"listening on http://(127\.0\.0\.1:\d+)", self.logtext())):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"registry did not start:\n{self.logtext()}")
            time.sleep(0.02)
        self.host = m.group(1)

    def logtext(self) -> str:
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.returncode == 0, self.logtext()
        assert "Traceback" not in self.logtext(), self.logtext()


@pytest.fixture
def serve(tmp_path):
    servers: list[Server] = []

    def _serve(*args: str) -> Server:
        s = Server(tmp_path, *args)
        servers.append(s)
        return s

    yield _serve
    for s in servers:
        s.stop()


def _dir_image(path: str) -> dict:
    """The manifest of a skopeo `dir:` copy, with every blob checked against its file name."""
    with open(os.path.join(path, "manifest.json"), "rb") as f:
        manifest = json.load(f)
    for desc in [manifest["config"], *manifest["layers"]]:
        with open(os.path.join(path, desc["digest"].partition(":")[2]), "rb") as f:
            data = f.read()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == desc["digest"] and len(data) == desc["size"]
    return manifest


@needs_skopeo
def test_skopeo_push_inspect_pull(serve, docker_archive, tmp_path):
    archive, _ref = docker_archive
    srv = serve("--delete-enabled")
    dest = f"docker://{srv.host}/interop/busybox:1"
    run(SKOPEO, "copy", "--dest-tls-verify=false", f"docker-archive:{archive}", dest)
    info = json.loads(run(SKOPEO, "inspect", "--tls-verify=false", dest).stdout)
    assert info["RepoTags"] == ["1"] and info["Os"] == "linux" and len(info["Layers"]) == 1
    # back out as a plain directory and as an OCI layout: the same blobs, intact
    run(SKOPEO, "copy", "--src-tls-verify=false", dest, f"dir:{tmp_path / 'out'}")
    manifest = _dir_image(str(tmp_path / "out"))
    assert [lay["digest"] for lay in manifest["layers"]] == info["Layers"]
    run(SKOPEO, "copy", "--src-tls-verify=false", dest, f"oci:{tmp_path / 'layout'}:one")
    with open(tmp_path / "layout" / "index.json") as f:
        converted = json.load(f)["manifests"][0]["digest"].partition(":")[2]  # skopeo made it an OCI manifest
    with open(tmp_path / "layout" / "blobs" / "sha256" / converted) as f:
        assert [lay["digest"] for lay in json.load(f)["layers"]] == info["Layers"]
    # an OCI-format push to a second repository (blobs mount across), and the tag listing
    run(SKOPEO, "copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--format", "oci", dest,
        f"docker://{srv.host}/interop/copy:oci")
    oci = json.loads(run(SKOPEO, "inspect", "--raw", "--tls-verify=false", f"docker://{srv.host}/interop/copy:oci").stdout)
    assert oci["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    tags = json.loads(run(SKOPEO, "list-tags", "--tls-verify=false", f"docker://{srv.host}/interop/busybox").stdout)
    assert tags["Tags"] == ["1"]
    run(SKOPEO, "delete", "--tls-verify=false", dest)
    assert run(SKOPEO, "inspect", "--tls-verify=false", dest, check=False).returncode != 0


@needs_skopeo
def test_skopeo_with_htpasswd_credentials(serve, docker_archive, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(run("htpasswd", "-Bbn", "pusher", "s3cr3t").stdout)
    archive, _ref = docker_archive
    srv = serve("--htpasswd", str(htpasswd))
    dest = f"docker://{srv.host}/private/busybox:latest"
    p = run(SKOPEO, "copy", "--dest-tls-verify=false", f"docker-archive:{archive}", dest, check=False)
    assert p.returncode != 0 and "unauthorized" in (p.stdout + p.stderr).lower()
    p = run(SKOPEO, "copy", "--dest-tls-verify=false", "--dest-creds", "pusher:wrong", f"docker-archive:{archive}",
            dest, check=False)
    assert p.returncode != 0
    assert not os.path.isdir(os.path.join(srv.root, "blobs")) or not any(os.scandir(os.path.join(srv.root, "blobs")))
    run(SKOPEO, "copy", "--dest-tls-verify=false", "--dest-creds", "pusher:s3cr3t", f"docker-archive:{archive}", dest)
    info = json.loads(run(SKOPEO, "inspect", "--tls-verify=false", "--creds", "pusher:s3cr3t", dest).stdout)
    assert info["RepoTags"] == ["latest"]
    assert run(SKOPEO, "inspect", "--tls-verify=false", dest, check=False).returncode != 0
    run(SKOPEO, "copy", "--src-tls-verify=false", "--src-creds", "pusher:s3cr3t", dest, f"dir:{tmp_path / 'out'}")
    _dir_image(str(tmp_path / "out"))


# ----------------------------------------------------------------------------- the Docker daemon



@pytest.fixture(scope="module")
def dockerd():
    with private_dockerd() as docker:
        yield docker


def test_docker_push_pull_run(serve, dy, busybox, dockerd, tmp_path):
    srv = serve()
    archive = tmp_path / "busybox.tar"
    local = f"dyreg-{uuid.uuid4().hex[:8]}:1"
    dy("tag", busybox, local)
    dy("save", "-o", str(archive), local)
    remote = f"{srv.host}/dockyard/busybox-{uuid.uuid4().hex[:6]}:v1"
    docker = dockerd
    try:
        run(docker, "load", "-i", str(archive))
        run(docker, "tag", local, remote)
        push = run(docker, "push", remote, timeout=300).stdout
        digest = re.search(r"digest: (sha256:[0-9a-f]{64})", push).group(1)
        run(docker, "rmi", local, remote)
        assert run(docker, "image", "inspect", remote, check=False).returncode != 0
        pull = run(docker, "pull", remote, timeout=300).stdout
        assert f"Digest: {digest}" in pull
        p = run(docker, "run", "--rm", "--network", "none", remote, "sh", "-c", "echo $((6*7))", timeout=120)
        assert p.stdout == "42\n"
        run(docker, "run", "--rm", "--network", "none", remote, "true", timeout=120)
        # pull by digest too, and the registry agrees on what it holds
        run(docker, "pull", f"{remote.rpartition(':')[0]}@{digest}", timeout=300)
        assert re.search(r'"PUT /v2/dockyard/busybox-\w+/manifests/v1 HTTP/1.1" 201', srv.logtext())
    finally:
        ids = run(docker, "images", "-q", "--no-trunc", remote.rpartition(":")[0], check=False).stdout.split()
        run(docker, "rmi", "-f", local, remote, *sorted(set(ids)), check=False)
