"""OCI runtime hooks, driven through runc's CLI contract: dockyard-runtime and Debian's runc side
by side on the same bundle (the busybox test image), with the hooks as shell scripts on the host
that record what they see (state on stdin, argv, env, namespaces, hostname, cwd) into files.

Where runc 1.1 (Debian 12's 1.1.5) departs from the runtime-spec, dockyard follows the spec and
the test says so next to the expectation:
  - runc before 1.5 runs poststart hooks at the end of `create` (status "created"), not after
    the user process started; runc fixed it in 3cdda464f ("Move poststart hook from runc create
    to runc start"), which is what dockyard does;
  - a failing startContainer hook stops runc's container, but `runc start` exits 0 (init's error
    has nowhere to go by then); dockyard's `start` fails with it (the spec says "generate an error");
  - runc stops at the first failing poststop hook; the spec and dockyard run the remaining ones;
  - runc waits for a timed-out hook's stdout to close, so a child the hook left keeps it waiting;
    dockyard kills the hook's whole process group.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest
from support import CREATED, cgroup_dirs, container_processes, mounts_under
from test_runtime_conformance import (RUNTIME_CLIS, cleanup_runtime_states, make_bundle, rootfs_dir,  # noqa: F401
                                      runtime_cmd, runtime_env)

pytestmark = pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")

HOOK = r"""#!/bin/sh
# hook.sh NAME [fail|sleep|sleepchild|slow]: record what this hook sees, then do MODE
o=@LOG@
[ -d "$o" ] || o=/hooklog
n=$1
cat > "$o/$n.stdin"
IFS= read -r argv < /proc/self/cmdline  # the shell's own argv (a builtin: no fork), NULs dropped
echo "$argv" > "$o/$n.argv"
readlink /proc/self/ns/mnt > "$o/$n.mnt"
readlink /proc/self/ns/uts > "$o/$n.uts"
hostname > "$o/$n.hostname"
pwd > "$o/$n.cwd"
env > "$o/$n.env"
pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$o/$n.stdin")
[ -n "$pid" ] && tr '\0' ' ' < /proc/$pid/cmdline > "$o/$n.target" 2>/dev/null
echo "$n" >> "$o/order"
case "$2" in
fail) echo "out of $n"; echo "err of $n" >&2; exit 3;;
sleep) exec sleep 60;;
sleepchild) sleep 60 & echo $! > "$o/$n.child"; wait;;
slow) sleep 2;;
esac
exit 0
"""

PROCESS_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "PROCVAR=1"]
SHELL_VARS = {"PWD", "OLDPWD", "SHLVL", "_"}  # what the hook's own shell adds
MARK = "HOOKTEST_MARK"
ANNOTATIONS = {"org.test.hooks": "yes"}


def runc_poststart_at_create() -> bool:
    out = subprocess.run(["runc", "--version"], capture_output=True, text=True).stdout.split()
    major, minor = (int(x) for x in out[2].split(".")[:2])
    return (major, minor) < (1, 5)


class Bundle:
    """A bundle with hooks, its hook log directory, and one runtime's CLI on one state root."""

    def __init__(self, tmp_path, rootfs: str, runtime: str, cleanup, hooks: dict,
                 args: tuple = ("sh", "-c", "touch /hooklog/process-ran; exec sleep 30")) -> None:
        self.cid = f"hk-{uuid.uuid4().hex[:12]}"
        CREATED.append(self.cid)  # the safety net removes its cgroups if a test fails half-way
        self.log = str(tmp_path / f"log-{runtime}")
        os.mkdir(self.log)
        self.path = make_bundle(tmp_path, rootfs, "runc", list(args))  # one per test: tmp/bundle-runc
        self.rootfs = os.path.realpath(os.path.join(self.path, "rootfs"))
        self.hook = str(tmp_path / "hook.sh")
        with open(self.hook, "w") as f:
            f.write(HOOK.replace("@LOG@", self.log))
        os.chmod(self.hook, 0o755)
        shutil.copy(self.hook, os.path.join(self.path, "rootfs", "hook.sh"))
        with open(os.path.join(self.path, "config.json")) as f:
            spec = json.load(f)
        spec["process"]["env"] = PROCESS_ENV
        spec["hostname"] = "hookbox"
        spec["annotations"] = ANNOTATIONS
        spec["linux"]["cgroupsPath"] = f"/dockyard/{self.cid}"
        spec["mounts"].append({"destination": "/hooklog", "type": "bind", "source": self.log,
                               "options": ["rbind", "rw"]})
        spec["hooks"] = {kind: [self.entry(**h) for h in entries] for kind, entries in hooks.items()}
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(spec, f)
        self.state_root = str(tmp_path / f"state-{runtime}")
        cleanup.append((runtime, self.state_root))
        self.runtime = runtime
        self.cmd = runtime_cmd(runtime, self.state_root)
        self.env = dict(runtime_env(), **{MARK: self.cid})
        self.tmp_path = tmp_path

    def entry(self, name: str, mode: str = "", inside: bool = False, **extra) -> dict:
        """/bin/sh (the host's dash, or busybox in the container) running the hook script, with
        an argv[0] of its own (busybox picks its applet by argv[0]: "ash", which /bin/sh is not)."""
        script = "/hook.sh" if inside else self.hook
        return {"path": "/bin/sh", "args": [argv0(inside), script, name] + ([mode] if mode else []), **extra}

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """A runtime command; stderr through a file (`create` hands its stdio to the container)."""
        err_path = os.path.join(str(self.tmp_path), f"err-{time.monotonic_ns()}")
        with open(err_path, "wb") as err:
            p = subprocess.run(self.cmd + list(args), cwd=self.path, env=self.env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=err, timeout=timeout)
        with open(err_path) as f:
            p.err = f.read()
        assert "Traceback" not in p.err, p.err
        return p

    def mark(self, what: str) -> None:
        with open(os.path.join(self.log, "order"), "a") as f:
            f.write(what + "\n")

    def order(self) -> list[str]:
        return self.read("order").split()

    def read(self, name: str) -> str:
        try:
            with open(os.path.join(self.log, name)) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def state_in(self, name: str) -> dict:
        return json.loads(self.read(f"{name}.stdin"))

    def env_of(self, name: str) -> set[str]:
        return {kv for kv in self.read(f"{name}.env").splitlines() if kv.split("=", 1)[0] not in SHELL_VARS}

    def state(self) -> dict:
        p = subprocess.run(self.cmd + ["state", self.cid], env=self.env, capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    def assert_gone(self) -> None:
        """Host checks: no container process, mount, cgroup or runtime state left."""
        p = subprocess.run(self.cmd + ["list", "-q"], env=self.env, capture_output=True, text=True, timeout=30)
        assert p.returncode == 0 and p.stdout == "", p.stdout + p.stderr
        assert not os.path.exists(os.path.join(self.state_root, self.cid))
        assert container_processes(str(self.tmp_path)) == []
        assert mounts_under(str(self.tmp_path)) == []
        assert cgroup_dirs(self.cid) == []


def argv0(inside: bool) -> str:
    return "ash" if inside else "hook-argv0"


@pytest.fixture(params=RUNTIME_CLIS)
def runtime(request):
    return request.param


def ns(path: str) -> str:
    return os.readlink(path)


# -- where each hook runs and what it sees ------------------------------------------------------


def test_hook_points_state_namespaces_env_and_argv(tmp_path, rootfs_dir, cleanup_runtime_states, runtime):
    explicit_env = ["HOOKVAR=set", "PATH=/usr/bin:/bin"]
    b = Bundle(tmp_path, rootfs_dir, runtime, cleanup_runtime_states, {
        "prestart": [{"name": "prestart"}],
        "createRuntime": [{"name": "createRuntime", "env": explicit_env}, {"name": "createRuntime2"}],
        "createContainer": [{"name": "createContainer"}],
        "startContainer": [{"name": "startContainer", "inside": True}],
        "poststart": [{"name": "poststart", "timeout": 30}],
        "poststop": [{"name": "poststop"}],
    })
    p = b("create", "--bundle", b.path, b.cid)
    assert p.returncode == 0, p.err
    b.mark("create-returned")
    created = b.state()
    init_pid = created["pid"]
    ctr_mnt, ctr_uts = ns(f"/proc/{init_pid}/ns/mnt"), ns(f"/proc/{init_pid}/ns/uts")
    assert created["status"] == "created"
    p = b("start", b.cid)
    assert p.returncode == 0, p.err
    b.mark("start-returned")
    p = b("kill", b.cid, "KILL")
    assert p.returncode == 0, p.err
    deadline = time.monotonic() + 10
    while b.state()["status"] != "stopped":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    p = b("delete", b.cid)
    assert p.returncode == 0, p.err
    b.mark("delete-returned")

    # order: the spec's, and runc 1.1's with its poststart at create
    if runtime == "runc" and runc_poststart_at_create():
        assert b.order() == ["prestart", "createRuntime", "createRuntime2", "createContainer", "poststart",
                             "create-returned", "startContainer", "start-returned", "poststop", "delete-returned"]
    else:
        assert b.order() == ["prestart", "createRuntime", "createRuntime2", "createContainer", "create-returned",
                             "startContainer", "poststart", "start-returned", "poststop", "delete-returned"]
        # poststart ran once the user process was exec'd: the state's pid names it, not the init
        assert b.read("poststart.target").split()[0] in ("sh", "sleep")  # (sh execs sleep)

    # the state on stdin, with the status each point has
    want = {"prestart": ("creating", init_pid), "createRuntime": ("creating", init_pid),
            "createRuntime2": ("creating", init_pid),
            "createContainer": ("creating", 1),  # pid as init sees itself, as runc gives it
            "startContainer": ("created", 1),
            "poststart": ("running", init_pid), "poststop": ("stopped", None)}
    if runtime == "runc" and runc_poststart_at_create():
        want["poststart"] = ("created", init_pid)
    for name, (status, pid) in want.items():
        st = b.state_in(name)
        assert st["ociVersion"].startswith("1.0.2") and st["id"] == b.cid and st["bundle"] == b.path, st
        assert st["annotations"] == ANNOTATIONS, st
        assert (st["status"], st.get("pid")) == (status, pid), (name, st)
        assert set(st) <= {"ociVersion", "id", "status", "pid", "bundle", "annotations"}, st

    # namespaces, hostname, cwd: the runtime's for the runtime hooks, the container's for the others
    host_mnt, host_uts, host_name = ns("/proc/self/ns/mnt"), ns("/proc/self/ns/uts"), socket.gethostname()
    for name in ("prestart", "createRuntime", "createRuntime2", "poststart", "poststop"):
        assert (b.read(f"{name}.mnt").strip(), b.read(f"{name}.uts").strip()) == (host_mnt, host_uts), name
        assert b.read(f"{name}.hostname").strip() == host_name
        assert b.read(f"{name}.cwd").strip() == b.path  # the runtime's own cwd
    for name in ("createContainer", "startContainer"):
        assert (b.read(f"{name}.mnt").strip(), b.read(f"{name}.uts").strip()) == (ctr_mnt, ctr_uts), name
    assert b.read("createContainer.hostname").strip() == host_name  # before the hostname is set
    assert b.read("createContainer.cwd").strip() == b.rootfs  # before pivot_root, in the rootfs
    assert b.read("startContainer.hostname").strip() == "hookbox"
    assert b.read("startContainer.cwd").strip() == "/"

    # env: as given; else the runtime's own (runtime hooks) or the process's (container hooks)
    assert b.env_of("createRuntime") == set(explicit_env)
    assert f"{MARK}={b.cid}" in b.env_of("createRuntime2")
    assert b.env_of("createContainer") == set(PROCESS_ENV)
    # runc's init adds HOME for the process (from /etc/passwd); dockyard's gives the process env as is
    assert b.env_of("startContainer") - {"HOME=/root"} == set(PROCESS_ENV)

    # args[0] is argv[0], for hooks run by the runtime and by init alike
    for name in want:
        inside = name == "startContainer"
        assert b.read(f"{name}.argv").strip() == argv0(inside) + ("/hook.sh" if inside else b.hook) + name, name
    assert b.read("process-ran") == ""  # (the file exists)
    assert os.path.exists(os.path.join(b.log, "process-ran"))
    b.assert_gone()


def test_run_runs_poststart_and_poststop(tmp_path, rootfs_dir, cleanup_runtime_states, runtime):
    b = Bundle(tmp_path, rootfs_dir, runtime, cleanup_runtime_states, {
        "createRuntime": [{"name": "createRuntime"}], "poststart": [{"name": "poststart"}],
        "poststop": [{"name": "poststop"}]}, args=("sh", "-c", "exit 7"))
    p = b("run", b.cid)
    assert p.returncode == 7, p.err
    assert b.order() == ["createRuntime", "poststart", "poststop"]
    assert b.state_in("poststop")["status"] == "stopped"
    b.assert_gone()


# -- failures ------------------------------------------------------------------------------------


CREATE_KINDS = ["prestart", "createRuntime", "createContainer"]


def failing_hooks(kind: str) -> dict:
    """Every kind once; `kind` twice, its first one failing (the second must not run)."""
    hooks = {k: [{"name": k, "inside": k == "startContainer"}] for k in
             ("prestart", "createRuntime", "createContainer", "startContainer", "poststart")}
    hooks[kind] = [{"name": kind, "mode": "fail", "inside": kind == "startContainer"},
                   {"name": kind + "2", "inside": kind == "startContainer"}]
    hooks["poststop"] = [{"name": "poststop"}]
    return hooks


@pytest.mark.parametrize("kind", CREATE_KINDS)
def test_failing_create_hook_destroys_the_container(tmp_path, rootfs_dir, cleanup_runtime_states, runtime, kind):
    b = Bundle(tmp_path, rootfs_dir, runtime, cleanup_runtime_states, failing_hooks(kind))
    p = b("create", "--bundle", b.path, b.cid)
    assert p.returncode != 0
    assert "exit status 3" in p.err and f"err of {kind}" in p.err and f"out of {kind}" in p.err, p.err
    if runtime == "dockyard-runtime":
        assert f"error running {kind} hook #0 (/bin/sh)" in p.err, p.err
    before = CREATE_KINDS[:CREATE_KINDS.index(kind)]
    # the container is destroyed, then (runtime-spec lifecycle step 13) the poststop hooks run
    assert b.order() == before + [kind, "poststop"]
    assert b.state_in("poststop")["status"] == "stopped"
    assert b.read("process-ran") == "" and not os.path.exists(os.path.join(b.log, "process-ran"))
    b.assert_gone()


def test_failing_start_container_hook_stops_the_container(tmp_path, rootfs_dir, cleanup_runtime_states, runtime):
    b = Bundle(tmp_path, rootfs_dir, runtime, cleanup_runtime_states, failing_hooks("startContainer"))
    p = b("create", "--bundle", b.path, b.cid)
    assert p.returncode == 0, p.err
    p = b("start", b.cid)
    if runtime == "runc":
        assert p.returncode == 0  # runc 1.1: the error dies with init (see the module docstring)
    else:
        assert p.returncode == 1
        assert "error running startContainer hook #0 (/bin/sh): exit status 3" in p.err, p.err
        assert "err of startContainer" in p.err
    deadline = time.monotonic() + 10
    while b.state()["status"] != "stopped":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert not os.path.exists(os.path.join(b.log, "process-ran"))  # the user process never ran
    assert "startContainer2" not in b.order()
    assert container_processes(str(tmp_path)) == []
    p = b("delete", b.cid)
    assert p.returncode == 0, p.err
    assert b.order()[-1] == "poststop"
    b.assert_gone()


def test_failing_poststart_hook(tmp_path, rootfs_dir, cleanup_runtime_states, runtime):
    b = Bundle(tmp_path, rootfs_dir, runtime, cleanup_runtime_states, failing_hooks("poststart"))
    p = b("create", "--bundle", b.path, b.cid)
    if runtime == "runc" and runc_poststart_at_create():
        # runc 1.1: poststart runs (and fails) in `create`, which destroys the container
        assert p.returncode != 0 and "exit status 3" in p.err and "err of poststart" in p.err, p.err
        assert b.order() == CREATE_KINDS + ["poststart", "poststop"]
        b.assert_gone()
        return
    assert p.returncode == 0, p.err
    p = b("start", b.cid)
    # as runc ≥ 1.5: `start` fails, the container is killed and left for `delete`
    assert p.returncode == 1
    assert "error running poststart hook #0 (/bin/sh): exit status 3" in p.err and "err of poststart" in p.err, p.err
    assert b.state()["status"] == "stopped"
    assert container_processes(str(tmp_path)) == []
    assert b.order() == CREATE_KINDS + ["startContainer", "poststart"]
    p = b("delete", b.cid)
    assert p.returncode == 0, p.err
    assert b.order()[-1] == "poststop"
    b.assert_gone()


def test_failing_poststop_hook_is_a_warning(tmp_path, rootfs_dir, cleanup_runtime_states, runtime):
    b = Bundle(tmp_path, rootfs_dir, runtime, cleanup_runtime_states, {
        "poststop": [{"name": "poststop", "mode": "fail"}, {"name": "poststop2"}]})
    p = b("create", "--bundle", b.path, b.cid)
    assert p.returncode == 0, p.err
    p = b("delete", "--force", b.cid)
    assert p.returncode == 0, p.err
    assert "exit status 3" in p.err and "err of poststop" in p.err, p.err
    if runtime == "runc":
        assert b.order() == ["poststop"]  # runc 1.1 skips the rest
    else:
        assert "warning" in p.err
        assert b.order() == ["poststop", "poststop2"]  # the spec: the remaining hooks still run
    b.assert_gone()


@pytest.mark.parametrize("kind", ["createRuntime", "createContainer"])
def test_hook_timeout_kills_the_hook_and_fails_create(tmp_path, rootfs_dir, cleanup_runtime_states, runtime, kind):
    b = Bundle(tmp_path, rootfs_dir, runtime, cleanup_runtime_states, {
        kind: [{"name": kind, "mode": "sleep", "timeout": 1}], "poststop": [{"name": "poststop"}]})
    t0 = time.monotonic()
    p = b("create", "--bundle", b.path, b.cid)
    elapsed = time.monotonic() - t0
    assert p.returncode != 0
    assert "hook ran past specified timeout of 1.0s" in p.err, p.err
    assert elapsed < 15, elapsed
    assert b.order() == [kind, "poststop"]
    b.assert_gone()


@pytest.mark.parametrize("kind", ["createRuntime", "createContainer"])
def test_hook_timeout_kills_what_the_hook_started(tmp_path, rootfs_dir, cleanup_runtime_states, kind):
    b = Bundle(tmp_path, rootfs_dir, "dockyard-runtime", cleanup_runtime_states, {
        kind: [{"name": kind, "mode": "sleepchild", "timeout": 1}]})
    t0 = time.monotonic()
    p = b("create", "--bundle", b.path, b.cid)
    assert p.returncode == 1 and "hook ran past specified timeout of 1.0s" in p.err, p.err
    assert time.monotonic() - t0 < 15
    child = int(b.read(f"{kind}.child"))
    if kind == "createRuntime":  # (a createContainer hook's child has a pid of the container's namespace)
        assert _cmdline(child) != ["sleep", "60"]
    assert _sleepers(str(tmp_path)) == []  # the hook's child was killed with it
    b.assert_gone()


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode().split("\0")[:-1]
    except OSError:
        return []


def _sleepers(tmp: str) -> list[int]:
    """`sleep 60` processes a hook of this test started (their cwd is under the test's tmp)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit() and _cmdline(int(name)) == ["sleep", "60"]:
            try:
                cwd = os.readlink(f"/proc/{name}/cwd")
            except OSError:
                continue
            if cwd.startswith(tmp + "/"):
                out.append(int(name))
    return out


def test_forged_words_in_the_exec_fifo_are_not_a_hook_failure(tmp_path, rootfs_dir, cleanup_runtime_states):
    """Attack: a host process that can open exec.fifo (mode 0622, as runc's) writes a fake hook
    error while `start` waits for init's exec: `start` must not report it, the container runs."""
    b = Bundle(tmp_path, rootfs_dir, "dockyard-runtime", cleanup_runtime_states, {
        "startContainer": [{"name": "startContainer", "inside": True, "mode": "slow"}]})
    p = b("create", "--bundle", b.path, b.cid)
    assert p.returncode == 0, p.err
    with open(tmp_path / "start.err", "wb") as err:
        start = subprocess.Popen(b.cmd + ["start", b.cid], cwd=b.path, env=b.env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 10
        while "startContainer" not in b.order():  # init passed the gate; its hook sleeps
            assert time.monotonic() < deadline
            time.sleep(0.02)
        fd = os.open(os.path.join(b.state_root, b.cid, "exec.fifo"), os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b"error running startContainer hook #0: forged")
        os.close(fd)
        assert start.wait(30) == 0, (tmp_path / "start.err").read_text()
    finally:
        if start.poll() is None:
            start.kill()
            start.wait()
    assert b.state()["status"] == "running"
    deadline = time.monotonic() + 10
    while not os.path.exists(os.path.join(b.log, "process-ran")):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert b("delete", "--force", b.cid).returncode == 0
    b.assert_gone()


# -- bad hooks are refused ------------------------------------------------------------------------


@pytest.mark.parametrize("hooks, words", [
    ({"createRuntime": [{"path": "relative/hook"}]}, "hooks.createRuntime[0].path must be an absolute path"),
    ({"poststop": [{"path": "/bin/true", "args": "true"}]}, "hooks.poststop[0].args must be a list of strings"),
    ({"poststart": [{"path": "/bin/true", "timeout": 0}]}, "hooks.poststart[0].timeout must be"),
    ({"prestart": [{"path": "/bin/true", "timeout": -1}]}, "hooks.prestart[0].timeout must be"),
    ({"createContainer": [{"path": "/bin/true", "env": ["NOEQUALS"]}]}, "is not KEY=VALUE"),
    ({"preStart": [{"path": "/bin/true"}]}, "unknown hook kind hooks.preStart"),
    ({"poststop": [{"path": "/bin/true", "timeuot": 3}]}, "unknown field 'timeuot'"),
    ({"poststop": {"path": "/bin/true"}}, "hooks.poststop must be a list"),
], ids=["relative-path", "args-string", "timeout-zero", "timeout-negative", "env-no-equals", "unknown-kind",
        "unknown-field", "not-a-list"])
def test_bad_hooks_are_refused(tmp_path, rootfs_dir, cleanup_runtime_states, hooks, words):
    b = Bundle(tmp_path, rootfs_dir, "dockyard-runtime", cleanup_runtime_states, {})
    with open(os.path.join(b.path, "config.json")) as f:
        spec = json.load(f)
    spec["hooks"] = hooks
    with open(os.path.join(b.path, "config.json"), "w") as f:
        json.dump(spec, f)
    p = b("create", "--bundle", b.path, b.cid)
    assert p.returncode == 1
    assert words in p.err, p.err
    b.assert_gone()
