"""containerd 1.6 (io.containerd.runc.v2 shim) driving `dockyard-runtime` via `ctr --runc-binary`.

A private containerd runs for this module only: its own root, state, socket and config (CRI,
tracing and the snapshotters that need other hosts or devices disabled), in the background, and
is stopped at the end with its mounts and shim processes. The image is a docker-archive built
by hand (conftest's `docker_archive`) and imported with `ctr images import`. All containers live
in a namespace of this session, so the shim's runtime state (/run/containerd/runc/<ns>) is ours
alone and is removed afterwards. Every command has a timeout.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from dockyard_interop import SESSION, kill_processes_under, sh, unmount_below, wait_for

RUNC = shutil.which("runc")
TOOLS = ("containerd", "ctr", "containerd-shim-runc-v2")
SHIM_RUNTIME_ROOT = "/run/containerd/runc"  # the v2 shim's default runtime --root, per namespace

CONFIG = """\
version = 2
root = "{root}"
state = "{state}"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
"""


class Containerd:
    def __init__(self, base: str) -> None:
        self.base = base
        self.sock = os.path.join(base, "c.sock")
        self.log_path = os.path.join(base, "containerd.log")
        self.ns = f"dytest-{SESSION}"
        self.proc: subprocess.Popen | None = None

    def ctr(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return sh(["ctr", "--address", self.sock, "--namespace", self.ns, *args], timeout=timeout)

    def start(self) -> None:
        cfg = os.path.join(self.base, "config.toml")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(root=os.path.join(self.base, "root"), state=os.path.join(self.base, "state"),
                                  sock=self.sock, opt=os.path.join(self.base, "opt")))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ["containerd", "--config", cfg, "--root", os.path.join(self.base, "root"),
                 "--state", os.path.join(self.base, "state"), "--address", self.sock],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        ok = wait_for(lambda: self.proc.poll() is not None or self.ctr("version", timeout=10).returncode == 0, 30, 0.2)
        if not ok or self.proc.poll() is not None:
            self.stop()
            raise AssertionError(f"private containerd did not come up:\n{self.log()[-3000:]}")

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def _shim_pids(self) -> list[int]:
        pids = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        argv = f.read().split(b"\0")
                except OSError:
                    continue
                if argv and argv[0].endswith(b"containerd-shim-runc-v2") and self.sock.encode() in argv:
                    pids.append(int(pid))
        return pids

    def stop(self) -> None:
        # our containers and images first, while the daemon still answers
        if self.proc is not None and self.proc.poll() is None:
            for cid in self.ctr("containers", "list", "-q").stdout.split():
                self.ctr("tasks", "kill", "-s", "SIGKILL", cid, timeout=20)
                self.ctr("tasks", "delete", "--force", cid, timeout=20)
                self.ctr("containers", "delete", cid, timeout=20)
            for ref in self.ctr("images", "list", "-q").stdout.split():
                self.ctr("images", "remove", ref, timeout=30)
            self.ctr("namespaces", "remove", self.ns, timeout=20)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        for pid in self._shim_pids():  # shims of this daemon only (they carry its socket path)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        kill_processes_under(self.base)
        unmount_below(self.base)
        shutil.rmtree(os.path.join(SHIM_RUNTIME_ROOT, self.ns), ignore_errors=True)
        # the runtime removes each container's cgroup; the namespace's parent dirs (/<ns>) that were
        # created for them are ours to remove, once the shims and their containers are gone
        dirs = [os.path.join(b, self.ns) for b in
                ("/sys/fs/cgroup", *(os.path.join("/sys/fs/cgroup", h) for h in os.listdir("/sys/fs/cgroup")))]
        deadline = time.monotonic() + 10
        while any(os.path.isdir(d) for d in dirs) and time.monotonic() < deadline:
            for d in dirs:
                for sub in sorted((os.path.join(r, x) for r, xs, _ in os.walk(d) for x in xs), key=len, reverse=True):
                    try:
                        os.rmdir(sub)
                    except OSError:
                        pass
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            time.sleep(0.1)


@pytest.fixture(scope="module")
def containerd(tmp_path_factory):
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (apt-get install containerd)")
    if RUNC is None:
        pytest.skip("runc is not installed (the reference runtime)")
    c = Containerd(str(tmp_path_factory.mktemp("ctrd")))  # short: unix socket paths max 108 bytes
    assert len(c.sock) < 100, c.sock
    c.start()
    yield c
    c.stop()
    assert c.proc.poll() is not None, "containerd is still running"
    assert c._shim_pids() == [], "containerd shims are still running"
    with open("/proc/self/mountinfo") as f:
        left = [line.split()[4] for line in f if line.split()[4].startswith(c.base)]
    assert left == [], f"mounts left under {c.base}: {left}"


@pytest.fixture(scope="module")
def ctr_image(containerd, docker_archive):
    path, ref = docker_archive
    p = containerd.ctr("images", "import", path, timeout=120)
    assert p.returncode == 0, f"ctr images import: {p.stderr}\n{containerd.log()[-2000:]}"
    assert ref in containerd.ctr("images", "list", "-q").stdout
    return ref


@pytest.fixture(scope="module")
def runtimes(dockyard_runtime):
    return {"runc": RUNC, "dockyard": dockyard_runtime}


def _cid(tag: str) -> str:
    return f"dyt-{tag}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("which", ["runc", "dockyard"])
def test_ctr_run_output_and_exit_code(containerd, ctr_image, runtimes, which):
    cid = _cid(which)
    p = containerd.ctr("run", "--rm", "--runc-binary", runtimes[which], ctr_image, cid,
                       "sh", "-c", "echo hi; exit 4", timeout=90)
    assert (p.returncode, p.stdout) == (4, "hi\n"), f"{p.stderr}\n{containerd.log()[-2000:]}"
    assert cid not in containerd.ctr("containers", "list", "-q").stdout.split()
    assert not os.path.exists(os.path.join(SHIM_RUNTIME_ROOT, containerd.ns, cid))


@pytest.mark.parametrize("which", ["runc", "dockyard"])
def test_ctr_shim_cleanup_has_no_runtime_errors(containerd, ctr_image, runtimes, which):
    """The shim's cleanup (`delete --force` of an already-deleted container) must not fail."""
    cid = _cid(which)
    p = containerd.ctr("run", "--rm", "--runc-binary", runtimes[which], ctr_image, cid, "true", timeout=90)
    assert p.returncode == 0, p.stderr
    lines = wait_for(lambda: [line for line in containerd.log().splitlines()
                              if f"id={cid}" in line and "cleaning up after shim disconnected" in line], 5)
    assert lines, "containerd did not log the shim's exit"
    time.sleep(1.0)  # the shim's `delete` warnings are logged right after that line
    failures = [line for line in containerd.log().splitlines()
                if "failed to remove runc container" in line and f": {cid}" in line]
    assert failures == [], failures


