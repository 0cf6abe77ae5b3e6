"""Go's text/template, the language of docker's ``--format``.

    render(fmt, obj)                    docker inspect -f: one template over JSON-like data
    split_table(fmt)                    docker's "table" / "json" keys and its \\t, \\n escapes
    render_table(fmt, rows, headers)    docker ps/images --format: rows, header, tabwriter layout

Data is what ``json.loads`` gives (dicts, lists, str, int, float, bool, None). A dict stands for
a Go struct and a Go map alike: ``.Field`` looks a key up, and a missing key prints
``<no value>`` (Go's map behaviour), as does any field of None. A dict value that is callable
is called like a Go method, with the template's arguments (``{{.Label "x"}}``). Values print as
Go's fmt prints them (``[a b]``, ``map[k:v]`` sorted by key, ``<nil>``, ``true``). ``json`` is
docker's: compact, no HTML escaping (docker calls SetEscapeHTML(false)), dict order kept, which
is a struct's field order; sort map-like dicts (labels) when building them, as Go sorts map keys.

Errors are InvalidArgument worded as docker words them: ``template parsing error: template:
:1: unexpected "}" in operand`` for syntax, ``... template: :1:2: executing "" at <.X>: ...``
while running.
"""

from __future__ import annotations

import re

from dockyard.errors import InvalidArgument

__all__ = ["GoMap", "render", "render_table", "split_table", "go_str", "go_json", "tabwrite"]


class _Missing:
    """Go's invalid reflect.Value: what a missing map key evaluates to."""

    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()


class GoMap(dict):
    """A dict that stands for a Go map even in a strict render: a missing key is ``<no value>``
    (labels, options, port maps), where a struct-like dict's missing key is an error."""
_NOFINAL = object()  # no value piped into a command

# -- lexer ------------------------------------------------------------------------------------
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


def _lex(src: str) -> list[tuple]:
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


# -- parse tree -------------------------------------------------------------------------------

class _Node:
    __slots__ = ()

    def __init__(self, *values):
        for i, name in enumerate(self.__slots__):
            setattr(self, name, values[i] if i < len(values) else None)


class _Action(_Node):
    __slots__ = ("pos", "pipe")


class _Control(_Node):  # if / with / range
    __slots__ = ("kind", "pos", "pipe", "body", "else_body")


class _Pipe(_Node):
    __slots__ = ("pos", "decl", "assign", "cmds")

    def __str__(self):
        decl = ", ".join(self.decl) + (" = " if self.assign else " := ") if self.decl else ""
        return decl + " | ".join(map(str, self.cmds))


class _Cmd(_Node):
    __slots__ = ("pos", "args")

    def __str__(self):
        return " ".join(f"({a})" if type(a) is _Pipe else str(a) for a in self.args)


class _Ref(_Node):
    """A field chain on a receiver: .A.B (head None: dot), $x.A (head "$x"), (pipe).A or fn.A."""
    __slots__ = ("pos", "head", "names")

    def __str__(self):
        head = self.head or ""
        head = f"({head})" if type(head) is _Pipe else str(head)
        return head + "".join("." + n for n in self.names)


class _Leaf(_Node):  # function name, ".", nil or a literal; text is the source spelling
    __slots__ = ("pos", "kind", "text", "value")

    def __str__(self):
        return self.text


class _Marker:
    def __init__(self, text):
        self.text = text

    def __str__(self):
        return self.text


_END, _ELSE = _Marker("{{end}}"), _Marker("{{else}}")
_BREAK, _CONTINUE = _Marker("{{break}}"), _Marker("{{continue}}")
_UNESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def _unquote(text: str) -> str:
    """strconv.Unquote for "…", `…` and '…'."""
    q, body = text[0], text[1:-1]
    if q == "`":
        return body
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _UNESC or e == q:
            out.append(_UNESC.get(e, e))
            i += 2
        elif e in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2:i + 2 + size]
            if len(digits) != size or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError
            out.append(chr(int(digits, 16)))
            i += 2 + size
        elif e in "01234567":
            digits = body[i + 1:i + 4]
            if len(digits) != 3 or not all(d in "01234567" for d in digits):
                raise ValueError
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise ValueError
    return "".join(out)


def _tokstr(t: tuple) -> str:
    kind, val = t[0], t[1]
    if kind == "eof":
        return "EOF"
    if kind == "error":
        return val
    if kind in ("kw", "nil", "dot"):
        return f"<{val}>"
    return go_quote(val[:10]) + "..." if len(val) > 10 else go_quote(val)


