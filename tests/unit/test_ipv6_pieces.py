"""IPv6 networks' pure pieces: the IPv6 IPAM (network/ipv6.py), the ip6tables rules, AAAA answers,
the network's stored IPv6 config, and `system reset`'s reading of IPv6 rules."""

from __future__ import annotations

import socket
import struct

import pytest

from dockyard.errors import Conflict, InvalidArgument, Unavailable
from dockyard.network import dns, firewall, ipv6, leftovers


def test_subnets_parse_canonically_and_refuse_what_cannot_be_a_bridge_subnet():
    sub = ipv6.Subnet6.parse("fd00:0:0:1::/64")
    assert str(sub) == "fd00:0:0:1::/64" and sub.gateway == "fd00:0:0:1::1"
    assert sub.contains("fd00:0:0:1::abcd") and not sub.contains("fd00:0:0:2::1")
    for bad, words in (("fd00::1/64", "host bits are set"), ("fd00::/127", "too small"), ("fe80::/64", "link-local"),
                       ("ff02::/64", "multicast"), ("::/0", "covers every address"), ("fd00::", "expected an IPv6 CIDR"), ("zz::/64", "invalid subnet"),
                       ("10.0.0.0/8", "invalid subnet")):
        with pytest.raises(InvalidArgument, match=words):
            ipv6.Subnet6.parse(bad)
    assert ipv6.canonical("FD00:0000::0001") == "fd00::1"


def test_the_ula_pool_skips_what_the_host_routes_and_other_networks():
    first = ipv6.choose_subnet([])
    assert str(first) == "fd79:6f63:6b79::/64"
    taken = [ipv6.Subnet6.parse("fd79:6f63:6b79::/64"), ipv6.Subnet6.parse("fd79:6f63:6b79:1::/64")]
    assert str(ipv6.choose_subnet(taken)) == "fd79:6f63:6b79:2::/64"
    assert str(ipv6.choose_subnet([ipv6.Subnet6.parse("fd79:6f63:6b79::/63")])) == "fd79:6f63:6b79:2::/64"
    with pytest.raises(Unavailable, match="no free IPv6 subnet"):
        ipv6.choose_subnet([ipv6.Subnet6.parse("fd79::/16")])


def test_host_routes_are_read_from_proc(tmp_path):
    f = tmp_path / "ipv6_route"
    f.write_text(
        "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0\n"
        "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0\n"
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
        "fd000000000000000000000000000001 00000400 00000001 00000000 00000003 eth0\n"
        "fd000000000000000000000000000002 80 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 00000000 00000002 00000000 80200001 eth0\n")
    assert [str(s) for s in ipv6.host_routes(str(f))] == ["fd00::/64"]  # no default, link-local or /128
    assert ipv6.host_routes(str(tmp_path / "missing")) == []


def test_ipam_config_is_checked_as_dockerd_and_addresses_come_in_order():
    sub = ipv6.Subnet6.parse("fd00:1::/64")
    assert ipv6.check_config(sub) == (None, "fd00:1::1")
    pool, gw = ipv6.check_config(sub, ip_range="fd00:1::100/120", gateway="FD00:1::FE")
    assert gw == "fd00:1::fe" and str(pool) == "fd00:1::100/120"
    with pytest.raises(InvalidArgument) as e:
        ipv6.check_config(sub, ip_range="fd00:2::/120", gateway="10.0.0.1")
    assert str(e.value).splitlines()[1:] == ["invalid ip-range fd00:2::/120: parent subnet fd00:1::/64 doesn't "
                                             "contain ip-range", "invalid gateway 10.0.0.1: parent subnet is an "
                                             "IPv6 block"]
    with pytest.raises(InvalidArgument, match="Address already in use"):
        ipv6.check_config(sub, gateway="fd00:1::")
    assert ipv6.allocate(sub, set(), "fd00:1::1") == "fd00:1::2"
    assert ipv6.allocate(sub, {"fd00:1::2"}, "fd00:1::1") == "fd00:1::3"
    assert ipv6.allocate(sub, set(), "fd00:1::1", pool=pool) == "fd00:1::100"
    tiny = ipv6.Subnet6.parse("fd00:1::/126")
    with pytest.raises(Unavailable, match="no available IPv6 addresses"):
        ipv6.allocate(tiny, {"fd00:1::2", "fd00:1::3"}, "fd00:1::1")
    assert ipv6.check_address(sub, "fd00:1:0::9", "n") == "fd00:1::9"
    for bad in ("fd00:2::9", "fd00:1::"):
        with pytest.raises(InvalidArgument):
            ipv6.check_address(sub, bad, "n")


