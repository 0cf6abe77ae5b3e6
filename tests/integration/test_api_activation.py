"""Socket activation: `dockyard system service --host fd://` serves the listening socket systemd
passes (LISTEN_PID/LISTEN_FDS, descriptor 3), shown here without systemd: the test opens the socket,
a client connects and asks before the service exists, then the service is exec'd as systemd
execs it and answers that client. contrib/systemd/ holds the unit pair that does this for real."""

from __future__ import annotations

import configparser
import json
import os
import socket
import subprocess
import sys
import time

from apiclient import DOCKER

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# what systemd does between fork and exec: the socket at descriptor 3, LISTEN_PID = the pid that execs
LAUNCH = ("import os, sys\n"
          "fd = int(sys.argv[1]); os.dup2(fd, 3); os.close(fd)\n"
          "os.environ.update(LISTEN_PID=str(os.getpid()) if sys.argv[2] == 'self' else sys.argv[2], LISTEN_FDS='1')\n"
          "os.execvp(sys.argv[3], sys.argv[3:])\n")


def _activate(dy, sock: socket.socket, pid: str = "self", *extra: str) -> subprocess.Popen:
    fd = os.dup(sock.fileno())
    return subprocess.Popen([sys.executable, "-c", LAUNCH, str(fd), pid, *dy.cmd("system", "service", "--host", "fd://",
                                                                              *extra)],
                            env=dy.env, pass_fds=(fd,), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_service_takes_the_socket_systemd_passes(dy, busybox, tmp_path):
    path = str(tmp_path / "activated.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(16)
    # a client that comes before the service: the kernel queues it on the passed socket
    early = socket.socket(socket.AF_UNIX)
    early.connect(path)
    early.sendall(b"GET /v1.44/_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    proc = _activate(dy, listener)
    listener.close()  # only the service holds it now
    try:
        early.settimeout(20)
        data = b""
        while chunk := early.recv(65536):
            data += chunk
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"OK"), data
        env = dict(os.environ, DOCKER_HOST=f"unix://{path}", DOCKER_CONFIG=str(tmp_path / "dc"))
        p = subprocess.run([DOCKER, "run", "--rm", "busybox", "echo", "activated"], env=env, capture_output=True,
                           text=True, timeout=60)
        assert (p.returncode, p.stdout) == (0, "activated\n"), p.stderr
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0].decode(errors="replace")
    assert proc.returncode == 0 and "Traceback" not in out, out
    assert os.path.exists(path)  # the socket is systemd's (RemoveOnStop), the service leaves it


def test_activation_refuses_what_is_not_for_it(dy, tmp_path):
    path = str(tmp_path / "other.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(1)
    proc = _activate(dy, listener, "1")  # LISTEN_PID names another process
    out = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 1 and "not this one" in out and "Traceback" not in out, out
    not_listening = socket.socket(socket.AF_UNIX)
    not_listening.bind(str(tmp_path / "idle.sock"))
    proc = _activate(dy, not_listening)
    out = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 1 and "not a listening stream socket" in out, out
    p = subprocess.run(dy.cmd("system", "service", "--host", "fd://"), env=dy.env, capture_output=True, text=True,
                       timeout=20)
    assert p.returncode == 1 and "LISTEN_FDS" in p.stderr and "Traceback" not in p.stderr
    listener.close()
    not_listening.close()


def test_unit_files_ask_for_activation():
    units = os.path.join(REPO, "contrib", "systemd")
    sock = configparser.ConfigParser(strict=False, interpolation=None)
    sock.read(os.path.join(units, "dockyard.socket"))
    assert sock["Socket"]["ListenStream"] == "/run/dockyard/docker.sock"
    assert (sock["Socket"]["SocketMode"], sock["Socket"]["SocketGroup"]) == ("0660", "dockyard")
    svc = configparser.ConfigParser(strict=False, interpolation=None)
    svc.read(os.path.join(units, "dockyard.service"))
    assert "--host fd://" in svc["Service"]["ExecStart"]
    assert svc["Service"]["KillMode"] == "process"  # the containers' monitors outlive the service
    assert json.dumps(dict(svc["Unit"])).count("dockyard.socket") == 2
