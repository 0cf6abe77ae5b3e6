"""The store under pressure: concurrent CLIs, hostile and corrupt input, image bookkeeping.

Several `dockyard` processes share one store with no daemon, so every multi-step change must be
safe against the others; what comes from outside (tarballs, blobs on disk) is never trusted.
"""

from __future__ import annotations

import hashlib
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import uuid
from multiprocessing.pool import ThreadPool

import pytest
from support import listdir, mounts_under


# -- helpers -------------------------------------------------------------------------------------


def run_cli(dy, *args: str, input: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Like `dy(...)` but safe to call from threads and never raising on a non-zero exit."""
    p = subprocess.run(dy.cmd(*args), env=dy.env, capture_output=True, timeout=timeout, input=input)
    p.out = p.stdout.decode(errors="replace")
    p.err = p.stderr.decode(errors="replace")
    return p


def assert_no_containers_left(dy, tmp_path) -> None:
    assert dy("ps", "-aq").out == ""
    assert listdir(os.path.join(dy.root, "snapshots", "active")) == []
    assert listdir(os.path.join(dy.runroot, "containers")) == []
    assert mounts_under(str(tmp_path)) == []


def image_ids(dy) -> list[str]:
    return dy("images", "-q", "--no-trunc").out.split()


def blob_path(dy, digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    return os.path.join(dy.root, "content", "blobs", algo, hexpart)


def layer_of(dy, image: str) -> tuple[str, str]:
    """(layer blob digest, chain id) of a one-layer image, read from its manifest and config."""
    info = json.loads(dy("inspect", image).out)[0]
    with open(blob_path(dy, info["Descriptor"]["digest"])) as f:
        manifest = json.load(f)
    assert len(manifest["layers"]) == 1
    return manifest["layers"][0]["digest"], info["RootFS"]["Layers"][0]


def tar_bytes(entries, *, compress: bool = False) -> bytes:
    """entries: (kind, name, payload) with kind file|dir|symlink|hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for kind, name, payload in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1_600_000_000
            if kind == "file":
                ti.size = len(payload)
                ti.mode = 0o644
                tf.addfile(ti, io.BytesIO(payload))
                continue
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, payload
            elif kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, payload
            tf.addfile(ti)
    data = buf.getvalue()
    return gzip.compress(data, mtime=0) if compress else data


def rootfs_tar(dy, *, compress: bool) -> bytes:
    """The busybox image's files as a plain rootfs tarball (what `docker export` would give)."""
    fs_dirs = [os.path.join(dy.root, "snapshots", "layers", d, "fs")
               for d in listdir(os.path.join(dy.root, "snapshots", "layers"))]
    assert len(fs_dirs) == 1
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.add(fs_dirs[0], arcname=".")
    return gzip.compress(buf.getvalue()) if compress else buf.getvalue()


# -- a bootstrapped store, copied --------------------------------------------------------------


# -- concurrency ---------------------------------------------------------------------------------


def test_concurrent_run_rm(dy, busybox, tmp_path):
    """Two CLIs' worth of `run --rm` at once, ten each, all in parallel."""
    def one(i: int):
        return run_cli(dy, "run", "--rm", "busybox", "sh", "-c", f"echo {i} $HOSTNAME; echo data > /f; cat /f")

    with ThreadPool(20) as pool:
        results = pool.map(one, range(20))
    failures = [(p.returncode, p.err) for p in results if p.returncode != 0]
    assert failures == []
    hostnames = set()
    for i, p in enumerate(results):
        first, second = p.out.splitlines()
        n, hostname = first.split()
        assert int(n) == i and second == "data"
        hostnames.add(hostname)
    assert len(hostnames) == 20  # twenty distinct containers
    assert_no_containers_left(dy, tmp_path)


# The container init and the intermediate process that forked it report to the CLI over one pipe
# independently ("pid" from the intermediate, "ready" from the init). On a loaded machine the
# intermediate can be descheduled right after fork, so "ready" arrives first; starting must not
# depend on that order. Delaying the "pid" message makes the interleaving deterministic.
DELAYED_PID_MESSAGE = r"""
import sys, time
import dockyard.runtime.process as init
_send = init.send
def send(fd, **msg):
    if "pid" in msg:
        time.sleep(0.5)
    _send(fd, **msg)
init.send = send
from dockyard.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_start_does_not_depend_on_message_order(dy, busybox, tmp_path):
    p = subprocess.run([sys.executable, "-S", "-c", DELAYED_PID_MESSAGE, "run", "--rm", "busybox", "echo", "ok"],
                       env=dy.env, capture_output=True, timeout=60)
    assert (p.returncode, p.stdout, p.stderr) == (0, b"ok\n", b"")
    assert_no_containers_left(dy, tmp_path)


def test_concurrent_runs_with_the_same_name(dy, busybox, name, tmp_path):
    with ThreadPool(6) as pool:
        results = pool.map(lambda _: run_cli(dy, "run", "--name", name, "busybox", "true"), range(6))
    codes = sorted(p.returncode for p in results)
    assert codes == [0, 125, 125, 125, 125, 125], [(p.returncode, p.err) for p in results]
    for p in results:
        if p.returncode:
            assert "is already in use" in p.err and "Traceback" not in p.err
    assert len(dy("ps", "-aq").out.split()) == 1
    dy("rm", name)
    assert_no_containers_left(dy, tmp_path)


def test_concurrent_bootstrap(dy, tmp_path):
    with ThreadPool(2) as pool:
        results = pool.map(lambda _: run_cli(dy, "bootstrap", "busybox", "busybox:latest"), range(2))
    assert [p.returncode for p in results] == [0, 0], [p.err for p in results]
    ids = {p.out.strip() for p in results}
    assert len(ids) == 1 and re.fullmatch(r"sha256:[0-9a-f]{64}", ids.pop())
    assert len(image_ids(dy)) == 1
    assert len(listdir(os.path.join(dy.root, "snapshots", "layers"))) == 1
    assert listdir(os.path.join(dy.root, "snapshots", "tmp")) == []  # the loser's copy is gone
    assert len(listdir(os.path.join(dy.root, "content", "blobs", "sha256"))) == 3  # layer, config, manifest
    assert dy("run", "--rm", "busybox", "echo", "ok").out == "ok\n"


# -- hostile and corrupt input -------------------------------------------------------------------


SENTINEL = "dockyard-pwned-" + uuid.uuid4().hex[:8]


def _hostile_cases():
    return {
        "dotdot": ([("file", "ok", b"fine"), ("file", f"../{SENTINEL}", b"pwned")], f"../{SENTINEL}"),
        "hardlink-outside": ([("hardlink", "passwd", "/etc/passwd")], "passwd"),
    }


def test_import_keeps_symlinked_paths_inside(dy, tmp_path):
    """`a -> /` then `a/tmp/…`: a naive extractor writes the host's /tmp. Like Docker and
    containerd, dockyard resolves the symlink inside the layer's root (images rely on this:
    `var/run -> /run`), so the file lands in the image's own /tmp and nowhere else."""
    tar = tmp_path / "symlink.tar"
    tar.write_bytes(tar_bytes([("dir", "tmp", None), ("symlink", "a", "/"),
                               ("file", f"a/tmp/{SENTINEL}", b"contained")]))
    p = run_cli(dy, "import", str(tar), "evil:symlink")
    assert p.returncode == 0 and "Traceback" not in p.err, p.err
    assert not os.path.lexists(f"/tmp/{SENTINEL}") and not os.path.lexists(f"/{SENTINEL}")
    for base, dirs, files in os.walk(str(tmp_path)):
        if SENTINEL in files:
            assert base.endswith("/fs/tmp"), base  # inside an unpacked layer, under its own /tmp
    layers = listdir(os.path.join(dy.root, "snapshots", "layers"))
    assert len(layers) == 1
    inside = os.path.join(dy.root, "snapshots", "layers", layers[0], "fs", "tmp", SENTINEL)
    assert open(inside, "rb").read() == b"contained"


