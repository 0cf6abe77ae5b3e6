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
    elapsed, _, code, err = time_process(cmd, env=env, timeout=timeout)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {code}: {err.strip()}")
    return elapsed


def time_process(cmd: list[str], *, env: dict | None = None, timeout: float = 120) -> tuple[float, float, int, str]:
    """(wall-clock seconds, CPU seconds, exit status, stderr) of one run of `cmd`, stdout discarded.

    Waits in a blocking wait4(2), which also gives the CPU time (user + system of the command and
    of the children it waited for). Not `subprocess.run(timeout=…)`: that polls with sleeps
    doubling from 0.5 ms to 50 ms, which rounded a 13 ms command up to 19.7 or 32.2 ms. stderr goes
    to a file, never a pipe (a process it starts, a container's init, may keep it open); a
    command still running after `timeout` is killed."""
    import tempfile
    import threading

    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env)
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        elapsed = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        err.seek(0)
        text = err.read().decode(errors="replace")
    if elapsed >= timeout:
        raise subprocess.TimeoutExpired(cmd, timeout)
    return elapsed, usage.ru_utime + usage.ru_stime, p.returncode, text


def time_output(cmd: list[str], *, env: dict | None = None, timeout: float = 120,
                cwd: str | None = None) -> tuple[float, str]:
    """Wall-clock seconds of one run of `cmd`, which must exit 0, and its stdout + stderr."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=env, timeout=timeout, cwd=cwd)
    elapsed = time.perf_counter() - t0
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{out.strip()[-3000:]}")
    return elapsed, out


def image_ids(cli: list[str]) -> set[str]:
    """Full ids of all images (intermediate ones too) of docker or podman: `<cli> images -a -q`."""
    p = run([*cli, "images", "-a", "-q", "--no-trunc"], check=False)
    return {line.strip().removeprefix("sha256:") for line in p.stdout.splitlines() if line.strip()}


def which(name: str) -> str | None:
    return shutil.which(name)


def write_launcher(bin_dir: str, name: str, module: str, python: str = sys.executable, repo: str = REPO) -> str:
    """A `#!<python> -S` launcher for `module` in this checkout (or `repo`), as scripts/install-launchers
    writes."""
    os.makedirs(bin_dir, exist_ok=True)
    path = os.path.join(bin_dir, name)
    with open(path, "w") as f:
        f.write(f"#!{python} -S\nimport sys\nsys.path.insert(0, {repo!r})\nfrom {module} import main\nsys.exit(main())\n")
    os.chmod(path, 0o755)
    return path


def compile_checkout(python: str = sys.executable, repo: str = REPO) -> None:
    """Bytecode for the checkout (or `repo`), as install-launchers does (PYTHONDONTWRITEBYTECODE would
    otherwise make every measured run recompile dockyard from source)."""
    run([python, "-m", "compileall", "-q", os.path.join(repo, "dockyard")], timeout=300)


def release_tree(path: str) -> None:
    """Remove a bench's private tree: first the networks of every dockyard root in it (bridges and
    iptables rules are host-wide and would outlive the directory), then its mounts, then it."""
    import shutil

    for base, dirs, files in os.walk(path):
        if "state.db" in files and os.path.basename(base) == "root":
            runroot = os.path.join(os.path.dirname(base), "run")
            if REPO not in sys.path:
                sys.path.insert(0, REPO)
            try:
                from dockyard.engine.engine import Engine
                from dockyard.engine.networking import reset

                reset(Engine(base, runroot))
            except Exception as e:  # keep cleaning up
                print(f"# could not remove the networks of {base}: {e}", file=sys.stderr)
        dirs[:] = [d for d in dirs if d not in ("snapshots", "content", "containers")]
    unmount_below(path)
    shutil.rmtree(path, ignore_errors=True)


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


# ----------------------------------------------------------------------------- shared set-up

PODMAN_CONF = "/etc/containers/containers.conf.d/50-dockyard-ci.conf"


def dockyard_private(tmp: str) -> tuple[list[str], str]:
    """Launchers for this checkout in <tmp>/bin (bytecode compiled once) and busybox:latest
    bootstrapped into a private <tmp>/root + <tmp>/run. Returns (dockyard argv prefix with
    --root/--runroot, the unpacked busybox layer's directory)."""
    import glob

    compile_checkout()
    bin_dir = os.path.join(tmp, "bin")
    dockyard = write_launcher(bin_dir, "dockyard", "dockyard.cli.main")
    write_launcher(bin_dir, "dockyard-runtime", "dockyard.runtime.cli")
    root = os.path.join(tmp, "root")
    dy = [dockyard, "--root", root, "--runroot", os.path.join(tmp, "run")]
    run([*dy, "bootstrap", "busybox", "busybox:latest"], timeout=300)
    layers = glob.glob(os.path.join(root, "snapshots", "layers", "*", "fs"))
    if len(layers) != 1:
        raise RuntimeError(f"expected one unpacked busybox layer, found {layers}")
    return dy, layers[0]


def export_layer(layer: str, tar_path: str) -> str:
    """The unpacked layer as a plain tar, for `docker import` / `podman import`."""
    run(["tar", "--numeric-owner", "-C", layer, "-cf", tar_path, "."])
    return tar_path


def ensure_dockerd(with_docker: bool, cleanups: list, skipped: list[str],
                   dockerd_args: str | None = None) -> str | None:
    """The docker CLI's path when a dockerd answers (started via .ci/start-dockerd only with
    `with_docker`; a ("stop dockerd", fn) entry is then appended to `cleanups`), else None with
    the reason appended to `skipped`. `dockerd_args` is passed as DOCKERD_ARGS to a dockerd this
    starts (unless DOCKERD_ARGS is already set in the environment)."""
    docker = which("docker")
    if docker is None or which("dockerd") is None:
        skipped.append("docker: not installed")
        return None
    if docker_answering():
        return docker
    if not with_docker:
        skipped.append("docker: dockerd is not running (pass --with-docker to start it)")
        return None
    had_pid = dockerd_pid() is not None
    env = None
    if dockerd_args and "DOCKERD_ARGS" not in os.environ:
        env = {**os.environ, "DOCKERD_ARGS": dockerd_args}
    run(["bash", os.path.join(REPO, ".ci", "start-dockerd")], timeout=90, env=env)
    pid = dockerd_pid()
    if not had_pid and pid is not None:
        cleanups.append(("stop dockerd", lambda: stop_process(pid)))
    return docker


def podman_ulimits() -> list[str]:
    """Without .ci/podman-setup's drop-in podman asks for rlimits this kind of VM cannot grant."""
    return [] if os.path.exists(PODMAN_CONF) else ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


# ----------------------------------------------------------------------------- /proc probes

def proc_status(pid: int) -> dict[str, str]:
    """/proc/<pid>/status as a dict of raw values ({} if the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return {k: v.strip() for k, _, v in (line.partition(":") for line in f)}
    except (FileNotFoundError, ProcessLookupError):
        return {}


def proc_comm(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except (FileNotFoundError, ProcessLookupError):
        return None


def proc_cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except (FileNotFoundError, ProcessLookupError):
        return []


def proc_start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat: with the pid, it names one process (pids are reused)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None


def proc_alive(pid: int, start_ticks: int | None) -> bool:
    return start_ticks is not None and proc_start_ticks(pid) == start_ticks


def pids_with_comm(comm: str) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit() and proc_comm(int(name)) == comm:
            out.append(int(name))
    return out


def proc_memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and RssAnon (/proc/<pid>/status) and Pss (/proc/<pid>/smaps_rollup), in kB."""
    st = proc_status(pid)
    mem = {k: int(st[k].split()[0]) for k in ("VmRSS", "RssAnon", "RssFile") if k in st}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    mem["Pss"] = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return mem


def mounts_below(path: str, mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    real = os.path.realpath(path)
    with open(mountinfo) as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == real or p.startswith(real + "/")]


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
