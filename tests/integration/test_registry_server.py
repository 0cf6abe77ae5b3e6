"""`dockyard registry serve` over HTTP, as `python -S -m dockyard` (what the launcher runs), driven
with http.client: the distribution spec's endpoints, its error codes for hostile input (with
nothing stored), auth, read-only and delete modes, a SIGKILL mid-upload, and gc racing a push."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Resp:
    def __init__(self, status: int, headers, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    @property
    def codes(self) -> list[str]:
        return [e["code"] for e in self.json()["errors"]]

    def __repr__(self) -> str:
        return f"<{self.status} {self.body[:300]!r}>"


class Registry:
    """One `dockyard registry serve` process on a port the kernel picked (--addr 127.0.0.1:0;
    the server prints where it listens)."""

    def __init__(self, tmp_path, *args: str, root: str | None = None) -> None:
        self.root = root or str(tmp_path / "registry")
        self.log = str(tmp_path / f"server-{time.monotonic_ns()}.log")
        self.auth: tuple[str, str] | None = None
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-S", "-m", "dockyard", "registry", "serve", "--addr", "127.0.0.1:0",
                 "--root", self.root, *args],
                cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 20
        while True:
            m = re.search(r"listening on https?://127\.0\.0\.1:(\d+)", self.logtext())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"registry did not start:\n{self.logtext()}")
            time.sleep(0.02)

    def logtext(self) -> str:
        with open(self.log, errors="replace") as f:
            return f.read()

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                auth: tuple[str, str] | None = None) -> Resp:
        headers = dict(headers or {})
        creds = auth or self.auth
        if creds:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return Resp(r.status, r.headers, r.read())
        finally:
            conn.close()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    # -------------------------------------------------------- pushing

    def push_blob(self, repo: str, data: bytes) -> str:
        r = self.request("POST", f"/v2/{repo}/blobs/uploads/?digest={sha(data)}", data,
                         {"Content-Type": "application/octet-stream"})
        assert r.status == 201, r
        assert r.headers["Location"] == f"/v2/{repo}/blobs/{sha(data)}"
        assert r.headers["Docker-Content-Digest"] == sha(data)
        return sha(data)

    def push_manifest(self, repo: str, ref: str, doc: dict | bytes, media_type: str | None = None) -> Resp:
        data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        media_type = media_type or (doc.get("mediaType") if isinstance(doc, dict) else None) or OCI_MANIFEST
        return self.request("PUT", f"/v2/{repo}/manifests/{ref}", data, {"Content-Type": media_type})

    def push_image(self, repo: str, tag: str | None, layers: list[bytes], docker: bool = False, skip_existing: bool = False,
                   **extra) -> tuple[str, bytes]:
        """Push config, layers and manifest; with ``skip_existing``, as Docker does, a layer the
        registry says it has (HEAD) is not uploaded again."""
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                             "salt": os.urandom(8).hex()}).encode()
        doc = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
               "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG, "digest": self.push_blob(repo, config),
                          "size": len(config)},
               "layers": [{"mediaType": DOCKER_LAYER if docker else LAYER,
                           "digest": sha(lay) if skip_existing and self.request(
                               "HEAD", f"/v2/{repo}/blobs/{sha(lay)}").status == 200 else self.push_blob(repo, lay),
                           "size": len(lay)} for lay in layers], **extra}
        data = json.dumps(doc, indent=3).encode()  # not canonical: the registry must keep the bytes
        r = self.push_manifest(repo, tag or sha(data), data, doc["mediaType"])
        assert r.status == 201, r
        assert r.headers["Docker-Content-Digest"] == sha(data)
        assert r.headers["Location"] == f"/v2/{repo}/manifests/{sha(data)}"
        return sha(data), data

    def pull_image(self, repo: str, ref: str) -> dict:
        """Fetch a manifest and every blob it names, checking each digest."""
        r = self.request("GET", f"/v2/{repo}/manifests/{ref}", headers={"Accept": f"{OCI_MANIFEST}, {DOCKER_MANIFEST}"})
        assert r.status == 200, r
        assert sha(r.body) == r.headers["Docker-Content-Digest"]
        doc = r.json()
        for desc in [doc["config"], *doc["layers"]]:
            b = self.request("GET", f"/v2/{repo}/blobs/{desc['digest']}")
            assert b.status == 200, b
            assert sha(b.body) == desc["digest"] and len(b.body) == desc["size"]
        return doc


@pytest.fixture
def start(tmp_path):
    servers: list[Registry] = []

    def _start(*args: str, root: str | None = None) -> Registry:
        s = Registry(tmp_path, *args, root=root)
        servers.append(s)
        return s

    yield _start
    for s in servers:
        rc = s.stop()
        assert rc in (0, -signal.SIGKILL), f"exit {rc}:\n{s.logtext()}"
        assert "Traceback" not in s.logtext(), s.logtext()


def state(root: str) -> tuple[list[str], list[str]]:
    """Every file of the registry (but the database) and a dump of the database: compared before
    and after a refused request, it shows that nothing was stored."""
    paths = []
    for base, _dirs, names in os.walk(root):
        for n in names:
            rel = os.path.relpath(os.path.join(base, n), root)
            if not rel.startswith("registry.db"):
                paths.append(rel)
    conn = sqlite3.connect(os.path.join(root, "registry.db"))
    try:
        dump = [line for line in conn.iterdump() if "touched" not in line or "INSERT" in line]
    finally:
        conn.close()
    return sorted(paths), dump


def age(root: str, seconds: float) -> None:
    """Make everything in the registry look `seconds` older, as if it had sat idle that long:
    gc's grace period then tells it apart from what a test pushes next, however slow the machine."""
    conn = sqlite3.connect(os.path.join(root, "registry.db"), timeout=30)
    with conn:
        for table, column in (("blobs", "touched"), ("blob_links", "touched"), ("manifests", "touched"),
                              ("tags", "updated")):
            conn.execute(f"UPDATE {table} SET {column} = {column} - ?", (seconds,))
    conn.close()
    for base, _dirs, names in os.walk(root):
        for n in names:
            path = os.path.join(base, n)
            st = os.stat(path)
            os.utime(path, (st.st_atime - seconds, st.st_mtime - seconds))


