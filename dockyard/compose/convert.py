"""One normalized Compose service (the `docker compose config --format json` form) → an Engine API
ContainerCreate body, as Docker Compose v2 builds it, plus the config hash it labels containers with.

Every service key is either turned into the body or refused naming the service and the key: a
key that would be silently dropped is a defect. What the engine checks (values, ranges, signals,
mounts) it checks itself in engine/create.py, so messages stay Docker's.
"""

from __future__ import annotations

import hashlib
import json
import os

from dockyard.errors import Conflict, InvalidArgument

LABEL = "com.docker.compose."
VERSION = "2.40.3"  # the Compose v2 release whose behaviour and labels this follows

# keys that change nothing in a container (ordering, build, scale) or are handled by the caller
_NOT_IN_BODY = {"build", "depends_on", "profiles", "pull_policy", "scale", "container_name", "attach", "x-",
                "develop"}
_HANDLED = {
    "image", "command", "entrypoint", "environment", "ports", "expose", "volumes", "tmpfs", "networks",
    "network_mode", "healthcheck", "restart", "deploy", "mem_limit", "memswap_limit", "mem_reservation", "cpus",
    "cpu_shares", "cpuset", "pids_limit", "user", "working_dir", "read_only", "cap_add", "cap_drop", "security_opt",
    "labels", "hostname", "domainname", "stop_signal", "stop_grace_period", "init", "ulimits", "sysctls", "secrets",
    "configs", "logging", "extra_hosts", "dns", "dns_search", "dns_opt", "tty", "stdin_open", "privileged",
    "shm_size", "group_add", "oom_score_adj", "pid", "ipc", "devices", "mac_address", "platform", "runtime",
    "annotations", "cgroup_parent", "userns_mode", "uts", "cgroup", "env_file", "label_file", "oom_kill_disable",
    "links", "external_links",
} | _NOT_IN_BODY


def service_hash(service: dict) -> str:
    """Compose v2's ServiceHash: the service without what never changes a container (build, pull
    policy, scale, replicas, depends_on ordering is kept as v2 keeps it), as canonical JSON, sha256."""
    s = {k: v for k, v in service.items() if k not in ("build", "pull_policy", "scale")}
    if isinstance(s.get("deploy"), dict):
        s["deploy"] = dict(s["deploy"], replicas=1)
    return hashlib.sha256(json.dumps(s, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def image_name(project: str, name: str, service: dict) -> str:
    """The image a service runs: `image:`, else the one `build:` makes, `<project>-<service>`."""
    return service.get("image") or f"{project}-{name}"


def _refuse(svc: str, key: str, why: str) -> InvalidArgument:
    return InvalidArgument(f"service {svc!r}: {key}: {why}")


def check_keys(svc: str, service: dict) -> None:
    for key in service:
        if key not in _HANDLED and not key.startswith("x-"):
            raise _refuse(svc, key, "dockyard compose does not support this key")


def duration_ns(svc: str, key: str, value) -> int:
    """A Compose duration ("1m30s", or a number of seconds) → nanoseconds."""
    from dockyard.builder.dockerfile import parse_duration
    from dockyard.errors import DockyardError

    if isinstance(value, (int, float)):
        return int(value * 1e9)
    try:
        return parse_duration(str(value))
    except DockyardError as e:
        raise _refuse(svc, key, str(e)) from None


def _bytes(svc: str, key: str, value) -> int:
    if isinstance(value, int):
        return value
    from dockyard.units import SizeError, ram_in_bytes

    try:
        return ram_in_bytes(str(value))
    except SizeError as e:
        raise _refuse(svc, key, str(e)) from None


def _cmd(value):
    if value is None:
        return None
    if isinstance(value, str):
        import shlex

        return shlex.split(value)
    return [str(v) for v in value]


class Context:
    """What a service's body needs from the project: names of its resources and its peers."""

    def __init__(self, project, container_of=None) -> None:
        self.project = project
        self.container_of = container_of  # service name → a container name (network_mode: service:x)

    def network_name(self, key: str) -> str:
        nets = self.project.networks or {}
        n = nets.get(key) or {}
        return n.get("name") or f"{self.project.name}_{key}"

    def volume_name(self, key: str) -> str:
        vols = self.project.volumes or {}
        if key not in vols:
            return key  # not declared: the loader refuses it; a bind-like name stays as given
        return (vols[key] or {}).get("name") or f"{self.project.name}_{key}"


def create_body(ctx: Context, svc: str, service: dict, *, number: int, name: str, labels: dict,
                oneoff: bool = False) -> tuple[dict, list[tuple[str, list[str], str]]]:
    """The body for container `name` (replica `number`) of service `svc`, and the further networks
    [(network, aliases, ipv4)] to connect after create (the engine takes one network at create)."""
    check_keys(svc, service)
    s = service
    body: dict = {
        "Image": image_name(ctx.project.name, svc, s), "Cmd": _cmd(s.get("command")),
        "Env": [f"{k}={v}" for k, v in (s.get("environment") or {}).items() if v is not None],
        "User": s.get("user") or "", "WorkingDir": s.get("working_dir") or "",
        "Hostname": s.get("hostname") or "", "Domainname": s.get("domainname") or "",
        "Labels": {**(s.get("labels") or {}), **labels}, "Tty": bool(s.get("tty")),
        "OpenStdin": bool(s.get("stdin_open")),
    }
    if s.get("entrypoint") is not None:
        body["Entrypoint"] = _cmd(s["entrypoint"])
    if s.get("stop_signal"):
        body["StopSignal"] = s["stop_signal"]
    if s.get("stop_grace_period") is not None:
        body["StopTimeout"] = duration_ns(svc, "stop_grace_period", s["stop_grace_period"]) // 1_000_000_000
    if s.get("expose"):
        body["ExposedPorts"] = {(p if "/" in str(p) else f"{p}/tcp"): {} for p in map(str, s["expose"])}
    if s.get("mac_address"):
        body["MacAddress"] = s["mac_address"]
    if s.get("healthcheck") is not None:
        body["Healthcheck"] = healthcheck(svc, s["healthcheck"])
    host = _host(ctx, svc, s)
    if s.get("annotations"):
        host["Annotations"] = dict(s["annotations"])
    body["HostConfig"] = host
    extra = _networks(ctx, svc, s, name, body, oneoff=oneoff)
    return body, extra


def healthcheck(svc: str, hc: dict) -> dict:
    """A Compose healthcheck in the Engine API's form (Test, durations in ns, Retries)."""
    if hc.get("disable"):
        return {"Test": ["NONE"]}
    out: dict = {}
    test = hc.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if test is not None:
        out["Test"] = list(test)
    for key, api in (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod"),
                     ("start_interval", "StartInterval")):
        if hc.get(key) is not None:
            out[api] = duration_ns(svc, f"healthcheck.{key}", hc[key])
    if hc.get("retries") is not None:
        out["Retries"] = int(hc["retries"])
    return out


def _host(ctx: Context, svc: str, s: dict) -> dict:
    host: dict = {
        "ReadonlyRootfs": bool(s.get("read_only")), "CapAdd": list(s.get("cap_add") or ()),
        "CapDrop": list(s.get("cap_drop") or ()), "Privileged": bool(s.get("privileged")),
        "SecurityOpt": list(s.get("security_opt") or ()), "Init": bool(s.get("init")),
    }
    restart = s.get("restart") or "no"
    name, _, count = restart.partition(":")
    host["RestartPolicy"] = {"Name": name, "MaximumRetryCount": int(count) if count.isdigit() else 0}
    if count and not count.isdigit():
        raise _refuse(svc, "restart", f"invalid restart policy {restart!r}")
    log = s.get("logging") or {}
    if log:
        driver = log.get("driver") or "json-file"
        if driver not in ("json-file", "none"):
            raise _refuse(svc, "logging.driver", f"{driver!r} is not supported; use json-file or none")
        host["LogConfig"] = {"Type": driver, "Config": {k: str(v) for k, v in (log.get("options") or {}).items()}}
    if s.get("runtime"):
        host["Runtime"] = s["runtime"]
    if s.get("userns_mode"):
        host["UsernsMode"] = s["userns_mode"]
    _resources(svc, s, host)
    _ports(svc, s, host)
    _mounts(ctx, svc, s, host)
    for key, api in (("extra_hosts", "ExtraHosts"), ("dns", "Dns"), ("dns_search", "DnsSearch"),
                     ("dns_opt", "DnsOptions"), ("group_add", "GroupAdd")):
        value = s.get(key)
        if value:
            value = [value] if isinstance(value, str) else list(value)
            if key == "extra_hosts":  # the loader writes host=ip, the engine takes host:ip
                value = [v.replace("=", ":", 1) if "=" in v else v for v in value]
            host[api] = [str(v) for v in value]
    links = _links(ctx, s)
    if links:
        host["Links"] = links
    if s.get("sysctls"):
        host["Sysctls"] = {k: str(v) for k, v in s["sysctls"].items()}
    if s.get("ulimits"):
        host["Ulimits"] = [{"Name": k, "Soft": v, "Hard": v} if isinstance(v, int) else
                           {"Name": k, "Soft": v.get("soft", 0), "Hard": v.get("hard", 0)} for k, v in s["ulimits"].items()]
    for key, api in (("shm_size", "ShmSize"),):
        if s.get(key) is not None:
            host[api] = _bytes(svc, key, s[key])
    for key, api in (("oom_score_adj", "OomScoreAdj"), ("oom_kill_disable", "OomKillDisable"),
                     ("cgroup_parent", "CgroupParent")):
        if s.get(key) is not None:
            host[api] = s[key]
    for key, api in (("pid", "PidMode"), ("ipc", "IpcMode"), ("uts", "UTSMode"), ("cgroup", "CgroupnsMode")):
        if s.get(key):
            host[api] = _peer_mode(ctx, svc, key, s[key])
    if s.get("devices"):
        host["Devices"] = [_device(svc, d) for d in s["devices"]]
    return host


def _device(svc: str, d) -> dict:
    if isinstance(d, dict):
        return {"PathOnHost": d.get("source", ""), "PathInContainer": d.get("target", "") or d.get("source", ""),
                "CgroupPermissions": d.get("permissions") or "rwm"}
    parts = str(d).split(":")
    if len(parts) > 3:
        raise _refuse(svc, "devices", f"invalid device {d!r}")
    parts += [""] * (3 - len(parts))
    return {"PathOnHost": parts[0], "PathInContainer": parts[1] or parts[0], "CgroupPermissions": parts[2] or "rwm"}


def _links(ctx: Context, s: dict) -> list[str]:
    """`links: [svc[:alias]]` → HostConfig.Links to the service's container, and `external_links:
    [container[:alias]]` as given (Compose v2's getLinks); a linked service without a container
    gives none, as v2's. The engine (engine/links.py) checks them."""
    out = []
    for raw in s.get("links") or ():
        peer, _, alias = str(raw).partition(":")
        if ctx.container_of is None:
            continue
        try:
            out.append(f"{ctx.container_of(peer)}:{alias or peer}")
        except Conflict:
            continue
    out += [str(v) for v in s.get("external_links") or ()]
    return out


def _peer_mode(ctx: Context, svc: str, key: str, value: str) -> str:
    if value.startswith("service:"):
        peer = value.partition(":")[2]
        if ctx.container_of is None:
            raise _refuse(svc, key, f"service {peer!r} has no container")
        return "container:" + ctx.container_of(peer)
    return value


def _resources(svc: str, s: dict, host: dict) -> None:
    res = ((s.get("deploy") or {}).get("resources")) or {}
    limits, reserve = res.get("limits") or {}, res.get("reservations") or {}
    for k in limits:
        if k not in ("cpus", "memory", "pids"):
            raise _refuse(svc, f"deploy.resources.limits.{k}", "not supported")
    for k in reserve:
        if k not in ("cpus", "memory"):
            raise _refuse(svc, f"deploy.resources.reservations.{k}", "not supported (no devices or generic resources)")
    for k in s.get("deploy") or {}:
        if k not in ("resources", "replicas", "restart_policy", "labels", "placement", "mode"):
            raise _refuse(svc, f"deploy.{k}", "a Swarm setting dockyard does not honour")
    deploy = s.get("deploy") or {}
    if deploy.get("mode") not in (None, "replicated"):
        raise _refuse(svc, "deploy.mode", f"{deploy['mode']!r} is a Swarm mode; only replicated is supported")
    if (deploy.get("placement") or {}):
        raise _refuse(svc, "deploy.placement", "a Swarm setting dockyard does not honour")
    if deploy.get("labels"):
        raise _refuse(svc, "deploy.labels", "Swarm service labels; use labels")
    rp = deploy.get("restart_policy")
    if rp:
        cond = {"any": "always", "on-failure": "on-failure", "none": "no"}.get(rp.get("condition") or "any")
        if cond is None or set(rp) - {"condition", "max_attempts"}:
            raise _refuse(svc, "deploy.restart_policy", "only condition and max_attempts are supported")
        host["RestartPolicy"] = {"Name": cond, "MaximumRetryCount": int(rp.get("max_attempts") or 0)}
    cpus = limits.get("cpus", s.get("cpus"))
    if cpus not in (None, 0, "0"):
        host["NanoCpus"] = int(round(float(cpus) * 1e9))
    memory = limits.get("memory", s.get("mem_limit"))
    if memory not in (None, 0, "0"):
        host["Memory"] = _bytes(svc, "mem_limit", memory)
    if s.get("memswap_limit") not in (None, 0, "0"):
        host["MemorySwap"] = -1 if str(s["memswap_limit"]) == "-1" else _bytes(svc, "memswap_limit", s["memswap_limit"])
    pids = limits.get("pids", s.get("pids_limit"))
    if pids not in (None, 0):
        host["PidsLimit"] = int(pids)
    mres = reserve.get("memory", s.get("mem_reservation"))
    if mres not in (None, 0, "0"):
        host["MemoryReservation"] = _bytes(svc, "mem_reservation", mres)
    if reserve.get("cpus") not in (None, 0, "0"):  # Compose v2: a CPU reservation becomes relative shares
        host["CpuShares"] = int(float(reserve["cpus"]) * 1024)
    if s.get("cpu_shares"):
        host["CpuShares"] = int(s["cpu_shares"])
    if s.get("cpuset"):
        host["CpusetCpus"] = str(s["cpuset"])


def _ports(svc: str, s: dict, host: dict) -> None:
    bindings: dict = {}
    for p in s.get("ports") or ():
        if p.get("mode", "ingress") not in ("ingress", "host"):
            raise _refuse(svc, "ports.mode", f"invalid mode {p['mode']!r}")
        target, proto = str(p["target"]), p.get("protocol") or "tcp"
        published = str(p.get("published") or "")
        if "-" in target:
            raise _refuse(svc, "ports", f"container port ranges ({target}) are not supported")
        if "-" in published:  # a host range: one port of it, as dockerd picks the first free one
            raise _refuse(svc, "ports", f"host port ranges ({published}) are not supported")
        bindings.setdefault(f"{target}/{proto}", []).append({"HostIp": p.get("host_ip") or "", "HostPort": published})
    if bindings:
        host["PortBindings"] = bindings


def _mounts(ctx: Context, svc: str, s: dict, host: dict) -> None:
    mounts = []
    for v in s.get("volumes") or ():
        kind, target = v.get("type"), v.get("target")
        for key, allowed in (("", ("type", "source", "target", "read_only", "bind", "volume", "tmpfs", "consistency")),
                             ("bind.", ("propagation", "create_host_path")), ("volume.", ("nocopy",)),
                             ("tmpfs.", ("size", "mode"))):
            part = v if not key else (v.get(key[:-1]) or {})
            extra = sorted(set(part) - set(allowed))
            if extra:
                raise _refuse(svc, f"volumes.{key}{extra[0]}", f"not supported (mount of {target})")
        m: dict = {"Type": kind, "Target": target, "ReadOnly": bool(v.get("read_only"))}
        if kind == "volume":
            if v.get("source"):
                m["Source"] = ctx.volume_name(v["source"])
            if (v.get("volume") or {}).get("nocopy"):
                m["VolumeOptions"] = {"NoCopy": True}
        elif kind == "bind":
            src = v.get("source") or ""
            bind = v.get("bind") or {}
            if bind.get("create_host_path") and src and not os.path.exists(src):
                os.makedirs(src, exist_ok=True)  # docker -v's rule, which Compose keeps for short syntax
            m["Source"] = src
            if bind.get("propagation"):
                m["BindOptions"] = {"Propagation": bind["propagation"]}
        elif kind == "tmpfs":
            t = v.get("tmpfs") or {}
            opts: dict = {}
            if t.get("size"):
                opts["SizeBytes"] = _bytes(svc, "volumes.tmpfs.size", t["size"])
            if t.get("mode"):
                opts["Mode"] = int(t["mode"])
            if opts:
                m["TmpfsOptions"] = opts
        else:
            raise _refuse(svc, "volumes", f"mount type {kind!r} is not supported (volume, bind, tmpfs)")
        mounts.append(m)
    for key, where, top in (("secrets", "/run/secrets/", ctx.project.secrets), ("configs", "/", ctx.project.configs)):
        for ref in s.get(key) or ():
            ref = {"source": ref} if isinstance(ref, str) else ref
            src = ref.get("source")
            decl = (top or {}).get(src)
            if decl is None:
                raise _refuse(svc, key, f"{src!r} is not declared at the top level")
            if not decl.get("file"):
                raise _refuse(svc, key, f"{src!r}: only file sources are supported")
            target = ref.get("target") or src
            if not target.startswith("/"):
                target = where + target
            if ref.get("uid") or ref.get("gid") or ref.get("mode") is not None:
                raise _refuse(svc, f"{key}.{src}", "uid, gid and mode need a copy; dockyard binds the file read-only")
            mounts.append({"Type": "bind", "Source": decl["file"], "Target": target, "ReadOnly": True})
    if mounts:
        host["Mounts"] = mounts
    if s.get("tmpfs"):
        tmpfs = [s["tmpfs"]] if isinstance(s["tmpfs"], str) else s["tmpfs"]
        host["Tmpfs"] = {t.partition(":")[0]: t.partition(":")[2] for t in tmpfs}


def service_networks(s: dict) -> dict:
    """The networks a service joins (name → settings), `default` when it names none."""
    if s.get("network_mode"):
        return {}
    nets = s.get("networks")
    if nets is None:
        return {"default": None}
    return dict(nets)


def _networks(ctx: Context, svc: str, s: dict, name: str, body: dict, *, oneoff: bool) -> list:
    host = body["HostConfig"]
    mode = s.get("network_mode")
    if mode:
        if mode.startswith("service:"):
            mode = _peer_mode(ctx, svc, "network_mode", mode)
        elif mode not in ("host", "none", "bridge") and not mode.startswith("container:"):
            raise _refuse(svc, "network_mode", f"{mode!r} is not supported (host, none, bridge, service:, container:)")
        host["NetworkMode"] = mode
        return []
    nets = service_networks(s)
    # Compose v2 orders networks by priority (higher first), then name
    order = sorted(nets.items(), key=lambda kv: (-int((kv[1] or {}).get("priority") or 0), kv[0]))
    joined = []
    for key, settings in order:
        settings = settings or {}
        for k in settings:
            if k not in ("aliases", "ipv4_address", "ipv6_address", "link_local_ips", "priority"):
                raise _refuse(svc, f"networks.{key}.{k}", "not supported")
        aliases = [] if oneoff else [svc, name]  # Compose v2: service name and container name
        aliases += [a for a in settings.get("aliases") or () if a not in aliases]
        joined.append((ctx.network_name(key), aliases, settings.get("ipv4_address") or "",
                       settings.get("ipv6_address") or "", list(settings.get("link_local_ips") or ())))
    first, aliases, ip, ip6, link_local = joined[0]
    host["NetworkMode"] = first
    endpoint: dict = {"Aliases": aliases}
    ipam = {k: v for k, v in (("IPv4Address", ip), ("IPv6Address", ip6), ("LinkLocalIPs", link_local)) if v}
    if ipam:
        endpoint["IPAMConfig"] = ipam
    body["NetworkingConfig"] = {"EndpointsConfig": {first: endpoint}}
    return joined[1:]
