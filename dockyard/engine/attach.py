"""Relaying a container's pty to the user's terminal (`run -it`), and docker's detach keys.

Our terminal goes raw so every key — Ctrl-C, Ctrl-D, Ctrl-Z — reaches the container's line
discipline, which turns them into signals or EOF for the container's foreground process exactly
as a local shell would. Window size follows SIGWINCH. Ends when the container side hangs up.
"""

from __future__ import annotations

import os
import select
import signal


def _copy_winsize(src: int, dst: int) -> None:
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(dst, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def proxy_tty(master: int, *, stdin_open: bool, stdin: int = 0, stdout: int = 1, log=None) -> None:
    """Copy a container's terminal to `stdout` (and into `log`, a JsonFileWriter, as its
    "stdout" stream with CRLF as LF, as the monitor logs a TTY), and `stdin` to it."""
    import termios
    import tty

    saved = None
    if os.isatty(stdin):
        _copy_winsize(stdin, master)
        if stdin_open:
            saved = termios.tcgetattr(stdin)
            tty.setraw(stdin)
    old_winch = signal.signal(signal.SIGWINCH, lambda *_: _copy_winsize(stdin, master)) \
        if os.isatty(stdin) else None
    watch = [master] + ([stdin] if stdin_open else [])
    try:
        while True:
            try:
                ready, _, _ = select.select(watch, [], [])
            except InterruptedError:
                continue
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the container side closed
                    break
                if not data:
                    break
                if log is not None:
                    log.write("stdout", data.replace(b"\r\n", b"\n"))
                write_all(stdout, data)
            if stdin in ready:
                data = os.read(stdin, 65536)
                if not data:  # our stdin ended (a pipe): send EOF to the container's terminal
                    watch.remove(stdin)
                    write_all(master, b"\x04")
                    continue
                write_all(master, data)
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        if old_winch is not None:
            signal.signal(signal.SIGWINCH, old_winch)
        os.close(master)


def write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            n = os.write(fd, data)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        data = data[n:]


# -- attaching to a detached container's monitor (docker attach, start -a/-i) ------------------

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"


def parse_detach_keys(text: str) -> bytes:
    """Docker's detach-keys syntax: comma-separated `ctrl-<x>` (x in a-z, @, [, \\, ], ^, _) or
    single characters."""
    from dockyard.errors import InvalidArgument

    out = bytearray()
    for key in text.split(","):
        if len(key) == 1:
            out.append(ord(key))
            continue
        low = key.lower()
        if low.startswith("ctrl-") and len(low) == 6:
            c = low[5]
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
                continue
            if c in "@[\\]^_":
                out.append({"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}[c])
                continue
        raise InvalidArgument(f"Invalid detach keys ({text}) provided")
    if not out:
        raise InvalidArgument(f"Invalid detach keys ({text}) provided")
    return bytes(out)


class DetachScanner:
    """Finds the detach sequence in a byte stream (split anywhere). `feed` returns (bytes to
    pass on, detached?); bytes that may start the sequence are held until it is decided."""

    def __init__(self, keys: bytes) -> None:
        self.keys, self.held = keys, b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        out = bytearray()
        for b in data:
            cand = self.held + bytes([b])
            while cand and not self.keys.startswith(cand):  # the longest tail that may still match
                out.append(cand[0])
                cand = cand[1:]
            if cand == self.keys:
                return bytes(out), True
            self.held = cand
        return bytes(out), False