def test_link_local_addresses_are_any_address_as_dockerd_takes_them():
    assert ipv6.link_local("169.254.1.2") == (4, "169.254.1.2")
    assert ipv6.link_local("FE80::0:7") == (6, "fe80::7")
    assert ipv6.link_local("10.0.0.1") == (4, "10.0.0.1")  # dockerd does not insist on 169.254.0.0/16
    assert ipv6.is_link_local("fe80::7") and not ipv6.is_link_local("fd00::1")
    for bad in ("x", "fe80::zz", "0.0.0.0", "::", "169.254.1"):
        with pytest.raises(InvalidArgument, match="invalid link-local IP address"):
            ipv6.link_local(bad)


def test_ip6tables_rules_mirror_the_ipv4_ones_with_their_tag():
    v4 = firewall.network_rules("dy-x", "10.1.0.0/24", internal=False)
    v6 = firewall.network_rules6("dy-x", "fd00:1::/64", internal=False)
    assert v6["filter"] == v4["filter"]
    assert v6["raw"] == [r.replace("127.0.0.0/8", "::1/128") for r in v4["raw"]]
    assert v6["nat"] == [r.replace("10.1.0.0/24", "fd00:1::/64") for r in v4["nat"]]
    assert all('--comment "dockyard net dy-x"' in r for rules in v6.values() for r in rules)
    internal = firewall.network_rules6("dy-x", "fd00:1::/64", internal=True)
    assert not any("! -o dy-x" in r for r in internal["nat"])  # no way out


def test_aaaa_answers_and_a_answers_keep_to_their_family():
    def query(qtype: int) -> bytes:
        return struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\3web\0" + struct.pack("!HH", qtype, 1)

    def answers(resp: bytes) -> list:
        an = struct.unpack_from("!H", resp, 6)[0]
        off, out = 12 + 5 + 4, []
        for _ in range(an):
            _p, rtype, _c, _t, n = struct.unpack_from("!HHHIH", resp, off)
            off += 12
            out.append((rtype, socket.inet_ntop(socket.AF_INET6 if n == 16 else socket.AF_INET, resp[off:off + n])))
            off += n
        return out

    ips = ["10.1.0.2", "fd00:1::2"]
    for qtype, want in ((dns.QTYPE_A, [(1, "10.1.0.2")]), (dns.QTYPE_AAAA, [(28, "fd00:1::2")]), (15, [])):
        q = query(qtype)
        resp = dns.local_answer(q, dns.parse_query(q), lambda n: ips, ["10.0.0.53"])
        assert answers(resp) == want and resp[3] & 0xF == dns.NOERROR
    q = query(dns.QTYPE_AAAA)  # a container with no IPv6 address: NOERROR, no records (not NXDOMAIN)
    resp = dns.local_answer(q, dns.parse_query(q), lambda n: ["10.1.0.2"], [])
    assert answers(resp) == [] and resp[3] & 0xF == dns.NOERROR


def test_reset_reads_a_networks_subnet_from_its_ipv4_rules_only(monkeypatch):
    net = "dy-0123456789ab"
    rules = [f'nat6: -A POSTROUTING -s fd00:1::/64 ! -o {net} -m comment --comment "dockyard net {net}" -j MASQUERADE',
             f'nat: -A POSTROUTING -s 10.9.0.0/24 ! -o {net} -m comment --comment "dockyard net {net}" -j MASQUERADE']
    monkeypatch.setattr(firewall, "tagged_rules", lambda prefix="dockyard ", v6=False: list(rules) if v6 else rules[1:])
    r = leftovers.Rules()
    assert r.subnet_of(net) == "10.9.0.0/24" and len(r.by_tag[f"dockyard net {net}"]) == 2


def test_network_config_refuses_a_v6_subnet_without_ipv6_and_checks_before_anything(monkeypatch):
    from dockyard.engine import netv6

    assert netv6.network_config(False, None, None, "") is None
    monkeypatch.setattr(ipv6, "host_supports", lambda: "ip6tables is not installed: IPv6 networks need it")
    with pytest.raises(Unavailable, match="cannot create an IPv6 network: ip6tables is not installed"):
        netv6.network_config(True, None, None, "")
    monkeypatch.setattr(ipv6, "host_supports", lambda: "")
    with pytest.raises(InvalidArgument, match="needs its IPv6 subnet"):
        netv6.network_config(True, None, "fd00::1", "")
    sub, gw, rng = netv6.network_config(True, "fd00:5::/64", None, "")
    assert (str(sub), gw, rng) == ("fd00:5::/64", "fd00:5::1", "")
    # a subnet alone turns IPv6 on (dockerd 20.10 would record it and give containers no IPv6 address)
    sub, gw, rng = netv6.network_config(False, "2001:389::/64", "2001:389::ffff", "2001:389::0/96")
    assert (str(sub), gw, rng) == ("2001:389::/64", "2001:389::ffff", "2001:389::0/96")
    with pytest.raises(InvalidArgument, match="needs its IPv6 subnet"):
        netv6.network_config(False, None, "fd00::1", "")


