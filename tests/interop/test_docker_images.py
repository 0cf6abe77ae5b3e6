"""Images move between dockyard and the real Docker daemon (docker.io's dockerd, started here)."""

import os
import shutil
import subprocess
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker")


def _ping() -> bool:
    return subprocess.run([DOCKER, "version"], capture_output=True, timeout=30).returncode == 0


@pytest.fixture(scope="module")
def dockerd():
    if not DOCKER or not shutil.which("dockerd"):
        pytest.skip("docker.io is not installed (apt-get install docker.io)")
    started = False
    if not _ping():
        # a private daemon touches no host networking: no docker0 bridge, no iptables rules
        env = dict(os.environ, DOCKERD_ARGS="--bridge=none --iptables=false --ip6tables=false")
        p = subprocess.run(["bash", os.path.join(REPO, ".ci/start-dockerd")], capture_output=True, timeout=120,
                           env=env)
        if p.returncode != 0:
            pytest.skip(f"dockerd could not be started: {p.stderr.decode()[-300:]}")
        started = True
    yield DOCKER
    if started:
        subprocess.run(["pkill", "-x", "dockerd"], capture_output=True)
        subprocess.run(["sh", "-c", "for i in $(seq 50); do pgrep -x dockerd >/dev/null || exit 0; sleep 0.2; done"])


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
