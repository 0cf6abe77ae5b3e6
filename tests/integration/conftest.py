"""Integration-tier fixtures: a fast busybox store per test and a safety net after each test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from support import CREATED, cgroup_dirs, container_processes, monitors_of, mounts_under

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def _busybox_template(tmp_path_factory):
    """One `dockyard bootstrap busybox` for the whole session (bootstrap is tested on its own)."""
    base = tmp_path_factory.mktemp("busybox-template")
    root = str(base / "root")
    env = dict(os.environ, DOCKYARD_ROOT=root, DOCKYARD_RUNROOT=str(base / "run"), PYTHONPATH=REPO)
    p = subprocess.run([sys.executable, "-S", "-m", "dockyard", "bootstrap", "busybox", "busybox:latest"],
                       env=env, cwd=REPO, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return root


@pytest.fixture
def busybox(dy, _busybox_template):
    """`busybox:latest` in this test's own store: a byte-for-byte copy of a bootstrapped store,
    which costs milliseconds where a bootstrap costs most of a second."""
    assert not os.path.exists(dy.root)
    subprocess.run(["cp", "-a", _busybox_template, dy.root], check=True)
    # the copy must not lead back to the template (a store recording absolute paths would)
    needle = _busybox_template.encode()
    for base, _dirs, files in os.walk(dy.root):
        for f in files:
            path = os.path.join(base, f)
            if os.path.isfile(path) and not os.path.islink(path) and os.path.getsize(path) < 1 << 18:
                with open(path, "rb") as fh:
                    assert needle not in fh.read(), f"{path} names the template store"
    return "busybox:latest"


@pytest.fixture(autouse=True)
def _safety_net(tmp_path):
    """After the `dy` fixture's own `rm -f`: kill monitors and container processes of this test
    that survived it, remove their cgroups and mounts, so one failure cannot spill into others."""
    CREATED.clear()
    yield
    for pid in monitors_of(str(tmp_path / "root")) + container_processes(str(tmp_path)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for cid in CREATED:
        for d in cgroup_dirs(cid):
            deadline = time.monotonic() + 5
            while os.path.isdir(d) and time.monotonic() < deadline:
                try:
                    os.rmdir(d)
                except OSError:
                    time.sleep(0.05)
    for p in sorted(mounts_under(str(tmp_path)), key=len, reverse=True):
        subprocess.run(["umount", "-l", p], stderr=subprocess.DEVNULL)
