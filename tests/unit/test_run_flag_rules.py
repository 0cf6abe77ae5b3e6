"""Issue 15's run/create flags without root: the CLI's body (cli/runflags.py), the engine's checks
(engine/hostopts.py), the spec they make (engine/specopts.py), the /etc files (network/etcfiles.py)
and --group-add's lookup (engine/users.py)."""

from __future__ import annotations

import pytest

from dockyard.cli.flags import parse
from dockyard.cli.run import RUN_FLAGS, request_from_flags
from dockyard.cli.runflags import expose, parse_ulimit, read_labels
from dockyard.engine import specopts
from dockyard.engine.create import config_from_request
from dockyard.engine.users import resolve_user
from dockyard.errors import InvalidArgument
from dockyard.network.etcfiles import resolv_content, write_etc_files
from dockyard.runtime.defaults import default_spec


def body(*argv):
    opts = parse(RUN_FLAGS, list(argv) + ["busybox", "true"], interspersed=False)
    return request_from_flags(opts, opts.args[0], opts.args[1:])


def test_flags_become_dockers_hostconfig_keys(tmp_path):
    labels = tmp_path / "l"
    labels.write_text("# c\na=1\nb=2\n")
    b = body("--add-host", "h:1.2.3.4", "--dns", "9.9.9.9", "--dns-search", "ex.com", "--dns-option", "ndots:1",
             "--ulimit", "nofile=10:20", "--shm-size", "1g", "--group-add", "audio", "--oom-score-adj", "-5",
             "--sysctl", "net.core.somaxconn=1024", "--label-file", str(labels), "-l", "b=3", "--expose", "80-81",
             "--pid", "host", "--ipc", "shareable", "--uts", "host", "--cgroupns", "private", "--cgroup-parent", "p",
             "--init", "--oom-kill-disable", "--memory-reservation", "10m", "--memory-swappiness", "0",
             "--cpu-period", "5000", "--cpu-quota", "2000", "--cpuset-mems", "0", "--blkio-weight", "100",
             "--device-read-bps", "/dev/sda:1mb", "--device-write-iops", "/dev/sda:7", "--annotation", "k=v",
             "--mac-address", "02:00:00:00:00:01", "--platform", "linux/amd64")
    hc = b["HostConfig"]
    assert (hc["ExtraHosts"], hc["Dns"], hc["DnsSearch"], hc["DnsOptions"]) == \
        (["h:1.2.3.4"], ["9.9.9.9"], ["ex.com"], ["ndots:1"])
    assert hc["Ulimits"] == [{"Name": "nofile", "Soft": 10, "Hard": 20}]
    assert (hc["ShmSize"], hc["GroupAdd"], hc["OomScoreAdj"], hc["Sysctls"]) == \
        (1 << 30, ["audio"], -5, {"net.core.somaxconn": "1024"})
    assert b["Labels"] == {"a": "1", "b": "3"} and b["ExposedPorts"] == {"80/tcp": {}, "81/tcp": {}}
    assert (hc["PidMode"], hc["IpcMode"], hc["UTSMode"], hc["CgroupnsMode"], hc["CgroupParent"]) == \
        ("host", "shareable", "host", "private", "p")
    assert hc["Init"] and hc["OomKillDisable"] and hc["MemoryReservation"] == 10 << 20
    assert (hc["MemorySwappiness"], hc["CpuPeriod"], hc["CpuQuota"], hc["CpusetMems"], hc["BlkioWeight"]) == \
        (0, 5000, 2000, "0", 100)
    assert hc["BlkioDeviceReadBps"] == [{"Path": "/dev/sda", "Rate": 1 << 20}]
    assert hc["BlkioDeviceWriteIOps"] == [{"Path": "/dev/sda", "Rate": 7}]
    assert hc["Annotations"] == {"k": "v"} and b["MacAddress"] == "02:00:00:00:00:01"
    assert "MemorySwappiness" not in body()["HostConfig"]  # -1, the default, is not sent


def test_engine_keeps_them_under_dockers_names():
    cfg = config_from_request({"Image": "busybox", "ExposedPorts": {"53/udp": {}, "80": {}},
                               "HostConfig": {"ExtraHosts": ["a:host-gateway", "b=::1"], "ShmSize": 1 << 20,
                                              "Ulimits": [{"Name": "core", "Soft": -1, "Hard": -1}],
                                              "IpcMode": "none", "CgroupParent": "/x//y/", "MemorySwappiness": -1}})
    o = cfg.host_opts
    assert o["ExtraHosts"] == ["a:host-gateway", "b=::1"] and o["ShmSize"] == 1 << 20
    assert o["ExposedPorts"] == ["53/udp", "80/tcp"] and o["IpcMode"] == "none" and o["CgroupParent"] == "/x/y"
    assert "MemorySwappiness" not in o
    assert config_from_request({"Image": "busybox"}).host_opts == {}


