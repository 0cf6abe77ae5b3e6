"""dockyard's networking beside a real Docker daemon with its own networking on.

dockerd (docker.io) starts here with its defaults: a docker0 bridge, its iptables chains, and the
FORWARD policy set to DROP. dockyard's user networks, name resolution and published ports must
keep working beside it, and Docker's containers must not get into dockyard's networks. Traffic
goes only to 127.0.0.1 and to the two engines' bridges on this machine. At the end dockerd is
stopped and the host's iptables ruleset and links are put back as they were.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest
from dockyard_interop import DOCKER, docker_answering

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HTTPD = "mkdir -p /www && echo hello-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fetch(port: int, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def docker_with_networking(busybox_tar):
    if not DOCKER or not shutil.which("dockerd") or not shutil.which("iptables-save"):
        pytest.skip("docker.io and iptables are needed (apt-get install docker.io iptables)")
    if docker_answering():
        pytest.skip("a dockerd is already running; this test starts its own with networking on")
    saved = subprocess.run(["iptables-save"], capture_output=True, check=True).stdout
    had_docker0 = os.path.exists("/sys/class/net/docker0")
    env = dict(os.environ, DOCKERD_ARGS="")
    p = subprocess.run(["bash", os.path.join(REPO, ".ci/start-dockerd")], capture_output=True, timeout=120, env=env)
    if p.returncode != 0:
        pytest.skip(f"dockerd could not be started: {p.stderr.decode()[-300:]}")
    # dockerd sets FORWARD to DROP when it is the one turning ip_forward on; on a host where it
    # already was on (dockyard turns it on too) it leaves the policy alone: set it as users have it
    subprocess.run(["iptables", "-P", "FORWARD", "DROP"], check=True)
    image = f"dytest-net-{uuid.uuid4().hex[:8]}:latest"
    try:
        subprocess.run([DOCKER, "import", busybox_tar, image], check=True, capture_output=True, timeout=120)
        yield image
    finally:
        subprocess.run([DOCKER, "rm", "-f", *subprocess.run([DOCKER, "ps", "-aq"], capture_output=True, text=True,
                                                            timeout=60).stdout.split()], capture_output=True)
        subprocess.run([DOCKER, "rmi", "-f", image], capture_output=True, timeout=60)
        subprocess.run(["pkill", "-x", "dockerd"], capture_output=True)
        subprocess.run(["sh", "-c", "for i in $(seq 100); do pgrep -x dockerd >/dev/null || exit 0; sleep 0.2; done"])
        if not had_docker0:
            subprocess.run(["ip", "link", "del", "docker0"], capture_output=True)
        subprocess.run(["iptables-restore"], input=saved, check=True)


def test_dockyard_networks_work_beside_docker_and_stay_apart(dy, busybox, name, docker_with_networking):
    image = docker_with_networking
    forward = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True, check=True).stdout
    assert "-P FORWARD DROP" in forward and "DOCKER" in forward  # the real thing, as users have it
    # docker's own published port works (its docker-proxy and rules)
    dport = _free_port()
    subprocess.run([DOCKER, "run", "-d", "--name", f"{name}-d", "-p", f"127.0.0.1:{dport}:80", image, "sh", "-c",
                    HTTPD], check=True, capture_output=True, timeout=60)
    assert _fetch(dport).startswith("hello-")
    # dockyard: a user network, names, a published port
    dy("network", "create", f"{name}-n")
    port = _free_port()
    dy("run", "-d", "--name", f"{name}-srv", "--network", f"{name}-n", "-p", f"{port}:80", "busybox", "sh", "-c",
       HTTPD)
    out = dy("run", "--rm", "--network", f"{name}-n", "busybox", "sh", "-c",
             f"for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://{name}-srv/ && break; sleep 0.2; done").out
    assert out.startswith("hello-")
    assert _fetch(port).startswith("hello-")
    # from a container on another network, through the published port (PREROUTING's DNAT)
    gw = json.loads(dy("network", "inspect", f"{name}-n").out)[0]["IPAM"]["Config"][0]["Gateway"]
    assert dy("run", "--rm", "busybox", "wget", "-qO-", f"http://{gw}:{port}/").out.startswith("hello-")
    # docker's container cannot get into dockyard's network, except by the published port
    ip = json.loads(dy("inspect", f"{name}-srv").out)[0]["NetworkSettings"]["Networks"][f"{name}-n"]["IPAddress"]
    p = subprocess.run([DOCKER, "run", "--rm", image, "sh", "-c",
                        f"nc -w 2 {ip} 80 </dev/null && echo CONNECTED; ip route"], capture_output=True, text=True,
                       timeout=60)
    assert "CONNECTED" not in p.stdout and "default via 172.17.0.1" in p.stdout, p.stdout + p.stderr
    dy("rm", "-f", f"{name}-srv")
    dy("network", "rm", f"{name}-n")
