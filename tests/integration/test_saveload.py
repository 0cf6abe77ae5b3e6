"""`dockyard save` / `dockyard load`: docker-archive and OCI layout tars, round trips between two
stores, and the archives a load must refuse (corrupt layers, path tricks, garbage)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest


@pytest.fixture
def dy2(dy, tmp_path):
    """A second, empty store: the other side of a save → load."""
    return type(dy)(str(tmp_path / "root2"), str(tmp_path / "run2"))


def _image_id(d, name: str) -> str:
    return d("image", "inspect", "--format", "{{.Id}}", name).out.strip()


def _members(path: str) -> dict[str, bytes]:
    with tarfile.open(path) as t:
        return {m.name: (t.extractfile(m).read() if m.isfile() else b"") for m in t.getmembers()}


def _blobs(d) -> list[str]:
    base = os.path.join(d.root, "content", "blobs", "sha256")
    return sorted(os.listdir(base)) if os.path.isdir(base) else []


@pytest.fixture
def tiny(dy, tmp_path):
    """A second image, `tiny:1`: one small layer imported from a tarball."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = b"hello from tiny\n"
        ti = tarfile.TarInfo("hello.txt")
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    path = tmp_path / "tiny.tar"
    path.write_bytes(buf.getvalue())
    dy("import", str(path), "tiny:1")
    return "tiny:1"


def test_docker_archive_round_trip(dy, dy2, busybox, tmp_path):
    out = str(tmp_path / "bb.tar")
    dy("save", "-o", out, busybox)
    members = _members(out)
    manifest = json.loads(members["manifest.json"])
    assert len(manifest) == 1 and manifest[0]["RepoTags"] == ["busybox:latest"]
    cfg_name = manifest[0]["Config"]
    image_id = _image_id(dy, busybox)
    assert cfg_name == image_id.removeprefix("sha256:") + ".json"
    assert hashlib.sha256(members[cfg_name]).hexdigest() == image_id.removeprefix("sha256:")
    config = json.loads(members[cfg_name])
    layers = manifest[0]["Layers"]
    assert len(layers) == len(config["rootfs"]["diff_ids"])
    for path, diff_id in zip(layers, config["rootfs"]["diff_ids"]):
        assert path.endswith("/layer.tar")
        assert "sha256:" + hashlib.sha256(members[path]).hexdigest() == diff_id
        layer_dir = path.rsplit("/", 1)[0]
        assert members[f"{layer_dir}/VERSION"] == b"1.0"
        assert json.loads(members[f"{layer_dir}/json"])["id"] == layer_dir
    repos = json.loads(members["repositories"])
    assert repos == {"busybox": {"latest": layers[-1].rsplit("/", 1)[0]}}
    # deterministic: sorted entries, owner 0, mtimes no later than the image's creation
    with tarfile.open(out) as t:
        names = [m.name.rstrip("/") for m in t.getmembers()]
        assert names == sorted(names)
        assert all(m.uid == 0 and m.gid == 0 for m in t.getmembers())
    out2 = str(tmp_path / "bb2.tar")
    dy("save", "-o", out2, busybox)
    assert open(out, "rb").read() == open(out2, "rb").read()

    p = dy2("load", "-i", out)
    assert p.out.strip() == "Loaded image: busybox:latest"
    assert _image_id(dy2, busybox) == image_id
    assert dy2("run", "--rm", busybox, "echo", "loaded").out.strip() == "loaded"


def test_multi_image_archive(dy, dy2, busybox, tiny, tmp_path):
    out = str(tmp_path / "multi.tar")
    dy("save", "-o", out, busybox, tiny)
    manifest = json.loads(_members(out)["manifest.json"])
    assert [m["RepoTags"] for m in manifest] == [["busybox:latest"], ["tiny:1"]]
    p = dy2("load", "-i", out)
    assert p.out.splitlines() == ["Loaded image: busybox:latest", "Loaded image: tiny:1"]
    assert _image_id(dy2, tiny) == _image_id(dy, tiny)
    assert _image_id(dy2, busybox) == _image_id(dy, busybox)
    assert dy2("run", "--rm", busybox, "true").returncode == 0


