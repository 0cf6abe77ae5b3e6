"""`dockyard` entry point: global options, dispatch to one module per command group, and the one
place errors are rendered.

Only the module of the command being run is imported, so `dockyard run` never pays for the
code of `images` or `build`.
"""

from __future__ import annotations

import sys

from dockyard.errors import DockyardError

# command -> (module, function); groups map their subcommands the same way.
COMMANDS = {
    "run": ("dockyard.cli.run", "cmd_run"),
    "create": ("dockyard.cli.run", "cmd_create"),
    "ps": ("dockyard.cli.containers", "cmd_ps"),
    "rm": ("dockyard.cli.containers", "cmd_rm"),
    "inspect": ("dockyard.cli.inspect", "cmd_inspect"),
    "images": ("dockyard.cli.images", "cmd_images"),
    "tag": ("dockyard.cli.images", "cmd_tag"),
    "rmi": ("dockyard.cli.images", "cmd_rmi"),
    "import": ("dockyard.cli.images", "cmd_import"),
    "save": ("dockyard.cli.saveload", "cmd_save"),
    "load": ("dockyard.cli.saveload", "cmd_load"),
    "bootstrap": ("dockyard.cli.images", "cmd_bootstrap"),
    "build": ("dockyard.cli.build", "cmd_build"),
    "history": ("dockyard.cli.images", "cmd_history"),
    "version": ("dockyard.cli.info", "cmd_version"),
    "info": ("dockyard.cli.info", "cmd_info"),
    "start": ("dockyard.cli.lifecycle", "cmd_start"),
    "attach": ("dockyard.cli.attach", "cmd_attach"),
    "events": ("dockyard.cli.events", "cmd_events"),
    "update": ("dockyard.cli.update", "cmd_update"),
    "stop": ("dockyard.cli.lifecycle", "cmd_stop"),
    "restart": ("dockyard.cli.lifecycle", "cmd_restart"),
    "kill": ("dockyard.cli.lifecycle", "cmd_kill"),
    "wait": ("dockyard.cli.lifecycle", "cmd_wait"),
    "logs": ("dockyard.cli.logs", "cmd_logs"),
    "exec": ("dockyard.cli.exec", "cmd_exec"),
    "rename": ("dockyard.cli.containers", "cmd_rename"),
    "pause": ("dockyard.cli.lifecycle", "cmd_pause"),
    "unpause": ("dockyard.cli.lifecycle", "cmd_unpause"),
    "top": ("dockyard.cli.lifecycle", "cmd_top"),
    "stats": ("dockyard.cli.lifecycle", "cmd_stats"),
    "cp": ("dockyard.cli.filesystem", "cmd_cp"),
    "diff": ("dockyard.cli.filesystem", "cmd_diff"),
    "export": ("dockyard.cli.filesystem", "cmd_export"),
    "commit": ("dockyard.cli.filesystem", "cmd_commit"),
    "pull": ("dockyard.cli.registry_client", "cmd_pull"),
    "push": ("dockyard.cli.registry_client", "cmd_push"),
    "login": ("dockyard.cli.registry_client", "cmd_login"),
    "logout": ("dockyard.cli.registry_client", "cmd_logout"),
    "port": ("dockyard.cli.networks", "cmd_port"),
    "sign": ("dockyard.cli.sign", "cmd_sign"),
    "verify": ("dockyard.cli.sign", "cmd_verify"),
    "sbom": ("dockyard.cli.sbom", "cmd_sbom"),
    "scan": ("dockyard.cli.sbom", "cmd_scan"),
    "compose": ("dockyard.cli.compose", "cmd_compose"),
}
GROUPS = {
    "system": {"prune": ("dockyard.cli.system", "cmd_system_prune"), "df": ("dockyard.cli.system", "cmd_system_df"),
               "reset": ("dockyard.cli.system", "cmd_system_reset"),
               "service": ("dockyard.api.service", "cmd_service"), "info": ("dockyard.cli.info", "cmd_info"),
               "events": ("dockyard.cli.events", "cmd_events")},
    "key": {"generate": ("dockyard.cli.sign", "cmd_key_generate")},
    "volume": {k: ("dockyard.cli.volumes", f"cmd_volume_{v}") for k, v in (
        ("create", "create"), ("ls", "ls"), ("list", "ls"), ("inspect", "inspect"), ("rm", "rm"), ("remove", "rm"),
        ("prune", "prune"))},
    "kube": {"generate": ("dockyard.cli.kube", "cmd_kube_generate"), "play": ("dockyard.cli.kube", "cmd_kube_play"),
             "down": ("dockyard.cli.kube", "cmd_kube_down")},
    "pod": {k: ("dockyard.cli.pod", f"cmd_pod_{v}") for k, v in (
        ("ls", "ls"), ("list", "ls"), ("ps", "ls"), ("inspect", "inspect"), ("rm", "rm"), ("remove", "rm"))},
    "manifest": {k: ("dockyard.cli.manifest", f"cmd_manifest_{k}") for k in (
        "create", "annotate", "inspect", "push", "rm")},
    "registry": {"serve": ("dockyard.cli.registry", "cmd_registry_serve"),
                 "gc": ("dockyard.cli.registry", "cmd_registry_gc")},
    "network": {k: ("dockyard.cli.networks", f"cmd_network_{v}") for k, v in (
        ("create", "create"), ("ls", "ls"), ("list", "ls"), ("inspect", "inspect"), ("rm", "rm"), ("remove", "rm"),
        ("prune", "prune"), ("connect", "connect"), ("disconnect", "disconnect"))},
    "image": {"history": "history", "build": "build", "ls": "images", "list": "images", "rm": "rmi", "remove": "rmi", "tag": "tag", "import": "import",
              "save": "save", "load": "load", "pull": "pull", "push": "push",
              "inspect": ("dockyard.cli.inspect", "cmd_image_inspect"), "prune": ("dockyard.cli.system", "cmd_image_prune")},
    "builder": {"build": "build", "prune": ("dockyard.cli.system", "cmd_builder_prune")},
    "container": {"run": "run", "create": "create", "ls": "ps", "list": "ps", "ps": "ps", "rm": "rm",
                  "start": "start", "attach": "attach", "update": "update", "stop": "stop", "restart": "restart", "kill": "kill", "wait": "wait",
                  "logs": "logs", "exec": "exec", "rename": "rename", "pause": "pause", "unpause": "unpause",
                  "top": "top", "stats": "stats", "port": "port",
                  "cp": "cp", "diff": "diff", "export": "export", "commit": "commit",
                  "prune": ("dockyard.cli.containers", "cmd_prune"),
                  "remove": "rm", "inspect": ("dockyard.cli.inspect", "cmd_container_inspect")},
}

