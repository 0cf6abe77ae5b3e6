"""Shared fixtures: every test gets its own dockyard root, runroot and names.

`dy` runs the real CLI (`python -m dockyard …`) against the test's own roots; `busybox` makes a
base image in them with `dockyard bootstrap busybox`; `debian_base` is the session's one Debian
bootstrap, which slow-tier tests load into their own stores. Tests that need root are skipped when not
root; everything a test creates lives under its tmp_path and is removed (mounts included).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest

from dockyard.fsutil import unmount_below

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_configure(config):
    """The signal dispositions a terminal gives: a run started under nohup, or as a shell's
    background job, has SIGHUP or SIGINT ignored, and every command the tests start would inherit
    that (the tests that interrupt a command with them would see it ignore them)."""
    import signal

    if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config, items):
    for item in items:
        tier = os.path.relpath(str(item.fspath), os.path.join(REPO, "tests")).split(os.sep)[0]
        if tier in ("unit", "integration", "interop", "e2e"):
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(autouse=True)
def _needs_root(request):
    tier = os.path.relpath(str(request.node.fspath), os.path.join(REPO, "tests")).split(os.sep)[0]
    if tier in ("integration", "interop", "e2e") and os.geteuid() != 0:
        pytest.skip("needs root")


def _bridges() -> set[str]:
    return {n for n in os.listdir("/sys/class/net") if n.startswith("dy-")}


def _monitors(below: str) -> dict[int, str]:
    """{pid: its DOCKYARD_ROOT} of every live container monitor (comm `dockyard-mon`) of a store
    under `below` (this test run's temporary directory: other runs on the host are not ours)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "dockyard-mon":
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rpartition(")")[2].split()[0] == "Z":
                    continue
        except (OSError, ValueError):
            continue
        root = env.get(b"DOCKYARD_ROOT", b"").decode(errors="replace")
        if root.startswith(below):
            out[int(pid)] = root
    return out


def _stores_naming(below: str, bridges: set[str]) -> dict[str, str]:
    """{bridge: the store (under `below`) whose database records it}: which test made a leak."""
    import sqlite3

    dbs = []
    for top, dirs, files in os.walk(below):  # stores sit a few levels down; container trees are deep
        if "state.db" in files:
            dbs.append(os.path.join(top, "state.db"))
        if top.count(os.sep) - below.count(os.sep) >= 3:
            dirs.clear()
    out = {}
    for db in dbs:
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                for (b,) in conn.execute("SELECT bridge FROM networks"):
                    if b in bridges:
                        out[b] = os.path.dirname(db)
        except sqlite3.Error:
            continue
    return out


@pytest.fixture(autouse=True)
def _no_network_left(request, tmp_path_factory):
    """Bridge networks are host-wide: a test must take down every one its stores made (the `dy`
    fixture does, for every store it saw). Tests run one at a time, so a bridge that appeared
    during this test is this test's. It is removed, and the test fails."""
    if os.environ.get("DOCKYARD_TESTS_CONCURRENT"):
        # Development only: several test runs share this host, so a new bridge may be another
        # run's. The `dy` fixture still takes down every network its own stores made.
        yield
        return
    ours = str(tmp_path_factory.getbasetemp())
    before, monitors = _bridges(), _monitors(ours)
    yield
    # a monitor that outlives its test restarts containers in a store nobody cleans any more (and
    # makes its network again there): kill it, and fail the test that left it
    deadline = time.monotonic() + 3
    while (stray := {p: r for p, r in _monitors(ours).items() if p not in monitors}) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in stray:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    leaked = _bridges() - before
    if leaked:
        from dockyard.network.firewall import remove_tagged

        owners = _stores_naming(ours, leaked)
        for b in leaked:
            subprocess.run(["ip", "link", "del", b], capture_output=True)
            remove_tagged(f"dockyard net {b}")
        pytest.fail(f"{request.node.nodeid} left bridge networks behind: {sorted(leaked)} "
                    f"(recorded in: {owners or 'no store of this run'})")
    if stray:
        pytest.fail(f"{request.node.nodeid} left container monitors running: {stray}")


class Dockyard:
    """The CLI bound to one test's roots: `dy("run", "--rm", "busybox", "true")`."""

    made: list = []  # every store a test opened (a second root too): the `dy` fixture cleans them all

    def __init__(self, root: str, runroot: str) -> None:
        self.root = root
        self.runroot = runroot
        self.env = dict(os.environ, DOCKYARD_ROOT=root, DOCKYARD_RUNROOT=runroot, PYTHONPATH=REPO)
        Dockyard.made.append(self)

    def cmd(self, *args: str) -> list[str]:
        return [sys.executable, "-S", "-m", "dockyard", *args]

    def __call__(self, *args: str, check: bool = True, input: bytes | str | None = None,
                 timeout: float = 60) -> subprocess.CompletedProcess:
        p = subprocess.run(self.cmd(*args), env=self.env, cwd=REPO, capture_output=True, timeout=timeout,
                           input=input.encode() if isinstance(input, str) else input)
        p.out = p.stdout.decode(errors="replace")  # type: ignore[attr-defined]
        p.err = p.stderr.decode(errors="replace")  # type: ignore[attr-defined]
        if check and p.returncode != 0:
            raise AssertionError(f"dockyard {' '.join(args)} exited {p.returncode}:\n{p.err}{p.out}")
        return p


def _kill_processes_under(path: str) -> None:
    """Kill any process whose root or cwd is inside `path` (a container a test left running)."""
    real = os.path.realpath(path)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{pid}/root").startswith(real) or os.readlink(f"/proc/{pid}/cwd").startswith(real):
                os.kill(int(pid), 9)
        except OSError:
            continue


@pytest.fixture
def dy(tmp_path):
    root = tmp_path / "root"
    runroot = tmp_path / "run"
    Dockyard.made.clear()
    d = Dockyard(str(root), str(runroot))
    yield d
    # Clean up whatever the test left in each of its stores: containers first (they hold mounts),
    # then networks (host-wide: bridges and rules outlive a deleted root), then mounts.
    left = []
    for store in list(Dockyard.made):
        p = subprocess.run(store.cmd("ps", "-aq", "--no-trunc"), env=store.env, cwd=REPO, capture_output=True,
                           timeout=60)
        ids = p.stdout.decode().split()
        if ids:
            subprocess.run(store.cmd("rm", "-f", *ids), env=store.env, cwd=REPO, capture_output=True, timeout=60)
        left += [n for n in os.listdir("/sys/class/net") if any(n.startswith("dv" + cid[:10]) for cid in ids)]
    _kill_processes_under(str(tmp_path))
    bridges = [b for store in Dockyard.made for b in remove_networks(store.root, store.runroot)]
    Dockyard.made.clear()
    unmount_below(str(tmp_path))
    left += [b for b in bridges if os.path.exists(f"/sys/class/net/{b}")]
    assert not left, f"network interfaces left behind after rm -f and the networks' removal: {left}"


def remove_networks(root: str, runroot: str) -> list[str]:
    """Networks are host-wide (bridges, iptables rules): take down every one this root made,
    the default bridge included, which `dockyard` itself keeps for the next container.
    Returns the bridges they had."""
    import sqlite3

    db = os.path.join(root, "state.db")
    if not os.path.exists(db):
        return []
    try:
        with sqlite3.connect(db) as conn:
            bridges = [r[0] for r in conn.execute("SELECT bridge FROM networks")]
    except sqlite3.Error:
        return []
    if bridges:
        from dockyard.engine.engine import Engine
        from dockyard.engine.networking import reset

        reset(Engine(root, runroot))
    return bridges


@pytest.fixture
def busybox(dy):
    """A `busybox:latest` image in this test's store."""
    dy("bootstrap", "busybox", "busybox:latest")
    return "busybox:latest"


@pytest.fixture
def name():
    """A container name unique to this test."""
    return "t-" + uuid.uuid4().hex[:10]


# ----------------------------------------------------------------------------- the Debian base

# Every package a slow-tier test needs from Debian: ca-certificates (bootstrap), nodejs (the
# node seed app), python3 and python3-six (sbom), and the seed stack's postgres, redis and node
# modules. One image with all of them costs one debootstrap per test session instead of four.
DEBIAN_PACKAGES = ("ca-certificates", "nodejs", "node-pg", "node-redis", "postgresql-15", "python3",
                   "python3-six", "redis-server")
DEBIAN_SHARED_TAG = "dytest-debian-base:bookworm"


class DebianBase:
    """The session's one `dockyard bootstrap debian`, kept as a `dockyard save` archive.

    `bootstrap` is that command's CompletedProcess (its stdout is the image ID). `load(store, tag)`
    puts the image into a test's own store under `tag` with `dockyard load`, so every test still
    works in a root of its own."""

    def __init__(self, archive: str, bootstrap: subprocess.CompletedProcess, seconds: float) -> None:
        self.archive = archive
        self.bootstrap = bootstrap
        self.seconds = seconds
        self.packages = DEBIAN_PACKAGES
        self.image_id = bootstrap.stdout.decode().strip()

    def load(self, store: Dockyard, tag: str) -> None:
        out = store("load", "-i", self.archive, timeout=600).out
        assert DEBIAN_SHARED_TAG in out, out
        store("tag", DEBIAN_SHARED_TAG, tag)
        store("rmi", DEBIAN_SHARED_TAG)  # the test's name only, as if it had bootstrapped it itself


@pytest.fixture(scope="session")
def debian_base(tmp_path_factory):
    """One Debian image (debootstrap, every package in DEBIAN_PACKAGES) for the whole session.

    It is bootstrapped in a store of its own, saved to an archive in the session's temp dir, and
    that store is removed; the archive goes when the session ends. A bootstrap that fails fails
    every test that asked for it (pytest keeps the fixture's error), without trying again."""
    import shutil

    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not shutil.which("debootstrap"):
        pytest.skip("debootstrap not installed")
    from dockyard.fsutil import rmtree

    top = tmp_path_factory.mktemp("debian-base")
    env = dict(os.environ, DOCKYARD_ROOT=str(top / "root"), DOCKYARD_RUNROOT=str(top / "run"), PYTHONPATH=REPO)

    def run(*args: str, timeout: float) -> subprocess.CompletedProcess:
        p = subprocess.run([sys.executable, "-S", "-m", "dockyard", *args], env=env, cwd=REPO,
                           capture_output=True, timeout=timeout)
        assert p.returncode == 0, f"dockyard {' '.join(args)} exited {p.returncode}:\n{p.stderr.decode()}"
        return p

    archive = str(top / "debian-base.tar")
    try:
        t0 = time.monotonic()
        bootstrap = run("bootstrap", "debian", "--include", ",".join(DEBIAN_PACKAGES), DEBIAN_SHARED_TAG,
                        timeout=1800)
        seconds = time.monotonic() - t0
        # OCI layout: the layer blob goes in and out byte for byte (a docker-archive holds the layer
        # uncompressed, and every load would gzip it again)
        run("save", "--format", "oci", "-o", archive, DEBIAN_SHARED_TAG, timeout=600)
    finally:
        unmount_below(str(top))
        rmtree(str(top / "root"))
        rmtree(str(top / "run"))
    yield DebianBase(archive, bootstrap, seconds)
    os.unlink(archive)
