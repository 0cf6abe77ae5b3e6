"""Real cgroups (v1, hybrid or v2, whatever this host has): limits land in the kernel's files,
processes join, freeze, get OOM-killed, stay bounded by pids.max, and destroy() leaves nothing.

Every test works under its own `/dockyard-test-<random>` parent, and the fixture destroys the
cgroups and removes that parent in every hierarchy whatever happens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from dockyard.errors import DockyardError, InvalidArgument, SyscallError, Unavailable
from dockyard.runtime.cgroups.cgroup import Cgroup
from dockyard.runtime.cgroups.paths import current_layout, parse_mountinfo, parse_proc_cgroup
from dockyard.runtime.cgroups.values import parse_cpus, shares_to_weight

MB = 1 << 20


def _layout():
    try:
        return current_layout()
    except DockyardError:
        return None


LAYOUT = _layout()


def _unified_mount():
    try:
        return parse_mountinfo(open("/proc/self/mountinfo").read())[1]
    except (OSError, DockyardError):
        return None


pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(LAYOUT is None, reason="no cgroup filesystem mounted"),
]
V2 = LAYOUT == "v2"


@pytest.fixture
def procs():
    """Popen wrapper whose children are killed and reaped at the end of the test."""
    started: list = []

    def popen(args, **kw):
        p = subprocess.Popen(args, **kw)
        started.append(p)
        return p

    try:
        yield popen
    finally:
        for p in started:
            if p.poll() is None:
                p.kill()
            p.wait(10)


@pytest.fixture
def cgroups(procs):
    """make(resources, name="c") → a created Cgroup under this test's own parent. (Depends on
    `procs` so that its teardown, which kills everything in the cgroups, runs first.)"""
    parent = f"/dockyard-test-{uuid.uuid4().hex[:12]}"
    made: list = []

    def make(resources=None, name="c", **linux):
        spec = {"linux": dict(cgroupsPath=f"{parent}/{name}", resources=resources or {}, **linux)}
        cg = Cgroup.for_spec(spec, "unused")
        made.append(cg)
        cg.create()
        cg.set()
        return cg

    try:
        yield make
    finally:
        errors = []
        for cg in made:
            try:
                cg.destroy()
            except DockyardError as e:  # keep cleaning; report after
                errors.append(e)
            for d in {os.path.dirname(d) for d in cg.dirs.values()}:
                try:
                    os.rmdir(d)
                except FileNotFoundError:
                    pass
        leftovers = [d for cg in made for d in cg.dirs.values() if os.path.exists(os.path.dirname(d))]
        assert not errors and not leftovers, (errors, leftovers)


def gated(popen, code: str):
    """A python child that waits for a byte on stdin before running `code` (so it can be moved
    into the cgroup first: memory is charged where it is allocated)."""
    return popen([sys.executable, "-S", "-c", "import sys\nsys.stdin.buffer.read(1)\n" + code],
                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def go(p) -> None:
    p.stdin.write(b"x")
    p.stdin.close()


def read(cg, hierarchy: str, file: str) -> str:
    with open(os.path.join(cg.dirs["" if V2 else hierarchy], file)) as f:
        return f.read().strip()


def proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return data[data.rfind(b")") + 2:].split()[0].decode()


def test_layout_matches_the_host():
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        assert LAYOUT == "v2"
    else:
        assert LAYOUT in ("v1", "hybrid")
        assert LAYOUT == "hybrid" if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs") else LAYOUT == "v1"


def test_limits_membership_freeze(cgroups, procs):
    cg = cgroups({"memory": {"limit": 64 * MB}, "pids": {"limit": 20}})
    assert all(os.path.isdir(d) for d in cg.dirs.values())
    p = procs(["sleep", "30"])
    cg.apply(p.pid)
    cg.set()  # limits may also come after the join (docker update)

    if V2:
        assert read(cg, "memory", "memory.max") == str(64 * MB)
    else:
        assert read(cg, "memory", "memory.limit_in_bytes") == str(64 * MB)
    assert read(cg, "pids", "pids.max") == "20"
    assert cg.pids() == [p.pid]
    with open(f"/proc/{p.pid}/cgroup") as f:
        assert f"{cg.path}\n" in f.read()

    cg.freeze()
    try:
        assert cg.frozen()
        if V2:
            assert "frozen 1" in read(cg, "", "cgroup.events")
        else:
            assert read(cg, "freezer", "freezer.state") == "FROZEN"
            assert proc_state(p.pid) in ("D", "T", "t")
    finally:
        cg.thaw()
    assert not cg.frozen()
    deadline = time.monotonic() + 5
    while proc_state(p.pid) not in ("S", "R") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc_state(p.pid) in ("S", "R")
    assert not cg.oom_killed()

    cg.destroy()
    assert p.wait(10) == -signal.SIGKILL
    assert not any(os.path.exists(d) for d in cg.dirs.values())
    cg.destroy()  # already gone: fine


def test_stats(cgroups, procs):
    cg = cgroups({"memory": {"limit": 128 * MB}, "pids": {"limit": 50}})
    p = gated(procs, "b = bytearray(16 * 1024 * 1024)\nsum(range(2000000))\nimport time\ntime.sleep(30)\n")
    cg.apply(p.pid)
    go(p)
    deadline = time.monotonic() + 10
    while cg.stats()["memory_stats"]["usage"] < 16 * MB and time.monotonic() < deadline:
        time.sleep(0.05)
    st = cg.stats()
    assert st["memory_stats"]["usage"] >= 16 * MB
    assert st["memory_stats"]["limit"] == 128 * MB
    assert st["cpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert st["pids_stats"] == {"current": 1, "limit": 50}
    assert isinstance(st["memory_stats"]["stats"], dict) and st["memory_stats"]["stats"]
    assert "throttling_data" in st["cpu_stats"]
    assert isinstance(st["blkio_stats"]["io_service_bytes_recursive"], list)


def test_oom_kill(cgroups, procs):
    cg = cgroups({"memory": {"limit": 50 * MB, "swap": 50 * MB}})  # memory+swap = 50 MB: no swapping out
    p = gated(procs, "b = bytearray(200 * 1024 * 1024)\n")
    cg.apply(p.pid)
    go(p)
    assert p.wait(60) == -signal.SIGKILL
    assert cg.oom_killed()


def test_fork_bomb_is_bounded(cgroups, procs):
    cg = cgroups({"pids": {"limit": 20}})
    p = gated(procs, "import os, time\nwhile True:\n    try:\n        os.fork()\n"
                     "    except OSError:\n        time.sleep(0.005)\n")
    cg.apply(p.pid)
    go(p)
    most = 0
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        most = max(most, len(cg.pids()))
    assert 1 < most <= 20
    # pids.current may read limit+1 for an instant (the kernel adds, compares, then reverts a
    # refused fork), so the kernel's own high-water mark is the check that nothing got through
    peak = os.path.join(cg.dirs["" if V2 else "pids"], "pids.peak")
    if os.path.exists(peak):
        assert int(open(peak).read()) <= 20
    events = read(cg, "pids", "pids.events")
    assert int(events.split("max ")[1].split()[0]) > 0  # forks were refused
    t = time.monotonic()
    cg.destroy()
    assert time.monotonic() - t < 10
    assert p.wait(10) == -signal.SIGKILL
    assert not any(os.path.exists(d) for d in cg.dirs.values())


def test_destroy_removes_nested_cgroups_and_their_processes(cgroups, procs):
    cg = cgroups({"pids": {"limit": 10}})
    inner = Cgroup(cg.path + "/inner", {h: d + "/inner" for h, d in cg.dirs.items()}, cg.layout)
    inner.create()
    a, b = procs(["sleep", "30"]), procs(["sleep", "30"])
    cg.apply(a.pid)
    inner.apply(b.pid)
    assert cg.pids() == sorted([a.pid, b.pid])
    cg.destroy()
    assert a.wait(10) == b.wait(10) == -signal.SIGKILL
    assert not any(os.path.exists(d) for d in cg.dirs.values())


def test_kill_all_with_a_signal(cgroups, procs):
    cg = cgroups({"pids": {"limit": 10}})
    ps = [procs(["sleep", "30"]) for _ in range(3)]
    for p in ps:
        cg.apply(p.pid)
    cg.kill_all(signal.SIGTERM)
    assert [p.wait(10) for p in ps] == [-signal.SIGTERM] * 3
    assert not cg.frozen()


def test_cpu_and_cpuset(cgroups):
    cg = cgroups({"cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"}})
    if V2:
        if "cpu" in read(cg, "", "cgroup.controllers").split():
            assert read(cg, "", "cpu.weight") == str(shares_to_weight(512))
            assert read(cg, "", "cpu.max") == "50000 100000"
    else:
        assert read(cg, "cpu", "cpu.shares") == "512"
        assert read(cg, "cpu", "cpu.cfs_quota_us") == "50000"
        assert read(cg, "cpu", "cpu.cfs_period_us") == "100000"
        assert read(cg, "cpuset", "cpuset.cpus") == "0"
    quota, period = parse_cpus("0.5")
    cg.set({"cpu": {"quota": quota, "period": period}})


@pytest.mark.skipif(V2, reason="v1 copies cpuset.cpus/mems into new cgroups; v2 inherits them")
def test_cpuset_copied_from_parent(cgroups, procs):
    cg = cgroups()
    assert read(cg, "cpuset", "cpuset.cpus") == open(os.path.dirname(cg.dirs["cpuset"]) + "/cpuset.cpus").read().strip()
    assert read(cg, "cpuset", "cpuset.cpus") and read(cg, "cpuset", "cpuset.mems")
    p = procs(["sleep", "30"])
    cg.apply(p.pid)  # an empty cpuset would refuse the task with ENOSPC


def test_invalid_values_name_the_file(cgroups):
    cg = cgroups()
    with pytest.raises(InvalidArgument) as e:
        cg.set({"cpu": {"cpus": f"{os.cpu_count() + 63}"}})
    assert "cpuset.cpus" in str(e.value) and repr(str(os.cpu_count() + 63)) in str(e.value)
    if not V2:
        with pytest.raises(InvalidArgument, match="cpu.shares"):
            cg.set({"cpu": {"shares": 1}})  # the kernel clamps to 2: refused as runc does
    with pytest.raises(SyscallError) as e:
        cg.apply(2 ** 22 + 12345)  # no such process
    assert "cgroup.procs" in str(e.value)


OPEN_PROBE = """
import os, sys
for p in sys.argv[1:]:
    try:
        os.close(os.open(p, os.O_RDONLY))
        print(p, "ok")
    except OSError as e:
        print(p, e.strerror)
