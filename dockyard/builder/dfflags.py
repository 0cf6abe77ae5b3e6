"""Instruction arguments (BuildKit's ``instructions`` package): ``--flag`` values, ``RUN --mount``
specs, ``--chmod`` modes, ``KEY=value`` lists, and "did you mean" suggestions."""

from __future__ import annotations

import os

from dockyard.builder.dflines import parse_words
from dockyard.builder.instructions import Mount
from dockyard.builder.lexer import LexError

TYPE_CHECKING = False  # typing is for annotations only: not imported on the cached build path
if TYPE_CHECKING:
    from typing import Any, Iterator


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def suggest(word: str, options: Iterator[str] | tuple[str, ...]) -> str | None:
    best, best_d = None, None
    w = word.lower()
    for o in options:
        d = _levenshtein(w, o.lower())
        if best_d is None or d < best_d:
            best, best_d = o, d
    if best is not None and best_d is not None and 0 < best_d <= max(1, min(2, len(w) // 3)):
        return best
    return None


class Flags:
    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.kinds: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def bool(self, name: str) -> None:
        self.kinds[name] = "bool"
        self.values[name] = False

    def str(self, name: str) -> None:
        self.kinds[name] = "str"
        self.values[name] = None

    def strs(self, name: str) -> None:
        self.kinds[name] = "strs"
        self.values[name] = []

    def parse(self) -> dict[str, Any]:
        used: set[str] = set()
        for arg in self.args:
            if not arg.startswith("--"):
                raise LexError(f"arg should start with -- : {arg}")
            if arg == "--":
                break
            name, eq, value = arg[2:].partition("=")
            kind = self.kinds.get(name)
            if kind is None:
                raise LexError(f"unknown flag: --{name}")
            if name in used and kind != "strs":
                raise LexError(f"duplicate flag specified: --{name}")
            used.add(name)
            if kind == "bool":
                if eq and not value:
                    raise LexError(f"missing a value on flag: --{name}")
                low = value.lower()
                if low in ("", "true"):
                    self.values[name] = True
                elif low == "false":
                    self.values[name] = False
                else:
                    raise LexError(f"expecting boolean value for flag --{name}, not: {value}")
            else:
                if not eq:
                    raise LexError(f"missing a value on flag: --{name}")
                if kind == "str":
                    self.values[name] = value
                else:
                    self.values[name].append(value)
        return self.values


def parse_chmod(value: str, *, where: str = "") -> int:
    """A COPY/ADD ``--chmod`` value: an octal mode from 0 to 07777 (BuildKit's rule)."""
    v = value.strip()
    if v and len(v) <= 5 and all(c in "01234567" for c in v) and int(v, 8) <= 0o7777:
        return int(v, 8)
    prefix = f"{where}: " if where else ""
    raise LexError(f"{prefix}invalid chmod parameter {value!r}: it should be an octal string between 0 and 07777")


def at_least_one(kw: str) -> LexError:
    return LexError(f"{kw} requires at least one argument")


def exactly_one(kw: str) -> LexError:
    return LexError(f"{kw} requires exactly one argument")


def name_vals(rest: str, kw: str, escape: str) -> list[tuple[str, str]]:
    """ENV/LABEL arguments: legacy ``KEY value...`` or ``k=v k2="v 2"`` (values still quoted)."""
    words = parse_words(rest, escape)
    if not words:
        raise at_least_one(kw)
    if "=" not in words[0]:
        parts = rest.strip().split(None, 1)
        if len(parts) < 2:
            raise LexError(f"{kw} must have two arguments")
        return [(parts[0], parts[1])]
    out = []
    for w in words:
        if "=" not in w:
            raise LexError(f"Syntax error - can't find = in \"{w}\". Must be of the form: name=value")
        k, _, v = w.partition("=")
        out.append((k, v))
    return out


NETWORKS = ("default", "none", "host")
SECURITY = ("sandbox", "insecure")
_MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")


def parse_mount(spec: str) -> Mount:
    import csv

    try:
        fields = next(csv.reader([spec]), [])
    except csv.Error as e:
        raise LexError(f"invalid mount {spec!r}: {e}") from None
    vals: dict[str, Any] = {"type": "bind"}
    ro: bool | None = None
    for f in fields:
        f = f.strip()
        if not f:
            continue
        key, eq, value = f.partition("=")
        key = key.lower()
        if not eq:
            if key in ("readonly", "ro"):
                ro = True
            elif key in ("readwrite", "rw"):
                ro = False
            elif key == "required":
                vals["required"] = True
            else:
                raise LexError(f"invalid field '{f}' must be a key=value pair")
            continue
        if key == "type":
            if value not in _MOUNT_TYPES:
                raise LexError(f"unsupported mount type \"{value}\"")
            vals["type"] = value
        elif key in ("target", "dst", "destination"):
            vals["target"] = value
        elif key in ("source", "src"):
            vals["source"] = value
        elif key == "from":
            vals["from_"] = value
        elif key in ("readonly", "ro", "readwrite", "rw", "required"):
            low = value.lower()
            if low not in ("true", "false", "1", "0"):
                raise LexError(f"invalid value for {key}: {value}")
            b = low in ("true", "1")
            if key == "required":
                vals["required"] = b
            else:
                ro = b if key in ("readonly", "ro") else not b
        elif key == "id":
            vals["id"] = value
        elif key == "sharing":
            if value not in ("shared", "private", "locked"):
                raise LexError(f"unsupported sharing value \"{value}\"")
            vals["sharing"] = value
        elif key == "mode":
            try:
                vals["mode"] = int(value, 8)
            except ValueError:
                raise LexError(f"invalid value {value} for mode") from None
        elif key in ("uid", "gid"):
            try:
                vals[key] = int(value)
            except ValueError:
                raise LexError(f"invalid value for {key}: {value}") from None
        elif key == "size":
            vals["size"] = value
        elif key == "env":
            vals["env"] = value
        else:
            raise LexError(f"unexpected key '{key}' in '{f}'")
    typ = vals["type"]
    if typ == "secret":
        if not vals.get("id"):
            if not vals.get("target"):
                raise LexError("one of source, target required")
            vals["id"] = os.path.basename(vals["target"])
        if not vals.get("target") and not vals.get("env"):
            vals["target"] = "/run/secrets/" + vals["id"]
        ro = True if ro is None else ro
    elif typ == "ssh":
        vals.setdefault("id", "default")
        vals.setdefault("target", "/run/buildkit/ssh_agent.0")
        ro = True if ro is None else ro
    elif not vals.get("target"):
        raise LexError("mount destination (target) is required")
    if typ == "cache":
        vals.setdefault("sharing", "shared")
    if ro is None:
        ro = typ == "bind"
    vals["readonly"] = ro
    return Mount(**vals)
