"""`dockyard compose run`: a one-off command in a new container of a service."""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import BOOL, LIST, STR, Flag, UsageError, key_values
from dockyard.errors import InvalidArgument

FLAGS = [
    Flag("--rm", BOOL, "Automatically remove the container when it exits"),
    Flag("-d,--detach", BOOL, "Run container in background and print container ID"),
    Flag("-e,--env", LIST, "Set environment variables"),
    Flag("-l,--label", LIST, "Add or override a label"),
    Flag("--name", STR, "Assign a name to the container"),
    Flag("--entrypoint", STR, "Override the entrypoint of the image"),
    Flag("-T,--no-TTY", BOOL, "Disable pseudo-TTY allocation (default: auto-detected)"),
    Flag("-i,--interactive", BOOL, "Keep STDIN open even if not attached", default=True),
    Flag("-u,--user", STR, "Run as specified username or uid"),
    Flag("-w,--workdir", STR, "Working directory inside the container"),
    Flag("--no-deps", BOOL, "Don't start linked services"),
    Flag("--service-ports", BOOL, "Run command with all service's ports enabled and mapped to the host"),
    Flag("-p,--publish", LIST, "Publish a container's port(s) to the host"),
    Flag("-v,--volume", LIST, "Bind mount a volume"),
]


def cmd_run(s, argv: list[str]) -> int:
    from dockyard.cli.compose import parse_cmd
    from dockyard.cli.run import env_from_args
    from dockyard.compose import run as R

    opts = parse_cmd(FLAGS, argv, "run [OPTIONS] SERVICE [COMMAND] [ARGS...]", "Run a one-off command on a service",
                  interspersed=False)
    if not opts.args:
        raise UsageError('"dockyard compose run" requires at least 1 argument.')
    if opts.rm and opts.detach:
        raise InvalidArgument("--rm and --detach cannot be combined")  # v2 allows it; its --rm is then ignored
    svc, cmd = opts.args[0], opts.args[1:]
    engine, project = s.engine, s.project
    env = env_from_args(opts.env, [])
    labels = key_values(opts.label)
    tty = not opts.no_TTY and os.isatty(0) and os.isatty(1) and not opts.detach

    def overrides(body: dict) -> None:
        host = body["HostConfig"]
        if cmd:
            body["Cmd"] = list(cmd)
        if opts.entrypoint is not None:
            import shlex

            body["Entrypoint"] = shlex.split(opts.entrypoint)
            if not cmd:
                body["Cmd"] = None  # docker: a new entrypoint drops the image's command too
        if env:
            names = {e.partition("=")[0] for e in env}
            body["Env"] = [e for e in body["Env"] if e.partition("=")[0] not in names] + env
        body["Labels"].update(labels)
        if opts.user:
            body["User"] = opts.user
        if opts.workdir:
            body["WorkingDir"] = opts.workdir
        body["Tty"], body["OpenStdin"] = tty, opts.interactive and not opts.detach
        host["AutoRemove"] = opts.rm
        if opts.rm:
            host["RestartPolicy"] = {"Name": "no", "MaximumRetryCount": 0}
        if not opts.service_ports:
            host.pop("PortBindings", None)
        if opts.publish:
            from dockyard.network.ports import parse_publish

            bindings = host.setdefault("PortBindings", {})
            for spec in opts.publish:
                for p in parse_publish(spec):
                    bindings.setdefault(f"{p['container_port']}/{p['proto']}", []).append(
                        {"HostIp": p["host_ip"], "HostPort": str(p["host_port"]) if p["host_port"] else ""})
        if opts.volume:
            host["Binds"] = list(opts.volume)

    progress = s.progress()
    R.prepare(engine, project, svc, no_deps=opts.no_deps, progress=progress)
    sys.stdout.flush()
    result = R.run(engine, project, svc, overrides, name=opts.name, detach=opts.detach,
                   stdin_open=opts.interactive and not opts.detach)
    if opts.detach:
        print(result)
        return 0
    return result
