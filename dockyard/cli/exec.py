"""`dockyard exec`."""

from __future__ import annotations

import os

from dockyard.cli.flags import BOOL, LIST, STR, Flag, UsageError, parse, usage
from dockyard.errors import DockyardError, InvalidArgument

FLAGS = [
    Flag("-i,--interactive", BOOL, "Keep STDIN open even if not attached"),
    Flag("-t,--tty", BOOL, "Allocate a pseudo-TTY"),
    Flag("-d,--detach", BOOL, "Detached mode: run command in the background"),
    Flag("-u,--user", STR, "Username or UID (format: <name|uid>[:<group|gid>])"),
    Flag("-w,--workdir", STR, "Working directory inside the container"),
    Flag("-e,--env", LIST, "Set environment variables"),
    Flag("--env-file", LIST, "Read in a file of environment variables"),
    Flag("--privileged", BOOL, "Give extended privileges to the command"),
    Flag("--detach-keys", STR, "Override the key sequence for detaching (refused)", metavar="string",
         refused="--detach-keys is not supported by exec: a foreground dockyard exec cannot detach (no daemon holds "
         "its terminal); use exec -d for a process that outlives this command"),
    Flag("--help", BOOL, "Print usage"),
]


def cmd_exec(ctx, argv: list[str]) -> int:
    from dockyard.cli.run import env_from_args
    from dockyard.engine.exec import exec_in_container, exec_target

    opts = parse(FLAGS, argv, interspersed=False)
    if opts.help:
        print(usage("dockyard exec [OPTIONS] CONTAINER COMMAND [ARG...]",
                    "Execute a command in a running container", FLAGS))
        return 0
    if len(opts.args) < 2:
        raise UsageError('"dockyard exec" requires at least 2 arguments.')
    if opts.tty and opts.interactive and not os.isatty(0):
        raise _exit_with(InvalidArgument("the input device is not a TTY"), 1)
    env = env_from_args(opts.env, opts.env_file)
    try:
        exec_target(ctx.engine, opts.args[0])
    except DockyardError as e:  # docker: the daemon refused the exec (no such container, not running)
        raise _exit_with(e, 1) from None
    try:
            return exec_in_container(ctx.engine, opts.args[0], opts.args[1:], tty=opts.tty,
                                 interactive=opts.interactive, user=opts.user or "", workdir=opts.workdir or "",
                                 env=env, detach=opts.detach, privileged=opts.privileged)
    except DockyardError as e:  # docker: the exec could not start (no such command or user): 126, or with
        raise _exit_with(e, 1 if opts.detach else 126) from None  # -d dockerd's refusal of the start: 1


def _exit_with(e: DockyardError, code: int) -> DockyardError:
    e.exit_code = code  # what the CLI exits with (cli/main.py)
    return e
