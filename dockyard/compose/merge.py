"""Merging Compose files as compose-go's override.Merge does: mappings merge key by key, sequences
are appended (then `canonical.enforce_unicity` keeps one entry per key), scalars are replaced, and a
few keys have their own rules (``command``/``entrypoint``/``healthcheck.test`` are replaced,
``environment``/``labels``/… merge as KEY=VALUE lists, ``depends_on``/``networks`` as maps,
``logging`` only when the driver is the same). ``!reset`` removes a value, ``!override`` replaces it.
"""

from __future__ import annotations

from dockyard.compose.gotypes import go_str
from dockyard.compose.yamlio import RESET, Override
from dockyard.errors import InvalidArgument


def _match(path: tuple, pattern: tuple) -> bool:
    if len(path) != len(pattern):
        return False
    return all(p == "*" or p == k for k, p in zip(path, pattern))


def _to_sequence(v) -> list:
    if isinstance(v, dict):
        seq = []
        for k, e in v.items():
            if e is None:
                seq.append(k)
            elif isinstance(e, list):
                seq.extend(f"{k}={go_str(x)}" for x in e)
            else:
                seq.append(f"{k}={go_str(e)}")
        return sorted(seq)
    if isinstance(v, list):
        return list(v)
    if isinstance(v, str):
        return [v]
    return []


def _to_mapping(v, default: dict | None) -> dict:
    if isinstance(v, dict):
        return v
    if isinstance(v, list):
        return {str(s): (dict(default) if default is not None else None) for s in v}
    return {}


def _merge_to_sequence(a, b, path):
    return _to_sequence(a) + _to_sequence(b)


def _merge_extra_hosts(a, b, path):
    right, left = _to_sequence(a), _to_sequence(b)
    return right + [x for x in left if x not in right]


def _override(a, b, path):
    return b


def _merge_depends_on(a, b, path):
    d = {"condition": "service_started", "required": True}
    return _merge_mappings(_to_mapping(a, d), _to_mapping(b, d), path)


def _merge_networks(a, b, path):
    return _merge_mappings(_to_mapping(a, None), _to_mapping(b, None), path)


def _merge_build(a, b, path):
    def as_map(v):
        return {"context": v} if isinstance(v, str) else v
    return _merge_mappings(as_map(a), as_map(b), path)


def _merge_logging(a, b, path):
    if not isinstance(a, dict) or not isinstance(b, dict):
        return b
    if "driver" not in a or "driver" not in b or a["driver"] == b["driver"]:
        return _merge_mappings(a, b, path)
    return b


def _merge_ulimit(a, b, path):
    if isinstance(a, dict) and isinstance(b, dict):
        return _merge_mappings(a, b, path)
    return b


def _merge_ipam_config(a, b, path):
    if not isinstance(a, list) or not isinstance(b, list):
        raise InvalidArgument(f"{'.'.join(path)}: unexpected type")
    out: list = []
    for original in a:
        for over in b:
            if over.get("subnet") != original.get("subnet"):
                if not any(c.get("subnet") == over.get("subnet") for c in out):
                    out.append(over)
                    continue
            merged = _merge_mappings(dict(original), over, path)
            idx = next((n for n, c in enumerate(out) if c.get("subnet") == merged.get("subnet")), -1)
            if idx >= 0:
                out[idx] = merged
            else:
                out.append(merged)
    return out


_SPECIALS = [
    (("networks", "*", "ipam", "config"), _merge_ipam_config),
    (("networks", "*", "labels"), _merge_to_sequence),
    (("volumes", "*", "labels"), _merge_to_sequence),
    (("services", "*", "annotations"), _merge_to_sequence),
    (("services", "*", "build"), _merge_build),
    (("services", "*", "build", "args"), _merge_to_sequence),
    (("services", "*", "build", "additional_contexts"), _merge_to_sequence),
    (("services", "*", "build", "extra_hosts"), _merge_extra_hosts),
    (("services", "*", "build", "labels"), _merge_to_sequence),
    (("services", "*", "command"), _override),
    (("services", "*", "depends_on"), _merge_depends_on),
    (("services", "*", "deploy", "labels"), _merge_to_sequence),
    (("services", "*", "dns"), _merge_to_sequence),
    (("services", "*", "dns_opt"), _merge_to_sequence),
    (("services", "*", "dns_search"), _merge_to_sequence),
    (("services", "*", "entrypoint"), _override),
    (("services", "*", "env_file"), _merge_to_sequence),
    (("services", "*", "label_file"), _merge_to_sequence),
    (("services", "*", "environment"), _merge_to_sequence),
    (("services", "*", "extra_hosts"), _merge_extra_hosts),
    (("services", "*", "healthcheck", "test"), _override),
    (("services", "*", "labels"), _merge_to_sequence),
    (("services", "*", "volumes", "*", "volume", "labels"), _merge_to_sequence),
    (("services", "*", "logging"), _merge_logging),
    (("services", "*", "models"), _merge_networks),
    (("services", "*", "networks"), _merge_networks),
    (("services", "*", "sysctls"), _merge_to_sequence),
    (("services", "*", "tmpfs"), _merge_to_sequence),
    (("services", "*", "ulimits", "*"), _merge_ulimit),
]


def merge_file(base: dict, other: dict) -> dict:
    """A later file's tree over the model so far: first what it marks ``!reset`` or ``!override``
    is removed from the model (as compose-go's reset processor does), then the rest is merged."""
    apply_resets(base, other)
    return merge(base, strip_tags(other))


def apply_resets(base, other) -> None:
    if not isinstance(other, dict) or not isinstance(base, dict):
        return
    for k, v in other.items():
        if v is RESET or isinstance(v, Override):
            base.pop(k, None)
        elif k in base:
            apply_resets(base[k], v)


def merge(base, other, path: tuple = ()):
    """Merge ``other`` (a later file, tags stripped) over ``base``; trees are changed in place."""
    for pattern, fn in _SPECIALS:
        if _match(path, pattern):
            return fn(base, strip_tags(other), path)
    if other is None:
        return base
    if isinstance(base, dict):
        if not isinstance(other, dict):
            raise InvalidArgument(f"cannot override {'.'.join(path)}")
        return _merge_mappings(base, other, path)
    if isinstance(base, list):
        if not isinstance(other, list):
            raise InvalidArgument(f"cannot override {'.'.join(path)}")
        return base + strip_tags(other)
    return strip_tags(other)


def _merge_mappings(base: dict, other: dict, path: tuple) -> dict:
    for k, v in other.items():
        if k not in base:
            base[k] = strip_tags(v)
            continue
        base[k] = merge(base[k], v, path + (k,))
    return base


def strip_tags(node):
    """The tree without ``!reset`` entries and with ``!override`` values unwrapped."""
    if isinstance(node, Override):
        return strip_tags(node.value)
    if isinstance(node, dict):
        return {k: strip_tags(v) for k, v in node.items() if v is not RESET}
    if isinstance(node, list):
        return [strip_tags(v) for v in node if v is not RESET]
    return node
