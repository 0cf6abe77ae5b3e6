"""`dockyard kube generate|play|down`: thin faces over dockyard/kube."""

from __future__ import annotations

import sys

from dockyard.cli.flags import BOOL, LIST, STR, Flag, UsageError, parse, usage


def _opts(flags, argv, prog: str, summary: str):
    opts = parse(flags + [Flag("--help", BOOL, "Print usage")], argv)
    if opts.help:
        print(usage(f"dockyard kube {prog}", summary, flags))
        raise SystemExit(0)
    return opts


GENERATE_FLAGS = [
    Flag("--type", STR, "Kind of workload: deployment, statefulset or pod (default: deployment, statefulset "
                        "with named volumes)", default=""),
    Flag("-s,--service", BOOL, "Write a Service for the published ports"),
    Flag("--node-ports", BOOL, "Make the Service a NodePort Service (needs --service)"),
    Flag("-f,--filename", STR, "Write the manifests to this file (default: standard output)", default=""),
    Flag("--name", STR, "Name of the pod (default: the first container's)", default=""),
    Flag("--compose", BOOL, "Generate from a Compose project (the arguments are its files, merged in order; "
                            "none: compose.yaml found as docker compose finds it)"),
    Flag("-p,--project-name", STR, "Compose project name (with --compose)", default=""),
]


def cmd_kube_generate(ctx, argv: list[str]) -> int:
    opts = _opts(GENERATE_FLAGS, argv, "generate [OPTIONS] CONTAINER... | --compose [FILE]",
                 "Write Kubernetes manifests for containers or a Compose project")
    from dockyard.kube.generate import KINDS

    if opts.type and opts.type not in KINDS:
        raise UsageError(f"invalid --type {opts.type!r}: use deployment, statefulset or pod")
    if opts.node_ports and not opts.service:
        raise UsageError("--node-ports needs --service")
    if opts.compose:
        from dockyard.kube.compose import from_compose

        if opts.name:
            raise UsageError("--name names the pod of containers; a Compose project's workloads are named by service")
        gen = from_compose(opts.args, opts.project_name or None,
                           kind=opts.type or None, service=opts.service, node_ports=opts.node_ports,
                           engine=ctx.engine)
    else:
        if opts.project_name:
            raise UsageError("-p names a Compose project: use it with --compose")
        if not opts.args:
            raise UsageError('"dockyard kube generate" requires at least 1 argument.')
        from dockyard.kube.gather import container_views
        from dockyard.kube.generate import generate

        gen = generate(container_views(ctx.engine, opts.args), kind=opts.type or None, service=opts.service,
                       node_ports=opts.node_ports, name=opts.name or None)
    from dockyard.kube.yamlio import dump

    text = dump(gen.docs)
    for w in gen.warnings:
        sys.stderr.write(f"WARNING: {w}\n")
    if opts.filename:
        from dockyard.fsutil import write_output

        write_output(opts.filename, lambda f: f.write(text), mode="w")
    else:
        sys.stdout.write(text)
    return 0


def _read_file(path: str) -> tuple[list[dict], str]:
    from dockyard.errors import InvalidArgument
    from dockyard.kube.yamlio import load

    if path == "-":
        return load(sys.stdin.read(), "standard input"), "standard input"
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise InvalidArgument(f"{path}: not UTF-8 text") from None
    return load(text, path), path


def cmd_kube_play(ctx, argv: list[str]) -> int:
    opts = _opts([Flag("--replace", BOOL, "Remove the file's pods first if they exist"),
                  Flag("--publish", LIST, "Publish a pod port: [IP:]HOST_PORT:POD_PORT[/PROTO] (first pod)")],
                 argv, "play [OPTIONS] FILE", "Run the pods of a Kubernetes manifest file locally")
    if len(opts.args) != 1:
        raise UsageError('"dockyard kube play" requires exactly 1 argument.')
    from dockyard.kube.play import play

    docs, where = _read_file(opts.args[0])
    pods = play(ctx.engine, docs, where, replace=opts.replace, publish=opts.publish,
                say=lambda s: sys.stderr.write(s + "\n"))
    for p in pods:
        print(p.name)
    return 0


def cmd_kube_down(ctx, argv: list[str]) -> int:
    opts = _opts([], argv, "down FILE", "Remove the pods of a Kubernetes manifest file (claims' volumes stay)")
    if len(opts.args) != 1:
        raise UsageError('"dockyard kube down" requires exactly 1 argument.')
    from dockyard.kube.play import down

    docs, where = _read_file(opts.args[0])
    for name in down(ctx.engine, docs, where):
        print(name)
    return 0
