"""`dockyard start|stop|restart|kill|wait|logs`."""

from __future__ import annotations

import sys

from dockyard.cli.flags import BOOL, STR, Flag, UsageError, parse, usage
from dockyard.errors import DockyardError


def _each(ctx, argv, flags, prog, summary, fn) -> int:
    opts = parse(flags, argv)
    if opts.get("help") or not opts.args:
        print(usage(f"dockyard {prog} [OPTIONS] CONTAINER [CONTAINER...]", summary, flags))
        if opts.get("help"):
            return 0
        raise UsageError(f'"dockyard {prog}" requires at least 1 argument.')
    rc = 0
    for ref in opts.args:
        try:
            out = fn(ref, opts)
            if out is not None:
                print(out)
        except DockyardError as e:
            sys.stderr.write(f"dockyard: error: {e}\n")
            rc = 1
    return rc


def cmd_start(ctx, argv):
    from dockyard.engine.lifecycle import start

    flags = [Flag("-a,--attach", BOOL, "Attach STDOUT/STDERR and forward signals"),
             Flag("-i,--interactive", BOOL, "Attach container's STDIN"), Flag("--help")]
    return _each(ctx, argv, flags, "start", "Start one or more stopped containers",
                 lambda ref, o: start(ctx.engine, ref) and ref)


def cmd_stop(ctx, argv):
    from dockyard.engine.lifecycle import parse_timeout, stop

    flags = [Flag("-t,--time", STR, "Seconds to wait before killing the container"),
             Flag("-s,--signal", STR, "Signal to send to the container"), Flag("--help")]
    return _each(ctx, argv, flags, "stop", "Stop one or more running containers",
                 lambda ref, o: stop(ctx.engine, ref, timeout=parse_timeout(o.time), signal=o.signal) and ref)


def cmd_restart(ctx, argv):
    from dockyard.engine.lifecycle import parse_timeout, restart

    flags = [Flag("-t,--time", STR, "Seconds to wait before killing the container"), Flag("--help")]
    return _each(ctx, argv, flags, "restart", "Restart one or more containers",
                 lambda ref, o: restart(ctx.engine, ref, timeout=parse_timeout(o.time)) and ref)


def cmd_kill(ctx, argv):
    from dockyard.engine.lifecycle import kill

    flags = [Flag("-s,--signal", STR, "Signal to send to the container", default="KILL"), Flag("--help")]
    return _each(ctx, argv, flags, "kill", "Kill one or more running containers",
                 lambda ref, o: kill(ctx.engine, ref, o.signal) and ref)


def cmd_wait(ctx, argv):
    from dockyard.engine.lifecycle import wait

    return _each(ctx, argv, [Flag("--help")], "wait", "Block until one or more containers stop, then print their exit codes",
                 lambda ref, o: wait(ctx.engine, ref))
