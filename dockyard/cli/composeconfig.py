"""`dockyard compose config`: the project in Compose v2's canonical form (YAML or JSON), or one of
its lists (``--services``, ``--volumes``, ``--networks``, ``--profiles``, ``--images``,
``--environment``, ``--variables``), or only the check (``-q``)."""

from __future__ import annotations

import sys

from dockyard.cli.flags import BOOL, STR, Flag, UsageError, parse, usage

CONFIG_FLAGS = [
    Flag("--format", STR, "Format the output. Values: [yaml | json]", metavar="string"),
    Flag("--services", BOOL, "Print the service names, one per line."),
    Flag("--volumes", BOOL, "Print the volume names, one per line."),
    Flag("--networks", BOOL, "Print the network names, one per line."),
    Flag("--profiles", BOOL, "Print the profile names, one per line."),
    Flag("--images", BOOL, "Print the image names, one per line."),
    Flag("--environment", BOOL, "Print environment used for interpolation."),
    Flag("--variables", BOOL, "Print model variables and default values."),
    Flag("-q,--quiet", BOOL, "Only validate the configuration, don't print anything"),
    Flag("--no-interpolate", BOOL, "Don't interpolate environment variables"),
    Flag("--no-normalize", BOOL, "Don't normalize compose model"),
    Flag("--no-path-resolution", BOOL, "Don't resolve file paths"),
    Flag("--no-consistency", BOOL, "Don't check model consistency - warning: may produce invalid Compose output"),
    Flag("--no-env-resolution", BOOL, "Don't resolve service env files"),
    Flag("-o,--output", STR, "Save to file (default to stdout)", metavar="string"),
    Flag("--resolve-image-digests", BOOL, "Pin image tags to digests (refused: not done by dockyard)"),
    Flag("--lock-image-digests", BOOL, "Produces an override file with image digests (refused)"),
    Flag("--hash", STR, "Print the service config hash, one per line (refused)", metavar="string"),
    Flag("--models", BOOL, "Print the model names, one per line."),
    Flag("--dry-run", BOOL, "Execute command in dry run mode (refused)"),
    Flag("--help", BOOL, "Print usage"),
]


def cmd_config(session, argv: list[str]) -> int:
    opts = parse(CONFIG_FLAGS, argv)
    if opts.help:
        print(usage("dockyard compose config [OPTIONS] [SERVICE...]",
                    "Parse, resolve and render compose file in canonical format", CONFIG_FLAGS[:-1]))
        return 0
    for flag, dest in (("--resolve-image-digests", "resolve_image_digests"),
                       ("--lock-image-digests", "lock_image_digests"), ("--dry-run", "dry_run")):
        if opts[dest]:
            raise UsageError(f"{flag} is not supported by dockyard compose config: it would need a registry "
                             "lookup per image, which config does not do")
    if opts.hash is not None:
        raise UsageError("--hash is not supported by dockyard compose config")
    fmt = opts.format or "yaml"
    if fmt not in ("yaml", "json"):
        raise UsageError(f"unsupported format {fmt!r}: use yaml or json")
    from dockyard.cli.composeopts import load

    g = session.g
    if opts.environment or opts.variables:
        return _print_env(g, opts)
    if opts.no_interpolate and not any(opts[k] for k in ("services", "volumes", "networks", "profiles", "images",
                                                        "models")):
        return _print_model(g, opts, fmt)
    project = load(g, interpolate=not opts.no_interpolate, normalize=not opts.no_normalize,
                   resolve_paths=not opts.no_path_resolution, consistency=not opts.no_consistency,
                   resolve_environment=not opts.no_env_resolution, services=list(opts.args))
    lists = [k for k in ("services", "volumes", "networks", "profiles", "images", "models") if opts[k]]
    if opts.quiet:
        project.to_dict()  # the typed model is part of the check (v2 decodes it too)
        return 0
    if lists:
        text = "".join(line + "\n" for k in lists for line in _lines(project, k))
    else:
        from dockyard.compose.render import render

        text = render(project.to_dict(), fmt)
    _write(text, opts.output)
    return 0


def _print_model(g, opts, fmt: str) -> int:
    """`--no-interpolate`: v2 prints the merged YAML model itself (values as written, every service
    whatever its profiles, keys sorted), not the typed project."""
    from dockyard.cli.composeopts import project_options
    from dockyard.compose.loader import load_model
    from dockyard.compose.render import render_model

    model = load_model(project_options(g, interpolate=False, normalize=not opts.no_normalize,
                                       resolve_paths=not opts.no_path_resolution))
    if not opts.quiet:
        _write(render_model(model, fmt), opts.output)
    return 0


def _lines(project, what: str) -> list[str]:
    if what == "services":
        return project.dependency_order()
    if what == "volumes":
        return sorted(project.volumes)
    if what == "networks":
        return sorted(project.networks)
    if what == "models":
        return []
    if what == "profiles":
        seen = set()
        for s in list(project.services.values()) + list(project.disabled_services.values()):
            seen.update(s.get("profiles") or [])
        return sorted(seen)
    out = []  # images: the image, or the name `up` builds (<project>-<service>)
    for name in sorted(project.services):
        s = project.services[name]
        out.append(s.get("image") or f"{project.name}-{name}")
    return out


def _print_env(g, opts) -> int:
    from dockyard.compose.loader import ProjectOptions, project_environment

    env = project_environment(ProjectOptions(files=g.files, project_name=g.project_name,
                                             project_directory=g.project_directory, env_files=g.env_files,
                                             environ=g.environ))
    if opts.variables:
        from dockyard.compose.loader import model_variables

        rows = model_variables(ProjectOptions(files=g.files, project_directory=g.project_directory,
                                              project_name=g.project_name, env_files=g.env_files,
                                              environ=g.environ))
        if (opts.format or "") == "json":
            import json

            text = json.dumps({r["name"]: {"Name": r["name"], "DefaultValue": r["defaultValue"],
                                           "PresenceValue": r["alternateValue"], "Required": r["required"]}
                               for r in rows}, indent=4) + "\n"
        else:
            w = [max([len(h)] + [len(str(r[k])) for r in rows]) + 3 for h, k in (
                ("NAME", "name"), ("REQUIRED", "required"), ("DEFAULT VALUE", "defaultValue"))]
            w = [max(x, 20) for x in w]
            text = f"{'NAME':<{w[0]}}{'REQUIRED':<{w[1]}}{'DEFAULT VALUE':<{w[2]}}ALTERNATE VALUE\n"
            for r in rows:
                text += (f"{r['name']:<{w[0]}}{str(r['required']).lower():<{w[1]}}{r['defaultValue']:<{w[2]}}"
                         f"{r['alternateValue']}\n")
        _write(text, opts.output)
        return 0
    _write("".join(f"{k}={v}\n" for k, v in sorted(env.items())), opts.output)
    return 0


def _write(text: str, output: str | None) -> None:
    if not output:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    import os
    import tempfile

    out = os.path.realpath(output)  # through a link to what it names, as writing a file would
    if os.path.exists(out) and not os.path.isfile(out):
        raise UsageError(f"-o {output}: not a regular file (config writes by renaming a new file over it)")
    fd, tmp = tempfile.mkstemp(prefix=".config-", dir=os.path.dirname(out))
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise
