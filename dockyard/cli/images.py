"""`dockyard images`, `tag`, `rmi`, `import`, `bootstrap`."""

from __future__ import annotations

import sys

from dockyard.cli.flags import BOOL, LIST, STR, Flag, UsageError, help_or_refuse, parse, usage
from dockyard.cli.render import ago, human_size, parse_rfc3339
from dockyard.errors import InvalidArgument

IMAGES_FLAGS = [
    Flag("-a,--all", BOOL, "Show all images"),
    Flag("-q,--quiet", BOOL, "Only show image IDs"),
    Flag("--no-trunc", BOOL, "Don't truncate output"),
    Flag("--digests", BOOL, "Show digests"),
    Flag("--format", STR, "Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)"),
    Flag("-f,--filter", LIST, "Filter output based on conditions provided (dangling, reference, label, before, "
         "since)"),
    Flag("--tree", BOOL, "List multi-platform images as a tree (refused)",
         refused="--tree is not supported: a dockyard image is one platform's (pull keeps the host's), so there is no "
         "tree of platform variants to show; use dockyard images"),
    Flag("--help", BOOL, "Print usage"),
]
IMAGES_HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
                  "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE"}
IMAGES_DEFAULT = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"


def cmd_images(ctx, argv: list[str]) -> int:
    from dockyard.oci import reference

    opts = parse(IMAGES_FLAGS, argv)
    if opts.help:
        print(usage("dockyard images [OPTIONS] [REPOSITORY[:TAG]]", "List images", IMAGES_FLAGS))
        return 0
    import fnmatch
    import time

    from dockyard.cli.govalues import Context
    from dockyard.cli.template import render_table

    db = ctx.engine.db
    want = reference.parse(opts.args[0]) if opts.args else None
    flt: dict[str, list[str]] = {}
    for f in opts.filter:
        k, eq, v = f.partition("=")
        if not eq or k not in ("dangling", "reference", "label", "before", "since"):
            raise InvalidArgument(f"Invalid filter '{k if eq else f}'")
        flt.setdefault(k, []).append(v)
    created_of = lambda r: parse_rfc3339(r.created) or r.added  # noqa: E731
    # before=/since= IMAGE: created strictly before/after that image (dockerd's; the last one given counts)
    bounds = {k: created_of(ctx.engine.images.resolve(flt[k][-1])) for k in ("before", "since") if k in flt}
    rows, seen_ids = [], []
    images = sorted(db.list_images(), key=created_of, reverse=True)
    hidden = set() if opts.all else ctx.engine.images.intermediates()
    for rec in images:
        if rec.id in hidden:
            continue
        if ("before" in bounds and not created_of(rec) < bounds["before"]) or \
                ("since" in bounds and not created_of(rec) > bounds["since"]):
            continue
        names = sorted(db.tags_for(rec.id))
        digests = {}  # repository → its digest (docker's DIGEST column: a RepoDigest of that repository)
        for t in names:
            if "@" in t:
                digests.setdefault(t.partition("@")[0], t.partition("@")[2])
        tags = [t for t in names if "@" not in t]
        # an image known only by digest is listed per repository, with TAG <none>, as docker's
        tags += [f"{repo}@{d}" for repo, d in digests.items() if not any(t.rpartition(":")[0] == repo for t in tags)]
        tags = tags or [None]
        cfg_labels = None
        for t in tags:
            if t is None:
                repo, tag = "<none>", "<none>"
                if want is not None or "reference" in flt:
                    continue
            else:
                ref = reference.parse(t)
                repo, tag = ref.familiar_name, ref.tag or "<none>"
                if want is not None and (want.name != ref.name or (want.tag and want.tag != ref.tag)):
                    continue
                if "reference" in flt and not any(fnmatch.fnmatch(f"{repo}:{tag}", p) or fnmatch.fnmatch(repo, p)
                                                  for p in flt["reference"]):
                    continue
            if "dangling" in flt and (t is None) != (flt["dangling"][-1] == "true"):
                continue
            if "label" in flt:
                if cfg_labels is None:
                    cfg_labels = (ctx.engine.images.config(rec).get("config") or {}).get("Labels") or {}
                if not all((lv.partition("=")[0] in cfg_labels) if "=" not in lv
                           else cfg_labels.get(lv.partition("=")[0]) == lv.partition("=")[2] for lv in flt["label"]):
                    continue
            image_id = rec.id if opts.no_trunc else rec.id.removeprefix("sha256:")[:12]
            if opts.quiet:  # one line per row, as docker CLI 28's (an image with two tags: twice)
                seen_ids.append(image_id)
                continue
            created = parse_rfc3339(rec.created) or rec.added
            digest = digests.get(ref.name, "<none>") if t is not None else "<none>"
            rows.append(Context({"ID": image_id, "Repository": repo, "Tag": tag, "Digest": digest,
                         "Containers": "N/A", "SharedSize": "N/A", "UniqueSize": "N/A",
                         "VirtualSize": human_size(rec.size, 4),  # docker's units.HumanSize
                         "CreatedSince": ago(created),
                         "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(created)),
                         "Size": human_size(rec.size, 3)}))
    if opts.quiet:
        if seen_ids:
            print("\n".join(seen_ids))
        return 0
    fmt = opts.format or IMAGES_DEFAULT
    if fmt == "table":
        fmt = IMAGES_DEFAULT
    if opts.digests and not opts.format:
        fmt = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    sys.stdout.write(render_table(fmt, rows, IMAGES_HEADERS, row_type="*formatter.imageContext"))
    return 0


