"""`dockyard start|stop|restart|kill|wait|logs`."""

from __future__ import annotations

import sys

from dockyard.cli.each import each, outcomes
from dockyard.cli.flags import BOOL, STR, Flag, UsageError, parse, usage
from dockyard.errors import DockyardError


def _each(ctx, argv, flags, prog, summary, fn, *, parallel: bool = False) -> int:
    opts = parse(flags, argv)
    if opts.get("help") or not opts.args:
        print(usage(f"dockyard {prog} [OPTIONS] CONTAINER [CONTAINER...]", summary, flags))
        if opts.get("help"):
            return 0
        raise UsageError(f'"dockyard {prog}" requires at least 1 argument.')
    return each(opts.args, lambda ref: fn(ref, opts), parallel=parallel)


def cmd_start(ctx, argv):
    from dockyard.engine.lifecycle import start

    flags = [Flag("-a,--attach", BOOL, "Attach STDOUT/STDERR and forward signals"),
             Flag("--detach-keys", STR, "Override the key sequence for detaching a container", metavar="string"),
             Flag("-i,--interactive", BOOL, "Attach container's STDIN"), Flag("--help"),
             *(Flag(name, STR, f"{what} (refused: no checkpoint/restore)", metavar="string", refused=f"{name} is "
                    "not supported: dockyard has no checkpoint/restore (CRIU); a container starts afresh")
               for name, what in (("--checkpoint", "Restore from this checkpoint"),
                                  ("--checkpoint-dir", "Use a custom checkpoint storage directory")))]
    opts = parse(flags, argv)
    if (opts.attach or opts.interactive) and not opts.help:
        if len(opts.args) > 1:
            raise UsageError("you cannot start and attach multiple containers at once")
        if opts.args:
            from dockyard.cli.attach import start_attached

            return start_attached(ctx, opts.args[0], interactive=opts.interactive, detach_keys=opts.detach_keys)
    elif opts.detach_keys is not None and not opts.help:
        from dockyard.engine.attach import parse_detach_keys

        parse_detach_keys(opts.detach_keys)  # checked, and meaningless without -a/-i (as docker's)
    return _each(ctx, argv, flags, "start", "Start one or more stopped containers",
                 lambda ref, o: start(ctx.engine, ref) and ref)


def cmd_stop(ctx, argv):
    from dockyard.engine.lifecycle import parse_timeout, stop

    flags = [Flag("-t,--time,--timeout", STR, "Seconds to wait before killing the container", dest="time"),
             Flag("-s,--signal", STR, "Signal to send to the container"), Flag("--help")]
    return _each(ctx, argv, flags, "stop", "Stop one or more running containers",
                 lambda ref, o: stop(ctx.engine, ref, timeout=parse_timeout(o.time), signal=o.signal) and ref,
                 parallel=True)


def cmd_restart(ctx, argv):
    """Stops run in parallel (threads); starts fork monitors, which must never happen while other
    threads hold SQLite connections, so they run one by one afterwards."""
    from dockyard.engine.lifecycle import parse_timeout, start, stop

    flags = [Flag("-t,--time,--timeout", STR, "Seconds to wait before killing the container", dest="time"),
             Flag("-s,--signal", STR, "Signal to send to the container"), Flag("--help")]
    opts = parse(flags, argv)
    if opts.help or not opts.args:
        print(usage("dockyard restart [OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers", flags))
        if opts.help:
            return 0
        raise UsageError('"dockyard restart" requires at least 1 argument.')
    def stop_one(ref):
        return stop(ctx.engine, ref, timeout=parse_timeout(opts.time), signal=opts.signal)

    stopped = list(outcomes(opts.args, stop_one, parallel=True))
    ctx.engine.db.close()  # the threads' connections stay with them; start afresh in this thread
    rc = 0
    for ref, _out, err in stopped:
        if err is None:
            try:
                start(ctx.engine, ref)
            except DockyardError as e:
                err = e
        if err is not None:
            sys.stderr.write(f"dockyard: error: {err}\n")
            rc = 1
        else:
            print(ref)
    return rc


