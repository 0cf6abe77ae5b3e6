"""Networks for containers: the default bridge, user networks, attach at start, detach at exit.

A container's network config (mode, user networks, aliases, fixed address, published ports) is
in its ContainerConfig; what it holds while it runs (an address per network, veth pairs, DNAT
rules, bound host ports) is taken in `attach`, called between "created" and "started" with the
init's pid, and given back in `detach` when it exits. Whoever watches the container (the
foreground CLI or its monitor) calls both, so a restart policy re-attaches every time.

Name resolution on user networks: every container's /etc/hosts (a file of its own, bind-mounted
from its runtime dir) lists the name, aliases and short id of every running peer, and is
rewritten in place whenever a peer starts, stops, connects or disconnects. It follows restarts
and new containers like Docker's embedded DNS does, needs no server per container, and works
with any libc; `nslookup`, which only speaks DNS, does not see these names.

All changes to networks and endpoints take one host-wide lock (`/run/lock/dockyard-network.lock`):
subnets and interface names are host-wide, whatever dockyard root a container lives in.
"""

from __future__ import annotations

import os

from dockyard.errors import AlreadyExists, Conflict, ContainerNotFound, InvalidArgument, NetworkNotFound

DEFAULT_NETWORK = "bridge"
LOCK_PATH = "/run/lock/dockyard-network.lock"


class NotConnected(NetworkNotFound):
    pass


class NetworkLock:
    """The host-wide flock every change to bridges, endpoints and their rules holds."""

    def __enter__(self):
        import fcntl

        os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
        self.fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.fd)  # releases the flock


def mode(cfg) -> str:
    """none | host | container | bridge (the default network or a user network)."""
    n = cfg.network or DEFAULT_NETWORK
    if n in ("none", "host"):
        return n
    if n.startswith("container:"):
        return "container"
    return "bridge"


def network_name(cfg) -> str:
    n = cfg.network or DEFAULT_NETWORK
    return DEFAULT_NETWORK if n == "default" else n


# ---------------------------------------------------------------------------- networks


def ensure_default(engine):
    from dockyard.state.networks import find_network

    rec = find_network(engine.db, DEFAULT_NETWORK)
    return rec if rec is not None else create(engine, DEFAULT_NETWORK, _default=True)


# docker's bridge driver options that dockyard's bridges have as they are (any value but these is
# refused); every other com.docker.network.* option changes the bridge in docker (its name, MTU,
# masquerading, inter-container traffic...), which dockyard does not do, so it is refused too.
# Other keys are kept and shown, as dockerd keeps what its driver does not read.
BRIDGE_OPTION_DEFAULTS = {"com.docker.network.bridge.enable_ip_masquerade": "true",
                          "com.docker.network.bridge.enable_icc": "true",
                          "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0"}


def check_driver_options(options: dict) -> None:
    for key, value in options.items():
        if not key.startswith("com.docker.network."):
            continue
        if BRIDGE_OPTION_DEFAULTS.get(key) == str(value).lower():
            continue
        default = BRIDGE_OPTION_DEFAULTS.get(key)
        raise InvalidArgument(f"driver option {key}={value} is not supported: dockyard's bridges "
                              + (f"always have {key}={default}" if default else
                                 "take none of docker's bridge options but "
                                 + ", ".join(f"{k}={v}" for k, v in BRIDGE_OPTION_DEFAULTS.items())
                                 + " (their names are dy-<id>)"))


