"""`run`/`create` flags of issue 15, checked where they act: inside the container (/etc files,
limits, groups, namespaces, PID 1), and on the host (cgroup files, /proc/PID, namespaces by
readlink, sysctls left alone). Bad values exit 125 with Docker's text and no traceback; flags
dockyard cannot honour are refused naming the flag."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid

import pytest
from support import CGROUP_BASE, mounts_under, no_traceback, run_d

V1 = os.path.isdir(os.path.join(CGROUP_BASE, "memory")) and os.path.isdir(os.path.join(CGROUP_BASE, "blkio"))


def inside(dy, *flags: str, script: str) -> list[str]:
    return dy("run", "--rm", *flags, "busybox", "sh", "-c", script, timeout=60).out.splitlines()


def refused(dy, *flags: str, cmd: str = "run", code: int = 125) -> str:
    p = dy(cmd, *flags, "busybox", "true", check=False, timeout=60)
    assert p.returncode == code, (p.returncode, p.out, p.err)
    no_traceback(p)
    return p.err


def pid_of(dy, name: str) -> int:
    return int(dy("inspect", "-f", "{{.State.Pid}}", name).out)


def host_ns(kind: str) -> str:
    return os.readlink(f"/proc/self/ns/{kind}")


# -- group 1: /etc files, process settings, files the CLI reads ------------------------------------


def test_add_host_and_dns_flags_write_docker_etc_files(dy, busybox):
    out = inside(dy, "--add-host", "foo:1.2.3.4", "--add-host", "gw:host-gateway", "--add-host", "six:fd00::1",
                 "--dns", "192.0.2.53", "--dns-search", "example.com", "--dns-search", "corp.example",
                 "--dns-option", "ndots:3", script="cat /etc/hosts; echo --; cat /etc/resolv.conf")
    hosts, resolv = out[:out.index("--")], out[out.index("--") + 1:]
    gateway = dy("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", "bridge").out.strip()
    assert "1.2.3.4\tfoo" in hosts and f"{gateway}\tgw" in hosts and "fd00::1\tsix" in hosts
    assert hosts.index("1.2.3.4\tfoo") < len(hosts) - 1  # the container's own entry stays last, as Docker's
    assert resolv == ["search example.com corp.example", "nameserver 192.0.2.53", "options ndots:3"]
    # --dns-search . : no search list at all; the other parts stay the host's
    resolv = inside(dy, "--dns-search", ".", script="cat /etc/resolv.conf")
    assert not any(line.startswith("search") for line in resolv) and any(ln.startswith("nameserver") for ln in resolv)


def test_add_host_is_kept_when_peers_rewrite_hosts(dy, busybox):
    dy("network", "create", "flagnet")
    run_d(dy, "a1", "sleep", "300", flags=("--network", "flagnet", "--add-host", "kept:10.9.8.7", "--add-host",
                                           "gw:host-gateway"))
    run_d(dy, "a2", "sleep", "300", flags=("--network", "flagnet"))  # a peer starting rewrites a1's hosts
    hosts = dy("exec", "a1", "cat", "/etc/hosts").out
    gateway = dy("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", "bridge").out.strip()
    assert "10.9.8.7\tkept" in hosts and f"{gateway}\tgw" in hosts and "a2" in hosts
    resolv = dy("run", "--rm", "--network", "flagnet", "--dns-search", "x.example", "--dns-option", "ndots:2",
                "busybox", "cat", "/etc/resolv.conf").out.splitlines()
    assert resolv == ["search x.example", "nameserver 127.0.0.11", "options ndots:2"]  # libnetwork's order


def test_ulimit_shm_size_group_add_oom_score_adj(dy, busybox):
    out = inside(dy, "--ulimit", "nofile=100:200", "--ulimit", "nproc=50", "--ulimit", "core=-1",
                 "--shm-size", "32m", "--group-add", "wheel", "--group-add", "4321", "--oom-score-adj", "500",
                 script="ulimit -Sn; ulimit -Hn; ulimit -u; ulimit -c; df -k /dev/shm | tail -1; id -G; "
                        "cat /proc/self/oom_score_adj")
    assert out[:4] == ["100", "200", "50", "unlimited"]
    assert out[4].split()[1] == "32768"
    assert out[5].split() == ["0", "10", "4321"]
    assert out[6] == "500"
    # on the host: the init's own limits and score, and a non-root user gets the added groups too
    run_d(dy, "lim", "sleep", "300", flags=("--ulimit", "nofile=64:128", "--oom-score-adj", "300",
                                            "-u", "1000:1000", "--group-add", "wheel", "--group-add", "4321"))
    pid = pid_of(dy, "lim")
    with open(f"/proc/{pid}/limits") as f:
        line = next(ln for ln in f if ln.startswith("Max open files"))
    assert line.split()[3:5] == ["64", "128"]
    with open(f"/proc/{pid}/oom_score_adj") as f:
        assert f.read().strip() == "300"
    # lowering the score needs CAP_SYS_RESOURCE: where the host lacks it (a sandbox), a clear refusal
    with open("/proc/self/status") as f:
        cap_eff = int(next(ln for ln in f if ln.startswith("CapEff:")).split()[1], 16)
    p = dy("run", "--rm", "--oom-score-adj", "-300", "busybox", "cat", "/proc/self/oom_score_adj", check=False)
    no_traceback(p)
    if cap_eff & (1 << 24):
        assert (p.returncode, p.out) == (0, "-300\n"), p.err
    else:
        assert p.returncode == 125 and "needs CAP_SYS_RESOURCE" in p.err, p.err
    with open(f"/proc/{pid}/status") as f:
        groups = next(ln for ln in f if ln.startswith("Groups:")).split()[1:]
    assert sorted(groups) == ["10", "1000", "4321"]
    assert dy("exec", "-u", "0", "lim", "id", "-G").out.split() == ["0", "10", "4321"]  # exec keeps --group-add
    assert dy("exec", "lim", "id", "-G").out.split() == ["1000", "10", "4321"]
    p = dy("run", "--rm", "--group-add", "nosuchgroup", "busybox", "true", check=False)
    assert p.returncode == 125 and "Unable to find group nosuchgroup" in p.err
    no_traceback(p)


def test_runc_gets_the_same_from_the_same_spec(dy, busybox):
    """The spec these flags make, run by Debian's runc and by dockyard-runtime: the same view."""
    flags = ("--ulimit", "nofile=100:200", "--ulimit", "core=-1", "--sysctl", "kernel.shmmni=1234",
             "--oom-score-adj", "200", "--group-add", "4321", "--shm-size", "16m", "--init", "--ipc", "shareable",
             "--add-host", "foo:1.2.3.4", "--dns", "192.0.2.1")
    script = ("ulimit -Sn; ulimit -Hn; ulimit -c; cat /proc/sys/kernel/shmmni /proc/self/oom_score_adj; id -G; "
              "df -k /dev/shm | tail -1 | awk '{print $2}'; tr '\\0' ' ' < /proc/1/cmdline | cut -d' ' -f1-2; "
              "grep foo /etc/hosts; grep nameserver /etc/resolv.conf")
    ours = inside(dy, *flags, script=script)
    theirs = inside(dy, "--runtime", "runc", *flags, script=script)
    assert ours == theirs
    assert ours == ["100", "200", "unlimited", "1234", "200", "0 10 4321", "16384", "/sbin/docker-init --",
                    "1.2.3.4\tfoo", "nameserver 192.0.2.1"]
    assert mounts_under(dy.runroot) == []  # --ipc shareable's /dev/shm went with each --rm container


