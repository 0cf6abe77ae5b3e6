"""A container started with `--runtime runc` is operated through runc: exec, kill, pause.

runc keeps its own state of the container (paused, its exec'd processes, its cgroup); these
tests check that runc itself sees each operation (`runc state`, `runc ps`), not only that the
container's answer looks right.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from support import Pty, no_traceback, run_d, wait_for

RUNC = shutil.which("runc")
pytestmark = pytest.mark.skipif(RUNC is None or os.geteuid() != 0, reason="needs root and runc")


def runc(dy, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([RUNC, "--root", os.path.join(dy.runroot, "runtimes", "runc"), *args],
                          capture_output=True, text=True, timeout=30)


def runc_status(dy, cid: str) -> str:
    p = runc(dy, "state", cid)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["status"]


@pytest.fixture
def ctr(dy, busybox):
    return run_d(dy, "rc", "sleep", "300", flags=("--runtime", "runc", "--network", "none"))


def test_exec_runs_through_runc_with_output_and_exit_code(dy, ctr):
    p = dy("exec", "rc", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert (p.returncode, p.out, p.err) == (3, "out\n", "err\n")
    # the process joined the container runc made: same pid namespace (pid 1 is the sleep)
    p = dy("exec", "rc", "cat", "/proc/1/cmdline")
    assert p.out.split("\0")[:2] == ["sleep", "300"]


def test_exec_detached_process_lives_and_runc_lists_it(dy, ctr):
    p = dy("exec", "-d", "rc", "sleep", "177")
    assert p.returncode == 0, p.err
    no_traceback(p)
    wait_for(lambda: "sleep 177" in dy("exec", "rc", "ps").out, what="the detached exec in ps")
    ps = runc(dy, "ps", "--format", "json", ctr)
    assert ps.returncode == 0, ps.stderr
    cmds = [open(f"/proc/{pid}/cmdline").read().split("\0")[:2] for pid in json.loads(ps.stdout)]
    assert ["sleep", "177"] in cmds


def test_exec_with_a_tty_gets_a_terminal(dy, ctr):
    t = Pty(dy, "exec", "-t", "rc", "sh", "-c", "tty; [ -t 0 ] && echo isatty")
    t.expect(rb"/dev/pts/\d+")
    t.expect(rb"isatty")
    assert t.wait() == 0


def test_exec_of_a_missing_command_fails_clearly(dy, ctr):
    p = dy("exec", "rc", "/nonexistent", check=False)
    assert p.returncode != 0
    no_traceback(p)


def test_pause_and_unpause_are_runc_states(dy, ctr):
    assert dy("pause", "rc").returncode == 0
    assert runc_status(dy, ctr) == "paused"
    assert "(Paused)" in dy("ps", "--format", "{{.Status}}").out
    assert dy("unpause", "rc").returncode == 0
    assert runc_status(dy, ctr) == "running"
    assert dy("exec", "rc", "true").returncode == 0


def test_kill_and_stop_reach_the_init_through_runc(dy, busybox):
    # a shell that records the signal it gets: proof the signal arrived, not only that it died
    run_d(dy, "rk", "sh", "-c", "trap 'echo got-usr1 > /tmp/sig' USR1; touch /tmp/ready; while :; do sleep 0.1; done",
          flags=("--runtime", "runc", "--network", "none"))
    # the trap is set before the signal is sent; the file is read until the handler has written it
    wait_for(lambda: dy("exec", "rk", "test", "-e", "/tmp/ready", check=False).returncode == 0, what="the trap set")
    assert dy("kill", "-s", "USR1", "rk").returncode == 0
    wait_for(lambda: dy("exec", "rk", "cat", "/tmp/sig", check=False).out == "got-usr1\n", what="USR1 delivered")
    p = dy("stop", "-t", "1", "rk")
    assert p.returncode == 0, p.err
    assert dy("inspect", "-f", "{{.State.Status}}", "rk").out.strip() == "exited"


def test_stop_of_a_paused_runc_container_thaws_it_first(dy, ctr):
    assert dy("pause", "rc").returncode == 0
    p = dy("stop", "-t", "1", "rc")
    assert p.returncode == 0, p.err
    assert dy("inspect", "-f", "{{.State.Status}}", "rc").out.strip() == "exited"


def test_rm_force_of_a_paused_runc_container_resumes_and_kills_through_runc(dy, ctr):
    pid = int(dy("inspect", "-f", "{{.State.Pid}}", "rc").out)
    assert dy("pause", "rc").returncode == 0
    assert runc_status(dy, ctr) == "paused"
    p = dy("rm", "-f", "rc")
    assert p.returncode == 0, p.err
    no_traceback(p)
    assert not os.path.exists(f"/proc/{pid}")
    assert ctr not in runc(dy, "list", "-q").stdout
    assert dy("ps", "-aq").out == ""
