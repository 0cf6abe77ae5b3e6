"""`dockyard sbom IMAGE` and `dockyard scan IMAGE|--sbom FILE`: package inventories and offline
vulnerability matching (dockyard.sbom, dockyard.scan). Never imported by `run`."""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import BOOL, INT, STR, Flag, UsageError, parse, usage

SBOM_FLAGS = [
    Flag("--format", STR, "Output format: table, spdx-json or cyclonedx-json (default table; spdx-json with "
         "--attach or --from-registry)", metavar="string"),
    Flag("-o,--output", STR, "Write to a file instead of STDOUT", metavar="string"),
    Flag("--attach", BOOL, "Push the SBOM to the image's registry as an OCI 1.1 referrer of the image"),
    Flag("--from-registry", BOOL, "Read the SBOM attached to the image in its registry (no local image needed)"),
    Flag("--insecure", BOOL, "Allow plain HTTP and unverified TLS for this registry"),
    Flag("--help", BOOL, "Print usage"),
]
FORMATS = ("table", "spdx-json", "cyclonedx-json")


def _write(text: str, output: str | None) -> None:
    if not output or output == "-":
        sys.stdout.write(text)
        return
    from dockyard.fsutil import write_output  # a device, fifo or link is written through, never replaced

    write_output(output, lambda f: f.write(text), mode="w")


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
    remote = opts.attach or opts.from_registry
    fmt = (opts.format or ("spdx-json" if remote else "table")).lower()
    if fmt not in FORMATS:
        raise UsageError(f'invalid --format "{opts.format}": use one of {", ".join(FORMATS)}')
    if opts.attach and opts.from_registry:
        raise UsageError("--attach and --from-registry are mutually exclusive")
    if remote and fmt == "table":
        raise UsageError("a table is not an SBOM document: use --format spdx-json or cyclonedx-json")
    if opts.insecure and not remote:
        raise UsageError("--insecure only applies with --attach or --from-registry")
    if opts.from_registry:
        from dockyard.sbom.referrer import fetch

        data = fetch(opts.args[0], fmt, insecure=opts.insecure)
        _write(data.decode("utf-8", "replace"), opts.output)
        return 0
    from dockyard.sbom.catalog import catalog_image

    inv = catalog_image(ctx.engine, opts.args[0])
    text = render_sbom(inv, fmt)
    if opts.attach:
        from dockyard.sbom.referrer import attach

        digest = attach(opts.args[0], fmt, text.encode(), local_manifest_digest=inv.manifest_digest,
                        insecure=opts.insecure)
        print(digest)
        if opts.output:
            _write(text, opts.output)
        return 0
    _write(text, opts.output)
    return 0


SCAN_FLAGS = [
    Flag("--db", STR, "OSV records: a directory, a zip (OSV's all.zip), a database made by --db-import "
         "(default <root>/cache/osv.db), or oci://REGISTRY/REPO:TAG, a database kept in a registry", metavar="path"),
    Flag("--insecure", BOOL, "Allow plain HTTP and unverified TLS for an oci:// database's registry"),
    Flag("--db-import", STR, "Index a zip or directory of OSV records into the database (--db) and exit",
         dest="db_import", metavar="path"),
    Flag("--sbom", STR, "Scan an SBOM file (SPDX or CycloneDX JSON, dockyard's or syft's) instead of an image",
         metavar="file"),
    Flag("--severity", STR, "Report only these severities (comma-separated: UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL)",
         metavar="list"),
    Flag("--exit-code", INT, "Exit with this code when vulnerabilities are reported", default=0, metavar="int"),
    Flag("--format", STR, "Output format: table, json or sarif", default="table", metavar="string"),
    Flag("--ignore-unfixed", BOOL, "Report only vulnerabilities that have a fixed version"),
    Flag("-o,--output", STR, "Write to a file instead of STDOUT", metavar="string"),
    Flag("--help", BOOL, "Print usage"),
]
SCAN_USAGE = "dockyard scan [OPTIONS] IMAGE | --sbom FILE | --db-import FILE"


