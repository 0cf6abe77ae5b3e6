"""`dockyard compose`: Docker Compose v2's commands over the engine (no API socket needed).

The global options and the project come from cli/composeopts.py and compose/loader.py; the work
is in dockyard/compose/ (up.py, down.py, project.py, logs.py); this module parses each command's
flags and renders. `down`, `ps`, `exec` are here, `up` and `logs` in cli/composeup.py, `run`
in cli/composerun.py, the others in cli/composecmds.py.
"""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import BOOL, LIST, STR, Flag, UsageError, parse, usage
from dockyard.errors import InvalidArgument

HERE = "dockyard.cli.compose"
MORE = "dockyard.cli.composecmds"
SUBCOMMANDS = {
    "up": ("dockyard.cli.composeup", "cmd_up"), "down": (HERE, "cmd_down"), "ps": (HERE, "cmd_ps"), "logs": ("dockyard.cli.composeup", "cmd_logs"),
    "run": ("dockyard.cli.composerun", "cmd_run"), "exec": (HERE, "cmd_exec"), "create": (MORE, "cmd_create"),
    "start": (MORE, "cmd_start"), "stop": (MORE, "cmd_stop"), "restart": (MORE, "cmd_restart"),
    "rm": (MORE, "cmd_rm"), "kill": (MORE, "cmd_kill"), "pause": (MORE, "cmd_pause"),
    "unpause": (MORE, "cmd_unpause"), "top": (MORE, "cmd_top"), "images": (MORE, "cmd_images"),
    "port": (MORE, "cmd_port"), "cp": (MORE, "cmd_cp"), "wait": (MORE, "cmd_wait"), "ls": (MORE, "cmd_ls"),
    "version": (MORE, "cmd_version"), "build": (MORE, "cmd_build"), "pull": (MORE, "cmd_pull"),
    "push": (MORE, "cmd_push"), "events": (MORE, "cmd_events"), "config": ("dockyard.cli.composeconfig", "cmd_config"),
}
BY_LABELS = ("down", "ps", "logs", "stop", "start", "restart", "rm", "kill", "pause", "unpause", "top", "images",
             "port", "exec", "cp", "wait", "events")  # with -p and no compose file: the project its containers show


class Progress:
    """Compose v2's progress lines on stderr: `plain` (not a terminal, or --progress plain) shows
    every step (` Container p-web-1  Starting`), `tty` only what is done (` ✔ Container p-web-1  Started`),
    `quiet` nothing. `parallel` (--parallel) is how many containers the commands handle at once
    (-1: no limit), read by the engine halves from the object they report to."""

    DONE = ("Created", "Started", "Running", "Removed", "Stopped", "Recreated", "Healthy", "Exited", "Killed",
            "Paused", "Unpaused", "Restarted", "Pulled", "Built", "Pushed")

    def __init__(self, mode: str = "auto", out=None, parallel: int = -1) -> None:
        self.out, self.parallel = out or sys.stderr, parallel
        if mode == "auto":
            mode = "tty" if self.out.isatty() else "plain"
        if mode not in ("plain", "tty", "quiet", "json"):
            raise InvalidArgument(f'unsupported --progress value "{mode}": use auto, tty, plain, json or quiet')
        self.mode = mode

    def event(self, kind: str, name: str, status: str) -> None:
        if self.mode == "quiet":
            return
        if self.mode == "json":
            from dockyard.jsonfast import dumps

            self.out.write(dumps({"id": f"{kind} {name}", "status": status}) + "\n")
        elif self.mode == "plain":
            self.out.write(f" {kind} {name}  {status}\n")
        elif status in self.DONE:
            self.out.write(f" \u2714 {kind} {name}  {status}\n")
        elif status.startswith("Error"):
            self.out.write(f" \u2718 {kind} {name}  {status}\n")
        self.out.flush()

    def warn(self, text: str) -> None:
        if self.mode != "quiet":
            from dockyard.cli.composeopts import warn_printer

            warn_printer(self.out)(text)


def cmd_compose(ctx, argv: list[str]) -> int:
    from dockyard.cli.composeopts import GLOBAL_FLAGS, parse_global

    if argv[:1] in (["-h"], ["--help"]):
        argv = ["help"]
    g, rest = parse_global(argv)
    if not rest or rest[0] in ("-h", "--help", "help"):
        names = "\n".join(f"  {k}" for k in SUBCOMMANDS)
        print(usage("dockyard compose [OPTIONS] COMMAND", "Define and run multi-container applications",
                    GLOBAL_FLAGS) + f"\n\nCommands:\n{names}")
        return 0
    target = SUBCOMMANDS.get(rest[0])
    if target is None:
        raise UsageError(f"unknown docker command: \"compose {rest[0]}\"", hint="See 'dockyard compose --help'.")
    module, func = target
    if rest[0] not in ("ls", "version"):
        _site_packages()  # the loader's PyYAML (`config` loads through cli/composeopts.py directly)
    __import__(module)
    return getattr(sys.modules[module], func)(Session(ctx, g, rest[0]), rest[1:]) or 0


