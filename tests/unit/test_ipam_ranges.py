"""IPAM.Config IPRange and AuxiliaryAddresses: the checks (dockerd's words), the gateway dockerd
picks, allocation from the range; and the state migration that gives network records the column."""

from __future__ import annotations

import sqlite3

import pytest

from dockyard.errors import InvalidArgument, Unavailable
from dockyard.network import ipam
from dockyard.state import db as dbmod
from dockyard.state.db import Database
from dockyard.state.networks import (Endpoint, NetworkRecord, find_network, insert_endpoint, insert_network,
                                     list_networks)

SUB = ipam.Subnet.parse("10.123.0.0/24")


def check(**kw):
    pool, gw = ipam.check_config(SUB, **kw)
    return (str(pool) if pool else None), gw


def test_gateway_is_the_first_free_address_of_the_range_as_dockerd_picks_it():
    assert check() == (None, "10.123.0.1")
    assert check(ip_range="10.123.0.128/25") == ("10.123.0.128/25", "10.123.0.128")
    assert check(ip_range="10.123.0.0/25") == ("10.123.0.0/25", "10.123.0.1")  # never the network address
    assert check(ip_range="10.123.0.0/24") == ("10.123.0.0/24", "10.123.0.1")
    assert check(ip_range="10.123.0.8/32") == ("10.123.0.8/32", "10.123.0.8")
    # a given gateway may be anywhere in the subnet, outside the range too
    assert check(ip_range="10.123.0.128/25", gateway="10.123.0.1") == ("10.123.0.128/25", "10.123.0.1")
    # aux addresses anywhere in the subnet, inside the range or not
    assert check(ip_range="10.123.0.128/25", aux={"a": "10.123.0.130", "b": "10.123.0.5"})[1] == "10.123.0.128"


@pytest.mark.parametrize("kw, words", [
    ({"ip_range": "10.124.0.0/25"}, "invalid ip-range 10.124.0.0/25: parent subnet 10.123.0.0/24 doesn't contain "
                                    "ip-range"),
    ({"ip_range": "10.123.0.0/23"}, "invalid ip-range 10.123.0.0/23: CIDR block is bigger than its parent subnet "
                                    "10.123.0.0/24"),
    ({"ip_range": "10.123.0.129/25"}, "invalid ip-range 10.123.0.129/25: it should be 10.123.0.128/25"),
    ({"ip_range": "10.123.0.128"}, "invalid ip-range 10.123.0.128: invalid CIDR block notation"),
    ({"ip_range": "10.123.0.128/33"}, "invalid CIDR block notation"),
    ({"ip_range": "10.123.0.300/25"}, "invalid CIDR block notation"),
    ({"ip_range": "fd00::/64"}, "invalid ip-range fd00::/64: parent subnet is an IPv4 block"),
    ({"gateway": "10.124.0.1"}, "invalid gateway 10.124.0.1: parent subnet 10.123.0.0/24 doesn't contain this "
                                "address"),
    ({"gateway": "x"}, "invalid gateway x: invalid address"),
    ({"aux": {"a": "10.124.0.1"}}, "invalid auxiliary address a: parent subnet 10.123.0.0/24 doesn't contain this "
                                   "address"),
    ({"aux": {"a": ""}}, "invalid auxiliary address a: invalid address"),
    ({"aux": {"a": "fd00::1"}}, "invalid auxiliary address a: parent subnet is an IPv4 block"),
    ({"gateway": "10.123.0.0"}, "failed to allocate gateway (10.123.0.0): Address already in use"),
    ({"gateway": "10.123.0.255"}, "failed to allocate gateway (10.123.0.255): Address already in use"),
    ({"aux": {"a": "10.123.0.1"}}, "failed to allocate secondary ip address (a:10.123.0.1): Address already in use"),
    ({"aux": {"a": "10.123.0.255"}}, "(a:10.123.0.255): Address already in use"),
    ({"aux": {"a": "10.123.0.5", "b": "10.123.0.5"}}, "(b:10.123.0.5): Address already in use"),
    ({"ip_range": "10.123.0.8/29", "aux": {"a": "10.123.0.8"}}, "(a:10.123.0.8): Address already in use"),
    ({"ip_range": "10.123.0.0/32"}, "failed to allocate gateway: no available addresses in ip-range 10.123.0.0/32"),
])
def test_config_faults_in_dockerds_words(kw, words):
    with pytest.raises(InvalidArgument) as e:
        ipam.check_config(SUB, **kw)
    assert words in str(e.value)


