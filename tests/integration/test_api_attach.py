"""Attach through the Engine API with docker CLI 28: `run -it` in a pty, `attach` with detach keys,
`start -a`, `run -i` with StdinOnce, resize, and a client that leaves mid-attach."""

from __future__ import annotations

import json
import socket
import sys
import time

from apiclient import DOCKER, UnixHTTP, api, frames  # noqa: F401 - api is a fixture
from support import Pty, assert_nothing_left, wait_for

EXEC = "import os, sys; os.execv(sys.argv[1], sys.argv[1:])"


class _Env:
    def __init__(self, env) -> None:
        self.env = env


def docker_pty(api, *args: str, rows: int = 24, cols: int = 80) -> Pty:
    """The docker CLI on a real terminal, talking to our service."""
    return Pty(_Env(api.env), argv=[sys.executable, "-c", EXEC, DOCKER, *args], rows=rows, cols=cols)


def test_docker_run_it_in_a_pty(api, dy, tmp_path):
    t = docker_pty(api, "run", "-it", "--rm", "--network", "none", "busybox", "sh", rows=33, cols=101)
    try:
        at = t.expect(rb"/ # ", timeout=20)
        t.send(b"echo $((6*7)); stty size\r")
        at = t.expect(rb"42\r\n33 101\r\n", start=at)  # the terminal's size reached the container
        t.send(b"exit 3\r")
        assert t.wait() == 3, t.buf
    finally:
        t.kill()
    wait_for(lambda: dy("ps", "-aq").out == "", what="--rm")
    assert_nothing_left(dy, tmp_path)


def test_docker_attach_detach_keys_and_reattach(api, dy, tmp_path):
    cid = api.docker("run", "-dit", "--name", "sh1", "--network", "none", "busybox", "sh").out.strip()
    t = docker_pty(api, "attach", "sh1")
    try:
        time.sleep(0.5)
        t.send(b"echo first-$((1+1))\r")
        at = t.expect(rb"first-2")
        t.send(b"\x10\x11")  # ctrl-p ctrl-q: the default detach keys
        assert t.wait() == 1, t.buf  # docker's CLI ends a detach with the error "read escape sequence"
        assert b"read escape sequence" in t.buf[at:]
    finally:
        t.kill()
    assert dy("inspect", "-f", "{{.State.Status}}", "sh1").out.strip() == "running"
    # custom keys, then the shell exits through the attachment: docker attach returns its code
    t = docker_pty(api, "attach", "--detach-keys", "ctrl-x,y", "sh1")
    try:
        time.sleep(0.5)
        t.send(b"echo second-$((2+2))\r")
        t.expect(rb"second-4")
        t.send(b"exit 7\r")
        assert t.wait() == 7, t.buf
    finally:
        t.kill()
    assert api.json("POST", f"/v1.44/containers/{cid}/wait") == {"StatusCode": 7}
    # a stopped container cannot be attached (docker's words and exit code)
    p = api.docker("attach", "sh1", check=False)
    assert p.returncode == 1 and "You cannot attach to a stopped container" in p.err
    api.docker("rm", "sh1")
    assert_nothing_left(dy, tmp_path)


def test_docker_start_attach_and_run_i(api, dy, tmp_path):
    api.docker("create", "--name", "once", "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2; exit 5")
    p = api.docker("start", "-a", "once", check=False)
    assert (p.returncode, p.out, p.err) == (5, "out\n", "err\n")
    # -i: stdin reaches the container, and its end closes the container's stdin (StdinOnce)
    api.docker("create", "-i", "--name", "cat", "--network", "none", "busybox", "sh", "-c", "wc -l")
    assert json.loads(api.docker("inspect", "cat").out)[0]["Config"]["StdinOnce"] is True
    p = api.docker("start", "-ai", "cat", input=b"1\n2\n3\n")
    assert p.out.strip() == "3"
    # a detached -i container keeps stdin open across attachers
    api.docker("run", "-di", "--name", "keep", "--network", "none", "busybox", "sh", "-c",
               "while read l; do echo got $l; done")
    conn = UnixHTTP(api.sock)
    conn.putrequest("POST", "/v1.44/containers/keep/attach?stream=1&stdin=1&stdout=1")
    conn.putheader("Connection", "Upgrade")
    conn.putheader("Upgrade", "tcp")
    conn.endheaders()
    s = conn.sock
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    s.sendall(b"one\n")
    data = b""
    while b"got one" not in data:
        data += s.recv(4096)
    s.shutdown(socket.SHUT_WR)  # our stdin ends; the container's does not (StdinOnce is false)
    time.sleep(0.3)
    s.close()
    assert frames(data) == [(1, b"got one\n")]
    assert dy("inspect", "-f", "{{.State.Status}}", "keep").out.strip() == "running"
    api.docker("rm", "-f", "once", "cat", "keep")
    assert_nothing_left(dy, tmp_path)


def test_client_leaving_mid_attach_leaves_all_well(api, dy, tmp_path):
    api.docker("run", "-dit", "--name", "talk", "--network", "none", "busybox", "sh", "-c",
               "while true; do echo tick; sleep 0.05; done")
    for _ in range(3):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(api.sock)
            s.sendall(b"POST /v1.44/containers/talk/attach?stream=1&stdout=1&stdin=1 HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
            got = b""
            while b"tick" not in got:
                got += s.recv(4096)
            assert got.startswith(b"HTTP/1.1 101")
        # gone without a word, mid-stream
    time.sleep(0.5)
    assert dy("inspect", "-f", "{{.State.Status}}", "talk").out.strip() == "running"
    assert api.request("GET", "/_ping")[0] == 200
    assert "tick" in api.docker("logs", "--tail", "1", "talk").out  # the monitor still drains it
    # resize of a TTY container through the API reaches its terminal
    api.docker("run", "-dit", "--name", "sz", "--network", "none", "busybox", "sh")
    status, _, _ = api.request("POST", "/v1.44/containers/sz/resize?h=40&w=120")
    assert status == 200
    assert api.docker("exec", "sz", "stty", "size", "-F", "/proc/1/fd/0").out.strip() == "40 120"
    api.docker("rm", "-f", "talk", "sz")
    assert_nothing_left(dy, tmp_path)