def _default_db(ctx) -> str:
    from dockyard.engine.engine import Engine

    root = Engine(ctx.root, ctx.runroot).root  # its root only: no store is opened for this
    return os.path.join(root, "cache", "osv.db")


def cmd_scan(ctx, argv: list[str]) -> int:
    opts = parse(SCAN_FLAGS, argv)
    if opts.help:
        print(usage(SCAN_USAGE, "Match an image's packages against OSV vulnerability records, offline", SCAN_FLAGS))
        return 0
    fmt = (opts.format or "table").lower()
    if fmt not in ("table", "json", "sarif"):
        raise UsageError(f'invalid --format "{opts.format}": use table, json or sarif')
    from dockyard.scan.severity import LEVELS

    severities = None
    if opts.severity:
        severities = {s.strip().upper() for s in opts.severity.split(",") if s.strip()}
        bad = severities - set(LEVELS)
        if bad or not severities:
            raise UsageError(f"invalid --severity {opts.severity!r}: use {','.join(LEVELS)}")
    if opts.exit_code < 0 or opts.exit_code > 255:
        raise UsageError(f"invalid --exit-code {opts.exit_code}: use 0-255")
    db_path = opts.db or _default_db(ctx)
    from dockyard.scan import remote

    if opts.insecure and not remote.is_remote(db_path):
        raise UsageError("--insecure only applies to an oci:// database")
    cache = os.path.join(os.path.dirname(_default_db(ctx)), "osv")
    if opts.db_import:
        from dockyard.scan.db import import_records

        if opts.args or opts.sbom:
            raise UsageError("--db-import imports records and exits: give no image or --sbom with it")
        if not remote.is_remote(db_path):
            n = import_records([opts.db_import], db_path)
            print(f"imported {n} OSV records from {opts.db_import} into {db_path}")
            return 0
        import shutil

        from dockyard.errors import NotFound

        os.makedirs(cache, exist_ok=True)
        work = os.path.join(cache, f"import-{os.getpid()}.db")
        try:
            try:  # add to the database the registry holds, if there is one
                shutil.copyfile(remote.fetch(db_path, cache, insecure=opts.insecure), work)
            except NotFound:
                pass
            n = import_records([opts.db_import], work)
            digest = remote.push(work, db_path, insecure=opts.insecure)
        finally:
            if os.path.exists(work):
                os.unlink(work)
        print(f"imported {n} OSV records from {opts.db_import} into {db_path} ({digest})")
        return 0
    if remote.is_remote(db_path):
        db_path = remote.fetch(db_path, cache, insecure=opts.insecure)
    if bool(opts.args) == bool(opts.sbom) or len(opts.args) > 1:
        raise UsageError('"dockyard scan" requires one IMAGE or --sbom FILE.',
                         hint=f"See 'dockyard scan --help'.\n\nUsage:  {SCAN_USAGE}")
    from dockyard.scan.db import Database
    from dockyard.scan.match import scan
    from dockyard.scan.query import from_purl

    db = Database(db_path)
    if opts.sbom:
        from dockyard.scan.sbomfile import read_purls

        target = opts.sbom
        purls = read_purls(opts.sbom)
    else:
        from dockyard.sbom.catalog import catalog_image

        inv = catalog_image(ctx.engine, opts.args[0])
        target = opts.args[0]
        purls = [(p.purl, p.locations[0] if p.locations else "") for p in inv.packages]
    queries = [q for q in (from_purl(p, loc) for p, loc in purls) if q is not None]
    findings = scan(queries, db, severities=severities, ignore_unfixed=opts.ignore_unfixed)
    db.close()
    from dockyard.scan import report

    if fmt == "table":
        text = report.table(findings, target, len(purls))
    elif fmt == "json":
        text = report.as_json(findings, target, len(purls))
    else:
        from dockyard import __version__

        text = report.sarif(findings, target, len(purls), __version__)
    _write(text, opts.output)
    return opts.exit_code if findings else 0
