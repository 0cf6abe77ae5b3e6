"""`dockyard ps` and `dockyard rm`."""

from __future__ import annotations

import sys
import time

from dockyard.cli.each import each
from dockyard.cli.flags import BOOL, INT, LIST, STR, Flag, UsageError, filter_args, help_or_refuse, parse, usage
from dockyard.cli.render import ago, confirm
from dockyard.engine.listing import status_text
from dockyard.errors import InvalidArgument

PS_FLAGS = [
    Flag("-a,--all", BOOL, "Show all containers (default shows just running)"),
    Flag("-q,--quiet", BOOL, "Only display container IDs"),
    Flag("--no-trunc", BOOL, "Don't truncate output"),
    Flag("-f,--filter", LIST, "Filter output based on conditions provided (status, name, label, ancestor, id, exited, health)"),
    Flag("--format", STR, "Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)"),
    Flag("-l,--latest", BOOL, "Show the latest created container (includes all states)"),
    Flag("-n,--last", INT, "Show n last created containers (includes all states)", default=-1),
    Flag("-s,--size", BOOL, "Display total file sizes"),
    Flag("--help", BOOL, "Print usage"),
]
PS_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
              "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
              "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS"}
PS_DEFAULT = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
RM_FLAGS = [
    Flag("-f,--force", BOOL, "Force the removal of a running container (uses SIGKILL)"),
    Flag("-v,--volumes", BOOL, "Remove anonymous volumes associated with the container"),
    Flag("-l,--link", BOOL, "Remove the specified link"),
    Flag("--help", BOOL, "Print usage"),
]


def _command(rec) -> str:
    """docker ps COMMAND: arguments with spaces are shown in single quotes."""
    st = rec.state
    args = [st.get("Path", "")] + list(st.get("Args") or ())
    return " ".join(f"'{a}'" if " " in a else a for a in args)


def _filters(values: list[str]) -> dict[str, list[str]]:
    def check(k: str, v: str) -> None:
        if k == "status" and v not in STATUSES:
            raise InvalidArgument(f"Invalid filter 'status={v}'")
        if k == "health" and v not in ("starting", "healthy", "unhealthy", "none"):
            raise InvalidArgument(f"Unrecognised filter value for health: {v}")

    return filter_args(values, ("status", "name", "label", "ancestor", "id", "exited", "before", "since", "health"),
                       check)


def ps_row(rec, st: dict, *, no_trunc: bool) -> dict:
    cmd = _command(rec)
    cmd = f'"{cmd}"' if no_trunc or len(cmd) <= 20 else f'"{cmd[:19]}…"'
    labels = rec.config.get("labels") or {}
    return {
        "ID": rec.id if no_trunc else rec.id[:12], "Image": rec.image, "Command": cmd,
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(rec.created)),
        "RunningFor": ago(rec.created), "Ports": _ports(st), "State": st.get("Status", ""),
        "Status": status_text(st),
        "Size": "0B", "Names": rec.name, "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "Label": lambda key: labels.get(key, ""),
        # docker's Ellipsis(name, 15) unless --no-trunc
        "Mounts": ",".join(n if no_trunc or len(n) <= 15 else n[:14] + "…"
                           for n in (m.get("source", "") for m in rec.config.get("mounts") or ()
                                     if m.get("type") != "tmpfs")),
        "Networks": ",".join([rec.config.get("network") or "bridge"] + list(rec.config.get("networks") or {})),
        "LocalVolumes": str(sum(1 for m in rec.config.get("mounts") or () if m.get("type") == "volume")),
        "Platform": "linux/amd64",
    }


def ps_size(engine, rec) -> str:
    """docker ps -s: what the container wrote, and that plus its image ("0B (virtual 2.14MB)")."""
    from dockyard.engine.inspect import container_sizes
    from dockyard.units import human_size

    rw, rootfs = container_sizes(engine, rec)
    return f"{human_size(rw, 3)} (virtual {human_size(rootfs, 3)})"


def _ports(st: dict) -> str:
    ports = (st.get("NetworkSettings") or {}).get("Ports") if st.get("Status") in ("running", "paused") else None
    if not ports:
        return ""
    from dockyard.network.ports import ps_column

    return ps_column(ports)


