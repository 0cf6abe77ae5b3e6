"""`dockyard events`: the store's events journal (engine/events.py), as `docker events` prints it."""

from __future__ import annotations

import sys

from dockyard.cli.flags import LIST, STR, Flag, FlagError, UsageError, parse, usage

FLAGS = [
    Flag("-f,--filter", LIST, "Filter output based on conditions provided", metavar="filter"),
    Flag("--format", STR, "Format output using a custom template ('json' or a Go template)", metavar="string"),
    Flag("--since", STR, "Show all events created since timestamp", metavar="string"),
    Flag("--until", STR, "Stream events until this timestamp", metavar="string"),
    Flag("--help"),
]


def _line(ev: dict) -> str:
    import time

    ns = ev.get("timeNano", 0)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + f".{ns % 1_000_000_000:09d}Z"
    attrs = (ev.get("Actor") or {}).get("Attributes") or {}
    tail = f" ({', '.join(f'{k}={v}' for k, v in sorted(attrs.items()))})" if attrs else ""
    return f"{stamp} {ev.get('Type')} {ev.get('Action')} {(ev.get('Actor') or {}).get('ID', '')}{tail}"


_GO_NAMES = {"scope": "Scope", "time": "Time", "timeNano": "TimeNano", "status": "Status", "id": "ID", "from": "From"}


def _go_names(ev: dict) -> dict:
    """The event as docker's events.Message struct: every field there, empty when not set."""
    return {"Status": "", "ID": "", "From": "", **{_GO_NAMES.get(k, k): v for k, v in ev.items()}}


def cmd_events(ctx, argv) -> int:
    from dockyard.engine import events

    opts = parse(FLAGS, argv)
    if opts.help:
        print(usage("dockyard events [OPTIONS]", "Get real time events from the server", FLAGS))
        return 0
    if opts.args:
        raise UsageError('"dockyard events" accepts no arguments.')
    filters: dict = {}
    for f in opts.filter:
        k, eq, v = f.partition("=")
        if not eq:
            raise FlagError(f"bad format of filter (expected name=value): {f}")
        filters.setdefault(k.strip().lower(), []).append(v)
    events.check_filters(filters)
    since, until = events.parse_time(opts.since), events.parse_time(opts.until)
    render = _line
    if opts.format:
        from dockyard.cli.template import go_json, render as render_template

        fmt = opts.format
        # a template sees docker's Go struct (Scope, Time, TimeNano, Status, ID, From); `json` its JSON names
        render = (lambda ev: go_json(ev)) if fmt == "json" else (lambda ev: render_template(fmt, _go_names(ev)))
        render({"Type": "", "Action": "", "Actor": {"ID": "", "Attributes": {}}})  # a bad template fails now

    def out(ev):
        actor = ev.get("Actor")
        if isinstance(actor, dict) and isinstance(actor.get("Attributes"), dict):  # a Go map in docker's type
            from dockyard.cli.govalues import GoMap

            ev = {**ev, "Actor": {**actor, "Attributes": GoMap(actor["Attributes"])}}
        sys.stdout.write(render(ev) + "\n")
        sys.stdout.flush()

    try:
        events.read(ctx.engine, since=since, until=until, filters=filters, follow=True, emit_fn=out)
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    return 0
