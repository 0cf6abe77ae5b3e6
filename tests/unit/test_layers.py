"""The layers of docs/architecture.md, checked by reading every module's imports with `ast`.

The diagram under "## Layers (imports point down only)" is the rule: each line is a row, its
first column names packages or modules of `dockyard` separated by `|` (a module belongs to the
longest name that is a prefix of it). A module may import its own group freely and any group on
a lower row; a group on its own row or above is a violation. Imports inside functions and under
`if TYPE_CHECKING:` count too, since they state a dependency all the same. Beside that:

- no circle of module-level imports between modules (what runs at import time);
- no private name (`_x`, not a dunder) of another dockyard module is imported or used through it
  (`from x import _y`, `x._y`).

The diagram is read from the docs so the picture and the code cannot drift.
"""

from __future__ import annotations

import ast
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PKG = os.path.join(REPO, "dockyard")
DOC = os.path.join(REPO, "docs", "architecture.md")



def read_rows() -> list[list[str]]:
    """Rows of the diagram, top first; each a list of dotted names under `dockyard`."""
    text = open(DOC, encoding="utf-8").read()
    m = re.search(r"^## Layers \(imports point down only\)\n+```\n(.*?)^```", text, re.M | re.S)
    assert m, "docs/architecture.md has no layer diagram"
    rows = []
    for line in m.group(1).splitlines():
        first = re.split(r"\s{2,}", line.strip())[0]
        names = [n.strip() for n in first.split("|") if n.strip()]
        assert names and all(re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", n) for n in names), line
        rows.append(names)
    return rows


def module_files() -> dict[str, str]:
    """Every module of the package: dotted name → path."""
    out = {}
    for dirpath, dirs, files in os.walk(PKG):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(files):
            if not f.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), REPO)[:-3].split(os.sep)
            if rel[-1] == "__init__":
                rel = rel[:-1]
            out[".".join(rel)] = os.path.join(dirpath, f)
    return out


MODULES = module_files()


class Import:
    __slots__ = ("target", "names", "line", "toplevel", "runs")

    def __init__(self, target, names, line, toplevel, runs):
        self.target, self.names, self.line = target, names, line
        self.toplevel = toplevel  # at module level (not in a def)
        self.runs = runs  # executed at all (not under `if TYPE_CHECKING:`)


def resolve(module: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def scan(module: str) -> tuple[list[Import], dict[str, str], ast.Module]:
    """The dockyard imports of one module, and which local names are bound to dockyard modules."""
    path = MODULES[module]
    is_pkg = path.endswith("__init__.py")
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    imports: list[Import] = []
    bound: dict[str, str] = {}

    def visit(node, toplevel, runs):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, False, runs)
                continue
            if isinstance(child, ast.If) and is_type_checking(child.test):
                for n in child.body:
                    visit(ast.Module(body=[n], type_ignores=[]), toplevel, False)
                for n in child.orelse:
                    visit(ast.Module(body=[n], type_ignores=[]), toplevel, runs)
                continue
            if isinstance(child, ast.Import):
                for a in child.names:
                    if a.name == "dockyard" or a.name.startswith("dockyard."):
                        imports.append(Import(a.name, None, child.lineno, toplevel, runs))
                        if a.asname:
                            bound[a.asname] = a.name
                continue
            if isinstance(child, ast.ImportFrom):
                base = resolve(module, is_pkg, child)
                if base == "dockyard" or base.startswith("dockyard."):
                    for a in child.names:
                        sub = f"{base}.{a.name}"
                        if sub in MODULES:  # `from pkg import module`
                            imports.append(Import(sub, None, child.lineno, toplevel, runs))
                            bound[a.asname or a.name] = sub
                        else:
                            imports.append(Import(base, [a.name], child.lineno, toplevel, runs))
                continue
            visit(child, toplevel, runs)

    visit(tree, True, True)
    return imports, bound, tree


SCANS = {m: scan(m) for m in MODULES}


def group_of(module: str, rows: list[list[str]]) -> tuple[str, int] | None:
    """The diagram name a module belongs to and its row (0 = bottom)."""
    best = None
    for depth, names in enumerate(reversed(rows)):
        for name in names:
            full = "dockyard." + name
            if module == full or module.startswith(full + "."):
                if best is None or len(full) > len(best[0]):
                    best = (full, depth)
    return best


def owner(target: str) -> str:
    """The module a dotted import target names (a module, or the package holding it)."""
    while target not in MODULES and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


def test_every_module_is_placed():
    rows = read_rows()
    unplaced = [m for m in MODULES if m != "dockyard" and m != "dockyard.__main__" and not group_of(m, rows)]
    assert not unplaced, "modules missing from the diagram in docs/architecture.md: " + ", ".join(unplaced)


