"""Dockerfile parser: text → stages of frozen instruction dataclasses.

Follows BuildKit's frontend (``frontend/dockerfile/parser``, ``instructions/parse.go`` and
``shell/lex.go``) rather than the legacy builder where the two disagree:

* parser directives (``# syntax=``, ``# escape=``, ``# check=``) only at the very top;
* full-line comments only, also inside line continuations; empty continuation lines skipped;
* exec (JSON) form when the arguments are a JSON array of strings, else shell form (bad JSON is
  not an error, it is shell form);
* heredocs for RUN, COPY and ADD (``<<EOF``, ``<<-EOF``, quoted names disable expansion);
* variable substitution with BuildKit's shell lexer in ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL
  USER VOLUME WORKDIR (and ARG defaults, COPY/ADD flags); RUN CMD ENTRYPOINT SHELL HEALTHCHECK
  and ONBUILD are left to the shell / the child build.

Errors are :class:`DockerfileError` with ``Dockerfile:LINE: message``; nothing here raises
anything else on bad input.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dockyard.record import Record, record
TYPE_CHECKING = False  # typing is for annotations only: not imported on the cached build path
if TYPE_CHECKING:
    from typing import Any, Callable, ClassVar, Iterator, Mapping

from dockyard import errors

__all__ = [
    "DockerfileError", "LexError", "parse_chmod", "StageNotFound", "parse", "parse_file", "Dockerfile", "Stage",
    "Instruction", "From", "Run", "Cmd", "Entrypoint", "Label", "Maintainer", "Expose", "Env",
    "Add", "Copy", "Volume", "User", "Workdir", "Arg", "Onbuild", "Stopsignal", "Healthcheck",
    "Shell", "Mount", "Heredoc", "Lexer", "parse_duration", "default_platform", "predefined_args",
]


class DockerfileError(errors.InvalidArgument):
    """A Dockerfile that cannot be parsed. ``str()`` is ``FILE:LINE: reason`` (or ``FILE: reason``)."""

    def __init__(self, reason: str, *, filename: str = "Dockerfile", line: int | None = None,
                 hint: str | None = None) -> None:
        self.reason = reason
        self.filename = filename
        self.line = line
        where = f"{filename}:{line}" if line is not None else filename
        super().__init__(f"{where}: {reason}", hint=hint)


class StageNotFound(errors.NotFound):
    pass


class LexError(errors.InvalidArgument):
    """A reason without a position (bad substitution, bad flag, ...). :func:`parse` turns it into
    a :class:`DockerfileError`; :class:`Lexer` users (the builder) get it as is."""


_Err = LexError


# -- the shell lexer (BuildKit's shell/lex.go semantics) --------------------------------------

_SPECIAL_PARAMS = set("@*#?-$!0")


class _Scanner:
    __slots__ = ("s", "i")

    def __init__(self, s: str) -> None:
        self.s, self.i = s, 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def next(self) -> str:
        if self.i < len(self.s):
            self.i += 1
            return self.s[self.i - 1]
        return ""


class _Words:
    def __init__(self) -> None:
        self.words: list[str] = []
        self.word = ""
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word, self.in_word = "", False
        else:
            self.add_raw(ch)

    def add_raw(self, s: str) -> None:
        self.word += s
        self.in_word = True

    def add_string(self, s: str) -> None:
        for ch in s:
            self.add_char(ch)

    def get(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word, self.in_word = "", False
        return self.words


class Lexer:
    """Word processing as BuildKit's ``shell.Lex``: quotes, escapes and ``$`` substitution.

    ``env`` maps names to values (a name absent from it is unset). ``raw_quotes`` keeps the
    quote characters, ``raw_escapes`` keeps escape characters, ``skip_unset`` leaves ``$X``
    untouched when X is unset (used to find heredoc names).
    """

    def __init__(self, escape: str = "\\", *, raw_quotes: bool = False, raw_escapes: bool = False,
                 skip_unset: bool = False) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset = skip_unset

    def process_word(self, word: str, env: dict[str, str]) -> str:
        return self._process(word, env)[0]

    def process_words(self, word: str, env: dict[str, str]) -> list[str]:
        return self._process(word, env)[1]

    # internals
    def _process(self, src: str, env: dict[str, str]) -> tuple[str, list[str]]:
        try:
            sc = _Scanner(src)
            word, words, _ = self._stop_on(sc, env, "")
            return word, words
        except RecursionError:  # pragma: no cover - absurd nesting
            raise _Err("substitution nested too deeply") from None

    def _stop_on(self, sc: _Scanner, env: dict[str, str], stop: str) -> tuple[str, list[str], bool]:
        out: list[str] = []
        words = _Words()
        found = False
        while sc.peek() != "":
            ch = sc.peek()
            if stop and ch == stop:
                sc.next()
                found = True
                break
            if ch == "'":
                tmp = self._single(sc)
                out.append(tmp)
                words.add_raw(tmp)
            elif ch == '"':
                tmp = self._double(sc, env)
                out.append(tmp)
                words.add_raw(tmp)
            elif ch == "$":
                tmp = self._dollar(sc, env)
                out.append(tmp)
                words.add_string(tmp)
            else:
                ch = sc.next()
                if ch == self.escape:
                    if self.raw_escapes:
                        words.add_raw(ch)
                        out.append(ch)
                    ch = sc.next()
                    if ch == "":
                        break
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                out.append(ch)
        if stop and not found:
            raise _Err(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out), words.get(), found

    def _single(self, sc: _Scanner) -> str:
        sc.next()
        out = ["'"] if self.raw_quotes else []
        while True:
            ch = sc.next()
            if ch == "":
                raise _Err("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def _double(self, sc: _Scanner, env: dict[str, str]) -> str:
        sc.next()
        out = ['"'] if self.raw_quotes else []
        while True:
            ch = sc.peek()
            if ch == "":
                raise _Err("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                sc.next()
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self._dollar(sc, env))
                continue
            ch = sc.next()
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                nxt = sc.peek()
                if nxt == "":
                    continue
                if nxt in ('"', "$", self.escape):
                    ch = sc.next()
                    if self.raw_escapes:
                        out.append(ch)
                        continue
                elif self.raw_escapes:
                    continue
            out.append(ch)

    def _name(self, sc: _Scanner) -> str:
        name = []
        while sc.peek() != "":
            ch = sc.peek()
            if not name and ch.isdigit():
                while sc.peek() != "" and sc.peek().isdigit():
                    name.append(sc.next())
                return "".join(name)
            if not name and ch in _SPECIAL_PARAMS:
                return sc.next()
            if not (ch.isalnum() or ch == "_"):
                break
            name.append(sc.next())
        return "".join(name)

    def _word_until_brace(self, sc: _Scanner, env: dict[str, str]) -> str:
        try:
            return self._stop_on(sc, env, "}")[0]
        except _Err:
            if sc.peek() == "":
                raise _Err("syntax error: missing '}'") from None
            raise

    def _dollar(self, sc: _Scanner, env: dict[str, str]) -> str:
        sc.next()
        if sc.peek() != "{":
            name = self._name(sc)
            if not name:
                return "$"
            if name not in env and self.skip_unset:
                return "$" + name
            return env.get(name, "")
        sc.next()
        p = sc.peek()
        if p == "":
            raise _Err("syntax error: missing '}'")
        if p in "{}:":
            raise _Err("syntax error: bad substitution")
        name = self._name(sc)
        ch = sc.next()
        is_set = name in env
        value = env.get(name, "")
        if ch == "}":
            if not is_set and self.skip_unset:
                return "${%s}" % name
            return value
        if ch == "":
            raise _Err("syntax error: missing '}'")
        if ch == ":":
            mod = sc.next()
            word = self._word_until_brace(sc, env)
            if self.skip_unset and not is_set:
                return "${%s:%s%s}" % (name, mod, word)
            if mod == "+":
                return word if value else ""
            if mod == "-":
                return value if value else word
            if mod == "?":
                if not is_set:
                    raise _Err(f"{name}: {word or 'is not allowed to be unset'}")
                if not value:
                    raise _Err(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            raise _Err(f"unsupported modifier ({mod}) in substitution")
        if ch in "+-?":
            word = self._word_until_brace(sc, env)
            if self.skip_unset and not is_set:
                return "${%s%s%s}" % (name, ch, word)
            if ch == "+":
                return word if is_set else ""
            if ch == "-":
                return value if is_set else word
            if not is_set:
                raise _Err(f"{name}: {word or 'is not allowed to be unset'}")
            return value
        if ch in "#%":
            longest = sc.peek() == ch
            if longest:
                sc.next()
            pattern = self._word_until_brace(sc, env)
            if self.skip_unset and not is_set:
                return "${%s%s%s}" % (name, ch * (2 if longest else 1), pattern)
            return _trim(value, pattern, prefix=ch == "#", longest=longest)
        raise _Err(f"unsupported modifier ({ch}) in substitution")


def _trim(value: str, pattern: str, *, prefix: bool, longest: bool) -> str:
    rng = range(len(value), -1, -1) if longest else range(len(value) + 1)
    for n in rng:
        part = value[:n] if prefix else value[len(value) - n:]
        if fnmatch.fnmatchcase(part, pattern):
            return value[n:] if prefix else value[:len(value) - n]
    return value


# -- platform and predefined args -------------------------------------------------------------

_ARCH = {"x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", ""),
         "arm64": ("arm64", ""), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
         "i386": ("386", ""), "i686": ("386", ""), "ppc64le": ("ppc64le", ""),
         "s390x": ("s390x", ""), "riscv64": ("riscv64", "")}

PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
              "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


def default_platform() -> str:
    """This machine as an OCI platform string, e.g. ``linux/amd64`` or ``linux/arm/v7``."""
    machine = os.uname().machine.lower()  # not `platform`: its import costs more than a cached build
    arch, variant = _ARCH.get(machine, (machine or "amd64", ""))
    return f"linux/{arch}/{variant}" if variant else f"linux/{arch}"


def _split_platform(p: str) -> tuple[str, str, str]:
    parts = p.split("/")
    return parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else ""


def predefined_args(target_platform: str | None = None, build_platform: str | None = None) -> dict[str, str]:
    """The automatic platform ARGs of BuildKit (in global scope; a stage must declare them)."""
    build = build_platform or default_platform()
    target = target_platform or build
    out: dict[str, str] = {}
    for prefix, p in (("BUILD", build), ("TARGET", target)):
        os_, arch, variant = _split_platform(p)
        out[prefix + "PLATFORM"] = p
        out[prefix + "OS"] = os_
        out[prefix + "ARCH"] = arch
        out[prefix + "VARIANT"] = variant
    return out


# -- durations (Go's time.ParseDuration) --------------------------------------------------------

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}
_DUR_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]*)")


def parse_duration(s: str) -> int:
    """Go duration string → nanoseconds (``1m30s``, ``1.5h``, ``300ms``, ``0``)."""
    orig = s
    bad = _Err(f'time: invalid duration "{orig}"')
    neg = False
    if s[:1] in "+-" and s:
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise bad
    total = 0
    while s:
        m = _DUR_PART.match(s)
        whole, frac, unit = m.group(1), m.group(2), m.group(3)
        if not whole and not frac:
            raise bad
        if not unit:
            raise _Err(f'time: missing unit in duration "{orig}"')
        if unit not in _UNITS:
            raise _Err(f'time: unknown unit "{unit}" in duration "{orig}"')
        mult = _UNITS[unit]
        total += int(whole or "0") * mult
        if frac:
            total += int(frac) * mult // (10 ** len(frac))
        s = s[m.end():]
    if total > (1 << 63) - 1:
        raise bad
    return -total if neg else total


# -- data model -----------------------------------------------------------------------------------

def _to_json(v: Any) -> Any:
    if isinstance(v, (Instruction, Mount, Heredoc)):
        return v.to_dict()
    if isinstance(v, (list, tuple)):
        return [_to_json(x) for x in v]
    if isinstance(v, dict):
        return {k: _to_json(x) for k, x in v.items()}
    return v


class _ToDict(Record):
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        kw = getattr(self, "keyword", None)
        if kw:
            out["kind"] = kw
        for name in self._names():
            out[name] = _to_json(getattr(self, name))
        return out


@record
class Heredoc(_ToDict):
    name: str
    content: str
    expand: bool = True
    chomp: bool = False
    fd: int | None = None


@record
class Mount(_ToDict):
    """One ``RUN --mount=...``."""
    type: str = "bind"
    target: str = ""
    source: str | None = None
    from_: str | None = None
    readonly: bool = False
    id: str | None = None
    sharing: str | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    required: bool = False
    env: str | None = None
    size: str | None = None


@record
class Instruction(_ToDict):
    """Common to every instruction: first and last source line and the joined original text."""
    keyword: ClassVar[str] = ""
    line: int
    end_line: int
    original: str


@record
class From(Instruction):
    keyword: ClassVar[str] = "FROM"
    image: str
    name: str | None = None
    platform: str | None = None


@record
class Run(Instruction):
    keyword: ClassVar[str] = "RUN"
    command: list[str] | str
    shell_form: bool
    mounts: list[Mount] = []
    network: str | None = None
    security: str | None = None
    heredocs: list[Heredoc] = []


@record
class Cmd(Instruction):
    keyword: ClassVar[str] = "CMD"
    command: list[str] | str
    shell_form: bool


@record
class Entrypoint(Instruction):
    keyword: ClassVar[str] = "ENTRYPOINT"
    command: list[str] | str
    shell_form: bool


@record
class Label(Instruction):
    keyword: ClassVar[str] = "LABEL"
    pairs: list[tuple[str, str]]


@record
class Maintainer(Instruction):
    """Deprecated. Docker stores it as the image's ``author``; :attr:`pairs` gives the LABEL form."""
    keyword: ClassVar[str] = "MAINTAINER"
    maintainer: str

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [("maintainer", self.maintainer)]