def test_sysctls_are_namespaced_and_never_reach_the_host(dy, busybox):
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        forward = f.read()
    with open("/proc/sys/kernel/shmmni") as f:
        shmmni = f.read()
    out = inside(dy, "--sysctl", "net.ipv4.ip_forward=" + ("0" if forward.strip() == "1" else "1"),
                 "--sysctl", "kernel.shmmni=1234", "--sysctl", "fs.mqueue.msg_max=42",
                 script="cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni /proc/sys/fs/mqueue/msg_max")
    assert out == [str(1 - int(forward)), "1234", "42"]
    # a host namespace would take them: refused, and the host's values are as they were
    assert "not allowed with --network host" in refused(dy, "--network", "host", "--sysctl",
                                                        "net.ipv4.ip_forward=" + str(1 - int(forward)))
    assert "not allowed with --ipc host" in refused(dy, "--ipc", "host", "--sysctl", "kernel.shmmni=99")
    assert "sysctl 'kernel.hostname=x' is not allowed" in refused(dy, "--sysctl", "kernel.hostname=x")
    assert "sysctl 'vm.swappiness=1' is not allowed" in refused(dy, "--sysctl", "vm.swappiness=1")
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        assert f.read() == forward
    with open("/proc/sys/kernel/shmmni") as f:
        assert f.read() == shmmni


