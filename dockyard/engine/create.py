"""A container create request, shaped as the Engine API's `ContainerCreate` body, checked and
turned into a `ContainerConfig`.

The CLI builds this body from its flags (doing only what docker's CLI does on its side: reading
env and seccomp files, parsing sizes, `-p`, `--device`, `--mount`); the engine checks the rest
here, as dockerd does, whatever the caller. Keys are Docker's:

    Image Cmd Entrypoint Env User WorkingDir Hostname Domainname Labels Tty OpenStdin
    StopSignal StopTimeout Healthcheck{Test,Interval,Timeout,StartPeriod,StartInterval,Retries}
    HostConfig: AutoRemove ReadonlyRootfs NetworkMode PortBindings PublishAllPorts CapAdd CapDrop
        Privileged SecurityOpt Runtime UsernsMode RestartPolicy{Name,MaximumRetryCount}
        LogConfig{Type,Config} Memory MemorySwap NanoCpus CpuShares CpusetCpus PidsLimit
        Binds Mounts Tmpfs VolumesFrom Devices[{PathOnHost,PathInContainer,CgroupPermissions}]
        DeviceCgroupRules, and those engine/hostopts.py checks (ExtraHosts, Dns, Ulimits, PidMode, ...)
    NetworkingConfig: EndpointsConfig{NAME: {Aliases, IPAMConfig{IPv4Address}, MacAddress, Links, DriverOpts}}

Entrypoint: null means the image's, [] resets it. Unknown keys are ignored, as dockerd does.
"""

from __future__ import annotations

import os

from dockyard.engine.config import ContainerConfig, parse_restart
from dockyard.engine.config import json_field, json_string_map, json_strings
from dockyard.engine.endpointopts import user_defined
from dockyard.errors import InvalidArgument, NotImplemented

MIN_MEMORY = 6 * 1024 * 1024
DOCKER_LOG_DRIVERS = ("none", "local", "syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "etwlogs",
                      "gcplogs", "logentries")