"""
PROBED = ("/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/kvm", "/dev/fuse", "/dev/tty0", "/dev/mem",
          "/dev/loop-control")
ALLOWED = {"/dev/null", "/dev/zero", "/dev/full", "/dev/urandom"}


def probe_in(cg, procs, rules_dirs=()) -> dict:
    """open() of each host device by a process inside `cg`: {path: "ok" | strerror}."""
    p = procs([sys.executable, "-S", "-c", "import sys\nsys.stdin.buffer.read(1)\n" + OPEN_PROBE,
               *[d for d in PROBED if os.path.exists(d)]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    cg.apply(p.pid)
    out, _ = p.communicate(b"x", timeout=20)
    return dict(line.split(" ", 1) for line in out.decode().splitlines())


def check_default_policy(seen: dict) -> None:
    assert seen, "nothing probed"
    for path, result in seen.items():
        assert result == ("ok" if path in ALLOWED else "Operation not permitted"), (path, result)


def test_devices_v1(cgroups, procs):
    if "devices" not in Cgroup.at("/x").dirs or V2:
        pytest.skip("no cgroup v1 devices controller")
    rules = [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}]
    cg = cgroups({"devices": rules})
    listed = read(cg, "devices", "devices.list").splitlines()
    assert "a *:* rwm" not in listed
    assert "c 1:3 rwm" in listed and "c 136:* rwm" in listed and "c 1:9 rwm" in listed
    seen = probe_in(cg, procs)
    assert seen["/dev/null"] == "ok" and seen["/dev/loop-control"] == "Operation not permitted"


def test_devices_v1_default_policy(cgroups, procs):
    """With resources that name no devices the default policy still applies (runc's)."""
    if "devices" not in Cgroup.at("/x").dirs or V2:
        pytest.skip("no cgroup v1 devices controller")
    cg = cgroups({"pids": {"limit": 50}})
    assert "c 1:7 rwm" in read(cg, "devices", "devices.list").splitlines()
    check_default_policy(probe_in(cg, procs))


@pytest.mark.skipif(_unified_mount() is None, reason="no cgroup2 mount")
@pytest.mark.parametrize("rules,extra", [
    (None, {}),
    ([{"allow": True, "type": "c", "major": 10, "minor": 229, "access": "r"}], {"/dev/fuse": "ok"}),
    ([{"allow": True, "access": "rwm"}], {p: "ok" for p in PROBED}),
])
def test_devices_v2_bpf_program(procs, rules, extra):
    """The cgroup v2 path for real: a child of this host's cgroup2 mount (the controller-less
    unified tree on a hybrid host: device programs need no controller), the program attached, a
    process moved in, open() of allowed and denied host devices."""
    mnt = _unified_mount()[0]
    path = f"/dockyard-test-{uuid.uuid4().hex[:12]}/c"
    cg = Cgroup(path, {"": mnt + path}, "v2", resources={"devices": rules} if rules else {})
    try:
        cg.create()
        cg.set()
        from dockyard.linux.bpf import attached_cgroup_device_programs

        assert len(attached_cgroup_device_programs(mnt + path)) == 1
        seen = probe_in(cg, procs)
        if extra:
            for path_, want in extra.items():
                if path_ in seen:
                    assert seen.pop(path_) == want, path_
            if rules == [{"allow": True, "access": "rwm"}]:
                assert not seen
                return
        check_default_policy(seen)
    finally:
        cg.destroy()
        try:
            os.rmdir(os.path.dirname(mnt + path))
        except FileNotFoundError:
            pass


def test_destroy_a_frozen_cgroup(cgroups, procs):
    cg = cgroups({"pids": {"limit": 10}})
    ps = [procs(["sleep", "30"]) for _ in range(2)]
    for p in ps:
        cg.apply(p.pid)
    cg.freeze()
    cg.destroy()  # docker rm -f of a paused container
    assert [p.wait(10) for p in ps] == [-signal.SIGKILL] * 2
    assert not cg.exists()


@pytest.mark.skipif(_unified_mount() is None, reason="no cgroup2 mount")
def test_v2_code_paths_on_the_cgroup2_tree(procs):
    """The v2 side (cgroup.freeze, cgroup.kill, cgroup.events, memory.events, cpu.stat) on this
    host's cgroup2 mount: the real thing on a v2 host, the controller-less unified tree on a
    hybrid one (whose missing controller files must give clear errors)."""
    mnt = _unified_mount()[0]
    path = f"/dockyard-test-{uuid.uuid4().hex[:12]}/c"
    cg = Cgroup(path, {"": mnt + path}, "v2")
    try:
        cg.create()
        controllers = open(mnt + path + "/cgroup.controllers").read().split()
        p = procs(["sleep", "30"])
        cg.apply(p.pid)
        assert cg.pids() == [p.pid]
        if "pids" in controllers:
            cg.set({"pids": {"limit": 7}})
            assert open(mnt + path + "/pids.max").read().strip() == "7"
        else:
            with pytest.raises(Unavailable, match="pids.max"):
                cg.set({"pids": {"limit": 7}})
        cg.freeze()
        assert cg.frozen() and "frozen 1" in open(mnt + path + "/cgroup.events").read()
        cg.thaw()
        assert not cg.frozen()
        st = cg.stats()
        assert st["cpu_stats"]["cpu_usage"]["total_usage"] >= 0 and st["pids_stats"]["current"] in (0, 1)
        assert not cg.oom_killed()
        cg.kill_all(signal.SIGKILL)
        assert p.wait(10) == -signal.SIGKILL
    finally:
        cg.destroy()
        try:
            os.rmdir(os.path.dirname(mnt + path))
        except FileNotFoundError:
            pass
    assert not os.path.exists(os.path.dirname(mnt + path))


def test_failed_create_removes_only_what_it_made():
    parent = f"/dockyard-test-{uuid.uuid4().hex[:12]}"
    cg = Cgroup.at(parent + "/c")
    first, *_ = cg.dirs  # made first, then the broken one fails
    cg.dirs["zzz"] = "/tmp/not-a-cgroup/c"
    with pytest.raises(Unavailable, match="not under a mounted cgroup"):
        cg.create()
    assert not os.path.exists(os.path.dirname(cg.dirs[first]))


def test_relative_path_is_under_our_own_cgroup(cgroups):
    with open("/proc/self/cgroup") as f:
        own = parse_proc_cgroup(f.read())
    rel = f"dockyard-test-{uuid.uuid4().hex[:12]}"
    cg = Cgroup.at(rel)
    for h, d in cg.dirs.items():
        assert d.endswith(("" if own.get(h, "/") == "/" else own[h]) + "/" + rel)
    cg.create()
    try:
        assert cg.exists()
    finally:
        cg.destroy()
    assert not cg.exists()


def test_state_round_trip_controls_the_same_cgroup(cgroups, procs):
    cg = cgroups({"pids": {"limit": 5}})
    p = procs(["sleep", "30"])
    cg.apply(p.pid)
    again = Cgroup.from_json(cg.to_json())
    assert again.pids() == [p.pid]
    again.destroy()
    assert p.wait(10) == -signal.SIGKILL
    assert not cg.exists()
