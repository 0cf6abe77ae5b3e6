"""`dockyard compose run/logs/exec/stop/start/rm` and a foreground `up`: one-off containers (labels,
--rm, depends_on conditions honoured, which Compose v2 does not), service-prefixed logs, and the
files a service is given (secrets, configs, binds, tmpfs)."""

from __future__ import annotations

import json

import pytest

FILE = """
services:
  db:
    image: busybox:latest
    command: ["sh", "-c", "echo db-starting; sleep 1; touch /tmp/ready; exec sleep 600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 300ms
      retries: 20
  job:
    image: busybox:latest
    command: ["sh", "-c", "echo job-line-1; echo job-line-2; echo job-err >&2"]
    environment:
      FROM_FILE: yes-it-is
    depends_on:
      db: {condition: service_healthy}
    secrets: [token]
    configs:
      - source: settings
        target: /etc/settings.conf
    volumes:
      - ./hostdir:/host:ro
    tmpfs: [/scratch]
secrets:
  token: {file: ./token.txt}
configs:
  settings: {file: ./settings.conf}
"""


@pytest.fixture
def compose(dy, busybox, tmp_path, name):
    (tmp_path / "compose.yaml").write_text(FILE)
    (tmp_path / "token.txt").write_text("s3cret\n")
    (tmp_path / "settings.conf").write_text("mode=test\n")
    (tmp_path / "hostdir").mkdir()
    (tmp_path / "hostdir" / "f").write_text("from-host\n")

    def run(*args, check=True, timeout=90):
        return dy("compose", "-f", str(tmp_path / "compose.yaml"), "-p", name, "--progress", "plain", *args,
                  check=check, timeout=timeout)

    yield run
    run("down", "-v", "-t", "0", check=False)


def test_run_rm_waits_for_a_healthy_dependency_and_leaves_nothing(dy, compose, name):
    r = compose("run", "--rm", "-T", "-e", "EXTRA=1", "job", "sh", "-c",
                "cat /run/secrets/token /etc/settings.conf /host/f; echo $FROM_FILE $EXTRA; "
                "mount | grep -c ' /scratch type tmpfs'; "
                "touch /host/f 2>/dev/null && echo writable || echo read-only")
    assert r.out == "s3cret\nmode=test\nfrom-host\nyes-it-is 1\n1\nread-only\n"
    # the dependency was started and was healthy before the one-off ran
    assert f"Container {name}-db-1  Healthy" in r.err
    assert dy("inspect", "-f", "{{.State.Health.Status}}", f"{name}-db-1").out.strip() == "healthy"
    left = dy("ps", "-a", "--filter", f"label=com.docker.compose.project={name}", "--format", "{{.Names}}").out.split()
    assert left == [f"{name}-db-1"]  # the one-off is gone


def test_run_keeps_a_oneoff_labelled_and_named_as_v2(dy, compose, name):
    assert compose("run", "-T", "--no-deps", "job", "true").returncode == 0
    ids = dy("ps", "-aq", "--filter", "label=com.docker.compose.oneoff=True",
             "--filter", f"label=com.docker.compose.project={name}").out.split()
    assert len(ids) == 1
    doc = json.loads(dy("inspect", ids[0]).out)[0]
    assert doc["Name"].lstrip("/").startswith(f"{name}-job-run-")
    assert doc["Config"]["Labels"]["com.docker.compose.service"] == "job"
    assert dy("ps", "-aq", "--filter", f"name={name}-db-1").out == ""  # --no-deps: db never made
    r = compose("run", "-T", "--no-deps", "--name", f"{name}-named", "--entrypoint", "echo", "job", "via-entrypoint")
    assert r.out == "via-entrypoint\n"
    compose("rm", "-f")
    assert dy("ps", "-aq", "--filter", f"label=com.docker.compose.project={name}").out == ""


def test_foreground_up_prefixes_logs_and_logs_command(dy, compose, name):
    r = compose("up", "job", timeout=120)
    lines = r.out.splitlines()
    assert "job-1  | job-line-1" in lines and "job-1  | job-line-2" in lines
    assert not any(line.startswith("db-1") for line in lines)  # dependencies are not attached (v2's rule)
    assert "job-1 exited with code 0" in lines
    logs = compose("logs", "--no-log-prefix", "job").out
    assert logs.splitlines()[:2] == ["job-line-1", "job-line-2"]
    assert compose("logs", "--tail", "1", "job").out == "job-1  | job-err\n"
    assert compose("logs", "db").out.startswith("db-1  | db-starting\n")
    # stop, start, ps -a
    compose("stop", "-t", "0", "db")
    assert dy("inspect", "-f", "{{.State.Status}}", f"{name}-db-1").out.strip() == "exited"
    compose("start", "db")
    assert dy("inspect", "-f", "{{.State.Status}}", f"{name}-db-1").out.strip() == "running"
    assert sorted(compose("ps", "-a", "--format", "{{.Service}} {{.State}}").out.splitlines()) == \
        ["db running", "job exited"]
