"""docs/parity.md: every docker CLI 28 command and flag against dockyard's own flag tables.

Docker's side is its help texts (`cli/dockerhelp.py`). Dockyard's side is read from the parser
objects themselves: each command is called with `parse` replaced by a spy that records the flag
table it is given and stops the command there (nothing else runs: the engine is not reachable
from the stub context). A docker flag is then

- **yes**: in the table (with docker's shorthand), accepted and honoured (behaviour is tested
  with each command);
- **refused**: in the table with `Flag.refused`: the parser refuses it with that message before
  the command does anything (`tests/unit/test_parity_table.py` runs each one to see it);
- **missing**: not in the table (or without docker's shorthand);
- **n/a**: Windows only; **out of scope**: Swarm's (commands in `docker --help`'s "Swarm
  Commands", cluster volumes, the routing mesh).

Commands dockyard refuses whole (`cli.main.REFUSED`) are listed with their message.

A third column names, for each flag, the tests that run it through dockyard and through the
docker CLI (against dockerd) and compare the two (`compared`: what the caller read from the
tests' `@compares(command, *flags)` declarations; this module reads no test file), or why no
such comparison can be made on this machine (`uncomparable`).
"""

from __future__ import annotations

import contextlib
import io
import sys

from dockyard.cli import dockerhelp
from dockyard.cli import flags as flagmod
from dockyard.cli import main as climain

# the commands issue 15 names: none of their flags may be missing
ISSUE_COMMANDS = (("run",), ("create",), ("build",), ("start",), ("stop",), ("restart",), ("exec",),
                  ("network", "create"), ("images",), ("pull",), ("push",))
SWARM_COMMANDS = {("volume", "update"): "cluster volumes (Swarm) only"}
SWARM_FLAGS = {  # docker marks these `swarm` (hidden unless the daemon is a Swarm manager)
    ("volume", "create"): ("--availability", "--group", "--limit-bytes", "--required-bytes", "--scope", "--secret",
                           "--sharing", "--topology-preferred", "--topology-required", "--type"),
    ("volume", "ls"): ("--cluster",),
    ("network", "create"): ("--ingress",),
}
YES, REFUSED, MISSING, NA, SWARM = "yes", "refused", "missing", "n/a", "out of scope"


class Captured(BaseException):
    """Raised by the spy in place of parsing: carries the command's flag table."""

    def __init__(self, flags: list) -> None:
        super().__init__("captured")
        self.flags = flags


class EngineTouched(BaseException):
    pass


class _StubContext:
    root = runroot = None
    command = ""

    @property
    def engine(self):
        raise EngineTouched()


def _spy(flags, argv, *, interspersed=True):
    raise Captured(flags)


def flag_table(target: tuple[str, str]) -> list:
    """The flag table the command `target` (module, function) parses its arguments with (every
    command parses through cli.flags.parse first thing; one that does not is an error here)."""
    module, func = target
    __import__(module)
    real = flagmod.parse
    cli_modules = [m for n, m in list(sys.modules.items()) if n.startswith("dockyard.cli") and m is not None]
    patched = [m for m in cli_modules if getattr(m, "parse", None) is real]
    for m in patched:
        m.parse = _spy
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            getattr(sys.modules[module], func)(_StubContext(), [])
    except Captured as c:
        return list(c.flags)
    except EngineTouched:
        raise RuntimeError(f"{module}.{func} reaches the engine before parsing its flags") from None
    except (SystemExit, Exception) as e:
        raise RuntimeError(f"{module}.{func} ended ({e!r}) before parsing its flags: the table cannot be "
                           "read") from None
    finally:
        for n, m in list(sys.modules.items()):  # modules imported meanwhile bound the spy too
            if n.startswith("dockyard.") and m is not None and getattr(m, "parse", None) is _spy:
                m.parse = real
    raise RuntimeError(f"{module}.{func} parses no flags (it should take at least --help through cli.flags.parse)")


def resolve(path: tuple[str, ...]):
    """dockyard's answer to `docker PATH`: ("refused", message), ("command", target), ("group",
    None) or ("missing", None)."""
    top = path[0]
    if top in climain.REFUSED:
        return "refused", f"dockyard {top}: {climain.REFUSED[top]}"
    if len(path) == 1:
        if top in climain.COMMANDS:
            return "command", climain.COMMANDS[top]
        return ("group", None) if top in climain.GROUPS else ("missing", None)
    sub = climain.GROUPS.get(top, {}).get(path[1]) if len(path) == 2 else None
    if sub is None:
        return "missing", None
    return "command", sub if isinstance(sub, tuple) else climain.COMMANDS[sub]


