"""engine/endpointopts.py and create's endpoint settings: network-scoped links and driver options."""

from __future__ import annotations

import pytest

from dockyard.cli.run import network_attachment
from dockyard.engine.create import config_from_request
from dockyard.engine.endpointopts import check, check_ifname, sysctls, user_defined
from dockyard.errors import InvalidArgument


def test_user_defined_networks():
    assert user_defined("mynet") and user_defined("0123abcd")
    for n in ("", "bridge", "default", "host", "none", "container:x"):
        assert not user_defined(n)


def test_sysctls_map_to_the_interface_own_paths():
    assert sysctls("net.ipv4.conf.IFNAME.log_martians=1,net.ipv6.conf.ifname.accept_ra=2", "eth1") == [
        ("net/ipv4/conf/eth1/log_martians", "1"), ("net/ipv6/conf/eth1/accept_ra", "2")]
    assert sysctls("net.ipv4.neigh.IFNAME.gc_stale_time=60", "data0") == [("net/ipv4/neigh/data0/gc_stale_time",
                                                                           "60")]
    for bad in ("net.ipv4.conf.eth0.log_martians=1", "net.core.x.IFNAME.y=1", "kernel.a.b.IFNAME.c=1",
                "net.ipv4.conf.IFNAME=1", "net.ipv4.conf.IFNAME.x", "net.ipv4.conf.IFNAME.a/../b=1",
                "net.ipv4.conf.IFNAME..=1", "net.ipv4.conf.IFNAME.x=1\n", ""):
        with pytest.raises(InvalidArgument):
            sysctls(bad, "eth0")


def test_interface_names():
    assert check_ifname("data0") == "data0"
    for bad in ("", "lo", "..", "a/b", "a b", "x" * 16, "a:b"):
        with pytest.raises(InvalidArgument):
            check_ifname(bad)


def test_check_links_and_driver_opts():
    assert check("net", ["db:alias", "cache"], {"k": "v"}, "") == {"Links": ["db:alias", "cache"],
                                                                   "DriverOpts": {"k": "v"}}
    assert check("net", [], {}, "") == {}
    assert check("bridge", [], {"com.docker-py.setting": "on"}, "") == {"DriverOpts": {"com.docker-py.setting": "on"}}
    with pytest.raises(InvalidArgument, match="only supported for user-defined networks"):
        check("bridge", ["db:x"], {}, "")
    with pytest.raises(InvalidArgument, match="only supported for user-defined networks"):
        check("host", ["db:x"], {}, "", legacy=["db:x"])
    assert check("bridge", ["db:x"], {}, "", legacy=["/db:x"]) == {"Links": ["db:x"]}  # the legacy ones, repeated
    for links in (["db:"], [""], ["a:b:c"]):
        with pytest.raises(InvalidArgument):
            check("net", links, {}, "")
    with pytest.raises(InvalidArgument):
        check("net", [], {"k": 1}, "")


def test_create_folds_legacy_links_into_a_user_network_endpoint():
    cfg = config_from_request({"Image": "busybox", "HostConfig": {"NetworkMode": "mynet", "Links": ["db:d", "x"]},
                               "NetworkingConfig": {"EndpointsConfig": {"mynet": {"Links": ["db:d"],
                                                                                  "DriverOpts": {"a": "b"}}}}})
    assert "Links" not in cfg.host_opts
    assert cfg.endpoint_opts == {"mynet": {"Links": ["db:d", "x"], "DriverOpts": {"a": "b"}}}
    cfg = config_from_request({"Image": "busybox", "HostConfig": {"Links": ["db:d"]}})
    assert cfg.host_opts["Links"] == ["db:d"] and cfg.endpoint_opts == {}  # the default bridge: legacy


def test_the_advanced_network_flag():
    assert network_attachment("mynet") == ("mynet", {})
    name, ep = network_attachment('name=n,alias=a,alias=b,ip=10.1.2.3,link=db:d,'
                                  '"driver-opt=k=v1,v2",driver-opt=x= y ,mac-address=02:42:00:00:00:01')
    assert name == "n"
    assert ep == {"Aliases": ["a", "b"], "IPAMConfig": {"IPv4Address": "10.1.2.3"}, "Links": ["db:d"],
                  "DriverOpts": {"k": "v1,v2", "x": "y"}, "MacAddress": "02:42:00:00:00:01"}
    assert network_attachment("name=n,ip6=fd00::1,link-local-ip=169.254.1.1,link-local-ip=fe80::1") == \
        ("n", {"IPAMConfig": {"IPv6Address": "fd00::1", "LinkLocalIPs": ["169.254.1.1", "fe80::1"]}})
    for bad in ("alias=a", "name=n,gw-priority=1", "name=n,nope=1", "name=n,link=db:", "name=n,driver-opt=k",
                "name=n,flag"):
        with pytest.raises(InvalidArgument):
            network_attachment(bad)
