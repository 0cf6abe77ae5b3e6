"""The create request's namespace, /etc, process and extra resource keys, checked as dockerd checks
them and kept, under Docker's own names, in `ContainerConfig.host_opts` (only the ones given).

    HostConfig: ExtraHosts Dns DnsSearch DnsOptions Ulimits[{Name,Soft,Hard}] ShmSize GroupAdd
        OomScoreAdj OomKillDisable Sysctls PidMode IpcMode UTSMode CgroupnsMode CgroupParent Init
        MemoryReservation MemorySwappiness CpuPeriod CpuQuota CpusetMems BlkioWeight
        BlkioDeviceReadBps BlkioDeviceWriteBps BlkioDeviceReadIOps BlkioDeviceWriteIOps [{Path,Rate}]
        Annotations Links (engine/links.py) ContainerIDFile UsernsMode ("host" as asked) VolumeDriver Isolation ("default" only, as dockerd on Linux) VolumesFrom (as asked; the mounts
        themselves are engine/mounts.py's)
    Config: AttachStdin AttachStdout AttachStderr ExposedPorts MacAddress Volumes (anonymous volumes made at create, as an image's VOLUME)

`engine/specopts.py` turns them into the OCI spec; `network/etcfiles.py` writes the /etc files.
"""

from __future__ import annotations

from dockyard.engine.config import json_field, json_string_map, json_strings
from dockyard.errors import InvalidArgument

H = "HostConfig."
# docker's (go-units) ulimit names → the spec's RLIMIT_ types
ULIMITS = ("as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
           "rtprio", "rttime", "sigpending", "stack")
# docker's namespaced sysctls (opts.ValidateSysctl): these names, and any under these prefixes
IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
               "kernel.shmmni", "kernel.shm_rmid_forced")
SYSCTL_PREFIXES = ("net.", "fs.mqueue.")
BLKIO_DEVICE_KEYS = ("BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps")
MIN_MEMORY = 6 * 1024 * 1024


def host_options(body: dict, hc: dict, *, network: str, memory: int, nano_cpus: int, hostname: str) -> dict:
    """The keys above from a create request, checked; {} when none is given."""
    out: dict = {}
    _etc(hc, out)
    _process(hc, out)
    _namespaces(hc, out, network=network, hostname=hostname)
    resource_options(hc, out, memory=memory, nano_cpus=nano_cpus)
    annotations = json_string_map(hc, "Annotations", H)
    if annotations:
        out["Annotations"] = annotations
    isolation = json_field(hc, "Isolation", str, H, "")
    if isolation:
        if isolation.lower() != "default":  # dockerd on Linux: verifyPlatformContainerSettings
            raise InvalidArgument(f'Invalid isolation: "{isolation}" - linux only supports \'default\'')
        out["Isolation"] = isolation
    driver = json_field(hc, "VolumeDriver", str, H, "")
    if driver:  # the driver of the volumes this container makes (engine/containers.py checks it)
        out["VolumeDriver"] = driver
    links = json_strings(hc, "Links", H)
    if links:  # checked against the store by engine/links.py at create
        from dockyard.engine.links import parse

        out["Links"] = [":".join(parse(v)) for v in links]
    volumes_from = json_strings(hc, "VolumesFrom", H)
    if volumes_from:
        out["VolumesFrom"] = list(volumes_from)
    exposed = json_field(body, "ExposedPorts", dict, "", {})
    if exposed:
        from dockyard.oci.ports import exposed_port

        ports = []
        for key in exposed:
            try:
                port, proto = exposed_port(key)
            except InvalidArgument:
                raise InvalidArgument(f"invalid Config.ExposedPorts key {key!r}: expected PORT[/tcp|udp], PORT from "
                                      "1 to 65535") from None
            ports.append(f"{port}/{proto}")
        out["ExposedPorts"] = sorted(set(ports), key=lambda p: (int(p.partition("/")[0]), p))
    volumes = json_field(body, "Volumes", dict, "", {})
    if volumes:
        import posixpath

        paths = []
        for path in volumes:
            clean = posixpath.normpath(path) if path.startswith("/") else ""
            if not clean or clean == "/" or clean.startswith("//") or ":" in path:
                raise InvalidArgument(f"invalid Config.Volumes key {path!r}: expected an absolute path in the "
                                      "container, not /")
            paths.append(clean)
        out["Volumes"] = sorted(set(paths))
    if network.startswith("container:"):  # its /etc files and ports are the other container's (dockerd's checks)
        for keys, what in ((("ExtraHosts",), "custom host-to-IP mapping"), (("Dns", "DnsSearch", "DnsOptions"), "dns"),
                           (("ExposedPorts",), "port exposing")):
            if any(k in out for k in keys):
                raise InvalidArgument(f"conflicting options: {what} and the network mode")
    for key in ("AttachStdin", "AttachStdout", "AttachStderr"):  # kept as asked, as dockerd keeps them
        if key in body:
            out[key] = json_field(body, key, bool, "", False)
    cidfile = json_field(hc, "ContainerIDFile", str, H, "")
    if cidfile:  # the CLI's --cidfile, reported as given (the CLI writes the file)
        out["ContainerIDFile"] = cidfile
    if json_field(hc, "UsernsMode", str, H, "") == "host":  # the default, reported as asked
        out["UsernsMode"] = "host"
    mac = json_field(body, "MacAddress", str, "", "")
    if mac:
        out["MacAddress"] = check_mac(mac)
        if network in ("host", "none") or network.startswith("container:"):
            raise InvalidArgument("conflicting options: mac-address and the network mode")
    return out


