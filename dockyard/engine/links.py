"""Legacy container links (`--link NAME[:ALIAS]`, HostConfig.Links), as dockerd keeps them.

A link is recorded at create as ``NAME:ALIAS`` in `ContainerConfig.host_opts["Links"]` (the
target must exist then); at each start the target must be running, and the container gets:
- an /etc/hosts line for it: ``IP<TAB>ALIAS HOSTNAME [NAME]`` (dockerd's buildSandboxOptions),
  with the target's address on the default bridge, or on a user network both are on;
- on the default bridge only (as dockerd's setupLinkedContainers), the link environment:
  ``ALIAS_PORT``, ``ALIAS_PORT_<port>_<PROTO>`` with ``_ADDR``/``_PORT``/``_PROTO``,
  ``ALIAS_NAME=/me/alias`` and the target's own environment as ``ALIAS_ENV_<NAME>`` (HOME and
  PATH left out; and HOSTNAME, which dockyard adds to the recorded environment and dockerd does not).
inspect shows them as dockerd does: ``/name:/me/alias``. `rm --link /me/alias` removes one.
A container whose network mode is a user network has no legacy links: create makes its
HostConfig.Links network-scoped links of that network (engine/endpointopts.py), as dockerd.
"""

from __future__ import annotations

from dockyard.errors import Conflict, ContainerNotFound, InvalidArgument

HOST_CONFLICT = "conflicting options: host type networking can't be used with links. This would result in " \
                "undefined behavior"
CONTAINER_CONFLICT = "conflicting options: container type network can't be used with links. This would result " \
                     "in undefined behavior"


def parse(value: str) -> tuple[str, str]:
    """NAME[:ALIAS] → (name, alias), as docker's opts.ParseLink (a leading / is dropped)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument("empty string specified for links")
    name, colon, alias = value.partition(":")
    name, alias = name.strip("/"), alias.strip("/")
    if not name or (colon and not alias) or ":" in alias or "/" in name or "/" in alias:
        raise InvalidArgument(f"bad format for links: {value}")
    return name, alias or name


def check(engine, links, network: str) -> list[str]:
    """At create: HostConfig.Links checked (each target exists, no host or container network on
    either side); the value kept, ``NAME:ALIAS`` each."""
    if not links:
        return []
    if network == "host":
        raise InvalidArgument(HOST_CONFLICT)
    if network.startswith("container:"):
        raise InvalidArgument(CONTAINER_CONFLICT)
    out, aliases = [], set()
    for value in links:
        name, alias = parse(value)
        target = _target(engine, name)
        their = target.config.get("network") or ""
        if their == "host":
            raise InvalidArgument(HOST_CONFLICT)
        if alias in aliases:
            raise Conflict(f"conflicting link alias {alias!r}: each link needs its own alias")
        aliases.add(alias)
        out.append(f"{target.name}:{alias}")
    return out


def _target(engine, name: str):
    try:
        return engine.db.get_container(name)
    except ContainerNotFound:
        raise ContainerNotFound(f"could not get container for {name}: No such container: {name}") from None


class Link:
    __slots__ = ("rec", "alias", "ip", "state")

    def __init__(self, rec, alias: str, ip: str, state: dict) -> None:
        self.rec, self.alias, self.ip, self.state = rec, alias, ip, state


def resolve(engine, links, me: str, networks: list[str]) -> list[Link]:
    """At start: every link's target (`links`: host_opts["Links"] of the container `me`, on
    `networks`, its first one first), running, with the address it is reached at: on the first of
    `networks` the target is on too."""
    from dockyard.engine.status import ACTIVE, effective_state

    out = []
    for value in links:
        name, alias = parse(value)
        rec = _target(engine, name)
        st = effective_state(rec, engine.db)
        if st.get("Status") not in ACTIVE:
            raise Conflict(f"Cannot link to a non running container: /{rec.name} AS /{me}/{alias}")
        nets = (st.get("NetworkSettings") or {}).get("Networks") or {}
        shared = [n for n in networks if n in nets]
        ip = (nets.get(shared[0]) or {}).get("IPAddress", "") if shared else ""
        out.append(Link(rec, alias, ip, st))
    return out


def hosts(links: list[Link]) -> list[tuple[str, str]]:
    """(names, address) pairs for /etc/hosts: the alias, the target's hostname and its name."""
    out = []
    for link in links:
        if not link.ip:
            continue
        names = [link.alias, link.state.get("Hostname") or link.rec.id[:12]]
        if link.alias != link.rec.name:
            names.append(link.rec.name)
        out.append((" ".join(dict.fromkeys(names)), link.ip))
    return out


