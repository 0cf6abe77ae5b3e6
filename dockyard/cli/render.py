"""Output as docker prints it: tables, human durations and sizes, `--format` templates."""

from __future__ import annotations

import time

from dockyard.units import human_size  # noqa: F401 - rendered sizes live with the other units


def confirm(warning: str) -> bool:
    """docker's prune prompt: the warning, then `Are you sure you want to continue? [y/N]`."""
    import sys

    sys.stdout.write(warning + "\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


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


def ago(t: float) -> str:
    return human_duration(time.time() - t) + " ago"


def parse_rfc3339(s: str) -> float:
    """Seconds since the epoch from an RFC 3339 time (fractional part and zone tolerated)."""
    import calendar

    if not s or s.startswith("0001-"):
        return 0.0
    main, _, frac = s.rstrip("Z").partition(".")
    main = main[:19]
    try:
        t = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return 0.0
    digits = "".join(c for c in frac if c.isdigit())
    return t + (float("0." + digits) if digits else 0.0)
