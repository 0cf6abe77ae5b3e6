"""POST /networks/{id}/connect and /disconnect. A running container gets (or loses) its interface
at once, which may fork (its DNS helper), so the engine call runs where forks are safe
(`isolated.call`: the zygote's child), never on a server thread."""

from __future__ import annotations

from dockyard.api import isolated
from dockyard.errors import InvalidArgument, NotImplemented

_UNSUPPORTED = ("NetworkID", "EndpointID", "IPv6Gateway", "GlobalIPv6Address", "GwPriority")


def _container(body) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("Container"), str) or not body["Container"]:
        raise InvalidArgument("a JSON body with the container (Container) is required")
    return body["Container"]


def connect(engine, req, name: str) -> None:
    body = req.json()
    ref = _container(body)
    ep = body.get("EndpointConfig") or {}
    if not isinstance(ep, dict):
        raise InvalidArgument("EndpointConfig must be an object")
    for key in _UNSUPPORTED:
        if ep.get(key):
            raise NotImplemented(f"EndpointConfig.{key} is not supported by dockyard's network connect")
    ipam = ep.get("IPAMConfig") or {}
    if not isinstance(ipam, dict):
        raise InvalidArgument("EndpointConfig.IPAMConfig must be an object")
    ip6 = ipam.get("IPv6Address") or ""
    if not isinstance(ip6, str):
        raise InvalidArgument("IPAMConfig.IPv6Address must be a string")
    link_local = ipam.get("LinkLocalIPs") or []
    if not isinstance(link_local, list) or not all(isinstance(a, str) for a in link_local):
        raise InvalidArgument("IPAMConfig.LinkLocalIPs must be a list of strings")
    aliases = ep.get("Aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise InvalidArgument("EndpointConfig.Aliases must be a list of strings")
    ip = ipam.get("IPv4Address") or ""
    if not isinstance(ip, str):
        raise InvalidArgument("IPAMConfig.IPv4Address must be a string")
    mac = ep.get("MacAddress") or ""
    if not isinstance(mac, str):
        raise InvalidArgument("EndpointConfig.MacAddress must be a string")
    if mac:
        from dockyard.engine.hostopts import check_mac

        mac = check_mac(mac)
    links = ep.get("Links") or []
    if not isinstance(links, list) or not all(isinstance(v, str) for v in links):
        raise InvalidArgument("EndpointConfig.Links must be a list of strings")
    driver_opts = ep.get("DriverOpts") or {}
    if not isinstance(driver_opts, dict) or not all(isinstance(v, str) for v in driver_opts.values()):
        raise InvalidArgument("EndpointConfig.DriverOpts must be an object of strings")
    isolated.call(engine, "connect", net=name, ref=ref, aliases=aliases, ip=ip, mac=mac, links=links,
                  driver_opts=driver_opts, ip6=ip6, link_local=link_local)
    req.send(200, b"")


def disconnect(engine, req, name: str) -> None:
    body = req.json()
    ref = _container(body)
    force = body.get("Force", False)
    if not isinstance(force, bool):
        raise InvalidArgument("Force must be a boolean")
    isolated.call(engine, "disconnect", net=name, ref=ref, force=force)
    req.send(200, b"")
