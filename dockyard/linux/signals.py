"""Signal state a new program starts with."""

from __future__ import annotations

# `_signal`, not `signal`: the wrapper module builds enums at import (see runtime/wait.py)
import _signal as signal


def reset_signals() -> None:
    """Every signal's disposition back to SIG_DFL and an empty signal mask, right before exec, as
    runc gives a container's process: Python ignores SIGPIPE and SIGXFSZ, and a caller's SIG_IGN
    (SIGHUP under nohup, SIGINT of a background job) would survive exec otherwise (a process
    ignoring SIGPIPE never ends `yes | head`). Handlers are reset by exec anyway; ignores are not."""
    from dockyard.linux.syscalls import default_disposition

    for sig in signal.valid_signals():
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(sig, signal.SIG_DFL)
            except OSError:
                default_disposition(sig)
    for sig in range(32, signal.SIGRTMIN):  # the ones libc reserves, absent from valid_signals()
        default_disposition(sig)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
