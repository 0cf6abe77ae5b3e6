"""Helpers for dockyard's benchmarks (standard library only).

Timing, statistics, the result table, launchers written like scripts/install-launchers, and
small probes (is a tool installed, is dockerd answering). Benchmarks print numbers; they are
never timed assertions in tests.
"""

from __future__ import annotations

import http.client
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCKER_SOCK = "/var/run/docker.sock"


# ----------------------------------------------------------------------------- processes

def run(cmd: list[str], *, timeout: float = 120, check: bool = True, env: dict | None = None,
        cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run a command quietly (stdin closed, output captured, always with a timeout)."""
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                       env=env, cwd=cwd)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr.strip()}\n{p.stdout.strip()}")
    return p


def time_once(cmd: list[str], *, env: dict | None = None, timeout: float = 120) -> float:
    """Wall-clock seconds of one run of `cmd`, which must exit 0."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       env=env, timeout=timeout)
    elapsed = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.decode(errors='replace').strip()}")
    return elapsed


def which(name: str) -> str | None:
    return shutil.which(name)


def write_launcher(bin_dir: str, name: str, module: str, python: str = sys.executable) -> str:
    """A `#!<python> -S` launcher for `module` in this checkout, as scripts/install-launchers writes."""
    os.makedirs(bin_dir, exist_ok=True)
    path = os.path.join(bin_dir, name)
    with open(path, "w") as f:
        f.write(f"#!{python} -S\nimport sys\nsys.path.insert(0, {REPO!r})\nfrom {module} import main\nsys.exit(main())\n")
    os.chmod(path, 0o755)
    return path


def compile_checkout(python: str = sys.executable) -> None:
    """Bytecode for the checkout, as install-launchers does (PYTHONDONTWRITEBYTECODE would otherwise
    make every measured run recompile dockyard from source)."""
    run([python, "-m", "compileall", "-q", os.path.join(REPO, "dockyard")], timeout=300)


def unmount_below(path: str) -> None:
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for p in sorted((p for p in points if p == real or p.startswith(real + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", p], stderr=subprocess.DEVNULL, timeout=30)


# ----------------------------------------------------------------------------- docker

class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def docker_answering(sock: str = DOCKER_SOCK, timeout: float = 2.0) -> bool:
    """True when a dockerd answers GET /_ping on its unix socket."""
    if not os.path.exists(sock):
        return False
    try:
        conn = _UnixHTTPConnection(sock, timeout)
        conn.request("GET", "/_ping")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def dockerd_pid() -> int | None:
    try:
        with open("/var/run/docker.pid") as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def stop_process(pid: int, timeout: float = 30) -> None:
    """SIGTERM, wait, then SIGKILL one process (by its id)."""
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass


# ----------------------------------------------------------------------------- statistics and output

class Stats:
    __slots__ = ("n", "median", "p90", "min")

    def __init__(self, samples: list[float]) -> None:
        s = sorted(samples)
        self.n = len(s)
        self.median = statistics.median(s)
        self.p90 = s[max(0, math.ceil(0.9 * len(s)) - 1)]  # nearest rank
        self.min = s[0]


def table(header: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def fmt(r):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    line = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), line, *(fmt(r) for r in rows)])


def note(msg: str) -> None:
    print(f"# {msg}", file=sys.stderr, flush=True)
