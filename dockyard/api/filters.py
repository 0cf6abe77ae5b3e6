"""The `filters` query parameter every list and prune endpoint takes, read once for all."""

from __future__ import annotations

import json

from dockyard.errors import InvalidArgument


def parse_filters(raw: str | None, allowed: tuple) -> dict[str, list[str]]:
    """docker's `filters` query: {"key": ["v", …]} (or the old {"key": {"v": true}}); a key
    outside `allowed` is refused as dockerd refuses it."""
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
    except ValueError:
        raise InvalidArgument(f"invalid filters: {raw!r} is not JSON") from None
    if not isinstance(doc, dict):
        raise InvalidArgument("invalid filters: expected a JSON object")
    out = {}
    for k, v in doc.items():
        if k not in allowed:
            raise InvalidArgument(f"Invalid filter '{k}'")
        values = list(v) if isinstance(v, (list, dict)) else None
        if values is None or not all(isinstance(x, str) for x in values):
            raise InvalidArgument(f"Invalid filter '{k}': expected a list of strings")
        out[k] = values
    return out


def label_ok(labels: dict, cond: str) -> bool:
    """`label=key` or `label=key=value` against an object's labels."""
    k, eq, v = cond.partition("=")
    return k in labels and (not eq or labels[k] == v)
