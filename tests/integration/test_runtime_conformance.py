"""One suite, two OCI runtimes: dockyard's own and Debian's runc, given the same bundles.

Every check runs through `dockyard run --runtime RT` for both, against Docker's values, so the two
must agree with Docker and with each other; a probe compares everything a process can see of its
container side by side. The second half drives the runtimes directly through runc's CLI
contract (`dockyard-runtime` is `python -m dockyard.runtime.cli`) on a bundle made with each
one's `spec` command.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from support import assert_nothing_left as nothing_left, mounts_under

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNTIMES = ["dockyard", "runc"]
DEFAULT_CAPS = 0x00000000A80425FB
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

pytestmark = pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")


# -- helpers -------------------------------------------------------------------------------------


@pytest.fixture(params=RUNTIMES)
def rt(request):
    return request.param


def run(dy, rt, *args, **kw):
    return dy("run", "--runtime", rt, *args, **kw)


def status_of(text: str) -> dict[str, str]:
    return {k.strip(): v.strip() for k, sep, v in (line.partition(":") for line in text.splitlines()) if sep}


def runc_states(dy) -> list[str]:
    """Containers runc still knows about in the engine's runc state root."""
    root = os.path.join(dy.runroot, "runtimes", "runc")
    if not os.path.isdir(root):
        return []
    p = subprocess.run(["runc", "--root", root, "list", "-q"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


def assert_nothing_left(dy, tmp_path) -> None:
    """support's check, plus no runc state left behind."""
    nothing_left(dy, tmp_path)
    assert runc_states(dy) == []


# -- a bootstrapped store, copied --------------------------------------------------------------


# -- through the engine: the same checks for both runtimes ---------------------------------------


def test_pid1(dy, busybox, rt):
    out = run(dy, rt, "--rm", "busybox", "sh", "-c", "echo $$; ps -o pid= ; true").out.split()
    assert out[0] == "1"
    assert len(out) == 3 and out[1] == "1", out  # sh and ps, nothing else


def test_hostname(dy, busybox, rt, name):
    out = run(dy, rt, "--name", name, "busybox", "sh", "-c", "hostname; cat /etc/hostname; echo $HOSTNAME").out
    cid = json.loads(dy("inspect", name).out)[0]["Id"]
    assert out.split() == [cid[:12]] * 3
    assert run(dy, rt, "--rm", "--hostname", "h", "busybox", "hostname").out == "h\n"


@pytest.mark.parametrize("flags, user, want", [
    ((), "", {"CapInh": 0, "CapPrm": DEFAULT_CAPS, "CapEff": DEFAULT_CAPS, "CapBnd": DEFAULT_CAPS, "CapAmb": 0}),
    (("--cap-drop", "NET_RAW", "--cap-add", "SYS_ADMIN"), "",
     {"CapInh": 0, "CapPrm": 0xA82405FB, "CapEff": 0xA82405FB, "CapBnd": 0xA82405FB, "CapAmb": 0}),
    (("--cap-drop", "ALL"), "", {"CapInh": 0, "CapPrm": 0, "CapEff": 0, "CapBnd": 0, "CapAmb": 0}),
    ((), "1000:1000", {"CapInh": 0, "CapPrm": 0, "CapEff": 0, "CapBnd": DEFAULT_CAPS, "CapAmb": 0}),
], ids=["default", "drop-net-raw-add-sys-admin", "drop-all", "non-root"])
def test_capabilities(dy, busybox, rt, flags, user, want):
    args = (*flags, "-u", user) if user else flags
    st = status_of(run(dy, rt, "--rm", *args, "busybox", "cat", "/proc/self/status").out)
    assert {k: int(v, 16) for k, v in st.items() if k.startswith("Cap")} == want
    assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "0"


def test_no_new_privileges_and_unconfined(dy, busybox, rt):
    st = status_of(run(dy, rt, "--rm", "--security-opt", "no-new-privileges", "busybox", "cat",
                       "/proc/self/status").out)
    assert (st["NoNewPrivs"], st["Seccomp"]) == ("1", "2")
    st = status_of(run(dy, rt, "--rm", "--security-opt", "seccomp=unconfined", "busybox", "cat",
                       "/proc/self/status").out)
    assert st["Seccomp"] == "0"


@pytest.mark.parametrize("user, want", [
    ("", "uid=0(root) gid=0(root) groups=0(root),10(wheel)"),
    ("1000:1000", "uid=1000 gid=1000 groups=1000"),
    ("nobody", "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"),
], ids=["root", "1000:1000", "nobody"])
def test_id(dy, busybox, rt, user, want):
    args = ("-u", user) if user else ()
    assert run(dy, rt, "--rm", *args, "busybox", "id").out == want + "\n"


def test_env(dy, busybox, rt, name):
    env = run(dy, rt, "--name", name, "-e", "A=1", "busybox", "env").out.splitlines()
    cid = json.loads(dy("inspect", name).out)[0]["Id"]
    assert env == [PATH_ENV, f"HOSTNAME={cid[:12]}", "A=1", "HOME=/root"]


def test_read_only_root(dy, busybox, rt):
    out = run(dy, rt, "--rm", "--read-only", "busybox", "sh", "-c",
              "touch /x 2>/dev/null && echo ROOT; touch /tmp/x 2>/dev/null && echo TMP; "
              "echo >> /etc/hosts 2>/dev/null && echo HOSTS; touch /dev/shm/x && echo SHM").out
    assert out.split() == ["SHM"]


def test_masked_and_read_only_paths(dy, busybox, rt):
    out = run(dy, rt, "--rm", "busybox", "sh", "-c",
              "cat /proc/keys /proc/timer_list | wc -c; ls -A /proc/acpi | wc -l; ls -A /sys/firmware | wc -l; "
              "echo x > /proc/sys/kernel/domainname 2>/dev/null && echo SYS-WRITABLE; "
              "touch /sys/firmware/x 2>/dev/null && echo FIRMWARE-WRITABLE; true").out
    assert out.split() == ["0", "0", "0"]  # empty files (/dev/null), empty directories (tmpfs)


def test_dev(dy, busybox, rt):
    out = run(dy, rt, "--rm", "busybox", "sh", "-c",
              "for f in /dev/*; do echo \"$f $(stat -c '%F %a %t:%T' $f) $(readlink $f)\"; done").out
    want = {
        "/dev/fd symbolic link 777 0:0 /proc/self/fd",
        "/dev/full character special file 666 1:7",
        "/dev/mqueue directory 1777 0:0",
        "/dev/null character special file 666 1:3",
        "/dev/ptmx symbolic link 777 0:0 pts/ptmx",
        "/dev/pts directory 755 0:0",
        "/dev/random character special file 666 1:8",
        "/dev/shm directory 1777 0:0",
        "/dev/stderr symbolic link 777 0:0 /proc/self/fd/2",
        "/dev/stdin symbolic link 777 0:0 /proc/self/fd/0",
        "/dev/stdout symbolic link 777 0:0 /proc/self/fd/1",
        "/dev/tty character special file 666 5:0",
        "/dev/urandom character special file 666 1:9",
        "/dev/zero character special file 666 1:5",
    }
    if os.path.exists("/proc/kcore"):
        want.add("/dev/core symbolic link 777 0:0 /proc/kcore")
    assert {line.strip() for line in out.splitlines()} == want


@pytest.mark.parametrize("cmd, code", [
    (["true"], 0),
    (["sh", "-c", "exit 3"], 3),
    (["/etc/passwd"], 126),
    (["nosuchcmd"], 127),
    (["sh", "-c", "sh -c 'kill -KILL $$'; exit $?"], 137),
], ids=["0", "3", "126", "127", "137"])
def test_exit_codes(dy, busybox, rt, tmp_path, cmd, code):
    p = run(dy, rt, "--rm", "busybox", *cmd, check=False)
    assert p.returncode == code, p.err
    assert "Traceback" not in p.err
    assert_nothing_left(dy, tmp_path)


@pytest.mark.parametrize("cmd, what", [(["nosuchcmd"], "nosuchcmd"), (["/etc/passwd"], "/etc/passwd")],
                         ids=["127", "126"])
def test_start_errors_are_reported_once(dy, busybox, rt, cmd, what):
    p = run(dy, rt, "--rm", "busybox", *cmd, check=False)
    assert p.out == ""
    ours = [line for line in p.err.splitlines() if line.startswith("dockyard: error: ")]
    assert len(ours) == 1 and what in ours[0], p.err
    # runc writes its own fatal error to the stderr it shares with the container, before ours;
    # dockyard's runtime says nothing but dockyard's one line
    others = [line for line in p.err.splitlines() if not line.startswith("dockyard: error: ")]
    assert others == [] if rt == "dockyard" else all("runc create failed" in line for line in others), p.err


def test_killed_init_is_137(dy, busybox, rt, name, tmp_path):
    p = subprocess.Popen(dy.cmd("run", "--runtime", rt, "--rm", "--name", name, "busybox", "sh", "-c",
                                "echo ready; exec sleep 30"),
                         env=dy.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"ready\n"
        pid = json.loads(dy("inspect", name).out)[0]["State"]["Pid"]
        deadline = time.monotonic() + 10
        while open(f"/proc/{pid}/comm").read().strip() != "sleep":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)
        assert p.wait(timeout=20) == 137
    finally:
        p.kill()
        p.wait()
    assert_nothing_left(dy, tmp_path)


def test_stdin(dy, busybox, rt):
    assert run(dy, rt, "-i", "--rm", "busybox", "cat", input="hi").out == "hi"
    assert run(dy, rt, "--rm", "busybox", "sh", "-c", "cat; echo END", input="not for you").out == "END\n"


def test_rm_cleans_up(dy, busybox, rt, tmp_path):
    run(dy, rt, "--rm", "busybox", "sh", "-c", "echo x > /file")
    assert_nothing_left(dy, tmp_path)


def test_kept_container_then_rm(dy, busybox, rt, name, tmp_path):
    assert run(dy, rt, "--name", name, "busybox", "sh", "-c", "exit 3", check=False).returncode == 3
    st = json.loads(dy("inspect", name).out)[0]["State"]
    assert (st["Status"], st["ExitCode"]) == ("exited", 3)
    assert runc_states(dy) == []  # the runtime's own record goes when the process does
    dy("rm", name)
    assert_nothing_left(dy, tmp_path)


PROBE = r"""
grep -E '^(Cap|Seccomp|NoNewPrivs)' /proc/self/status
echo "pid=$$ ppid=$PPID"; id; umask; pwd; hostname | wc -c
echo "nofile=$(ulimit -n) $(ulimit -Hn)"; cat /proc/self/oom_score_adj
env | grep -v ^HOSTNAME= | sort
ls /sys/class/net; cat /sys/class/net/lo/operstate
for f in /dev/* /dev/pts/* /dev/shm/* /dev/mqueue/*; do echo "$f $(stat -c '%F %a %u:%g %t:%T' $f)"; done
while read src dst fstype opts rest; do
  case "$dst" in /sys/fs/cgroup*) continue;; esac
  echo "mount $dst $fstype ${opts%%,*}"
done < /proc/mounts
for p in kcore keys timer_list latency_stats timer_stats sched_debug; do
  [ -e /proc/$p ] && echo "/proc/$p $(wc -c < /proc/$p)"; done
ls -A /proc/acpi /proc/scsi /sys/firmware 2>&1
ls /
"""


def _probe(dy, rt, *flags):
    return run(dy, rt, "--rm", *flags, "busybox", "sh", "-c", PROBE).out


@pytest.mark.parametrize("flags", [(), ("-u", "1000:1000", "--read-only", "-w", "/tmp"),
                                   ("--cap-drop", "ALL", "--security-opt", "no-new-privileges")],
                         ids=["default", "user-readonly-workdir", "no-caps-nnp"])
def test_both_runtimes_give_the_same_container(dy, busybox, flags):
    """Everything a process can see of its container, side by side (cgroup mounts aside)."""
    ours, theirs = _probe(dy, "dockyard", *flags), _probe(dy, "runc", *flags)
    assert ours.splitlines() == theirs.splitlines()


# -- the runtimes' own CLI on a bundle -----------------------------------------------------------


RUNTIME_CLIS = ["dockyard-runtime", "runc"]


def runtime_cmd(which: str, state_root: str) -> list[str]:
    if which == "runc":
        return ["runc", "--root", state_root]
    return [sys.executable, "-m", "dockyard.runtime.cli", "--root", state_root]


def runtime_env() -> dict:
    return dict(os.environ, PYTHONPATH=REPO)


@pytest.fixture
def rootfs_dir(dy, busybox):
    layers = glob.glob(os.path.join(dy.root, "snapshots", "layers", "*", "fs"))
    assert len(layers) == 1, layers
    return layers[0]


def make_bundle(tmp_path, rootfs_dir: str, spec_tool: str, args: list[str]) -> str:
    bundle = tmp_path / f"bundle-{spec_tool}"
    bundle.mkdir()
    subprocess.run(["cp", "-a", rootfs_dir, str(bundle / "rootfs")], check=True)
    p = subprocess.run(runtime_cmd(spec_tool, str(tmp_path / "unused")) + ["spec"], cwd=bundle,
                       env=runtime_env(), capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    with open(bundle / "config.json") as f:
        spec = json.load(f)
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    with open(bundle / "config.json", "w") as f:
        json.dump(spec, f)
    return str(bundle)


@pytest.fixture
def cleanup_runtime_states(tmp_path):
    roots: list[tuple[str, str]] = []
    yield roots
    for which, root in roots:
        cmd = runtime_cmd(which, root)
        if not os.path.isdir(root):
            continue
        p = subprocess.run(cmd + ["list", "-q"], env=runtime_env(), capture_output=True, text=True)
        for cid in p.stdout.split():
            subprocess.run(cmd + ["delete", "--force", cid], env=runtime_env(), capture_output=True)


@pytest.mark.parametrize("spec_tool", RUNTIME_CLIS)
@pytest.mark.parametrize("runtime", RUNTIME_CLIS)
def test_bundle_run_exit_code(tmp_path, rootfs_dir, cleanup_runtime_states, runtime, spec_tool):
    bundle = make_bundle(tmp_path, rootfs_dir, spec_tool, ["sh", "-c", "echo out; echo err >&2; exit 5"])
    state_root = str(tmp_path / f"state-{runtime}")
    cleanup_runtime_states.append((runtime, state_root))
    p = subprocess.run(runtime_cmd(runtime, state_root) + ["run", "c1"], cwd=bundle, env=runtime_env(),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert p.returncode == 5, p.stderr
    assert p.stdout == b"out\n" and p.stderr == b"err\n"
    listing = subprocess.run(runtime_cmd(runtime, state_root) + ["list", "-q"], env=runtime_env(),
                             capture_output=True, text=True)
    assert listing.returncode == 0 and listing.stdout == ""  # run without --keep deletes
    assert mounts_under(bundle) == []


def create(cmd: list[str], bundle: str, cid: str, log_dir) -> subprocess.CompletedProcess:
    """`create` hands its stdio to the container: a pipe would stay open until the container
    exits, so errors go to a file."""
    err_path = os.path.join(str(log_dir), f"create-{cid}-{time.monotonic_ns()}.err")
    with open(err_path, "wb") as err:
        p = subprocess.run(cmd + ["create", "--bundle", bundle, cid], env=runtime_env(), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=err, timeout=60)
    with open(err_path) as f:
        p.err = f.read()
    return p


def _state(cmd, cid) -> dict:
    p = subprocess.run(cmd + ["state", cid], env=runtime_env(), capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def _lifecycle(tmp_path, bundle: str, runtime: str, cleanup) -> list[dict]:
    """create → state → start → state → kill KILL → state → delete → list; returns the states."""
    state_root = str(tmp_path / f"state-{runtime}-{os.path.basename(bundle)}")
    cleanup.append((runtime, state_root))
    cmd = runtime_cmd(runtime, state_root)
    cid = "lifecycle-1"
    p = create(cmd, bundle, cid, tmp_path)
    assert p.returncode == 0, p.err
    created = _state(cmd, cid)
    assert created["status"] == "created" and created["pid"] > 0 and created["id"] == cid
    assert created["bundle"] == bundle and os.path.exists(f"/proc/{created['pid']}")
    p = subprocess.run(cmd + ["start", cid], env=runtime_env(), capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    started = _state(cmd, cid)
    assert started["status"] in ("running", "stopped")
    assert started["pid"] == created["pid"]
    with open(f"/proc/{created['pid']}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0] == b"sleep"  # the container's process, exec'd
    p = subprocess.run(cmd + ["kill", cid, "KILL"], env=runtime_env(), capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    deadline = time.monotonic() + 10
    while (stopped := _state(cmd, cid))["status"] != "stopped":
        assert time.monotonic() < deadline, stopped
        time.sleep(0.05)
    p = subprocess.run(cmd + ["delete", cid], env=runtime_env(), capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    p = subprocess.run(cmd + ["list", "-q"], env=runtime_env(), capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stdout == ""
    p = subprocess.run(cmd + ["state", cid], env=runtime_env(), capture_output=True, text=True, timeout=30)
    assert p.returncode != 0  # gone
    assert not os.path.exists(f"/proc/{created['pid']}") or \
        open(f"/proc/{created['pid']}/cmdline", "rb").read().split(b"\0")[0] != b"sleep"
    return [created, started, stopped]


@pytest.mark.parametrize("spec_tool", RUNTIME_CLIS)
def test_bundle_lifecycle_and_state_json(tmp_path, rootfs_dir, cleanup_runtime_states, spec_tool):
    bundle = make_bundle(tmp_path, rootfs_dir, spec_tool, ["sleep", "30"])
    ours = _lifecycle(tmp_path, bundle, "dockyard-runtime", cleanup_runtime_states)
    theirs = _lifecycle(tmp_path, bundle, "runc", cleanup_runtime_states)
    for a, b in zip(ours, theirs):
        assert sorted(a) == sorted(b)  # the same `state` keys as runc's
        assert a["status"] == b["status"] and a["rootfs"] == b["rootfs"] and a["bundle"] == b["bundle"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", a["created"])
    assert ours[2]["pid"] == 0 and theirs[2]["pid"] == 0
    assert mounts_under(bundle) == []


@pytest.mark.parametrize("runtime", RUNTIME_CLIS)
def test_bundle_errors(tmp_path, rootfs_dir, cleanup_runtime_states, runtime):
    bundle = make_bundle(tmp_path, rootfs_dir, "dockyard-runtime", ["sleep", "30"])
    state_root = str(tmp_path / f"state-{runtime}")
    cleanup_runtime_states.append((runtime, state_root))
    cmd = runtime_cmd(runtime, state_root)
    for sub in (["state", "nope"], ["start", "nope"], ["kill", "nope", "KILL"], ["delete", "nope"]):
        p = subprocess.run(cmd + sub, env=runtime_env(), capture_output=True, text=True, timeout=30)
        assert p.returncode != 0, sub
        assert "Traceback" not in p.stderr
    p = create(cmd, bundle, "dup", tmp_path)
    assert p.returncode == 0, p.err
    p = create(cmd, bundle, "dup", tmp_path)
    assert p.returncode != 0 and "exists" in p.err and "Traceback" not in p.err
    p = subprocess.run(cmd + ["delete", "dup"], env=runtime_env(), capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr  # a created (not running) container may be deleted
    p = subprocess.run(cmd + ["list", "-q"], env=runtime_env(), capture_output=True, text=True, timeout=30)
    assert p.stdout == ""
