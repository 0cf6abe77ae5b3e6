"""Variable interpolation in Compose files, with compose-go's rules.

Forms: ``$$`` (a literal ``$``), ``$VAR``, ``${VAR}``, ``${VAR:-default}`` (unset or empty),
``${VAR-default}`` (unset), ``${VAR:+alt}`` (set and not empty), ``${VAR+alt}`` (set),
``${VAR:?error}`` and ``${VAR?error}``. Defaults are themselves interpolated, so they nest
(``${A:-${B:-x}}``). An unset variable without a default becomes "" with a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dockyard.errors import InvalidArgument


class InterpolationError(InvalidArgument):
    pass


def _is_name_start(c: str) -> bool:
    return c == "_" or ("a" <= c <= "z") or ("A" <= c <= "Z")


def _is_name_char(c: str) -> bool:
    return _is_name_start(c) or ("0" <= c <= "9")


def _closing_brace(s: str, start: int) -> int:
    """Index of the ``}`` closing the ``${`` whose ``{`` is at ``start``, nested braces counted."""
    depth = 0
    i = start
    while i < len(s):
        c = s[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def substitute(template: str, env: Mapping[str, str], *, where: str = "",
               warn: Callable[[str], None] | None = None) -> str:
    """Interpolate one string; ``where`` (a dotted path) names it in errors."""
    if "$" not in template:
        return template
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        c = template[i]
        if c != "$":
            j = template.find("$", i)
            j = n if j < 0 else j
            out.append(template[i:j])
            i = j
            continue
        nxt = template[i + 1] if i + 1 < n else ""
        if nxt == "$":
            out.append("$")
            i += 2
        elif _is_name_start(nxt):
            j = i + 1
            while j < n and _is_name_char(template[j]):
                j += 1
            out.append(_lookup(template[i + 1:j], env, warn))
            i = j
        elif nxt == "{":
            end = _closing_brace(template, i + 1)
            if end < 0:
                raise _invalid(template, where)
            out.append(_braced(template[i + 2:end], env, template, where, warn))
            i = end + 1
        else:  # a "$" that starts nothing is itself
            out.append("$")
            i += 1
    return "".join(out)


def _invalid(template: str, where: str) -> InterpolationError:
    at = f" for {where}" if where else ""
    return InterpolationError(f"invalid interpolation format{at}.\nYou may need to escape any $ with another $.\n"
                              f"{template}")


def _lookup(name: str, env: Mapping[str, str], warn) -> str:
    value = env.get(name)
    if value is None:
        if warn is not None:
            warn(f'The "{name}" variable is not set. Defaulting to a blank string.')
        return ""
    return value


def _braced(body: str, env: Mapping[str, str], template: str, where: str, warn) -> str:
    if not body or not _is_name_start(body[0]):
        raise _invalid(template, where)
    j = 1
    while j < len(body) and _is_name_char(body[j]):
        j += 1
    name, rest = body[:j], body[j:]
    if not rest:
        return _lookup(name, env, warn)
    colon = rest.startswith(":")
    op = rest[1:2] if colon else rest[:1]
    if op not in ("-", "+", "?"):
        raise _invalid(template, where)
    arg = rest[2:] if colon else rest[1:]
    value = env.get(name)
    present = value is not None and (value != "" or not colon)
    if op == "-":
        return value if present else substitute(arg, env, where=where, warn=warn)
    if op == "+":
        return substitute(arg, env, where=where, warn=warn) if present else (value or "")
    if not present:  # "?"
        msg = substitute(arg, env, where=where, warn=warn)
        text = f"required variable {name} is missing a value" + (f": {msg}" if msg else "")
        raise InterpolationError(f"error while interpolating {where}: {text}" if where else text)
    return value


def interpolate_tree(node, env: Mapping[str, str], path: str = "", *, warn=None):
    """Interpolate every string value (never keys) of a YAML tree, returning a new tree."""
    if isinstance(node, str):
        return substitute(node, env, where=path, warn=warn)
    if isinstance(node, dict):
        return {k: interpolate_tree(v, env, f"{path}.{k}" if path else str(k), warn=warn)
                for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(v, env, f"{path}[{i}]", warn=warn) for i, v in enumerate(node)]
    return node


def collect_variables(node, found: dict) -> None:
    """Every variable a YAML tree's strings use (`config --variables`): name, required, default
    value (``-`` forms) and alternate value (``+`` forms)."""
    if isinstance(node, dict):
        for v in node.values():
            collect_variables(v, found)
    elif isinstance(node, list):
        for v in node:
            collect_variables(v, found)
    elif isinstance(node, str) and "$" in node:
        _scan(node, found)


def _record(found: dict, name: str, *, required=False, default="", alternate="") -> None:
    row = found.setdefault(name, {"name": name, "required": False, "defaultValue": "", "alternateValue": ""})
    row["required"] = row["required"] or required
    row["defaultValue"] = row["defaultValue"] or default
    row["alternateValue"] = row["alternateValue"] or alternate


def _scan(s: str, found: dict) -> None:
    i, n = 0, len(s)
    while i < n:
        if s[i] != "$":
            i += 1
            continue
        nxt = s[i + 1] if i + 1 < n else ""
        if nxt == "$":
            i += 2
        elif _is_name_start(nxt):
            j = i + 1
            while j < n and _is_name_char(s[j]):
                j += 1
            _record(found, s[i + 1:j])
            i = j
        elif nxt == "{":
            end = _closing_brace(s, i + 1)
            if end < 0:
                return
            body = s[i + 2:end]
            j = 0
            while j < len(body) and _is_name_char(body[j]):
                j += 1
            name, rest = body[:j], body[j:]
            if name:
                op = rest[1:2] if rest.startswith(":") else rest[:1]
                arg = rest[2:] if rest.startswith(":") else rest[1:]
                _record(found, name, required=op == "?", default=arg if op == "-" else "",
                        alternate=arg if op == "+" else "")
                if op in ("-", "+"):
                    _scan(arg, found)
            i = end + 1
        else:
            i += 1
