"""What `system reset` reads from the host: a bridge's alias (its rules' version and its store)
and our tagged iptables rules (a network's subnet, the port rules leading into it)."""

from __future__ import annotations

from dockyard.network import firewall, ipam, leftovers

NET = "dy-0123456789ab"
RULES = [
    f'raw: -A DOCKYARD-PREROUTING -i {NET} -d 127.0.0.0/8 -m comment --comment "dockyard net {NET}" -j DROP',
    f'nat: -A POSTROUTING -o {NET} -s 10.213.4.0/24 -m conntrack --ctstate DNAT '
    f'-m comment --comment "dockyard net {NET}" -j MASQUERADE',
    'nat: -A DOCKYARD -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -m comment --comment "dockyard ctr aaaaaaaaaaaa" '
    '-j DNAT --to-destination 10.213.4.2:80',
    'raw: -A DOCKYARD-PREROUTING -d 127.0.0.1/32 ! -i lo -p tcp -m tcp --dport 8080 '
    '-m comment --comment "dockyard ctr aaaaaaaaaaaa" -j DROP',
    'nat: -A DOCKYARD -p udp -m udp --dport 53 -m comment --comment "dockyard ctr bbbbbbbbbbbb" '
    '-j DNAT --to-destination 10.99.0.7:53',
    'nat: -A POSTROUTING -o lo -s 10.250.0.0/24 -m comment --comment "dockyard net lo" -j MASQUERADE',
]


def test_alias_names_the_store_when_it_fits():
    assert firewall.alias_for("/var/lib/dockyard") == f"{firewall.RULES_STAMP} /var/lib/dockyard"
    assert firewall.owner_in(firewall.alias_for("/tmp/a b /c")) == "/tmp/a b /c"
    for unfit in ("/" + "x" * 300, "relative/root", "/a\nb"):
        assert firewall.alias_for(unfit) == firewall.RULES_STAMP
    assert firewall.owner_in(firewall.RULES_STAMP) is None  # an older dockyard's bridge
    assert firewall.owner_in("some admin's note /etc") is None  # not ours


def test_bridge_names_that_are_ours():
    assert leftovers.is_ours(NET) and leftovers.is_ours("dockyard0")
    assert not leftovers.is_ours("dy-short") and not leftovers.is_ours("docker0") and not leftovers.is_ours("dy-0123456789abc")


def test_rules_give_a_networks_subnet_and_the_ports_into_it(monkeypatch):
    monkeypatch.setattr(firewall, "tagged_rules", lambda prefix="dockyard ", v6=False: list(RULES))
    rules = leftovers.Rules()
    assert rules.subnet_of(NET) == "10.213.4.0/24"
    assert rules.subnet_of("dy-ffffffffffff") is None
    assert rules.ports_into("10.213.4.0/24") == ["dockyard ctr aaaaaaaaaaaa"]
    assert len(rules.by_tag["dockyard ctr aaaaaaaaaaaa"]) == 2  # the raw drop goes with its DNAT
    # the bridge is not on this host; "lo" is, so its (odd) rule is not bridgeless
    assert rules.bridgeless() == [f"dockyard net {NET}"]
    monkeypatch.setattr(ipam, "host_routes", lambda: [ipam.Subnet.parse("10.213.4.0/24")])
    assert rules.dead_ports() == ["dockyard ctr bbbbbbbbbbbb"]  # 10.99.0.7: no route reaches it