def test_every_validation_fault_is_reported_a_line_each():
    with pytest.raises(InvalidArgument) as e:
        ipam.check_config(SUB, ip_range="10.123.0.1/23", gateway="10.9.9.9", aux={"b": "1.1.1.1", "a": "x"})
    assert str(e.value).splitlines() == [
        "invalid network config:",
        "invalid ip-range 10.123.0.1/23: CIDR block is bigger than its parent subnet 10.123.0.0/24",
        "invalid ip-range 10.123.0.1/23: it should be 10.123.0.0/23",
        "invalid gateway 10.9.9.9: parent subnet 10.123.0.0/24 doesn't contain this address",
        "invalid auxiliary address a: invalid address",
        "invalid auxiliary address b: parent subnet 10.123.0.0/24 doesn't contain this address"]


def test_allocate_from_the_range_skipping_gateway_used_and_reserved():
    pool = ipam.Subnet(ipam.to_int("10.123.0.8"), 29)
    aux = {"10.123.0.10", "10.123.0.200"}
    got, used = [], set()
    for _ in range(6):
        a = ipam.allocate(SUB, used, "10.123.0.8", pool=pool, reserved=aux, network="n (id)")
        got.append(a)
        used.add(a)
    assert got == ["10.123.0.9", "10.123.0.11", "10.123.0.12", "10.123.0.13", "10.123.0.14", "10.123.0.15"]
    with pytest.raises(Unavailable, match=r"no available IPv4 addresses on this network's address pools: n \(id\)"):
        ipam.allocate(SUB, used, "10.123.0.8", pool=pool, reserved=aux, network="n (id)")
    # a range at the subnet's end never hands out the broadcast address
    top = ipam.Subnet(ipam.to_int("10.123.0.252"), 30)
    assert ipam.allocate(SUB, set(), "10.123.0.1", pool=top) == "10.123.0.252"
    assert ipam.allocate(SUB, {"10.123.0.252", "10.123.0.253"}, "10.123.0.1", pool=top) == "10.123.0.254"
    with pytest.raises(Unavailable):
        ipam.allocate(SUB, {"10.123.0.252", "10.123.0.253", "10.123.0.254"}, "10.123.0.1", pool=top)
    # no range: the whole subnet, as before
    assert ipam.allocate(SUB, set(), "10.123.0.1") == "10.123.0.2"
    assert ipam.pool_of({"IPRange": "10.123.0.8/29"}).net == pool.net and ipam.pool_of({}) is None


# -- the state migration ---------------------------------------------------------------------------