class _Parser:
    def __init__(self, src: str):
        self.src, self.toks, self.i = src, _lex(src), 0
        self.vars, self.range_depth, self.pos = ["$"], 0, 0

    def peek(self):
        t = self.toks[self.i]
        self.pos = t[2]
        return t

    def next(self):
        t = self.peek()
        if t[0] not in ("eof", "error"):
            self.i += 1
        return t

    def peek_ns(self):
        while self.peek()[0] == "space":
            self.i += 1
        return self.peek()

    def next_ns(self):
        self.peek_ns()
        return self.next()

    def error(self, msg: str):
        line = self.src.count("\n", 0, self.pos) + 1
        raise InvalidArgument(f"template parsing error: template: :{line}: {msg}")

    def unexpected(self, tok, context: str):
        self.error(f"unexpected {_tokstr(tok)} in {context}")

    def expect(self, kind: str, context: str):
        t = self.next_ns()
        if t[0] != kind:
            self.unexpected(t, context)
        return t

    def parse(self) -> list:
        nodes = []
        while self.peek()[0] != "eof":
            n = self.text_or_action()
            if n is _END or n is _ELSE:
                self.error(f"unexpected {n}")
            nodes.append(n)
        return nodes

    def item_list(self):
        nodes = []
        while self.peek_ns()[0] != "eof":
            n = self.text_or_action()
            if n is _END or n is _ELSE:
                return nodes, n
            nodes.append(n)
        self.error("unexpected EOF")

    def text_or_action(self):
        t = self.next_ns()
        if t[0] == "text":
            return t[1]  # text is a plain str in the tree
        if t[0] == "{{":
            return self.action()
        self.unexpected(t, "input")

    def action(self):
        save = self.i
        t = self.next_ns()
        if t[0] == "kw":
            kw = t[1]
            if kw in ("if", "with", "range"):
                return self.control(kw, t[2])
            if kw == "end":
                self.expect("}}", "end")
                return _END
            if kw == "else":
                p = self.peek_ns()
                if not (p[0] == "kw" and p[1] in ("if", "with")):  # {{else if …}} is {{else}}{{if …}}
                    self.expect("}}", "else")
                return _ELSE
            if kw in ("break", "continue"):
                t2 = self.next_ns()
                if t2[0] != "}}":
                    self.unexpected(t2, "{{%s}}" % kw)
                if not self.range_depth:
                    self.error("{{%s}} outside {{range}}" % kw)
                return _BREAK if kw == "break" else _CONTINUE
            self.error("{{%s}} is not supported" % kw)
        self.i = save
        return _Action(self.peek_ns()[2], self.pipeline("command"))

    def control(self, kind: str, pos: int):
        nvars = len(self.vars)
        pipe = self.pipeline(kind)
        self.range_depth += kind == "range"
        body, nxt = self.item_list()
        self.range_depth -= kind == "range"
        else_body = None
        if nxt is _ELSE:
            p = self.peek()
            if kind != "range" and p[0] == "kw" and p[1] == kind:  # else if / else with
                self.next()
                else_body = [self.control(kind, p[2])]
            else:
                else_body, nxt = self.item_list()
                if nxt is not _END:
                    self.error(f"expected end; found {nxt}")
        del self.vars[nvars:]
        return _Control(kind, pos, pipe, body, else_body)

    def pipeline(self, context: str) -> _Pipe:
        pos, decl, assign = self.peek_ns()[2], [], False
        while True:  # declarations: $x := …, $x = …, range $i, $e := …
            save = self.i
            v = self.peek_ns()
            if v[0] != "var":
                break
            self.next()
            nxt = self.peek_ns()
            if nxt[0] in (":=", "="):
                assign = nxt[0] == "="
                self.next()
                decl.append(v[1])
                self.vars.append(v[1])
                break
            if nxt[0] == "chr" and nxt[1] == ",":
                self.next()
                decl.append(v[1])
                self.vars.append(v[1])
                if context == "range" and len(decl) < 2:
                    if self.peek_ns()[0] in ("var", "}}", ")"):
                        continue
                    self.error("range can only initialize variables")
                self.error(f"too many declarations in {context}")
            self.i = save
            break
        cmds = []
        while True:
            t = self.next_ns()
            if t[0] in ("}}", ")"):
                if not cmds:
                    self.error(f"missing value for {context}")
                for k, c in enumerate(cmds[1:]):
                    if type(c.args[0]) is _Leaf and c.args[0].kind != "ident":
                        self.error(f"non executable command in pipeline stage {k + 2}")
                if t[0] == ")":
                    self.i -= 1
                return _Pipe(pos, decl, assign, cmds)
            if t[0] in ("bool", "char", "dot", "field", "ident", "num", "nil", "raw", "str", "var", "("):
                self.i -= 1
                cmds.append(self.command())
            else:
                self.unexpected(t, context)

    def command(self) -> _Cmd:
        cmd = _Cmd(self.peek_ns()[2], [])
        while True:
            self.peek_ns()
            op = self.operand()
            if op is not None:
                cmd.args.append(op)
            t = self.next()
            if t[0] == "space":
                continue
            if t[0] == "error":
                self.error(t[1])
            if t[0] in ("}}", ")"):
                self.i -= 1
            elif t[0] != "|":
                self.error(f"unexpected {_tokstr(t)} in operand")
            break
        if not cmd.args:
            self.error("empty command")
        return cmd

    def operand(self):
        node = self.term()
        if node is None or self.peek()[0] != "field":
            return node
        pos, names = self.peek()[2], []
        while self.peek()[0] == "field":
            names.append(self.next()[1][1:])
        if type(node) is _Ref:  # .A.B or $x.A.B
            return _Ref(node.pos, node.head, node.names + names)
        if type(node) is _Leaf and node.kind != "ident":
            self.error(f"unexpected . after term {go_quote(str(node))}")
        return _Ref(pos, node, names)

    def term(self):
        save = self.i
        kind, val, pos = t = self.next_ns()
        if kind == "error":
            self.error(val)
        if kind == "ident":
            if val not in _FUNCS:
                self.error(f"function {go_quote(val)} not defined")
            return _Leaf(pos, "ident", val)
        if kind in ("dot", "nil"):
            return _Leaf(pos, kind, val)
        if kind == "var":
            if val not in self.vars:
                self.error(f"undefined variable {go_quote(val)}")
            return _Ref(pos, val, [])
        if kind == "field":
            return _Ref(pos, None, [val[1:]])
        if kind == "bool":
            return _Leaf(pos, "lit", val, val == "true")
        if kind in ("num", "char", "str", "raw"):
            return _Leaf(pos, "lit", val, self.literal(t))
        if kind == "(":
            pipe = self.pipeline("parenthesized pipeline")
            t2 = self.next()
            if t2[0] != ")":
                self.error(f"unclosed right paren: unexpected {_tokstr(t2)}")
            return pipe
        self.i = save
        return None

    def literal(self, t):
        kind, text = t[0], t[1]
        try:
            if kind in ("str", "raw"):
                return _unquote(text)
            if kind == "char":
                c = _unquote(text)
                if len(c) != 1:
                    raise ValueError
                return ord(c)
            if re.match(r"[+-]?0[xXbBoO]", text):
                return int(text, 0)
            if re.search(r"[.eE]", text):
                return float(text)
            return int(text, 8) if re.fullmatch(r"[+-]?0[0-7_]+", text) else int(text)
        except ValueError:
            self.error("invalid syntax" if kind in ("str", "char") else f"illegal number syntax: {go_quote(text)}")


# -- values as Go prints them -----------------------------------------------------------------

def _type(v) -> str:
    if v is None or v is MISSING:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    return type(v).__name__


def _sorted_items(d: dict) -> list:
    try:
        return sorted(d.items(), key=lambda kv: kv[0])
    except TypeError:
        return sorted(d.items(), key=lambda kv: str(kv[0]))


def _go_float(f: float, json: bool = False) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64) as fmt's %v uses it, or encoding/json's spelling."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    sign = "-" if repr(f).startswith("-") else ""
    if f == 0:
        d, dp = "0", 1
    else:  # repr gives the shortest round-tripping digits, as Go's shortest formatting does
        mant, _, exp = repr(abs(f)).partition("e")
        ip, _, fp = mant.partition(".")
        digits = (ip + fp).lstrip("0")
        dp = len(ip) + int(exp or 0) - (len(ip + fp) - len(digits))
        d = digits.rstrip("0")
    x = dp - 1
    use_e = (f != 0 and (abs(f) < 1e-6 or abs(f) >= 1e21)) if json else (x < -4 or x >= 6)
    if use_e:
        es = f"{'-' if x < 0 else '+'}{abs(x):02d}"
        if json and es.startswith("-0"):
            es = "-" + es[2:]
        return f"{sign}{d[0]}{'.' + d[1:] if len(d) > 1 else ''}e{es}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{d}"
    if dp >= len(d):
        return sign + d + "0" * (dp - len(d))
    return f"{sign}{d[:dp]}.{d[dp:]}"


def go_str(v) -> str:
    """fmt.Sprint(v): what {{.X}} prints."""
    v = _value(v)
    if v is MISSING or v is _NOFINAL:
        return "<no value>"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return str(v)
    if isinstance(v, int):
        return "%d" % v
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(map(go_str, v)) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{go_str(k)}:{go_str(x)}" for k, x in _items(v, True)) + "]"
    return str(v)


_QESC = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
         "\\": "\\\\"}


def go_quote(s: str, q: str = '"') -> str:
    """strconv.Quote (or QuoteRune with q="'")."""
    out = [q]
    for c in s:
        o = ord(c)
        if c in _QESC:
            out.append(_QESC[c])
        elif c == q:
            out.append("\\" + q)
        elif c.isprintable():
            out.append(c)
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        else:
            out.append(("\\u%04x" if o < 0x10000 else "\\U%08x") % o)
    return "".join(out) + q


def _value(v):
    """Data may hold methods (callables); printing a whole object uses the argument-free ones."""
    if not callable(v):
        return v
    try:
        return v()
    except TypeError:
        return _NOFINAL


def _items(d: dict, ordered: bool):
    items = _sorted_items(d) if ordered else d.items()
    return [(k, x) for k, x in ((k, _value(x)) for k, x in items) if x is not _NOFINAL]


class _Unsupported(Exception):
    pass


_JSON_ESC = re.compile("[\"\\\\\x00-\x1f\u2028\u2029\ud800-\udfff]")
_JSON_MAP = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_HTML_ESC = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def _json_str(s: str, escape_html: bool) -> str:
    def one(m):
        c = m.group()
        if "\ud800" <= c <= "\udfff":
            return "\ufffd"  # Go writes invalid UTF-8 as U+FFFD
        return _JSON_MAP.get(c) or "\\u%04x" % ord(c)

    s = _JSON_ESC.sub(one, s)
    if escape_html:
        s = re.sub("[<>&]", lambda m: _HTML_ESC[m.group()], s)
    return '"' + s + '"'


def go_json(v, escape_html: bool = False) -> str:
    """encoding/json's compact encoding (escape_html=False, as docker's ``json`` function)."""
    v = _value(v)
    if v is None or v is MISSING or v is _NOFINAL:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return "%d" % v
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise _Unsupported(v)
        return _go_float(v, json=True)
    if isinstance(v, str):
        return _json_str(v, escape_html)
    if isinstance(v, dict):
        return "{" + ",".join(_json_str(str(k), escape_html) + ":" + go_json(x, escape_html)
                              for k, x in _items(v, False)) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(go_json(x, escape_html) for x in v) + "]"
    return _json_str(str(v), escape_html)


# -- printf -----------------------------------------------------------------------------------

_VERB = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d*))?(.|$)", re.S)


def _pad(s: str, flags: str, width: int) -> str:
    if len(s) >= width:
        return s
    if "-" in flags:
        return s.ljust(width)
    return s.rjust(width, "0" if "0" in flags else " ")


def _fmt_one(v, flags: str, width: int, prec: int | None, verb: str) -> str:
    """One fmt verb applied to one value, with Go's %!verb(type=value) for a wrong type."""
    v = _value(v)
    if verb == "T":
        return _pad(_type(v), flags, width)
    if isinstance(v, (list, tuple)):  # Go formats slices and maps element by element
        return "[" + " ".join(_fmt_one(e, flags, width, prec, verb) for e in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(_fmt_one(k, flags, width, prec, verb) + ":" + _fmt_one(x, flags, width, prec, verb)
                                 for k, x in _sorted_items(v)) + "]"
    spec = "%" + flags + (str(width) if width else "") + ("" if prec is None else "." + str(prec))
    if v is None or v is MISSING:
        if verb == "v":
            return _pad("<nil>", flags, width)
    elif isinstance(v, bool):
        if verb in "tv":
            return _pad("true" if v else "false", flags, width)
    elif isinstance(v, int):
        if verb in "vdxXo":
            return (spec + ("d" if verb == "v" else verb)) % v
        if verb == "b":
            return _pad(format(v, "b"), flags, width)
        if verb in "cq" and 0 <= v <= 0x10FFFF:
            return _pad(chr(v) if verb == "c" else go_quote(chr(v), "'"), flags, width)
        if verb == "U":
            return _pad("U+%04X" % v, flags, width)
    elif isinstance(v, float):
        if verb in "vgG" and prec is None:
            s = _go_float(v)
            s = s.upper() if verb == "G" else s
            return _pad("+" + s if "+" in flags and s[0] not in "+-" else s, flags, width)
        if verb in "eEfFgG":  # Go's default precision for %e and %f is 6, as Python's
            return (spec + ("" if prec is not None else ".6") + verb) % v
    elif isinstance(v, str):
        s = v if prec is None else v[:prec]
        if verb in "sv":
            return _pad(s, flags, width)
        if verb == "q":
            return _pad(go_quote(s), flags, width)
        if verb in "xX":
            h = s.encode("utf-8", "surrogatepass").hex()
            return _pad(h.upper() if verb == "X" else h, flags, width)
    elif verb in "sv":
        return _pad(str(v), flags, width)
    return f"%!{verb}(<nil>)" if v is None or v is MISSING else f"%!{verb}({_type(v)}={go_str(v)})"


def _printf(fmt: str, *args) -> str:
    out, pos, n = [], 0, 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, prec, verb = m.groups()
        if verb == "%":
            out.append("%")
        elif not verb:
            out.append("%!(NOVERB)")
        elif n >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(_fmt_one(args[n], flags, int(width or 0), None if prec is None else int(prec or 0), verb))
            n += 1
    out.append(fmt[pos:])
    if n < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{_type(a)}={go_str(a)}" for a in args[n:]) + ")")
    return "".join(out)


# -- functions: Go's builtins and docker's --------------------------------------------------

class _FuncError(Exception):
    pass


def _truth(v) -> bool:
    if v is None or v is MISSING:
        return False
    if isinstance(v, (bool, int, float, str, list, tuple, dict)):
        return bool(v)
    return True


def _kind(v):
    if v is None or v is MISSING:
        return None
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"  # Go refuses int vs float64; JSON-born data mixes them, so we don't
    return "string" if isinstance(v, str) else "other"


def _eq(a, *others) -> bool:
    if not others:
        raise _FuncError("missing argument for comparison")
    ka = _kind(a)
    for b in others:
        kb = _kind(b)
        if ka != kb:
            if ka is not None and kb is not None:
                raise _FuncError("incompatible types for comparison")
            continue  # nil against a value: not equal
        if ka == "other":
            raise _FuncError(f"non-comparable type {go_str(b)}: {_type(b)}")
        if a == b:
            return True
    return False


def _lt(a, b) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka not in ("number", "string") or kb not in ("number", "string"):
        raise _FuncError("invalid type for comparison")
    if ka != kb:
        raise _FuncError("incompatible types for comparison")
    return a < b


def _index(item, *keys):
    if item is None:
        raise _FuncError("index of untyped nil")
    for k in keys:
        if item is None:
            raise _FuncError("index of nil pointer")
        if isinstance(item, dict):
            item = item.get(k, "")  # docker's maps are map[string]string mostly: zero value ""
        elif isinstance(item, (list, tuple, str)):
            if isinstance(k, bool) or not isinstance(k, int):
                raise _FuncError(f"cannot index slice/array with type {_type(k)}")
            seq = item.encode("utf-8", "surrogatepass") if isinstance(item, str) else item
            if not 0 <= k < len(seq):
                raise _FuncError(f"index out of range: {k}")
            item = seq[k]
        else:
            raise _FuncError(f"can't index item of type {_type(item)}")
    return item


def _slice(item, *idx):
    if item is None:
        raise _FuncError("slice of untyped nil")
    if not isinstance(item, (str, list, tuple)):
        raise _FuncError(f"can't slice item of type {_type(item)}")
    if len(idx) > 3 or (isinstance(item, str) and len(idx) == 3):
        raise _FuncError(f"too many slice indexes: {len(idx)}" if len(idx) > 3 else "cannot 3-index slice a string")
    for i in idx:
        if isinstance(i, bool) or not isinstance(i, int):
            raise _FuncError(f"cannot index slice/array with type {_type(i)}")
        if not 0 <= i <= len(item):
            raise _FuncError(f"index out of range: {i}")
    lo, hi = (idx[0] if idx else 0), (idx[1] if len(idx) > 1 else len(item))
    if lo > hi:
        raise _FuncError(f"invalid slice index: {lo} > {hi}")
    return item[lo:hi]


def _len(v) -> int:
    if isinstance(v, str):
        return len(v.encode("utf-8", "surrogatepass"))
    if isinstance(v, (list, tuple, dict)):
        return len(v)
    raise _FuncError("len of untyped nil" if v is None else f"len of type {_type(v)}")


def _print(*args) -> str:
    out = []
    for i, a in enumerate(args):  # Sprint: a space between operands when neither is a string
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_str(a))
    return "".join(out)


def _json(v) -> str:
    try:
        return go_json(v)
    except _Unsupported:
        return ""  # docker ignores the encoder's error and prints nothing


def _title(s: str) -> str:
    """strings.Title: upper-case the first letter of each word."""
    def sep(c):
        if c.isascii():
            return not (c.isalnum() or c == "_")
        return not (c.isalpha() or c.isdigit()) and c.isspace()

    out, prev = [], " "
    for c in s:
        out.append(c.title() if sep(prev) and len(c.title()) == 1 else c)
        prev = c
    return "".join(out)


def _truncate(s: str, n: int) -> str:
    if n < 0:
        raise _FuncError(f"runtime error: slice bounds out of range [:{n}]")
    return s if len(s) < n else s[:n]


def _text_args(args) -> str:
    return args[0] if len(args) == 1 and isinstance(args[0], str) else _print(*args)


def _html(*args) -> str:
    table = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&#39;", '"': "&#34;", "\0": "\ufffd"}
    return "".join(table.get(c, c) for c in _text_args(args))


def _js(*args) -> str:
    table = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}
    return "".join(table.get(c) or (c if c.isprintable() else "\\u%04X" % ord(c)) for c in _text_args(args))


def _urlquery(*args) -> str:
    from urllib.parse import quote_plus

    return quote_plus(_text_args(args), safe="")


# name -> (function, parameter types): s string, i int, l list, a anything; "x*" = any number of x
_FUNCS = {
    "and": (None, "aa*"), "or": (None, "aa*"),  # short-circuit, evaluated by _Exec.call
    "not": (lambda v: not _truth(v), "a"),
    "len": (_len, "a"), "index": (_index, "aa*"), "slice": (_slice, "aa*"),
    "eq": (_eq, "aa*"), "ne": (lambda a, b: not _eq(a, b), "aa"),
    "lt": (_lt, "aa"), "le": (lambda a, b: _lt(a, b) or _eq(a, b), "aa"),
    "gt": (lambda a, b: not (_lt(a, b) or _eq(a, b)), "aa"), "ge": (lambda a, b: not _lt(a, b), "aa"),
    "print": (_print, "a*"), "println": (lambda *a: " ".join(map(go_str, a)) + "\n", "a*"),
    "printf": (_printf, "sa*"), "html": (_html, "a*"), "js": (_js, "a*"), "urlquery": (_urlquery, "a*"),
    # docker/cli templates.basicFunctions
    "json": (_json, "a"), "split": (lambda s, sep: s.split(sep) if sep else list(s), "ss"),
    "join": (lambda items, sep: sep.join(map(go_str, items)), "ls"), "title": (_title, "s"),
    "lower": (str.lower, "s"), "upper": (str.upper, "s"),
    "pad": (lambda s, left, right: s and " " * left + s + " " * right, "sii"), "truncate": (_truncate, "si"),
}


def _first(v, *_):
    return v


# docker's HeaderFunctions: a table header keeps the column name intact
_HEADER_FUNCS = {**_FUNCS, "json": (_first, "s"), "split": (_first, "ss"), "join": (_first, "ss"),
                 "title": (_first, "s"), "lower": (_first, "s"), "upper": (_first, "s"),
                 "truncate": (_first, "si")}


# -- execution --------------------------------------------------------------------------------

class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def _plain(v):
    return None if v is MISSING else v


