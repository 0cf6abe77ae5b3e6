"""`dockyard manifest create|annotate|inspect|push|rm`: docker CLI 28's manifest commands, thin
over :mod:`dockyard.registry.manifest_lists` (imported only when a command runs)."""

from __future__ import annotations

import sys

from dockyard.cli.flags import BOOL, LIST, STR, Flag, UsageError, parse, usage

HELP = Flag("--help", BOOL, "Print usage")
INSECURE = Flag("--insecure", BOOL, "Allow communication with an insecure registry")
CREATE_FLAGS = [Flag("-a,--amend", BOOL, "Amend an existing manifest list"), INSECURE, HELP]
ANNOTATE_FLAGS = [
    Flag("--arch", STR, "Set architecture", metavar="string"),
    Flag("--os", STR, "Set operating system", metavar="string"),
    Flag("--os-features", LIST, "Set operating system feature", metavar="strings"),
    Flag("--os-version", STR, "Set operating system version", metavar="string"),
    Flag("--variant", STR, "Set architecture variant", metavar="string"),
    HELP,
]
INSPECT_FLAGS = [INSECURE, Flag("-v,--verbose", BOOL, "Output additional info including layers and platform"), HELP]
PUSH_FLAGS = [INSECURE, Flag("-p,--purge", BOOL, "Remove the local manifest list after push"), HELP]
RM_FLAGS = [HELP]


def _opts(flags, argv, synopsis: str, summary: str, lo: int, hi: int | None, need: str):
    opts = parse(flags, argv)
    if opts.help:
        print(usage(f"dockyard manifest {synopsis}", summary, flags))
        raise SystemExit(0)
    n = len(opts.args)
    if n < lo or (hi is not None and n > hi):
        word = synopsis.split()[0]
        raise UsageError(f"'dockyard manifest {word}' requires {need}",
                         hint=f"\nUsage:  dockyard manifest {synopsis}\n\n"
                              f"See 'dockyard manifest {word} --help' for more information")
    return opts


def _root(ctx) -> str:
    """The store's root. Manifest lists touch nothing else of the store, so the engine's
    repair sweep and database (what `ctx.engine` opens) are not paid for."""
    from dockyard.engine.engine import Engine

    return Engine(ctx.root, ctx.runroot).root


def cmd_manifest_create(ctx, argv) -> int:
    opts = _opts(CREATE_FLAGS, argv, "create MANIFEST_LIST MANIFEST [MANIFEST...]",
                 "Create a local manifest list for annotating and pushing to a registry", 2, None,
                 "at least 2 arguments")
    from dockyard.registry import manifest_lists as ml

    name = ml.create(_root(ctx), opts.args[0], opts.args[1:], amend=opts.amend, insecure=opts.insecure)
    print(f"Created manifest list {name}")
    return 0


def cmd_manifest_annotate(ctx, argv) -> int:
    opts = _opts(ANNOTATE_FLAGS, argv, "annotate [OPTIONS] MANIFEST_LIST MANIFEST",
                 "Add additional information to a local image manifest", 2, 2, "2 arguments")
    from dockyard.registry import manifest_lists as ml

    features = [f for v in opts.os_features for f in v.split(",") if f]
    ml.annotate(_root(ctx), opts.args[0], opts.args[1], os_name=opts.os, arch=opts.arch,
                os_version=opts.os_version, os_features=features, variant=opts.variant)
    return 0


def cmd_manifest_inspect(ctx, argv) -> int:
    opts = _opts(INSPECT_FLAGS, argv, "inspect [OPTIONS] [MANIFEST_LIST] MANIFEST",
                 "Display an image manifest, or manifest list", 1, 2, "at least 1 and at most 2 arguments")
    from dockyard.registry import manifest_lists as ml

    second = opts.args[1] if len(opts.args) == 2 else None
    sys.stdout.write(ml.inspect(_root(ctx), opts.args[0], second, insecure=opts.insecure, verbose=opts.verbose)
                     + "\n")
    return 0


def cmd_manifest_push(ctx, argv) -> int:
    opts = _opts(PUSH_FLAGS, argv, "push [OPTIONS] MANIFEST_LIST", "Push a manifest list to a repository",
                 1, 1, "1 argument")
    from dockyard.registry import manifest_lists as ml

    print(ml.push(_root(ctx), opts.args[0], insecure=opts.insecure, purge=opts.purge, say=print))
    return 0


def cmd_manifest_rm(ctx, argv) -> int:
    opts = _opts(RM_FLAGS, argv, "rm MANIFEST_LIST [MANIFEST_LIST...]", "Delete one or more manifest lists "
                 "from local storage", 1, None, "at least 1 argument")
    from dockyard.errors import NotFound
    from dockyard.registry import manifest_lists as ml

    missing = ml.remove(_root(ctx), opts.args)
    if missing:
        raise NotFound("\n".join(missing))
    return 0
