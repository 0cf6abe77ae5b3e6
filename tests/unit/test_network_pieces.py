"""IPAM, -p parsing and the rule text of networks: pure functions, no root, no interfaces."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument, Unavailable
from dockyard.network import firewall, ipam, ports


def test_subnet_parse_and_properties():
    s = ipam.Subnet.parse("10.211.3.0/24")
    assert (str(s), s.gateway, s.broadcast, s.size) == ("10.211.3.0/24", "10.211.3.1", "10.211.3.255", 256)
    assert s.contains("10.211.3.77") and not s.contains("10.211.4.1")
    for bad, msg in (("10.0.0.0", "CIDR"), ("10.0.0.1/24", "host bits"), ("10.0.0.0/31", "too small"), ("0.0.0.0/0", "covers every address"),
                     ("300.0.0.0/8", "invalid IPv4"), ("a.b.c.d/8", "invalid IPv4")):
        with pytest.raises(InvalidArgument, match=msg):
            ipam.Subnet.parse(bad)


def test_choose_subnet_avoids_what_is_taken():
    assert str(ipam.choose_subnet([], default=True)) == "10.210.0.0/16"
    taken = [ipam.Subnet.parse("10.210.0.0/16"), ipam.Subnet.parse("10.211.0.0/24"), ipam.Subnet.parse("10.211.1.0/25")]
    assert str(ipam.choose_subnet(taken, default=True)) == "10.211.2.0/24"
    assert str(ipam.choose_subnet([], default=False)) == "10.211.0.0/24"
    # a host route over dockyard's pools (a VPN's 10.0.0.0/8): Docker's default pools follow
    vpn = ipam.Subnet.parse("10.0.0.0/8")
    assert str(ipam.choose_subnet([vpn], default=True)) == "172.17.0.0/16"
    taken = [vpn, ipam.Subnet.parse("172.17.0.0/16"), ipam.Subnet.parse("172.18.5.0/24")]
    assert str(ipam.choose_subnet(taken, default=False)) == "172.19.0.0/16"
    taken = [vpn, ipam.Subnet.parse("172.16.0.0/12")]
    assert str(ipam.choose_subnet(taken, default=False)) == "192.168.0.0/20"
    taken.append(ipam.Subnet.parse("192.168.0.0/19"))
    assert str(ipam.choose_subnet(taken, default=False)) == "192.168.32.0/20"
    with pytest.raises(Unavailable, match="no free subnet"):
        ipam.choose_subnet([vpn, ipam.Subnet.parse("172.16.0.0/12"), ipam.Subnet.parse("192.168.0.0/16")],
                           default=False)


def test_allocate_in_order_skipping_gateway_and_used():
    s = ipam.Subnet.parse("10.9.9.0/29")
    assert ipam.allocate(s, set(), "10.9.9.1") == "10.9.9.2"
    assert ipam.allocate(s, {"10.9.9.2", "10.9.9.3"}, "10.9.9.1") == "10.9.9.4"
    with pytest.raises(Unavailable, match="no available IPv4"):
        ipam.allocate(s, {f"10.9.9.{i}" for i in range(2, 7)}, "10.9.9.1")


def test_mac_is_dockers_generated_form():
    assert ipam.mac_for("172.17.0.2") == "02:42:ac:11:00:02"


def test_host_routes_reads_proc_net_route(tmp_path):
    f = tmp_path / "route"
    f.write_text("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
                 "eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
                 "eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
                 "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n")
    assert [str(s) for s in ipam.host_routes(str(f))] == ["192.168.0.0/24", "172.17.0.0/16"]


@pytest.mark.parametrize("spec,want", [
    ("80", [("tcp", "", 0, 80)]),
    ("8080:80", [("tcp", "", 8080, 80)]),
    ("127.0.0.1:8080:80", [("tcp", "127.0.0.1", 8080, 80)]),
    ("127.0.0.1::80", [("tcp", "127.0.0.1", 0, 80)]),
    ("8080:80/udp", [("udp", "", 8080, 80)]),
    ("8000-8001:80-81", [("tcp", "", 8000, 80), ("tcp", "", 8001, 81)]),
])
def test_parse_publish(spec, want):
    got = [(p["proto"], p["host_ip"], p["host_port"], p["container_port"]) for p in ports.parse_publish(spec)]
    assert got == want


@pytest.mark.parametrize("spec,msg", [
    ("0:80", "invalid hostPort: 0"), ("8080:70000", "invalid containerPort: 70000"), ("80/sctp", "invalid proto"),
    ("1:2:3:4", "invalid publish spec"), ("8000-8002:80-81", "differ in size"), ("x.y:1:2", "invalid IP"),
    ("8080:", "invalid publish spec"), ("[::1]:8080:80", "IPv4 host addresses only"),
])
def test_parse_publish_errors(spec, msg):
    with pytest.raises(InvalidArgument, match=msg):
        ports.parse_publish(spec)


def test_exposed_ports_merge_and_rendering():
    exposed = ports.exposed_ports({"ExposedPorts": {"80/tcp": {}, "53/udp": {}}})
    assert [(p["proto"], p["container_port"]) for p in exposed] == [("udp", 53), ("tcp", 80)]
    merged = ports.merge(ports.parse_publish("8080:80"), exposed)
    assert [(p["host_port"], p["container_port"]) for p in merged] == [(8080, 80), (0, 53)]
    bound = [dict(merged[0]), dict(merged[1], host_port=40000)]
    rendered = ports.render(bound)
    assert rendered == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
                        "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "40000"}]}
    assert ports.ps_column(rendered) == "0.0.0.0:40000->53/udp, 0.0.0.0:8080->80/tcp"


def test_rule_text_is_tagged_and_isolating():
    r = firewall.network_rules("dy-abc", "10.211.0.0/24", internal=False)
    assert all('--comment "dockyard net dy-abc"' in ln for ln in r["filter"] + r["nat"])
    assert "-A DOCKYARD-ISOLATION-2 -o dy-abc" in r["filter"][0] and r["filter"][0].endswith("-j DROP")
    assert any("! -o dy-abc" in ln and "MASQUERADE" in ln for ln in r["nat"])
    internal = firewall.network_rules("dy-int", "10.211.1.0/24", internal=True)
    assert not any("-s 10.211.1.0/24 ! -o" in ln for ln in internal["nat"])  # no way out
    assert sum(ln.endswith("-j DROP") for ln in internal["filter"]) == 3
    assert r["filter"][-1] == ('-A DOCKYARD-FORWARD -o dy-abc -m comment --comment "dockyard net dy-abc" -j DROP')
    p = firewall.port_rules("f" * 64, [("tcp", 8080, "127.0.0.1", "10.211.0.2", 80)])["nat"]
    assert p == ['-A DOCKYARD -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -m comment --comment '
                 '"dockyard ctr ffffffffffff" -j DNAT --to-destination 10.211.0.2:80']


def test_loopback_rules_drop_martians_from_bridges_and_guard_loopback_ports():
    r = firewall.network_rules("dy-abc", "10.211.0.0/24", internal=False)
    assert list(r) == ["raw", "filter", "nat"]  # raw first: the drop is in before anything routes
    assert r["raw"] == ['-A DOCKYARD-PREROUTING -i dy-abc -d 127.0.0.0/8 -m comment --comment '
                        '"dockyard net dy-abc" -j DROP']
    assert firewall.network_rules("dy-int", "10.211.1.0/24", internal=True)["raw"] == [
        '-A DOCKYARD-PREROUTING -i dy-int -d 127.0.0.0/8 -m comment --comment "dockyard net dy-int" -j DROP']
    p = firewall.port_rules("e" * 64, [("tcp", 8080, "127.0.0.1", "10.211.0.2", 80),
                                       ("udp", 5353, "127.0.0.2", "10.211.0.2", 53),
                                       ("tcp", 8081, "", "10.211.0.2", 81),
                                       ("tcp", 8082, "0.0.0.0", "10.211.0.2", 82),
                                       ("tcp", 8083, "10.1.2.3", "10.211.0.2", 83)])
    tag = '-m comment --comment "dockyard ctr eeeeeeeeeeee"'
    assert p["raw"] == [f"-A DOCKYARD-PREROUTING -d 127.0.0.1/32 ! -i lo -p tcp -m tcp --dport 8080 {tag} -j DROP",
                        f"-A DOCKYARD-PREROUTING -d 127.0.0.2/32 ! -i lo -p udp -m udp --dport 5353 {tag} -j DROP"]
    assert len(p["nat"]) == 5 and list(p) == ["raw", "nat"]



def test_remove_tagged_survives_a_concurrent_removal(monkeypatch):
    """Rules listed, then deleted by another command before our batch runs: the batch (all or
    nothing) fails, and the removal lists again and deletes only what is still there."""
    from dockyard.errors import Unavailable
    from dockyard.network import firewall

    tag = firewall.net_tag("dy-test")
    rules = {"filter": [f'-A DOCKYARD-FORWARD -i dy-test -m comment --comment "{tag}" -j ACCEPT',
                        f'-A DOCKYARD-FORWARD -o dy-test -m comment --comment "{tag}" -j DROP']}
    calls = []

    def fake_run(args, data=None, check=True, v6=False):
        if v6:  # no IPv6 network here: ip6tables lists none of ours
            return 0, ""
        if args[0] == "iptables":
            table = args[args.index("-t") + 1]
            return 0, "\n".join(rules.get(table, [])) + "\n"
        calls.append(data)
        if len(calls) == 1:  # meanwhile another command deleted one of them
            rules["filter"].pop(0)
            raise Unavailable("iptables-restore: line 2 failed: Bad rule")
        rules["filter"] = [r for r in rules["filter"] if "-D" + r[2:] not in data]
        return 0, ""

    monkeypatch.setattr(firewall, "_run", fake_run)
    assert firewall.remove_tagged(tag) == 1
    assert rules["filter"] == [] and len(calls) == 2 and calls[1].count("-D ") == 1