USAGE = """Usage:  dockyard [OPTIONS] COMMAND

A Docker-compatible, daemonless container engine

Options:
      --root string      Storage root (default $DOCKYARD_ROOT or /var/lib/dockyard)
      --runroot string   Runtime state root (default $DOCKYARD_RUNROOT or /run/dockyard)
  -v, --version          Print version information and quit

Commands:
  run         Create and run a new container from an image
  create      Create a new container
  ps          List containers
  rm          Remove one or more containers
  start       Start one or more stopped containers
  attach      Attach local standard input, output, and error streams to a running container
  stop        Stop one or more running containers
  restart     Restart one or more containers
  kill        Kill one or more running containers
  wait        Block until one or more containers stop, then print their exit codes
  logs        Fetch the logs of a container
  cp          Copy files/folders between a container and the local filesystem
  diff        Inspect changes to files or directories on a container's filesystem
  export      Export a container's filesystem as a tar archive
  commit      Create a new image from a container's changes
  exec        Execute a command in a running container
  rename      Rename a container
  update      Update configuration (resource limits, restart policy) of one or more containers
  pause       Pause all processes within one or more containers
  unpause     Unpause all processes within one or more containers
  top         Display the running processes of a container
  stats       Display a live stream of container(s) resource usage statistics
  port        List port mappings or a specific mapping for the container
  inspect     Return low-level information on containers or images
  images      List images
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
  rmi         Remove one or more images
  import      Import the contents from a tarball to create a filesystem image
  save        Save one or more images to a tar archive (streamed to STDOUT by default)
  load        Load an image from a tar archive or STDIN
  build       Build an image from a Dockerfile
  history     Show the history of an image
  pull        Download an image from a registry
  push        Upload an image to a registry
  login       Log in to a registry
  logout      Log out from a registry
  sign        Sign an image in a registry (cosign's format)
  verify      Verify an image's cosign signatures
  sbom        List the packages in an image (SPDX, CycloneDX or a table)
  scan        Match an image's packages against OSV vulnerability records, offline
  bootstrap   Make a base image offline (busybox from busybox-static, debian via debootstrap)
  events      Get real time events from the store (every dockyard command and monitor writes them)
  version     Show the dockyard version information
  info        Display system-wide information
  compose     Define and run multi-container applications (Docker Compose v2's commands)

Management Commands:
  container   Manage containers
  builder     Manage builds (build, prune: the build cache)
  image       Manage images
  manifest    Manage Docker image manifests and manifest lists
  volume      Manage volumes
  registry    Run an OCI distribution registry (serve, gc)
  network     Manage networks
  key         Make signing keys (generate)
  kube        Kubernetes manifests: generate from containers or Compose, play and down locally
  pod         Manage pods made by kube play (ls, inspect, rm)
  system      Manage dockyard (df, events, info, prune, reset, service: the Docker Engine API)
"""