@pytest.mark.parametrize("case", ["dotdot", "hardlink-outside"])
def test_import_refuses_hostile_tars(dy, tmp_path, case):
    entries, culprit = _hostile_cases()[case]
    tar = tmp_path / f"{case}.tar"
    tar.write_bytes(tar_bytes(entries))
    passwd = os.stat("/etc/passwd")
    p = run_cli(dy, "import", str(tar), f"evil:{case}")
    assert p.returncode != 0
    assert "Traceback" not in p.err, p.err
    assert p.err.startswith("dockyard: error: "), p.err
    assert culprit in p.err  # names the entry
    # nothing was written outside: not next to the store, not at the symlink's target, not anywhere here
    assert not os.path.lexists(f"/tmp/{SENTINEL}") and not os.path.lexists(f"/{SENTINEL}")
    for base, dirs, files in os.walk(str(tmp_path)):
        assert SENTINEL not in dirs + files, base
        for f in files:
            st = os.lstat(os.path.join(base, f))
            assert (st.st_dev, st.st_ino) != (passwd.st_dev, passwd.st_ino), f"{base}/{f} is /etc/passwd"
    assert os.stat("/etc/passwd").st_nlink == passwd.st_nlink
    assert image_ids(dy) == []
    assert dy("images").out.splitlines()[1:] == []
    assert listdir(os.path.join(dy.root, "snapshots", "layers")) == []
    assert listdir(os.path.join(dy.root, "snapshots", "tmp")) == []


