"""`dockyard inspect`: the engine's documents (engine/inspect.py) as JSON or through a template."""

from __future__ import annotations

import json
import sys

from dockyard.cli.flags import STR, Flag, help_or_refuse, parse
from dockyard.errors import DockyardError, InvalidArgument, NotFound

FLAGS = [Flag("-f,--format", STR, "Format output using a custom template"),
         Flag("--type", STR, "Return JSON for specified type (container|image|network|volume)"),
         Flag("-s,--size", "bool", "Display total file sizes if the type is container"), Flag("--help")]
IMAGE_FLAGS = [FLAGS[0], Flag("--platform", STR, "Inspect this platform's image (os[/arch[/variant]]): the image must "
                              "be that platform's", metavar="string"), FLAGS[-1]]


# Keys whose value is a Go map in docker's types: a missing key there is "<no value>", where a
# struct's missing field fails the template (docker inspect: "map has no entry for key").
MAP_KEYS = frozenset({"Labels", "Options", "Annotations", "Sysctls", "ExposedPorts", "Volumes", "Ports",
                      "Networks", "PortBindings", "Tmpfs", "StorageOpt", "DriverOpts", "Data", "Containers",
                      "Status", "Peers"})
# Fields docker's structs have but its JSON omits when empty (omitempty): a template sees them.
OMITTED = {"Config": {"StopSignal": "", "StopTimeout": None, "Healthcheck": None, "ArgsEscaped": False,
                      "MacAddress": "", "Shell": None, "OnBuild": None, "ExposedPorts": None,
                      "Volumes": None},
           "State": {"Health": None}}


def template_view(obj, key: str = "", parent: str = ""):
    """An inspect document as docker's CLI templates see it: Go maps marked (GoMap), omitted
    struct fields present with their zero value."""
    from dockyard.cli.template import GoMap

    if isinstance(obj, list):
        return [template_view(v, "", key) for v in obj]
    if not isinstance(obj, dict):
        return obj
    is_map = key in MAP_KEYS or (key == "Config" and parent in ("LogConfig", "Log"))
    out = GoMap() if is_map else {}
    for k, v in obj.items():
        out[k] = template_view(v, "" if is_map else k, key)
    if not is_map and key in OMITTED:
        for k, v in OMITTED[key].items():
            out.setdefault(k, v)
    return out


def emit(objs: list[dict], fmt: str | None) -> None:
    """docker inspect's output: indented JSON, or each document through `fmt` (strict: a missing
    key fails, exit 1); `check_template` first, so a template that does not parse prints nothing."""
    if fmt and not objs:
        print()  # docker's template inspector writes one newline when nothing was found
    elif fmt:
        from dockyard.cli.template import render

        for o in objs:
            view = template_view(o)
            if "State" in o and "HostConfig" in o:  # a container: docker's struct has the --size fields
                view.setdefault("SizeRw", None)
                view.setdefault("SizeRootFs", None)
            try:
                line = render(fmt, view, strict=True)
            except InvalidArgument:
                if o is objs[0]:  # docker flushes its (empty) buffer before the error: one newline
                    print()
                raise
            print(line)
    else:
        print(json.dumps(objs, indent=4))


def check_template(fmt: str | None) -> None:
    """docker inspect: a template that does not parse exits 64 before anything is looked up."""
    if fmt:
        from dockyard.cli.template import check_syntax

        try:
            check_syntax(fmt)
        except InvalidArgument as e:
            e.exit_code = 64
            raise


def _inspect(ctx, argv: list[str], kind: str | None) -> int:
    from dockyard.engine.inspect import inspect

    flags = IMAGE_FLAGS if kind == "image" else FLAGS
    opts = parse(flags, argv)
    if opts.help or not opts.args:
        return help_or_refuse(opts.help, "dockyard inspect [OPTIONS] NAME|ID [NAME|ID...]",
                              "Return low-level information", flags, "at least 1 argument")
    check_template(opts.format)
    kind = kind or opts.type
    if kind not in (None, "container", "image", "volume", "network"):
        raise InvalidArgument(f'unknown type: "{kind}": must be one of "container", "image", "network", '
                              '"volume"')
    for name in opts.args if opts.get("platform") else ():  # image inspect --platform: each image that platform's
        ctx.engine.images.check_platform(ctx.engine.images.resolve(name), opts.platform, name)
    out, rc = [], 0
    for name in opts.args:
        try:
            if kind in ("volume", "network"):
                out.append(_volume_or_network(ctx.engine, kind, name))
            else:
                try:
                    out.append(inspect(ctx.engine, name, kind, size=opts.get("size", False)))
                except NotFound:
                    if kind is not None:
                        raise
                    out.append(_volume_or_network(ctx.engine, None, name))  # docker looks there too
        except NotFound:
            # dockerd's words for a volume asked for by type; the CLI's for the others
            sys.stderr.write(f"Error response from daemon: get {name}: no such volume\n" if kind == "volume"
                             else f"Error: No such {kind or 'object'}: {name}\n")
            rc = 1
        except DockyardError as e:
            sys.stderr.write(f"dockyard: error: {e}\n")
            rc = 1
    emit(out, opts.format)
    return rc


def _volume_or_network(engine, kind: str | None, name: str) -> dict:
    """docker inspect --type volume|network NAME, or (kind None) a volume, else a network, named so."""
    from dockyard.engine.inspect import network_json, volume_json
    from dockyard.engine.volumes import get
    from dockyard.state.networks import find_network

    if kind in (None, "volume"):
        try:
            return volume_json(get(engine, name))
        except NotFound:
            if kind == "volume":
                raise
    rec = find_network(engine.db, name)
    if rec is None:
        raise NotFound(f"network {name} not found")
    return network_json(engine, rec)


def cmd_inspect(ctx, argv):
    return _inspect(ctx, argv, None)


def cmd_image_inspect(ctx, argv):
    return _inspect(ctx, argv, "image")


def cmd_container_inspect(ctx, argv):
    return _inspect(ctx, argv, "container")
