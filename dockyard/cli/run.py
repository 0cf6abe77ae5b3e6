"""`dockyard run` and `dockyard create`: docker's flags turned into a ContainerConfig."""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import BOOL, LIST, STR, Flag, UsageError, key_values, parse, usage
from dockyard.errors import InvalidArgument

RUN_FLAGS = [
    Flag("-i,--interactive", BOOL, "Keep STDIN open even if not attached"),
    Flag("-t,--tty", BOOL, "Allocate a pseudo-TTY"),
    Flag("-d,--detach", BOOL, "Run container in background and print container ID"),
    Flag("--rm", BOOL, "Automatically remove the container when it exits"),
    Flag("--name", STR, "Assign a name to the container"),
    Flag("-e,--env", LIST, "Set environment variables"),
    Flag("--env-file", LIST, "Read in a file of environment variables"),
    Flag("-u,--user", STR, "Username or UID (format: <name|uid>[:<group|gid>])"),
    Flag("-w,--workdir", STR, "Working directory inside the container"),
    Flag("-h,--hostname", STR, "Container host name"),
    Flag("--domainname", STR, "Container NIS domain name"),
    Flag("--entrypoint", STR, "Overwrite the default ENTRYPOINT of the image"),
    Flag("-l,--label", LIST, "Set meta data on a container"),
    Flag("--read-only", BOOL, "Mount the container's root filesystem as read only"),
    Flag("-v,--volume", LIST, "Bind mount a volume"),
    Flag("--mount", LIST, "Attach a filesystem mount to the container"),
    Flag("--tmpfs", LIST, "Mount a tmpfs directory"),
    Flag("--volumes-from", LIST, "Mount volumes from the specified container(s)"),
    Flag("--network,--net", STR, "Connect a container to a network (bridge, none, host, container:NAME, a network)",
         default="bridge"),
    Flag("--network-alias,--net-alias", LIST, "Add network-scoped alias for the container"),
    Flag("--ip", STR, "IPv4 address (e.g., 172.30.100.104)"),
    Flag("-p,--publish", LIST, "Publish a container's port(s) to the host"),
    Flag("-P,--publish-all", BOOL, "Publish all exposed ports to random ports"),
    Flag("--cap-add", LIST, "Add Linux capabilities"),
    Flag("--cap-drop", LIST, "Drop Linux capabilities"),
    Flag("--privileged", BOOL, "Give extended privileges to this container"),
    Flag("--device", LIST, "Add a host device to the container (HOST[:CONTAINER][:PERMS])"),
    Flag("--device-cgroup-rule", LIST, "Add a rule to the cgroup allowed devices list ('c 1:3 rwm')"),
    Flag("--security-opt", LIST, "Security Options (no-new-privileges, seccomp=unconfined)"),
    Flag("--runtime", STR, "Runtime to use for this container (dockyard, runc, or a path)", default="dockyard"),
    Flag("--userns", STR, "User namespace to use (host, or auto: root maps to uid 100000)", default="host"),
    Flag("--restart", STR, "Restart policy (no, on-failure[:max-retries], always, unless-stopped)", default="no"),
    Flag("--log-driver", STR, "Logging driver for the container (json-file)", default="json-file"),
    Flag("--log-opt", LIST, "Log driver options (max-size=10m, max-file=3: the default)"),
    Flag("-m,--memory", STR, "Memory limit"),
    Flag("--memory-swap", STR, "Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
    Flag("--cpus", STR, "Number of CPUs"),
    Flag("-c,--cpu-shares", STR, "CPU shares (relative weight)"),
    Flag("--cpuset-cpus", STR, "CPUs in which to allow execution (0-3, 0,1)"),
    Flag("--pids-limit", STR, "Tune container pids limit (set -1 for unlimited)"),
    Flag("--stop-signal", STR, "Signal to stop the container"),
    Flag("--stop-timeout", STR, "Timeout (in seconds) to stop a container"),
    Flag("--pull", STR, 'Pull image before running ("always", "missing", "never")', default="missing"),
    Flag("--signature-policy", STR, "containers-policy.json a pull must satisfy (default <root>/policy.json, "
         "else /etc/containers/policy.json)", metavar="file"),
    Flag("--help", BOOL, "Print usage"),
]


ENV_FILE_MAX = 16 << 20


def env_from_args(values: list[str], files: list[str]) -> list[str]:
    """-e and --env-file as docker reads them: `NAME` alone takes the host's value, or is dropped."""
    out: list[str] = []
    for path in files:
        try:
            with open(path, "rb") as f:
                data = f.read(ENV_FILE_MAX + 1)
        except OSError as e:
            raise InvalidArgument(f"open {path}: {e.strerror.lower()}") from None
        if len(data) > ENV_FILE_MAX:
            raise InvalidArgument(f"env file {path} is larger than {ENV_FILE_MAX >> 20} MiB")
        lines = data.split(b"\n")
        for n, raw in enumerate(lines, 1):
            try:
                line = raw.decode("utf-8").removesuffix("\r")
            except UnicodeDecodeError:
                raise InvalidArgument(f"env file {path} contains invalid utf8 bytes at line {n}") from None
            line = line.lstrip()
            if not line or line.startswith("#"):
                continue
            out.extend(_env_item(line, f"{path}:{n}"))
    for v in values:
        out.extend(_env_item(v, "-e"))
    return out


def _env_item(item: str, where: str) -> list[str]:
    if "\0" in item:
        raise InvalidArgument(f"invalid environment variable {item.partition('=')[0]!r} ({where}): "
                              "it contains a NUL byte")
    name, eq, value = item.partition("=")
    if not name:
        raise InvalidArgument(f"invalid environment variable: {item} ({where})")
    if any(c.isspace() for c in name):
        raise InvalidArgument(f"variable '{name}' contains whitespaces ({where})")
    if eq:
        return [f"{name}={value}"]
    return [f"{name}={os.environ[name]}"] if name in os.environ else []


def config_from_flags(opts, image: str, cmd: list[str]):
    from dockyard.engine.config import ContainerConfig

    if opts.userns not in ("host", "", "auto"):
        raise InvalidArgument(f"invalid --userns {opts.userns!r}: use host or auto")
    entry = None
    if opts.entrypoint is not None:
        entry = (opts.entrypoint,) if opts.entrypoint else ()
    from dockyard.engine.config import parse_restart

    parse_restart(opts.restart)
    if opts.restart != "no" and opts.rm:
        raise InvalidArgument("Conflicting options: --restart and --rm")
    if opts.log_driver != "json-file":
        raise InvalidArgument(f"log driver {opts.log_driver!r} is not supported; use json-file")
    log_opts = {}
    for o in opts.log_opt:
        k, eq, v = o.partition("=")
        if not eq:
            raise InvalidArgument(f"invalid log opt {o!r}: expected key=value")
        log_opts[k] = v
    if log_opts:
        from dockyard.engine.logs import parse_log_opts

        parse_log_opts(log_opts)
    limits = resource_flags(opts)
    from dockyard.runtime.devices import parse_cgroup_rule, parse_device_flag

    devices = tuple(":".join(parse_device_flag(d)) for d in opts.device)
    for rule in opts.device_cgroup_rule:
        parse_cgroup_rule(rule)
    mounts = ()
    if opts.volume or opts.mount or opts.tmpfs or opts.volumes_from:
        from dockyard.engine.mounts import parse_flags

        mounts = parse_flags(opts.volume, opts.mount, opts.tmpfs, opts.volumes_from)
    ports = []
    if opts.publish:
        from dockyard.network.ports import parse_publish

        for spec in opts.publish:
            ports.extend(parse_publish(spec))
    return ContainerConfig(
        image=image, cmd=tuple(cmd) or None, entrypoint=entry,
        env=tuple(env_from_args(opts.env, opts.env_file)), user=opts.user or "", workdir=opts.workdir or "",
        hostname=opts.hostname or "", domainname=opts.domainname or "", labels=key_values(opts.label),
        tty=opts.tty, stdin_open=opts.interactive, auto_remove=opts.rm, read_only=opts.read_only,
        network=opts.network or "bridge", network_aliases=tuple(opts.network_alias), ip=opts.ip or "",
        ports=tuple(ports), publish_all=opts.publish_all, cap_add=tuple(opts.cap_add), cap_drop=tuple(opts.cap_drop),
        mounts=mounts,
        privileged=opts.privileged, security_opt=_security(opts.security_opt), runtime=opts.runtime,
        devices=devices, device_cgroup_rules=tuple(opts.device_cgroup_rule),
        userns=opts.userns == "auto", restart=opts.restart, log_opts=log_opts,
        **stop_flags(opts), **limits,
    )


def resource_flags(opts) -> dict:
    """-m, --memory-swap, --cpus, --cpu-shares, --cpuset-cpus, --pids-limit as cgroup values."""
    out: dict = {}
    if opts.memory:
        out["memory"] = _mem(opts.memory, "--memory")
        if out["memory"] < 6 * 1024 * 1024:
            raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if opts.memory_swap:
        if not opts.memory:
            raise InvalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage")
        out["memory_swap"] = -1 if opts.memory_swap == "-1" else _mem(opts.memory_swap, "--memory-swap")
        if out["memory_swap"] != -1 and out["memory_swap"] < out.get("memory", 0):
            raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage")
    if opts.cpus:
        from dockyard.runtime.cgroups import parse_cpus

        quota, period = parse_cpus(opts.cpus, ncpu=os.cpu_count() or 1)
        if quota:
            out["cpu_period"], out["cpu_quota"] = period, quota
    if opts.cpu_shares:
        out["cpu_shares"] = _int(opts.cpu_shares, "-c, --cpu-shares")
        if out["cpu_shares"] < 0:
            raise InvalidArgument(f'invalid argument "{opts.cpu_shares}" for "-c, --cpu-shares" flag: '
                                  "shares cannot be negative")
    if opts.cpuset_cpus:
        _check_cpuset(opts.cpuset_cpus)
        out["cpuset_cpus"] = opts.cpuset_cpus
    if opts.pids_limit:
        out["pids_limit"] = _int(opts.pids_limit, "--pids-limit")
        if out["pids_limit"] < 0:  # docker: any negative value is "unlimited"
            out["pids_limit"] = -1
    return out


def _check_cpuset(value: str) -> None:
    """docker refuses CPUs the host does not have at create time, not when the cgroup is written."""
    wanted: set[int] = set()
    try:
        for part in value.split(","):
            lo, dash, hi = part.partition("-")
            wanted.update(range(int(lo), int(hi if dash else lo) + 1))
    except ValueError:
        raise InvalidArgument(f"Invalid value {value} for cpuset cpus") from None
    available = sorted(os.sched_getaffinity(0))
    missing = sorted(wanted - set(available))
    if missing:
        have = f"{available[0]}-{available[-1]}" if available == list(range(available[0], available[-1] + 1)) \
            else ",".join(map(str, available))
        raise InvalidArgument(f"Requested CPUs are not available - requested {value}, available: {have}")


def _mem(value: str, flag: str) -> int:
    """docker's RAMInBytes (dockyard.units): binary units, `b` and `i` optional."""
    from dockyard.units import SizeError, ram_in_bytes

    try:
        return ram_in_bytes(value)
    except SizeError as e:
        raise InvalidArgument(f'invalid argument "{value}" for "{flag}" flag: {e}') from None


def _int(value: str, flag: str) -> int:
    """An int64 flag value as pflag reads it (a sign allowed; no spaces, no underscores)."""
    v = value[1:] if value[:1] in "+-" else value
    if not (v.isascii() and v.isdigit()) or not -(1 << 63) <= int(value) < (1 << 63):
        raise InvalidArgument(f'invalid argument "{value}" for "{flag}" flag: strconv.ParseInt: '
                              f'parsing "{value}": invalid syntax')
    return int(value)


def _security(values: list[str]) -> tuple[str, ...]:
    """--security-opt: profile files are read here, on the caller's side, as docker's CLI does."""
    if not values:
        return ()
    from dockyard.engine.security import read_profiles

    return read_profiles(values)


def stop_flags(opts) -> dict:
    """--stop-signal and --stop-timeout, checked now: a bad signal would otherwise break `stop`."""
    out: dict = {"stop_signal": None, "stop_timeout": None}
    if opts.stop_signal:
        from dockyard.signals import parse_signal

        try:
            parse_signal(opts.stop_signal)
        except InvalidArgument:
            raise InvalidArgument(f"Invalid signal: {opts.stop_signal}") from None
        out["stop_signal"] = opts.stop_signal
    if opts.stop_timeout:
        out["stop_timeout"] = _int(opts.stop_timeout, "--stop-timeout")
        if out["stop_timeout"] < -1:
            raise InvalidArgument(f"invalid --stop-timeout {opts.stop_timeout}: use -1 (wait forever) or "
                                  "a number of seconds")
    return out


def _parse(argv: list[str], prog: str):
    opts = parse(RUN_FLAGS, argv, interspersed=False)
    if opts.help:
        print(usage(f"dockyard {prog} [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container", RUN_FLAGS))
        raise SystemExit(0)
    if not opts.args:
        raise UsageError(f'"dockyard {prog}" requires at least 1 argument.',
                         hint=f"See 'dockyard {prog} --help'.\n\nUsage:  dockyard {prog} [OPTIONS] IMAGE [COMMAND] [ARG...]")
    return opts


def _pulling(ctx, opts, fn):
    """docker's --pull: "missing" pulls an image that is not here (from a registry the reference
    names: a Docker Hub name is never fetched implicitly, so a typo cannot reach the internet),
    "always" pulls first, "never" does not. The pull's progress goes to stderr, as docker's."""
    from dockyard.errors import ImageNotFound

    if opts.pull not in ("missing", "always", "never"):
        raise InvalidArgument(f'invalid pull option: \'{opts.pull}\': must be one of "always", "missing" or "never"')
    if opts.pull == "always":
        _pull(ctx, opts.args[0], opts.signature_policy)
        return fn()
    try:
        return fn()
    except ImageNotFound:
        from dockyard.oci import reference

        if opts.pull == "never" or reference.parse(opts.args[0]).domain == reference.DEFAULT_DOMAIN:
            raise
        sys.stderr.write(f"Unable to find image '{reference.parse(opts.args[0]).familiar()}' locally\n")
        _pull(ctx, opts.args[0], opts.signature_policy)
        return fn()


def _pull(ctx, name: str, policy: str | None) -> None:
    from dockyard.cli.registry_client import PlainProgress
    from dockyard.registry.pull import pull
    from dockyard.sign.policy import enforcer  # the signature policy: one call, kept apart

    check = enforcer(ctx.engine.root, policy)
    result = pull(ctx.engine, name, progress=PlainProgress(sys.stderr), check=check)
    sys.stderr.write(f"Digest: {result.digest}\nStatus: Downloaded newer image for {result.familiar}\n")


def cmd_run(ctx, argv: list[str]) -> int:
    opts = _parse(argv, "run")
    if opts.tty and opts.interactive and not os.isatty(0) and not opts.detach:
        raise InvalidArgument("the input device is not a TTY")
    cfg = config_from_flags(opts, opts.args[0], opts.args[1:])
    if opts.detach:
        from dockyard.engine.containers import run_detached

        print(_pulling(ctx, opts, lambda: run_detached(ctx.engine, cfg, opts.name)))
        return 0
    from dockyard.engine.containers import run

    sys.stdout.flush()
    return _pulling(ctx, opts, lambda: run(ctx.engine, cfg, opts.name, stdin_open=opts.interactive))


def cmd_create(ctx, argv: list[str]) -> int:
    opts = _parse(argv, "create")
    from dockyard.engine.containers import create

    cfg = config_from_flags(opts, opts.args[0], opts.args[1:])
    c = _pulling(ctx, opts, lambda: create(ctx.engine, cfg, opts.name))
    print(c.rec.id)
    return 0