def layer_violations() -> list[str]:
    rows = read_rows()
    out = []
    for module, (imports, _bound, _tree) in SCANS.items():
        mine = group_of(module, rows)
        if mine is None:  # the package itself and `python -m dockyard` sit above everything
            continue
        for imp in imports:
            target = owner(imp.target)
            theirs = group_of(target, rows)
            if theirs is None:
                if target == "dockyard.__main__":
                    out.append(f"{module}:{imp.line} imports {target}, which sits above every layer")
                continue  # the package itself holds only __version__ (checked below)
            if theirs[0] == mine[0]:
                continue
            if theirs[1] >= mine[1]:
                where = "sideways" if theirs[1] == mine[1] else "up"
                out.append(f"{module}:{imp.line} imports {target} ({where}: "
                           f"{mine[0][9:]} → {theirs[0][9:]})")
    return out


def test_imports_point_down_only():
    v = layer_violations()
    assert not v, "imports that do not point down:\n" + "\n".join(v)


def test_package_root_imports_nothing():
    """`dockyard/__init__.py` is imported by every module, so it may import none of them."""
    assert not SCANS["dockyard"][0]


def module_cycles(toplevel_only: bool) -> list[list[str]]:
    """Strongly connected components (more than one module) of the import graph: of imports made
    at import time only, or of every import that runs (a deferred import hides a circle, it does
    not break it)."""
    graph = {m: sorted({owner(i.target) for i in SCANS[m][0] if i.runs and (i.toplevel or not toplevel_only)} - {m})
             for m in MODULES}
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]

    def strong(v):  # Tarjan, iterative enough for this graph's depth
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return comps


def test_no_module_level_import_circles():
    c = module_cycles(toplevel_only=True)
    assert not c, "module-level import circles:\n" + "\n".join(" ↔ ".join(x) for x in c)


def test_no_import_circles_through_functions():
    c = [" ↔ ".join(x) for x in module_cycles(toplevel_only=False)]
    assert not c, "import circles (through imports in functions):\n" + "\n".join(c)


# Known violations, each with the reason it stays for now. Keyed "module → module.name".
KNOWN_PRIVATE: dict[str, str] = {}  # none left: the runtime's were fixed


def private_uses() -> dict[str, list[str]]:
    """"module → module.name": where (module:line) each private name is used across modules."""
    out: dict[str, list[str]] = {}
    for module, (imports, bound, tree) in SCANS.items():
        for imp in imports:
            for name in imp.names or ():
                if name.startswith("_") and not name.startswith("__") and owner(imp.target) != module:
                    out.setdefault(f"{module} → {owner(imp.target)}.{name}", []).append(f"{module}:{imp.line}")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.endswith("__") and isinstance(node.value, ast.Name)
                    and node.value.id in bound and bound[node.value.id] != module):
                out.setdefault(f"{module} → {bound[node.value.id]}.{node.attr}", []).append(f"{module}:{node.lineno}")
    return out


def test_no_private_names_across_modules():
    v = {k: w for k, w in private_uses().items() if k not in KNOWN_PRIVATE}
    assert not v, "private names used across modules:\n" + "\n".join(f"{k} ({', '.join(w)})" for k, w in v.items())


def test_known_private_uses_are_still_there():
    """An allow-list entry whose violation is gone must go too, or it would hide the next one."""
    stale = set(KNOWN_PRIVATE) - set(private_uses())
    assert not stale, "fixed, remove from KNOWN_PRIVATE: " + ", ".join(sorted(stale))


# The checker itself, on small cases: a rule that cannot fail proves nothing.

def test_checker_sees_each_kind_of_import(tmp_path):
    src = (
        "import dockyard.cli.main\n"
        "from ..cli import render as R\n"
        "from dockyard.engine.containers import _set\n"
        "TYPE_CHECKING = False\n"
        "if TYPE_CHECKING:\n"
        "    from dockyard.engine import monitor\n"
        "def f():\n"
        "    from dockyard import errors\n"
        "    return R._hidden\n"
    )
    tree = ast.parse(src)
    path = tmp_path / "probe.py"
    path.write_text(src)
    MODULES["dockyard.state.probe"] = str(path)
    try:
        imports, bound, _ = scan("dockyard.state.probe")
    finally:
        del MODULES["dockyard.state.probe"]
    got = [(i.target, i.names, i.toplevel, i.runs) for i in imports]
    assert got == [
        ("dockyard.cli.main", None, True, True),
        ("dockyard.cli.render", None, True, True),
        ("dockyard.engine.containers", ["_set"], True, True),
        ("dockyard.engine.monitor", None, True, False),
        ("dockyard.errors", None, False, True),
    ]
    assert bound["R"] == "dockyard.cli.render"
    assert tree  # parsed as written


def test_checker_ranks_rows():
    rows = read_rows()
    assert group_of("dockyard.cli.main", rows)[1] > group_of("dockyard.engine.containers", rows)[1]
    assert group_of("dockyard.registry.server.app", rows)[0] == "dockyard.registry.server"
    assert group_of("dockyard.registry.server.app", rows)[1] > group_of("dockyard.registry.pull", rows)[1]
    assert group_of("dockyard.nonesuch", rows) is None


if __name__ == "__main__":  # a list of everything at once, for fixing
    for line in layer_violations():
        print(line)
    for key, where in private_uses().items():
        print(key, where, "(known)" if key in KNOWN_PRIVATE else "")
    for comp in module_cycles(toplevel_only=False):
        print("circle:", " ↔ ".join(comp))
