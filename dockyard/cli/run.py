"""`dockyard run` and `dockyard create`: docker's flags turned into a ContainerConfig."""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import BOOL, LIST, STR, Flag, UsageError, parse, usage
from dockyard.errors import InvalidArgument, NotImplemented

RUN_FLAGS = [
    Flag("-i,--interactive", BOOL, "Keep STDIN open even if not attached"),
    Flag("-t,--tty", BOOL, "Allocate a pseudo-TTY"),
    Flag("-d,--detach", BOOL, "Run container in background and print container ID"),
    Flag("--rm", BOOL, "Automatically remove the container when it exits"),
    Flag("--name", STR, "Assign a name to the container"),
    Flag("-e,--env", LIST, "Set environment variables"),
    Flag("--env-file", LIST, "Read in a file of environment variables"),
    Flag("-u,--user", STR, "Username or UID (format: <name|uid>[:<group|gid>])"),
    Flag("-w,--workdir", STR, "Working directory inside the container"),
    Flag("-h,--hostname", STR, "Container host name"),
    Flag("--domainname", STR, "Container NIS domain name"),
    Flag("--entrypoint", STR, "Overwrite the default ENTRYPOINT of the image"),
    Flag("-l,--label", LIST, "Set meta data on a container"),
    Flag("--read-only", BOOL, "Mount the container's root filesystem as read only"),
    Flag("--network,--net", STR, "Connect a container to a network (none, host)", default="none"),
    Flag("--cap-add", LIST, "Add Linux capabilities"),
    Flag("--cap-drop", LIST, "Drop Linux capabilities"),
    Flag("--privileged", BOOL, "Give extended privileges to this container"),
    Flag("--security-opt", LIST, "Security Options (no-new-privileges, seccomp=unconfined)"),
    Flag("--runtime", STR, "Runtime to use for this container (dockyard, runc, or a path)", default="dockyard"),
    Flag("--userns", STR, "User namespace to use (host, or auto: root maps to uid 100000)", default="host"),
    Flag("--help", BOOL, "Print usage"),
]


def env_from_args(values: list[str], files: list[str]) -> list[str]:
    """-e and --env-file as docker reads them: `NAME` alone takes the host's value, or is dropped."""
    out: list[str] = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise InvalidArgument(f"open {path}: {e.strerror.lower()}") from None
        for n, line in enumerate(lines, 1):
            line = line.lstrip()
            if not line or line.startswith("#"):
                continue
            out.extend(_env_item(line, f"{path}:{n}"))
    for v in values:
        out.extend(_env_item(v, "-e"))
    return out


def _env_item(item: str, where: str) -> list[str]:
    name, eq, value = item.partition("=")
    if not name:
        raise InvalidArgument(f"invalid environment variable: {item} ({where})")
    if any(c.isspace() for c in name):
        raise InvalidArgument(f"variable '{name}' contains whitespaces ({where})")
    if eq:
        return [f"{name}={value}"]
    return [f"{name}={os.environ[name]}"] if name in os.environ else []


def labels_from_args(values: list[str]) -> dict:
    out = {}
    for v in values:
        k, _, val = v.partition("=")
        out[k] = val
    return out


def config_from_flags(opts, image: str, cmd: list[str]):
    from dockyard.engine.config import ContainerConfig

    if opts.userns not in ("host", "", "auto"):
        raise InvalidArgument(f"invalid --userns {opts.userns!r}: use host or auto")
    entry = None
    if opts.entrypoint is not None:
        entry = (opts.entrypoint,) if opts.entrypoint else ()
    return ContainerConfig(
        image=image, cmd=tuple(cmd) or None, entrypoint=entry,
        env=tuple(env_from_args(opts.env, opts.env_file)), user=opts.user or "", workdir=opts.workdir or "",
        hostname=opts.hostname or "", domainname=opts.domainname or "", labels=labels_from_args(opts.label),
        tty=opts.tty, stdin_open=opts.interactive, auto_remove=opts.rm, read_only=opts.read_only,
        network=opts.network, cap_add=tuple(opts.cap_add), cap_drop=tuple(opts.cap_drop),
        privileged=opts.privileged, security_opt=tuple(opts.security_opt), runtime=opts.runtime,
        userns=opts.userns == "auto",
    )


def _parse(argv: list[str], prog: str):
    opts = parse(RUN_FLAGS, argv, interspersed=False)
    if opts.help:
        print(usage(f"dockyard {prog} [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container", RUN_FLAGS))
        raise SystemExit(0)
    if not opts.args:
        raise UsageError(f'"dockyard {prog}" requires at least 1 argument.',
                         hint=f"See 'dockyard {prog} --help'.\n\nUsage:  dockyard {prog} [OPTIONS] IMAGE [COMMAND] [ARG...]")
    return opts


def cmd_run(ctx, argv: list[str]) -> int:
    opts = _parse(argv, "run")
    if opts.detach:
        raise NotImplemented("detached containers (-d) are not supported yet",
                             hint="run in the foreground; `-d` arrives with detached-container support")
    if opts.tty and opts.interactive and not os.isatty(0):
        raise InvalidArgument("the input device is not a TTY")
    from dockyard.engine.containers import run

    cfg = config_from_flags(opts, opts.args[0], opts.args[1:])
    sys.stdout.flush()
    return run(ctx.engine, cfg, opts.name, stdin_open=opts.interactive)


def cmd_create(ctx, argv: list[str]) -> int:
    opts = _parse(argv, "create")
    from dockyard.engine.containers import create

    cfg = config_from_flags(opts, opts.args[0], opts.args[1:])
    c = create(ctx.engine, cfg, opts.name)
    print(c.rec.id)
    return 0