def check_mac(mac: str) -> str:
    parts = mac.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        raise InvalidArgument(f"{mac} is not a valid mac address")
    if int(parts[0], 16) & 1:
        raise InvalidArgument(f"{mac} is a multicast address: a container needs a unicast one")
    return mac.lower()


def is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _etc(hc: dict, out: dict) -> None:
    hosts = json_strings(hc, "ExtraHosts", H) or ()
    for h in hosts:
        check_extra_host(h)
    if hosts:
        out["ExtraHosts"] = list(hosts)
    for key, check in (("Dns", check_dns), ("DnsSearch", check_search), ("DnsOptions", _check_option)):
        values = json_strings(hc, key, H) or ()
        for v in values:
            check(v)
        if values:
            out[key] = list(values)


def check_extra_host(h: str) -> None:
    name, ip = split_extra_host(h)
    if not name or not ip:
        raise InvalidArgument(f'bad format for add-host: "{h}"')
    if ip != "host-gateway" and not is_ip(ip):
        raise InvalidArgument(f'invalid IP address in add-host: "{ip}"')
    if any(c.isspace() or not c.isprintable() or c == "#" for c in name):
        raise InvalidArgument(f'bad format for add-host: "{h}": a host name has no spaces, controls or #')


def split_extra_host(h: str) -> tuple[str, str]:
    """"name:ip" (the API's form; the ip may be IPv6) or docker 25's "name=ip"."""
    if "=" in h:
        name, _, ip = h.partition("=")
    else:
        name, _, ip = h.partition(":")
    return name.strip(), ip.strip().removeprefix("[").removesuffix("]")


def check_dns(v: str) -> None:
    if not is_ip(v):
        raise InvalidArgument(f"IP address is not correctly formatted: {v}")


def check_search(v: str) -> None:
    """docker's ValidateDNSSearch: "." alone (no search), else a domain of labels ≤ 63, ≤ 255 in all."""
    d = v.removesuffix(".")
    if v == ".":
        return
    labels = d.split(".")
    ok = 0 < len(d) <= 255 and all(0 < len(x) <= 63 and x[0] != "-" and x[-1] != "-" and
                                   all(c.isascii() and (c.isalnum() or c == "-") for c in x) for x in labels)
    if not ok:
        raise InvalidArgument(f"{v} is not a valid domain")


def _check_option(v: str) -> None:
    if not v or any(c.isspace() for c in v):
        raise InvalidArgument(f"invalid DNS option {v!r}: options are single words such as ndots:2")