class Context:
    """What every command gets: the parsed global options and a lazily-built engine."""

    __slots__ = ("root", "runroot", "_engine", "command")

    def __init__(self, root: str | None, runroot: str | None, command: str) -> None:
        self.root, self.runroot, self._engine, self.command = root, runroot, None, command

    @property
    def engine(self):
        if self._engine is None:
            from dockyard.engine.engine import Engine
            from dockyard.engine.repair import sweep

            self._engine = Engine(self.root, self.runroot)
            sweep(self._engine)  # first finish what killed commands left half-done
        return self._engine


def _split_globals(argv: list[str]) -> tuple[dict, list[str]]:
    opts: dict = {"root": None, "runroot": None}
    i = 0
    while i < len(argv):
        a = argv[i]
        name, eq, val = a.partition("=")
        if name in ("--root", "--runroot"):
            if not eq:
                if i + 1 >= len(argv):
                    raise DockyardError(f"flag needs an argument: {name}")
                val = argv[i + 1]
                i += 1
            opts[name[2:]] = val
        elif a in ("-v", "--version"):
            opts["version"] = True
        elif a in ("-h", "--help"):
            opts["help"] = True
        elif a in ("-D", "--debug"):
            opts["debug"] = True
        elif a.startswith("-"):
            raise DockyardError(f"unknown flag: {a}", hint="See 'dockyard --help'.")
        else:
            return opts, argv[i:]
        i += 1
    return opts, []


_SWARM = ("Swarm mode is not supported: dockyard runs single-machine projects with `dockyard compose`, and "
          "beyond one machine hands over to Kubernetes (`dockyard kube generate`)")
REFUSED = {  # docker CLI 28's commands dockyard does not have, each with why and what to use instead
    "search": "there is no registry index to search here (Docker Hub's search API is online only): "
              "pull by full reference, or list a registry's repositories with its /v2/_catalog",
    "trust": "Docker Content Trust (Notary v1) is not supported: sign and verify cosign-compatible "
             "signatures with `dockyard sign` and `dockyard verify`, enforced by a containers-policy.json",
    "plugin": "managed Docker plugins are not supported: dockyard's volume, network and log drivers are built in",
    "context": "dockyard has no daemon to switch between: every command works on the store named by "
               "--root/--runroot (DOCKYARD_ROOT/DOCKYARD_RUNROOT); the docker CLI reaches `dockyard system "
               "service` through DOCKER_HOST or its own contexts",
    "checkpoint": "checkpoint/restore (CRIU, an experimental feature of dockerd) is not supported: a container "
                  "starts afresh; keep state in volumes, or commit the container to an image",
    **{c: _SWARM for c in ("swarm", "node", "service", "stack", "secret", "config")},
}