def test_cidfile_like_docker(dy, busybox, tmp_path):
    cid = tmp_path / "cid"
    made = dy("create", "--cidfile", str(cid), "busybox", "true").out.strip()
    assert cid.read_text() == made
    # an existing file is refused and left as it was; no container is made
    err = refused(dy, "--cidfile", str(cid))
    assert f"container ID file found, make sure the other container isn't running or delete {cid}" in err
    assert cid.read_text() == made and dy("ps", "-aq").out.split() == [made[:12]]
    # run -d writes it too; a failed create leaves no file behind
    cid2 = tmp_path / "cid2"
    ran = dy("run", "-d", "--cidfile", str(cid2), "busybox", "true").out.strip()
    assert cid2.read_text() == ran
    cid3 = tmp_path / "cid3"
    p = dy("run", "--rm", "--cidfile", str(cid3), "--pull", "never", "nosuchimage:1", "true", check=False)
    assert p.returncode == 125 and not cid3.exists()
    cid4 = tmp_path / "cid4"
    assert dy("run", "--rm", "--cidfile", str(cid4), "busybox", "true").returncode == 0
    assert len(cid4.read_text()) == 64


def test_label_file_expose_and_annotations(dy, busybox, tmp_path):
    f = tmp_path / "labels"
    f.write_text("# comment\n\na=1\nb=from-file\nempty\n")
    dy("create", "--name", "lab", "--label-file", str(f), "-l", "b=flag", "--expose", "7000-7002/udp",
       "--expose", "80", "-P", "--annotation", "org.example.note=hi", "busybox", "true")
    doc = json.loads(dy("inspect", "lab").out)[0]
    assert doc["Config"]["Labels"] == {"a": "1", "b": "flag", "empty": ""}
    assert set(doc["Config"]["ExposedPorts"]) == {"80/tcp", "7000/udp", "7001/udp", "7002/udp"}
    # -P publishes what --expose added once it runs; HostConfig.PortBindings keeps -p's only, as Docker's
    assert doc["HostConfig"]["PortBindings"] == {} and doc["HostConfig"]["PublishAllPorts"] is True
    assert doc["HostConfig"]["Annotations"] == {"org.example.note": "hi"}
    with open(os.path.join(dy.runroot, "containers", doc["Id"], "config.json")) as fh:
        assert json.load(fh)["annotations"]["org.example.note"] == "hi"
    err = refused(dy, "--label-file", str(tmp_path / "missing"))
    assert f"open {tmp_path / 'missing'}: no such file or directory" in err


# -- group 2: namespaces, cgroups, init -----------------------------------------------------------


def test_domainname_is_the_containers_never_the_hosts(dy, busybox):
    """--domainname is also the kernel.domainname sysctl (as dockerd sets it, for runc < 1.2): set in
    the container's own UTS namespace, with either runtime; with --uts host it is dropped, and the
    host's domain name is what it was."""
    with open("/proc/sys/kernel/domainname") as f:
        before = f.read()
    runtimes = [()] + ([("--runtime", "runc")] if shutil.which("runc") else [])
    for extra in runtimes:
        assert inside(dy, "--network", "none", "--domainname", "c.example", *extra,
                      script="cat /proc/sys/kernel/domainname") == ["c.example"], extra
        out = inside(dy, "--network", "none", "--uts", "host", "--domainname", "evil.example", *extra,
                     script="cat /proc/sys/kernel/domainname")
        assert out == [before.strip()], extra
        with open("/proc/sys/kernel/domainname") as f:
            assert f.read() == before, extra


def test_host_namespaces(dy, busybox):
    out = inside(dy, "--pid", "host", "--uts", "host", "--ipc", "host", "--cgroupns", "host",
                 script="for n in pid uts ipc cgroup; do readlink /proc/self/ns/$n; done; hostname; echo $HOSTNAME")
    assert out[:4] == [host_ns(n) for n in ("pid", "uts", "ipc", "cgroup")]
    assert out[4] == os.uname().nodename
    assert len(out[5]) == 12 and out[5] != out[4]  # $HOSTNAME: Config.Hostname, the id's as docker's (not the host's)
    own = inside(dy, "--cgroupns", "private", script="for n in pid uts ipc cgroup; do readlink /proc/self/ns/$n; done")
    assert not set(own) & {host_ns(n) for n in ("pid", "uts", "ipc", "cgroup")}
    assert "Conflicting options: hostname and the UTS mode" in refused(dy, "--uts", "host", "-h", "x")


