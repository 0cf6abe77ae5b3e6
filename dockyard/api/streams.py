"""Container output on the wire: stdcopy's 8-byte frames, and the json-file log read as a stream
(`logs` with follow/tail/timestamps/since/until, and `attach`, which follows the log from the
moment it attached, as the monitor holds the container's stdio and writes it there).

A frame is [stream, 0, 0, 0, size (4 bytes big-endian)] + payload; stream 1 is stdout, 2 stderr.
A container with a TTY has one stream, sent raw.
"""

from __future__ import annotations

import json
import os
import struct
import time

from dockyard.engine.status import ACTIVE, effective_state
from dockyard.errors import ContainerNotFound

STREAM_IDS = {"stdin": 0, "stdout": 1, "stderr": 2}
RAW = "application/vnd.docker.raw-stream"
MULTIPLEXED = "application/vnd.docker.multiplexed-stream"


def frame(stream: str, data: bytes) -> bytes:
    return struct.pack(">BxxxL", STREAM_IDS[stream], len(data)) + data


def content_type(req, tty: bool) -> str:
    """API 1.42 names the multiplexed stream; older clients get raw-stream for both."""
    return MULTIPLEXED if not tty and req.version >= (1, 42) else RAW


def log_path(engine, cid: str) -> str:
    return os.path.join(engine.container_data_dir(cid), f"{cid}-json.log")


def encode(rec: dict, *, tty: bool, timestamps: bool, prefix: str = "") -> bytes:
    """A log record as the API sends it: `prefix` (logs' details), timestamped if asked, framed
    unless the container has a TTY."""
    data = (prefix + rec.get("log", "")).encode()
    if timestamps:
        data = rec.get("time", "").encode() + b" " + data
    return data if tty else frame(rec.get("stream", "stdout"), data)


class Follower:
    """Records appended to a json-file log after it was opened, read through one descriptor so a
    log removed with its container (`--rm`) is still read to its end; a rotation is followed to
    the new file once the old one is drained."""

    def __init__(self, path: str, *, from_start: bool) -> None:
        self.path = path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self.buf = b""
        if not from_start:
            os.lseek(self.fd, 0, os.SEEK_END)

    def read(self) -> list[dict]:
        out = []
        while True:
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                break
            self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        if not out and not self.buf and self._rotated():
            os.close(self.fd)
            self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            return self.read()
        return out

    def _rotated(self) -> bool:
        try:
            return os.stat(self.path).st_ino != os.fstat(self.fd).st_ino
        except OSError:
            return False

    def close(self) -> None:
        os.close(self.fd)


def _state(engine, cid: str) -> dict | None:
    try:
        return effective_state(engine.db.get_container(cid), engine.db)
    except ContainerNotFound:
        return None


def hung_up(sock) -> bool:
    """The client closed its end (a read would give EOF): nobody is left to stream to. For a
    plain HTTP answer (logs), where a client sends nothing more."""
    import select
    import socket

    try:
        ready, _, _ = select.select([sock], [], [], 0)
        return bool(ready) and sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def gone(sock) -> bool:
    """The client's socket is gone altogether (POLLHUP/POLLERR), for a hijacked stream (attach):
    there the client shuts its writing half down when it has no stdin to send (docker's CLI
    does), and that EOF must not end the output. A unix socket reports a closed peer this way;
    over TCP a departed client is noticed at the next write."""
    import select

    p = select.poll()
    p.register(sock, select.POLLHUP | select.POLLERR)
    return any(ev & (select.POLLHUP | select.POLLERR) for _, ev in p.poll(0))


def follow(engine, cid: str, follower: Follower, emit, *, until_exit_of_next_run: bool, poll: float = 0.05,
           left=None) -> None:
    """Feed `emit` every new record until the container is not running (or is gone); with
    `until_exit_of_next_run` (attach before start), a container not yet started is waited for.
    Ends early when `left()` says the client is gone."""
    st = _state(engine, cid)
    first = (st or {}).get("StartedAt")
    while True:
        if left is not None and left():
            return
        records = follower.read()
        for r in records:
            emit(r)
        if records:
            continue
        st = _state(engine, cid)
        if st is None:
            for r in follower.read():
                emit(r)
            return
        started = st.get("StartedAt") != first or st.get("Status") in ACTIVE
        if st.get("Status") not in ACTIVE and (started or not until_exit_of_next_run):
            for r in follower.read():
                emit(r)
            return
        time.sleep(poll)