class Row:
    __slots__ = ("flag", "status", "detail", "compared", "uncomparable")

    def __init__(self, flag: str, status: str, detail: str = "") -> None:
        self.flag, self.status, self.detail = flag, status, detail
        self.compared: list[str] = []  # the tests comparing it with Docker
        self.uncomparable = ""  # why Docker on this machine cannot be compared

    @property
    def long(self) -> str:
        """The name a declaration uses: the long name, or the short one when there is none."""
        return self.flag.split(", ")[-1]

    def cell(self) -> str:
        return f"{self.status}: {self.detail}" if self.detail else self.status


class Command:
    """One docker command (with its aliases) and dockyard's answer, flag by flag."""

    def __init__(self, path: tuple[str, ...], help: dockerhelp.Help) -> None:
        self.path, self.help = path, help
        self.aliases = [tuple(a.split()[1:]) for a in help.aliases if a.split()[1:] != list(path)]
        self.kind, self.message, self.rows, self.extras, self.flags = "command", "", [], [], None
        self.missing_aliases: list[tuple[str, ...]] = []
        self.subcommands: list[str] = []  # of a group refused whole

    @property
    def name(self) -> str:
        return " ".join(("docker",) + self.path)

    def counts(self) -> dict:
        out = {YES: 0, REFUSED: 0, MISSING: 0, NA: 0, SWARM: 0}
        for r in self.rows:
            out[r.status] += 1
        out[MISSING] += len(self.missing_aliases)
        return out


def build(texts: dict[tuple[str, ...], str]) -> list[Command]:
    """Every docker command of the captured help texts, in docker's order, with dockyard's status."""
    helps = {p: dockerhelp.Help(t) for p, t in texts.items()}
    swarm = set(helps[()].sections.get(dockerhelp.SWARM_SECTION, ()))
    out: list[Command] = []
    seen: set[tuple[str, ...]] = set()
    for name in helps[()].sections.get(dockerhelp.SWARM_SECTION, ()):  # their help is not captured
        c = Command((name,), dockerhelp.Help(""))
        c.kind, c.message = SWARM, "Swarm"
        out.append(c)
    for path, h in helps.items():
        if not path or path in seen or path[0] in swarm:
            continue
        kind, answer = resolve(path)
        if kind == "refused" and len(path) > 1:
            continue  # listed once, with its group
        c = Command(path, h)
        seen.update(c.aliases)
        out.append(c)
        if path in SWARM_COMMANDS:
            c.kind, c.message = SWARM, SWARM_COMMANDS[path]
            continue
        if kind == "refused":
            c.kind, c.message = kind, answer
            c.subcommands = [" ".join(p[1:]) for p in helps if len(p) > 1 and p[0] == path[0]
                             and not any(helps[p].sections.values())]
            continue
        if any(h.sections.values()):  # a group: its subcommands have their own entries
            c.kind = MISSING if kind == MISSING else "group"
            continue
        if kind == MISSING:
            c.kind = MISSING
            continue
        c.missing_aliases = [a for a in c.aliases if resolve(a) != (kind, answer)]
        table = flag_table(answer)
        c.flags = table
        by_name = {n: f for f in table for n in f.names}
        swarm_flags = SWARM_FLAGS.get(path, ())
        for df in h.flags:
            label = f"{df.short}, {df.long}" if df.short else df.long
            f = by_name.get(df.long)
            if df.windows_only:
                c.rows.append(Row(label, NA, "Windows only"))
            elif df.long in swarm_flags:
                c.rows.append(Row(label, SWARM, "Swarm"))
            elif df.long == "--help":
                c.rows.append(Row(label, YES))  # every command answers --help/-h (the test runs each)
            elif f is None:
                c.rows.append(Row(label, MISSING))
            elif df.short and df.short not in f.names:
                c.rows.append(Row(label, MISSING, f"no shorthand {df.short}"))
            elif f.refused:
                c.rows.append(Row(label, REFUSED, f.refused))
            else:
                c.rows.append(Row(label, YES))
        docker_names = {n for df in h.flags for n in (df.short, df.long) if n}
        c.extras = [f.names[-1] for f in table if not docker_names.intersection(f.names) and f.dest != "help"]
    return out


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _compared_cell(row: Row) -> str:
    cells = [f"`{t}`" for t in row.compared]
    if row.uncomparable:
        cells.append("not comparable here: " + _md(row.uncomparable))
    return "<br>".join(cells)


def find(commands: list[Command], command: str) -> Command | None:
    """The command table `docker COMMAND` (a path with spaces, or one of its aliases) has."""
    path = tuple(command.split())
    return next((c for c in commands if c.kind == "command" and (c.path == path or path in c.aliases)), None)


