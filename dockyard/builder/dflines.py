"""Line-level Dockerfile parsing (BuildKit's ``parser`` package): parser directives, comments and
line continuations, heredocs, instruction flags and words; the text becomes `Node`s, one per
instruction."""

from __future__ import annotations

import json
import re

from dockyard.builder.instructions import Heredoc
from dockyard.builder.lexer import DockerfileError, LexError, Lexer
from dockyard.record import record


_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")
_HEREDOC = re.compile(r"^(\d*)<<(-?)([^<]*)$")
_HEREDOC_CMDS = ("run", "copy", "add")
STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")
INSTRUCTIONS = ("add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck",
                "label", "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume",
                "workdir")


@record(frozen=False)
class Node:
    cmd: str            # as written
    flags: list[str]
    rest: str
    original: str
    start: int
    end: int
    heredocs: list[Heredoc]


def extract_flags(line: str) -> tuple[str, list[str]]:
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


def parse_words(rest: str, escape: str) -> list[str]:
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


def maybe_json(rest: str) -> list[str] | None:
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
    except LexError:
        return []
    out = []
    for w in words:
        m = _HEREDOC.match(w)
        if not m or not m.group(3):
            continue
        raw_name = m.group(3)
        try:
            name = Lexer("\\", skip_unset=True).process_word(raw_name, {})
        except LexError:
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


def read_nodes(text: str, filename: str) -> tuple[dict[str, str], str, list[Node]]:
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
    nodes: list[Node] = []
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
        rest, flags = extract_flags(parts[1]) if len(parts) > 1 else ("", [])
        heredocs: list[Heredoc] = []
        if cmd.lower() in _HEREDOC_CMDS and maybe_json(rest) is None:
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
        nodes.append(Node(cmd, flags, rest, original, start, end, heredocs))
    return directives, escape, nodes