def blob_files(root: str) -> list[str]:
    out = []
    for base, _dirs, names in os.walk(os.path.join(root, "blobs")):
        out += names
    return sorted(out)


# ----------------------------------------------------------------------------- the API


def test_base_endpoint_and_unknown_paths(start):
    srv = start()
    r = srv.request("GET", "/v2/")
    assert (r.status, r.json()) == (200, {})
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert srv.request("GET", "/v2").status == 200
    r = srv.request("GET", "/v1/_ping")
    assert r.status == 404 and r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    r = srv.request("POST", "/v2/")
    assert r.status == 405 and r.codes == ["UNSUPPORTED"] and r.headers["Allow"] == "GET, HEAD"
    assert re.search(r'"GET /v2/ HTTP/1.1" 200', srv.logtext())  # an access-log line per request


def test_monolithic_upload_head_get_and_range(start):
    srv = start()
    data = os.urandom(300_000)
    d = srv.push_blob("lib/a", data)
    r = srv.request("HEAD", f"/v2/lib/a/blobs/{d}")
    assert r.status == 200 and r.body == b""
    assert (r.headers["Content-Length"], r.headers["Docker-Content-Digest"]) == (str(len(data)), d)
    r = srv.request("GET", f"/v2/lib/a/blobs/{d}")
    assert r.status == 200 and r.body == data and r.headers["Content-Type"] == "application/octet-stream"
    r = srv.request("GET", f"/v2/lib/a/blobs/{d}", headers={"Range": "bytes=1000-1999"})
    assert r.status == 206 and r.body == data[1000:2000]
    assert r.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    r = srv.request("GET", f"/v2/lib/a/blobs/{d}", headers={"Range": "bytes=299990-"})
    assert r.status == 206 and r.body == data[-10:]
    assert srv.request("GET", f"/v2/lib/a/blobs/{d}", headers={"Range": "bytes=400000-"}).status == 416
    # a blob is visible only in the repository it was pushed to (or mounted into)
    r = srv.request("GET", f"/v2/lib/b/blobs/{d}")
    assert (r.status, r.codes) == (404, ["BLOB_UNKNOWN"])
    assert srv.request("HEAD", f"/v2/lib/a/blobs/{sha(b'other')}").status == 404
    # POST then PUT with the whole body (the other monolithic form)
    r = srv.request("POST", "/v2/lib/a/blobs/uploads/")
    assert r.status == 202
    r = srv.request("PUT", f"{r.headers['Location']}?digest={sha(b'put body')}", b"put body")
    assert r.status == 201 and srv.request("GET", f"/v2/lib/a/blobs/{sha(b'put body')}").body == b"put body"
    assert os.listdir(os.path.join(srv.root, "uploads")) == []


