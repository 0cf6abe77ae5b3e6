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
    assert p.returncode == 3  # errorDetail.code: the step's status, as dockerd 20.10's (checked)
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
    while b'{"stream": "started-step\\n"}' not in data:  # the step's output, not its "Step 2/3" line
        assert time.monotonic() < deadline, data
        chunk = s.recv(65536)
        assert chunk, data
        data += chunk
    assert container_processes(str(tmp_path)), data.decode()[-600:]  # the RUN step runs
    s.close()  # the client goes away mid-step
    wait_for(lambda: dy("ps", "-aq").out == "" and not container_processes(str(tmp_path)), timeout=30,
             what="the build's container to go")
    wait_for(lambda: not [n for n in listdir(os.path.join(dy.root, "tmp")) if n.startswith("context-")], timeout=15,
             what="the context to go")
    assert dy("images", "-q", "halfmade", check=False).out == ""
    _no_build_left(dy, before)
    assert api.proc.poll() is None
    assert api.request("GET", "/_ping")[2] == b"OK"  # the service goes on serving
    assert_nothing_left(dy, tmp_path)


def test_save_load_history_commit_import_prune(api, dy, tmp_path):
    hist = api.json("GET", "/images/busybox/history")
    assert hist[0]["Id"] == dy("images", "--no-trunc", "-q", "busybox").out.strip()
    assert hist[0]["Tags"] == ["busybox:latest"] and all(isinstance(h["Size"], int) for h in hist)
    out = api.docker("history", "--format", "{{.ID}} {{.Size}}", "busybox").out.splitlines()
    assert len(out) == len(hist)
    # docker save / load through the socket
    archive = str(tmp_path / "bb.tar")
    api.docker("save", "-o", archive, "busybox")
    with tarfile.open(archive) as t:
        assert "manifest.json" in t.getnames()
    api.docker("tag", "busybox", "copy:1")
    api.docker("rmi", "busybox", "copy:1")
    assert dy("images", "-q").out == ""
    p = api.docker("load", "-i", archive)
    assert "Loaded image: busybox:latest" in p.out
    assert api.docker("run", "--rm", "busybox", "echo", "back").out == "back\n"
    status, _, body = api.request("POST", "/images/load", b"not an archive", {"Content-Type": "application/x-tar"})
    # dockerd answers 200 with the error in the JSON stream (docker-py raises ImageLoadError on it)
    assert status == 200 and "invalid archive" in json.loads(body)["errorDetail"]["message"]
    p = api.docker("load", "-i", __file__, check=False)
    assert p.returncode == 1 and "invalid archive" in p.err, (p.returncode, p.err)
    status, _, _ = api.request("GET", "/images/nosuch/get")
    assert status == 404
    # commit a container's change, with changes= and a comment
    api.docker("run", "--name", "src", "busybox", "sh", "-c", "echo committed > /c")
    p = api.docker("commit", "-m", "the note", "-c", "ENV FROM_COMMIT=1", "src", "committed:1")
    assert p.out.strip().startswith("sha256:")
    assert api.docker("run", "--rm", "committed:1", "sh", "-c", "cat /c; echo $FROM_COMMIT").out == "committed\n1\n"
    assert api.json("GET", "/images/committed:1/history")[0]["Comment"] == "the note"
    api.docker("rm", "src")
    status, _, body = api.request("POST", "/commit?container=nosuch")
    assert status == 404
    # import a rootfs tar from the body (docker import -)
    rootfs = _tar({"hello": b"imported\n"})
    p = api.docker("import", "-c", "CMD [\"/x\"]", "-", "imported:1", input=rootfs)
    assert p.out.strip().startswith("sha256:")
    cfg = json.loads(api.docker("image", "inspect", "imported:1", "--format", "{{json .Config.Cmd}}").out)
    assert cfg == ["/x"]
    status, _, body = api.request("POST", "/images/create?fromSrc=-&repo=junk", b"garbage" * 100)
    assert status == 400 and dy("images", "-q", "junk", check=False).out == ""
    status, _, body = api.request("POST", "/images/create?fromSrc=http%3A%2F%2F127.0.0.1%2Fx&repo=junk")
    assert status == 501
    # prune: dangling only by default, all unused with dangling=false
    api.docker("tag", "imported:1", "keep:1")
    api.docker("rmi", "imported:1")
    dangling = dy("images", "--no-trunc", "-q", "committed:1").out.strip()
    api.docker("rmi", "committed:1")  # its id may still be held by nothing: a dangling image stays? no: removed
    p = api.docker("image", "prune", "-f")
    assert "Total reclaimed space" in p.out
    p = api.docker("image", "prune", "-af")
    assert "keep:1" in p.out
    assert dy("images", "--format", "{{.Repository}}").out.split() == []
    assert dangling
    # search needs Docker Hub: refused clearly
    p = api.docker("search", "busybox", check=False)
    assert p.returncode == 1 and "Docker Hub" in p.err
    assert_nothing_left(dy, tmp_path)