def _process(hc: dict, out: dict) -> None:
    ulimits = json_field(hc, "Ulimits", list, H, [])
    seen = {}
    for u in ulimits:
        if not isinstance(u, dict):
            raise InvalidArgument("invalid HostConfig.Ulimits: expected an array of objects")
        where = H + "Ulimits[]."
        name = json_field(u, "Name", str, where, "")
        soft = json_field(u, "Soft", int, where, 0)
        hard = json_field(u, "Hard", int, where, 0)
        if name not in ULIMITS:
            raise InvalidArgument(f"invalid ulimit type: {name}")
        if soft > hard and hard != -1 or soft == -1 and hard != -1:
            raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
        if soft < -1 or hard < -1:
            raise InvalidArgument(f"invalid ulimit {name}: a limit is a number of at least 0, or -1 (unlimited)")
        seen[name] = {"Name": name, "Soft": soft, "Hard": hard}
    if seen:
        out["Ulimits"] = list(seen.values())
    shm = json_field(hc, "ShmSize", int, H, 0)
    if shm < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    if shm:
        out["ShmSize"] = shm
    groups = json_strings(hc, "GroupAdd", H) or ()
    if any(not g or ":" in g for g in groups):
        raise InvalidArgument(f"invalid group in GroupAdd: {next(g for g in groups if not g or ':' in g)!r}")
    if groups:
        out["GroupAdd"] = list(groups)
    adj = json_field(hc, "OomScoreAdj", int, H, 0)
    if not -1000 <= adj <= 1000:
        raise InvalidArgument(f"Invalid value {adj}, range for oom score adj is [-1000, 1000]")
    if adj:
        out["OomScoreAdj"] = adj
    sysctls = json_string_map(hc, "Sysctls", H)
    for k in sysctls:
        if k not in IPC_SYSCTLS and not k.startswith(SYSCTL_PREFIXES):
            raise InvalidArgument(f"sysctl '{k}' is not allowed: only namespaced ones are (kernel.msg*, kernel.sem, "
                                  "kernel.shm*, fs.mqueue.*, net.*)")
    if sysctls:
        out["Sysctls"] = sysctls
    if json_field(hc, "Init", bool, H, False):
        out["Init"] = True


def _mode(hc: dict, key: str, allowed: tuple, flag: str, what: str, *, joins: bool) -> str:
    v = json_field(hc, key, str, H, "")
    if v in allowed or joins and v.startswith("container:") and v != "container:":
        return v
    raise InvalidArgument(f"{flag}: invalid {what} mode")


def _namespaces(hc: dict, out: dict, *, network: str, hostname: str) -> None:
    pid = _mode(hc, "PidMode", ("", "host"), "--pid", "PID", joins=True)
    ipc = _mode(hc, "IpcMode", ("", "host", "private", "shareable", "none"), "--ipc", "IPC", joins=True)
    uts = _mode(hc, "UTSMode", ("", "host"), "--uts", "UTS", joins=False)
    cgroupns = _mode(hc, "CgroupnsMode", ("", "host", "private"), "--cgroupns", "CGROUP", joins=False)
    if uts == "host" and hostname:
        raise InvalidArgument("Conflicting options: hostname and the UTS mode")
    parent = json_field(hc, "CgroupParent", str, H, "")
    if parent:
        parts = [p for p in parent.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts) or "\0" in parent:
            raise InvalidArgument(f"invalid cgroup parent {parent!r}: a path of cgroup names without . or ..")
        out["CgroupParent"] = "/" + "/".join(parts)
    for key, v in (("PidMode", pid), ("IpcMode", ipc), ("UTSMode", uts), ("CgroupnsMode", cgroupns)):
        if v:
            out[key] = v
    sysctls = out.get("Sysctls") or {}
    for k in sysctls:  # dockerd's rule, before runc would say it: a sysctl needs its own namespace
        if k.startswith("net.") and network == "host":
            raise InvalidArgument(f"sysctl '{k}' is not allowed with --network host: it would change the host's "
                                  "network namespace")
        if not k.startswith("net.") and ipc == "host":
            raise InvalidArgument(f"sysctl '{k}' is not allowed with --ipc host: it would change the host's IPC "
                                  "namespace")