def test_chunked_upload_with_ranges_status_sha512_and_cancel(start):
    srv = start()
    data = os.urandom(2_500_000)
    r = srv.request("POST", "/v2/chunky/blobs/uploads/", headers={"Content-Length": "0"})
    assert r.status == 202 and r.headers["Range"] == "0-0"
    loc, uid = r.headers["Location"], r.headers["Docker-Upload-UUID"]
    assert loc == f"/v2/chunky/blobs/uploads/{uid}"
    r = srv.request("PATCH", loc, data[:1_000_000], {"Content-Range": "0-999999", "Content-Type": "application/octet-stream"})
    assert (r.status, r.headers["Range"], r.headers["Location"]) == (202, "0-999999", loc)
    # out of order: 416, and the upload is where it was
    r = srv.request("PATCH", loc, data[1_500_000:2_000_000], {"Content-Range": "1500000-1999999"})
    assert r.status == 416 and r.codes == ["BLOB_UPLOAD_INVALID"] and r.headers["Range"] == "0-999999"
    r = srv.request("PATCH", loc, data[:10], {"Content-Range": "0-9"})
    assert r.status == 416
    # a range that disagrees with the body's length
    r = srv.request("PATCH", loc, data[1_000_000:1_000_010], {"Content-Range": "1000000-1000019"})
    assert (r.status, r.codes) == (400, ["SIZE_INVALID"])
    r = srv.request("GET", loc)
    assert (r.status, r.headers["Range"], r.headers["Docker-Upload-UUID"]) == (204, "0-999999", uid)
    # a chunk without Content-Range is appended (how docker streams a layer)
    r = srv.request("PATCH", loc, data[1_000_000:2_000_000])
    assert (r.status, r.headers["Range"]) == (202, "0-1999999")
    # the last chunk comes with the closing PUT
    r = srv.request("PUT", f"{loc}?digest={sha(data)}", data[2_000_000:], {"Content-Range": "2000000-2499999"})
    assert r.status == 201 and r.headers["Docker-Content-Digest"] == sha(data)
    assert srv.request("GET", f"/v2/chunky/blobs/{sha(data)}").body == data
    r = srv.request("GET", loc)
    assert (r.status, r.codes) == (404, ["BLOB_UPLOAD_UNKNOWN"])

    # sha512, asked for up front
    data = b"sha512 content"
    d512 = "sha512:" + hashlib.sha512(data).hexdigest()
    r = srv.request("POST", "/v2/x/blobs/uploads/?digest-algorithm=sha512")
    r = srv.request("PUT", f"{r.headers['Location']}?digest={d512}", data)
    assert r.status == 201 and r.headers["Docker-Content-Digest"] == d512
    assert srv.request("GET", f"/v2/x/blobs/{d512}").body == data

    # cancelling
    r = srv.request("POST", "/v2/c/blobs/uploads/")
    loc = r.headers["Location"]
    srv.request("PATCH", loc, b"some bytes")
    assert srv.request("DELETE", loc).status == 204
    assert srv.request("GET", loc).codes == ["BLOB_UPLOAD_UNKNOWN"]
    assert srv.request("PUT", f"{loc}?digest={sha(b'some bytes')}").codes == ["BLOB_UPLOAD_UNKNOWN"]
    assert os.listdir(os.path.join(srv.root, "uploads")) == []
    assert sha(b"some bytes")[7:] not in blob_files(srv.root)
    # a session belongs to its repository
    loc = srv.request("POST", "/v2/c/blobs/uploads/").headers["Location"]
    assert srv.request("GET", loc.replace("/v2/c/", "/v2/d/")).codes == ["BLOB_UPLOAD_UNKNOWN"]


def test_cross_repository_mount(start):
    srv = start()
    d = srv.push_blob("src/repo", b"shared layer")
    r = srv.request("POST", f"/v2/dst/repo/blobs/uploads/?mount={d}&from=src/repo")
    assert r.status == 201 and r.headers["Location"] == f"/v2/dst/repo/blobs/{d}"
    assert r.headers["Docker-Content-Digest"] == d
    assert srv.request("GET", f"/v2/dst/repo/blobs/{d}").body == b"shared layer"
    # the source lacks it: an ordinary upload session starts instead
    other = sha(b"elsewhere")
    r = srv.request("POST", f"/v2/dst/repo/blobs/uploads/?mount={other}&from=src/repo")
    assert r.status == 202 and "/blobs/uploads/" in r.headers["Location"]
    r = srv.request("POST", f"/v2/dst/repo/blobs/uploads/?mount={d}&from=not/there")
    assert r.status == 202
    r = srv.request("POST", f"/v2/dst/repo/blobs/uploads/?mount={d}&from=..%2F..%2Fetc")
    assert r.status == 202  # a bad mount request is just a new upload, as in distribution


def test_manifests_by_tag_and_digest_in_both_formats(start):
    srv = start()
    for docker, repo in ((True, "dk/img"), (False, "oci/img")):
        digest, data = srv.push_image(repo, "v1", [b"layer one", b"layer two"], docker=docker)
        media = DOCKER_MANIFEST if docker else OCI_MANIFEST
        for ref in ("v1", digest):
            r = srv.request("GET", f"/v2/{repo}/manifests/{ref}", headers={"Accept": media})
            assert r.status == 200 and r.body == data  # the exact bytes pushed
            assert (r.headers["Content-Type"], r.headers["Docker-Content-Digest"]) == (media, digest)
            r = srv.request("HEAD", f"/v2/{repo}/manifests/{ref}")
            assert r.status == 200 and r.body == b"" and r.headers["Content-Length"] == str(len(data))
            assert r.headers["Docker-Content-Digest"] == digest
        srv.pull_image(repo, "v1")
        r = srv.request("GET", f"/v2/{repo}/manifests/v1", headers={"If-None-Match": f'"{digest}"'})
        assert r.status == 304
        # a client that only speaks schema1 gets nothing rather than a format it cannot read
        r = srv.request("GET", f"/v2/{repo}/manifests/v1",
                        headers={"Accept": "application/vnd.docker.distribution.manifest.v1+prettyjws"})
        assert (r.status, r.codes) == (404, ["MANIFEST_UNKNOWN"])
    assert srv.request("GET", "/v2/oci/img/manifests/nope").codes == ["MANIFEST_UNKNOWN"]
    assert srv.request("GET", f"/v2/oci/img/manifests/{sha(b'x')}").codes == ["MANIFEST_UNKNOWN"]
    # re-tagging moves the tag
    d2, data2 = srv.push_image("oci/img", "v1", [b"new layer"])
    assert srv.request("GET", "/v2/oci/img/manifests/v1").body == data2
    # push by digest with ?tag= (distribution-spec 1.1's end-7b)
    r = srv.push_manifest("oci/img", f"{d2}?tag=a&tag=b", data2, OCI_MANIFEST)
    assert r.status == 201 and r.headers.get_all("OCI-Tag") == ["a", "b"]
    assert srv.request("GET", "/v2/oci/img/tags/list").json()["tags"] == ["a", "b", "v1"]