# The schema as dockyard made it before migration 3 (user_version 2): written out here, not taken
# from MIGRATIONS, so the test keeps meaning what it says if the steps are ever reworded.
V2 = [
    "CREATE TABLE images (id TEXT PRIMARY KEY, manifest_digest TEXT NOT NULL, manifest_media_type TEXT NOT NULL, "
    "config_digest TEXT NOT NULL, size INTEGER NOT NULL, created TEXT NOT NULL, added REAL NOT NULL)",
    "CREATE TABLE tags (name TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE)",
    "CREATE INDEX tags_image_id ON tags(image_id)",
    "CREATE TABLE containers (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, image_id TEXT NOT NULL, "
    "image TEXT NOT NULL, created REAL NOT NULL, config TEXT NOT NULL, state TEXT NOT NULL)",
    "CREATE INDEX containers_image_id ON containers(image_id)",
    "CREATE TABLE networks (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, driver TEXT NOT NULL, "
    "subnet TEXT NOT NULL, gateway TEXT NOT NULL, bridge TEXT NOT NULL UNIQUE, internal INTEGER NOT NULL, "
    "created REAL NOT NULL, labels TEXT NOT NULL, options TEXT NOT NULL)",
    "CREATE TABLE endpoints (network_id TEXT NOT NULL REFERENCES networks(id), container_id TEXT NOT NULL, "
    "ip TEXT NOT NULL, mac TEXT NOT NULL, aliases TEXT NOT NULL, PRIMARY KEY (network_id, container_id), "
    "UNIQUE (network_id, ip))",
    "CREATE INDEX endpoints_container_id ON endpoints(container_id)",
    "CREATE TABLE volumes (name TEXT PRIMARY KEY, driver TEXT NOT NULL, mountpoint TEXT NOT NULL, "
    "created REAL NOT NULL, labels TEXT NOT NULL, options TEXT NOT NULL, anonymous INTEGER NOT NULL)",
]


def test_a_store_made_before_migration_3_opens_and_keeps_working(tmp_path):
    from dockyard.engine.inspect import network_json

    path = str(tmp_path / "state.db")
    raw = sqlite3.connect(path)
    for stmt in V2:
        raw.execute(stmt)
    raw.execute("INSERT INTO networks VALUES ('a' || hex(randomblob(31)), 'old', 'bridge', '10.211.0.0/24', "
                "'10.211.0.1', 'dy-old', 0, 1.5, '{\"k\":\"v\"}', '{}')")
    nid = raw.execute("SELECT id FROM networks").fetchone()[0]
    raw.execute("INSERT INTO endpoints VALUES (?, ?, '10.211.0.2', '02:42:0a:d3:00:02', '[\"web\"]')", (nid, "c" * 64))
    raw.execute("INSERT INTO containers VALUES (?, 'web', 'sha256:x', 'busybox', 1.0, '{}', '{}')", ("c" * 64,))
    raw.execute("PRAGMA user_version = 2")
    raw.commit()
    raw.close()

    d = Database(path)
    old = find_network(d, "old")  # opening migrates
    assert old.ipam == {} and old.labels == {"k": "v"} and old.subnet == "10.211.0.0/24"
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == dbmod.SCHEMA_VERSION >= 3
    raw.close()
    # the old row renders as it did (IPAM.Options {}), its endpoint and container are still there
    class Eng:
        db = d
    doc = network_json(Eng, old)
    assert doc["IPAM"] == {"Driver": "default", "Options": {},
                           "Config": [{"Subnet": "10.211.0.0/24", "Gateway": "10.211.0.1"}]}
    assert doc["Containers"]["c" * 64]["IPv4Address"] == "10.211.0.2/24"
    # and new rows carry the IPAM config next to it
    insert_network(d, NetworkRecord(id="b" * 64, name="new", driver="bridge", subnet="10.123.0.0/24",
                                    gateway="10.123.0.128", bridge="dy-new", internal=False, created=2.0, labels={},
                                    options={}, ipam={"IPRange": "10.123.0.128/25", "Options": None,
                                                      "AuxiliaryAddresses": {"a": "10.123.0.130"}}))
    insert_endpoint(d, Endpoint(network_id="b" * 64, container_id="c" * 64, ip="10.123.0.129", mac="m", aliases=[]))
    assert [n.name for n in list_networks(d)] == ["old", "new"]
    new = network_json(Eng, find_network(d, "new"))
    assert new["IPAM"] == {"Driver": "default", "Options": None, "Config": [{
        "Subnet": "10.123.0.0/24", "IPRange": "10.123.0.128/25", "Gateway": "10.123.0.128",
        "AuxiliaryAddresses": {"a": "10.123.0.130"}}]}
    d.close()
    # a second open does not migrate again and sees the same rows
    d2 = Database(path)
    assert find_network(d2, "new").ipam["IPRange"] == "10.123.0.128/25"
    d2.close()
