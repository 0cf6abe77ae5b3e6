"""`dockyard compose` create, start, stop, restart, rm, kill, pause, unpause, top, images, port, cp,
wait, ls, version, build, pull, push, events (see cli/compose.py for the rest)."""

from __future__ import annotations

import sys

from dockyard.cli.compose import Progress, parse_cmd, parse_seconds, pick
from dockyard.cli.composeup import up_options
from dockyard.cli.flags import BOOL, STR, Flag, UsageError
from dockyard.compose import project as P
from dockyard.errors import DockyardError, InvalidArgument

RUNNING = ("running", "paused", "restarting")


def _recs(s, names, *, oneoff=False):
    services = P.select_services(s.project, names) if names else None
    return P.containers(s.engine, s.project.name, services=services, oneoff=oneoff)


def cmd_create(s, argv):
    from dockyard.cli.composeup import UP_FLAGS, build_images
    from dockyard.compose import up

    keep = ("--build", "--no-build", "--scale", "--force-recreate", "--no-recreate", "--remove-orphans")
    flags = [f for f in UP_FLAGS if any(n in keep for n in f.names)]
    opts = parse_cmd(flags, argv, "create [OPTIONS] [SERVICE...]", "Creates containers for a service")
    o = up_options(s, opts, up=False)
    progress = s.progress()
    build_images(s, up.P.dependency_order(s.project, up.P.select_services(s.project, opts.args)), force=o.build,
                 never=opts.no_build, progress=progress)
    up.prepare(s.engine, s.project, opts.args, o, progress)
    return 0


def cmd_start(s, argv):
    from dockyard.compose import up

    opts = parse_cmd([], argv, "start [SERVICE...]", "Start services")
    recs = _recs(s, opts.args)
    order = P.dependency_order(s.project, sorted({P.labels_of(r)[P.SERVICE] for r in recs}))
    recs.sort(key=lambda r: (order.index(P.labels_of(r)[P.SERVICE]), P.number_of(r)))
    up.start_all(s.engine, s.project, [(P.labels_of(r)[P.SERVICE], r) for r in recs], s.progress())
    return 0


def cmd_stop(s, argv):
    from dockyard.compose import down

    opts = parse_cmd([Flag("-t,--timeout", STR, "Specify a shutdown timeout in seconds")], argv, "stop [OPTIONS] [SERVICE...]",
                  "Stop services")
    down.stop(s.engine, s.project, _ordered(s, _recs(s, opts.args)), s.progress(),
              parse_seconds(opts.timeout, "--timeout"))
    return 0


def _ordered(s, recs):
    order = P.dependency_order(s.project, [svc for svc in s.project.services])
    return sorted(recs, key=lambda r: (order.index(P.labels_of(r)[P.SERVICE]) if P.labels_of(r).get(P.SERVICE) in order
                                       else -1, P.number_of(r)))


def cmd_restart(s, argv):
    from dockyard.compose import down
    from dockyard.engine import lifecycle

    opts = parse_cmd([Flag("-t,--timeout", STR, "Specify a shutdown timeout in seconds")], argv,
                     "restart [OPTIONS] [SERVICE...]",
                  "Restart service containers")
    timeout = parse_seconds(opts.timeout, "--timeout")
    progress = s.progress()
    for rec in _ordered(s, _recs(s, opts.args)):
        progress.event("Container", rec.name, "Restarting")
        lifecycle.restart(s.engine, rec.id, timeout=down.stop_timeout(s.project, rec, timeout))
        progress.event("Container", rec.name, "Started")
    return 0


def cmd_rm(s, argv):
    from dockyard.compose import down

    opts = parse_cmd([Flag("-f,--force", BOOL, "Don't ask to confirm removal"),
                   Flag("-s,--stop", BOOL, "Stop the containers, if required, before removing"),
                   Flag("-v,--volumes", BOOL, "Remove any anonymous volumes attached to containers")],
                  argv, "rm [OPTIONS] [SERVICE...]", "Removes stopped service containers")
    recs = _recs(s, opts.args, oneoff=None)
    progress = s.progress()
    if opts.stop:
        down.stop(s.engine, s.project, _ordered(s, recs), progress)
        recs = [s.engine.db.get_container(r.id) for r in recs]
    recs = [r for r in recs if P.state_of(r).get("Status") not in RUNNING]
    if not recs:
        print("No stopped containers", file=sys.stderr)
        return 0
    if not opts.force:
        from dockyard.cli.render import confirm

        print("Going to remove " + ", ".join(r.name for r in recs), file=sys.stderr)
        if not confirm("Are you sure?"):
            return 0
    down.remove(s.engine, recs, progress, volumes=opts.volumes)
    return 0