def test_index_of_manifests(start):
    srv = start()
    amd, _ = srv.push_image("multi", None, [b"amd64 layer"])
    arm, _ = srv.push_image("multi", None, [b"arm64 layer"])
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": amd, "size": 1, "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": OCI_MANIFEST, "digest": arm, "size": 1, "platform": {"os": "linux", "architecture": "arm64"}}]}
    r = srv.push_manifest("multi", "latest", index)
    assert r.status == 201, r
    r = srv.request("GET", "/v2/multi/manifests/latest", headers={"Accept": OCI_INDEX})
    assert r.headers["Content-Type"] == OCI_INDEX and r.json()["manifests"][1]["digest"] == arm
    srv.pull_image("multi", arm)
    # an index naming a manifest this repository does not have
    missing = dict(index, manifests=index["manifests"] + [{"mediaType": OCI_MANIFEST, "digest": sha(b"?"), "size": 1}])
    before = state(srv.root)
    r = srv.push_manifest("multi", "broken", missing)
    assert (r.status, r.codes) == (400, ["MANIFEST_BLOB_UNKNOWN"])
    assert r.json()["errors"][0]["detail"] == {"digest": sha(b"?")}
    assert state(srv.root) == before


def test_tags_list_and_catalog_pagination(start):
    srv = start()
    digest, data = srv.push_image("paged", "t0", [b"l"])
    for t in ("t3", "t1", "T9", "t2", "t10"):
        assert srv.push_manifest("paged", t, data, OCI_MANIFEST).status == 201
    everything = ["T9", "t0", "t1", "t10", "t2", "t3"]  # byte ("ASCIIbetical") order
    assert srv.request("GET", "/v2/paged/tags/list").json() == {"name": "paged", "tags": everything}
    seen, url = [], "/v2/paged/tags/list?n=4"
    while url:
        r = srv.request("GET", url)
        assert r.status == 200 and len(r.json()["tags"]) <= 4
        seen += r.json()["tags"]
        link = r.headers.get("Link")
        url = re.fullmatch(r'<(.+)>; rel="next"', link).group(1) if link else None
    assert seen == everything
    assert srv.request("GET", "/v2/paged/tags/list?n=2&last=t1").json()["tags"] == ["t10", "t2"]
    assert srv.request("GET", "/v2/paged/tags/list?last=t2").json()["tags"] == ["t3"]
    r = srv.request("GET", "/v2/paged/tags/list?n=0")
    assert r.json()["tags"] == [] and "Link" not in r.headers
    assert srv.request("GET", "/v2/paged/tags/list?n=-1").status == 400
    r = srv.request("GET", "/v2/unknown/tags/list")
    assert (r.status, r.codes) == (404, ["NAME_UNKNOWN"])

    # the catalog pages the same way
    for repo in ("b/two", "a/one", "c"):
        srv.push_image(repo, "x", [repo.encode()])
    assert srv.request("GET", "/v2/_catalog").json() == {"repositories": ["a/one", "b/two", "c", "paged"]}
    r = srv.request("GET", "/v2/_catalog?n=2")
    assert r.json()["repositories"] == ["a/one", "b/two"]
    assert r.headers["Link"] == '</v2/_catalog?n=2&last=b%2Ftwo>; rel="next"'
    r = srv.request("GET", "/v2/_catalog?n=2&last=b%2Ftwo")
    assert r.json()["repositories"] == ["c", "paged"] and "Link" not in r.headers


def test_referrers(start):
    srv = start()
    subject, subject_data = srv.push_image("app", "v1", [b"app layer"])
    sub = {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(subject_data)}
    empty = srv.push_blob("app", b"{}")
    sig_doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sig",
               "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
               "layers": [{"mediaType": "application/octet-stream", "digest": srv.push_blob("app", b"sig"), "size": 3}],
               "subject": sub, "annotations": {"org.example.signer": "ci"}}
    r = srv.push_manifest("app", sha(json.dumps(sig_doc).encode()), sig_doc)
    assert r.status == 201 and r.headers["OCI-Subject"] == subject
    sig = r.headers["Docker-Content-Digest"]
    sbom, _ = srv.push_image("app", None, [b"sbom"], subject=sub)  # artifactType from its config
    r = srv.request("GET", f"/v2/app/referrers/{subject}")
    assert r.status == 200 and r.headers["Content-Type"] == OCI_INDEX
    index = r.json()
    assert (index["schemaVersion"], index["mediaType"]) == (2, OCI_INDEX)
    by = {m["digest"]: m for m in index["manifests"]}
    assert set(by) == {sig, sbom}
    assert by[sig]["artifactType"] == "application/vnd.example.sig"
    assert by[sig]["annotations"] == {"org.example.signer": "ci"}
    assert by[sbom]["artifactType"] == OCI_CONFIG and by[sbom]["mediaType"] == OCI_MANIFEST
    r = srv.request("GET", f"/v2/app/referrers/{subject}?artifactType=application/vnd.example.sig")
    assert [m["digest"] for m in r.json()["manifests"]] == [sig]
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    # a subject may be pushed after its referrers, and an unknown one just has none
    r = srv.request("GET", f"/v2/app/referrers/{sha(b'nothing')}")
    assert r.status == 200 and r.json()["manifests"] == []
    assert srv.request("GET", "/v2/app/referrers/sha256:zzz").codes == ["DIGEST_INVALID"]