def test_join_pid_and_ipc_of_another_container(dy, busybox):
    run_d(dy, "donor", "sleep", "300", flags=("--ipc", "shareable", "--shm-size", "8m"))
    pid = pid_of(dy, "donor")
    out = inside(dy, "--pid", "container:donor", "--ipc", "container:donor",
                 script="readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc; ps -o args | grep -c 'sleep 30[0]'; "
                        "echo hi > /dev/shm/shared; df -k /dev/shm | tail -1")
    assert out[:2] == [os.readlink(f"/proc/{pid}/ns/pid"), os.readlink(f"/proc/{pid}/ns/ipc")]
    assert out[2] == "1" and out[3].split()[1] == "8192"
    assert dy("exec", "donor", "cat", "/dev/shm/shared").out == "hi\n"
    run_d(dy, "private", "sleep", "300")
    assert "non-shareable IPC" in refused(dy, "--ipc", "container:private")
    dy("stop", "-t", "0", "private")
    assert "non running container" in refused(dy, "--pid", "container:private")
    # --ipc none: an IPC namespace of its own and no /dev/shm
    out = inside(dy, "--ipc", "none", script="readlink /proc/self/ns/ipc; test -e /dev/shm; echo $?")
    assert out[0] != host_ns("ipc") and out[1] == "1"
    dy("rm", "-f", "donor")  # its /dev/shm tmpfs on the host goes with it
    assert mounts_under(dy.runroot) == []


def test_init_is_pid_1_reaps_and_forwards_signals(dy, busybox):
    out = inside(dy, "--init", script="cat /proc/1/cmdline | tr '\\0' ' '; echo; ls -l /sbin/docker-init")
    assert out[0].startswith("/sbin/docker-init -- sh -c ")
    run_d(dy, "tini", "sleep", "300", flags=("--init",))
    start = time.monotonic()
    dy("stop", "-t", "20", "tini")  # SIGTERM reaches sleep through tini (sleep as PID 1 would ignore it)
    assert time.monotonic() - start < 10
    assert dy("inspect", "-f", "{{.State.ExitCode}}", "tini").out.strip() == "143"
    # an orphan zombie is reaped by tini
    out = inside(dy, "--init", script="sh -c 'sleep 0.1 & exit 0'; sleep 0.5; ps -o stat,args | grep -c '^Z' || true")
    assert out[-1] == "0"


@pytest.mark.skipif(not V1, reason="reads cgroup v1 files (hybrid host)")
def test_cgroup_parent_and_limits_on_the_host(dy, busybox):
    parent = f"dyflags-{uuid.uuid4().hex[:8]}"
    try:
        p = dy("run", "-d", "--name", "lim", "--cgroup-parent", parent, "-m", "64m", "--memory-reservation", "20m",
               "--memory-swappiness", "10", "--oom-kill-disable", "--cpu-period", "50000", "--cpu-quota", "25000",
               "--cpuset-mems", "0", "busybox", "sleep", "300", timeout=60)
        cid = p.out.strip()

        def cg(controller, name):
            with open(os.path.join(CGROUP_BASE, controller, parent, cid, name)) as f:
                return f.read()

        assert cg("memory", "memory.soft_limit_in_bytes").strip() == str(20 << 20)
        assert cg("memory", "memory.swappiness").strip() == "10"
        assert "oom_kill_disable 1" in cg("memory", "memory.oom_control")
        assert (cg("cpu", "cpu.cfs_period_us").strip(), cg("cpu", "cpu.cfs_quota_us").strip()) == ("50000", "25000")
        assert cg("cpuset", "cpuset.mems").strip() == "0"
        with open(f"/proc/{pid_of(dy, 'lim')}/cgroup") as f:
            assert f":memory:/{parent}/{cid}" in f.read()
        dy("rm", "-f", "lim")
        assert not os.path.exists(os.path.join(CGROUP_BASE, "memory", parent, cid))
    finally:
        for h in os.listdir(CGROUP_BASE):
            for d in (os.path.join(CGROUP_BASE, h, parent, c) for c in ("",)):
                if os.path.isdir(d):
                    for sub in os.listdir(d):
                        if os.path.isdir(os.path.join(d, sub)):
                            os.rmdir(os.path.join(d, sub))
                    os.rmdir(d)
    for bad in ("../../escape", "/a/../b", "."):
        assert "invalid cgroup parent" in refused(dy, "--cgroup-parent", bad)
    assert not os.path.exists(os.path.join(CGROUP_BASE, "memory", "escape"))


