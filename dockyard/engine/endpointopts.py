"""An endpoint's network-scoped links and driver options (EndpointSettings.Links, .DriverOpts).

Links, on a user-defined network: ``NAME[:ALIAS]`` makes ALIAS a name that only this container's
embedded DNS answers, with the address NAME has on that network (moby: `buildJoinOptions` →
libnetwork's `CreateOptionAlias`; the sandbox resolver's alias pass, which also keeps a plain
lookup of ALIAS off that network). As dockerd: NAME need not exist at create nor at start, there
is no /etc/hosts line and no link variable, and `HostConfig.Links` of a container whose network
mode is a user network is not a legacy link (moby's `registerLinks` skips user-defined network
modes; inspect shows it null): create folds it into the endpoint's links, as docker's CLI sends
them. On the default bridge a link is a legacy one (engine/links.py, `HostConfig.Links`).

DriverOpts are kept and shown as given. dockerd 20.10's bridge driver reads no key a user gives
(libnetwork/drivers/bridge `parseEndpointOptions` knows only libnetwork's own MAC, port map and
exposed ports, which the daemon sets itself), so there they are only stored, as here. Two keys
newer moby honours are honoured here too:
- ``com.docker.network.endpoint.sysctls`` (moby 27: the daemon's `validateEndpointSettings`,
  libnetwork osl `setSysctls`): ``net.X.Y.IFNAME.Z=V[,…]``, X one of ipv4, ipv6, mpls; written
  in the container's network namespace for its interface once that is up;
- ``com.docker.network.endpoint.ifname`` (moby 28: the interface's name in the container).
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument

SYSCTLS = "com.docker.network.endpoint.sysctls"
IFNAME = "com.docker.network.endpoint.ifname"
_SYSCTL_FAMILIES = ("ipv4", "ipv6", "mpls")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def user_defined(network: str) -> bool:
    """A user network: not the default bridge, host, none or another container's namespace."""
    return network not in ("", "bridge", "default", "host", "none") and not network.startswith("container:")


def check(network: str, links, driver_opts, where: str, *, legacy=()) -> dict:
    """Checked Links and DriverOpts of one endpoint → its `endpoint_opts` entry ({} when neither).
    `legacy`: HostConfig.Links of the request (on the default bridge, endpoint links must be among
    them: those are legacy links there)."""
    from dockyard.engine.links import parse

    links = list(links or ())
    for value in links:
        if not isinstance(value, str):
            raise InvalidArgument(f"invalid {where}Links: expected an array of strings")
        parse(value)
    if links and not user_defined(network):
        known = {":".join(parse(v)) for v in legacy}
        if network in ("bridge", "default") and all(":".join(parse(v)) in known for v in links):
            pass  # docker's CLI before 28 repeated --link there: the legacy links are those
        else:
            raise InvalidArgument("links are only supported for user-defined networks (on the default bridge, "
                                  "use legacy links: HostConfig.Links, --link)")
    opts = dict(driver_opts or {})
    for k, v in opts.items():
        if not isinstance(v, str):
            raise InvalidArgument(f"invalid {where}DriverOpts: expected an object of strings")
    if SYSCTLS in opts:
        sysctls(opts[SYSCTLS], "eth0")
    if IFNAME in opts:
        check_ifname(opts[IFNAME])
    out: dict = {}
    if links:
        out["Links"] = links
    if opts:
        out["DriverOpts"] = opts
    return out


def check_ifname(name: str) -> str:
    """An interface name the kernel takes (IFNAMSIZ, no slash, space or colon) and that is not lo."""
    if not name or len(name) > 15 or name in (".", "..", "lo") or any(c not in _NAME_CHARS and c != "." for c in name):
        raise InvalidArgument(f"invalid interface name {name!r} in driver option {IFNAME}: use up to 15 letters, "
                              "digits, '.', '_' or '-' (not lo)")
    return name