@record
class Expose(Instruction):
    keyword: ClassVar[str] = "EXPOSE"
    ports: list[str]


@record
class Env(Instruction):
    keyword: ClassVar[str] = "ENV"
    pairs: list[tuple[str, str]]


@record
class Add(Instruction):
    keyword: ClassVar[str] = "ADD"
    sources: list[str]
    dest: str
    chown: str | None = None
    chmod: str | None = None
    checksum: str | None = None
    keep_git_dir: bool = False
    link: bool = False
    exclude: list[str] = []
    heredocs: list[Heredoc] = []


@record
class Copy(Instruction):
    keyword: ClassVar[str] = "COPY"
    sources: list[str]
    dest: str
    from_: str | None = None
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    parents: bool = False
    exclude: list[str] = []
    heredocs: list[Heredoc] = []


@record
class Volume(Instruction):
    keyword: ClassVar[str] = "VOLUME"
    paths: list[str]


@record
class User(Instruction):
    keyword: ClassVar[str] = "USER"
    user: str


@record
class Workdir(Instruction):
    keyword: ClassVar[str] = "WORKDIR"
    path: str


@record
class Arg(Instruction):
    """One declared ARG (``ARG a=1 b`` gives two, with the same line). ``default`` is the
    expanded default; ``value`` what the build sees (build arg, default, global value, or None)."""
    keyword: ClassVar[str] = "ARG"
    name: str
    default: str | None = None
    value: str | None = None


