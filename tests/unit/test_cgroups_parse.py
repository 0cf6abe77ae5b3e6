"""cgroups without touching the kernel: docker's CLI values, path computation, mountinfo parsing,
and the linux.resources → file writes plans for cgroup v1 and v2."""

from __future__ import annotations

import os

import pytest

from dockyard.errors import BadSpec, InvalidArgument, NotImplemented as NotImplementedErr, Unavailable
from dockyard.runtime.cgroups.cgroup import Cgroup
from dockyard.runtime.cgroups.paths import (clean_path, current_layout, hierarchy_dir, layout_of, parse_mountinfo,
                                            parse_proc_cgroup, resolve_dirs, spec_cgroup_path, systemd_path)
from dockyard.runtime.cgroups.plan import plan_v1, plan_v2
from dockyard.runtime.cgroups.values import (blkio_to_io_weight, cpu_max, parse_cpus, parse_nano_cpus, shares_to_weight,
                                             swap_to_v2)

MB = 1 << 20

@pytest.mark.parametrize("s, qp", [
    ("0.5", (50000, 100000)), ("1", (100000, 100000)), ("1.5", (150000, 100000)), ("2", (200000, 100000)),
    ("0.01", (1000, 100000)), ("0", (0, 0)), (".25", (25000, 100000)), (0.5, (50000, 100000)),
])
def test_parse_cpus(s, qp):
    assert parse_cpus(s) == qp


def test_parse_nano_cpus():
    assert parse_nano_cpus("0.5") == 500_000_000
    assert parse_nano_cpus("1.000000001") == 1_000_000_001
    with pytest.raises(InvalidArgument, match="too precise"):
        parse_nano_cpus("1.0000000001")


@pytest.mark.parametrize("s", ["-1", "abc", "", "0.001", "1e3"])
def test_parse_cpus_rejects(s):
    with pytest.raises(InvalidArgument):
        parse_cpus(s)


def test_parse_cpus_host_range():
    assert parse_cpus("2", ncpu=2) == (200000, 100000)
    with pytest.raises(InvalidArgument, match="Range of CPUs is from 0.01 to 2.00"):
        parse_cpus("3", ncpu=2)


@pytest.mark.parametrize("shares, weight", [
    (0, 0), (2, 1), (1024, 39), (512, 20), (262144, 10000), (1, 1), (10**9, 10000), (100, 4),
])
def test_shares_to_weight(shares, weight):
    assert shares_to_weight(shares) == weight
    if shares:
        assert weight == 1 + ((min(max(shares, 2), 262144) - 2) * 9999) // 262142


def test_blkio_to_io_weight():
    assert blkio_to_io_weight(0) == 0
    assert blkio_to_io_weight(10) == 1
    assert blkio_to_io_weight(1000) == 10000
    assert blkio_to_io_weight(500) == 1 + 490 * 9999 // 990


def test_swap_to_v2():
    assert swap_to_v2(0, 0) == 0
    assert swap_to_v2(0, -1) == -1
    assert swap_to_v2(-1, 64 * MB) == -1
    assert swap_to_v2(128 * MB, 64 * MB) == 64 * MB
    assert swap_to_v2(64 * MB, 64 * MB) == 0
    with pytest.raises(BadSpec):
        swap_to_v2(32 * MB, 64 * MB)
    with pytest.raises(BadSpec):
        swap_to_v2(64 * MB, 0)


def test_cpu_max():
    assert cpu_max(50000, 100000) == "50000 100000"
    assert cpu_max(-1, 100000) == "max 100000"
    assert cpu_max(50000, 0) == "50000"


# -- paths ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, path", [
    ("machine.slice:libpod:abc", "/machine.slice/libpod-abc.scope"),
    ("system.slice:docker:abc", "/system.slice/docker-abc.scope"),
    (":runc:abc", "/system.slice/runc-abc.scope"),
    ("user-1000.slice:podman:x", "/user.slice/user-1000.slice/podman-x.scope"),
    ("a-b-c.slice:p:n", "/a.slice/a-b.slice/a-b-c.slice/p-n.scope"),
    ("machine.slice:libpod:sub.slice", "/machine.slice/sub.slice"),
    ("-.slice:p:n", "/p-n.scope"),
    ("machine.slice::n", "/machine.slice/n.scope"),
])
def test_systemd_path(value, path):
    assert systemd_path(value) == path


