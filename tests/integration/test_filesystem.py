"""`dockyard diff | export | commit | cp` end to end, with Docker's rules and outputs.

Stopped containers are read through their overlay mounted on a private temporary directory
(checked to be gone afterwards), running ones through /proc/<pid>/root. The symlink cases
plant links in the container that point at host paths (`/etc`, `/`, this test's tmp dir) and
check that the host is untouched and the copy lands inside the container.
"""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import tarfile
import time
import uuid

import pytest

EVIL_LINKS = "ln -s /etc /tmp/evil; ln -s / /tmp/root; ln -s ../../../../../../../etc /tmp/up"


# -- helpers -------------------------------------------------------------------------------------


def no_traceback(p) -> None:
    assert "Traceback" not in p.err, p.err
    assert "Traceback" not in p.out, p.out


def our_mounts(dy) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    root = os.path.realpath(dy.root)
    return [p for p in points if p.startswith(root + "/")]


def tar_names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return [m.name for m in tf.getmembers()]


def tar_members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name.rstrip("/"): m for m in tf.getmembers()}


def read_in(dy, name: str, path: str) -> bytes:
    """A file's content inside the container, via `cp CONTAINER:PATH -`."""
    p = dy("cp", f"{name}:{path}", "-")
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as tf:
        m = tf.next()
        assert m is not None and m.isreg(), m
        return tf.extractfile(m).read()


def exists_in(dy, name: str, path: str) -> bool:
    p = dy("cp", f"{name}:{path}", "-", check=False)
    no_traceback(p)
    return p.returncode == 0


