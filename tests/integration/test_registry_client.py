"""`dockyard push`, `pull`, `login`, `logout` against Debian's CNCF registry (`docker-registry`).

Every test starts its own registry on 127.0.0.1 (a free port, storage under its tmp_path, plain
HTTP unless the test asks for TLS or htpasswd auth) and stops it at the end; `DOCKER_CONFIG`
points at the test's own directory, so no real credentials are read or written.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import time

import pytest
from support import Pty

REGISTRY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

pytestmark = pytest.mark.skipif(not os.path.exists(REGISTRY), reason="docker-registry is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    def __init__(self, base, *, htpasswd: str | None = None, tls: tuple[str, str] | None = None) -> None:
        self.base = base
        self.port = _free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.tls = tls
        cfg = {"version": 0.1, "log": {"level": "error", "accesslog": {"disabled": True}},
               "storage": {"filesystem": {"rootdirectory": str(base / "storage")}, "delete": {"enabled": True}},
               "http": {"addr": self.addr}}
        if htpasswd:
            cfg["auth"] = {"htpasswd": {"realm": "test", "path": htpasswd}}
        if tls:
            cfg["http"]["tls"] = {"certificate": tls[0], "key": tls[1]}
        config = base / "config.yml"
        config.write_text(json.dumps(cfg))  # JSON is YAML
        self.log = open(base / "registry.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([REGISTRY, "serve", str(config)], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"docker-registry did not start: {(base / 'registry.log').read_text()}")
                time.sleep(0.05)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, resp.headers, data

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def registry(tmp_path):
    started: list[Registry] = []

    def start(**kw) -> Registry:
        base = tmp_path / f"registry{len(started)}"
        base.mkdir()
        r = Registry(base, **kw)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


@pytest.fixture
def client(dy, tmp_path):
    """The `dy` CLI with a private DOCKER_CONFIG and certs.d."""
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    dy.env["DOCKYARD_CERTS_D"] = str(tmp_path / "certs.d")
    dy.env.pop("DOCKYARD_INSECURE_REGISTRIES", None)
    return dy


def _digest_line(out: str) -> tuple[str, int]:
    m = re.search(r"^(\S+): digest: (sha256:[0-9a-f]{64}) size: (\d+)$", out, re.M)
    assert m, out
    return m.group(2), int(m.group(3))


def _image_id(dy, ref: str) -> str:
    return dy("inspect", "-f", "{{.Id}}", ref).out.strip()


def test_push_rmi_pull_run(client, busybox, registry):
    dy = client
    reg = registry()
    ref = f"{reg.addr}/test/busybox:1"
    dy("tag", busybox, ref)
    image_id = _image_id(dy, ref)
    p = dy("push", ref)
    assert p.out.startswith(f"The push refers to repository [{reg.addr}/test/busybox]\n"), p.out
    assert re.search(r"^[0-9a-f]{12}: Pushed$", p.out, re.M), p.out
    digest, size = _digest_line(p.out)
    assert size > 0
    again = dy("push", ref)
    assert re.search(r"^[0-9a-f]{12}: Layer already exists$", again.out, re.M), again.out
    assert "Pushed" not in again.out and _digest_line(again.out)[0] == digest

    dy("rmi", ref, busybox)
    p = dy("pull", ref)
    lines = p.out.splitlines()
    assert lines[0] == "1: Pulling from test/busybox"
    assert re.search(r"^[0-9a-f]{12}: Pull complete$", p.out, re.M), p.out
    assert lines[-3:] == [f"Digest: {digest}", f"Status: Downloaded newer image for {ref}", ref]
    assert _image_id(dy, ref) == image_id
    assert dy("run", "--rm", "--network", "none", ref, "sh", "-c", "echo ok").out == "ok\n"

    p = dy("pull", ref)
    assert re.search(r"^[0-9a-f]{12}: Already exists$", p.out, re.M)
    assert f"Status: Image is up to date for {ref}" in p.out
    assert dy("pull", "-q", ref).out == ref + "\n"


def test_pull_by_digest_and_cross_repo_mount(client, busybox, registry):
    dy = client
    reg = registry()
    a, b = f"{reg.addr}/test/a:1", f"{reg.addr}/other/b:2"
    dy("tag", busybox, a)
    digest, _ = _digest_line(dy("push", a).out)
    dy("tag", busybox, b)
    p = dy("push", b)
    assert re.search(r"^[0-9a-f]{12}: Mounted from test/a$", p.out, re.M), p.out
    assert _digest_line(p.out)[0] == digest
    status, _, _ = reg.request("HEAD", f"/v2/other/b/manifests/{digest}",
                               headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert status == 200

    dy("rmi", a, b, busybox)
    by_digest = f"{reg.addr}/other/b@{digest}"
    p = dy("pull", by_digest)
    assert p.out.splitlines()[0] == f"{digest}: Pulling from other/b"
    assert p.out.splitlines()[-1] == by_digest
    # as docker's: known by the digest it was pulled by (RepoDigests), listed with TAG <none>
    assert dy("images", "--format", "{{.Repository}}:{{.Tag}}").out == f"{reg.addr}/other/b:<none>\n"
    assert dy("image", "inspect", "-f", "{{.RepoTags}} {{.RepoDigests}}", by_digest).out == f"[] [{by_digest}]\n"
    assert dy("run", "--rm", "--network", "none", by_digest, "sh", "-c", "echo ok").out == "ok\n"


def test_pull_of_an_index_takes_linux_amd64(client, busybox, registry, tmp_path):
    from dockyard.oci.platform import go_arch

    if go_arch() != "amd64":
        pytest.skip("the index names an amd64 image for this machine")
    dy = client
    reg = registry()
    amd = f"{reg.addr}/test/multi:amd64"
    arm = f"{reg.addr}/test/multi:arm64"
    dy("tag", busybox, amd)
    amd_digest, amd_size = _digest_line(dy("push", amd).out)
    tar = tmp_path / "other.tar"
    with tarfile.open(tar, "w") as t:
        ti = tarfile.TarInfo("marker")
        ti.size = 3
        t.addfile(ti, io.BytesIO(b"arm"))
    dy("import", "--platform", "linux/arm64", str(tar), arm)
    arm_digest, arm_size = _digest_line(dy("push", arm).out)
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm_digest, "size": arm_size,
         "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd_digest, "size": amd_size,
         "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
    status, headers, body = reg.request("PUT", "/v2/test/multi/manifests/multi", index, {"Content-Type": OCI_INDEX})
    assert status == 201, body
    index_digest = headers["Docker-Content-Digest"]
    busybox_id = _image_id(dy, busybox)
    dy("rmi", amd, arm, busybox)

    ref = f"{reg.addr}/test/multi:multi"
    p = dy("pull", ref)
    assert f"Digest: {index_digest}" in p.out
    assert _image_id(dy, ref) == busybox_id
    assert dy("run", "--rm", "--network", "none", ref, "sh", "-c", "echo ok").out == "ok\n"
    # by the index's digest too, as docker finds it
    by_digest = f"{reg.addr}/test/multi@{index_digest}"
    dy("rmi", ref)
    assert f"Digest: {index_digest}" in dy("pull", by_digest).out
    assert _image_id(dy, by_digest) == busybox_id
    assert dy("run", "--rm", "--network", "none", by_digest, "sh", "-c", "echo ok").out == "ok\n"


def test_login_push_logout_with_htpasswd(client, busybox, registry, tmp_path):
    dy = client
    htpasswd = tmp_path / "htpasswd"
    p = subprocess.run(["htpasswd", "-Bbn", "user", "s3cret"], capture_output=True, text=True, check=True)
    htpasswd.write_text(p.stdout)
    reg = registry(htpasswd=str(htpasswd))
    ref = f"{reg.addr}/test/app:1"
    dy("tag", busybox, ref)

    p = dy("push", ref, check=False)
    assert p.returncode == 1
    assert "unauthorized: authentication required" in p.err and "Traceback" not in p.err
    assert f"dockyard login {reg.addr}" in p.err

    p = dy("login", "-u", "user", "--password-stdin", reg.addr, input="wrong\n", check=False)
    assert p.returncode == 1 and "401 Unauthorized" in p.err and "Traceback" not in p.err, p.err  # dockerd's words
    config = tmp_path / "docker-config" / "config.json"
    assert not config.exists()

    p = dy("login", "-u", "user", "--password-stdin", reg.addr, input="s3cret\n")
    assert p.out == "Login Succeeded\n"
    doc = json.loads(config.read_text())
    assert doc["auths"][reg.addr]["auth"] == base64.b64encode(b"user:s3cret").decode()
    assert oct(os.stat(config).st_mode & 0o777) == "0o600"
    assert dy("login", reg.addr).out == "Authenticating with existing credentials...\nLogin Succeeded\n"

    digest, _ = _digest_line(dy("push", ref).out)
    dy("rmi", ref)
    assert dy("pull", "-q", ref).out == ref + "\n"

    assert dy("logout", reg.addr).out == f"Removing login credentials for {reg.addr}\n"
    assert reg.addr not in json.loads(config.read_text())["auths"]
    assert dy("logout", reg.addr).out == f"Removing login credentials for {reg.addr}\n"  # docker CLI 28's words
    p = dy("push", ref, check=False)
    assert p.returncode == 1 and "unauthorized" in p.err
    p = dy("pull", ref, check=False)
    assert p.returncode == 1 and "pull access denied" in p.err and "unauthorized" in p.err


def test_credentials_written_by_docker_are_used(client, busybox, registry, tmp_path):
    """A config.json as `docker login` writes it (tabs, other keys) works, and survives our login."""
    dy = client
    htpasswd = tmp_path / "htpasswd"
    p = subprocess.run(["htpasswd", "-Bbn", "user", "pw"], capture_output=True, text=True, check=True)
    htpasswd.write_text(p.stdout)
    reg = registry(htpasswd=str(htpasswd))
    config = tmp_path / "docker-config" / "config.json"
    config.parent.mkdir()
    docker_written = {"auths": {reg.addr: {"auth": base64.b64encode(b"user:pw").decode()},
                                "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:x").decode()}},
                      "currentContext": "default", "psFormat": "table {{.Names}}"}
    config.write_text(json.dumps(docker_written, indent="\t"))
    ref = f"{reg.addr}/test/app:1"
    dy("tag", busybox, ref)
    dy("push", "-q", ref)
    dy("login", "-u", "user", "-p", "pw", reg.addr)
    doc = json.loads(config.read_text())
    assert doc == docker_written
    dy("logout", reg.addr)
    assert json.loads(config.read_text()) == {**docker_written, "auths": {
        "https://index.docker.io/v1/": docker_written["auths"]["https://index.docker.io/v1/"]}}


def test_tls_registry_with_certs_d(client, busybox, registry, tmp_path):
    dy = client
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    reg = registry(tls=(str(cert), str(key)))
    ref = f"{reg.addr}/test/tls:1"
    dy("tag", busybox, ref)
    dy("push", ref)  # loopback: insecure by default, so HTTPS without verification

    # verified TLS: the library with the loopback exemption turned off
    from dockyard import errors
    from dockyard.registry.client import Registry as Client

    os.environ["DOCKYARD_CERTS_D"] = str(tmp_path / "certs.d")
    try:
        with Client(reg.addr) as c:
            c.insecure = False
            with pytest.raises(errors.Unavailable, match="cannot verify the TLS certificate"):
                c.ping()
        ca_dir = tmp_path / "certs.d" / reg.addr
        ca_dir.mkdir(parents=True)
        shutil.copy(cert, ca_dir / "ca.crt")
        with Client(reg.addr) as c:
            c.insecure = False
            c.ping()
            assert c.scheme == "https"
            resp = c.request("GET", "/v2/test/tls/tags/list")
            assert resp.status == 200 and json.loads(resp.read()) == {"name": "test/tls", "tags": ["1"]}
    finally:
        del os.environ["DOCKYARD_CERTS_D"]
    dy("rmi", ref)
    assert dy("pull", "-q", ref).out == ref + "\n"


def test_errors_are_clear(client, busybox, registry):
    dy = client
    reg = registry()
    p = dy("pull", f"{reg.addr}/test/none:1", check=False)
    assert p.returncode == 1
    assert f"manifest for {reg.addr}/test/none:1 not found: manifest unknown: manifest unknown" in p.err
    port = _free_port()
    p = dy("pull", f"127.0.0.1:{port}/x:1", check=False)
    assert p.returncode == 1 and f"127.0.0.1:{port}" in p.err and "connection refused" in p.err
    p = dy("push", f"{reg.addr}/test/none:1", check=False)
    assert p.returncode == 1 and "An image does not exist locally with the tag" in p.err
    p = dy("pull", "--platform", "linux/s390x", f"{reg.addr}/x", check=False)
    assert p.returncode == 1 and "linux/s390x" in p.err
    for args in (("pull",), ("push", "a", "b")):
        p = dy(*args, check=False)
        assert p.returncode == 1 and "requires exactly 1 argument" in p.err


def test_push_all_tags_and_image_group_aliases(client, busybox, registry):
    dy = client
    reg = registry()
    for tag in ("1", "2"):
        dy("tag", busybox, f"{reg.addr}/test/all:{tag}")
    p = dy("image", "push", "-a", f"{reg.addr}/test/all")
    assert re.search(r"^1: digest: sha256:[0-9a-f]{64} size: \d+$", p.out, re.M)
    assert re.search(r"^2: digest: sha256:[0-9a-f]{64} size: \d+$", p.out, re.M)
    _, _, body = reg.request("GET", "/v2/test/all/tags/list")
    assert sorted(json.loads(body)["tags"]) == ["1", "2"]
    dy("rmi", f"{reg.addr}/test/all:2")
    assert dy("image", "pull", "-q", f"{reg.addr}/test/all:2").out.strip() == f"{reg.addr}/test/all:2"


def test_progress_on_a_terminal(client, busybox, registry):
    dy = client
    reg = registry()
    ref = f"{reg.addr}/test/tty:1"
    dy("tag", busybox, ref)
    dy("push", "-q", ref)
    dy("rmi", ref, busybox)
    t = Pty(dy, "pull", ref)
    try:
        t.expect(rb"Status: Downloaded newer image", timeout=30)
        assert t.wait() == 0
    finally:
        t.kill()
    assert b"\x1b[" in t.buf and b"Pull complete" in t.buf, t.buf


def test_chunked_upload_to_distribution(client, busybox, registry, monkeypatch, tmp_path):
    """Blobs larger than the chunk size go in PATCHes with Content-Range, as distribution wants them."""
    from dockyard.engine.engine import Engine
    from dockyard.registry import push as push_mod

    dy = client
    reg = registry()
    ref = f"{reg.addr}/test/chunked:1"
    dy("tag", busybox, ref)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setattr(push_mod, "CHUNK", 256 << 10)
    engine = Engine(dy.root, dy.runroot)
    layer = engine.images.manifest(engine.images.resolve(ref))["layers"][0]
    assert layer["size"] > 2 * push_mod.CHUNK, "the busybox layer spans several chunks"
    from dockyard.registry.client import Registry as Client

    patches = []
    real = Client.request

    def spy(self, method, path, **kw):
        if method == "PATCH":
            patches.append(kw["headers"]["Content-Range"])
        return real(self, method, path, **kw)

    monkeypatch.setattr(Client, "request", spy)
    result = push_mod.push(engine, ref)[0]
    engine.db.close()
    assert patches[0] == f"0-{push_mod.CHUNK - 1}" and len(patches) == -(-layer["size"] // push_mod.CHUNK)
    dy("rmi", ref, busybox)
    p = dy("pull", ref)
    assert f"Digest: {result.digest}" in p.out
    assert dy("run", "--rm", "--network", "none", ref, "sh", "-c", "echo ok").out == "ok\n"


def test_run_pulls_a_missing_image_from_the_registry_it_names(client, busybox, registry):
    dy = client
    reg = registry()
    ref = f"{reg.addr}/auto/busybox:1"
    dy("tag", busybox, ref)
    dy("push", "-q", ref)
    dy("rmi", ref, busybox)
    p = dy("run", "--rm", "--network", "none", ref, "echo", "pulled-and-ran")
    assert p.out == "pulled-and-ran\n"
    assert f"Unable to find image '{ref}' locally" in p.err and "Pull complete" in p.err
    p = dy("run", "--rm", "--pull", "never", "--network", "none", "nothere.invalid:5000/x:1", "true", check=False)
    assert p.returncode == 125 and "No such image" in p.err and "Unable to find" not in p.err
    # a Docker Hub name is never fetched implicitly
    p = dy("run", "--rm", "--network", "none", "no-such-image-here", "true", check=False)
    assert p.returncode == 125 and "No such image" in p.err and "Unable to find" not in p.err


def test_run_quiet_pulls_without_output(client, busybox, registry):
    """run/create -q: the implicit pull prints nothing; without it, docker's lines on stderr."""
    dy = client
    reg = registry()
    ref = f"{reg.addr}/test/quiet:1"
    dy("tag", busybox, ref)
    dy("push", ref)
    dy("rmi", ref)
    p = dy("run", "-q", "--rm", "--network", "none", ref, "echo", "ok")
    assert (p.out, p.err) == ("ok\n", "")
    dy("rmi", ref)
    p = dy("create", "--quiet", "--network", "none", ref, "true")
    assert p.err == "" and len(p.out.strip()) == 64
    dy("rm", p.out.strip())
    dy("rmi", ref)
    p = dy("run", "--rm", "--network", "none", ref, "echo", "ok")
    assert p.out == "ok\n" and f"Unable to find image '{ref}' locally" in p.err and "Downloaded newer image" in p.err


def test_pull_all_tags(client, busybox, registry):
    dy = client
    reg = registry()
    repo = f"{reg.addr}/test/many"
    for t in ("1", "2", "latest"):
        dy("tag", busybox, f"{repo}:{t}")
    dy("push", "-a", repo)
    dy("rmi", f"{repo}:1", f"{repo}:2", f"{repo}:latest")
    p = dy("pull", "-a", repo)
    assert p.out.splitlines()[-1] == repo
    got = set(dy("images", "--format", "{{.Repository}}:{{.Tag}}", repo).out.split())
    assert got == {f"{repo}:1", f"{repo}:2", f"{repo}:latest"}
    p = dy("pull", "-a", f"{repo}:1", check=False)
    assert p.returncode != 0 and "tag can't be used with --all-tags/-a" in p.err