def cmd_kill(s, argv):
    from dockyard.engine import lifecycle

    opts = parse_cmd([Flag("-s,--signal", STR, "SIGNAL to send to the container", default="SIGKILL"),
                   Flag("--remove-orphans", BOOL, "Remove containers for services not defined in the Compose file")],
                  argv, "kill [OPTIONS] [SERVICE...]", "Force stop service containers")
    from dockyard.signals import parse_signal

    parse_signal(opts.signal)  # a bad signal is refused before any container is touched
    progress = s.progress()
    if opts.remove_orphans:
        from dockyard.compose import down, up

        down.remove(s.engine, up.orphans(s.engine, s.project), progress)
    for rec in reversed(_ordered(s, _recs(s, opts.args))):
        if P.state_of(rec).get("Status") not in ("running", "paused"):
            continue
        progress.event("Container", rec.name, "Killing")
        lifecycle.kill(s.engine, rec.id, opts.signal)
        progress.event("Container", rec.name, "Killed")
    return 0


def _each_in_state(s, argv, prog, summary, fn, doing, done, want):
    """fn(engine, id) on each service container whose Status is ``want``, with progress events."""
    opts = parse_cmd([], argv, prog, summary)
    progress = s.progress()
    for rec in _ordered(s, _recs(s, opts.args)):
        if P.state_of(rec).get("Status") != want:
            continue
        progress.event("Container", rec.name, doing)
        fn(s.engine, rec.id)
        progress.event("Container", rec.name, done)
    return 0


def cmd_pause(s, argv):
    from dockyard.engine.observe import pause

    return _each_in_state(s, argv, "pause [SERVICE...]", "Pause services", pause, "Pausing", "Paused", "running")


def cmd_unpause(s, argv):
    from dockyard.engine.observe import unpause

    return _each_in_state(s, argv, "unpause [SERVICE...]", "Unpause services", unpause, "Unpausing", "Unpaused", "paused")


def cmd_top(s, argv):
    from dockyard.engine.observe import top

    opts = parse_cmd([], argv, "top [SERVICES...]", "Display the running processes")
    for rec in _recs(s, opts.args):
        if P.state_of(rec).get("Status") not in RUNNING:
            continue
        print(rec.name)
        print(top(s.engine, rec.id, []))
        print()
    return 0


def _print_rows(opts, rows: list, key: str, table: str, headers: dict) -> None:
    """`-q` (each row's `key` once), `--format json`, or the table, as Compose v2 prints lists."""
    from dockyard.cli.template import render_table

    if opts.quiet:
        for value in dict.fromkeys(r[key] for r in rows):
            print(value)
    elif opts.format == "json":
        from dockyard.jsonfast import dumps

        print(dumps(rows))
    elif opts.format == "table":
        sys.stdout.write(render_table(table, rows, headers))
    else:
        raise InvalidArgument(f"unsupported format {opts.format!r}: use table or json")


def cmd_images(s, argv):
    opts = parse_cmd([Flag("-q,--quiet", BOOL, "Only display IDs"),
                   Flag("--format", STR, "Format the output. Values: [table | json]", default="table")],
                  argv, "images [OPTIONS] [SERVICE...]", "List images used by the created containers")
    rows = []
    for rec in _recs(s, opts.args, oneoff=None):
        repo, _, tag = rec.image.rpartition(":") if ":" in rec.image.rsplit("/", 1)[-1] else (rec.image, "", "latest")
        try:
            img = s.engine.images.resolve(rec.image_id)
            size = getattr(img, "size", 0) or 0
        except DockyardError:
            size = 0
        rows.append({"ContainerName": rec.name, "Repository": repo, "Tag": tag, "ID": rec.image_id.removeprefix(
            "sha256:")[:12], "Size": _size(size)})
    _print_rows(opts, rows, "ID", "table {{.ContainerName}}\t{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}",
                {"ContainerName": "CONTAINER", "Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID",
                 "Size": "SIZE"})
    return 0


def _size(n: int) -> str:
    from dockyard.units import human_size

    return human_size(n)