def environment(engine, links: list[Link], me: str) -> list[str]:
    """The legacy link variables (docker's links.Link.ToEnv), for a container on the default bridge.
    Only these need the targets' ports (their image configs): hosts lines and DNS answers do not."""
    out = []
    for link in links:  # an address-less target (its network is none) still gives them, as dockerd's
        prefix = link.alias.upper().replace("-", "_")
        ports = sorted(_ports(engine, link.rec), key=lambda p: (int(p[0]), p[1]))
        if ports:
            port, proto = ports[0]
            out.append(f"{prefix}_PORT={proto}://{link.ip}:{port}")
        for port, proto in ports:
            key = f"{prefix}_PORT_{port}_{proto.upper()}"
            out += [f"{key}={proto}://{link.ip}:{port}", f"{key}_ADDR={link.ip}", f"{key}_PORT={port}",
                    f"{key}_PROTO={proto}"]
        out.append(f"{prefix}_NAME=/{me}/{link.alias}")
        for var in link.state.get("Env") or ():
            name, eq, val = var.partition("=")
            if eq and name not in ("HOME", "PATH", "HOSTNAME"):  # HOSTNAME: ours, not in docker's Config.Env
                out.append(f"{prefix}_ENV_{name}={val}")
    return out


def _ports(engine, rec) -> set[tuple[str, str]]:
    """The target's exposed ports: its image's EXPOSE, --expose and what it publishes."""
    from dockyard.errors import DockyardError
    from dockyard.oci.ports import exposed_port

    found = set()
    for p in (rec.config.get("host_opts") or {}).get("ExposedPorts") or ():
        port, _, proto = p.partition("/")
        found.add((port, proto or "tcp"))
    for p in rec.config.get("ports") or ():
        if isinstance(p, dict) and p.get("container_port"):
            found.add((str(p["container_port"]), p.get("proto") or "tcp"))
    try:
        icfg = engine.images.config(engine.images.resolve(rec.image_id)).get("config") or {}
    except DockyardError:  # an image gone since: its ports are unknown
        icfg = {}
    for key in icfg.get("ExposedPorts") or {}:
        port, proto = exposed_port(key)
        found.add((str(port), proto))
    return found


def shown(host_opts: dict, me: str) -> list[str] | None:
    """inspect's HostConfig.Links: ``/name:/me/alias`` (None without links, as dockerd)."""
    out = []
    for value in host_opts.get("Links") or ():
        name, alias = parse(value)
        out.append(f"/{name}:/{me}/{alias}")
    return out or None


def remove(engine, link: str) -> str:
    """rm --link /me/alias (DELETE /containers/{me/alias}?link=1): that link is gone from `me`."""
    from dockyard.engine.config import ContainerConfig
    from dockyard.engine.status import ContainerLock

    parts = link.strip("/").split("/")
    if len(parts) != 2 or not all(parts):
        raise InvalidArgument(f"Conflict, cannot remove the default link name of the container: {link}"
                              if len(parts) == 1 else f"invalid link name {link!r}: expected /container/alias")
    me, alias = parts
    rec = engine.db.get_container(me)
    with ContainerLock(engine, rec.id):
        rec = engine.db.get_container(rec.id)
        cfg = ContainerConfig.from_json(rec.config)
        links = list((cfg.host_opts or {}).get("Links") or ())
        kept = [v for v in links if parse(v)[1] != alias]
        if len(kept) == len(links):
            raise ContainerNotFound(f"No such container: {me}/{alias}")
        opts = dict(cfg.host_opts)
        if kept:
            opts["Links"] = kept
        else:
            opts.pop("Links")
        engine.db.update_config(rec.id, cfg.replace(host_opts=opts).to_json())
    return link