def cmd_kill(ctx, argv):
    from dockyard.engine.lifecycle import kill

    flags = [Flag("-s,--signal", STR, "Signal to send to the container", default="KILL"), Flag("--help")]
    return _each(ctx, argv, flags, "kill", "Kill one or more running containers",
                 lambda ref, o: kill(ctx.engine, ref, o.signal) and ref, parallel=True)


def cmd_wait(ctx, argv):
    from dockyard.engine.lifecycle import wait

    return _each(ctx, argv, [Flag("--help")], "wait", "Block until one or more containers stop, then print their exit codes",
                 lambda ref, o: wait(ctx.engine, ref))


def cmd_pause(ctx, argv):
    from dockyard.engine.observe import pause

    return _each(ctx, argv, [Flag("--help")], "pause", "Pause all processes within one or more containers",
                 lambda ref, o: pause(ctx.engine, ref) and ref)


def cmd_unpause(ctx, argv):
    from dockyard.engine.observe import unpause

    return _each(ctx, argv, [Flag("--help")], "unpause", "Unpause all processes within one or more containers",
                 lambda ref, o: unpause(ctx.engine, ref) and ref)


def cmd_top(ctx, argv):
    from dockyard.engine.observe import top

    opts = parse([Flag("--help", BOOL, "Print usage")], argv, interspersed=False)  # ps options follow the name
    if opts.help or not opts.args:
        print("Usage:  dockyard top CONTAINER [ps OPTIONS]\n\nDisplay the running processes of a container")
        return 0 if opts.help else 1
    from dockyard.cli.template import tabwrite

    # docker splits ps's lines as dockerd does (the last column keeps its spaces) and lays them out
    # with its own tabwriter (minwidth 20, padding 3), not ps's alignment
    lines = top(ctx.engine, opts.args[0], opts.args[1:]).splitlines()
    titles = lines[0].split() if lines else []
    rows = [titles] + [ln.split(None, len(titles) - 1) for ln in lines[1:]] if titles else []
    sys.stdout.write(tabwrite("".join("\t".join(r) + "\n" for r in rows), minwidth=20, padding=3))
    return 0


STATS_HEADERS = {"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
                 "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
                 "PIDs": "PIDS"}
STATS_DEFAULT = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}"
                 "\t{{.PIDs}}")


def cmd_stats(ctx, argv):
    """docker stats: --no-stream prints one table; without it, refreshes every second (Ctrl-C ends)."""
    from dockyard.cli.template import render_table
    from dockyard.engine.status import effective_state
    from dockyard.engine.observe import stats_rows

    flags = [Flag("-a,--all", BOOL, "Show all containers (default shows just running)"),
             Flag("--no-stream", BOOL, "Disable streaming stats and only pull the first result"),
             Flag("--no-trunc", BOOL, "Do not truncate output"),
             Flag("--format", STR, "Format output using a custom template"), Flag("--help")]
    opts = parse(flags, argv)
    if opts.help:
        print(usage("dockyard stats [OPTIONS] [CONTAINER...]", "Display a live stream of container(s) resource usage "
                    "statistics", flags))
        return 0
    engine = ctx.engine
    # without names, docker lists containers by their short IDs (its Container column)
    refs = opts.args or [r.id[:12] for r in engine.db.list_containers()
                         if opts.all or effective_state(r).get("Status") in ("running", "paused")]
    fmt = opts.format or STATS_DEFAULT
    while True:
        out = render_table(fmt, stats_rows(engine, refs, trunc=not opts.no_trunc), STATS_HEADERS)
        if opts.no_stream:
            sys.stdout.write(out)
            return 0
        sys.stdout.write("\033[2J\033[H" + out)
        sys.stdout.flush()