def cmd_port(s, argv):
    opts = parse_cmd([Flag("--protocol", STR, "tcp or udp", default="tcp"),
                   Flag("--index", STR, "Index of the container if service has multiple replicas")],
                  argv, "port [OPTIONS] SERVICE PRIVATE_PORT", "Print the public port for a port binding")
    if len(opts.args) != 2:
        raise UsageError('"dockyard compose port" requires exactly 2 arguments.')
    if opts.protocol not in ("tcp", "udp"):
        raise InvalidArgument(f"invalid protocol {opts.protocol!r}: tcp or udp")
    rec = pick(s, opts.args[0], parse_seconds(opts.index, "--index"))
    ports = (P.state_of(rec).get("NetworkSettings") or {}).get("Ports") or {}
    binds = ports.get(f"{opts.args[1]}/{opts.protocol}")
    if not binds:
        raise InvalidArgument(f"no port {opts.args[1]}/{opts.protocol} for container {rec.name}")
    b = binds[0]
    print(f"{b['HostIp'] or '0.0.0.0'}:{b['HostPort']}")
    return 0


def cmd_cp(s, argv):
    from dockyard.engine.filesystem import copy_from_container, copy_to_container

    opts = parse_cmd([Flag("--index", STR, "Index of the container if service has multiple replicas"),
                   Flag("-a,--archive", BOOL, "Archive mode (copy all uid/gid information)"),
                   Flag("-L,--follow-link", BOOL, "Always follow symbol link in SRC_PATH")],
                  argv, "cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n       dockyard compose cp [OPTIONS] SRC_PATH|- "
                  "SERVICE:DEST_PATH", "Copy files/folders between a service container and the local filesystem")
    if len(opts.args) != 2:
        raise UsageError('"dockyard compose cp" requires exactly 2 arguments.')
    src, dst = opts.args
    index = parse_seconds(opts.index, "--index")
    if ":" in src and not src.startswith(("/", ".")):
        svc, _, path = src.partition(":")
        rec = pick(s, svc, index)
        copy_from_container(s.engine, rec.id, path, sys.stdout.buffer if dst == "-" else dst, archive=opts.archive,
                            follow_link=opts.follow_link)
        sys.stdout.flush()
    elif ":" in dst and not dst.startswith(("/", ".")):
        svc, _, path = dst.partition(":")
        rec = pick(s, svc, index)
        copy_to_container(s.engine, rec.id, path, sys.stdin.buffer if src == "-" else src, archive=opts.archive,
                          follow_link=opts.follow_link)
    else:
        raise InvalidArgument("one of SRC and DEST must be SERVICE:PATH")
    return 0


def cmd_wait(s, argv):
    from dockyard.compose import down
    from dockyard.engine import lifecycle

    opts = parse_cmd([Flag("--down-project", BOOL, "Drops project when the first container stops")], argv,
                  "wait SERVICE [SERVICE...]", "Block until containers of all (or specified) services stop.")
    if not opts.args:
        raise UsageError('"dockyard compose wait" requires at least 1 argument.')
    code = 0
    for rec in _recs(s, opts.args):
        code = lifecycle.wait(s.engine, rec.id)
        print(code)
        if opts.down_project:
            down.down(s.engine, s.project, s.progress())
            break
    return code


def cmd_ls(s, argv):
    opts = parse_cmd([Flag("-a,--all", BOOL, "Show all stopped Compose projects"),
                   Flag("-q,--quiet", BOOL, "Only display project names"),
                   Flag("--format", STR, "Format the output. Values: [table | json]", default="table")],
                  argv, "ls [OPTIONS]", "List running compose projects")
    projects: dict = {}
    for rec in reversed(s.engine.db.list_containers()):
        lab = P.labels_of(rec)
        name = lab.get(P.PROJECT)
        if not name:
            continue
        p = projects.setdefault(name, {"Name": name, "states": {}, "ConfigFiles": lab.get(P.LABEL + "project.config_files", "")})
        st = P.state_of(rec).get("Status", "")
        p["states"][st] = p["states"].get(st, 0) + 1
    rows = []
    for name in sorted(projects):
        p = projects[name]
        if not opts.all and not any(k in RUNNING for k in p["states"]):
            continue
        rows.append({"Name": name, "Status": ", ".join(f"{k}({v})" for k, v in sorted(p["states"].items())),
                     "ConfigFiles": p["ConfigFiles"]})
    _print_rows(opts, rows, "Name", "table {{.Name}}\t{{.Status}}\t{{.ConfigFiles}}",
                {"Name": "NAME", "Status": "STATUS", "ConfigFiles": "CONFIG FILES"})
    return 0


def cmd_version(s, argv):
    from dockyard import __version__

    opts = parse_cmd([Flag("-f,--format", STR, "Format the output. Values: [pretty | json]", default="pretty"),
                   Flag("--short", BOOL, "Shows only Compose's version number")], argv, "version [OPTIONS]",
                  "Show the Docker Compose version information")
    if opts.short:
        print(__version__)
    elif opts.format == "json":
        print('{"version":"v%s"}' % __version__)
    elif opts.format == "pretty":
        print(f"dockyard compose version v{__version__}")
    else:
        raise InvalidArgument(f"unsupported format {opts.format!r}: use pretty or json")
    return 0


