"""Network and volume routes: list (with filters), create, inspect, remove."""

from __future__ import annotations

import hashlib
import re

from dockyard.api.filters import label_ok, parse_filters
from dockyard.engine.config import json_field, json_string_map
from dockyard.errors import InvalidArgument, NetworkNotFound, NotImplemented


def filters(req, allowed: tuple) -> dict:
    return parse_filters(req.q("filters"), allowed)


# -- networks ----------------------------------------------------------------------------------

def _builtin(name: str) -> dict:
    """host and none: modes, not records, listed as docker lists them."""
    return {"Name": name, "Id": hashlib.sha256(name.encode()).hexdigest(), "Created": "0001-01-01T00:00:00Z",
            "Scope": "local", "Driver": "host" if name == "host" else "null", "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": None, "Config": []}, "Internal": False, "Attachable": False,
            "Ingress": False, "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": {},
            "Options": {}, "Labels": {}}


def _all_networks(engine) -> list[dict]:
    from dockyard.engine.inspect import network_json
    from dockyard.engine.networking import ensure_default
    from dockyard.state.networks import list_networks

    from dockyard.errors import DiskFull, Unavailable

    try:
        ensure_default(engine)
    except (DiskFull, Unavailable):
        pass  # listing needs no new network: list what there is
    return [network_json(engine, n) for n in list_networks(engine.db)] + [_builtin("host"), _builtin("none")]


def list_networks(engine, req) -> None:
    flt = filters(req, ("name", "id", "driver", "label", "type", "scope", "dangling"))
    if "dangling" in flt:
        raise InvalidArgument("the dangling filter is not supported; use `docker network prune`")
    out = []
    for n in _all_networks(engine):
        builtin = n["Name"] in ("bridge", "host", "none")
        if ("name" in flt and not any(v in n["Name"] for v in flt["name"])
                or "id" in flt and not any(n["Id"].startswith(v) for v in flt["id"])
                or "driver" in flt and n["Driver"] not in flt["driver"]
                or "scope" in flt and "local" not in flt["scope"]
                or "label" in flt and not all(label_ok(n["Labels"] or {}, c) for c in flt["label"])
                or "type" in flt and not any((t == "builtin") == builtin for t in flt["type"])):
            continue
        out.append(n)
    req.send_json(out)


def inspect_network(engine, req, name: str) -> None:
    from dockyard.engine.inspect import network_json
    from dockyard.engine.networking import ensure_default
    from dockyard.state.networks import find_network

    if name in ("host", "none"):
        req.send_json(_builtin(name))
        return
    if name == "bridge":
        ensure_default(engine)
    rec = find_network(engine.db, name)
    if rec is None:
        raise NetworkNotFound(f"network {name} not found")
    req.send_json(network_json(engine, rec))


