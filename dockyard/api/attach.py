"""POST /containers/{id}/attach (hijacked) and /containers/{id}/resize.

The container's monitor holds its stdio and serves it on its attach socket
(engine/attachsock.py); this route joins the client's hijacked connection to it: output frames
(stdcopy for a container without a TTY, raw for one with), the client's bytes as the
container's stdin, the `detachKeys` sequence ending the attach and leaving the container running.
Attached before `start` (docker run), the monitor is told to wait for us before the process
starts, so nothing it writes is missed. A client that goes away leaves the container alone.
"""

from __future__ import annotations

import os
import socket
import threading
import time

from dockyard.api.streams import content_type, encode, gone, log_path
from dockyard.api.wire import pauses
from dockyard.engine.status import ACTIVE, effective_state
from dockyard.errors import ContainerNotFound, InvalidArgument


def attach_ws(engine, req, name: str) -> None:
    """GET /containers/{id}/attach/ws: the same attach over a WebSocket: raw output (no stdcopy
    framing, as dockerd), binary frames from API 1.28 on (text before), stdin from the client's frames."""
    attach(engine, req, name, ws=True)


def attach(engine, req, name: str, ws: bool = False) -> None:
    from dockyard.engine import attachsock
    from dockyard.engine.attach import DEFAULT_DETACH_KEYS, parse_detach_keys
    from dockyard.engine.logs import read_records

    rec = engine.db.get_container(name)
    if req.qbool("logs"):
        from dockyard.engine.logs import check_readable

        check_readable(rec.config)
    keys = parse_detach_keys(req.q("detachKeys") or DEFAULT_DETACH_KEYS)
    want = {s for s in ("stdout", "stderr") if req.qbool(s)}
    tty = bool(rec.config.get("tty"))
    stdin = req.qbool("stdin") and bool(rec.config.get("stdin_open"))
    stream = req.qbool("stream", True)
    running = effective_state(rec, engine.db).get("Status") in ACTIVE
    marker = attachsock.wait_marker(engine, rec.id)
    if stream and not running:
        os.makedirs(os.path.dirname(marker), exist_ok=True)
        open(marker, "w").close()  # the monitor waits for us before the process starts
    history = [r for r in read_records(log_path(engine, rec.id)) if r.get("stream") in want] \
        if req.qbool("logs") else []
    if ws:
        sock = req.hijack_websocket()
        client = WebSocket(sock, binary=req.version >= (1, 28))
    else:
        sock = client = req.hijack(content_type(req, tty))
    raw = tty or ws  # a WebSocket carries the streams as they are, like a TTY's
    mon = None
    try:
        for r in history:
            client.sendall(encode(r, tty=raw, timestamps=False))
        if not stream:
            return
        mon = _connect(engine, rec.id, sock, {"stdin": stdin, **{s: s in want for s in ("stdout", "stderr")}},
                       effective_state(rec, engine.db).get("StartedAt"))
        if mon is None:
            return
        if stdin:
            threading.Thread(target=_pump_stdin, args=(client, mon, keys if tty else None), daemon=True).start()
        import select

        watch = select.poll()
        watch.register(mon, select.POLLIN)
        watch.register(sock, 0)  # POLLHUP/POLLERR only: the client left (its EOF is just "no more stdin")
        while True:
            ready = dict(watch.poll(1000))
            if ready.get(sock.fileno(), 0) & (select.POLLHUP | select.POLLERR):
                break
            if mon.fileno() not in ready:
                continue
            got = attachsock.read_frame(mon)
            if got is None:
                break
            client.sendall(got[1] if raw else _frame(got))
    except OSError:
        pass  # the client left: the container goes on
    finally:
        if mon is not None:
            mon.close()
        try:
            sock.shutdown(socket.SHUT_RDWR)  # the stdin pump's recv ends before the server closes it
        except OSError:
            pass
        try:
            os.unlink(marker)
        except FileNotFoundError:
            pass


def _frame(got) -> bytes:
    import struct

    return struct.pack(">BxxxL", got[0], len(got[1])) + got[1]


