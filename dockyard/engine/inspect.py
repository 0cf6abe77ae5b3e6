"""The inspect documents, shaped as docker's (and the Engine API's `…/json` answers): containers,
images, networks and volumes. The CLI only renders them (JSON or a template)."""

from __future__ import annotations

from dockyard.errors import DockyardError, NotFound


def inspect(engine, name: str, kind: str | None = None, *, size: bool = False) -> dict:
    """The document of a container or an image by name or id (`kind` None: a container first, as
    docker looks). NotFound names what was looked for."""
    if kind not in (None, "container", "image"):
        from dockyard.errors import InvalidArgument

        raise InvalidArgument(f'"{kind}" is not a valid value for --type')
    if kind in (None, "container"):
        try:
            return container_json(engine, engine.db.get_container(name), size=size)
        except NotFound:
            if kind == "container":
                raise
    return image_json(engine, engine.images.resolve(name))


def container_json(engine, rec, *, size: bool = False) -> dict:
    """docker inspect's container document; with `size`, SizeRw and SizeRootFs as `--size` adds."""
    from dockyard.engine.status import effective_state, rfc3339
    from dockyard.engine.mounts import mounts_json

    cfg = rec.config
    st = effective_state(rec, engine.db)
    args = list(st.get("Args") or [])
    path = st.get("Path") or ""
    status = st.get("Status", "created")
    doc = {
        "Id": rec.id,
        "Created": rfc3339(rec.created),
        "Path": path,
        "Args": args,
        "State": {
            "Status": status, "Running": status in ("running", "paused"), "Paused": status == "paused",  # as dockerd
            "Restarting": status == "restarting", "OOMKilled": bool(st.get("OOMKilled")), "Dead": status == "dead",
            "Pid": st.get("Pid", 0) if status in ("running", "paused") else 0, "ExitCode": st.get("ExitCode", 0),
            "Error": st.get("Error", ""), "StartedAt": st.get("StartedAt", "0001-01-01T00:00:00Z"),
            "FinishedAt": st.get("FinishedAt", "0001-01-01T00:00:00Z"),
        },
        "Image": rec.image_id,
        "ResolvConfPath": f"{engine.container_dir(rec.id)}/resolv.conf",
        "HostnamePath": f"{engine.container_dir(rec.id)}/hostname",
        "HostsPath": f"{engine.container_dir(rec.id)}/hosts",
        "Name": "/" + rec.name,
        "RestartCount": st.get("RestartCount", 0),
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": host_config_json(cfg, name=rec.name),
        "GraphDriver": {"Name": "overlay", "Data": {
            "UpperDir": engine.snapshots.upper_dir(rec.id) if hasattr(engine.snapshots, "upper_dir") else ""}},
        "Mounts": mounts_json(engine, cfg.get("mounts")),
        "Config": {
            "Hostname": st.get("Hostname", rec.id[:12]), "Domainname": cfg.get("domainname", ""),
            "User": cfg.get("user", ""), **_attach(cfg),
            "Tty": cfg.get("tty", False), "OpenStdin": cfg.get("stdin_open", False),
            "StdinOnce": cfg.get("stdin_once", False),
            "Env": config_env(cfg.get("env") or (), st),
            # --entrypoint drops the image's Cmd (specgen.command): dockerd shows none then
            "Cmd": list(cfg["cmd"]) if cfg.get("cmd") else None if cfg.get("entrypoint") is not None
            else st.get("ImageCmd"),
            "Image": rec.image, "WorkingDir": cfg.get("workdir", ""),
            "Entrypoint": list(cfg["entrypoint"]) if cfg.get("entrypoint") is not None else st.get("ImageEntrypoint"),
            "Labels": cfg.get("labels") or {},
            **{k: v for k, v in _config_opts(cfg.get("host_opts") or {}).items()},
            **_stop_opts(cfg, st),
        },
        "NetworkSettings": network_settings(cfg, st, rec.id),
    }
    if st.get("Health"):  # since the first start of a container with a health check, as docker's
        h = st["Health"]
        doc["State"]["Health"] = {  # docker's key order
            "Status": h.get("Status", ""), "FailingStreak": h.get("FailingStreak", 0),
            "Log": [{k: e.get(k) for k in ("Start", "End", "ExitCode", "Output")} for e in h.get("Log") or []]}
    if cfg.get("healthcheck"):
        hc = cfg["healthcheck"]
        doc["Config"]["Healthcheck"] = {k: hc[k] for k in ("Test", "Interval", "Timeout", "StartPeriod",
                                                            "StartInterval", "Retries") if k in hc}
    if size:
        doc["SizeRw"], doc["SizeRootFs"] = container_sizes(engine, rec)
    return doc


