"""JSON for the hot paths, straight from CPython's `_json` accelerator.

`import json` brings in `re`, and `re` brings `enum`, `functools` and `collections`: about a
dozen milliseconds of a `dockyard run` whose whole budget is a few tens. The C scanner and
encoder that `json` itself uses need none of that. Output matches `json.dumps(obj,
separators=(",", ":"))` (with `sort_keys` and `ensure_ascii` as asked); input is parsed exactly as
`json.loads` parses it. Anything unusual (indentation, custom hooks) should use `json` itself.
"""

from __future__ import annotations

try:
    import _json
except ImportError:  # pragma: no cover - non-CPython: fall back to the real thing
    _json = None


class _Context:
    """The attributes `_json.make_scanner` reads (a JSONDecoder stand-in)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}[name]


_scan = _json.make_scanner(_Context()) if _json else None
_WS = " \t\n\r"


def loads(s):
    if _scan is None:
        import json

        return json.loads(s)
    if isinstance(s, (bytes, bytearray)):
        s = s.decode("utf-8")
    start = len(s) - len(s.lstrip(_WS))
    try:
        obj, end = _scan(s, start)
    except StopIteration as e:
        raise ValueError(f"Expecting value: char {e.value}") from None
    except SystemError:  # the C scanner could not build its JSONDecodeError: let json say what is wrong
        import json

        return json.loads(s)
    finally:
        _Context.memo.clear()
    if s[end:].strip(_WS):
        raise ValueError(f"Extra data: char {end}")
    return obj


def _encoder(sort_keys: bool, ensure_ascii: bool):
    def default(o):
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")

    def floatstr(o, _repr=float.__repr__):
        if o != o:
            return "NaN"
        if o == float("inf"):
            return "Infinity"
        if o == float("-inf"):
            return "-Infinity"
        return _repr(o)

    enc = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
    return _json.make_encoder({}, default, enc, None, ":", ",", sort_keys, False, True)


_encoders: dict = {}


def dumps(obj, *, sort_keys: bool = False, ensure_ascii: bool = True) -> str:
    if _json is None:
        import json

        return json.dumps(obj, separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=ensure_ascii)
    key = (sort_keys, ensure_ascii)
    enc = _encoders.get(key)
    if enc is None:
        enc = _encoders[key] = _encoder(sort_keys, ensure_ascii)
    return "".join(enc(obj, 0))


def load(f):
    return loads(f.read())


def dump(obj, f, **kw) -> None:
    f.write(dumps(obj, **kw))


def dumps_indented(obj, indent: str = "  ") -> str:
    """`json.dumps(obj, indent=indent)` without `json`: `state`, `spec` and `features` print this
    way (runc's MarshalIndent). Keys must be strings, as in every document printed with it."""
    return _indented(obj, indent, "\n")


def _indented(obj, indent: str, nl: str) -> str:
    if isinstance(obj, dict) and obj:
        if not all(isinstance(k, str) for k in obj):
            raise TypeError("dumps_indented: keys must be strings")
        inner = nl + indent
        return "{" + ",".join(inner + dumps(k) + ": " + _indented(v, indent, inner) for k, v in obj.items()) + nl + "}"
    if isinstance(obj, (list, tuple)) and obj:
        inner = nl + indent
        return "[" + ",".join(inner + _indented(v, indent, inner) for v in obj) + nl + "]"
    return dumps(obj)