def wait_for(pred, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def run_detached(dy, name: str, script: str, ready: str) -> None:
    """A running container that has done `script` (ready when `ready` exists in it)."""
    dy("run", "-d", "--name", name, "busybox", "sh", "-c", f"{script}; touch {ready}; sleep 30")
    wait_for(lambda: exists_in(dy, name, ready), what=f"{ready} in {name}")


def stopped(dy, name: str, script: str = "true") -> None:
    dy("run", "--name", name, "busybox", "sh", "-c", script)


@pytest.fixture(params=["stopped", "running"])
def state(request):
    return request.param


def container(dy, name: str, state: str, script: str = "true") -> None:
    if state == "running":
        run_detached(dy, name, script, "/tmp/.ready")
    else:
        stopped(dy, name, script)


def listing(dy, name: str, path: str) -> list[str]:
    """Paths below a container directory, via a tar on stdout."""
    return sorted(n.rstrip("/") for n in tar_names(dy("cp", f"{name}:{path}", "-").stdout))


# -- diff ----------------------------------------------------------------------------------------


def test_diff_lists_added_changed_deleted(dy, busybox, name):
    stopped(dy, name, "touch /new; rm /etc/group; mkdir /d")
    assert dy("diff", name).out.splitlines() == ["A /d", "C /etc", "D /etc/group", "A /new"]
    assert dy("container", "diff", name).out.splitlines() == ["A /d", "C /etc", "D /etc/group", "A /new"]


def test_diff_of_untouched_container_is_empty(dy, busybox, name):
    # the runtime's mount points (/etc/hosts, /etc/hostname, /etc/resolv.conf) are not changes
    stopped(dy, name, "true")
    assert dy("diff", name).out == ""


def test_diff_opaque_dir_is_changed_and_its_contents_added(dy, busybox, name):
    stopped(dy, name, "rm -rf /usr/bin && mkdir /usr/bin && touch /usr/bin/which /usr/bin/mine")
    assert dy("diff", name).out.splitlines() == ["C /usr", "C /usr/bin", "A /usr/bin/mine", "A /usr/bin/which"]


def test_diff_of_modified_file_and_running_container(dy, busybox, name):
    run_detached(dy, name, "echo more >> /etc/passwd; mkdir -p /var/x/y", "/ready")
    assert dy("diff", name).out.splitlines() == ["C /etc", "C /etc/passwd", "A /ready", "C /var", "A /var/x",
                                                 "A /var/x/y"]


def test_diff_unknown_container(dy, busybox):
    p = dy("diff", "nope", check=False)
    assert p.returncode == 1 and "No such container: nope" in p.err
    no_traceback(p)


# -- export --------------------------------------------------------------------------------------


def test_export_stopped_container(dy, busybox, name, tmp_path):
    stopped(dy, name, "echo hello > /exported; rm /etc/group; rm -rf /usr/bin; mkdir /usr/bin")
    data = dy("export", name).stdout
    names = [n.rstrip("/") for n in tar_names(data)]
    assert "exported" in names and "bin/busybox" in names and "etc/passwd" in names
    assert "etc/group" not in names
    assert not [n for n in names if ".wh." in n]
    assert not [n for n in names if n.startswith("usr/bin/")]  # the opaque dir hides the image's
    members = tar_members(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert tf.extractfile(members["exported"]).read() == b"hello\n"
    assert our_mounts(dy) == []

    out = tmp_path / "rootfs.tar"
    dy("container", "export", "-o", str(out), name)
    assert sorted(tar_names(out.read_bytes())) == sorted(tar_names(data))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dockyard_temp_")] == []
    assert our_mounts(dy) == []


def test_export_running_container(dy, busybox, name):
    run_detached(dy, name, "echo live > /running; rm /etc/passwd", "/ready")
    data = dy("export", name).stdout
    names = [n.rstrip("/") for n in tar_names(data)]
    assert "running" in names and "ready" in names and "bin/busybox" in names
    assert "etc/passwd" not in names
    assert not [n for n in names if ".wh." in n]
    # the container's own /proc, /sys and /dev are mount points, not its filesystem
    assert "proc" in names and not [n for n in names if n.startswith(("proc/", "sys/", "dev/"))]
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert tf.extractfile(tar_members(data)["running"]).read() == b"live\n"


def test_export_refuses_a_terminal(dy, busybox, name):
    stopped(dy, name)
    master, slave = pty.openpty()
    try:
        p = subprocess.run(dy.cmd("export", name), env=dy.env, stdout=slave, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert p.returncode == 1
    assert b"cowardly refusing to save to a terminal. Use the -o flag or redirect" in p.stderr


def test_export_unknown_container(dy, busybox, tmp_path):
    p = dy("export", "-o", str(tmp_path / "x.tar"), "nope", check=False)
    assert p.returncode == 1 and "No such container: nope" in p.err
    assert not (tmp_path / "x.tar").exists()
    assert [d for d in os.listdir(tmp_path) if d.startswith(".dockyard_temp_")] == []


# -- commit --------------------------------------------------------------------------------------


def test_commit_then_run(dy, busybox, name):
    stopped(dy, name, "echo data > /committed.txt; rm /etc/group")
    p = dy("commit", "-m", "my message", "-a", "Me <me@example.com>", "-c", 'CMD ["echo","committed"]',
           name, "mine:1")
    image_id = p.out.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    assert dy("run", "--rm", "mine:1").out == "committed\n"
    assert dy("run", "--rm", "mine:1", "cat", "/committed.txt").out == "data\n"
    r = dy("run", "--rm", "mine:1", "ls", "/etc/group", check=False)
    assert r.returncode != 0

    base = json.loads(dy("inspect", busybox).out)[0]
    img = json.loads(dy("inspect", "mine:1").out)[0]
    assert img["Id"] == image_id
    assert len(img["RootFS"]["Layers"]) == 2
    assert img["RootFS"]["Layers"][0] == base["RootFS"]["Layers"][0]
    assert img["Config"]["Cmd"] == ["echo", "committed"]
    assert img["Author"] == "Me <me@example.com>" and img["Comment"] == "my message"
    # docker commit's Parent: the container's image (docker-py's CommitTest); others have none
    assert img["Parent"] == base["Id"] and base["Parent"] == ""
    history = dy("history", "-q", "--no-trunc", "mine:1").out.split()
    assert history[0] == image_id and len(history) == len(dy("history", "-q", busybox).out.split()) + 1
    # a commit of a container of the committed image names that one
    dy("run", "--name", name + "-2", "mine:1", "true")
    child = dy("commit", name + "-2", "mine:2").out.strip()
    assert json.loads(dy("inspect", "mine:2").out)[0]["Parent"] == image_id
    dy("rm", name + "-2")
    # as dockerd: the parent's last tag goes, the parent stays (an intermediate image, listed by -a
    # only), and by ID it cannot go while it has a child; the child's removal takes it along
    assert dy("rmi", "mine:1").out == "Untagged: mine:1\n"
    assert json.loads(dy("inspect", child).out)[0]["Parent"] == image_id
    assert image_id[7:19] not in dy("images").out and image_id[7:19] in dy("images", "-a").out
    p = dy("rmi", image_id, check=False)
    assert p.returncode == 1 and "image has dependent child images" in p.err, p.err
    out = dy("rmi", "mine:2").out.splitlines()
    assert out[:2] == ["Untagged: mine:2", f"Deleted: {child}"] and f"Deleted: {image_id}" in out, out
    assert dy("images", "-aq").out.split() == [base["Id"][7:19]]


def test_rmi_no_prune_keeps_untagged_parents(dy, busybox, name):
    dy("run", "--name", name, "busybox", "sh", "-c", "echo 1 > /one")
    parent = dy("commit", name, "p:1").out.strip()
    dy("rm", name)
    dy("run", "--name", name, "p:1", "sh", "-c", "echo 2 > /two")
    child = dy("commit", name, "c:1").out.strip()
    dy("rm", name)
    dy("rmi", "p:1")
    out = dy("rmi", "--no-prune", "c:1").out
    assert f"Deleted: {child}" in out and parent not in out, out
    assert parent[7:19] in dy("images").out  # no child now: a dangling image, listed again
    assert dy("rmi", parent).out.startswith(f"Deleted: {parent}\n")


def test_commit_keeps_an_entrypoint_the_container_reset(dy, busybox, name):
    """`run --entrypoint ""` clears the image's entrypoint; the commit runs as the container did."""
    dy("commit", "-c", 'ENTRYPOINT ["echo", "from-entrypoint"]', stopped(dy, name + "-base") or name + "-base",
       "ep:1")
    assert dy("run", "--rm", "ep:1", "x").out == "from-entrypoint x\n"
    dy("run", "--name", name, "--entrypoint", "", "ep:1", "sh", "-c", "true")
    dy("commit", name, "ep:2")
    cfg = json.loads(dy("inspect", "ep:2").out)[0]["Config"]
    assert not cfg["Entrypoint"] and cfg["Cmd"] == ["sh", "-c", "true"], cfg
    assert dy("run", "--rm", "ep:2", "echo", "plain").out == "plain\n"


def test_commit_without_repository_and_of_running_container(dy, busybox, name):
    run_detached(dy, name, "echo hot > /hot.txt", "/ready")
    image_id = dy("container", "commit", name).out.strip()
    assert image_id.startswith("sha256:")
    assert dy("run", "--rm", image_id[7:19], "cat", "/hot.txt").out == "hot\n"
    assert image_id[7:19] in dy("images").out
    row = [r for r in dy("ps").out.splitlines() if r.endswith(name)]
    assert row and " Up " in row[0] and "Paused" not in row[0]  # paused for the commit only


def test_commit_bad_change_is_refused_before_anything_is_stored(dy, busybox, name):
    stopped(dy, name)
    before = dy("images", "-q").out
    p = dy("commit", "-c", "FROB x", name, "x:1", check=False)
    assert p.returncode == 1 and "frob is not a valid change command" in p.err
    no_traceback(p)
    assert dy("images", "-q").out == before


# -- cp: out of the container --------------------------------------------------------------------


def test_cp_out_files_and_dirs(dy, busybox, name, state, tmp_path):
    container(dy, name, state, "mkdir -p /data/sub && echo a > /data/a && echo b > /data/sub/b")
    out = tmp_path / "out"
    out.mkdir()
    dy("cp", f"{name}:/data/a", str(out) + "/")                 # file into a directory
    assert (out / "a").read_text() == "a\n"
    dy("cp", f"{name}:/data/a", str(out / "renamed"))           # file to a new name
    assert (out / "renamed").read_text() == "a\n"
    (out / "existing").write_text("old")
    dy("cp", f"{name}:/data/a", str(out / "existing"))          # file onto a file
    assert (out / "existing").read_text() == "a\n"
    dy("cp", f"{name}:/data", str(out / "newdir"))              # dir to a new name
    assert (out / "newdir" / "sub" / "b").read_text() == "b\n"
    dy("cp", f"{name}:/data", str(out / "newdir"))              # dir into an existing dir
    assert (out / "newdir" / "data" / "sub" / "b").read_text() == "b\n"
    (out / "contents").mkdir()
    dy("cp", f"{name}:/data/.", str(out / "contents"))          # /. copies the contents
    assert sorted(os.listdir(out / "contents")) == ["a", "sub"]
    dy("cp", f"{name}:/data/", str(out / "slash"))              # trailing / on a dir: the dir
    assert sorted(os.listdir(out / "slash")) == ["a", "sub"]
    subprocess.run(dy.cmd("cp", f"{name}:/data/sub/b", "."), env=dy.env, cwd=out, check=True,  # relative
                   capture_output=True, timeout=60)
    assert (out / "b").read_text() == "b\n"

    p = dy("cp", f"{name}:/data", str(out / "a"), check=False)   # dir onto a file
    assert p.returncode == 1 and "cannot copy a directory" in p.err
    p = dy("cp", f"{name}:/data/a/", str(out), check=False)      # a file named as a directory
    assert p.returncode == 1 and "not a directory" in p.err
    p = dy("cp", f"{name}:/nope", str(out), check=False)
    assert p.returncode == 1 and f"Could not find the file /nope in container {name}" in p.err
    no_traceback(p)
    p = dy("cp", f"{name}:/data/a", str(out / "missing" / "x"), check=False)
    assert p.returncode == 1 and "does not exist" in p.err
    no_traceback(p)
    assert our_mounts(dy) == []


def test_cp_out_to_stdout_is_a_tar(dy, busybox, name, state):
    container(dy, name, state, "mkdir -p /data/sub && echo a > /data/a && ln -s a /data/link")
    data = dy("cp", f"{name}:/data", "-").stdout
    m = tar_members(data)
    assert sorted(m) == ["data", "data/a", "data/link", "data/sub"]
    assert m["data/link"].issym() and m["data/link"].linkname == "a"
    assert sorted(tar_members(dy("cp", f"{name}:/data/.", "-").stdout)) == [".", "a", "link", "sub"]
    assert read_in(dy, name, "/data/a") == b"a\n"


def test_cp_ownership_out(dy, busybox, name, tmp_path):
    stopped(dy, name, "echo x > /owned && chown 1234:4321 /owned")
    dy("cp", f"{name}:/owned", str(tmp_path / "plain"))
    dy("cp", "-a", f"{name}:/owned", str(tmp_path / "kept"))
    st = os.lstat(tmp_path / "plain")
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())
    st = os.lstat(tmp_path / "kept")  # -a is for copies into a container: docker's CLI never chowns out
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())
    m = tar_members(dy("cp", f"{name}:/owned", "-").stdout)["owned"]
    assert (m.uid, m.gid) == (1234, 4321)


# -- cp: into the container ----------------------------------------------------------------------


def test_cp_in_files_and_dirs(dy, busybox, name, state, tmp_path):
    container(dy, name, state, "mkdir -p /dst/existing && echo old > /dst/file")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "f").write_text("f\n")
    (src / "sub" / "g").write_text("g\n")
    os.symlink("f", src / "link")
    os.chown(src / "f", 1234, 1234)

    dy("cp", str(src / "f"), f"{name}:/dst/")                   # file into a directory
    dy("cp", str(src / "f"), f"{name}:/dst/renamed")            # file to a new name
    dy("cp", str(src / "f"), f"{name}:/dst/file")               # file onto a file
    dy("cp", str(src), f"{name}:/dst/newdir")                   # dir to a new name
    dy("cp", str(src), f"{name}:/dst/existing")                 # dir into an existing dir
    dy("container", "cp", str(src) + "/.", f"{name}:/dst/contents")  # /. : the contents
    assert read_in(dy, name, "/dst/f") == b"f\n"
    assert read_in(dy, name, "/dst/renamed") == b"f\n"
    assert read_in(dy, name, "/dst/file") == b"f\n"
    assert listing(dy, name, "/dst/newdir") == ["newdir", "newdir/f", "newdir/link", "newdir/sub", "newdir/sub/g"]
    assert listing(dy, name, "/dst/existing") == ["existing", "existing/src", "existing/src/f", "existing/src/link",
                                                  "existing/src/sub", "existing/src/sub/g"]
    assert listing(dy, name, "/dst/contents") == ["contents", "contents/f", "contents/link", "contents/sub",
                                                  "contents/sub/g"]
    m = tar_members(dy("cp", f"{name}:/dst", "-").stdout)
    assert m["dst/newdir/link"].issym() and m["dst/newdir/link"].linkname == "f"
    assert (m["dst/f"].uid, m["dst/f"].gid) == (0, 0)             # root unless -a
    dy("cp", "-a", str(src / "f"), f"{name}:/dst/archived")
    m = tar_members(dy("cp", f"{name}:/dst/archived", "-").stdout)["archived"]
    assert (m.uid, m.gid) == (1234, 1234)

    p = dy("cp", str(src), f"{name}:/dst/file", check=False)     # dir onto a file
    assert p.returncode == 1 and "cannot copy a directory" in p.err
    p = dy("cp", str(src / "f"), f"{name}:/dst/nodir/", check=False)
    assert p.returncode == 1 and "no such directory" in p.err
    p = dy("cp", str(src / "f"), f"{name}:/nope/x", check=False)
    assert p.returncode == 1 and "Could not find the file /nope" in p.err
    p = dy("cp", str(tmp_path / "missing"), f"{name}:/", check=False)
    assert p.returncode == 1 and "no such file or directory" in p.err
    for p in (dy("cp", "a", "b", check=False), dy("cp", f"{name}:/a", f"{name}:/b", check=False),
              dy("cp", "x", "nope:/x", check=False)):
        assert p.returncode == 1
        no_traceback(p)
    assert our_mounts(dy) == []


