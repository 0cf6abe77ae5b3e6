"""POST /build: the classic builder over the request body (a tar, plain or compressed, sent with
Content-Length or chunked) and Docker's JSON progress stream.

The options are checked and the context unpacked (into `<root>/tmp`, owned by this process) before
the answer starts, so a bad option or a malformed tar is a 400 and nothing is made. The build runs
in `dockyard.api.buildproc` (a fresh process: RUN steps fork) whose JSON lines are relayed as
chunks. A client that goes away mid-build is noticed on its socket (EOF) or on a failed write; the
build process is then sent SIGTERM and unwinds through its own cleanup (no container, temporary
image or context directory is left), and this thread waits for it."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys

from dockyard.errors import DockyardError, InvalidArgument

CLEANUP_WAIT_S = 120
DRAIN_LIMIT = 1 << 20


def _skip(stream, limit: int) -> None:
    try:
        while limit > 0 and (data := stream.read(min(limit, 1 << 16))):
            limit -= len(data)
    except (DockyardError, OSError):
        pass


def build(engine, req) -> None:
    import tempfile

    from dockyard.api.bodies import BodyStream, context_tar
    from dockyard.api.isolated import env_for_child
    from dockyard.archive.apply import apply_layer
    from dockyard.builder.request import check_network, options, registry_config
    from dockyard.fsutil import rmtree
    from dockyard.ownership import owner_tag

    req.handler.close_connection = True  # the body is read as a stream, never buffered for reuse
    stream = BodyStream(req.handler.rfile, req.headers)
    try:
        opts = options(req.query, engine.images)
        opts["network"] = check_network(engine, opts["network"])
        registry_config(req.headers.get("X-Registry-Config"))
    except DockyardError:
        _skip(stream, DRAIN_LIMIT)  # as Go's server: a small body is read, so the client sees the answer
        raise
    body = context_tar(stream)
    context = tempfile.mkdtemp(dir=engine.tmp_dir(), prefix=f"context-{owner_tag()}-")
    try:
        try:
            apply_layer(body, context, mode="flatten", allow_devices=False, same_owner=False)
            body.drain()
        except (InvalidArgument, OSError, EOFError) as e:  # gzip's errors are OSError/EOFError
            raise InvalidArgument(f"failed to read the build context: {e}") from None
        args = {"root": engine.root, "runroot": engine.runroot, "context": context, "opts": opts}
        proc = subprocess.Popen([sys.executable, "-m", "dockyard.api.buildproc", json.dumps(args)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env_for_child(), cwd="/")
        try:
            _relay(req, proc)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
    finally:
        rmtree(context)


def _client_gone(conn) -> bool:
    """EOF on the client's socket (it hung up). Data it sends mid-build is not read here."""
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):  # reset; or a TLS socket, where peeking is not allowed
        return True


def _relay(req, proc) -> None:
    out = req.stream("application/json")
    fd = proc.stdout.fileno()
    conn = req.handler.connection
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ, "build")
    sel.register(conn, selectors.EVENT_READ, "client")
    gone = done = failed = False
    try:
        while not (done or gone):
            for key, _ in sel.select():
                if key.data == "client":
                    sel.unregister(conn)
                    gone = _client_gone(conn)
                    continue
                data = os.read(fd, 65536)
                if not data:
                    done = True
                    break
                failed = failed or b'"errorDetail"' in data
                try:
                    out.write(data)
                except OSError:
                    gone = True
    finally:
        sel.close()
    if gone:
        proc.send_signal(signal.SIGTERM)
        _drain_and_wait(proc, fd)
        return
    code = proc.wait()
    if code != 0 and not failed:
        msg = f"the build process failed (exit status {code})"
        try:
            out.write(json.dumps({"errorDetail": {"message": msg}, "error": msg}).encode() + b"\n")
        except OSError:
            return
    out.close()


def _drain_and_wait(proc, fd: int) -> None:
    """Let the build unwind (its messages are thrown away) for up to CLEANUP_WAIT_S."""
    import time

    deadline = time.monotonic() + CLEANUP_WAIT_S
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    try:
        while time.monotonic() < deadline:
            if sel.select(timeout=1.0) and not os.read(fd, 65536):
                break
    finally:
        sel.close()
    try:
        proc.wait(max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
