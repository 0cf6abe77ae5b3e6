"""`dockyard run` and `dockyard create`: docker's flags turned into an Engine API create request."""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import BOOL, LIST, STR, Flag, FlagError, UsageError, key_values, parse, usage
from dockyard.cli.runflags import EXTRA_FLAGS, CidFile, extra_request, platform_refusal
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.errors import NotImplemented as Refused

RUN_FLAGS = [
    Flag("-i,--interactive", BOOL, "Keep STDIN open even if not attached"),
    Flag("-t,--tty", BOOL, "Allocate a pseudo-TTY"),
    Flag("-d,--detach", BOOL, "Run container in background and print container ID"),
    Flag("-a,--attach", LIST, "Attach to STDIN, STDOUT or STDERR"),
    Flag("--sig-proxy", BOOL, "Proxy received signals to the process", default=True),
    Flag("--detach-keys", STR, "Override the key sequence for detaching a container (refused: a foreground "
         "run has no monitor to detach from; use run -d and dockyard attach)", metavar="string",
         refused="--detach-keys is not supported by run: a foreground dockyard run cannot detach (the container has "
         "no monitor); use run -d and dockyard attach --detach-keys"),
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
    Flag("--userns", STR, "User namespace to use (host, or auto: root maps to uid 100000)"),
    Flag("--restart", STR, "Restart policy (no, on-failure[:max-retries], always, unless-stopped)", default="no"),
    Flag("--log-driver", STR, "Logging driver for the container (json-file or none)", default="json-file"),
    Flag("--log-opt", LIST, "Log driver options (max-size=10m, max-file=3: the default)"),
    Flag("-m,--memory", STR, "Memory limit"),
    Flag("--memory-swap", STR, "Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
    Flag("--cpus", STR, "Number of CPUs"),
    Flag("-c,--cpu-shares", STR, "CPU shares (relative weight)"),
    Flag("--cpuset-cpus", STR, "CPUs in which to allow execution (0-3, 0,1)"),
    Flag("--pids-limit", STR, "Tune container pids limit (set -1 for unlimited)"),
    Flag("--stop-signal", STR, "Signal to stop the container"),
    Flag("--stop-timeout", STR, "Timeout (in seconds) to stop a container"),
    Flag("--health-cmd", STR, "Command to run to check health"),
    Flag("--health-interval", STR, "Time between running the check (ms|s|m|h) (default 0s)"),
    Flag("--health-timeout", STR, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)"),
    Flag("--health-retries", STR, "Consecutive failures needed to report unhealthy"),
    Flag("--health-start-period", STR, "Start period for the container to initialize before starting "
         "health-retries countdown (ms|s|m|h) (default 0s)"),
    Flag("--health-start-interval", STR, "Time between running the check during the start period (ms|s|m|h) "
         "(default 0s)"),
    Flag("--no-healthcheck", BOOL, "Disable any container-specified HEALTHCHECK"),
    Flag("--pull", STR, 'Pull image before running ("always", "missing", "never")', default="missing"),
    Flag("--signature-policy", STR, "containers-policy.json a pull must satisfy (default <root>/policy.json, "
         "else /etc/containers/policy.json)", metavar="file"),
    *EXTRA_FLAGS,  # cli/runflags.py: /etc files, namespaces, process, further limits, refused flags
    Flag("--help", BOOL, "Print usage"),
]


# docker's create has run's flags but those of a foreground run ("unknown flag: --detach", as docker's)
CREATE_FLAGS = [f for f in RUN_FLAGS if not {"--detach", "--detach-keys", "--sig-proxy"} & set(f.names)]

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


def restart_flag(policy: str, rm: bool) -> tuple[str, int]:
    """docker's CLI-side --restart: NAME[:COUNT] taken apart, COUNT an integer, not with --rm.
    The name and the count's range are dockerd's checks (engine/create.py): `create` exits 1."""
    name, _, count = (policy or "no").partition(":")
    retries = 0
    if count:
        try:
            retries = int(count)
        except ValueError:
            raise InvalidArgument("invalid restart policy format: maximum retry count must be an integer") from None
    if rm and name not in ("", "no"):
        raise InvalidArgument("conflicting options: cannot specify both --restart and --rm")
    return name or "no", retries


def request_from_flags(opts, image: str, cmd: list[str]) -> dict:
    """The flags as an Engine API ContainerCreate body (Config + HostConfig + NetworkingConfig).

    Only docker's CLI-side work happens here: files read (--env-file, seccomp profiles), sizes and
    numbers parsed with the flag's name in the error, `-p`, `--device` and `--mount` taken apart.
    What dockerd checks, the engine checks (engine/create.py), for every caller alike."""
    restart, retries = restart_flag(opts.restart, opts.rm)
    log_opts = {}
    for o in opts.log_opt:
        k, eq, v = o.partition("=")
        if not eq:
            raise InvalidArgument(f"invalid log opt {o!r}: expected key=value")
        log_opts[k] = v
    if log_opts and opts.log_driver == "none":
        raise InvalidArgument("invalid logging opts for driver none")
    if opts.userns not in (None, "", "host", "auto"):
        raise InvalidArgument("--userns: invalid USER mode")
    if opts.pull not in ("missing", "always", "never"):
        raise InvalidArgument(f'invalid pull option: \'{opts.pull}\': must be one of "always", "missing" or "never"')
    if opts.device_cgroup_rule:
        from dockyard.runtime.devices import parse_cgroup_rule

        for rule in opts.device_cgroup_rule:
            try:
                parse_cgroup_rule(rule)
            except InvalidArgument:
                raise FlagError(f'invalid argument "{rule}" for "--device-cgroup-rule" flag: invalid device cgroup '
                                f"format '{rule}'") from None
    network, attachment = network_attachment(opts.network or "bridge")
    host = {
        "AutoRemove": opts.rm, "ReadonlyRootfs": opts.read_only, "NetworkMode": network,
        "PublishAllPorts": opts.publish_all, "CapAdd": list(opts.cap_add), "CapDrop": list(opts.cap_drop),
        "Privileged": opts.privileged, "SecurityOpt": list(_security(opts.security_opt)), "Runtime": opts.runtime,
        "UsernsMode": opts.userns, "RestartPolicy": {"Name": restart, "MaximumRetryCount": retries},
        "LogConfig": {"Type": opts.log_driver, "Config": log_opts},
        "DeviceCgroupRules": list(opts.device_cgroup_rule), **resource_flags(opts),
    }
    if opts.device:
        from dockyard.runtime.devices import parse_device_flag

        host["Devices"] = [dict(zip(("PathOnHost", "PathInContainer", "CgroupPermissions"), parse_device_flag(d)))
                           for d in opts.device]
    if opts.volume or opts.mount or opts.tmpfs or opts.volumes_from:
        host.update(_mount_flags(opts))
    if opts.publish:
        from dockyard.network.ports import parse_publish

        bindings: dict = {}
        for spec in opts.publish:
            for p in parse_publish(spec):
                bindings.setdefault(f"{p['container_port']}/{p['proto']}", []).append(
                    {"HostIp": p["host_ip"], "HostPort": str(p["host_port"]) if p["host_port"] else ""})
        host["PortBindings"] = bindings
        exposed_by_publish = {port: {} for port in bindings}  # docker's CLI exposes what it publishes
    body = {
        "Image": image, "Cmd": list(cmd) or None, "Env": env_from_args(opts.env, opts.env_file),
        "User": opts.user or "", "WorkingDir": opts.workdir or "", "Hostname": opts.hostname or "",
        "Domainname": opts.domainname or "", "Labels": _labels(opts.label), "Tty": opts.tty,
        "OpenStdin": opts.interactive, "StdinOnce": opts.interactive and not opts.get("detach"),
        **_attach_config(opts),
        **stop_flags(opts), "HostConfig": host,
    }
    if opts.publish:
        body["ExposedPorts"] = exposed_by_publish
    if any(_anonymous(v) for v in opts.volume):
        body["Volumes"] = {v: {} for v in opts.volume if _anonymous(v)}
    if opts.no_healthcheck or any(getattr(opts, n) for n in HEALTH_FLAGS):
        body["Healthcheck"] = health_flags(opts)
    if opts.entrypoint is not None:
        body["Entrypoint"] = [opts.entrypoint] if opts.entrypoint else []
    if opts.network_alias or opts.ip or opts.ip6 or opts.link_local_ip or attachment:
        endpoint: dict = dict(attachment)
        given_ipam = endpoint.get("IPAMConfig") or {}
        if opts.network_alias and "Aliases" in endpoint:  # docker's CLI: applyContainerOptions
            raise InvalidArgument("conflicting options: cannot specify both --network-alias and per-network alias")
        for flag, key, given, what in (("--ip", "IPv4Address", opts.ip, "per-network IPv4 address"),
                                       ("--ip6", "IPv6Address", opts.ip6, "per-network IPv6 address"),
                                       ("--link-local-ip", "LinkLocalIPs", opts.link_local_ip,
                                        "per-network link-local IP addresses")):
            if given and key in given_ipam:
                raise InvalidArgument(f"conflicting options: cannot specify both {flag} and {what}")
        if opts.network_alias:
            endpoint["Aliases"] = list(opts.network_alias)
        ipam = dict(given_ipam, **{k: v for k, v in (("IPv4Address", opts.ip), ("IPv6Address", opts.ip6),
                                                      ("LinkLocalIPs", list(opts.link_local_ip))) if v})
        if ipam:
            endpoint["IPAMConfig"] = ipam
        if opts.link and "Links" in endpoint:
            raise InvalidArgument("conflicting options: cannot specify both --link and per-network links")
        body["NetworkingConfig"] = {"EndpointsConfig": {host["NetworkMode"]: endpoint}}
    extra_request(opts, body)
    return body


def network_attachment(value: str) -> tuple[str, dict]:
    """--network NAME, or docker's advanced form ``name=NAME[,alias=A][,ip=IP][,ip6=IP6]
    [,link-local-ip=IP][,mac-address=M][,link=C:A][,driver-opt=K=V]`` (csv, quotes allowed;
    dockyard takes one network) → (the network, its EndpointSettings)."""
    if "=" not in value:
        return value, {}
    import csv

    try:
        fields = next(csv.reader([value]))
    except csv.Error as e:
        raise InvalidArgument(f"invalid --network {value!r}: {e}") from None
    name, ep = "", {}
    for field in fields:
        key, eq, val = field.partition("=")
        key = key.strip().lower()
        if not eq:
            raise InvalidArgument(f"invalid field {field!r} in --network: must be a key=value pair")
        if key == "name":
            name = val
        elif key == "alias":
            ep.setdefault("Aliases", []).append(val)
        elif key == "ip":
            ep.setdefault("IPAMConfig", {})["IPv4Address"] = val
        elif key == "ip6":
            ep.setdefault("IPAMConfig", {})["IPv6Address"] = val
        elif key == "link-local-ip":
            ep.setdefault("IPAMConfig", {}).setdefault("LinkLocalIPs", []).append(val)
        elif key == "mac-address":
            ep["MacAddress"] = val
        elif key == "link":
            from dockyard.engine.links import parse as parse_link

            parse_link(val)
            ep.setdefault("Links", []).append(val)
        elif key == "driver-opt":
            k, eq2, v = val.partition("=")
            if not eq2 or not k.strip():
                raise InvalidArgument(f"invalid driver-opt {val!r} in --network: must be a key=value pair")
            ep.setdefault("DriverOpts", {})[k.strip()] = v.strip()
        elif key == "gw-priority":
            raise InvalidArgument(f"--network {key}= is not supported by dockyard: its containers have one gateway, "
                                  "their first network's")
        else:
            raise InvalidArgument(f"invalid field key {key!r} in --network")
    if not name.strip():
        raise InvalidArgument("no name set for network")
    return name, ep


def _labels(values: list[str]) -> dict:
    """-l/--label KEY[=VALUE]: docker's CLI refuses an empty key."""
    for v in values:
        if not v.partition("=")[0].strip():
            raise InvalidArgument(f'invalid argument "{v}" for "-l, --label" flag: invalid label \'{v}\': empty name')
    return key_values(values)


def _anonymous(spec: str) -> bool:
    """-v /path: docker's CLI asks for it in Config.Volumes (an anonymous volume), not in Binds."""
    return spec.startswith("/") and ":" not in spec


def _mount_flags(opts) -> dict:
    """-v stays text (Binds, as dockerd parses it), --mount becomes Mount objects (docker's CLI
    parses it), --tmpfs a map of target → options, --volumes-from a list."""
    from dockyard.engine.mounts import mount_request

    tmpfs: dict = {}
    for t in opts.tmpfs:
        target, _, options = t.partition(":")
        if target in tmpfs:
            raise InvalidArgument(f"Duplicate mount point: {target}")
        tmpfs[target] = options
    return {"Binds": [v for v in opts.volume if not _anonymous(v)] or None, "Mounts": [mount_request(m) for m in opts.mount], "Tmpfs": tmpfs,
            "VolumesFrom": list(opts.volumes_from)}


def config_from_flags(opts, image: str, cmd: list[str]):
    """The flags → a checked ContainerConfig, through the same request the Engine API takes."""
    from dockyard.engine.create import config_from_request

    return config_from_request(request_from_flags(opts, image, cmd))


def resource_flags(opts) -> dict:
    """-m, --memory-swap, --cpus, --cpu-shares, --cpuset-cpus, --pids-limit as HostConfig values."""
    out = memory_flags(opts.memory, opts.memory_swap)
    if opts.cpus:
        out["NanoCpus"] = cpus_flag(opts.cpus)
    if opts.cpu_shares:
        out["CpuShares"] = int_flag(opts.cpu_shares, "-c, --cpu-shares")
        if out["CpuShares"] < 0:
            raise InvalidArgument(f'invalid argument "{opts.cpu_shares}" for "-c, --cpu-shares" flag: '
                                  "shares cannot be negative")
    if opts.cpuset_cpus:
        out["CpusetCpus"] = opts.cpuset_cpus
    if opts.pids_limit:
        out["PidsLimit"] = int_flag(opts.pids_limit, "--pids-limit")
    return out


def mem_flag(value: str, flag: str) -> int:
    """docker's RAMInBytes (dockyard.units): binary units, `b` and `i` optional."""
    from dockyard.units import SizeError, ram_in_bytes

    try:
        return ram_in_bytes(value)
    except SizeError as e:
        raise FlagError(f'invalid argument "{value}" for "{flag}" flag: {e}') from None


def memory_flags(memory: str | None, memory_swap: str | None) -> dict:
    """-m/--memory and --memory-swap as HostConfig's Memory and MemorySwap (-1: unlimited swap),
    for run/create, build and update alike; a flag not given is left out."""
    out: dict = {}
    if memory:
        out["Memory"] = mem_flag(memory, "-m, --memory")
    if memory_swap:
        out["MemorySwap"] = -1 if memory_swap == "-1" else mem_flag(memory_swap, "--memory-swap")
    return out


def cpus_flag(value: str) -> int:
    """docker's --cpus (a NanoCPUs flag): a decimal number, parsed by the flag parser (exit 125)."""
    from dockyard.runtime.cgroups.values import parse_nano_cpus

    try:
        return parse_nano_cpus(value)
    except InvalidArgument:
        raise FlagError(f'invalid argument "{value}" for "--cpus" flag: failed to parse {value} as a rational '
                        "number") from None


def int_flag(value: str, flag: str) -> int:
    """An int64 flag value as pflag reads it (a sign allowed; no spaces, no underscores)."""
    v = value[1:] if value[:1] in "+-" else value
    if not (v.isascii() and v.isdigit()) or not -(1 << 63) <= int(value) < (1 << 63):
        raise FlagError(f'invalid argument "{value}" for "{flag}" flag: strconv.ParseInt: '
                        f'parsing "{value}": invalid syntax')
    return int(value)


def _security(values: list[str]) -> tuple[str, ...]:
    """--security-opt: profile files are read here, on the caller's side, as docker's CLI does."""
    if not values:
        return ()
    from dockyard.engine.security import read_profiles

    return read_profiles(values)


def stop_flags(opts) -> dict:
    """--stop-signal and --stop-timeout (the engine checks the signal and the range)."""
    out: dict = {}
    if opts.stop_signal:
        out["StopSignal"] = opts.stop_signal
    if opts.stop_timeout:
        out["StopTimeout"] = int_flag(opts.stop_timeout, "--stop-timeout")
    return out


HEALTH_FLAGS = ("health_cmd", "health_interval", "health_timeout", "health_retries", "health_start_period",
                "health_start_interval")


def health_flags(opts) -> dict:
    """--health-* and --no-healthcheck as docker's CLI turns them into Config.Healthcheck."""
    given = [n for n in HEALTH_FLAGS if getattr(opts, n)]
    if opts.no_healthcheck:
        if given:
            raise InvalidArgument("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    hc: dict = {"Test": ["CMD-SHELL", opts.health_cmd] if opts.health_cmd else None}
    for attr, key in (("health_interval", "Interval"), ("health_timeout", "Timeout"),
                      ("health_start_period", "StartPeriod"), ("health_start_interval", "StartInterval")):
        flag = "--" + attr.replace("_", "-")
        value = getattr(opts, attr)
        if value:
            from dockyard.builder.dockerfile import parse_duration
            from dockyard.errors import DockyardError

            try:
                ns = parse_duration(value)
            except DockyardError as e:
                raise InvalidArgument(f'invalid argument "{value}" for "{flag}" flag: {e}') from None
            if ns < 0:
                raise InvalidArgument(f"{flag} cannot be negative")
            hc[key] = ns
    if opts.health_retries:
        retries = int_flag(opts.health_retries, "--health-retries")
        if retries < 0:
            raise InvalidArgument("--health-retries cannot be negative")
        hc["Retries"] = retries
    return hc


def _parse(argv: list[str], prog: str):
    flags = RUN_FLAGS if prog == "run" else CREATE_FLAGS
    opts = parse(flags, argv, interspersed=False)
    if opts.help:
        print(usage(f"dockyard {prog} [OPTIONS] IMAGE [COMMAND] [ARG...]",
                    "Create and run a new container" if prog == "run" else "Create a new container", flags))
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

    if opts.pull not in ("missing", "always", "never"):  # checked with the flags (request_from_flags) too
        raise InvalidArgument(f'invalid pull option: \'{opts.pull}\': must be one of "always", "missing" or "never"')
    quiet = bool(getattr(opts, "quiet", False))  # -q: no pull output
    if opts.pull == "always":
        _pull(ctx, opts.args[0], opts.signature_policy, quiet)
        return fn()
    try:
        return fn()
    except ImageNotFound:
        from dockyard.oci import reference

        if opts.pull == "never" or reference.parse(opts.args[0]).domain == reference.DEFAULT_DOMAIN:
            raise
        if not quiet:
            sys.stderr.write(f"Unable to find image '{reference.parse(opts.args[0]).familiar()}' locally\n")
        _pull(ctx, opts.args[0], opts.signature_policy, quiet)
        return fn()


def _pull(ctx, name: str, policy: str | None, quiet: bool = False) -> None:
    from dockyard.cli.registry_client import PlainProgress
    from dockyard.registry.pull import pull
    from dockyard.sign.policy import enforcer  # the signature policy: one call, kept apart

    check = enforcer(ctx.engine.root, policy)
    out = open(os.devnull, "w") if quiet else sys.stderr
    try:
        result = pull(ctx.engine, name, progress=PlainProgress(out), check=check)
        out.write(f"Digest: {result.digest}\nStatus: Downloaded newer image for {result.familiar}\n")
    finally:
        if quiet:
            out.close()


def cmd_run(ctx, argv: list[str]) -> int:
    opts = _parse(argv, "run")
    if opts.tty and opts.interactive and not os.isatty(0) and not opts.detach:
        e = InvalidArgument("the input device is not a TTY")
        e.exit_code = 1  # docker's CLI refuses it before any request: exit 1
        raise e
    streams = _attach_streams(opts)
    cfg = config_from_flags(opts, opts.args[0], opts.args[1:])
    cid = CidFile(opts.cidfile)
    try:
        if opts.detach:
            from dockyard.engine.containers import run_detached

            print(_pulling(ctx, opts, lambda: run_detached(ctx.engine, cfg, opts.name, created=cid.write)))
            return 0
        from dockyard.engine.containers import run

        sys.stdout.flush()
        return _pulling(ctx, opts, lambda: run(ctx.engine, cfg, opts.name, stdin_open=opts.interactive,
                                               streams=streams, sig_proxy=opts.sig_proxy,
                                               created=cid.write))
    finally:
        cid.close()


def _attach_config(opts) -> dict:
    """Config.AttachStdin/Stdout/Stderr as docker's CLI sets them: -a's streams (stdout and stderr
    without -a), stdin with -i too; none for run -d."""
    if opts.get("detach"):
        return {"AttachStdin": False, "AttachStdout": False, "AttachStderr": False}
    given = {a.lower() for a in opts.attach or ()}
    return {"AttachStdin": opts.interactive or "stdin" in given, "AttachStdout": not given or "stdout" in given,
            "AttachStderr": not given or "stderr" in given}


def _attach_streams(opts) -> tuple:
    """docker run -a: the streams given (any case), else all; stdin with -i too (docker's CLI
    attaches it whatever -a says), or with -a stdin."""
    if opts.attach and opts.get("detach"):
        raise UsageError("conflicting options: cannot specify both --attach and --detach")  # docker CLI 28: exit 1
    if not opts.attach:
        return ("stdin", "stdout", "stderr")
    streams = []
    for s in opts.attach:
        if s.lower() not in ("stdin", "stdout", "stderr"):
            raise FlagError(f'invalid argument "{s}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR')
        streams.append(s.lower())
    if opts.interactive and "stdin" not in streams:
        streams.insert(0, "stdin")
    return tuple(streams)


def cmd_create(ctx, argv: list[str]) -> int:
    opts = _parse(argv, "create")
    from dockyard.engine.containers import create
    from dockyard.engine.create import config_from_request

    _attach_streams(opts)
    try:
        platform_refusal(opts)
    except InvalidArgument as e:
        e.exit_code = 1  # dockerd's refusal of the image's platform: docker create exits 1
        raise
    request = request_from_flags(opts, opts.args[0], opts.args[1:])  # a flag's value refused: 125
    cid = None
    try:
        # past its flags, docker create exits 1 (run: 125): the image reference, the --cidfile, and
        # all dockerd refuses (engine/create.py's checks, a name in use, no such image, a full disk)
        cid = CidFile(opts.cidfile)
        cfg = config_from_request(request)
        c = _pulling(ctx, opts, lambda: create(ctx.engine, cfg, opts.name))
        cid.write(c.rec.id)
    except Refused:
        raise  # a flag dockyard refuses: 125, as run's
    except DockyardError as e:
        if getattr(e, "exit_code", None) is None:
            e.exit_code = 1
        raise
    finally:
        if cid is not None:
            cid.close()
    print(c.rec.id)
    return 0