def test_cp_in_then_run_sees_it(dy, busybox, name, tmp_path):
    dy("create", "--name", name, "busybox", "cat", "/etc/motd")
    (tmp_path / "motd").write_text("copied in before start\n")
    dy("cp", str(tmp_path / "motd"), f"{name}:/etc/")
    assert our_mounts(dy) == []
    dy("start", name)
    assert dy("wait", name).out.strip() == "0"
    assert dy("logs", name).out == "copied in before start\n"


def test_cp_tar_from_stdin(dy, busybox, name, state):
    container(dy, name, state)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for n, data in (("dir/a", b"A"), ("top", b"T")):
            ti = tarfile.TarInfo(n)
            ti.size, ti.uid, ti.gid = len(data), 777, 777
            tf.addfile(ti, io.BytesIO(data))
    dy("cp", "-", f"{name}:/tmp", input=buf.getvalue())
    assert read_in(dy, name, "/tmp/dir/a") == b"A" and read_in(dy, name, "/tmp/top") == b"T"
    assert tar_members(dy("cp", f"{name}:/tmp/top", "-").stdout)["top"].uid == 0

    p = dy("cp", "-", f"{name}:/etc/passwd", input=buf.getvalue(), check=False)
    assert p.returncode == 1 and "must be a directory" in p.err
    p = dy("cp", "-", f"{name}:/tmp", input=b"not a tar at all" * 64, check=False)
    assert p.returncode == 1
    no_traceback(p)
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tf:
        ti = tarfile.TarInfo("../../../../escape")
        tf.addfile(ti, io.BytesIO(b""))
    p = dy("cp", "-", f"{name}:/tmp", input=evil.getvalue(), check=False)
    assert p.returncode == 1 and "outside" in p.err
    assert not os.path.exists("/escape")


