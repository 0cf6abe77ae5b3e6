"""Signals by name or number, as docker and runc read them (moby's signal.ParseSignal)."""

from __future__ import annotations

from dockyard.errors import InvalidArgument


def parse_signal(name: str | int) -> int:
    """A signal by number (1..SIGRTMAX) or name (`TERM`, `SIGTERM`, `RTMIN+3`), as moby's ParseSignal."""
    import _signal as signal  # not `signal`: its enums cost `dockyard-runtime kill` more than the kill

    n = str(name).upper()
    if isinstance(name, int) or (n.isascii() and n.isdigit()):
        num = int(name)
    else:
        n = n if n.startswith("SIG") else "SIG" + n
        base, plus, off = n.partition("+")
        base, minus, off2 = (base, "", "") if plus else base.partition("-")
        # the names signal.Signals has: _signal's SIG* constants, but SIG_DFL, SIG_IGN, SIG_BLOCK…
        num = getattr(signal, base, 0) if base.isupper() and not base.startswith("SIG_") else 0
        if plus or minus:
            off = off or off2
            if base not in ("SIGRTMIN", "SIGRTMAX") or not (off.isascii() and off.isdigit()):
                num = 0
            else:
                num = num + int(off) if plus else num - int(off)
        num = int(num)
    if not 0 < num <= signal.SIGRTMAX:
        raise InvalidArgument(f"unknown signal {name!r}")
    return num