def create(engine, name: str, *, subnet: str | None = None, gateway: str | None = None, internal: bool = False,
           labels: dict | None = None, options: dict | None = None, driver: str = "bridge", ip_range: str = "",
           aux_addresses: dict | None = None, ipam_options: dict | None = None, enable_ipv6: bool = False,
           subnet6: str | None = None, gateway6: str | None = None, ip_range6: str = "", attachable: bool = False,
           _default: bool = False):
    """docker network create: a record, its bridge with the gateway address, and its rules.
    `ip_range` (an allocation pool inside `subnet`), `aux_addresses` (name -> address, never given
    to a container) and `ipam_options` (None or {}: shown as the request had it) are dockerd's
    IPAM.Config IPRange, AuxiliaryAddresses and IPAM.Options. `enable_ipv6`: an IPv6 subnet too,
    `subnet6` (else one of the ULA pool's) with its `gateway6` and `ip_range6` (engine/netv6.py).
    `attachable`: dockerd's Attachable, shown by inspect (every dockyard network takes `network
    connect`, as a local bridge does)."""
    import time

    from dockyard.engine import netv6
    from dockyard.network import ipam
    from dockyard.state.networks import NetworkRecord, find_network, insert_network, list_networks

    if driver != "bridge":
        raise InvalidArgument(f'plugin "{driver}" not found', hint="dockyard has the bridge driver only")
    check_driver_options(options or {})
    if not name or not name.isprintable() or "/" in name or len(name) > 255:
        # dockerd takes any name ("test 01", non-ASCII); one with / could never be named in a path
        raise InvalidArgument(f'invalid network name {name!r}: a network needs a printable name without "/" '
                              "(at most 255 characters)")
    if not _default and name in ("bridge", "host", "none", "default"):
        raise Conflict(f"{name} is a pre-defined network and cannot be created")
    if (ip_range or aux_addresses) and not subnet:
        raise InvalidArgument("an IPAM ip-range or auxiliary address needs its subnet")
    checked = None  # as dockerd: the config is checked (ValidateIPAM) before a pool is taken
    if subnet:
        checked = ipam.check_config(ipam.Subnet.parse(subnet), ip_range=ip_range or "", gateway=gateway or "",
                                    aux=aux_addresses)
    checked6 = netv6.network_config(enable_ipv6, subnet6, gateway6, ip_range6)
    with NetworkLock():
        if find_network(engine.db, name) is not None:
            if _default:
                return find_network(engine.db, name)
            raise AlreadyExists(f"network with name {name} already exists")
        mine = list_networks(engine.db)
        taken = ipam.host_routes() + [ipam.Subnet.parse(n.subnet) for n in mine]
        if subnet:
            sub = ipam.Subnet.parse(subnet)
            if any(sub.overlaps(t) for t in taken):
                raise Conflict(f"invalid pool request: Pool overlaps with other one on this address space ({sub})")
        else:
            sub = ipam.choose_subnet(taken, default=_default)
        _, gateway = checked or ipam.check_config(sub, gateway=gateway or "")
        v6 = netv6.allocate_subnet(checked6, mine)
        extra = {"IPRange": ip_range, "AuxiliaryAddresses": dict(aux_addresses or {}), "Options": ipam_options,
                 "Attachable": attachable}
        nid = os.urandom(32).hex()
        from dockyard.engine.engine import DEFAULT_ROOT

        bridge = "dockyard0" if _default and engine.root == DEFAULT_ROOT else "dy-" + nid[:12]
        rec = NetworkRecord(id=nid, name=name, driver="bridge", subnet=str(sub), gateway=gateway, bridge=bridge,
                            internal=internal, created=time.time(), labels=dict(labels or {}),
                            options=dict(options or {}),
                            ipam={k: v for k, v in extra.items() if v or k == "Options"}, ipv6=v6)
        insert_network(engine.db, rec)
        try:
            _bring_up(rec, engine.root)
        except BaseException:
            _tear_down(rec)
            from dockyard.state.networks import delete_network

            delete_network(engine.db, rec.id)
            raise
    if rec.name != DEFAULT_NETWORK:  # made on first use here; dockerd's always exists, without an event
        from dockyard.engine import events

        events.emit(engine, "network", "create", rec.id, {"name": rec.name, "type": "bridge"})
    return rec


def _bring_up(rec, owner: str) -> None:
    """The bridge, its address and the network's rules (idempotent: also repairs after a reboot,
    and gives a bridge made by an older dockyard this version's rules)."""
    from dockyard.engine import netv6
    from dockyard.linux.netlink import Netlink
    from dockyard.network import firewall
    from dockyard.network.ipam import Subnet

    if os.path.exists(f"/sys/class/net/{rec.bridge}"):
        # no loopback routing while its drop rules are being replaced (firewall.py's docstring)
        firewall.route_localnet(rec.bridge, False)
    firewall.ensure_base()
    firewall.remove_tagged(firewall.net_tag(rec.bridge))
    firewall.apply(firewall.network_rules(rec.bridge, rec.subnet, rec.internal))
    sub = Subnet.parse(rec.subnet)
    with Netlink() as nl:
        idx = nl.link_index(rec.bridge)
        if idx is None:
            nl.create_bridge(rec.bridge)
            idx = nl.link_index(rec.bridge)
        nl.add_address(idx, rec.gateway, sub.prefix, sub.broadcast)
        netv6.bring_up(rec, nl, idx)
        nl.set_link(idx, up=True, what=f"bring bridge {rec.bridge} up")
    # lets the host reach published ports on 127.0.0.1: DNAT'd loopback traffic may leave by the
    # bridge; only now that the drop rules are in place
    firewall.route_localnet(rec.bridge, True)
    firewall.stamp(rec.bridge, owner)  # its rules' version and its store (for `system reset`)


def _tear_down(rec) -> None:
    from dockyard.linux.netlink import Netlink
    from dockyard.network import firewall

    with Netlink() as nl:
        nl.delete_link(rec.bridge)
    firewall.remove_tagged(firewall.net_tag(rec.bridge))


def users_of(engine, rec) -> list:
    """Containers (any state) configured to use network `rec`."""
    out = []
    for c in engine.db.list_containers():
        cfg = c.config
        if (cfg.get("network") or DEFAULT_NETWORK) in (rec.name, rec.id) or rec.name in (cfg.get("networks") or {}):
            out.append(c)
    return out


