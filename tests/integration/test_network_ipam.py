"""IPAM.Config IPRange (the allocation pool inside a subnet) and AuxiliaryAddresses (reserved, never
given to a container), through the CLI and the Engine API, with real bridges and containers.

What dockerd does, as checked with dockerd 20.10 and the docker CLI 28 on this machine: the gateway
is the first free address of the range unless given; containers get the lowest free address of the
range, skipping auxiliary addresses; `--ip` may be anywhere in the subnet, outside the range too; a
full range is "no available IPv4 addresses on this network's address pools: NAME (ID)". The checks
are moby's ValidateIPAM wording (dockerd 25+) and the docker CLI's own. Only the subnets these tests
give (10.238.x.0/24) are touched.
"""

from __future__ import annotations

import json
import subprocess

from apiclient import api  # noqa: F401 - a fixture
from support import no_traceback, run_d


def ipam(dy, net: str) -> dict:
    return json.loads(dy("network", "inspect", net).out)[0]["IPAM"]


def address(dy, ctr: str, net: str) -> str:
    return dy("inspect", "-f", f"{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}", ctr).out.strip()


def test_cli_range_fills_in_order_and_skips_aux_addresses(dy, busybox, name):
    net = f"{name}-r"
    dy("network", "create", "--subnet", "10.238.1.0/24", "--ip-range", "10.238.1.8/29",
       "--aux-address", "router=10.238.1.10", "--aux-address", "dns=10.238.1.200", net)
    assert ipam(dy, net) == {"Driver": "default", "Options": {}, "Config": [{
        "Subnet": "10.238.1.0/24", "IPRange": "10.238.1.8/29", "Gateway": "10.238.1.8",
        "AuxiliaryAddresses": {"dns": "10.238.1.200", "router": "10.238.1.10"}}]}
    bridge = json.loads(dy("network", "inspect", net).out)[0]["Options"]["com.docker.network.bridge.name"]
    host = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", bridge], capture_output=True, text=True).stdout
    assert "10.238.1.8/24" in host  # the gateway, taken from the range as dockerd takes it
    # a /29 range: .8 is the gateway, .10 is reserved; the six others go in order, then it is full
    for i in range(6):
        run_d(dy, f"{name}-{i}", "sleep", "300", flags=("--network", net))
    got = [address(dy, f"{name}-{i}", net) for i in range(6)]
    assert got == ["10.238.1.9", "10.238.1.11", "10.238.1.12", "10.238.1.13", "10.238.1.14", "10.238.1.15"]
    p = dy("run", "--name", f"{name}-full", "--network", net, "busybox", "true", check=False)
    assert p.returncode == 125 and f"no available IPv4 addresses on this network's address pools: {net}" in p.err
    no_traceback(p)
    inside = dy("exec", f"{name}-0", "sh", "-c", "ip -4 -o addr show eth0; ip route").out
    assert "10.238.1.9/24" in inside and "default via 10.238.1.8" in inside
    # --ip: anywhere in the subnet (outside the range too), never an aux address nor the gateway
    run_d(dy, f"{name}-fixed", "sleep", "300", flags=("--network", net, "--ip", "10.238.1.100"))
    assert address(dy, f"{name}-fixed", net) == "10.238.1.100"
    for taken in ("10.238.1.10", "10.238.1.200", "10.238.1.8"):
        p = dy("run", "--rm", "--network", net, "--ip", taken, "busybox", "true", check=False)
        assert p.returncode == 125 and f"Address already in use: {taken}" in p.err, p.err
    # a freed address is handed out again, still from the range
    dy("rm", "-f", f"{name}-2", f"{name}-full")
    run_d(dy, f"{name}-again", "sleep", "300", flags=("--network", net))
    assert address(dy, f"{name}-again", net) == "10.238.1.12"
    # network connect allocates from the range too
    dy("rm", "-f", f"{name}-0")
    dy("create", "--name", f"{name}-late", "busybox", "sleep", "300")
    dy("network", "connect", net, f"{name}-late")
    dy("start", f"{name}-late")
    assert address(dy, f"{name}-late", net) == "10.238.1.9"