def config_from_request(body: dict) -> ContainerConfig:
    """The ContainerCreate body → a checked ContainerConfig (InvalidArgument on anything wrong)."""
    if not isinstance(body, dict):
        raise InvalidArgument("invalid create request: expected an object")
    hc = json_field(body, "HostConfig", dict, "", {})
    net = json_field(body, "NetworkingConfig", dict, "", {})
    image = json_field(body, "Image", str, "")
    if not image:
        raise InvalidArgument("no image given: Image is required")
    H = "HostConfig."
    userns = json_field(hc, "UsernsMode", str, H, "")
    if userns not in ("host", "", "auto"):
        raise InvalidArgument(f"invalid --userns {userns!r}: use host or auto")
    auto_remove = json_field(hc, "AutoRemove", bool, H, False)
    restart = _restart(json_field(hc, "RestartPolicy", dict, H, {}), auto_remove)
    log_driver, log_opts = _log_config(json_field(hc, "LogConfig", dict, H, {}))
    limits = resource_limits(hc)
    devices = _devices(json_field(hc, "Devices", list, H, []))
    rules = json_strings(hc, "DeviceCgroupRules", H) or ()
    if rules:
        from dockyard.runtime.devices import parse_cgroup_rule

        for rule in rules:
            parse_cgroup_rule(rule)
    mounts = _mounts(hc)
    ports = _port_bindings(json_field(hc, "PortBindings", dict, H, {}))
    network = json_field(hc, "NetworkMode", str, H, "") or "bridge"
    if network == "default":
        network = "bridge"
    if json_field(body, "NetworkDisabled", bool, "", False):  # docker-py's network_disabled: no network at all
        if network not in ("bridge", "none"):
            raise InvalidArgument(f"conflicting options: NetworkDisabled and network mode {network!r}")
        network = "none"
    # docker's CLI names the default network "default"
    aliases, ip, mac, endpoint_opts, ip6, link_local = _endpoint(net, network, json_strings(hc, "Links", H) or ())
    env = json_strings(body, "Env", "") or ()
    for item in env:
        if "\0" in item:
            raise InvalidArgument(f"invalid environment variable {item.partition('=')[0]!r}: it contains a NUL byte")
    _refused(hc)
    security = (json_strings(hc, "SecurityOpt", H) or ()) + _system_paths(hc)
    if security:
        from dockyard.engine.security import parse

        parse(security)
    from dockyard.engine.hostopts import host_options

    runtime = _runtime(json_field(hc, "Runtime", str, H, ""))
    nano_cpus = json_field(hc, "NanoCpus", int, H, 0)
    host_opts = host_options(body, hc, network=network, memory=limits.get("memory", 0), nano_cpus=nano_cpus,
                             hostname=json_field(body, "Hostname", str, "", ""))
    if mac:  # API 1.44 moved --mac-address into the endpoint; Config.MacAddress is the older place
        from dockyard.engine.hostopts import check_mac

        mac = check_mac(mac)
        if host_opts.get("MacAddress", mac) != mac:
            raise InvalidArgument("conflicting options: Config.MacAddress and the endpoint's MacAddress differ")
        if network in ("host", "none") or network.startswith("container:"):
            raise InvalidArgument("conflicting options: mac-address and the network mode")
        host_opts = {**host_opts, "MacAddress": mac}
    if nano_cpus:  # applied as cpu_period/cpu_quota; kept to be reported as asked
        host_opts = {**host_opts, "NanoCpus": nano_cpus}
    if host_opts.get("Links") and user_defined(network):  # not legacy links there (engine/endpointopts.py)
        host_opts = {k: v for k, v in host_opts.items() if k != "Links"}
        given = list(endpoint_opts.get(network, {}).get("Links") or ())
        for value in json_strings(hc, "Links", H) or ():
            if value not in given:
                given.append(value)
        endpoint_opts = {network: {**endpoint_opts.get(network, {}), "Links": given}}
    return ContainerConfig(
        image=image, cmd=json_strings(body, "Cmd", "") or None, entrypoint=json_strings(body, "Entrypoint", ""),
        env=env, user=json_field(body, "User", str, "", ""), workdir=json_field(body, "WorkingDir", str, "", ""),
        hostname=json_field(body, "Hostname", str, "", ""), domainname=json_field(body, "Domainname", str, "", ""),
        labels=json_string_map(body, "Labels", ""), tty=json_field(body, "Tty", bool, "", False),
        stdin_open=json_field(body, "OpenStdin", bool, "", False),
        stdin_once=json_field(body, "StdinOnce", bool, "", False), auto_remove=auto_remove,
        read_only=json_field(hc, "ReadonlyRootfs", bool, H, False), network=network, network_aliases=aliases, ip=ip,
        ip6=ip6, link_local_ips=link_local, ports=ports, publish_all=json_field(hc, "PublishAllPorts", bool, H, False),
        cap_add=json_strings(hc, "CapAdd", H) or (), cap_drop=json_strings(hc, "CapDrop", H) or (), mounts=mounts,
        privileged=json_field(hc, "Privileged", bool, H, False), security_opt=security,
        runtime=runtime, devices=devices, device_cgroup_rules=rules,
        userns=userns == "auto", restart=restart, log_driver=log_driver, log_opts=log_opts, **_stop(body), **limits,
        host_opts=host_opts, endpoint_opts=endpoint_opts,
        healthcheck=_healthcheck(body),
    )


# HostConfig fields dockyard cannot honour: refused when given, as the CLI refuses their flags
_REFUSED = {
    "DeviceRequests": "HostConfig.DeviceRequests (--gpus) is not supported: dockyard has no GPU device support "
                      "(use Devices for a device node)",
    "StorageOpt": "HostConfig.StorageOpt (--storage-opt) is not supported: dockyard's overlay storage has no "
                  "per-container size or driver options",
    "CpuRealtimePeriod": "HostConfig.CpuRealtimePeriod (--cpu-rt-period) is not supported: dockyard does not give "
                         "its cgroup tree a real-time CPU budget",
    "CpuRealtimeRuntime": "HostConfig.CpuRealtimeRuntime (--cpu-rt-runtime) is not supported: dockyard does not "
                          "give its cgroup tree a real-time CPU budget",
}


