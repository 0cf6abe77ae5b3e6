"""Resource limits through the CLI: -m/--memory-swap (OOM kills recorded), --pids-limit (fork
bombs bounded), --cpus/--cpu-shares/--cpuset-cpus seen from inside the container and on the host,
and invalid values refused with exit 125 and a clear message, as `docker run` does.

The host here has cgroup v1 controllers (hybrid); inside a container its own cgroup is mounted at
/sys/fs/cgroup/<controller>, as with Docker. Every test cleans up its containers and cgroups.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from support import CGROUP_BASE, cgroup_dirs, no_traceback, run_d, wait_for

MB = 1 << 20
V1 = os.path.isdir(os.path.join(CGROUP_BASE, "memory")) and os.path.isdir(os.path.join(CGROUP_BASE, "pids"))
HOG = 'x=$(head -c 100000000 /dev/zero | tr "\\0" a)'
UNLIMITED_V1 = 9223372036854771712

pytestmark = pytest.mark.skipif(not V1, reason="these checks read cgroup v1 files (hybrid host)")


# -- helpers -------------------------------------------------------------------------------------


def fmt(dy, ref: str, template: str) -> str:
    return dy("inspect", "-f", template, ref, timeout=30).out.strip()


def inside(dy, *flags: str, script: str) -> list[str]:
    """Output lines of `sh -c SCRIPT` in a foreground `run --rm FLAGS… busybox`."""
    return dy("run", "--rm", *flags, "busybox", "sh", "-c", script, timeout=60).out.splitlines()


def cg_file(controller: str, cid: str, name: str) -> str:
    return os.path.join(CGROUP_BASE, controller, "dockyard", cid, name)


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


# -- memory ----------------------------------------------------------------------------------------


def test_memory_hog_is_oom_killed_in_the_foreground(dy, busybox, name):
    t0 = time.monotonic()
    p = dy("run", "--name", name, "-m", "32m", "busybox", "sh", "-c", HOG, check=False, timeout=60)
    assert p.returncode == 137, p.err
    assert time.monotonic() - t0 < 30
    assert fmt(dy, name, "{{.State.OOMKilled}}") == "true"
    assert fmt(dy, name, "{{.State.ExitCode}}") == "137"
    assert json.loads(dy("inspect", name).out)[0]["State"]["OOMKilled"] is True
    assert "Exited (137)" in dy("ps", "-a").out


def test_memory_hog_is_oom_killed_detached(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", HOG, flags=("-m", "32m"))
    assert dy("wait", name, timeout=60).out.strip() == "137"
    assert fmt(dy, name, "{{.State.OOMKilled}}") == "true"
    assert fmt(dy, name, "{{.State.Status}}") == "exited"
    assert "Exited (137)" in dy("ps", "-a").out
    wait_for(lambda: not cgroup_dirs(cid), timeout=5, what="the cgroup to be removed")


def test_no_oom_flag_for_a_container_within_its_limit(dy, busybox, name):
    p = dy("run", "--name", name, "-m", "32m", "busybox", "sh", "-c", "x=$(head -c 1000000 /dev/zero | tr '\\0' a)",
           timeout=60)
    assert p.returncode == 0
    assert fmt(dy, name, "{{.State.OOMKilled}}") == "false"
    run_d(dy, name + "-k", "sleep", "60", flags=("-m", "32m"))
    dy("kill", name + "-k", timeout=30)
    dy("wait", name + "-k", timeout=30)
    # killed with SIGKILL by the user, not by the OOM killer
    assert fmt(dy, name + "-k", "{{.State.ExitCode}} {{.State.OOMKilled}}") == "137 false"


def test_memory_limit_files(dy, busybox, name):
    cid = run_d(dy, name, "sleep", "60", flags=("-m", "32m", "--memory-swap", "64m"))
    assert int(read(cg_file("memory", cid, "memory.limit_in_bytes"))) == 32 * MB
    if os.path.exists(cg_file("memory", cid, "memory.memsw.limit_in_bytes")):
        assert int(read(cg_file("memory", cid, "memory.memsw.limit_in_bytes"))) == 64 * MB
    assert dy("exec", name, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes").out.strip() == str(32 * MB)
    dy("rm", "-f", name, timeout=30)
    assert cgroup_dirs(cid) == []


@pytest.mark.skipif(not os.path.exists(f"{CGROUP_BASE}/memory/memory.memsw.limit_in_bytes"), reason="no swap accounting")
@pytest.mark.parametrize("flags, memsw", [
    (("-m", "32m", "--memory-swap", "64m"), 64 * MB),
    (("-m", "32m", "--memory-swap", "32m"), 32 * MB),
    (("-m", "32m"), 64 * MB),  # docker: swap defaults to as much as memory
    (("-m", "32m", "--memory-swap", "-1"), UNLIMITED_V1),
])
def test_memory_swap(dy, busybox, flags, memsw):
    out = inside(dy, *flags, script="cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
                                    "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
    assert int(out[0]) == 32 * MB
    assert int(out[1]) == memsw


# -- pids ------------------------------------------------------------------------------------------


def test_pids_limit_bounds_a_fork_bomb(dy, busybox, name):
    # The shell itself dies when a fork fails, so the bomb runs in children that start together
    # (11 processes) and then fork until the limit stops them.
    bomb = 'sh -c "sleep 0.3; for j in \\$(seq 30); do sleep 4 & done; wait"'
    cid = run_d(dy, name, "sh", "-c", f"for i in 1 2 3 4 5; do {bomb} & done; wait",
                flags=("--pids-limit", "20"))
    assert read(cg_file("pids", cid, "pids.max")) == "20"
    peak = 0
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        try:
            peak = max(peak, int(read(cg_file("pids", cid, "pids.current"))))
        except (OSError, ValueError):
            break
        time.sleep(0.05)
    assert 15 <= peak <= 20, peak  # the bomb reached the limit and no further
    if fmt(dy, name, "{{.State.Status}}") == "running":
        lines = dy("top", name, check=False).out.splitlines()
        assert len(lines) - 1 <= 20, lines
    wait_for(lambda: "can't fork" in dy("logs", name).err, what="fork failures in the logs")
    dy("rm", "-f", name, timeout=30)
    assert cgroup_dirs(cid) == []
    # the host survives and can run containers
    assert dy("run", "--rm", "busybox", "echo", "alive", timeout=30).out == "alive\n"


def test_pids_limit_in_the_foreground(dy, busybox):
    p = dy("run", "--rm", "--pids-limit", "20", "busybox", "sh", "-c",
           "for i in $(seq 100); do sleep 5 & done; wait", check=False, timeout=60)
    assert p.returncode != 0 and "can't fork" in p.err, (p.returncode, p.err)
    out = inside(dy, "--pids-limit", "20", script="cat /sys/fs/cgroup/pids/pids.max")
    assert out == ["20"]
    assert inside(dy, "--pids-limit", "-1", script="cat /sys/fs/cgroup/pids/pids.max") == ["max"]


# -- cpu -------------------------------------------------------------------------------------------


def test_cpus_quota_inside_and_on_the_host(dy, busybox, name):
    out = inside(dy, "--cpus", "0.5", script="cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us")
    assert out == ["50000", "100000"]
    assert inside(dy, "--cpus", "1.5", script="cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us") == ["150000"]
    assert inside(dy, script="cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us") == ["-1"]
    assert inside(dy, "--cpu-shares", "512", script="cat /sys/fs/cgroup/cpu/cpu.shares") == ["512"]
    cid = run_d(dy, name, "sleep", "60", flags=("--cpus", "0.5"))
    assert read(cg_file("cpu", cid, "cpu.cfs_quota_us")) == "50000"
    dy("rm", "-f", name, timeout=30)
    assert cgroup_dirs(cid) == []


def test_cpuset_cpus(dy, busybox):
    out = inside(dy, "--cpuset-cpus", "0",
                 script="cat /sys/fs/cgroup/cpuset/cpuset.cpus; grep Cpus_allowed_list /proc/self/status")
    assert out[0] == "0"
    assert out[1].split() == ["Cpus_allowed_list:", "0"]


# -- invalid values --------------------------------------------------------------------------------


@pytest.mark.parametrize("flags, message", [
    (("-m", "1k"), "Minimum memory limit allowed is 6MB"),
    (("-m", "lots"), "lots"),
    (("--cpus", "99"), "Range of CPUs is from 0.01 to"),  # dockerd's words
    (("--cpus", "half"), "half"),
    (("--pids-limit", "x"), '"x"'),
    (("--cpu-shares", "many"), "many"),
    (("-m", "32m", "--memory-swap", "16m"), "Minimum memoryswap limit should be larger than memory limit"),
    (("--memory-swap", "64m"), "You should always set the Memory limit when using Memoryswap limit"),
])
@pytest.mark.parametrize("mode", ["foreground", "detached"])
def test_invalid_limits_are_refused(dy, busybox, flags, message, mode):
    extra = ("-d",) if mode == "detached" else ()
    p = dy("run", *extra, *flags, "busybox", "true", check=False, timeout=30)
    assert p.returncode == 125, (p.returncode, p.err)
    assert p.err.startswith("dockyard: error:") and message in p.err, p.err
    no_traceback(p)
    assert p.out == ""
    assert dy("ps", "-aq").out == ""  # refused before anything was created


def test_unavailable_cpuset_is_refused_at_create(dy, busybox):
    ncpu = os.cpu_count() or 1
    p = dy("run", "--cpuset-cpus", str(ncpu + 5), "busybox", "true", check=False, timeout=30)
    assert p.returncode == 125, p.err
    assert p.err.startswith("dockyard: error:") and str(ncpu + 5) in p.err, p.err
    no_traceback(p)
    # docker: "Requested CPUs are not available - requested 7, available: 0-1", no container
    assert dy("ps", "-aq").out == ""
