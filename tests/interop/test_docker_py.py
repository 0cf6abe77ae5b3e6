"""docker-py (the official Python SDK, `pip install docker`) against `dockyard system service`:
containers.run detached and with remove, logs, images, networks and volumes, on the test's own
store; what it made is what the dockyard CLI sees."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

docker = pytest.importorskip("docker")


@pytest.fixture
def client(dy, tmp_path):
    dy("bootstrap", "busybox", "busybox:latest", timeout=120)
    sock = str(tmp_path / "docker.sock")
    log = open(tmp_path / "service.log", "wb")
    proc = subprocess.Popen(dy.cmd("system", "service", "--host", f"unix://{sock}"), env=dy.env, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while not os.path.exists(sock):
        assert proc.poll() is None and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.05)
    c = docker.DockerClient(base_url=f"unix://{sock}", version="auto", timeout=60)
    yield c
    c.close()
    proc.terminate()
    proc.wait(20)
    log.close()
    text = (tmp_path / "service.log").read_text(errors="replace")
    assert "Traceback" not in text, text


def test_docker_py_containers_images_networks_volumes(client, dy):
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.44"
    # run and remove: the output comes back, nothing is left
    out = client.containers.run("busybox", ["sh", "-c", "echo from docker-py"], remove=True, network_mode="none")
    assert out == b"from docker-py\n"
    assert dy("ps", "-aq").out == ""
    # a failing command: ContainerError with its exit status and stderr
    with pytest.raises(docker.errors.ContainerError) as e:
        client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], network_mode="none", remove=True)
    assert e.value.exit_status == 3 and b"bad" in e.value.stderr
    # detached: logs, list, reload, stop, wait, remove
    c = client.containers.run("busybox", ["sh", "-c", "echo one; echo two; sleep 60"], detach=True, name="pyweb",
                              labels={"via": "docker-py"}, network_mode="none")
    assert c.id in dy("ps", "-q", "--no-trunc").out.split()
    deadline = time.monotonic() + 10
    while c.logs() != b"one\ntwo\n":
        assert time.monotonic() < deadline, c.logs()
        time.sleep(0.05)
    assert c.logs(tail=1) == b"two\n"
    assert [x.name for x in client.containers.list(filters={"label": "via=docker-py"})] == ["pyweb"]
    c.reload()
    assert c.status == "running" and c.attrs["Config"]["Labels"] == {"via": "docker-py"}
    c.stop(timeout=1)
    assert c.wait()["StatusCode"] == 137
    assert dy("inspect", "-f", "{{.State.Status}}", "pyweb").out.strip() == "exited"
    c.start()
    code, output = c.exec_run(["sh", "-c", "echo exec-out"])
    assert (code, output) == (0, b"exec-out\n")
    c.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("pyweb")
    # images
    tags = [t for i in client.images.list() for t in i.tags]
    assert tags == ["busybox:latest"]
    img = client.images.get("busybox")
    assert img.tag("pyrepo/bb", "x") is True
    assert "pyrepo/bb:x" in dy("images", "--format", "{{.Repository}}:{{.Tag}}").out.split()
    client.images.remove("pyrepo/bb:x")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("nosuch:1")
    # networks and volumes
    net = client.networks.create("pynet", labels={"a": "b"})
    assert "pynet" in [n.name for n in client.networks.list()]
    assert net.attrs["Labels"] == {"a": "b"}
    vol = client.volumes.create("pyvol", labels={"c": "d"})
    assert [v.name for v in client.volumes.list()] == ["pyvol"]
    assert dy("volume", "ls", "-q").out.split() == ["pyvol"]
    assert vol.attrs["Mountpoint"] == os.path.join(dy.root, "volumes", "pyvol", "_data")
    out = client.containers.run("busybox", ["sh", "-c", "echo kept > /v/f; cat /v/f"], remove=True,
                                network="pynet", volumes={"pyvol": {"bind": "/v", "mode": "rw"}})
    assert out == b"kept\n"
    vol.remove()
    net.remove()
    assert "pynet" not in dy("network", "ls").out
    assert dy("ps", "-aq").out == ""
