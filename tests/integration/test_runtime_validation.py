"""What the OCI runtime-tools validation suite found in dockyard-runtime, checked without the suite.

The suite (docs/conformance.md) cannot run in CI (it is fetched and built outside the repo), so
each fix it led to has a test here that runs dockyard-runtime and Debian's runc side by side on the
same bundle, through runc's command-line contract, and then looks at the host: no container
state, process, mount or cgroup may be left by a refused spec, and the container's command must
not have run.

- `process.apparmorProfile` was ignored (linux_process_apparmor_profile.t "passed" because of
  it): it is now applied as runc applies it, and refused where the host has no AppArmor.
- `linux.mountLabel` and `process.selinuxLabel` were ignored (linux_mount_label.t): refused.
- An unknown `process.rlimits` type failed inside init as a Python `ValueError`
  (process_rlimits_fail.t): refused at create with runc's words.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest
from support import container_processes, mounts_under

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNTIMES = ["dockyard-runtime", "runc"]
CGROUP_BASE = "/sys/fs/cgroup"

pytestmark = pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")


def apparmor_enabled() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return os.path.isdir("/sys/kernel/security/apparmor") and f.read(1) == "Y"
    except OSError:
        return False


def selinux_enabled() -> bool:
    return os.path.exists("/sys/fs/selinux/enforce")


class Bundle:
    """A busybox bundle made by `runc spec`, with its own cgroup path and state roots."""

    def __init__(self, tmp_path, rootfs: str) -> None:
        self.dir = str(tmp_path / "bundle")
        os.mkdir(self.dir)
        subprocess.run(["cp", "-a", rootfs, os.path.join(self.dir, "rootfs")], check=True)
        subprocess.run(["runc", "spec"], cwd=self.dir, check=True, timeout=30)
        with open(os.path.join(self.dir, "config.json")) as f:
            self.spec = json.load(f)
        self.spec["process"]["terminal"] = False
        self.spec["root"]["readonly"] = False  # so the canary could be written, had the command run
        self.cgroup = f"/dockyard-rtval-{uuid.uuid4().hex[:12]}"
        self.spec["linux"]["cgroupsPath"] = self.cgroup
        self.tmp = tmp_path
        self.used: list[tuple[str, str]] = []

    def write(self) -> None:
        with open(os.path.join(self.dir, "config.json"), "w") as f:
            json.dump(self.spec, f)

    def cmd(self, runtime: str) -> list[str]:
        root = str(self.tmp / f"state-{runtime}")
        if (runtime, root) not in self.used:
            self.used.append((runtime, root))
        if runtime == "runc":
            return ["runc", "--root", root]
        return [sys.executable, "-S", "-m", "dockyard.runtime.cli", "--root", root]

    def run(self, runtime: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """A runtime command; its stdio goes to files (a created container keeps a pipe open)."""
        out, err = self.tmp / f"out-{uuid.uuid4().hex}", self.tmp / f"err-{uuid.uuid4().hex}"
        with open(out, "wb") as o, open(err, "wb") as e:
            p = subprocess.run(self.cmd(runtime) + list(args), env=dict(os.environ, PYTHONPATH=REPO),
                               stdin=subprocess.DEVNULL, stdout=o, stderr=e, timeout=timeout, cwd=self.dir)
        p.out, p.err = out.read_text(), err.read_text()
        return p

    def create(self, runtime: str, cid: str) -> subprocess.CompletedProcess:
        return self.run(runtime, "create", "--bundle", self.dir, cid)

    def cgroup_dirs(self) -> list[str]:
        found = []
        for h in [CGROUP_BASE] + glob.glob(os.path.join(CGROUP_BASE, "*")):
            d = h + self.cgroup
            if os.path.isdir(d):
                found.append(d)
        return found

    def cleanup(self) -> None:
        for runtime, root in self.used:
            if not os.path.isdir(root):
                continue
            for cid in os.listdir(root):
                self.run(runtime, "delete", "--force", cid)
        for d in self.cgroup_dirs():
            try:
                os.rmdir(d)
            except OSError:
                pass

    def assert_host_clean(self, runtime: str) -> None:
        """Nothing of a refused container is left: state, processes, mounts, cgroup."""
        p = self.run(runtime, "list", "-q")
        assert p.returncode == 0 and p.out == "", (p.out, p.err)
        root = self.cmd(runtime)[self.cmd(runtime).index("--root") + 1]
        assert not os.path.isdir(root) or os.listdir(root) == []
        assert container_processes(self.dir) == []
        assert mounts_under(self.dir) == []
        assert self.cgroup_dirs() == []
        assert not os.path.exists(os.path.join(self.dir, "rootfs", "ran")), "the container's command ran"


@pytest.fixture
def bundle(tmp_path, dy, busybox):
    layers = glob.glob(os.path.join(dy.root, "snapshots", "layers", "*", "fs"))
    assert len(layers) == 1, layers
    b = Bundle(tmp_path, layers[0])
    yield b
    b.cleanup()


CANARY = ["sh", "-c", "echo ran > /ran; cat /proc/self/attr/current"]


def refused(b: Bundle, runtime: str) -> subprocess.CompletedProcess:
    """create must fail, cleanly, and start nothing."""
    cid = "rtval-" + uuid.uuid4().hex[:8]
    p = b.create(runtime, cid)
    assert p.returncode != 0, (runtime, p.out, p.err)
    assert "Traceback" not in p.err, p.err
    b.assert_host_clean(runtime)
    return p


@pytest.mark.skipif(apparmor_enabled(), reason="needs a host without AppArmor (see the next test)")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_apparmor_profile_without_apparmor_is_refused(bundle, runtime):
    bundle.spec["process"]["args"] = CANARY
    bundle.spec["process"]["apparmorProfile"] = "acme_secure_profile"
    bundle.write()
    p = refused(bundle, runtime)
    if runtime == "dockyard-runtime":
        assert "apparmorProfile 'acme_secure_profile'" in p.err and "AppArmor is not enabled" in p.err, p.err
    else:  # runc fails at the same point our applying code would, had we not refused first
        assert "apparmor failed to apply profile" in p.err, p.err


@pytest.mark.skipif(not apparmor_enabled(), reason="needs a host with AppArmor")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_apparmor_profile_is_applied(bundle, runtime):
    """Where AppArmor is on, both runtimes put the process in the profile from its exec on."""
    bundle.spec["process"]["args"] = CANARY
    bundle.spec["process"]["apparmorProfile"] = "unconfined"
    bundle.write()
    p = bundle.run(runtime, "run", "rtval-" + uuid.uuid4().hex[:8])
    assert p.returncode == 0, p.err
    assert p.out.strip() == "unconfined"


def test_apparmor_write_fails_as_runc_where_no_lsm_takes_it():
    """The applying code itself (reached only where AppArmor is on, so not by `create` on this
    host): the kernel's refusal comes back as runc words it, never as a traceback."""
    from dockyard.errors import BadSpec
    from dockyard.runtime import lsm

    if apparmor_enabled():
        pytest.skip("the write succeeds where AppArmor is on")
    with pytest.raises(BadSpec, match=r"apparmor failed to apply profile 'p': write /proc/self/attr/\S+: "):
        lsm.apply_apparmor_on_exec({"apparmorProfile": "p"})
    lsm.apply_apparmor_on_exec({})  # no profile: nothing to write