@record
class Onbuild(Instruction):
    """``expression`` is the trigger text as Docker stores it in the image config."""
    keyword: ClassVar[str] = "ONBUILD"
    instruction: Instruction
    expression: str


@record
class Stopsignal(Instruction):
    keyword: ClassVar[str] = "STOPSIGNAL"
    signal: str


@record
class Healthcheck(Instruction):
    """``test`` as in the image config: ``["NONE"]``, ``["CMD", ...]`` or ``["CMD-SHELL", cmd]``.
    Durations in nanoseconds, 0 meaning "inherit/default"."""
    keyword: ClassVar[str] = "HEALTHCHECK"
    test: list[str]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    @property
    def none(self) -> bool:
        return self.test == ["NONE"]


@record
class Shell(Instruction):
    keyword: ClassVar[str] = "SHELL"
    shell: list[str]


@record(frozen=False)
class Stage:
    index: int
    name: str | None
    from_: From
    instructions: list[Instruction] = []

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "from": self.from_.to_dict(),
                "instructions": [i.to_dict() for i in self.instructions]}


@record(frozen=False)
class Dockerfile:
    filename: str
    stages: list[Stage]
    meta_args: list[Arg]
    escape: str = "\\"
    syntax: str | None = None
    directives: dict[str, str] = {}

    def stage_by_name(self, name_or_index: str | int) -> Stage:
        """A stage by its ``AS`` name (case-insensitive) or index (int or digit string)."""
        if isinstance(name_or_index, int) or (isinstance(name_or_index, str) and name_or_index.isdigit()):
            i = int(name_or_index)
            if 0 <= i < len(self.stages):
                return self.stages[i]
            raise StageNotFound(f"build stage {i} not found ({len(self.stages)} stages)")
        low = name_or_index.lower()
        for s in self.stages:
            if s.name == low:
                return s
        raise StageNotFound(f"build stage {name_or_index!r} not found")

    def to_dict(self) -> dict[str, Any]:
        return {"meta_args": [a.to_dict() for a in self.meta_args],
                "stages": [s.to_dict() for s in self.stages]}


