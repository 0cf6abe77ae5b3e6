"""`dockyard system prune`, `image prune`, `builder prune`: remove what nothing uses, and repair what a crash left behind;
`system reset`: remove the whole store, host objects included
(the work is engine/prune.py's; this asks and prints)."""

from __future__ import annotations


from dockyard.cli.flags import BOOL, LIST, STR, Flag, FlagError, parse, usage
from dockyard.cli.render import confirm
from dockyard.errors import InvalidArgument

FLAGS = [Flag("-a,--all", BOOL, "Remove all unused images not just dangling ones"),
         Flag("-f,--force", BOOL, "Do not prompt for confirmation"),
         Flag("--volumes", BOOL, "Prune anonymous volumes"),
         Flag("--filter", LIST, "Provide filter values (e.g. 'label=<key>=<value>', 'until=24h')", metavar="filter"),
         Flag("--help", BOOL, "Print usage")]


def cmd_system_prune(ctx, argv: list[str]) -> int:
    from dockyard.cli.render import human_size
    from dockyard.engine.prune import system_prune

    opts = parse(FLAGS, argv)
    if opts.help:
        print(usage("dockyard system prune [OPTIONS]", "Remove unused data", FLAGS))
        return 0
    from dockyard.cli.networks import prune_filters

    until, labels = prune_filters(opts.filter)  # docker's keys: until, label, label!
    if not opts.force:
        what = ["all stopped containers", "all networks not used by at least one container"]
        if opts.volumes:
            what.append("all anonymous volumes not used by at least one container")
        what += ["all images without at least one container associated to them" if opts.all else
                 "all dangling images", "all build cache" if opts.all else "all dangling build cache"]
        filtered = ("\n  Items to be pruned will be filtered with:\n" + "".join(f"  - {f}\n" for f in opts.filter)
                    if opts.filter else "")
        if not confirm("WARNING! This will remove:\n" + "".join(f"  - {w}\n" for w in what) + filtered):
            return 0
    report = system_prune(ctx.engine, all_images=opts.all, volumes=opts.volumes, until=until, labels=labels)
    for title, key in (("Deleted Containers", "Containers"), ("Deleted Networks", "Networks"),
                       ("Deleted Volumes", "Volumes")):
        if report[key]:
            print(f"{title}:\n" + "\n".join(report[key]) + "\n")
    if report["Images"]:
        print("Deleted Images:\n" + "\n".join(f"{k.lower()}: {v}" for k, v in report["Images"]) + "\n")
    if report["BuildCache"]:
        print("Deleted build cache objects:\n" + report["BuildCache"] + "\n")
    if report["Temps"]:
        print(f"Deleted temporary files of interrupted commands: {report['Temps']}\n")
    if report["Repaired"]:
        print(f"Repaired: {report['Repaired']}\n")
    print(f"Total reclaimed space: {human_size(report['SpaceReclaimed'])}")
    return 0


DF_FLAGS = [Flag("--format", STR, "Format output using a custom template ('table', 'table TEMPLATE', 'json', or a "
                 "Go template)", metavar="string"),
            Flag("-v,--verbose", BOOL, "Show detailed information on space usage"),
            Flag("--help", BOOL, "Print usage")]


def cmd_system_df(ctx, argv: list[str]) -> int:
    """docker system df: the same four rows and columns, or with -v a table per kind of object
    (cli/diskusage.py over engine/diskusage.py)."""
    from dockyard.cli import diskusage

    opts = parse(DF_FLAGS, argv)
    if opts.help:
        print(usage("dockyard system df [OPTIONS]", "Show dockyard disk usage", DF_FLAGS))
        return 0
    if opts.args:
        raise InvalidArgument('"dockyard system df" accepts no arguments.')
    if opts.verbose:
        if opts.format not in (None, "", "table"):
            raise InvalidArgument("system df --verbose prints docker's tables only: leave out --format (or use "
                                  "--format table)")
        diskusage.print_verbose(ctx.engine)
    else:
        diskusage.print_summary(ctx.engine, opts.format)
    return 0


IMAGE_PRUNE_FLAGS = [Flag("-a,--all", BOOL, "Remove all unused images, not just dangling ones"),
                     Flag("-f,--force", BOOL, "Do not prompt for confirmation"),
                     Flag("--filter", LIST, "Provide filter values (e.g. \"until=<timestamp>\")", metavar="filter"),
                     Flag("--help", BOOL, "Print usage")]


def cmd_image_prune(ctx, argv: list[str]) -> int:
    """docker image prune: dangling images, or with -a every image no container uses."""
    from dockyard.cli.networks import prune_filters
    from dockyard.cli.render import human_size
    from dockyard.engine.prune import prune_images

    opts = parse(IMAGE_PRUNE_FLAGS, argv)
    if opts.help:
        print(usage("dockyard image prune [OPTIONS]", "Remove unused images", IMAGE_PRUNE_FLAGS))
        return 0
    all_images = opts.all
    rest = []
    for f in opts.filter:
        key, _, value = f.partition("=")
        if key != "dangling":
            rest.append(f)
            continue
        if value.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"Invalid filter 'dangling={value}'")
        all_images = value.lower() in ("false", "0")  # docker: dangling=false prunes unused images too
    until, labels = prune_filters(rest)  # docker's other keys: until, label, label!
    if not opts.force:
        warning = ("WARNING! This will remove all images without at least one container associated to them."
                   if all_images else "WARNING! This will remove all dangling images.")
        if not confirm(warning):
            return 0
    lines, reclaimed = prune_images(ctx.engine, all_images=all_images, until=until, labels=labels)
    if lines:
        print("Deleted Images:\n" + "\n".join(f"{k.lower()}: {v}" for k, v in lines) + "\n")
    print(f"Total reclaimed space: {human_size(reclaimed)}")
    return 0