def remove(engine, ref: str) -> str:
    """docker network rm: refused while any container is attached (running or not)."""
    from dockyard.state.networks import delete_network, get_network

    rec = get_network(engine.db, ref)
    if rec.name == DEFAULT_NETWORK:
        raise Conflict(f"{rec.name} is a pre-defined network and cannot be removed")
    with NetworkLock():
        users = users_of(engine, rec)
        if users:
            raise Conflict(f"error while removing network: network {rec.name} id {rec.id} has active endpoints",
                           hint="remove or disconnect: " + ", ".join(c.name for c in users))
        _tear_down(rec)
        delete_network(engine.db, rec.id)
    from dockyard.engine import events

    events.emit(engine, "network", "destroy", rec.id, {"name": rec.name, "type": "bridge"})
    return rec.name


def prune(engine, *, until: float | None = None, labels: tuple = ()) -> list[str]:
    """docker network prune: the networks no container uses (never the default one); `until`:
    only those created before then; `labels`: (key, value or None, negate) filters, as
    engine/volumes.label_filters gives them."""
    from dockyard.engine.volumes import match_labels
    from dockyard.state.networks import list_networks

    out = []
    for rec in list_networks(engine.db):
        if until is not None and rec.created >= until or not match_labels(rec.labels or {}, labels):
            continue
        if rec.name != DEFAULT_NETWORK and not users_of(engine, rec):
            out.append(remove(engine, rec.id))
    return out


def reset(engine) -> None:
    """Remove every network of this root, the default one too (`system reset`, test teardown)."""
    from dockyard.state.networks import delete_network, list_networks

    with NetworkLock():
        for rec in list_networks(engine.db):
            _tear_down(rec)
            delete_network(engine.db, rec.id)


# ---------------------------------------------------------------------------- containers


class Attachment:
    """What a running container holds: NetworkSettings to show, bound ports to release, and
    the pid of its DNS server (user networks)."""

    __slots__ = ("settings", "reservation", "had_ports", "dns_pid")

    def __init__(self, settings: dict, reservation=None, had_ports: bool = False, dns_pid: int = 0) -> None:
        self.settings, self.reservation, self.had_ports, self.dns_pid = settings, reservation, had_ports, dns_pid


def _wanted(engine, cfg) -> list[tuple]:
    """[(NetworkRecord, aliases, fixed ip, fixed mac, endpoint opts, fixed IPv6 address, link-local
    addresses)] in attach order: the first network gives the route (and takes --mac-address); a
    connected one's MAC is its EndpointConfig.MacAddress; endpoint opts: its links and driver
    options (engine/endpointopts.py)."""
    from dockyard.state.networks import find_network

    first = network_name(cfg)
    out = []
    first_mac = (cfg.host_opts or {}).get("MacAddress", "")
    for name, aliases, ip, mac, ip6, lls in [(first, list(cfg.network_aliases), cfg.ip, first_mac, cfg.ip6,
                                              list(cfg.link_local_ips))] + \
            [(n, list(v.get("aliases") or ()), v.get("ip") or "", v.get("mac") or "", v.get("ip6") or "",
              list(v.get("link_local") or ())) for n, v in (cfg.networks or {}).items()]:
        rec = ensure_default(engine) if name == DEFAULT_NETWORK else find_network(engine.db, name)
        if rec is None:
            raise NetworkNotFound(f"network {name} not found")
        out.append((rec, aliases, ip, mac, (cfg.endpoint_opts or {}).get(name) or {}, ip6, lls))
    return out


def check_config(engine, cfg) -> None:
    """At create: refuse what docker refuses, before anything is made."""
    m = mode(cfg)
    if m != "bridge":
        if cfg.ports or cfg.publish_all:
            if m == "host":
                return  # docker warns "Published ports are discarded when using host network mode"
            raise Conflict("conflicting options: port publishing and the container type network mode")
        if cfg.network_aliases or cfg.ip or cfg.ip6:
            raise InvalidArgument("network-scoped aliases, --ip and --ip6 are only supported for user-defined networks")
        if cfg.link_local_ips:
            raise InvalidArgument("--link-local-ip is only supported on bridge networks")
        return
    name = network_name(cfg)
    if name == DEFAULT_NETWORK:
        if cfg.network_aliases:
            raise InvalidArgument("network-scoped alias is supported only for containers in user defined networks")
        if cfg.ip or cfg.ip6:
            raise InvalidArgument("user specified IP address is supported on user defined networks only")
        from dockyard.network.ipv6 import link_local

        for a in cfg.link_local_ips:
            link_local(a)
        return
    from dockyard.engine.netv6 import check_fixed
    from dockyard.state.networks import find_network

    rec = find_network(engine.db, name)
    if rec is None:
        raise NetworkNotFound(f"network {name} not found")
    if cfg.ip:
        from dockyard.network.ipam import Subnet, to_int

        to_int(cfg.ip)
        if not Subnet.parse(rec.subnet).contains(cfg.ip):
            raise InvalidArgument(f"invalid IP {cfg.ip}: it is not in network {rec.name}'s subnet {rec.subnet}")
    check_fixed(rec, cfg.ip6, cfg.link_local_ips)


