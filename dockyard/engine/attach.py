"""Relaying a container's pty to the user's terminal (`run -it`).

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
                _write_all(stdout, data)
            if stdin in ready:
                data = os.read(stdin, 65536)
                if not data:  # our stdin ended (a pipe): send EOF to the container's terminal
                    watch.remove(stdin)
                    _write_all(master, b"\x04")
                    continue
                _write_all(master, data)
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        if old_winch is not None:
            signal.signal(signal.SIGWINCH, old_winch)
        os.close(master)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            n = os.write(fd, data)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        data = data[n:]