BUILDER_PRUNE_FLAGS = [Flag("-a,--all", BOOL, "Remove all unused build cache, not just dangling ones"),
                       Flag("--filter", LIST, 'Provide filter values (only "until=24h", a duration or a time)',
                            metavar="filter"),
                       Flag("-f,--force", BOOL, "Do not prompt for confirmation"),
                       Flag("--keep-storage", STR, "Amount of disk space to keep for cache (least recently used "
                            "steps go first)", metavar="bytes"),
                       Flag("--help", BOOL, "Print usage")]


# the keys dockerd's build-cache prune takes (BuildKit's); dockyard's cache answers `until` only
BUILDKIT_FILTERS = ("until", "unused-for", "unusedfor", "id", "parent", "type", "description", "inuse", "shared",
                    "private", "mutable", "immutable")


def cmd_builder_prune(ctx, argv: list[str]) -> int:
    """docker builder prune: cached build steps whose layer no image holds (dangling), or with -a
    all of the build cache."""
    from dockyard.cli.render import human_size
    from dockyard.engine.prune import prune_builder

    opts = parse(BUILDER_PRUNE_FLAGS, argv)
    if opts.help:
        print(usage("dockyard builder prune [OPTIONS]", "Remove build cache", BUILDER_PRUNE_FLAGS))
        return 0
    until = keep = None
    for f in opts.filter:
        key, eq, value = f.partition("=")
        if key not in BUILDKIT_FILTERS:  # dockerd's words for a key BuildKit does not know either
            raise InvalidArgument(f"failed to prune build cache: Invalid filter '{key}'")
        if key != "until" or not eq:
            raise InvalidArgument(f"builder prune --filter {f!r} is not supported: only until=<duration|time>")
        from dockyard.engine.events import parse_time

        until = parse_time(value)
    if opts.keep_storage is not None:
        from dockyard.units import SizeError, ram_in_bytes

        try:
            keep = ram_in_bytes(opts.keep_storage)
        except SizeError as e:
            raise FlagError(f'invalid argument "{opts.keep_storage}" for "--keep-storage" flag: {e}') from None
    if not opts.force:
        what = "all build cache" if opts.all else "all dangling build cache"
        if not confirm(f"WARNING! This will remove {what}."):
            return 0
    removed, reclaimed = prune_builder(ctx.engine, all_cache=opts.all, until=until, keep_storage=keep)
    if removed:
        print("ID\t\t\t\t\t\tRECLAIMABLE\tSIZE\t\tLAST ACCESSED")
        for entry_id, size in removed:
            print(f"{entry_id}\ttrue\t\t{human_size(size)}\t\t")
    print(f"Total:\t{human_size(reclaimed)}")
    return 0


RESET_FLAGS = [Flag("-f,--force", BOOL, "Do not prompt for confirmation"),
               Flag("--orphans", BOOL, "Also remove the bridges and iptables rules of stores that are gone"),
               Flag("--help", BOOL, "Print usage")]


def cmd_system_reset(ctx, argv: list[str]) -> int:
    """podman system reset: the store and everything it made, on the host too (engine/reset.py
    says what may go and why)."""
    import sys

    from dockyard.engine.engine import Engine
    from dockyard.engine.reset import reset

    opts = parse(RESET_FLAGS, argv)
    if opts.help:
        print(usage("dockyard system reset [OPTIONS]", "Reset dockyard storage: all containers are stopped and "
                    "removed, and all images, volumes, networks (bridges and iptables rules too) and build cache "
                    "are removed", RESET_FLAGS))
        return 0
    if opts.args:
        raise InvalidArgument('"dockyard system reset" accepts no arguments.')
    engine = Engine(ctx.root, ctx.runroot)  # not ctx.engine: its repair sweep would make a gone store again
    if not opts.force:
        what = ["all containers", "all images", "all networks", "all build cache", "all volumes"]
        if opts.orphans:
            what.append("the bridges and iptables rules of dockyard stores that no longer exist")
        what += [f'the root directory: "{engine.root}"', f'the runroot directory: "{engine.runroot}"']
        if not confirm("WARNING! This will remove:\n" + "".join(f"        - {w}\n" for w in what).rstrip("\n")):
            return 0
    report = reset(engine, orphans=opts.orphans)
    for title, key in (("Deleted Containers", "Containers"), ("Deleted Networks", "Networks"),
                       ("Removed bridges", "Bridges"), ("Removed bridges of stores that are gone", "Orphans"),
                       ("Removed iptables rules", "Rules"),
                       ("Killed processes of this store", "Processes")):
        if report[key]:
            print(f"{title}:\n" + "\n".join(str(v) for v in report[key]) + "\n")
    if report["Images"] or report["Volumes"]:
        print(f"Deleted {report['Images']} image(s) and {report['Volumes']} volume(s)\n")
    for path in report["Kept"]:
        sys.stderr.write(f"dockyard: warning: kept {path}: not part of a dockyard store\n")
    if report["Unowned"]:
        sys.stderr.write("dockyard: warning: bridges that name no store were left alone: "
                         + ", ".join(report["Unowned"]) + " (made by an older dockyard: `dockyard network rm` "
                         "in their store, or `ip link delete`)\n")
    for err in report["Errors"]:
        sys.stderr.write(f"dockyard: error: {err}\n")
    return 1 if report["Errors"] else 0
