"""`dockyard network create|ls|inspect|rm|prune|connect|disconnect` and `dockyard port`."""

from __future__ import annotations

import sys

from dockyard.cli.flags import BOOL, LIST, STR, Flag, UsageError, key_values, parse, usage
from dockyard.cli.render import confirm
from dockyard.errors import DockyardError, InvalidArgument, NotFound

HELP = Flag("--help", BOOL, "Print usage")


def _opts(flags: list[Flag], argv: list[str], synopsis: str, what: str, nargs: int):
    opts = parse(flags + [HELP], argv)
    if opts.help:
        print(usage(synopsis, what, flags))
        raise SystemExit(0)
    if len(opts.args) < nargs:
        raise UsageError(f'"{synopsis.split(" [")[0]}" requires at least {nargs} argument'
                         f'{"s" if nargs > 1 else ""}.', hint=f"Usage:  {synopsis}")
    return opts


def cmd_network_create(ctx, argv: list[str]) -> int:
    from dockyard.engine.networking import create

    flags = [Flag("-d,--driver", STR, "Driver to manage the Network", default="bridge"),
             Flag("--subnet", LIST, "Subnet in CIDR format that represents a network segment"),
             Flag("--gateway", LIST, "IPv4 or IPv6 Gateway for the master subnet"),
             Flag("--internal", BOOL, "Restrict external access to the network"),
             Flag("--label", LIST, "Set metadata on a network"),
             Flag("-o,--opt", LIST, "Set driver specific options"),
             Flag("--attachable", BOOL,
                  "Enable manual container attachment (every network takes network connect; inspect shows it)"),
             Flag("--ipv6", BOOL, "Enable IPv6 networking"),
             Flag("--ipv4", BOOL, "Enable or disable IPv4 address assignment (always on)", default=True),
             Flag("--ipam-driver", STR, "IP Address Management Driver (only \"default\")"),
             Flag("--ipam-opt", LIST, "Set IPAM driver specific options (not supported)",
                  refused="--ipam-opt is not supported: the default IPAM has no options"),
             Flag("--ip-range", LIST, "Allocate container ip from a sub-range"),
             Flag("--aux-address", LIST, "Auxiliary IPv4 addresses used by Network driver"),
             Flag("--scope", STR, "Control the network's scope (only \"local\")"),
             Flag("--ingress", BOOL, "Create swarm routing-mesh network (not supported)",
                  refused="--ingress is not supported: Swarm's routing mesh is not supported"),
             Flag("--config-only", BOOL, "Create a configuration only network (not supported)",
                  refused="--config-only is not supported: configuration-only networks (Swarm) are not supported"),
             Flag("--config-from", STR, "The network from which to copy the configuration (not supported)",
                  refused="--config-from is not supported: configuration-only networks (Swarm) are not supported")]
    opts = _opts(flags, argv, "dockyard network create [OPTIONS] NETWORK", "Create a network", 1)
    if len(opts.args) != 1:
        raise UsageError('"dockyard network create" requires exactly 1 argument.')
    if not opts.ipv4:
        raise InvalidArgument("--ipv4=false: dockyard networks are IPv4 networks (there is no IPv6-only network)")
    if opts.ipam_driver not in (None, "", "default"):
        raise InvalidArgument(f'IPAM driver "{opts.ipam_driver}" is not supported: only "default"')
    if opts.scope not in (None, "", "local"):
        raise InvalidArgument(f'scope "{opts.scope}" is not supported: dockyard networks are local')
    if len(opts.subnet) < len(opts.ip_range) or len(opts.subnet) < len(opts.gateway):
        raise InvalidArgument("every ip-range or gateway must have a corresponding subnet")
    v4 = [s for s in opts.subnet if ":" not in s]
    v6 = [s for s in opts.subnet if ":" in s]
    if len(v4) > 1 or len(v6) > 1:
        raise InvalidArgument("one --subnet per address family: dockyard networks have one IPv4 subnet and, "
                              "with --ipv6, one IPv6 subnet")
    aux = key_values(opts.aux_address)
    if not v4 and aux:
        raise InvalidArgument(f"no matching subnet for aux-address {next(iter(aux.values()))}")
    ranges = {s: [r for r in opts.ip_range if _family(r) == _family(s)] for s in opts.subnet}
    gateways = {s: [g for g in opts.gateway if _family(g) == _family(s)] for s in opts.subnet}
    for r in opts.ip_range + opts.gateway:
        if not any(_family(r) == _family(s) for s in opts.subnet):
            raise InvalidArgument(f"no matching subnet for {'range' if '/' in r else 'gateway'} {r}")
    for s in opts.subnet:
        if len(ranges[s]) > 1 or len(gateways[s]) > 1:
            raise InvalidArgument(f"cannot configure multiple ranges or gateways on the same subnet ({s})")
    if v4:
        _match_subnet(v4[0], ranges[v4[0]], gateways[v4[0]], aux)
    rec = create(ctx.engine, opts.args[0], subnet=v4[0] if v4 else None,
                 gateway=gateways[v4[0]][0] if v4 and gateways[v4[0]] else None, internal=opts.internal,
                 labels=key_values(opts.label, "label"), options=key_values(opts.opt, "option"), driver=opts.driver,
                 ip_range=ranges[v4[0]][0] if v4 and ranges[v4[0]] else "", aux_addresses=aux, ipam_options={},
                 enable_ipv6=opts.ipv6, subnet6=v6[0] if v6 else None,
                 gateway6=gateways[v6[0]][0] if v6 and gateways[v6[0]] else None,
                 ip_range6=ranges[v6[0]][0] if v6 and ranges[v6[0]] else "", attachable=opts.attachable)
    print(rec.id)
    return 0