def test_range_without_gateway_inside_and_gateway_outside_range(dy, busybox, name):
    # the range holds the subnet's network address: the gateway is the first host address
    dy("network", "create", "--subnet", "10.238.2.0/24", "--ip-range", "10.238.2.0/30", f"{name}-low")
    assert ipam(dy, f"{name}-low")["Config"][0]["Gateway"] == "10.238.2.1"
    run_d(dy, f"{name}-a", "sleep", "300", flags=("--network", f"{name}-low"))
    assert address(dy, f"{name}-a", f"{name}-low") == "10.238.2.2"
    out = dy("run", "--rm", "--network", f"{name}-low", "busybox", "ip", "-4", "-o", "addr", "show", "eth0").out
    assert "10.238.2.3/24" in out  # the range's last address; .4 is outside it
    run_d(dy, f"{name}-a2", "sleep", "300", flags=("--network", f"{name}-low"))
    p = dy("run", "--rm", "--network", f"{name}-low", "busybox", "true", check=False)
    assert p.returncode == 125 and "no available IPv4 addresses" in p.err
    # a gateway given outside the range: the range is still the only pool for containers
    dy("network", "create", "--subnet", "10.238.3.0/24", "--gateway", "10.238.3.254", "--ip-range",
       "10.238.3.64/26", f"{name}-gw")
    assert ipam(dy, f"{name}-gw")["Config"] == [{"Subnet": "10.238.3.0/24", "IPRange": "10.238.3.64/26",
                                                  "Gateway": "10.238.3.254"}]
    run_d(dy, f"{name}-b", "sleep", "300", flags=("--network", f"{name}-gw"))
    assert address(dy, f"{name}-b", f"{name}-gw") == "10.238.3.64"
    assert dy("exec", f"{name}-b", "ip", "route").out.startswith("default via 10.238.3.254")


def test_cli_refusals_use_dockers_words(dy, name):
    net = f"{name}-bad"
    sub = ("--subnet", "10.238.4.0/24")
    cases = [
        (("--ip-range", "10.238.4.0/25"), "every ip-range or gateway must have a corresponding subnet"),
        (("--aux-address", "a=10.238.4.5"), "no matching subnet for aux-address 10.238.4.5"),
        (sub + ("--ip-range", "10.238.5.0/25"), "no matching subnet for range 10.238.5.0/25"),
        (sub + ("--ip-range", "bogus"), "invalid CIDR address: bogus"),
        (sub + ("--ip-range", "10.238.4.0/25", "--ip-range", "10.238.4.128/25"),
         "every ip-range or gateway must have a corresponding subnet"),  # as docker: one subnet, one range
        (sub + ("--ip-range", "10.238.4.0/23"),
         "invalid ip-range 10.238.4.0/23: CIDR block is bigger than its parent subnet 10.238.4.0/24"),
        (sub + ("--ip-range", "10.238.4.129/25"), "invalid ip-range 10.238.4.129/25: it should be 10.238.4.128/25"),
        (sub + ("--aux-address", "a=10.238.5.1"), "no matching subnet for aux-address 10.238.5.1"),
        (sub + ("--aux-address", "a"), "no matching subnet for aux-address "),
        (sub + ("--aux-address", "a=10.238.4.1"),
         "failed to allocate secondary ip address (a:10.238.4.1): Address already in use"),
        (sub + ("--aux-address", "a=10.238.4.255"),
         "failed to allocate secondary ip address (a:10.238.4.255): Address already in use"),
        (sub + ("--aux-address", "a=10.238.4.5", "--aux-address", "b=10.238.4.5"),
         "failed to allocate secondary ip address (b:10.238.4.5): Address already in use"),
        (sub + ("--ip-range", "10.238.4.8/29", "--aux-address", "a=10.238.4.8"),  # the range's first: the gateway
         "failed to allocate secondary ip address (a:10.238.4.8): Address already in use"),
        (sub + ("--gateway", "10.238.5.1"), "no matching subnet for gateway 10.238.5.1"),
        (sub + ("--gateway", "10.238.4.0"), "failed to allocate gateway (10.238.4.0): Address already in use"),
    ]
    for args, words in cases:
        p = dy("network", "create", *args, net, check=False)
        assert p.returncode == 1 and words in p.err, (args, p.err)
        no_traceback(p)
    assert net not in dy("network", "ls", "--format", "{{.Name}}").out.split()
    assert not [n for n in subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
                .splitlines() if "10.238.4." in n]