@pytest.mark.parametrize("value", ["a:b", "machine.slice:libpod:", "machine:libpod:x", "a/b.slice:p:n",
                                   "a--b.slice:p:n", "-a.slice:p:n", "m.slice:p:x/y"])
def test_systemd_path_rejects(value):
    with pytest.raises(InvalidArgument):
        systemd_path(value)


def spec(**linux):
    return {"linux": linux}


def test_spec_cgroup_path():
    assert spec_cgroup_path(spec(), "c1") is None
    assert spec_cgroup_path(spec(resources={}), "c1") is None
    assert spec_cgroup_path({}, "c1") is None
    assert spec_cgroup_path(spec(resources={"pids": {"limit": 5}}), "c1") == "/dockyard/c1"
    assert spec_cgroup_path(spec(cgroupsPath="/docker/abc"), "c1") == "/docker/abc"
    assert spec_cgroup_path(spec(cgroupsPath="/a//b/./c/"), "c1") == "/a/b/c"
    assert spec_cgroup_path(spec(cgroupsPath="rel/x"), "c1") == "rel/x"
    assert spec_cgroup_path(spec(cgroupsPath="machine.slice:libpod:abc"), "c1") == \
        "/machine.slice/libpod-abc.scope"


@pytest.mark.parametrize("path", ["/a/../b", "..", "/", "", "a/../../x"])
def test_clean_path_rejects(path):
    with pytest.raises(BadSpec):
        clean_path(path)


def test_container_id_cannot_escape():
    with pytest.raises(BadSpec):
        spec_cgroup_path(spec(resources={"pids": {"limit": 1}}), "..")


def test_systemd_driver_with_systemd_running(monkeypatch):
    monkeypatch.setattr(os.path, "isdir", lambda p: p == "/run/systemd/system")
    with pytest.raises(NotImplementedErr):
        spec_cgroup_path(spec(cgroupsPath="machine.slice:libpod:x"), "x", systemd=True)


HYBRID = """\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 25 0:24 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
27 26 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
28 26 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
29 26 0:27 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
30 26 0:28 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
31 26 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,relatime - cgroup cgroup rw,net_cls,net_prio
32 26 0:30 / /sys/fs/cgroup/misc\\040dir rw,relatime - cgroup cgroup rw,pids
40 30 0:28 / /other/unified rw,relatime - cgroup2 cgroup2 rw
"""

V2 = """\
24 1 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
"""

IN_CONTAINER_V1 = """\
700 690 0:26 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory
"""


def test_parse_mountinfo_hybrid():
    v1, v2 = parse_mountinfo(HYBRID)
    assert v1["cpu"] == v1["cpuacct"] == ("/sys/fs/cgroup/cpu,cpuacct", "/")
    assert v1["memory"] == ("/sys/fs/cgroup/memory", "/")
    assert v1["name=systemd"] == ("/sys/fs/cgroup/systemd", "/")
    assert v1["net_prio"][0] == "/sys/fs/cgroup/net_cls,net_prio"
    assert v1["pids"][0] == "/sys/fs/cgroup/misc dir"  # octal escapes undone
    assert v2 == ("/sys/fs/cgroup/unified", "/")
    assert layout_of(v1, v2) == "hybrid"


def test_layouts():
    v1, v2 = parse_mountinfo(V2)
    assert v1 == {} and v2 == ("/sys/fs/cgroup", "/")
    assert layout_of(v1, v2) == "v2"
    assert layout_of({"memory": ("/m", "/")}, None) == "v1"
    # a named systemd hierarchy alone does not make a v1 host
    assert layout_of({"name=systemd": ("/s", "/")}, ("/sys/fs/cgroup", "/")) == "v2"
    with pytest.raises(Unavailable):
        layout_of({}, None)


def test_current_layout_is_one_of_three():
    try:
        assert current_layout() in ("v1", "v2", "hybrid")
    except Unavailable:
        pass  # a build box without any cgroup mount


