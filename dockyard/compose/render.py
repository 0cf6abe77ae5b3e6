"""The model as `docker compose config` writes it: JSON as Go's encoder does (two-space indent,
``<``, ``>`` and ``&`` escaped, no final newline), YAML in the Project's field order without the
empty struct values and null commands the JSON form carries."""

from __future__ import annotations

import json

_TOP_ORDER = ("name", "services", "networks", "volumes", "secrets", "configs", "models")


def render(model: dict, fmt: str) -> str:
    """``$`` in values is written ``$$`` (v2 does, so the output loads again as the same model)."""
    model = escape_dollars(model)
    if fmt == "json":
        text = json.dumps(model, indent=2, ensure_ascii=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    from dockyard.compose.yamlio import dump

    return dump(yaml_shape(model))


def yaml_shape(model: dict) -> dict:
    """The JSON model reshaped as v2's YAML: Project field order, ``command``/``entrypoint`` null
    left out, ``ipam``/``placement``/``resources`` left out when empty (Go struct values)."""
    out = {k: model[k] for k in _TOP_ORDER if k in model}
    out.update((k, v) for k, v in model.items() if k not in out)
    services = {}
    for name, svc in (out.get("services") or {}).items():
        s = {k: v for k, v in svc.items() if not (k in ("command", "entrypoint") and v is None)}
        dep = s.get("deploy")
        if isinstance(dep, dict):
            s["deploy"] = {k: v for k, v in dep.items() if not (k in ("placement", "resources") and v == {})}
        services[name] = s
    if "services" in out:
        out["services"] = services
    if "networks" in out:
        out["networks"] = {k: {a: b for a, b in v.items() if not (a == "ipam" and b == {})}
                           for k, v in out["networks"].items()}
    return out


def escape_dollars(node):
    if isinstance(node, str):
        return node.replace("$", "$$")
    if isinstance(node, dict):
        return {k: escape_dollars(v) for k, v in node.items()}
    if isinstance(node, list):
        return [escape_dollars(v) for v in node]
    return node


def render_model(model: dict, fmt: str) -> str:
    """The untyped model (`config --no-interpolate`): keys sorted at every level, as Go writes maps."""
    model = _sorted(model)
    if fmt == "json":
        text = json.dumps(model, indent=2, ensure_ascii=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    from dockyard.compose.yamlio import dump

    return dump(model)


def _sorted(node):
    if isinstance(node, dict):
        return {k: _sorted(node[k]) for k in sorted(node)}
    if isinstance(node, list):  # an empty YAML list is a nil slice in compose-go's tree: null
        return [_sorted(v) for v in node] or None
    return node