def _family(addr: str) -> int:
    return 6 if ":" in addr else 4


def _match_subnet(subnet: str, ranges: list[str], gateways: list[str], aux: dict) -> None:
    """The docker CLI's own checks (one subnet here, so at most one range and gateway, checked by
    the caller): each range, gateway and aux address in the subnet; the engine then checks the
    whole config as dockerd does."""
    from dockyard.network.ipam import Subnet, parse_cidr, to_int

    sub = Subnet.parse(subnet)

    def inside(addr: str) -> bool:
        try:
            return sub.contains(addr)
        except InvalidArgument:
            return False

    for r in ranges:
        if parse_cidr(r) is None:
            raise InvalidArgument(f"invalid CIDR address: {r}")
        if not inside(r.partition("/")[0]):
            raise InvalidArgument(f"no matching subnet for range {r}")
    for g in gateways:
        to_int(g)
        if not inside(g):
            raise InvalidArgument(f"no matching subnet for gateway {g}")
    for addr in aux.values():
        if not inside(addr):
            raise InvalidArgument(f"no matching subnet for aux-address {addr}")


def cmd_network_ls(ctx, argv: list[str]) -> int:
    from dockyard.cli.template import render_table
    from dockyard.engine.networking import ensure_default
    from dockyard.state.networks import list_networks

    flags = [Flag("-q,--quiet", BOOL, "Only display network IDs"),
             Flag("--no-trunc", BOOL, "Do not truncate the output"),
             Flag("-f,--filter", LIST, "Provide filter values (e.g. 'driver=bridge', 'name=x', 'label=k')"),
             Flag("--format", STR, "Format output using a custom template")]
    opts = _opts(flags, argv, "dockyard network ls [OPTIONS]", "List networks", 0)
    engine = ctx.engine
    from dockyard.errors import DiskFull, Unavailable

    try:
        ensure_default(engine)
    except (DiskFull, Unavailable):
        pass  # a full disk, no free subnet: list what there is (listing needs no new network)
    flt = {}
    for f in opts.filter:
        k, eq, v = f.partition("=")
        if not eq or k not in ("name", "id", "driver", "label", "type", "scope"):
            raise InvalidArgument(f"Invalid filter '{k if eq else f}'")
        flt.setdefault(k, []).append(v)
    rows = []
    nets = list_networks(engine.db) + [_builtin("host"), _builtin("none")]
    for n in sorted(nets, key=lambda n: n.name):
        if "name" in flt and not any(v in n.name for v in flt["name"]):
            continue
        if "id" in flt and not any(n.id.startswith(v) for v in flt["id"]):
            continue
        if "driver" in flt and n.driver not in flt["driver"]:
            continue
        if "label" in flt and not all(_label_match(n.labels, v) for v in flt["label"]):
            continue
        if "type" in flt:
            builtin = n.name in ("bridge", "host", "none")
            if not any((t == "builtin") == builtin for t in flt["type"]):
                continue
        rows.append({"ID": n.id if opts.no_trunc else n.id[:12], "Name": n.name, "Driver": n.driver,
                     "Scope": "local", "IPv6": str(bool(n.ipv6)).lower(), "Internal": str(bool(n.internal)).lower(),
                     "IPv4": str(bool(n.subnet and ":" not in n.subnet)).lower(),
                     "Labels": ",".join(f"{k}={v}" for k, v in sorted(n.labels.items())),
                     "Label": lambda key, labels=n.labels: labels.get(key, ""),
                     "CreatedAt": _created(n)})
    if opts.quiet:
        for r in rows:
            print(r["ID"])
        return 0
    fmt = opts.format or "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
    headers = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4", "IPv6": "IPV6",
               "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT"}
    sys.stdout.write(render_table(fmt, rows, headers))  # newline-terminated rows, as docker's
    return 0


