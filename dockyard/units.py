"""Sizes as docker prints them (go-units), used by the engine's stats and the CLI alike."""

from __future__ import annotations


def human_size(n: float) -> str:
    """docker/go-units HumanSize: decimal units, 3 significant digits ("4.26MB")."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:.4g}{units[i]}"


def binary_size(n: float) -> str:
    """go-units BytesSize: binary units, 4 significant digits ("1.5MiB")."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024
        i += 1
    return f"{n:.4g}{units[i]}"
