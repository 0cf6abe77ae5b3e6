"""Exec routes: create (a record in the service's memory, as dockerd keeps them), start (the
process runs in a fresh `python -m dockyard.api.isolated exec` whose stdio are pipes to the
hijacked connection), inspect.

As dockerd: the *start* request's Tty decides the output's shape (raw with it, stdcopy frames
without, whatever the exec's own Tty, so a TTY exec started without it comes framed as stdout);
with a TTY the `DetachKeys` typed on stdin (default ctrl-p,ctrl-q) end the connection and leave
the process running (its output is drained then)."""

from __future__ import annotations

import os
import socket
import subprocess
import threading

from dockyard.api import isolated
from dockyard.api.streams import content_type, frame
from dockyard.engine.config import json_field, json_strings
from dockyard.engine.exec import exec_target
from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound


class ExecNotFound(NotFound):
    pass


class Exec:
    __slots__ = ("id", "container_id", "config", "running", "exit_code", "started", "pid")

    def __init__(self, eid: str, container_id: str, config: dict) -> None:
        self.id, self.container_id, self.config = eid, container_id, config
        self.running, self.exit_code, self.started, self.pid = False, None, False, 0


class Registry:
    """The service's execs by id (they do not outlive it, as dockerd's do not outlive dockerd)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.execs: dict[str, Exec] = {}

    def get(self, eid: str) -> Exec:
        with self.lock:
            ex = self.execs.get(eid)
        if ex is None:
            raise ExecNotFound(f"No such exec instance: {eid}")
        return ex

    def add(self, ex: Exec) -> None:
        with self.lock:
            self.execs[ex.id] = ex


def create(engine, req, name: str) -> None:
    body = req.json()
    if not isinstance(body, dict):
        raise InvalidArgument("invalid exec request: expected an object")
    cmd = json_strings(body, "Cmd", "")
    if not cmd:
        raise InvalidArgument("No exec command specified")
    env = json_strings(body, "Env", "") or ()
    for item in env:
        if "=" not in item or item.startswith("="):
            raise InvalidArgument(f"invalid environment variable {item!r}: expected NAME=VALUE")
    from dockyard.engine.attach import DEFAULT_DETACH_KEYS, parse_detach_keys

    # dockerd decodes JSON keys case-insensitively; docker-py sends "detachKeys"
    detach_keys = json_field(body, "DetachKeys", str, "", "") or json_field(body, "detachKeys", str, "", "")
    parse_detach_keys(detach_keys or DEFAULT_DETACH_KEYS)  # a bad sequence is refused now (400)
    config = {"Cmd": list(cmd), "Env": list(env), "User": json_field(body, "User", str, "", ""),
              "WorkingDir": json_field(body, "WorkingDir", str, "", ""),
              "Tty": json_field(body, "Tty", bool, "", False),
              "Privileged": json_field(body, "Privileged", bool, "", False), "DetachKeys": detach_keys,
              "AttachStdin": json_field(body, "AttachStdin", bool, "", False),
              "AttachStdout": json_field(body, "AttachStdout", bool, "", False),
              "AttachStderr": json_field(body, "AttachStderr", bool, "", False)}
    rec = exec_target(engine, name)[0]
    ex = Exec(os.urandom(32).hex(), rec.id, config)
    req.service.execs.add(ex)
    req.send_json({"Id": ex.id}, 201)


def inspect(engine, req, eid: str) -> None:
    ex = req.service.execs.get(eid)
    c = ex.config
    req.send_json({
        "ID": ex.id, "Running": ex.running, "ExitCode": ex.exit_code, "ContainerID": ex.container_id,
        "ProcessConfig": {"tty": c["Tty"], "entrypoint": c["Cmd"][0], "arguments": c["Cmd"][1:],
                          "privileged": c["Privileged"], "user": c["User"]},
        "OpenStdin": c["AttachStdin"], "OpenStdout": c["AttachStdout"], "OpenStderr": c["AttachStderr"],
        "CanRemove": False, "DetachKeys": c["DetachKeys"], "Pid": ex.pid,
    })


def start(engine, req, eid: str) -> None:
    ex = req.service.execs.get(eid)
    body = req.json(required=False) or {}
    if not isinstance(body, dict):
        raise InvalidArgument("invalid exec start request: expected an object")
    detach = json_field(body, "Detach", bool, "", False)
    raw = json_field(body, "Tty", bool, "", False)
    with req.service.execs.lock:
        if ex.started:
            raise Conflict(f"exec {ex.id} has already been started")
        ex.started = True
    exec_target(engine, ex.container_id)
    c = ex.config
    args = {"root": engine.root, "runroot": engine.runroot, "ref": ex.container_id, "cmd": c["Cmd"],
            "tty": c["Tty"], "interactive": c["AttachStdin"], "user": c["User"], "workdir": c["WorkingDir"],
            "env": c["Env"], "privileged": c["Privileged"], "detach": detach}
    if detach:
        p = isolated.spawn_exec(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        _, err = p.communicate()
        ex.exit_code = None
        if p.returncode != 0:
            message = err.decode(errors="replace").strip() or "exec failed"
            if p.returncode == isolated.INTERNAL:
                raise DockyardError(message)  # 500, as any fault of ours
            if p.returncode == 126:
                ex.exit_code = 126  # dockerd's ExecInspect of an exec that could not start
                raise InvalidArgument(message)
            raise Conflict(message)
        req.send(200, b"", "application/json")
        return
    sock = req.hijack(content_type(req, raw))
    ex.running = True
    try:
        ex.exit_code = _attached(ex, args, sock, raw)
    finally:
        ex.running = False


def _attached(ex: Exec, args: dict, sock, raw: bool) -> int:
    """Run the exec with its stdio on pipes joined to the client's connection: its output raw or
    framed, the client's bytes its stdin (scanned for the detach keys with a TTY); its exit code."""
    from dockyard.engine.attach import DEFAULT_DETACH_KEYS, DetachScanner, parse_detach_keys

    c = ex.config
    p = isolated.spawn_exec(args, stdin=subprocess.PIPE if c["AttachStdin"] else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT if c["Tty"] else subprocess.PIPE)
    ex.pid = p.pid
    lock = threading.Lock()
    state = {"client": True}  # False once the client left or detached: output is drained then

    def pump(pipe, stream: str, wanted: bool) -> None:
        while data := os.read(pipe.fileno(), 65536):
            if wanted and state["client"]:
                with lock:
                    try:
                        sock.sendall(data if raw else frame(stream, data))
                    except OSError:
                        state["client"] = False  # drain, so the process is not blocked

    def feed() -> None:
        scanner = DetachScanner(parse_detach_keys(c["DetachKeys"] or DEFAULT_DETACH_KEYS)) if c["Tty"] else None
        try:
            while state["client"] and (data := sock.recv(65536)):
                data, detached = scanner.feed(data) if scanner else (data, False)
                if data:
                    os.write(p.stdin.fileno(), data)
                if detached:  # the client goes; the process keeps its stdin open and runs on
                    state["client"] = False
                    sock.shutdown(socket.SHUT_RDWR)
                    return
        except OSError:
            pass
        if not (c["Tty"] and not state["client"]):
            p.stdin.close()  # the client's end of input is the process's

    threads = []
    if c["AttachStdin"]:
        threads.append(threading.Thread(target=feed, daemon=True))
    if not c["Tty"]:
        threads.append(threading.Thread(target=pump, args=(p.stderr, "stderr", c["AttachStderr"]), daemon=True))
    for t in threads:
        t.start()
    pump(p.stdout, "stdout", c["AttachStdout"])
    if not c["Tty"]:
        threads[-1].join()
    code = p.wait()
    state["client"] = False
    return code


def resize(engine, req, eid: str) -> None:
    req.service.execs.get(eid)
    raise InvalidArgument("resizing an exec's terminal is not supported by dockyard's API yet")
