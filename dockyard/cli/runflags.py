"""`run`/`create` flags for /etc files, namespaces, process and further limits, and the flags
dockyard refuses, turned into the create request's HostConfig/Config keys (engine/hostopts.py
checks them for every caller; only docker's CLI-side parsing and file reading happen here).
"""

from __future__ import annotations

import os

from dockyard.cli.flags import BOOL, LIST, STR, Flag
from dockyard.errors import InvalidArgument

EXTRA_FLAGS = [
    Flag("--add-host", LIST, "Add a custom host-to-IP mapping (host:ip, or host:host-gateway)"),
    Flag("--dns", LIST, "Set custom DNS servers"),
    Flag("--dns-search", LIST, "Set custom DNS search domains"),
    Flag("--dns-option", LIST, "Set DNS options"),
    Flag("--ulimit", LIST, "Ulimit options (nofile=1024:2048)"),
    Flag("--shm-size", STR, "Size of /dev/shm", metavar="bytes"),
    Flag("--group-add", LIST, "Add additional groups to join"),
    Flag("--oom-score-adj", STR, "Tune host's OOM preferences (-1000 to 1000)", metavar="int"),
    Flag("--sysctl", LIST, "Sysctl options (net.*, kernel.msg*/sem/shm*, fs.mqueue.*)", metavar="map"),
    Flag("--cidfile", STR, "Write the container ID to the file", metavar="string"),
    Flag("--label-file", LIST, "Read in a line delimited file of labels"),
    Flag("--expose", LIST, "Expose a port or a range of ports"),
    Flag("--pid", STR, "PID namespace to use (host, container:NAME)", metavar="string"),
    Flag("--ipc", STR, "IPC mode to use (private, shareable, host, none, container:NAME)", metavar="string"),
    Flag("--uts", STR, "UTS namespace to use (host)", metavar="string"),
    Flag("--cgroupns", STR, "Cgroup namespace to use (host|private)", metavar="string"),
    Flag("--cgroup-parent", STR, "Optional parent cgroup for the container", metavar="string"),
    Flag("--init", BOOL, "Run an init inside the container that forwards signals and reaps processes"),
    Flag("--oom-kill-disable", BOOL, "Disable OOM Killer"),
    Flag("--memory-reservation", STR, "Memory soft limit", metavar="bytes"),
    Flag("--memory-swappiness", STR, "Tune container memory swappiness (0 to 100)", default="-1", metavar="int"),
    Flag("--cpu-period", STR, "Limit CPU CFS (Completely Fair Scheduler) period", metavar="int"),
    Flag("--cpu-quota", STR, "Limit CPU CFS (Completely Fair Scheduler) quota", metavar="int"),
    Flag("--cpuset-mems", STR, "MEMs in which to allow execution (0-3, 0,1)", metavar="string"),
    Flag("--blkio-weight", STR, "Block IO (relative weight), between 10 and 1000, or 0 to disable", metavar="uint16"),
    Flag("--device-read-bps", LIST, "Limit read rate (bytes per second) from a device"),
    Flag("--device-write-bps", LIST, "Limit write rate (bytes per second) to a device"),
    Flag("--device-read-iops", LIST, "Limit read rate (IO per second) from a device"),
    Flag("--device-write-iops", LIST, "Limit write rate (IO per second) to a device"),
    Flag("--annotation", LIST, "Add an annotation to the container (passed through to the OCI runtime)", metavar="map"),
    Flag("--mac-address", STR, "Container MAC address (e.g., 92:d0:c6:0a:29:33)", metavar="string"),
    Flag("--platform", STR, "Set platform if server is multi-platform capable (linux/amd64 only)", metavar="string"),
    Flag("--gpus", STR, "GPU devices to add to the container (refused: dockyard has no GPU support)",
         metavar="gpu-request", refused="--gpus is not supported: dockyard has no GPU device support (use --device "
         "for a device node)"),
    Flag("--storage-opt", LIST, "Storage driver options for the container (refused)",
         refused="--storage-opt is not supported: dockyard's overlay storage has no per-container size or driver "
         "options"),
    Flag("--ip6", STR, "IPv6 address (e.g., 2001:db8::33)", metavar="string"),
    Flag("--link-local-ip", LIST, "Container IPv4/IPv6 link-local addresses", metavar="list"),
    Flag("--blkio-weight-device", LIST, "Block IO weight (relative device weight), DEVICE:WEIGHT", metavar="list"),
    Flag("-q,--quiet", BOOL, "Suppress the pull output"),
    Flag("--disable-content-trust", BOOL, "Skip image verification (always: Docker Content Trust is not "
         "supported; signatures are checked by the signature policy)", default=True),
    Flag("--isolation", STR, "Container isolation technology (only 'default' on Linux)", metavar="string"),
    Flag("--volume-driver", STR, "Optional volume driver for the container (only 'local')", metavar="string"),
    Flag("--kernel-memory", STR, "Kernel memory limit (refused: gone from Linux)", metavar="bytes",
         refused="--kernel-memory is not supported: kernel memory limits are gone from Linux (cgroup v2 has none, "
         "and v1's kmem limit was removed); --memory counts kernel memory already"),
    Flag("--link", LIST, "Add link to another container"),
    Flag("--use-api-socket", BOOL, "Bind mount the API socket (refused)",
         refused="--use-api-socket is not supported: dockyard has no daemon socket to lend a container (bind "
         "`dockyard system service`'s socket with -v if you must)"),
    *(Flag(f"--cpu-rt-{what}", STR, f"Limit CPU real-time {what} in microseconds (refused)", metavar="int",
           refused=f"--cpu-rt-{what} is not supported: dockyard does not give its cgroup tree a real-time CPU "
           "budget (dockerd needs --cpu-rt-runtime for that too)") for what in ("period", "runtime")),
]