@pytest.mark.parametrize("hc,message", [
    ({"ExtraHosts": ["nohost"]}, "bad format for add-host"),
    ({"ExtraHosts": ["a\n6.6.6.6 evil:1.2.3.4"]}, "a host name has no spaces"),
    ({"Dns": ["300.1.1.1"]}, "IP address is not correctly formatted"),
    ({"Ulimits": [{"Name": "nofile", "Soft": 5, "Hard": 2}]}, "soft limit must be less than or equal"),
    ({"Ulimits": [{"Name": "x", "Soft": 1, "Hard": 1}]}, "invalid ulimit type: x"),
    ({"ShmSize": -1}, "SHM size can not be less than 0"),
    ({"Sysctls": {"kernel.pid_max": "1"}}, "sysctl 'kernel.pid_max' is not allowed"),
    ({"NetworkMode": "host", "Sysctls": {"net.ipv4.ip_forward": "1"}}, "not allowed with --network host"),
    ({"IpcMode": "host", "Sysctls": {"kernel.shmmax": "1"}}, "not allowed with --ipc host"),
    ({"OomScoreAdj": -1001}, "range for oom score adj is [-1000, 1000]"),
    ({"PidMode": "container:"}, "--pid: invalid PID mode"),
    ({"CgroupParent": "a/../../b"}, "invalid cgroup parent"),
    ({"BlkioDeviceReadBps": [{"Path": "/dev/null", "Rate": 1}]}, "/dev/null is not a block device"),
    ({"BlkioDeviceReadBps": [{"Path": "/nonexistent", "Rate": 1}]}, "error getting device /nonexistent"),
    ({"NanoCpus": 1_000_000_000, "CpuPeriod": 100000}, "Nano CPUs and CPU Period cannot both be set"),
    ({"GroupAdd": ["a:b"]}, "invalid group in GroupAdd"),
    ({"NetworkMode": "container:x", "ExtraHosts": ["a:1.1.1.1"]}, "custom host-to-IP mapping and the network mode"),
    ({"NetworkMode": "container:x", "Dns": ["1.1.1.1"]}, "conflicting options: dns and the network mode"),
])
def test_engine_refuses_what_dockerd_refuses(hc, message):
    with pytest.raises(InvalidArgument) as e:
        config_from_request({"Image": "busybox", "HostConfig": hc})
    assert message in str(e.value)


def test_ranges_are_checked_after_an_unsupported_limit_is_discarded():
    """dockerd's order: a host without blkio weight discards --blkio-weight 5 with a warning;
    one with it refuses the range. Same for swappiness."""
    from dockyard.engine.resources import FEATURES, check_resources

    every = dict.fromkeys(FEATURES, True)
    for hc, message in (({"BlkioWeight": 5}, "Range of blkio weight is from 10 to 1000"),
                        ({"MemorySwappiness": 101}, "valid memory swappiness range is 0-100")):
        with pytest.raises(InvalidArgument, match=message):
            check_resources(cfg_with(**hc), every)
    cfg, warnings = check_resources(cfg_with(BlkioWeight=5, MemorySwappiness=101),
                                    dict(every, blkio_weight=False, swappiness=False))
    assert cfg.host_opts == {} and len(warnings) == 2 and "Weight discarded." in warnings[0] + warnings[1]


def test_cli_parsers():
    assert parse_ulimit("nproc=5") == {"Name": "nproc", "Soft": 5, "Hard": 5}
    assert parse_ulimit("core=-1") == {"Name": "core", "Soft": -1, "Hard": -1}
    with pytest.raises(InvalidArgument, match="invalid ulimit argument: nofile"):
        parse_ulimit("nofile")
    assert expose("53/udp") == ["53/udp"] and expose("1-3") == ["1/tcp", "2/tcp", "3/tcp"]
    for bad in ("0", "5-3", "70000", "80/sctp"):
        with pytest.raises(InvalidArgument):
            expose(bad)


def test_label_file_rules(tmp_path):
    f = tmp_path / "f"
    f.write_text("  # c\n\nk=v=w\nbare\r\n")
    assert read_labels([str(f)]) == {"k": "v=w", "bare": ""}
    f.write_text("bad key=1\n")
    with pytest.raises(InvalidArgument, match="contains whitespaces"):
        read_labels([str(f)])


def cfg_with(**hc):
    return config_from_request({"Image": "busybox", "HostConfig": hc})


