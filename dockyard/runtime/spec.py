"""Reading an OCI bundle: config.json plus the root filesystem it names."""

from __future__ import annotations

import json
import os

from dockyard.errors import BadSpec, NotFound


# Linux's resource limits (getrlimit(2)); any other name cannot be mapped to the kernel.
RLIMITS = frozenset(("RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
                     "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC",
                     "RLIMIT_RSS", "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"))


def load_bundle(bundle: str) -> tuple[dict, str]:
    """Return (spec, absolute rootfs path), with the checks runc makes before it forks."""
    path = os.path.join(bundle, "config.json")
    try:
        with open(path) as f:
            spec = json.load(f)
    except FileNotFoundError:
        raise NotFound(f"bundle {bundle}: config.json not found") from None
    except json.JSONDecodeError as e:
        raise BadSpec(f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
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
