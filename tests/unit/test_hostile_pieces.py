"""Hostile-input pieces without a container: --security-opt, Docker seccomp profiles, in-root
resolution by descriptor, runc's /proc rule, image config checks, signals, exposed ports."""

from __future__ import annotations

import json
import os

import pytest

from dockyard.engine import security
from dockyard.errors import BadSpec, InvalidArgument
from dockyard.images.validate import check_config
from dockyard.oci.ports import exposed_port
from dockyard.runtime.paths import open_in_root, proc_mount_refused
from dockyard.runtime.seccomp_default import check_profile, docker_profile
from dockyard.signals import parse_signal


def test_security_opts_honoured():
    o = security.parse(["no-new-privileges", "seccomp=unconfined", "systempaths=unconfined", "label=disable"])
    assert (o.no_new_privileges, o.seccomp, o.unmask_paths) == (True, "unconfined", True)
    assert security.parse(["no-new-privileges:false"]).no_new_privileges is False
    assert security.parse([]).seccomp == "builtin"
    assert security.parse(["seccomp=" + json.dumps(docker_profile())]).seccomp["defaultAction"] == "SCMP_ACT_ERRNO"


@pytest.mark.parametrize("opt", ["apparmor=x", "label=type:t", "label:user:u", "systempaths=x", "seccomp",
                                 "seccomp=/relative", "no-new-privileges=2", "x", "", "mask=/proc"])
def test_security_opts_refused(opt):
    with pytest.raises(InvalidArgument):
        security.parse([opt])


def test_read_profiles_turns_a_file_into_its_json(tmp_path):
    f = tmp_path / "p.json"
    f.write_text('{ "defaultAction" : "SCMP_ACT_ALLOW" }')
    assert security.read_profiles([f"seccomp={f}", "seccomp:unconfined", "no-new-privileges"]) == (
        'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}', "seccomp=unconfined", "no-new-privileges")
    with pytest.raises(InvalidArgument, match="opening seccomp profile"):
        security.read_profiles([f"seccomp={tmp_path / 'none'}"])


def test_docker_default_profile_passes_its_own_check():
    check_profile(docker_profile())


@pytest.mark.parametrize("profile", [
    {},
    {"defaultAction": "SCMP_ACT_BOGUS"},
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["nosuchcall"], "action": "SCMP_ACT_ERRNO"}]},
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                                                       "args": [{"index": 0, "op": "SCMP_CMP_XX"}]}]},
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                                                       "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": -1}]}]},
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                                                       "excludes": {"minKernel": "x.y"}}]},
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_LOG"}]},
    {"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_NOPE"}]},
    {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NOPE"]},
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": "read"},
])
def test_bad_profiles(profile):
    with pytest.raises((BadSpec, InvalidArgument)):
        check_profile(profile)


def test_open_in_root_never_leaves_the_root(tmp_path):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "vol").mkdir(parents=True)
    outside.mkdir()
    (root / "vol" / "abs").symlink_to(outside)          # absolute: resolved inside root
    (root / "vol" / "rel").symlink_to("../../../outside")  # .. clamped at the root
    for path in ("/vol/abs/sub", "/vol/rel/sub", "/vol/../../../x"):
        fd = open_in_root(str(root), path, create="dir")
        try:
            real = os.readlink(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        assert real.startswith(str(root) + "/"), (path, real)
    assert os.listdir(outside) == []
    fd = open_in_root(str(root), "/vol/f", create="file")
    os.close(fd)
    assert (root / "vol" / "f").is_file()
    with pytest.raises(OSError):
        open_in_root(str(root), "/vol/abs", follow=False)
    with pytest.raises(FileNotFoundError):
        open_in_root(str(root), "/nope")
    with pytest.raises(NotADirectoryError):
        open_in_root(str(root), "/vol/f/below", create="dir")


@pytest.mark.parametrize("dest, mtype, refused", [
    ("/proc", "proc", False), ("/proc", "bind", True), ("/proc", "tmpfs", True), ("/proc/x", "bind", True),
    ("/proc/sys/kernel", "bind", True), ("/proc/uptime", "bind", False), ("/proc/cpuinfo", "bind", False),
    ("/processes", "bind", False), ("/data", "tmpfs", False),
])
def test_proc_mount_rule(dest, mtype, refused):
    assert bool(proc_mount_refused(dest, mtype)) is refused


def _config(**cc) -> dict:
    return {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
            "config": {"Env": ["PATH=/bin"], **cc}}


def test_image_config_checks():
    check_config(_config(ExposedPorts={"80/tcp": {}, "53/udp": {}, "8080": {}}, StopSignal="SIGQUIT",
                         Volumes={"/data": {}}, Labels={"a": "b"}))
    for bad in (dict(Env=["A=1", 2]), dict(Env=["A=\0"]), dict(Env=["=x"]), dict(ExposedPorts={"99999999/tcp": {}}),
                dict(Volumes={"data": {}}), dict(Labels={"a": None}), dict(StopSignal="NOPE"), dict(Cmd="x"),
                dict(User=["root"])):
        with pytest.raises(InvalidArgument, match="invalid image config"):
            check_config(_config(**bad))
    with pytest.raises(InvalidArgument):
        check_config([])


def test_exposed_ports():
    assert exposed_port("80/tcp") == (80, "tcp") and exposed_port("53/udp") == (53, "udp")
    assert exposed_port("65535") == (65535, "tcp")
    for bad in ("0/tcp", "65536/tcp", "99999999/tcp", "80/sctp", "x/tcp", "", None, "８０/tcp", "-1/tcp"):
        with pytest.raises(InvalidArgument):
            exposed_port(bad)


def test_signals():
    assert parse_signal("TERM") == parse_signal("SIGTERM") == parse_signal(15) == 15
    assert parse_signal("RTMIN+1") == parse_signal("SIGRTMIN") + 1
    for bad in ("NOPE", "SIG_IGN", "SIG_DFL", "NSIG", "0", "65", "KILL+1", "RTMIN+99", "", "٩"):
        with pytest.raises(InvalidArgument):
            parse_signal(bad)
