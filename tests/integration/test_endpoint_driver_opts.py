"""Endpoint driver options (EndpointSettings.DriverOpts; `network connect --driver-opt`; `run
--network name=NET,driver-opt=K=V`): kept and shown as given (dockerd 20.10's bridge driver reads no
key a user gives); com.docker.network.endpoint.sysctls (moby 27) and .ifname (moby 28) take effect
inside the container's network namespace only."""

from __future__ import annotations

import json
import os

from apiclient import api  # noqa: F401 - a fixture
from support import assert_nothing_left, no_traceback

SYSCTLS = "com.docker.network.endpoint.sysctls"


def _host_sysctls() -> dict:
    out = {}
    for rel in ("net/ipv4/conf/all/log_martians", "net/ipv4/conf/default/log_martians",
                "net/ipv4/conf/default/forwarding", "net/ipv4/ip_forward", "kernel/panic"):
        with open("/proc/sys/" + rel) as f:
            out[rel] = f.read()
    return out


def test_driver_opts_are_kept_and_shown_as_docker_py_sends_them(api, dy, tmp_path):
    """docker-py 7.1.0's test_create_with_driveropt (the default bridge, a key nobody reads)."""
    created = api.json("POST", "/v1.44/containers/create?name=opts", {
        "Image": "busybox", "Cmd": ["sleep", "300"], "HostConfig": {"NetworkMode": "bridge"},
        "NetworkingConfig": {"EndpointsConfig": {"bridge": {"DriverOpts": {"com.docker-py.setting": "on"}}}}},
        expect=201)
    before = api.json("GET", "/v1.44/containers/opts/json")["NetworkSettings"]["Networks"]["bridge"]
    assert before["DriverOpts"] == {"com.docker-py.setting": "on"}
    api.json("POST", f"/v1.44/containers/{created['Id']}/start", expect=204)
    net = api.json("GET", "/v1.44/containers/opts/json")["NetworkSettings"]["Networks"]["bridge"]
    assert net["DriverOpts"] == {"com.docker-py.setting": "on"} and net["IPAddress"]
    # network connect's, through the docker CLI
    api.json("POST", "/v1.44/networks/create", {"Name": "optnet"}, expect=201)
    api.docker("network", "connect", "--driver-opt", "a.b= c ", "optnet", "opts")  # trimmed, as docker's CLI
    assert api.json("GET", "/v1.44/containers/opts/json")["NetworkSettings"]["Networks"]["optnet"]["DriverOpts"] \
        == {"a.b": "c"}
    p = api.docker("network", "connect", "--driver-opt", "novalue", "optnet", "opts", check=False)
    assert p.returncode != 0
    api.docker("rm", "-f", "opts")
    assert_nothing_left(dy, tmp_path)


def test_endpoint_sysctls_and_interface_name_take_effect_in_the_container_only(dy, busybox, tmp_path):
    host = _host_sysctls()
    dy("network", "create", "sysnet")
    p = dy("run", "--rm", "--network",
           f'name=sysnet,"driver-opt={SYSCTLS}=net.ipv4.conf.IFNAME.log_martians=1,net.ipv4.conf.IFNAME.forwarding=1"',
           "busybox", "cat", "/proc/sys/net/ipv4/conf/eth0/log_martians", "/proc/sys/net/ipv4/conf/eth0/forwarding")
    assert p.out.split() == ["1", "1"]
    # docker's CLI lower-cases the whole --network field: "ifname" is IFNAME
    p = dy("run", "--rm", "--network", f"name=sysnet,driver-opt={SYSCTLS}=net.ipv4.conf.ifname.log_martians=1,"
           "driver-opt=com.docker.network.endpoint.ifname=data0", "busybox", "sh", "-c",
           "cat /proc/sys/net/ipv4/conf/data0/log_martians; ip -o link show data0 | grep -c data0")
    assert p.out.split() == ["1", "1"]
    dy("run", "-d", "--name", "hot", "--network", "sysnet", "busybox", "sleep", "300")
    dy("network", "create", "sysnet2")
    dy("network", "connect", "--driver-opt", f"{SYSCTLS}=net.ipv4.conf.IFNAME.log_martians=1", "sysnet2", "hot")
    assert dy("exec", "hot", "cat", "/proc/sys/net/ipv4/conf/eth1/log_martians").out.strip() == "1"
    assert dy("exec", "hot", "cat", "/proc/sys/net/ipv4/conf/eth0/log_martians").out.strip() == "0"
    # an interface name the container has: refused before anything is recorded or made
    dy("network", "create", "sysnet3")
    p = dy("network", "connect", "--driver-opt", "com.docker.network.endpoint.ifname=eth0", "sysnet3", "hot",
           check=False)
    assert p.returncode != 0 and "interface eth0 already exists" in p.err, p.err
    assert json.loads(dy("network", "inspect", "sysnet3").out)[0]["Containers"] == {}
    assert "sysnet3" not in json.loads(dy("inspect", "hot").out)[0]["NetworkSettings"]["Networks"]
    assert _host_sysctls() == host
    dy("rm", "-f", "hot")
    assert_nothing_left(dy, tmp_path)


