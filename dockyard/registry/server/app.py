"""The registry's HTTP side: aiohttp handlers for the OCI distribution spec v1.1.

The only module of dockyard that imports aiohttp. It uses aiohttp's low-level server (no router):
requests are routed here on the *raw* path, split on ``/`` before any percent-decoding, and every
segment goes through :mod:`names` before it is used, so an encoded slash or dot-dot cannot change
which repository, tag or digest a request names.

Threads: the event loop parses HTTP and never blocks on disk or bcrypt. Upload bytes are
written and hashed in an I/O pool (hashlib and os.write release the GIL, so layers upload in
parallel), one megabyte at a time while the next megabyte arrives; SQLite runs in one dedicated
thread (one connection, transactions never interleave); blob downloads use ``sendfile`` through
``web.FileResponse``, which also answers ``Range`` requests.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web

from dockyard import errors as dy_errors
from dockyard.oci import mediatypes as mt
from dockyard.registry.server import manifests as mf
from dockyard.registry.server import names
from dockyard.registry.server.auth import Htpasswd, parse_basic
from dockyard.registry.server.errors import RegistryError
from dockyard.registry.server.storage import RegistryStorage
from dockyard.registry.server.uploads import Upload, Uploads

API_HEADERS = {"Docker-Distribution-API-Version": "registry/2.0"}
WRITE_CHUNK = 1 << 20  # bytes handed to a worker thread at a time
CATALOG_DEFAULT, CATALOG_MAX = 100, 1000
ACCESS_LOG_FORMAT = '%a - - %t "%r" %s %{Content-Length}o "%{Referer}i" "%{User-Agent}i" %Tfs'
log = logging.getLogger("dockyard.registry")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    root: str
    host: str | None = "127.0.0.1"  # None: every interface
    port: int = 5000
    htpasswd: str | None = None
    realm: str = "dockyard registry"
    tls_cert: str | None = None
    tls_key: str | None = None
    read_only: bool = False
    delete_enabled: bool = False
    immutable_tags: bool = False
    immutable_except: tuple[str, ...] = ()  # fnmatch patterns of tags that may still move

    def immutable(self, tag: str) -> bool:
        """Whether a tag, once pushed, may never point elsewhere (nor be deleted)."""
        if not self.immutable_tags:
            return False
        import fnmatch

        return not any(fnmatch.fnmatchcase(tag, p) for p in self.immutable_except)


def parse_addr(addr: str) -> tuple[str | None, int]:
    """``host:port``, ``[v6]:port`` or ``:port`` (every interface, as Go's net.Listen reads it)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise dy_errors.InvalidArgument(f"invalid --addr {addr!r}: want host:port, e.g. 127.0.0.1:5000 or :5000")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return (host or None), int(port)


class Registry:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.storage = RegistryStorage(config.root)
        self.uploads = Uploads(self.storage.uploads_dir)
        self.auth = Htpasswd(config.htpasswd) if config.htpasswd else None
        self.db_pool = ThreadPoolExecutor(1, thread_name_prefix="registry-db")
        self.io_pool = ThreadPoolExecutor(max(4, (os.cpu_count() or 1) * 2), thread_name_prefix="registry-io")
        self.db_pool.submit(self.storage.conn).result()  # create or check the database now, not mid-request

    def close(self) -> None:
        self.db_pool.submit(self.storage.close).result()
        self.db_pool.shutdown()
        self.io_pool.shutdown()

    async def db(self, fn, *args, **kw):
        return await asyncio.get_running_loop().run_in_executor(self.db_pool, functools.partial(fn, *args, **kw))

    async def io(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.io_pool, fn, *args)

    # ------------------------------------------------------------ dispatch

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            if self.auth is not None:
                await self._authenticate(request)
            resp = await self._dispatch(request)
        except RegistryError as e:
            resp = _error(e)
        except dy_errors.BlobNotFound as e:
            resp = _error(RegistryError("BLOB_UNKNOWN", detail=str(e)))
        except Exception as e:  # a bug or the disk: log it, answer in the spec's form
            log.exception("internal error handling %s %s", request.method, request.raw_path[:200])
            resp = _error(RegistryError("UNKNOWN", detail=type(e).__name__))
        resp.headers.update(API_HEADERS)
        return resp

    async def _authenticate(self, request: web.BaseRequest) -> None:
        creds = parse_basic(request.headers.get("Authorization"))
        if creds is not None and (self.auth.cached(*creds) or await self.io(self.auth.verify, *creds)):
            return
        raise RegistryError("UNAUTHORIZED", headers={"WWW-Authenticate": f'Basic realm="{self.config.realm}"'})

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        method = request.method
        path = request.raw_path.split("?", 1)[0]
        segs = path.split("/")
        if len(segs) < 2 or segs[0] != "" or segs[1] != "v2":
            raise RegistryError("UNSUPPORTED", f"no such endpoint: {path[:100]}", status=404)
        rest = segs[2:]
        if rest in ([], [""]):
            self._allow(method, "GET", "HEAD")
            return web.json_response({})
        if rest == ["_catalog"]:
            self._allow(method, "GET")
            return await self.catalog(request)
        if len(rest) >= 3:
            tail = rest[-1]
            if rest[-2:] == ["tags", "list"]:
                self._allow(method, "GET")
                return await self.tags(request, names.name_from_segments(rest[:-2]))
            if rest[-2] == "manifests":
                return await self.manifest(request, names.name_from_segments(rest[:-2]), tail)
            if rest[-2:] == ["blobs", "uploads"] or (len(rest) >= 4 and rest[-3:] == ["blobs", "uploads", ""]):
                name = names.name_from_segments(rest[:-2] if tail == "uploads" else rest[:-3])
                self._allow(method, "POST", write=True)
                return await self.start_upload(request, name)
            if len(rest) >= 4 and rest[-3:-1] == ["blobs", "uploads"]:
                return await self.upload(request, names.name_from_segments(rest[:-3]), tail)
            if rest[-2] == "blobs":
                return await self.blob(request, names.name_from_segments(rest[:-2]), tail)
            if rest[-2] == "referrers":
                self._allow(method, "GET")
                return await self.referrers(request, names.name_from_segments(rest[:-2]), tail)
        raise RegistryError("UNSUPPORTED", f"no such endpoint: {path[:100]}", status=404)

    def _allow(self, method: str, *allowed: str, write: bool = False) -> None:
        if method not in allowed:
            raise RegistryError("UNSUPPORTED", f"method {method} not allowed here", headers={"Allow": ", ".join(allowed)})
        if write and self.config.read_only:
            raise RegistryError("UNSUPPORTED", "the registry is in read-only mode")

    def _deletes(self) -> None:
        if self.config.read_only:
            raise RegistryError("UNSUPPORTED", "the registry is in read-only mode")
        if not self.config.delete_enabled:
            raise RegistryError("UNSUPPORTED", "deletes are disabled on this registry (start it with --delete-enabled)")

    # ------------------------------------------------------------ listings

    async def catalog(self, request: web.BaseRequest) -> web.StreamResponse:
        n = _page_size(request, CATALOG_DEFAULT)
        n = min(n, CATALOG_MAX)
        last = request.query.get("last")
        repos, more = await self.db(self.storage.catalog, last, n) if n else ([], False)
        resp = web.json_response({"repositories": repos})
        if more:
            resp.headers["Link"] = f'</v2/_catalog?n={n}&last={quote(repos[-1], safe="")}>; rel="next"'
        return resp

    async def tags(self, request: web.BaseRequest, name: str) -> web.StreamResponse:
        n = _page_size(request, None)
        last = request.query.get("last")

        def listing():
            if not self.storage.repo_exists(name):
                raise RegistryError("NAME_UNKNOWN", detail={"name": name})
            return self.storage.tags(name, last, n) if n != 0 else ([], False)

        tags, more = await self.db(listing)
        resp = web.json_response({"name": name, "tags": tags})
        if more:
            resp.headers["Link"] = f'</v2/{name}/tags/list?n={n}&last={quote(tags[-1], safe="")}>; rel="next"'
        return resp

    async def referrers(self, request: web.BaseRequest, name: str, segment: str) -> web.StreamResponse:
        digest = names.check_digest(_unquote(segment))
        artifact_type = request.query.get("artifactType") or None
        found = await self.db(self.storage.referrers, name, digest, artifact_type)
        body = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": found}
        resp = web.Response(body=json.dumps(body).encode(), content_type=mt.OCI_INDEX)
        if artifact_type is not None:
            resp.headers["OCI-Filters-Applied"] = "artifactType"
        return resp

    # ------------------------------------------------------------ manifests

    async def manifest(self, request: web.BaseRequest, name: str, segment: str) -> web.StreamResponse:
        method = request.method
        if method not in ("GET", "HEAD", "PUT", "DELETE"):
            self._allow(method, "GET", "HEAD", "PUT", "DELETE")
        try:
            tag, digest = names.parse_reference(segment)
        except RegistryError as e:
            if e.code != "TAG_INVALID" or method not in ("GET", "HEAD"):
                raise
            # no manifest can have a tag that is not one: GET/HEAD answer 404 MANIFEST_UNKNOWN, as the
            # distribution-spec conformance suite expects (a PUT still gets 400 TAG_INVALID)
            raise RegistryError("MANIFEST_UNKNOWN", detail={"name": name, "reference": segment[:200]}) from None
        if method == "PUT":
            self._allow(method, "PUT", write=True)
            return await self.put_manifest(request, name, tag, digest)
        if method == "DELETE":
            self._deletes()
            deleted = await self.db(self._delete_manifest, name, tag, digest)
            if not deleted:
                raise RegistryError("MANIFEST_UNKNOWN", detail={"name": name, "reference": tag or digest})
            return web.Response(status=202)
        info = await self.db(self.storage.resolve, name, tag=tag, digest=digest)
        if info is None:
            raise RegistryError("MANIFEST_UNKNOWN", detail={"name": name, "reference": tag or digest})
        if not mf.accepts(request.headers.getall("Accept", []), info.media_type):
            raise RegistryError("MANIFEST_UNKNOWN", f"the manifest is a {info.media_type}, which the client "
                                "does not accept", detail={"name": name, "reference": tag or digest})
        headers = {"Docker-Content-Digest": info.digest, "Etag": f'"{info.digest}"', "Content-Type": info.media_type}
        if _etag_match(request, info.digest):
            return web.Response(status=304, headers=headers)
        if method == "HEAD":
            return web.Response(headers={**headers, "Content-Length": str(info.size)})
        try:
            data = await self.io(self.storage.manifest_bytes, info.digest)
        except dy_errors.BlobNotFound:  # deleted by gc after we resolved it
            raise RegistryError("MANIFEST_UNKNOWN", detail={"name": name, "reference": tag or digest}) from None
        return web.Response(body=data, headers=headers)

    async def put_manifest(self, request: web.BaseRequest, name: str, tag: str | None,
                           digest: str | None) -> web.StreamResponse:
        extra_tags = [names.check_tag(t) for t in request.query.getall("tag", [])] if digest else []
        data = await _read_limited(request, mf.MAX_MANIFEST_BYTES)
        pushed = mf.parse(data, request.headers.get("Content-Type"))
        algorithm = digest.partition(":")[0] if digest else "sha256"
        actual = f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"
        if digest is not None and actual != digest:
            raise RegistryError("DIGEST_INVALID", detail={"expected": digest, "actual": actual})
        tags = [tag] if tag else extra_tags
        immutable = self.config.immutable if self.config.immutable_tags else None
        await self.db(self.storage.put_manifest, name, actual, data, pushed, tags, immutable)
        headers = {"Location": f"/v2/{name}/manifests/{actual}", "Docker-Content-Digest": actual}
        if pushed.subject:
            headers["OCI-Subject"] = pushed.subject
        resp = web.Response(status=201, headers=headers)
        for t in extra_tags:
            resp.headers.add("OCI-Tag", t)
        return resp

    def _delete_manifest(self, name: str, tag: str | None, digest: str | None) -> bool:
        """DELETE of a tag or manifest (on the database thread, so no push interleaves). With
        immutable tags, an immutable tag cannot be deleted, nor a manifest one points at."""
        if self.config.immutable_tags:
            if tag is not None:
                frozen = [tag] if self.config.immutable(tag) else []
            else:
                frozen = [t for t in self.storage.tags_of(name, digest) if self.config.immutable(t)]
            if frozen:
                raise RegistryError("DENIED", f"tag '{frozen[0]}' of '{name}' is immutable: it cannot be deleted",
                                    detail={"name": name, "tag": frozen[0]})
        if tag is not None:
            return self.storage.delete_tag(name, tag)
        return self.storage.delete_manifest(name, digest)

    # ------------------------------------------------------------ blobs

    async def blob(self, request: web.BaseRequest, name: str, segment: str) -> web.StreamResponse:
        method = request.method
        self._allow(method, "GET", "HEAD", "DELETE")
        digest = names.check_digest(_unquote(segment))
        if method == "DELETE":
            self._deletes()
            if not await self.db(self.storage.unlink_blob, name, digest):
                raise RegistryError("BLOB_UNKNOWN", detail={"digest": digest})
            return web.Response(status=202)
        size = await self.db(self.storage.blob_size, name, digest)
        if size is None:
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": digest})
        headers = {"Docker-Content-Digest": digest, "Content-Type": "application/octet-stream",
                   "Cache-Control": "max-age=31536000"}
        if method == "HEAD":
            if not self.config.read_only:
                await self.db(self.storage.touch_blob, name, digest)
            return web.Response(headers={**headers, "Content-Length": str(size), "Accept-Ranges": "bytes"})
        return web.FileResponse(self.storage.blob_path(digest), chunk_size=WRITE_CHUNK, headers=headers)

    # ------------------------------------------------------------ uploads

    async def start_upload(self, request: web.BaseRequest, name: str) -> web.StreamResponse:
        q = request.query
        mount, source = q.get("mount"), q.get("from")
        if mount and source:
            try:
                mount, source = names.check_digest(mount), names.check_name(source)
            except RegistryError:
                mount = None  # as distribution: a bad mount request is just a new upload
            if mount and await self.db(self.storage.mount_blob, name, source, mount) is not None:
                return _blob_created(name, mount)
        digest = q.get("digest")
        if digest is not None:
            digest = names.check_digest(digest)
        algorithm = digest.partition(":")[0] if digest else q.get("digest-algorithm", "sha256")
        upload = self.uploads.create(name, names.new_upload_id(), algorithm)
        if digest is None:
            return _upload_status(upload, 202)
        async with self._lock(upload):
            try:
                await self._receive(request, upload)
                return await self._finish(upload, digest)
            except BaseException:
                self.uploads.discard(upload)  # nobody was told where this session is
                raise

    async def upload(self, request: web.BaseRequest, name: str, segment: str) -> web.StreamResponse:
        method = request.method
        self._allow(method, "GET", "HEAD", "PATCH", "PUT", "DELETE", write=method not in ("GET", "HEAD"))
        upload = self.uploads.get(name, names.check_upload_id(segment))
        if method in ("GET", "HEAD"):
            return _upload_status(upload, 204)
        async with self._lock(upload):
            if method == "DELETE":
                self.uploads.discard(upload)
                return web.Response(status=204, headers={"Docker-Upload-UUID": upload.id})
            if method == "PATCH":
                self._check_range(request, upload)
                await self._receive(request, upload, check_range=True)
                return _upload_status(upload, 202)
            digest = request.query.get("digest")
            if not digest:
                raise RegistryError("DIGEST_INVALID", "digest missing", detail="PUT needs ?digest=<digest of the blob>")
            digest = names.check_digest(digest)
            if request.headers.get("Content-Range"):
                self._check_range(request, upload)
            await self._receive(request, upload, check_range=True)
            return await self._finish(upload, digest)

    def _lock(self, upload: Upload) -> asyncio.Lock:
        if upload.lock is None:
            upload.lock = asyncio.Lock()
        return upload.lock

    def _check_range(self, request: web.BaseRequest, upload: Upload) -> None:
        value = request.headers.get("Content-Range")
        if not value:
            return
        start, end = names.parse_content_range(value)
        if start != upload.offset:
            raise RegistryError("BLOB_UPLOAD_INVALID", f"chunk out of order: the upload is at offset {upload.offset}",
                                detail={"Content-Range": value[:100], "offset": upload.offset}, status=416,
                                headers=_status_headers(upload))
        length = request.content_length
        if length is not None and length != end - start + 1:
            raise RegistryError("SIZE_INVALID", detail={"Content-Range": value[:100], "Content-Length": length})

    async def _receive(self, request: web.BaseRequest, upload: Upload, *, check_range: bool = False) -> None:
        """Stream the request body onto the end of the upload: a megabyte at a time to a worker
        thread that writes and hashes it while the next megabyte arrives. On any failure the
        upload is cut back to where it was."""
        if request.headers.get("Expect", "").lower() == "100-continue":
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        fd = self.uploads.open_fd(upload)
        pending = None
        try:
            checkpoint = await self.io(upload.checkpoint)
            start = upload.offset
            buf = bytearray()
            content = request.content
            try:
                while chunk := await content.readany():
                    buf += chunk
                    if len(buf) >= WRITE_CHUNK:
                        if pending is not None:
                            await asyncio.wrap_future(pending)
                        pending, buf = self.io_pool.submit(upload.write, fd, buf), bytearray()
                if pending is not None:
                    await asyncio.wrap_future(pending)
                    pending = None
                if buf:
                    await self.io(upload.write, fd, buf)
                declared = request.headers.get("Content-Range") if check_range else None
                if declared:
                    s, e = names.parse_content_range(declared)
                    if upload.offset - start != e - s + 1:
                        raise RegistryError("SIZE_INVALID", detail={"Content-Range": declared[:100],
                                                                    "received": upload.offset - start})
            except BaseException as e:
                if pending is not None:
                    try:
                        pending.result()  # the worker must be done before the file is cut back
                    except Exception:
                        pass
                upload.rollback(checkpoint)
                if isinstance(e, RegistryError):
                    raise
                if isinstance(e, Exception):
                    raise RegistryError("BLOB_UPLOAD_INVALID", "upload interrupted",
                                        detail=f"{type(e).__name__}: {e}"[:200]) from e
                raise
        finally:
            os.close(fd)
        upload.save()

    async def _finish(self, upload: Upload, digest: str) -> web.StreamResponse:
        try:
            await self.io(self.uploads.verify, upload, digest)  # DIGEST_INVALID discards the data
            await self.db(self.storage.commit_upload, upload.repo, upload.path, digest, upload.offset)
        except FileNotFoundError:  # gc removed an idle session under us
            self.uploads.discard(upload)
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload.id}) from None
        self.uploads.discard(upload)
        return _blob_created(upload.repo, digest)