def _created(n) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(n.created)) if n.created else ""


def _label_match(labels: dict, cond: str) -> bool:
    k, eq, v = cond.partition("=")
    return k in labels and (not eq or labels[k] == v)


def _builtin(name: str):
    """`host` and `none` are listed like docker's, though they are modes, not records."""
    import hashlib

    from dockyard.state.networks import NetworkRecord

    return NetworkRecord(id=hashlib.sha256(name.encode()).hexdigest(), name=name, driver="host" if name == "host"
                         else "null", subnet="", gateway="", bridge="", internal=False, created=0, labels={},
                         options={})


def cmd_network_inspect(ctx, argv: list[str]) -> int:
    from dockyard.cli.inspect import check_template, emit
    from dockyard.engine.inspect import network_json
    from dockyard.engine.networking import ensure_default
    from dockyard.state.networks import find_network

    # -v: dockerd adds a Swarm network's services and tasks; a local network's document is the same
    # with it or without, and every dockyard network is local: so is it here
    opts = _opts([Flag("-f,--format", STR, "Format output using a custom template"),
                  Flag("-v,--verbose", BOOL, "Verbose output for diagnostics (Swarm networks' services: a local "
                       "network's document is the same)")], argv,
                 "dockyard network inspect [OPTIONS] NETWORK [NETWORK...]", "Display detailed information on one or "
                 "more networks", 1)
    check_template(opts.format)
    engine = ctx.engine
    if "bridge" in opts.args:
        ensure_default(engine)
    out, rc = [], 0
    for ref in opts.args:
        rec = find_network(engine.db, ref)
        if rec is None:
            sys.stderr.write(f"Error response from daemon: network {ref} not found\n")
            rc = 1
            continue
        out.append(network_json(engine, rec))
    emit(out, opts.format)
    return rc


def cmd_network_rm(ctx, argv: list[str]) -> int:
    from dockyard.engine.networking import remove

    opts = _opts([Flag("-f,--force", BOOL, "Do not error if the network does not exist")], argv,
                 "dockyard network rm NETWORK [NETWORK...]", "Remove one or more networks", 1)
    rc = 0
    for ref in opts.args:
        try:
            remove(ctx.engine, ref)
            print(ref)
        except NotFound as e:
            if not opts.force:
                sys.stderr.write(f"Error response from daemon: {e}\n")
                rc = 1
        except DockyardError as e:
            sys.stderr.write(f"Error response from daemon: {e}\n")
            rc = 1
    return rc


def prune_filters(values: list[str]) -> tuple:
    """network prune's --filter: until=<duration|time>, label=, label!= (docker's keys)."""
    from dockyard.engine.events import parse_time
    from dockyard.engine.volumes import label_filters

    flt: dict[str, list[str]] = {}
    for f in values:
        k, eq, v = f.partition("=")
        if not eq:
            raise InvalidArgument(f"bad format of filter (expected name=value): {f}")
        if k not in ("until", "label", "label!"):
            raise InvalidArgument(f"Invalid filter '{k}'")  # dockerd's words
        flt.setdefault(k, []).append(v)
    if len(flt.get("until", ())) > 1:
        raise InvalidArgument("more than one until filter specified")
    until = parse_time(flt["until"][0]) if "until" in flt else None
    return until, label_filters(flt)


