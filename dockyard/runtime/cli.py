"""`dockyard-runtime`: our OCI runtime behind runc's command-line contract.

Tools that drive runc (podman's conmon, containerd's shim, our own tests) can drive this instead:
the same global flags (`--root`, `--log`, `--log-format`), subcommands, exit codes and `state`
JSON. Errors go to stderr and, when `--log` is given, as JSON lines to the log file, which is
where conmon looks for them.

Every call of a container's life pays this module's start-up, so each verb imports only what it
uses: no argparse (cliargs.py reads the command line as runc does), no `json`/`re` (jsonfast),
the spawner, cgroups and signal tables only in the verbs that need them. Check with
`python -X importtime`.
"""

from __future__ import annotations

import os
import sys

from dockyard.errors import DockyardError, InvalidArgument, NotFound

VERSION = "1.1.5"  # the runc CLI version whose contract we follow
# exec flags that edit the process; with --process the file says the whole process
_PROCESS_EDITS = ("cwd", "env", "user", "additional-gids", "no-new-privs", "cap", "apparmor", "process-label")


def main(argv: list[str] | None = None) -> int:
    from dockyard.runtime.cliargs import UnknownCommand, UsageError, parse_command, parse_global

    argv = sys.argv[1:] if argv is None else argv
    glob: dict = {"log": "", "log-format": "text", "debug": False}
    rest: list[str] = []
    try:
        glob, rest = parse_global(argv)
        if glob["version"]:
            sys.stdout.write(f"dockyard-runtime version {VERSION}\ncommit: dockyard\nspec: 1.0.2\n")
            return 0
        if glob["help"] or not rest:
            return _help("")
        _check_global(glob)
        p = parse_command(rest)
        if p.opts["help"]:
            return _help(p.verb)
        if glob["debug"]:
            _log(glob, "debug", "dockyard-runtime " + " ".join(argv))
        return _dispatch(glob, p)
    except UsageError as e:
        from dockyard.runtime.clihelp import text

        sys.stdout.write((f"Incorrect Usage: {e}" if e.detail else "Incorrect Usage.") + "\n\n" + text(e.verb))
        _log(glob, "error", str(e))
        return 1
    except UnknownCommand as e:
        _log(glob, "error", str(e))
        return 3  # runc's status for a command it does not know
    except DockyardError as e:
        _log(glob, "error", str(e))
        return getattr(e, "code", 1) if rest[:1] == ["run"] else 1
    except OSError as e:
        _log(glob, "error", f"{e.strerror}: {e.filename}" if e.filename else str(e))
        return 1
    except Exception as e:  # noqa: BLE001 - the caller (conmon, a shim) reads the log, not a traceback
        if glob.get("debug"):
            import traceback

            traceback.print_exc()
        _log(glob, "error", f"internal error: {type(e).__name__}: {e}")
        return 1


def _check_global(glob: dict) -> None:
    """The global flags that are refused, or wrong (runc: `invalid log-format: xml`)."""
    from dockyard.runtime.cliargs import bool_or_auto

    if glob["log-format"] not in ("text", "json"):
        raise InvalidArgument(f"invalid log-format: {glob['log-format']}")
    if glob["criu"]:
        raise InvalidArgument("--criu: checkpoint and restore are not implemented, so there is no criu to run")
    if bool_or_auto(glob["rootless"]):
        raise InvalidArgument("--rootless=true (ignore cgroup permission errors) is not implemented; "
                              "use false or auto")


def _help(verb: str) -> int:
    from dockyard.runtime.clihelp import text

    sys.stdout.write(text(verb))
    return 0


def _dispatch(glob: dict, p) -> int:
    verb, o, a = p.verb, p.opts, p.args
    if verb == "help":
        from dockyard.runtime.cliargs import VERB_ALIASES, VERBS, UnknownCommand

        topic = VERB_ALIASES.get(a[0], a[0]) if a else ""
        if topic and topic not in VERBS:
            raise UnknownCommand(f"No help topic for {a[0]!r}")
        return _help(topic)
    if verb == "spec":
        return _spec(o)
    if verb == "features":
        return _features()
    from dockyard.runtime.container import Runtime

    rt = Runtime(glob["root"], systemd_cgroup=glob["systemd-cgroup"], warn=lambda msg: _log(glob, "warning", msg))
    cid = a[0] if a else ""
    if verb == "state":
        from dockyard.jsonfast import dumps_indented

        sys.stdout.write(dumps_indented(rt.state(cid).to_json(), "  "))  # runc: no trailing newline
    elif verb == "start":
        rt.start(cid)
    elif verb == "kill":
        rt.kill(cid, a[1] if len(a) > 1 else "SIGTERM", all_processes=o["all"])
    elif verb == "delete":
        try:
            rt.delete(cid, force=o["force"])
        except NotFound:
            if not o["force"]:  # runc: `delete --force` of a missing container is a silent success
                raise
    elif verb == "create":
        _check_create(o)
        rt.create(cid, o["bundle"] or ".", console_fd=_console(o["console-socket"]), pid_file=o["pid-file"] or None,
                  preserve_fds=o["preserve-fds"], new_keyring=not o["no-new-keyring"])
    elif verb == "list":
        _list(rt, o)
    elif verb == "pause":
        rt.pause(cid)
    elif verb == "resume":
        rt.resume(cid)
    elif verb == "run":
        return _run(rt, cid, o)
    elif verb == "exec":
        return _exec(rt, cid, a[1:], o, p.given)
    return 0