def test_api_ipam_config_round_trip_and_errors(api, dy, name):
    body = {"Name": f"{name}-api", "IPAM": {"Driver": "default", "Config": [{
        "Subnet": "10.238.6.0/24", "IPRange": "10.238.6.32/28", "Gateway": "10.238.6.254",
        "AuxiliaryAddresses": {"c": "10.238.6.7", "a": "10.238.6.33", "b": "10.238.6.34"}}]}}
    nid = api.json("POST", "/v1.44/networks/create", body, expect=201)["Id"]
    doc = api.json("GET", f"/v1.44/networks/{nid}")
    # docker-py's test_create_network_with_ipam_config: Options as the request had it (null)
    assert doc["IPAM"] == {"Driver": "default", "Options": None, "Config": [{
        "Subnet": "10.238.6.0/24", "IPRange": "10.238.6.32/28", "Gateway": "10.238.6.254",
        "AuxiliaryAddresses": {"a": "10.238.6.33", "b": "10.238.6.34", "c": "10.238.6.7"}}]}
    assert doc == json.loads(dy("network", "inspect", f"{name}-api").out)[0]
    assert json.loads(api.docker("network", "inspect", f"{name}-api").out)[0]["IPAM"] == doc["IPAM"]
    cid = api.json("POST", f"/v1.44/containers/create?name={name}-c",
                   {"Image": "busybox", "Cmd": ["sleep", "300"], "HostConfig": {"NetworkMode": f"{name}-api"}},
                   expect=201)["Id"]
    assert api.request("POST", f"/v1.44/containers/{cid}/start")[0] == 204
    nets = api.json("GET", f"/v1.44/containers/{cid}/json")["NetworkSettings"]["Networks"]
    assert nets[f"{name}-api"]["IPAddress"] == "10.238.6.32" and nets[f"{name}-api"]["Gateway"] == "10.238.6.254"
    # the docker CLI's own request (IPAM.Options {}) shows {}
    api.docker("network", "create", "--subnet", "10.238.7.0/24", "--ip-range", "10.238.7.128/25",
               "--aux-address", "a=10.238.7.130", f"{name}-cli")
    assert json.loads(api.docker("network", "inspect", f"{name}-cli").out)[0]["IPAM"] == {
        "Driver": "default", "Options": {}, "Config": [{"Subnet": "10.238.7.0/24", "IPRange": "10.238.7.128/25",
                                                        "Gateway": "10.238.7.128",
                                                        "AuxiliaryAddresses": {"a": "10.238.7.130"}}]}
    bad = [
        ({"Subnet": "10.238.8.0/24", "IPRange": "10.238.9.0/25"},
         "invalid network config:\ninvalid ip-range 10.238.9.0/25: parent subnet 10.238.8.0/24 doesn't contain "
         "ip-range"),
        ({"Subnet": "10.238.8.0/24", "IPRange": "10.238.8.0/23"},
         "invalid ip-range 10.238.8.0/23: CIDR block is bigger than its parent subnet 10.238.8.0/24"),
        ({"Subnet": "10.238.8.0/24", "IPRange": "nope"}, "invalid ip-range nope: invalid CIDR block notation"),
        ({"Subnet": "10.238.8.0/24", "IPRange": "fd00::/64"}, "invalid ip-range fd00::/64: parent subnet is an "
                                                              "IPv4 block"),
        ({"Subnet": "10.238.8.0/24", "AuxiliaryAddresses": {"x": "10.238.9.1"}},
         "invalid auxiliary address x: parent subnet 10.238.8.0/24 doesn't contain this address"),
        ({"Subnet": "10.238.8.0/24", "AuxiliaryAddresses": {"x": "nope"}},
         "invalid auxiliary address x: invalid address"),
        ({"Subnet": "10.238.8.0/24", "Gateway": "10.238.9.1", "IPRange": "10.238.8.8/30"},
         "invalid gateway 10.238.9.1: parent subnet 10.238.8.0/24 doesn't contain this address"),
        ({"Subnet": "10.238.8.0/24", "Gateway": "10.238.8.9", "AuxiliaryAddresses": {"gw": "10.238.8.9"}},
         "failed to allocate secondary ip address (gw:10.238.8.9): Address already in use"),
        ({"IPRange": "10.238.8.0/25"}, "invalid subnet : invalid CIDR block notation"),
        ({"Subnet": "10.238.8.0/24", "IPRange": 5}, "invalid IPAM.Config.IPRange: expected a string"),
        ({"Subnet": "10.238.8.0/24", "AuxiliaryAddresses": {"x": 1}},
         "invalid IPAM.Config.AuxiliaryAddresses: expected an object of strings"),
    ]
    for conf, words in bad:
        status, _, out = api.request("POST", "/v1.44/networks/create",
                                     {"Name": f"{name}-bad", "IPAM": {"Config": [conf]}})
        assert status == 400 and words in json.loads(out)["message"], (conf, out)
    # several faults at once: every one, a line each (moby's joined errors)
    status, _, out = api.request("POST", "/v1.44/networks/create", {"Name": f"{name}-bad", "IPAM": {"Config": [
        {"Subnet": "10.238.8.0/24", "IPRange": "10.238.8.1/23", "AuxiliaryAddresses": {"x": "10.1.1.1"}}]}})
    assert status == 400 and json.loads(out)["message"].splitlines() == [
        "invalid network config:",
        "invalid ip-range 10.238.8.1/23: CIDR block is bigger than its parent subnet 10.238.8.0/24",
        "invalid ip-range 10.238.8.1/23: it should be 10.238.8.0/23",
        "invalid auxiliary address x: parent subnet 10.238.8.0/24 doesn't contain this address"]
    status, _, out = api.request("POST", "/v1.44/networks/create", {"Name": f"{name}-bad", "IPAM": {
        "Options": {"k": "v"}, "Config": [{"Subnet": "10.238.8.0/24"}]}})
    assert status == 400 and "IPAM.Options" in json.loads(out)["message"]
    assert f"{name}-bad" not in dy("network", "ls", "--format", "{{.Name}}").out.split()
    api.docker("rm", "-f", cid)