def _site_packages() -> None:
    """The loader reads YAML with PyYAML (`pip install 'dockyard[compose]'`): found, under the
    launchers' `python -S`, by `dockyard.extras`, or a clear error naming the extra."""
    from dockyard.extras import require

    require("compose", "dockyard compose")


class Session:
    """A compose command's context: the engine, the global options, the project once loaded."""

    def __init__(self, ctx, g, command: str = "") -> None:
        self.ctx, self.g, self.command, self._project, self._loaded = ctx, g, command, None, None

    @property
    def engine(self):
        return self.ctx.engine

    @property
    def loaded(self):
        """The loader's Project (compose/loader.py, through cli/composeopts.py)."""
        if self._loaded is None:
            from dockyard.cli.composeopts import load

            self._loaded = load(self.g)
        return self._loaded

    @property
    def project(self):
        """The project in Compose v2's normalized JSON form (compose/project.Model)."""
        if self._project is None:
            from dockyard.compose.project import Model
            from dockyard.errors import NotFound

            try:
                self._project = Model.of(self.loaded)
            except NotFound:
                # v2: with -p and no file, the commands that act on what exists find the project by
                # its labels (`compose -p X down` where X's file is gone)
                if not (self.g.project_name and not self.g.files and self.command in BY_LABELS):
                    raise
                self._project = Model.from_engine(self.engine, self.g.project_name)
        return self._project

    def progress(self) -> Progress:
        mode = self.g.progress or "auto"
        if mode == "auto" and self.g.ansi != "auto":  # --ansi never: no cursor or colour codes
            mode = "tty" if self.g.ansi == "always" else "plain"
        return Progress(mode, parallel=int(self.g.parallel) if self.g.parallel is not None else -1)

    def color(self, allowed: bool = True) -> bool:
        """Colour in logs: --ansi always/never (and NO_COLOR) decide, auto means on a terminal."""
        return allowed and self.g.color()


def parse_cmd(flags: list[Flag], argv: list[str], prog: str, summary: str, *, interspersed: bool = True):
    opts = parse(flags + [Flag("--help", BOOL, "Print usage")], argv, interspersed=interspersed)
    if opts.help:
        print(usage(f"dockyard compose {prog}", summary, flags))
        raise SystemExit(0)
    return opts


def parse_scale(values: list[str], project) -> dict:
    out = {}
    for v in values:
        svc, eq, n = v.partition("=")
        if not eq or not n.isdigit():
            raise InvalidArgument(f"invalid --scale {v!r}: expected SERVICE=NUM")
        if svc not in project.services:
            raise InvalidArgument(f"no such service: {svc}")
        out[svc] = int(n)
    return out


def parse_seconds(value, flag: str) -> int | None:
    if value in (None, ""):
        return None
    if not str(value).lstrip("-").isdigit():
        raise InvalidArgument(f'invalid argument "{value}" for "{flag}" flag: strconv.ParseInt: parsing '
                              f'"{value}": invalid syntax')
    return int(value)


def cmd_down(s: Session, argv: list[str]) -> int:
    from dockyard.compose import down

    flags = [Flag("-v,--volumes", BOOL, "Remove named volumes declared in the \"volumes\" section of the Compose "
                  "file and anonymous volumes attached to containers"),
             Flag("--rmi", STR, 'Remove images used by services. "local" remove only images that don\'t have a '
                  'custom tag ("local"|"all")'),
             Flag("--remove-orphans", BOOL, "Remove containers for services not defined in the Compose file"),
             Flag("-t,--timeout", STR, "Specify a shutdown timeout in seconds")]
    opts = parse_cmd(flags, argv, "down [OPTIONS] [SERVICES]", "Stop and remove containers, networks")
    if opts.args:
        raise InvalidArgument("dockyard compose down takes no service names: it takes the whole project down")
    down.down(s.engine, s.project, s.progress(), volumes=opts.volumes, rmi=opts.rmi or None,
              remove_orphans=opts.remove_orphans, timeout=parse_seconds(opts.timeout, "--timeout"))
    return 0


PS_HEADERS = {"Name": "NAME", "Image": "IMAGE", "Command": "COMMAND", "Service": "SERVICE", "RunningFor": "CREATED",
              "Status": "STATUS", "Ports": "PORTS", "ID": "CONTAINER ID", "State": "STATE", "Project": "PROJECT",
              "Health": "HEALTH", "ExitCode": "EXIT CODE"}
