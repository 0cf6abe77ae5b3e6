"""ContainerConfig + image config → OCI runtime spec, with docker's defaults and rules.

Everything docker decides about a container's process lives here, in one pure function, so it
can be unit-tested without root: the command (entrypoint + cmd), the environment (image Env,
then -e, plus PATH, HOSTNAME, HOME, TERM), the user, capabilities (`--cap-add/--cap-drop`,
`ALL`, `--privileged`), masked paths, the read-only root, the /etc/hosts family of bind mounts.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument
from dockyard.linux.syscalls import CAPABILITIES
from dockyard.runtime.defaults import DEFAULT_CAPS, DEFAULT_PATH_ENV, default_mounts, default_spec


def command(cfg, image_cfg: dict) -> list[str]:
    """Docker's rule: --entrypoint replaces Entrypoint and drops the image's Cmd."""
    if cfg.entrypoint is not None:
        entry = list(cfg.entrypoint)
        cmd = list(cfg.cmd or ())
    else:
        entry = list(image_cfg.get("Entrypoint") or ())
        cmd = list(cfg.cmd) if cfg.cmd else list(image_cfg.get("Cmd") or ())
    args = entry + cmd
    if not args:
        raise InvalidArgument("No command specified")
    return args


def _norm_cap(name: str, field: str = "CapAdd") -> str:
    n = name.upper()
    if n == "ALL":
        return n
    n = n if n.startswith("CAP_") else "CAP_" + n
    if n not in CAPABILITIES:
        raise InvalidArgument(f'invalid {field}: unknown capability: "{n}"')  # dockerd's words
    return n


def capabilities(cfg) -> list[str]:
    if cfg.privileged:
        return list(CAPABILITIES)
    add = [_norm_cap(c) for c in cfg.cap_add]
    drop = [_norm_cap(c, "CapDrop") for c in cfg.cap_drop]
    caps = list(CAPABILITIES) if "ALL" in add else list(DEFAULT_CAPS)
    if "ALL" in drop:
        caps = []
    caps = [c for c in caps if c not in drop]
    for c in add:
        if c != "ALL" and c not in caps:
            caps.append(c)
    return caps


def merge_env(base: list[str], overrides: list[str]) -> list[str]:
    """Later entries win, keys keep their first position (docker's ReplaceOrAppendEnvValues); an
    override without `=` (an API client's bare NAME) unsets NAME, as dockerd's does."""
    values: dict[str, str] = {}
    for i, kv in enumerate(list(base) + list(overrides)):
        k, eq, v = kv.partition("=")
        if eq:  # `-e NAME` unset on the host never reaches here (the CLI drops it, as docker does)
            values[k] = v
        elif i >= len(base):
            values.pop(k, None)
    return [f"{k}={v}" for k, v in values.items()]


def process_env(cfg, image_cfg: dict, hostname: str, home: str) -> list[str]:
    """docker's order: PATH, HOSTNAME, TERM, then image Env and -e values replacing in place, HOME last."""
    base = [DEFAULT_PATH_ENV, f"HOSTNAME={hostname}"] + (["TERM=xterm"] if cfg.tty else [])
    env = merge_env(base, list(image_cfg.get("Env") or ()) + list(cfg.env))
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={home or '/'}")
    return env


def build_spec(cfg, image_cfg: dict, *, user, hostname: str, etc_files: dict[str, str],
               rootfs: str = "rootfs", seccomp: dict | None = None, annotations: dict | None = None,
               netns_path: str | None = None, userns_map: tuple[int, int] | None = None,
               cgroups_path: str = "", mounts: list[dict] | None = None) -> dict:
    """`user` is a resolved ExecUser; `etc_files` maps /etc/hosts etc. to host files to bind;
    `mounts`: the user's (volumes, binds, tmpfs, as OCI mounts), replacing a default or /etc
    mount at the same destination, as docker's do."""
    spec = default_spec(command(cfg, image_cfg), rootfs=rootfs, terminal=cfg.tty)
    proc = spec["process"]
    proc["env"] = process_env(cfg, image_cfg, hostname, user.home)
    proc["cwd"] = cfg.workdir or image_cfg.get("WorkingDir") or "/"
    if not proc["cwd"].startswith("/"):
        raise InvalidArgument(f"the working directory '{proc['cwd']}' is invalid, it needs to be an absolute path")
    proc["user"] = {"uid": user.uid, "gid": user.gid}
    if user.additional_gids:
        proc["user"]["additionalGids"] = list(user.additional_gids)
    caps = capabilities(cfg)
    # Docker gives a non-root user no effective or permitted capabilities, only the bounding set.
    proc["capabilities"] = {"bounding": caps, "effective": caps if user.uid == 0 else [],
                            "permitted": caps if user.uid == 0 else []}
    from dockyard.engine.security import parse as security_opts

    opts = security_opts(cfg.security_opt)
    proc["noNewPrivileges"] = opts.no_new_privileges
    spec["hostname"] = hostname
    if cfg.domainname:
        spec["domainname"] = cfg.domainname
        # and as dockerd sets it (setLinuxDomainname): runc before 1.2 ignores the spec's field
        spec["linux"].setdefault("sysctl", {})["kernel.domainname"] = cfg.domainname
    spec["root"]["readonly"] = cfg.read_only
    linux = spec["linux"]
    if cfg.network == "host":
        linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] != "network"]
    elif netns_path:
        for ns in linux["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = netns_path
    if cfg.privileged:
        linux["maskedPaths"] = []
        linux["readonlyPaths"] = []
        for m in spec["mounts"]:
            if m["destination"] in ("/sys", "/sys/fs/cgroup"):
                m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]
    else:
        if opts.seccomp != "unconfined" and seccomp is not None:
            linux["seccomp"] = seccomp
        if opts.unmask_paths:  # systempaths=unconfined, as docker: nothing masked or read-only in /proc
            linux["maskedPaths"] = []
            linux["readonlyPaths"] = []
    devices, device_rules = device_policy(cfg)
    if devices:
        linux["devices"] = devices
    if userns_map:
        host_id, size = userns_map
        linux["namespaces"].append({"type": "user"})
        linux["uidMappings"] = [{"containerID": 0, "hostID": host_id, "size": size}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": host_id, "size": size}]
    linux["cgroupsPath"] = cgroups_path
    linux["resources"] = resources(cfg) | {"devices": device_rules}
    for dest, src in etc_files.items():
        spec["mounts"].append({"destination": dest, "type": "bind", "source": src,
                               "options": ["rbind", "rprivate"] + (["ro"] if cfg.read_only else [])})
    if mounts:  # after the defaults, but before those it covers (-v conf:/etc: /etc/hosts on top)
        taken = {m["destination"] for m in mounts}
        base = [m for m in spec["mounts"] if m["destination"] not in taken and not _would_create(m, mounts)]
        if cfg.tty and not any(m["destination"] == "/dev/pts" for m in base):
            raise InvalidArgument("--tty needs a /dev/pts in the container, and the directory mounted on /dev "
                                  "has none")
        prefixes = tuple(d.rstrip("/") + "/" for d in taken)
        spec["mounts"] = [m for m in base if not m["destination"].startswith(prefixes)] + list(mounts) + \
            [m for m in base if m["destination"].startswith(prefixes)]
    if annotations:
        spec["annotations"] = dict(annotations)
    return spec


def _would_create(m: dict, user_mounts) -> bool:
    """A default mount (/dev/pts, /sys/fs/cgroup, /etc/hosts …) inside a directory the user bound
    from the host, whose mount point that directory lacks: mounting it would create the mount
    point in the user's directory. Such a mount is left out (nothing is created in a host
    directory the user did not ask for); where the point exists, it is mounted on as usual."""
    import os

    dest = m["destination"]
    for u in user_mounts:
        top = u["destination"].rstrip("/")
        if u.get("type") == "bind" and dest.startswith(top + "/"):
            return not os.path.lexists(os.path.join(u["source"], dest[len(top) + 1:]))
    return False


def resources(cfg) -> dict:
    """linux.resources from docker's flags (-m, --memory-swap, --cpus, --cpu-shares, --cpuset-cpus,
    --pids-limit). Docker's default: swap may double the memory limit."""
    res: dict = {}
    if cfg.memory:
        mem = {"limit": cfg.memory}
        if cfg.memory_swap:
            mem["swap"] = cfg.memory_swap
        else:
            mem["swap"] = cfg.memory * 2
        res["memory"] = mem
    cpu = {}
    if cfg.cpu_quota:
        cpu["quota"] = cfg.cpu_quota
        cpu["period"] = cfg.cpu_period or 100000
    if cfg.cpu_shares:
        cpu["shares"] = cfg.cpu_shares
    if cfg.cpuset_cpus:
        cpu["cpus"] = cfg.cpuset_cpus
    if cpu:
        res["cpu"] = cpu
    if cfg.pids_limit:
        res["pids"] = {"limit": cfg.pids_limit if cfg.pids_limit > 0 else -1}
    return res


def device_policy(cfg) -> tuple[list, list]:
    """(linux.devices, linux.resources.devices) as Docker makes them: its default rules (deny all,
    then null, zero, urandom, random, tty, console; fuse denied), each --device's node and an
    allow rule with its permissions, then --device-cgroup-rule. --privileged: every host device
    (plus the --device ones) and one rule allowing all. The runtime appends runc's list (devices.py)."""
    from dockyard.runtime.devices import (DOCKER_DEFAULT_RULES, PRIVILEGED_RULES, devices_from_path,
                                          parse_cgroup_rule, parse_device_flag)

    devices = _host_devices() if cfg.privileged else []
    rules = list(PRIVILEGED_RULES if cfg.privileged else DOCKER_DEFAULT_RULES)
    for value in cfg.devices:
        devs, allow = devices_from_path(*parse_device_flag(value))
        devices = [d for d in devices if d["path"] not in {n["path"] for n in devs}] + devs
        if not cfg.privileged:
            rules += allow
    if not cfg.privileged:
        rules += [parse_cgroup_rule(r) for r in cfg.device_cgroup_rules]
    return devices, rules


def _host_devices() -> list[dict]:
    """--privileged: every character/block device of the host's /dev (top level and /dev/*/)."""
    import os
    import stat

    out = []
    for base, _dirs, files in os.walk("/dev"):
        if base.startswith(("/dev/pts", "/dev/shm", "/dev/mqueue")):
            continue
        for f in files:
            p = os.path.join(base, f)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                if p in ("/dev/console", "/dev/ptmx") or p.startswith("/dev/tty") and p != "/dev/tty":
                    continue
                out.append({"path": p, "type": "c" if stat.S_ISCHR(st.st_mode) else "b",
                            "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                            "fileMode": stat.S_IMODE(st.st_mode), "uid": 0, "gid": 0})
    return out


def default_mount_destinations() -> set[str]:
    return {m["destination"] for m in default_mounts()}