def attach(commands: list[Command], compared: dict[tuple[str, str], list[str]],
           uncomparable: dict[tuple[str, str], str]) -> list[tuple[str, str]]:
    """Put each (command, flag) declaration on its row: `compared` maps it to the tests comparing it,
    `uncomparable` to the reason none can. A command's aliases share its rows; a flag is named by its
    long name (or its short one when it has none). Returns the declarations no row matched."""
    unmatched = []
    for decls, put in ((compared, lambda r, v: r.compared.extend(v)),
                       (uncomparable, lambda r, v: setattr(r, "uncomparable", v))):
        for (command, flag), value in decls.items():
            c = find(commands, command)
            row = next((r for r in c.rows if r.long == flag), None) if c else None
            if row is None:
                unmatched.append((command, flag))
            else:
                put(row, value)
    for c in commands:
        for r in c.rows:
            r.compared = sorted(set(r.compared))
    return unmatched


def render(commands: list[Command], docker_version: str) -> str:
    lines = ["# Docker CLI parity", "",
             f"Generated by `scripts/parity-table` from the help texts of {docker_version} (kept in",
             "`tests/unit/data/docker28-help/`) and dockyard's own flag tables; do not edit by hand:",
             "`tests/unit/test_parity_table.py` fails when this file is out of date, when a flag of `run`, `create`,",
             "`build`, `start`, `stop`, `restart`, `exec`, `network create`, `images`, `pull` or `push` is missing,",
             "and it runs dockyard with every refused flag to see its message.", "",
             "**yes**: accepted and honoured. **refused: …**: dockyard refuses it with that message before doing",
             "anything (exit 125, as docker's flag errors). **missing**: not there. **n/a**: Windows only.",
             "**out of scope**: Swarm.", "",
             "**compared with Docker in**: the tests (in `tests/interop/`) that run the flag through dockyard and",
             "through docker CLI 28 against dockerd on the same machine and assert the same exit code and output",
             "(they declare it with `@compares(command, *flags)`; `scripts/parity-table` reads the declarations).",
             "**not comparable here: …**: the dockerd of this machine (docker.io 20.10, no BuildKit) cannot do it,",
             "so there is nothing to compare with. `tests/unit/test_parity_table.py` fails when a yes flag of any",
             "command has neither, or when a declaration names no flag here.",
             "",
             "## Summary", "", "| command | yes | refused | missing | n/a | out of scope |", "|---|---|---|---|---|---|"]
    total = {YES: 0, REFUSED: 0, MISSING: 0, NA: 0, SWARM: 0}
    for c in commands:
        if c.kind == "command":
            n = c.counts()
            for k in total:
                total[k] += n[k]
            lines.append(f"| [`{c.name}`](#{c.name.replace(' ', '-')}) | {n[YES]} | {n[REFUSED]} | {n[MISSING]} "
                         f"| {n[NA]} | {n[SWARM]} |")
    lines.append(f"| all | {total[YES]} | {total[REFUSED]} | {total[MISSING]} | {total[NA]} | {total[SWARM]} |")
    lines += ["", "## Commands refused whole (or missing)", "", "| command | dockyard |", "|---|---|"]
    for c in commands:
        if c.kind in (REFUSED, MISSING):
            subs = f" ({', '.join(c.subcommands)})" if c.subcommands else ""
            lines.append(f"| `{c.name}`{subs} | {c.kind}{': ' + _md(c.message) if c.message else ''} |")
    lines += ["", "## Out of scope (Swarm)", "",
              ", ".join(f"`{c.name}`" + (f" ({c.message})" if c.message != "Swarm" else "")
                        for c in commands if c.kind == SWARM) + ".", ""]
    for c in commands:
        if c.kind != "command":
            continue
        lines += [f"## {c.name}", "", c.help.summary, ""]
        if c.aliases:
            lines += ["Aliases: " + ", ".join(f"`docker {' '.join(a)}`" for a in c.aliases) + ".", ""]
        if c.missing_aliases:
            lines += ["Missing aliases: " + ", ".join(f"`docker {' '.join(a)}`" for a in c.missing_aliases) + ".",
                      ""]
        lines += ["| flag | dockyard | compared with Docker in |", "|---|---|---|"]
        lines += [f"| `{r.flag}` | {_md(r.cell())} | {_compared_cell(r)} |" for r in c.rows]
        if c.extras:
            lines += ["", "dockyard only: " + ", ".join(f"`{e}`" for e in c.extras) + "."]
        lines.append("")
    return "\n".join(lines)


def generate(help_dir: str, compared: dict[tuple[str, str], list[str]] | None = None,
             uncomparable: dict[tuple[str, str], str] | None = None) -> tuple[str, list[Command]]:
    """docs/parity.md's text and its commands. `compared`: (command, flag) → the tests comparing
    it with Docker; `uncomparable`: (command, flag) → why it cannot be (see attach); a declaration
    that names no row of the table raises ValueError."""
    commands = build(dockerhelp.load(help_dir))
    unmatched = attach(commands, compared or {}, uncomparable or {})
    if unmatched:
        raise ValueError("declared comparisons name no flag of the table: "
                         + ", ".join(f"{c} {f}" for c, f in unmatched))
    return render(commands, dockerhelp.version(help_dir)), commands