@pytest.mark.skipif(not V1, reason="reads cgroup v1 files (hybrid host)")
def test_blkio_throttles_on_a_loop_device(dy, busybox, tmp_path):
    img = tmp_path / "disk.img"
    img.write_bytes(b"\0" * (4 << 20))
    loop = subprocess.run(["losetup", "-f", "--show", str(img)], capture_output=True, text=True,
                          check=True).stdout.strip()
    try:
        cid = run_d(dy, "thr", "sleep", "300", flags=("--device", f"{loop}:/dev/xdisk", "--device-read-bps",
                                                      f"{loop}:1mb", "--device-write-bps", f"{loop}:2mb",
                                                      "--device-read-iops", f"{loop}:100", "--device-write-iops",
                                                      f"{loop}:200"))
        st = os.stat(loop)
        dev = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
        base = os.path.join(CGROUP_BASE, "blkio", "dockyard", cid)
        for name, value in (("read_bps_device", 1 << 20), ("write_bps_device", 2 << 20), ("read_iops_device", 100),
                            ("write_iops_device", 200)):
            with open(os.path.join(base, f"blkio.throttle.{name}")) as f:
                assert f.read().split() == [dev, str(value)]
        start = time.monotonic()
        dy("exec", "thr", "dd", "if=/dev/xdisk", "of=/dev/null", "bs=1M", "count=3", "iflag=direct", timeout=60)
        assert time.monotonic() - start > 1.5  # 3 MiB at 1 MiB/s
        dy("rm", "-f", "thr")
    finally:
        subprocess.run(["losetup", "-d", loop], check=False)
    assert "bad format for device path" in refused(dy, "--device-read-bps", "/tmp/x:1mb")
    assert "is not a block device" in refused(dy, "--device-write-iops", "/dev/null:10")
    # no BFQ here: docker discards --blkio-weight with its warning; where the kernel has it, it is set
    p = dy("run", "--rm", "--blkio-weight", "300", "busybox", "true")
    weight_files = [f for f in ("blkio.weight", "blkio.bfq.weight")
                    if os.path.exists(os.path.join(CGROUP_BASE, "blkio", f))]
    if not weight_files:
        assert "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded." in p.err
        dy("run", "--rm", "--blkio-weight", "5", "busybox", "true")  # discarded before its range is checked
    else:
        assert "Range of blkio weight is from 10 to 1000" in refused(dy, "--blkio-weight", "5")


# -- bad values and refused flags ------------------------------------------------------------------