def attach(engine, cid: str, name: str, cfg, pid: int) -> Attachment | None:
    """Give the container at `pid` its interfaces, addresses, routes and published ports."""
    m = mode(cfg)
    if m == "host":
        return None
    if m != "bridge":  # none, container: only loopback (a joined namespace is already set up)
        if m == "none":
            from dockyard.linux.netdev import in_netns, set_link_up

            in_netns(pid, set_link_up, "lo")
        return None
    from dockyard.network import ports as portmod

    wanted = _wanted(engine, cfg)
    publish = list(cfg.ports)  # -P was resolved into ports at create
    reservation = portmod.reserve(publish, name) if publish else None
    dns_pid = 0
    try:
        with NetworkLock():
            settings = _attach_locked(engine, cid, name, wanted, pid, reservation, cfg.hostname)
        if any(rec.name != DEFAULT_NETWORK for rec, *_ in wanted):
            dns_pid = _start_dns(engine, cid, pid, servers=(cfg.host_opts or {}).get("Dns"),
                                 links=bool((cfg.host_opts or {}).get("Links")))
    except BaseException:
        if reservation is not None:
            reservation.close()
        detach(engine, cid, had_ports=bool(publish))
        raise
    from dockyard.engine import events

    for net, *_ in wanted:  # as dockerd: a start connects the container to its networks
        events.emit(engine, "network", "connect", net.id, {"container": cid, "name": net.name, "type": "bridge"})
    return Attachment(settings, reservation, bool(publish), dns_pid)


def _start_dns(engine, cid: str, pid: int, servers=None, links: bool = False) -> int:
    """Fork the container's DNS server (network/dns.py): it lives as long as the init at `pid`.
    `servers` (--dns) are its upstreams, instead of the host's, as with Docker's embedded server."""
    import _socket

    from dockyard.linux.syscalls import CLONE_NEWNET, setns
    from dockyard.network.dns import serve, upstream_servers

    own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(target, CLONE_NEWNET, "the container's network namespace")
        try:
            sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC, 0)
            sock.bind(("127.0.0.11", 53))
            listener = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC, 0)
            listener.bind(("127.0.0.11", 53))
            listener.listen(16)
        finally:
            setns(own, CLONE_NEWNET, "our own network namespace")
    finally:
        os.close(own)
        os.close(target)
    upstream = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC, 0)
    pidfd = os.pidfd_open(pid)
    servers = [s for s in servers or () if ":" not in s] or upstream_servers()
    engine.db.close()  # SQLite's locks must never cross a fork: the server opens its own
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked server
        try:
            os.setsid()  # out of the terminal's process group: Ctrl-C is for the container
            keep = {sock.fileno(), upstream.fileno(), listener.fileno(), pidfd}
            for fd in [int(f) for f in os.listdir("/proc/self/fd")]:
                if fd > 2 and fd not in keep:
                    try:
                        os.close(fd)  # the start gate, the container's pipes, the terminal: not ours
                    except OSError:
                        pass
            null = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.close(null)
            try:
                with open("/proc/self/comm", "w") as f:
                    f.write("dockyard-dns")
            except OSError:
                pass
            serve(sock, upstream, lambda n: _lookup(engine, cid, n, links=links), servers, pidfd, listener)
        finally:
            os._exit(0)
    sock.close()
    listener.close()
    upstream.close()
    os.close(pidfd)
    return child


def _lookup(engine, cid: str, name: str, *, links: bool = False) -> list[str] | None:
    """Addresses of the containers called `name` on the networks `cid` is on (None: no such)."""
    from dockyard.engine.endpointopts import resolve_alias
    from dockyard.state.networks import endpoints

    name = name.rstrip(".")
    mine = endpoints(engine.db, container_id=cid)
    ips, shadowed = resolve_alias(engine, cid, name, mine)  # moby's alias pass comes first
    if ips:
        return ips
    for ep in mine:
        if ep.network_id in shadowed:
            continue
        for peer in endpoints(engine.db, network_id=ep.network_id):
            if any(a.lower() == name for a in peer.aliases):
                ips += [ip for ip in (peer.ip, peer.ip6) if ip and ip not in ips]  # AAAA from ip6
    if not ips and links:  # a legacy --link alias of this container: its target, as dockerd's resolver answers it
        try:
            rec = engine.db.get_container(cid)
        except ContainerNotFound:
            return None
        ips = [ip for names, ip in _link_hosts(engine, rec) if name in names.lower().split()]
    return ips or None


def _host_if(cid: str, i: int) -> str:
    return f"dv{cid[:10]}{i}"