# -- cp: symlinks never reach the host -----------------------------------------------------------


def test_cp_in_through_planted_symlinks_stays_inside(dy, busybox, name, state, tmp_path):
    hostdir = tmp_path / "hostdir"
    hostdir.mkdir()
    container(dy, name, state, f"{EVIL_LINKS}; ln -s {hostdir} /tmp/hostdir; ln -s {hostdir}/f /tmp/hostfile")
    token = "dy-" + uuid.uuid4().hex[:12]
    src = tmp_path / token
    src.write_text("payload\n")
    srcdir = tmp_path / (token + "-dir")
    srcdir.mkdir()
    (srcdir / "inner").write_text("inner\n")
    try:
        dy("cp", str(src), f"{name}:/tmp/evil/")                 # /tmp/evil -> /etc
        dy("cp", str(srcdir), f"{name}:/tmp/evil")
        dy("cp", str(src), f"{name}:/tmp/root/etc/{token}-2")    # /tmp/root -> /
        dy("cp", str(src), f"{name}:/tmp/up/{token}-3")          # ../../../../etc
        for n in (token, f"{token}-2", f"{token}-3"):
            assert not os.path.lexists(f"/etc/{n}")
            assert read_in(dy, name, f"/etc/{n}") == b"payload\n"
        assert not os.path.lexists(f"/etc/{token}-dir")
        assert read_in(dy, name, f"/etc/{token}-dir/inner") == b"inner\n"
        # links to host paths resolve inside the container, where those paths do not exist
        for dest in ("/tmp/hostdir/", "/tmp/hostdir/x", "/tmp/hostfile"):
            p = dy("cp", str(src), f"{name}:{dest}", check=False)
            assert p.returncode == 1, dest
            no_traceback(p)
        assert os.listdir(hostdir) == []
    finally:
        for n in (token, f"{token}-2", f"{token}-3"):
            if os.path.lexists(f"/etc/{n}"):
                os.unlink(f"/etc/{n}")
    assert our_mounts(dy) == []


