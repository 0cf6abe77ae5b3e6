"""`dockyard ps` and `dockyard rm`."""

from __future__ import annotations

import time

from dockyard.cli.flags import BOOL, LIST, Flag, parse, usage
from dockyard.cli.render import ago, human_duration, parse_rfc3339, table
from dockyard.errors import DockyardError

PS_FLAGS = [
    Flag("-a,--all", BOOL, "Show all containers (default shows just running)"),
    Flag("-q,--quiet", BOOL, "Only display container IDs"),
    Flag("--no-trunc", BOOL, "Don't truncate output"),
    Flag("--help", BOOL, "Print usage"),
]
RM_FLAGS = [
    Flag("-f,--force", BOOL, "Force the removal of a running container (uses SIGKILL)"),
    Flag("-v,--volumes", BOOL, "Remove anonymous volumes associated with the container"),
    Flag("--help", BOOL, "Print usage"),
]


def status_text(st: dict) -> str:
    """docker ps STATUS: "Up 3 seconds", "Exited (0) 2 seconds ago", "Created"."""
    status = st.get("Status")
    if status == "running":
        return "Up " + human_duration(time.time() - parse_rfc3339(st.get("StartedAt", "")))
    if status == "paused":
        return "Up " + human_duration(time.time() - parse_rfc3339(st.get("StartedAt", ""))) + " (Paused)"
    if status == "exited":
        return f"Exited ({st.get('ExitCode', 0)}) " + ago(parse_rfc3339(st.get("FinishedAt", "")))
    return status.capitalize() if status else "Unknown"


def _command(rec) -> str:
    st = rec.state
    return " ".join([st.get("Path", "")] + list(st.get("Args") or ()))


def cmd_ps(ctx, argv: list[str]) -> int:
    from dockyard.engine.containers import effective_state

    opts = parse(PS_FLAGS, argv)
    if opts.help:
        print(usage("dockyard ps [OPTIONS]", "List containers", PS_FLAGS))
        return 0
    recs = sorted(ctx.engine.db.list_containers(), key=lambda r: r.created, reverse=True)
    rows = []
    for rec in recs:
        st = effective_state(rec)
        if not opts.all and st.get("Status") not in ("running", "paused", "restarting"):
            continue
        if opts.quiet:
            print(rec.id if opts.no_trunc else rec.id[:12])
            continue
        cmd = _command(rec)
        cmd = f'"{cmd}"' if opts.no_trunc or len(cmd) <= 20 else f'"{cmd[:19]}…"'
        rows.append([rec.id if opts.no_trunc else rec.id[:12], rec.image, cmd, ago(rec.created),
                     status_text(st), "", rec.name])
    if not opts.quiet:
        print(table(rows, ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]))
    return 0


def cmd_rm(ctx, argv: list[str]) -> int:
    from dockyard.engine.containers import remove

    opts = parse(RM_FLAGS, argv)
    if opts.help or not opts.args:
        print(usage("dockyard rm [OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", RM_FLAGS))
        return 0 if opts.help else 1
    failed = 0
    import sys

    for ref in opts.args:
        try:
            remove(ctx.engine, ref, force=opts.force)
            print(ref)
        except DockyardError as e:
            sys.stderr.write(f"dockyard: error: {e}\n")
            failed = 1
    return failed
