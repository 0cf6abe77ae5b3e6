"""Optional packages by pip extra: pyproject.toml declares what dockyard/extras.py asks for, and a
command whose package is missing says which extra to install (never a traceback).

The packages are made unimportable by a PYTHONPATH shim: a package of the same name, first on
the path, whose import raises ImportError. Both ways the CLI starts are tried: the launchers'
`python -S` (site directories added by dockyard itself) and pip's console script (`python`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest

from dockyard import extras
from dockyard.errors import Unavailable

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_pyproject_declares_the_extras_the_code_asks_for():
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    assert project["dependencies"] == []  # `pip install dockyard`: the standard library only
    declared = project["optional-dependencies"]
    for extra, modules in extras.EXTRAS.items():
        names = {req.split(">")[0].split("=")[0].split("[")[0].strip().lower() for req in declared[extra]}
        assert names == {extras.DISTRIBUTIONS[m].lower() for m in modules}, extra
    assert declared["all"] == [f"dockyard[{','.join(extras.EXTRAS)}]"]


def test_require_returns_the_module_or_names_the_extra(monkeypatch):
    import json

    monkeypatch.setitem(extras.EXTRAS, "probe", ("json",))
    assert extras.require("probe", "probing") is json
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml now raises ImportError
    with pytest.raises(Unavailable) as e:
        extras.require("compose", "dockyard compose")
    assert str(e.value) == "dockyard compose needs the Python package PyYAML: pip install 'dockyard[compose]'"
    assert e.value.hint == "or, for the system's Python: apt-get install python3-yaml"


CASES = [  # (blocked modules, argv, the message)
    (("aiohttp",), ["registry", "serve", "--addr", "127.0.0.1:0"],
     "dockyard registry serve needs the Python package aiohttp: pip install 'dockyard[registry]'"),
    (("bcrypt",), ["registry", "serve", "--addr", "127.0.0.1:0", "--htpasswd", "{tmp}/htpasswd"],
     "dockyard registry serve needs the Python package bcrypt: pip install 'dockyard[registry]'"),
    (("cryptography", "nacl"), ["key", "generate", "--output-key-prefix", "{tmp}/k"],
     "signing needs the Python packages cryptography and pynacl: pip install 'dockyard[sign]'"),
    (("yaml",), ["compose", "-f", "{tmp}/compose.yaml", "config"],
     "dockyard compose needs the Python package PyYAML: pip install 'dockyard[compose]'"),
    (("yaml",), ["kube", "play", "{tmp}/compose.yaml"],
     "dockyard kube needs the Python package PyYAML: pip install 'dockyard[kube]'"),
]


@pytest.mark.parametrize("flags", [["-S"], []], ids=["launcher", "console-script"])
@pytest.mark.parametrize("blocked,argv,message", CASES, ids=[c[1][0] + "-" + c[0][0] for c in CASES])
def test_a_missing_package_names_its_extra(tmp_path, flags, blocked, argv, message):
    shim = tmp_path / "shim"
    for m in blocked:
        (shim / m).mkdir(parents=True)
        (shim / m / "__init__.py").write_text(f"raise ImportError('{m} blocked by the test')\n")
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: busybox\n")
    (tmp_path / "htpasswd").write_text("")
    env = dict(os.environ, PYTHONPATH=f"{shim}{os.pathsep}{REPO}", COSIGN_PASSWORD="pw",
               DOCKYARD_ROOT=str(tmp_path / "root"), DOCKYARD_RUNROOT=str(tmp_path / "run"))
    p = subprocess.run([sys.executable, *flags, "-m", "dockyard", *(a.format(tmp=tmp_path) for a in argv)],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr
    assert p.stderr.splitlines()[0] == f"dockyard: error: {message}", p.stderr
    assert not (tmp_path / "k.key").exists()


@pytest.mark.parametrize("script,expect", [("dockyard", "dockyard version"), ("dockyard-runtime", "dockyard-runtime version")])
def test_the_scripts_pip_installs_start_the_commands(script, expect):
    """pyproject.toml ships bin/dockyard and bin/dockyard-runtime (not pip's console scripts, which
    import `re` first); they run with `site` (what pip writes) and without it (`-S`)."""
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        assert tomllib.load(f)["tool"]["setuptools"]["script-files"] == ["bin/dockyard", "bin/dockyard-runtime"]
    path = os.path.join(REPO, "bin", script)
    assert os.access(path, os.X_OK)
    with open(path) as f:
        assert f.readline().startswith("#!python")  # pip writes its interpreter there
    for flags in ([], ["-S"]):
        p = subprocess.run([sys.executable, *flags, "-X", "importtime", path, "--version"], capture_output=True,
                           text=True, timeout=60, env=dict(os.environ, PYTHONPATH=REPO))
        assert p.returncode == 0 and p.stdout.startswith(expect), p.stderr[-2000:]
        imported = {line.split("|")[-1].strip() for line in p.stderr.splitlines() if line.startswith("import time:")}
        assert "dockyard" in imported
        if flags:  # (with `site`, this host's .pth files may import it: a fresh venv's do not)
            assert "re" not in imported
