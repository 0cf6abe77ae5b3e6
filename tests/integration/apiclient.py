"""The Engine API service for a test: started on a socket in the test's tmp_path with the test's
own --root/--runroot, a raw HTTP client over that socket, and the docker CLI pointed at it."""

from __future__ import annotations

import http.client
import json
import os
import socket
import struct
import subprocess
import time

import pytest

DOCKER = "/usr/local/bin/docker"


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Service:
    def __init__(self, dy, sock: str, *extra: str) -> None:
        self.dy, self.sock = dy, sock
        self.log = open(sock + ".log", "wb")
        self.proc = subprocess.Popen(dy.cmd("system", "service", "--host", f"unix://{sock}", *extra), env=dy.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while not os.path.exists(sock):
            assert self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.05)
        env = {k: v for k, v in dy.env.items() if k not in ("DOCKER_API_VERSION", "DOCKER_CONTEXT")}
        self.env = dict(env, DOCKER_HOST=f"unix://{sock}", DOCKER_CONFIG=os.path.dirname(sock) + "/docker-config")

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")

    def docker(self, *args: str, check: bool = True, timeout: float = 60, input: bytes | None = None):
        p = subprocess.run([DOCKER, *args], env=self.env, capture_output=True, timeout=timeout, input=input)
        p.out, p.err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        if check and p.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {p.returncode}:\n{p.err}{p.out}\n{self.output()}")
        return p

    def request(self, method: str, path: str, body=None, headers: dict | None = None):
        """(status, headers, body bytes)."""
        conn = UnixHTTP(self.sock)
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        hdrs = dict(headers or {})
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        out = r.read()
        conn.close()
        return r.status, r.headers, out

    def json(self, method: str, path: str, body=None, expect: int = 200):
        status, _, out = self.request(method, path, body)
        assert status == expect, (status, out)
        return json.loads(out) if out.strip() else None

    def children(self) -> list[int]:
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def stop(self) -> None:
        """SIGTERM, as systemd stops it; its zygote (and nothing else of it) must go too."""
        kids = self.children()
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        self.log.close()
        deadline = time.monotonic() + 10
        while any(os.path.exists(f"/proc/{k}") and _comm(k) == "dockyard-zygote" for k in kids):
            assert time.monotonic() < deadline, "the service's zygote outlived it"
            time.sleep(0.05)


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def frames(data: bytes) -> list[tuple[int, bytes]]:
    """stdcopy frames: [(stream id, payload)]; asserts the framing is whole."""
    out = []
    while data:
        assert len(data) >= 8, data
        sid, size = struct.unpack(">BxxxL", data[:8])
        out.append((sid, data[8:8 + size]))
        assert len(data) >= 8 + size
        data = data[8 + size:]
    return out


@pytest.fixture
def api(dy, busybox, tmp_path):
    """The service on <tmp_path>/docker.sock over the test's own store (with busybox in it)."""
    svc = Service(dy, str(tmp_path / "docker.sock"))
    yield svc
    svc.stop()
    assert "Traceback" not in svc.output(), svc.output()
