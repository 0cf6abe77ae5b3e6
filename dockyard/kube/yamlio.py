"""Manifests as multi-document YAML, as kubectl and podman write them; PyYAML is imported only here."""

from __future__ import annotations


from dockyard.errors import InvalidArgument


def _yaml():
    """PyYAML (`pip install 'dockyard[kube]'`), found under the launchers' `python -S` too."""
    from dockyard.extras import require

    return require("kube", "dockyard kube")


def dump(docs: list[dict]) -> str:
    yaml = _yaml()

    return "".join("---\n" + yaml.safe_dump(d, sort_keys=False, default_flow_style=False) for d in docs)


def load(text: str, where: str) -> list[dict]:
    """The objects of a YAML stream (empty documents skipped; a List's items flattened)."""
    yaml = _yaml()

    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise InvalidArgument(f"{where}: not valid YAML: {e}") from None
    out = []
    for i, d in enumerate(docs):
        if not isinstance(d, dict) or not isinstance(d.get("kind"), str):
            raise InvalidArgument(f"{where}: document {i + 1} is not a Kubernetes object (no kind)")
        if d["kind"] == "List":
            items = d.get("items")
            if not isinstance(items, list) or not all(isinstance(x, dict) and isinstance(x.get("kind"), str)
                                                      for x in items):
                raise InvalidArgument(f"{where}: document {i + 1}: a List's items must be objects with a kind")
            out += items
        else:
            out.append(d)
    return out
