"""The registry client against stub registries on 127.0.0.1 (no root needed): the Bearer token flow,
digest verification, resuming dropped downloads, redirects, index resolution and error rendering.

Each stub is an `http.server` in a thread of this process, serving one small image (a ~3 MB
random layer, so a download spans several 1 MiB reads); each test starts and stops its own.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dockyard import errors
from dockyard.oci import mediatypes as mt
from dockyard.registry import credentials
from dockyard.registry.pull import pull

TOKEN = "good-token"


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_image(payload: bytes, arch: str = "amd64") -> dict:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        ti = tarfile.TarInfo("payload.bin")
        ti.size = len(payload)
        tar.addfile(ti, io.BytesIO(payload))
    plain = buf.getvalue()
    layer = gzip.compress(plain, mtime=0)
    config = json.dumps({"architecture": arch, "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [_sha(plain)]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                           "config": {"mediaType": mt.OCI_CONFIG, "digest": _sha(config), "size": len(config)},
                           "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": _sha(layer),
                                       "size": len(layer)}]}).encode()
    return {"layer": layer, "config": config, "manifest": manifest, "digest": _sha(manifest)}


class Stub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, auth: str | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.auth = auth
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, tuple[bytes, str]] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self.drop_once: set[str] = set()   # digests whose first download is cut halfway
        self.ignore_range = False
        self.corrupt: set[str] = set()     # digests served with flipped bytes
        self.redirect_blobs_to: str | None = None
        self.repo_blobs: dict[str, set[str]] = {}    # repo -> digests linked into it (push side)
        self.uploads: dict[str, bytearray] = {}
        self.drop_patch_once = False                 # cut one PATCH halfway (keeping what arrived)
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def add_image(self, repo: str, tag: str, img: dict) -> None:
        self.blobs[_sha(img["layer"])] = img["layer"]
        self.blobs[_sha(img["config"])] = img["config"]
        self.manifests[f"{repo}:{tag}"] = (img["manifest"], mt.OCI_MANIFEST)
        self.manifests[f"{repo}:{img['digest']}"] = (img["manifest"], mt.OCI_MANIFEST)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Stub

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self._send(status, body, {"Content-Type": "application/json", **(headers or {})})

    def _authorized(self, need: tuple[str, str] | None = None) -> bool:
        """Bearer: the static TOKEN (pull side), or a token naming the scopes it grants."""
        auth = self.server.auth
        got = self.headers.get("Authorization") or ""
        if auth is None:
            return True
        if auth == "basic":
            if got == "Basic " + base64.b64encode(b"user:pass").decode():
                return True
            self._error(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": 'Basic realm="stub"'})
            return False
        if got == f"Bearer {TOKEN}":
            return True
        if got.startswith("Bearer ") and need is not None:
            try:
                granted = json.loads(base64.b64decode(got[len("Bearer "):]))
            except ValueError:
                granted = []
            if any(g.startswith(f"repository:{need[0]}:") and need[1] in g.rsplit(":", 1)[1].split(",")
                   for g in granted):
                return True
        challenge = f'Bearer realm="http://{self.server.addr}/token",service="stub"'
        self._error(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge})
        return False

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests.append((self.command, self.path, dict(self.headers)))
        path = self.path.split("?")[0]
        if path == "/token":
            if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"user:pass").decode():
                return self._error(401, "UNAUTHORIZED", "incorrect username or password")
            from urllib.parse import parse_qs, urlsplit

            scopes = parse_qs(urlsplit(self.path).query).get("scope", [])
            token = base64.b64encode(json.dumps(scopes).encode()).decode() if scopes else TOKEN
            if any(sc.endswith(":pull") for sc in scopes) and len(scopes) == 1:
                token = TOKEN  # what the pull tests check for
            return self._send(200, json.dumps({"token": token, "expires_in": 300}).encode(),
                              {"Content-Type": "application/json"})
        if path.startswith("/redirected/"):
            return self._blob(path.rsplit("/", 1)[1])
        parts = path[len("/v2/"):].rsplit("/", 2)
        need = None
        if len(parts) == 3:
            need = (parts[0], "pull")
            if parts[1] == "uploads":
                need = (parts[0].rsplit("/", 1)[0], "push")
        if not self._authorized(need):
            return
        if path == "/v2/":
            return self._send(200, b"{}", {"Content-Type": "application/json"})
        if len(parts) != 3:
            return self._error(404, "NOT_FOUND", "no route")
        repo, kind, ref = parts
        if kind == "manifests":
            found = self.server.manifests.get(f"{repo}:{ref}")
            if found is None:
                return self._error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            body, media = found
            return self._send(200, body, {"Content-Type": media, "Docker-Content-Digest": _sha(body)})
        if kind == "uploads":
            repo = repo.rsplit("/", 1)[0]
            data = self.server.uploads.get(ref)
            if data is None:
                return self._error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
            return self._send(204, b"", {"Range": f"0-{max(len(data) - 1, 0)}"})
        if kind == "blobs" and self.command == "HEAD" and self.server.repo_blobs:  # something was pushed
            return self._send(200 if ref in self.server.repo_blobs.get(repo, ()) else 404)
        if kind == "blobs":
            if self.server.redirect_blobs_to:
                return self._send(307, b"", {"Location": f"http://{self.server.redirect_blobs_to}/redirected/{ref}"})
            return self._blob(ref)
        return self._error(404, "NOT_FOUND", "no route")

    def _write_target(self) -> tuple[str, str, str] | None:
        path = self.path.split("?")[0]
        with self.server.lock:
            self.server.requests.append((self.command, self.path, dict(self.headers)))
        repo, kind, ref = path[len("/v2/"):].rsplit("/", 2)
        if kind == "uploads":
            repo = repo.rsplit("/", 1)[0]  # ns/app/blobs/uploads/<id>
        if not self._authorized((repo, "push")):
            self._body()  # a request body left unread would be parsed as the next request
            return None
        return repo, kind, ref

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self) -> None:
        target = self._write_target()
        if target is None:
            return
        repo, _, _ = target
        from urllib.parse import parse_qs, urlsplit

        q = parse_qs(urlsplit(self.path).query)
        mount, source = q.get("mount", [None])[0], q.get("from", [None])[0]
        self._body()
        if mount and mount in self.server.repo_blobs.get(source, set()):
            self.server.repo_blobs.setdefault(repo, set()).add(mount)
            return self._send(201, b"", {"Location": f"/v2/{repo}/blobs/{mount}", "Docker-Content-Digest": mount})
        upload = os.urandom(8).hex()
        self.server.uploads[upload] = bytearray()
        self._send(202, b"", {"Location": f"http://{self.server.addr}/v2/{repo}/blobs/uploads/{upload}?_state=s",
                              "Range": "0-0"})

    def do_PATCH(self) -> None:
        target = self._write_target()
        if target is None:
            return
        repo, _, upload = target
        data = self.server.uploads[upload]
        start, _, end = (self.headers.get("Content-Range") or "").partition("-")
        if int(start) != len(data):
            self._body()
            return self._error(416, "BLOB_UPLOAD_INVALID", f"range starts at {start}, upload is at {len(data)}")
        length = int(self.headers["Content-Length"])
        with self.server.lock:
            drop, self.server.drop_patch_once = self.server.drop_patch_once, False
        if drop:  # take half the chunk, then hang up without an answer
            data += self.rfile.read(length // 2)
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        data += self._body()
        self._send(202, b"", {"Location": f"/v2/{repo}/blobs/uploads/{upload}?_state=t",
                              "Range": f"0-{len(data) - 1}"})

    def do_PUT(self) -> None:
        target = self._write_target()
        if target is None:
            return
        repo, kind, ref = target
        body = self._body()
        if kind == "manifests":
            self.server.manifests[f"{repo}:{ref}"] = (body, self.headers.get("Content-Type"))
            self.server.manifests[f"{repo}:{_sha(body)}"] = (body, self.headers.get("Content-Type"))
            return self._send(201, b"", {"Docker-Content-Digest": _sha(body)})
        from urllib.parse import parse_qs, urlsplit

        digest = parse_qs(urlsplit(self.path).query)["digest"][0]
        data = self.server.uploads.pop(ref) + body
        if _sha(bytes(data)) != digest:
            return self._error(400, "DIGEST_INVALID", "provided digest did not match uploaded content")
        self.server.blobs[digest] = bytes(data)
        self.server.repo_blobs.setdefault(repo, set()).add(digest)
        self._send(201, b"", {"Docker-Content-Digest": digest, "Location": f"/v2/{repo}/blobs/{digest}"})

    def _blob(self, digest: str) -> None:
        data = self.server.blobs.get(digest)
        if data is None:
            return self._error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        if digest in self.server.corrupt:
            data = bytes(b ^ 0xFF for b in data[:16]) + data[16:]
        start = 0
        rng = self.headers.get("Range")
        if rng and not self.server.ignore_range:
            start = int(rng.removeprefix("bytes=").split("-")[0])
        status = 206 if start else 200
        headers = {"Content-Type": "application/octet-stream"}
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        with self.server.lock:
            drop = digest in self.server.drop_once
            self.server.drop_once.discard(digest)
        if drop:  # promise everything, send half, hang up
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self._send(status, body, headers)


@pytest.fixture
def stub():
    servers: list[Stub] = []

    def start(auth: str | None = None) -> Stub:
        s = Stub(auth)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def engine(tmp_path, monkeypatch):
    from dockyard.engine.engine import Engine

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.delenv("DOCKYARD_INSECURE_REGISTRIES", raising=False)
    return Engine(str(tmp_path / "root"), str(tmp_path / "run"))


@pytest.fixture
def image():
    return make_image(os.urandom(3 << 20))


def _nothing_left(engine, img) -> None:
    for blob in (img["layer"], img["config"], img["manifest"]):
        assert not engine.content.has(_sha(blob))
    assert engine.db.list_images() == []
    ingest = engine.content.ingest_dir
    assert not os.path.isdir(ingest) or os.listdir(ingest) == []


def test_pull_with_the_bearer_token_flow(stub, engine, image):
    s = stub("bearer")
    s.add_image("ns/app", "1", image)
    credentials.store(s.addr, credentials.Credentials("user", "pass"))
    result = pull(engine, f"{s.addr}/ns/app:1")
    assert result.reference == f"{s.addr}/ns/app:1" and result.digest == image["digest"]
    assert result.image_id == _sha(image["config"]) and not result.up_to_date
    assert engine.db.resolve_tag(f"{s.addr}/ns/app:1") == result.image_id
    assert engine.content.read_bytes(_sha(image["layer"])) == image["layer"]
    tokens = [r for r in s.requests if r[1].startswith("/token")]
    assert len(tokens) == 1, "one token for the manifest and all the blobs"
    assert "scope=repository%3Ans%2Fapp%3Apull" in tokens[0][1] and "service=stub" in tokens[0][1]
    blob_gets = [r for r in s.requests if "/blobs/" in r[1]]
    assert blob_gets and all(r[2].get("Authorization") == f"Bearer {TOKEN}" for r in blob_gets)
    again = pull(engine, f"{s.addr}/ns/app:1")
    assert again.up_to_date and again.downloaded == 0


def test_pull_refused_without_credentials(stub, engine, image):
    s = stub("bearer")
    s.add_image("ns/app", "1", image)
    with pytest.raises(errors.PermissionDenied) as e:
        pull(engine, f"{s.addr}/ns/app:1")
    assert "unauthorized" in str(e.value)
    credentials.store(s.addr, credentials.Credentials("user", "wrong"))
    with pytest.raises(errors.PermissionDenied, match="incorrect username or password"):
        pull(engine, f"{s.addr}/ns/app:1")
    _nothing_left(engine, image)


def test_pull_with_basic_auth(stub, engine, image):
    s = stub("basic")
    s.add_image("app", "latest", image)
    with pytest.raises(errors.PermissionDenied, match="pull access denied for .*unauthorized: authentication required"):
        pull(engine, f"{s.addr}/app")
    credentials.store(s.addr, credentials.Credentials("user", "pass"))
    assert pull(engine, f"{s.addr}/app").reference == f"{s.addr}/app:latest"


def test_digest_mismatch_is_refused_and_nothing_is_stored(stub, engine, image):
    s = stub()
    s.add_image("ns/app", "1", image)
    s.corrupt.add(_sha(image["layer"]))
    with pytest.raises(errors.DigestMismatch) as e:
        pull(engine, f"{s.addr}/ns/app:1")
    assert _sha(image["layer"]) in str(e.value) and "nothing was stored" in str(e.value)
    _nothing_left(engine, image)


def test_manifest_that_does_not_match_its_digest_is_refused(stub, engine, image):
    s = stub()
    s.add_image("ns/app", "1", image)
    wrong = "sha256:" + "0" * 64
    s.manifests[f"ns/app:{wrong}"] = (image["manifest"], mt.OCI_MANIFEST)
    with pytest.raises(errors.DigestMismatch, match="failed verification"):
        pull(engine, f"{s.addr}/ns/app@{wrong}")
    _nothing_left(engine, image)


@pytest.mark.parametrize("ignore_range", [False, True], ids=["range", "range-ignored"])
def test_a_dropped_download_is_resumed(stub, engine, image, ignore_range):
    s = stub()
    s.add_image("ns/app", "1", image)
    s.drop_once.add(_sha(image["layer"]))
    s.ignore_range = ignore_range
    result = pull(engine, f"{s.addr}/ns/app:1")
    assert engine.content.verify(_sha(image["layer"]))
    gets = [r for r in s.requests if r[1].endswith(_sha(image["layer"]))]
    assert len(gets) == 2
    assert "Range" not in gets[0][2]
    offset = int(gets[1][2]["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < offset < len(image["layer"])
    assert result.image_id == _sha(image["config"])


def test_pull_by_digest_adds_no_tag(stub, engine, image):
    s = stub()
    s.add_image("ns/app", "1", image)
    result = pull(engine, f"{s.addr}/ns/app@{image['digest']}")
    assert result.reference == f"{s.addr}/ns/app@{image['digest']}"
    # no tag; the digest it came by is recorded (docker's RepoDigests)
    assert engine.db.list_tags() == [(f"{s.addr}/ns/app@{image['digest']}", result.image_id)]
    assert engine.images.names(engine.images.resolve(result.image_id)) == ([], [f"{s.addr}/ns/app@{image['digest']}"])
    assert engine.images.resolve(f"{s.addr}/ns/app@{image['digest']}").id == result.image_id


def test_an_index_resolves_to_this_platform(stub, engine, image):
    s = stub()
    other = make_image(b"arm", arch="arm64")
    variant = make_image(b"variant")
    s.add_image("ns/app", "arm", other)
    s.add_image("ns/app", "amd-v3", variant)
    s.add_image("ns/app", "amd", image)

    def desc(img, arch, variant=""):
        p = {"architecture": arch, "os": "linux", **({"variant": variant} if variant else {})}
        return {"mediaType": mt.OCI_MANIFEST, "digest": img["digest"], "size": len(img["manifest"]), "platform": p}

    index = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [
        desc(other, "arm64"), desc(variant, "amd64", "v3"), desc(image, "amd64"),
        {"mediaType": mt.OCI_MANIFEST, "digest": other["digest"], "size": 1,
         "platform": {"architecture": "unknown", "os": "unknown"}}]}).encode()
    s.manifests["ns/app:multi"] = (index, mt.OCI_INDEX)
    from dockyard.registry.pull import host_platform

    if host_platform() != ("linux", "amd64"):
        pytest.skip("the index names amd64 images")
    result = pull(engine, f"{s.addr}/ns/app:multi")
    assert result.digest == _sha(index)
    assert result.image_id == _sha(image["config"])
    assert engine.images.resolve(f"{s.addr}/ns/app:multi").manifest_digest == image["digest"]
    s.manifests["ns/app:armonly"] = (json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                                                 "manifests": [desc(other, "arm64")]}).encode(), mt.OCI_INDEX)
    with pytest.raises(errors.NotFound, match="no matching manifest for linux/amd64.*linux/arm64"):
        pull(engine, f"{s.addr}/ns/app:armonly")


def test_blob_redirects_are_followed_without_leaking_credentials(stub, engine, image):
    s = stub("basic")
    storage = stub()
    s.add_image("ns/app", "1", image)
    storage.blobs.update(s.blobs)
    s.redirect_blobs_to = storage.addr
    credentials.store(s.addr, credentials.Credentials("user", "pass"))
    pull(engine, f"{s.addr}/ns/app:1")
    fetched = [r for r in storage.requests if r[1].startswith("/redirected/")]
    assert len(fetched) == 2  # config and layer
    assert all("Authorization" not in r[2] for r in fetched)


def test_registry_errors_are_rendered(stub, engine):
    s = stub()
    with pytest.raises(errors.ImageNotFound) as e:
        pull(engine, f"{s.addr}/ns/missing:1")
    assert str(e.value) == f"manifest for {s.addr}/ns/missing:1 not found: manifest unknown: manifest unknown"


def test_connection_refused_names_the_host(engine):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(errors.Unavailable) as e:
        pull(engine, f"127.0.0.1:{port}/ns/app:1")
    assert f"127.0.0.1:{port}" in str(e.value) and "connection refused" in str(e.value)


def test_only_the_host_platform_is_accepted(engine):
    from dockyard.registry.pull import check_platform, host_platform

    os_, arch = host_platform()
    assert check_platform(f"{os_}/{arch}") == (os_, arch)
    with pytest.raises(errors.NotImplemented):
        check_platform("linux/s390x")
    with pytest.raises(errors.InvalidArgument):
        check_platform("linux")


# ============================================================================ push


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def line(self, text):
        self.events.append(("line", text))

    def status(self, ident, text):
        self.events.append((ident, text))

    def progress(self, ident, action, current, total):
        pass

    def finish(self):
        pass


def _local_image(engine, img: dict, tag: str) -> str:
    from dockyard.images.store import ImageStore

    engine.content.write_bytes(img["layer"])
    config = json.loads(img["config"])
    layer = json.loads(img["manifest"])["layers"][0]
    image_id = engine.images.add(config, [layer], [tag])
    assert ImageStore.normalize_tag(tag) in engine.db.tags_for(image_id)
    return image_id


def test_push_in_chunks_with_scoped_tokens_resuming_a_dropped_chunk(stub, engine, image, monkeypatch):
    from dockyard.registry import push as push_mod

    s = stub("bearer")
    credentials.store(s.addr, credentials.Credentials("user", "pass"))
    ref = f"{s.addr}/ns/app:1"
    _local_image(engine, image, ref)
    monkeypatch.setattr(push_mod, "CHUNK", 1 << 20)  # the 3 MiB layer goes in 4 PATCHes
    s.drop_patch_once = True
    rec = Recorder()
    results = push_mod.push(engine, ref, progress=rec)
    rec_manifest = engine.images.manifest(engine.images.resolve(ref))
    layer_digest = rec_manifest["layers"][0]["digest"]
    assert s.blobs[layer_digest] == engine.content.read_bytes(layer_digest)
    stored, media = s.manifests["ns/app:1"]
    assert stored == engine.content.read_bytes(engine.images.resolve(ref).manifest_digest)
    assert media == mt.OCI_MANIFEST
    assert results[0].digest == _sha(stored) and results[0].size == len(stored)
    patches = [r for r in s.requests if r[0] == "PATCH"]
    assert len(patches) >= 4 and all("_state=" in r[1] for r in patches)
    status_gets = [r for r in s.requests if r[0] == "GET" and "/blobs/uploads/" in r[1]]
    assert len(status_gets) == 1, "the dropped chunk is resumed from the offset the registry reports"
    tokens = [r[1] for r in s.requests if r[1].startswith("/token")]
    assert tokens and all("pull%2Cpush" in t for t in tokens)
    short = layer_digest.split(":")[1][:12]
    assert (short, "Pushed") in rec.events
    assert ("line", f"1: digest: {results[0].digest} size: {len(stored)}") in rec.events

    rec = Recorder()
    push_mod.push(engine, ref, progress=rec)
    assert (short, "Layer already exists") in rec.events


def test_push_mounts_a_blob_from_a_repository_it_came_from(stub, engine, image):
    from dockyard.registry.push import push

    s = stub()
    _local_image(engine, image, f"{s.addr}/ns/a:1")
    push(engine, f"{s.addr}/ns/a:1")
    engine.images.tag(f"{s.addr}/ns/a:1", f"{s.addr}/other/b:1")
    rec = Recorder()
    push(engine, f"{s.addr}/other/b:1", progress=rec)
    short = _sha(image["layer"]).split(":")[1][:12]
    assert (short, "Mounted from ns/a") in rec.events
    assert not [r for r in s.requests if r[0] == "PATCH" and "other/b" in r[1]]
    assert [r for r in s.requests if r[0] == "POST" and "mount=" in r[1] and "from=ns/a" in r[1]]


def test_push_without_credentials_is_refused(stub, engine, image):
    from dockyard.registry.push import push

    s = stub("basic")
    _local_image(engine, image, f"{s.addr}/ns/a:1")
    with pytest.raises(errors.PermissionDenied) as e:
        push(engine, f"{s.addr}/ns/a:1")
    assert "unauthorized: authentication required" in str(e.value)
    assert f"dockyard login {s.addr}" in e.value.hint
