"""specgen: docker's rules for command, env, user, capabilities and security options."""

import pytest

from dockyard.engine.config import ContainerConfig
from dockyard.engine.specgen import build_spec, capabilities, command, merge_env, process_env
from dockyard.engine.users import ExecUser
from dockyard.errors import InvalidArgument
from dockyard.runtime.defaults import DEFAULT_CAPS

ROOT = ExecUser(0, 0, [0], "/root", "root")
IMG = {"Cmd": ["sh"], "Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"], "WorkingDir": "/srv"}


def spec(**kw):
    cfg = ContainerConfig(image="busybox", **kw)
    return build_spec(cfg, IMG, user=kw.pop("_user", ROOT), hostname="abc", etc_files={"/etc/hosts": "/x/hosts"})


@pytest.mark.parametrize("cfg, image, expected", [
    (dict(), {"Cmd": ["sh"]}, ["sh"]),
    (dict(cmd=("echo", "hi")), {"Cmd": ["sh"]}, ["echo", "hi"]),
    (dict(), {"Entrypoint": ["/init"], "Cmd": ["a"]}, ["/init", "a"]),
    (dict(cmd=("b",)), {"Entrypoint": ["/init"], "Cmd": ["a"]}, ["/init", "b"]),
    # --entrypoint replaces Entrypoint and drops the image's Cmd
    (dict(entrypoint=("env",)), {"Entrypoint": ["/init"], "Cmd": ["a"]}, ["env"]),
    (dict(entrypoint=("env",), cmd=("x",)), {"Entrypoint": ["/init"], "Cmd": ["a"]}, ["env", "x"]),
    (dict(entrypoint=(), cmd=("x",)), {"Entrypoint": ["/init"], "Cmd": ["a"]}, ["x"]),
])
def test_command_follows_docker(cfg, image, expected):
    assert command(ContainerConfig(image="i", **cfg), image) == expected


def test_no_command_is_an_error():
    with pytest.raises(InvalidArgument, match="No command specified"):
        command(ContainerConfig(image="i"), {})


def test_env_order_and_overrides():
    cfg = ContainerConfig(image="i", env=("LANG=de", "A=1"))
    assert process_env(cfg, IMG, "abc", "/root") == [
        "PATH=/usr/bin:/bin", "HOSTNAME=abc", "LANG=de", "A=1", "HOME=/root"]
    tty = ContainerConfig(image="i", tty=True)
    assert process_env(tty, {}, "h", "/") == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=h", "TERM=xterm", "HOME=/"]
    assert process_env(ContainerConfig(image="i", env=("HOME=/x",)), {}, "h", "/root")[-1] == "HOME=/x"


def test_merge_env_keeps_first_position():
    assert merge_env(["A=1", "B=2"], ["A=3", "C=4"]) == ["A=3", "B=2", "C=4"]


@pytest.mark.parametrize("add, drop, has, lacks", [
    ((), (), ["CAP_CHOWN", "CAP_NET_RAW"], ["CAP_SYS_ADMIN"]),
    (("SYS_ADMIN",), ("NET_RAW",), ["CAP_SYS_ADMIN"], ["CAP_NET_RAW"]),
    (("ALL",), (), ["CAP_SYS_ADMIN", "CAP_BPF"], []),
    ((), ("ALL",), [], ["CAP_CHOWN"]),
    (("cap_net_admin",), ("ALL",), ["CAP_NET_ADMIN"], ["CAP_CHOWN"]),
])
def test_capabilities(add, drop, has, lacks):
    caps = capabilities(ContainerConfig(image="i", cap_add=add, cap_drop=drop))
    for c in has:
        assert c in caps
    for c in lacks:
        assert c not in caps


def test_unknown_capability():
    with pytest.raises(InvalidArgument, match="unknown capability"):
        capabilities(ContainerConfig(image="i", cap_add=("FLY",)))


def test_default_spec_is_dockers():
    s = spec()
    p = s["process"]
    assert p["args"] == ["sh"] and p["cwd"] == "/srv" and p["user"] == {"uid": 0, "gid": 0, "additionalGids": [0]}
    assert sorted(p["capabilities"]["effective"]) == sorted(DEFAULT_CAPS)
    assert p["noNewPrivileges"] is False
    assert s["hostname"] == "abc" and s["root"]["readonly"] is False
    assert {ns["type"] for ns in s["linux"]["namespaces"]} == {"pid", "network", "ipc", "uts", "mount", "cgroup"}
    assert "/proc/kcore" in s["linux"]["maskedPaths"] and "/proc/sys" in s["linux"]["readonlyPaths"]
    hosts = [m for m in s["mounts"] if m["destination"] == "/etc/hosts"]
    assert hosts and hosts[0]["source"] == "/x/hosts" and "rbind" in hosts[0]["options"]


def test_non_root_user_gets_no_effective_caps():
    cfg = ContainerConfig(image="i", user="1000")
    s = build_spec(cfg, IMG, user=ExecUser(1000, 1000, [1000], "/", ""), hostname="h", etc_files={})
    caps = s["process"]["capabilities"]
    assert caps["effective"] == [] and caps["permitted"] == [] and caps["bounding"]


def test_security_options():
    s = spec(security_opt=("no-new-privileges",), read_only=True)
    assert s["process"]["noNewPrivileges"] is True and s["root"]["readonly"] is True
    assert "ro" in [m for m in s["mounts"] if m["destination"] == "/etc/hosts"][0]["options"]
    with pytest.raises(InvalidArgument):
        spec(security_opt=("bogus=1",))


def test_host_network_and_userns():
    s = spec(network="host", userns=True)
    types = [ns["type"] for ns in s["linux"]["namespaces"]]
    assert "network" not in types


def test_relative_workdir_is_refused():
    with pytest.raises(InvalidArgument, match="absolute"):
        spec(workdir="tmp")


def test_device_policy_is_dockers():
    from dockyard.runtime.devices import DOCKER_DEFAULT_RULES

    s = spec()
    assert s["linux"]["resources"]["devices"] == list(DOCKER_DEFAULT_RULES)
    assert s["linux"]["resources"]["devices"][0] == {"allow": False, "access": "rwm"}
    assert "devices" not in s["linux"]  # the runtime makes the default nodes itself
    s = spec(devices=("/dev/null:/dev/n2:r",), device_cgroup_rules=("b 7:* rw",), pids_limit=5)
    res = s["linux"]["resources"]
    assert res["pids"] == {"limit": 5}
    assert res["devices"][-2:] == [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"},
                                   {"allow": True, "type": "b", "major": 7, "minor": -1, "access": "rw"}]
    assert [(d["path"], d["type"], d["major"], d["minor"]) for d in s["linux"]["devices"]] == [("/dev/n2", "c", 1, 3)]


def test_privileged_allows_every_device():
    s = spec(privileged=True, devices=("/dev/null:/dev/n2",), device_cgroup_rules=("c 1:3 r",))
    assert s["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    paths = {d["path"] for d in s["linux"]["devices"]}
    assert "/dev/null" in paths and "/dev/n2" in paths


def test_device_flag_errors_name_the_device():
    from dockyard.errors import BadSpec

    with pytest.raises(BadSpec, match="not a device node"):
        spec(devices=("/etc/hostname:/x:rwm",))
