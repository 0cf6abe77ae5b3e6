"""`dockyard logs`: the json-file log, as docker prints it (stdout to stdout, stderr to stderr)."""

from __future__ import annotations

import os
import sys
import time

from dockyard.cli.flags import BOOL, STR, Flag, UsageError, parse, usage
from dockyard.errors import InvalidArgument

FLAGS = [
    Flag("-f,--follow", BOOL, "Follow log output"),
    Flag("-n,--tail", STR, 'Number of lines to show from the end of the logs (default "all")', default="all"),
    Flag("-t,--timestamps", BOOL, "Show timestamps"),
    Flag("--since", STR, 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")'),
    Flag("--until", STR, "Show logs before a timestamp or relative time"),
    Flag("--details", BOOL, "Show extra details provided to logs"),
    Flag("--help", BOOL, "Print usage"),
]


def parse_time(value: str, now: float | None = None) -> float:
    """docker's --since/--until: a Go duration ("10s", "1h30m") before now, RFC 3339, or unix time."""
    from dockyard.cli.render import parse_rfc3339

    now = time.time() if now is None else now
    v = value.strip()
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    total, num, i, ok = 0.0, "", 0, False
    while i < len(v):
        c = v[i]
        if c.isdigit() or c == ".":
            num += c
            i += 1
            continue
        unit = v[i:i + 2] if v[i:i + 2] in units else c
        if unit not in units or not num:
            break
        total += float(num) * units[unit]
        num, ok = "", True
        i += len(unit)
    else:
        if ok and not num:
            return now - total
    try:
        return float(v)
    except ValueError:
        pass
    t = parse_rfc3339(v if "T" in v else v + "T00:00:00Z")
    if t:
        return t
    raise InvalidArgument(f'invalid value for "since": failed to parse value as time or duration: "{value}"')


def _emit(rec: dict, timestamps: bool, prefix: str = "") -> None:
    text = prefix + rec.get("log", "")
    if timestamps:
        text = f"{rec.get('time', '')} {text}"
    out = sys.stderr if rec.get("stream") == "stderr" else sys.stdout
    out.write(text)
    out.flush()


def cmd_logs(ctx, argv: list[str]) -> int:
    from dockyard.cli.render import parse_rfc3339
    from dockyard.engine.status import effective_state
    from dockyard.engine.logs import check_readable, read_records

    opts = parse(FLAGS, argv)
    if opts.help:
        print(usage("dockyard logs [OPTIONS] CONTAINER", "Fetch the logs of a container", FLAGS))
        return 0
    if len(opts.args) != 1:
        raise UsageError('"dockyard logs" requires exactly 1 argument.')
    engine = ctx.engine
    rec = engine.db.get_container(opts.args[0])
    check_readable(rec.config)
    path = os.path.join(engine.container_data_dir(rec.id), f"{rec.id}-json.log")
    since = parse_time(opts.since) if opts.since else None
    until = parse_time(opts.until) if opts.until else None
    tail = None
    if opts.tail != "all":
        if not opts.tail.lstrip("-").isdigit():
            raise InvalidArgument(f'invalid value for "tail": "{opts.tail}"')
        tail = max(int(opts.tail), 0) if int(opts.tail) >= 0 else None

    def wanted(r: dict) -> bool:
        if since is None and until is None:
            return True
        t = parse_rfc3339(r.get("time", ""))
        return (since is None or t >= since) and (until is None or t <= until)

    from dockyard.engine.logs import details_prefix

    prefix = details_prefix(engine, rec) if opts.details else ""
    records = [r for r in read_records(path) if wanted(r)]
    if tail is not None:
        records = records[-tail:] if tail else []
    for r in records:
        _emit(r, opts.timestamps, prefix)
    if not opts.follow:
        return 0
    seen = sum(1 for _ in read_records(path))
    while True:
        st = effective_state(engine.db.get_container(rec.id), engine.db)
        new = list(read_records(path))
        if len(new) < seen:  # rotated: start over at what the current files hold
            seen = 0
        for r in new[seen:]:
            if until is None or wanted(r):
                _emit(r, opts.timestamps, prefix)
        seen = len(new)
        if st.get("Status") not in ("running", "restarting", "paused"):
            return 0
        time.sleep(0.1)