def test_oci_round_trip(dy, dy2, busybox, tmp_path):
    out = str(tmp_path / "bb-oci.tar")
    dy("save", "--format", "oci", "-o", out, busybox)
    members = _members(out)
    assert json.loads(members["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(members["index.json"])
    (desc,) = index["manifests"]
    assert desc["annotations"]["io.containerd.image.name"] == "docker.io/library/busybox:latest"
    assert desc["annotations"]["org.opencontainers.image.ref.name"] == "latest"
    for name, data in members.items():
        if name.startswith("blobs/sha256/") and data:
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    manifest = json.loads(members["blobs/sha256/" + desc["digest"].split(":")[1]])
    assert manifest["config"]["digest"] == _image_id(dy, busybox)
    assert "manifest.json" not in members

    p = dy2("load", "-i", out)
    assert p.out.strip() == "Loaded image: busybox:latest"
    assert _image_id(dy2, busybox) == _image_id(dy, busybox)
    # the blobs arrive byte for byte: same manifest digest
    assert dy2("image", "inspect", "--format", "{{.Id}}", busybox).returncode == 0
    assert dy2("run", "--rm", busybox, "echo", "oci").out.strip() == "oci"


def test_gzipped_archive_and_stdio(dy, dy2, busybox, tmp_path):
    p = dy("save", busybox)  # to stdout
    raw = p.stdout
    assert tarfile.is_tarfile(io.BytesIO(raw)) if hasattr(tarfile, "is_tarfile") else True
    gz = tmp_path / "bb.tar.gz"
    gz.write_bytes(gzip.compress(raw))
    assert dy2("load", "-i", str(gz)).out.strip() == "Loaded image: busybox:latest"
    dy2("rmi", busybox)
    assert dy2("load", input=gzip.compress(raw)).out.strip() == "Loaded image: busybox:latest"
    dy2("rmi", busybox)
    assert dy2("load", input=raw).out.strip() == "Loaded image: busybox:latest"
    assert _image_id(dy2, busybox) == _image_id(dy, busybox)
    p = dy("save", "--format", "oci", busybox)
    dy2("rmi", busybox)
    assert dy2("load", "-q", input=p.stdout).out.strip() == "Loaded image: busybox:latest"


def _rewrite(src: str, dst: str, change) -> None:
    """Copy a tar, passing each member's data through `change(name, data) -> data`."""
    with tarfile.open(src) as t, tarfile.open(dst, "w") as o:
        for m in t.getmembers():
            data = t.extractfile(m).read() if m.isfile() else None
            if data is not None:
                data = change(m.name, data)
                m.size = len(data)
            o.addfile(m, io.BytesIO(data) if data is not None else None)


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_corrupt_layer_is_refused(dy, dy2, busybox, tmp_path, fmt):
    out = str(tmp_path / "bb.tar")
    dy("save", "--format", fmt, "-o", out, busybox)
    bad = str(tmp_path / "bad.tar")
    sizes = {n: len(d) for n, d in _members(out).items()}
    biggest = max(sizes, key=sizes.get)  # the layer

    def flip(name, data):
        if name != biggest:
            return data
        b = bytearray(data)
        b[len(b) // 2] ^= 0x01
        return bytes(b)

    _rewrite(out, bad, flip)
    p = dy2("load", "-i", bad, check=False)
    assert p.returncode != 0
    assert "dockyard: error:" in p.err and "Traceback" not in p.err
    assert "corrupt" in p.err or "digest" in p.err
    assert dy2("images", "-q").out.strip() == ""
    assert _blobs(dy2) == []  # nothing half-imported


def test_hostile_member_names_are_refused(dy2, tmp_path):
    outside = tmp_path / "escaped"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name in ("../escaped", f"../../{tmp_path.name}/escaped", str(outside)):
            ti = tarfile.TarInfo(name)
            ti.size = 3
            t.addfile(ti, io.BytesIO(b"pwn"))
        data = b"[]"
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    evil = tmp_path / "evil.tar"
    evil.write_bytes(buf.getvalue())
    os.makedirs(dy2.root, exist_ok=True)
    p = dy2("load", "-i", str(evil), check=False)
    assert p.returncode != 0 and "dockyard: error:" in p.err and "Traceback" not in p.err
    assert not outside.exists()
    assert not os.path.exists(os.path.join(os.path.dirname(dy2.root), "escaped"))
    assert _blobs(dy2) == []


def test_symlink_escape_is_refused(dy2, tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        ti = tarfile.TarInfo("manifest.json")
        ti.type, ti.linkname = tarfile.SYMTYPE, "../../../../etc/passwd"
        t.addfile(ti)
    p = dy2("load", input=buf.getvalue(), check=False)
    assert p.returncode != 0 and "dockyard: error:" in p.err and "Traceback" not in p.err


def test_save_missing_image_and_bad_input(dy, busybox, tmp_path):
    out = tmp_path / "x.tar"
    p = dy("save", "-o", str(out), busybox, "nosuchimage:9", check=False)
    assert p.returncode == 1 and "dockyard: error:" in p.err and "nosuchimage" in p.err
    assert not out.exists()
    p = dy("save", "--format", "zip", busybox, check=False)
    assert p.returncode != 0 and "dockyard: error:" in p.err
    p = dy("load", input=b"this is not a tar archive at all" * 40, check=False)
    assert p.returncode == 1 and "dockyard: error:" in p.err and "Traceback" not in p.err
    p = dy("load", input=b"", check=False)
    assert p.returncode == 1 and "dockyard: error:" in p.err and "Traceback" not in p.err
    p = dy("load", input=gzip.compress(b"\x00" * 1000)[:50], check=False)  # truncated gzip
    assert p.returncode == 1 and "dockyard: error:" in p.err and "Traceback" not in p.err
    p = dy("load", "-i", str(tmp_path / "missing.tar"), check=False)
    assert p.returncode == 1 and "dockyard: error:" in p.err and "Traceback" not in p.err


def test_load_moves_existing_tag_and_untagged_ids(dy, dy2, busybox, tiny, tmp_path):
    out = str(tmp_path / "bb.tar")
    dy("save", "-o", out, busybox)
    tiny_id = _image_id(dy, tiny)
    tiny_out = str(tmp_path / "tiny.tar")
    dy("save", "-o", tiny_out, tiny_id)  # by id: no RepoTags
    assert json.loads(_members(tiny_out)["manifest.json"])[0]["RepoTags"] in (None, [])
    assert dy2("load", "-i", tiny_out).out.strip() == f"Loaded image ID: {tiny_id}"
    dy2("tag", tiny_id, busybox)
    p = dy2("load", "-i", out)
    assert p.out.splitlines() == [
        f"The image busybox:latest already exists, renaming the old one with ID {tiny_id} to empty string",
        "Loaded image: busybox:latest"]
    assert _image_id(dy2, busybox) == _image_id(dy, busybox)
    assert _image_id(dy2, tiny_id) == tiny_id  # the old image stays, untagged


def test_output_to_a_device_fifo_or_link_writes_through_it_never_replaces_it(dy, busybox, tmp_path):
    """`save -o /dev/null` as root must not replace /dev/null with a regular file (a rename of a
    finished temp file over the target would): a device node, a fifo and a symlink named by -o
    are written through and stay what they are. Our own null device node stands in for the
    host's, so a regression cannot break the machine."""
    import stat
    import subprocess
    import threading

    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    real = tmp_path / "real.tar"
    real.write_bytes(b"old")
    link = tmp_path / "link.tar"
    os.symlink(real, link)
    cid = dy("create", "busybox", "true").out.strip()
    for args in (("save", "-o", str(null), "busybox"), ("export", "-o", str(null), cid)):
        dy(*args)
        st = os.lstat(null)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3), args
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    dy("save", "-o", str(fifo), "busybox")
    reader.join(30)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and got and got[0][257:262] == b"ustar"
    dy("export", "-o", str(link), cid)
    assert os.path.islink(link) and os.readlink(link) == str(real)
    with tarfile.open(real) as tf:
        assert "bin/busybox" in tf.getnames()
    assert [n for n in os.listdir(tmp_path) if n.startswith(".dockyard_temp_")] == []
    assert subprocess.run(["test", "-c", "/dev/null"]).returncode == 0
    dy("rm", cid)