def _refused(hc: dict) -> None:
    for key, why in _REFUSED.items():
        if hc.get(key) not in (None, 0, "", [], {}):
            raise NotImplemented(why)


def _system_paths(hc: dict) -> tuple:
    """HostConfig.MaskedPaths/ReadonlyPaths: docker's CLI sends both empty for `--security-opt
    systempaths=unconfined` (and drops the option), which is dockyard's option; the default lists
    are the default; other lists are refused."""
    from dockyard.runtime.defaults import MASKED_PATHS, READONLY_PATHS

    masked = json_strings(hc, "MaskedPaths", "HostConfig.")
    readonly = json_strings(hc, "ReadonlyPaths", "HostConfig.")
    if masked == () and readonly == ():
        return ("systempaths=unconfined",)
    if masked in (None, tuple(MASKED_PATHS)) and readonly in (None, tuple(READONLY_PATHS)):
        return ()
    raise NotImplemented("HostConfig.MaskedPaths/ReadonlyPaths: dockyard masks its default paths, or none (both "
                         "empty: --security-opt systempaths=unconfined); other lists are not supported")


def _restart(policy: dict, auto_remove: bool) -> str:
    name = json_field(policy, "Name", str, "HostConfig.RestartPolicy.", "") or "no"
    count = json_field(policy, "MaximumRetryCount", int, "HostConfig.RestartPolicy.", 0)
    if count < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    text = f"{name}:{count}" if count else name
    parse_restart(text)
    if name != "no" and auto_remove:
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
    return text


def _runtime(name: str) -> str:
    """HostConfig.Runtime: dockyard's own, or a runc-like binary that exists (dockerd: at create)."""
    if name in ("", "dockyard"):
        return "dockyard"
    import shutil

    path = name if "/" in name else shutil.which(name)
    if not path or not os.access(path, os.X_OK) or os.path.isdir(path):
        raise InvalidArgument(f"Unknown runtime specified {name}")
    return name


def _log_config(log: dict) -> tuple[str, dict]:
    """(driver, options) as dockerd checks them: json-file's options parsed; `none` takes any
    (dockerd's ValidateLogOpts skips it; the docker CLI refuses them, cli/run.py too); dockerd's
    other drivers refused by name; any other name is looked up as a plugin, of which there are none."""
    kind = json_field(log, "Type", str, "HostConfig.LogConfig.", "") or "json-file"
    opts = json_string_map(log, "Config", "HostConfig.LogConfig.")
    if kind == "none":
        return kind, opts
    if kind in DOCKER_LOG_DRIVERS:  # one of dockerd's own: refused by name
        raise NotImplemented(f"log driver {kind!r} is not supported; use json-file or none")
    if kind != "json-file":  # dockerd's words for a name it does not know
        raise InvalidArgument(f'error looking up logging plugin {kind}: plugin "{kind}" not found')
    if opts:
        from dockyard.engine.logs import parse_log_opts

        parse_log_opts(opts)
    return kind, opts


def resource_limits(hc: dict) -> dict:
    """Memory, MemorySwap, NanoCpus, CpuShares, CpusetCpus, PidsLimit checked as dockerd does."""
    H = "HostConfig."
    out: dict = {}
    memory = json_field(hc, "Memory", int, H, 0)
    swap = json_field(hc, "MemorySwap", int, H, 0)
    if memory:
        if memory < MIN_MEMORY:
            raise InvalidArgument("Minimum memory limit allowed is 6MB")
        out["memory"] = memory
    if swap:
        if not memory:
            raise InvalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage")
        if swap != -1 and swap < memory:
            raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage")
        out["memory_swap"] = -1 if swap < 0 else swap
    nano = json_field(hc, "NanoCpus", int, H, 0)
    if nano:
        from dockyard.runtime.cgroups.values import CPU_PERIOD

        ncpu = os.cpu_count() or 1
        if not 10_000_000 <= nano <= ncpu * 1_000_000_000:
            raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")
        out["cpu_period"], out["cpu_quota"] = CPU_PERIOD, nano * CPU_PERIOD // 1_000_000_000
    shares = json_field(hc, "CpuShares", int, H, 0)
    if shares:
        if shares < 0:
            raise InvalidArgument("invalid CpuShares: shares cannot be negative")
        out["cpu_shares"] = shares
    cpuset = json_field(hc, "CpusetCpus", str, H, "")
    if cpuset:
        _check_cpuset(cpuset)
        out["cpuset_cpus"] = cpuset
    pids = json_field(hc, "PidsLimit", int, H, 0)
    if pids:
        out["pids_limit"] = -1 if pids < 0 else pids  # docker: any negative value is "unlimited"
    return out


