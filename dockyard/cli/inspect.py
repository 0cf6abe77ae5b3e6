"""`dockyard inspect`: the engine's documents (engine/inspect.py) as JSON or through a template."""

from __future__ import annotations

import json
import sys

from dockyard.cli.flags import STR, Flag, parse, usage
from dockyard.errors import DockyardError, InvalidArgument, NotFound

FLAGS = [Flag("-f,--format", STR, "Format output using a custom template"),
         Flag("--type", STR, "Return JSON for specified type (container|image)"),
         Flag("-s,--size", "bool", "Display total file sizes if the type is container"), Flag("--help")]


def _emit(objs: list[dict], fmt: str | None) -> None:
    if fmt:
        from dockyard.cli.template import render

        for o in objs:
            print(render(fmt, o))
    else:
        print(json.dumps(objs, indent=4))


def _inspect(ctx, argv: list[str], kind: str | None) -> int:
    from dockyard.engine.inspect import inspect

    opts = parse(FLAGS, argv)
    if opts.help or not opts.args:
        print(usage("dockyard inspect [OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information", FLAGS))
        return 0 if opts.help else 1
    kind = kind or opts.type
    if kind not in (None, "container", "image"):
        raise InvalidArgument(f'unknown type: "{kind}": must be one of "container", "image"')
    out, rc = [], 0
    for name in opts.args:
        try:
            out.append(inspect(ctx.engine, name, kind, size=opts.size))
        except NotFound:
            sys.stderr.write(f"Error: No such {kind or 'object'}: {name}\n")
            rc = 1
        except DockyardError as e:
            sys.stderr.write(f"dockyard: error: {e}\n")
            rc = 1
    if out or not opts.format:
        _emit(out, opts.format)
    return rc


def cmd_inspect(ctx, argv):
    return _inspect(ctx, argv, None)


def cmd_image_inspect(ctx, argv):
    return _inspect(ctx, argv, "image")


def cmd_container_inspect(ctx, argv):
    return _inspect(ctx, argv, "container")