BAD = [
    (("--add-host", "foo"), 'invalid argument "foo" for "--add-host" flag: bad format for add-host: "foo"'),
    (("--add-host", "foo:1.2.3"), 'invalid argument "foo:1.2.3" for "--add-host" flag: invalid IP address in '
                                  'add-host: "1.2.3"'),
    (("--dns", "1.2.3"), 'invalid argument "1.2.3" for "--dns" flag: IP address is not correctly formatted: 1.2.3'),
    (("--dns-search", "a..b"), 'invalid argument "a..b" for "--dns-search" flag: a..b is not a valid domain'),
    (("--ulimit", "nofile=x"), 'invalid argument "nofile=x" for "--ulimit" flag: strconv.ParseInt: parsing "x": '
                               'invalid syntax'),
    (("--ulimit", "bogus=1"), 'invalid argument "bogus=1" for "--ulimit" flag: invalid ulimit type: bogus'),
    (("--ulimit", "nofile=10:5"), 'invalid argument "nofile=10:5" for "--ulimit" flag: ulimit soft limit must be '
                                  'less than or equal to hard limit: 10 > 5'),
    (("--shm-size", "abc"), 'invalid argument "abc" for "--shm-size" flag: invalid size: \'abc\''),
    (("--sysctl", "kernel.foo=1"), 'invalid argument "kernel.foo=1" for "--sysctl" flag: sysctl \'kernel.foo=1\' '
                                   'is not allowed'),
    (("--sysctl", "net.x"), 'invalid argument "net.x" for "--sysctl" flag: sysctl \'net.x\' is not allowed'),
    (("--oom-score-adj", "2000"), "Invalid value 2000, range for oom score adj is [-1000, 1000]"),
    (("--expose", "80-x"), 'invalid range format for --expose: 80-x, error: strconv.ParseUint: parsing "x": '
                           'invalid syntax'),
    (("--pid", "foo"), "--pid: invalid PID mode"),
    (("--ipc", "foo"), "--ipc: invalid IPC mode"),
    (("--uts", "foo"), "--uts: invalid UTS mode"),
    (("--cgroupns", "foo"), "--cgroupns: invalid CGROUP mode"),
    (("--memory-swappiness", "200"), "invalid value: 200. Valid memory swappiness range is 0-100"),  # docker's CLI
    (("--memory-reservation", "1m"), "Minimum memory reservation allowed is 6MB"),
    (("-m", "10m", "--memory-reservation", "20m"), "Minimum memory limit can not be less than memory reservation "
                                                   "limit, see usage"),
    (("--cpu-period", "10"), "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
    (("--cpu-quota", "10"), "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
    (("--cpus", "1", "--cpu-quota", "50000"), "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
    (("--cpuset-mems", "7"), "Requested memory nodes are not available - requested 7"),
    (("--annotation", "novalue"), 'invalid argument "novalue" for "--annotation" flag'),
    (("--gpus", "all"), "--gpus is not supported"),
    (("--storage-opt", "size=1G"), "--storage-opt is not supported"),
    (("--ip6", "fd00::5"), "user specified IP address is supported on user defined networks only"),
    (("--link-local-ip", "169.254.1"), "invalid link-local IP address"),
    (("--platform", "linux/arm64"), '--platform "linux/arm64" is not supported'),
    (("--mac-address", "zz"), 'invalid argument "zz" for "--mac-address" flag: zz is not a valid mac address'),
    (("--mac-address", "93:d0:c6:0a:29:33"), "is a multicast address"),
    (("--network", "none", "--mac-address", "92:d0:c6:0a:29:33"), "conflicting options: mac-address and the "
                                                                   "network mode"),
]


# what dockerd refuses, not docker's CLI: `create` exits 1 for these (docker CLI 28 against dockerd)
DAEMON_SIDE = {("--oom-score-adj", "2000"), ("--ipc", "foo"), ("--memory-reservation", "1m"),
               ("-m", "10m", "--memory-reservation", "20m"), ("--cpu-period", "10"), ("--cpu-quota", "10"),
               ("--cpus", "1", "--cpu-quota", "50000"), ("--cpuset-mems", "7"),
               ("--network", "none", "--mac-address", "92:d0:c6:0a:29:33"), ("--ip6", "fd00::5"),
               ("--link-local-ip", "169.254.1"),
               ("--platform", "linux/arm64")}  # dockerd refuses an image of another platform


@pytest.mark.parametrize("flags,message", BAD, ids=[" ".join(f) for f, _m in BAD])
def test_bad_values_and_refused_flags_exit_125(dy, busybox, flags, message):
    """run exits 125 for all of them; create, as docker's, 125 for what its CLI refuses and 1 for
    what the daemon refuses."""
    assert message in refused(dy, *flags, cmd="run")
    assert message in refused(dy, *flags, cmd="create", code=1 if flags in DAEMON_SIDE else 125)
    assert dy("ps", "-aq").out == ""


def test_mac_address_on_the_veth(dy, busybox):
    cid = run_d(dy, "mac", "sleep", "300", flags=("--mac-address", "92:D0:C6:0A:29:33"))
    assert dy("exec", "mac", "cat", "/sys/class/net/eth0/address").out == "92:d0:c6:0a:29:33\n"
    assert dy("inspect", "-f", "{{.NetworkSettings.MacAddress}} {{.Config.MacAddress}}", cid).out.split() == \
        ["92:d0:c6:0a:29:33"] * 2
    dy("restart", "-t", "0", "mac")  # the next start makes the interface again, with the same address
    assert dy("exec", "mac", "cat", "/sys/class/net/eth0/address").out == "92:d0:c6:0a:29:33\n"


def test_platform_linux_amd64_is_accepted(dy, busybox):
    assert dy("run", "--rm", "--platform", "linux/amd64", "busybox", "echo", "ok").out == "ok\n"