# -- line-level parsing (BuildKit's parser package) --------------------------------------------

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")
_HEREDOC = re.compile(r"^(\d*)<<(-?)([^<]*)$")
_HEREDOC_CMDS = ("run", "copy", "add")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")
INSTRUCTIONS = ("add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck",
                "label", "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume",
                "workdir")


@record(frozen=False)
class _Node:
    cmd: str            # as written
    flags: list[str]
    rest: str
    original: str
    start: int
    end: int
    heredocs: list[Heredoc]


def _extract_flags(line: str) -> tuple[str, list[str]]:
    """Leading ``--flag[=value]`` words (quotes removed) and the remainder of the line."""
    words: list[str] = []
    word, quote, blank_ok = "", "", False
    phase = 0  # 0 spaces, 1 word, 2 quote
    pos, n = 0, len(line)
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if phase == 0:
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words
            phase = 1
        if pos == n:
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == 1:
            if ch.isspace():
                phase = 0
                if word == "--":
                    return line[pos:].lstrip(), words
                if blank_ok or word:
                    words.append(word)
                word, blank_ok = "", False
                pos += 1
                continue
            if ch in "'\"":
                quote, blank_ok, phase = ch, True, 2
                pos += 1
                continue
            if ch == "\\":
                if pos + 1 == n:
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            word += ch
            pos += 1
            continue
        # in quote
        if ch == quote:
            phase = 1
            pos += 1
            continue
        if ch == "\\":
            if pos + 1 == n:
                phase = 1
                pos += 1
                continue
            pos += 1
            ch = line[pos]
        word += ch
        pos += 1
    return "", words


def _parse_words(rest: str, escape: str) -> list[str]:
    """BuildKit's parseWords: split on unquoted whitespace, keeping quotes and escapes."""
    words: list[str] = []
    word, quote, blank_ok = "", "", False
    phase = 0
    pos, n = 0, len(rest)
    while pos <= n:
        ch = rest[pos] if pos < n else ""
        if phase == 0:
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            phase = 1
        if pos == n:
            if blank_ok or word:
                words.append(word)
            break
        if phase == 1:
            if ch.isspace():
                phase = 0
                if blank_ok or word:
                    words.append(word)
                word, blank_ok = "", False
                pos += 1
                continue
            if ch in "'\"":
                quote, blank_ok, phase = ch, True, 2
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                word += ch
                pos += 1
                ch = rest[pos]
            word += ch
            pos += 1
            continue
        if ch == quote:
            phase = 1
        if ch == escape and quote != "'":
            if pos + 1 == n:
                phase = 1
                pos += 1
                continue
            word += ch
            pos += 1
            ch = rest[pos]
        word += ch
        pos += 1
    return words


def _maybe_json(rest: str) -> list[str] | None:
    rest = rest.strip()
    if not rest.startswith("["):
        return None
    try:
        val = json.loads(rest)
    except ValueError:
        return None
    if not isinstance(val, list) or not all(isinstance(x, str) for x in val):
        return None
    return val


def _heredocs_in(rest: str, escape: str) -> list[tuple[str, bool, bool, int | None]]:
    """Heredoc words of a shell-form line: (name, expand, chomp, fd)."""
    try:
        words = Lexer("\\", raw_quotes=True, raw_escapes=True, skip_unset=True).process_words(rest, {})
    except _Err:
        return []
    out = []
    for w in words:
        m = _HEREDOC.match(w)
        if not m or not m.group(3):
            continue
        raw_name = m.group(3)
        try:
            name = Lexer("\\", skip_unset=True).process_word(raw_name, {})
        except _Err:
            continue
        if not name:
            continue
        out.append((name, name == raw_name, m.group(2) == "-", int(m.group(1)) if m.group(1) else None))
    return out


def _continuation(line: str, escape: str) -> tuple[str, bool]:
    stripped = line.rstrip(" \t")
    if stripped.endswith(escape):
        return stripped[:-1], True
    return line, False


def _nodes(text: str, filename: str) -> tuple[dict[str, str], str, list[_Node]]:
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    directives: dict[str, str] = {}
    escape = "\\"
    i, n = 0, len(lines)
    # parser directives: only at the very top, ended by anything that is not one
    while i < n:
        m = _DIRECTIVE.match(lines[i])
        if not m or m.group(1).lower() not in _KNOWN_DIRECTIVES:
            break
        k, v = m.group(1).lower(), m.group(2)
        if k in directives:
            raise DockerfileError(f"only one {k} parser directive can be used", filename=filename, line=i + 1)
        if k == "escape":
            if v not in ("`", "\\"):
                raise DockerfileError(f"invalid escape token '{v}' does not match ` or \\",
                                      filename=filename, line=i + 1)
            escape = v
        directives[k] = v
        i += 1
    nodes: list[_Node] = []
    while i < n:
        raw = lines[i]
        s = raw.lstrip()
        if not s or s.startswith("#"):
            i += 1
            continue
        start = i + 1
        line, cont = _continuation(s, escape)
        while cont and i + 1 < n:
            i += 1
            nxt = lines[i]
            ns = nxt.lstrip()
            if not ns or ns.startswith("#"):
                continue
            part, cont = _continuation(nxt, escape)
            line += part
        end = i + 1
        i += 1
        original = line.strip()
        if not original:  # only an escape character (and continuations of nothing)
            continue
        parts = original.split(None, 1)
        cmd = parts[0]
        rest, flags = _extract_flags(parts[1]) if len(parts) > 1 else ("", [])
        heredocs: list[Heredoc] = []
        if cmd.lower() in _HEREDOC_CMDS and _maybe_json(rest) is None:
            for name, expand, chomp, fd in _heredocs_in(rest, escape):
                body: list[str] = []
                terminated = False
                while i < n:
                    ln = lines[i]
                    i += 1
                    if (ln.lstrip("\t") if chomp else ln) == name:
                        terminated = True
                        break
                    body.append((ln.lstrip("\t") if chomp else ln) + "\n")
                if not terminated:
                    raise DockerfileError("unterminated heredoc", filename=filename, line=start)
                heredocs.append(Heredoc(name=name, content="".join(body), expand=expand, chomp=chomp, fd=fd))
            end = i if heredocs else end
        nodes.append(_Node(cmd, flags, rest, original, start, end, heredocs))
    return directives, escape, nodes


