"""The value shapes of Compose v2's model as its JSON prints them (Go's encoding of compose-go's
types): durations as Go writes them ("1m30s"), sizes as strings of bytes, file modes as octal
strings, commands as lists (shell words), mappings from either list or map syntax.

Each converter takes a canonical YAML value and returns the JSON value, or ``OMIT`` when Go's
``omitempty`` would leave the field out.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

OMIT = object()


class ModelError(InvalidArgument):
    pass


def go_str(v) -> str:
    """Go's fmt.Sprint for the scalars YAML gives."""
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float):
        return go_float(v)
    return str(v)


def go_float(f: float) -> str:
    if f == int(f) and abs(f) < 1e21:
        return str(int(f))
    r = repr(f)
    if "e" in r:
        mant, _, exp = r.partition("e")
        sign = "-" if exp.startswith("-") else "+"
        return f"{mant}e{sign}{exp.lstrip('+-').zfill(2)}"
    return r


def json_number(f: float):
    """A float as Go's JSON writes a float32 of it: integral values without a fraction."""
    import struct

    if f != f or f in (float("inf"), float("-inf")):
        return f
    try:
        f32 = struct.unpack("f", struct.pack("f", f))[0]
    except OverflowError:
        f32 = float("inf")
    if f32 in (float("inf"), float("-inf")):  # beyond float32: Go's decoder refuses it too
        raise ModelError(f"{f!r} is out of range for a 32-bit float")
    # Go formats float32 with the shortest decimal that round-trips as float32
    for digits in range(1, 10):
        s = f"{f32:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(s)))[0] == f32:
            v = float(s)
            return int(v) if v == int(v) and abs(v) < 1e21 else v
    return f32


# ---- durations (Go's time.ParseDuration and Duration.String)

_UNITS = {"ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 10 ** 6, "s": 10 ** 9, "m": 60 * 10 ** 9,
          "h": 3600 * 10 ** 9}


