"""`ContainerConfig.host_opts` (engine/hostopts.py) applied to a container's OCI spec, as dockerd's
oci_linux.go does: rlimits, oomScoreAdj, sysctls, /dev/shm's size, the pid/ipc/uts/cgroup
namespaces (host: none of its own; container:X: X's, by path), the cgroup parent, --init (tini,
bound at Docker's /sbin/docker-init), further cgroup limits and annotations.

Called by engine/launch.py after specgen.build_spec; above networking.py and status.py.
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument

INIT_PATH = "/sbin/docker-init"  # where Docker binds its docker-init (tini) in the container
INIT_SOURCES = ("/usr/bin/tini-static", "/usr/bin/docker-init", "/usr/libexec/docker/docker-init")
RLIM_INFINITY = (1 << 64) - 1


def etc_options(engine, cfg) -> dict:
    """write_etc_files' keyword arguments for --add-host, --dns, --dns-search, --dns-option."""
    o = cfg.host_opts or {}
    if not o:
        return {}
    from dockyard.engine.networking import extra_hosts

    return {"extra_hosts": extra_hosts(engine, o), "dns": tuple(o.get("Dns") or ()),
            "search": tuple(o.get("DnsSearch") or ()), "options": tuple(o.get("DnsOptions") or ())}


def init_binary() -> str:
    for path in INIT_SOURCES:
        if os.path.isfile(path):
            return path
    raise InvalidArgument("--init needs a static tini: install Debian's tini package (it ships /usr/bin/tini-static)")


def joined_pid(engine, mode: str, what: str) -> tuple:
    """(init pid, record) of the running container a `container:X` mode names."""
    from dockyard.engine.status import Status, effective_state
    from dockyard.errors import Conflict

    other = engine.db.get_container(mode.partition(":")[2])
    st = effective_state(other, engine.db)
    if st.get("Status") not in (Status.RUNNING, Status.PAUSED):
        raise Conflict(f"cannot join {what} of a non running container: {other.name}")
    return st["Pid"], other


def apply(engine, spec: dict, cfg, cid: str) -> None:
    o = cfg.host_opts or {}
    proc, linux = spec["process"], spec["linux"]
    if o.get("Ulimits"):
        proc["rlimits"] = [{"type": "RLIMIT_" + u["Name"].upper(), "soft": _lim(u["Soft"]), "hard": _lim(u["Hard"])}
                           for u in o["Ulimits"]]
    if o.get("OomScoreAdj"):
        proc["oomScoreAdj"] = o["OomScoreAdj"]
    if o.get("Sysctls"):
        linux["sysctl"] = {**linux.get("sysctl", {}), **o["Sysctls"]}
    if o.get("ShmSize"):
        for m in spec["mounts"]:
            if m["destination"] == "/dev/shm" and m.get("type") == "tmpfs":
                m["options"] = [x for x in m["options"] if not x.startswith("size=")] + [f"size={o['ShmSize']}"]
    _namespaces(engine, spec, o, cid)
    if o.get("CgroupParent") and linux.get("cgroupsPath"):
        linux["cgroupsPath"] = o["CgroupParent"] + "/" + linux["cgroupsPath"].rsplit("/", 1)[-1]
    if o.get("Init"):
        spec["mounts"].append({"destination": INIT_PATH, "type": "bind", "source": init_binary(),
                               "options": ["rbind", "ro"]})
        proc["args"] = [INIT_PATH, "--"] + list(proc["args"])
    host_resources(linux.setdefault("resources", {}), o)
    if o.get("Annotations"):
        spec["annotations"] = dict(spec.get("annotations") or {}, **o["Annotations"])


def _lim(v: int) -> int:
    return RLIM_INFINITY if v < 0 else v


def _set_ns(linux: dict, kind: str, path: str | None, *, keep: bool = True) -> None:
    """The namespace `kind`: removed (keep=False, the host's), or its own, or joined by path."""
    nss = [ns for ns in linux["namespaces"] if ns["type"] != kind]
    if keep:
        nss.append({"type": kind, "path": path} if path else {"type": kind})
    linux["namespaces"] = nss


def shared_shm(engine, cid: str, size: int) -> str:
    """--ipc shareable: /dev/shm is a tmpfs on the host (<container dir>/shm, as Docker's
    mounts/shm), so a `--ipc container:X` joiner can bind the same one. Removed with the
    container (launch.cleanup_files)."""
    from dockyard.linux import syscalls as sc

    path = os.path.join(engine.container_dir(cid), "shm")
    os.makedirs(path, mode=0o700, exist_ok=True)
    if not os.path.ismount(path):
        sc.mount("shm", path, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, f"mode=1777,size={size}")
    return path