def _attach_locked(engine, cid, name, wanted, pid, reservation, hostname: str = "") -> dict:
    """A network's fixed MAC (--mac-address, EndpointConfig.MacAddress) is its interface's address,
    instead of one made from its IP."""
    from dockyard.linux.netlink import Netlink, open_in_netns
    from dockyard.state.networks import delete_endpoints

    delete_endpoints(engine.db, cid)  # left by a crash of whoever ran it before
    nets: dict = {}
    first_ip = first_bridge = None
    with Netlink() as nl, open_in_netns(f"/proc/{pid}/ns/net") as cnl:
        lo = cnl.link_index("lo")
        cnl.set_link(lo, up=True, what="bring lo up")
        for i, (rec, aliases, fixed, mac, opts, ip6, lls) in enumerate(wanted):
            one = _plug(engine, nl, cnl, cid, name, rec, aliases, fixed, pid, i, default_route=i == 0, mac=mac,
                        hostname=hostname, opts=opts, ip6=ip6, link_local=lls)
            if first_ip is None and not rec.internal:
                first_ip, first_bridge = one["IPAddress"], rec.bridge
            nets[rec.name] = one
    bound = []
    if reservation is not None and first_ip is not None:
        from dockyard.network import firewall

        bound = reservation.bound
        firewall.remove_tagged(firewall.ctr_tag(cid))  # left by a run whose monitor was killed
        firewall.apply(firewall.port_rules(cid, [(p["proto"], p["host_port"], p["host_ip"], first_ip,
                                                  p["container_port"]) for p in bound]))
    _sync_hosts(engine, [rec.id for rec, *_ in wanted])
    from dockyard.network.ports import render

    first = next(iter(nets.values()))
    return {"Networks": nets, "Ports": render(bound), "IPAddress": first["IPAddress"],
            "Gateway": first["Gateway"], "IPPrefixLen": first["IPPrefixLen"], "MacAddress": first["MacAddress"],
            "Bridge": first_bridge or "", "GlobalIPv6Address": first.get("GlobalIPv6Address", ""),
            "GlobalIPv6PrefixLen": first.get("GlobalIPv6PrefixLen", 0), "IPv6Gateway": first.get("IPv6Gateway", "")}


def detach(engine, cid: str, *, had_ports: bool = True, attachment: Attachment | None = None,
           reap_links: bool = False) -> None:
    """Give back what `attach` took; safe to call for a container that holds nothing.

    The veth pairs go with the container's network namespace, so a normal exit leaves them to
    the kernel (deleting one by hand waits for an RCU grace period: ~15 ms of every `run`);
    `reap_links` (rm, crash repair) deletes any that something kept alive."""
    from dockyard.state.networks import delete_endpoints, endpoints

    if attachment is not None:
        had_ports = attachment.had_ports
        if attachment.reservation is not None:
            attachment.reservation.close()
        if attachment.dns_pid:  # it leaves by itself when the init exits; this is for a failed start
            try:
                os.kill(attachment.dns_pid, 9)
            except ProcessLookupError:
                pass
    eps = endpoints(engine.db, container_id=cid)
    if not eps and not had_ports and not reap_links:
        return
    _report_disconnects(engine, cid, eps)
    with NetworkLock():
        engine.db.must(delete_endpoints, engine.db, cid)  # even on a full disk: the address goes back
        if had_ports:
            from dockyard.network import firewall

            firewall.remove_tagged(firewall.ctr_tag(cid))
        if reap_links:  # also when a monitor gave the endpoints back: the kernel may not be done
            from dockyard.linux.netlink import Netlink

            with Netlink() as nl:
                for i in range(len(eps) + 3):  # + hot-plugged ones a disconnect renumbered
                    if nl.link_index(_host_if(cid, i)) is not None:
                        nl.delete_link(_host_if(cid, i))
        if eps:
            _sync_hosts(engine, [e.network_id for e in eps])


def extra_hosts(engine, host_opts: dict, *, make: bool = True) -> list[tuple[str, str]]:
    """HostConfig.ExtraHosts as (name, address) pairs; host-gateway is the default bridge's gateway
    (Docker's docker0 address), made if need be. `make=False` (under
    the network lock, which is not reentrant): the default network is looked up, never made."""
    from dockyard.engine.hostopts import split_extra_host
    from dockyard.state.networks import find_network

    out = []
    for h in host_opts.get("ExtraHosts") or ():
        name, ip = split_extra_host(h)
        if ip == "host-gateway":
            rec = ensure_default(engine) if make else find_network(engine.db, DEFAULT_NETWORK)
            if rec is None:
                continue
            ip = rec.gateway
        out.append((name, ip))
    return out


def _sync_hosts(engine, network_ids: list[str]) -> None:
    """Rewrite /etc/hosts of every container on these networks from the endpoints table."""
    from dockyard.network.etcfiles import hosts_content
    from dockyard.state.networks import endpoints

    touched = {e.container_id for nid in set(network_ids) for e in endpoints(engine.db, network_id=nid)}
    for cid in touched:
        mine = endpoints(engine.db, container_id=cid)
        extra, own_ip = [], mine[0].ip if mine else None
        for ep in mine:
            if not ep.aliases:
                continue  # the default network: no name resolution, as with docker
            for peer in endpoints(engine.db, network_id=ep.network_id):
                if peer.container_id != cid and peer.aliases:
                    extra += [(" ".join(peer.aliases), ip) for ip in (peer.ip, peer.ip6) if ip]
        try:
            rec = engine.db.get_container(cid)
        except ContainerNotFound:  # removed meanwhile
            continue
        hostname = rec.state.get("Hostname") or cid[:12]
        path = os.path.join(engine.container_dir(cid), "hosts")
        if not os.path.exists(path) or (rec.config.get("network") or "").startswith("container:"):
            continue
        opts = rec.config.get("host_opts") or {}
        text = hosts_content(hostname, own_ip, extra_hosts(engine, opts, make=False) + _link_hosts(engine, rec) + extra,
                             ip6=mine[0].ip6 if mine else "")
        with open(path, "r+") as f:  # in place: the container's bind mount holds this inode
            f.write(text)
            f.truncate()


