"""A single-threaded process, forked by the service before it starts any thread, that forks a
child per engine call that forks (create, start, restart).

Forking the threaded service itself is unsafe (locks other threads hold are copied held), and a
fresh interpreter per call costs its start-up (~0.1 s here, twice per `docker run`). The zygote
is forked while the service is still one thread, has the engine's modules loaded, and never
opens the store itself; each request comes with a socket (SCM_RIGHTS) on which its child sends
the answer. It leaves when the service closes its end.

It also keeps one container monitor ready for the next start (`Spares`): a monitor's own
interpreter start-up is then off the path of `docker run`.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import threading

PRELOAD = ("dockyard.engine.containers", "dockyard.engine.create", "dockyard.engine.lifecycle",
           "dockyard.engine.monitor", "dockyard.engine.launch", "dockyard.engine.networking",
           "dockyard.engine.specgen", "dockyard.engine.volumes", "dockyard.api.isolated", "dockyard.state.db",
           "dockyard.engine.monitor_entry")


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

    spares = Spares()
    try:
        while True:
            spares.when_idle(ctl)
            msg, fds, _, _ = socket.recv_fds(ctl, 1 << 20, 4)
            if not msg:
                return
            if fds:
                _fork_for(ctl, msg, fds, spares, run_verb)
    finally:
        spares.drop()


class Spares:
    """One container monitor started ahead of the next `start` (engine/monitor.py takes it from
    monitor.SPARE): a new interpreter on the monitor's entry point, as any monitor, so nothing of
    this process is copied; its start-up (~25 ms) is off the request's path. It is started once
    the zygote has been idle a moment (not while a request's processes want the CPU), for the
    store the last start named; dropped (its pipes closed, so it exits) with the zygote."""

    IDLE = 0.01

    def __init__(self) -> None:
        self.store: tuple[str, str] | None = None
        self.spare = None
        self.spare_ready = None

    def when_idle(self, ctl: socket.socket) -> None:
        while self.store is not None and self.spare is None:
            if select.select([ctl], [], [], self.IDLE)[0]:
                return
            from dockyard.engine.detach import spawn_detached

            try:
                self.spare = spawn_detached("dockyard.engine.monitor_entry", [*self.store, "--spare"])
            except OSError:
                self.store = None  # no spares then: each start starts its own monitor, as the CLI's

    def take(self, req: dict):
        """The spare for a request that starts a container of its store (None otherwise)."""
        if req.get("verb") not in ("start", "restart"):
            return None
        store = (req.get("root"), req.get("runroot"))
        spare = self.spare if store == self.store and self.loaded() else None
        if spare is not None:
            self.spare = self.spare_ready = None
        elif self.store != store:
            self.drop()
            self.store = store
        return spare

    def loaded(self) -> bool:
        """Whether the spare has said it is loaded (a busy machine may not have let it yet: it
        is kept for a later start, and this one starts its own)."""
        from dockyard.engine.monitor_entry import READY

        if self.spare is None:
            return False
        if not self.spare_ready and select.select([self.spare.report_r], [], [], 0)[0]:
            self.spare_ready = os.read(self.spare.report_r, len(READY)) == READY
            if not self.spare_ready:  # it died (end of file) or said something else: not usable
                self.drop()
        return bool(self.spare_ready)

    def drop(self) -> None:
        if self.spare is not None:
            close_spare(self.spare)
            self.spare = self.spare_ready = None


def close_spare(spare) -> None:
    """This process's ends of a spare's pipes, closed without waiting for it (the zygote's
    children are reaped by the kernel): the spare exits when no one holds them any more."""
    for fd in (spare.go_w, spare.report_r):
        if fd >= 0:
            os.close(fd)
    spare.go_w = spare.report_r = -1


def _fork_for(ctl, msg: bytes, fds: list[int], spares: Spares, run_verb) -> None:
    req = json.loads(msg)
    mine = spares.take(req)
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the engine waits for its own children
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        code = 0
        try:
            ctl.close()
            for fd in fds[1:]:
                os.close(fd)
            if spares.spare is not None:
                close_spare(spares.spare)  # not ours: the zygote keeps it for the next start
            if mine is not None:
                from dockyard.engine import monitor

                monitor.SPARE[(req["root"], req["runroot"])] = mine
            with socket.socket(fileno=fds[0]) as reply:
                reply.sendall(json.dumps(run_verb(req)).encode())
        except BaseException:  # noqa: BLE001 - a child never returns into the zygote's loop
            import traceback

            traceback.print_exc()  # to the service's stderr: the client only hears that it died
            code = 1
        os._exit(code)
    for fd in fds:
        os.close(fd)
    if mine is not None:
        close_spare(mine)