def sysctls(value: str, ifname: str) -> list[tuple[str, str]]:
    """The value of com.docker.network.endpoint.sysctls → [(path under /proc/sys, value)] for the
    interface `ifname`; refused as moby's daemon refuses a key (its message), and any key part
    that is not a plain name (no '/', no '..': the path stays the interface's own)."""
    out = []
    for item in value.split(","):
        key, eq, val = item.partition("=")
        parts = key.split(".")
        # docker's CLI lower-cases the whole --driver-opt value: "ifname" is taken as "IFNAME"
        if (not eq or len(parts) < 5 or parts[0] != "net" or parts[1] not in _SYSCTL_FAMILIES
                or parts[3] not in ("IFNAME", "ifname")):
            raise InvalidArgument(f"unrecognised network interface sysctl '{item}'; represent 'net.X.Y.ethN.Z=V' "
                                  "as 'net.X.Y.IFNAME.Z=V', 'X' must be 'ipv4', 'ipv6' or 'mpls'")
        if any(not p or any(c not in _NAME_CHARS for c in p) for p in parts) or "\n" in val:
            raise InvalidArgument(f"invalid network interface sysctl '{item}': its name may only have letters, "
                                  "digits, '_' and '-' between the dots")
        out.append(("/".join(["net", parts[1], parts[2], ifname, *parts[4:]]), val))
    return out


def interface_name(opts: dict, default: str) -> str:
    return (opts.get("DriverOpts") or {}).get(IFNAME) or default


def apply_sysctls(pid: int, ifname: str, opts: dict) -> None:
    """Write the endpoint's sysctls inside the network namespace of `pid` (/proc/sys/net is the
    namespace's of the writer): after the interface `ifname` is up, as moby's osl does."""
    value = (opts.get("DriverOpts") or {}).get(SYSCTLS)
    if not value:
        return
    from dockyard.linux.netdev import in_netns

    in_netns(pid, _write_sysctls, sysctls(value, ifname))


def _write_sysctls(items: list[tuple[str, str]]) -> None:
    for rel, val in items:
        path = "/proc/sys/" + rel
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            raise InvalidArgument(f"sysctl {rel.replace('/', '.')!r} does not exist for this interface") from None
        try:
            os.write(fd, val.encode())
        except OSError as e:
            raise InvalidArgument(f"sysctl {rel.replace('/', '.')}={val!r} could not be set: {e.strerror}") from None
        finally:
            os.close(fd)


def resolve_alias(engine, cid: str, name: str, mine) -> tuple[list[str], set[str]]:
    """The embedded DNS's alias pass for the container `cid` (on the endpoints `mine`): the
    addresses of the targets of its links whose alias is `name` (lower case), each on the link's
    own network; and the ids of the networks where `name` is such an alias (a plain lookup skips
    them, as moby's resolver: a link's alias hides a peer of that name there). Read at each query
    (a network connect may add links to a running container), two JSON fields, not the record."""
    opts_text, live_text = engine.db.endpoint_settings(cid)
    if not opts_text or opts_text == "{}" or "Links" not in opts_text:
        return [], set()
    import json

    from dockyard.engine.links import parse
    from dockyard.state.networks import endpoints

    opts, live = json.loads(opts_text), json.loads(live_text or "{}") or {}
    on = {ep.network_id for ep in mine}
    ips: list[str] = []
    shadowed: set[str] = set()
    for net, entry in opts.items():
        net_id = (live.get(net) or {}).get("NetworkID") or next(  # the network as the user named it: maybe its id
            (v.get("NetworkID") for v in live.values() if (v.get("NetworkID") or "").startswith(net)), None)
        if net_id not in on:
            continue
        for value in entry.get("Links") or ():
            target, alias = parse(value)
            if alias.lower() != name:
                continue
            shadowed.add(net_id)
            for peer in endpoints(engine.db, network_id=net_id):
                if peer.container_id != cid and any(a.lower() == target.lower() for a in peer.aliases) \
                        and peer.ip not in ips:
                    ips.append(peer.ip)
    return ips, shadowed