def test_deletes_are_refused_unless_enabled(start, tmp_path):
    srv = start()
    digest, _ = srv.push_image("del", "v1", [b"layer"])
    layer = sha(b"layer")
    for path in ("/v2/del/manifests/v1", f"/v2/del/manifests/{digest}", f"/v2/del/blobs/{layer}"):
        r = srv.request("DELETE", path)
        assert (r.status, r.codes) == (405, ["UNSUPPORTED"])
    srv.stop()
    srv = start("--delete-enabled", root=srv.root)
    assert srv.request("DELETE", "/v2/del/manifests/v1").status == 202
    assert srv.request("GET", "/v2/del/manifests/v1").codes == ["MANIFEST_UNKNOWN"]
    assert srv.request("DELETE", "/v2/del/manifests/v1").codes == ["MANIFEST_UNKNOWN"]
    assert srv.request("GET", f"/v2/del/manifests/{digest}").status == 200  # the tag went, not the manifest
    srv.push_manifest("del", "v2", srv.request("GET", f"/v2/del/manifests/{digest}").body, OCI_MANIFEST)
    assert srv.request("DELETE", f"/v2/del/manifests/{digest}").status == 202
    assert srv.request("GET", f"/v2/del/manifests/{digest}").codes == ["MANIFEST_UNKNOWN"]
    assert srv.request("GET", "/v2/del/tags/list").json()["tags"] == []  # its tags went with it
    assert srv.request("DELETE", f"/v2/del/blobs/{layer}").status == 202
    assert srv.request("HEAD", f"/v2/del/blobs/{layer}").status == 404
    assert srv.request("DELETE", f"/v2/del/blobs/{layer}").codes == ["BLOB_UNKNOWN"]


def test_read_only(start):
    srv = start()
    digest, data = srv.push_image("ro", "v1", [b"ro layer"])
    srv.stop()
    srv = start("--read-only", "--delete-enabled", root=srv.root)
    before = state(srv.root)
    srv.pull_image("ro", "v1")
    assert srv.request("GET", "/v2/ro/tags/list").json()["tags"] == ["v1"]
    for method, path, body in (("POST", "/v2/ro/blobs/uploads/", None),
                               ("POST", f"/v2/ro/blobs/uploads/?digest={sha(b'x')}", b"x"),
                               ("PUT", "/v2/ro/manifests/v2", data),
                               ("DELETE", "/v2/ro/manifests/v1", None),
                               ("DELETE", f"/v2/ro/blobs/{sha(b'ro layer')}", None)):
        r = srv.request(method, path, body)
        assert (r.status, r.codes) == (405, ["UNSUPPORTED"]), (method, path, r)
    assert state(srv.root) == before


def test_htpasswd_auth(start, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_bytes(subprocess.run(["htpasswd", "-Bbn", "alice", "wonder land"], capture_output=True,
                                        check=True).stdout)
    srv = start("--htpasswd", str(htpasswd))
    for path in ("/v2/", "/v2/_catalog", "/v2/x/tags/list", f"/v2/x/blobs/{sha(b'a')}"):
        r = srv.request("GET", path)
        assert (r.status, r.codes) == (401, ["UNAUTHORIZED"])
        assert r.headers["WWW-Authenticate"] == 'Basic realm="dockyard registry"'
    assert srv.request("GET", "/v2/", auth=("alice", "wrong")).status == 401
    assert srv.request("GET", "/v2/", auth=("bob", "wonder land")).status == 401
    assert srv.request("GET", "/v2/", auth=("alice", "wonder land")).status == 200
    before = state(srv.root)
    r = srv.request("POST", f"/v2/x/blobs/uploads/?digest={sha(b'anon')}", b"anon")
    assert r.status == 401
    r = srv.request("PUT", "/v2/x/manifests/v1", b"{}", {"Content-Type": OCI_MANIFEST})
    assert r.status == 401
    assert state(srv.root) == before
    srv.auth = ("alice", "wonder land")
    srv.push_image("x", "v1", [b"authorised"])
    srv.pull_image("x", "v1")


def test_tls(start, tmp_path):
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], capture_output=True, check=True)
    srv = start("--tls-cert", str(cert), "--tls-key", str(key))
    assert "listening on https://" in srv.logtext()
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False
    conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=10)
    conn.request("GET", "/v2/")
    r = conn.getresponse()
    assert r.status == 200 and r.getheader("Docker-Distribution-API-Version") == "registry/2.0"
    conn.close()


