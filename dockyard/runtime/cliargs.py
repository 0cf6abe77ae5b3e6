"""`dockyard-runtime`'s command line, read the way runc (urfave/cli v1 over Go's `flag`) reads it.

Hand-written instead of argparse: every conmon or containerd-shim call of the runtime pays for its
imports, and argparse (with `re`, `gettext`, `shutil` behind it) cost more than the whole verb.

The rules, runc's:
- global flags come before the command; a command's flags may come before or after its
  arguments (urfave reorders them), except for `exec`, where everything after the container id
  is the command to run;
- `-flag` and `--flag` are the same, a value follows as `--flag value` or `--flag=value`, a bool
  flag takes `--flag=false`, `--` ends the flags;
- an unknown flag, a missing value or a wrong number of arguments is a usage error: exit status
  1, `Incorrect Usage…` and the command's help on stdout, the error on stderr (and in `--log`);
- `-h`/`--help` anywhere prints the command's help and exits 0; `help [command]` too.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

BOOL, STR, INT, STRS, INTS = "bool", "str", "int", "strs", "ints"


class UsageError(InvalidArgument):
    """A command line runc would answer with `Incorrect Usage`; `verb` picks the help to show
    ("" for the global one). `detail` is False for a bare `Incorrect Usage.` (wrong arguments)."""

    def __init__(self, message: str, verb: str = "", *, detail: bool = True) -> None:
        super().__init__(message)
        self.verb = verb
        self.detail = detail


class UnknownCommand(InvalidArgument):
    """Not a runc command at all (runc: `No help topic for …`, exit status 3)."""


# flag name -> kind; unset flags are False, "", 0 or [] by kind, the globals below excepted
GLOBAL_FLAGS = {
    "debug": BOOL, "log": STR, "log-format": STR, "root": STR, "criu": STR, "systemd-cgroup": BOOL,
    "rootless": STR, "help": BOOL, "version": BOOL,
}
GLOBAL_SHORT = {"h": "help", "v": "version"}
GLOBAL_DEFAULTS = {"root": "/run/dockyard-runtime", "log-format": "text", "rootless": "auto"}

_CREATE = {"bundle": STR, "console-socket": STR, "pid-file": STR, "no-pivot": BOOL, "no-new-keyring": BOOL,
           "preserve-fds": INT}

# verb -> (flags, short aliases, (min args, max args or None), reorder flags after arguments)
VERBS = {
    "create": (_CREATE, {"b": "bundle"}, (1, 1), True),
    "run": (_CREATE | {"detach": BOOL, "keep": BOOL, "no-subreaper": BOOL}, {"b": "bundle", "d": "detach"},
            (1, 1), True),
    "start": ({}, {}, (1, 1), True),
    "state": ({}, {}, (1, 1), True),
    "pause": ({}, {}, (1, 1), True),
    "resume": ({}, {}, (1, 1), True),
    "kill": ({"all": BOOL}, {"a": "all"}, (1, 2), True),
    "delete": ({"force": BOOL}, {"f": "force"}, (1, 1), True),
    "list": ({"format": STR, "quiet": BOOL}, {"f": "format", "q": "quiet"}, (0, 0), True),
    "exec": ({"console-socket": STR, "cwd": STR, "env": STRS, "tty": BOOL, "user": STR, "additional-gids": INTS,
              "process": STR, "detach": BOOL, "pid-file": STR, "process-label": STR, "apparmor": STR,
              "no-new-privs": BOOL, "cap": STRS, "preserve-fds": INT, "cgroup": STRS, "ignore-paused": BOOL},
             {"e": "env", "t": "tty", "u": "user", "g": "additional-gids", "p": "process", "d": "detach",
              "c": "cap"}, (1, None), False),
    "spec": ({"bundle": STR, "rootless": BOOL}, {"b": "bundle"}, (0, 0), True),
    "features": ({}, {}, (0, 0), True),
    "help": ({}, {}, (0, 1), True),
}
VERB_DEFAULTS = {"list": {"format": "table"}}  # runc's defaults that are not False, "", 0 or []
VERB_ALIASES = {"h": "help"}
# runc commands dockyard-runtime does not have: refused by name, never mistaken for unknown ones
NOT_IMPLEMENTED = ("checkpoint", "restore", "ps", "events", "update")


class Parsed:
    """What a command line asks for: global options, the verb, its options and arguments."""

    __slots__ = ("glob", "verb", "opts", "args", "given")

    def __init__(self, glob: dict, verb: str, opts: dict, args: list, given: set) -> None:
        self.glob = glob
        self.verb = verb
        self.opts = opts
        self.args = args
        self.given = given  # the verb's flags that appeared on the command line


def parse(argv: list[str]) -> Parsed:
    """argv without the program name → Parsed; UsageError / UnknownCommand / InvalidArgument on
    bad input. `verb` is "" when only global flags were given (or none at all)."""
    glob, rest = parse_global(argv)
    if not rest or glob["help"] or glob["version"]:
        return Parsed(glob, "", {}, rest, set())
    p = parse_command(rest)
    p.glob = glob
    return p


def parse_global(argv: list[str]) -> tuple[dict, list[str]]:
    """The global flags (up to the command, as Go's flag package stops there) → (values, the rest)."""
    glob, given, rest = _parse_flags(GLOBAL_FLAGS, GLOBAL_SHORT, argv, reorder=False, verb="")
    for name, value in GLOBAL_DEFAULTS.items():
        if name not in given:
            glob[name] = value
    return glob, rest


def parse_command(argv: list[str]) -> Parsed:
    """`<command> [flags and arguments]` → Parsed (its `glob` left empty)."""
    verb = VERB_ALIASES.get(argv[0], argv[0])
    if verb in NOT_IMPLEMENTED:
        raise InvalidArgument(f"{verb!r} is a runc command that dockyard-runtime does not implement")
    if verb not in VERBS:
        raise UnknownCommand(f"unknown command {argv[0]!r}; try `dockyard-runtime --help`")
    flags, short, (lo, hi), reorder = VERBS[verb]
    opts, given, args = _parse_flags(flags | {"help": BOOL}, short | {"h": "help"}, argv[1:], reorder=reorder,
                                     verb=verb)
    for name, value in VERB_DEFAULTS.get(verb, {}).items():
        if name not in given:
            opts[name] = value
    if not opts["help"] and (len(args) < lo or (hi is not None and len(args) > hi)):
        need = f"exactly {lo}" if lo == hi else f"a minimum of {lo}" if len(args) < lo else f"a maximum of {hi}"
        raise UsageError(f'"{verb}" requires {need} argument(s)', verb, detail=False)
    return Parsed({}, verb, opts, args, given)


def _parse_flags(flags: dict, short: dict, argv: list[str], *, reorder: bool, verb: str):
    """Go's flag.Parse over `flags` (name -> kind), with urfave's reordering when `reorder`:
    → (values of every flag, names given, positional arguments)."""
    opts = {name: _default(kind) for name, kind in flags.items()}
    given: set = set()
    args: list = []
    i, n = 0, len(argv)
    while i < n:
        a = argv[i]
        i += 1
        if a == "--":
            args += argv[i:]
            break
        if len(a) < 2 or a[0] != "-":
            if not reorder:
                args += argv[i - 1:]
                break
            args.append(a)
            continue
        body = a[2:] if a[1] == "-" else a[1:]
        if not body or body[0] in "-=":
            raise UsageError(f"bad flag syntax: {a}", verb)
        name, eq, value = body.partition("=")
        name = short.get(name, name)
        kind = flags.get(name)
        if kind is None:
            raise UsageError(f"flag provided but not defined: -{body.partition('=')[0]}", verb)
        if kind == BOOL:
            opts[name] = _bool(value, name, verb) if eq else True
        else:
            if not eq:
                if i >= n:
                    raise UsageError(f"flag needs an argument: -{body}", verb)
                value = argv[i]
                i += 1
            if kind == STR:
                opts[name] = value
            elif kind == STRS:
                opts[name].append(value)
            else:
                number = _int(value, name, verb)
                if kind == INT:
                    opts[name] = number
                else:
                    opts[name].append(number)
        given.add(name)
    return opts, given, args


def _bool(value: str, name: str, verb: str) -> bool:
    """Go's strconv.ParseBool."""
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise UsageError(f'invalid boolean value "{value}" for -{name}: parse error', verb)


def _int(value: str, name: str, verb: str) -> int:
    """Go's strconv.ParseInt(value, 0, 64): decimal, 0x…, 0o…, 0b…, with `_` separators."""
    try:
        return int(value, 0)
    except ValueError:
        try:
            return int(value, 10)  # "010": Go would read octal; decimal is the kinder reading
        except ValueError:
            raise UsageError(f'invalid value "{value}" for flag -{name}: parse error', verb) from None


def _default(kind: str):
    return False if kind == BOOL else 0 if kind == INT else [] if kind in (STRS, INTS) else ""


def bool_or_auto(value: str) -> bool | None:
    """runc's --rootless value: None for "auto", else Go's ParseBool; InvalidArgument otherwise."""
    if value == "auto":
        return None
    try:
        return _bool(value, "rootless", "")
    except UsageError:
        raise InvalidArgument(f"invalid --rootless value {value!r}: expected true, false or auto") from None