def test_import_refuses_garbage(dy, tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tarball at all\n" * 100)
    p = run_cli(dy, "import", str(junk), "junk:1")
    assert p.returncode != 0 and "Traceback" not in p.err and p.err.startswith("dockyard: error: ")
    assert image_ids(dy) == []


@pytest.mark.parametrize("where", ["gzip-header", "middle"])
def test_corrupt_layer_blob_is_refused(dy, busybox, tmp_path, where):
    digest, chain = layer_of(dy, "busybox")
    path = blob_path(dy, digest)
    original = open(path, "rb").read()
    data = bytearray(original)
    # byte 4 is the gzip header's mtime: the layer still decompresses to the very same tar, so
    # only checking the blob against its digest can notice
    data[4 if where == "gzip-header" else len(data) // 2] ^= 0xFF
    os.chmod(path, 0o644)
    with open(path, "wb") as f:
        f.write(data)
    layer_dir = os.path.join(dy.root, "snapshots", "layers", chain.partition(":")[2])
    assert os.path.isdir(layer_dir)
    shutil.rmtree(layer_dir)  # so the next run has to unpack the blob again
    p = dy("run", "--rm", "busybox", "true", check=False)
    assert p.returncode == 125, (p.returncode, p.err)
    assert "digest" in p.err.lower(), p.err
    assert "Traceback" not in p.err
    assert not os.path.exists(layer_dir)  # nothing unpacked from the bad blob
    assert listdir(os.path.join(dy.root, "snapshots", "tmp")) == []
    assert_no_containers_left(dy, tmp_path)
    with open(path, "wb") as f:  # repaired, it works again
        f.write(original)
    assert dy("run", "--rm", "busybox", "echo", "ok").out == "ok\n"


# -- import --------------------------------------------------------------------------------------


def test_import_gzip_tarball(dy, busybox, tmp_path):
    tar = tmp_path / "rootfs.tar.gz"
    tar.write_bytes(rootfs_tar(dy, compress=True))
    p = dy("import", str(tar), "imported:gz")
    image_id = p.out.strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image_id)
    info = json.loads(dy("inspect", "imported:gz").out)[0]
    assert info["Id"] == image_id and info["RepoTags"] == ["imported:gz"]
    assert len(info["RootFS"]["Layers"]) == 1 and info["Os"] == "linux"
    assert dy("run", "--rm", "imported:gz", "sh", "-c", "echo from gz; test -x /bin/busybox").out == "from gz\n"
    assert_no_containers_left(dy, tmp_path)


def test_import_from_stdin(dy, busybox, tmp_path):
    data = rootfs_tar(dy, compress=False)
    p = dy("import", "-", "imported:stdin", input=data)
    image_id = p.out.strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image_id)
    assert image_id in image_ids(dy)
    # the same files give the same layer as a plain tar from a file
    assert dy("run", "--rm", "imported:stdin", "cat", "/etc/passwd").out.startswith("root:x:0:0:")
    f = tmp_path / "rootfs.tar"
    f.write_bytes(data)
    again = json.loads(dy("inspect", json.loads(dy("inspect", dy("import", str(f)).out.strip()).out)[0]["Id"]).out)[0]
    assert again["RootFS"]["Layers"] == json.loads(dy("inspect", "imported:stdin").out)[0]["RootFS"]["Layers"]
    assert again["RepoTags"] == []  # no name given: an untagged image


def test_import_with_change(dy, busybox):
    dy("import", "--change", 'CMD ["echo", "hello from cmd"]', "--change", "ENV GREETING=hi", "-", "changed:1",
       input=rootfs_tar(dy, compress=True))
    cfg = json.loads(dy("inspect", "changed:1").out)[0]["Config"]
    assert cfg["Cmd"] == ["echo", "hello from cmd"] and "GREETING=hi" in cfg["Env"]
    assert dy("run", "--rm", "changed:1").out == "hello from cmd\n"


# -- tags and rmi --------------------------------------------------------------------------------


def deleted_lines(dy, ref) -> str:
    """The Deleted lines dockerd prints when an image goes: its ID, then its layers' chain IDs, top first."""
    info = json.loads(dy("inspect", ref).out)[0]
    chain, chains = None, []
    for diff_id in info["RootFS"]["Layers"]:
        chain = diff_id if chain is None else "sha256:" + hashlib.sha256(f"{chain} {diff_id}".encode()).hexdigest()
        chains.append(chain)
    return "".join(f"Deleted: {i}\n" for i in [info["Id"]] + chains[::-1])


