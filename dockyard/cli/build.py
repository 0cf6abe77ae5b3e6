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
    Flag("--network", STR, "Set the networking mode for the RUN instructions (default, none, host, a user network)",
         default="default"),
    Flag("--progress", STR, "Set type of progress output (auto, plain, tty)", default="auto"),
    Flag("--add-host", LIST, "Add a custom host-to-IP mapping (\"host:ip\")"),
    Flag("--shm-size", STR, "Size of \"/dev/shm\" for the RUN instructions"),
    Flag("--ulimit", LIST, "Ulimit options for the RUN instructions (nofile=1024:2048)"),
    Flag("--cgroup-parent", STR, "Set the parent cgroup for the \"RUN\" instructions during build"),
    Flag("-m,--memory", STR, "Memory limit"),
    Flag("--memory-swap", STR, "Swap limit equal to memory plus swap: -1 to enable unlimited swap"),
    Flag("-c,--cpu-shares", STR, "CPU shares (relative weight)"),
    Flag("--cpu-period", STR, "Limit the CPU CFS (Completely Fair Scheduler) period"),
    Flag("--cpu-quota", STR, "Limit the CPU CFS (Completely Fair Scheduler) quota"),
    Flag("--cpuset-cpus", STR, "CPUs in which to allow execution (0-3, 0,1)"),
    Flag("--cpuset-mems", STR, "MEMs in which to allow execution (0-3, 0,1)"),
    Flag("--security-opt", LIST, "Security options for the RUN instructions"),
    Flag("--rm", BOOL, "Remove intermediate containers after a successful build", default=True),
    Flag("--force-rm", BOOL, "Always remove intermediate containers"),
    Flag("--isolation", STR, "Container isolation technology (only \"default\" on Linux)"),
    Flag("--platform", STR, "Set platform (only this machine's)"),
    Flag("--disable-content-trust", BOOL, "Skip image verification (dockyard has no content trust: "
                                          "only true)", default=True),
    Flag("--pull", BOOL, "Always attempt to pull a newer version of the image"),
    Flag("--cache-from", LIST, "Images to consider as cache sources (a cached step is used only if it is part of one)"),
    Flag("--compress", BOOL, "Compress the build context using gzip (refused: no context is sent)",
         refused="--compress is not supported by dockyard build: no context is sent to a daemon"),
    Flag("--ssh", LIST, "SSH agent socket or keys to expose to the build (refused)",
         refused="--ssh is not supported by dockyard build: SSH agent forwarding into RUN steps is not implemented"),
    Flag("-o,--output", LIST, "Output destination (format: \"type=local,dest=path\", \"type=tar,dest=file|-\")"),
    Flag("--build-context", LIST, "Additional build contexts (e.g., name=path; local directories only)"),
    Flag("--no-cache-filter", LIST, "Do not cache specified stages (names or indexes; comma-separated too)"),
    Flag("--allow", LIST, "Allow extra privileged entitlement (refused)",
         refused="--allow is not supported by dockyard build: no entitlements (network.host via RUN --network=host "
         "needs none; security.insecure is not granted)"),
    Flag("--squash", BOOL, "Squash newly built layers into a single new layer (refused)",
         refused="--squash is not supported by dockyard build: each step keeps its own layer (docker's --squash is "
         "an experimental flag of the classic builder; squash with a multi-stage build, COPY --from=stage / /)"),
    Flag("--secret", LIST, "Secret to expose to the build (format: \"id=mysecret[,src=/local/secret]\" or "
                           "\"id=mysecret,env=VAR\")"),
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
    from dockyard.cli.flags import FlagError
    from dockyard.errors import DockyardError, NotImplemented

    try:  # a flag dockyard cannot honour or a malformed value: docker's flag errors exit 125
        _refuse_unsupported(opts)
        run_limits = _run_limits(opts)
        if opts.platform:
            from dockyard.registry.pull import check_platform

            check_platform(opts.platform)
        outputs = []
        if opts.output:
            from dockyard.builder.output import parse_output

            outputs = [parse_output(o) for o in opts.output]
            if len(outputs) > 1:
                raise NotImplemented("several --output are not supported: give one")
        contexts = _build_contexts(opts.build_context)
        from dockyard.builder.request import cache_sources, check_network

        for c in opts.cache_from:
            if "=" in c:
                raise NotImplemented(f"--cache-from {c!r}: only image names are supported (the classic builder's "
                                     "form), not BuildKit's type=… cache sources")
        secrets = {}
        if opts.secret:
            from dockyard.builder.runmounts import parse_secret

            for spec in opts.secret:
                sid, got = parse_secret(spec)
                secrets[sid] = got["data"]
        for t in opts.tag:  # docker's -t is a validated flag: a bad name exits 125
            try:
                ctx.engine.images.normalize_tag(t)
            except DockyardError as e:
                raise FlagError(f'invalid argument "{t}" for "-t, --tag" flag: {e}') from None
    except FlagError:
        raise
    except DockyardError as e:
        raise FlagError(str(e)) from None
    engine = ctx.engine
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
        elif opts.file:  # a path the user names is read as given, links followed (as docker does):
            # relative to the current directory, not the context's (docker's CLI), but a context
            # read from stdin has no other place for it
            path = opts.file
            if not os.path.isabs(opts.file) and tmp is not None:
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
                    labels=_pairs(opts.label, "label"), network=check_network(engine, opts.network),
                    quiet=opts.quiet, progress=opts.progress, secrets=secrets, run_limits=run_limits,
                    out=sys.stderr if ("tar", "-") in outputs else None,
                    keep_containers=not opts.rm and not opts.force_rm, force_rm=opts.force_rm,
                    build_contexts=contexts, pull=opts.pull, no_cache_filter=[n for v in opts.no_cache_filter for n in v.split(",") if n],
                    cache_from=cache_sources(engine, opts.cache_from))
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
    for kind, dest in outputs:
        from dockyard.builder.output import write_output

        write_output(engine, image_id, kind, dest, stdout=sys.stdout.buffer)
        if kind == "tar" and dest == "-":
            return 0  # stdout holds the tar: nothing else goes there
    if opts.quiet:
        print(image_id)
    else:
        if sbom_note:
            print(sbom_note)
        print(f"Successfully built {image_id.removeprefix('sha256:')[:12]}")
        for t in opts.tag:
            print(f"Successfully tagged {t if ':' in t.rsplit('/', 1)[-1] else t + ':latest'}")
    return 0