def cmd_tag(ctx, argv: list[str]) -> int:
    opts = parse([Flag("--help")], argv)
    if opts.help:
        print(usage("dockyard tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
                    "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", [Flag("--help", BOOL, "Print usage")]))
        return 0
    if len(opts.args) != 2:
        raise UsageError('"dockyard tag" requires exactly 2 arguments.',
                         hint="See 'dockyard tag --help'.\n\nUsage:  dockyard tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]")
    target = opts.args[1]
    head, slash, _ = target.partition("/")
    if not (slash and head != head.lower()):  # docker's client parses the target first (an upper-case
        from dockyard.oci import reference  # first component is a registry host to it: dockerd refuses that)

        try:
            reference.parse(target)
        except InvalidArgument as e:
            raise type(e)(f'Error parsing reference: "{target}" is not a valid repository/tag: {e}') from None
    ctx.engine.images.tag(opts.args[0], target)
    return 0


def cmd_rmi(ctx, argv: list[str]) -> int:
    flags = [Flag("-f,--force", BOOL, "Force removal of the image"), Flag("--no-prune", BOOL, "Do not delete untagged parents"),
             Flag("--platform", STR, "Remove this platform's image (os[/arch[/variant]]): the image must be that "
                  "platform's", metavar="string"), Flag("--help")]
    opts = parse(flags, argv)
    if opts.help or not opts.args:
        return help_or_refuse(opts.help, "dockyard rmi [OPTIONS] IMAGE [IMAGE...]",
                              "Remove one or more images", flags, "at least 1 argument")
    from dockyard.cli.each import outcomes
    from dockyard.errors import NotFound

    def rmi_one(name):  # "Untagged: …" and "Deleted: …" lines, as docker prints them
        if opts.platform:
            ctx.engine.images.check_platform(ctx.engine.images.resolve(name), opts.platform, name)
        lines = ctx.engine.images.remove(name, force=opts.force, prune=not opts.no_prune)
        return "\n".join(f"{what}: {value}" for what, value in lines) or None

    rc = 0
    for _, out, err in outcomes(opts.args, rmi_one):
        if err is None:
            if out is not None:
                print(out)
            continue
        sys.stderr.write(f"dockyard: error: {err}\n")
        if not (opts.force and isinstance(err, NotFound)):  # docker: -f makes a missing one no failure
            rc = 1
    return rc


def cmd_import(ctx, argv: list[str]) -> int:
    from dockyard.images.importer import import_rootfs

    flags = [Flag("-c,--change", LIST, "Apply Dockerfile instruction to the created image"),
             Flag("-m,--message", STR, "Set commit message for imported image"),
             Flag("--platform", STR, "Set platform if server is multi-platform capable"), Flag("--help")]
    opts = parse(flags, argv)
    if opts.help or not opts.args or len(opts.args) > 2:
        return help_or_refuse(opts.help, "dockyard import [OPTIONS] file|- [REPOSITORY[:TAG]]",
                              "Import the contents from a tarball to create a filesystem image", flags,
                              "1 or 2 arguments")
    src = opts.args[0]
    if src == "-":
        src = sys.stdin.buffer
    image_id = import_rootfs(ctx.engine, src, opts.args[1] if len(opts.args) > 1 else None,
                             changes=opts.change, message=opts.message or "", platform=opts.platform or None)
    print(image_id)
    return 0


def cmd_bootstrap(ctx, argv: list[str]) -> int:
    flags = [Flag("--suite", STR, "Debian suite (debian only)", default="bookworm"),
             Flag("--include", LIST, "Extra packages, comma-separated (debian only)"),
             Flag("--mirror", STR, "Debian mirror (default: the one apt uses)"),
             Flag("--variant", STR, "debootstrap variant", default="minbase"),
             Flag("--busybox", STR, "busybox binary to use", default="/bin/busybox"),
             Flag("--help")]
    opts = parse(flags, argv)
    if opts.help or len(opts.args) != 2 or opts.args[0] not in ("busybox", "debian"):
        return help_or_refuse(opts.help, "dockyard bootstrap busybox|debian [OPTIONS] TAG",
                              "Make a base image offline: busybox from busybox-static, debian via debootstrap",
                              flags, "busybox or debian and a TAG")
    from dockyard.images import bootstrap

    kind, tag = opts.args
    if kind == "busybox":
        image_id = bootstrap.bootstrap_busybox(ctx.engine, tag, opts.busybox)
    else:
        include = [p for item in opts.include for p in item.split(",") if p]
        image_id = bootstrap.bootstrap_debian(ctx.engine, tag, suite=opts.suite, include=include,
                                              mirror=opts.mirror, variant=opts.variant)
    print(image_id)
    return 0


def _local_rfc3339(t: float) -> str:
    """Go's time.Unix(t, 0).Format(time.RFC3339) in the local zone, as docker's history prints."""
    import time

    local = time.localtime(int(t))
    off = local.tm_gmtoff // 60
    zone = "Z" if off == 0 else f"{'+' if off > 0 else '-'}{abs(off) // 60:02d}:{abs(off) % 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + zone


def cmd_history(ctx, argv: list[str]) -> int:
    """docker history: one row per step, newest first; sizes are the layers' unpacked sizes."""
    from dockyard.cli.template import render_table

    flags = [Flag("-H,--human", BOOL, "Print sizes and dates in human readable format", default=True),
             Flag("--no-trunc", BOOL, "Don't truncate output"), Flag("-q,--quiet", BOOL, "Only show image IDs"),
             Flag("--format", STR, "Format output using a custom template"),
             Flag("--platform", STR, "Show this platform's history (os[/arch[/variant]]): the image must be that "
                  "platform's", metavar="string"), Flag("--help")]
    opts = parse(flags, argv)
    if opts.help or len(opts.args) != 1:
        return help_or_refuse(opts.help, "dockyard history [OPTIONS] IMAGE",
                              "Show the history of an image", flags, "exactly 1 argument")
    engine = ctx.engine
    rec = engine.images.resolve(opts.args[0])
    engine.images.check_platform(rec, opts.platform, opts.args[0])
    cfg = engine.images.config(rec)
    sizes = engine.images.layer_sizes(cfg, engine.images.manifest(rec))
    rows = []
    history = list(cfg.get("history") or [])
    li = 0
    for h in history:
        size = 0
        if not h.get("empty_layer"):
            size = sizes[li] if li < len(sizes) else 0
            li += 1
        created_by = h.get("created_by", "")
        if not opts.no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        at = _local_rfc3339(parse_rfc3339(h["created"])) if h.get("created") else ""
        since = (ago(parse_rfc3339(h["created"])) if opts.human else at) if h.get("created") else "N/A"
        rows.append({"CreatedSince": since, "CreatedAt": at, "CreatedBy": created_by,
                     "Size": human_size(size, 3) if opts.human else str(size),  # -H=false: docker's plain numbers
                     "Comment": h.get("comment", ""), "ID": "<missing>"})
    rows.reverse()
    hist = rec  # dockerd names the rows from the newest down after the image, then its parents, one each
    for row in rows:
        row["ID"] = hist.id if opts.no_trunc else hist.id.removeprefix("sha256:")[:12]
        hist = engine.db.get_image(hist.parent) if hist.parent else None
        if hist is None:
            break
    if opts.quiet:
        for r in rows:
            print(r["ID"])
        return 0
    created = "{{.CreatedSince}}" if opts.human else "{{.CreatedAt}}"  # docker's non-human table names CREATED AT
    fmt = opts.format or f"table {{{{.ID}}}}\t{created}\t{{{{.CreatedBy}}}}\t{{{{.Size}}}}\t{{{{.Comment}}}}"
    sys.stdout.write(render_table(fmt, rows, {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                                              "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"},
                                  row_type="*image.historyContext"))
    return 0
