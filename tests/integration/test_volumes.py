"""Volumes, bind mounts, tmpfs and `dockyard volume`, end to end (real mounts, as root).

Docker's behaviour is the reference: named volumes outlive containers, an image's VOLUME gets an
anonymous volume that `rm -v` and `--rm` remove, an empty volume is seeded from the image once
(`nocopy` turns that off), `-v` makes a missing host directory while `--mount` refuses it, and a
volume in use cannot be removed. Containers use `--network none`: nothing here needs a network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest
from support import HEX64, assert_nothing_left, mounts_under, no_traceback, run_d, wait_for

NONE = ("--network", "none")


def run(dy, *args, check=True):
    """`dockyard run --rm --network none ARGS…`"""
    return dy("run", "--rm", *NONE, *args, check=check, timeout=60)


def volumes(dy, *flags) -> list[str]:
    return dy("volume", "ls", "-q", *flags).out.split()


def inspect(dy, ref: str) -> dict:
    return json.loads(dy("inspect", ref).out)[0]


def build(dy, tmp_path, tag: str, dockerfile: str) -> None:
    ctx = tmp_path / f"ctx-{tag.replace(':', '-')}"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    dy("build", "-q", "-t", tag, str(ctx), timeout=120)


SEED_STEPS = """FROM busybox
RUN mkdir -p /data/sub && echo seeded > /data/seed && echo deep > /data/sub/f && ln -s seed /data/link \\
    && chown -R 1000:1000 /data && chmod 750 /data
