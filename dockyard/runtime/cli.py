"""`dockyard-runtime`: our OCI runtime behind runc's command-line contract.

Tools that drive runc (podman's conmon, containerd's shim, our own tests) can drive this instead:
the same global flags (`--root`, `--log`, `--log-format`), subcommands, exit codes and `state`
JSON. Errors go to stderr and, when `--log` is given, as JSON lines to the log file, which is
where conmon looks for them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from dockyard.errors import DockyardError, NotFound

VERSION = "1.1.5"  # the runc CLI version whose contract we follow


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dockyard-runtime", description="dockyard's OCI runtime (runc-compatible CLI)")
    p.add_argument("--root", default="/run/dockyard-runtime")
    p.add_argument("--log", default="")
    p.add_argument("--log-format", default="text", choices=["text", "json"])
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true")
    p.add_argument("--criu", default="")
    p.add_argument("--rootless", default="auto")
    p.add_argument("-v", "--version", action="store_true")
    sub = p.add_subparsers(dest="cmd")

    def common_create(sp):
        sp.add_argument("--bundle", "-b", default=".")
        sp.add_argument("--console-socket", default="")
        sp.add_argument("--pid-file", default="")
        sp.add_argument("--no-pivot", action="store_true")
        sp.add_argument("--no-new-keyring", action="store_true")
        sp.add_argument("--preserve-fds", type=int, default=0)
        sp.add_argument("id")

    common_create(sub.add_parser("create"))
    r = sub.add_parser("run")
    common_create(r)
    r.add_argument("--detach", "-d", action="store_true")
    r.add_argument("--keep", action="store_true")
    e = sub.add_parser("exec")
    e.add_argument("--process", "-p", default="")
    e.add_argument("--detach", "-d", action="store_true")
    e.add_argument("--pid-file", default="")
    e.add_argument("--console-socket", default="")
    e.add_argument("--tty", "-t", action="store_true")
    e.add_argument("--cwd", default="")
    e.add_argument("--env", "-e", action="append", default=[])
    e.add_argument("--user", "-u", default="")
    e.add_argument("--preserve-fds", type=int, default=0)
    e.add_argument("--no-new-privs", action="store_true")
    e.add_argument("--cap", "-c", action="append", default=[])
    e.add_argument("id")
    e.add_argument("command", nargs=argparse.REMAINDER)
    sub.add_parser("start").add_argument("id")
    sub.add_parser("pause").add_argument("id")
    sub.add_parser("resume").add_argument("id")
    sub.add_parser("state").add_argument("id")
    k = sub.add_parser("kill")
    k.add_argument("--all", "-a", action="store_true")
    k.add_argument("id")
    k.add_argument("signal", nargs="?", default="SIGTERM")
    d = sub.add_parser("delete")
    d.add_argument("--force", "-f", action="store_true")
    d.add_argument("id")
    ls = sub.add_parser("list")
    ls.add_argument("--format", "-f", default="table", choices=["table", "json"])
    ls.add_argument("--quiet", "-q", action="store_true")
    s = sub.add_parser("spec")
    s.add_argument("--bundle", "-b", default=".")
    s.add_argument("--rootless", action="store_true")
    sub.add_parser("features")
    return p


def _console(path: str) -> int | None:
    if not path:
        return None
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock.detach()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.version:
        print(f"dockyard-runtime version {VERSION}\ncommit: dockyard\nspec: 1.0.2")
        return 0
    if not args.cmd:
        _parser().print_help()
        return 1
    from dockyard.runtime.container import Runtime

    rt = Runtime(args.root, warn=lambda msg: _log(args, msg, "warning"))
    try:
        return _dispatch(rt, args)
    except DockyardError as e:
        _log_error(args, str(e))
        return getattr(e, "code", 1) if args.cmd == "run" else 1
    except OSError as e:
        _log_error(args, f"{e.strerror}: {e.filename}" if e.filename else str(e))
        return 1


def _dispatch(rt, args) -> int:
    cmd = args.cmd
    if cmd == "create":
        rt.create(args.id, args.bundle, console_fd=_console(args.console_socket), pid_file=args.pid_file or None,
                  preserve_fds=args.preserve_fds)
    elif cmd == "start":
        rt.start(args.id)
    elif cmd == "pause":
        rt.pause(args.id)
    elif cmd == "resume":
        rt.resume(args.id)
    elif cmd == "run":
        return _run(rt, args)
    elif cmd == "exec":
        return _exec(rt, args)
    elif cmd == "state":
        sys.stdout.write(json.dumps(rt.state(args.id).to_json(), indent=2))  # runc: no trailing newline
    elif cmd == "kill":
        rt.kill(args.id, args.signal, all_processes=args.all)
    elif cmd == "delete":
        try:
            rt.delete(args.id, force=args.force)
        except NotFound:
            if not args.force:  # runc: `delete --force` of a missing container is a silent success
                raise
    elif cmd == "list":
        states = rt.list()
        if args.quiet:
            for s in states:
                print(s.id)
        elif args.format == "json":
            # runc: `null` for no containers, and the owner's user name in each entry
            print(json.dumps([s.to_json(owner="root") for s in states] or None))
        else:
            rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
            rows += [(s.id, str(s.pid if s.status != "stopped" else 0), s.status, s.bundle, s.created, "root")
                     for s in states]
            # runc's tabwriter: minimum width 12, padding 3, the last column unpadded
            widths = [max(12, max(len(r[i]) for r in rows) + 3) for i in range(6)]
            for r in rows:
                print("".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + r[-1])
    elif cmd == "spec":
        from dockyard.runtime.defaults import default_spec

        path = os.path.join(args.bundle, "config.json")
        if os.path.exists(path):
            raise DockyardError("File config.json exists. Remove it first")
        with open(path, "w") as f:
            json.dump(default_spec(["sh"], terminal=True), f, indent="\t")
    elif cmd == "features":
        from dockyard.runtime.hooks import KINDS
        from dockyard.runtime.mounts import _FLAGS, _PROPAGATION
        from dockyard.linux.syscalls import CAPABILITIES, NAMESPACE_FLAGS

        print(json.dumps({"ociVersionMin": "1.0.0", "ociVersionMax": "1.0.2", "hooks": list(KINDS),
                          "mountOptions": sorted(list(_FLAGS) + list(_PROPAGATION)),
                          "linux": {"namespaces": sorted(NAMESPACE_FLAGS), "capabilities": list(CAPABILITIES)}},
                         indent=2))
    return 0


def _run(rt, args) -> int:
    """create + start, then (unless -d) wait for the init as its subreaper and relay signals."""
    from dockyard.linux import syscalls as sc
    from dockyard.runtime.wait import forward_signals, wait_exit

    if not args.detach:
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    st = rt.create(args.id, args.bundle, console_fd=_console(args.console_socket), pid_file=args.pid_file or None,
                   preserve_fds=args.preserve_fds)
    try:
        rt.start(args.id)
    except BaseException:
        rt.delete(args.id, force=True)  # as runc run: a container that never started is not kept
        raise
    if args.detach:
        return 0
    restore = forward_signals(st.pid)
    try:
        code = wait_exit(st.pid)
    finally:
        restore()
        if not args.keep:
            rt.delete(args.id, force=True)
    return code


def _exec(rt, args) -> int:
    """runc exec: --process FILE (what conmon and containerd send) or a command line."""
    from dockyard.errors import InvalidArgument
    from dockyard.linux import syscalls as sc
    from dockyard.runtime.wait import forward_signals, wait_exit

    if args.process:
        with open(args.process) as f:
            process = json.load(f)
    else:
        if not args.command:
            raise InvalidArgument("exec needs a command or --process")
        st = rt.state(args.id)
        from dockyard.runtime.spec import load_bundle

        base = load_bundle(st.bundle)[0]["process"]
        process = dict(base, args=args.command, terminal=args.tty)
        if args.cwd:
            process["cwd"] = args.cwd
        if args.env:
            process["env"] = list(base.get("env") or []) + args.env
        if args.user:
            uid, _, gid = args.user.partition(":")
            process["user"] = {"uid": int(uid), "gid": int(gid or 0)}
        if args.no_new_privs:
            process["noNewPrivileges"] = True
    if not args.detach:
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    pid = rt.exec(args.id, process, console_fd=_console(args.console_socket), pid_file=args.pid_file or None,
                  preserve_fds=args.preserve_fds)
    if args.detach:
        return 0
    restore = forward_signals(pid)
    try:
        return wait_exit(pid)
    finally:
        restore()


def _log_error(args, msg: str) -> None:
    _log(args, msg, "error")


def _log(args, msg: str, level: str) -> None:
    sys.stderr.write(f"dockyard-runtime: {msg}\n" if level == "error" else f"dockyard-runtime: {level}: {msg}\n")
    if args.log:
        from dockyard.runtime.container import rfc3339_now

        line = json.dumps({"level": level, "msg": msg, "time": rfc3339_now()}) if args.log_format == "json" \
            else f'time="{rfc3339_now()}" level={level} msg="{msg}"'
        try:
            with open(args.log, "a") as f:
                f.write(line + "\n")
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