def test_default_aliases_and_dns_names_on_a_user_network(dy, busybox, name):
    """moby's inspect at API < 1.45 (dockyard serves 1.44): a user network's Aliases list the short
    id and the hostname besides the asked aliases, before the start too; DNSNames (name, aliases,
    short id, hostname) while it runs, and the hostname resolves like the other names. The default
    bridge has neither."""
    net = f"{name}-dns"
    dy("network", "create", "--subnet", "10.238.10.0/24", net)
    cid = dy("create", "--name", f"{name}-a", "--network", net, "--network-alias", "db", "--hostname", "hh",
             "busybox", "sleep", "300").out.strip()
    short = cid[:12]
    ep = json.loads(dy("inspect", f"{name}-a").out)[0]["NetworkSettings"]["Networks"][net]
    assert (ep["Aliases"], ep["DNSNames"]) == (["db", short, "hh"], None)
    dy("start", f"{name}-a")
    ep = json.loads(dy("inspect", f"{name}-a").out)[0]["NetworkSettings"]["Networks"][net]
    assert (ep["Aliases"], ep["DNSNames"]) == (["db", short, "hh"], [f"{name}-a", "db", short, "hh"])
    out = dy("run", "--rm", "--network", net, "busybox", "nslookup", "hh").out
    assert f"Address: {ep['IPAddress']}" in out, out
    # without a hostname or alias: the short id (the default hostname) once
    cid = run_d(dy, f"{name}-b", "sleep", "300", flags=("--network", net))
    ep = json.loads(dy("inspect", f"{name}-b").out)[0]["NetworkSettings"]["Networks"][net]
    assert (ep["Aliases"], ep["DNSNames"]) == ([cid[:12]], [f"{name}-b", cid[:12]])
    run_d(dy, f"{name}-c", "sleep", "300")
    ep = json.loads(dy("inspect", f"{name}-c").out)[0]["NetworkSettings"]["Networks"]["bridge"]
    assert (ep["Aliases"], ep["DNSNames"]) == (None, None)


