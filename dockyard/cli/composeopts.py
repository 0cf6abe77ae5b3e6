"""`dockyard compose`'s global options (Docker Compose v2's: ``-f``, ``-p``, ``--project-directory``,
``--env-file``, ``--profile``, ``--ansi``, ``--progress``, ``--parallel``, ``--all-resources``) and
loading the project they name with `dockyard.compose.loader`.

Options Compose v2 has and dockyard does not honour are refused with a clear message, never ignored.
"""

from __future__ import annotations

import sys

from dockyard.cli.flags import BOOL, LIST, STR, Flag, UsageError, parse

GLOBAL_FLAGS = [
    Flag("-f,--file", LIST, "Compose configuration files", metavar="stringArray"),
    Flag("-p,--project-name", STR, "Project name", metavar="string"),
    Flag("--project-directory", STR, "Specify an alternate working directory (default: the path of the, first "
         "specified, Compose file)", metavar="string"),
    Flag("--env-file", LIST, "Specify an alternate environment file", metavar="stringArray"),
    Flag("--profile", LIST, "Specify a profile to enable", metavar="stringArray"),
    Flag("--ansi", STR, 'Control when to print ANSI control characters ("never"|"always"|"auto")', metavar="string"),
    Flag("--progress", STR, "Set type of progress output (auto, tty, plain, json, quiet)", metavar="string"),
    Flag("--parallel", STR, "Control max parallelism, -1 for unlimited", metavar="int"),
    Flag("--all-resources", BOOL, "Include all resources, even those not used by services"),
    Flag("--compatibility", BOOL, "Run compose in backward compatibility mode (refused)"),
    Flag("--dry-run", BOOL, "Execute command in dry run mode (refused)"),
]


class GlobalOptions:
    """The parsed global options; ``environ`` is the environment they are read with."""

    def __init__(self, parsed, environ: dict) -> None:
        self.files = list(parsed.file)
        self.project_name = parsed.project_name
        self.project_directory = parsed.project_directory
        self.env_files = list(parsed.env_file)
        self.profiles = [p for v in parsed.profile for p in [v] if p]
        self.ansi = parsed.ansi or environ.get("COMPOSE_ANSI") or "auto"
        self.progress = parsed.progress or environ.get("COMPOSE_PROGRESS") or None
        self.parallel = parsed.parallel
        self.all_resources = parsed.all_resources
        self.environ = environ

    def color(self, stream=None) -> bool:
        stream = stream or sys.stdout
        if self.ansi == "always":
            return True
        if self.ansi == "never" or "NO_COLOR" in self.environ:
            return False
        return stream.isatty()


def parse_global(argv: list[str], environ: dict | None = None) -> tuple[GlobalOptions, list[str]]:
    """The global options before the command; returns them and the command's own argv."""
    import os

    environ = dict(os.environ) if environ is None else environ
    opts = parse(GLOBAL_FLAGS, argv, interspersed=False)
    if opts.compatibility:
        raise UsageError("--compatibility is not supported by dockyard: it keeps Compose v2's names "
                         "(project-service-N)")
    if opts.dry_run:
        raise UsageError("--dry-run is not supported by dockyard")
    if opts.ansi is not None and opts.ansi not in ("never", "always", "auto"):
        raise UsageError(f'unsupported --ansi value "{opts.ansi}": use never, always or auto')
    if opts.progress is not None and opts.progress not in ("auto", "tty", "plain", "json", "quiet"):
        raise UsageError(f'unsupported --progress value "{opts.progress}": use auto, tty, plain, json or quiet')
    if opts.parallel is not None:
        try:
            int(opts.parallel)
        except ValueError:
            raise UsageError(f'invalid argument "{opts.parallel}" for "--parallel" flag: strconv.ParseInt: '
                             f'parsing "{opts.parallel}": invalid syntax') from None
    return GlobalOptions(opts, environ), opts.args


def warn_printer(stream=None):
    """Compose v2's warnings on stderr: logrus's text form, `WARN[0000]` on a terminal."""
    stream = stream or sys.stderr

    def warn(msg: str) -> None:
        if stream.isatty():
            stream.write(f"WARN[0000] {msg}\n")
        else:
            import time

            ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            text = msg.replace("\\", "\\\\").replace('"', '\\"')
            stream.write(f'time="{ts}" level=warning msg="{text}"\n')
        stream.flush()
    return warn


def project_options(g: GlobalOptions, **kw):
    from dockyard.compose.loader import ProjectOptions

    return ProjectOptions(files=g.files, project_name=g.project_name, project_directory=g.project_directory,
                          env_files=g.env_files, profiles=g.profiles, environ=g.environ,
                          prune=not g.all_resources, warn=kw.pop("warn", None) or warn_printer(), **kw)


def load(g: GlobalOptions, **kw):
    """The project the global options name (``kw``: further `ProjectOptions` fields)."""
    from dockyard.compose.loader import load_project

    return load_project(project_options(g, **kw))