def _check_create(o: dict) -> None:
    if o["no-pivot"]:
        raise InvalidArgument("--no-pivot is not implemented: dockyard-runtime always uses pivot_root(2)")
    if o["preserve-fds"] < 0:
        raise InvalidArgument(f"--preserve-fds must not be negative, got {o['preserve-fds']}")


def _console(path: str) -> int | None:
    if not path:
        return None
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock.detach()


def _list(rt, o: dict) -> None:
    if o["format"] not in ("table", "json"):
        raise InvalidArgument("invalid format option")  # runc's words, checked before any output
    states = rt.list()
    if o["quiet"]:
        sys.stdout.write("".join(s.id + "\n" for s in states))
    elif o["format"] == "json":
        from dockyard.jsonfast import dumps

        # runc: `null` for no containers, and the owner's user name in each entry
        sys.stdout.write(dumps([s.to_json(owner="root") for s in states] or None) + "\n")
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(s.id, str(s.pid if s.status != "stopped" else 0), s.status, s.bundle, s.created, "root")
                 for s in states]
        # runc's tabwriter: minimum width 12, padding 3, the last column unpadded
        widths = [max(12, max(len(r[i]) for r in rows) + 3) for i in range(6)]
        sys.stdout.write("".join("".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + r[-1] + "\n" for r in rows))


def _spec(o: dict) -> int:
    from dockyard.jsonfast import dumps_indented
    from dockyard.runtime.defaults import default_spec, rootless_spec

    path = os.path.join(o["bundle"], "config.json")
    if os.path.exists(path):
        raise DockyardError("File config.json exists. Remove it first")
    spec = default_spec(["sh"], terminal=True)
    if o["rootless"]:
        spec = rootless_spec(spec, os.geteuid(), os.getegid())
    with open(path, "w") as f:
        f.write(dumps_indented(spec, "\t"))
    return 0


def _features() -> int:
    from dockyard.jsonfast import dumps_indented
    from dockyard.linux.syscalls import CAPABILITIES, NAMESPACE_FLAGS
    from dockyard.runtime.hooks import KINDS
    from dockyard.runtime.mounts import mount_option_names

    sys.stdout.write(dumps_indented({"ociVersionMin": "1.0.0", "ociVersionMax": "1.0.2", "hooks": list(KINDS),
                                     "mountOptions": sorted(mount_option_names()),
                                     "linux": {"namespaces": sorted(NAMESPACE_FLAGS),
                                               "capabilities": list(CAPABILITIES)}}, "  ") + "\n")
    return 0


def _run(rt, cid: str, o: dict) -> int:
    """create + start, then (unless -d) wait for the init as its subreaper and relay signals."""
    from dockyard.linux import syscalls as sc
    from dockyard.runtime.wait import forward_signals, wait_exit

    _check_create(o)
    if o["no-subreaper"] and not o["detach"]:
        # runc's init is its own child (CLONE_PARENT); ours is a grandchild that only a
        # subreaper can wait for, so without one the exit status would be lost.
        raise InvalidArgument("--no-subreaper is only supported with --detach: dockyard-runtime run collects "
                              "the container's exit status as its subreaper")
    if not o["detach"]:
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    st = rt.create(cid, o["bundle"] or ".", console_fd=_console(o["console-socket"]),
                   pid_file=o["pid-file"] or None, preserve_fds=o["preserve-fds"], new_keyring=not o["no-new-keyring"])
    try:
        rt.start(cid)
    except BaseException:  # as runc run: a container that never started is not kept (or a hook failed)
        rt.delete(cid, force=True)
        raise
    if o["detach"]:
        return 0
    restore = forward_signals(st.pid)
    try:
        code = wait_exit(st.pid)
    finally:
        restore()
        if not o["keep"]:
            rt.delete(cid, force=True)
    return code


