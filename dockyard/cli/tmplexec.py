"""Executing a parsed template over JSON-like data as Go's ``exec.go`` does: field lookups,
pipelines, control structures, variables, and the ``executing "" at <…>`` errors."""

from __future__ import annotations

from dockyard.cli.govalues import GoMap, MISSING, NOFINAL, go_str, go_type, sorted_items
from dockyard.cli.tmplfuncs import FuncError, truth
from dockyard.cli.tmplparse import BREAK, CONTINUE, Action, Cmd, Control, Leaf, Pipe, Ref
from dockyard.errors import InvalidArgument


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def _plain(v):
    return None if v is MISSING else v


class Exec:
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
            elif t is Action:
                v = self.pipe(dot, n.pipe)
                if not n.pipe.decl:
                    self.out.append(go_str(v))
            elif n is BREAK or n is CONTINUE:
                raise _Break if n is BREAK else _Continue
            elif n.kind == "range":
                self.walk_range(dot, n)
            else:  # if / with
                mark = len(self.vars)
                v = self.pipe(dot, n.pipe)
                if truth(v):
                    self.walk(v if n.kind == "with" else dot, n.body)
                elif n.else_body is not None:
                    self.walk(dot, n.else_body)
                del self.vars[mark:]

    def walk_range(self, dot, n: Control):
        mark = len(self.vars)
        v = self.pipe(dot, n.pipe, declare=False)
        if v is None or v is MISSING:
            items = []
        elif isinstance(v, (list, tuple)):
            items = list(enumerate(v))
        elif isinstance(v, dict):
            items = sorted_items(v)
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

    def pipe(self, dot, pipe: Pipe, declare: bool = True):
        v = NOFINAL
        for cmd in pipe.cmds:
            v = self.command(dot, cmd, v)
        if declare:
            for name in pipe.decl:
                if pipe.assign:
                    self.set_var(pipe, name, v)
                else:
                    self.vars.append([name, v])
        return v

    def command(self, dot, cmd: Cmd, final):
        first = cmd.args[0]
        t = type(first)
        if t is Ref:
            return self.ref(dot, first, cmd, final)
        if t is Leaf and first.kind == "ident":
            return self.call(dot, first, cmd, final)
        if len(cmd.args) > 1 or final is not NOFINAL:
            self.fail(first, f"can't give argument to non-function {first}")
        if t is Pipe:
            return self.pipe(dot, first)
        if first.kind == "nil":
            self.fail(first, "nil is not a command")
        return dot if first.kind == "dot" else first.value

    def arg(self, dot, n):
        t = type(n)
        if t is Ref:
            return self.ref(dot, n, None, NOFINAL)
        if t is Pipe:
            return self.pipe(dot, n)
        if n.kind == "ident":
            return self.call(dot, n, None, NOFINAL)
        return dot if n.kind == "dot" else n.value  # nil's value is None

    def ref(self, dot, node: Ref, cmd, final):
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
            if (cmd and len(cmd.args) > 1) or final is not NOFINAL:
                self.fail(node, f"can't give argument to non-function {node}")
            return recv
        for i, name in enumerate(node.names[:-1]):
            recv = self.field(dot, recv, node, name, None, NOFINAL, i)
        return self.field(dot, recv, node, node.names[-1], cmd, final, len(node.names) - 1)

    def field(self, dot, recv, node, name: str, cmd, final, index: int = 0):
        argnodes = cmd.args[1:] if cmd else []
        if recv is None or recv is MISSING:
            return MISSING
        if not isinstance(recv, dict):
            self.fail(node, f"can't evaluate field {name} in type {go_type(recv)}")
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
            if final is not NOFINAL:
                args.append(_plain(final))
            try:
                return v(*args)
            except (TypeError, ValueError) as e:
                self.fail(node, f"error calling {name}: {e}")
        if argnodes or final is not NOFINAL:
            self.fail(node, f"{name} is not a method but has arguments")
        return v

    def call(self, dot, ident: Leaf, cmd, final):
        name, argnodes = ident.text, (cmd.args[1:] if cmd else [])
        fn, params = self.funcs[name]
        if name in ("and", "or"):
            if not argnodes and final is NOFINAL:
                self.fail(ident, f"wrong number of args for {name}: want at least 1 got 0")
            v = None
            for a in argnodes:
                v = _plain(self.arg(dot, a))
                if truth(v) == (name == "or"):
                    return v
            return _plain(final) if final is not NOFINAL else v
        vals = [self.arg(dot, a) for a in argnodes]
        if final is not NOFINAL:
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
        except FuncError as e:
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
        self.fail(node, f"wrong type for value; expected {want}; got {go_type(v)}")