def test_cli_errors(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-S", "-m", "dockyard", "registry", *args], cwd=REPO,
                              env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True, timeout=30)

    p = run("serve", "--addr", "nonsense", "--root", str(tmp_path))
    assert p.returncode == 1 and "invalid --addr" in p.stderr and "Traceback" not in p.stderr
    bad = tmp_path / "htpasswd"
    bad.write_text("alice:{SHA}abc\n")
    p = run("serve", "--addr", "127.0.0.1:0", "--root", str(tmp_path / "r"), "--htpasswd", str(bad))
    assert p.returncode == 1 and "non-bcrypt" in p.stderr and "Traceback" not in p.stderr
    p = run("gc", "--root", str(tmp_path / "none"))
    assert p.returncode == 1 and "no registry at" in p.stderr
    p = run("gc", "--grace", "soon", "--root", str(tmp_path))
    assert p.returncode == 1 and "invalid duration" in p.stderr
    with socket.socket() as s:  # a port that is taken
        s.bind(("127.0.0.1", 0))
        s.listen()
        p = run("serve", "--addr", f"127.0.0.1:{s.getsockname()[1]}", "--root", str(tmp_path / "r2"))
    assert p.returncode == 1 and "cannot listen on 127.0.0.1" in p.stderr and "Traceback" not in p.stderr


# ----------------------------------------------------------------------------- hostile input


def test_wrong_digest_stores_nothing(start):
    srv = start()
    srv.push_blob("h", b"something already there")
    before = state(srv.root)
    r = srv.request("POST", f"/v2/h/blobs/uploads/?digest={sha(b'promised')}", b"delivered")
    assert (r.status, r.codes) == (400, ["DIGEST_INVALID"])
    assert r.json()["errors"][0]["detail"]["actual"] == sha(b"delivered")
    loc = srv.request("POST", "/v2/h/blobs/uploads/").headers["Location"]
    r = srv.request("PUT", f"{loc}?digest={sha(b'promised')}", b"delivered")
    assert r.codes == ["DIGEST_INVALID"]
    assert srv.request("GET", loc).codes == ["BLOB_UPLOAD_UNKNOWN"]  # the data was discarded
    for bad in ("sha256:1234", "md5:" + "0" * 32, "sha256:" + "0" * 63 + "%2F", "nonsense"):
        r = srv.request("POST", f"/v2/h/blobs/uploads/?digest={bad}", b"delivered")
        assert (r.status, r.codes) == (400, ["DIGEST_INVALID"]), bad
    assert state(srv.root) == before
    assert srv.request("HEAD", f"/v2/h/blobs/{sha(b'delivered')}").status == 404


def test_truncated_upload_is_refused(start):
    srv = start()
    data = os.urandom(1_500_000)
    loc = srv.request("POST", "/v2/t/blobs/uploads/").headers["Location"]
    assert srv.request("PATCH", loc, data[:1_000_000], {"Content-Range": "0-999999"}).status == 202
    r = srv.request("PUT", f"{loc}?digest={sha(data)}")  # the rest never came
    assert (r.status, r.codes) == (400, ["DIGEST_INVALID"])
    assert blob_files(srv.root) == [] and os.listdir(os.path.join(srv.root, "uploads")) == []
    r = srv.request("PUT", f"{loc}?digest={sha(data)}")
    assert r.codes == ["BLOB_UPLOAD_UNKNOWN"]
    loc = srv.request("POST", "/v2/t/blobs/uploads/").headers["Location"]
    r = srv.request("PUT", loc, b"no digest")
    assert r.codes == ["DIGEST_INVALID"]
    assert srv.request("GET", loc).status == 204  # a PUT without ?digest= may be retried


def test_bad_manifests_are_refused_and_store_nothing(start):
    srv = start()
    digest, good = srv.push_image("m", "v1", [b"base"])
    config = json.loads(good)["config"]
    before = state(srv.root)
    cases = [
        ("PUT", "/v2/m/manifests/big", b"{" + b" " * (4 * 1024 * 1024) + b"}", OCI_MANIFEST, 413, "SIZE_INVALID"),
        ("PUT", "/v2/m/manifests/v2", b'{"schemaVersion": 2, "config": ', OCI_MANIFEST, 400, "MANIFEST_INVALID"),
        ("PUT", "/v2/m/manifests/v2", good, DOCKER_MANIFEST, 400, "MANIFEST_INVALID"),  # mediaType mismatch
        ("PUT", "/v2/m/manifests/v2", json.dumps({"schemaVersion": 1, "fsLayers": []}).encode(),
         "application/vnd.docker.distribution.manifest.v1+prettyjws", 400, "MANIFEST_INVALID"),
        ("PUT", "/v2/m/manifests/v2", json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config,
                                                  "layers": [{"mediaType": LAYER, "digest": sha(b"gone"),
                                                              "size": 4}]}).encode(),
         OCI_MANIFEST, 400, "MANIFEST_BLOB_UNKNOWN"),
        ("PUT", f"/v2/m/manifests/{sha(b'not this')}", good, OCI_MANIFEST, 400, "DIGEST_INVALID"),
        ("PUT", "/v2/m/manifests/-bad-tag", good, OCI_MANIFEST, 400, "TAG_INVALID"),
        ("PUT", "/v2/m/manifests/" + "t" * 129, good, OCI_MANIFEST, 400, "TAG_INVALID"),
        ("PUT", f"/v2/m/manifests/{digest}?tag=..", good, OCI_MANIFEST, 400, "TAG_INVALID"),
        ("PUT", "/v2/other/manifests/v1", good, OCI_MANIFEST, 400, "MANIFEST_BLOB_UNKNOWN"),  # blobs live in m
    ]
    for method, path, body, ctype, status, code in cases:
        r = srv.request(method, path, body, {"Content-Type": ctype})
        assert (r.status, r.codes[0]) == (status, code), (path[:80], r)
        assert state(srv.root) == before, path[:80]