def _connect(engine, cid: str, client, request: dict, started):
    """The monitor's attach socket, once there is one: a container not started yet is waited
    for (as long as the client stays and the container exists)."""
    from dockyard.engine import attachsock

    waits = pauses(0.001, 0.01)
    while True:
        try:
            return attachsock.connect(engine, cid, request)
        except OSError:
            pass
        if gone(client):
            return None
        try:
            st = effective_state(engine.db.get_container(cid), engine.db)
        except ContainerNotFound:
            return None
        if st.get("Status") not in ACTIVE and st.get("StartedAt") != started:
            return None  # it ran and exited while we were not connected
        time.sleep(next(waits))


def _pump_stdin(client, mon, keys: bytes | None) -> None:
    """Client → container stdin. The detach keys end the whole attach: shutting the client's
    socket down ends the output loop too, and the container keeps running."""
    from dockyard.engine.attach import DetachScanner

    scanner = DetachScanner(keys) if keys else None  # dockerd looks for them only on a TTY
    try:
        while data := client.recv(65536):
            data, detached = scanner.feed(data) if scanner else (data, False)
            if data:
                mon.sendall(data)
            if detached:
                mon.shutdown(socket.SHUT_RDWR)
                return
        mon.shutdown(socket.SHUT_WR)  # end of the client's input: StdinOnce closes the container's
    except OSError:
        pass


class WebSocket:
    """The server's end of an RFC 6455 connection, with a socket's `sendall`/`recv`: output goes
    out as single unmasked frames; `recv` gives the payload of the client's (masked) data frames,
    answers pings, and returns b"" (end of input) on a close frame, a protocol error or a frame
    over MAX_FRAME (never buffered whole)."""

    MAX_FRAME = 1 << 20

    def __init__(self, sock, *, binary: bool) -> None:
        self.sock = sock
        self.opcode = 2 if binary else 1
        self.lock = threading.Lock()  # output and pongs come from two threads

    def sendall(self, data: bytes, opcode: int | None = None) -> None:
        import struct

        n = len(data)
        size = bytes([n]) if n < 126 else struct.pack(">BH", 126, n) if n < 65536 else struct.pack(">BQ", 127, n)
        with self.lock:
            self.sock.sendall(bytes([0x80 | (opcode or self.opcode)]) + size + data)

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            got = self.sock.recv(n - len(buf))
            if not got:
                raise EOFError
            buf += got
        return buf

    def recv(self, _bufsize: int = 0) -> bytes:
        import struct

        try:
            while True:
                b0, b1 = self._exact(2)
                op, n = b0 & 0x0F, b1 & 0x7F
                if n == 126:
                    n = struct.unpack(">H", self._exact(2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", self._exact(8))[0]
                if not b1 & 0x80 or n > self.MAX_FRAME:  # a client must mask; too big: refused
                    self.sendall(struct.pack(">H", 1002 if not b1 & 0x80 else 1009), opcode=8)
                    return b""
                mask = self._exact(4)
                payload = bytes(c ^ mask[i % 4] for i, c in enumerate(self._exact(n))) if n else b""
                if op in (0, 1, 2):
                    if payload:
                        return payload
                elif op == 8:
                    self.sendall(payload[:2], opcode=8)
                    return b""
                elif op == 9:
                    self.sendall(payload, opcode=10)
                elif op != 10:
                    return b""
        except (EOFError, OSError):
            return b""

    def shutdown(self, how) -> None:
        self.sock.shutdown(how)


def resize(engine, req, name: str) -> None:
    from dockyard.engine import attachsock
    from dockyard.errors import Conflict

    rec = engine.db.get_container(name)
    try:
        h, w = int(req.q("h") or 0), int(req.q("w") or 0)
    except ValueError:
        raise InvalidArgument("h and w must be integers") from None
    if effective_state(rec, engine.db).get("Status") not in ACTIVE:
        raise Conflict(f"Container {rec.id} is not running")
    if not rec.config.get("tty"):
        req.send(200, b"")
        return
    try:
        attachsock.connect(engine, rec.id, {"resize": [h, w]}).close()
    except OSError as e:
        raise Conflict(f"cannot resize container {rec.id}: {e.strerror}") from None
    req.send(200, b"")
