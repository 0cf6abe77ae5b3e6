"""`dockyard system service`: the Engine API as the docker CLI sees it — versions, errors, the
socket's permissions, loopback-only TCP, and containers shared with the dockyard CLI."""

from __future__ import annotations

import grp
import json
import os
import socket
import stat
import subprocess
import time

import pytest
from apiclient import Service, UnixHTTP, _comm, api, frames  # noqa: F401 - api is a fixture
from support import assert_nothing_left, container_processes, no_traceback, wait_for


def test_ping_versions_and_errors(api, dy):
    assert [_comm(k) for k in api.children()] == ["dockyard-zygote"]  # forks engine calls, single-threaded
    st = os.stat(api.sock)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_uid == 0 and st.st_gid == grp.getgrnam("dockyard").gr_gid
    for method in ("HEAD", "GET"):
        status, headers, body = api.request(method, "/_ping")
        assert status == 200 and headers["API-Version"] == "1.44"
        assert body == (b"OK" if method == "GET" else b"")
    for prefix in ("", "/v1.24", "/v1.40", "/v1.44"):
        doc = api.json("GET", prefix + "/version")
        assert doc["ApiVersion"] == "1.44" and doc["MinAPIVersion"] == "1.24"
    status, _, body = api.request("GET", "/v1.45/version")
    assert status == 400 and "too new" in json.loads(body)["message"]
    status, _, body = api.request("GET", "/v1.12/version")
    assert status == 400 and "too old" in json.loads(body)["message"]
    status, _, body = api.request("GET", "/v1.44/nothing/here")
    assert status == 404 and json.loads(body) == {"message": "page not found"}
    status, _, body = api.request("DELETE", "/v1.44/version")
    assert status == 405 and json.loads(body)["message"]
    status, _, body = api.request("GET", "/containers/nosuch/json")
    assert status == 404 and json.loads(body)["message"] == "No such container: nosuch"
    # the docker CLI itself
    out = api.docker("version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}}").out
    assert out.split() == ["1.44", "1.24", "linux"]
    info = api.docker("info", "--format", "{{json .}}").out
    doc = json.loads(info)
    assert doc["DockerRootDir"] == dy.root and doc["Images"] == 1 and doc["Containers"] == 0


def test_docker_run_rm_as_dockyard_run(api, dy, tmp_path):
    script = "echo out; echo err >&2; exit 3"
    p = api.docker("run", "--rm", "busybox", "sh", "-c", script, check=False)
    q = dy("run", "--rm", "busybox", "sh", "-c", script, check=False)
    assert (p.returncode, p.out, p.err) == (3, "out\n", "err\n")
    assert (q.returncode, q.out, q.err) == (p.returncode, p.out, p.err)
    p = api.docker("run", "--rm", "--network", "none", "busybox", "echo", "hi")
    assert p.out == "hi\n"
    assert dy("ps", "-aq").out == ""
    p = api.docker("run", "--rm", "busybox", "nosuchcommand", check=False)
    assert p.returncode == 127, (p.returncode, p.err)
    assert_nothing_left(dy, tmp_path)