def weight_device(value: str) -> dict:
    """--blkio-weight-device DEVICE:WEIGHT (docker's ValidateWeightDevice)."""
    path, sep, weight = value.rpartition(":")
    if not sep or not path.startswith("/dev/"):
        raise bad(value, "--blkio-weight-device", f"bad format: {value}")
    if not weight.isdigit() or not (10 <= int(weight) <= 1000 or int(weight) == 0):
        raise bad(value, "--blkio-weight-device", f"invalid weight for device: {value}")
    return {"Path": path, "Weight": int(weight)}


def bad(value: str, flag: str, why) -> InvalidArgument:
    return InvalidArgument(f'invalid argument "{value}" for "{flag}" flag: {why}')


def refuse(opts) -> None:
    """Values of flags dockyard cannot honour: exit 125 naming the flag and why, never ignored. (The
    flags refused whatever their value are refused by the parser: `Flag.refused` above.)"""
    if not opts.disable_content_trust:
        raise InvalidArgument("--disable-content-trust=false: Docker Content Trust (Notary v1) is not supported; "
                              "require signatures with a signature policy (--signature-policy, containers-policy.json)")
    if opts.volume_driver not in (None, "", "local"):
        raise InvalidArgument(f'volume driver "{opts.volume_driver}" is not supported: dockyard has the "local" '
                              "driver only")
    platform_refusal(opts)


def platform_refusal(opts) -> None:
    """--platform other than linux/amd64: refused. Docker's CLI takes any value and dockerd refuses
    an image of another platform, so `create` exits 1 for it (cmd_create sets that), `run` 125."""
    if opts.platform is not None and opts.platform.lower() not in ("linux", "linux/amd64", "linux/x86_64", "amd64"):
        raise InvalidArgument(f'--platform "{opts.platform}" is not supported: dockyard runs linux/amd64 images '
                              "only, without emulation")


