"""`dockyard save` and `dockyard load`: image archives (docker-archive or OCI layout tars)."""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import BOOL, STR, Flag, UsageError, parse, usage

SAVE_FLAGS = [
    Flag("-o,--output", STR, "Write to a file, instead of STDOUT", metavar="string"),
    Flag("--format", STR, "Archive format: docker (docker save's tar) or oci (OCI image layout tar)",
         default="docker", metavar="string"),
    Flag("--platform", STR, "Save this platform's image (os[/arch[/variant]]): each image must be that platform's",
         metavar="string"),
    Flag("--help", BOOL, "Print usage"),
]
LOAD_FLAGS = [
    Flag("-i,--input", STR, "Read from tar archive file, instead of STDIN", metavar="string"),
    Flag("-q,--quiet", BOOL, "Suppress the load output"),
    Flag("--platform", STR, "Load this platform's image of a multi-platform archive (os[/arch[/variant]]); each "
         "image loaded must be that platform's", metavar="string"),
    Flag("--help", BOOL, "Print usage"),
]


def cmd_save(ctx, argv: list[str]) -> int:
    opts = parse(SAVE_FLAGS, argv)
    if opts.help:
        print(usage("dockyard save [OPTIONS] IMAGE [IMAGE...]",
                    "Save one or more images to a tar archive (streamed to STDOUT by default)", SAVE_FLAGS))
        return 0
    if not opts.args:
        raise UsageError('"dockyard save" requires at least 1 argument.',
                         hint="See 'dockyard save --help'.\n\nUsage:  dockyard save [OPTIONS] IMAGE [IMAGE...]")
    fmt = (opts.format or "docker").lower()
    if fmt not in ("docker", "oci"):
        raise UsageError(f'invalid --format "{opts.format}": use "docker" or "oci"')
    from dockyard.images.archive_save import save

    engine = ctx.engine
    for name in opts.args:  # fail before creating the output file, as docker does
        engine.images.check_platform(engine.images.resolve(name), opts.platform, name)
    if not opts.output or opts.output == "-":
        if sys.stdout.isatty():
            raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        sys.stdout.flush()
        out = sys.stdout.buffer
        save(engine, opts.args, out, fmt)
        out.flush()
        return 0
    from dockyard.fsutil import write_output

    write_output(opts.output, lambda out: save(engine, opts.args, out, fmt))
    return 0


def cmd_load(ctx, argv: list[str]) -> int:
    opts = parse(LOAD_FLAGS, argv)
    if opts.help:
        print(usage("dockyard load [OPTIONS]", "Load an image from a tar archive or STDIN", LOAD_FLAGS))
        return 0
    if opts.args:
        raise UsageError('"dockyard load" accepts no arguments.',
                         hint="See 'dockyard load --help'.\n\nUsage:  dockyard load [OPTIONS]")
    from dockyard.errors import InvalidArgument
    from dockyard.images.archive_load import load
    from dockyard.oci import reference

    if opts.input and opts.input != "-":
        with open(opts.input, "rb") as f:
            images = load(ctx.engine, f, opts.platform)
    else:
        if sys.stdin is None or sys.stdin.isatty():
            raise InvalidArgument("requested load from stdin, but stdin is empty",
                                  hint="use -i FILE or pipe an archive in")
        images = load(ctx.engine, sys.stdin.buffer, opts.platform)
    for img in images:
        for tag, old in img.moved:
            print(f"The image {reference.parse(tag).familiar()} already exists, renaming the old one with ID "
                  f"{old} to empty string")
        if img.tags:
            for t in img.tags:
                print(f"Loaded image: {reference.parse(t).familiar()}")
        else:
            print(f"Loaded image ID: {img.id}")
    return 0