@pytest.mark.parametrize("tag", ["-bad", ".x", "t" * 129, "a+b", "%2e%2e", "a%20b"])
def test_manifest_by_an_invalid_tag_is_unknown_to_reads_and_invalid_to_writes(start, tag):
    """distribution-spec conformance: GET/HEAD of a manifest by a reference that cannot be a tag
    answer 404 MANIFEST_UNKNOWN, as for a tag that is not there; a PUT still gets 400 TAG_INVALID."""
    srv = start()
    srv.push_image("ok/repo", "v1", [b"fine"])
    before = state(srv.root)
    for path in (f"/v2/ok/repo/manifests/{tag}", "/v2/ok/repo/manifests/absent"):
        r = srv.request("GET", path)
        assert (r.status, r.codes) == (404, ["MANIFEST_UNKNOWN"]), (path, r)
        r = srv.request("HEAD", path)
        assert (r.status, r.body) == (404, b""), (path, r)
    r = srv.request("PUT", f"/v2/ok/repo/manifests/{tag}", b"{}", {"Content-Type": OCI_MANIFEST})
    assert (r.status, r.codes) == (400, ["TAG_INVALID"]), r
    r = srv.request("GET", "/v2/ok/repo/manifests/sha256:short")  # a colon: a digest, still checked
    assert (r.status, r.codes) == (400, ["DIGEST_INVALID"]), r
    assert state(srv.root) == before
    assert srv.request("GET", "/v2/ok/repo/manifests/v1").status == 200


def test_bad_names_and_path_tricks_never_reach_storage(start):
    srv = start()
    srv.push_image("ok/repo", "v1", [b"fine"])
    layer = sha(b"fine")
    before = state(srv.root)
    name_invalid = ["/v2/UPPER/tags/list", "/v2/a/../b/tags/list", "/v2/%2e%2e/%2e%2e/etc/tags/list",
                    "/v2/ok%2frepo/tags/list", "/v2/ok%2Frepo/manifests/v1", "/v2/ok//repo/tags/list",
                    "/v2/" + "a" * 256 + "/tags/list", f"/v2/../ok/repo/blobs/{layer}", "/v2/a%00b/tags/list",
                    "/v2/ok/repo/../../x/blobs/uploads/", "/v2/-x/blobs/uploads/", "/v2/x_/manifests/v1"]
    for path in name_invalid:
        for method in ("GET", "POST", "PUT"):
            r = srv.request(method, path, b"{}")
            assert r.status in (400, 405) and r.codes[0] in ("NAME_INVALID", "UNSUPPORTED"), (method, path, r)
            if method == "GET":
                assert (r.status, r.codes) == (400, ["NAME_INVALID"]), (path, r)
    # a digest or upload id that would be a path
    r = srv.request("GET", "/v2/ok/repo/blobs/sha256:..%2F..%2F..%2Fetc%2Fpasswd")
    assert (r.status, r.codes) == (400, ["DIGEST_INVALID"])
    r = srv.request("GET", "/v2/ok/repo/blobs/..%2F..%2Fregistry.db")
    assert r.status == 400
    for uid in ("..", "..%2F..%2Fregistry.db", "%2e%2e", "00000000-0000-0000-0000-00000000000G"):
        r = srv.request("PATCH", f"/v2/ok/repo/blobs/uploads/{uid}", b"x")
        assert r.codes == ["BLOB_UPLOAD_UNKNOWN"], uid
    r = srv.request("GET", "/v2/ok/repo/manifests/..%2F..%2Fregistry.db")
    # no manifest has a tag that is not one: 404, as the distribution-spec conformance suite expects
    assert r.status == 404 and r.codes == ["MANIFEST_UNKNOWN"]
    assert srv.request("HEAD", "/v2/ok/repo/manifests/-bad-tag").status == 404
    r = srv.request("PUT", "/v2/ok/repo/manifests/-bad-tag", b"{}", {"Content-Type": OCI_MANIFEST})
    assert r.status == 400 and r.codes == ["TAG_INVALID"]  # a PUT of one is still refused as invalid
    # /v2/../ never leaves the API, and an HTTP client cannot climb above it either
    assert srv.request("GET", "/v2/../../../etc/passwd").status == 404
    assert srv.request("GET", "/../registry.db").status == 404
    assert state(srv.root) == before
    assert srv.request("GET", f"/v2/ok/repo/blobs/{layer}").body == b"fine"


# ----------------------------------------------------------------------------- crashes and gc


