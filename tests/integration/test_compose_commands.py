"""The smaller `dockyard compose` commands on a running project: build (and `down --rmi local`),
--wait, port, images, top, cp, pause/unpause, kill, wait, restart, ls, version; and flags that
conflict or are unknown are refused clearly."""

from __future__ import annotations

import json
import time

FILE = """
services:
  app:
    build:
      context: ./app
      args:
        GREETING: built-with-arg
    ports:
      - "127.0.0.1::8080"
    healthcheck:
      test: ["CMD", "test", "-f", "/greeting"]
      interval: 200ms
  once:
    image: busybox:latest
    command: ["sh", "-c", "exit 3"]
    restart: "no"
"""


def test_build_wait_and_the_small_commands(dy, busybox, tmp_path, name):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(
        "FROM busybox:latest\nARG GREETING\nRUN echo $GREETING > /greeting\n"
        'CMD ["sh", "-c", "trap \'exit 0\' TERM; while :; do sleep 1 & wait; done"]\n')
    (tmp_path / "compose.yaml").write_text(FILE)
    base = ("compose", "-f", str(tmp_path / "compose.yaml"), "-p", name, "--progress", "plain")

    def compose(*args, check=True, timeout=120):
        return dy(*base, *args, check=check, timeout=timeout)

    try:
        r = compose("up", "-d", "--wait", "app")
        assert f"Service app  Built" in r.err and f"Container {name}-app-1  Healthy" in r.err
        assert dy("inspect", "-f", "{{.State.Health.Status}}", f"{name}-app-1").out.strip() == "healthy"
        assert compose("exec", "-T", "app", "cat", "/greeting").out == "built-with-arg\n"
        hostport = compose("port", "app", "8080").out.strip()
        assert hostport.startswith("127.0.0.1:") and int(hostport.rsplit(":", 1)[1]) > 0
        images = compose("images", "--format", "json").out
        assert json.loads(images)[0]["Repository"] == f"{name}-app"
        assert "sleep" in compose("top", "app").out
        (tmp_path / "in.txt").write_text("copied-in\n")
        compose("cp", str(tmp_path / "in.txt"), "app:/in.txt")
        compose("cp", "app:/in.txt", str(tmp_path / "out.txt"))
        assert (tmp_path / "out.txt").read_text() == "copied-in\n"
        compose("pause", "app")
        assert dy("inspect", "-f", "{{.State.Status}}", f"{name}-app-1").out.strip() == "paused"
        compose("unpause", "app")
        assert dy("inspect", "-f", "{{.State.Status}}", f"{name}-app-1").out.strip() == "running"
        ls = json.loads(compose("ls", "--format", "json").out)
        assert any(p["Name"] == name and p["Status"] == "running(1)" for p in ls)
        compose("restart", "-t", "1", "app")
        assert dy("inspect", "-f", "{{.State.Status}}", f"{name}-app-1").out.strip() == "running"
        compose("kill", "-s", "SIGKILL", "app")  # sent, not awaited (as docker's kill): the exit follows
        deadline = time.monotonic() + 10
        while dy("inspect", "-f", "{{.State.Status}}", f"{name}-app-1").out.strip() != "exited":
            assert time.monotonic() < deadline, "the killed container never exited"
            time.sleep(0.1)
        compose("up", "-d", "once")
        assert compose("wait", "once", check=False).out.strip() == "3"
        assert compose("version", "--short").out.strip()
        # refusals: conflicting and unknown flags, unknown services
        for args, words in ((("up", "--no-recreate", "--force-recreate"), "incompatible"),
                            (("up", "--bogus"), "unknown flag"), (("up", "-d", "nosuch"), "no such service"),
                            (("down", "--rmi", "some"), "--rmi"), (("frobnicate",), "unknown")):
            r = compose(*args, check=False)
            assert r.returncode != 0 and words in r.err and "Traceback" not in r.err, (args, r.err)
        compose("down", "--rmi", "local", "-t", "0")
        assert dy("inspect", f"{name}-app", check=False).returncode != 0  # the built image went
        assert dy("inspect", "busybox:latest").returncode == 0  # a named image stays
    finally:
        dy(*base, "down", "-v", "-t", "0", check=False)