def create_network(engine, req) -> None:
    from dockyard.engine.networking import create

    body = req.json()
    if not isinstance(body, dict):
        raise InvalidArgument("invalid network create request: expected an object")
    name = json_field(body, "Name", str, "", "")
    if not name:
        raise InvalidArgument("network name (Name) is required")
    enable_ipv6 = json_field(body, "EnableIPv6", bool, "", False)
    for key in ("Ingress", "ConfigOnly"):  # Swarm's, as the CLI's --ingress and --config-only
        if json_field(body, key, bool, "", False):
            raise NotImplemented(f"{key} networks (Swarm) are not supported")
    if json_field(body, "ConfigFrom", dict, "", {}).get("Network"):
        raise NotImplemented("ConfigFrom: configuration-only networks (Swarm) are not supported")
    if json_field(body, "Scope", str, "", "") not in ("", "local"):
        raise InvalidArgument(f'scope "{body["Scope"]}" is not supported: dockyard networks are local')
    if not json_field(body, "EnableIPv4", bool, "", True):  # API 1.47's IPv6-only networks
        raise InvalidArgument("EnableIPv4=false: dockyard networks are IPv4 networks (there is no IPv6-only network)")
    ipam = json_field(body, "IPAM", dict, "", {})
    if json_field(ipam, "Driver", str, "IPAM.", "default") not in ("default", ""):
        raise InvalidArgument("only the default IPAM driver is supported")
    ipam_options = None if ipam.get("Options") is None else json_string_map(ipam, "Options", "IPAM.")
    if ipam_options:
        raise InvalidArgument("IPAM.Options: the default IPAM driver has no options")
    configs = json_field(ipam, "Config", list, "IPAM.", [])
    if not all(isinstance(c, dict) for c in configs):
        raise InvalidArgument("invalid IPAM.Config: expected a list of objects")
    by_family: dict = {}
    for conf in configs:
        subnet = json_field(conf, "Subnet", str, "IPAM.Config.", "")
        if not subnet and (conf.get("Gateway") or conf.get("IPRange") or conf.get("AuxiliaryAddresses")):
            # moby's ValidateIPAM, of the empty Subnet
            raise InvalidArgument("invalid network config:\ninvalid subnet : invalid CIDR block notation")
        family = 6 if ":" in subnet else 4
        if family in by_family:
            raise InvalidArgument(f"one IPAM.Config entry per address family: dockyard networks have one IPv4 subnet "
                                  f"and, with EnableIPv6, one IPv6 subnet (two IPv{family} ones given)")
        by_family[family] = conf
    conf = by_family.get(4, {})
    subnet = json_field(conf, "Subnet", str, "IPAM.Config.", "") or None
    gateway = json_field(conf, "Gateway", str, "IPAM.Config.", "") or None
    ip_range = json_field(conf, "IPRange", str, "IPAM.Config.", "")
    aux = json_string_map(conf, "AuxiliaryAddresses", "IPAM.Config.")
    conf6 = by_family.get(6, {})
    if conf6.get("AuxiliaryAddresses"):
        raise InvalidArgument("IPAM.Config.AuxiliaryAddresses: dockyard reserves auxiliary addresses in IPv4 "
                              "subnets only")
    rec = create(engine, name, subnet=subnet, gateway=gateway, internal=json_field(body, "Internal", bool, "", False),
                 labels=json_string_map(body, "Labels", ""), options=json_string_map(body, "Options", ""),
                 driver=json_field(body, "Driver", str, "", "") or "bridge", ip_range=ip_range, aux_addresses=aux,
                 ipam_options=ipam_options, enable_ipv6=enable_ipv6,
                 subnet6=json_field(conf6, "Subnet", str, "IPAM.Config.", "") or None,
                 gateway6=json_field(conf6, "Gateway", str, "IPAM.Config.", "") or None,
                 ip_range6=json_field(conf6, "IPRange", str, "IPAM.Config.", ""),
                 attachable=json_field(body, "Attachable", bool, "", False))
    req.send_json({"Id": rec.id, "Warning": ""}, 201)


def remove_network(engine, req, name: str) -> None:
    from dockyard.engine.networking import remove

    remove(engine, name)
    req.no_content()


# -- volumes -----------------------------------------------------------------------------------

def list_volumes(engine, req) -> None:
    from dockyard.engine.inspect import volume_json
    from dockyard.engine.volumes import list_volumes as rows
    from dockyard.state.volumes import volumes_in_use

    flt = filters(req, ("dangling", "name", "label", "driver"))
    used = volumes_in_use(engine.db) if "dangling" in flt else set()
    out = []
    for rec in rows(engine):
        if "dangling" in flt and not any((rec.name not in used) == (v.lower() in ("true", "1"))
                                         for v in flt["dangling"]):
            continue
        if "name" in flt and not any(re.search(re.escape(v), rec.name) for v in flt["name"]):
            continue
        if "driver" in flt and rec.driver not in flt["driver"]:
            continue
        if "label" in flt and not all(label_ok(rec.labels, c) for c in flt["label"]):
            continue
        out.append(volume_json(rec))
    req.send_json({"Volumes": out, "Warnings": None})


def create_volume(engine, req) -> None:
    from dockyard.engine.inspect import volume_json
    from dockyard.engine.volumes import create

    body = req.json(required=False) or {}
    if not isinstance(body, dict):
        raise InvalidArgument("invalid volume create request: expected an object")
    rec, _ = create(engine, json_field(body, "Name", str, "", "") or None,
                    driver=json_field(body, "Driver", str, "", "") or "local",
                    labels=json_string_map(body, "Labels", ""), options=json_string_map(body, "DriverOpts", ""))
    req.send_json(volume_json(rec), 201)


def inspect_volume(engine, req, name: str) -> None:
    from dockyard.engine.inspect import volume_json
    from dockyard.engine.volumes import get

    req.send_json(volume_json(get(engine, name)))


def remove_volume(engine, req, name: str) -> None:
    from dockyard.engine.volumes import remove

    remove(engine, name, force=req.qbool("force"))
    req.no_content()
