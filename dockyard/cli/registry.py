"""`dockyard registry serve` and `dockyard registry gc`: an OCI distribution registry over a
directory, and its garbage collector (safe to run while the registry serves)."""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import BOOL, LIST, STR, Flag, UsageError, parse, usage

DEFAULT_SUBDIR = "registry"  # under the dockyard root: /var/lib/dockyard/registry by default

SERVE_FLAGS = [
    Flag("--addr", STR, "Address to listen on: host:port, or :port for every interface (default 127.0.0.1:5000)", default="127.0.0.1:5000",
         metavar="string"),
    Flag("--root", STR, "Registry storage directory (default <dockyard root>/registry, i.e. /var/lib/dockyard/registry)",
         metavar="string"),
    Flag("--htpasswd", STR, "Require HTTP Basic auth for every request, checked against this htpasswd file "
         "(bcrypt entries, as written by 'htpasswd -B')", metavar="file"),
    Flag("--tls-cert", STR, "Serve HTTPS with this certificate (PEM)", metavar="file"),
    Flag("--tls-key", STR, "Private key of --tls-cert (PEM)", metavar="file"),
    Flag("--read-only", BOOL, "Refuse every write (pushes and deletes) with UNSUPPORTED"),
    Flag("--delete-enabled", BOOL, "Allow DELETE of manifests, tags and blobs"),
    Flag("--immutable-tags", BOOL, "A pushed tag never moves (nor is deleted): a push that would move it gets "
         "400 TAG_INVALID, as ECR answers"),
    Flag("--immutable-tags-except", LIST, "Tags that may still move, as glob patterns (repeat or comma-separate: "
         "latest,sha256-*.sig); implies --immutable-tags", metavar="list"),
    Flag("--help", BOOL, "Print usage"),
]
GC_FLAGS = [
    Flag("--root", STR, "Registry storage directory (default <dockyard root>/registry)", metavar="string"),
    Flag("--grace", STR, "Keep anything pushed, touched or uploading within this long (default 1h; e.g. 30m, 10s, 0)",
         default="1h", metavar="duration"),
    Flag("--dry-run", BOOL, "Only print what would be removed"),
    Flag("--help", BOOL, "Print usage"),
]


def _registry_root(ctx, opt: str | None) -> str:
    if opt:
        return os.path.abspath(opt)
    base = (ctx.root if ctx is not None else None) or os.environ.get("DOCKYARD_ROOT") or "/var/lib/dockyard"
    return os.path.join(os.path.abspath(base), DEFAULT_SUBDIR)


def _import_server(with_bcrypt: bool):
    """The aiohttp side of the server (`pip install 'dockyard[registry]'`; found under the
    launchers' `python -S` by `dockyard.extras`)."""
    from dockyard.extras import require

    require("registry", "dockyard registry serve", ("aiohttp", "bcrypt") if with_bcrypt else ("aiohttp",))
    from dockyard.registry.server import app

    return app


def cmd_registry_serve(ctx, argv: list[str]) -> int:
    opts = parse(SERVE_FLAGS, argv)
    if opts.help:
        print(usage("dockyard registry serve [OPTIONS]",
                    "Serve an OCI distribution (Docker registry v2) API from a directory", SERVE_FLAGS))
        return 0
    if opts.args:
        raise UsageError(f'"dockyard registry serve" accepts no arguments (got {opts.args[0]!r})')
    if bool(opts.tls_cert) != bool(opts.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    for flag, path in (("--htpasswd", opts.htpasswd), ("--tls-cert", opts.tls_cert), ("--tls-key", opts.tls_key)):
        if path and not os.path.isfile(path):
            raise UsageError(f"{flag} {path}: no such file")
    app = _import_server(with_bcrypt=bool(opts.htpasswd))
    host, port = app.parse_addr(opts.addr)
    config = app.ServerConfig(
        root=_registry_root(ctx, opts.root), host=host, port=port,
        htpasswd=os.path.abspath(opts.htpasswd) if opts.htpasswd else None,
        tls_cert=opts.tls_cert, tls_key=opts.tls_key,
        read_only=opts.read_only, delete_enabled=opts.delete_enabled,
        immutable_tags=opts.immutable_tags or bool(opts.immutable_tags_except),
        immutable_except=_patterns(opts.immutable_tags_except),
    )
    app.serve(config)
    return 0


def _patterns(values: list[str]) -> tuple[str, ...]:
    out = tuple(p.strip() for v in values for p in v.split(","))
    if any(not p for p in out):
        raise UsageError("--immutable-tags-except: empty tag pattern")
    return out


def cmd_registry_gc(ctx, argv: list[str]) -> int:
    opts = parse(GC_FLAGS, argv)
    if opts.help:
        print(usage("dockyard registry gc [OPTIONS]",
                    "Remove manifests and blobs that no tag reaches (safe while the registry serves)", GC_FLAGS))
        return 0
    if opts.args:
        raise UsageError(f'"dockyard registry gc" accepts no arguments (got {opts.args[0]!r})')
    from dockyard.registry.server.gc import collect, parse_duration
    from dockyard.units import human_size

    grace = parse_duration(opts.grace)
    report = collect(_registry_root(ctx, opts.root), grace=grace, dry_run=opts.dry_run)
    verb = "would remove" if opts.dry_run else "removed"
    out = sys.stdout
    for repo, digest in report.manifests:
        out.write(f"{verb} manifest {repo}@{digest}\n")
    for repo, digest in report.links:
        out.write(f"{verb} blob link {repo}@{digest}\n")
    for digest, size in report.blobs:
        out.write(f"{verb} blob {digest} ({human_size(size)})\n")
    for uid, repo, size in report.uploads:
        out.write(f"{verb} upload {uid} of {repo} ({human_size(size)})\n")
    out.write(f"{'dry run: ' if opts.dry_run else ''}{len(report.manifests)} manifests, {len(report.links)} blob links, "
              f"{len(report.blobs)} blobs, {len(report.uploads)} uploads {verb}; "
              f"{human_size(report.freed)} {'would be ' if opts.dry_run else ''}freed\n")
    return 0
