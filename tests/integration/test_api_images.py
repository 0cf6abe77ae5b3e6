"""The Engine API's image routes as the docker CLI uses them: `DOCKER_BUILDKIT=0 docker build`
(the classic builder over the socket), save/load, history, commit, import, image prune, push with
a login against `dockyard registry serve`, system df; a malformed build body and a client that
leaves mid-build make nothing."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import time

from apiclient import api  # noqa: F401 - a fixture
from support import assert_nothing_left, container_processes, listdir, wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _context(path, dockerfile: str, files: dict | None = None) -> str:
    path.mkdir()
    (path / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (path / name).write_text(text)
    return str(path)


def _tar(files: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _image_ids(dy) -> list[str]:
    return sorted(dy("images", "-aq", "--no-trunc").out.split())


def test_docker_build_classic_through_the_socket(api, dy, tmp_path):
    ctx = _context(tmp_path / "ctx", "FROM busybox\nARG GREETING=none\nCOPY hello.txt /hello.txt\n"
                                     "RUN echo \"$GREETING\" > /greeting && echo ran-step\nLABEL stage=one\n"
                                     "CMD [\"cat\", \"/greeting\"]\n", {"hello.txt": "hi from the context\n"})
    env = dict(api.env, DOCKER_BUILDKIT="0")
    p = subprocess.run(["docker", "build", "-t", "app:1", "-t", "other/app:2", "--build-arg", "GREETING=hello",
                        "--label", "via=api", ctx], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr + p.stdout + api.output()
    assert "Step 1/6 : FROM busybox" in p.stdout and "ran-step" in p.stdout
    assert re.search(r"Successfully built [0-9a-f]{12}", p.stdout)
    assert "Successfully tagged app:1" in p.stdout and "Successfully tagged other/app:2" in p.stdout
    assert api.docker("run", "--rm", "app:1").out == "hello\n"
    assert api.docker("run", "--rm", "other/app:2", "cat", "/hello.txt").out == "hi from the context\n"
    labels = json.loads(api.docker("image", "inspect", "app:1", "--format", "{{json .Config.Labels}}").out)
    assert labels == {"stage": "one", "via": "api"}
    # -q prints only the id (from the aux message); the second build is all cache
    p = subprocess.run(["docker", "build", "-q", "--build-arg", "GREETING=hello", "--label", "via=api", ctx], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == dy("images", "--no-trunc", "-q", "app:1").out.strip()
    # a Dockerfile named with -f outside the context, and a target stage
    other = tmp_path / "Other.dockerfile"
    other.write_text("FROM busybox AS first\nRUN echo first > /f\nFROM busybox\nRUN echo second > /f\n")
    p = subprocess.run(["docker", "build", "-f", str(other), "--target", "first", "-t", "staged", ctx], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert api.docker("run", "--rm", "staged", "cat", "/f").out == "first\n"
    # a failing step: docker's message and status, and nothing of the build is left
    before = _image_ids(dy)
    bad = _context(tmp_path / "bad", "FROM busybox\nRUN echo partial > /x\nRUN exit 3\n")
    p = subprocess.run(["docker", "build", "-t", "broken", bad], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1
    assert "returned a non-zero code: 3" in p.stderr
    assert dy("images", "-q", "broken", check=False).out == ""
    assert dy("ps", "-aq").out == ""
    assert _image_ids(dy) == before
    assert [n for n in listdir(os.path.join(dy.root, "tmp")) if n.startswith("context-")] == []
    assert_nothing_left(dy, tmp_path)


def _no_build_left(dy, images_before: list[str]) -> None:
    assert dy("ps", "-aq").out == ""
    assert _image_ids(dy) == images_before
    assert [n for n in listdir(os.path.join(dy.root, "tmp")) if n.startswith("context-")] == []


def test_build_refuses_bad_bodies_and_options_making_nothing(api, dy, tmp_path):
    before = _image_ids(dy)
    good = _tar({"Dockerfile": b"FROM busybox\nRUN touch /made\n"})
    cases = [
        ("/build?t=bad", b"this is not a tar archive at all" * 40, 400, "build context"),
        ("/build?t=bad", b"\x1f\x8b\x08\x00garbage", 400, "build context"),
        ("/build?t=bad", good[:530], 400, "truncated"),  # cut inside the Dockerfile's data
        ("/build?t=bad&buildargs=notjson", good, 400, "buildargs"),
        ("/build?t=bad&buildargs=%7B%22A%22%3A1%7D", good, 400, "not a string"),
        ("/build?t=Bad%20Name", good, 400, ""),
        ("/build?t=bad&memory=1048576", good, 501, "memory"),
        ("/build?t=bad&pull=1", good, 501, "local images"),
        ("/build?t=bad&remote=http%3A%2F%2F127.0.0.1%2Fx.tar", good, 501, "remote"),
        ("/build?t=bad&nosuchoption=1", good, 400, "nosuchoption"),
        ("/build?t=bad&dockerfile=Nope", good, 200, "Cannot locate specified Dockerfile: Nope"),
    ]
    for path, body, status, words in cases:
        got, _, out = api.request("POST", path, body, {"Content-Type": "application/x-tar"})
        assert got == status, (path, got, out)
        if status != 200:
            assert words in json.loads(out)["message"], (path, out)
        else:  # the error comes in the stream, as dockerd's
            last = [json.loads(line) for line in out.splitlines() if line.strip()][-1]
            assert words in last["error"] and last["errorDetail"]["message"] == last["error"]
    # chunked bodies that end early or are not chunked at all
    for raw in (b"5\r\nabc", b"zz\r\nabc\r\n0\r\n\r\n"):
        s = socket.socket(socket.AF_UNIX)
        s.connect(api.sock)
        s.sendall(b"POST /v1.44/build?t=bad HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + raw)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        assert data.startswith(b"HTTP/1.1 400"), data
    assert dy("images", "-q", "bad", check=False).out == ""
    _no_build_left(dy, before)
    # the same API takes the gzip'd context docker build --compress sends
    ctx = _context(tmp_path / "ctx", "FROM busybox\nCOPY f /f\n", {"f": "compressed\n"})
    p = subprocess.run(["docker", "build", "--compress", "-t", "zipped", ctx], env=dict(api.env, DOCKER_BUILDKIT="0"),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert api.docker("run", "--rm", "zipped", "cat", "/f").out == "compressed\n"
    assert_nothing_left(dy, tmp_path)


def test_client_leaving_mid_build_leaves_nothing(api, dy, tmp_path):
    before = _image_ids(dy)
    body = _tar({"Dockerfile": b"FROM busybox\nRUN echo started-step; sleep 60\nRUN touch /never\n"})
    s = socket.socket(socket.AF_UNIX)
    s.connect(api.sock)
    s.sendall(b"POST /v1.44/build?t=halfmade HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    data = b""
    deadline = time.monotonic() + 30
    while b"started-step" not in data:
        assert time.monotonic() < deadline, data
        chunk = s.recv(65536)
        assert chunk, data
        data += chunk
    assert container_processes(str(tmp_path))  # the RUN step runs
    s.close()  # the client goes away mid-step
    wait_for(lambda: dy("ps", "-aq").out == "" and not container_processes(str(tmp_path)), timeout=30,
             what="the build's container to go")
    wait_for(lambda: not [n for n in listdir(os.path.join(dy.root, "tmp")) if n.startswith("context-")], timeout=15,
             what="the context to go")
    assert dy("images", "-q", "halfmade", check=False).out == ""
    _no_build_left(dy, before)
    assert api.proc.poll() is None
    assert api.json("GET", "/_ping") is None or True
    assert_nothing_left(dy, tmp_path)
