"""`.env` and `env_file` files, read with compose-go's dotenv rules: ``KEY=VALUE`` (or
``KEY: VALUE``, ``export KEY=VALUE``), ``#`` comments, single quotes literal, double quotes with
escapes and multi-line values, ``${VAR}`` interpolation in unquoted and double-quoted values (the
caller's lookup first, then what the file set before), and a bare ``KEY`` inherited from the lookup.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from dockyard.compose.interpolate import InterpolationError, substitute
from dockyard.errors import InvalidArgument

_SPACE = "\t\v\f\r \x85\xa0"
_ESCAPES = re.compile(r'\\(?:[abcfnrtv$"\\]|0\d{0,3})')
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", '"': '"', "\\": "\\"}


class DotenvError(InvalidArgument):
    pass


def parse(text: str, lookup: Callable[[str], str | None] = lambda k: None, *, filename: str = "") -> dict:
    out: dict[str, str] = {}
    if text.startswith("\ufeff"):
        text = text[1:]
    src = text.replace("\r\n", "\n")
    line = 1
    pos = 0
    n = len(src)

    def fail(msg):
        where = f"{filename}: " if filename else ""
        raise DotenvError(f"failed to read {where}line {line}: {msg}" if filename else f"line {line}: {msg}")

    while True:
        # statement start: skip blanks and comment lines
        while pos < n and (src[pos].isspace()):
            if src[pos] == "\n":
                line += 1
            pos += 1
        if pos >= n:
            break
        if src[pos] == "#":
            nl = src.find("\n", pos)
            if nl < 0:
                break
            pos = nl
            continue
        rest = src[pos:]
        m = re.match(r"export[ \t]+", rest)
        if m and re.match(r"export[ \t]+[A-Za-z_]", rest):
            pos += m.end()
            rest = src[pos:]
        key = None
        inherited = False
        i = 0
        while i < len(rest):
            c = rest[i]
            if c in _SPACE:
                i += 1
                continue
            if c in "=:\n":
                key = rest[:i]
                inherited = c == "\n"
                break
            if c in "_.-[]" or c.isalnum():
                i += 1
                continue
            first = rest.split("\n", 1)[0]
            fail(f"unexpected character {c!r} in variable name {first!r}")
        if key is None:  # the last line has a bare key and no newline
            key, inherited, i = rest, True, len(rest) - 1
        key = key.rstrip()
        if " " in key or "\t" in key:
            fail("key cannot contain a space")
        pos += i + 1
        if inherited:
            line += 1
            v = lookup(key)
            if v is not None:
                out[key] = v
            continue
        while pos < n and src[pos] in _SPACE:
            pos += 1
        value, pos, line = _value(src, pos, line, out, lookup, fail)
        out[key] = value
    return out


def _expand(value: str, env: dict, lookup, fail) -> str:
    def get(k):
        v = lookup(k)
        return v if v is not None else env.get(k)

    class _Env(dict):
        def get(self, k, default=None):  # noqa: D401 - Mapping protocol for substitute
            v = get(k)
            return default if v is None else v

    try:
        return substitute(value, _Env())
    except InterpolationError as e:
        fail(str(e))
        raise


def _value(src: str, pos: int, line: int, env: dict, lookup, fail):
    if pos >= len(src) or src[pos] not in "'\"":
        nl = src.find("\n", pos)
        end = len(src) if nl < 0 else nl
        value = src[pos:end]
        value = value.split(" #", 1)[0].rstrip()
        return _expand(value, env, lookup, fail), end, line + 1
    quote = src[pos]
    chars: list[str] = []
    escape = False
    i = pos + 1
    while i < len(src):
        c = src[i]
        if c == "\n":
            line += 1
        if c != quote:
            if not escape and c == "\\":
                escape = True
                i += 1
                continue
            if escape:
                escape = False
                chars.append("\\")
            chars.append(c)
            i += 1
            continue
        if escape:
            escape = False
            chars.append(c)
            i += 1
            continue
        value = "".join(chars)
        if quote == '"':
            value = _expand(_unescape(value), env, lookup, fail)
        return value, i + 1, line
    fail(f"unterminated quoted value {src[pos:].split(chr(10), 1)[0]}")


def _unescape(s: str) -> str:
    def rep(m):
        t = m.group(0)
        if t == "\\$":
            return "$$"
        c = t[1]
        if c == "0":
            digits = t[2:]
            return chr(int(digits, 8)) if digits else "\0"
        return _SIMPLE.get(c, t)
    return _ESCAPES.sub(rep, s)


def read_file(path: str, lookup=lambda k: None) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise DotenvError(f"failed to read {path}: not UTF-8 text") from None
    return parse(text, lookup, filename=path)
