"""`dockyard compose up` (and the flags `create` shares), its foreground log view, and `logs`."""

from __future__ import annotations

import sys

from dockyard.cli.compose import Session, parse_cmd, parse_scale, parse_seconds
from dockyard.cli.flags import BOOL, LIST, STR, Flag
from dockyard.errors import InvalidArgument

UP_FLAGS = [
    Flag("-d,--detach", BOOL, "Detached mode: Run containers in the background"),
    Flag("--build", BOOL, "Build images before starting containers"),
    Flag("--no-build", BOOL, "Don't build an image, even if it's policy"),
    Flag("--wait", BOOL, "Wait for services to be running|healthy. Implies detached mode."),
    Flag("--wait-timeout", STR, "Maximum duration in seconds to wait for the project to be running|healthy"),
    Flag("--scale", LIST, "Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present."),
    Flag("--force-recreate", BOOL, "Recreate containers even if their configuration and image haven't changed"),
    Flag("--no-recreate", BOOL, "If containers already exist, don't recreate them. Incompatible with --force-recreate."),
    Flag("--no-deps", BOOL, "Don't start linked services"),
    Flag("--remove-orphans", BOOL, "Remove containers for services not defined in the Compose file"),
    Flag("--no-start", BOOL, "Don't start the services after creating them"),
    Flag("-t,--timeout", STR, "Use this timeout in seconds for container shutdown when attached or when containers are already running"),
    Flag("--no-log-prefix", BOOL, "Don't print prefix in logs"),
    Flag("--no-color", BOOL, "Produce monochrome output"),
    Flag("--attach-dependencies", BOOL, "Automatically attach to log output of dependent services"),
]


def up_options(s: Session, opts, *, up: bool = True):
    from dockyard.compose.up import Options

    if opts.build and opts.no_build:
        raise InvalidArgument("--build and --no-build are incompatible")
    kw = dict(scale=parse_scale(opts.scale, s.project), force_recreate=opts.force_recreate,
              no_recreate=opts.no_recreate, build=opts.build, remove_orphans=opts.remove_orphans)
    if up:
        if opts.detach and opts.no_start:
            raise InvalidArgument("--no-start and --detach are incompatible")
        if opts.wait and opts.no_start:
            raise InvalidArgument("--no-start and --wait are incompatible")
        kw.update(no_deps=opts.no_deps, no_start=opts.no_start, wait=opts.wait,
                  wait_timeout=parse_seconds(opts.wait_timeout, "--wait-timeout"),
                  timeout=parse_seconds(opts.timeout, "--timeout"))
    return Options(**kw)


def cmd_up(s: Session, argv: list[str]) -> int:
    from dockyard.compose import up

    opts = parse_cmd(UP_FLAGS, argv, "up [OPTIONS] [SERVICE...]", "Create and start containers")
    o = up_options(s, opts)
    timeout = parse_seconds(opts.timeout, "--timeout")
    engine, project, progress = s.engine, s.project, s.progress()
    names = up.P.select_services(project, opts.args)
    build_images(s, names if o.no_deps else up.P.dependency_order(project, names), force=o.build,
                 never=opts.no_build, progress=progress)
    services, todo = up.prepare(engine, project, opts.args, o, progress)
    if o.no_start:
        return 0
    started = up.start_all(engine, project, todo, progress)
    todo = [(up.P.labels_of(rec)[up.P.SERVICE], rec) for rec in up.P.containers(engine, project.name,
                                                                                 services=services)]
    if o.wait:
        recs = [rec for _svc, rec in todo]
        for rec in recs:
            progress.event("Container", rec.name, "Waiting")
        up.wait_running(engine, recs, o.wait_timeout)
        for rec in recs:
            progress.event("Container", rec.name, "Healthy")
        return 0
    if opts.detach:
        return 0
    attached = [rec for svc, rec in todo if opts.attach_dependencies or not opts.args or svc in opts.args]
    return attach(s, attached, started, no_prefix=opts.no_log_prefix,
                   color=not opts.no_color, timeout=timeout)


def build_images(s: Session, services, *, force: bool, never: bool, progress) -> None:
    from dockyard.compose.images import ensure_images

    ensure_images(s.engine, s.project, services, force=force, never=never, progress=progress)


COLORS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")


