"""`dockyard pod ls|inspect|rm`: the pods `kube play` made (dockyard/kube/pods.py)."""

from __future__ import annotations

from dockyard.cli.flags import BOOL, STR, Flag, UsageError, parse, usage


def _opts(flags, argv, prog: str, summary: str):
    opts = parse(flags + [Flag("--help", BOOL, "Print usage")], argv)
    if opts.help:
        print(usage(f"dockyard pod {prog}", summary, flags))
        raise SystemExit(0)
    return opts


def cmd_pod_ls(ctx, argv: list[str]) -> int:
    opts = _opts([Flag("-q,--quiet", BOOL, "Only display pod names"),
                  Flag("--format", STR, "Format output: table or json", default="")],
                 argv, "ls [OPTIONS]", "List pods")
    if opts.args:
        raise UsageError('"dockyard pod ls" accepts no arguments.')
    if opts.format not in ("", "table", "json"):
        raise UsageError(f"invalid --format {opts.format!r}: use table or json")
    from dockyard.kube.pods import pod_containers, pod_json
    from dockyard.units import human_duration

    docs = [pod_json(ctx.engine, name, recs) for name, recs in sorted(pod_containers(ctx.engine).items())]
    if opts.quiet:
        for d in docs:
            print(d["Name"])
        return 0
    if opts.format == "json":
        import json

        print(json.dumps(docs, indent=4))
        return 0
    import time

    from dockyard.units import parse_rfc3339

    rows = [("POD ID", "NAME", "STATUS", "CREATED", "INFRA ID", "# OF CONTAINERS")]
    for d in docs:
        age = human_duration(time.time() - parse_rfc3339(d["Created"])) + " ago"
        rows.append((d["Id"][:12], d["Name"], d["State"], age, d["InfraContainerID"][:12], str(d["NumContainers"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


def cmd_pod_inspect(ctx, argv: list[str]) -> int:
    opts = _opts([], argv, "inspect POD...", "Show pods' details as JSON")
    if not opts.args:
        raise UsageError('"dockyard pod inspect" requires at least 1 argument.')
    import json

    from dockyard.errors import NotFound
    from dockyard.kube.pods import pod_containers, pod_json

    docs, missing = [], []
    for name in opts.args:
        recs = pod_containers(ctx.engine, name).get(name)
        if recs:
            docs.append(pod_json(ctx.engine, name, recs))
        else:
            missing.append(name)
    print(json.dumps(docs, indent=4))
    if missing:
        raise NotFound(f"no such pod: {', '.join(missing)}")
    return 0


def cmd_pod_rm(ctx, argv: list[str]) -> int:
    opts = _opts([Flag("-f,--force", BOOL, "Remove running pods too")], argv, "rm [OPTIONS] POD...",
                 "Remove pods: their containers and own volumes")
    if not opts.args:
        raise UsageError('"dockyard pod rm" requires at least 1 argument.')
    from dockyard.cli.each import each
    from dockyard.kube.pods import remove_pod

    return each(opts.args, lambda name: remove_pod(ctx.engine, name, force=opts.force), echo=True)