class _Exec:
    def __init__(self, src: str, funcs: dict, root, strict: str | None = None):
        self.src, self.funcs, self.out, self.vars = src, funcs, [], [["$", root]]
        self.strict = strict

    def fail(self, node, msg: str, pos: int | None = None):
        pos = node.pos if pos is None else pos
        line = self.src.count("\n", 0, pos) + 1
        col = pos - self.src.rfind("\n", 0, pos) - 1
        raise InvalidArgument(f'template parsing error: template: :{line}:{col}: executing "" at <{node}>: {msg}')

    def walk(self, dot, nodes: list):
        for n in nodes:
            t = type(n)
            if t is str:
                self.out.append(n)
            elif t is _Action:
                v = self.pipe(dot, n.pipe)
                if not n.pipe.decl:
                    self.out.append(go_str(v))
            elif n is _BREAK or n is _CONTINUE:
                raise _Break if n is _BREAK else _Continue
            elif n.kind == "range":
                self.walk_range(dot, n)
            else:  # if / with
                mark = len(self.vars)
                v = self.pipe(dot, n.pipe)
                if _truth(v):
                    self.walk(v if n.kind == "with" else dot, n.body)
                elif n.else_body is not None:
                    self.walk(dot, n.else_body)
                del self.vars[mark:]

    def walk_range(self, dot, n: _Control):
        mark = len(self.vars)
        v = self.pipe(dot, n.pipe, declare=False)
        if v is None or v is MISSING:
            items = []
        elif isinstance(v, (list, tuple)):
            items = list(enumerate(v))
        elif isinstance(v, dict):
            items = _sorted_items(v)
        elif isinstance(v, int) and not isinstance(v, bool):
            items = [(i, i) for i in range(v)]
        else:
            self.fail(n.pipe, f"range can't iterate over {go_str(v)}")
        decl = n.pipe.decl
        for key, elem in items:
            bind = [(decl[0], elem)] if len(decl) == 1 else list(zip(decl, (key, elem)))
            for name, value in bind:
                if n.pipe.assign:
                    self.set_var(n.pipe, name, value)
                else:
                    self.vars.append([name, value])
            try:
                self.walk(elem, n.body)
            except _Continue:
                pass
            except _Break:
                break
            finally:
                del self.vars[mark:]
        if not items and n.else_body is not None:
            self.walk(dot, n.else_body)
        del self.vars[mark:]

    def set_var(self, node, name: str, value):
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        self.fail(node, f"undefined variable: {name}")

    def pipe(self, dot, pipe: _Pipe, declare: bool = True):
        v = _NOFINAL
        for cmd in pipe.cmds:
            v = self.command(dot, cmd, v)
        if declare:
            for name in pipe.decl:
                if pipe.assign:
                    self.set_var(pipe, name, v)
                else:
                    self.vars.append([name, v])
        return v

    def command(self, dot, cmd: _Cmd, final):
        first = cmd.args[0]
        t = type(first)
        if t is _Ref:
            return self.ref(dot, first, cmd, final)
        if t is _Leaf and first.kind == "ident":
            return self.call(dot, first, cmd, final)
        if len(cmd.args) > 1 or final is not _NOFINAL:
            self.fail(first, f"can't give argument to non-function {first}")
        if t is _Pipe:
            return self.pipe(dot, first)
        if first.kind == "nil":
            self.fail(first, "nil is not a command")
        return dot if first.kind == "dot" else first.value

    def arg(self, dot, n):
        t = type(n)
        if t is _Ref:
            return self.ref(dot, n, None, _NOFINAL)
        if t is _Pipe:
            return self.pipe(dot, n)
        if n.kind == "ident":
            return self.call(dot, n, None, _NOFINAL)
        return dot if n.kind == "dot" else n.value  # nil's value is None

    def ref(self, dot, node: _Ref, cmd, final):
        """The receiver, then .A.B.C on it; only the last field gets the command's arguments."""
        if node.head is None:
            recv = dot
        elif type(node.head) is str:
            for name, recv in reversed(self.vars):
                if name == node.head:
                    break
            else:
                self.fail(node, f"undefined variable: {node.head}")
        else:
            recv = self.arg(dot, node.head)
        if not node.names:
            if (cmd and len(cmd.args) > 1) or final is not _NOFINAL:
                self.fail(node, f"can't give argument to non-function {node}")
            return recv
        for i, name in enumerate(node.names[:-1]):
            recv = self.field(dot, recv, node, name, None, _NOFINAL, i)
        return self.field(dot, recv, node, node.names[-1], cmd, final, len(node.names) - 1)

    def field(self, dot, recv, node, name: str, cmd, final, index: int = 0):
        argnodes = cmd.args[1:] if cmd else []
        if recv is None or recv is MISSING:
            return MISSING
        if not isinstance(recv, dict):
            self.fail(node, f"can't evaluate field {name} in type {_type(recv)}")
        v = recv.get(name, MISSING)
        if v is MISSING and self.strict and not isinstance(recv, GoMap):
            # Go reports the column of the field that failed, not of the chain
            head = node.head if type(node.head) is str else ""
            at = node.pos + len(head) + sum(len(n) + 1 for n in node.names[:index])
            if self.strict == "map":  # docker inspect's raw-JSON fallback: missingkey=error
                self.fail(node, f'map has no entry for key "{name}"', at)
            self.fail(node, f"can't evaluate field {name} in type {self.strict}", at)
        if callable(v):  # a method
            args = [_plain(self.arg(dot, a)) for a in argnodes]
            if final is not _NOFINAL:
                args.append(_plain(final))
            try:
                return v(*args)
            except (TypeError, ValueError) as e:
                self.fail(node, f"error calling {name}: {e}")
        if argnodes or final is not _NOFINAL:
            self.fail(node, f"{name} is not a method but has arguments")
        return v

    def call(self, dot, ident: _Leaf, cmd, final):
        name, argnodes = ident.text, (cmd.args[1:] if cmd else [])
        fn, params = self.funcs[name]
        if name in ("and", "or"):
            if not argnodes and final is _NOFINAL:
                self.fail(ident, f"wrong number of args for {name}: want at least 1 got 0")
            v = None
            for a in argnodes:
                v = _plain(self.arg(dot, a))
                if _truth(v) == (name == "or"):
                    return v
            return _plain(final) if final is not _NOFINAL else v
        vals = [self.arg(dot, a) for a in argnodes]
        if final is not _NOFINAL:
            vals.append(final)
        if params.endswith("*"):
            types = params[:-2]
            if len(vals) < len(types):
                self.fail(ident, f"wrong number of args for {name}: want at least {len(types)} got {len(vals)}")
            types += params[-2] * (len(vals) - len(types))
        else:
            types = params
            if len(vals) != len(types):
                self.fail(ident, f"wrong number of args for {name}: want {len(types)} got {len(vals)}")
        args = [self.convert(cmd or ident, t, v) for t, v in zip(types, vals)]
        try:
            return fn(*args)
        except _FuncError as e:
            self.fail(cmd or ident, f"error calling {name}: {e}")

    def convert(self, node, t: str, v):
        """Go's argument type check for a function parameter."""
        if t == "a":
            return _plain(v)
        if t == "s" and isinstance(v, str):
            return v
        if t == "i" and isinstance(v, int) and not isinstance(v, bool):
            return v
        if t == "i" and isinstance(v, float) and v.is_integer():
            return int(v)
        if t == "l" and isinstance(v, (list, tuple)):
            return list(v)
        if t == "l" and (v is None or v is MISSING):
            return []
        want = {"s": "string", "i": "int", "l": "[]string"}[t]
        if v is None or v is MISSING:
            self.fail(node, f"invalid value; expected {want}")
        self.fail(node, f"wrong type for value; expected {want}; got {_type(v)}")


