"""Output as docker prints it: tables, human durations and sizes, `--format` templates."""

from __future__ import annotations

import time

from dockyard.units import human_duration, human_size, parse_rfc3339  # noqa: F401 - they live with the other units


def confirm(warning: str) -> bool:
    """docker's prune prompt: the warning, then `Are you sure you want to continue? [y/N]`."""
    import sys

    sys.stdout.write(warning + "\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def ago(t: float) -> str:
    return human_duration(time.time() - t) + " ago"
