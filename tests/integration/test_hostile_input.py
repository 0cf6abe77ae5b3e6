"""Hostile input (issue 10): every case exits with a clear error, never a traceback, and leaves the
host as it was (host directories empty, canaries untouched, no container half-made)."""

from __future__ import annotations

import os

import pytest
from support import assert_nothing_left, no_traceback


def refused(p, *words: str, code: int = 125) -> None:
    """Exit `code`, a `dockyard: error:` line naming `words`, no traceback."""
    no_traceback(p)
    assert p.returncode == code, (p.returncode, p.err, p.out)
    assert "error" in p.err, p.err
    for w in words:
        assert w in p.err, (w, p.err)


# -- numbers and signals (item 18) ------------------------------------------------------------


@pytest.mark.parametrize("flags, words", [
    (("--stop-timeout", "abc"), ('"abc"', "--stop-timeout")),
    (("--stop-timeout", "-5"), ("--stop-timeout",)),
    (("--stop-timeout", "99999999999999999999"), ("--stop-timeout",)),
    (("--cpus", "nan"), ("nan", "--cpus")),
    (("--cpus", "inf"), ("inf", "--cpus")),
    (("--cpus", "-1"), ("-1", "--cpus")),
    (("--cpus", "1e3"), ("1e3", "--cpus")),
    (("-m", "nan"), ("nan", "--memory")),
    (("-m", "1e400"), ("1e400", "--memory")),
    (("-m", "-5m"), ("-5m", "--memory")),
    (("-m", "99999999999t"), ("--memory", "out of range")),
    (("-m", "64m", "--memory-swap", "inf"), ("inf", "--memory-swap")),
    (("--pids-limit", "nan"), ("nan", "--pids-limit")),
    (("-c", "-3"), ("--cpu-shares",)),
    (("--stop-signal", "NOPE"), ("Invalid signal: NOPE",)),
    (("--stop-signal", "SIG_IGN"), ("Invalid signal",)),
    (("--stop-signal", "0"), ("Invalid signal",)),
    (("--stop-signal", "99"), ("Invalid signal",)),
    (("--tmpfs", "/t:size=nan"), ("size",)),
    (("--mount", "type=tmpfs,target=/t,tmpfs-size=1e400"), ("tmpfs-size",)),
    (("--log-opt", "max-size=inf"), ("max-size",)),
])
def test_bad_numbers_are_refused_at_create(dy, busybox, flags, words, tmp_path):
    for verb in ("create", "run"):
        refused(dy(verb, *flags, busybox, "true", check=False), *words)
    assert_nothing_left(dy, tmp_path)


def test_good_numbers_still_work(dy, busybox):
    """The one size parser reads go-units' spellings; the values reach the cgroup (v1 here)."""
    p = dy("run", "--rm", "-m", "1GiB", "--memory-swap", "2g", "--cpus", "0.5", "--stop-signal", "RTMIN+3",
           "--stop-timeout", "-1", "--tmpfs", "/t:size=1k", "--log-opt", "max-size=1kb", busybox, "sh", "-c",
           "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
           "2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max")
    assert p.out.split()[:2] == ["1073741824", "50000"]


def test_stop_with_a_real_signal_after_a_refused_one(dy, busybox, name):
    """The refused --stop-signal made no container; a good one stops as asked."""
    refused(dy("run", "-d", "--name", name, "--stop-signal", "NOPE", busybox, "sleep", "60", check=False),
            "Invalid signal")
    assert dy("ps", "-aq").out == ""
    dy("run", "-d", "--name", name, "--stop-signal", "SIGKILL", busybox, "sleep", "60")
    dy("stop", "-t", "30", name, timeout=20)
    assert dy("inspect", "-f", "{{.State.ExitCode}}", name).out.strip() == "137"
