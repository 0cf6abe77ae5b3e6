"""Which Docker comparison covers which flag, read from the test files' text (not imported).

`scan()` finds every `@compares("command", "--flag", ...)` decorator (tests/interop/conftest.py)
in tests/interop/test_*.py with Python's ast, and answers {(command, flag): ["tests/interop/
file.py::test_name", ...]}. scripts/parity-table and tests/unit/test_parity_table.py give that to
dockyard.cli.parity.generate, which puts it in docs/parity.md's third column.

UNCOMPARABLE lists the implemented flags the Docker of this machine cannot do, so that no
comparison can be made (the table shows the reason instead of a test). dockerd here is Debian's
docker.io 20.10 with the docker CLI 28 client and no buildx (the legacy builder,
DOCKER_BUILDKIT=0). Keep it short and true: each reason was checked against that dockerd.
"""

from __future__ import annotations

import ast
import glob
import os

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

API141 = ("dockerd 20.10 speaks API 1.41; the flag came with API 1.42 and docker CLI 28 drops it against an "
          "older daemon (dockerd then sends the container's own stop signal)")
API141_REFUSED = ('docker CLI 28 refuses it against dockerd 20.10 (API 1.41): "requires API version {v}, but the Docker '
                  'daemon API version is 1.41"; docker CLI 20.10 has no such flag')
PRIVILEGED = ("dockerd's runc cannot start a privileged container on this VM (\"unable to apply caps: operation not "
              "permitted\": the host lacks CAP_SYS_RESOURCE); `create --privileged` is compared")
UNCOMPARABLE: dict[tuple[str, str], str] = {
    ("run", "--annotation"): API141_REFUSED.format(v="1.43"),
    ("create", "--annotation"): API141_REFUSED.format(v="1.43"),
    ("run", "--health-start-interval"): API141_REFUSED.format(v="1.44"),
    ("create", "--health-start-interval"): API141_REFUSED.format(v="1.44"),
    ("run", "--privileged"): PRIVILEGED,
    ("stop", "--signal"): API141,
    ("restart", "--signal"): API141,
    ("build", "--security-opt"): 'dockerd refuses it for every build on Linux ("The daemon on this platform does not '
                                 'support setting security options on build"); dockyard honours it, as issue 15 asks',
    ("push", "--platform"): 'docker CLI 28 refuses it here: "--platform" requires API version 1.46, but the Docker '
                            "daemon API version is 1.41",
    ("history", "--platform"): API141_REFUSED.format(v="1.48"),
    ("load", "--platform"): API141_REFUSED.format(v="1.48"),
    ("save", "--platform"): API141_REFUSED.format(v="1.48"),
    ("rmi", "--platform"): API141_REFUSED.format(v="1.50"),
    ("image inspect", "--platform"): API141_REFUSED.format(v="1.49"),
    ("rm", "--link"): "legacy links live on dockerd's default bridge, which the test dockerd runs without "
                      "(--bridge=none); user networks' links cannot be removed so",
    ("system prune", "--all"): "a real prune would reach the images and build cache of the other runs sharing "
                               "this dockerd; only system prune's refusals are compared",
    ("builder prune", "--all"): "a real prune would reach the build cache of the other runs sharing this dockerd; "
                                "only builder prune's refusals are compared",
}


class DeclarationError(ValueError):
    """A `compares(...)` whose arguments are not literal strings: it cannot be read statically."""


def _is_compares(node: ast.expr) -> bool:
    func = node.func if isinstance(node, ast.Call) else None
    return (isinstance(func, ast.Name) and func.id == "compares") or \
        (isinstance(func, ast.Attribute) and func.attr == "compares")


def _tests(tree: ast.Module):
    """(pytest's name for it, function) of every test function, methods of classes too."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield f"{node.name}::{sub.name}", sub


def scan_file(path: str) -> dict[tuple[str, str], list[str]]:
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    rel = os.path.relpath(path, REPO)
    out: dict[tuple[str, str], list[str]] = {}
    for name, fn in _tests(tree):
        for deco in fn.decorator_list:
            if not _is_compares(deco):
                continue
            args = deco.args
            if deco.keywords or len(args) < 2 or not all(isinstance(a, ast.Constant) and isinstance(a.value, str)
                                                          for a in args):
                raise DeclarationError(f"{rel}:{deco.lineno}: compares() takes a command and flags, all "
                                       "literal strings")
            command, flags = args[0].value, [a.value for a in args[1:]]
            for flag in flags:
                out.setdefault((command, flag), []).append(f"{rel}::{name}")
    return out


def scan(directory: str = HERE) -> dict[tuple[str, str], list[str]]:
    """Every declaration of the test files of `directory` (tests/interop by default)."""
    out: dict[tuple[str, str], list[str]] = {}
    for path in sorted(glob.glob(os.path.join(directory, "test_*.py"))):
        for key, tests in scan_file(path).items():
            out.setdefault(key, []).extend(tests)
    return out
