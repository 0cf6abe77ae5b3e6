"""`dockyard compose up/down/ps`: a project's containers, network and volumes made as Docker
Compose v2 makes them (names, labels), services finding each other by name, scale, recreate on
change only, depends_on conditions, and refusals that leave nothing behind."""

from __future__ import annotations

import json
import time

import pytest

WEB = """
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "mkdir -p /srv && echo hello-from-web > /srv/index.html && exec httpd -f -p 80 -h /srv"]
    environment:
      GREETING: one
    volumes:
      - data:/data
  client:
    image: busybox:latest
    command: ["sleep", "600"]
    volumes:
      - type: volume
        source: data
        target: /shared
volumes:
  data:
    labels:
      owner: tests
"""


@pytest.fixture
def project(dy, busybox, tmp_path, name):
    """(compose(*args), project name, compose file): `down -v` runs at the end whatever happened."""
    f = tmp_path / "compose.yaml"
    f.write_text(WEB)

    def compose(*args, check=True, timeout=90):
        return dy("compose", "-f", str(f), "-p", name, "--progress", "plain", *args, check=check, timeout=timeout)

    yield compose, name, f
    compose("down", "-v", "-t", "0", check=False)


def _inspect(dy, ref) -> dict:
    return json.loads(dy("inspect", ref).out)[0]


def test_up_down_with_network_volume_labels_and_names(dy, project):
    compose, p, f = project
    r = compose("up", "-d")
    assert f" Container {p}-web-1  Started" in r.err
    assert f" Network {p}_default  Created" in r.err
    web = _inspect(dy, f"{p}-web-1")
    lab = web["Config"]["Labels"]
    assert lab["com.docker.compose.project"] == p
    assert lab["com.docker.compose.service"] == "web"
    assert lab["com.docker.compose.container-number"] == "1"
    assert lab["com.docker.compose.oneoff"] == "False"
    assert lab["com.docker.compose.project.config_files"] == str(f)
    assert lab["com.docker.compose.project.working_dir"] == str(f.parent)
    assert lab["com.docker.compose.image"].startswith("sha256:")
    assert len(lab["com.docker.compose.config-hash"]) == 64
    assert "GREETING=one" in web["Config"]["Env"]
    net = json.loads(dy("network", "inspect", f"{p}_default").out)[0]
    assert net["Labels"]["com.docker.compose.network"] == "default"
    assert net["Labels"]["com.docker.compose.project"] == p
    vol = json.loads(dy("volume", "inspect", f"{p}_data").out)[0]
    assert vol["Labels"]["com.docker.compose.volume"] == "data"
    assert vol["Labels"]["owner"] == "tests"
    # the named volume is shared: what one service writes the other reads
    compose("exec", "-T", "web", "sh", "-c", "echo shared-bytes > /data/f")
    assert compose("exec", "-T", "client", "cat", "/shared/f").out == "shared-bytes\n"
    # the same project through the engine's own label filter
    listed = dy("ps", "--filter", f"label=com.docker.compose.project={p}", "--format", "{{.Names}}").out.split()
    assert sorted(listed) == [f"{p}-client-1", f"{p}-web-1"]
    ps = compose("ps", "--format", "json").out.splitlines()
    assert sorted(json.loads(x)["Service"] for x in ps) == ["client", "web"]
    assert compose("ps", "--services").out.split() == ["client", "web"]
    # down keeps named volumes; down -v removes them
    compose("down", "-t", "0")
    assert dy("ps", "-aq", "--filter", f"label=com.docker.compose.project={p}").out == ""
    assert dy("network", "inspect", f"{p}_default", check=False).returncode != 0
    assert dy("volume", "inspect", f"{p}_data", check=False).returncode == 0
    compose("up", "-d")
    assert compose("exec", "-T", "client", "cat", "/shared/f").out == "shared-bytes\n"  # kept across down/up
    compose("down", "-v", "-t", "0")
    assert dy("volume", "inspect", f"{p}_data", check=False).returncode != 0
    assert dy("network", "inspect", f"{p}_default", check=False).returncode != 0