def test_an_overlapping_v6_subnet_is_refused(monkeypatch):
    from dockyard.engine import netv6
    from dockyard.state.networks import NetworkRecord

    monkeypatch.setattr(ipv6, "host_routes", lambda: [ipv6.Subnet6.parse("fd00::/64")])
    other = NetworkRecord(id="x", name="o", driver="bridge", subnet="10.0.0.0/24", gateway="10.0.0.1", bridge="b",
                          internal=False, created=0, labels={}, options={},
                          ipv6={"Subnet": "fd79:6f63:6b79::/64", "Gateway": "fd79:6f63:6b79::1"})
    with pytest.raises(Conflict, match="overlaps"):
        netv6.allocate_subnet((ipv6.Subnet6.parse("fd00::/64"), "fd00::1", ""), [])
    assert netv6.allocate_subnet((None, "", ""), [other]) == \
        {"Subnet": "fd79:6f63:6b79:1::/64", "Gateway": "fd79:6f63:6b79:1::1"}
    assert netv6.allocate_subnet(None, [other]) == {}


def test_a_store_made_before_the_ipv6_step_opens_and_keeps_its_networks(tmp_path):
    """The step before IPv6 is whatever MIGRATIONS held before it (shipped steps are never edited):
    its networks come back IPv4 only, its endpoints without an IPv6 address, and two endpoints of a
    network may not share one IPv6 address afterwards (the schema's unique index)."""
    import sqlite3

    from dockyard.state import db as dbmod
    from dockyard.state.db import Database
    from dockyard.state.networks import Endpoint, endpoints, find_network, insert_endpoint

    step = next(i for i, s in enumerate(dbmod.MIGRATIONS) if any("ADD COLUMN ipv6" in sql for sql in s))
    path = str(tmp_path / "state.db")
    raw = sqlite3.connect(path)
    for s in dbmod.MIGRATIONS[:step]:
        for sql in s:
            raw.execute(sql)
    raw.execute(f"PRAGMA user_version = {step}")
    raw.execute("INSERT INTO networks (id, name, driver, subnet, gateway, bridge, internal, created, labels, options) "
                "VALUES (?, 'old', 'bridge', '10.211.0.0/24', '10.211.0.1', 'dy-old', 0, 1.5, '{}', '{}')", ("a" * 64,))
    raw.execute("INSERT INTO endpoints (network_id, container_id, ip, mac, aliases) VALUES (?, ?, '10.211.0.2', "
                "'02:42:0a:d3:00:02', '[]')", ("a" * 64, "c" * 64))
    raw.commit()
    raw.close()
    d = Database(path)
    old = find_network(d, "old")
    assert old.ipv6 == {} and old.subnet == "10.211.0.0/24"
    assert [e.ip6 for e in endpoints(d, network_id=old.id)] == [""]
    insert_endpoint(d, Endpoint(network_id=old.id, container_id="d" * 64, ip="10.211.0.3", mac="m", aliases=[],
                                ip6="fd00::3"))
    with pytest.raises(Conflict, match="Address already in use: fd00::3"):
        insert_endpoint(d, Endpoint(network_id=old.id, container_id="e" * 64, ip="10.211.0.4", mac="m", aliases=[],
                                    ip6="fd00::3"))
    with pytest.raises(Conflict, match="Address already in use: 10.211.0.3"):  # never taken from its holder
        insert_endpoint(d, Endpoint(network_id=old.id, container_id="e" * 64, ip="10.211.0.3", mac="m", aliases=[]))
    insert_endpoint(d, Endpoint(network_id=old.id, container_id="d" * 64, ip="10.211.0.3", mac="m2", aliases=[],
                                ip6="fd00::3"))  # its own row again: replaced
    insert_endpoint(d, Endpoint(network_id=old.id, container_id="f" * 64, ip="10.211.0.5", mac="m", aliases=[]))
    assert sorted(e.ip6 for e in endpoints(d, network_id=old.id)) == ["", "", "fd00::3"]  # '' is not unique
    assert [e.mac for e in endpoints(d, container_id="d" * 64)] == ["m2"]
    d.close()
