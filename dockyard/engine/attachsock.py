"""The attach socket a container's monitor serves (conmon's attach socket, containerd's fifos).

The monitor holds the container's stdio; `<runroot>/containers/<id>/attach` (a unix socket, 0600)
lets attachers share it: `dockyard attach`, `start -a/-i`, the API's hijacked attach. A client
connects and sends one JSON line, then:

- `{"stdin": bool, "stdout": bool, "stderr": bool}`: output is sent to it as stdcopy frames
  ([stream, 0, 0, 0, size (4 bytes big-endian)] + data; stream 1 for a TTY's one stream), what it
  sends after the line is the container's stdin (when the container has OpenStdin; else it is
  dropped). Its EOF closes the container's stdin when StdinOnce is set (docker run -i), else
  stdin stays open for the next attacher. The monitor closes every client when the container exits.
- `{"resize": [height, width]}`: the container's terminal gets that size; the connection closes.

Nothing blocks the monitor: sockets and the stdin pipe are non-blocking with bounded buffers, a
client that does not read (64 MiB behind) is dropped rather than stalling the container's output.

Output written before the first attacher connects is only in the log. An attacher that must see
everything from the start (the API's attach before `start`, `start -a`) leaves the `attach.wait`
marker first: the monitor then waits (up to WAIT_FIRST seconds) for one client before it lets
the container's process start.
"""

from __future__ import annotations

import os
import socket
import struct

from dockyard import jsonfast as json

MAX_BEHIND = 64 << 20
WAIT_FIRST = 5.0
STREAM_IDS = {"stdin": 0, "stdout": 1, "stderr": 2}


def socket_path(engine, cid: str) -> str:
    return os.path.join(engine.container_dir(cid), "attach")


def wait_marker(engine, cid: str) -> str:
    return os.path.join(engine.container_dir(cid), "attach.wait")


def _short(path: str) -> tuple[int, str]:
    """A unix socket path is limited to 107 bytes and the runroot's are longer: the directory is
    reached through /proc/self/fd instead. Returns (dir fd to close, the short path)."""
    fd = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    return fd, f"/proc/self/fd/{fd}/{os.path.basename(path)}"


def connect(engine, cid: str, request: dict, timeout: float | None = 5.0) -> socket.socket:
    """A connection to a running container's monitor, its request line sent. OSError when the
    container has no monitor listening (stopped, or started in the foreground by another CLI)."""
    fd, short = _short(socket_path(engine, cid))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        s.settimeout(timeout)
        s.connect(short)
        s.sendall(json.dumps(request).encode() + b"\n")
        s.settimeout(None)
    except BaseException:
        s.close()
        raise
    finally:
        os.close(fd)
    return s


def read_frame(sock: socket.socket) -> tuple[int, bytes] | None:
    """One stdcopy frame from the monitor; None at EOF."""
    head = _recv_exact(sock, 8)
    if head is None:
        return None
    stream, size = struct.unpack(">BxxxL", head)
    data = _recv_exact(sock, size) if size else b""
    return None if data is None else (stream, data)