def test_services_find_each_other_by_name_and_scale_shares_it(dy, project):
    compose, p, _ = project
    compose("up", "-d", "--scale", "web=3")
    assert sorted(dy("ps", "--format", "{{.Names}}").out.split()) == \
        sorted([f"{p}-client-1", f"{p}-web-1", f"{p}-web-2", f"{p}-web-3"])
    # by service name (every replica answers to it) and by container name
    deadline = time.monotonic() + 10
    while True:
        r = compose("exec", "-T", "client", "wget", "-qO-", "http://web/", check=False)
        if r.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.out == "hello-from-web\n"
    assert compose("exec", "-T", "client", "wget", "-qO-", f"http://{p}-web-2/").out == "hello-from-web\n"
    addresses = {line.split()[-1] for line in compose("exec", "-T", "client", "nslookup", "web").out.splitlines()
                 if line.startswith("Address") and "#" not in line and "127.0.0.11" not in line}
    ips = {_inspect(dy, f"{p}-web-{i}")["NetworkSettings"]["Networks"][f"{p}_default"]["IPAddress"] for i in (1, 2, 3)}
    assert addresses == ips
    # scaling down removes the highest numbers
    compose("up", "-d", "--scale", "web=1")
    assert sorted(dy("ps", "-a", "--format", "{{.Names}}").out.split()) == [f"{p}-client-1", f"{p}-web-1"]


def test_up_again_recreates_only_the_changed_service(dy, project):
    compose, p, f = project
    compose("up", "-d")
    before = {s: _inspect(dy, f"{p}-{s}-1") for s in ("web", "client")}
    r = compose("up", "-d")
    assert f" Container {p}-web-1  Running" in r.err
    same = {s: _inspect(dy, f"{p}-{s}-1") for s in ("web", "client")}
    assert {s: (d["Id"], d["State"]["StartedAt"]) for s, d in same.items()} == \
        {s: (d["Id"], d["State"]["StartedAt"]) for s, d in before.items()}
    f.write_text(WEB.replace("GREETING: one", "GREETING: two"))
    r = compose("up", "-d")
    assert f" Container {p}-web-1  Recreate" in r.err
    after = {s: _inspect(dy, f"{p}-{s}-1") for s in ("web", "client")}
    assert after["web"]["Id"] != before["web"]["Id"]
    assert "GREETING=two" in after["web"]["Config"]["Env"]
    assert after["web"]["State"]["Running"]
    assert (after["client"]["Id"], after["client"]["State"]["StartedAt"]) == \
        (before["client"]["Id"], before["client"]["State"]["StartedAt"])
    # --force-recreate recreates even so; --no-recreate never
    compose("up", "-d", "--no-recreate", "client")
    assert _inspect(dy, f"{p}-client-1")["Id"] == before["client"]["Id"]
    compose("up", "-d", "--force-recreate", "client")
    assert _inspect(dy, f"{p}-client-1")["Id"] != before["client"]["Id"]


HEALTHY = """
services:
  db:
    image: busybox:latest
    command: ["sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 300ms
      retries: 20
  app:
    image: busybox:latest
    command: ["sleep", "600"]
    depends_on:
      db:
        condition: service_healthy
"""


def test_depends_on_service_healthy_orders_the_start(dy, busybox, tmp_path, name):
    f = tmp_path / "compose.yaml"
    f.write_text(HEALTHY)
    try:
        r = dy("compose", "-f", str(f), "-p", name, "--progress", "plain", "up", "-d")
        assert r.err.index(f"Container {name}-db-1  Healthy") < r.err.index(f"Container {name}-app-1  Starting")
        db, app = (_inspect(dy, f"{name}-{s}-1") for s in ("db", "app"))
        assert db["State"]["Health"]["Status"] == "healthy"
        first_ok = min(e["End"] for e in db["State"]["Health"]["Log"] if e["ExitCode"] == 0)
        assert app["State"]["StartedAt"] > first_ok  # RFC 3339 in UTC: ordered as text
        assert app["Config"]["Labels"]["com.docker.compose.depends_on"] == "db:service_healthy:false"
    finally:
        dy("compose", "-f", str(f), "-p", name, "down", "-t", "0", check=False)


