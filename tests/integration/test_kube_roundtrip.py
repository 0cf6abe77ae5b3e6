"""Round trips: what runs in one store → `kube generate` → `kube play` in a fresh store (a second
root) → the application answers the same, on the same loopback port. From containers, and from a
running Compose project (web + a client reaching it by its service name)."""

from __future__ import annotations

import json
import socket
import urllib.request

from support import no_traceback, wait_for

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetched(port: int, path: str = "/"):
    def go():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
                return r.read().decode()
        except OSError:
            return None
    return go


@pytest.fixture
def second(dy, tmp_path, _busybox_template):
    """A fresh store with busybox only (the `dy` fixture cleans every store it saw)."""
    import subprocess

    root = str(tmp_path / "root2")
    subprocess.run(["cp", "-a", _busybox_template, root], check=True)
    return type(dy)(root, str(tmp_path / "run2"))


WEB = ("mkdir -p /www && echo \"hello $GREETING from $(hostname)\" > /www/index.html && "
       "echo ok > /www/health && exec httpd -f -p 80 -h /www")


def test_containers_generate_play_serve_the_same(dy, busybox, second, tmp_path):
    port = free_port()
    dy("run", "-d", "--name", "web", "--hostname", "site", "-p", f"127.0.0.1:{port}:80", "-e", "GREETING=kube",
       "-m", "64m", "--cpus", "0.5", "--cap-drop", "NET_RAW", "--security-opt", "no-new-privileges",
       "--health-cmd", "wget -q -O- http://localhost/health", "--health-interval", "2s",
       "busybox", "sh", "-c", WEB)
    before = wait_for(fetched(port), what="the original container")
    assert before == "hello kube from site\n"
    out = tmp_path / "web.yaml"
    gen = dy("kube", "generate", "--service", "-f", str(out), "web")
    assert "container web: Image" in gen.err  # a local image: said, not hidden
    no_traceback(gen)
    import yaml
    import kubernetes_validate as kv

    docs = list(yaml.safe_load_all(out.read_text()))
    for d in docs:
        for v in ("1.28.0", kv.latest_version()):
            kv.validate(d, v, strict=True)
    dy("stop", "-t", "0", "web")  # httpd as PID 1 ignores TERM: no 10 s wait for the kill
    assert second("kube", "play", str(out), timeout=90).out.split() == ["web-pod-0"]
    assert wait_for(fetched(port), what="the played pod") == before
    played = json.loads(second("inspect", "web-pod-0-web").out)[0]
    assert played["HostConfig"]["Memory"] == 64 << 20 and played["HostConfig"]["CapDrop"] == ["CAP_NET_RAW"]  # dockerd's form
    assert "no-new-privileges" in played["HostConfig"]["SecurityOpt"]
    assert played["Config"]["Healthcheck"]["Test"] == ["CMD", "/bin/sh", "-c", "wget -q -O- http://localhost/health"]
    wait_for(lambda: json.loads(second("inspect", "web-pod-0-web").out)[0]["State"].get("Health", {}).get("Status")
             == "healthy", timeout=20, what="the probe, as a health check, healthy")
    second("kube", "down", str(out))
    assert second("ps", "-aq").out == ""
    assert fetched(port)() is None


COMPOSE = """
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && cp /etc/site.txt /www/index.html && echo \\"$$GREETING\\" >> /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["127.0.0.1:PORT:80"]
    env_file: [web.env]
    configs: [{source: site, target: /etc/site.txt}]
  client:
    image: busybox
    command: ["sh", "-c", "while :; do wget -q -O /tmp/seen http://web:80/ ; sleep 0.3; done"]
    depends_on: [web]
configs:
  site: {file: ./site.txt}
"""


def test_compose_project_generate_play_serve_the_same(dy, busybox, second, tmp_path):
    port = free_port()
    proj = tmp_path / "shop"
    proj.mkdir()
    (proj / "compose.yaml").write_text(COMPOSE.replace("PORT", str(port)))
    (proj / "web.env").write_text("GREETING=from env file\n")
    (proj / "site.txt").write_text("site config\n")
    up = dy("compose", "-f", str(proj / "compose.yaml"), "up", "-d", check=False, timeout=120)
    if up.returncode != 0 and "unknown command" in up.err:
        pytest.skip("this build has no `dockyard compose up`")
    assert up.returncode == 0, up.err
    before = wait_for(fetched(port), what="the Compose project's web")
    assert before == "site config\nfrom env file\n"
    # the client reaches web by its service name on the project's network
    wait_for(lambda: dy("exec", "shop-client-1", "cat", "/tmp/seen", check=False).out == before,
             timeout=20, what="the Compose client fetching http://web/")
    out = tmp_path / "shop.yaml"
    dy("kube", "generate", "--compose", "--service", "-f", str(out), str(proj / "compose.yaml"))
    dy("compose", "-f", str(proj / "compose.yaml"), "down", "-t", "0", timeout=120)  # (sh and httpd ignore TERM)
    assert sorted(second("kube", "play", str(out), timeout=120).out.split()) == ["client-pod-0", "web-pod-0"]
    assert wait_for(fetched(port), what="the played web pod") == before
    # the client pod reaches web by its Service's name, as it reached the Compose service
    wait_for(lambda: second("exec", "client-pod-0-client", "cat", "/tmp/seen", check=False).out == before,
             timeout=20, what="the client pod fetching http://web/")
    second("kube", "down", str(out))
    assert second("ps", "-aq").out == "" and second("network", "ls", "-q", "--filter", "name=dockyard-kube").out == ""