def _exec(rt, cid: str, command: list[str], o: dict, given: set) -> int:
    """runc exec: --process FILE (what conmon and containerd send) or a command line."""
    from dockyard.linux import syscalls as sc
    from dockyard.runtime.wait import forward_signals, wait_exit

    for flag, what in (("cgroup", "exec into a sub-cgroup is"), ("ignore-paused", "exec into a paused container is")):
        if o[flag]:
            raise InvalidArgument(f"--{flag}: {what} not supported by dockyard-runtime")
    if o["preserve-fds"] < 0:
        raise InvalidArgument(f"--preserve-fds must not be negative, got {o['preserve-fds']}")
    process = exec_process_spec(rt, cid, command, o, given)
    if not o["detach"]:
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    pid = rt.exec(cid, process, console_fd=_console(o["console-socket"]), pid_file=o["pid-file"] or None,
                  preserve_fds=o["preserve-fds"])
    if o["detach"]:
        return 0
    restore = forward_signals(pid)
    try:
        return wait_exit(pid)
    finally:
        restore()


def exec_process_spec(rt, cid: str, command: list[str], o: dict, given: set) -> dict:
    """The OCI process `exec` runs: the --process file (plus --tty, as conmon sends it), or the
    container's own process with the command line's edits, as runc's getProcess makes it."""
    if o["process"]:
        from dockyard.jsonfast import loads

        edits = [f for f in _PROCESS_EDITS if f in given]
        if edits:
            raise InvalidArgument(f"--{edits[0]} cannot be combined with --process: the process file says the "
                                  f"whole process")
        if command:
            raise InvalidArgument("exec with --process takes only the container id")
        with open(o["process"], "rb") as f:
            data = f.read()
        try:
            process = loads(data)
        except ValueError as e:
            raise InvalidArgument(f"{o['process']}: invalid JSON: {e}") from None
        if not isinstance(process, dict):
            raise InvalidArgument(f"{o['process']}: a process must be a JSON object")
        if "tty" in given:
            process["terminal"] = o["tty"]
        return process
    if not command:
        raise InvalidArgument("exec needs a command or --process")
    from dockyard.runtime.spec import load_bundle

    base = load_bundle(rt.state(cid).bundle)[0]["process"]
    process = dict(base, args=command, terminal=o["tty"])
    if o["cwd"]:
        process["cwd"] = o["cwd"]
    # applied, or refused with the reason, by the process sequence (runtime/lsm.py), as spec fields are
    if o["apparmor"]:
        process["apparmorProfile"] = o["apparmor"]
    if o["process-label"]:
        process["selinuxLabel"] = o["process-label"]
    if o["cap"]:  # runc 1.1: added to the bounding, effective and permitted sets
        caps = dict(base.get("capabilities") or {})
        for kind in ("bounding", "effective", "permitted"):
            caps[kind] = list(caps.get(kind) or []) + o["cap"]
        process["capabilities"] = caps
    process["env"] = list(base.get("env") or []) + o["env"]
    if "no-new-privs" in given:
        process["noNewPrivileges"] = o["no-new-privs"]
    user = dict(base.get("user") or {})
    if o["user"]:
        uid, sep, gid = o["user"].partition(":")
        user["uid"] = _id_number(uid, "uid")
        if sep:
            user["gid"] = _id_number(gid, "gid")
    for g in o["additional-gids"]:
        if g < 0:
            raise InvalidArgument(f"additional-gids must be a positive number {g}")
        user["additionalGids"] = list(user.get("additionalGids") or []) + [g]
    process["user"] = user
    return process


def _id_number(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > 0xFFFFFFFF:
        raise InvalidArgument(f"parsing {text} as int for {what} failed: --user takes <uid>[:<gid>] as numbers")
    return int(text)


def _log(glob: dict, level: str, msg: str) -> None:
    """An error or warning on stderr, and in --log as runc writes it (text or JSON lines); a
    --debug line goes to --log only when there is one."""
    if level != "debug" or not glob.get("log"):
        sys.stderr.write(f"dockyard-runtime: {msg}\n" if level == "error" else f"dockyard-runtime: {level}: {msg}\n")
    if not glob.get("log"):
        return
    from dockyard.runtime.container import rfc3339_now

    if glob.get("log-format") == "json":
        from dockyard.jsonfast import dumps

        line = dumps({"level": level, "msg": msg, "time": rfc3339_now()})
    else:
        quoted = msg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        line = f'time="{rfc3339_now()}" level={level} msg="{quoted}"'
    try:
        with open(glob["log"], "a") as f:
            f.write(line + "\n")
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