@pytest.mark.parametrize("which", ["runc", "dockyard"])
def test_ctr_detached_exec_kill_delete(containerd, ctr_image, runtimes, which):
    cid = _cid(which)
    p = containerd.ctr("run", "-d", "--runc-binary", runtimes[which], ctr_image, cid, "sleep", "1000", timeout=90)
    assert p.returncode == 0, f"{p.stderr}\n{containerd.log()[-2000:]}"
    try:
        assert wait_for(lambda: "RUNNING" in containerd.ctr("tasks", "list").stdout, 20)
        p = containerd.ctr("tasks", "exec", "--exec-id", "e1", cid, "sh", "-c", "echo ex; exit 6", timeout=60)
        assert (p.returncode, p.stdout) == (6, "ex\n"), p.stderr
        assert containerd.ctr("tasks", "kill", "-s", "SIGKILL", cid).returncode == 0
        assert wait_for(lambda: "STOPPED" in containerd.ctr("tasks", "list").stdout, 20)
        p = containerd.ctr("tasks", "delete", cid)
        assert p.returncode == 0, p.stderr
    finally:
        containerd.ctr("tasks", "delete", "--force", cid)
        containerd.ctr("containers", "delete", cid)
    assert containerd.ctr("tasks", "list", "-q").stdout.split() == []


def test_nothing_left_behind(containerd, ctr_image):
    assert containerd.ctr("containers", "list", "-q").stdout.split() == []
    assert containerd.ctr("tasks", "list", "-q").stdout.split() == []
    state_dir = os.path.join(SHIM_RUNTIME_ROOT, containerd.ns)
    assert not os.path.isdir(state_dir) or os.listdir(state_dir) == []
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if containerd.base in line.split()[4]]
    assert mounts == [], mounts