def extra_request(opts, body: dict) -> None:
    """Add the flags above to a create request body (Config keys and body["HostConfig"])."""
    refuse(opts)
    host = body["HostConfig"]
    from dockyard.engine import hostopts

    for flag, key, check in (("--add-host", "ExtraHosts", _check_host), ("--dns", "Dns", hostopts.check_dns),
                             ("--dns-search", "DnsSearch", hostopts.check_search),
                             ("--dns-option", "DnsOptions", None), ("--group-add", "GroupAdd", None)):
        values = opts[flag[2:].replace("-", "_")]
        for v in values:
            if check is not None:
                try:
                    check(v)
                except InvalidArgument as e:
                    raise bad(v, flag, e) from None
        if values:
            host[key] = list(values)
    if opts.link:
        from dockyard.engine.links import parse as parse_link

        for v in opts.link:
            parse_link(v)  # docker's CLI checks the format before any request
        host["Links"] = list(opts.link)
    if opts.ulimit:
        host["Ulimits"] = [parse_ulimit(u) for u in opts.ulimit]
    if opts.sysctl:
        sysctls = {}
        for s in opts.sysctl:
            k, eq, v = s.partition("=")
            if not eq or not (k in hostopts.IPC_SYSCTLS or k.startswith(hostopts.SYSCTL_PREFIXES)):
                raise bad(s, "--sysctl", f"sysctl '{s}' is not allowed")
            sysctls[k] = v
        host["Sysctls"] = sysctls
    for flag, key in (("--shm-size", "ShmSize"), ("--memory-reservation", "MemoryReservation")):
        value = opts[flag[2:].replace("-", "_")]
        if value:
            host[key] = size(value, flag)
    for flag, key in (("--oom-score-adj", "OomScoreAdj"), ("--memory-swappiness", "MemorySwappiness"),
                      ("--cpu-period", "CpuPeriod"), ("--cpu-quota", "CpuQuota"), ("--blkio-weight", "BlkioWeight")):
        value = opts[flag[2:].replace("-", "_")]
        if value and not (key == "MemorySwappiness" and value == "-1"):  # -1: the default, not given
            host[key] = integer(value, flag)
    if "MemorySwappiness" in host and not 0 <= host["MemorySwappiness"] <= 100:  # docker's CLI checks it
        raise InvalidArgument(f"invalid value: {host['MemorySwappiness']}. Valid memory swappiness range is 0-100")
    # docker's CLI checks these modes before any request (so `create` exits 125 for them too)
    for flag, what, allowed, joins in (("--pid", "PID", ("host",), True), ("--uts", "UTS", ("host",), False),
                                       ("--cgroupns", "CGROUP", ("host", "private"), False)):
        value = opts[flag[2:]]
        if value and value not in allowed and not (joins and value.startswith("container:") and value != "container:"):
            raise InvalidArgument(f"{flag}: invalid {what} mode")
    for flag, key in (("--pid", "PidMode"), ("--ipc", "IpcMode"), ("--uts", "UTSMode"), ("--cgroupns", "CgroupnsMode"),
                      ("--cgroup-parent", "CgroupParent"), ("--cpuset-mems", "CpusetMems")):
        value = opts[flag[2:].replace("-", "_")]
        if value:
            host[key] = value
    for flag, key in (("--init", "Init"), ("--oom-kill-disable", "OomKillDisable")):
        if opts[flag[2:].replace("-", "_")]:
            host[key] = True
    for flag, key in (("--device-read-bps", "BlkioDeviceReadBps"), ("--device-write-bps", "BlkioDeviceWriteBps"),
                      ("--device-read-iops", "BlkioDeviceReadIOps"), ("--device-write-iops", "BlkioDeviceWriteIOps")):
        values = opts[flag[2:].replace("-", "_")]
        if values:
            host[key] = [throttle(v, flag, flag.endswith("bps")) for v in values]
    if opts.blkio_weight_device:
        host["BlkioWeightDevice"] = [weight_device(v) for v in opts.blkio_weight_device]
    if opts.annotation:
        notes = {}
        for a in opts.annotation:
            k, eq, v = a.partition("=")
            if not k or not eq:
                raise bad(a, "--annotation", f"bad format for annotation: {a!r} (key=value)")
            notes[k] = v
        host["Annotations"] = notes
    if opts.expose:
        ports = dict(body.get("ExposedPorts") or {})
        for e in opts.expose:
            ports.update({p: {} for p in expose(e)})
        body["ExposedPorts"] = ports
    if opts.mac_address:
        try:
            hostopts.check_mac(opts.mac_address)
        except InvalidArgument as e:
            raise bad(opts.mac_address, "--mac-address", e) from None
        body["MacAddress"] = opts.mac_address
    if opts.label_file:
        body["Labels"] = dict(read_labels(opts.label_file), **(body.get("Labels") or {}))
    if opts.volume_driver:
        host["VolumeDriver"] = opts.volume_driver
    if opts.cidfile:
        host["ContainerIDFile"] = opts.cidfile
    if opts.isolation:
        host["Isolation"] = opts.isolation  # dockerd's check (engine/hostopts.py): `create` exits 1


def _check_host(v: str) -> None:
    from dockyard.engine.hostopts import check_extra_host

    check_extra_host(v)