UNHEALTHY = """
services:
  db:
    image: busybox:latest
    command: ["sleep", "600"]
    healthcheck:
      test: ["CMD-SHELL", "echo probe-says-no; exit 1"]
      interval: 200ms
      retries: 2
  app:
    image: busybox:latest
    command: ["sleep", "600"]
    depends_on:
      db: {condition: service_healthy}
"""


def test_unhealthy_dependency_and_wait_name_the_service_and_its_probe(dy, busybox, tmp_path, name):
    f = tmp_path / "compose.yaml"
    f.write_text(UNHEALTHY)
    base = ("compose", "-f", str(f), "-p", name)
    try:
        r = dy(*base, "up", "-d", check=False)
        assert r.returncode != 0
        assert f"container {name}-db-1 is unhealthy" in r.err
        assert "Traceback" not in r.err
        assert dy("inspect", "-f", "{{.State.Status}}", f"{name}-app-1").out.strip() == "created"
        r = dy(*base, "up", "-d", "--wait", "--wait-timeout", "20", "db", check=False)
        assert r.returncode != 0
        assert "service 'db'" in r.err and "unhealthy" in r.err and "probe-says-no" in r.err
    finally:
        dy(*base, "down", "-t", "0", check=False)


def test_a_key_dockyard_cannot_honour_is_refused_naming_service_and_key(dy, busybox, tmp_path, name):
    f = tmp_path / "compose.yaml"
    f.write_text("services:\n  web:\n    image: busybox:latest\n    deploy:\n      placement:\n"
                 "        constraints: [node.role==manager]\n")
    r = dy("compose", "-f", str(f), "-p", name, "up", "-d", check=False)
    assert r.returncode != 0 and "Traceback" not in r.err
    assert "'web'" in r.err and "deploy.placement" in r.err
    assert dy("ps", "-aq").out == ""
    assert dy("network", "inspect", f"{name}_default", check=False).returncode != 0


def test_without_the_file_dash_p_finds_the_project_by_its_labels(dy, project, tmp_path):
    compose, p, f = project
    compose("up", "-d")
    f.rename(tmp_path / "gone.yaml")  # the file is gone: v2 still lists and takes the project down by -p
    by_name = ("compose", "-p", p, "--progress", "plain")
    assert sorted(dy(*by_name, "ps", "--format", "{{.Name}}").out.split()) == [f"{p}-client-1", f"{p}-web-1"]
    dy(*by_name, "down", "-v", "-t", "0")
    assert dy("ps", "-aq", "--filter", f"label=com.docker.compose.project={p}").out == ""
    assert dy("volume", "inspect", f"{p}_data", check=False).returncode != 0
    assert dy("network", "inspect", f"{p}_default", check=False).returncode != 0
    r = dy(*by_name, "up", "-d", check=False)  # up needs the file
    assert r.returncode != 0 and "no configuration file" in r.err


def test_a_recreate_keeps_anonymous_volume_data_and_down_v_removes_it(dy, busybox, tmp_path, name):
    f = tmp_path / "compose.yaml"
    text = "services:\n  s:\n    image: busybox:latest\n    command: [sleep, '600']\n    environment: {V: '%s'}\n" \
           "    volumes: [/anon]\n"
    f.write_text(text % "1")
    base = ("compose", "-f", str(f), "-p", name, "--progress", "plain")
    try:
        dy(*base, "up", "-d")
        dy(*base, "exec", "-T", "s", "sh", "-c", "echo kept > /anon/f")
        before = len(dy("volume", "ls", "-q").out.split())
        f.write_text(text % "2")
        assert f"Container {name}-s-1  Recreate" in dy(*base, "up", "-d").err
        assert dy(*base, "exec", "-T", "s", "cat", "/anon/f").out == "kept\n"
        assert len(dy("volume", "ls", "-q").out.split()) == before  # the same volume, not a new one
        dy(*base, "down", "-v", "-t", "0")
        assert dy("volume", "ls", "-q").out == ""
    finally:
        dy(*base, "down", "-v", "-t", "0", check=False)
