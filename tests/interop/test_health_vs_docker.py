"""Health checks side by side with the real Docker daemon: the same image and flags give the same
Config.Healthcheck, the same State.Health structure and results, the same `ps` STATUS words and
`--filter health=` answers, and the same refusals."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid

import pytest

try:
    from dockyard_interop import private_dockerd
except ImportError:  # the fixture module of this tier lives in its conftest in this tree
    import importlib.util
    import os

    _spec = importlib.util.spec_from_file_location("interop_conftest_health",
                                                   os.path.join(os.path.dirname(__file__), "conftest.py"))
    _mod = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_mod)
    private_dockerd = _mod.private_dockerd


@pytest.fixture(scope="module")
def dockerd():
    with private_dockerd() as docker:
        yield docker


@pytest.fixture
def both(dy, busybox, dockerd, tmp_path):
    """The same image in both engines (saved by dockyard, loaded by docker) with a HEALTHCHECK."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text('FROM busybox\nHEALTHCHECK --interval=300ms --retries=2 CMD ["echo", "img"]\n')
    tag = f"dyinterop-health-{uuid.uuid4().hex[:8]}:1"
    dy("build", "-q", "-t", tag, str(ctx), timeout=120)
    archive = tmp_path / "hc.tar"
    dy("save", "-o", str(archive), tag)
    assert subprocess.run([dockerd, "load", "-i", str(archive)], capture_output=True, timeout=120).returncode == 0
    names: list[str] = []

    def docker(*args, check=True):
        p = subprocess.run([dockerd, *args], capture_output=True, text=True, timeout=60)
        if check:
            assert p.returncode == 0, p.stderr
        return p

    yield tag, docker, names
    if names:
        docker("rm", "-f", *names, check=False)
    docker("rmi", "-f", tag, check=False)


def _inspect(run, name) -> dict:
    p = run("inspect", name)
    return json.loads(getattr(p, "out", None) or p.stdout)[0]


def _wait(pred, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def _shape(h: dict) -> dict:
    """What must agree: status, streak, each result's exit code and output (not the times)."""
    return {"keys": list(h), "Status": h["Status"], "FailingStreak": h["FailingStreak"] > 0,
            "Log": [(list(e), e["ExitCode"], e["Output"]) for e in h["Log"][:1]]}


CASES = {
    "image": [],
    "override": ["--health-cmd", "echo over; exit 0", "--health-interval", "250ms"],
    "failing": ["--health-cmd", "echo nope >&2; exit 2", "--health-interval", "250ms", "--health-retries", "2"],
    "timeout": ["--health-cmd", "echo begun; sleep 30", "--health-interval", "250ms", "--health-timeout", "300ms",
                "--health-retries", "1"],
    "off": ["--no-healthcheck"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_config_health_and_ps_status(dy, both, case):
    tag, docker, names = both
    name = f"dyh-{case}-{uuid.uuid4().hex[:6]}"
    names.append(name)
    flags = ["--network", "none", *CASES[case]]
    dy("run", "-d", "--name", name, *flags, tag, "sleep", "60")
    docker("run", "-d", "--name", name, *flags, tag, "sleep", "60")
    ours, theirs = _inspect(dy, name), _inspect(docker, name)
    assert ours["Config"].get("Healthcheck") == theirs["Config"].get("Healthcheck")
    if case == "off":
        time.sleep(1)
        assert _inspect(dy, name)["State"].get("Health") == _inspect(docker, name)["State"].get("Health") is None
        for run in (dy, docker):
            p = run("ps", "--filter", "health=none", "--filter", f"name={name}", "--format", "{{.Status}}")
            st = (getattr(p, "out", None) or p.stdout).strip()
            assert re.fullmatch(r"Up [^()]+", st), st
        return
    want = {"image": "healthy", "override": "healthy", "failing": "unhealthy", "timeout": "unhealthy"}[case]
    for run in (dy, docker):
        assert _wait(lambda: (_inspect(run, name)["State"].get("Health") or {}).get("Status") == want), run
    ours, theirs = _shape(_inspect(dy, name)["State"]["Health"]), _shape(_inspect(docker, name)["State"]["Health"])
    if case == "timeout":
        # Docker 28 drops what a timed-out probe printed; moby's current health.go (the v2 module,
        # Docker 29) keeps it after the message, and so do we
        (keys, code, out), = ours["Log"]
        (tkeys, tcode, tout), = theirs["Log"]
        assert (keys, code) == (tkeys, tcode) and out in (tout, tout + ": begun\n"), (out, tout)
        ours["Log"] = theirs["Log"]
    assert ours == theirs
    for run in (dy, docker):
        p = run("ps", "--filter", f"health={want}", "--filter", f"name={name}", "--format", "{{.Status}}")
        st = (getattr(p, "out", None) or p.stdout).strip()
        assert re.fullmatch(rf"Up .+ \({want}\)", st), st


def test_same_refusals(dy, both):
    tag, docker, _ = both
    for flags in (["--no-healthcheck", "--health-cmd", "true"], ["--health-retries", "-1"],
                  ["--health-interval", "-1s"]):
        ours = dy("run", "--rm", *flags, tag, "true", check=False)
        theirs = docker("run", "--rm", *flags, tag, "true", check=False)
        assert ours.returncode == theirs.returncode == 125, (ours.err, theirs.stderr)
        assert ours.err.removeprefix("dockyard: error: ").strip() in theirs.stderr, (ours.err, theirs.stderr)


def test_a_probe_that_cannot_start_is_recorded_alike(dy, busybox, dockerd, tmp_path):
    ctx = tmp_path / "ctx2"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text('FROM busybox\nHEALTHCHECK --interval=300ms CMD ["/nonexistent", "x"]\n')
    tag = f"dyinterop-health-nf-{uuid.uuid4().hex[:8]}:1"
    name = f"dyh-nf-{uuid.uuid4().hex[:6]}"
    dy("build", "-q", "-t", tag, str(ctx), timeout=120)
    archive = tmp_path / "nf.tar"
    dy("save", "-o", str(archive), tag)

    def docker(*args):
        return subprocess.run([dockerd, *args], capture_output=True, text=True, timeout=60)

    assert docker("load", "-i", str(archive)).returncode == 0
    try:
        dy("run", "-d", "--name", name, "--network", "none", tag, "sleep", "60")
        assert docker("run", "-d", "--name", name, "--network", "none", tag, "sleep", "60").returncode == 0
        logs = []
        for run in (dy, docker):
            assert _wait(lambda: (_inspect(run, name)["State"].get("Health") or {}).get("Log"))
            logs.append(_inspect(run, name)["State"]["Health"]["Log"][0])
        ours, theirs = logs
        assert (ours["ExitCode"], ours["Output"]) == (theirs["ExitCode"], theirs["Output"])
    finally:
        docker("rm", "-f", name)
        docker("rmi", "-f", tag)