def test_endpoint_sysctls_win_over_the_ipv6_setup_of_the_interface(dy, busybox, tmp_path):
    """The interface's own IPv6 set-up (accept_ra=0) comes first, the user's sysctls after it."""
    host = _host_sysctls()
    dy("network", "create", "--ipv6", "sys6net")
    p = dy("run", "--rm", "--network", f"name=sys6net,driver-opt={SYSCTLS}=net.ipv6.conf.IFNAME.accept_ra=2",
           "busybox", "cat", "/proc/sys/net/ipv6/conf/eth0/accept_ra")
    assert p.out.split() == ["2"]
    p = dy("run", "--rm", "--network", "sys6net", "busybox", "cat", "/proc/sys/net/ipv6/conf/eth0/accept_ra")
    assert p.out.split() == ["0"]
    assert _host_sysctls() == host
    dy("network", "rm", "sys6net")
    assert_nothing_left(dy, tmp_path)


def test_hostile_endpoint_sysctls_are_refused_and_the_host_is_untouched(dy, busybox, tmp_path):
    host = _host_sysctls()
    dy("network", "create", "hostilenet")
    dy("network", "create", "hostile2")
    dy("run", "-d", "--name", "victim", "--network", "hostilenet", "busybox", "sleep", "300")
    for value, words in (("net.ipv4.conf.IFNAME.x/../../../../kernel/panic=5", "may only have letters"),
                         ("net.ipv4.conf.IFNAME/../all.log_martians=1", "unrecognised network interface sysctl"),
                         ("net.ipv4.conf.IFNAME..=1", "may only have letters"),
                         ("kernel.panic.x.IFNAME.y=5", "unrecognised network interface sysctl"),
                         ("net.core.x.IFNAME.y=1", "unrecognised network interface sysctl"),
                         ("net.ipv4.conf.all.log_martians=1", "unrecognised network interface sysctl"),
                         ("net.ipv4.conf.IFNAME.log_martians", "unrecognised network interface sysctl"),
                         ("net.ipv4.conf.IFNAME.log_martians=1\nx", "may only have letters")):
        for args in (("run", "--rm", "--network", f'name=hostilenet,"driver-opt={SYSCTLS}={value}"', "busybox",
                      "true"),
                     ("network", "connect", "--driver-opt", f"{SYSCTLS}={value}", "hostile2", "victim")):
            p = dy(*args, check=False)
            assert p.returncode != 0 and words in p.err, (args, p.err)
            no_traceback(p)
    for value, words in (("../../x", "invalid interface name"), ("a" * 16, "invalid interface name"),
                         ("lo", "invalid interface name"), ("eth 0", "invalid interface name")):
        p = dy("create", "--network", f"name=hostilenet,driver-opt=com.docker.network.endpoint.ifname={value}",
               "busybox", "true", check=False)
        assert p.returncode != 0 and words in p.err, (value, p.err)
    # a sysctl the interface does not have: the start fails and gives its address and pair back
    dy("create", "--name", "nokey", "--network", f"name=hostilenet,driver-opt={SYSCTLS}=net.ipv4.conf.IFNAME.nope=1",
       "busybox", "true")
    p = dy("start", "nokey", check=False)
    assert p.returncode != 0 and "net.ipv4.conf.eth0.nope' does not exist" in p.err, p.err
    no_traceback(p)
    doc = json.loads(dy("network", "inspect", "hostilenet").out)[0]
    assert list(doc["Containers"]) == [json.loads(dy("inspect", "victim").out)[0]["Id"]]
    nokey = json.loads(dy("inspect", "nokey").out)[0]["Id"]
    assert not [n for n in os.listdir("/sys/class/net") if n.startswith("dv" + nokey[:10])]  # its pair went
    dy("rm", "-f", "victim", "nokey")
    assert _host_sysctls() == host
    assert_nothing_left(dy, tmp_path)