PS_DEFAULT = "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}"


def ps_rows(s: Session, recs) -> list[dict]:
    from dockyard.cli.containers import ps_row
    from dockyard.compose.project import SERVICE, labels_of, state_of

    rows = []
    for rec in recs:
        st = state_of(rec)
        row = ps_row(rec, st, no_trunc=False)
        row.update(ID=rec.id, Name=rec.name, Project=s.project.name, Service=labels_of(rec).get(SERVICE, ""),
                   Health=(st.get("Health") or {}).get("Status", ""), ExitCode=st.get("ExitCode", 0))
        rows.append(row)
    return rows


def cmd_ps(s: Session, argv: list[str]) -> int:
    from dockyard.compose import project as P

    flags = [Flag("-a,--all", BOOL, "Show all stopped containers (including those created by the run command)"),
             Flag("-q,--quiet", BOOL, "Only display IDs"), Flag("--services", BOOL, "Display services"),
             Flag("--format", STR, "Format output using a custom template: 'table' (default), 'table TEMPLATE', "
                  "'json' or a Go template"),
             Flag("--status", LIST, "Filter services by status. Values: [paused | restarting | removing | running "
                  "| dead | created | exited]")]
    opts = parse_cmd(flags, argv, "ps [OPTIONS] [SERVICE...]", "List containers")
    services = P.select_services(s.project, opts.args) if opts.args else None
    recs = P.containers(s.engine, s.project.name, services=services, oneoff=None if opts.all else False)
    if not opts.all:
        recs = [r for r in recs if P.state_of(r).get("Status") in ("running", "paused", "restarting")]
    if opts.status:
        recs = [r for r in recs if P.state_of(r).get("Status") in opts.status]
    if opts.services:
        seen = []
        for r in recs:
            svc = P.labels_of(r).get(P.SERVICE)
            if svc not in seen:
                seen.append(svc)
        print("\n".join(seen)) if seen else None
        return 0
    if opts.quiet:
        for r in recs:
            print(r.id)
        return 0
    rows = ps_rows(s, recs)
    fmt = opts.format or PS_DEFAULT
    if fmt == "json":
        from dockyard.jsonfast import dumps

        for row in rows:
            print(dumps({k: v for k, v in row.items() if not callable(v)}))
        return 0
    from dockyard.cli.template import render_table

    sys.stdout.write(render_table(PS_DEFAULT if fmt == "table" else fmt, rows, PS_HEADERS))
    return 0


def pick(s: Session, svc: str, index: int | None = None):
    """The container `exec`, `cp`, `port` act on: replica `index` (1 by default) of `svc`."""
    from dockyard.compose import project as P
    from dockyard.errors import NotFound

    P.select_services(s.project, [svc])
    recs = [r for r in P.containers(s.engine, s.project.name, services=[svc])
            if P.state_of(r).get("Status") in ("running", "paused", "restarting") or index is not None]
    if index is not None:
        recs = [r for r in recs if P.number_of(r) == index]
    if not recs:
        raise NotFound(f"service \"{svc}\" is not running" if index is None
                       else f"service \"{svc}\" is not running container #{index}")
    return recs[0]


def cmd_exec(s: Session, argv: list[str]) -> int:
    from dockyard.cli.run import env_from_args
    from dockyard.engine.exec import exec_in_container

    flags = [Flag("-T,--no-TTY", BOOL, "Disable pseudo-TTY allocation. By default `compose exec` allocates a TTY."),
             Flag("-d,--detach", BOOL, "Detached mode: Run command in the background"),
             Flag("-e,--env", LIST, "Set environment variables"), Flag("-u,--user", STR, "Run the command as this user"),
             Flag("-w,--workdir", STR, "Path to workdir directory for this command"),
             Flag("--index", STR, "Index of the container if service has multiple replicas"),
             Flag("--privileged", BOOL, "Give extended privileges to the process")]
    opts = parse_cmd(flags, argv, "exec [OPTIONS] SERVICE COMMAND [ARGS...]", "Execute a command in a running container",
                  interspersed=False)
    if len(opts.args) < 2:
        raise UsageError('"dockyard compose exec" requires at least 2 arguments.')
    index = parse_seconds(opts.index, "--index")
    rec = pick(s, opts.args[0], index)
    tty = not opts.no_TTY and os.isatty(0) and not opts.detach
    return exec_in_container(s.engine, rec.id, opts.args[1:], tty=tty, interactive=not opts.detach, user=opts.user or "",
                             workdir=opts.workdir or "", env=env_from_args(opts.env, []), detach=opts.detach,
                             privileged=opts.privileged)

