"""Fault injection: a full disk, and commands killed (SIGKILL, SIGTERM, SIGHUP, SIGINT) at varied
points. After each, the host and the store are checked, not only exit codes: the database's
integrity, every blob's digest, temps left in the store, cgroup freezer states, mounts, runc's
init processes and state, and container records.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import time

import pytest
from support import CREATED, cgroup_dirs, container_processes, listdir, monitors_of, mounts_under, wait_for

# -- helpers -------------------------------------------------------------------------------------


def _spawn(dy, *args: str) -> subprocess.Popen:
    """The CLI in the background, its stderr in a file: not a pipe, which a container that
    inherited it (runc's init) would hold open after the CLI is killed."""
    import tempfile

    err = tempfile.TemporaryFile()
    p = subprocess.Popen(dy.cmd(*args), env=dy.env, stdout=subprocess.DEVNULL, stderr=err,
                         stdin=subprocess.DEVNULL)
    p.err_file = err  # type: ignore[attr-defined]
    return p


def _kill(p: subprocess.Popen, sig: int) -> str:
    """Signal the CLI, wait for it; its stderr."""
    try:
        p.send_signal(sig)
    except ProcessLookupError:
        pass
    p.wait(timeout=60)
    p.err_file.seek(0)
    return p.err_file.read().decode(errors="replace")


def _connect(dy) -> sqlite3.Connection:
    """The store's database, read as dockyard reads it (on a full disk without WAL's -shm)."""
    path = os.path.join(dy.root, "state.db")
    con = sqlite3.connect(path, timeout=30)
    try:
        con.execute("SELECT 1 FROM containers LIMIT 1").fetchall()
    except sqlite3.OperationalError:
        con.close()
        con = sqlite3.connect(path, timeout=30)
        con.execute("PRAGMA locking_mode = EXCLUSIVE")
    return con


def _db_rows(dy) -> list[tuple[str, dict, dict]]:
    """(id, config, state) straight from the database, as no command would repair it first."""
    con = _connect(dy)
    try:
        return [(i, json.loads(c), json.loads(s)) for i, c, s in con.execute("SELECT id, config, state FROM containers")]
    finally:
        con.close()


def assert_store_consistent(dy) -> None:
    """The database passes its integrity check and every blob still hashes to its name."""
    con = _connect(dy)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
    blobs = os.path.join(dy.root, "content", "blobs", "sha256")
    for name in listdir(blobs):
        h = hashlib.sha256()
        with open(os.path.join(blobs, name), "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        assert h.hexdigest() == name, f"blob {name} is corrupt"


def temps(dy) -> list[str]:
    """Every temp a command keeps in the store while it works (and a killed one leaves)."""
    out = []
    for d in ("content/ingest", "snapshots/tmp", "tmp"):
        out += [f"{d}/{n}" for n in listdir(os.path.join(dy.root, d))]
    return out


def frozen(cid: str) -> bool:
    for d in cgroup_dirs(cid):
        for f, value in (("freezer.state", "FROZEN"), ("cgroup.freeze", "1")):
            try:
                with open(os.path.join(d, f)) as fh:
                    if fh.read().strip() == value:
                        return True
            except OSError:
                continue
    return False


def runc_inits(path) -> list[int]:
    """runc's init processes of this test's containers (their mounts name `path`)."""
    out = []
    for pid in container_processes(str(path)):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if os.path.basename(argv[0]) == b"runc" and argv[1:2] == [b"init"]:
            out.append(pid)
    return out


def store_on(dy, tmp_path, template: str, size_mb: int = 32):
    """A second store for `dy`'s test whose root is on its own small tmpfs (unmounted by the
    caller's `finally`)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(disk)], check=True)
    root = disk / "root"
    subprocess.run(["cp", "-a", template, str(root)], check=True)
    return type(dy)(str(root), str(tmp_path / "run-disk")), disk  # the `dy` fixture cleans it up too


def fill(disk) -> None:
    """Take every free byte of the file system (files removed again by `unfill`)."""
    for name, chunk in (("filler", 1 << 16), ("filler2", 512)):  # then the last partial blocks
        fd = os.open(disk / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * chunk)
        except OSError:
            pass
        finally:
            os.close(fd)


def unfill(disk) -> None:
    for n in ("filler", "filler2"):
        try:
            os.unlink(disk / n)
        except FileNotFoundError:
            pass


def unmount(st, disk) -> None:
    """Remove the store's containers and networks (bridges and rules are host-wide), then its
    file system."""
    from dockyard.engine.engine import Engine
    from dockyard.engine.networking import reset

    unfill(disk)
    ids = st("ps", "-aq", "--no-trunc", check=False).out.split()
    if ids:
        st("rm", "-f", *ids, check=False)
    reset(Engine(st.root, st.runroot))
    subprocess.run(["umount", "-l", str(disk)], stderr=subprocess.DEVNULL)


# -- 14: a full disk: clear errors, nothing half-done -------------------------------------------


FULL_DISK_COMMANDS = [
    (("run", "--rm", "busybox", "echo", "hi"), 125),
    (("run", "-d", "--name", "d1", "busybox", "sleep", "5"), 125),
    (("create", "--name", "c1", "busybox", "true"), 1),  # docker create: 1 for what the daemon refuses
    (("create", "--name", "c2", "-v", "/data", "busybox", "true"), 1),
    (("start", "keep"), 1),
    (("tag", "busybox:latest", "other:1"), 1),
    (("volume", "create", "v1"), 1),
    (("network", "create", "faultnet"), 1),
    (("commit", "keep", "snap:1"), 1),
    (("rename", "keep", "kept"), 1),
]


def test_full_disk_gives_clear_errors_and_changes_nothing(dy, tmp_path, _busybox_template):
    st, disk = store_on(dy, tmp_path, _busybox_template)
    try:
        st("create", "--name", "keep", "busybox", "sh", "-c", "echo kept > /f")
        os.unlink(os.path.join(st.root, "state.db.reserve"))  # made by the first command; spent
        before = _db_rows(st)
        fill(disk)
        for args, code in FULL_DISK_COMMANDS:
            p = st(*args, check=False)
            assert "Traceback" not in p.err + p.out, p.err
            assert p.returncode == code, (args, p.returncode, p.err)
            assert "no space left on device" in p.err, (args, p.err)
        # reading works on a full disk (ps, images, inspect), so space can be found and freed
        assert st("ps", "-a", "--format", "{{.Names}}").out.split() == ["keep"]
        assert "busybox" in st("images").out
        assert [r[0] for r in _db_rows(st)] == [r[0] for r in before]
        assert listdir(os.path.join(st.root, "volumes")) == []
        assert listdir(os.path.join(st.runroot, "containers")) == [before[0][0]]
        assert listdir(os.path.join(st.root, "snapshots", "active")) == [before[0][0]]
        assert temps(st) == []
        ls = st("network", "ls", "--format", "{{.Name}}")  # lists on a full disk too
        assert "faultnet" not in ls.out.split()
        assert_store_consistent(st)
        unfill(disk)
        # once space returns everything works again, and the reserve is made again
        assert st("run", "--rm", "busybox", "echo", "back").out == "back\n"
        assert os.path.getsize(os.path.join(st.root, "state.db.reserve")) == 1 << 20
        st("rm", "keep")
    finally:
        unmount(st, disk)


def test_full_disk_cleanup_spends_the_reserve(dy, tmp_path, _busybox_template):
    """A change that must not stay half-done (the --rm of a container that ran, the undo of a
    create) gets the database's reserve when the disk is full."""
    st, disk = store_on(dy, tmp_path, _busybox_template)
    try:
        st("images")  # makes the reserve
        assert os.path.exists(os.path.join(st.root, "state.db.reserve"))
        fill(disk)
        for _ in range(3):
            p = st("run", "--rm", "busybox", "echo", "hi", check=False)
            assert "Traceback" not in p.err, p.err
            assert p.returncode in (0, 125), p.err
            assert _db_rows(st) == []  # ran and removed, or never made: nothing in between
            assert listdir(os.path.join(st.runroot, "containers")) == []
            assert listdir(os.path.join(st.root, "snapshots", "active")) == []
        assert temps(st) == []
        assert mounts_under(str(tmp_path / "run-disk")) == []
        assert_store_consistent(st)
    finally:
        unmount(st, disk)


# -- 13: the monitor survives a full disk -------------------------------------------------------


def test_monitor_survives_full_disk(dy, tmp_path, _busybox_template):
    st, disk = store_on(dy, tmp_path, _busybox_template)
    try:
        script = ("i=0; while [ $i -lt 80 ]; do echo line$i-" + "x" * 150 + "; i=$((i+1)); sleep 0.05; done; "
                  "echo last; exit 3")
        cid = st("run", "-d", "--name", "chat", "busybox", "sh", "-c", script).out.strip()
        CREATED.append(cid)
        mon = monitors_of(st.root)
        assert len(mon) == 1
        wait_for(lambda: b"line3-" in open(os.path.join(st.root, "containers", cid, f"{cid}-json.log"), "rb").read())
        os.unlink(os.path.join(st.root, "state.db.reserve"))
        fill(disk)
        time.sleep(1.5)  # the container writes ~30 lines that cannot be logged
        assert all(os.path.exists(f"/proc/{m}") for m in mon), "the monitor died of a full disk"
        unfill(disk)
        wait_for(lambda: json.loads(st("inspect", "chat").out)[0]["State"]["Status"] == "exited", timeout=20)
        state = json.loads(st("inspect", "chat").out)[0]["State"]
        assert state["ExitCode"] == 3 and state["FinishedAt"] != "0001-01-01T00:00:00Z"
        logs = st("logs", "chat")
        out = logs.out.splitlines()
        assert out[0].startswith("line0-") and out[-1] == "last"
        assert "bytes of log output were dropped: no space left on device" in logs.err
        assert len(out) < 81  # some really were dropped
        # the log file holds no torn record: every line is whole JSON
        with open(os.path.join(st.root, "containers", cid, f"{cid}-json.log"), "rb") as f:
            for line in f:
                json.loads(line)

        # an exit while the disk is full is recorded once there is space again
        cid2 = st("run", "-d", "--name", "quick", "busybox", "sh", "-c", "sleep 1; exit 7").out.strip()
        CREATED.append(cid2)
        os.unlink(os.path.join(st.root, "state.db.reserve"))
        fill(disk)
        time.sleep(2.5)
        assert len(monitors_of(st.root)) == 1, "the monitor gave up while the disk was full"
        unfill(disk)
        wait_for(lambda: _db_rows(st) and {r[0]: r[2] for r in _db_rows(st)}[cid2].get("Status") == "exited",
                 timeout=20, what="the exit recorded")
        assert {r[0]: r[2] for r in _db_rows(st)}[cid2]["ExitCode"] == 7
        wait_for(lambda: monitors_of(st.root) == [], what="the monitor to leave")
        st("rm", "chat", "quick")
    finally:
        unmount(st, disk)


# -- 15: an interrupted commit leaves the container running ---------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGKILL])
def test_interrupted_commit_leaves_container_running(dy, busybox, sig):
    cid = dy("run", "-d", "--name", "busy", "busybox", "sh", "-c",
             "head -c 40000000 /dev/urandom > /big; echo ready; sleep 1000").out.strip()
    CREATED.append(cid)
    wait_for(lambda: "ready" in dy("logs", "busy").out, timeout=30)
    p = _spawn(dy, "commit", "busy", "snap:1")
    wait_for(lambda: frozen(cid), timeout=30, interval=0.005, what="commit to freeze the container")
    time.sleep(random.uniform(0, 0.3))
    assert p.poll() is None, "commit ended before it could be interrupted"
    err = _kill(p, sig)
    assert p.returncode == -sig or p.returncode == 128 + sig or (sig == signal.SIGINT and p.returncode == 130), \
        p.returncode
    row = {r[0]: r[2] for r in _db_rows(dy)}[cid]
    if sig == signal.SIGKILL:  # nothing runs in a SIGKILLed process: the next command repairs
        assert frozen(cid) and row["Status"] == "paused" and row["PausedBy"]
        assert dy("ps", "--format", "{{.Status}}").out.startswith("Up")
        row = {r[0]: r[2] for r in _db_rows(dy)}[cid]
    else:  # caught: unpaused on the way out, before anyone else looks
        assert "Traceback" not in err, err
    assert not frozen(cid)
    assert row["Status"] == "running" and not row["Paused"] and not row.get("PausedBy")
    # the container really runs: it answers an exec
    assert dy("exec", "busy", "echo", "alive").out == "alive\n"
    assert "snap" not in dy("images").out  # no image half-made
    dy("images")
    assert temps(dy) == []  # the killed commit's layer temp is reclaimed by the next command
    assert_store_consistent(dy)
    dy("rm", "-f", "busy")


def test_commit_under_nohup_goes_on_after_sighup(dy, busybox):
    """A commit started with SIGHUP ignored (nohup) is not cut short by it: the image is made and
    the container runs on, unfrozen."""
    cid = dy("run", "-d", "--name", "busy", "busybox", "sh", "-c",
             "head -c 40000000 /dev/urandom > /big; echo ready; sleep 1000").out.strip()
    CREATED.append(cid)
    wait_for(lambda: "ready" in dy("logs", "busy").out, timeout=30)
    p = subprocess.Popen(["env", "--ignore-signal=HUP", *dy.cmd("commit", "busy", "snap:1")], env=dy.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    wait_for(lambda: frozen(cid), timeout=30, interval=0.005, what="commit to freeze the container")
    p.send_signal(signal.SIGHUP)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert out.decode().startswith("sha256:") and "snap" in dy("images").out
    assert not frozen(cid)
    assert dy("exec", "busy", "echo", "alive").out == "alive\n"
    assert_store_consistent(dy)
    dy("rm", "-f", "busy")


# -- 16: temps of killed commands are reclaimed, a live command's never ------------------------


def _feed(p: subprocess.Popen, data: bytes) -> None:
    p.stdin.write(data)
    p.stdin.flush()


def _tar_of(size: int) -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("big")
        ti.size = size
        tf.addfile(ti, io.BytesIO(os.urandom(size)))
    return buf.getvalue()


def test_killed_import_and_load_temps_are_reclaimed_live_ones_kept(dy, busybox, tmp_path):
    data = _tar_of(8 << 20)
    saved = str(tmp_path / "busybox.tar")
    dy("save", "-o", saved, "busybox")
    kills = ((("import", "-", "killed:1"), signal.SIGKILL), (("load",), signal.SIGTERM),
             (("import", "-", "killed:2"), signal.SIGHUP))
    for args, sig in kills:
        before = set(temps(dy))
        p = subprocess.Popen(dy.cmd(*args), env=dy.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        _feed(p, data[: len(data) // 2] if args[0] == "import" else open(saved, "rb").read()[:200000])
        wait_for(lambda: set(temps(dy)) - before, timeout=20, what=f"{args[0]} to write a temp")
        time.sleep(random.uniform(0, 0.2))
        p.send_signal(sig)
        p.communicate(timeout=30)
        assert p.returncode == -sig
    left = temps(dy)
    assert left and all(os.path.lexists(os.path.join(dy.root, t)) for t in left)

    # a live import: its temp survives every reclaim while it runs
    live = subprocess.Popen(dy.cmd("import", "-", "live:1"), env=dy.env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _feed(live, data[: len(data) // 2])
    wait_for(lambda: set(temps(dy)) - set(left), timeout=20, what="the live import's temp")
    live_temps = set(temps(dy)) - set(left)
    p = dy("system", "prune", "-f")
    assert "Deleted temporary files of interrupted commands" in p.out
    assert set(temps(dy)) == live_temps  # the dead ones went, the live one stayed
    live.stdin.write(data[len(data) // 2:])
    out, err = live.communicate(timeout=60)
    assert live.returncode == 0, err
    assert temps(dy) == []
    assert "live" in dy("images").out and "killed" not in dy("images").out
    assert_store_consistent(dy)


def test_killed_rm_grave_is_reclaimed_by_next_command(dy, busybox):
    cid = dy("create", "--name", "many", "busybox", "true").out.strip()
    upper = os.path.join(dy.root, "snapshots", "active", cid, "upper")
    for i in range(40):  # a big tree, so removing it takes a while
        d = os.path.join(upper, f"d{i}")
        os.mkdir(d)
        for j in range(500):
            open(os.path.join(d, str(j)), "w").close()
    p = _spawn(dy, "rm", "many")
    graves = os.path.join(dy.root, "snapshots", "tmp")
    wait_for(lambda: listdir(graves), timeout=30, interval=0.001, what="rm to move the snapshot away")
    _kill(p, signal.SIGKILL)
    left = listdir(graves)
    assert left and left[0].startswith("rm-")
    dy("run", "--rm", "busybox", "true")  # any command that changes snapshots reclaims it
    assert listdir(graves) == []
    assert_store_consistent(dy)


def test_killed_cp_leaves_a_mount_that_is_detached_never_deleted_through(dy, busybox, tmp_path):
    """A killed `cp` from a stopped container leaves its snapshot mounted on a temp in
    <root>/tmp: reclaiming that temp must detach the mount first, never empty the container."""
    size = 150_000_000
    dy("run", "--network", "none", "--name", "big", "busybox", "sh", "-c", f"head -c {size} /dev/zero > /big")
    p = _spawn(dy, "cp", "big:/big", str(tmp_path / "out"))
    wait_for(lambda: any("/tmp/mnt-" in m for m in mounts_under(dy.root)), timeout=30, interval=0.001,
             what="cp to mount the container")
    _kill(p, signal.SIGKILL)
    assert [t for t in temps(dy) if t.startswith("tmp/mnt-")]
    assert any("/tmp/mnt-" in m for m in mounts_under(dy.root))
    dy("ps", "-a")  # the next command reclaims it
    assert mounts_under(dy.root) == []
    assert temps(dy) == []
    upper = os.path.join(dy.root, "snapshots", "active", json.loads(dy("inspect", "big").out)[0]["Id"], "upper")
    assert os.path.getsize(os.path.join(upper, "big")) == size
    dy("cp", "big:/big", str(tmp_path / "out2"))
    assert os.path.getsize(tmp_path / "out2") == size
    dy("rm", "big")


def test_killed_build_leaves_nothing_after_the_next_prune(dy, busybox, tmp_path):
    """A build killed in a COPY leaves the step's overlay mounted and its snapshot behind (both
    named for the dead build): `system prune` detaches the mount and removes both; the base
    image is untouched and the next build works."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    with open(ctx / "big", "wb") as f:
        f.truncate(200_000_000)
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY big /big\n")
    active = os.path.join(dy.root, "snapshots", "active")
    p = _spawn(dy, "build", "--no-cache", "-t", "killed:1", str(ctx))
    wait_for(lambda: any(n.startswith("build-") for n in listdir(active)) and
             any("/tmp/mnt-" in m for m in mounts_under(dy.root)), timeout=60, interval=0.001,
             what="the COPY step to mount its overlay")
    _kill(p, signal.SIGKILL)
    assert [n for n in listdir(active) if n.startswith("build-")]
    p = dy("system", "prune", "-f")
    assert mounts_under(dy.root) == []
    assert temps(dy) == []
    assert [n for n in listdir(active) if n.startswith("build-")] == []
    (ctx / "big").write_bytes(b"small\n")
    dy("build", "-q", "-t", "after:1", str(ctx))
    assert dy("run", "--rm", "after:1", "cat", "/big").out == "small\n"
    assert "killed" not in dy("images").out
    assert_store_consistent(dy)


# -- 17: a killed `run --rm` is finished by the next command -------------------------------------


def _runtimes() -> list[str]:
    import shutil

    return ["dockyard"] + (["runc"] if shutil.which("runc") else [])


@pytest.mark.parametrize("runtime", _runtimes())
def test_killed_run_rm_is_removed(dy, busybox, tmp_path, runtime):
    rng = random.Random(17)
    seen_stuck = False
    for i in range(6):
        p = _spawn(dy, "run", "--rm", "--runtime", runtime, "--name", f"rm{i}", "busybox", "sleep", "0.3")
        if i == 0 and runtime == "runc":
            # stop the CLI the moment runc has created the container: its init waits at the
            # start gate with the rootfs mounted on the host, as when the CLI is killed there
            wait_for(lambda: any(os.path.exists(os.path.join(dy.runroot, "containers", c, "init.pid"))
                                 for c in listdir(os.path.join(dy.runroot, "containers"))),
                     timeout=20, interval=0.001, what="runc create")
            p.send_signal(signal.SIGSTOP)
            if runc_inits(tmp_path):
                seen_stuck = True
                assert mounts_under(dy.runroot)
        elif i == 5:
            # the last kill surely inside the window (the record exists, the CLI still runs): every
            # command repairs what earlier kills left, so only the last one's leftovers remain here
            wait_for(lambda: _db_rows(dy) or p.poll() is not None, timeout=20, interval=0.001,
                     what="the container's record")
        else:
            time.sleep(rng.uniform(0.05, 0.6))
        _kill(p, signal.SIGKILL)
        time.sleep(0.5)  # the container's own command ends
    assert _db_rows(dy), "no kill left anything behind: the test did not exercise the fault"
    ps = dy("ps", "-a", "--format", "{{.Names}}")
    assert ps.out == ""
    assert _db_rows(dy) == []
    assert listdir(os.path.join(dy.runroot, "containers")) == []
    assert listdir(os.path.join(dy.root, "snapshots", "active")) == []
    assert mounts_under(str(tmp_path)) == []
    assert container_processes(str(tmp_path)) == []
    if runtime == "runc":
        assert seen_stuck, "runc's init never waited at the start gate"
        assert runc_inits(tmp_path) == []
        assert listdir(os.path.join(dy.runroot, "runtimes", "runc")) == []
    assert temps(dy) == []
    assert_store_consistent(dy)


def test_create_rm_waits_for_its_start(dy, busybox):
    """`create --rm` is not an abandoned `run --rm`: it stays until started, then goes."""
    dy("create", "--rm", "--name", "later", "busybox", "true")
    dy("ps", "-a")
    assert dy("ps", "-a", "--format", "{{.Names}}").out.split() == ["later"]
    dy("start", "later")
    wait_for(lambda: dy("ps", "-aq").out == "", what="the started --rm container to go")


def test_running_rm_container_of_killed_cli_is_kept_until_it_exits(dy, busybox, tmp_path):
    """Docker keeps a `run --rm` container running when its client dies, and removes it when it
    exits; the next command after the exit does here."""
    p = _spawn(dy, "run", "--rm", "--name", "outlive", "busybox", "sleep", "5")
    wait_for(lambda: any(r[2].get("Status") == "running" for r in _db_rows(dy)), timeout=20)
    _kill(p, signal.SIGKILL)
    assert dy("ps", "--format", "{{.Names}}").out.split() == ["outlive"]
    wait_for(lambda: dy("ps", "-aq").out == "", timeout=20, what="removal after the exit")
    assert mounts_under(str(tmp_path)) == []
