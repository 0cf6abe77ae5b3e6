"""`cp` and GET/PUT/HEAD /containers/{id}/archive below a volume's or a bind's mount point, as
Docker does them (its view: the container's rootfs with its volumes and binds mounted on it,
running or not; docker-py's ArchiveTest puts into and gets from `/vol1` of a created container).

The hostile cases plant symlinks *in a volume* naming host paths (`/etc`, a canary directory,
`../../..`): a copy through them must land in the container's own root, and the host's canary
files must be unchanged afterwards. No mount of the copy's view may be left behind.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
import uuid

from apiclient import api  # noqa: F401 - a fixture
from support import mounts_under, wait_for


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _names(data: bytes) -> dict[str, bytes]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf:
            out[m.name] = tf.extractfile(m).read() if m.isreg() else b""
    return out


def _no_view_left(dy) -> None:
    tmp = os.path.join(dy.root, "tmp")
    assert mounts_under(tmp) == [], "a mount of the copy's view was left"
    assert not os.path.isdir(tmp) or os.listdir(tmp) == []


def test_cp_both_ways_below_volume_and_bind_of_a_created_container(dy, busybox, tmp_path, name):
    bind = tmp_path / "bind"
    bind.mkdir()
    (bind / "there").write_text("from the bind\n")
    src = tmp_path / "payload"
    src.write_text("payload\n")
    dy("create", "--name", name, "-v", f"{name}-v:/vol1", "-v", f"{bind}:/data/b", busybox,
       "sh", "-c", "cat /vol1/payload /data/b/payload /vol1/renamed")
    dy("cp", str(src), f"{name}:/vol1/")  # into the volume's mount point itself
    dy("cp", str(src), f"{name}:/data/b/")  # into a bind below a directory the image lacks
    dy("cp", str(src), f"{name}:/vol1/renamed")
    assert (bind / "payload").read_text() == "payload\n"
    vol = dy("volume", "inspect", "-f", "{{.Mountpoint}}", f"{name}-v").out.strip()
    assert sorted(os.listdir(vol)) == ["payload", "renamed"]
    # out of them again, by file and by directory; and the whole filesystem holds them
    dy("cp", f"{name}:/data/b/there", str(tmp_path / "got"))
    assert (tmp_path / "got").read_text() == "from the bind\n"
    dy("cp", f"{name}:/vol1", str(tmp_path / "volcopy"))
    assert sorted(os.listdir(tmp_path / "volcopy")) == ["payload", "renamed"]
    whole = _names(dy("cp", f"{name}:/", "-").stdout)
    assert whole["vol1/payload"] == b"payload\n" and whole["data/b/there"] == b"from the bind\n"
    _no_view_left(dy)
    # the container sees what was copied where it was copied
    dy("start", "-a", name, timeout=60)
    assert dy("logs", name).out == "payload\n" * 3


def test_cp_into_read_only_mounts_is_refused_as_docker(dy, busybox, tmp_path, name):
    src = tmp_path / "payload"
    src.write_text("x")
    ro = tmp_path / "ro"
    ro.mkdir()
    dy("create", "--name", name, "-v", f"{name}-v:/ro:ro", "-v", f"{ro}:/robind:ro", "-v", f"{name}-w:/w",
       "--read-only", busybox, "sleep", "60")
    for dest in ("/ro/", "/ro/renamed", "/robind/"):
        p = dy("cp", str(src), f"{name}:{dest}", check=False)
        assert p.returncode == 1 and "mounted volume is marked read-only" in p.err, (dest, p.err)
    assert os.listdir(ro) == []
    # a writable volume of a --read-only container takes a copy, running or not (Docker 28)
    dy("cp", str(src), f"{name}:/w/")
    p = dy("cp", str(src), f"{name}:/", check=False)
    assert p.returncode == 1 and "container rootfs is marked read-only" in p.err
    dy("start", name)
    for dest in ("/ro/", "/robind/"):
        p = dy("cp", str(src), f"{name}:{dest}", check=False)
        assert p.returncode == 1 and "mounted volume is marked read-only" in p.err, (dest, p.err)
    dy("cp", str(src), f"{name}:/w/again")
    assert dy("exec", name, "ls", "/w").out.split() == ["again", "payload"]
    _no_view_left(dy)


def test_symlinks_in_a_volume_never_reach_the_host(dy, busybox, tmp_path, name):
    """A container plants links in its volume naming host paths; cp through them, stopped and
    running, writes and reads the container's own files (the link resolved in its root)."""
    canary_dir = tmp_path / "canary"
    canary_dir.mkdir()
    canary = canary_dir / "canary"
    canary.write_text("host canary\n")
    planted = f"dy-planted-{uuid.uuid4().hex[:8]}"
    dy("create", "--name", name, "--network", "none", "-v", f"{name}-v:/vol", busybox, "sh", "-c",
       f"ln -s /etc /vol/etclink; ln -s ../../../../../../../etc /vol/up; ln -s {canary_dir} /vol/canarydir; "
       f"ln -s {canary} /vol/canaryfile; echo container-passwd > /etc/passwd; exec sleep 1000")
    dy("start", name)
    wait_for(lambda: dy("exec", name, "cat", "/etc/passwd", check=False).out == "container-passwd\n",
             what="the links planted")
    dy("stop", "-t", "0", name)
    src = tmp_path / planted
    src.write_text("planted\n")
    for round_ in ("stopped", "running"):
        if round_ == "running":
            dy("start", name)
        dy("cp", str(src), f"{name}:/vol/etclink/")
        dy("cp", str(src), f"{name}:/vol/up/{planted}.up")
        assert not os.path.exists(f"/etc/{planted}") and not os.path.exists(f"/etc/{planted}.up")
        # a link to a host directory: no such directory inside the container, refused
        p = dy("cp", str(src), f"{name}:/vol/canarydir/", check=False)
        assert p.returncode == 1 and "Traceback" not in p.err
        # a link to a host file as the destination: resolved in the container, whose parent is missing
        p = dy("cp", str(src), f"{name}:/vol/canaryfile", check=False)
        assert p.returncode == 1 and "Traceback" not in p.err
        assert os.listdir(canary_dir) == ["canary"] and canary.read_text() == "host canary\n"
        # reading through the links gives the container's files, never the host's
        assert _names(dy("cp", "-L", f"{name}:/vol/etclink/passwd", "-").stdout) == \
            {"passwd": b"container-passwd\n"}
        p = dy("cp", "-L", f"{name}:/vol/canaryfile", str(tmp_path / "leak"), check=False)
        assert p.returncode == 1 and not (tmp_path / "leak").exists()
        # the copies landed in the container's /etc
        got = _names(dy("cp", f"{name}:/etc", "-").stdout)
        assert got[f"etc/{planted}"] == b"planted\n" and got[f"etc/{planted}.up"] == b"planted\n"
    dy("rm", "-f", name)
    _no_view_left(dy)


