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

The pieces: `lexer` (the shell lexer, the errors), `dflines` (lines → nodes), `dfflags`
(instruction flags and arguments), `instructions` (the records); this module turns nodes into
instructions and stages.
"""

from __future__ import annotations

import os
import re

from dockyard.builder.dfflags import (
    Flags, NETWORKS, SECURITY, at_least_one, exactly_one, name_vals, parse_chmod, parse_mount,
    suggest)
from dockyard.builder.dflines import (
    INSTRUCTIONS, Node, STAGE_NAME, extract_flags, maybe_json, parse_words, read_nodes)
from dockyard.builder.instructions import (
    Add, Arg, Cmd, Copy, Dockerfile, Entrypoint, Env, Expose, From, Healthcheck, Heredoc,
    Instruction, Label, Maintainer, Mount, Onbuild, Run, Shell, Stage, Stopsignal, User, Volume,
    Workdir)
from dockyard.builder.lexer import DockerfileError, LexError, Lexer, StageNotFound

TYPE_CHECKING = False  # typing is for annotations only: not imported on the cached build path
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping


__all__ = [
    "DockerfileError", "LexError", "parse_chmod", "StageNotFound", "parse", "parse_file", "Dockerfile", "Stage",
    "Instruction", "From", "Run", "Cmd", "Entrypoint", "Label", "Maintainer", "Expose", "Env",
    "Add", "Copy", "Volume", "User", "Workdir", "Arg", "Onbuild", "Stopsignal", "Healthcheck",
    "Shell", "Mount", "Heredoc", "Lexer", "parse_duration", "default_platform", "predefined_args",
]


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
    bad = LexError(f'time: invalid duration "{orig}"')
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
            raise LexError(f'time: missing unit in duration "{orig}"')
        if unit not in _UNITS:
            raise LexError(f'time: unknown unit "{unit}" in duration "{orig}"')
        mult = _UNITS[unit]
        total += int(whole or "0") * mult
        if frac:
            total += int(frac) * mult // (10 ** len(frac))
        s = s[m.end():]
    if total > (1 << 63) - 1:
        raise bad
    return -total if neg else total


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

    def instruction(self, node: Node, env: dict[str, str] | None) -> Instruction | list[Arg]:
        """Build the instruction of ``node``; ``env`` None means no expansion (ONBUILD triggers)."""
        kw = node.cmd.lower()
        if kw not in INSTRUCTIONS:
            hint = suggest(node.cmd, tuple(k.upper() for k in INSTRUCTIONS))
            raise LexError(f"unknown instruction: {node.cmd}" + (f" (did you mean {hint}?)" if hint else ""))
        return getattr(self, "_" + kw)(node, env)

    def _ex(self, s: str, env: dict[str, str] | None) -> str:
        return s if env is None else self.word(s, env)

    def _base(self, node: Node) -> dict[str, Any]:
        return {"line": node.start, "end_line": node.end, "original": node.original}

    def _noflags(self, node: Node) -> None:
        Flags(node.flags).parse()

    def _command(self, node: Node, kw: str) -> tuple[list[str] | str, bool]:
        js = maybe_json(node.rest)
        if js is not None:
            return js, False
        return node.rest.strip(), True

    def _from(self, node: Node, env: dict[str, str] | None) -> From:
        fl = Flags(node.flags)
        fl.str("platform")
        v = fl.parse()
        args = node.rest.split()
        if len(args) not in (1, 3) or (len(args) == 3 and args[1].lower() != "as"):
            raise LexError("FROM requires either one or three arguments")
        meta = {**self.predefined, **self.meta_values}
        image = self.word(args[0], meta) if env is not None else args[0]
        if not image:
            raise LexError(f"base name ({args[0]}) should not be blank")
        name = None
        if len(args) == 3:
            name = args[2].lower()
            if not STAGE_NAME.match(name):
                raise LexError(f"invalid name for build stage: \"{args[2]}\", name can't start with a number "
                           "or contain symbols")
        plat = v["platform"]
        if plat is not None and env is not None:
            plat = self.word(plat, meta)
        return From(image=image, name=name, platform=plat, **self._base(node))

    def _run(self, node: Node, env: dict[str, str] | None) -> Run:
        fl = Flags(node.flags)
        fl.strs("mount")
        fl.str("network")
        fl.str("security")
        v = fl.parse()
        command, shell = self._command(node, "RUN")
        if not command and not node.heredocs:
            raise at_least_one("RUN")
        mounts = [parse_mount(self._ex(m, env)) for m in v["mount"]]
        network = v["network"]
        if network is not None and network not in NETWORKS:
            raise LexError(f"unsupported network mode \"{network}\"")
        security = v["security"]
        if security is not None and security not in SECURITY:
            raise LexError(f"unsupported security mode \"{security}\"")
        return Run(command=command, shell_form=shell, mounts=mounts, network=network,
                   security=security, heredocs=list(node.heredocs), **self._base(node))

    def _cmd(self, node: Node, env: dict[str, str] | None) -> Cmd:
        self._noflags(node)
        command, shell = self._command(node, "CMD")
        return Cmd(command=command, shell_form=shell, **self._base(node))

    def _entrypoint(self, node: Node, env: dict[str, str] | None) -> Entrypoint:
        self._noflags(node)
        command, shell = self._command(node, "ENTRYPOINT")
        return Entrypoint(command=command, shell_form=shell, **self._base(node))

    def _shell(self, node: Node, env: dict[str, str] | None) -> Shell:
        self._noflags(node)
        js = maybe_json(node.rest)
        if js is None:
            raise LexError("SHELL requires the arguments to be in JSON form")
        if not js:
            raise at_least_one("SHELL")
        return Shell(shell=js, **self._base(node))

    def _pairs(self, node: Node, env: dict[str, str] | None, kw: str) -> list[tuple[str, str]]:
        self._noflags(node)
        out = []
        for k, val in name_vals(node.rest, kw, self.escape):
            if not k:
                raise LexError(f"{kw} names can not be blank")
            out.append((self._ex(k, env), self._ex(val, env)))
        return out

    def _env(self, node: Node, env: dict[str, str] | None) -> Env:
        return Env(pairs=self._pairs(node, env, "ENV"), **self._base(node))

    def _label(self, node: Node, env: dict[str, str] | None) -> Label:
        return Label(pairs=self._pairs(node, env, "LABEL"), **self._base(node))

    def _string(self, node: Node, env: dict[str, str] | None, kw: str) -> str:
        self._noflags(node)
        rest = node.rest.strip()
        if not rest:
            raise exactly_one(kw)
        return self._ex(rest, env)

    def _maintainer(self, node: Node, env: dict[str, str] | None) -> Maintainer:
        self._noflags(node)
        rest = node.rest.strip()
        if not rest:
            raise exactly_one("MAINTAINER")
        return Maintainer(maintainer=rest, **self._base(node))

    def _user(self, node: Node, env: dict[str, str] | None) -> User:
        return User(user=self._string(node, env, "USER"), **self._base(node))

    def _workdir(self, node: Node, env: dict[str, str] | None) -> Workdir:
        return Workdir(path=self._string(node, env, "WORKDIR"), **self._base(node))

    def _stopsignal(self, node: Node, env: dict[str, str] | None) -> Stopsignal:
        return Stopsignal(signal=self._string(node, env, "STOPSIGNAL"), **self._base(node))

    def _expose(self, node: Node, env: dict[str, str] | None) -> Expose:
        self._noflags(node)
        args = node.rest.split()
        if not args:
            raise at_least_one("EXPOSE")
        ports: list[str] = []
        for a in args:
            ports.extend(self._ex(a, env).split())
        return Expose(ports=ports, **self._base(node))

    def _list(self, node: Node) -> list[str]:
        js = maybe_json(node.rest)
        return js if js is not None else node.rest.split()

    def _volume(self, node: Node, env: dict[str, str] | None) -> Volume:
        self._noflags(node)
        args = self._list(node)
        if not args:
            raise at_least_one("VOLUME")
        paths = []
        for a in args:
            p = self._ex(a, env).strip()
            if not p:
                raise LexError("VOLUME specified can not be an empty string")
            paths.append(p)
        return Volume(paths=paths, **self._base(node))

    def _copyish(self, node: Node, env: dict[str, str] | None, kw: str, v: dict[str, Any]) -> dict[str, Any]:
        args = self._list(node)
        if len(args) < 2:
            raise LexError(f"{kw} requires at least two arguments, but only one was provided. "
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

    def _copy(self, node: Node, env: dict[str, str] | None) -> Copy:
        fl = Flags(node.flags)
        for s in ("from", "chown", "chmod"):
            fl.str(s)
        fl.bool("link")
        fl.bool("parents")
        fl.strs("exclude")
        v = fl.parse()
        kw = self._copyish(node, env, "COPY", v)
        frm = self._ex(v["from"], env) if v["from"] is not None else None
        return Copy(from_=frm, parents=v["parents"], **kw, **self._base(node))

    def _add(self, node: Node, env: dict[str, str] | None) -> Add:
        fl = Flags(node.flags)
        for s in ("chown", "chmod", "checksum"):
            fl.str(s)
        fl.bool("link")
        fl.bool("keep-git-dir")
        fl.strs("exclude")
        v = fl.parse()
        kw = self._copyish(node, env, "ADD", v)
        checksum = self._ex(v["checksum"], env) if v["checksum"] is not None else None
        return Add(checksum=checksum, keep_git_dir=v["keep-git-dir"], **kw, **self._base(node))

    def _arg(self, node: Node, env: dict[str, str] | None) -> list[Arg]:
        self._noflags(node)
        words = parse_words(node.rest, self.escape)
        if not words:
            raise at_least_one("ARG")
        out = []
        for w in words:
            if "=" in w:
                k, _, d = w.partition("=")
                if not k:
                    raise LexError("ARG names can not be blank")
                default: str | None = d
            else:
                k, default = w, None
            out.append((k, default))
        return [Arg(name=k, default=d, value=None, **self._base(node)) for k, d in out]

    def _onbuild(self, node: Node, env: dict[str, str] | None) -> Onbuild:
        self._noflags(node)
        expr = node.rest.strip()
        if not expr:
            raise at_least_one("ONBUILD")
        parts = expr.split(None, 1)
        inner_kw = parts[0].lower()
        if inner_kw == "onbuild":
            raise LexError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if inner_kw in ("from", "maintainer"):
            raise LexError(f"{parts[0].upper()} isn't allowed as an ONBUILD trigger")
        rest, flags = extract_flags(parts[1]) if len(parts) > 1 else ("", [])
        inner_node = Node(parts[0], flags, rest, expr, node.start, node.end, [])
        inner = self.instruction(inner_node, None)
        if isinstance(inner, list):  # ARG a b
            inner = inner[0] if len(inner) == 1 else inner[0]
        return Onbuild(instruction=inner, expression=expr, **self._base(node))

    def _healthcheck(self, node: Node, env: dict[str, str] | None) -> Healthcheck:
        rest = node.rest.strip()
        if not rest:
            raise at_least_one("HEALTHCHECK")
        parts = rest.split(None, 1)
        typ = parts[0].upper()
        cmd_rest = parts[1] if len(parts) > 1 else ""
        if typ == "NONE":
            if cmd_rest.strip():
                raise LexError("HEALTHCHECK NONE takes no arguments")
            self._noflags(node)
            return Healthcheck(test=["NONE"], **self._base(node))
        fl = Flags(node.flags)
        for s in ("interval", "timeout", "start-period", "start-interval", "retries"):
            fl.str(s)
        v = fl.parse()
        if typ != "CMD":
            raise LexError(f"Unknown type \"{typ}\" in HEALTHCHECK (try CMD)")
        js = maybe_json(cmd_rest)
        if js is not None:
            if not js:
                raise LexError("Missing command after HEALTHCHECK CMD")
            test = ["CMD", *js]
        else:
            if not cmd_rest.strip():
                raise LexError("Missing command after HEALTHCHECK CMD")
            test = ["CMD-SHELL", cmd_rest.strip()]
        durs = {}
        for flag in ("interval", "timeout", "start-period", "start-interval"):
            s = v[flag]
            d = 0 if not s else parse_duration(s)
            if d < 0:
                raise LexError(f"Interval \"{flag}\" cannot be negative")
            if 0 < d < 1_000_000:
                raise LexError(f"Interval \"{flag}\" cannot be less than 1ms")
            durs[flag.replace("-", "_")] = d
        retries = 0
        if v["retries"]:
            try:
                retries = int(v["retries"], 10)
                if not -(1 << 31) <= retries < (1 << 31):
                    raise ValueError
            except ValueError:
                raise LexError(f"strconv.ParseInt: parsing \"{v['retries']}\": invalid syntax") from None
            if retries < 0:
                raise LexError(f"--retries cannot be negative ({retries})")
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
    directives, escape, nodes = read_nodes(text, filename)
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
                raise LexError("no build stage in current context")
            if kw == "from":
                ins = p.instruction(node, {})
                assert isinstance(ins, From)
                if ins.name is not None and any(s.name == ins.name for s in stages):
                    raise LexError(f"duplicate stage name \"{ins.name}\"")
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
        except LexError as e:
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