class LogPrinter:
    """`svc-1  | line`, names padded to the widest, coloured on a terminal."""

    def __init__(self, project: str, recs, *, prefix: bool = True, color: bool = False, timestamps: bool = False):
        self.project, self.prefix, self.timestamps, self.color = project, prefix, timestamps, color
        self.width = max([len(self.short(r)) for r in recs] or [0])
        self.colors: dict = {}

    def short(self, rec) -> str:
        return rec.name.removeprefix(self.project + "-")

    def emit(self, rec, record: dict) -> None:
        text = record.get("log", "")
        if self.timestamps:
            text = f"{record.get('time', '')} {text}"
        if self.prefix:
            name = self.short(rec).ljust(self.width)
            if self.color:
                c = self.colors.setdefault(rec.id, COLORS[len(self.colors) % len(COLORS)])
                name = f"\033[{c}m{name}  |\033[0m "
            else:
                name = f"{name}  | "
            text = "".join(name + line for line in text.splitlines(keepends=True)) or name
        out = sys.stderr if record.get("stream") == "stderr" and not self.prefix else sys.stdout
        out.write(text)
        out.flush()


def attach(s: Session, recs, started, *, no_prefix: bool, color: bool, timeout) -> int:
    """Foreground `up`: each container's log, prefixed (all of it for a container this `up`
    started, what comes from now on for one already running), until all have exited; Ctrl-C
    stops them, and what they print while stopping is still shown."""
    import time

    from dockyard.compose import down, logs

    printer = LogPrinter(s.project.name, recs, prefix=not no_prefix, color=s.color(color))
    fresh = {r.id for r in started}
    reader = logs.Follower(s.engine, [r for r in recs if r.id in fresh])
    for rec in recs:
        if rec.id not in fresh:
            reader.add(rec, from_end=True)
    print("Attaching to " + ", ".join(printer.short(r) for r in recs), flush=True)
    exited: set = set()

    def drain() -> None:
        for rec, record in reader.poll():
            printer.emit(rec, record)

    def running() -> bool:
        live = False
        for rec in recs:
            if rec.id in exited:
                continue
            st = down.P.state_of(s.engine.db.get_container(rec.id))
            if st.get("Status") in ("exited", "dead"):
                drain()
                exited.add(rec.id)
                print(f"{printer.short(rec)} exited with code {st.get('ExitCode', 0)}", flush=True)
            else:
                live = True
        return live

    try:
        while True:
            drain()
            if not running():
                return 0
            time.sleep(0.1)
    except KeyboardInterrupt:
        sys.stderr.write("Gracefully stopping... (press Ctrl+C again to force)\n")
        down.stop(s.engine, s.project, recs, s.progress(), timeout)
        drain()
        return 130


def cmd_logs(s: Session, argv: list[str]) -> int:
    from dockyard.compose import logs, project as P

    flags = [Flag("-f,--follow", BOOL, "Follow log output"),
             Flag("-n,--tail", STR, "Number of lines to show from the end of the logs for each container", default="all"),
             Flag("-t,--timestamps", BOOL, "Show timestamps"), Flag("--no-log-prefix", BOOL, "Don't print prefix in logs"),
             Flag("--no-color", BOOL, "Produce monochrome output"),
             Flag("--index", STR, "index of the container if service has multiple replicas")]
    opts = parse_cmd(flags, argv, "logs [OPTIONS] [SERVICE...]", "View output from containers")
    tail = None
    if opts.tail != "all":
        if not opts.tail.lstrip("-").isdigit():
            raise InvalidArgument(f'invalid value for "tail": "{opts.tail}"')
        tail = int(opts.tail) if int(opts.tail) >= 0 else None
    services = P.select_services(s.project, opts.args) if opts.args else None
    recs = P.containers(s.engine, s.project.name, services=services, oneoff=None)
    if opts.index:
        recs = [r for r in recs if str(P.number_of(r)) == opts.index]
    printer = LogPrinter(s.project.name, recs, prefix=not opts.no_log_prefix, color=s.color(not opts.no_color),
                         timestamps=opts.timestamps)
    try:
        logs.follow(s.engine, recs, printer.emit, tail=tail, follow=opts.follow)
    except KeyboardInterrupt:
        return 130
    return 0