def cmd_network_prune(ctx, argv: list[str]) -> int:
    from dockyard.engine.networking import prune

    opts = _opts([Flag("-f,--force", BOOL, "Do not prompt for confirmation"),
                  Flag("--filter", LIST, "Provide filter values (e.g. 'until=<timestamp>', 'label=<key>[=<value>]', "
                       "'label!=<key>[=<value>]')")], argv,
                 "dockyard network prune [OPTIONS]", "Remove all unused networks", 0)
    until, labels = prune_filters(opts.filter)
    if not opts.force:
        if not confirm("WARNING! This will remove all custom networks not used by at least one container."):
            return 0
    removed = prune(ctx.engine, until=until, labels=labels)
    if removed:
        print("Deleted Networks:\n" + "\n".join(removed) + "\n")  # docker's blank line after the list
    return 0


def cmd_network_connect(ctx, argv: list[str]) -> int:
    from dockyard.engine.networking import connect

    opts = _opts([Flag("--alias", LIST, "Add network-scoped alias for the container"),
                  Flag("--ip", STR, "IPv4 address (e.g., 172.30.100.104)"),
                  Flag("--ip6", STR, "IPv6 address (e.g., 2001:db8::33)"),
                  Flag("--link-local-ip", LIST, "Add a link-local address for the container"),
                  Flag("--link", LIST, "Add link to another container"),
                  Flag("--driver-opt", LIST, "driver options for the network"),
                  *(Flag(name, kind, f"{what} (not supported)", refused=f"{name} is not supported by dockyard network "
                         "connect: a container has one gateway, its first network's")
                    for name, kind, what in (("--gw-priority", STR, "Highest gw-priority provides the default "
                                                                    "gateway"),))],
                 argv, "dockyard network connect [OPTIONS] NETWORK CONTAINER", "Connect a container to a network", 2)
    if opts.ip:
        from dockyard.network.ipam import to_int

        to_int(opts.ip)
    for value in opts.link:  # docker's CLI checks the format before any request (opts.ValidateLink)
        from dockyard.engine.links import parse as parse_link

        parse_link(value)
    connect(ctx.engine, opts.args[0], opts.args[1], aliases=opts.alias, ip=opts.ip or "", links=opts.link,
            driver_opts=driver_options(opts.driver_opt), ip6=opts.ip6 or "", link_local=opts.link_local_ip)
    return 0


def driver_options(values) -> dict:
    """--driver-opt KEY=VALUE…, as docker's CLI (convertDriverOpt): key and value trimmed."""
    out = {}
    for v in values:
        key, eq, val = v.partition("=")
        if not eq or not key.strip():
            raise InvalidArgument("invalid key/value pair format in driver options")
        out[key.strip()] = val.strip()
    return out


def cmd_network_disconnect(ctx, argv: list[str]) -> int:
    from dockyard.engine.networking import disconnect

    opts = _opts([Flag("-f,--force", BOOL, "Force the container to disconnect from a network")], argv,
                 "dockyard network disconnect [OPTIONS] NETWORK CONTAINER", "Disconnect a container from a network", 2)
    disconnect(ctx.engine, opts.args[0], opts.args[1], force=opts.force)
    return 0


def cmd_port(ctx, argv: list[str]) -> int:
    """docker port CONTAINER [PRIVATE_PORT[/PROTO]]: `80/tcp -> 0.0.0.0:8080`."""
    from dockyard.engine.status import effective_state

    opts = _opts([], argv, "dockyard port CONTAINER [PRIVATE_PORT[/PROTO]]", "List port mappings or a specific "
                 "mapping for the container", 1)
    rec = ctx.engine.db.get_container(opts.args[0])
    st = effective_state(rec)
    ports = (st.get("NetworkSettings") or {}).get("Ports") or {} if st.get("Status") in ("running", "paused") else {}
    if len(opts.args) > 1:
        want = opts.args[1] if "/" in opts.args[1] else opts.args[1] + "/tcp"
        binds = ports.get(want)
        if not binds:
            raise NotFound(f"No public port '{opts.args[1]}' published for {opts.args[0]}")
        for b in binds:
            print(f"{b['HostIp']}:{b['HostPort']}")
        return 0
    for key in sorted(ports, key=lambda k: (int(k.split("/")[0]), k)):
        for b in ports[key] or ():
            print(f"{key} -> {b['HostIp']}:{b['HostPort']}")
    return 0