def test_tag_and_rmi(dy, busybox, tmp_path):
    image_id = json.loads(dy("inspect", "busybox").out)[0]["Id"]
    gone = deleted_lines(dy, "busybox")
    dy("tag", "busybox", "mine:1")
    rows = [line.split() for line in dy("images").out.splitlines()[1:]]
    assert sorted((r[0], r[1], r[2]) for r in rows) == [("busybox", "latest", image_id[7:19]),
                                                         ("mine", "1", image_id[7:19])]
    # one of two tags: only the name goes
    p = dy("rmi", "mine:1")
    assert p.out == "Untagged: mine:1\n"
    assert image_ids(dy) == [image_id]
    dy("tag", "busybox", "mine:1")
    assert dy("rmi", "busybox").out == "Untagged: busybox:latest\n"
    assert json.loads(dy("inspect", "mine:1").out)[0]["RepoTags"] == ["mine:1"]
    # the last tag: untagged and deleted, with its blobs and layers
    p = dy("rmi", "mine:1")
    assert p.out == "Untagged: mine:1\n" + gone
    assert image_ids(dy) == []
    assert listdir(os.path.join(dy.root, "content", "blobs", "sha256")) == []
    assert listdir(os.path.join(dy.root, "snapshots", "layers")) == []
    p = dy("rmi", "mine:1", check=False)
    assert p.returncode == 1 and "No such image" in p.err and "Traceback" not in p.err


def test_rmi_of_an_image_in_use(dy, busybox, name, tmp_path):
    image_id = json.loads(dy("inspect", "busybox").out)[0]["Id"]
    gone = deleted_lines(dy, "busybox")
    dy("run", "--name", name, "busybox", "true")
    p = dy("rmi", "busybox", check=False)
    assert p.returncode == 1
    assert "conflict" in p.err and "(must force)" in p.err and "Traceback" not in p.err
    assert image_ids(dy) == [image_id]
    assert dy("run", "--rm", "busybox", "true").returncode == 0  # still usable
    dy("rm", name)
    assert dy("rmi", "busybox").out == "Untagged: busybox:latest\n" + gone
    assert image_ids(dy) == []
    assert_no_containers_left(dy, tmp_path)


def test_tag_errors(dy, busybox):
    p = dy("tag", "nosuch", "x:1", check=False)
    assert p.returncode == 1 and "No such image" in p.err and "Traceback" not in p.err
    p = dy("tag", "busybox", "Bad Name", check=False)
    assert p.returncode == 1 and "Traceback" not in p.err


# -- image inspect -------------------------------------------------------------------------------


def test_inspect_image(dy):
    image_id = dy("bootstrap", "busybox", "busybox:latest").out.strip()
    for args in (("inspect", "busybox"), ("image", "inspect", "busybox:latest"), ("inspect", image_id[7:19])):
        info = json.loads(dy(*args).out)
        assert len(info) == 1
        info = info[0]
        assert info["Id"] == image_id
        assert info["RepoTags"] == ["busybox:latest"]
        assert info["Config"]["Cmd"] == ["sh"]
        assert info["RootFS"]["Type"] == "layers"
        assert len(info["RootFS"]["Layers"]) == 1 and re.fullmatch(r"sha256:[0-9a-f]{64}", info["RootFS"]["Layers"][0])
        assert info["Architecture"] == {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine)
        assert info["Os"] == "linux"
        assert info["Size"] > 1_000_000
    p = dy("inspect", "nosuchimage", check=False)
    assert p.returncode == 1 and "No such object: nosuchimage" in p.err


def test_generated_name_taken_meanwhile_is_drawn_again(dy, busybox, monkeypatch):
    """docker's names are drawn from ~6,000: two concurrent creates can draw the same one (seen
    in test_concurrent_run_rm). The loser draws again instead of failing with a name conflict;
    a name the user gave still conflicts."""
    from dockyard.engine import names
    from dockyard.engine.config import ContainerConfig
    from dockyard.engine.containers import create
    from dockyard.engine.engine import Engine
    from dockyard.errors import NameInUse

    dy("create", "--name", "taken_one", "busybox", "true")
    draws = iter(["taken_one", "taken_one", "free_one"])
    monkeypatch.setattr(names, "random_name", lambda: next(draws))
    engine = Engine(dy.root, dy.runroot)
    cfg = ContainerConfig(image="busybox", cmd=("true",), network="none")
    created = create(engine, cfg)
    assert created.rec.name == "free_one"
    assert next(draws, None) is None  # drawn three times
    with pytest.raises(NameInUse):
        create(engine, cfg, "taken_one")
    engine.db.close()
    assert sorted(dy("ps", "-a", "--format", "{{.Names}}").out.split()) == ["free_one", "taken_one"]
    dy("rm", "free_one", "taken_one")