def _link_hosts(engine, rec) -> list[tuple[str, str]]:
    """The hosts lines of a container's --link targets that run (a rewrite keeps them)."""
    links = (rec.config.get("host_opts") or {}).get("Links")
    if not links:
        return []
    from dockyard.engine.config import ContainerConfig
    from dockyard.engine.links import hosts, resolve
    from dockyard.errors import DockyardError

    try:
        return hosts(resolve(engine, links, rec.name, networks_of(ContainerConfig.from_json(rec.config))))
    except DockyardError:  # a target stopped or gone since the start: its line goes
        return []


def networks_of(cfg) -> list[str]:
    """The names of the networks a container is on, its first (route-giving) one first."""
    return [network_name(cfg), *sorted(cfg.networks or {})]


def connect(engine, net_ref: str, container_ref: str, *, aliases: list[str] = (), ip: str = "",
            mac: str = "", links: list[str] = (), driver_opts: dict | None = None, ip6: str = "",
            link_local: list[str] = ()) -> None:
    """docker network connect: recorded in the config; a running container gets the interface now.
    `links`, `driver_opts`: the endpoint's network-scoped links and driver options (endpointopts.py).
    A container disconnected from all its networks (left with loopback, network mode `none`) may be
    connected again, as dockerd allows: the network becomes its first one (the default route)."""
    from dockyard.engine.config import ContainerConfig
    from dockyard.engine.status import ContainerLock, effective_state, update_state
    from dockyard.state.networks import get_network

    from dockyard.engine.netv6 import check_fixed

    # the default bridge is made on first use, as by a start (`network ls` shows it always)
    net = ensure_default(engine) if net_ref in (DEFAULT_NETWORK, "default") else get_network(engine.db, net_ref)
    rec = engine.db.get_container(container_ref)
    if ip6 and net.name == DEFAULT_NETWORK:
        raise InvalidArgument("user specified IP address is supported on user defined networks only")
    ip6, link_local = check_fixed(net, ip6, link_local)
    with ContainerLock(engine, rec.id):
        rec = engine.db.get_container(rec.id)
        cfg = ContainerConfig.from_json(rec.config)
        st = effective_state(rec, engine.db)
        emptied = cfg.network == "none" and bool(st.get("DisconnectedFrom"))
        if mode(cfg) != "bridge" and not emptied:
            raise Conflict(f"container {rec.name} cannot be connected to a network: its network mode is "
                           f"{cfg.network}")
        if not emptied and (net.name == network_name(cfg) or net.name in (cfg.networks or {})):
            raise AlreadyExists(f"endpoint with name {rec.name} already exists in network {net.name}")
        if net.name == DEFAULT_NETWORK and aliases:
            raise InvalidArgument("network-scoped alias is supported only for containers in user defined networks")
        from dockyard.engine.endpointopts import check, user_defined

        opts = check(net.name, links, driver_opts, "EndpointConfig.")
        if links and not emptied and not user_defined(network_name(cfg)):
            from dockyard.errors import NotImplemented

            # resolv.conf names 127.0.0.11 only when the first network is a user network (launch.py)
            raise NotImplemented(f"network-scoped links of {rec.name} on {net.name} would not resolve: dockyard gives "
                                 "the embedded DNS only to a container whose first network is a user network")
        eopts = {k: v for k, v in (cfg.endpoint_opts or {}).items() if k != net.name}
        if opts:
            eopts[net.name] = opts
        if emptied:
            hopts = {k: v for k, v in (cfg.host_opts or {}).items() if k != "MacAddress"}
            new = cfg.replace(network=net.name, network_aliases=tuple(aliases), ip=ip, ip6=ip6,
                              link_local_ips=tuple(link_local),
                              host_opts=dict(hopts, **({"MacAddress": mac} if mac else {})), endpoint_opts=eopts)
        else:
            networks = dict(cfg.networks or {})
            networks[net.name] = {"aliases": list(aliases), "ip": ip, **({"mac": mac} if mac else {}),
                                  **({"ip6": ip6} if ip6 else {}), **({"link_local": link_local} if link_local else {})}
            new = cfg.replace(networks=networks, endpoint_opts=eopts)
        if st.get("Status") in ("running", "paused"):
            _hot_plug(engine, rec, net, list(aliases), ip, st, mac, first=emptied, opts=opts, ip6=ip6,
                      link_local=link_local)
        engine.db.update_config(rec.id, new.to_json())
        if emptied:
            update_state(engine, rec.id, DisconnectedFrom="")
    from dockyard.engine import events

    events.emit(engine, "network", "connect", net.id, {"container": rec.id, "name": net.name, "type": "bridge"})