def parse_ulimit(value: str) -> dict:
    """docker's (go-units) ParseUlimit: name=soft[:hard]."""
    from dockyard.engine.hostopts import ULIMITS

    name, eq, limits = value.partition("=")
    if not eq:
        raise bad(value, "--ulimit", f"invalid ulimit argument: {value}")
    if name not in ULIMITS:
        raise bad(value, "--ulimit", f"invalid ulimit type: {name}")
    soft_s, colon, hard_s = limits.partition(":")
    soft = _parse_int(soft_s, value)
    hard = _parse_int(hard_s, value) if colon else soft
    if soft > hard and hard != -1:
        raise bad(value, "--ulimit", f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return {"Name": name, "Soft": soft, "Hard": hard}


def _parse_int(text: str, value: str) -> int:
    t = text[1:] if text[:1] in "+-" else text
    if not (t.isascii() and t.isdigit()):
        raise bad(value, "--ulimit", f'strconv.ParseInt: parsing "{text}": invalid syntax')
    return int(text)


def size(value: str, flag: str) -> int:
    from dockyard.units import SizeError, ram_in_bytes

    try:
        return ram_in_bytes(value)
    except SizeError as e:
        raise bad(value, flag, e) from None


def integer(value: str, flag: str) -> int:
    t = value[1:] if value[:1] in "+-" else value
    if not (t.isascii() and t.isdigit()) or not -(1 << 63) <= int(value) < (1 << 63):
        raise bad(value, flag, f'strconv.ParseInt: parsing "{value}": invalid syntax')
    return int(value)


def throttle(value: str, flag: str, bps: bool) -> dict:
    """docker's ValidateThrottle{Bps,IOps}Device: /dev/PATH:RATE (a size for bps, a number for iops)."""
    path, colon, rate = value.partition(":")
    if not colon or not path:
        raise bad(value, flag, f"bad format: {value}")
    if not path.startswith("/dev/"):
        raise bad(value, flag, f"bad format for device path: {value}")
    if bps:
        try:
            n = size(rate, flag)
        except InvalidArgument:
            n = -1
        if n < 0:
            raise bad(value, flag, f"invalid rate for device: {value}. The correct format is <device-path>:<number>"
                                   "[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, "
                                   "or gb")
    else:
        if not (rate.isascii() and rate.isdigit()):
            raise bad(value, flag, f"invalid rate for device: {value}. The correct format is <device-path>:<number>. "
                                   "Number must be a positive integer")
        n = int(rate)
    return {"Path": path, "Rate": n}


def expose(value: str) -> list[str]:
    """--expose 80, 80/udp, 7000-7010[/tcp] → ExposedPorts keys (nat.ParsePortRange's rules)."""
    ports, _, proto = value.partition("/")
    proto = proto or "tcp"
    lo, dash, hi = ports.partition("-")
    for part in (lo, hi) if dash else (lo,):
        if not (part.isascii() and part.isdigit()) or int(part) > 65535:
            raise InvalidArgument(f"invalid range format for --expose: {value}, error: strconv.ParseUint: "
                                  f'parsing "{part}": invalid syntax' if not (part.isascii() and part.isdigit())
                                  else f"invalid range format for --expose: {value}, error: port {part} is out of "
                                       "range (1-65535)")
    start, end = int(lo), int(hi if dash else lo)
    if end < start:
        raise InvalidArgument(f"invalid range format for --expose: {value}, error: invalid range specified "
                              f"{ports}")
    if start == 0:
        raise InvalidArgument(f"invalid range format for --expose: {value}, error: port 0 is out of range (1-65535)")
    if proto not in ("tcp", "udp"):
        raise InvalidArgument(f"invalid protocol for --expose {value!r}: dockyard publishes tcp and udp ports")
    return [f"{p}/{proto}" for p in range(start, end + 1)]


def read_labels(files: list[str]) -> dict:
    """--label-file: docker's line-delimited KEY=VALUE files (# comments, blank lines skipped; a
    KEY alone gives an empty value)."""
    out: dict = {}
    for path in files:
        try:
            with open(path, "rb") as f:
                data = f.read(16 << 20)
        except OSError as e:
            raise InvalidArgument(f"open {path}: {(e.strerror or str(e)).lower()}") from None
        for n, raw in enumerate(data.split(b"\n"), 1):
            try:
                line = raw.decode("utf-8").removesuffix("\r").lstrip()
            except UnicodeDecodeError:
                raise InvalidArgument(f"label file {path} contains invalid utf8 bytes at line {n}") from None
            if not line or line.startswith("#"):
                continue
            k, _eq, v = line.partition("=")
            if any(c.isspace() for c in k):
                raise InvalidArgument(f"variable '{k}' contains whitespaces")
            out[k] = v
    return out


class CidFile:
    """docker's --cidfile: refused if the file exists, made before the container, the ID written
    once it exists, removed again if the container was never made."""

    def __init__(self, path: str | None) -> None:
        self.path, self.fd, self.written = path, None, False
        if not path:
            return
        try:
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            raise InvalidArgument(f"container ID file found, make sure the other container isn't running or delete "
                                  f"{path}") from None
        except OSError as e:
            raise InvalidArgument(f"failed to create the container ID file: open {path}: "
                                  f"{(e.strerror or str(e)).lower()}") from None

    def write(self, cid: str) -> None:
        if self.fd is not None and not self.written:
            os.write(self.fd, cid.encode())
            self.written = True

    def close(self) -> None:
        if self.fd is None:
            return
        os.close(self.fd)
        self.fd = None
        if not self.written:
            try:
                os.unlink(self.path)
            except OSError:
                pass