# -- instruction-level parsing (BuildKit's instructions package) --------------------------------

def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _suggest(word: str, options: Iterator[str] | tuple[str, ...]) -> str | None:
    best, best_d = None, None
    w = word.lower()
    for o in options:
        d = _levenshtein(w, o.lower())
        if best_d is None or d < best_d:
            best, best_d = o, d
    if best is not None and best_d is not None and 0 < best_d <= max(1, min(2, len(w) // 3)):
        return best
    return None


class _Flags:
    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.kinds: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def bool(self, name: str) -> None:
        self.kinds[name] = "bool"
        self.values[name] = False

    def str(self, name: str) -> None:
        self.kinds[name] = "str"
        self.values[name] = None

    def strs(self, name: str) -> None:
        self.kinds[name] = "strs"
        self.values[name] = []

    def parse(self) -> dict[str, Any]:
        used: set[str] = set()
        for arg in self.args:
            if not arg.startswith("--"):
                raise _Err(f"arg should start with -- : {arg}")
            if arg == "--":
                break
            name, eq, value = arg[2:].partition("=")
            kind = self.kinds.get(name)
            if kind is None:
                raise _Err(f"unknown flag: --{name}")
            if name in used and kind != "strs":
                raise _Err(f"duplicate flag specified: --{name}")
            used.add(name)
            if kind == "bool":
                if eq and not value:
                    raise _Err(f"missing a value on flag: --{name}")
                low = value.lower()
                if low in ("", "true"):
                    self.values[name] = True
                elif low == "false":
                    self.values[name] = False
                else:
                    raise _Err(f"expecting boolean value for flag --{name}, not: {value}")
            else:
                if not eq:
                    raise _Err(f"missing a value on flag: --{name}")
                if kind == "str":
                    self.values[name] = value
                else:
                    self.values[name].append(value)
        return self.values


def parse_chmod(value: str, *, where: str = "") -> int:
    """A COPY/ADD ``--chmod`` value: an octal mode from 0 to 07777 (BuildKit's rule)."""
    v = value.strip()
    if v and len(v) <= 5 and all(c in "01234567" for c in v) and int(v, 8) <= 0o7777:
        return int(v, 8)
    prefix = f"{where}: " if where else ""
    raise LexError(f"{prefix}invalid chmod parameter {value!r}: it should be an octal string between 0 and 07777")


def _at_least_one(kw: str) -> _Err:
    return _Err(f"{kw} requires at least one argument")


def _exactly_one(kw: str) -> _Err:
    return _Err(f"{kw} requires exactly one argument")


def _name_vals(rest: str, kw: str, escape: str) -> list[tuple[str, str]]:
    """ENV/LABEL arguments: legacy ``KEY value...`` or ``k=v k2="v 2"`` (values still quoted)."""
    words = _parse_words(rest, escape)
    if not words:
        raise _at_least_one(kw)
    if "=" not in words[0]:
        parts = rest.strip().split(None, 1)
        if len(parts) < 2:
            raise _Err(f"{kw} must have two arguments")
        return [(parts[0], parts[1])]
    out = []
    for w in words:
        if "=" not in w:
            raise _Err(f"Syntax error - can't find = in \"{w}\". Must be of the form: name=value")
        k, _, v = w.partition("=")
        out.append((k, v))
    return out


_NETWORKS = ("default", "none", "host")
_SECURITY = ("sandbox", "insecure")
_MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")


def _parse_mount(spec: str) -> Mount:
    import csv

    try:
        fields = next(csv.reader([spec]), [])
    except csv.Error as e:
        raise _Err(f"invalid mount {spec!r}: {e}") from None
    vals: dict[str, Any] = {"type": "bind"}
    ro: bool | None = None
    for f in fields:
        f = f.strip()
        if not f:
            continue
        key, eq, value = f.partition("=")
        key = key.lower()
        if not eq:
            if key in ("readonly", "ro"):
                ro = True
            elif key in ("readwrite", "rw"):
                ro = False
            elif key == "required":
                vals["required"] = True
            else:
                raise _Err(f"invalid field '{f}' must be a key=value pair")
            continue
        if key == "type":
            if value not in _MOUNT_TYPES:
                raise _Err(f"unsupported mount type \"{value}\"")
            vals["type"] = value
        elif key in ("target", "dst", "destination"):
            vals["target"] = value
        elif key in ("source", "src"):
            vals["source"] = value
        elif key == "from":
            vals["from_"] = value
        elif key in ("readonly", "ro", "readwrite", "rw", "required"):
            low = value.lower()
            if low not in ("true", "false", "1", "0"):
                raise _Err(f"invalid value for {key}: {value}")
            b = low in ("true", "1")
            if key == "required":
                vals["required"] = b
            else:
                ro = b if key in ("readonly", "ro") else not b
        elif key == "id":
            vals["id"] = value
        elif key == "sharing":
            if value not in ("shared", "private", "locked"):
                raise _Err(f"unsupported sharing value \"{value}\"")
            vals["sharing"] = value
        elif key == "mode":
            try:
                vals["mode"] = int(value, 8)
            except ValueError:
                raise _Err(f"invalid value {value} for mode") from None
        elif key in ("uid", "gid"):
            try:
                vals[key] = int(value)
            except ValueError:
                raise _Err(f"invalid value for {key}: {value}") from None
        elif key == "size":
            vals["size"] = value
        elif key == "env":
            vals["env"] = value
        else:
            raise _Err(f"unexpected key '{key}' in '{f}'")
    typ = vals["type"]
    if typ == "secret":
        if not vals.get("id"):
            if not vals.get("target"):
                raise _Err("one of source, target required")
            vals["id"] = os.path.basename(vals["target"])
        if not vals.get("target") and not vals.get("env"):
            vals["target"] = "/run/secrets/" + vals["id"]
        ro = True if ro is None else ro
    elif typ == "ssh":
        vals.setdefault("id", "default")
        vals.setdefault("target", "/run/buildkit/ssh_agent.0")
        ro = True if ro is None else ro
    elif not vals.get("target"):
        raise _Err("mount destination (target) is required")
    if typ == "cache":
        vals.setdefault("sharing", "shared")
    if ro is None:
        ro = typ == "bind"
    vals["readonly"] = ro
    return Mount(**vals)


class _Parser:
    def __init__(self, filename: str, escape: str, build_args: dict[str, str],
                 predefined: dict[str, str]) -> None:
        self.filename = filename
        self.escape = escape
        self.lex = Lexer(escape)
        self.build_args = build_args
        self.predefined = predefined
        self.meta_values: dict[str, str] = {}      # global-scope ARG values that are set
        self.meta_declared: set[str] = set()

    # expansion helpers
    def word(self, s: str, env: dict[str, str]) -> str:
        return self.lex.process_word(s, env)

    def instruction(self, node: _Node, env: dict[str, str] | None) -> Instruction | list[Arg]:
        """Build the instruction of ``node``; ``env`` None means no expansion (ONBUILD triggers)."""
        kw = node.cmd.lower()
        if kw not in INSTRUCTIONS:
            hint = _suggest(node.cmd, tuple(k.upper() for k in INSTRUCTIONS))
            raise _Err(f"unknown instruction: {node.cmd}" + (f" (did you mean {hint}?)" if hint else ""))
        return getattr(self, "_" + kw)(node, env)

    def _ex(self, s: str, env: dict[str, str] | None) -> str:
        return s if env is None else self.word(s, env)

    def _base(self, node: _Node) -> dict[str, Any]:
        return {"line": node.start, "end_line": node.end, "original": node.original}

    def _noflags(self, node: _Node) -> None:
        _Flags(node.flags).parse()

    def _command(self, node: _Node, kw: str) -> tuple[list[str] | str, bool]:
        js = _maybe_json(node.rest)
        if js is not None:
            return js, False
        return node.rest.strip(), True

    def _from(self, node: _Node, env: dict[str, str] | None) -> From:
        fl = _Flags(node.flags)
        fl.str("platform")
        v = fl.parse()
        args = node.rest.split()
        if len(args) not in (1, 3) or (len(args) == 3 and args[1].lower() != "as"):
            raise _Err("FROM requires either one or three arguments")
        meta = {**self.predefined, **self.meta_values}
        image = self.word(args[0], meta) if env is not None else args[0]
        if not image:
            raise _Err(f"base name ({args[0]}) should not be blank")
        name = None
        if len(args) == 3:
            name = args[2].lower()
            if not _STAGE_NAME.match(name):
                raise _Err(f"invalid name for build stage: \"{args[2]}\", name can't start with a number "
                           "or contain symbols")
        plat = v["platform"]
        if plat is not None and env is not None:
            plat = self.word(plat, meta)
        return From(image=image, name=name, platform=plat, **self._base(node))

    def _run(self, node: _Node, env: dict[str, str] | None) -> Run:
        fl = _Flags(node.flags)
        fl.strs("mount")
        fl.str("network")
        fl.str("security")
        v = fl.parse()
        command, shell = self._command(node, "RUN")
        if not command and not node.heredocs:
            raise _at_least_one("RUN")
        mounts = [_parse_mount(self._ex(m, env)) for m in v["mount"]]
        network = v["network"]
        if network is not None and network not in _NETWORKS:
            raise _Err(f"unsupported network mode \"{network}\"")
        security = v["security"]
        if security is not None and security not in _SECURITY:
            raise _Err(f"unsupported security mode \"{security}\"")
        return Run(command=command, shell_form=shell, mounts=mounts, network=network,
                   security=security, heredocs=list(node.heredocs), **self._base(node))

    def _cmd(self, node: _Node, env: dict[str, str] | None) -> Cmd:
        self._noflags(node)
        command, shell = self._command(node, "CMD")
        return Cmd(command=command, shell_form=shell, **self._base(node))

    def _entrypoint(self, node: _Node, env: dict[str, str] | None) -> Entrypoint:
        self._noflags(node)
        command, shell = self._command(node, "ENTRYPOINT")
        return Entrypoint(command=command, shell_form=shell, **self._base(node))

    def _shell(self, node: _Node, env: dict[str, str] | None) -> Shell:
        self._noflags(node)
        js = _maybe_json(node.rest)
        if js is None:
            raise _Err("SHELL requires the arguments to be in JSON form")
        if not js:
            raise _at_least_one("SHELL")
        return Shell(shell=js, **self._base(node))

    def _pairs(self, node: _Node, env: dict[str, str] | None, kw: str) -> list[tuple[str, str]]:
        self._noflags(node)
        out = []
        for k, val in _name_vals(node.rest, kw, self.escape):
            if not k:
                raise _Err(f"{kw} names can not be blank")
            out.append((self._ex(k, env), self._ex(val, env)))
        return out

    def _env(self, node: _Node, env: dict[str, str] | None) -> Env:
        return Env(pairs=self._pairs(node, env, "ENV"), **self._base(node))

    def _label(self, node: _Node, env: dict[str, str] | None) -> Label:
        return Label(pairs=self._pairs(node, env, "LABEL"), **self._base(node))

    def _string(self, node: _Node, env: dict[str, str] | None, kw: str) -> str:
        self._noflags(node)
        rest = node.rest.strip()
        if not rest:
            raise _exactly_one(kw)
        return self._ex(rest, env)

    def _maintainer(self, node: _Node, env: dict[str, str] | None) -> Maintainer:
        self._noflags(node)
        rest = node.rest.strip()
        if not rest:
            raise _exactly_one("MAINTAINER")
        return Maintainer(maintainer=rest, **self._base(node))

    def _user(self, node: _Node, env: dict[str, str] | None) -> User:
        return User(user=self._string(node, env, "USER"), **self._base(node))

    def _workdir(self, node: _Node, env: dict[str, str] | None) -> Workdir:
        return Workdir(path=self._string(node, env, "WORKDIR"), **self._base(node))

    def _stopsignal(self, node: _Node, env: dict[str, str] | None) -> Stopsignal:
        return Stopsignal(signal=self._string(node, env, "STOPSIGNAL"), **self._base(node))

    def _expose(self, node: _Node, env: dict[str, str] | None) -> Expose:
        self._noflags(node)
        args = node.rest.split()
        if not args:
            raise _at_least_one("EXPOSE")
        ports: list[str] = []
        for a in args:
            ports.extend(self._ex(a, env).split())
        return Expose(ports=ports, **self._base(node))

    def _list(self, node: _Node) -> list[str]:
        js = _maybe_json(node.rest)
        return js if js is not None else node.rest.split()

    def _volume(self, node: _Node, env: dict[str, str] | None) -> Volume:
        self._noflags(node)
        args = self._list(node)
        if not args:
            raise _at_least_one("VOLUME")
        paths = []
        for a in args:
            p = self._ex(a, env).strip()
            if not p:
                raise _Err("VOLUME specified can not be an empty string")
            paths.append(p)
        return Volume(paths=paths, **self._base(node))

    def _copyish(self, node: _Node, env: dict[str, str] | None, kw: str, v: dict[str, Any]) -> dict[str, Any]:
        args = self._list(node)
        if len(args) < 2:
            raise _Err(f"{kw} requires at least two arguments, but only one was provided. "
                       "Destination could not be determined.")
        docs = list(node.heredocs)
        if env is not None:
            docs = [h.replace(content=Lexer(self.escape, raw_quotes=True).process_word(h.content, env))
                    if h.expand else h for h in docs]
        out = {"sources": [self._ex(a, env) for a in args[:-1]], "dest": self._ex(args[-1], env),
               "heredocs": docs}
        for k in ("chown", "chmod"):
            out[k] = self._ex(v[k], env) if v[k] is not None else None
        if out["chmod"] and env is not None:  # an ONBUILD body is checked when it runs
            parse_chmod(out["chmod"])
        out["exclude"] = [self._ex(x, env) for x in v["exclude"]]
        out["link"] = v["link"]
        return out

    def _copy(self, node: _Node, env: dict[str, str] | None) -> Copy:
        fl = _Flags(node.flags)
        for s in ("from", "chown", "chmod"):
            fl.str(s)
        fl.bool("link")
        fl.bool("parents")
        fl.strs("exclude")
        v = fl.parse()
        kw = self._copyish(node, env, "COPY", v)
        frm = self._ex(v["from"], env) if v["from"] is not None else None
        return Copy(from_=frm, parents=v["parents"], **kw, **self._base(node))

    def _add(self, node: _Node, env: dict[str, str] | None) -> Add:
        fl = _Flags(node.flags)
        for s in ("chown", "chmod", "checksum"):
            fl.str(s)
        fl.bool("link")
        fl.bool("keep-git-dir")
        fl.strs("exclude")
        v = fl.parse()
        kw = self._copyish(node, env, "ADD", v)
        checksum = self._ex(v["checksum"], env) if v["checksum"] is not None else None
        return Add(checksum=checksum, keep_git_dir=v["keep-git-dir"], **kw, **self._base(node))

    def _arg(self, node: _Node, env: dict[str, str] | None) -> list[Arg]:
        self._noflags(node)
        words = _parse_words(node.rest, self.escape)
        if not words:
            raise _at_least_one("ARG")
        out = []
        for w in words:
            if "=" in w:
                k, _, d = w.partition("=")
                if not k:
                    raise _Err("ARG names can not be blank")
                default: str | None = d
            else:
                k, default = w, None
            out.append((k, default))
        return [Arg(name=k, default=d, value=None, **self._base(node)) for k, d in out]

    def _onbuild(self, node: _Node, env: dict[str, str] | None) -> Onbuild:
        self._noflags(node)
        expr = node.rest.strip()
        if not expr:
            raise _at_least_one("ONBUILD")
        parts = expr.split(None, 1)
        inner_kw = parts[0].lower()
        if inner_kw == "onbuild":
            raise _Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if inner_kw in ("from", "maintainer"):
            raise _Err(f"{parts[0].upper()} isn't allowed as an ONBUILD trigger")
        rest, flags = _extract_flags(parts[1]) if len(parts) > 1 else ("", [])
        inner_node = _Node(parts[0], flags, rest, expr, node.start, node.end, [])
        inner = self.instruction(inner_node, None)
        if isinstance(inner, list):  # ARG a b
            inner = inner[0] if len(inner) == 1 else inner[0]
        return Onbuild(instruction=inner, expression=expr, **self._base(node))

    def _healthcheck(self, node: _Node, env: dict[str, str] | None) -> Healthcheck:
        rest = node.rest.strip()
        if not rest:
            raise _at_least_one("HEALTHCHECK")
        parts = rest.split(None, 1)
        typ = parts[0].upper()
        cmd_rest = parts[1] if len(parts) > 1 else ""
        if typ == "NONE":
            if cmd_rest.strip():
                raise _Err("HEALTHCHECK NONE takes no arguments")
            self._noflags(node)
            return Healthcheck(test=["NONE"], **self._base(node))
        fl = _Flags(node.flags)
        for s in ("interval", "timeout", "start-period", "start-interval", "retries"):
            fl.str(s)
        v = fl.parse()
        if typ != "CMD":
            raise _Err(f"Unknown type \"{typ}\" in HEALTHCHECK (try CMD)")
        js = _maybe_json(cmd_rest)
        if js is not None:
            if not js:
                raise _Err("Missing command after HEALTHCHECK CMD")
            test = ["CMD", *js]
        else:
            if not cmd_rest.strip():
                raise _Err("Missing command after HEALTHCHECK CMD")
            test = ["CMD-SHELL", cmd_rest.strip()]
        durs = {}
        for flag in ("interval", "timeout", "start-period", "start-interval"):
            s = v[flag]
            d = 0 if not s else parse_duration(s)
            if d < 0:
                raise _Err(f"Interval \"{flag}\" cannot be negative")
            if 0 < d < 1_000_000:
                raise _Err(f"Interval \"{flag}\" cannot be less than 1ms")
            durs[flag.replace("-", "_")] = d
        retries = 0
        if v["retries"]:
            try:
                retries = int(v["retries"], 10)
                if not -(1 << 31) <= retries < (1 << 31):
                    raise ValueError
            except ValueError:
                raise _Err(f"strconv.ParseInt: parsing \"{v['retries']}\": invalid syntax") from None
            if retries < 0:
                raise _Err(f"--retries cannot be negative ({retries})")
        return Healthcheck(test=test, retries=retries, **durs, **self._base(node))


def parse(text: str, *, filename: str = "Dockerfile", build_args: dict[str, str] | None = None,
          platform: str | None = None, build_platform: str | None = None,
          image_env: Callable[[str], Mapping[str, str]] | None = None) -> Dockerfile:
    """Parse a Dockerfile. ``build_args`` are ``--build-arg`` values; ``platform`` the target
    platform (default: this machine). ``image_env(image)`` may give a base image's config ENV so
    that ``$PATH`` and friends expand as BuildKit does at dispatch time (without it, a base
    image's ENV is unknown and such variables expand to ""; a stage built ``FROM`` an earlier
    stage always sees that stage's ENV). Raises :class:`DockerfileError`."""
    build_args = dict(build_args or {})
    directives, escape, nodes = _nodes(text, filename)
    if not nodes:
        raise DockerfileError("file with no instructions", filename=filename)
    predefined = predefined_args(platform, build_platform)
    p = _Parser(filename, escape, build_args, predefined)
    meta_args: list[Arg] = []
    stages: list[Stage] = []
    stage_env: dict[str, dict[str, str]] = {}     # ENV by stage name, for FROM <stage>
    cur: Stage | None = None
    args: dict[str, str] = {}
    envs: dict[str, str] = {}
    for node in nodes:
        try:
            kw = node.cmd.lower()
            if cur is None and kw not in ("from", "arg"):
                if kw not in INSTRUCTIONS:
                    p.instruction(node, {})  # unknown instruction error first
                raise _Err("no build stage in current context")
            if kw == "from":
                ins = p.instruction(node, {})
                assert isinstance(ins, From)
                if ins.name is not None and any(s.name == ins.name for s in stages):
                    raise _Err(f"duplicate stage name \"{ins.name}\"")
                cur = Stage(index=len(stages), name=ins.name, from_=ins)
                stages.append(cur)
                args = {}
                if ins.image.lower() in stage_env:
                    envs = dict(stage_env[ins.image.lower()])
                else:
                    envs = dict(image_env(ins.image)) if image_env is not None else {}
                if cur.name:
                    stage_env[cur.name] = dict(envs)
                continue
            if kw == "arg":
                scope_env = {**predefined, **p.meta_values} if cur is None else {**args, **envs}
                declared = p.instruction(node, scope_env)
                assert isinstance(declared, list)
                resolved = []
                for a in declared:
                    name = p.word(a.name, scope_env)
                    default = p.word(a.default, scope_env) if a.default is not None else None
                    if name in build_args:
                        value: str | None = build_args[name]
                    elif default is not None:
                        value = default
                    elif cur is None:
                        value = predefined.get(name)
                    elif name in p.meta_values:
                        value = p.meta_values[name]
                    else:
                        value = predefined.get(name)
                    resolved.append(a.replace(name=name, default=default, value=value))
                for a in resolved:
                    if cur is None:
                        meta_args.append(a)
                        if a.value is not None:
                            p.meta_values[a.name] = a.value
                        else:
                            p.meta_values.pop(a.name, None)
                    else:
                        cur.instructions.append(a)
                        if a.value is not None:
                            args[a.name] = a.value
                continue
            assert cur is not None
            ins = p.instruction(node, {**args, **envs})
            assert isinstance(ins, Instruction)
            cur.instructions.append(ins)
            if isinstance(ins, Env):
                for k, v in ins.pairs:
                    envs[k] = v
                if cur.name:
                    stage_env[cur.name] = dict(envs)
        except _Err as e:
            raise DockerfileError(str(e), filename=filename, line=node.start) from None
        except DockerfileError:
            raise
        except Exception as e:  # never a traceback for bad input
            raise DockerfileError(f"cannot parse {node.cmd.upper()}: {e}", filename=filename,
                                  line=node.start) from e
    if not stages:
        raise DockerfileError("no build stage in current context", filename=filename,
                              line=nodes[-1].start)
    return Dockerfile(filename=filename, stages=stages, meta_args=meta_args, escape=escape,
                      syntax=directives.get("syntax"), directives=directives)


def parse_file(path: str, *, build_args: dict[str, str] | None = None, **kw: Any) -> Dockerfile:
    """Read and parse ``path`` (the file name in errors is its basename)."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except OSError as e:
        raise DockerfileError(f"cannot read: {e.strerror}", filename=os.path.basename(path)) from e
    return parse(text, filename=os.path.basename(path), build_args=build_args, **kw)
