"""GET /containers/{id}/attach/ws: the attach over a WebSocket (RFC 6455), driven by a raw client
written here: the handshake's accept key, raw output in binary frames (text before API 1.28),
stdin from masked frames, ping → pong, close, and frames a server must refuse."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import time

from apiclient import api  # noqa: F401 - a fixture
from support import wait_for


def ws_connect(sock_path: str, path: str) -> socket.socket:
    key = base64.b64encode(os.urandom(16)).decode()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(sock_path)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        got = s.recv(1)
        assert got, head
        head += got
    lines = head.decode().split("\r\n")
    assert lines[0].startswith("HTTP/1.1 101"), head
    want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    assert f"Sec-WebSocket-Accept: {want}" in lines, head
    return s


def send_frame(s: socket.socket, payload: bytes, opcode: int = 2, masked: bool = True) -> None:
    n = len(payload)
    size = n if n < 126 else 126
    head = bytes([0x80 | opcode, (0x80 if masked else 0) | size]) + (struct.pack(">H", n) if n >= 126 else b"")
    if masked:
        mask = os.urandom(4)
        payload = mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    s.sendall(head + payload)


def read_frame(s: socket.socket) -> tuple[int, bytes]:
    def exact(n):
        buf = b""
        while len(buf) < n:
            got = s.recv(n - len(buf))
            if not got:
                raise EOFError
            buf += got
        return buf
    b0, b1 = exact(2)
    assert not b1 & 0x80, "a server's frames are not masked"
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", exact(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", exact(8))[0]
    return b0 & 0x0F, exact(n)


def read_until(s: socket.socket, want: bytes, opcode: int = 2) -> bytes:
    got = b""
    while want not in got:
        op, data = read_frame(s)
        if op == opcode:
            got += data
    return got


def test_attach_over_a_websocket(api, dy):
    cid = api.docker("run", "-di", "--name", "cat1", "--network", "none", "busybox",
                     "sh", "-c", "while read l; do echo got:$l; echo err:$l >&2; done").out.strip()
    s = ws_connect(api.sock, "/v1.44/containers/cat1/attach/ws?stream=1&stdin=1&stdout=1&stderr=1")
    try:
        send_frame(s, b"hello\n")
        out = read_until(s, b"err:hello\n")
        assert b"got:hello\n" in out and b"\x01\x00\x00\x00" not in out  # raw: no stdcopy headers
        send_frame(s, b"ping-data", opcode=9)
        op, data = read_frame(s)
        while op != 10:  # output may come first
            op, data = read_frame(s)
        assert data == b"ping-data"
        send_frame(s, struct.pack(">H", 1000), opcode=8)  # close: the server answers and ends
        op, data = read_frame(s)
        assert op == 8
    finally:
        s.close()
    assert dy("inspect", "-f", "{{.State.Status}}", "cat1").out.strip() == "running"
    # API 1.27: text frames
    s = ws_connect(api.sock, "/v1.27/containers/cat1/attach/ws?stream=1&stdin=1&stdout=1")
    try:
        send_frame(s, b"old\n", opcode=1)
        assert b"got:old\n" in read_until(s, b"got:old\n", opcode=1)
    finally:
        s.close()
    dy("rm", "-f", cid)


def test_websocket_frames_a_server_refuses(api, dy):
    """An unmasked client frame and a frame claiming 2**62 bytes end the attach (close frame,
    nothing buffered); a plain GET without the upgrade is a 400; the container and service go on."""
    api.docker("run", "-di", "--name", "cat2", "--network", "none", "busybox", "cat")
    for frame in (bytes([0x82, 0x03]) + b"abc", bytes([0x82, 0xFF]) + struct.pack(">Q", 1 << 62) + b"mask"):
        s = ws_connect(api.sock, "/containers/cat2/attach/ws?stream=1&stdin=1&stdout=1")
        try:
            s.sendall(frame)
            deadline = time.monotonic() + 10
            op = None
            while op != 8:
                assert time.monotonic() < deadline
                op, _ = read_frame(s)
        finally:
            s.close()
    status, _, out = api.request("GET", "/containers/cat2/attach/ws?stream=1")
    assert status == 400 and b"WebSocket" in out, (status, out)
    wait_for(lambda: dy("inspect", "-f", "{{.State.Status}}", "cat2").out.strip() == "running", what="cat2")
    assert api.request("GET", "/_ping")[2] == b"OK"
    dy("rm", "-f", "cat2")