def test_system_df(api, dy, tmp_path):
    api.docker("volume", "create", "data")
    api.docker("run", "--name", "user", "-v", "data:/data", "busybox", "sh", "-c",
               "dd if=/dev/zero of=/data/f bs=1024 count=64 2>/dev/null; echo x > /rw")
    doc = api.json("GET", "/system/df")
    assert doc["LayersSize"] > 0 and doc["Images"][0]["Containers"] == 1
    (vol,) = doc["Volumes"]
    assert vol["Name"] == "data" and vol["UsageData"]["RefCount"] == 1 and vol["UsageData"]["Size"] >= 65536
    (c,) = doc["Containers"]
    assert c["Names"] == ["/user"] and c["SizeRw"] > 0 and c["SizeRootFs"] >= c["SizeRw"]
    assert isinstance(doc["BuildCache"], list)
    assert api.json("GET", "/system/df?type=volume")["Images"] is None
    status, _, _ = api.request("GET", "/system/df?type=nonsense")
    assert status == 400
    rows = {line.split("  ")[0].strip(): line for line in api.docker("system", "df").out.splitlines()[1:]}
    assert set(rows) == {"Images", "Containers", "Local Volumes", "Build Cache"}
    assert rows["Local Volumes"].split()[2:4] == ["1", "1"]
    p = api.docker("system", "df", "-v")
    assert "data" in p.out and "user" in p.out
    # dockyard system df prints what the docker CLI prints from the API's document
    assert dy("system", "df").out == api.docker("system", "df").out
    for fmt in ("json", "table {{.Type}}\t{{.Reclaimable}}"):
        assert dy("system", "df", "--format", fmt).out == api.docker("system", "df", "--format", fmt).out
    ages = re.compile(r"(\d+|About an?|Less than a) \w+ ago")  # a second may pass between the two
    cols = re.compile(r" {2,}")  # an age of another length makes its column wider: compare cells, not widths
    assert cols.sub("  ", ages.sub("AGO", dy("system", "df", "-v").out)) == \
        cols.sub("  ", ages.sub("AGO", api.docker("system", "df", "-v").out))
    api.docker("rm", "user")
    api.docker("volume", "rm", "data")
    assert_nothing_left(dy, tmp_path)