def host_config_json(cfg: dict, name: str = "") -> dict:
    """docker inspect's HostConfig: every key dockerd reports, in its order, with the value this
    container was created with (dockerd's defaults where nothing was asked)."""
    from dockyard.engine.mounts import host_config
    from dockyard.runtime.defaults import MASKED_PATHS, READONLY_PATHS

    opts = {k: v for k, v in (cfg.get("host_opts") or {}).items() if k not in CONFIG_OPTS}
    mounts = host_config(cfg.get("mounts"))
    if mounts.get("Mounts") is None:  # omitempty in dockerd's HostConfig
        mounts.pop("Mounts", None)
    memory, swap = cfg.get("memory", 0), cfg.get("memory_swap", 0)
    unmasked = cfg.get("privileged") or any(o.replace(":", "=") == "systempaths=unconfined"
                                            for o in cfg.get("security_opt") or ())
    nano = opts.pop("NanoCpus", 0)
    doc = {
        "Binds": mounts.pop("Binds"), "ContainerIDFile": "",
        "LogConfig": {"Type": cfg.get("log_driver") or "json-file", "Config": dict(cfg.get("log_opts") or {})},
        "NetworkMode": cfg.get("network", "bridge"), "PortBindings": port_bindings(cfg),
        "RestartPolicy": restart_policy(cfg.get("restart") or "no"), "AutoRemove": cfg.get("auto_remove", False),
        "VolumeDriver": "", "VolumesFrom": None, "ConsoleSize": [0, 0],
        "CapAdd": capabilities(cfg.get("cap_add")), "CapDrop": capabilities(cfg.get("cap_drop")),
        "CgroupnsMode": "private", "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": None,
        "GroupAdd": None, "IpcMode": "private", "Cgroup": "", "Links": None, "OomScoreAdj": 0, "PidMode": "",
        "Privileged": cfg.get("privileged", False), "PublishAllPorts": cfg.get("publish_all", False),
        "ReadonlyRootfs": cfg.get("read_only", False),
        "SecurityOpt": list(cfg.get("security_opt") or []) or None, "UTSMode": "",
        "UsernsMode": "auto" if cfg.get("userns") else "", "ShmSize": 64 << 20,
        "Runtime": cfg.get("runtime", "dockyard"), "Isolation": "",
        "CpuShares": cfg.get("cpu_shares", 0), "Memory": memory, "NanoCpus": nano, "CgroupParent": "",
        "BlkioWeight": 0, "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [],
        # --cpus is kept as period/quota for the runtime; docker reports only NanoCpus then
        "CpuPeriod": 0 if nano else cfg.get("cpu_period", 0), "CpuQuota": 0 if nano else cfg.get("cpu_quota", 0),
        "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
        "CpusetCpus": cfg.get("cpuset_cpus", ""), "CpusetMems": "",
        "Devices": [dict(zip(("PathOnHost", "PathInContainer", "CgroupPermissions"), d.split(":")))
                    for d in cfg.get("devices") or ()],
        "DeviceCgroupRules": list(cfg.get("device_cgroup_rules") or []) or None, "DeviceRequests": None,
        "MemoryReservation": 0,
        "MemorySwap": swap or (memory * 2 if memory else 0),  # dockerd: swap defaults to twice the memory
        "MemorySwappiness": None, "OomKillDisable": False, "PidsLimit": cfg.get("pids_limit") or None,
        "Ulimits": [], "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        **mounts,
        "MaskedPaths": None if unmasked else list(MASKED_PATHS),
        "ReadonlyPaths": None if unmasked else list(READONLY_PATHS),
    }
    doc.update(opts)
    if opts.get("Links"):
        from dockyard.engine.links import shown

        doc["Links"] = shown(opts, name)
    return doc


def restart_policy(policy: str) -> dict:
    """HostConfig.RestartPolicy from the stored `--restart` value."""
    from dockyard.engine.config import parse_restart

    name, retries = parse_restart(policy)
    return {"Name": name, "MaximumRetryCount": retries}


# host_opts kept for Config: not HostConfig's
CONFIG_OPTS = ("AttachStdin", "AttachStdout", "AttachStderr", "ExposedPorts", "MacAddress", "Volumes")


def _attach(cfg: dict) -> dict:
    """Config.AttachStdin/Stdout/Stderr as the create request set them (older records: stdin's
    follows OpenStdin, the others are unknown and shown false, dockerd's default)."""
    opts = cfg.get("host_opts") or {}
    return {"AttachStdin": opts.get("AttachStdin", cfg.get("stdin_open", False)),
            "AttachStdout": opts.get("AttachStdout", False), "AttachStderr": opts.get("AttachStderr", False)}