def _check_cpuset(value: str) -> None:
    """docker refuses CPUs the host does not have at create time, not when the cgroup is written."""
    from dockyard.units import cpu_list

    try:
        wanted = cpu_list(value)
    except ValueError:
        raise InvalidArgument(f"Invalid value {value} for cpuset cpus") from None
    available = sorted(os.sched_getaffinity(0))
    missing = sorted(wanted - set(available))
    if missing:
        have = f"{available[0]}-{available[-1]}" if available == list(range(available[0], available[-1] + 1)) \
            else ",".join(map(str, available))
        raise InvalidArgument(f"Requested CPUs are not available - requested {value}, available: {have}")


def _devices(items: list) -> tuple:
    """DeviceMapping objects → the normalised "HOST:CONTAINER:PERMS" the config keeps."""
    if not items:
        return ()
    from dockyard.runtime.devices import parse_device_flag

    out = []
    for d in items:
        if not isinstance(d, dict):
            raise InvalidArgument("invalid HostConfig.Devices: expected an array of objects")
        where = "HostConfig.Devices[]."
        host = json_field(d, "PathOnHost", str, where, "")
        container = json_field(d, "PathInContainer", str, where, "") or host
        perms = json_field(d, "CgroupPermissions", str, where, "") or "rwm"
        if ":" in host or ":" in container:
            raise InvalidArgument(f"invalid device specification: {host}:{container}:{perms}")
        out.append(":".join(parse_device_flag(f"{host}:{container}:{perms}")))
    return tuple(out)


def _mounts(hc: dict) -> tuple:
    """Binds, Mounts, Tmpfs, VolumesFrom → the config's mount dicts (engine/mounts.py)."""
    H = "HostConfig."
    binds = json_strings(hc, "Binds", H) or ()
    api = json_field(hc, "Mounts", list, H, [])
    tmpfs = json_string_map(hc, "Tmpfs", H)
    volumes_from = json_strings(hc, "VolumesFrom", H) or ()
    if not (binds or api or tmpfs or volumes_from):
        return ()
    from dockyard.engine import mounts as M

    for m in api:
        if not isinstance(m, dict):
            raise InvalidArgument("invalid HostConfig.Mounts: expected an array of objects")
    return M.parse_request(binds, [M.mount_from_api(m) for m in api],
                           [f"{k}:{v}" if v else k for k, v in tmpfs.items()], volumes_from)


def _port_bindings(bindings: dict) -> tuple:
    """PortBindings {"80/tcp": [{"HostIp", "HostPort"}]} → the config's port dicts."""
    if not bindings:
        return ()
    from dockyard.oci.ports import exposed_port

    out = []
    for key, hosts in bindings.items():
        try:
            port, proto = exposed_port(key)
        except InvalidArgument:
            raise InvalidArgument(f"invalid port {key!r} in HostConfig.PortBindings: expected PORT[/tcp|udp], "
                                  "PORT from 1 to 65535") from None
        if not isinstance(hosts, list) or not all(isinstance(h, dict) for h in hosts):
            raise InvalidArgument(f"invalid HostConfig.PortBindings[{key!r}]: expected an array of objects")
        for h in hosts or [{}]:
            where = f"HostConfig.PortBindings[{key!r}]."
            host_ip = json_field(h, "HostIp", str, where, "")
            host_port = json_field(h, "HostPort", str, where, "")
            if host_ip:
                from dockyard.network.ipam import to_int

                try:
                    to_int(host_ip)
                except InvalidArgument:
                    raise InvalidArgument(f"invalid IP address {host_ip!r} (only IPv4 is supported)") from None
            if host_port and not (host_port.isascii() and host_port.isdigit() and int(host_port) <= 65535):
                raise InvalidArgument(f"invalid host port {host_port!r} for {key}: expected 0 to 65535")
            out.append({"proto": proto, "host_ip": host_ip, "host_port": int(host_port or 0), "container_port": port})
    return tuple(out)