def cmd_ps(ctx, argv: list[str]) -> int:
    from dockyard.cli.template import render_table
    from dockyard.engine.listing import select

    opts = parse(PS_FLAGS, argv)
    if opts.help:
        print(usage("dockyard ps [OPTIONS]", "List containers", PS_FLAGS))
        return 0
    flt = _filters(opts.filter)
    show_all = opts.all or opts.latest or opts.last >= 0 or "status" in flt or "exited" in flt
    rows = select(ctx.engine, flt, show_all=show_all)
    if opts.latest:
        rows = rows[:1]
    elif opts.last >= 0:
        rows = rows[:opts.last]
    if opts.quiet:
        for rec, _ in rows:
            print(rec.id if opts.no_trunc else rec.id[:12])
        return 0
    fmt = opts.format or PS_DEFAULT
    if fmt == "table":
        fmt = PS_DEFAULT
    if opts.size and fmt == PS_DEFAULT:
        fmt += "\t{{.Size}}"
    out = []
    for r, st in rows:
        row = ps_row(r, st, no_trunc=opts.no_trunc)
        if opts.size or "Size" in fmt:  # docker computes sizes for -s, or a format that names them
            row["Size"] = ps_size(ctx.engine, r)
        out.append(row)
    sys.stdout.write(render_table(fmt, out, PS_HEADERS, row_type="*formatter.ContainerContext"))
    return 0


def cmd_rm(ctx, argv: list[str]) -> int:
    from dockyard.engine.teardown import remove

    opts = parse(RM_FLAGS, argv)
    if opts.help or not opts.args:
        return help_or_refuse(opts.help, "dockyard rm [OPTIONS] CONTAINER [CONTAINER...]",
                              "Remove one or more containers", RM_FLAGS, "at least 1 argument")
    if opts.link:
        from dockyard.engine.links import remove as remove_link

    def rm_one(ref):
        if opts.link:  # the link /me/alias, not a container
            remove_link(ctx.engine, ref)
        else:
            remove(ctx.engine, ref, force=opts.force, volumes=opts.volumes)

    from dockyard.cli.each import outcomes
    from dockyard.errors import NotFound

    rc = 0
    for ref, _, err in outcomes(opts.args, rm_one):
        if err is None:
            print(ref)
            continue
        sys.stderr.write(f"dockyard: error: {err}\n")
        if not (opts.force and isinstance(err, NotFound)):  # docker: -f makes a missing one no failure
            rc = 1
    return rc


def cmd_rename(ctx, argv: list[str]) -> int:
    from dockyard.engine.containers import rename

    opts = parse([Flag("--help", BOOL, "Print usage")], argv)
    if opts.help:
        print(usage("dockyard rename CONTAINER NEW_NAME", "Rename a container", [Flag("--help", BOOL, "Print usage")]))
        return 0
    if len(opts.args) != 2:
        raise UsageError('"dockyard rename" requires exactly 2 arguments.',
                              hint="Usage:  dockyard rename CONTAINER NEW_NAME")
    rename(ctx.engine, opts.args[0], opts.args[1])
    return 0


def cmd_prune(ctx, argv: list[str]) -> int:
    """docker container prune: remove every stopped container; prints what it reclaimed."""
    from dockyard.cli.render import human_size
    from dockyard.engine.prune import prune_containers

    opts = parse([Flag("-f,--force", BOOL, "Do not prompt for confirmation"),
                  Flag("--filter", LIST, "Provide filter values (e.g. 'until=<timestamp>', 'label=<key>=<value>')"),
                  Flag("--help", BOOL)], argv)
    if opts.help:
        print(usage("dockyard container prune [OPTIONS]", "Remove all stopped containers", []))
        return 0
    if not opts.force:
        if not confirm("WARNING! This will remove all stopped containers."):
            return 0
    from dockyard.cli.networks import prune_filters
    from dockyard.engine.volumes import match_labels

    until, labels = prune_filters(opts.filter)  # docker's keys for prune: until, label, label!

    def accept(rec, st) -> bool:
        return (until is None or rec.created < until) and match_labels(rec.config.get("labels") or {}, labels)

    removed, reclaimed = prune_containers(ctx.engine, accept)
    if removed:
        print("Deleted Containers:")
        for cid in removed:
            print(cid)
        print()
    print(f"Total reclaimed space: {human_size(reclaimed)}")
    return 0
