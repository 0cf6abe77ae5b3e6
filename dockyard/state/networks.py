"""Networks and endpoints in the state database (tables from migration 2 of state/db.py; the
networks' `ipam` column from migration 3; `networks.ipv6` and `endpoints.ip6` from the IPv6 step).

An endpoint row exists while a container is attached to a network and running there: it holds
the address the IPAM gave it (unique per network, enforced by the schema, so two CLIs starting
containers at once cannot get the same address) and the names it answers to.
"""

from __future__ import annotations

from dockyard import jsonfast as json
from dockyard.errors import NetworkNotFound
from dockyard.record import Record

_NET_COLS = "id, name, driver, subnet, gateway, bridge, internal, created, labels, options, ipam, ipv6"
_EP_COLS = "network_id, container_id, ip, mac, aliases, ip6"


class NetworkRecord(Record):
    """id: 64 hex; bridge: the host interface; internal: no route out; created: time.time();
    ipam: the rest of the subnet's IPAM config under dockerd's names (IPRange,
    AuxiliaryAddresses, Options), and the network's Attachable, each key only when the network
    has it; ipv6: {} (IPv4 only) or the IPv6 subnet's config {Subnet, Gateway, IPRange?} (dockerd's
    EnableIPv6 is `bool(ipv6)`)."""

    __slots__ = ("id", "name", "driver", "subnet", "gateway", "bridge", "internal", "created", "labels", "options",
                 "ipam", "ipv6")
    _defaults = {"ipam": {}, "ipv6": {}}


class Endpoint(Record):
    """A container on a network: its address (ip6: its IPv6 one, "" when none), MAC and the names
    peers resolve to it."""

    __slots__ = ("network_id", "container_id", "ip", "mac", "aliases", "ip6")
    _defaults = {"ip6": ""}


def _net(row: tuple) -> NetworkRecord:
    return NetworkRecord(id=row[0], name=row[1], driver=row[2], subnet=row[3], gateway=row[4], bridge=row[5],
                         internal=bool(row[6]), created=row[7], labels=json.loads(row[8]),
                         options=json.loads(row[9]), ipam=json.loads(row[10]), ipv6=json.loads(row[11]))


def _ep(row: tuple) -> Endpoint:
    return Endpoint(network_id=row[0], container_id=row[1], ip=row[2], mac=row[3], aliases=json.loads(row[4]),
                    ip6=row[5])


def insert_network(db, rec: NetworkRecord) -> None:
    with db.transaction():
        db.conn().execute(
            f"INSERT INTO networks ({_NET_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rec.id, rec.name, rec.driver, rec.subnet, rec.gateway, rec.bridge, int(rec.internal), rec.created,
             json.dumps(rec.labels, sort_keys=True), json.dumps(rec.options, sort_keys=True),
             json.dumps(rec.ipam, sort_keys=True), json.dumps(rec.ipv6, sort_keys=True)))


def find_network(db, ref: str) -> NetworkRecord | None:
    """By exact name, full id, or unique id prefix (docker's rules)."""
    rows = db.query(f"SELECT {_NET_COLS} FROM networks WHERE name = ? OR id = ?", (ref, ref))
    if rows:
        return _net(rows[0])
    if ref and all(c in "0123456789abcdef" for c in ref):
        rows = db.query(f"SELECT {_NET_COLS} FROM networks WHERE id LIKE ?", (ref + "%",))
        if len(rows) == 1:
            return _net(rows[0])
    return None


def get_network(db, ref: str) -> NetworkRecord:
    rec = find_network(db, ref)
    if rec is None:
        raise NetworkNotFound(f"network {ref} not found")
    return rec


def list_networks(db) -> list[NetworkRecord]:
    return [_net(r) for r in db.query(f"SELECT {_NET_COLS} FROM networks ORDER BY created")]


def delete_network(db, network_id: str) -> None:
    with db.transaction():
        db.conn().execute("DELETE FROM endpoints WHERE network_id = ?", (network_id,))
        db.conn().execute("DELETE FROM networks WHERE id = ?", (network_id,))


def endpoints(db, network_id: str | None = None, container_id: str | None = None) -> list[Endpoint]:
    sql, args = f"SELECT {_EP_COLS} FROM endpoints", ()
    if network_id and container_id:
        sql, args = sql + " WHERE network_id = ? AND container_id = ?", (network_id, container_id)
    elif network_id:
        sql, args = sql + " WHERE network_id = ?", (network_id,)
    elif container_id:
        sql, args = sql + " WHERE container_id = ?", (container_id,)
    return [_ep(r) for r in db.query(sql + " ORDER BY rowid", args)]


def used_addresses(db, network_id: str) -> set[str]:
    return {r[0] for r in db.query("SELECT ip FROM endpoints WHERE network_id = ?", (network_id,))}


def used_addresses6(db, network_id: str) -> set[str]:
    return {r[0] for r in db.query("SELECT ip6 FROM endpoints WHERE network_id = ? AND ip6 != ''", (network_id,))}


def insert_endpoint(db, ep: Endpoint) -> None:
    """Raises Conflict if the address (or IPv6 address) is another endpoint's on the network. The
    container's own row on the network (a crash's leftover) is replaced: deleted, then inserted,
    since INSERT OR REPLACE would delete the *other* endpoint holding the address instead."""
    from dockyard.errors import Conflict

    with db.transaction():
        taken = db.conn().execute(
            "SELECT ip, ip6 FROM endpoints WHERE network_id = ? AND container_id != ? AND (ip = ? OR "
            "(ip6 != '' AND ip6 = ?))", (ep.network_id, ep.container_id, ep.ip, ep.ip6)).fetchone()
        if taken:
            addr = ep.ip if taken[0] == ep.ip else ep.ip6
            raise Conflict(f"Address already in use: {addr} on network {ep.network_id[:12]}")
        db.conn().execute("DELETE FROM endpoints WHERE network_id = ? AND container_id = ?",
                           (ep.network_id, ep.container_id))
        db.conn().execute(
            f"INSERT INTO endpoints ({_EP_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
            (ep.network_id, ep.container_id, ep.ip, ep.mac, json.dumps(list(ep.aliases)), ep.ip6))


def delete_endpoints(db, container_id: str, network_id: str | None = None) -> None:
    with db.transaction():
        if network_id:
            db.conn().execute("DELETE FROM endpoints WHERE container_id = ? AND network_id = ?",
                               (container_id, network_id))
        else:
            db.conn().execute("DELETE FROM endpoints WHERE container_id = ?", (container_id,))
