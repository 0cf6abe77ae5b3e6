"""docker-py (the official SDK) on the streaming endpoints: attach sockets, stats, events, top,
diff, get/put_archive, export, update, resize, wait conditions."""

from __future__ import annotations

import io
import tarfile
import time

import pytest
from apiclient import api, frames  # noqa: F401 - api is a fixture
from support import assert_nothing_left

docker = pytest.importorskip("docker")


@pytest.fixture
def client(api):
    c = docker.DockerClient(base_url=f"unix://{api.sock}", version="1.44", timeout=60)
    yield c
    c.close()


def test_docker_py_attach_socket_and_wait_conditions(client, api, dy, tmp_path):
    c = client.containers.create("busybox", ["sh", "-c", "read l; echo got-$l; echo err >&2"], stdin_open=True,
                                 network_mode="none", name="py1")
    sock = client.api.attach_socket(c.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
    raw = sock._sock
    c.start()
    raw.sendall(b"hello\n")
    data = b""
    while True:
        chunk = raw.recv(4096)
        if not chunk:
            break
        data += chunk
    raw.close()
    out: dict = {}
    for stream, payload in frames(data):
        out[stream] = out.get(stream, b"") + payload
    assert out == {1: b"got-hello\n", 2: b"err\n"}
    assert c.wait(condition="not-running")["StatusCode"] == 0
    c.remove(force=True)
    # next-exit waits for the next run's end, not the last one's; removed for the removal
    r2 = client.containers.run("busybox", "sh -c 'sleep 0.3; exit 5'", detach=True, network_mode="none")
    assert r2.wait()["StatusCode"] == 5
    import threading

    got: dict = {}
    t = threading.Thread(target=lambda: got.update(r2.wait(condition="next-exit", timeout=30)))
    t.start()
    time.sleep(0.5)
    assert not got  # the exit that happened already does not count
    r2.start()
    t.join(30)
    assert got["StatusCode"] == 5
    r2.remove()
    r = client.containers.run("busybox", "sh -c 'sleep 0.5; exit 4'", detach=True, network_mode="none",
                              auto_remove=True)
    assert r.wait(condition="removed", timeout=30)["StatusCode"] == 4
    assert_nothing_left(dy, tmp_path)


def test_docker_py_stats_top_archive_events_update(client, api, dy, tmp_path):
    since = time.time()
    c = client.containers.run("busybox", "sleep 1000", detach=True, name="py2", mem_limit="40m")
    s = c.stats(stream=False)
    assert s["memory_stats"]["limit"] == 40 << 20 and "eth0" in s["networks"] and s["id"] == c.id
    gen = c.stats(stream=True, decode=True)
    first, second = next(gen), next(gen)
    assert second["precpu_stats"]["cpu_usage"]["total_usage"] == first["cpu_stats"]["cpu_usage"]["total_usage"]
    gen.close()
    top = c.top(ps_args="-o pid,args")
    assert top["Titles"] == ["PID", "COMMAND"] and top["Processes"][0][1] == "sleep 1000"
    # put_archive / get_archive / diff
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("note.txt")
        info.size = 6
        tf.addfile(info, io.BytesIO(b"hello\n"))
    assert c.put_archive("/tmp", buf.getvalue()) is True
    stream, stat = c.get_archive("/tmp/note.txt")
    assert stat["name"] == "note.txt" and stat["size"] == 6
    tf = tarfile.open(fileobj=io.BytesIO(b"".join(stream)))
    assert tf.extractfile("note.txt").read() == b"hello\n"
    assert {"Path": "/tmp/note.txt", "Kind": 1} in c.diff()
    with pytest.raises(docker.errors.NotFound):
        c.get_archive("/no/such/path")
    exported = b"".join(c.export())
    assert "tmp/note.txt" in tarfile.open(fileobj=io.BytesIO(exported)).getnames()
    # update, live
    c.update(mem_limit="24m", restart_policy={"Name": "on-failure", "MaximumRetryCount": 1})
    assert c.stats(stream=False)["memory_stats"]["limit"] == 24 << 20
    status, _, body = api.request("POST", "/v1.44/containers/py2/update", {"CpuRealtimeRuntime": 1000})
    assert status == 400 and b"cannot be changed" in body  # docker-py has no keyword for it
    c.remove(force=True)
    evs = list(client.events(since=since, until=time.time(), decode=True, filters={"container": "py2"}))
    actions = [e["Action"] for e in evs]
    assert actions[0] == "create" and "start" in actions and "update" in actions and actions[-1] == "destroy"
    assert_nothing_left(dy, tmp_path)


def test_docker_py_resize_tty(client, api, dy, tmp_path):
    c = client.containers.run("busybox", "sh", tty=True, stdin_open=True, detach=True, network_mode="none")
    c.resize(height=41, width=132)
    assert c.exec_run("stty size -F /proc/1/fd/0").output.strip() == b"41 132"
    c.remove(force=True)
    assert_nothing_left(dy, tmp_path)
