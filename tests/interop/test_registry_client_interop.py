"""Images through a registry between dockyard and the real Docker daemon.

A private `docker-registry` on 127.0.0.1 (Docker treats 127.0.0.0/8 registries as insecure by
default, so plain HTTP needs no daemon configuration) and a dockerd started as in
test_docker_images.py (no bridge, no iptables; stopped again by its pid if this module started
it). Both directions: dockyard push → docker pull → docker run, and docker push (Docker's schema2
media types) → dockyard pull → dockyard run.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest
from dockyard_interop import DOCKER, private_dockerd

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGISTRY = shutil.which("docker-registry") or "/usr/bin/docker-registry"



@pytest.fixture(scope="module")
def dockerd():
    with private_dockerd() as docker:
        yield docker


@pytest.fixture
def registry(tmp_path):
    if not os.path.exists(REGISTRY):
        pytest.skip("docker-registry is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "registry.yml"
    cfg.write_text(json.dumps({"version": 0.1, "log": {"level": "error", "accesslog": {"disabled": True}},
                               "storage": {"filesystem": {"rootdirectory": str(tmp_path / "storage")}},
                               "http": {"addr": f"127.0.0.1:{port}"}}))
    log = open(tmp_path / "registry.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([REGISTRY, "serve", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "registry.log").read_text()
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _docker(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout)


def test_dockyard_push_docker_pull_run(dy, busybox, dockerd, registry, tmp_path):
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    ref = f"{registry}/dyinterop/busybox-{uuid.uuid4().hex[:8]}:1"
    dy("tag", busybox, ref)
    out = dy("push", ref).out
    digest = out.split("digest: ")[1].split()[0]
    try:
        p = _docker("pull", ref)
        assert p.returncode == 0, p.stderr
        assert f"Digest: {digest}" in p.stdout
        p = _docker("run", "--rm", "--network", "none", ref, "sh", "-c", "echo ok")
        assert (p.returncode, p.stdout) == (0, "ok\n"), p.stderr
        p = _docker("inspect", "-f", "{{.Id}}", ref)
        assert p.stdout.strip() == dy("inspect", "-f", "{{.Id}}", ref).out.strip()  # same config bytes
    finally:
        _docker("rmi", "-f", ref, timeout=60)


def test_docker_push_dockyard_pull_run(dy, busybox, dockerd, registry, tmp_path):
    """Docker pushes its own schema2 manifest (Docker media types, layers it compressed itself)."""
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    local = f"dyinterop-{uuid.uuid4().hex[:8]}:1"
    ref = f"{registry}/dyinterop/{local}"
    dy("tag", busybox, local)
    archive = tmp_path / "bb.tar"
    dy("save", "-o", str(archive), local)
    try:
        p = _docker("load", "-i", str(archive))
        assert p.returncode == 0, p.stderr
        assert _docker("tag", local, ref).returncode == 0
        p = _docker("push", ref)
        assert p.returncode == 0, p.stderr
        other = type(dy)(str(tmp_path / "root2"), str(tmp_path / "run2"))
        other.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
        out = other("pull", ref).out
        assert out.splitlines()[-1] == ref and "Pull complete" in out, out
        assert other("run", "--rm", "--network", "none", ref, "sh", "-c", "echo ok").out == "ok\n"
        assert other("inspect", "-f", "{{.Id}}", ref).out == dy("inspect", "-f", "{{.Id}}", local).out
    finally:
        _docker("rmi", "-f", ref, local, timeout=60)