def capabilities(names) -> list[str] | None:
    """CapAdd/CapDrop as dockerd reports them: upper case with the CAP_ prefix ("ALL" stays)."""
    out = [n.upper() if n.upper() == "ALL" or n.upper().startswith("CAP_") else "CAP_" + n.upper()
           for n in names or ()]
    return out or None


def config_env(user, st: dict) -> list[str] | None:
    """dockerd's Config.Env: the create request's (a bare NAME too: the process has it unset), then
    the image's that the request does not set. HOSTNAME, TERM and HOME are the process's only.
    Records made before ImageEnv was kept show the process's environment."""
    if "ImageEnv" not in st:
        return (st.get("Env") or [e for e in user if "=" in e]) + [e for e in user if "=" not in e]
    keys = {e.partition("=")[0] for e in user}
    return list(user) + [e for e in st["ImageEnv"] or () if e.partition("=")[0] not in keys] or None


def _config_opts(opts: dict) -> dict:
    """Config.ExposedPorts, Config.MacAddress and Config.Volumes of --expose, --mac-address and
    the create request's Volumes."""
    out: dict = {}
    if opts.get("Volumes"):
        out["Volumes"] = {p: {} for p in opts["Volumes"]}
    if opts.get("ExposedPorts"):
        out["ExposedPorts"] = {p: {} for p in opts["ExposedPorts"]}
    if opts.get("MacAddress"):
        out["MacAddress"] = opts["MacAddress"]
    return out


def _stop_opts(cfg: dict, st: dict) -> dict:
    """Config.StopSignal (--stop-signal, else the image's STOPSIGNAL) and Config.StopTimeout,
    present only when set, as dockerd's omitempty fields."""
    out: dict = {}
    # the state keeps "SIGTERM" when the image names none: only a named one is reported
    signal = cfg.get("stop_signal") or (st.get("StopSignal") if st.get("StopSignal") != "SIGTERM" else "")
    if signal:
        out["StopSignal"] = signal
    if cfg.get("stop_timeout") is not None:
        out["StopTimeout"] = cfg["stop_timeout"]
    return out


def container_sizes(engine, rec) -> tuple[int, int]:
    """docker's SizeRw (what the container wrote: its upper layer) and SizeRootFs (that plus its
    image). A container whose layer is gone (mid-removal) counts 0 for it."""
    try:
        rw = engine.snapshots.usage(rec.id)
    except (DockyardError, OSError):
        rw = 0
    image = engine.db.get_image(rec.image_id)
    return rw, rw + (image.size if image else 0)


def network_names(cfg: dict) -> list[str]:
    first = cfg.get("network") or "bridge"
    if first.startswith("container:"):
        return []
    return [first] + list(cfg.get("networks") or {})


def network_settings(cfg: dict, st: dict, cid: str = "") -> dict:
    """docker's NetworkSettings: live addresses while it runs, the configured networks always.
    With `cid` (the inspect document), as moby's inspect at API < 1.45 (dockyard serves 1.44): a
    user network's Aliases also list the short id and the hostname, before the start too; DNSNames
    are the names it answers to there while it runs (name, aliases, short id, hostname)."""
    live = (st.get("NetworkSettings") or {}) if st.get("Status") in ("running", "paused") else {}
    extra = [cid[:12], st.get("Hostname") or cfg.get("hostname") or cid[:12]] if cid else []
    nets = {}
    # disconnected from all its networks: none listed, as dockerd (not even `none`)
    names = [] if cfg.get("network") == "none" and st.get("DisconnectedFrom") else network_names(cfg)
    for i, name in enumerate(names):
        conf = (cfg.get("networks") or {}).get(name) or {}
        aliases = list(cfg.get("network_aliases") or []) if i == 0 else list(conf.get("aliases") or [])
        fixed = cfg.get("ip") if i == 0 else conf.get("ip")
        fixed6 = cfg.get("ip6") if i == 0 else conf.get("ip6")
        lls = cfg.get("link_local_ips") if i == 0 else conf.get("link_local")
        mac = (cfg.get("host_opts") or {}).get("MacAddress", "") if i == 0 else conf.get("mac", "")
        eopts = (cfg.get("endpoint_opts") or {}).get(name) or {}  # links, driver options: as given
        from dockyard.engine.netv6 import ipam_config

        empty = {"IPAMConfig": ipam_config(fixed or "", fixed6 or "", lls), "Links": eopts.get("Links") or None,
                 "Aliases": aliases or None, "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
                 "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                 "MacAddress": mac, "DriverOpts": eopts.get("DriverOpts") or None,
                 "DNSNames": None}  # a fixed MAC shows before the start
        nets[name] = dict(empty, **((live.get("Networks") or {}).get(name) or {}))
        nets[name].pop("Interface", None)
        if extra and name not in ("bridge", "default", "host", "none"):
            nets[name]["Aliases"] = list(dict.fromkeys((nets[name]["Aliases"] or []) + extra))
    return {"Bridge": live.get("Bridge", ""), "Ports": live.get("Ports") or {},
            "IPAddress": live.get("IPAddress", ""), "Gateway": live.get("Gateway", ""),
            "IPPrefixLen": live.get("IPPrefixLen", 0), "MacAddress": live.get("MacAddress", ""),
            "GlobalIPv6Address": live.get("GlobalIPv6Address", ""),
            "GlobalIPv6PrefixLen": live.get("GlobalIPv6PrefixLen", 0), "IPv6Gateway": live.get("IPv6Gateway", ""), "Networks": nets}


