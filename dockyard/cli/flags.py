"""A small docker-style flag parser: no argparse on the `run` hot path.

Docker's CLI (cobra/pflag) rules: short flags combine (`-it`, `-dit`), values attach or follow
(`--name=x`, `--name x`, `-ex=1`, `-e x=1`), repeatable flags accumulate, booleans accept
`--rm=false`, and for `run`/`exec` parsing stops at the first positional argument (the image), so
the container command keeps its own flags. Errors read like docker's ("unknown flag: --foo").
"""

from __future__ import annotations

from dockyard.errors import DockyardError, InvalidArgument

BOOL, STR, LIST, INT = "bool", "str", "list", "int"


class Flag:
    """One flag. `refused` is the message of a flag dockyard has but cannot honour: the parser
    refuses it (a bool only when true) before the command does anything, and the parity table
    (docs/parity.md, `cli/parity.py`) lists it with that message."""

    __slots__ = ("names", "kind", "dest", "default", "help", "metavar", "refused")

    def __init__(self, names: str, kind: str = BOOL, help: str = "", *, dest: str | None = None, default=None,
                 metavar: str = "", refused: str | None = None) -> None:
        self.refused = refused
        self.names = names.split(",")
        self.kind = kind
        self.dest = dest or max(self.names, key=len).lstrip("-").replace("-", "_")
        self.default = default if default is not None else {BOOL: False, LIST: []}.get(kind)
        self.help = help
        self.metavar = metavar or ("value" if kind != LIST else "list")


class UsageError(InvalidArgument):
    """Bad command-line usage; the CLI adds "See 'dockyard CMD --help'.". Exit 1, as docker's
    argument-count and option-combination errors."""

    exit_code = 1


class FlagError(UsageError):
    """A flag the parser cannot take (unknown, missing or malformed value): docker exits 125 for
    these, whatever the command."""

    exit_code = 125


class FlagRefused(FlagError):
    """A flag dockyard knows and refuses (`Flag.refused`): exit 125, as for any flag docker's CLI
    cannot take, whatever the command (no "See --help" hint: the message says what to do)."""


class HelpRequested(DockyardError):
    """`--help` (or `-h` where no flag owns it) on a command whose table has no help flag: the
    CLI prints the usage made from `flags` and exits 0."""

    def __init__(self, flags: list) -> None:
        super().__init__("help")
        self.flags = flags


class Parsed(dict):
    """Flag values by dest, plus `.args` (positionals) — attribute access for readability."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def parse(flags: list[Flag], argv: list[str], *, interspersed: bool = True) -> Parsed:
    by_name: dict[str, Flag] = {}
    for f in flags:
        for n in f.names:
            by_name[n] = f
    if "-h" not in by_name and "--help" in by_name:
        by_name["-h"] = by_name["--help"]  # docker: -h is help wherever no other flag owns it
    out = Parsed({f.dest: (list(f.default) if f.kind == LIST else f.default) for f in flags})
    args: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "--":
            args.extend(argv[i:])
            break
        if (a == "--help" or a == "-h" and "-h" not in by_name) and "--help" not in by_name:
            raise HelpRequested(flags)
        if a.startswith("--") and len(a) > 2:
            name, eq, val = a.partition("=")
            f = by_name.get(name)
            if f is None:
                raise FlagError(f"unknown flag: {name}")
            if f.kind == BOOL:
                out[f.dest] = _bool(name, val) if eq else True
                _refuse(f, out[f.dest])
                continue
            if not eq:
                if i >= len(argv):
                    raise FlagError(f"flag needs an argument: {name}")
                val = argv[i]
                i += 1
            _set(out, f, name, val)
            _refuse(f, True)
        elif a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                name = "-" + a[j]
                f = by_name.get(name)
                if f is None:
                    raise FlagError(f"unknown shorthand flag: '{a[j]}' in {a}")
                j += 1
                if f.kind == BOOL:
                    if j < len(a) and a[j] == "=":
                        out[f.dest] = _bool(name, a[j + 1:])
                        _refuse(f, out[f.dest])
                        break
                    out[f.dest] = True
                    _refuse(f, True)
                    continue
                val = a[j:].removeprefix("=") if j < len(a) else None
                if val is None:
                    if i >= len(argv):
                        raise FlagError(f"flag needs an argument: '{a[j - 1]}' in {name}")
                    val = argv[i]
                    i += 1
                _set(out, f, name, val)
                _refuse(f, True)
                break
        else:
            args.append(a)
            if not interspersed:
                args.extend(argv[i:])
                break
    out["args"] = args
    return out


def _refuse(f: Flag, given) -> None:
    if f.refused and given:
        raise FlagRefused(f.refused)


def _bool(name: str, val: str) -> bool:
    v = val.lower()
    if v in ("true", "1", "t"):
        return True
    if v in ("false", "0", "f"):
        return False
    raise FlagError(f'invalid argument "{val}" for "{name}" flag: strconv.ParseBool: parsing "{val}": invalid syntax')


def _set(out: Parsed, f: Flag, name: str, val: str) -> None:
    if f.kind == LIST:
        out[f.dest].append(val)
    elif f.kind == INT:
        try:
            out[f.dest] = int(val)
        except ValueError:
            raise FlagError(f'invalid argument "{val}" for "{name}" flag: strconv.ParseInt: parsing "{val}": '
                             "invalid syntax") from None
    else:
        out[f.dest] = val


def usage(prog: str, summary: str, flags: list[Flag]) -> str:
    lines = [f"Usage:  {prog}", "", summary, "", "Options:"]
    for f in flags:
        shorts = [n for n in f.names if not n.startswith("--")]
        longs = [n for n in f.names if n.startswith("--")]
        name = ", ".join(shorts + longs) if shorts else "    " + ", ".join(longs)
        if f.kind != BOOL:
            name += f" {f.metavar}"
        lines.append(f"  {name:<28}{f.help}" if len(name) < 28 else f"  {name}  {f.help}")
    return "\n".join(lines)


def help_or_refuse(help: bool, synopsis: str, summary: str, flags: list[Flag], need: str) -> int:
    """`--help`: the usage on stdout, exit 0. Else the arguments are wrong: docker's error
    ("requires at least 1 argument", exit 1) with the usage as its hint."""
    if help:
        print(usage(synopsis, summary, flags))
        return 0
    prog = " ".join(synopsis.split()[:2])
    raise UsageError(f'"{prog}" requires {need}.', hint=f"See '{prog} --help'.\n\nUsage:  {synopsis}\n\n{summary}")


def key_values(values: list[str], what: str | None = None) -> dict:
    """Repeated `key=value` flags (--label, --opt) as a dict; `key` alone means an empty value.
    With `what`, an empty key is an error naming it."""
    out = {}
    for v in values:
        k, _eq, val = v.partition("=")
        if what and not k:
            raise InvalidArgument(f"invalid {what} {v!r}")
        out[k] = val
    return out


def filter_args(values: list[str], allowed, check=None) -> dict[str, list[str]]:
    """Repeated `--filter name=value` flags as {name: [values]}, in docker's words: a flag
    without `=` or a name not in ``allowed`` is refused; ``check(name, value)`` refuses values."""
    out: dict[str, list[str]] = {}
    for f in values:
        k, eq, v = f.partition("=")
        if not eq:
            raise InvalidArgument(f"bad format of filter (expected name=value): {f}")
        if k not in allowed:
            raise InvalidArgument(f"Invalid filter '{k}'")
        if check is not None:
            check(k, v)
        out.setdefault(k, []).append(v)
    return out
