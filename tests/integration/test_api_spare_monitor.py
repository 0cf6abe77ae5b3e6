"""The API's zygote keeps one container monitor ready for the next start (api/zygote.py `Spares`):
the next `docker start`/`run` hands its container to that process instead of starting an
interpreter. The spare is a fresh interpreter (nothing of the service copied), loads under
SCHED_IDLE, runs its container under the normal policy, and goes with the service."""

from __future__ import annotations

import os
import time

from apiclient import api  # noqa: F401 - a fixture
from support import assert_nothing_left, wait_for


def spares(root: str) -> list[int]:
    """Live `--spare` monitor entry points started for the store at `root`."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"--spare" in argv and root.encode() in argv and any(b"monitor_entry" in a for a in argv):
            out.append(int(name))
    return out


def loaded(pid: int) -> bool:
    try:
        return os.sched_getscheduler(pid) == os.SCHED_OTHER
    except OSError:
        return False


def parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test_the_next_start_uses_the_spare_monitor(api, dy, tmp_path):
    api.docker("run", "-d", "--network", "none", "--name", "first", "busybox", "sleep", "60")
    assert wait_for(lambda: len(spares(dy.root)) == 1 and loaded(spares(dy.root)[0]), 30), \
        "no loaded spare monitor after a start"
    spare = spares(dy.root)[0]
    # a fresh interpreter on the monitor's entry point, not a fork of the service or its zygote
    with open(f"/proc/{spare}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    assert argv[1:3] == [b"-I", b"-S"] and argv[-4:-1] == [dy.root.encode(), dy.runroot.encode(), b"--spare"]
    assert parent(spare) not in (api.proc.pid, *api.children())

    api.docker("run", "-d", "--network", "none", "--name", "second", "busybox", "sleep", "60")
    pid = int(dy("inspect", "-f", "{{.State.Pid}}", "second").out)
    assert parent(pid) == spare  # the spare became the monitor: the init is its child
    with open(f"/proc/{spare}/comm") as f:
        assert f.read().strip() == "dockyard-mon"
    assert os.sched_getscheduler(pid) == os.SCHED_OTHER and os.sched_getscheduler(spare) == os.SCHED_OTHER
    # it does a monitor's work: logs, stop, exit code
    api.docker("stop", "-t", "1", "second")
    assert dy("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "second").out.split() == ["exited", "137"]
    assert wait_for(lambda: not os.path.exists(f"/proc/{spare}"), 10)
    # a new one is made ready; `docker run --rm` through it gives the output and the exit code
    assert wait_for(lambda: len(spares(dy.root)) == 1 and loaded(spares(dy.root)[0]), 30)
    p = api.docker("run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo via spare; exit 5", check=False)
    assert (p.returncode, p.out) == (5, "via spare\n")
    api.docker("rm", "-f", "first", "second")


def test_the_spare_goes_with_the_service(api, dy, tmp_path):
    api.docker("run", "--rm", "--network", "none", "busybox", "true")
    assert wait_for(lambda: len(spares(dy.root)) == 1, 30)
    spare = spares(dy.root)[0]
    api.stop()
    deadline = time.monotonic() + 30  # a spare still loading under SCHED_IDLE finishes first, then reads EOF
    while os.path.exists(f"/proc/{spare}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{spare}"), "the spare monitor outlived the service"
    assert_nothing_left(dy, tmp_path)


IDLE_PROBE = r"""
import os
from dockyard.engine.monitor_entry import can_leave_idle
ok = can_leave_idle()
os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
try:
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    back = True
except PermissionError:
    back = False
print(ok, back)
"""


def test_a_spare_goes_idle_only_where_it_may_come_back():
    """Without CAP_SYS_NICE and with RLIMIT_NICE 0 (a service in a container without SYS_NICE), a
    process cannot leave SCHED_IDLE: can_leave_idle() says so beforehand, and the spare then loads
    at the normal policy instead of dying on its way back (and being started again after each start)."""
    import subprocess

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": repo}

    def probe(*wrap: str) -> str:  # Debian's python: nobody may not reach this one (under /root)
        return subprocess.run([*wrap, "/usr/bin/python3", "-c", IDLE_PROBE], env=env, capture_output=True, text=True,
                              check=True, timeout=60).stdout.split()

    nobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
    assert probe() == ["True", "True"]  # root
    assert probe("prlimit", "--nice=0", *nobody) == ["False", "False"]