def test_detached_containers_are_the_clis_and_survive_the_service(api, dy, tmp_path):
    cid = api.docker("run", "-d", "--name", "web", "-l", "app=web", "busybox", "sh", "-c",
                     "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done").out.strip()
    assert len(cid) == 64
    wait_for(lambda: "line 3" in api.docker("logs", "web").out, what="logs")
    # docker ps and dockyard ps list the same container
    assert api.docker("ps", "-q", "--no-trunc").out.split() == [cid] == dy("ps", "-q", "--no-trunc").out.split()
    assert api.docker("ps", "--no-trunc", "--format", "{{.Names}} {{.State}} {{.Command}}").out == \
        "web running \"sh -c 'i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done'\"\n"
    fmt = "{{.ID}} {{.Image}} {{.Command}} {{.Status}} {{.Names}}"
    assert api.docker("ps", "--format", fmt).out == dy("ps", "--format", fmt).out
    assert api.docker("ps", "-q", "--filter", "label=app=web").out.strip() == cid[:12]
    assert api.docker("ps", "-q", "--filter", "label=app=other").out == ""
    # docker inspect gives the engine's document, as dockyard inspect does
    mine = json.loads(api.docker("inspect", "web").out)[0]
    theirs = json.loads(dy("inspect", "web").out)[0]
    assert mine["Id"] == theirs["Id"] == cid and mine["State"]["Pid"] == theirs["State"]["Pid"] > 0
    assert mine["Name"] == "/web" and mine["Config"]["Labels"] == {"app": "web"}
    # logs: tail and timestamps; -f ends when the container stops
    tail = api.docker("logs", "--tail", "2", "-t", "web").out.splitlines()
    assert len(tail) == 2 and all(line.split(" ", 1)[1].startswith("line ") for line in tail)
    follow = subprocess.Popen(["/usr/local/bin/docker", "logs", "-f", "web"], env=api.env, stdout=subprocess.PIPE)
    time.sleep(0.5)
    assert follow.poll() is None  # still following
    # the service goes; the container stays, and a new service finds it
    api.stop()
    follow.wait(10)
    assert dy("inspect", "-f", "{{.State.Status}}", "web").out.strip() == "running"
    api2 = Service(dy, str(tmp_path / "docker2.sock"))
    try:
        assert api2.docker("ps", "-q", "--no-trunc").out.split() == [cid]
        assert api2.docker("stop", "-t", "1", "web").out.strip() == "web"
        assert dy("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "web").out.split() == ["exited", "137"]
        assert "Exited (137)" in api2.docker("ps", "-a", "--format", "{{.Status}}").out
        assert api2.docker("start", "web").out.strip() == "web"
        assert dy("inspect", "-f", "{{.State.Status}}", "web").out.strip() == "running"
        api2.docker("kill", "web")
        assert api2.docker("wait", "web").out.strip() == "137"
        api2.docker("start", "web")
        api2.docker("rm", "-f", "web")
        assert dy("ps", "-aq").out == "" and api2.docker("ps", "-aq").out == ""
        p = api2.docker("rm", "web", check=False)
        assert p.returncode == 1 and "No such container: web" in p.err
    finally:
        api2.stop()
    assert_nothing_left(dy, tmp_path)


def test_log_driver_none_on_the_wire(api, dy):
    """docker-py's test_run_with_none_driver: HostConfig.LogConfig.Type "none" is kept (docker-py
    then reads no logs); logs and attach?logs=1 are dockerd's 501 "does not support reading"."""
    body = {"Image": "busybox", "Cmd": ["echo", "hello"], "HostConfig": {"NetworkMode": "none",
                                                                          "LogConfig": {"Type": "none"}}}
    cid = api.json("POST", "/v1.44/containers/create?name=nolog", body, expect=201)["Id"]
    assert api.json("GET", f"/v1.44/containers/{cid}/json")["HostConfig"]["LogConfig"] == {"Type": "none", "Config": {}}
    assert api.request("POST", f"/v1.44/containers/{cid}/start")[0] == 204
    assert api.json("POST", f"/v1.44/containers/{cid}/wait")["StatusCode"] == 0
    for path in (f"/v1.44/containers/{cid}/logs?stdout=1", f"/v1.44/containers/{cid}/attach?logs=1&stdout=1"):
        method = "GET" if "logs?" in path else "POST"
        status, _, out = api.request(method, path)
        assert status == 501 and json.loads(out)["message"] == "configured logging driver does not support reading"
    status, _, out = api.request("POST", "/v1.44/containers/create",
                                 {"Image": "busybox", "HostConfig": {"LogConfig": {"Type": "asdf"}}})
    assert status == 400 and json.loads(out)["message"] == 'error looking up logging plugin asdf: plugin "asdf" not found'
    api.docker("rm", "nolog")


def test_logs_and_attach_on_the_wire(api, dy):
    """stdcopy frames (1 stdout, 2 stderr) unless Tty; attach before start sees everything."""
    body = {"Image": "busybox", "Cmd": ["sh", "-c", "sleep 0.3; echo a; echo b >&2; echo c"],
            "HostConfig": {"NetworkMode": "none"}}
    cid = api.json("POST", "/v1.44/containers/create?name=w", body, expect=201)["Id"]
    conn = UnixHTTP(api.sock)
    conn.putrequest("POST", f"/v1.44/containers/{cid}/attach?stream=1&stdout=1&stderr=1")
    conn.putheader("Connection", "Upgrade")
    conn.putheader("Upgrade", "tcp")
    conn.endheaders()
    sock = conn.sock
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101") and b"Upgrade: tcp" in head
    assert api.request("POST", f"/v1.44/containers/{cid}/start")[0] == 204
    assert api.request("POST", f"/v1.44/containers/{cid}/start")[0] == 304
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    got: dict = {}
    for sid, payload in frames(data):  # a frame per read of the container's pipe, as dockerd's
        got[sid] = got.get(sid, b"") + payload
    assert got == {1: b"a\nc\n", 2: b"b\n"}
    assert api.json("POST", f"/v1.44/containers/{cid}/wait") == {"StatusCode": 0}
    status, headers, out = api.request("GET", f"/v1.44/containers/{cid}/logs?stdout=1&stderr=1")
    assert status == 200 and headers["Content-Type"] == "application/vnd.docker.multiplexed-stream"
    assert sorted(frames(out)) == [(1, b"a\n"), (1, b"c\n"), (2, b"b\n")]  # two pipes: no order between them
    _, _, out = api.request("GET", f"/v1.44/containers/{cid}/logs?stderr=1")
    assert frames(out) == [(2, b"b\n")]
    _, _, out = api.request("GET", f"/v1.44/containers/{cid}/logs?stdout=1&tail=1")
    assert frames(out) == [(1, b"c\n")]
    status, _, out = api.request("GET", f"/v1.44/containers/{cid}/logs")
    assert status == 400 and "at least one stream" in json.loads(out)["message"]
    # a Tty container's log is one raw stream
    body = {"Image": "busybox", "Cmd": ["echo", "t"], "Tty": True, "HostConfig": {"NetworkMode": "none"}}
    tid = api.json("POST", "/v1.44/containers/create", body, expect=201)["Id"]
    assert api.request("POST", f"/v1.44/containers/{tid}/start")[0] == 204
    assert api.json("POST", f"/v1.44/containers/{tid}/wait?condition=not-running")["StatusCode"] == 0
    status, headers, out = api.request("GET", f"/v1.44/containers/{tid}/logs?stdout=1")
    assert headers["Content-Type"] == "application/vnd.docker.raw-stream" and out == b"t\n"
    for c in (cid, tid):
        assert api.request("DELETE", f"/v1.44/containers/{c}")[0] == 204


def test_bad_requests_are_400_and_make_nothing(api, dy, tmp_path):
    cases = [
        (b"{not json", "invalid JSON"),
        ({"Cmd": ["true"]}, "Image is required"),
        ({"Image": "busybox", "HostConfig": {"Privileged": "yes"}}, "HostConfig.Privileged"),
        ({"Image": "busybox", "Env": "A=1"}, "Env"),
        ({"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}, "restart"),
        ([1, 2], "expected an object"),
    ]
    for body, words in cases:
        status, _, out = api.request("POST", "/v1.44/containers/create?name=bad", body)
        assert status == 400, (body, status, out)
        assert words.lower() in json.loads(out)["message"].lower(), (body, out)
    status, _, out = api.request("POST", "/v1.44/containers/create?name=bad/name", {"Image": "busybox"})
    assert status == 400 and "Invalid container name" in json.loads(out)["message"]
    status, _, out = api.request("POST", "/v1.44/containers/create", {"Image": "nosuch:1"})
    assert status == 404 and "No such image" in json.loads(out)["message"]
    assert dy("ps", "-aq").out == ""
    assert os.listdir(os.path.join(dy.root, "snapshots", "active")) == [] \
        if os.path.isdir(os.path.join(dy.root, "snapshots", "active")) else True
    # conflicts are 409, as dockerd's
    api.json("POST", "/v1.44/containers/create?name=one", {"Image": "busybox", "Cmd": ["sleep", "30"],
                                                            "HostConfig": {"NetworkMode": "none"}}, expect=201)
    status, _, out = api.request("POST", "/v1.44/containers/create?name=one", {"Image": "busybox"})
    assert status == 409, out
    status, _, out = api.request("POST", "/v1.44/containers/one/kill")
    assert status == 409 and "is not running" in json.loads(out)["message"]
    api.request("POST", "/v1.44/containers/one/start")
    status, _, out = api.request("DELETE", "/v1.44/containers/one")
    assert status == 409 and "force" in json.loads(out)["message"]
    status, _, out = api.request("POST", "/v1.44/containers/one/wait?condition=sometime")
    assert status == 400
    status, _, out = api.request("POST", "/v1.44/containers/one/stop?t=soon")
    assert status == 400 and "invalid timeout" in json.loads(out)["message"]
    status, _, out = api.request("GET", "/v1.44/containers/json?filters=%7Bnope")
    assert status == 400
    status, _, out = api.request("GET", "/v1.44/containers/json?all=maybe")
    assert status == 400
    assert api.request("DELETE", "/v1.44/containers/one?force=1")[0] == 204
    # a chunked body is read as one
    conn = UnixHTTP(api.sock)
    conn.request("POST", "/v1.44/containers/create?name=chunked",
                 body=iter([b'{"Image": "busy', b'box", "HostConfig": {"NetworkMode": "none"}}']),
                 headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"}, encode_chunked=True)
    r = conn.getresponse()
    assert r.status == 201, r.read()
    conn.close()
    assert dy("ps", "-a", "--format", "{{.Names}}").out == "chunked\n"
    dy("rm", "chunked")
    assert_nothing_left(dy, tmp_path)


def test_tcp_is_loopback_only_without_tls(dy, busybox, tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    for host in ("tcp://0.0.0.0:%d" % port, "tcp://10.1.2.3:%d" % port, "tcp://[::]:%d" % port):
        p = dy("system", "service", "--host", host, check=False, timeout=20)
        no_traceback(p)
        assert p.returncode == 1 and "--tlsverify" in p.err, p.err
    with socket.socket() as probe:  # nothing was left listening
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    for bad, words in (("http://127.0.0.1:1", "use unix:///path"), ("tcp://127.0.0.1:99999", "ADDRESS:PORT"),
                       ("unix://relative.sock", "absolute path")):
        p = dy("system", "service", "--host", bad, check=False, timeout=20)
        no_traceback(p)
        assert p.returncode == 1 and words in p.err, p.err
    p = dy("system", "service", "--host", f"tcp://127.0.0.1:{port}", "--tlscert", "x", check=False, timeout=20)
    assert p.returncode == 1 and "need --tlsverify" in p.err
    proc = subprocess.Popen(dy.cmd("system", "service", "--host", f"tcp://127.0.0.1:{port}"), env=dy.env,
                            stderr=subprocess.PIPE)
    try:
        def up():
            with socket.socket() as c:
                return c.connect_ex(("127.0.0.1", port)) == 0
        wait_for(up, what="the tcp listener")
        env = dict(dy.env, DOCKER_HOST=f"tcp://127.0.0.1:{port}", DOCKER_CONFIG=str(tmp_path / "dc"))
        env.pop("DOCKER_API_VERSION", None)
        p = subprocess.run(["/usr/local/bin/docker", "version", "--format", "{{.Server.APIVersion}}"], env=env,
                           capture_output=True, timeout=30)
        assert p.stdout.decode().strip() == "1.44", p.stderr
    finally:
        proc.terminate()
        proc.wait(10)
    assert container_processes(str(tmp_path)) == []


def test_unix_socket_in_use_is_refused(api, dy):
    p = dy("system", "service", "--host", f"unix://{api.sock}", check=False, timeout=20)
    no_traceback(p)
    assert p.returncode == 1 and "another service is listening" in p.err
    assert api.request("GET", "/_ping")[0] == 200


def _certs(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl."""
    def ssl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=test-ca")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        (d / f"{name}.ext").write_text(ext + "\n")
        ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr",
            "-subj", f"/CN={name}")
        ssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")


def test_tls_with_client_certificates(dy, busybox, tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    _certs(certs)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen(dy.cmd("system", "service", "--host", f"tcp://127.0.0.1:{port}", "--tlsverify",
                                   "--tlscacert", str(certs / "ca.pem"), "--tlscert", str(certs / "server.pem"),
                                   "--tlskey", str(certs / "server-key.pem")), env=dy.env, stderr=subprocess.PIPE)
    try:
        def up():
            with socket.socket() as c:
                return c.connect_ex(("127.0.0.1", port)) == 0
        wait_for(up, what="the tls listener")
        client = tmp_path / "client"
        client.mkdir()
        for src, dst in (("ca.pem", "ca.pem"), ("client.pem", "cert.pem"), ("client-key.pem", "key.pem")):
            (client / dst).write_bytes((certs / src).read_bytes())
        env = dict(dy.env, DOCKER_HOST=f"tcp://127.0.0.1:{port}", DOCKER_TLS_VERIFY="1",
                   DOCKER_CERT_PATH=str(client), DOCKER_CONFIG=str(tmp_path / "dc"))
        env.pop("DOCKER_API_VERSION", None)
        p = subprocess.run(["/usr/local/bin/docker", "version", "--format", "{{.Server.APIVersion}}"], env=env,
                           capture_output=True, timeout=30)
        assert p.stdout.decode().strip() == "1.44", p.stderr
        # without a client certificate: no answer at all
        import ssl
        ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    tls.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
                    assert tls.recv(100) == b""  # TLS 1.3 reports the refusal on the first read
                    raise ConnectionResetError
        # plain HTTP is not served either
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                answer = raw.recv(1000)
            except ConnectionResetError:
                answer = b""
            assert b"API-Version" not in answer
        p = subprocess.run(["/usr/local/bin/docker", "version"], env=env, capture_output=True, timeout=30)
        assert p.returncode == 0  # and the service still serves
    finally:
        proc.terminate()
        proc.wait(10)
    assert b"Traceback" not in proc.stderr.read()


def test_timeout_ends_an_idle_service(dy, busybox, tmp_path):
    sock = tmp_path / "idle.sock"
    t0 = time.monotonic()
    p = subprocess.run(dy.cmd("system", "service", "--host", f"unix://{sock}", "--timeout", "1"), env=dy.env,
                       capture_output=True, timeout=30)
    assert p.returncode == 0 and 1 <= time.monotonic() - t0 < 10, p.stderr
    assert not sock.exists()  # its socket goes with it
    p = dy("system", "service", "--timeout", "soon", check=False)
    assert p.returncode == 1 and "invalid --timeout" in p.err


def test_docker_run_i_gives_stdin(api, dy, tmp_path):
    p = api.docker("run", "-i", "--rm", "--network", "none", "busybox", "sh", "-c", "wc -l; cat >&2",
                   input=b"a\nb\nc\n")
    q = dy("run", "-i", "--rm", "--network", "none", "busybox", "sh", "-c", "wc -l; cat >&2", input=b"a\nb\nc\n")
    assert (p.out.strip(), p.err) == (q.out.strip(), q.err) == ("3", "")  # cat got the EOF wc left
    data = os.urandom(300_000)  # more than a pipe holds: the writer waits for the reader
    p = api.docker("run", "-i", "--rm", "--network", "none", "busybox", "md5sum", input=data)
    import hashlib
    assert p.out.split()[0] == hashlib.md5(data).hexdigest()
    p = api.docker("run", "-i", "--rm", "--network", "none", "busybox", "cat", input=b"")
    assert p.returncode == 0 and p.out == ""
    # stdin of a running container is attached through its monitor (test_api_attach.py has more)
    cid = api.docker("run", "-di", "--name", "held", "--network", "none", "busybox", "cat").out.strip()
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(api.sock)
        s.sendall(f"POST /v1.44/containers/{cid}/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: x\r\n"
                  "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode())
        got = b""
        while b"\r\n\r\n" not in got:
            got += s.recv(1)
        s.sendall(b"x\n")
        got = b""
        while len(got) < 10:
            got += s.recv(100)
        assert frames(got) == [(1, b"x\n")]
    api.docker("rm", "-f", "held")
    # a TTY's stdin too: docker run -it in test_api_attach.py
    assert_nothing_left(dy, tmp_path)
