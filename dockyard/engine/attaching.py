"""`dockyard attach`, `start -a/-i`: our terminal joined to a running container's stdio through its
monitor's attach socket (attachsock.py), with docker's detach keys, --sig-proxy and the TTY's size."""

from __future__ import annotations

import os
import select
import signal

from dockyard.engine.attach import DEFAULT_DETACH_KEYS, DetachScanner, parse_detach_keys, write_all


def attach_terminal(engine, rec, *, stdin: bool, stdout: bool = True, stderr: bool = True,
                    detach_keys: str | None = None, sig_proxy: bool = True, connected=None,
                    in_fd: int = 0, out_fd: int = 1, err_fd: int = 2) -> int | None:
    """Relay a running container's stdio (through its monitor's attach socket) to ours until it
    exits (its exit code) or the detach keys are typed (None). `connected(sock)` runs once the
    socket is open, before anything is relayed (start -a starts the container there)."""
    import socket

    from dockyard.engine import attachsock

    tty = bool(rec.config.get("tty"))
    keys = parse_detach_keys(detach_keys or DEFAULT_DETACH_KEYS)
    sock = attachsock.connect(engine, rec.id, {"stdin": stdin, "stdout": stdout, "stderr": stderr})
    saved = old_winch = restore = None
    try:
        if connected is not None:
            connected(sock)
        if tty and os.isatty(in_fd):
            resize = lambda *_: _send_size(engine, rec.id, in_fd)  # noqa: E731
            resize()
            old_winch = signal.signal(signal.SIGWINCH, resize)
            if stdin:
                import termios
                import tty as ttymod

                saved = termios.tcgetattr(in_fd)
                ttymod.setraw(in_fd)
        if sig_proxy and not tty:
            restore = _proxy_signals(engine, rec.id)
        scanner = DetachScanner(keys)
        watch = [sock] + ([in_fd] if stdin else [])
        while True:
            try:
                ready, _, _ = select.select(watch, [], [])
            except InterruptedError:
                continue
            if sock in ready:
                got = attachsock.read_frame(sock)
                if got is None:
                    break
                write_all(err_fd if got[0] == 2 and not tty else out_fd, got[1])
            if in_fd in ready:
                data = os.read(in_fd, 65536)
                if not data:
                    watch.remove(in_fd)
                    try:
                        sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    continue
                data, detached = scanner.feed(data) if tty else (data, False)  # docker: keys only on a TTY
                if data:
                    sock.sendall(data)
                if detached:
                    return None
    finally:
        if saved is not None:
            import termios

            termios.tcsetattr(in_fd, termios.TCSADRAIN, saved)
        if old_winch is not None:
            signal.signal(signal.SIGWINCH, old_winch)
        if restore is not None:
            restore()
        sock.close()
    from dockyard.engine.lifecycle import wait

    return wait(engine, rec.id)


def _send_size(engine, cid: str, fd: int) -> None:
    import fcntl
    import struct
    import termios

    from dockyard.engine import attachsock

    try:
        h, w = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))[:2]
        attachsock.connect(engine, cid, {"resize": [h, w]}).close()
    except OSError:
        pass


def _proxy_signals(engine, cid: str):
    """--sig-proxy: the signals we get go to the container (docker's CLI proxies all but
    SIGCHLD, SIGWINCH, SIGPIPE, SIGURG); returns the undo."""
    from dockyard.engine.lifecycle import kill

    def forward(signum, _frame):
        try:
            kill(engine, cid, signum)
        except Exception:  # noqa: BLE001 - the container may be gone already
            pass

    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
    old = {s: signal.signal(s, forward) for s in sigs}
    return lambda: [signal.signal(s, h) for s, h in old.items()]