"""


@pytest.fixture
def seedimg(dy, busybox, tmp_path):
    """An image with content at /data (owner 1000:1000, mode 750), no VOLUME."""
    build(dy, tmp_path, "seedimg", SEED_STEPS)
    return "seedimg"


@pytest.fixture
def volimg(dy, busybox, tmp_path):
    """The same content at /data, declared a VOLUME."""
    build(dy, tmp_path, "volimg", SEED_STEPS + "VOLUME /data\n")
    return "volimg"


# -- named volumes and binds ---------------------------------------------------------------------------------


def test_named_volume_keeps_a_databases_data_across_containers(dy, busybox, name, tmp_path):
    dy("run", *NONE, "--name", name, "-v", "dbdata:/var/lib/db", "busybox", "sh", "-c",
       "echo row1 >> /var/lib/db/table")
    assert volumes(dy) == ["dbdata"]
    dy("rm", "-v", name)  # -v removes anonymous volumes only: a named one stays
    assert volumes(dy) == ["dbdata"]
    out = run(dy, "-v", "dbdata:/var/lib/db", "busybox", "sh", "-c",
              "echo row2 >> /var/lib/db/table; cat /var/lib/db/table").out
    assert out.split() == ["row1", "row2"]
    mountpoint = json.loads(dy("volume", "inspect", "dbdata").out)[0]["Mountpoint"]
    assert mountpoint == os.path.join(dy.root, "volumes", "dbdata", "_data")
    with open(os.path.join(mountpoint, "table")) as f:
        assert f.read().split() == ["row1", "row2"]
    dy("volume", "rm", "dbdata")
    assert volumes(dy) == [] and not os.path.exists(os.path.join(dy.root, "volumes", "dbdata"))
    assert_nothing_left(dy, tmp_path)


def test_bind_mounts_read_only_and_read_write(dy, busybox, tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    (host / "in").write_text("from host\n")
    p = run(dy, "-v", f"{host}:/data:ro", "busybox", "sh", "-c", "cat /data/in; echo x > /data/f", check=False)
    assert p.returncode != 0 and "Read-only file system" in p.err, p.err
    assert p.out == "from host\n" and not (host / "f").exists()
    run(dy, "-v", f"{host}:/data", "busybox", "sh", "-c", "echo written > /data/f")
    assert (host / "f").read_text() == "written\n"
    # --mount, readonly; a single file; a destination the image does not have
    p = run(dy, "--mount", f"type=bind,source={host},target=/new/dir,readonly", "-v", f"{host}/in:/etc/motd",
            "busybox", "sh", "-c", "cat /etc/motd; grep ' /new/dir ' /proc/mounts; touch /new/dir/x", check=False)
    assert p.returncode != 0 and "Read-only file system" in p.err
    assert p.out.splitlines()[0] == "from host" and " ro," in p.out.splitlines()[1]
    # -v makes a missing host directory (docker's legacy behaviour)
    run(dy, "-v", f"{tmp_path}/made/here:/m", "busybox", "touch", "/m/ok")
    assert (tmp_path / "made" / "here" / "ok").exists()
    # a user mount at /etc/hosts replaces the default one
    assert run(dy, "-v", f"{host}/in:/etc/hosts:ro", "busybox", "cat", "/etc/hosts").out == "from host\n"
    assert volumes(dy) == []
    assert_nothing_left(dy, tmp_path)


# -- seeding ---------------------------------------------------------------------------------------------------


def test_empty_volume_is_seeded_from_the_image_once(dy, seedimg, tmp_path):
    out = run(dy, "-v", "sv:/data", seedimg, "sh", "-c",
              "stat -c '%u:%g %a' /data; cat /data/seed /data/sub/f; readlink /data/link").out
    assert out.splitlines() == ["1000:1000 750", "seeded", "deep", "seed"]
    data = os.path.join(dy.root, "volumes", "sv", "_data")
    st = os.stat(data)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (1000, 1000, 0o750)
    assert os.stat(os.path.join(data, "sub", "f")).st_uid == 1000
    # not seeded again: the volume is no longer empty
    run(dy, "-v", "sv:/data", seedimg, "sh", "-c", "rm -r /data/*; echo mine > /data/mine")
    assert run(dy, "-v", "sv:/data", seedimg, "ls", "/data").out.split() == ["mine"]
    # nocopy, both spellings; a bind mount is never seeded
    assert run(dy, "-v", "nc1:/data:nocopy", seedimg, "ls", "-A", "/data").out == ""
    assert run(dy, "--mount", "src=nc2,dst=/data,volume-nocopy", seedimg, "ls", "-A", "/data").out == ""
    (tmp_path / "empty").mkdir()
    assert run(dy, "-v", f"{tmp_path}/empty:/data", seedimg, "ls", "-A", "/data").out == ""
    # a volume made with `volume create` is seeded by its first container too
    dy("volume", "create", "pre")
    assert run(dy, "-v", "pre:/data", seedimg, "cat", "/data/seed").out == "seeded\n"
    # a multi-layer image: read through an overlay of its layers (whiteouts honoured)
    build(dy, tmp_path, "layered", f"FROM {seedimg}\nRUN rm /data/seed && echo top > /data/top\n")
    assert run(dy, "-v", "lv:/data", "layered", "ls", "/data").out.split() == ["link", "sub", "top"]
    assert sorted(volumes(dy)) == ["lv", "nc1", "nc2", "pre", "sv"]
    assert_nothing_left(dy, tmp_path)


# -- image VOLUME: anonymous volumes -------------------------------------------------------------------------------


def test_image_volume_gets_an_anonymous_volume(dy, volimg, name, tmp_path):
    assert dy("run", *NONE, "--name", name, volimg, "cat", "/data/seed").out == "seeded\n"
    (anon,) = volumes(dy)
    assert HEX64.fullmatch(anon)
    mounts = inspect(dy, name)["Mounts"]
    assert mounts == [{"Type": "volume", "Name": anon,
                       "Source": os.path.join(dy.root, "volumes", anon, "_data"), "Destination": "/data",
                       "Driver": "local", "Mode": "", "RW": True, "Propagation": ""}]
    assert json.loads(dy("volume", "inspect", anon).out)[0]["Labels"] == {"com.docker.volume.anonymous": ""}
    p = dy("volume", "rm", anon, check=False)
    assert p.returncode == 1 and f"remove {anon}: volume is in use - [{inspect(dy, name)['Id']}]" in p.err
    dy("rm", name)  # without -v the volume stays, dangling
    assert volumes(dy, "-f", "dangling=true") == [anon] and volumes(dy, "-f", "dangling=false") == []
    dy("run", *NONE, "--name", name, volimg, "true")
    second = (set(volumes(dy)) - {anon}).pop()
    assert volumes(dy, "-f", "dangling=false") == [second]
    dy("rm", "-v", name)
    assert volumes(dy) == [anon]
    run(dy, volimg, "true")  # --rm takes its anonymous volume along
    cid = run_d(dy, name, "true", flags=("--rm", *NONE))
    wait_for(lambda: name not in dy("ps", "-a").out, what="the --rm container to go")
    assert cid and volumes(dy) == [anon]
    run(dy, "-v", "named:/data", volimg, "true")  # a user mount at the VOLUME path: no anonymous volume
    assert volumes(dy) == sorted([anon, "named"])
    assert_nothing_left(dy, tmp_path)


def test_detached_container_restarts_with_the_same_volumes(dy, busybox, name, tmp_path):
    run_d(dy, name, "sh", "-c", "echo started >> /data/log; sleep 60", flags=(*NONE, "-v", "/data"))
    wait_for(lambda: "started" in dy("exec", name, "cat", "/data/log", check=False).out, what="the first start")
    (anon,) = volumes(dy)
    dy("stop", "-t", "0", name)
    dy("start", name)
    wait_for(lambda: dy("exec", name, "cat", "/data/log", check=False).out == "started\nstarted\n",
             what="the second start")
    assert volumes(dy) == [anon]  # `start` did not make another one
    dy("rm", "-f", "-v", name)
    assert volumes(dy) == []
    assert_nothing_left(dy, tmp_path)


# -- tmpfs and --volumes-from --------------------------------------------------------------------------------


def test_tmpfs(dy, busybox, tmp_path):
    out = run(dy, "--tmpfs", "/run", "--mount", "type=tmpfs,destination=/x,tmpfs-size=1m", "--tmpfs",
              "/big:exec,size=2m,mode=1777", "busybox", "sh", "-c",
              "grep -E ' /(run|x|big) ' /proc/mounts; stat -c %a /big").out
    mounts = {line.split()[1]: line.split() for line in out.splitlines()[:-1]}
    assert mounts["/run"][2] == "tmpfs"
    assert set(mounts["/run"][3].split(",")) >= {"rw", "nosuid", "nodev", "noexec"}
    assert "size=1024k" in mounts["/x"][3].split(",")
    big = mounts["/big"][3].split(",")
    assert "size=2048k" in big and "noexec" not in big and out.splitlines()[-1] == "1777"
    assert volumes(dy) == []
    assert_nothing_left(dy, tmp_path)


def test_volumes_from(dy, busybox, name, tmp_path):
    host = tmp_path / "h"
    host.mkdir()
    dy("run", *NONE, "--name", name, "-v", "shared:/shared", "-v", f"{host}:/h", "--tmpfs", "/t", "busybox",
       "sh", "-c", "echo hi > /shared/f; echo b > /h/b")
    out = run(dy, "--volumes-from", name, "busybox", "sh", "-c",
              "cat /shared/f /h/b; echo more > /shared/g; grep -c ' /t ' /proc/mounts || true").out
    assert out.split() == ["hi", "b", "0"]  # its volume and bind, not its tmpfs
    p = run(dy, "--volumes-from", f"{name}:ro", "busybox", "sh", "-c", "cat /shared/g; touch /shared/x", check=False)
    assert p.out == "more\n" and "Read-only file system" in p.err
    # a mount of the user's own at the same target wins
    assert run(dy, "--volumes-from", name, "-v", "other:/shared", "busybox", "ls", "-A", "/shared").out == ""
    p = run(dy, "--volumes-from", "nosuch", "busybox", "true", check=False)
    assert p.returncode == 125 and "No such container: nosuch" in p.err
    dy("rm", name)
    assert_nothing_left(dy, tmp_path)


# -- dockyard volume -----------------------------------------------------------------------------------------


def test_volume_commands(dy, busybox, name, tmp_path):
    assert dy("volume", "create", "beta").out == "beta\n"
    assert dy("volume", "create", "beta").out == "beta\n"  # docker's create is idempotent
    dy("volume", "create", "--label", "tier=db", "--name", "alpha")
    anon = dy("volume", "create").out.strip()
    assert HEX64.fullmatch(anon)
    lines = dy("volume", "ls").out.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["DRIVER", "VOLUME NAME"]
    assert [ln.split() for ln in lines[1:]] == [["local", v] for v in sorted([anon, "alpha", "beta"])]
    assert volumes(dy, "--filter", "label=tier=db") == ["alpha"]
    assert volumes(dy, "--filter", "label=tier") == ["alpha"]
    assert volumes(dy, "--filter", "name=et") == ["beta"]
    assert dy("volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Labels}}", "-f", "name=alpha").out == \
        "alpha local tier=db\n"
    info = json.loads(dy("volume", "inspect", "alpha").out)
    assert len(info) == 1 and set(info[0]) == {"CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options",
                                               "Scope"}
    assert info[0]["Driver"] == "local" and info[0]["Scope"] == "local" and info[0]["Labels"] == {"tier": "db"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info[0]["CreatedAt"])
    assert dy("volume", "inspect", "-f", "{{.Mountpoint}}", "beta").out.strip() == \
        os.path.join(dy.root, "volumes", "beta", "_data")
    p = dy("volume", "inspect", "nosuch", check=False)
    assert p.returncode == 1 and "get nosuch: no such volume" in p.err
    # in use by a stopped container: refused, with its id
    dy("create", *NONE, "--name", name, "-v", "beta:/b", "busybox", "true")
    cid = inspect(dy, name)["Id"]
    p = dy("volume", "rm", "beta", check=False)
    assert p.returncode == 1 and f"remove beta: volume is in use - [{cid}]" in p.err, p.err
    p = dy("volume", "rm", "nosuch", check=False)
    assert p.returncode == 1 and "no such volume" in p.err
    assert dy("volume", "rm", "-f", "nosuch").returncode == 0
    # prune: unused anonymous volumes only; -a: every unused one
    run(dy, "-v", "/anon", "busybox", "true")  # --rm removes it: nothing anonymous left from that
    dy("run", *NONE, "-v", "/kept", "--name", name + "x", "busybox", "sh", "-c", "echo 12345 > /kept/f")
    dy("rm", name + "x")
    (dangling,) = set(volumes(dy, "-f", "dangling=true")) - {anon, "alpha"}
    out = dy("volume", "prune", "-f").out
    assert out == f"Deleted Volumes:\n{dangling}\n\nTotal reclaimed space: 6B\n"
    assert dy("volume", "prune", "-f").out == "Total reclaimed space: 0B\n"
    assert dy("volume", "prune", "-f", "--filter", "label=tier=db", "-a").out.startswith("Deleted Volumes:\nalpha\n")
    out = dy("volume", "prune", "-a", input="y\n").out
    assert out.startswith("WARNING! This will remove all local volumes not used by at least one container.")
    assert anon in out and "beta" not in out
    assert volumes(dy) == ["beta"]
    dy("rm", name)
    dy("volume", "rm", "beta")
    assert volumes(dy) == []
    assert_nothing_left(dy, tmp_path)


# -- bad input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (("-v", "relative/path:/x"), '"relative/path" includes invalid characters for a local volume name'),
    (("--mount", "type=bind,source=/nonexistent-dockyard,target=/x"),
     'invalid mount config for type "bind": bind source path does not exist: /nonexistent-dockyard'),
    (("-v", "v1:/x", "-v", "v2:/x"), "Duplicate mount point: /x"),
    (("-v", "/tmp:/x", "--tmpfs", "/x"), "Duplicate mount point: /x"),
    (("-v", "-bad:/x"), "includes invalid characters for a local volume name"),
    (("-v", "v1:relative"), "invalid mount path: 'relative' mount path must be absolute"),
    (("--mount", "type=volume,src=v1,target=/x,colour=red"), "unexpected key 'colour' in 'colour=red'"),
    (("--mount", "type=volume,src=v1"), "target is required"),
    (("-v", "v1:/x:sideways"), "invalid mode: sideways"),
    (("--tmpfs", "/x:bogus"), "Invalid tmpfs option"),
])
def test_bad_mounts_are_refused_before_anything_is_made(dy, busybox, tmp_path, args, message):
    p = dy("run", "--rm", *NONE, *args, "busybox", "true", check=False)
    assert p.returncode == 125, p.err
    assert message in p.err, p.err
    no_traceback(p)
    assert volumes(dy) == []
    assert_nothing_left(dy, tmp_path)


def test_failed_create_makes_no_volume(dy, busybox, name, tmp_path):
    dy("create", *NONE, "--name", name, "busybox", "true")
    p = dy("create", *NONE, "--name", name, "-v", "newvol:/d", "-v", "/anon", "busybox", "true", check=False)
    assert p.returncode == 1 and "is already in use" in p.err  # docker create's code for a name conflict
    assert volumes(dy) == [] and os.listdir(os.path.join(dy.root, "volumes")) == []
    dy("rm", name)
    assert_nothing_left(dy, tmp_path)


# -- user namespaces -----------------------------------------------------------------------------------------


@pytest.fixture
def open_roots(dy, busybox):
    """The test's store moved under a directory every uid can traverse (pytest's tmp dir is 0700,
    and a user-namespaced container mounts its volumes as an unprivileged host uid)."""
    base = tempfile.mkdtemp(prefix="dockyard-vol-userns-", dir="/tmp")
    os.chmod(base, 0o755)
    subprocess.run(["cp", "-a", dy.root, os.path.join(base, "root")], check=True)
    saved = dy.root, dy.runroot, dict(dy.env)
    dy.root, dy.runroot = os.path.join(base, "root"), os.path.join(base, "run")
    dy.env.update(DOCKYARD_ROOT=dy.root, DOCKYARD_RUNROOT=dy.runroot)
    yield base
    ids = dy("ps", "-aq", "--no-trunc", check=False).out.split()
    if ids:
        dy("rm", "-f", *ids, check=False)
    from dockyard.engine.engine import Engine
    from dockyard.engine.networking import reset

    reset(Engine(dy.root, dy.runroot))  # the build's RUN steps made this store's default bridge
    for p in sorted(mounts_under(base), key=len, reverse=True):
        subprocess.run(["umount", "-l", p], stderr=subprocess.DEVNULL)
    shutil.rmtree(base, ignore_errors=True)
    dy.root, dy.runroot, dy.env = saved  # the `dy` fixture's own clean-up runs after this one


def test_userns_volumes_belong_to_the_shifted_root(dy, open_roots, tmp_path):
    build(dy, tmp_path, "seedimg", SEED_STEPS)
    out = run(dy, "--userns", "auto", "-v", "uv:/data", "-v", "empty:/e", "seedimg", "sh", "-c",
              "stat -c '%u:%g' /data /data/seed /e; echo w > /data/w; echo e > /e/e").out
    assert out.split() == ["1000:1000", "1000:1000", "0:0"]
    vols = os.path.join(dy.root, "volumes")
    assert os.stat(os.path.join(vols, "uv", "_data")).st_uid == 101000
    assert os.stat(os.path.join(vols, "uv", "_data", "seed")).st_uid == 101000
    assert os.stat(os.path.join(vols, "uv", "_data", "w")).st_uid == 100000
    assert os.stat(os.path.join(vols, "empty", "_data", "e")).st_uid == 100000
    assert mounts_under(open_roots) == []


def test_userns_volumes_under_a_private_root_are_refused_clearly(dy, busybox, tmp_path):
    os.chmod(str(tmp_path), 0o700)
    p = run(dy, "--userns", "auto", "-v", "uv:/data", "busybox", "true", check=False)
    assert p.returncode == 125
    assert "--userns auto needs every directory above" in p.err and str(tmp_path) in p.err, p.err
    no_traceback(p)
    assert volumes(dy) == []
    assert_nothing_left(dy, tmp_path)
