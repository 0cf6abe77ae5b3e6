"""Issue 10 item 12: a container's processes start with every signal at SIG_DFL and none blocked,
whatever dockyard itself inherited (Python ignores SIGPIPE and SIGXFSZ; `nohup` ignores SIGHUP, a
shell's background job SIGINT; a caller may block signals). Docker and runc give 0 and 0."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from support import run_d, wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = [pytest.mark.integration, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

SHOW = ["grep", "-E", "^(SigIgn|SigBlk)", "/proc/self/status"]
CLEAN = "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"


def _ignore_raw(sig: int) -> None:
    """SIG_IGN by the raw rt_sigaction syscall: libc refuses 32 and 33, the kernel does not (a Go
    or C parent can leave them ignored, and such an ignore was seen to reach a container)."""
    import ctypes

    nr = {"x86_64": 13, "aarch64": 134}[os.uname().machine]
    act = ctypes.create_string_buffer(64)
    act[0] = 1  # SIG_IGN
    assert ctypes.CDLL(None, use_errno=True).syscall(nr, sig, act, None, 8) == 0


def hostile_parent(ignore=(), block=(), ignore_raw=()):
    """A preexec_fn that gives dockyard ignored and blocked signals, as a careless caller would."""
    def setup():
        for s in ignore_raw:
            _ignore_raw(s)
        for s in ignore:
            signal.signal(s, signal.SIG_IGN)
        if block:
            signal.pthread_sigmask(signal.SIG_BLOCK, block)
    return setup


def dy_with(dy, args, *, ignore=(), block=(), ignore_raw=(), wrapper=(), tmp_path=None):
    """dockyard ARGS started by a hostile parent. With `tmp_path`, output goes to files there (an
    `exec -d` process keeps the caller's stdio open, so a pipe would not see EOF until it ends)."""
    # (the cwd: nohup may write nohup.out there; REPO, as every dockyard call of the tests)
    kw = {"capture_output": True}
    if tmp_path is not None:
        kw = {"stdout": open(tmp_path / "out", "wb"), "stderr": open(tmp_path / "err", "wb")}
    p = subprocess.run([*wrapper, *dy.cmd(*args)], env=dy.env, cwd=REPO, timeout=60,
                       preexec_fn=hostile_parent(ignore, block, ignore_raw), stdin=subprocess.DEVNULL, **kw)
    if tmp_path is not None:
        kw["stdout"].close()
        kw["stderr"].close()
        p.stdout, p.stderr = (tmp_path / "out").read_bytes(), (tmp_path / "err").read_bytes()
    assert p.returncode == 0, p.stderr
    return p.stdout.decode()


CALLERS = {
    "plain": {},
    "nohup": {"wrapper": ("nohup",)},
    "sigint-ignored-and-usr1-blocked": {"ignore": (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM),
                                        "block": (signal.SIGUSR1, signal.SIGTERM, signal.SIGCHLD)},
    "libc-reserved-32-33-ignored": {"ignore_raw": (32, 33)},
}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("rt", ["dockyard", "runc"])
def test_run_starts_with_default_signals(dy, busybox, caller, rt):
    out = dy_with(dy, ["run", "--rm", "--runtime", rt, "busybox", *SHOW], **CALLERS[caller])
    assert out == CLEAN


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("rt", ["dockyard", "runc"])
def test_exec_starts_with_default_signals(dy, busybox, name, tmp_path, caller, rt):
    """With --runtime runc too: `runc exec` hands on whatever it inherited ignored (it resets
    only the signals Go itself handles), so the engine resets them before it runs runc."""
    run_d(dy, name, "sleep", "60", flags=("--runtime", rt))
    try:
        assert dy_with(dy, ["exec", name, *SHOW], **CALLERS[caller]) == CLEAN
        # exec -d: the detached process's own status, read from beside it (no shell in between:
        # busybox sh ignores SIGQUIT for itself and hands that on to what it runs in the background)
        dy_with(dy, ["exec", "-d", name, "sleep", "31"], tmp_path=tmp_path, **CALLERS[caller])
        show = ("for p in $(pidof sleep); do [ \"$(tr '\\0' ' ' < /proc/$p/cmdline)\" = 'sleep 31 ' ] && "
                "grep -E '^(SigIgn|SigBlk)' /proc/$p/status; done; true")
        assert wait_for(lambda: dy("exec", name, "sh", "-c", show).out, what="the exec'd sleep") == CLEAN
    finally:
        dy("rm", "-f", name)


def test_detached_container_starts_with_default_signals(dy, busybox, name):
    run_d(dy, name, *SHOW)
    dy("wait", name)
    assert dy("logs", name).out == CLEAN
    dy("rm", name)


def test_a_pipe_reader_that_leaves_ends_the_writer(dy, busybox):
    """`yes` must die of SIGPIPE when `head` is done: with SIGPIPE ignored it would spin forever."""
    out = dy_with(dy, ["run", "--rm", "busybox", "sh", "-c", "yes | head -c 1000000 | wc -c; echo done"],
                  ignore=(signal.SIGPIPE,))
    assert out.split() == ["1000000", "done"]
