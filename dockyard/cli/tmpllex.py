"""The lexer of Go's text/template (``{{ … }}`` actions, trim markers, literals), as its
``parse/lex.go`` reads a template."""

from __future__ import annotations

import re

from dockyard.cli.govalues import go_quote

# Tokens are (kind, text, pos). Kinds: text {{ }} space field var dot ident kw bool nil num char
# str raw ( ) | := = chr eof error. An error token ends the stream; the parser reports it when it
# gets there, so errors come out in the same order as Go's.

_SP = " \t\r\n"
_WORD = re.compile(r"\w*")
_NUMBER = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+"
                     r"|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)")
_KEYWORDS = {"if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"}


def _rune(c: str) -> str:
    return f"U+{ord(c):04X} {go_quote(c, chr(39))}"


def _right_delim(src: str, k: int) -> tuple[int | None, bool]:
    """(end, trim) if "}}" or " -}}" starts at k, else (None, False)."""
    if src.startswith("}}", k):
        return k + 2, False
    if k < len(src) and src[k] in _SP and src.startswith("-}}", k + 1):
        return k + 4, True
    return None, False


def _at_terminator(src: str, k: int) -> bool:
    return k >= len(src) or src[k] in _SP or src[k] in ".,|:()" or src.startswith("}}", k)


def _scan_quote(src: str, start: int) -> int | None:
    q, k = src[start], start + 1
    while k < len(src):
        c = src[k]
        if q != "`" and c == "\\":
            if k + 1 >= len(src) or src[k + 1] == "\n":
                return None
            k += 2
            continue
        if q != "`" and c == "\n":
            return None
        if c == q:
            return k + 1
        k += 1
    return None


def lex(src: str) -> list[tuple]:
    toks: list[tuple] = []
    i, n, trim = 0, len(src), False
    while True:
        j = src.find("{{", i)
        text = src[i:] if j < 0 else src[i:j]
        if trim:
            text = text.lstrip(_SP)
        ltrim = j >= 0 and src.startswith("-", j + 2) and j + 3 < n and src[j + 3] in _SP
        if ltrim:
            text = text.rstrip(_SP)
        if text:
            toks.append(("text", text, i))
        if j < 0:
            toks.append(("eof", "", n))
            return toks
        k = j + (4 if ltrim else 2)
        if src.startswith("/*", k):  # a comment is a whole action: {{/* ... */}}
            e = src.find("*/", k + 2)
            if e < 0:
                toks.append(("error", "unclosed comment", k))
                return toks
            i, trim = _right_delim(src, e + 2)
            if i is None:
                toks.append(("error", "comment ends before closing delimiter", e))
                return toks
            continue
        toks.append(("{{", "{{", j))
        i, trim = _lex_action(src, k, toks)
        if i is None:
            return toks


def _lex_action(src: str, k: int, toks: list) -> tuple[int | None, bool]:
    n, depth = len(src), 0

    def fail(msg: str, at: int):
        toks.append(("error", msg, at))
        return None, False

    while True:
        end, trim = _right_delim(src, k)
        if end is not None:
            if depth:
                return fail("unclosed left paren", k)
            toks.append(("}}", "}}", k))
            return end, trim
        if k >= n:
            return fail("unclosed action", k)
        start, c = k, src[k]
        k += 1
        if c in _SP:
            while k < n and src[k] in _SP and _right_delim(src, k)[0] is None:
                k += 1
            kind = "space"
        elif c in "=|(":
            kind = c
            depth += c == "("
        elif c == ")":
            depth -= 1
            if depth < 0:
                return fail("unexpected right paren U+0029 ')'", start)
            kind = ")"
        elif c == ":":
            if not src.startswith("=", k):
                return fail("expected :=", start)
            k, kind = k + 1, ":="
        elif c in "\"'`":
            k = _scan_quote(src, start)
            if k is None:
                what = {'"': "quoted string", "`": "raw quoted string", "'": "character constant"}
                return fail(f"unterminated {what[c]}", start)
            kind = {'"': "str", "'": "char", "`": "raw"}[c]
        elif c == "$" or (c == "." and not src[k:k + 1].isdigit()):
            k = _WORD.match(src, k).end()
            kind = ("var" if c == "$" else "field") if k > start + 1 else ("var" if c == "$" else "dot")
        elif c in "+-." or c.isdigit():
            m = _NUMBER.match(src, start)
            if not m or (m.end() < n and (src[m.end()].isalnum() or src[m.end()] == "_")):
                return fail(f"bad number syntax: {go_quote(src[start:m.end() + 1 if m else k])}", start)
            k, kind = m.end(), "num"
        elif c == "_" or c.isalpha():
            k = _WORD.match(src, k).end()
            word = src[start:k]
            kind = ("bool" if word in ("true", "false") else "nil" if word == "nil"
                    else "kw" if word in _KEYWORDS else "ident")
        elif c.isascii() and c.isprintable():
            kind = "chr"
        else:
            return fail(f"unrecognized character in action: {_rune(c)}", start)
        if kind in ("var", "field", "dot", "ident", "kw", "bool", "nil") and not _at_terminator(src, k):
            return fail(f"bad character {_rune(src[k])}", k)
        toks.append((kind, src[start:k], start))
