"""A single-threaded process, forked by the service before it starts any thread, that forks a
child per engine call that forks (create, start, restart).

Forking the threaded service itself is unsafe (locks other threads hold are copied held), and a
fresh interpreter per call costs its start-up (~0.1 s here, twice per `docker run`). The zygote
is forked while the service is still one thread, has the engine's modules loaded, and never
opens the store itself; each request comes with a socket (SCM_RIGHTS) on which its child sends
the answer. It leaves when the service closes its end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading

PRELOAD = ("dockyard.engine.containers", "dockyard.engine.create", "dockyard.engine.lifecycle",
           "dockyard.engine.monitor", "dockyard.engine.launch", "dockyard.engine.networking",
           "dockyard.engine.specgen", "dockyard.engine.volumes", "dockyard.api.isolated")


class Zygote:
    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.pid = 0
        self.lock = threading.Lock()

    def start(self) -> None:
        """Fork the zygote: call while this process has one thread and no store open."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                mine.close()
                _serve(theirs)
            except BaseException:  # noqa: BLE001 - never unwind into the service's code
                code = 1
            os._exit(code)
        theirs.close()
        self.sock, self.pid = mine, pid

    def call(self, request: dict) -> dict | None:
        """The answer of a child forked for `request`; None when the zygote is gone (the caller
        then starts an interpreter instead)."""
        if self.sock is None:
            return None
        mine, theirs = socket.socketpair()
        try:
            with self.lock:
                socket.send_fds(self.sock, [json.dumps(request).encode()], [theirs.fileno()])
        except OSError:
            return None
        finally:
            theirs.close()
        data = b""
        with mine:
            while chunk := mine.recv(65536):
                data += chunk
        try:
            return json.loads(data)
        except ValueError:
            return {"error": "the engine process died before it answered", "category": ""}

    def stop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.pid:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = 0


def _serve(ctl: socket.socket) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is for the service
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    try:
        with open("/proc/self/comm", "w") as f:
            f.write("dockyard-zygote")
    except OSError:
        pass
    for name in PRELOAD:
        __import__(name)
    from dockyard.api.isolated import run_verb

    while True:
        msg, fds, _, _ = socket.recv_fds(ctl, 1 << 20, 4)
        if not msg:
            return
        if not fds:
            continue
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the engine waits for its own children
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                ctl.close()
                for fd in fds[1:]:
                    os.close(fd)
                with socket.socket(fileno=fds[0]) as reply:
                    reply.sendall(json.dumps(run_verb(json.loads(msg))).encode())
            except BaseException:  # noqa: BLE001 - a child never returns into the zygote's loop
                code = 1
            os._exit(code)
        for fd in fds:
            os.close(fd)
