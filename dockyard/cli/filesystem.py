"""`dockyard cp | diff | export | commit`: a container's filesystem from the host."""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import BOOL, LIST, STR, Flag, UsageError, parse, usage
from dockyard.errors import InvalidArgument, NotFound

CP_FLAGS = [
    Flag("-a,--archive", BOOL, "Archive mode (copy all uid/gid information)"),
    Flag("-L,--follow-link", BOOL, "Always follow symbol link in SRC_PATH"),
    Flag("-q,--quiet", BOOL, "Suppress progress output during copy (suppressed when stderr is no terminal)"),
    Flag("--help", BOOL, "Print usage"),
]
DIFF_FLAGS = [Flag("--help", BOOL, "Print usage")]
EXPORT_FLAGS = [
    Flag("-o,--output", STR, "Write to a file, instead of STDOUT", metavar="string"),
    Flag("--help", BOOL, "Print usage"),
]
COMMIT_FLAGS = [
    Flag("-a,--author", STR, 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")', metavar="string"),
    Flag("-c,--change", LIST, "Apply Dockerfile instruction to the created image"),
    Flag("-m,--message", STR, "Commit message", metavar="string"),
    Flag("-p,--pause", BOOL, "Pause container during commit", default=True),
    Flag("--help", BOOL, "Print usage"),
]

CP_USAGE = """dockyard cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-
        dockyard cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH"""
CP_SUMMARY = """Copy files/folders between a container and the local filesystem

Use '-' as the source to read a tar archive from stdin
and extract it to a directory destination in a container.
Use '-' as the destination to stream a tar archive of a
container source to stdout."""
TERMINAL = "cowardly refusing to save to a terminal. Use the -o flag or redirect"


def _nargs(opts, prog: str, n: int, *, at_most: int | None = None) -> None:
    got = len(opts.args)
    if got < n or got > (at_most if at_most is not None else n):
        if at_most is None:
            raise UsageError(f'"dockyard {prog}" requires exactly {n} argument{"s" if n > 1 else ""}.')
        raise UsageError(f'"dockyard {prog}" requires at least {n} and at most {at_most} arguments.')


def split_cp_arg(arg: str) -> tuple[str | None, str]:
    """docker's splitCpArg: CONTAINER:PATH, unless the argument is an absolute or ./ path."""
    if arg.startswith("/"):
        return None, arg
    container, sep, path = arg.partition(":")
    if not sep or container.startswith("."):
        return None, arg
    return container, path


def cmd_cp(ctx, argv: list[str]) -> int:
    from dockyard.engine.filesystem import copy_from_container, copy_to_container

    opts = parse(CP_FLAGS, argv)
    if opts.help:
        print(usage(CP_USAGE, CP_SUMMARY, CP_FLAGS))
        return 0
    _nargs(opts, "cp", 2)
    src, dst = opts.args
    if not src:
        raise UsageError("source can not be empty")
    if not dst:
        raise UsageError("destination can not be empty")
    src_c, src_path = split_cp_arg(src)
    dst_c, dst_path = split_cp_arg(dst)
    if src_c is not None and dst_c is not None:
        raise InvalidArgument("copying between containers is not supported")
    if src_c is None and dst_c is None:
        raise InvalidArgument("must specify at least one container source")
    if src_c is not None:
        out = sys.stdout.buffer if dst_path == "-" else dst_path
        try:
            n = copy_from_container(ctx.engine, src_c, src_path, out, archive=opts.archive,
                                    follow_link=opts.follow_link)
        finally:
            if out is not dst_path:
                sys.stdout.flush()
        where = dst_path
    else:
        inp = sys.stdin.buffer if src_path == "-" else src_path
        n = copy_to_container(ctx.engine, dst_c, dst_path, inp, archive=opts.archive,
                              follow_link=opts.follow_link)
        where = dst
    if not opts.quiet and dst_path != "-" and sys.stderr.isatty():
        from dockyard.cli.render import human_size

        sys.stderr.write(f"Successfully copied {human_size(n)} to {where}\n")
    return 0


def cmd_diff(ctx, argv: list[str]) -> int:
    from dockyard.engine.fsdiff import diff

    opts = parse(DIFF_FLAGS, argv)
    if opts.help:
        print(usage("dockyard diff CONTAINER", "Inspect changes to files or directories on a container's filesystem",
                    DIFF_FLAGS))
        return 0
    _nargs(opts, "diff", 1)
    sys.stdout.write("".join(f"{kind} {path}\n" for kind, path in diff(ctx.engine, opts.args[0])))
    return 0


def cmd_export(ctx, argv: list[str]) -> int:
    from dockyard.engine.filesystem import export

    opts = parse(EXPORT_FLAGS, argv)
    if opts.help:
        print(usage("dockyard export [OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive",
                    EXPORT_FLAGS))
        return 0
    _nargs(opts, "export", 1)
    if not opts.output:
        if sys.stdout.isatty():
            raise InvalidArgument(TERMINAL)
        export(ctx.engine, opts.args[0], sys.stdout.buffer)
        sys.stdout.flush()
        return 0
    parent = os.path.dirname(os.path.abspath(opts.output))
    if not os.path.isdir(parent):  # docker's ValidateOutputPath, before anything is read
        raise NotFound(f"failed to export container: invalid output path: stat {parent}: no such file or directory")
    _to_file(opts.output, lambda f: export(ctx.engine, opts.args[0], f))
    return 0


def _to_file(path: str, write) -> None:
    from dockyard.fsutil import write_output

    write_output(path, write)


def cmd_commit(ctx, argv: list[str]) -> int:
    from dockyard.engine.commit import commit

    opts = parse(COMMIT_FLAGS, argv)
    if opts.help:
        print(usage("dockyard commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
                    "Create a new image from a container's changes", COMMIT_FLAGS))
        return 0
    _nargs(opts, "commit", 1, at_most=2)
    repo = opts.args[1] if len(opts.args) > 1 else None
    print(commit(ctx.engine, opts.args[0], repo, message=opts.message or "", author=opts.author or "",
                 changes=opts.change, pause=opts.pause))
    return 0
