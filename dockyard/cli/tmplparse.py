"""The parse tree of Go's text/template and its parser (``parse/parse.go``): actions, pipelines,
commands, ``if``/``with``/``range``, with Go's error messages."""

from __future__ import annotations

import re

from dockyard.cli.govalues import go_quote
from dockyard.cli.tmpllex import lex
from dockyard.cli.tmplfuncs import FUNCS
from dockyard.errors import InvalidArgument


class _Node:
    __slots__ = ()

    def __init__(self, *values):
        for i, name in enumerate(self.__slots__):
            setattr(self, name, values[i] if i < len(values) else None)


class Action(_Node):
    __slots__ = ("pos", "pipe")


class Control(_Node):  # if / with / range
    __slots__ = ("kind", "pos", "pipe", "body", "else_body")


class Pipe(_Node):
    __slots__ = ("pos", "decl", "assign", "cmds")

    def __str__(self):
        decl = ", ".join(self.decl) + (" = " if self.assign else " := ") if self.decl else ""
        return decl + " | ".join(map(str, self.cmds))


class Cmd(_Node):
    __slots__ = ("pos", "args")

    def __str__(self):
        return " ".join(f"({a})" if type(a) is Pipe else str(a) for a in self.args)


class Ref(_Node):
    """A field chain on a receiver: .A.B (head None: dot), $x.A (head "$x"), (pipe).A or fn.A."""
    __slots__ = ("pos", "head", "names")

    def __str__(self):
        head = self.head or ""
        head = f"({head})" if type(head) is Pipe else str(head)
        return head + "".join("." + n for n in self.names)


class Leaf(_Node):  # function name, ".", nil or a literal; text is the source spelling
    __slots__ = ("pos", "kind", "text", "value")

    def __str__(self):
        return self.text


class _Marker:
    def __init__(self, text):
        self.text = text

    def __str__(self):
        return self.text


_END, _ELSE = _Marker("{{end}}"), _Marker("{{else}}")
BREAK, CONTINUE = _Marker("{{break}}"), _Marker("{{continue}}")
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


class Parser:
    def __init__(self, src: str):
        self.src, self.toks, self.i = src, lex(src), 0
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
                return BREAK if kw == "break" else CONTINUE
            self.error("{{%s}} is not supported" % kw)
        self.i = save
        return Action(self.peek_ns()[2], self.pipeline("command"))

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
        return Control(kind, pos, pipe, body, else_body)

    def pipeline(self, context: str) -> Pipe:
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
                    if type(c.args[0]) is Leaf and c.args[0].kind != "ident":
                        self.error(f"non executable command in pipeline stage {k + 2}")
                if t[0] == ")":
                    self.i -= 1
                return Pipe(pos, decl, assign, cmds)
            if t[0] in ("bool", "char", "dot", "field", "ident", "num", "nil", "raw", "str", "var", "("):
                self.i -= 1
                cmds.append(self.command())
            else:
                self.unexpected(t, context)

    def command(self) -> Cmd:
        cmd = Cmd(self.peek_ns()[2], [])
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
        if type(node) is Ref:  # .A.B or $x.A.B
            return Ref(node.pos, node.head, node.names + names)
        if type(node) is Leaf and node.kind != "ident":
            self.error(f"unexpected . after term {go_quote(str(node))}")
        return Ref(pos, node, names)

    def term(self):
        save = self.i
        kind, val, pos = t = self.next_ns()
        if kind == "error":
            self.error(val)
        if kind == "ident":
            if val not in FUNCS:
                self.error(f"function {go_quote(val)} not defined")
            return Leaf(pos, "ident", val)
        if kind in ("dot", "nil"):
            return Leaf(pos, kind, val)
        if kind == "var":
            if val not in self.vars:
                self.error(f"undefined variable {go_quote(val)}")
            return Ref(pos, val, [])
        if kind == "field":
            return Ref(pos, None, [val[1:]])
        if kind == "bool":
            return Leaf(pos, "lit", val, val == "true")
        if kind in ("num", "char", "str", "raw"):
            return Leaf(pos, "lit", val, self.literal(t))
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