def resource_options(hc: dict, out: dict, *, memory: int, nano_cpus: int) -> None:
    reservation = json_field(hc, "MemoryReservation", int, H, 0)
    if reservation:
        if reservation < MIN_MEMORY:
            raise InvalidArgument("Minimum memory reservation allowed is 6MB")
        if memory and memory < reservation:
            raise InvalidArgument("Minimum memory limit can not be less than memory reservation limit, see usage")
        out["MemoryReservation"] = reservation
    swappiness = json_field(hc, "MemorySwappiness", int, H, -1)
    if swappiness != -1:  # its range, as BlkioWeight's, is checked after a host without it discarded it
        out["MemorySwappiness"] = swappiness  # (engine/resources.py), as dockerd does
    if json_field(hc, "OomKillDisable", bool, H, False):
        out["OomKillDisable"] = True
    period = json_field(hc, "CpuPeriod", int, H, 0)
    quota = json_field(hc, "CpuQuota", int, H, 0)
    if nano_cpus and period:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano_cpus and quota:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if period and not 1000 <= period <= 1000000:
        raise InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    if quota and quota < 1000 and quota != -1:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if period:
        out["CpuPeriod"] = period
    if quota:
        out["CpuQuota"] = quota
    mems = json_field(hc, "CpusetMems", str, H, "")
    if mems:
        check_mems(mems)
        out["CpusetMems"] = mems
    weight = json_field(hc, "BlkioWeight", int, H, 0)
    if weight:
        out["BlkioWeight"] = weight
    weights = []
    for d in json_field(hc, "BlkioWeightDevice", list, H, []):
        if not isinstance(d, dict):
            raise InvalidArgument("invalid HostConfig.BlkioWeightDevice: expected an array of objects")
        path = json_field(d, "Path", str, f"{H}BlkioWeightDevice[].", "")
        w = json_field(d, "Weight", int, f"{H}BlkioWeightDevice[].", 0)
        if w and not 10 <= w <= 1000:
            raise InvalidArgument(f"invalid weight for device {path}: the range is 10 to 1000")
        block_device(path)
        weights.append({"Path": path, "Weight": w})
    if weights:
        out["BlkioWeightDevice"] = weights
    for key in BLKIO_DEVICE_KEYS:
        items = json_field(hc, key, list, H, [])
        devs = []
        for d in items:
            if not isinstance(d, dict):
                raise InvalidArgument(f"invalid HostConfig.{key}: expected an array of objects")
            path = json_field(d, "Path", str, f"{H}{key}[].", "")
            rate = json_field(d, "Rate", int, f"{H}{key}[].", 0)
            if rate < 0:
                raise InvalidArgument(f"invalid rate for device {path}: it cannot be negative")
            block_device(path)
            devs.append({"Path": path, "Rate": rate})
        if devs:
            out[key] = devs


def block_device(path: str) -> tuple[int, int]:
    """A throttled device's major and minor numbers (dockerd stats the host path)."""
    import os
    import stat

    try:
        st = os.stat(path)
    except OSError as e:
        raise InvalidArgument(f"error getting device {path}: {e.strerror.lower()}") from None
    if not stat.S_ISBLK(st.st_mode):
        raise InvalidArgument(f"{path} is not a block device")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def check_mems(value: str) -> None:
    """--cpuset-mems: memory nodes the host has (dockerd refuses the others at create)."""
    from dockyard.units import cpu_list

    try:
        wanted = cpu_list(value)
    except ValueError:
        raise InvalidArgument(f"Invalid value {value} for cpuset mems") from None
    try:
        with open("/sys/devices/system/node/online") as f:
            have = cpu_list(f.read().strip())
    except (OSError, ValueError):
        have = {0}
    if wanted - have:
        online = ",".join(map(str, sorted(have)))
        if sorted(have) == list(range(min(have), max(have) + 1)):
            online = f"{min(have)}-{max(have)}" if len(have) > 1 else str(min(have))
        raise InvalidArgument(f"Requested memory nodes are not available - requested {value}, available: {online}")
