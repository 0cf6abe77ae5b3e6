"""`dockyard volume create|ls|inspect|rm|prune`, printed as docker prints them."""

from __future__ import annotations

import sys

from dockyard.cli.flags import BOOL, LIST, STR, Flag, UsageError, filter_args, key_values, parse, usage
from dockyard.cli.render import confirm
from dockyard.errors import InvalidArgument, NotFound

LS_HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
              "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Group": "GROUP",
              "Availability": "AVAILABILITY", "Status": "STATUS"}
LS_DEFAULT = "table {{.Driver}}\t{{.Name}}"


def _opts(flags, argv, prog: str, summary: str):
    opts = parse(flags + [Flag("--help", BOOL, "Print usage")], argv)
    if opts.help:
        print(usage(f"dockyard volume {prog}", summary, flags))
        raise SystemExit(0)
    return opts


def cmd_volume_create(ctx, argv: list[str]) -> int:
    from dockyard.engine.volumes import create

    opts = _opts([Flag("-d,--driver", STR, "Specify volume driver name", default="local"),
                  Flag("--label", LIST, "Set metadata for a volume"),
                  Flag("-o,--opt", LIST, "Set driver specific options"),
                  Flag("--name", STR, "Specify volume name")], argv,
                 "create [OPTIONS] [VOLUME]", "Create a volume")
    if len(opts.args) > 1 or (opts.args and opts.name and opts.args[0] != opts.name):
        raise UsageError("conflicting options: either specify --name or provide positional arg, not both"
                         if opts.args and opts.name else '"dockyard volume create" requires at most 1 argument.')
    name = opts.name or (opts.args[0] if opts.args else None)
    rec, _ = create(ctx.engine, name, driver=opts.driver, labels=key_values(opts.label), options=key_values(opts.opt))
    print(rec.name)
    return 0


def _filters(values: list[str]) -> dict[str, list[str]]:
    def check(k: str, v: str) -> None:
        if k == "dangling" and v.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"Invalid filter 'dangling={v}'")

    return filter_args(values, ("dangling", "name", "label", "label!", "driver"), check)


def cmd_volume_ls(ctx, argv: list[str]) -> int:
    import re

    from dockyard.cli.template import render_table
    from dockyard.engine.volumes import label_filters, list_volumes, match_labels
    from dockyard.state.volumes import volumes_in_use

    opts = _opts([Flag("-q,--quiet", BOOL, "Only display volume names"),
                  Flag("-f,--filter", LIST, "Provide filter values (e.g. 'dangling=true')"),
                  Flag("--format", STR, "Format output using a custom template ('table', 'table TEMPLATE', "
                                        "'json', or a Go template)")], argv,
                 "ls [OPTIONS]", "List volumes")
    flt = _filters(opts.filter)
    engine = ctx.engine
    used = volumes_in_use(engine.db) if "dangling" in flt else set()
    labels = label_filters(flt)
    rows = []
    for rec in list_volumes(engine):
        if "dangling" in flt and not any((rec.name not in used) == (v.lower() in ("true", "1"))
                                         for v in flt["dangling"]):
            continue
        if "name" in flt and not any(re.search(v, rec.name) for v in flt["name"]):
            continue
        if "driver" in flt and rec.driver not in flt["driver"]:
            continue
        if not match_labels(rec.labels, labels):
            continue
        rows.append(rec)
    if opts.quiet:
        for rec in rows:
            print(rec.name)
        return 0
    fmt = opts.format or LS_DEFAULT
    if fmt == "table":
        fmt = LS_DEFAULT
    sys.stdout.write(render_table(fmt, [_row(r) for r in rows], LS_HEADERS))
    return 0


def _row(rec) -> dict:
    """docker's volume row: its fields (the cluster-volume ones N/A for a local volume)."""
    labels = rec.labels
    return {"Driver": rec.driver, "Name": rec.name, "Scope": "local", "Mountpoint": rec.mountpoint,
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
            "Label": lambda key: labels.get(key, ""), "Links": "N/A", "Size": "N/A",
            "Group": "N/A", "Availability": "N/A", "Status": "N/A"}


def cmd_volume_inspect(ctx, argv: list[str]) -> int:
    from dockyard.cli.inspect import check_template, emit
    from dockyard.engine.inspect import volume_json
    from dockyard.engine.volumes import get

    opts = _opts([Flag("-f,--format", STR, "Format output using a custom template")], argv,
                 "inspect [OPTIONS] VOLUME [VOLUME...]", "Display detailed information on one or more volumes")
    check_template(opts.format)
    if not opts.args:
        raise UsageError('"dockyard volume inspect" requires at least 1 argument.')
    out, rc = [], 0
    for name in opts.args:
        try:
            out.append(volume_json(get(ctx.engine, name)))
        except NotFound:
            sys.stderr.write(f"dockyard: error: get {name}: no such volume\n")
            rc = 1
    emit(out, opts.format)
    return rc


def cmd_volume_rm(ctx, argv: list[str]) -> int:
    from dockyard.engine.volumes import remove

    opts = _opts([Flag("-f,--force", BOOL, "Force the removal of one or more volumes")], argv,
                 "rm [OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes")
    if not opts.args:
        raise UsageError('"dockyard volume rm" requires at least 1 argument.')
    from dockyard.cli.each import each

    return each(opts.args, lambda name: remove(ctx.engine, name, force=opts.force), echo=True)


def cmd_volume_prune(ctx, argv: list[str]) -> int:
    from dockyard.engine.volumes import label_filters, prune
    from dockyard.units import human_size

    opts = _opts([Flag("-a,--all", BOOL, "Remove all unused volumes, not just anonymous ones"),
                  Flag("-f,--force", BOOL, "Do not prompt for confirmation"),
                  Flag("--filter", LIST, "Provide filter values (e.g. 'label=<label>')")], argv,
                 "prune [OPTIONS]", "Remove unused local volumes")
    flt = _filters(opts.filter)
    if set(flt) - {"label", "label!"}:
        raise InvalidArgument(f"Invalid filter '{sorted(set(flt) - {'label', 'label!'})[0]}'")
    if not opts.force:
        what = "all local volumes" if opts.all else "anonymous local volumes"
        if not confirm(f"WARNING! This will remove {what} not used by at least one container."):
            return 0
    removed, reclaimed = prune(ctx.engine, all_volumes=opts.all, labels=label_filters(flt))
    if removed:
        print("Deleted Volumes:")
        for name in removed:
            print(name)
        print()
    print(f"Total reclaimed space: {human_size(reclaimed)}")
    return 0
