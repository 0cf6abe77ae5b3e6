"""Detached containers as a user types them: the issue's command list, in order, through a shell
with `dockyard` on PATH, each line checked for its essential output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time


def test_detached_container_session(dy, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "dockyard").write_text(f'#!/bin/sh\nexec {sys.executable} -S -m dockyard "$@"\n')
    (bindir / "dockyard").chmod(0o755)
    env = dict(dy.env, PATH=f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}")

    def sh(line: str, code: int = 0, timeout: float = 30) -> str:
        p = subprocess.run(["bash", "-c", line], env=env, cwd=str(tmp_path), capture_output=True, text=True,
                           timeout=timeout)
        assert p.returncode == code, f"$ {line}\n exit {p.returncode}\n{p.stderr}{p.stdout}"
        assert "Traceback" not in p.stderr, p.stderr
        return p.stdout + p.stderr

    def until(line: str, pattern: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, out := sh(line)):
            assert time.monotonic() < deadline, f"$ {line}: no {pattern!r} in\n{out}"
            time.sleep(0.2)
        return out

    sh("dockyard bootstrap busybox busybox:latest", timeout=120)
    cid = sh("dockyard run -d --name api --restart on-failure:3 -m 64m --cpus 0.5 --pids-limit 50 busybox "
             "sh -c 'while true; do date; sleep 1; done'").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    assert re.search(rf"^{cid[:12]} .*\bUp .*\bapi$", sh("dockyard ps"), re.M)
    until("dockyard logs api", r"(?m)^\w{3} \w{3} +\d+ \d\d:\d\d:\d\d UTC \d{4}$")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z \w{3} .*\n", sh("dockyard logs --tail 1 -t api"))
    assert sh("dockyard logs --since 10s api").strip()
    assert sh("dockyard inspect -f '{{.State.Status}}' api") == "running\n"
    assert "X=1" in sh("dockyard exec -e X=1 api env").split()
    assert sh("dockyard exec -u nobody -w /tmp api sh -c 'id -u; pwd'") == "65534\n/tmp\n"
    top = sh("dockyard top api")
    assert "PID" in top.splitlines()[0] and "while true" in top
    stats = sh("dockyard stats --no-stream api").splitlines()
    assert stats[0].split("   ")[:2] == ["CONTAINER ID", "NAME"] and "/ 64MiB" in stats[1]
    sh("dockyard pause api")
    assert "(Paused)" in sh("dockyard ps")
    sh("dockyard unpause api")
    sh("dockyard stop -t 1 api")  # sh as pid 1 ignores SIGTERM: killed after 1 s
    assert re.search(r"Exited \(137\) .*\bapi$", sh("dockyard ps -a"), re.M)
    sh("dockyard start api")
    assert " Up " in sh("dockyard ps --filter name=api")
    sh("dockyard restart -t 1 api")
    assert sh("dockyard ps --format '{{.Names}} {{.State}}'") == "api running\n"
    sh("dockyard kill api")
    assert sh("dockyard wait api") == "137\n"
    sh("dockyard rename api api2")
    assert sh("dockyard ps -a --format '{{.Names}}'") == "api2\n"
    sh("dockyard start api2")
    sh("dockyard run -d --name once busybox sh -c 'exit 5'")
    assert sh("dockyard wait once") == "5\n"
    assert "Exited (5)" in sh("dockyard ps -a --filter status=exited")
    assert "Deleted Containers:" in sh("dockyard container prune -f")
    assert sh("dockyard ps -a --format '{{.Names}}'") == "api2\n"
    sh("dockyard rm -f $(dockyard ps -aq)")
    assert sh("dockyard ps -aq") == ""
    assert not os.path.exists(f"/sys/fs/cgroup/memory/dockyard/{cid}")
    with open("/proc/self/mountinfo") as f:
        assert cid not in f.read() and str(tmp_path) not in f.read()
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _is_our_monitor(p, dy.root)]


def _is_our_monitor(pid: str, root: str) -> bool:
    try:
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() != "dockyard-mon":
                return False
        with open(f"/proc/{pid}/environ", "rb") as f:
            return b"DOCKYARD_ROOT=" + root.encode() in f.read().split(b"\0")
    except OSError:
        return False
