"""Reading an OCI bundle: config.json plus the root filesystem it names."""

from __future__ import annotations

import os

from dockyard import jsonfast
from dockyard.errors import BadSpec, NotFound


# Linux's resource limits (getrlimit(2)); any other name cannot be mapped to the kernel.
RLIMITS = frozenset(("RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
                     "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC",
                     "RLIMIT_RSS", "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"))


def load_bundle(bundle: str) -> tuple[dict, str]:
    """Return (spec, absolute rootfs path), with the checks runc makes before it forks."""
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise NotFound(f"bundle {bundle}: config.json not found") from None
    try:
        spec = jsonfast.loads(data)  # `json` (and `re`) only to say what is wrong with bad JSON
    except ValueError:
        import json

        try:
            spec = json.loads(data)
        except json.JSONDecodeError as e:
            raise BadSpec(f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
        except ValueError as e:  # not UTF-8 text
            raise BadSpec(f"{path}: invalid JSON: {e}") from None
    validate(spec)
    root = (spec.get("root") or {}).get("path") or "rootfs"
    rootfs = root if os.path.isabs(root) else os.path.join(bundle, root)
    if not os.path.isdir(rootfs):
        raise BadSpec(f"rootfs ({rootfs}) does not exist")
    return spec, os.path.realpath(rootfs)


def validate(spec: dict) -> None:
    if not isinstance(spec, dict):
        raise BadSpec("config.json must hold a JSON object")
    proc = spec.get("process")
    if not isinstance(proc, dict):
        raise BadSpec("config.json: process is required")
    args = proc.get("args")
    if not args or not all(isinstance(a, str) for a in args):
        raise BadSpec("config.json: process.args must be a non-empty list of strings")
    cwd = proc.get("cwd", "/")
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        raise BadSpec(f"config.json: process.cwd must be an absolute path, got {cwd!r}")
    for rl in proc.get("rlimits") or ():
        if not isinstance(rl, dict) or rl.get("type") not in RLIMITS:
            kind = rl.get("type") if isinstance(rl, dict) else rl
            raise BadSpec(f"config.json: wrong rlimit value: {kind!r} is not one of {', '.join(sorted(RLIMITS))}")
    from dockyard.runtime.lsm import check

    check(proc, spec.get("linux"))
    for m in spec.get("mounts") or ():
        if not isinstance(m, dict) or not str(m.get("destination", "")).startswith("/"):
            raise BadSpec(f"config.json: mount destination must be absolute: {m!r}")
    if spec.get("hooks") is not None:
        from dockyard.runtime.hooks import validate as validate_hooks

        validate_hooks(spec["hooks"])
    validate_namespaces(spec)


ROOTFS_PROPAGATIONS = ("shared", "rshared", "slave", "rslave", "private", "rprivate", "unbindable", "runbindable")
# sysctls namespaced by the IPC namespace (runc's list), plus fs.mqueue.*
_IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
                "kernel.shmmni", "kernel.shm_rmid_forced")


def validate_namespaces(spec: dict) -> None:
    """What a spec asks of namespaces it does not have: refused with runc's messages (its
    specconv and configs/validate), before anything is forked. Where runc would act on the
    host instead (rootfsPropagation applied to the host's `/`) or silently do nothing (a
    read-only root without a mount namespace), we refuse too."""
    linux = spec.get("linux") or {}
    types: dict = {}
    for ns in linux.get("namespaces") or ():
        t = ns.get("type") if isinstance(ns, dict) else None
        if t in types:
            raise BadSpec(f"malformed spec file: duplicated ns {t!r}")
        types[t] = ns.get("path") or ""
    prop = linux.get("rootfsPropagation") or ""
    if prop and prop not in ROOTFS_PROPAGATIONS:
        raise BadSpec(f"rootfsPropagation={prop} is not supported")
    if "uts" not in types:
        if spec.get("hostname"):
            raise BadSpec("unable to set hostname without a private UTS namespace")
        if spec.get("domainname"):
            raise BadSpec("unable to set domainname without a private UTS namespace")
    if "mount" not in types:
        if linux.get("maskedPaths") or linux.get("readonlyPaths"):
            raise BadSpec("unable to restrict sys entries without a private MNT namespace")
        if prop:
            raise BadSpec(f"rootfsPropagation={prop} needs a private MNT namespace (without one it would "
                          "change the host's mounts)")
        if (spec.get("root") or {}).get("readonly"):
            raise BadSpec("unable to make the root read-only without a private MNT namespace")
    if "user" in types:
        if not os.path.exists("/proc/self/ns/user"):
            raise BadSpec("user namespaces aren't enabled in the kernel")
        if not types["user"] and not (linux.get("uidMappings") or linux.get("gidMappings")):
            raise BadSpec("user namespaces enabled, but no namespace path to join nor mappings to apply specified")
    elif linux.get("uidMappings") or linux.get("gidMappings"):
        raise BadSpec("user namespace mappings specified, but user namespace isn't enabled in the config")
    if "cgroup" in types and not os.path.exists("/proc/self/ns/cgroup"):
        raise BadSpec("cgroup namespaces aren't enabled in the kernel")
    for key in linux.get("sysctl") or {}:
        _check_sysctl(str(key), types)


def _check_sysctl(key: str, types: dict) -> None:
    """runc's rule: a sysctl is allowed only when the namespace that holds it is the container's."""
    i = next((i for i, c in enumerate(key) if c in "./"), -1)
    if i >= 0 and key[i] == "/":  # "net/ipv4/conf/eth0.100/x" → "net.ipv4.conf.eth0/100.x"
        key = key.translate(str.maketrans("./", "/."))
    if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
        if "ipc" not in types:
            raise BadSpec(f"sysctl {key!r} is not allowed in the hosts ipc namespace")
        return
    if key.startswith("net."):
        path = types.get("network")
        if path is None or (path and _same_file(path, "/proc/self/ns/net")):
            raise BadSpec(f"sysctl {key!r} not allowed in host network namespace")
        return
    if "uts" in types:
        if key == "kernel.domainname":
            return
        if key == "kernel.hostname":
            raise BadSpec(f"sysctl {key!r} is not allowed as it conflicts with the OCI \"hostname\" field")
    raise BadSpec(f"sysctl {key!r} is not in a separate kernel namespace")


def _same_file(a: str, b: str) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError as e:
        raise BadSpec(f"invalid netns path: {a}: {e.strerror}") from None
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)