def test_parse_proc_cgroup():
    own = parse_proc_cgroup("12:cpu,cpuacct:/a\n4:memory:/process_api/h\n1:name=systemd:/s\n0::/u\n")
    assert own == {"cpu": "/a", "cpuacct": "/a", "memory": "/process_api/h", "name=systemd": "/s", "": "/u"}


def test_hierarchy_dir():
    assert hierarchy_dir("/sys/fs/cgroup/memory", "/", "/process_api/h", "/dockyard/x") == \
        "/sys/fs/cgroup/memory/dockyard/x"
    # relative: under the caller's own cgroup, like runc
    assert hierarchy_dir("/sys/fs/cgroup/memory", "/", "/process_api/h", "sub/x") == \
        "/sys/fs/cgroup/memory/process_api/h/sub/x"
    assert hierarchy_dir("/sys/fs/cgroup/cpu", "/", "/", "x") == "/sys/fs/cgroup/cpu/x"
    # a host cgroup bind-mounted into a container: own path is seen through the mount's root
    assert hierarchy_dir("/sys/fs/cgroup/memory", "/docker/abc", "/docker/abc/inner", "x") == \
        "/sys/fs/cgroup/memory/inner/x"


def test_resolve_dirs():
    v1, v2 = parse_mountinfo(HYBRID)
    own = {"cpu": "/", "cpuacct": "/", "memory": "/p/h", "name=systemd": "/", "": "/", "pids": "/"}
    dirs = resolve_dirs("/dockyard/c", v1, v2, own, "hybrid")
    assert dirs["cpu"] == dirs["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct/dockyard/c"
    assert dirs["memory"] == "/sys/fs/cgroup/memory/dockyard/c"
    assert dirs["name=systemd"] == "/sys/fs/cgroup/systemd/dockyard/c"
    assert dirs[""] == "/sys/fs/cgroup/unified/dockyard/c"
    rel = resolve_dirs("c", v1, v2, own, "hybrid")
    assert rel["memory"] == "/sys/fs/cgroup/memory/p/h/c" and rel["cpu"] == "/sys/fs/cgroup/cpu,cpuacct/c"
    v1, v2 = parse_mountinfo(V2)
    assert resolve_dirs("/dockyard/c", v1, v2, {"": "/user.slice"}, "v2") == {"": "/sys/fs/cgroup/dockyard/c"}
    assert resolve_dirs("c", v1, v2, {"": "/user.slice"}, "v2") == {"": "/sys/fs/cgroup/user.slice/c"}


def test_json_round_trip():
    cg = Cgroup("/dockyard/x", {"": "/sys/fs/cgroup/dockyard/x"}, "v2")
    back = Cgroup.from_json(cg.to_json())
    assert (back.path, back.layout, back.dirs) == (cg.path, cg.layout, cg.dirs)


# -- plans ---------------------------------------------------------------------------------------

def files(writes):
    return [(h, f, v) for h, f, v, _ in writes]


def test_plan_v1_memory_order():
    res = {"memory": {"limit": 64 * MB, "swap": 128 * MB, "reservation": 32 * MB}}
    # fresh cgroup (limit unlimited, huge): memory first, then memsw
    w, _ = plan_v1(res, read=lambda h, f: "9223372036854771712\n")
    assert files(w)[:2] == [("memory", "memory.limit_in_bytes", str(64 * MB)),
                            ("memory", "memory.memsw.limit_in_bytes", str(128 * MB))]
    assert ("memory", "memory.soft_limit_in_bytes", str(32 * MB)) in files(w)
    # raising both above the current limit: memsw first (memory ≤ memsw at every step)
    w, _ = plan_v1(res, read=lambda h, f: str(16 * MB))
    assert [f for _, f, _ in files(w)[:2]] == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
    # unlimited memory also unlimits swap (first), silently when there is no swap accounting
    w, _ = plan_v1({"memory": {"limit": -1}})
    assert [(f, v, k) for _, f, v, k in w] == [("memory.memsw.limit_in_bytes", "-1", "quiet"),
                                               ("memory.limit_in_bytes", "-1", "")]


def test_plan_v1_everything():
    res = {"cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
           "pids": {"limit": 20}, "blockIO": {"weight": 300, "throttleReadBpsDevice": [
               {"major": 8, "minor": 0, "rate": 1048576}]},
           "memory": {"disableOOMKiller": True, "swappiness": 10}}
    w, skipped = plan_v1(res, exists=lambda h, f: f != "blkio.weight")
    got = files(w)
    assert ("cpu", "cpu.shares", "512") in got
    assert got.index(("cpu", "cpu.cfs_period_us", "100000")) < got.index(("cpu", "cpu.cfs_quota_us", "50000"))
    assert ("cpuset", "cpuset.cpus", "0-1") in got and ("cpuset", "cpuset.mems", "0") in got
    assert ("pids", "pids.max", "20") in got
    assert ("blkio", "blkio.bfq.weight", "300") in got  # no blkio.weight without CFQ: BFQ's file
    assert ("blkio", "blkio.throttle.read_bps_device", "8:0 1048576") in got
    assert ("memory", "memory.oom_control", "1") in got and ("memory", "memory.swappiness", "10") in got
    kinds = {f: k for _, f, _, k in w}
    assert kinds["cpu.shares"] == "verify" and kinds["cpu.cfs_period_us"] == "defer"
    assert skipped == []
    assert files(plan_v1({"pids": {"limit": -1}})[0]) == [("pids", "pids.max", "max")]
    assert plan_v1({"pids": {"limit": 0}, "cpu": {"shares": 0}, "blockIO": {"weight": 0}})[0] == []


def test_plan_v1_leaves_devices_to_set_devices():
    # the device policy is Cgroup.set_devices' (devices.py), never a resource write
    assert plan_v1({"devices": [{"allow": True, "access": "rwm"}], "pids": {"limit": 3}})[0] == \
        [("pids", "pids.max", "3", "")]


def test_plan_v2():
    res = {"memory": {"limit": 64 * MB, "swap": 128 * MB, "reservation": 32 * MB, "swappiness": 10},
           "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0"},
           "pids": {"limit": 20}, "blockIO": {"weight": 500},
           "devices": [{"allow": False, "access": "rwm"}], "unified": {"memory.high": "max"}}
    w, skipped = plan_v2(res, exists=lambda h, f: False)
    got = files(w)
    assert got.index(("", "memory.swap.max", str(64 * MB))) < got.index(("", "memory.max", str(64 * MB)))
    assert ("", "memory.low", str(32 * MB)) in got
    assert ("", "cpu.weight", "39") in got and ("", "cpu.max", "50000 100000") in got
    assert ("", "cpuset.cpus", "0") in got and ("", "pids.max", "20") in got
    assert ("", "io.weight", str(blkio_to_io_weight(500))) in got
    assert ("", "memory.high", "max") in got
    assert any("swappiness" in s for s in skipped) and not any("devices" in s for s in skipped)
    assert not any("devices" in f for _, f, _ in got)
    w, _ = plan_v2({"blockIO": {"weight": 500}}, exists=lambda h, f: f == "io.bfq.weight")
    assert files(w) == [("", "io.bfq.weight", "500")]
    # memory == memory+swap: no swap at all; -1: max (quietly skipped without swap accounting)
    assert ("", "memory.swap.max", "0") in files(plan_v2({"memory": {"limit": MB, "swap": MB}})[0])
    w, _ = plan_v2({"memory": {"limit": -1}})
    assert [(f, v, k) for _, f, v, k in w] == [("memory.swap.max", "max", "quiet"), ("memory.max", "max", "")]
    with pytest.raises(BadSpec):
        plan_v2({"unified": {"../x": "1"}})
    with pytest.raises(BadSpec):
        plan_v2({"cpu": {"realtimeRuntime": 1000}})


def test_plan_rejects_bad_values():
    with pytest.raises(BadSpec, match="memory.limit"):
        plan_v1({"memory": {"limit": "64m"}})
    with pytest.raises(BadSpec):
        plan_v2({"pids": {"limit": 1.5}})
    with pytest.raises(BadSpec, match="cgroup v2"):
        plan_v1({"unified": {"memory.high": "1"}})
    with pytest.raises(BadSpec):
        plan_v1({"hugepageLimits": [{"pageSize": "../2MB", "limit": 1}]})