COMPOSE = """
services:
  web:
    image: busybox:latest
    command: ["sleep", "600"]
networks:
  default:
    ipam:
      config:
        - subnet: 10.238.11.0/24
          ip_range: 10.238.11.64/28
          aux_addresses: {host1: 10.238.11.65, host2: 10.238.11.1}
"""


def test_compose_ip_range_and_aux_addresses(dy, busybox, tmp_path, name):
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    base = ("compose", "-f", str(tmp_path / "compose.yaml"), "-p", name)
    try:
        dy(*base, "up", "-d")
        cfg = ipam(dy, f"{name}_default")["Config"]
        assert cfg == [{"Subnet": "10.238.11.0/24", "IPRange": "10.238.11.64/28", "Gateway": "10.238.11.64",
                        "AuxiliaryAddresses": {"host1": "10.238.11.65", "host2": "10.238.11.1"}}]
        assert address(dy, f"{name}-web-1", f"{name}_default") == "10.238.11.66"
        (tmp_path / "bad.yaml").write_text(COMPOSE.replace("10.238.11.64/28", "10.238.12.0/28"))
        p = dy("compose", "-f", str(tmp_path / "bad.yaml"), "-p", f"{name}x", "up", "-d", check=False)
        assert p.returncode != 0 and "doesn't contain ip-range" in p.err
        no_traceback(p)
    finally:
        dy(*base, "down")


def test_reconnect_after_leaving_the_only_network(dy, busybox, name):
    """dockerd lets a container taken off its only network be connected again (docker-py's
    test_connect_with_ipv4_address does): the network becomes its first, with the default route.
    A container made with --network none still cannot be connected."""
    net = f"{name}-re"
    dy("network", "create", "--subnet", "10.238.14.0/24", "--ip-range", "10.238.14.16/28", net)
    run_d(dy, f"{name}-a", "sleep", "300", flags=("--network", net))
    dy("network", "disconnect", net, f"{name}-a")
    assert json.loads(dy("inspect", f"{name}-a").out)[0]["NetworkSettings"]["Networks"] == {}
    assert "eth0" not in dy("exec", f"{name}-a", "ip", "-o", "link").out
    dy("network", "connect", "--ip", "10.238.14.5", net, f"{name}-a")  # outside the range, in the subnet
    assert address(dy, f"{name}-a", net) == "10.238.14.5"
    assert dy("exec", f"{name}-a", "ip", "route").out.startswith("default via 10.238.14.16")
    p = dy("network", "connect", net, f"{name}-a", check=False)
    assert p.returncode == 1 and "already exists" in p.err
    # a stopped one: connected in its config, the address comes at the start
    dy("stop", "-t", "0", f"{name}-a")
    dy("network", "disconnect", net, f"{name}-a")
    dy("network", "connect", net, f"{name}-a")
    dy("start", f"{name}-a")
    assert address(dy, f"{name}-a", net) == "10.238.14.17"
    dy("create", "--name", f"{name}-none", "--network", "none", "busybox", "true")
    p = dy("network", "connect", net, f"{name}-none", check=False)
    assert p.returncode == 1 and "network mode is none" in p.err