def test_archive_api_below_a_volume_of_a_created_container(api, dy, tmp_path):
    """docker-py's ArchiveTest: PUT into /vol1 of a created container, start it, GET and HEAD."""
    cid = api.json("POST", "/v1.44/containers/create?name=arch",
                   {"Image": "busybox", "Cmd": ["cat", "/vol1/data.txt"], "Volumes": {"/vol1": {}},
                    "HostConfig": {"NetworkMode": "none"}}, expect=201)["Id"]
    status, _, out = api.request("PUT", "/v1.44/containers/arch/archive?path=/vol1",
                                 body=_tar({"data.txt": b"Deaf To All But The Song"}),
                                 headers={"Content-Type": "application/x-tar"})
    assert status == 200, out
    status, headers, _ = api.request("HEAD", "/v1.44/containers/arch/archive?path=/vol1/data.txt")
    st = json.loads(base64.b64decode(headers["X-Docker-Container-Path-Stat"]))
    assert status == 200 and (st["name"], st["size"]) == ("data.txt", 24)
    status, _, out = api.request("GET", "/v1.44/containers/arch/archive?path=/vol1/data.txt")
    assert status == 200 and _names(out) == {"data.txt": b"Deaf To All But The Song"}
    api.json("POST", f"/v1.44/containers/{cid}/start", expect=204)
    assert api.json("POST", f"/v1.44/containers/{cid}/wait")["StatusCode"] == 0
    assert api.docker("logs", "arch").out == "Deaf To All But The Song"
    # a directory tree, through the docker CLI, into the stopped container's volume
    (tmp_path / "tree" / "foo").mkdir(parents=True)
    (tmp_path / "tree" / "foo" / "b.py").write_text("b")
    api.docker("cp", str(tmp_path / "tree") + "/.", "arch:/vol1")
    status, _, out = api.request("GET", "/v1.44/containers/arch/archive?path=/vol1")
    assert {"vol1/data.txt", "vol1/foo/b.py"} <= set(_names(out))
    # a read-only bind: refused with dockerd's words and status
    ro = tmp_path / "ro"
    ro.mkdir()
    api.json("POST", "/v1.44/containers/create?name=archro",
             {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Binds": [f"{ro}:/ro:ro"], "NetworkMode": "none"}},
             expect=201)
    status, _, out = api.request("PUT", "/v1.44/containers/archro/archive?path=/ro", body=_tar({"x": b"x"}),
                                 headers={"Content-Type": "application/x-tar"})
    assert status == 400 and json.loads(out)["message"] == "mounted volume is marked read-only"
    assert os.listdir(ro) == []
    api.docker("rm", "-f", "arch", "archro")
    _no_view_left(dy)