# -- public API -------------------------------------------------------------------------------

_CACHE: dict[str, list] = {}


def _compile(fmt: str) -> list:
    tree = _CACHE.get(fmt)
    if tree is None:
        try:
            tree = _Parser(fmt).parse()
        except RecursionError as e:
            raise InvalidArgument("template parsing error: template: :1: expression nested too deeply") from e
        except (ValueError, TypeError, AttributeError, LookupError) as e:  # never a traceback
            raise InvalidArgument(f"template parsing error: template: :1: {e}") from e
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[fmt] = tree
    return tree


def _execute(fmt: str, obj, funcs: dict = _FUNCS, partial: bool = False, strict: str | None = None) -> str:
    ex = _Exec(fmt, funcs, obj, strict)
    try:
        ex.walk(obj, _compile(fmt))
    except InvalidArgument:
        if not partial:
            raise
    except RecursionError as e:
        raise InvalidArgument("template parsing error: template: :1: executing \"\": nested too deeply") from e
    except (ValueError, TypeError, AttributeError, LookupError, OverflowError, MemoryError) as e:
        # a template must never end in a Python traceback
        raise InvalidArgument(f"template parsing error: template: :1: executing \"\": {e}") from e
    return "".join(ex.out)


def render(fmt: str, obj, strict: bool = False) -> str:
    """Execute Go template ``fmt`` on ``obj``; no newline is added (docker inspect adds one).

    ``strict``: docker inspect's rule: a key missing from a dict fails (``map has no entry for
    key "X"``) unless the dict is a ``GoMap``."""
    return _execute(fmt, obj, strict="map" if strict else None)


def check_syntax(fmt: str) -> None:
    """Raise InvalidArgument for a template that does not parse (before any work is done)."""
    _compile(fmt)


def split_table(fmt: str) -> tuple[bool, str]:
    """docker's formatter.preFormat: (is_table, template body).

    A leading "table" marks a table (docker checks only the prefix); "json" means {{json .}};
    spaces are trimmed from both ends and the two-character escapes \\t and \\n become a tab and
    a newline.
    """
    is_table = fmt.startswith("table")
    body = fmt[5:] if is_table else "{{json .}}" if fmt == "json" else fmt
    body = body.strip(" ")
    return is_table, re.sub(r"\\[tn]", lambda m: "\t" if m.group() == "\\t" else "\n", body)


def _default_header(name: str) -> str:
    """CreatedAt -> CREATED AT, ID -> ID, ImageID -> IMAGE ID."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name).upper()


class _Headers(dict):
    """The header row: every field is its column name."""

    def get(self, key, default=None):
        return dict.get(self, key) if key in self else _default_header(key)


def render_table(fmt: str, rows: list[dict], headers: dict[str, str] | None = None,
                 row_type: str | None = None) -> str:
    """docker ps/images --format: every row rendered and newline-terminated.

    For a "table" format a header row comes first (the template run over the field names, mapped
    through ``headers`` or spelled as upper-case words) and everything goes through docker's
    tabwriter (minwidth 10, padding 3). The result ends in a newline unless it is empty: write it
    as is (``sys.stdout.write``), not with print(). ``row_type`` (docker's Go type of a row, e.g.
    ``*formatter.ContainerContext``) makes a field the rows lack an error, as docker's is.
    """
    is_table, body = split_table(fmt)
    _compile(body)  # syntax errors surface even with no rows
    lines = "".join(_execute(body, row, strict=row_type) + "\n" for row in rows)
    if not is_table:
        return lines
    header = _execute(body, _Headers(headers or {}), _HEADER_FUNCS, partial=True)
    return tabwrite(header + "\n" + lines)


def _width(s: str) -> int:
    if s.isascii():
        return len(s)
    import unicodedata

    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """text/tabwriter with padchar ' ' and no flags: tab-terminated cells in consecutive lines
    form a column as wide as its widest cell plus ``padding`` (at least ``minwidth``); the text
    after a line's last tab is not part of any column."""
    cells = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(a: int, b: int) -> None:
        for i in range(a, b):
            for j, c in enumerate(cells[i]):
                out.append(c)
                if j < len(widths):
                    out.append(" " * (widths[j] - _width(c)))
            if i + 1 < len(cells):
                out.append("\n")

    def format_block(a: int, b: int) -> None:
        col, this = len(widths), a
        while this < b:
            if col >= len(cells[this]) - 1:
                this += 1
                continue
            write_lines(a, this)
            a, width = this, minwidth
            while this < b and col < len(cells[this]) - 1:
                width = max(width, _width(cells[this][col]) + padding)
                this += 1
            widths.append(width)
            format_block(a, this)
            widths.pop()
            a = this
        write_lines(a, b)

    format_block(0, len(cells))
    return "".join(out)
