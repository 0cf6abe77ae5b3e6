"""A detached container's monitor is a new interpreter on `engine/monitor_entry.py`, not a fork of
the CLI: it holds nothing of the CLI (no fd but its stdio, pipes, the store's database and the
container's log; never the container lock), runs in a session of its own, and a `run -d` whose
create fails leaves no monitor waiting for a container that never comes."""

from __future__ import annotations

import os

from support import monitors_of, run_d, wait_for


def _argv(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]


def _entry_processes(root: str) -> list[int]:
    """Processes started on the monitor's entry point for the store at `root` (before a container
    is handed to one, its name is still python's, so look at the command line)."""
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                argv = _argv(int(pid))
            except OSError:
                continue
            if any("dockyard.engine.monitor_entry" in a for a in argv) and root in argv:
                out.append(int(pid))
    return out


def test_monitor_is_a_new_interpreter_holding_only_its_own_fds(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", "echo ready; sleep 60")
    [mon] = monitors_of(dy.root)
    argv = _argv(mon)
    assert "-I" in argv and any("from dockyard.engine.monitor_entry import main" in a for a in argv), argv
    assert argv[-2:] == [dy.root, dy.runroot], argv
    assert os.getsid(mon) != os.getsid(0) and os.getsid(mon) != os.getsid(os.getppid())
    fds = {}
    for fd in os.listdir(f"/proc/{mon}/fd"):
        try:
            fds[int(fd)] = os.readlink(f"/proc/{mon}/fd/{fd}")
        except OSError:
            continue
    assert all(fds.get(n) == "/dev/null" for n in (0, 1, 2)), fds
    foreign = {n: t for n, t in fds.items() if n > 2 and not t.startswith("pipe:") and t != "/dev/null"
               and not t.startswith(os.path.join(dy.root, "state.db"))
               and t != os.path.join(dy.root, "containers", cid, f"{cid}-json.log")}
    # one socket: the attach socket the monitor listens on (engine/attachsock.py), in the
    # container's directory
    sockets = [n for n, t in foreign.items() if t.startswith("socket:")]
    assert len(sockets) == 1 and {n: t for n, t in foreign.items() if n not in sockets} == {}, foreign
    import stat

    attach = [os.path.join(r, "containers", cid, "attach") for r in (dy.root, dy.runroot)]
    assert any(os.path.exists(a) and stat.S_ISSOCK(os.stat(a).st_mode) for a in attach), attach
    assert dy("logs", name).out == "ready\n"
    dy("rm", "-f", name)
    wait_for(lambda: not monitors_of(dy.root), what="the monitor's exit")


def test_a_failed_create_leaves_no_waiting_monitor(dy, busybox, name):
    run_d(dy, name, "sleep", "60")
    wait_for(lambda: len(_entry_processes(dy.root)) == 1, what="one monitor")
    p = dy("run", "-d", "--name", name, "busybox", "true", check=False)  # the name is taken
    assert p.returncode == 125 and "already in use" in p.err, p.err
    p = dy("run", "-d", "no-such-image-here", "true", check=False)
    assert p.returncode != 0 and "Traceback" not in p.err, p.err
    wait_for(lambda: len(_entry_processes(dy.root)) == 1, timeout=5, what="the unused monitors' exit")
    dy("rm", "-f", name)
    wait_for(lambda: not _entry_processes(dy.root), what="the monitor's exit")


def test_a_long_lived_caller_with_threads_starts_monitors_and_cancels_unused_ones(dy, busybox, name):
    """As the API server does: containers started from several threads of one process at once
    (nothing of this heap is copied into a monitor), and a monitor started ahead of a create that
    never happens exits although its caller lives on."""
    import threading

    from dockyard.engine.engine import Engine
    from dockyard.engine.lifecycle import start
    from dockyard.engine.monitor import prestart

    names = [f"{name}-{i}" for i in range(4)]
    for n in names:
        dy("create", "--name", n, "--network", "none", "busybox", "sleep", "60")
    errors: list = []

    def start_one(n: str) -> None:
        try:
            start(Engine(dy.root, dy.runroot), n)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((n, e))

    threads = [threading.Thread(target=start_one, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(dy("ps", "--format", "{{.Names}}").out.split()) == sorted(names)
    assert len(_entry_processes(dy.root)) == 4  # (their environment names no root: this process set none)

    engine = Engine(dy.root, dy.runroot)
    with prestart(engine):
        wait_for(lambda: len(_entry_processes(dy.root)) == 5, what="the monitor started ahead")
    wait_for(lambda: len(_entry_processes(dy.root)) == 4, timeout=5, what="the unused monitor's exit")
    dy("rm", "-f", *names)
    wait_for(lambda: not _entry_processes(dy.root), what="the monitors' exit")
