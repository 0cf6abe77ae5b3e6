"""Values as Go prints them for docker's templates: ``fmt``'s ``%v`` (`go_str`), ``%q`` (`go_quote`),
``printf`` (`go_printf`), ``json`` (`go_json`, docker's encoder), and the Go kinds a template
sees (`MISSING`: a missing map key, `GoMap`: a dict that is a Go map)."""

from __future__ import annotations

import re


class _Missing:
    """Go's invalid reflect.Value: what a missing map key evaluates to."""

    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()


class GoMap(dict):
    """A dict that stands for a Go map even in a strict render: a missing key is ``<no value>``
    (labels, options, port maps), where a struct-like dict's missing key is an error."""


NOFINAL = object()  # no value piped into a command


class Context(dict):
    """A row of a docker CLI formatter (images, ps): `{{json .}}` of one is what its MarshalJSON
    gives, json.Marshal of a map: keys sorted and <, >, & escaped (docker prints "\u003cnone\u003e")."""


def go_type(v) -> str:
    if v is None or v is MISSING:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    return type(v).__name__


def sorted_items(d: dict) -> list:
    try:
        return sorted(d.items(), key=lambda kv: kv[0])
    except TypeError:
        return sorted(d.items(), key=lambda kv: str(kv[0]))


def _go_float(f: float, json: bool = False) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64) as fmt's %v uses it, or encoding/json's spelling."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    sign = "-" if repr(f).startswith("-") else ""
    if f == 0:
        d, dp = "0", 1
    else:  # repr gives the shortest round-tripping digits, as Go's shortest formatting does
        mant, _, exp = repr(abs(f)).partition("e")
        ip, _, fp = mant.partition(".")
        digits = (ip + fp).lstrip("0")
        dp = len(ip) + int(exp or 0) - (len(ip + fp) - len(digits))
        d = digits.rstrip("0")
    x = dp - 1
    use_e = (f != 0 and (abs(f) < 1e-6 or abs(f) >= 1e21)) if json else (x < -4 or x >= 6)
    if use_e:
        es = f"{'-' if x < 0 else '+'}{abs(x):02d}"
        if json and es.startswith("-0"):
            es = "-" + es[2:]
        return f"{sign}{d[0]}{'.' + d[1:] if len(d) > 1 else ''}e{es}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{d}"
    if dp >= len(d):
        return sign + d + "0" * (dp - len(d))
    return f"{sign}{d[:dp]}.{d[dp:]}"


def go_str(v) -> str:
    """fmt.Sprint(v): what {{.X}} prints."""
    v = _value(v)
    if v is MISSING or v is NOFINAL:
        return "<no value>"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return str(v)
    if isinstance(v, int):
        return "%d" % v
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(map(go_str, v)) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{go_str(k)}:{go_str(x)}" for k, x in _items(v, True)) + "]"
    return str(v)


_QESC = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
         "\\": "\\\\"}


def go_quote(s: str, q: str = '"') -> str:
    """strconv.Quote (or QuoteRune with q="'")."""
    out = [q]
    for c in s:
        o = ord(c)
        if c in _QESC:
            out.append(_QESC[c])
        elif c == q:
            out.append("\\" + q)
        elif c.isprintable():
            out.append(c)
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        else:
            out.append(("\\u%04x" if o < 0x10000 else "\\U%08x") % o)
    return "".join(out) + q


def _value(v):
    """Data may hold methods (callables); printing a whole object uses the argument-free ones."""
    if not callable(v):
        return v
    try:
        return v()
    except TypeError:
        return NOFINAL


def _items(d: dict, ordered: bool):
    items = sorted_items(d) if ordered else d.items()
    return [(k, x) for k, x in ((k, _value(x)) for k, x in items) if x is not NOFINAL]


class Unsupported(Exception):
    pass


_JSON_ESC = re.compile("[\"\\\\\x00-\x1f\u2028\u2029\ud800-\udfff]")
_JSON_MAP = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_HTML_ESC = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def _json_str(s: str, escape_html: bool) -> str:
    def one(m):
        c = m.group()
        if "\ud800" <= c <= "\udfff":
            return "\ufffd"  # Go writes invalid UTF-8 as U+FFFD
        return _JSON_MAP.get(c) or "\\u%04x" % ord(c)

    s = _JSON_ESC.sub(one, s)
    if escape_html:
        s = re.sub("[<>&]", lambda m: _HTML_ESC[m.group()], s)
    return '"' + s + '"'


