"""Waiting for a container's init as its subreaper, relaying the signals the user sends us.

`docker run` (sig-proxy) forwards the signals its CLI receives to the container; we do the same
for the foreground `dockyard run` and `dockyard-runtime run`. Orphans re-parented to us (we are a
subreaper so the init's intermediate parent can exit) are reaped along the way.
"""

from __future__ import annotations

import os

# `_signal`, not `signal`: the wrapper module builds enums at import, a cost `run` need not pay.
import _signal as signal

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
             signal.SIGWINCH)


def forward_signals(pid: int, signals=FORWARDED):
    """Install handlers relaying `signals` to pid; returns a function restoring the old ones."""
    def relay(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    old = {s: signal.signal(s, relay) for s in signals}
    return lambda: [signal.signal(s, h) for s, h in old.items()]


def hold_signals(signals=(signal.SIGINT, signal.SIGTERM)):
    """docker CLI's way while attached without --sig-proxy: SIGINT/SIGTERM do not end us (nor reach
    the container); the third one exits 1 ("forcefully exiting"). Returns the restorer."""
    got = []

    def count(signum, _frame):
        got.append(signum)
        if len(got) >= 3:
            os.write(2, b"got 3 SIGTERM/SIGINTs, forcefully exiting\n")
            os._exit(1)

    old = {s: signal.signal(s, count) for s in signals}
    return lambda: [signal.signal(s, h) for s, h in old.items()]


def exit_code(status: int) -> int:
    """Docker's convention: the exit code, or 128+N when killed by signal N."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def wait_exit(pid: int) -> int:
    """Block until `pid` exits (retrying on EINTR from relayed signals); reap other orphans too."""
    while True:
        try:
            got, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 255  # not our child any more: nothing we can learn
        if got == pid:
            return exit_code(status)