def _recv_exact(sock, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class _Client:
    __slots__ = ("sock", "want", "stdin", "out", "reading")

    def __init__(self, sock, want: set, stdin: bool) -> None:
        self.sock, self.want, self.stdin = sock, want, stdin
        self.out = bytearray()
        self.reading = True  # until its EOF


class AttachServer:
    """The monitor's side. `fds()` are what to select on; `handle()` acts on what is ready;
    `broadcast()` is called with every piece of output. One server lives as long as the monitor;
    `end_run()` closes the clients of a run that exited (a restart serves new ones)."""

    def __init__(self, engine, cid: str, *, stdin_once: bool) -> None:
        self.path = socket_path(engine, cid)
        self.marker = wait_marker(engine, cid)
        self.stdin_once = stdin_once
        os.makedirs(os.path.dirname(self.path), mode=0o755, exist_ok=True)
        try:
            os.unlink(self.path)  # a dead monitor's
        except FileNotFoundError:
            pass
        # bound under a temporary name and renamed once listening: an attacher that sees the
        # path (start -a waits for it) must never connect between bind() and listen() (refused)
        fd, short = _short(self.path)
        temp = f"{short}.{os.getpid()}.tmp"
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            old = os.umask(0o177)
            try:
                self.listener.bind(temp)
            finally:
                os.umask(old)
            self.listener.listen(16)
            os.rename(temp, short)
        except BaseException:
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
            raise
        finally:
            os.close(fd)
        self.listener.setblocking(False)
        self.clients: list[_Client] = []
        self.stdin_fd: int | None = None  # the container's stdin (a pipe's end, or the pty master)
        self.stdin_is_pty = False
        self.pending = bytearray()
        self.stdin_once_due = False  # close stdin once `pending` is written
        self.master: int | None = None

    # -- a run's stdio -----------------------------------------------------------------------

    def set_stdin(self, fd: int | None, *, pty: bool) -> None:
        self.stdin_fd, self.stdin_is_pty, self.pending = fd, pty, bytearray()
        self.stdin_once_due = False
        if fd is not None:
            os.set_blocking(fd, False)

    def wait_first(self) -> None:
        """Before the process starts: give an announced attacher the chance to connect."""
        import select

        if not os.path.lexists(self.marker):
            return
        try:
            ready, _, _ = select.select([self.listener], [], [], WAIT_FIRST)
            if ready:
                self._accept()
        finally:
            try:
                os.unlink(self.marker)
            except FileNotFoundError:
                pass

    def end_run(self) -> None:
        """The container exited: flush what the clients can take at once, close them and stdin."""
        for c in self.clients:
            if c.out:
                try:
                    c.sock.setblocking(True)
                    c.sock.settimeout(1.0)
                    c.sock.sendall(c.out)
                except OSError:
                    pass
            c.sock.close()
        self.clients = []
        if self.stdin_fd is not None and not self.stdin_is_pty:
            os.close(self.stdin_fd)
        self.stdin_fd = None
        self.pending = bytearray()

    def close(self) -> None:
        self.end_run()
        self.listener.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    # -- the select loop ---------------------------------------------------------------------

    def fds(self) -> tuple[list, list]:
        rd = [self.listener] + [c.sock for c in self.clients if c.reading and not self.pending]
        wr = [c.sock for c in self.clients if c.out]
        if self.pending and self.stdin_fd is not None:
            wr.append(self.stdin_fd)
        return rd, wr

    def handle(self, readable, writable) -> None:
        if self.listener in readable:
            self._accept()
        for c in list(self.clients):
            if c.sock in readable:
                self._read(c)
            if c.sock in writable and c in self.clients:
                self._flush(c)
        if self.stdin_fd is not None and self.stdin_fd in writable:
            self._feed()

    def broadcast(self, stream: str, data: bytes) -> None:
        if not self.clients:
            return
        sid = STREAM_IDS[stream]
        framed = struct.pack(">BxxxL", sid, len(data)) + data
        for c in list(self.clients):
            if sid in c.want:
                c.out += framed
                self._flush(c)

    # -- clients -----------------------------------------------------------------------------

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except OSError:
            return
        try:
            sock.settimeout(2.0)  # the line comes with the connection; a silent client is dropped
            line = b""
            while not line.endswith(b"\n") and len(line) < 4096:
                chunk = sock.recv(1)
                if not chunk:
                    break
                line += chunk
            req = json.loads(line.decode())
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except (OSError, ValueError, UnicodeDecodeError):
            sock.close()
            return
        if "resize" in req:
            self._resize(req["resize"])
            sock.close()
            return
        sock.setblocking(False)
        want = {STREAM_IDS[s] for s in ("stdout", "stderr") if req.get(s)}
        self.clients.append(_Client(sock, want, bool(req.get("stdin"))))

    def _resize(self, size) -> None:
        import fcntl
        import termios

        try:
            h, w = (int(x) for x in size)
            if self.master is not None and 0 < h < 65536 and 0 < w < 65536:
                fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", h, w, 0, 0))
        except (OSError, TypeError, ValueError):
            pass

    def _drop(self, c: _Client) -> None:
        c.sock.close()
        self.clients.remove(c)

    def _flush(self, c: _Client) -> None:
        try:
            n = c.sock.send(c.out)
            del c.out[:n]
        except BlockingIOError:
            pass
        except OSError:
            self._drop(c)
            return
        if len(c.out) > MAX_BEHIND:
            self._drop(c)

    def _read(self, c: _Client) -> None:
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            if c.stdin and self.stdin_fd is not None:
                self.pending += data
                self._feed()
            return
        c.reading = False  # its stdin ended (or it left: a later send tells)
        if c.stdin and self.stdin_once and self.stdin_fd is not None and not self.stdin_is_pty:
            self._feed()
            if not self.pending:
                os.close(self.stdin_fd)
                self.stdin_fd = None
            else:
                self.stdin_once_due = True
        if not c.out and not c.want:
            self._drop(c)

    def _feed(self) -> None:
        try:
            while self.pending:
                n = os.write(self.stdin_fd, self.pending)
                del self.pending[:n]
        except BlockingIOError:
            return
        except OSError:  # the container closed its stdin
            self.pending = bytearray()
        if not self.pending and self.stdin_once_due and not self.stdin_is_pty:
            self.stdin_once_due = False
            os.close(self.stdin_fd)
            self.stdin_fd = None
