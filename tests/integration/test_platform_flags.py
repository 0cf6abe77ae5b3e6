"""docker 28's `--platform` on image commands (image inspect, history, rmi, save, load, push): a
dockyard image is one platform's, so the platform named must be the image's own; `load` picks
that platform's image of a multi-platform archive."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

from support import no_traceback

MISMATCH = "was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64"


def test_platform_must_be_the_images_own(dy, busybox, tmp_path):
    assert dy("image", "inspect", "--platform", "linux/amd64", "-f", "{{.Os}}/{{.Architecture}}",
              busybox).out.strip() == "linux/amd64"
    assert dy("history", "--platform", "linux", "-q", busybox).out.strip()
    for args in (("image", "inspect"), ("history",), ("rmi",), ("save", "-o", str(tmp_path / "x.tar")),
                 ("push",)):
        p = dy(*args, "--platform", "linux/arm64", busybox, check=False)
        assert p.returncode == 1 and MISMATCH in p.err, (args, p.err)
        no_traceback(p)
    assert not (tmp_path / "x.tar").exists()
    p = dy("image", "inspect", "--platform", "linux//x", busybox, check=False)
    assert p.returncode == 1 and "invalid platform" in p.err
    dy("tag", busybox, "other:1")
    assert dy("rmi", "--platform", "linux/amd64", "other:1").out.strip() == "Untagged: other:1"
    assert dy("images", "-q", busybox).out.strip()  # the refused rmi left the image


def _blob(tar, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
    return {"digest": f"sha256:{digest}", "size": len(data)}


def test_load_takes_the_named_platform_of_a_multi_platform_archive(dy, busybox, tmp_path):
    """An OCI layout tar whose index has an amd64 and an arm64 image (the same layers, the
    arm64 config's architecture changed): load takes the host's, --platform the one named."""
    saved = tmp_path / "oci.tar"
    dy("save", "--format", "oci", "-o", str(saved), busybox)
    with tarfile.open(saved) as src:
        files = {m.name: src.extractfile(m).read() for m in src.getmembers() if m.isfile()}
    index = json.loads(files["index.json"])
    mdesc = index["manifests"][0]
    manifest = json.loads(files["blobs/sha256/" + mdesc["digest"].split(":")[1]])
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    multi = tmp_path / "multi.tar"
    with tarfile.open(multi, "w") as tar:
        for name, data in files.items():
            if name.startswith("blobs/") or name == "oci-layout":
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        arm_config = _blob(tar, json.dumps(dict(config, architecture="arm64", variant="v8")).encode())
        arm_manifest = dict(manifest, config=dict(manifest["config"], **arm_config))
        arm = dict(_blob(tar, json.dumps(arm_manifest).encode()), mediaType=mdesc["mediaType"],
                   platform={"os": "linux", "architecture": "arm64", "variant": "v8"})
        amd = {"mediaType": mdesc["mediaType"], "digest": mdesc["digest"], "size": mdesc["size"],
               "platform": {"os": "linux", "architecture": "amd64"}}
        child = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [arm, amd]}
        top = {"schemaVersion": 2, "manifests": [dict(_blob(tar, json.dumps(child).encode()),
                                                      mediaType="application/vnd.oci.image.index.v1+json",
                                                      annotations={"io.containerd.image.name":
                                                                   "docker.io/library/multi:1"})]}
        data = json.dumps(top).encode()
        info = tarfile.TarInfo("index.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    arch = "{{.Architecture}}{{with .Variant}}/{{.}}{{end}}"
    assert dy("load", "-i", str(multi)).out.strip() == "Loaded image: multi:1"
    assert dy("image", "inspect", "-f", arch, "multi:1").out.strip() == "amd64"
    dy("rmi", "multi:1")
    assert dy("load", "--platform", "linux/arm64/v8", "-i", str(multi)).out.strip() == "Loaded image: multi:1"
    assert dy("image", "inspect", "-f", arch, "multi:1").out.strip() == "arm64/v8"
    dy("rmi", "multi:1")
    p = dy("load", "--platform", "linux/s390x", "-i", str(multi), check=False)
    assert p.returncode == 1 and "no image for platform linux/s390x" in p.err, p.err
    assert "multi" not in dy("images", "--format", "{{.Repository}}").out
