"""`dockyard attach` and `start -a/-i`: our terminal joined to a detached container's stdio."""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import BOOL, STR, Flag, UsageError, parse, usage
from dockyard.errors import Conflict, InvalidArgument

ATTACH_FLAGS = [
    Flag("--detach-keys", STR, "Override the key sequence for detaching a container", metavar="string"),
    Flag("--no-stdin", BOOL, "Do not attach STDIN"),
    Flag("--sig-proxy", BOOL, "Proxy all received signals to the process", default=True),
    Flag("--help"),
]


def _check_tty(rec, stdin: bool) -> None:
    if rec.config.get("tty") and stdin and not os.isatty(0):
        raise InvalidArgument("the input device is not a TTY")


def cmd_attach(ctx, argv) -> int:
    from dockyard.engine.attach import parse_detach_keys
    from dockyard.engine.attaching import attach_terminal
    from dockyard.engine.status import effective_state

    opts = parse(ATTACH_FLAGS, argv)
    if opts.help:
        print(usage("dockyard attach [OPTIONS] CONTAINER", "Attach local standard input, output, and error streams "
                    "to a running container", ATTACH_FLAGS))
        return 0
    if len(opts.args) != 1:
        raise UsageError('"dockyard attach" requires exactly 1 argument.')
    rec = ctx.engine.db.get_container(opts.args[0])
    status = effective_state(rec).get("Status")
    if status == "paused":
        raise Conflict("You cannot attach to a paused container, unpause it first")
    if status not in ("running", "restarting"):
        raise Conflict("You cannot attach to a stopped container, start it first")
    if opts.detach_keys is not None:  # docker checks the container's state first
        parse_detach_keys(opts.detach_keys)
    stdin = bool(rec.config.get("stdin_open")) and not opts.no_stdin
    _check_tty(rec, stdin)
    from dockyard.engine import events

    events.container(ctx.engine, rec, "attach")
    sys.stdout.flush()
    try:
        code = attach_terminal(ctx.engine, rec, stdin=stdin, detach_keys=opts.detach_keys, sig_proxy=opts.sig_proxy)
    except OSError as e:
        raise Conflict(f"cannot attach to container {rec.name}: its monitor does not answer ({e.strerror}); "
                       "a container run in the foreground by another dockyard process cannot be attached") from None
    if code is None:  # docker's CLI ends with this error (exit 1); the container runs on
        sys.stderr.write("read escape sequence\n")
        return 1
    return code


def start_attached(ctx, ref: str, *, interactive: bool, detach_keys: str | None) -> int:
    """docker start -a [-i]: attach first (the monitor waits for us before the process starts, so
    no output is missed), then start; the container's exit code."""
    from dockyard.engine.attach import parse_detach_keys
    from dockyard.engine.attaching import attach_terminal
    from dockyard.engine.attachsock import wait_marker
    from dockyard.engine.status import effective_state

    if detach_keys is not None:
        parse_detach_keys(detach_keys)
    engine = ctx.engine
    rec = engine.db.get_container(ref)
    st = effective_state(rec).get("Status")
    stdin = interactive and bool(rec.config.get("stdin_open"))
    _check_tty(rec, stdin)
    if st in ("running", "restarting", "paused"):
        if st == "paused":
            raise Conflict("You cannot attach to a paused container, unpause it first")
        return _attach_running(ctx, rec, stdin, detach_keys)
    from dockyard.engine.attachsock import socket_path

    marker = wait_marker(engine, rec.id)
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    for stale in (socket_path(engine, rec.id),):  # a killed monitor's: not to be mistaken for the new one
        try:
            os.unlink(stale)
        except FileNotFoundError:
            pass
    open(marker, "w").close()
    from dockyard.engine import events

    events.container(engine, rec, "attach")  # dockerd's, before the start
    starter = _fork_start(engine, rec.id)
    try:
        failed = _await_socket(engine, rec.id, starter)
        if failed is not None:
            return failed
        sys.stdout.flush()
        code = attach_terminal(engine, rec, stdin=stdin, detach_keys=detach_keys)
    finally:
        try:
            os.unlink(marker)
        except FileNotFoundError:
            pass
        _reap(starter)
    return _started_code(code)


def _started_code(code: int | None) -> int:
    """start -a's exit: the container's code, or 0 without a word when the user detached (docker's
    start takes the escape as the user's wish and ends quietly, where `attach` says it and exits 1)."""
    return 0 if code is None else code


def _attach_running(ctx, rec, stdin, detach_keys) -> int:
    from dockyard.engine.attaching import attach_terminal

    return _started_code(attach_terminal(ctx.engine, rec, stdin=stdin, detach_keys=detach_keys))


def _fork_start(engine, cid: str) -> int:
    """`start` in a child process: it blocks until the monitor reports, and the monitor waits
    for our connection first. Its error goes to our stderr; its exit status says if it failed."""
    engine.db.close()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            from dockyard.engine.lifecycle import start

            start(engine, cid)
        except BaseException as e:  # noqa: BLE001 - reported by the parent's exit status
            sys.stderr.write(f"dockyard: error: {e}\n")
            sys.stderr.flush()
            code = 1
        os._exit(code)
    return pid


def _await_socket(engine, cid: str, starter: int) -> int | None:
    """Wait until the container's monitor listens: None, or the exit code to return when it
    never will (the start failed: 1; it ran and is gone already: its exit code)."""
    import time

    from dockyard.engine.attachsock import socket_path
    from dockyard.engine.lifecycle import wait

    path = socket_path(engine, cid)
    done_at = None
    while not os.path.exists(path):
        if done_at is None:
            got, status = os.waitpid(starter, os.WNOHANG)
            if got:
                if os.waitstatus_to_exitcode(status) != 0:
                    return 1
                done_at = time.monotonic()
        elif time.monotonic() - done_at > 2.0:
            return wait(engine, cid)
        time.sleep(0.005)
    return None


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
