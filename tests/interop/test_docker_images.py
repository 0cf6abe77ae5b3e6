"""Images move between dockyard and the real Docker daemon (docker.io's dockerd, started here)."""

import os
import subprocess
import uuid

import pytest
from dockyard_interop import private_dockerd

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def dockerd():
    with private_dockerd() as docker:
        yield docker


def test_save_to_docker_and_back(dy, busybox, dockerd, tmp_path):
    tag = f"dyinterop-{uuid.uuid4().hex[:8]}:1"
    dy("tag", "busybox", tag)
    archive = tmp_path / "ours.tar"
    dy("save", "-o", str(archive), tag)
    try:
        p = subprocess.run([dockerd, "load", "-i", str(archive)], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0 and f"Loaded image: {tag}" in p.stdout, p.stderr
        p = subprocess.run([dockerd, "run", "--rm", "--network", "none", tag, "sh", "-c", "echo $((6*7)); id -u"],
                           capture_output=True, text=True, timeout=120)
        assert (p.returncode, p.stdout) == (0, "42\n0\n"), p.stderr
        theirs = tmp_path / "theirs.tar"
        p = subprocess.run([dockerd, "save", "-o", str(theirs), tag], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        other = type(dy)(str(tmp_path / "root2"), str(tmp_path / "run2"))
        assert f"Loaded image: {tag}" in other("load", "-i", str(theirs)).out
        assert other("run", "--rm", tag, "sh", "-c", "echo $((6*7))").out == "42\n"
        # same content, same image id: docker kept our config bytes
        assert other("inspect", "-f", "{{.Id}}", tag).out == dy("inspect", "-f", "{{.Id}}", tag).out
    finally:
        subprocess.run([dockerd, "rmi", "-f", tag], capture_output=True, timeout=60)


def test_a_built_image_runs_the_same_under_docker(dy, busybox, dockerd, tmp_path):
    app = os.path.join(REPO, "examples", "app")
    tag = f"dyinterop-app-{uuid.uuid4().hex[:8]}:1"
    dy("build", "-q", "-t", tag, app, timeout=300)
    ours = dy("run", "--rm", tag, "sh", "server.sh", "check").out
    archive = tmp_path / "app.tar"
    dy("save", "-o", str(archive), tag)
    try:
        assert subprocess.run([dockerd, "load", "-i", str(archive)], capture_output=True, timeout=120).returncode == 0
        p = subprocess.run([dockerd, "run", "--rm", "--network", "none", tag, "sh", "server.sh", "check"],
                           capture_output=True, text=True, timeout=120)
        assert (p.returncode, p.stdout) == (0, ours), p.stderr
        p = subprocess.run([dockerd, "run", "--rm", "--network", "none", tag, "id", "-un"], capture_output=True,
                           text=True, timeout=120)
        assert p.stdout == "appuser\n"
    finally:
        subprocess.run([dockerd, "rmi", "-f", tag], capture_output=True, timeout=60)
