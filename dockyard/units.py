"""Sizes and durations as docker prints them (go-units), used by the engine's stats and the CLI alike."""

from __future__ import annotations


def human_size(n: float, precision: int = 4) -> str:
    """docker/go-units HumanSizeWithPrecision: decimal units, `precision` significant digits.
    HumanSize is 4 ("4.261MB", prune totals); `docker images`, `ps -s` and `history` use 3
    ("4.26MB")."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:.{precision}g}{units[i]}"


def human_duration(seconds: float) -> str:
    """docker/go-units HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = round(s / 3600)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    if h < 24 * 7 * 2:
        return f"{h // 24} days"
    if h < 24 * 30 * 2:
        return f"{h // 24 // 7} weeks"
    if h < 24 * 365 * 2:
        return f"{h // 24 // 30} months"
    return f"{h // 24 // 365} years"


_PARSED: dict = {}  # the same times are parsed over and over (ps, images, events): remembered


def parse_rfc3339(s: str) -> float:
    """Seconds since the epoch from an RFC 3339 time (fractional part and zone tolerated)."""
    t = _PARSED.get(s)
    if t is None:
        if len(_PARSED) >= 4096:
            _PARSED.clear()
        t = _PARSED[s] = _parse_rfc3339(s)
    return t


def _parse_rfc3339(s: str) -> float:
    import calendar

    if not s or s.startswith("0001-"):
        return 0.0
    main, _, frac = s.rstrip("Z").partition(".")
    main = main[:19]
    # by hand, not time.strptime: ps and images parse one per row, and strptime costs ~0.1 ms
    if len(main) != 19 or main[4] != "-" or main[7] != "-" or main[10] not in "Tt" or main[13] != ":" \
            or main[16] != ":":
        return 0.0
    try:
        y, mo, d, h, mi, sec = (int(main[a:b]) for a, b in ((0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19)))
    except ValueError:
        return 0.0
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and sec <= 61) or min(y, h, mi, sec) < 0:
        return 0.0
    t = calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0))
    digits = "".join(c for c in frac if c.isdigit())
    return t + (float("0." + digits) if digits else 0.0)


def binary_size(n: float) -> str:
    """go-units BytesSize: binary units, 4 significant digits ("1.5MiB")."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024
        i += 1
    return f"{n:.4g}{units[i]}"


# ---------------------------------------------------------------------------------------------
# Parsing sizes: the one parser (docker/go-units parseSize), for -m, --memory-swap, tmpfs-size,
# --shm-size, log max-size … `RAMInBytes` is binary (`1k` = 1024), `FromHumanSize` decimal.

BINARY = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
DECIMAL = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}
INT64_MAX = (1 << 63) - 1


class SizeError(ValueError):
    """A size that is not one (the message is go-units' wording); callers add the flag's name."""


def ram_in_bytes(value) -> int:
    """go-units RAMInBytes: `64m`, `1g`, `512k`, `1.5GiB`, `1kb`, `100b`, `1024` → bytes, binary.

    Refused (SizeError): empty, negative, NaN/Inf, exponents, unknown or doubled suffixes,
    non-ASCII digits, and anything past int64 (docker's limit)."""
    return _parse(value, BINARY)


def from_human_size(value) -> int:
    """go-units FromHumanSize: as `ram_in_bytes` but decimal (`1k` = 1000, `1KiB` = 1000 too)."""
    return _parse(value, DECIMAL)


def _parse(value, units: dict) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        s = str(value)
    elif isinstance(value, str):
        s = value.strip()
    else:
        raise SizeError(f"invalid size: {value!r}")
    # split number and suffix: the number is the longest prefix of ASCII digits and dots
    j = 0
    while j < len(s) and (s[j] in "0123456789."):
        j += 1
    num, sfx = s[:j], s[j:].lstrip(" ").lower()
    if not _is_decimal(num):
        raise SizeError(f"invalid size: '{s}'")
    mult = 1
    if sfx:
        if len(sfx) > 3 or (sfx[0] != "b" and sfx[0] not in units):
            raise SizeError(f"invalid suffix: '{sfx}'")
        if sfx[0] == "b":
            if len(sfx) > 1:
                raise SizeError(f"invalid suffix: '{sfx}'")
        else:
            mult = units[sfx[0]]
            if (len(sfx) == 2 and sfx[1] != "b") or (len(sfx) == 3 and sfx[1:] != "ib"):
                raise SizeError(f"invalid suffix: '{sfx}'")
    ip, _, fp = num.partition(".")
    # exact arithmetic: the integer part times the unit plus the fraction times it, truncated
    n = int(ip or "0") * mult + (int(fp) * mult // 10 ** len(fp) if fp else 0)
    if n > INT64_MAX:
        raise SizeError(f"invalid size: '{s}': value out of range")
    return n


def _is_decimal(s: str) -> bool:
    """`12`, `1.5`, `.5`, `5.` (ASCII digits only; no sign, no exponent, no NaN or Inf)."""
    ip, dot, fp = s.partition(".")
    if not s or not s.isascii() or s == ".":
        return False
    if dot:
        return (ip == "" or ip.isdigit()) and (fp == "" or fp.isdigit())
    return ip.isdigit()


def cpu_list(value: str) -> set[int]:
    """A kernel list such as cpuset's "0-2,4" as a set of numbers; ValueError if malformed."""
    out: set[int] = set()
    for part in value.split(","):
        lo, dash, hi = part.partition("-")
        first, last = int(lo), int(hi if dash else lo)
        if first < 0 or last < first:
            raise ValueError(value)
        out.update(range(first, last + 1))
    return out
