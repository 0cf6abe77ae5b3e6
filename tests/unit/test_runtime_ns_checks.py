"""What the runtime refuses before it forks (runc's namespace rules), what it refuses of cgroup
limits this host cannot apply, and dockerd's warn-and-discard for `dockyard run`'s limit flags."""

from __future__ import annotations

import os

import pytest

from dockyard.engine.config import ContainerConfig
from dockyard.engine import resources as R
from dockyard.errors import BadSpec, InvalidArgument, Unavailable
from dockyard.runtime.cgroups import plan as cgplan
from dockyard.runtime.cgroups.cgroup import Cgroup
from dockyard.runtime.cgroups.plan import plan_v1, resource_name, why_missing
from dockyard.runtime.spec import validate_namespaces


def spec(*types, **linux):
    s = {"process": {"args": ["true"]}, "linux": {"namespaces": [{"type": t} for t in types]}}
    s["linux"].update(linux)
    return s


ALL = ("pid", "network", "ipc", "uts", "mount")


@pytest.mark.parametrize("s, message", [
    (dict(spec(*ALL[:-1]), hostname="h"), None),  # fine: uts is there
    (dict(spec("pid", "mount"), hostname="h"), "unable to set hostname without a private UTS namespace"),
    (dict(spec("pid", "mount"), domainname="d"), "unable to set domainname without a private UTS namespace"),
    (spec("pid", maskedPaths=["/proc/kcore"]), "unable to restrict sys entries without a private MNT namespace"),
    (spec("pid", readonlyPaths=["/proc/sys"]), "unable to restrict sys entries without a private MNT namespace"),
    (spec("pid", rootfsPropagation="rshared"), "rootfsPropagation=rshared needs a private MNT namespace"),
    (dict(spec("pid"), root={"readonly": True}), "unable to make the root read-only"),
    (spec(*ALL, rootfsPropagation="bogus"), "rootfsPropagation=bogus is not supported"),
    (spec("pid", "pid", "mount"), "duplicated ns 'pid'"),
    (spec(*ALL, uidMappings=[{"containerID": 0, "hostID": 1, "size": 1}]),
     "user namespace mappings specified, but user namespace isn't enabled"),
    (spec(*ALL, "user"), "user namespaces enabled, but no namespace path to join nor mappings"),
    (spec(*ALL, sysctl={"kernel.shmmax": "1"}), None),
    (spec("mount", sysctl={"kernel.shmmax": "1"}), "is not allowed in the hosts ipc namespace"),
    (spec(*ALL, sysctl={"fs.mqueue.msg_max": "1"}), None),
    (spec(*ALL, sysctl={"net.ipv4.ip_forward": "1"}), None),
    (spec(*ALL, sysctl={"net/ipv4/conf/eth0.100/rp_filter": "1"}), None),
    (spec("mount", "uts", sysctl={"net.ipv4.ip_forward": "1"}), "not allowed in host network namespace"),
    (spec(*ALL, sysctl={"kernel.domainname": "x"}), None),
    (spec(*ALL, sysctl={"kernel.hostname": "x"}), "conflicts with the OCI \"hostname\" field"),
    (spec(*ALL, sysctl={"vm.swappiness": "1"}), "is not in a separate kernel namespace"),
])
def test_namespace_rules(s, message):
    if message is None:
        validate_namespaces(s)
    else:
        with pytest.raises(BadSpec, match=message.replace("(", r"\(").replace(")", r"\)")):
            validate_namespaces(s)


def test_netns_path_to_our_own_is_the_host_network():
    s = {"linux": {"namespaces": [{"type": "network", "path": "/proc/self/ns/net"}, {"type": "mount"}],
                   "sysctl": {"net.ipv4.ip_forward": "1"}}}
    with pytest.raises(BadSpec, match="host network namespace"):
        validate_namespaces(s)


# -- cgroup v1: what the host lacks is refused, naming the field and the reason