def test_spec_gets_rlimits_sysctls_shm_and_resources():
    spec = default_spec(["sh"])
    spec["linux"]["cgroupsPath"] = "/dockyard/abc"
    spec["linux"]["resources"] = {"memory": {"limit": 1 << 26}}
    specopts.apply(None, spec, cfg_with(Ulimits=[{"Name": "nofile", "Soft": 1, "Hard": -1}], OomScoreAdj=9,
                                        Sysctls={"net.ipv4.ip_forward": "1"}, ShmSize=1 << 20, CgroupParent="par",
                                        MemoryReservation=8 << 20, MemorySwappiness=0, OomKillDisable=True,
                                        CpuQuota=50000, CpusetMems="0", BlkioWeight=500, Annotations={"a": "b"}),
                   "abc")
    p, linux = spec["process"], spec["linux"]
    assert p["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": (1 << 64) - 1}] and p["oomScoreAdj"] == 9
    assert linux["sysctl"] == {"net.ipv4.ip_forward": "1"} and linux["cgroupsPath"] == "/par/abc"
    shm = next(m for m in spec["mounts"] if m["destination"] == "/dev/shm")
    assert "size=1048576" in shm["options"] and "size=65536k" not in shm["options"]
    assert linux["resources"]["memory"] == {"limit": 1 << 26, "reservation": 8 << 20, "swappiness": 0,
                                            "disableOOMKiller": True}
    assert linux["resources"]["cpu"] == {"quota": 50000, "period": 100000, "mems": "0"}
    assert linux["resources"]["blockIO"] == {"weight": 500} and spec["annotations"] == {"a": "b"}


def test_spec_namespaces_and_init(tmp_path, monkeypatch):
    tini = tmp_path / "tini-static"
    tini.write_bytes(b"")
    monkeypatch.setattr(specopts, "INIT_SOURCES", (str(tmp_path / "absent"), str(tini)))
    spec = default_spec(["sh", "-c", "x"])
    spec["hostname"] = "h"
    specopts.apply(None, spec, cfg_with(PidMode="host", IpcMode="host", UTSMode="host", CgroupnsMode="host",
                                        Init=True), "abc")
    kinds = {ns["type"] for ns in spec["linux"]["namespaces"]}
    assert kinds == {"network", "mount"} and "hostname" not in spec
    shm = next(m for m in spec["mounts"] if m["destination"] == "/dev/shm")
    assert shm["type"] == "bind" and shm["source"] == "/dev/shm"
    assert spec["process"]["args"] == [specopts.INIT_PATH, "--", "sh", "-c", "x"]
    init = next(m for m in spec["mounts"] if m["destination"] == specopts.INIT_PATH)
    assert init["type"] == "bind" and "ro" in init["options"] and init["source"] == str(tini)
    monkeypatch.setattr(specopts, "INIT_SOURCES", (str(tmp_path / "absent"),))
    with pytest.raises(InvalidArgument, match="--init needs a static tini"):
        specopts.apply(None, default_spec(["sh"]), cfg_with(Init=True), "abc")
    spec = default_spec(["sh"])
    specopts.apply(None, spec, cfg_with(IpcMode="none"), "abc")
    assert not any(m["destination"] == "/dev/shm" for m in spec["mounts"])
    assert any(ns["type"] == "ipc" for ns in spec["linux"]["namespaces"])


def test_resolv_conf_overrides(tmp_path):
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch lan\noptions edns0\n")
    r = str(host)
    assert resolv_content(r, dns=("1.1.1.1",)) == "search lan\nnameserver 1.1.1.1\noptions edns0\n"
    assert resolv_content(r, search=("a.b",)) == "search a.b\nnameserver 10.0.0.2\noptions edns0\n"
    assert resolv_content(r, search=(".",), options=("ndots:2",)) == "nameserver 10.0.0.2\noptions ndots:2\n"
    assert resolv_content(r, embedded_dns=True, options=("ndots:2",), dns=("1.1.1.1",)) == \
        "search lan\nnameserver 127.0.0.11\noptions ndots:2\n"
    # libnetwork's rebuildDNS: search, the embedded server, one options line (the host's, then ndots:0)
    assert resolv_content(r, embedded_dns=True, search=("x",)) == \
        "search x\nnameserver 127.0.0.11\noptions edns0 ndots:0\n"


def test_extra_hosts_in_the_hosts_file(tmp_path):
    files = write_etc_files(str(tmp_path), "h1", ip="10.0.0.5", extra_hosts=[("db", "10.1.1.1"), ("v6", "fd00::1")])
    with open(files["/etc/hosts"]) as f:
        lines = f.read().splitlines()
    assert lines[-3:] == ["10.1.1.1\tdb", "fd00::1\tv6", "10.0.0.5\th1"]


def test_group_add_resolves_names_in_the_image():
    group = "root:x:0:\nwheel:x:10:root\naudio:x:29:\n"
    passwd = "root:x:0:0:root:/root:/bin/sh\n"
    assert resolve_user("", passwd, group, ["audio", "4000", "wheel"]).additional_gids == [0, 10, 29, 4000]
    with pytest.raises(InvalidArgument, match="Unable to find group nope"):
        resolve_user("", passwd, group, ["nope"])
