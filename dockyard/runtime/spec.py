"""Reading an OCI bundle: config.json plus the root filesystem it names."""

from __future__ import annotations

import os

from dockyard import jsonfast
from dockyard.errors import BadSpec, NotFound


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
    for m in spec.get("mounts") or ():
        if not isinstance(m, dict) or not str(m.get("destination", "")).startswith("/"):
            raise BadSpec(f"config.json: mount destination must be absolute: {m!r}")
    if spec.get("hooks") is not None:
        from dockyard.runtime.hooks import validate as validate_hooks

        validate_hooks(spec["hooks"])