def test_sigkill_mid_upload_leaves_no_visible_blob(start):
    srv = start()
    data = os.urandom(4_000_000)
    loc = srv.request("POST", "/v2/crash/blobs/uploads/").headers["Location"]
    assert srv.request("PATCH", loc, data[:1_000_000], {"Content-Range": "0-999999"}).status == 202
    # a monolithic upload and a chunk, both cut off half way by a SIGKILL
    socks = []
    for head in (f"POST /v2/crash/blobs/uploads/?digest={sha(data)} HTTP/1.1\r\n",
                 f"PATCH {loc} HTTP/1.1\r\nContent-Range: 1000000-3999999\r\n"):
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(f"{head}Host: x\r\nContent-Length: 3000000\r\n\r\n".encode() + data[1_000_000:2_500_000])
        socks.append(s)
    time.sleep(0.5)
    assert srv.stop(signal.SIGKILL) == -signal.SIGKILL
    for s in socks:
        s.close()
    assert blob_files(srv.root) == []
    srv = start(root=srv.root)
    assert srv.request("HEAD", f"/v2/crash/blobs/{sha(data)}").status == 404
    # the session survives, cut back to its last whole chunk, and can be finished
    r = srv.request("GET", loc)
    assert (r.status, r.headers["Range"]) == (204, "0-999999")
    r = srv.request("PUT", f"{loc}?digest={sha(data)}", data[1_000_000:], {"Content-Range": "1000000-3999999"})
    assert r.status == 201, r
    assert srv.request("GET", f"/v2/crash/blobs/{sha(data)}").body == data


def _gc(root: str, *args: str) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-S", "-m", "dockyard", "registry", "gc", "--root", root, *args], cwd=REPO,
                       env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    return p


def test_gc_removes_unreachable_keeps_reachable_and_young(start):
    srv = start("--delete-enabled")
    keep, _ = srv.push_image("gc/app", "v1", [b"shared base", b"v1 layer"])
    drop, _ = srv.push_image("gc/app", "v2", [b"shared base", b"v2 layer " * 1000])
    orphan = srv.push_blob("gc/app", b"never referenced")
    assert srv.request("DELETE", "/v2/gc/app/manifests/v2").status == 202
    before = blob_files(srv.root)

    out = _gc(srv.root).stdout  # default grace 1h: everything is young
    assert "0 manifests, 0 blob links, 0 blobs" in out and blob_files(srv.root) == before

    age(srv.root, 7200)
    out = _gc(srv.root, "--dry-run").stdout
    assert f"would remove manifest gc/app@{drop}" in out and "dry run:" in out
    assert blob_files(srv.root) == before
    young, _ = srv.push_image("gc/app", None, [b"young, untagged"])  # pushed just now

    out = _gc(srv.root).stdout
    assert f"removed manifest gc/app@{drop}" in out
    assert f"removed blob {orphan}" in out and f"removed blob {sha(b'v2 layer ' * 1000)}" in out
    freed = re.search(r"; (\S+) freed", out).group(1)
    assert freed.endswith("kB") and float(freed[:-2]) >= 9  # the 9 kB layer and a little more
    assert srv.request("GET", f"/v2/gc/app/manifests/{drop}").status == 404
    assert srv.request("HEAD", f"/v2/gc/app/blobs/{orphan}").status == 404
    srv.pull_image("gc/app", "v1")
    srv.pull_image("gc/app", young)
    assert sha(b"shared base")[7:] in blob_files(srv.root)


def test_manifest_put_after_gc_took_its_blobs_fails_cleanly(start):
    srv = start()
    layer = srv.push_blob("late", b"pushed, then forgotten for too long")
    config = srv.push_blob("late", b"{}")
    age(srv.root, 7200)
    _gc(srv.root)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"mediaType": OCI_CONFIG, "digest": config, "size": 2},
           "layers": [{"mediaType": LAYER, "digest": layer, "size": 35}]}
    r = srv.push_manifest("late", "v1", doc)
    assert (r.status, sorted(r.codes)) == (400, ["MANIFEST_BLOB_UNKNOWN"] * 2)
    assert blob_files(srv.root) == []


def test_gc_while_the_server_takes_pushes(start):
    srv = start()
    garbage = [srv.push_blob("busy", os.urandom(50_000)) for _ in range(5)]
    base = os.urandom(200_000)
    srv.push_blob("busy", base)  # an old upload the pushes find with HEAD and reuse (or re-upload if gc was first)
    age(srv.root, 7200)  # all of it is now older than gc's grace period; the pushes will not be
    pushed: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def pusher():
        try:
            i = 0
            while not stop.is_set() or i < 8:
                digest, _ = srv.push_image("busy", f"t{i}", [base, os.urandom(100_000), os.urandom(30_000)],
                                           skip_existing=True)
                pushed.append((f"t{i}", digest))
                i += 1
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    t = threading.Thread(target=pusher)
    t.start()
    try:
        outs = [_gc(srv.root).stdout for _ in range(4)]
    finally:
        stop.set()
        t.join(timeout=120)
    assert not errors, errors
    assert len(pushed) >= 8
    removed = "".join(outs)
    for d in garbage:
        assert f"removed blob {d}" in removed
    for tag, digest in pushed:
        doc = srv.pull_image("busy", tag)
        assert srv.request("HEAD", f"/v2/busy/manifests/{tag}").headers["Docker-Content-Digest"] == digest
        assert len(doc["layers"]) == 3
    assert "Traceback" not in srv.logtext()
