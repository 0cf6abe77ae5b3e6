"""docs/parity.md is generated (scripts/parity-table, dockyard/cli/parity.py) and kept true here:

- it is what the generation writes today, from the committed help texts of docker CLI 28
  (tests/unit/data/docker28-help/), which match the docker binary when one is installed;
- no flag of the commands issue 15 names is missing;
- every flag it calls refused is refused: dockyard is run with it and prints that message, and
  nothing was made (not even the store); every command refused whole says its message;
- every flag it calls yes is parsed by the command's own table (its behaviour is tested with
  the command), and every command answers --help;
- every yes flag of every command is compared with Docker by a test of
  tests/interop (an `@compares` declaration, read by tests/interop/comparisons.py) or is listed
  in comparisons.UNCOMPARABLE with the reason, and every declaration names a real flag.
"""

from __future__ import annotations

import os
import sys

import pytest

from dockyard.cli import dockerhelp, parity
from dockyard.cli.flags import BOOL, FlagRefused, parse
from dockyard.cli.main import main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SNAPSHOT = os.path.join(REPO, "tests", "unit", "data", "docker28-help")
DOC = os.path.join(REPO, "docs", "parity.md")

sys.path.insert(0, os.path.join(REPO, "tests", "interop"))
import comparisons  # noqa: E402

DECLARED = comparisons.scan()
UNMATCHED = parity.attach(parity.build(dockerhelp.load(SNAPSHOT)), DECLARED, comparisons.UNCOMPARABLE)
TEXT, COMMANDS = parity.generate(SNAPSHOT, {k: v for k, v in DECLARED.items() if k not in UNMATCHED},
                                 {k: v for k, v in comparisons.UNCOMPARABLE.items() if k not in UNMATCHED})
TABLES = [c for c in COMMANDS if c.kind == "command"]
# every command with flags: each of its yes flags must have a Docker comparison (or a reason in
# comparisons.UNCOMPARABLE); the commands without flags (top, diff, …) are compared bare
COMPARED_COMMANDS = tuple(c.path for c in TABLES if any(r.status == parity.YES and r.flag != "--help"
                                                        for r in c.rows))
REFUSED_ROWS = [(c, r) for c in TABLES for r in c.rows if r.status == parity.REFUSED]
YES_ROWS = [(c, r) for c in TABLES for r in c.rows if r.status == parity.YES and r.flag != "--help"]


def _flag(c: parity.Command, row: parity.Row):
    long = row.flag.split(", ")[-1]
    return next(f for f in c.flags if long in f.names), long


def test_the_snapshot_is_docker_28s_own_help():
    assert dockerhelp.version(SNAPSHOT).startswith("Docker version 28.")
    docker = dockerhelp.find_docker(dockerhelp.version(SNAPSHOT))
    if docker is None:
        pytest.skip("no docker binary of the snapshot's version: the committed help texts stand")
    assert dockerhelp.load(SNAPSHOT) == dockerhelp.capture_texts(docker), \
        "the docker binary's help differs from tests/unit/data/docker28-help/: run scripts/parity-table"


def test_parity_md_is_up_to_date():
    with open(DOC, encoding="utf-8") as f:
        assert f.read() == TEXT, "docs/parity.md is out of date: run scripts/parity-table"


def test_the_table_covers_every_docker_command():
    texts = dockerhelp.load(SNAPSHOT)
    top = dockerhelp.Help(texts[()])
    listed = {c.path[0] for c in COMMANDS}
    assert {n for names in top.sections.values() for n in names} <= listed
    assert len(TABLES) > 60 and sum(len(c.rows) for c in TABLES) > 400  # the walk reached the subcommands
    run = next(c for c in TABLES if c.path == ("run",))
    assert ("container", "run") in run.aliases and len(run.rows) > 100


@pytest.mark.parametrize("path", parity.ISSUE_COMMANDS, ids=" ".join)
def test_no_flag_of_the_issues_commands_is_missing(path):
    c = next(c for c in COMMANDS if c.path == path or path in c.aliases)
    assert c.kind == "command", (path, c.kind)
    missing = [r.flag for r in c.rows if r.status == parity.MISSING]
    assert not missing and not c.missing_aliases, (path, missing, c.missing_aliases)


def test_nothing_is_missing_but_what_the_table_says():
    """The summary's counts are the rows': a missing flag cannot hide from the table."""
    n = sum(c.counts()[parity.MISSING] for c in TABLES)
    assert f"| all | {sum(c.counts()[parity.YES] for c in TABLES)} | {len(REFUSED_ROWS)} | {n} |" in TEXT


def _run(capsys, tmp_path, argv):
    root, runroot = tmp_path / "root", tmp_path / "run"
    try:
        rc = main(["--root", str(root), "--runroot", str(runroot), *argv])
    except SystemExit as e:  # what `python -m dockyard` exits with (some commands end so after --help)
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err, root.exists() or runroot.exists()