def _refuse_unsupported(opts) -> None:
    """Values of docker's build flags that dockyard's builder cannot honour: refused, naming the flag
    (flags refused whatever their value are `Flag.refused`, refused by the parser)."""
    from dockyard.errors import NotImplemented

    if not opts.disable_content_trust:
        raise NotImplemented("--disable-content-trust=false is not supported: dockyard has no content trust")
    if opts.isolation not in (None, "", "default"):
        raise InvalidArgument(f"invalid isolation {opts.isolation!r}: only \"default\" is supported on Linux")


def _run_limits(opts) -> dict:
    """The RUN steps' HostConfig from the resource flags (checked again by the engine)."""
    from dockyard.cli.run import int_flag, mem_flag, memory_flags
    from dockyard.cli.runflags import parse_ulimit
    from dockyard.engine.hostopts import check_extra_host

    hc = memory_flags(opts.memory, opts.memory_swap)
    for attr, flag, key in (("cpu_shares", "-c, --cpu-shares", "CpuShares"), ("cpu_period", "--cpu-period", "CpuPeriod"),
                            ("cpu_quota", "--cpu-quota", "CpuQuota")):
        if getattr(opts, attr):
            hc[key] = int_flag(getattr(opts, attr), flag)
    if opts.cpuset_cpus:
        hc["CpusetCpus"] = opts.cpuset_cpus
    if opts.cpuset_mems:
        hc["CpusetMems"] = opts.cpuset_mems
    if opts.cgroup_parent:
        hc["CgroupParent"] = opts.cgroup_parent
    if opts.ulimit:
        hc["Ulimits"] = [parse_ulimit(u) for u in opts.ulimit]
    if opts.security_opt:
        from dockyard.engine.security import read_profiles

        hc["SecurityOpt"] = list(read_profiles(opts.security_opt))
    if opts.shm_size:
        hc["ShmSize"] = mem_flag(opts.shm_size, "--shm-size")
    for h in opts.add_host:
        check_extra_host(h)
    if opts.add_host:
        hc["ExtraHosts"] = list(opts.add_host)
    return hc


def _build_contexts(values: list[str]) -> dict:
    """--build-context NAME=DIR (a local directory; image, URL and oci-layout sources refused)."""
    from dockyard.errors import NotImplemented

    out = {}
    for v in values:
        name, eq, path = v.partition("=")
        if not eq or not name or not path:
            raise InvalidArgument(f"invalid --build-context {v!r}: use name=path")
        if "://" in path:
            raise NotImplemented(f"--build-context {name}={path}: only local directories are supported")
        if not os.path.isdir(path):
            raise InvalidArgument(f"--build-context {name}: {path} is not a directory")
        out[name] = path
    return out
