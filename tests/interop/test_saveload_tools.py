"""Our `save` archives read by other tools (skopeo, umoci), and theirs loaded by us.

skopeo and umoci are the references for docker-archive and OCI image layouts: what they accept,
Docker, Podman and containerd accept. Missing tools skip the tests that need them, with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile

import pytest

SKOPEO = shutil.which("skopeo")
UMOCI = shutil.which("umoci")
needs_skopeo = pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed")
needs_umoci = pytest.mark.skipif(UMOCI is None, reason="umoci is not installed")


def run(*cmd: str, timeout: float = 120) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture
def dy2(dy, tmp_path):
    return type(dy)(str(tmp_path / "root2"), str(tmp_path / "run2"))


def _config(d, name: str) -> dict:
    return json.loads(d("image", "inspect", name).out)[0]


def _id(d, name: str) -> str:
    return d("image", "inspect", "--format", "{{.Id}}", name).out.strip()


def _diff_ids(d, name: str) -> list[str]:
    return _config(d, name)["RootFS"]["Layers"]


def _tar_dir(src: str, dst: str) -> None:
    """An OCI layout directory as a tar (what `docker save --format oci` / oci-archive: look like)."""
    with tarfile.open(dst, "w") as t:
        for name in sorted(os.listdir(src)):
            t.add(os.path.join(src, name), arcname=name)


def _untar(src: str, dst: str) -> None:
    """Unpack one of *our* archives (trusted: written by the test) for tools that want a directory."""
    with tarfile.open(src) as t:
        t.extractall(dst, filter="data")


@needs_skopeo
def test_skopeo_inspects_our_docker_archive(dy, busybox, tmp_path):
    out = str(tmp_path / "bb.tar")
    dy("save", "-o", out, busybox)
    info = json.loads(run(SKOPEO, "inspect", f"docker-archive:{out}").stdout)
    assert info["Layers"] == _diff_ids(dy, busybox)  # docker-archive layers are the uncompressed tars
    assert info["Os"] == "linux"
    raw = json.loads(run(SKOPEO, "inspect", "--config", "--raw", f"docker-archive:{out}").stdout)
    assert raw["rootfs"]["diff_ids"] == _diff_ids(dy, busybox)
    # named lookups work in a multi-image archive
    dy("tag", busybox, "second:2")
    multi = str(tmp_path / "multi.tar")
    dy("save", "-o", multi, busybox, "second:2")
    info = json.loads(run(SKOPEO, "inspect", f"docker-archive:{multi}:second:2").stdout)
    assert info["Layers"] == _diff_ids(dy, busybox)


@needs_skopeo
def test_skopeo_inspects_our_oci_archive(dy, busybox, tmp_path):
    out = str(tmp_path / "bb-oci.tar")
    dy("save", "--format", "oci", "-o", out, busybox)
    with tarfile.open(out) as t:
        index = json.load(t.extractfile("index.json"))
    info = json.loads(run(SKOPEO, "inspect", f"oci-archive:{out}").stdout)
    assert info["Digest"] == index["manifests"][0]["digest"]
    assert len(info["Layers"]) == len(_diff_ids(dy, busybox))
    info = json.loads(run(SKOPEO, "inspect", f"oci-archive:{out}:latest").stdout)  # by ref.name
    assert info["Digest"] == index["manifests"][0]["digest"]
    cfg = json.loads(run(SKOPEO, "inspect", "--config", "--raw", f"oci-archive:{out}").stdout)
    assert cfg["rootfs"]["diff_ids"] == _diff_ids(dy, busybox)


@needs_skopeo
def test_skopeo_converted_oci_layout_loads(dy, dy2, busybox, tmp_path):
    out = str(tmp_path / "bb.tar")
    dy("save", "-o", out, busybox)
    layout = str(tmp_path / "layout")
    run(SKOPEO, "copy", "-q", f"docker-archive:{out}", f"oci:{layout}:busybox:latest")
    layout_tar = str(tmp_path / "layout.tar")
    _tar_dir(layout, layout_tar)
    p = dy2("load", "-i", layout_tar)
    assert p.out.strip() == "Loaded image: busybox:latest"
    assert _diff_ids(dy2, busybox) == _diff_ids(dy, busybox)
    assert dy2("run", "--rm", busybox, "echo", "via-skopeo").out.strip() == "via-skopeo"


@needs_skopeo
def test_skopeo_written_docker_archive_loads(dy, dy2, busybox, tmp_path):
    """skopeo's own docker-archive writer (config `<hex>.json`, layers `<hex>.tar`) into our load."""
    out = str(tmp_path / "bb-oci.tar")
    dy("save", "--format", "oci", "-o", out, busybox)
    theirs = str(tmp_path / "skopeo-docker.tar")
    run(SKOPEO, "copy", "-q", f"oci-archive:{out}", f"docker-archive:{theirs}:busybox:latest")
    p = dy2("load", "-i", theirs)
    assert p.out.strip() == "Loaded image: busybox:latest"
    assert _diff_ids(dy2, busybox) == _diff_ids(dy, busybox)
    assert dy2("run", "--rm", busybox, "true").returncode == 0


@needs_umoci
def test_umoci_reads_our_oci_archive(dy, busybox, tmp_path):
    out = str(tmp_path / "bb-oci.tar")
    dy("save", "--format", "oci", "-o", out, busybox)
    layout = str(tmp_path / "layout")
    _untar(out, layout)
    stat = run(UMOCI, "stat", "--image", f"{layout}:latest").stdout
    assert "LAYER" in stat
    bundle = str(tmp_path / "bundle")
    run(UMOCI, "unpack", "--image", f"{layout}:latest", bundle)
    rootfs = os.path.join(bundle, "rootfs")
    assert os.path.lexists(os.path.join(rootfs, "bin", "busybox")) or os.path.lexists(os.path.join(rootfs, "bin", "sh"))
    assert os.path.isfile(os.path.join(bundle, "config.json"))