def _resolve(args: list[str]) -> tuple[str, tuple[str, str], list[str]]:
    cmd = args[0]
    if cmd in REFUSED:
        from dockyard.errors import NotImplemented

        if cmd == "search":  # its flags are parsed first, as docker's are: a bad one exits 125
            from dockyard.cli.flags import BOOL, LIST, STR, Flag, parse

            parse([Flag("-f,--filter", LIST, ""), Flag("--format", STR, ""), Flag("--limit", STR, ""),
                   Flag("--no-trunc", BOOL, ""), Flag("--help", BOOL, "")], args[1:])
        raise NotImplemented(f"dockyard {cmd}: {REFUSED[cmd]}")
    if cmd in GROUPS:
        if len(args) < 2 or args[1] in ("-h", "--help"):
            sub = "\n".join(f"  {k}" for k in GROUPS[cmd])
            raise SystemExit(print(f"Usage:  dockyard {cmd} COMMAND\n\nCommands:\n{sub}") or 0)
        target = GROUPS[cmd].get(args[1])
        if target is None:
            raise DockyardError(f"unknown command: dockyard {cmd} {args[1]}", hint=f"See 'dockyard {cmd} --help'.")
        name = f"{cmd} {args[1]}"
        if isinstance(target, tuple):
            return name, target, args[2:]
        return name, COMMANDS[target], args[2:]
    if cmd not in COMMANDS:
        raise DockyardError(f"unknown command: dockyard {cmd}", hint="See 'dockyard --help'.")
    return cmd, COMMANDS[cmd], args[1:]


def render_error(e: BaseException, command: str = "") -> None:
    msg = str(e)
    sys.stderr.write(f"dockyard: error: {msg}\n")
    hint = getattr(e, "hint", None)
    if hint:
        sys.stderr.write(f"{hint}\n")
    elif command and type(e).__name__ == "UsageError":
        sys.stderr.write(f"See 'dockyard {command} --help'.\n")


def cmd_version(ctx, argv) -> int:
    from dockyard import __version__

    print(f"dockyard version {__version__}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = ""
    try:
        opts, rest = _split_globals(argv)
        if opts.get("version"):
            return cmd_version(None, [])
        if not rest or opts.get("help"):
            sys.stdout.write(USAGE)
            return 0
        command, (module, func), cmd_argv = _resolve(rest)
        __import__(module)  # not importlib.import_module: importlib drags in `warnings`
        fn = getattr(sys.modules[module], func)
        return fn(Context(opts["root"], opts["runroot"], command), cmd_argv) or 0
    except DockyardError as e:
        if type(e).__name__ == "HelpRequested":  # cli.flags.HelpRequested, not imported up front
            _print_help(command, e.flags)
            return 0
        render_error(e, command)
        return _error_code(command, e)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = None  # nothing more can be written; don't let the interpreter complain
        finally:
            return 141
    except OSError as e:
        render_error(DockyardError(_os_error_text(e)), command)
        return _error_code(command, e)
    except Exception as e:
        if type(e).__module__ not in ("sqlite3", "_sqlite3"):
            raise
        # a database error the state layer did not translate (it translates the ones it knows)
        render_error(DockyardError(f"state database error: {e}"), command)
        return _error_code(command, e)


def _os_error_text(e: OSError) -> str:
    import errno

    if e.errno == errno.ENOSPC:  # docker's words, with what could not be written
        return f"no space left on device: {e.filename}" if e.filename else "no space left on device"
    return f"{e.strerror}: {e.filename}" if e.filename else str(e)


def _print_help(command: str, flags: list) -> None:
    """`CMD --help` for a command that does not write its own usage: its flag table, and its
    line of the command list as the summary."""
    from dockyard.cli.flags import usage

    word = command.split()[-1]
    summary = next((line.split(None, 1)[1] for line in USAGE.splitlines()
                    if line.startswith("  ") and line.split(None, 1)[0] == word and " " in line.strip()), "")
    sys.stdout.write(usage(f"dockyard {command} [OPTIONS]", summary, flags) + "\n")


def _error_code(command: str, e: BaseException) -> int:
    """docker exits 125 for a flag it cannot parse and 1 for a wrong argument count, whatever the
    command; run/create/exec exit 125 for engine errors, 126/127 when the command can't start."""
    code = getattr(e, "exit_code", None)  # set where docker's code is known (UsageError's class too)
    if code is not None:
        return code
    if command in ("run", "container run", "create", "container create", "exec", "container exec"):
        return getattr(e, "code", 125)
    return 1


if __name__ == "__main__":
    sys.exit(main())
