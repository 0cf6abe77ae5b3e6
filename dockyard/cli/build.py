"""`dockyard build`."""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import BOOL, LIST, STR, Flag, UsageError, parse, usage
from dockyard.errors import InvalidArgument

FLAGS = [
    Flag("-t,--tag", LIST, "Name and optionally a tag in the 'name:tag' format"),
    Flag("-f,--file", STR, "Name of the Dockerfile (default: 'PATH/Dockerfile'; '-' reads it from stdin)"),
    Flag("--build-arg", LIST, "Set build-time variables"),
    Flag("--target", STR, "Set the target build stage to build"),
    Flag("--no-cache", BOOL, "Do not use cache when building the image"),
    Flag("--label", LIST, "Set metadata for an image"),
    Flag("--iidfile", STR, "Write the image ID to the file"),
    Flag("-q,--quiet", BOOL, "Suppress the build output and print image ID on success"),
    Flag("--network", STR, "Set the networking mode for the RUN instructions (default, none, host)",
         default="default"),
    Flag("--progress", STR, "Set type of progress output (auto, plain, tty)", default="auto"),
    Flag("--sbom", BOOL, "Make an SBOM (SPDX 2.3) of the built image, kept with it and pushed with it as an "
         "OCI 1.1 referrer"),
    Flag("--help", BOOL, "Print usage"),
]


def _pairs(values: list[str], what: str) -> dict:
    out = {}
    for v in values:
        k, eq, val = v.partition("=")
        if not k:
            raise InvalidArgument(f"invalid {what}: {v!r}")
        if not eq and what == "build-arg":
            if k in os.environ:
                out[k] = os.environ[k]
            continue
        out[k] = val
    return out


def _context_dockerfile(context: str) -> str:
    """The context's Dockerfile. A symlink is resolved inside the context, as the docker CLI
    does, so one that points out of it is refused (and nothing of its target is shown)."""
    from dockyard.builder.copier import read_inside

    path = os.path.join(os.path.abspath(context), "Dockerfile")
    if not os.path.isdir(context):
        raise InvalidArgument(f"unable to prepare context: path {context!r} not found")
    try:
        data = read_inside(context, "Dockerfile")
    except OSError as e:
        raise InvalidArgument(f"unable to prepare context: unable to open Dockerfile: {e.strerror}") from None
    if data is None:
        if os.path.islink(path):
            raise InvalidArgument(f"unable to prepare context: unable to open Dockerfile: {path} is a symbolic "
                                  "link to nothing inside the build context",
                                  hint="name a Dockerfile outside the context explicitly with -f") from None
        raise InvalidArgument(f"unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
                              f"lstat {path}: no such file or directory")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument(f"unable to prepare context: the Dockerfile {path} is not UTF-8 text") from None


def cmd_build(ctx, argv: list[str]) -> int:
    from dockyard.builder.build import Builder

    opts = parse(FLAGS, argv)
    if opts.help:
        print(usage("dockyard build [OPTIONS] PATH | -", "Build an image from a Dockerfile", FLAGS))
        return 0
    if len(opts.args) != 1:
        raise UsageError('"dockyard build" requires exactly 1 argument.')
    if opts.progress not in ("auto", "plain", "tty"):
        raise InvalidArgument(f"invalid progress mode {opts.progress!r}: use auto, plain or tty")
    if opts.network not in ("none", "host", "default", "bridge"):
        raise InvalidArgument(f"network mode {opts.network!r} not supported: use default, none or host")
    engine = ctx.engine
    for t in opts.tag:
        engine.images.normalize_tag(t)
    src = opts.args[0]
    tmp = None
    try:
        if src == "-":
            if opts.file == "-":
                raise InvalidArgument("invalid argument: can't use stdin for both build context and dockerfile")
            import tempfile

            from dockyard.archive.apply import apply_layer

            from dockyard.ownership import owner_tag

            tmp = tempfile.mkdtemp(dir=engine.tmp_dir(), prefix=f"context-{owner_tag()}-")
            apply_layer(sys.stdin.buffer, tmp, mode="flatten", allow_devices=False, same_owner=False)
            context = tmp
        else:
            context = src
        if opts.file == "-":
            text, name = sys.stdin.read(), "Dockerfile"
        elif opts.file:  # a path the user names is read as given, links followed (as docker does)
            path = opts.file
            if not os.path.isabs(opts.file) and not os.path.exists(opts.file):
                path = os.path.join(context, opts.file)
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except UnicodeDecodeError:
                raise InvalidArgument(f"unable to prepare context: the Dockerfile {path} is not UTF-8 text") from None
            except OSError:
                raise InvalidArgument(f"unable to prepare context: unable to evaluate symlinks in Dockerfile "
                                      f"path: lstat {os.path.abspath(path)}: no such file or directory") from None
        else:  # the context's own Dockerfile: resolved inside the context, never read outside it
            text = _context_dockerfile(context)
            path = "Dockerfile"
        if opts.file != "-":
            name = os.path.basename(path)
        b = Builder(engine, context=context, dockerfile_text=text, dockerfile_name=name,
                    build_args=_pairs(opts.build_arg, "build-arg"), target=opts.target, no_cache=opts.no_cache,
                    labels=_pairs(opts.label, "label"), network={"default": "bridge"}.get(opts.network, opts.network),
                    quiet=opts.quiet, progress=opts.progress)
        image_id = b.build()
    finally:
        if tmp:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    for t in opts.tag:
        engine.images.tag(image_id, t)
    sbom_note = ""
    if opts.sbom:
        from dockyard.sbom import attached

        doc = attached.generate(engine, image_id, name=engine.images.normalize_tag(opts.tag[0]) if opts.tag else None)
        attached.store(engine, image_id, doc)
        import json

        count = sum(1 for p in json.loads(doc)["packages"] if p.get("primaryPackagePurpose") != "CONTAINER")
        sbom_note = f"SBOM: {count} packages (SPDX 2.3), kept with the image; `dockyard push` attaches it"
    if opts.iidfile:
        with open(opts.iidfile, "w") as f:
            f.write(image_id)
    if opts.quiet:
        print(image_id)
    else:
        if sbom_note:
            print(sbom_note)
        print(f"Successfully built {image_id.removeprefix('sha256:')[:12]}")
        for t in opts.tag:
            print(f"Successfully tagged {t if ':' in t.rsplit('/', 1)[-1] else t + ':latest'}")
    return 0
