"""Issue 10: init and exec go through one hardened sequence (`dockyard/runtime/process.py`), so a
process started by `exec` gets exactly what the container's first process got: capabilities
(bounding, effective, ambient), no_new_privs, seccomp, user and groups, umask, rlimits,
oom_score_adj and clean signal dispositions. runc's exec is the reference for the same
container. An exec'd terminal must not take the container's /dev/console from init."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest
from support import mounts_under, run_d
from test_runtime_conformance import (RUNTIME_CLIS, cleanup_runtime_states, create, make_bundle,  # noqa: F401
                                      rootfs_dir, runtime_cmd, runtime_env)

pytestmark = [pytest.mark.integration, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

FIELDS = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp",
          "SigBlk", "SigIgn")
PROBE = ("for f in " + " ".join(FIELDS) + "; do grep \"^$f:\" /proc/self/status; done; "
         "umask; cat /proc/self/oom_score_adj; ulimit -n; ulimit -u; ulimit -c; id")
FLAGS = ("--cap-drop", "ALL", "--cap-add", "CHOWN", "--cap-add", "NET_BIND_SERVICE", "-u", "1000:1000",
         "--security-opt", "no-new-privileges")
RUNTIMES = ["dockyard"] + (["runc"] if shutil.which("runc") else [])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_exec_gets_what_init_got(dy, busybox, name, runtime):
    run_d(dy, name, "sh", "-c", f"({PROBE}) > /tmp/init.txt; sleep 60",
          flags=("--runtime", runtime, *FLAGS))
    try:
        first = ""
        for _ in range(100):
            first = dy("exec", name, "cat", "/tmp/init.txt").out
            if "uid=" in first:  # id, the last line
                break
        exec_view = dy("exec", name, "sh", "-c", PROBE).out
        assert first == exec_view
        assert "CapBnd:\t0000000000000401" in first and "CapEff:\t0000000000000000" in first and "NoNewPrivs:\t1" in first and "Seccomp:\t2" in first
        assert "uid=1000 gid=1000" in first
        assert "SigIgn:\t0000000000000000" in first
    finally:
        dy("rm", "-f", name)


def test_exec_and_runc_exec_agree(dy, busybox, name):
    if "runc" not in RUNTIMES:
        pytest.skip("runc is not installed")
    views = []
    for runtime in ("dockyard", "runc"):
        run_d(dy, f"{name}-{runtime}", "sleep", "60", flags=("--runtime", runtime, *FLAGS))
        try:
            views.append(dy("exec", f"{name}-{runtime}", "sh", "-c", PROBE).out)
        finally:
            dy("rm", "-f", f"{name}-{runtime}")
    assert views[0] == views[1]


def test_exec_with_a_terminal_leaves_inits_console(dy, busybox, name):
    run_d(dy, name, "sleep", "60", flags=("-t",))
    try:
        before = dy("exec", name, "stat", "-c", "%t:%T", "/dev/console").out
        assert before.startswith("88:")  # a pts (major 136 = 0x88): init's terminal
        inside = dy("exec", "-t", name, "stat", "-c", "%t:%T", "/dev/console").out
        assert inside.strip() == before.strip()
        assert dy("exec", name, "stat", "-c", "%t:%T", "/dev/console").out == before
    finally:
        dy("rm", "-f", name)


def test_exec_with_a_bad_workdir_is_runcs_error(dy, busybox, name):
    run_d(dy, name, "sleep", "60")
    try:
        p = dy("exec", "-w", "/nonexistent", name, "true", check=False)
        assert p.returncode != 0 and "Traceback" not in p.err
        assert 'chdir to cwd ("/nonexistent") set in config.json failed: no such file or directory' in p.err \
            or "chdir to cwd ('/nonexistent') set in config.json failed: No such file or directory" in p.err, p.err
    finally:
        dy("rm", "-f", name)


@pytest.mark.parametrize("runtime", RUNTIME_CLIS)
def test_runtime_exec_gets_what_init_got(tmp_path, rootfs_dir, cleanup_runtime_states, runtime):  # noqa: F811
    """The OCI process attributes the engine's flags do not reach yet (rlimits, oom_score_adj,
    additional groups, umask, ambient capabilities), through the runtimes' own CLI. (A uid no
    other test uses: RLIMIT_NPROC counts that user's processes on the whole host.)"""
    bundle = make_bundle(tmp_path, rootfs_dir, "dockyard-runtime", ["sh", "-c", f"({PROBE}) > /tmp/init.txt; sleep 60"])
    with open(os.path.join(bundle, "config.json")) as f:
        spec = json.load(f)
    caps = ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]
    spec["process"].update(
        user={"uid": 54321, "gid": 54321, "additionalGids": [5, 7], "umask": 0o27},
        rlimits=[{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}, {"type": "RLIMIT_NPROC", "soft": 4077, "hard": 4088},
                 {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}],
        oomScoreAdj=345, noNewPrivileges=True,
        capabilities={k: caps for k in ("bounding", "effective", "permitted", "inheritable", "ambient")})
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    state_root = str(tmp_path / f"state-{runtime}")
    cleanup_runtime_states.append((runtime, state_root))
    cmd = runtime_cmd(runtime, state_root)
    p = create(cmd, bundle, "seq", tmp_path)
    assert p.returncode == 0, p.err
    subprocess.run(cmd + ["start", "seq"], env=runtime_env(), check=True, timeout=30)
    init_file = os.path.join(bundle, "rootfs", "tmp", "init.txt")
    deadline = time.monotonic() + 10
    while "uid=" not in (open(init_file).read() if os.path.exists(init_file) else ""):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first = open(init_file).read()
    proc = dict(spec["process"], args=["sh", "-c", PROBE])
    with open(tmp_path / "process.json", "w") as f:
        json.dump(proc, f)
    p = subprocess.run(cmd + ["exec", "--process", str(tmp_path / "process.json"), "seq"], env=runtime_env(),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    expected = first
    if runtime == "runc":  # runc 1.1's exec leaves the caller's umask (its setns init skips user.umask)
        expected = first.replace("\n0027\n", "\n0022\n")
    assert p.stdout == expected
    assert "CapAmb:\t0000000000000401" in first and "\n345\n321\n4077\n0\n" in first
    assert "\n0027\n" in first and ("\n0027\n" in p.stdout) == (runtime == "dockyard-runtime")
    assert "groups=5,7" in first or "groups=5(tty),7(lp)" in first or "groups=5" in first
    subprocess.run(cmd + ["delete", "--force", "seq"], env=runtime_env(), capture_output=True, timeout=30)
    assert mounts_under(bundle) == []


def _keyrings(name: str) -> list[str]:
    with open("/proc/keys") as f:
        return [line for line in f if f" _ses.{name}:" in line]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_container_gets_its_own_session_keyring_and_exec_joins_it(dy, busybox, name, runtime):
    """Not the caller's session keyring (whose keys a container could otherwise reach where
    seccomp allows keyctl): runc's `_ses.<id>`, joined again by exec, even as another user."""
    cid = run_d(dy, name, "sleep", "60", flags=("--runtime", runtime, "-u", "1000"))
    try:
        assert len(_keyrings(cid)) == 1
        dy("exec", name, "true")
        dy("exec", "-u", "0", name, "true")
        assert len(_keyrings(cid)) == 1  # joined by name, not a second one
    finally:
        dy("rm", "-f", name)


@pytest.mark.parametrize("runtime", RUNTIME_CLIS)
def test_no_new_keyring_keeps_the_callers(tmp_path, rootfs_dir, cleanup_runtime_states, runtime):  # noqa: F811
    bundle = make_bundle(tmp_path, rootfs_dir, "dockyard-runtime", ["sleep", "60"])
    state_root = str(tmp_path / f"state-{runtime}")
    cleanup_runtime_states.append((runtime, state_root))
    cmd = runtime_cmd(runtime, state_root)
    for cid, flags in ((f"kr-new-{os.getpid()}", []), (f"kr-none-{os.getpid()}", ["--no-new-keyring"])):
        err = tmp_path / f"{cid}.err"
        with open(err, "wb") as e:
            p = subprocess.run(cmd + ["create", *flags, "--bundle", bundle, cid], env=runtime_env(),
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=e, timeout=60)
        assert p.returncode == 0, err.read_text()
        assert len(_keyrings(cid)) == (0 if flags else 1), (runtime, flags)
        subprocess.run(cmd + ["delete", "--force", cid], env=runtime_env(), capture_output=True, timeout=30)