@pytest.mark.skipif(selinux_enabled(), reason="runc labels mounts and processes on an SELinux host")
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("field", ["linux.mountLabel", "process.selinuxLabel"])
def test_selinux_labels_are_refused(bundle, runtime, field):
    bundle.spec["process"]["args"] = CANARY
    section, key = field.split(".")
    bundle.spec[section][key] = "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811"
    bundle.write()
    p = refused(bundle, runtime)
    if runtime == "dockyard-runtime":
        assert f"{key} 'system_u:object_r:svirt_sandbox_file_t:s0:c715,c811' is set" in p.err, p.err
        assert "does not apply SELinux labels" in p.err, p.err


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_unknown_rlimit_is_refused(bundle, runtime):
    bundle.spec["process"]["args"] = CANARY
    bundle.spec["process"]["rlimits"] = [{"type": "RLIMIT_TEST", "hard": 1024, "soft": 1024}]
    bundle.write()
    p = refused(bundle, runtime)
    assert "wrong rlimit value" in p.err, p.err  # runc's words
    if runtime == "dockyard-runtime":
        assert "ValueError" not in p.err and "RLIMIT_TEST" in p.err, p.err


@pytest.mark.skipif(apparmor_enabled(), reason="needs a host without AppArmor")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_exec_with_apparmor_profile_runs_nothing(bundle, runtime):
    """`exec --process` carrying a profile that cannot be applied: refused, nothing runs in the
    container, and the container itself is untouched."""
    bundle.spec["process"]["args"] = ["sleep", "60"]
    bundle.write()
    cid = "rtval-" + uuid.uuid4().hex[:8]
    p = bundle.run(runtime, "run", "--detach", cid)
    assert p.returncode == 0, p.err
    process = dict(bundle.spec["process"], args=["sh", "-c", "echo ran > /ran"],
                   apparmorProfile="acme_secure_profile")
    proc_file = bundle.tmp / f"process-{runtime}.json"
    proc_file.write_text(json.dumps(process))
    p = bundle.run(runtime, "exec", "--process", str(proc_file), cid)
    assert p.returncode != 0, (p.out, p.err)
    assert "Traceback" not in p.err
    assert "apparmor" in p.err.lower(), p.err
    assert not os.path.exists(os.path.join(bundle.dir, "rootfs", "ran"))
    st = json.loads(bundle.run(runtime, "state", cid).out)
    assert st["status"] == "running"
    with open(f"/proc/{st['pid']}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0] == b"sleep"
    p = bundle.run(runtime, "delete", "--force", cid)
    assert p.returncode == 0, p.err
    bundle.assert_host_clean(runtime)