def port_bindings(cfg: dict) -> dict:
    """HostConfig.PortBindings from the stored ports (the create request's own shape: not -P's)."""
    out: dict = {}
    for p in cfg.get("ports") or ():
        if p.get("publish_all"):
            continue
        out.setdefault(f"{p['container_port']}/{p['proto']}", []).append(
            {"HostIp": p["host_ip"], "HostPort": str(p["host_port"]) if p["host_port"] else ""})
    return out


# dockerd's image Config is its container.Config: these fields are always in its JSON (no omitempty),
# where an OCI image config has only what was set
IMAGE_CONFIG_DEFAULTS = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
                         "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None,
                         "Cmd": None, "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None,
                         "OnBuild": None, "Labels": None}


def image_json(engine, rec) -> dict:
    full = engine.images.config(rec)
    tags, digests = engine.images.names(rec)
    return {
        "Id": rec.id,
        "RepoTags": tags,
        "RepoDigests": digests,
        "Parent": rec.parent,
        "Comment": (full.get("history") or [{}])[-1].get("comment", "") if full.get("history") else "",
        "Created": full.get("created", ""),
        "DockerVersion": "",
        "Author": full.get("author", ""),
        "Config": {**IMAGE_CONFIG_DEFAULTS, **(full.get("config") or {})},
        "Architecture": full.get("architecture", ""),
        "Variant": full.get("variant") or None,
        "Os": full.get("os", ""),
        "Size": rec.size,
        "GraphDriver": {"Name": "overlay", "Data": None},
        "RootFS": {"Type": "layers", "Layers": list((full.get("rootfs") or {}).get("diff_ids") or [])},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        "Descriptor": {"mediaType": rec.manifest_media_type, "digest": rec.manifest_digest},
    }


def network_json(engine, rec) -> dict:
    """docker network inspect's document."""
    from dockyard.engine.status import rfc3339
    from dockyard.errors import ContainerNotFound
    from dockyard.network.ipam import Subnet
    from dockyard.state.networks import endpoints

    prefix = Subnet.parse(rec.subnet).prefix
    prefix6 = rec.ipv6["Subnet"].rpartition("/")[2] if rec.ipv6 else ""
    ctrs = {}
    for ep in endpoints(engine.db, network_id=rec.id):
        try:
            c = engine.db.get_container(ep.container_id)
        except ContainerNotFound:  # removed meanwhile
            continue
        ctrs[ep.container_id] = {"Name": c.name, "EndpointID": ep.container_id[:32] + rec.id[:32],
                                 "MacAddress": ep.mac, "IPv4Address": f"{ep.ip}/{prefix}",
                                 "IPv6Address": f"{ep.ip6}/{prefix6}" if ep.ip6 else ""}
    extra = rec.ipam or {}
    config = {"Subnet": rec.subnet, "IPRange": extra.get("IPRange"), "Gateway": rec.gateway,
              "AuxiliaryAddresses": extra.get("AuxiliaryAddresses")}
    return {"Name": rec.name, "Id": rec.id, "Created": rfc3339(rec.created), "Scope": "local", "Driver": rec.driver,
            "EnableIPv6": bool(rec.ipv6),
            "IPAM": {"Driver": "default", "Options": extra.get("Options", {}),  # a row older than the key: {}
                     "Config": [{k: v for k, v in config.items() if v}]  # dockerd's omitempty
                     + ([dict(rec.ipv6)] if rec.ipv6 else [])},
            "Internal": rec.internal, "Attachable": bool(extra.get("Attachable")), "Ingress": False,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": False, "Containers": ctrs,
            "Options": dict(rec.options, **{"com.docker.network.bridge.name": rec.bridge}), "Labels": rec.labels}


def volume_json(rec) -> dict:
    """docker volume inspect's document."""
    import time

    return {"CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(rec.created)), "Driver": rec.driver,
            "Labels": dict(rec.labels) or None, "Mountpoint": rec.mountpoint, "Name": rec.name,
            "Options": dict(rec.options) or None, "Scope": "local"}