def test_cp_in_does_not_replace_a_planted_symlink_dir(dy, busybox, name, state, tmp_path):
    # a directory copied onto a symlink is an error (Docker's NoOverwriteDirNonDir), never a
    # write through it
    container(dy, name, state, "mkdir /tmp/d && ln -s /etc /tmp/d/sub")
    src = tmp_path / "d"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "passwd").write_text("owned\n")
    with open("/etc/passwd", "rb") as f:
        host_passwd = f.read()
    p = dy("cp", str(src), f"{name}:/tmp/", check=False)
    assert p.returncode == 1 and "cannot overwrite non-directory" in p.err
    no_traceback(p)
    with open("/etc/passwd", "rb") as f:
        assert f.read() == host_passwd
    assert read_in(dy, name, "/etc/passwd") != b"owned\n"


def test_cp_out_never_reads_host_files(dy, busybox, name, state, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("host secret\n")
    (tmp_path / "secretdir").mkdir()
    (tmp_path / "secretdir" / "s").write_text("host secret\n")
    container(dy, name, state, f"ln -s {secret} /tmp/leak; ln -s {tmp_path}/secretdir /tmp/leakdir; "
                               "mkdir /tmp/tree; ln -s / /tmp/tree/root")
    out = tmp_path / "out"
    out.mkdir()
    dy("cp", f"{name}:/tmp/leak", str(out / "leak"))           # the link itself, not its target
    assert os.readlink(out / "leak") == str(secret)
    for src in ("/tmp/leakdir/s", "/tmp/leakdir/", "/tmp/leakdir/.", "/tmp/tree/root" + str(secret)):
        p = dy("cp", f"{name}:{src}", str(out / "x"), check=False)
        assert p.returncode == 1 and "Could not find the file" in p.err, src
        assert not os.path.lexists(out / "x")
    p = dy("cp", "-L", f"{name}:/tmp/leak", str(out / "followed"), check=False)
    assert p.returncode == 1 and not os.path.lexists(out / "followed")
    data = dy("cp", f"{name}:/tmp/tree", "-").stdout               # a tree: links stay links
    assert b"host secret" not in data
    assert tar_members(data)["tree/root"].linkname == "/"
    dy("cp", "-L", f"{name}:/tmp/tree/root/etc/passwd", str(out / "passwd"))  # / is the container's
    assert (out / "passwd").read_bytes() == read_in(dy, name, "/etc/passwd")
    assert our_mounts(dy) == []
