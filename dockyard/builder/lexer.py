"""BuildKit's shell lexer (``shell/lex.go``) for Dockerfile variable substitution, and the
Dockerfile parser's errors (`DockerfileError` with ``FILE:LINE: reason``, `LexError` without a
position, `StageNotFound`)."""

from __future__ import annotations

import fnmatch

from dockyard import errors


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
            raise LexError("substitution nested too deeply") from None

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
            raise LexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out), words.get(), found

    def _single(self, sc: _Scanner) -> str:
        sc.next()
        out = ["'"] if self.raw_quotes else []
        while True:
            ch = sc.next()
            if ch == "":
                raise LexError("unexpected end of statement while looking for matching single-quote")
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
                raise LexError("unexpected end of statement while looking for matching double-quote")
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
        except LexError:
            if sc.peek() == "":
                raise LexError("syntax error: missing '}'") from None
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
            raise LexError("syntax error: missing '}'")
        if p in "{}:":
            raise LexError("syntax error: bad substitution")
        name = self._name(sc)
        ch = sc.next()
        is_set = name in env
        value = env.get(name, "")
        if ch == "}":
            if not is_set and self.skip_unset:
                return "${%s}" % name
            return value
        if ch == "":
            raise LexError("syntax error: missing '}'")
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
                    raise LexError(f"{name}: {word or 'is not allowed to be unset'}")
                if not value:
                    raise LexError(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            raise LexError(f"unsupported modifier ({mod}) in substitution")
        if ch in "+-?":
            word = self._word_until_brace(sc, env)
            if self.skip_unset and not is_set:
                return "${%s%s%s}" % (name, ch, word)
            if ch == "+":
                return word if is_set else ""
            if ch == "-":
                return value if is_set else word
            if not is_set:
                raise LexError(f"{name}: {word or 'is not allowed to be unset'}")
            return value
        if ch in "#%":
            longest = sc.peek() == ch
            if longest:
                sc.next()
            pattern = self._word_until_brace(sc, env)
            if self.skip_unset and not is_set:
                return "${%s%s%s}" % (name, ch * (2 if longest else 1), pattern)
            return _trim(value, pattern, prefix=ch == "#", longest=longest)
        raise LexError(f"unsupported modifier ({ch}) in substitution")


def _trim(value: str, pattern: str, *, prefix: bool, longest: bool) -> str:
    rng = range(len(value), -1, -1) if longest else range(len(value) + 1)
    for n in rng:
        part = value[:n] if prefix else value[len(value) - n:]
        if fnmatch.fnmatchcase(part, pattern):
            return value[n:] if prefix else value[:len(value) - n]
    return value