def _namespaces(engine, spec: dict, o: dict, cid: str) -> None:
    linux = spec["linux"]
    pid = o.get("PidMode", "")
    if pid == "host":
        _set_ns(linux, "pid", None, keep=False)
    elif pid.startswith("container:"):
        n, _ = joined_pid(engine, pid, "PID namespace")
        _set_ns(linux, "pid", f"/proc/{n}/ns/pid")
    ipc = o.get("IpcMode", "")
    shm = None
    if ipc == "host":
        _set_ns(linux, "ipc", None, keep=False)
        shm = "/dev/shm"
    elif ipc == "shareable":
        shm = shared_shm(engine, cid, o.get("ShmSize") or 64 << 20)
    elif ipc.startswith("container:"):
        n, other = joined_pid(engine, ipc, "IPC namespace")
        donor = (other.config.get("host_opts") or {}).get("IpcMode")
        if donor == "host":
            _set_ns(linux, "ipc", None, keep=False)
            shm = "/dev/shm"
        elif donor == "shareable" and os.path.ismount(os.path.join(engine.container_dir(other.id), "shm")):
            _set_ns(linux, "ipc", f"/proc/{n}/ns/ipc")
            shm = os.path.join(engine.container_dir(other.id), "shm")
        else:
            raise InvalidArgument(f"cannot join IPC of container {other.name}: non-shareable IPC (hint: use "
                                  "--ipc shareable for the donor container)")
    if ipc == "none":  # Docker's "none": a private IPC namespace without /dev/shm
        spec["mounts"] = [m for m in spec["mounts"] if m["destination"] != "/dev/shm"]
    elif shm:
        spec["mounts"] = [m for m in spec["mounts"] if m["destination"] != "/dev/shm"] + [
            {"destination": "/dev/shm", "type": "bind", "source": shm, "options": ["rbind", "nosuid", "noexec",
                                                                                   "nodev"]}]
    if o.get("UTSMode") == "host":
        _set_ns(linux, "uts", None, keep=False)
        spec.pop("hostname", None)
        spec.pop("domainname", None)
        linux.get("sysctl", {}).pop("kernel.domainname", None)
    cgroupns = o.get("CgroupnsMode", "")
    if cgroupns:
        _set_ns(linux, "cgroup", None, keep=cgroupns == "private")


def host_resources(res: dict, o: dict) -> None:
    mem = {}
    if o.get("MemoryReservation"):
        mem["reservation"] = o["MemoryReservation"]
    if "MemorySwappiness" in o:
        mem["swappiness"] = o["MemorySwappiness"]
    if o.get("OomKillDisable"):
        mem["disableOOMKiller"] = True
    if mem:
        res["memory"] = dict(res.get("memory") or {}, **mem)
    cpu = {}
    if o.get("CpuPeriod"):
        cpu["period"] = o["CpuPeriod"]
    if o.get("CpuQuota"):
        cpu["quota"] = o["CpuQuota"]
        cpu.setdefault("period", (res.get("cpu") or {}).get("period") or 100000)
    if o.get("CpusetMems"):
        cpu["mems"] = o["CpusetMems"]
    if cpu:
        res["cpu"] = dict(res.get("cpu") or {}, **cpu)
    bio = {}
    if o.get("BlkioWeight"):
        bio["weight"] = o["BlkioWeight"]
    if o.get("BlkioWeightDevice"):
        from dockyard.engine.hostopts import block_device

        bio["weightDevice"] = [dict(zip(("major", "minor"), block_device(d["Path"])), weight=d["Weight"])
                               for d in o["BlkioWeightDevice"]]
    for key, field in (("BlkioDeviceReadBps", "throttleReadBpsDevice"), ("BlkioDeviceWriteBps",
                                                                          "throttleWriteBpsDevice"),
                       ("BlkioDeviceReadIOps", "throttleReadIOPSDevice"), ("BlkioDeviceWriteIOps",
                                                                           "throttleWriteIOPSDevice")):
        if o.get(key):
            from dockyard.engine.hostopts import block_device

            devs = []
            for d in o[key]:
                major, minor = block_device(d["Path"])
                devs.append({"major": major, "minor": minor, "rate": d["Rate"]})
            bio[field] = devs
    if bio:
        res["blockIO"] = bio
