"""Helpers shared by the integration tests (processes, mounts, cgroups left by containers)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time

HEX64 = re.compile(r"[0-9a-f]{64}")
CGROUP_BASE = "/sys/fs/cgroup"
CREATED: list[str] = []
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # ids of detached containers a test started, for the safety net


def mounts_under(path: str) -> list[str]:
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == real or p.startswith(real + "/")]


def container_processes(path: str) -> list[int]:
    """Processes in another mount namespace whose mounts mention `path` (a container of this test).

    /proc/PID/root of a container's init reads "/" from the host, so it cannot be matched by
    path; its mount table names the overlay's upper/lower dirs, which live under our root.
    """
    real = os.path.realpath(path)
    own = os.readlink("/proc/self/ns/mnt")
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{name}/ns/mnt") == own:
                continue
            with open(f"/proc/{name}/mountinfo") as f:
                if real in f.read():
                    pids.append(int(name))
        except OSError:
            continue
    return pids


def monitors_of(root: str) -> list[int]:
    """`dockyard-mon` processes started for the store at `root`."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "dockyard-mon":
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if b"DOCKYARD_ROOT=" + root.encode() in f.read().split(b"\0"):
                    out.append(int(pid))
        except OSError:
            continue
    return out


def cgroup_dirs(cid: str) -> list[str]:
    """The container's cgroup directories in every hierarchy (v1 controllers and the v2 tree)."""
    out = []
    try:
        hierarchies = [os.path.join(CGROUP_BASE, h) for h in os.listdir(CGROUP_BASE)] + [CGROUP_BASE]
    except OSError:
        return out
    for h in hierarchies:
        d = os.path.join(h, "dockyard", cid)
        if os.path.isdir(d):
            out.append(d)
    return out


def listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def assert_nothing_left(dy, tmp_path) -> None:
    """No container record, snapshot, bundle directory, mount or process of this test remains."""
    assert dy("ps", "-aq").out == ""
    assert listdir(os.path.join(dy.root, "snapshots", "active")) == []
    assert listdir(os.path.join(dy.runroot, "containers")) == []
    assert mounts_under(str(tmp_path)) == []
    assert container_processes(str(tmp_path)) == []


def wait_for(pred, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def no_traceback(p) -> None:
    assert "Traceback" not in p.err, p.err
    assert "Traceback" not in p.out, p.out


def run_d(dy, name: str, *args: str, flags: tuple = ()) -> str:
    """`dockyard run -d --name NAME FLAGS… busybox ARGS…`: the printed id (64 hex)."""
    p = dy("run", "-d", "--name", name, *flags, "busybox", *args, timeout=30)
    cid = p.out.strip()
    assert HEX64.fullmatch(cid), p.out + p.err
    CREATED.append(cid)
    return cid


class Pty:
    """`dockyard …` on a real pseudo-terminal (pty.fork), with expect/send for interactive tests."""

    def __init__(self, dy, *args: str, rows: int = 24, cols: int = 80, argv: list[str] | None = None) -> None:
        self.buf = b""
        argv = argv or dy.cmd(*args)
        pid, fd = pty.fork()
        if pid == 0:  # child: our stdio is the slave and it is our controlling terminal
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                os.chdir(REPO)
                os.execve(sys.executable, argv, dy.env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.code: int | None = None

    def _read(self, timeout: float) -> bool:
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the child side is closed
            return False
        if not data:
            return False
        self.buf += data
        return True

    def expect(self, pattern: bytes, timeout: float = 10.0, start: int = 0) -> int:
        """Wait until `pattern` (a regex) appears in the output after offset `start`; its end offset."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.buf[start:])
            if m:
                return start + m.end()
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.2)) and not re.search(pattern, self.buf[start:]):
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {pattern!r}; output so far: {self.buf!r}")
                raise AssertionError(f"output ended before {pattern!r}; output: {self.buf!r}")

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def wait(self, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while self.code is None:
            self._read(0.05)
            got, status = os.waitpid(self.pid, os.WNOHANG)
            if got:
                while self._read(0.05) and time.monotonic() < deadline:
                    pass
                self.code = os.waitstatus_to_exitcode(status)
            elif time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"dockyard did not exit; output: {self.buf!r}")
        return self.code

    def kill(self) -> None:
        if self.code is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status = os.waitpid(self.pid, 0)
            self.code = os.waitstatus_to_exitcode(status)
        try:
            os.close(self.fd)
        except OSError:
            pass

    @property
    def text(self) -> str:
        return self.buf.decode(errors="replace").replace("\r", "")