def cmd_build(s, argv):
    from dockyard.compose.build import build_service

    opts = parse_cmd([Flag("-q,--quiet", BOOL, "Don't print anything to STDOUT"),
                   Flag("--no-cache", BOOL, "Do not use cache when building the image")],
                  argv, "build [OPTIONS] [SERVICE...]", "Build or rebuild services")
    progress = s.progress()
    for svc in P.select_services(s.project, opts.args):
        if not s.project.services[svc].get("build"):
            continue
        progress.event("Service", svc, "Building")
        build_service(s.engine, s.project, svc, quiet=opts.quiet, no_cache=opts.no_cache)
        progress.event("Service", svc, "Built")
    return 0


def _registry(s, argv, prog, summary, verb):
    opts = parse_cmd([Flag("-q,--quiet", BOOL, f"{verb.capitalize()} without printing progress information"),
                      Flag(f"--ignore-{verb}-failures", BOOL, f"{verb.capitalize()} what it can and ignores images "
                           f"with {verb} failures", dest="ignore_failures")], argv, prog, summary)
    from dockyard.cli.registry_client import PlainProgress
    from dockyard.compose.convert import image_name

    progress = Progress("quiet") if opts.quiet else s.progress()
    code = 0
    for svc in P.select_services(s.project, opts.args):
        service = s.project.services[svc]
        if verb == "pull" and (not service.get("image") or service.get("pull_policy") in ("build", "never")):
            continue
        if verb == "push" and not service.get("image"):
            continue
        ref = image_name(s.project.name, svc, service)
        progress.event("Image" if verb == "push" else "Service", ref if verb == "push" else svc,
                       "Pushing" if verb == "push" else "Pulling")
        try:
            if verb == "pull":
                from dockyard.registry.pull import pull
                from dockyard.sign.policy import enforcer

                pull(s.engine, ref, progress=PlainProgress(sys.stderr) if not opts.quiet else None,
                     check=enforcer(s.engine.root, None))
            else:
                from dockyard.registry.push import push

                push(s.engine, ref, progress=PlainProgress(sys.stderr) if not opts.quiet else None)
        except DockyardError as e:
            if not opts.ignore_failures:
                raise
            progress.event("Service", svc, f"Error: {e}")
            code = 1
            continue
        progress.event("Image" if verb == "push" else "Service", ref if verb == "push" else svc,
                       "Pushed" if verb == "push" else "Pulled")
    return code


def cmd_pull(s, argv):
    return _registry(s, argv, "pull [OPTIONS] [SERVICE...]", "Pull service images", "pull")


def cmd_push(s, argv):
    return _registry(s, argv, "push [OPTIONS] [SERVICE...]", "Push service images", "push")


def cmd_events(s, argv):
    """The project's container events from the store's journal (engine/events.py), as Compose v2
    prints them: `2024-01-02 03:04:05.000000 container start ID (image=…, name=…)`, or `--json`."""
    import time

    from dockyard.engine import events

    opts = parse_cmd([Flag("--json", BOOL, "Output events as a stream of json objects"),
                      Flag("--since", STR, "Show all events created since timestamp"),
                      Flag("--until", STR, "Stream events until this timestamp")],
                     argv, "events [OPTIONS] [SERVICE...]", "Receive real time events from containers")
    services = set(P.select_services(s.project, opts.args)) if opts.args else None
    since, until = events.parse_time(opts.since), events.parse_time(opts.until)
    filters = {"type": ["container"], "label": [f"{P.PROJECT}={s.project.name}"]}

    def out(ev):
        attrs = (ev.get("Actor") or {}).get("Attributes") or {}
        svc = attrs.get(P.SERVICE, "")
        if services is not None and svc not in services:
            return
        shown = {k: v for k, v in attrs.items() if not k.startswith(P.LABEL)}
        ns = ev.get("timeNano", 0)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ns // 10**9)) + f".{ns % 10**9 // 1000:06d}"
        if opts.json:
            from dockyard.cli.template import go_json

            line = go_json({"action": ev.get("Action"), "attributes": shown, "id": ev["Actor"]["ID"],
                            "service": svc, "time": stamp.replace(" ", "T"), "type": "container"})
        else:
            line = (f"{stamp} container {ev.get('Action')} {ev['Actor']['ID']} "
                    f"({', '.join(f'{k}={v}' for k, v in sorted(shown.items()))})")
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    try:
        events.read(s.engine, since=since, until=until, filters=filters, follow=True, emit_fn=out)
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    return 0