def go_json(v, escape_html: bool = False) -> str:
    """encoding/json's compact encoding (escape_html=False, as docker's ``json`` function)."""
    v = _value(v)
    if v is None or v is MISSING or v is NOFINAL:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return "%d" % v
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise Unsupported(v)
        return _go_float(v, json=True)
    if isinstance(v, str):
        return _json_str(v, escape_html)
    if isinstance(v, GoMap):  # encoding/json writes a map's keys sorted
        return "{" + ",".join(_json_str(str(k), escape_html) + ":" + go_json(x, escape_html)
                              for k, x in sorted(_items(v, False), key=lambda kx: str(kx[0]))) + "}"
    if isinstance(v, Context):
        return "{" + ",".join(_json_str(str(k), True) + ":" + go_json(x, True) for k, x in _items(v, True)) + "}"
    if isinstance(v, dict):
        return "{" + ",".join(_json_str(str(k), escape_html) + ":" + go_json(x, escape_html)
                              for k, x in _items(v, False)) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(go_json(x, escape_html) for x in v) + "]"
    return _json_str(str(v), escape_html)


# -- printf -----------------------------------------------------------------------------------

_VERB = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d*))?(.|$)", re.S)


def _pad(s: str, flags: str, width: int) -> str:
    if len(s) >= width:
        return s
    if "-" in flags:
        return s.ljust(width)
    return s.rjust(width, "0" if "0" in flags else " ")


def _fmt_one(v, flags: str, width: int, prec: int | None, verb: str) -> str:
    """One fmt verb applied to one value, with Go's %!verb(type=value) for a wrong type."""
    v = _value(v)
    if verb == "T":
        return _pad(go_type(v), flags, width)
    if isinstance(v, (list, tuple)):  # Go formats slices and maps element by element
        return "[" + " ".join(_fmt_one(e, flags, width, prec, verb) for e in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(_fmt_one(k, flags, width, prec, verb) + ":" + _fmt_one(x, flags, width, prec, verb)
                                 for k, x in sorted_items(v)) + "]"
    spec = "%" + flags + (str(width) if width else "") + ("" if prec is None else "." + str(prec))
    if v is None or v is MISSING:
        if verb == "v":
            return _pad("<nil>", flags, width)
    elif isinstance(v, bool):
        if verb in "tv":
            return _pad("true" if v else "false", flags, width)
    elif isinstance(v, int):
        if verb in "vdxXo":
            return (spec + ("d" if verb == "v" else verb)) % v
        if verb == "b":
            return _pad(format(v, "b"), flags, width)
        if verb in "cq" and 0 <= v <= 0x10FFFF:
            return _pad(chr(v) if verb == "c" else go_quote(chr(v), "'"), flags, width)
        if verb == "U":
            return _pad("U+%04X" % v, flags, width)
    elif isinstance(v, float):
        if verb in "vgG" and prec is None:
            s = _go_float(v)
            s = s.upper() if verb == "G" else s
            return _pad("+" + s if "+" in flags and s[0] not in "+-" else s, flags, width)
        if verb in "eEfFgG":  # Go's default precision for %e and %f is 6, as Python's
            return (spec + ("" if prec is not None else ".6") + verb) % v
    elif isinstance(v, str):
        s = v if prec is None else v[:prec]
        if verb in "sv":
            return _pad(s, flags, width)
        if verb == "q":
            return _pad(go_quote(s), flags, width)
        if verb in "xX":
            h = s.encode("utf-8", "surrogatepass").hex()
            return _pad(h.upper() if verb == "X" else h, flags, width)
    elif verb in "sv":
        return _pad(str(v), flags, width)
    return f"%!{verb}(<nil>)" if v is None or v is MISSING else f"%!{verb}({go_type(v)}={go_str(v)})"


def go_printf(fmt: str, *args) -> str:
    out, pos, n = [], 0, 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, prec, verb = m.groups()
        if verb == "%":
            out.append("%")
        elif not verb:
            out.append("%!(NOVERB)")
        elif n >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(_fmt_one(args[n], flags, int(width or 0), None if prec is None else int(prec or 0), verb))
            n += 1
    out.append(fmt[pos:])
    if n < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{go_type(a)}={go_str(a)}" for a in args[n:]) + ")")
    return "".join(out)