def _endpoint(net: dict, network: str, legacy) -> tuple[tuple, str, str, dict, str, tuple]:
    """Aliases, a fixed IPv4 address, a fixed MAC address, the `endpoint_opts` (links, driver
    options: engine/endpointopts.py), a fixed IPv6 address and link-local addresses on the
    container's first network (the addresses' networks are checked by networking.check_config).
    What dockyard cannot do there (the legacy IPv6 keys beside IPAMConfig) is refused.
    `legacy`: HostConfig.Links."""
    endpoints = json_field(net, "EndpointsConfig", dict, "NetworkingConfig.", {})
    if not endpoints:
        return (), "", "", {}, "", ()
    if network == "bridge" and "default" in endpoints and "bridge" not in endpoints:
        endpoints = {"bridge": endpoints["default"], **{k: v for k, v in endpoints.items() if k != "default"}}
    extra = [k for k in endpoints if k != network]
    if extra:
        raise InvalidArgument(f"endpoint settings for {extra[0]!r} but the container joins {network!r}: "
                              "connect further networks after create")
    ep = endpoints[network]
    if not isinstance(ep, dict):
        raise InvalidArgument(f"invalid NetworkingConfig.EndpointsConfig[{network!r}]: expected an object")
    where = f"NetworkingConfig.EndpointsConfig[{network!r}]."
    aliases = json_strings(ep, "Aliases", where) or ()
    ipam = json_field(ep, "IPAMConfig", dict, where, {})
    ip = json_field(ipam, "IPv4Address", str, where + "IPAMConfig.", "")
    for key in ("IPv6Gateway", "GlobalIPv6Address", "GwPriority"):
        if ep.get(key):  # GwPriority: a container's one gateway is its first network's
            raise NotImplemented(f"{where}{key} is not supported by dockyard")
    from dockyard.engine.endpointopts import check

    opts = check(network, json_strings(ep, "Links", where), json_string_map(ep, "DriverOpts", where), where,
                 legacy=legacy)
    ip6 = json_field(ipam, "IPv6Address", str, where + "IPAMConfig.", "")
    if ip6:
        from dockyard.network.ipv6 import canonical

        ip6 = canonical(ip6)
    link_local = json_strings(ipam, "LinkLocalIPs", where + "IPAMConfig.") or ()
    if link_local:
        from dockyard.network.ipv6 import link_local as check_link_local

        link_local = tuple(check_link_local(a)[1] for a in link_local)
    mac = json_field(ep, "MacAddress", str, where, "")
    if (ip or ip6) and (network in ("none", "host", "default") or network.startswith("container:")):
        raise InvalidArgument("user specified IP address is supported on user defined networks only")
    return aliases, ip, mac, ({network: opts} if opts else {}), ip6, link_local


def _stop(body: dict) -> dict:
    """StopSignal and StopTimeout, checked now: a bad signal would otherwise break `stop`."""
    out: dict = {"stop_signal": None, "stop_timeout": None}
    sig = json_field(body, "StopSignal", str, "", "")
    if sig:
        from dockyard.signals import parse_signal

        try:
            parse_signal(sig)
        except InvalidArgument:
            raise InvalidArgument(f"Invalid signal: {sig}") from None
        out["stop_signal"] = sig
    timeout = json_field(body, "StopTimeout", int, "", None)
    if timeout is not None:
        if timeout < -1:
            raise InvalidArgument(f"invalid --stop-timeout {timeout}: use -1 (wait forever) or a number of seconds")
        out["stop_timeout"] = timeout
    return out


def _healthcheck(body: dict):
    """Config.Healthcheck, checked as dockerd's validateHealthCheck (engine/health.py)."""
    if body.get("Healthcheck") is None:
        return None
    from dockyard.engine.health import check

    return check(body["Healthcheck"])
