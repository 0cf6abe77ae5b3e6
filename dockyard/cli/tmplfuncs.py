"""The functions a template may call: Go's text/template builtins (``eq``, ``index``, ``len``,
``printf``, …) and docker's (``json``, ``join``, ``split``, ``title``, ``truncate``, …)."""

from __future__ import annotations

from dockyard.cli.govalues import MISSING, Unsupported, go_json, go_printf, go_str, go_type


class FuncError(Exception):
    pass


def truth(v) -> bool:
    if v is None or v is MISSING:
        return False
    if isinstance(v, (bool, int, float, str, list, tuple, dict)):
        return bool(v)
    return True


def _kind(v):
    if v is None or v is MISSING:
        return None
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"  # Go refuses int vs float64; JSON-born data mixes them, so we don't
    return "string" if isinstance(v, str) else "other"


def _eq(a, *others) -> bool:
    if not others:
        raise FuncError("missing argument for comparison")
    ka = _kind(a)
    for b in others:
        kb = _kind(b)
        if ka != kb:
            if ka is not None and kb is not None:
                raise FuncError("incompatible types for comparison")
            continue  # nil against a value: not equal
        if ka == "other":
            raise FuncError(f"non-comparable type {go_str(b)}: {go_type(b)}")
        if a == b:
            return True
    return False


def _lt(a, b) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka not in ("number", "string") or kb not in ("number", "string"):
        raise FuncError("invalid type for comparison")
    if ka != kb:
        raise FuncError("incompatible types for comparison")
    return a < b


def _index(item, *keys):
    if item is None:
        raise FuncError("index of untyped nil")
    for k in keys:
        if item is None:
            raise FuncError("index of nil pointer")
        if isinstance(item, dict):
            item = item.get(k, "")  # docker's maps are map[string]string mostly: zero value ""
        elif isinstance(item, (list, tuple, str)):
            if isinstance(k, bool) or not isinstance(k, int):
                raise FuncError(f"cannot index slice/array with type {go_type(k)}")
            seq = item.encode("utf-8", "surrogatepass") if isinstance(item, str) else item
            if not 0 <= k < len(seq):
                raise FuncError(f"index out of range: {k}")
            item = seq[k]
        else:
            raise FuncError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item, *idx):
    if item is None:
        raise FuncError("slice of untyped nil")
    if not isinstance(item, (str, list, tuple)):
        raise FuncError(f"can't slice item of type {go_type(item)}")
    if len(idx) > 3 or (isinstance(item, str) and len(idx) == 3):
        raise FuncError(f"too many slice indexes: {len(idx)}" if len(idx) > 3 else "cannot 3-index slice a string")
    for i in idx:
        if isinstance(i, bool) or not isinstance(i, int):
            raise FuncError(f"cannot index slice/array with type {go_type(i)}")
        if not 0 <= i <= len(item):
            raise FuncError(f"index out of range: {i}")
    lo, hi = (idx[0] if idx else 0), (idx[1] if len(idx) > 1 else len(item))
    if lo > hi:
        raise FuncError(f"invalid slice index: {lo} > {hi}")
    return item[lo:hi]


def _len(v) -> int:
    if isinstance(v, str):
        return len(v.encode("utf-8", "surrogatepass"))
    if isinstance(v, (list, tuple, dict)):
        return len(v)
    raise FuncError("len of untyped nil" if v is None else f"len of type {go_type(v)}")


def _print(*args) -> str:
    out = []
    for i, a in enumerate(args):  # Sprint: a space between operands when neither is a string
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_str(a))
    return "".join(out)


def _json(v) -> str:
    try:
        return go_json(v)
    except Unsupported:
        return ""  # docker ignores the encoder's error and prints nothing


def _title(s: str) -> str:
    """strings.Title: upper-case the first letter of each word."""
    def sep(c):
        if c.isascii():
            return not (c.isalnum() or c == "_")
        return not (c.isalpha() or c.isdigit()) and c.isspace()

    out, prev = [], " "
    for c in s:
        out.append(c.title() if sep(prev) and len(c.title()) == 1 else c)
        prev = c
    return "".join(out)


def _truncate(s: str, n: int) -> str:
    if n < 0:
        raise FuncError(f"runtime error: slice bounds out of range [:{n}]")
    return s if len(s) < n else s[:n]


def _text_args(args) -> str:
    return args[0] if len(args) == 1 and isinstance(args[0], str) else _print(*args)


def _html(*args) -> str:
    table = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&#39;", '"': "&#34;", "\0": "\ufffd"}
    return "".join(table.get(c, c) for c in _text_args(args))


def _js(*args) -> str:
    table = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}
    return "".join(table.get(c) or (c if c.isprintable() else "\\u%04X" % ord(c)) for c in _text_args(args))


def _urlquery(*args) -> str:
    from urllib.parse import quote_plus

    return quote_plus(_text_args(args), safe="")


# name -> (function, parameter types): s string, i int, l list, a anything; "x*" = any number of x
FUNCS = {
    "and": (None, "aa*"), "or": (None, "aa*"),  # short-circuit, evaluated by Exec.call
    "not": (lambda v: not truth(v), "a"),
    "len": (_len, "a"), "index": (_index, "aa*"), "slice": (_slice, "aa*"),
    "eq": (_eq, "aa*"), "ne": (lambda a, b: not _eq(a, b), "aa"),
    "lt": (_lt, "aa"), "le": (lambda a, b: _lt(a, b) or _eq(a, b), "aa"),
    "gt": (lambda a, b: not (_lt(a, b) or _eq(a, b)), "aa"), "ge": (lambda a, b: not _lt(a, b), "aa"),
    "print": (_print, "a*"), "println": (lambda *a: " ".join(map(go_str, a)) + "\n", "a*"),
    "printf": (go_printf, "sa*"), "html": (_html, "a*"), "js": (_js, "a*"), "urlquery": (_urlquery, "a*"),
    # docker/cli templates.basicFunctions
    "json": (_json, "a"), "split": (lambda s, sep: s.split(sep) if sep else list(s), "ss"),
    "join": (lambda items, sep: sep.join(map(go_str, items)), "ls"), "title": (_title, "s"),
    "lower": (str.lower, "s"), "upper": (str.upper, "s"),
    "pad": (lambda s, left, right: s and " " * left + s + " " * right, "sii"), "truncate": (_truncate, "si"),
}


def _first(v, *_):
    return v


# docker's HeaderFunctions: a table header keeps the column name intact
HEADER_FUNCS = {**FUNCS, "json": (_first, "s"), "split": (_first, "ss"), "join": (_first, "ss"),
                 "title": (_first, "s"), "lower": (_first, "s"), "upper": (_first, "s"),
                 "truncate": (_first, "si")}
