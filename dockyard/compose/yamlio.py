"""Reading Compose YAML as Compose v2 (Go's yaml.v3) reads it: YAML 1.2 scalars (``yes``, ``on``
and ``1:30`` stay strings, dates are times; ``0o17`` and ``0x1f`` are ints, ``0755`` too as yaml.v3 takes it),
anchors and ``<<`` merge keys, the ``!reset`` and ``!override`` tags, several documents in one file,
and only string keys. Writing: the ``config`` command's YAML.
"""

from __future__ import annotations

import re

from dockyard.errors import InvalidArgument


def _import_yaml():
    """PyYAML (`pip install 'dockyard[compose]'`), found under the launchers' `python -S` too."""
    from dockyard.extras import require

    return require("compose", "dockyard compose")


yaml = _import_yaml()


class Reset:
    """``!reset``: the value is removed from what earlier files set."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "!reset"


RESET = Reset()


class Override:
    """``!override VALUE``: replaces what earlier files set instead of merging with it."""

    __slots__ = ("value",)

    def __init__(self, value) -> None:
        self.value = value


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when there is one
    pass


_Loader.yaml_implicit_resolvers = {}
_RESOLVERS = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
     "-+0123456789."),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", "<"),
    # yaml.v3 still reads plain timestamps as time values (which Compose then refuses)
    ("tag:yaml.org,2002:timestamp", r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?"
     r"(?:(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?"
     r"(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)?)$", "0123456789"),
]
for _tag, _rx, _first in _RESOLVERS:
    _Loader.add_implicit_resolver(_tag, re.compile(_rx), list(_first))


def _int(loader, node):
    v = loader.construct_scalar(node)
    s = v.replace("_", "")
    if s.startswith(("0o", "0x")):
        return int(s, 0)
    sign = -1 if s.startswith("-") else 1
    body = s.lstrip("+-")
    if len(body) > 1 and body.startswith("0"):  # yaml.v3 reads 0755 as octal
        try:
            return sign * int(body, 8)
        except ValueError:
            return sign * int(body, 10)
    return int(s)


def _float(loader, node):
    v = loader.construct_scalar(node)
    low = v.lower()
    if low.endswith("inf"):
        return float("-inf") if low.startswith("-") else float("inf")
    if low == ".nan":
        return float("nan")
    return float(v)


_Loader.add_constructor("tag:yaml.org,2002:int", _int)
_Loader.add_constructor("tag:yaml.org,2002:float", _float)
_Loader.add_constructor("!reset", lambda loader, node: RESET)


def _override(loader, node):
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_scalar(node))


_Loader.add_constructor("!override", _override)


def load_documents(text: str, filename: str) -> list:
    """Every document of a file; errors name the file and line."""
    try:
        return [d for d in yaml.load_all(text, Loader=_Loader)]
    except RecursionError:
        raise InvalidArgument(f"failed to parse {filename}: yaml: nested too deeply") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        line = f"yaml: line {mark.line + 1}: " if mark is not None else "yaml: "
        raise InvalidArgument(f"failed to parse {filename}: {line}{problem}") from None


MAX_NODE_VISITS = 100_000  # compose-go's cap: aliases of aliases ("billion laughs") stop here
MAX_DEPTH = 200  # deeper than any Compose key: later steps recurse, so refuse it here


def check_keys(node, path: str = "", _budget: list | None = None, _depth: int = 0) -> None:
    """Compose keys are strings: a number or null as a key is refused as v2 refuses it. The walk
    follows aliases as every later step would, so a document whose aliases expand past
    ``MAX_NODE_VISITS`` nodes is refused here, before anything expands it."""
    if _budget is None:
        _budget = [MAX_NODE_VISITS]
    _budget[0] -= 1
    if _budget[0] < 0:
        raise InvalidArgument(f"compose file exceeds maximum node visit limit ({MAX_NODE_VISITS})")
    if _depth > MAX_DEPTH:
        where = path if len(path) < 80 else path[:80] + "…"
        raise InvalidArgument(f"compose file nests deeper than {MAX_DEPTH} levels at {where}")
    if isinstance(node, dict):
        for k, v in node.items():
            if not isinstance(k, str):
                key = "null" if k is None else str(k).lower() if isinstance(k, bool) else str(k)
                loc = f"{path}.{key}" if path else key
                raise InvalidArgument(f"non-string key in {loc}: {key}" if not path else
                                      f"non-string key in {path}: {key}")
            check_keys(v, f"{path}.{k}" if path else k, _budget, _depth + 1)
    elif isinstance(node, list):
        for n, v in enumerate(node):
            check_keys(v, f"{path}[{n}]", _budget, _depth + 1)
    elif isinstance(node, Override):
        check_keys(node.value, path, _budget, _depth)


class _Dumper(yaml.SafeDumper):  # the Python emitter: libyaml's ignores the list indentation below
    def increase_indent(self, flow=False, indentless=False):  # lists indented under their key, as yaml.v3
        return super().increase_indent(flow, False)


def _str(dumper, data):
    style = None
    if "\n" in data:
        style = "|"
    elif data == "" or _needs_quotes(data):
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _needs_quotes(s: str) -> bool:
    for _tag, rx, _first in _RESOLVERS:
        if re.match(rx, s):
            return True
    return s.lower() in ("yes", "no", "on", "off", "y", "n") or bool(re.match(r"^[0-9:]+$", s))


_Dumper.add_representer(str, _str)
_Dumper.ignore_aliases = lambda self, data: True  # type: ignore[assignment]


def dump(data) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     indent=2, width=1 << 30)