def _hot_plug(engine, rec, net, aliases, ip, st, mac: str = "", first: bool = False, opts=None, ip6: str = "",
              link_local=()) -> None:
    from dockyard.engine.status import update_state
    from dockyard.state.networks import endpoints

    pid = st["Pid"]
    index = len(endpoints(engine.db, container_id=rec.id))
    with NetworkLock():
        settings = dict(st.get("NetworkSettings") or {})
        from dockyard.linux.netlink import Netlink, open_in_netns

        with Netlink() as nl, open_in_netns(f"/proc/{pid}/ns/net") as cnl:
            one = _plug(engine, nl, cnl, rec.id, rec.name, net, aliases, ip, pid, index, default_route=first,
                        mac=mac, hostname=rec.config.get("hostname") or "", opts=opts, ip6=ip6,
                        link_local=link_local)
        settings.setdefault("Networks", {})[net.name] = one
        _sync_hosts(engine, [net.id])
    update_state(engine, rec.id, NetworkSettings=settings)


def _plug(engine, nl, cnl, cid, name, rec, aliases, fixed, pid, i, *, default_route: bool, mac: str = "",
          hostname: str = "", opts=None, ip6: str = "", link_local=()) -> dict:
    """One network for the container at `pid`: an address from the IPAM (recorded first, so two
    starts cannot take the same one), a veth pair into the bridge, the address and (for the first
    network, unless --internal) the default route inside. `nl`/`cnl`: netlink sockets in the
    host's and in the container's namespace. Returns its NetworkSettings.Networks entry. On a user
    network the names it answers to are moby's DNSNames: name, aliases, short id, hostname. `opts`:
    the endpoint's links and driver options (its interface name and sysctls: engine/endpointopts.py);
    `ip6`, `link_local`: a fixed IPv6 address and link-local addresses (engine/netv6.py)."""
    from dockyard.engine.endpointopts import apply_sysctls, interface_name
    from dockyard.network import firewall, ipam
    from dockyard.state.networks import Endpoint, insert_endpoint, used_addresses

    br = nl.link_index(rec.bridge)
    if br is None or not firewall.stamped(rec.bridge, engine.root):
        # after a reboot, removed by hand, or made by an older dockyard: make it (or its rules) again
        _bring_up(rec, engine.root)
        br = nl.link_index(rec.bridge)
    sub = ipam.Subnet.parse(rec.subnet)
    used = used_addresses(engine.db, rec.id)
    aux = set((rec.ipam.get("AuxiliaryAddresses") or {}).values())
    if fixed and (fixed in used or fixed in aux or fixed == rec.gateway):
        raise Conflict(f"Address already in use: {fixed} on network {rec.name}")
    ip = fixed or ipam.allocate(sub, used, rec.gateway, pool=ipam.pool_of(rec.ipam), reserved=aux,
                                network=f"{rec.name} ({rec.id})")
    mac = mac or ipam.mac_for(ip)
    names = [] if rec.name == DEFAULT_NETWORK else list(dict.fromkeys([name, *aliases, cid[:12], hostname or cid[:12]]))
    host_if = _host_if(cid, i)
    ifname = interface_name(opts or {}, "")  # found before anything is recorded or made
    if ifname:
        if cnl.link_index(ifname) is not None:
            raise Conflict(f"interface {ifname} already exists in the container (driver option "
                           "com.docker.network.endpoint.ifname)")
    else:
        ifname = f"eth{i}"
        while cnl.link_index(ifname) is not None:  # hot-plugged after a disconnect left a gap
            i += 1
            ifname = f"eth{i}"
    from dockyard.engine import netv6

    ip6 = netv6.endpoint_address(engine, rec, ip6)
    # Conflict if another endpoint holds either address (recorded first: two starts cannot share one)
    insert_endpoint(engine.db, Endpoint(network_id=rec.id, container_id=cid, ip=ip, mac=mac, aliases=names, ip6=ip6))
    if nl.link_index(host_if) is not None:  # a dead namespace's pair not yet reaped
        nl.delete_link(host_if)
    nl.create_veth(host_if, ifname, pid, mac)
    hidx = nl.link_index(host_if)
    nl.set_link(hidx, master=br, what=f"attach {host_if} to {rec.bridge}")
    nl.set_link(hidx, up=True, what=f"bring {host_if} up")
    cidx = cnl.link_index(ifname)
    cnl.add_address(cidx, ip, sub.prefix, sub.broadcast)
    cnl.set_link(cidx, up=True, what=f"bring {ifname} up")
    if default_route and not rec.internal:
        cnl.add_default_route(rec.gateway, cidx)
    try:
        v6 = netv6.plug(cnl, pid, cidx, ifname, rec, ip6, list(link_local), default_route)
        apply_sysctls(pid, ifname, opts or {})  # last: the user's values win over plug's own
    except BaseException:  # the endpoint is not half made: its pair and its address go
        from dockyard.state.networks import delete_endpoints

        nl.delete_link(host_if)
        delete_endpoints(engine.db, cid, rec.id)
        raise
    return {"NetworkID": rec.id, "EndpointID": cid[:32] + rec.id[:32], "Gateway": rec.gateway, "IPAddress": ip,
            "IPPrefixLen": sub.prefix, "MacAddress": mac, "Aliases": names[1:] if names else None,
            "DNSNames": names or None, "Interface": ifname, **v6}