# ------------------------------------------------------------ helpers


def _error(e: RegistryError) -> web.Response:
    return web.Response(status=e.status, body=e.body(), headers=e.headers, content_type="application/json")


def _blob_created(name: str, digest: str) -> web.Response:
    return web.Response(status=201, headers={"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest})


def _status_headers(upload: Upload) -> dict[str, str]:
    return {"Location": f"/v2/{upload.repo}/blobs/uploads/{upload.id}", "Range": f"0-{max(upload.offset - 1, 0)}",
            "Docker-Upload-UUID": upload.id}


def _upload_status(upload: Upload, status: int) -> web.Response:
    return web.Response(status=status, headers=_status_headers(upload))


def _unquote(segment: str) -> str:
    if "%" not in segment:
        return segment
    from urllib.parse import unquote

    return unquote(segment)


def _page_size(request: web.BaseRequest, default: int | None) -> int | None:
    n = request.query.get("n")
    if n is None or n == "":
        return default
    if not n.isdigit() or len(n) > 9:
        raise RegistryError("PAGINATION_NUMBER_INVALID", detail={"n": n[:20]})
    return int(n)


def _etag_match(request: web.BaseRequest, digest: str) -> bool:
    return any(v.strip() in (digest, f'"{digest}"') for h in request.headers.getall("If-None-Match", [])
               for v in h.split(","))


async def _read_limited(request: web.BaseRequest, limit: int) -> bytes:
    too_big = RegistryError("SIZE_INVALID", f"manifest too large: the limit is {limit} bytes", status=413)
    if request.content_length is not None and request.content_length > limit:
        raise too_big
    if request.headers.get("Expect", "").lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    data = bytearray()
    while chunk := await request.content.readany():
        data += chunk
        if len(data) > limit:
            raise too_big
    return bytes(data)


# ------------------------------------------------------------ running


async def _serve(config: ServerConfig, ready=None) -> None:
    import ssl

    ssl_ctx = None
    if config.tls_cert:
        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            ssl_ctx.load_cert_chain(config.tls_cert, config.tls_key)
        except (OSError, ssl.SSLError) as e:
            raise dy_errors.InvalidArgument(f"cannot load TLS certificate {config.tls_cert} / key {config.tls_key}: {e}") from None
    registry = Registry(config)
    access = logging.getLogger("dockyard.registry.access")
    server = web.Server(registry.handle, access_log=access, access_log_format=ACCESS_LOG_FORMAT,
                        read_bufsize=1 << 18, auto_decompress=False, max_field_size=16384)
    runner = web.ServerRunner(server, shutdown_timeout=5.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port, ssl_context=ssl_ctx, reuse_address=True, backlog=1024)
        try:
            await site.start()
        except OSError as e:
            raise dy_errors.Unavailable(f"cannot listen on {config.host or '*'}:{config.port}: {e.strerror}") from None
        scheme = "https" if ssl_ctx else "http"
        for addr in runner.addresses:
            host, port = addr[0], addr[1]
            shown = f"[{host}]" if ":" in host else host
            log.info("dockyard registry listening on %s://%s:%d (root %s%s%s%s%s)", scheme, shown, port, config.root,
                     ", htpasswd auth" if config.htpasswd else "", ", read-only" if config.read_only else "",
                     ", deletes enabled" if config.delete_enabled else "",
                     ", immutable tags" if config.immutable_tags else "")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("dockyard registry shutting down")
    finally:
        await runner.cleanup()
        registry.close()


def serve(config: ServerConfig) -> None:
    """Run until SIGINT or SIGTERM; one access-log line per request on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("dockyard.registry", "aiohttp.server"):
        lg = logging.getLogger(name)
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
        lg.propagate = False
    started = time.monotonic()
    asyncio.run(_serve(config))
    log.info("dockyard registry stopped after %.0fs", time.monotonic() - started)