def parse_duration(s, where: str = "") -> int:
    """Go's time.ParseDuration → nanoseconds ("1m30s", "1.5s", "500ms", "0")."""
    if isinstance(s, bool) or not isinstance(s, (str, int, float)):
        raise ModelError(f"{where}: invalid duration {s!r}")
    if isinstance(s, (int, float)):  # a YAML number is seconds? No: Go decodes an int as nanoseconds
        return int(s)
    orig, neg = s, False
    if s[:1] in "+-":
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise ModelError(f"{where}: invalid duration {orig!r}" if where else f"invalid duration {orig!r}")
    total, i = 0, 0
    while i < len(s):
        j = i
        while j < len(s) and (s[j].isdigit() or s[j] == "."):
            j += 1
        num = s[i:j]
        k = j
        while k < len(s) and not (s[k].isdigit() or s[k] == "."):
            k += 1
        unit = s[j:k]
        if not num or num == "." or unit not in _UNITS:
            msg = f"invalid duration {orig!r}" if unit in _UNITS or not unit else f"unknown unit {unit!r} in duration {orig!r}"
            raise ModelError(f"{where}: {msg}" if where else msg)
        ip, _, fp = num.partition(".")
        mult = _UNITS[unit]
        total += int(ip or "0") * mult + (int(fp) * mult // 10 ** len(fp) if fp else 0)
        i = k
    return -total if neg else total


def format_duration(ns: int) -> str:
    """Go's Duration.String."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    if u < 10 ** 9:
        for unit, size in (("ns", 1), ("µs", 1000), ("ms", 10 ** 6)):
            if u < size * 1000:
                out = _frac(u, size) + unit
                break
    else:
        h, rem = divmod(u, 3600 * 10 ** 9)
        m, rem = divmod(rem, 60 * 10 ** 9)
        out = _frac(rem, 10 ** 9) + "s"
        if h:
            out = f"{h}h{m}m" + out
        elif m:
            out = f"{m}m" + out
    return "-" + out if neg else out


def _frac(v: int, size: int) -> str:
    ip, fp = divmod(v, size)
    if not fp:
        return str(ip)
    digits = len(str(size)) - 1
    return f"{ip}." + str(fp).zfill(digits).rstrip("0")


# ---- converters: canonical YAML value -> Go JSON value (or OMIT)

def s(v, where=""):
    out = go_str(v)
    return out if out else OMIT


def b(v, where=""):
    return True if v is True else OMIT


def bp(v, where=""):  # *bool: kept when set, even false
    return bool(v)


def i(v, where=""):
    n = to_int(v, where)
    return n if n else OMIT


def ip(v, where=""):  # *int / *uint64: kept when set
    return to_int(v, where)


def f(v, where=""):
    try:
        n = float(v)
    except (TypeError, ValueError):
        raise ModelError(f"{where}: invalid number {v!r}") from None
    if n != n or n in (float("inf"), float("-inf")):
        raise ModelError(f"{where}: {v!r} is out of range")
    return json_number(n) if n else OMIT


def size(v, where=""):
    n = parse_size(v, where)
    return str(n) if n else OMIT


def parse_size(v, where="") -> int:
    if isinstance(v, bool):
        raise ModelError(f"{where}: invalid size {v!r}")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise ModelError(f"{where}: {v!r} is out of range")
        return int(v)
    from dockyard.units import SizeError, ram_in_bytes

    try:
        return ram_in_bytes(str(v))
    except SizeError as e:
        raise ModelError(f"{where}: {e}") from None


def dur(v, where=""):  # *Duration: kept when set
    return format_duration(parse_duration(v, where))


def dur0(v, where=""):  # Duration (not a pointer): omitted when zero
    n = parse_duration(v, where)
    return format_duration(n) if n else OMIT


def strlist(v, where=""):
    if isinstance(v, str):
        v = [v]
    out = [go_str(x) for x in v or []]
    return out if out else OMIT


def mapping(v, where=""):
    """Mapping (map[string]string) from a map or a KEY=VALUE list; empty → omitted."""
    out: dict = {}
    if isinstance(v, dict):
        for k, e in v.items():
            out[k] = go_str(e)
    elif isinstance(v, list):
        for e in v:
            k, _, val = go_str(e).partition("=")
            out[k] = val
    return dict(sorted(out.items())) if out else OMIT


def mapping_eq(v, where=""):
    """MappingWithEquals (map[string]*string): a bare KEY is null."""
    out: dict = {}
    if isinstance(v, dict):
        for k, e in v.items():
            out[k] = None if e is None else go_str(e)
    elif isinstance(v, list):
        for e in v:
            k, eq, val = go_str(e).partition("=")
            if k and k[-1].isspace():
                raise ModelError(f"environment variable {k} is declared with a trailing space")
            out[k] = val if eq else None
    return dict(sorted(out.items())) if out else OMIT


def command(v, where=""):
    """ShellCommand: not omitempty (null when unset); a string is split as a shell would."""
    if v is None:
        return None
    if isinstance(v, str):
        return shell_words(v, where)
    return [go_str(x) for x in v]


def shell_words(text: str, where: str = "") -> list[str]:
    """go-shellwords' Parse (no env expansion): quotes and backslashes as in sh."""
    import shlex

    try:
        lex = shlex.shlex(text, posix=True, punctuation_chars=False)
        lex.whitespace_split = True
        lex.commenters = ""
        return list(lex)
    except ValueError as e:
        raise ModelError(f"{where}: invalid command line {text!r}: {e}") from None


def filemode(v, where=""):
    if isinstance(v, str):
        try:
            n = int(v, 8)
        except ValueError:
            raise ModelError(f"{where}: invalid file mode {v!r}") from None
    else:
        n = to_int(v, where)
    return f"0{n:o}"


def hosts(v, where=""):
    """HostsList: "host=ip" entries (the "host:ip" form too), a map's lists expanded."""
    out: list[str] = []
    if isinstance(v, dict):
        for k, e in v.items():
            for h in (e if isinstance(e, list) else ["" if e is None else e]):
                out.append(f"{k}={go_str(h)}")
    else:
        for e in v or []:
            e = go_str(e)
            if "=" in e:
                out.append(e)
            else:
                host, sep, addr = e.partition(":")
                out.append(f"{host}={addr}" if sep else e)
    return sorted(out) if out else OMIT


def to_int(v, where):
    if isinstance(v, bool):
        raise ModelError(f"{where}: invalid integer {v!r}")
    if isinstance(v, int):
        return v
    try:
        return int(str(v), 10)
    except ValueError:
        try:
            return int(float(v))
        except (ValueError, OverflowError):
            raise ModelError(f"{where}: invalid integer {v!r}") from None


def obj(fields: dict):
    """A struct: ``fields`` maps keys to converters (or nested ``obj``s), in Go's field order."""
    def conv(v, where=""):
        if v is None:
            v = {}
        out = {}
        for key, fn in fields.items():
            if key in v:
                r = fn(v[key], f"{where}.{key}")
                if r is not OMIT:
                    out[key] = r
        return out
    conv.fields = fields
    return conv


def listof(fn):
    def conv(v, where=""):
        out = [fn(e, f"{where}.{n}") for n, e in enumerate(v or [])]
        return out if out else OMIT
    return conv


def mapof(fn, *, null_ok: bool = True):
    def conv(v, where=""):
        out = {}
        for k, e in (v or {}).items():
            out[k] = None if (e is None and null_ok) else fn(e, f"{where}.{k}")
        return dict(sorted(out.items())) if out else OMIT
    return conv


def raw(v, where=""):
    return v