def _forget_gone_network(engine, container_ref: str, name: str) -> None:
    from dockyard.engine.config import ContainerConfig
    from dockyard.engine.status import ContainerLock

    rec = engine.db.get_container(container_ref)
    with ContainerLock(engine, rec.id):
        cfg = ContainerConfig.from_json(engine.db.get_container(rec.id).config)
        if name not in (cfg.networks or {}):
            raise NetworkNotFound(f"network {name} not found")
        engine.db.update_config(rec.id, cfg.replace(
            networks={k: v for k, v in cfg.networks.items() if k != name},
            endpoint_opts={k: v for k, v in (cfg.endpoint_opts or {}).items() if k != name}).to_json())


def disconnect(engine, net_ref: str, container_ref: str, *, force: bool = False) -> None:
    """docker network disconnect: the interface goes now if it runs; the config forgets it.
    `force`, as dockerd's: a container may forget a network that no longer exists."""
    from dockyard.engine.config import ContainerConfig
    from dockyard.engine.status import ContainerLock, effective_state, update_state
    from dockyard.state.networks import delete_endpoints, endpoints, get_network

    try:
        net = get_network(engine.db, net_ref)
    except NetworkNotFound:
        if force:
            _forget_gone_network(engine, container_ref, net_ref)
            return
        raise
    rec = engine.db.get_container(container_ref)
    with ContainerLock(engine, rec.id):
        rec = engine.db.get_container(rec.id)
        cfg = ContainerConfig.from_json(rec.config)
        networks = dict(cfg.networks or {})
        if net.name in networks:
            del networks[net.name]
            new = cfg.replace(networks=networks)
        elif mode(cfg) == "bridge" and network_name(cfg) == net.name:
            # the first network: the next one (if any) takes its place, else the container is left
            # with loopback only, as docker leaves it
            if networks:
                nxt = next(iter(networks))
                conf = networks.pop(nxt)
                opts = {k: v for k, v in (cfg.host_opts or {}).items() if k != "MacAddress"}
                if conf.get("mac"):  # the first network's MAC is --mac-address's place
                    opts["MacAddress"] = conf["mac"]
                new = cfg.replace(network=nxt, networks=networks, network_aliases=tuple(conf.get("aliases") or ()),
                                  ip=conf.get("ip") or "", ip6=conf.get("ip6") or "",
                                  link_local_ips=tuple(conf.get("link_local") or ()), host_opts=opts)
            else:  # DisconnectedFrom: a network may be connected again (see connect)
                new = cfg.replace(network="none", network_aliases=(), ip="", ip6="", link_local_ips=())
                update_state(engine, rec.id, DisconnectedFrom=net.name)
        else:  # force too, as dockerd (its force only matters for a network that is gone)
            raise NotConnected(f"container {rec.id[:12]} is not connected to network {net.name}")
        if new.endpoint_opts:  # its links and driver options go with the endpoint (by name or id given)
            new = new.replace(endpoint_opts={k: v for k, v in new.endpoint_opts.items()
                                             if k not in (net.name, net.id) and not net.id.startswith(k)})
        st = effective_state(rec, engine.db)
        if st.get("Status") in ("running", "paused"):
            with NetworkLock():
                eps = [e for e in endpoints(engine.db, container_id=rec.id) if e.network_id == net.id]
                if eps:
                    from dockyard.linux.netlink import open_in_netns

                    settings = dict(st.get("NetworkSettings") or {})
                    one = (settings.get("Networks") or {}).pop(net.name, {}) or {}
                    ifname = one.get("Interface") or _guess_ifname(engine, rec.id, net.id)
                    try:
                        with open_in_netns(f"/proc/{st['Pid']}/ns/net") as cnl:
                            cnl.delete_link(ifname)
                    except OSError:
                        pass
                    delete_endpoints(engine.db, rec.id, net.id)
                    _sync_hosts(engine, [net.id] + [e.network_id for e in endpoints(engine.db, container_id=rec.id)])
                    update_state(engine, rec.id, NetworkSettings=settings)
        engine.db.update_config(rec.id, new.to_json())
    from dockyard.engine import events

    events.emit(engine, "network", "disconnect", net.id, {"container": rec.id, "name": net.name, "type": "bridge"})


def _guess_ifname(engine, cid: str, network_id: str) -> str:
    from dockyard.state.networks import endpoints

    for i, e in enumerate(endpoints(engine.db, container_id=cid)):
        if e.network_id == network_id:
            return f"eth{i}"
    return "eth0"


def _report_disconnects(engine, cid: str, eps) -> None:
    from dockyard.engine import events
    from dockyard.errors import NotFound
    from dockyard.state.networks import get_network

    for net_id in dict.fromkeys(e.network_id for e in eps):
        try:
            name = get_network(engine.db, net_id).name
        except NotFound:
            continue
        events.emit(engine, "network", "disconnect", net_id, {"container": cid, "name": name, "type": "bridge"})