@pytest.mark.parametrize("c,row", REFUSED_ROWS, ids=[f"{c.name}:{r.flag}" for c, r in REFUSED_ROWS])
def test_refused_flags_are_refused_with_their_message(c, row, capsys, tmp_path):
    flag, long = _flag(c, row)
    given = [long] if flag.kind == BOOL else [long, "1"]
    rc, out, err, made = _run(capsys, tmp_path, [*c.path, *given, "x", "y"])
    assert f"dockyard: error: {flag.refused}\n" in err and "Traceback" not in err, err
    assert rc == 125, (rc, err)  # as docker's flag errors, whatever the command
    assert not made, "a refused flag reached the store"
    if flag.kind == BOOL:  # =false asks for nothing: not refused by the parser
        with pytest.raises(FlagRefused):
            parse(c.flags, [f"{long}=true"])
        parse(c.flags, [f"{long}=false"])


REFUSED_WHOLE = [c for c in COMMANDS if c.kind == parity.REFUSED]


@pytest.mark.parametrize("c", REFUSED_WHOLE, ids=[c.name for c in REFUSED_WHOLE])
def test_commands_refused_whole_say_why(c, capsys, tmp_path):
    sub = c.subcommands[:1] or []
    rc, out, err, made = _run(capsys, tmp_path, [*c.path, *" ".join(sub).split()])
    assert rc == 1 and f"dockyard: error: {c.message}\n" in err and not made, err


@pytest.mark.parametrize("c,row", YES_ROWS, ids=[f"{c.name}:{r.flag}" for c, r in YES_ROWS])
def test_yes_flags_are_parsed_by_the_commands_table(c, row):
    flag, long = _flag(c, row)
    assert not flag.refused
    for name in row.flag.split(", "):  # docker's shorthand too
        got = parse(c.flags, [name] if flag.kind == BOOL else [name, "1"])
        assert got[flag.dest] not in (None, False, []), (name, got)


@pytest.mark.parametrize("c", TABLES, ids=[c.name for c in TABLES])
def test_every_command_answers_help(c, capsys, tmp_path):
    for path in [c.path, *c.aliases]:
        rc, out, err, made = _run(capsys, tmp_path, [*path, "--help"])
        assert rc == 0 and out.startswith("Usage:") and not err and not made, (path, rc, out[:200], err)


def test_every_comparison_names_a_flag_of_the_table():
    """A typo in an @compares declaration (or in UNCOMPARABLE) would hide a gap: none names a
    command or flag the table does not have."""
    assert not UNMATCHED, UNMATCHED
    assert DECLARED, "no @compares declaration was found in tests/interop"


@pytest.mark.parametrize("path", COMPARED_COMMANDS, ids=" ".join)
def test_every_yes_flag_is_compared_with_docker(path):
    c = parity.find(COMMANDS, " ".join(path))
    rows = [r for r in c.rows if r.status == parity.YES and r.flag != "--help"]
    assert rows
    lacking = [r.flag for r in rows if not r.compared and not r.uncomparable]
    assert not lacking, f"docker {' '.join(path)}: no test compares these with Docker: {lacking}"


def test_uncomparable_flags_are_yes_flags_without_a_comparison():
    """The list of what Docker here cannot do stays honest: only implemented flags, and none a
    test does compare after all."""
    rows = [r for c in TABLES for r in c.rows if r.uncomparable]
    assert len(rows) == len(comparisons.UNCOMPARABLE)
    assert all(r.status == parity.YES and not r.compared for r in rows), \
        [(r.flag, r.status, r.compared) for r in rows if r.status != parity.YES or r.compared]


def test_declarations_are_read_statically(tmp_path):
    f = tmp_path / "test_x.py"
    f.write_text("from dockyard_interop import compares\n\n"
                 "@compares('network create', '--subnet', '--gateway')\n@compares('images', '--quiet')\n"
                 "def test_a():\n    pass\n\n\nclass TestB:\n    @compares('container exec', '--env')\n"
                 "    def test_c(self):\n        pass\n")
    got = comparisons.scan(str(tmp_path))
    rel = os.path.relpath(str(f), REPO)
    assert got == {("network create", "--subnet"): [f"{rel}::test_a"], ("network create", "--gateway"):
                   [f"{rel}::test_a"], ("images", "--quiet"): [f"{rel}::test_a"],
                   ("container exec", "--env"): [f"{rel}::TestB::test_c"]}
    f.write_text("FLAG = '--x'\n\n@compares('images', FLAG)\ndef test_a():\n    pass\n")
    with pytest.raises(comparisons.DeclarationError, match="literal strings"):
        comparisons.scan(str(tmp_path))
    commands = parity.build(dockerhelp.load(SNAPSHOT))
    assert parity.attach(commands, {("container exec", "--env"): ["t"], ("image ls", "--quiet"): ["t"],
                                    ("exec", "--nope"): ["t"], ("nosuch", "-q"): ["t"], ("images", "-q"): ["t"]},
                          {}) == [("exec", "--nope"), ("nosuch", "-q"), ("images", "-q")]  # -q: the long name
    exec_ = parity.find(commands, "exec")
    assert next(r for r in exec_.rows if r.flag == "-e, --env").compared == ["t"]
    assert next(r for r in parity.find(commands, "images").rows if r.flag == "-q, --quiet").compared == ["t"]