def test_plan_v1_limits_are_required():
    res = {"memory": {"limit": 64 << 20, "swap": 128 << 20, "swappiness": 10}, "blockIO": {"weight": 300},
           "network": {"classID": 7, "priorities": [{"name": "lo", "priority": 1}]},
           "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 100}}}
    w, skipped = plan_v1(res, read=lambda h, f: str(1 << 40))
    kinds = {f: k for _, f, _, k in w}
    assert kinds["memory.memsw.limit_in_bytes"] == "" and kinds["memory.swappiness"] == ""
    assert kinds["blkio.weight"] == "" and kinds["net_cls.classid"] == "" and kinds["net_prio.ifpriomap"] == ""
    assert ("rdma", "rdma.max", "mlx5_1 hca_handle=3 hca_object=100", "") in w
    assert skipped == []
    w, _ = plan_v1({"memory": {"limit": 64 << 20, "swap": -1}})
    assert ("memory", "memory.memsw.limit_in_bytes", "-1", "quiet") in w  # unlimited: what no accounting gives


def test_kernel_memory_is_a_warning():
    w, skipped = plan_v1({"memory": {"limit": 64 << 20, "kernel": 1 << 20}})
    assert [f for _, f, _, _ in w] == ["memory.limit_in_bytes"]
    assert len(skipped) == 1 and "kernel memory settings are ignored" in skipped[0]


@pytest.mark.parametrize("f, name, why", [
    ("memory.memsw.limit_in_bytes", "memory.swap", "swapaccount=1"),
    ("blkio.bfq.weight", "blockIO.weight", "BFQ"),
    ("blkio.bfq.weight_device", "blockIO.weightDevice", "BFQ"),
    ("blkio.leaf_weight", "blockIO.leafWeight", "CFQ"),
    ("cpu.rt_runtime_us", "cpu.realtimeRuntime", "CONFIG_RT_GROUP_SCHED"),
    ("net_cls.classid", "network.classID", "does not support"),
])
def test_names_and_reasons(f, name, why):
    assert resource_name(f) == "linux.resources." + name
    assert why in why_missing(f)


def test_hugepage_reason_lists_the_sizes(monkeypatch):
    monkeypatch.setattr(cgplan, "hugepage_sizes", lambda: ["2MB", "1GB"])
    assert why_missing("hugetlb.4MB.limit_in_bytes") == "this host has no 4MB huge pages (its sizes: 2MB, 1GB)"


def test_set_refuses_missing_controller_and_file(tmp_path):
    mem = tmp_path / "memory"
    mem.mkdir()
    (mem / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    cg = Cgroup("/x", {"memory": str(mem)}, "v1")
    with pytest.raises(Unavailable, match=r"linux.resources.memory.swap: .*swapaccount=1"):
        cg.set({"memory": {"limit": 64 << 20, "swap": 128 << 20}})
    with pytest.raises(Unavailable, match=r"linux.resources.hugepageLimits: .*hugetlb cgroup controller is not mounted"):
        cg.set({"hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 21}]})
    cg.set({"memory": {"limit": 64 << 20, "swap": -1}})  # unlimited swap without accounting: fine
    assert (mem / "memory.limit_in_bytes").read_text().startswith(str(64 << 20))  # a plain file: no truncation


# -- engine: docker's warnings


def cfg(**kw):
    return ContainerConfig(image="busybox", **kw)


NONE = dict.fromkeys(R.FEATURES, False)
EVERY = dict.fromkeys(R.FEATURES, True)


def test_supported_host_changes_nothing():
    c = cfg(memory=64 << 20, memory_swap=128 << 20, cpu_shares=512, cpuset_cpus="0", pids_limit=10)
    assert R.check_resources(c, EVERY) == (c, [])
    assert R.check_resources(cfg(), NONE) == (cfg(), [])  # no limits, no probing


def test_no_swap_accounting():
    c, warnings = R.check_resources(cfg(memory=64 << 20), dict(EVERY, swap=False))
    assert warnings == [R.W_SWAP] and c.memory == 64 << 20 and c.memory_swap == -1
    c, warnings = R.check_resources(cfg(memory=64 << 20, memory_swap=-1), dict(EVERY, swap=False))
    assert warnings == [] and c.memory_swap == -1


def test_nothing_supported():
    c, warnings = R.check_resources(cfg(memory=64 << 20, memory_swap=96 << 20, cpu_shares=512, cpuset_cpus="0",
                                        pids_limit=10), NONE)
    assert warnings == [R.W_MEMORY, R.W_PIDS, R.W_SHARES, R.W_CPUSET]
    assert (c.memory, c.memory_swap, c.cpu_shares, c.cpuset_cpus, c.pids_limit) == (0, 0, 0, "", 0)
    c, warnings = R.check_resources(cfg(pids_limit=-1), NONE)
    assert warnings == [] and c.pids_limit == 0  # unlimited needs no warning, as docker


def test_cpus_without_cfs_is_refused():
    with pytest.raises(InvalidArgument, match="NanoCPUs can not be set"):
        R.check_resources(cfg(cpu_quota=50000, cpu_period=100000), dict(EVERY, cpu_cfs=False))


V1_MOUNTINFO = """\
32 31 0:29 / {d}/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / {d}/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / {d}/pids rw,relatime - cgroup cgroup rw,pids
"""


def test_host_support_v1(tmp_path):
    for sub, files in (("cpu", ["cpu.shares"]), ("memory", ["memory.limit_in_bytes"]), ("pids", [])):
        os.makedirs(tmp_path / sub)
        for f in files:
            (tmp_path / sub / f).write_text("")
    got = R.host_support(V1_MOUNTINFO.format(d=tmp_path))
    assert got == {"memory": True, "swap": False, "cpu_shares": True, "cpu_cfs": False, "cpuset": False,
                   "pids": True, "swappiness": False, "oom_kill_disable": False, "blkio_weight": False,
                   "blkio_throttle": False}


def test_host_support_v2(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    os.makedirs(tmp_path / "me")
    (tmp_path / "me" / "memory.swap.max").write_text("max\n")
    mi = f"30 23 0:26 / {tmp_path} rw - cgroup2 cgroup2 rw\n"
    got = R.host_support(mi, own_cgroup="/me")
    assert got == {"memory": True, "swap": True, "cpu_shares": True, "cpu_cfs": True, "cpuset": False, "pids": True,
                   "swappiness": False, "oom_kill_disable": False, "blkio_weight": False, "blkio_throttle": False}
    assert R.host_support(mi, own_cgroup="/other")["swap"] is False
