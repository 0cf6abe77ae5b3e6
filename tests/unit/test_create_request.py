"""engine/create.py: the Engine API's ContainerCreate body → a checked ContainerConfig, and the
CLI's flags → that same body (cli/run.py), so the CLI and an API caller cannot drift."""

from __future__ import annotations

import os

import pytest

from dockyard.cli.flags import parse
from dockyard.cli.run import RUN_FLAGS, config_from_flags, request_from_flags
from dockyard.engine import mounts as M
from dockyard.engine.create import config_from_request
from dockyard.errors import InvalidArgument, NotImplemented


def flags(*argv):
    opts = parse(RUN_FLAGS, list(argv) + ["busybox", "sh", "-c", "true"], interspersed=False)
    return opts, opts.args[0], opts.args[1:]


def test_flags_become_dockers_create_body(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    body = request_from_flags(*flags(
        "-e", "A=1", "-u", "1000:1000", "-w", "/tmp", "--hostname", "h", "--read-only", "--rm", "-l", "k=v",
        "-m", "64m", "--memory-swap", "-1", "--cpus", "0.5", "-c", "512", "--pids-limit", "-5",
        "-p", "127.0.0.1:8080:80", "-p", "90/udp", "--device", "/dev/null:/dev/n:r", "--cap-add", "NET_ADMIN",
        "--restart", "no", "--log-opt", "max-size=1m", "--stop-signal", "SIGUSR1", "--stop-timeout", "3",
        "-v", "data:/data", "--mount", f"type=bind,src={src},dst=/s,readonly", "--tmpfs", "/t:size=1m",
        "--entrypoint", "", "--network", "mynet", "--network-alias", "web", "--ip", "10.1.2.3"))
    hc = body["HostConfig"]
    assert body["Image"] == "busybox" and body["Cmd"] == ["sh", "-c", "true"] and body["Entrypoint"] == []
    assert (body["Env"], body["User"], body["WorkingDir"], body["Hostname"], body["Labels"]) == \
        (["A=1"], "1000:1000", "/tmp", "h", {"k": "v"})
    assert (body["StopSignal"], body["StopTimeout"]) == ("SIGUSR1", 3)
    assert hc["AutoRemove"] and hc["ReadonlyRootfs"] and hc["NetworkMode"] == "mynet"
    assert (hc["Memory"], hc["MemorySwap"], hc["NanoCpus"], hc["CpuShares"], hc["PidsLimit"]) == \
        (64 << 20, -1, 500_000_000, 512, -5)
    assert hc["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                                  "90/udp": [{"HostIp": "", "HostPort": ""}]}
    assert hc["Devices"] == [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n", "CgroupPermissions": "r"}]
    assert hc["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
    assert hc["Binds"] == ["data:/data"] and hc["Tmpfs"] == {"/t": "size=1m"}
    assert hc["Mounts"] == [{"Type": "bind", "Source": str(src), "Target": "/s", "ReadOnly": True}]
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"mynet": {"Aliases": ["web"],
                                                                      "IPAMConfig": {"IPv4Address": "10.1.2.3"}}}}

    cfg = config_from_request(body)
    assert cfg.entrypoint == () and cfg.cmd == ("sh", "-c", "true") and cfg.auto_remove and cfg.read_only
    assert (cfg.memory, cfg.memory_swap, cfg.cpu_quota, cfg.cpu_period, cfg.cpu_shares, cfg.pids_limit) == \
        (64 << 20, -1, 50000, 100000, 512, -1)
    assert cfg.ports == ({"proto": "tcp", "host_ip": "127.0.0.1", "host_port": 8080, "container_port": 80},
                         {"proto": "udp", "host_ip": "", "host_port": 0, "container_port": 90})
    assert cfg.devices == ("/dev/null:/dev/n:r",)
    assert (cfg.network, cfg.network_aliases, cfg.ip) == ("mynet", ("web",), "10.1.2.3")
    assert [m["target"] for m in cfg.mounts] == ["/data", "/s", "/t"]
    assert cfg.restart == "no" and cfg.log_opts == {"max-size": "1m"} and cfg.stop_timeout == 3


def test_mount_objects_round_trip_as_the_flag_parsed():
    for value in ("type=volume,target=/v,volume-nocopy,volume-label=a=b,volume-opt=o=1",
                  "type=tmpfs,destination=/x,tmpfs-size=1m,tmpfs-mode=1770", "type=volume,src=named,dst=/n,ro",
                  "type=bind,src=/,dst=/h,bind-propagation=rslave,bind-nonrecursive"):
        try:
            assert M.mount_from_api(M.mount_request(value)) == M.parse_mount(value)
        except InvalidArgument as e:  # a volume-opt the local driver refuses fails the same both ways
            with pytest.raises(InvalidArgument, match=str(e)):
                M.parse_mount(value)
    t = M.mount_from_api(M.mount_request("type=tmpfs,destination=/x,tmpfs-size=1m,tmpfs-mode=1770"))
    assert t["tmpfs"] == ["size=1m", "mode=1770"]


def test_defaults_from_a_minimal_body():
    cfg = config_from_request({"Image": "busybox"})
    assert (cfg.image, cfg.cmd, cfg.entrypoint, cfg.network, cfg.runtime, cfg.restart) == \
        ("busybox", None, None, "bridge", "dockyard", "no")
    assert config_from_request({"Image": "x", "HostConfig": {"NetworkMode": "default"}}).network == "bridge"


@pytest.mark.parametrize("body, message", [
    ([], "expected an object"),
    ({}, "Image is required"),
    ({"Image": 5}, "invalid Image: expected a string"),
    ({"Image": "x", "Cmd": "true"}, "invalid Cmd: expected an array"),
    ({"Image": "x", "Cmd": ["a", 1]}, "invalid Cmd: expected an array of strings"),
    ({"Image": "x", "Tty": "yes"}, "invalid Tty: expected a boolean"),
    ({"Image": "x", "Labels": {"a": 1}}, "invalid Labels: expected an object of strings"),
    ({"Image": "x", "Env": ["A=\0"]}, "NUL byte"),
    ({"Image": "x", "HostConfig": []}, "invalid HostConfig: expected an object"),
    ({"Image": "x", "HostConfig": {"Memory": True}}, "invalid HostConfig.Memory: expected an integer"),
    ({"Image": "x", "HostConfig": {"Memory": 1024}}, "Minimum memory limit allowed is 6MB"),
    ({"Image": "x", "HostConfig": {"MemorySwap": 1 << 30}}, "You should always set the Memory limit"),
    ({"Image": "x", "HostConfig": {"Memory": 1 << 30, "MemorySwap": 1 << 20}}, "Minimum memoryswap limit"),
    ({"Image": "x", "HostConfig": {"NanoCpus": 10**15}}, "Range of CPUs is from 0.01"),
    ({"Image": "x", "HostConfig": {"NanoCpus": 1}}, "Range of CPUs is from 0.01"),
    ({"Image": "x", "HostConfig": {"CpuShares": -1}}, "shares cannot be negative"),
    ({"Image": "x", "HostConfig": {"CpusetCpus": "a"}}, "Invalid value a for cpuset cpus"),
    ({"Image": "x", "HostConfig": {"CpusetCpus": "9999"}}, "Requested CPUs are not available"),
    ({"Image": "x", "HostConfig": {"UsernsMode": "private"}}, "invalid --userns"),
    ({"Image": "x", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}, "invalid restart policy"),
    ({"Image": "x", "HostConfig": {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}}},
     "maximum retry count cannot be used"),
    ({"Image": "x", "HostConfig": {"RestartPolicy": {"Name": "always"}, "AutoRemove": True}},
     "can't create 'AutoRemove' container with restart policy"),
    ({"Image": "x", "HostConfig": {"LogConfig": {"Type": "nope"}}}, 'error looking up logging plugin nope'),
    ({"Image": "x", "HostConfig": {"Runtime": "no-such-runtime"}}, "Unknown runtime specified no-such-runtime"),
    ({"Image": "x", "HostConfig": {"LogConfig": {"Config": {"max-size": "lots"}}}}, "max-size"),
    ({"Image": "x", "HostConfig": {"Devices": [{"PathOnHost": "dev/null"}]}}, "is not an absolute path"),
    ({"Image": "x", "HostConfig": {"Devices": [{"PathOnHost": "/dev/null", "CgroupPermissions": "rwx"}]}},
     "invalid device mode"),
    ({"Image": "x", "HostConfig": {"Devices": [{"PathOnHost": "/a:/b"}]}}, "invalid device specification"),
    ({"Image": "x", "HostConfig": {"DeviceCgroupRules": ["x 1:3 rwm"]}}, "invalid device cgroup rule format"),
    ({"Image": "x", "HostConfig": {"Binds": ["/a:/x:zz"]}}, "invalid mode: zz"),
    ({"Image": "x", "HostConfig": {"Mounts": [{"Type": "bind", "Source": "/", "Target": "/x",
                                               "VolumeOptions": {}}]}}, "field VolumeOptions must not be specified"),
    ({"Image": "x", "HostConfig": {"Mounts": [{"Type": "tmpfs", "Target": "/proc"}]}}, "cannot be mounted"),
    ({"Image": "x", "HostConfig": {"Mounts": ["/x"]}}, "expected an array of objects"),
    ({"Image": "x", "HostConfig": {"Tmpfs": {"/x": "bogus"}}}, "Invalid tmpfs option"),
    ({"Image": "x", "HostConfig": {"Binds": ["/tmp:/x"], "Tmpfs": {"/x": ""}}}, "Duplicate mount point: /x"),
    ({"Image": "x", "HostConfig": {"PortBindings": {"http": []}}}, "invalid port 'http'"),
    ({"Image": "x", "HostConfig": {"PortBindings": {"80/sctp": []}}}, "invalid port '80/sctp'"),
    ({"Image": "x", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "99999"}]}}}, "invalid host port"),
    ({"Image": "x", "HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "::1"}]}}}, "invalid IP address"),
    ({"Image": "x", "HostConfig": {"PortBindings": {"80/tcp": "8080"}}}, "expected an array of objects"),
    ({"Image": "x", "NetworkingConfig": {"EndpointsConfig": {"other": {}}}}, "connect further networks"),
    ({"Image": "x", "StopSignal": "SIGNOPE"}, "Invalid signal: SIGNOPE"),
    ({"Image": "x", "StopTimeout": -2}, "invalid --stop-timeout -2"),
    ({"Image": "x", "HostConfig": {"SecurityOpt": ["apparmor=x"]}}, "AppArmor profiles are not supported"),
])
def test_bad_bodies_are_refused_clearly(body, message):
    with pytest.raises(InvalidArgument) as e:
        config_from_request(body)
    assert message in str(e.value)


def test_dockerds_own_log_drivers_are_refused_by_name():
    with pytest.raises(NotImplemented, match="log driver 'syslog' is not supported"):
        config_from_request({"Image": "x", "HostConfig": {"LogConfig": {"Type": "syslog"}}})


def test_cli_conflicts_stay_the_clis_words():
    with pytest.raises(InvalidArgument, match="conflicting options: cannot specify both --restart and --rm"):
        request_from_flags(*flags("--rm", "--restart", "always"))
    with pytest.raises(InvalidArgument, match='invalid argument "lots" for "-m, --memory" flag'):
        request_from_flags(*flags("-m", "lots"))
    with pytest.raises(InvalidArgument, match="Duplicate mount point: /t"):
        request_from_flags(*flags("--tmpfs", "/t", "--tmpfs", "/t:size=1m"))


def test_a_cpu_count_above_the_hosts_is_refused_by_the_engine():
    n = os.cpu_count() or 1
    with pytest.raises(InvalidArgument, match=f"as there are only {n} CPUs available"):
        config_from_flags(*flags("--cpus", str(n + 1)))
