"""`dockyard sbom IMAGE` and `dockyard scan IMAGE|--sbom FILE`: package inventories and offline
vulnerability matching (dockyard.sbom, dockyard.scan). Never imported by `run`."""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import BOOL, INT, STR, Flag, UsageError, parse, usage

SBOM_FLAGS = [
    Flag("--format", STR, "Output format: table, spdx-json or cyclonedx-json", default="table", metavar="string"),
    Flag("-o,--output", STR, "Write to a file instead of STDOUT", metavar="string"),
    Flag("--help", BOOL, "Print usage"),
]
FORMATS = ("table", "spdx-json", "cyclonedx-json")


def _write(text: str, output: str | None) -> None:
    if not output or output == "-":
        sys.stdout.write(text)
        return
    target = os.path.abspath(output)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def render_sbom(inv, fmt: str) -> str:
    from dockyard import __version__

    if fmt == "table":
        rows = [("NAME", "VERSION", "TYPE", "LAYER")]
        rows += [(p.name, p.version, p.type, p.layer.removeprefix("sha256:")[:12]) for p in inv.packages]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        return "".join(f"{r[0]:<{widths[0]}}   {r[1]:<{widths[1]}}   {r[2]:<{widths[2]}}   {r[3]}".rstrip() + "\n"
                       for r in rows)
    import json

    if fmt == "spdx-json":
        from dockyard.sbom.spdx import document
    else:
        from dockyard.sbom.cyclonedx import document
    return json.dumps(document(inv, __version__), indent=2) + "\n"


def cmd_sbom(ctx, argv: list[str]) -> int:
    opts = parse(SBOM_FLAGS, argv)
    if opts.help:
        print(usage("dockyard sbom [OPTIONS] IMAGE", "List the packages in an image (a software bill of materials)",
                    SBOM_FLAGS))
        return 0
    if len(opts.args) != 1:
        raise UsageError('"dockyard sbom" requires exactly 1 argument.',
                         hint="See 'dockyard sbom --help'.\n\nUsage:  dockyard sbom [OPTIONS] IMAGE")
    fmt = (opts.format or "table").lower()
    if fmt not in FORMATS:
        raise UsageError(f'invalid --format "{opts.format}": use one of {", ".join(FORMATS)}')
    from dockyard.sbom.catalog import catalog_image

    inv = catalog_image(ctx.engine, opts.args[0])
    _write(render_sbom(inv, fmt), opts.output)
    return 0