def _registry(tmp_path, *args: str):
    import re as _re

    log = tmp_path / "registry.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-S", "-m", "dockyard", "registry", "serve", "--addr", "127.0.0.1:0",
                                 "--root", str(tmp_path / "registry"), *args], cwd=REPO,
                                env=dict(os.environ, PYTHONPATH=REPO), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=f)
    deadline = time.monotonic() + 20
    while not (m := _re.search(r"listening on https?://127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))):
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return proc, int(m.group(1))


def test_login_and_push_through_the_socket(api, dy, tmp_path):
    import bcrypt

    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("pusher:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode() + "\n")
    proc, port = _registry(tmp_path, "--htpasswd", str(htpasswd))
    try:
        reg = f"127.0.0.1:{port}"
        api.docker("tag", "busybox", f"{reg}/team/bb:v1")
        p = api.docker("push", f"{reg}/team/bb:v1", check=False)  # no credentials yet
        assert p.returncode == 1 and ("unauthorized" in (p.err + p.out).lower() or "authentication" in
                                      (p.err + p.out).lower()), p.err + p.out
        p = api.docker("login", "-u", "pusher", "--password-stdin", reg, input=b"wrong\n", check=False)
        assert p.returncode == 1, p.out
        p = api.docker("login", "-u", "pusher", "--password-stdin", reg, input=b"s3cret\n")
        assert "Login Succeeded" in p.out
        # API 1.46's platform (docker 28's push --platform; this API is 1.44, so the CLI does not send it)
        from urllib.parse import quote

        arm = quote(json.dumps({"os": "linux", "architecture": "arm64"}))
        status, _, out = api.request("POST", f"/images/{reg}/team/bb/push?tag=v1&platform={arm}")
        assert status == 200 and b"does not match the specified platform: wanted linux/arm64" in out, out
        p = api.docker("push", f"{reg}/team/bb:v1")
        assert re.search(r"v1: digest: sha256:[0-9a-f]{64} size: \d+", p.out), p.out
        api.docker("rmi", f"{reg}/team/bb:v1")
        api.docker("pull", f"{reg}/team/bb:v1")  # X-Registry-Auth used for a pull too
        assert api.docker("run", "--rm", f"{reg}/team/bb:v1", "echo", "pulled").out == "pulled\n"
    finally:
        proc.terminate()
        proc.wait(10)
    assert_nothing_left(dy, tmp_path)


def test_docker_info_prints_what_dockerd_gives(api, dy):
    doc = json.loads(api.docker("info", "--format", "{{json .}}").out)
    assert doc["RegistryConfig"]["InsecureRegistryCIDRs"][0] == "127.0.0.0/8"
    assert doc["IndexServerAddress"] == "https://index.docker.io/v1/"
    for key in ("RuncCommit", "ContainerdCommit", "InitCommit", "HttpProxy", "NoProxy", "Swarm", "Runtimes"):
        assert key in doc, key
    out = api.docker("info").out
    assert "Insecure Registries:\n  127.0.0.0/8" in out and "Swarm: inactive" in out
    assert "WARNING" not in api.docker("info").err


def test_build_add_host_reaches_the_run_steps(api, dy, tmp_path):
    ctx = _context(tmp_path / "ctx", "FROM busybox\nRUN grep -E 'built.example.test|other.test' /etc/hosts > /hosts\n")
    p = subprocess.run(["docker", "build", "--add-host", "built.example.test:127.0.0.1",
                        "--add-host", "other.test:10.9.8.7", "-t", "withhosts", ctx],
                       env=dict(api.env, DOCKER_BUILDKIT="0"), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = api.docker("run", "--rm", "withhosts", "cat", "/hosts").out
    assert "127.0.0.1\tbuilt.example.test" in out.replace(" ", "\t") and "10.9.8.7" in out
    ctx2 = _context(tmp_path / "ctx2", "FROM busybox\nRUN df -k /dev/shm | tail -1 | awk '{print $2}' > /shm\n")
    p = subprocess.run(["docker", "build", "--shm-size", "96m", "-t", "withshm", ctx2],
                       env=dict(api.env, DOCKER_BUILDKIT="0"), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert api.docker("run", "--rm", "withshm", "cat", "/shm").out.strip() == str(96 * 1024)
    status, _, body = api.request("POST", "/build?extrahosts=nonsense", _tar({"Dockerfile": b"FROM busybox\n"}))
    assert status == 400 and "add-host" in json.loads(body)["message"]
    assert_nothing_left(dy, tmp_path)


def test_dockerignore_keeps_dockerfile_and_itself_out_of_copies(api, dy, tmp_path):
    ctx = _context(tmp_path / "ctx", "FROM busybox\nCOPY . /ctx\n",
                   {".dockerignore": "Dockerfile\n.dockerignore\nsecret\n", "secret": "no\n", "kept": "yes\n"})
    p = subprocess.run(["docker", "build", "-t", "ignoring", ctx], env=dict(api.env, DOCKER_BUILDKIT="0"),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert api.docker("run", "--rm", "ignoring", "ls", "-A", "/ctx").out.split() == ["kept"]
    assert dy("build", "-t", "ignoring-cli", ctx).returncode == 0  # the CLI's build copies the same
    assert api.docker("run", "--rm", "ignoring-cli", "ls", "-A", "/ctx").out.split() == ["kept"]
    assert_nothing_left(dy, tmp_path)
