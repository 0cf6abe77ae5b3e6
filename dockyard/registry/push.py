"""`push`: an image's blobs and manifest from the stores to a registry.

For every layer and the config, ``concurrency`` at a time (Docker pushes 5 at once):

1. ``HEAD`` the blob in the target repository: there already → ``Layer already exists``.
2. If :mod:`dockyard.registry.sources` knows another repository of the same registry holding
   it (we pulled it from there or pushed it there), ask for a cross-repository mount
   (``POST …/blobs/uploads/?mount=<digest>&from=<repo>``): 201 → ``Mounted from <repo>``. A
   registry that cannot mount answers 202 with an upload session, which step 3 then uses.
3. Upload: blobs up to :data:`CHUNK` bytes in one ``PUT …?digest=``; larger ones in
   ``PATCH`` chunks of :data:`CHUNK` bytes with ``Content-Range: <start>-<end>``, then a
   closing ``PUT …?digest=``. A chunk whose connection drops is resumed from the offset the
   registry reports for the session (``GET`` on the upload URL, its ``Range`` header).

Blobs are pushed exactly as the content store holds them (the compressed layers the manifest
names), so the manifest, PUT last with its stored bytes and media type, keeps its digest: the
image pushed is byte for byte the image we have.
"""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import quote, urljoin

from dockyard import errors
from dockyard.oci import digest as dg
from dockyard.record import Record
from dockyard.registry.parallel import Aborted, run_all
from dockyard.registry.progress import Progress

CONCURRENCY = 4
CHUNK = 32 << 20
RETRIES = 3


class PushResult(Record):
    """tag: the tag pushed; digest and size: of the manifest, as the registry now serves it."""

    __slots__ = ("reference", "tag", "digest", "size")


def push(engine, name: str, *, insecure: bool = False, all_tags: bool = False, progress: Progress | None = None,
         concurrency: int = CONCURRENCY, creds=None, platform: str | None = None) -> list[PushResult]:
    """Push the image tagged ``name`` (``host:5000/ns/app:1``); with ``all_tags`` every local tag
    of the repository ``name``. Returns one result per tag, in order. ``creds`` (`Credentials`)
    replace those of Docker's config.json (the API's X-Registry-Auth). ``platform`` (os/arch[/variant],
    docker's `push --platform`): each image must be that platform's (a dockyard image has one), else
    nothing is pushed."""
    from dockyard.oci import reference
    from dockyard.registry import credentials
    from dockyard.registry.client import Registry
    from dockyard.registry.sources import BlobSources

    progress = progress or Progress()
    ref = reference.parse(name)
    if ref.digest:
        raise errors.InvalidArgument(f"cannot push a digest reference ({ref.familiar()})",
                                     hint="tag the image (`dockyard tag`) and push the tag")
    if all_tags:
        if ref.tag:
            raise errors.InvalidArgument("tag can't be used with --all-tags/-a")
        tags = sorted(t for t, _ in engine.db.list_tags() if t.rpartition(":")[0] == ref.name)
        if not tags:
            raise errors.ImageNotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
    else:
        ref = ref.with_default_tag()
        if engine.db.resolve_tag(str(ref)) is None:
            raise errors.ImageNotFound(f"An image does not exist locally with the tag: {ref.familiar()}",
                                       hint=f"tag an image with `dockyard tag IMAGE {ref.familiar()}` first")
        tags = [str(ref)]
    for t in tags if platform else ():
        engine.images.check_platform(engine.images.resolve(t), platform, reference.parse(t).familiar())
    progress.line(f"The push refers to repository [{ref.name}]")
    sources = BlobSources(engine.root, engine.content)
    scopes = (f"repository:{ref.path}:pull,push",)
    results = []
    pushed: set[str] = set()
    with Registry(ref.domain, insecure=insecure, credentials=creds or credentials.get(ref.domain)) as reg:
        for t in tags:
            tag = reference.parse(t).tag
            rec = engine.images.resolve(t)
            body = engine.content.read_bytes(rec.manifest_digest)
            manifest = json.loads(body)
            # Docker lists the top layer first; the config goes along, without a line of its own
            items = [(b, dg.short_id(b["digest"])) for b in reversed(manifest.get("layers") or [])]
            items.append((manifest["config"], None))
            for b, _ in items:
                if not engine.content.has(b["digest"]):
                    raise errors.BlobNotFound(f"blob {b['digest']} of {ref.familiar_name}:{tag} is missing from the "
                                              "content store", hint="pull or load the image again")
            todo, seen = [], set(pushed)
            for b, ident in items:
                if b["digest"] not in seen:
                    seen.add(b["digest"])
                    todo.append((b, ident))
                elif ident and b["digest"] in pushed:  # pushed for an earlier tag of this run
                    progress.status(ident, "Layer already exists")
            _push_blobs(reg, ref, engine.content, sources, scopes, todo, progress, concurrency)
            pushed.update(b["digest"] for b, _ in todo)
            digest = _put_manifest(reg, ref, tag, body, rec.manifest_media_type, scopes)
            progress.line(f"{tag}: digest: {digest} size: {len(body)}")
            results.append(PushResult(reference=f"{ref.name}:{tag}", tag=tag, digest=digest, size=len(body)))
            engine.db.set_tag(f"{ref.name}@{digest}", rec.id)  # docker's RepoDigests: where it now is
            from dockyard.state import journal

            journal.append(engine.root, "image", "push", f"{ref.name}:{tag}", {"name": f"{ref.name}:{tag}"})
    try:
        sources.add(ref.name, sorted(pushed))
    except OSError:
        pass  # only a hint for later pushes
    return results


def _push_blobs(reg, ref, content, sources, scopes, items: list[tuple[dict, str | None]], progress: Progress,
                concurrency: int) -> None:
    """Push (descriptor, short id or None for the config) items in parallel; the first failure wins."""
    for desc, ident in items:
        if ident:
            progress.status(ident, "Preparing")
    run_all(lambda item, abort: _push_blob(reg, ref, content, sources, scopes, item[0], item[1], progress, abort),
            items, concurrency, "push")


def _push_blob(reg, ref, content, sources, scopes, desc: dict, ident: str | None, progress: Progress,
               abort: threading.Event) -> None:
    digest, size = desc["digest"], desc["size"]
    what = "layer" if ident else "image config"
    repo = ref.path
    if abort.is_set():
        raise Aborted()
    with reg.request("HEAD", f"/v2/{repo}/blobs/{digest}", scopes=scopes) as resp:
        if resp.status == 200:
            if ident:
                progress.status(ident, "Layer already exists")
            return
        if resp.status != 404:
            raise _refused(reg, ref, resp, f"checking for {what} {digest}")
    location = None
    for src in sources.repos(digest, ref.domain)[:1]:
        if src == repo:
            continue
        mount_scopes = (*scopes, f"repository:{src}:pull")
        resp = reg.request("POST", f"/v2/{repo}/blobs/uploads/?mount={quote(digest)}&from={quote(src)}",
                           scopes=mount_scopes)
        with resp:
            if resp.status == 201:
                resp.read()
                if ident:
                    progress.status(ident, f"Mounted from {src}")
                return
            if resp.status == 202 and resp.header("Location"):
                location = urljoin(resp.url, resp.header("Location"))
            elif resp.status in (401, 403):
                pass  # not allowed to read the source: upload instead
            resp.read()
    if location is None:
        with reg.request("POST", f"/v2/{repo}/blobs/uploads/", scopes=scopes) as resp:
            if resp.status != 202 or not resp.header("Location"):
                raise _refused(reg, ref, resp, f"starting the upload of {what} {digest}")
            location = urljoin(resp.url, resp.header("Location"))
            resp.read()
    if ident:
        progress.status(ident, "Pushing")
    on_read = (lambda pos: progress.progress(ident, "Pushing", pos, size)) if ident else None
    from dockyard.registry.client import FileBody

    path = content.path(digest)
    headers = {"Content-Type": "application/octet-stream"}
    if size <= CHUNK:
        body = FileBody(path, 0, size, on_read)
        try:
            resp = reg.request("PUT", _with_digest(location, digest), headers=headers, body=body, scopes=scopes)
        finally:
            body.close()
    else:
        offset = 0
        failures = 0
        while offset < size:
            if abort.is_set():
                raise Aborted()
            n = min(CHUNK, size - offset)
            body = FileBody(path, offset, n, on_read)
            try:
                resp = reg.request("PATCH", location, body=body, scopes=scopes,
                                   headers={**headers, "Content-Range": f"{offset}-{offset + n - 1}"})
            except errors.Unavailable as e:
                failures += 1
                if failures > RETRIES:
                    raise
                time.sleep(0.2 * failures)
                offset = _upload_offset(reg, location, scopes, e)
                continue
            finally:
                body.close()
            with resp:
                if resp.status != 202:
                    raise _refused(reg, ref, resp, f"uploading {what} {digest} (bytes {offset}-{offset + n - 1})")
                location = urljoin(resp.url, resp.header("Location") or location)
                resp.read()
            offset += n
        resp = reg.request("PUT", _with_digest(location, digest), headers=headers, scopes=scopes)
    with resp:
        if resp.status not in (201, 204):
            raise _refused(reg, ref, resp, f"uploading {what} {digest}")
        announced = resp.header("Docker-Content-Digest")
        resp.read()
    if announced and announced != digest:
        raise errors.DigestMismatch(f"registry {reg.domain} stored {what} {digest} as {announced}")
    if ident:
        progress.status(ident, "Pushed")


def _upload_offset(reg, location: str, scopes, cause: BaseException) -> int:
    """Where an interrupted chunked upload stands: the registry's ``Range: 0-<last>``."""
    with reg.request("GET", location, scopes=scopes) as resp:
        value = resp.header("Range") or ""
        resp.read()
        if resp.status != 204:
            raise errors.Unavailable(f"upload interrupted ({cause}) and the registry lost the session "
                                     f"({resp.status} {resp.reason})")
    first, _, last = value.partition("-")
    if not last.isdigit() or (first, last) == ("0", "0"):
        return 0  # nothing, or ambiguously one byte (distribution says 0-0 for both): start over
    return int(last) + 1


def _with_digest(location: str, digest: str) -> str:
    return location + ("&" if "?" in location else "?") + "digest=" + quote(digest)


def _refused(reg, ref, resp, what: str) -> errors.DockyardError:
    if resp.status in (401, 403):
        return reg.error(resp, f"push to {ref.name} refused")
    return reg.error(resp, f"{what} to {reg.domain}/{ref.path}")


def _put_manifest(reg, ref, tag: str, body: bytes, media_type: str, scopes) -> str:
    digest = dg.sha256_of(body)
    with reg.request("PUT", f"/v2/{ref.path}/manifests/{tag}", headers={"Content-Type": media_type}, body=body,
                     scopes=scopes) as resp:
        if resp.status not in (200, 201, 202):
            raise _refused(reg, ref, resp, f"uploading the manifest of {ref.familiar_name}:{tag}")
        announced = resp.header("Docker-Content-Digest")
        resp.read()
    if announced and announced.startswith("sha256:") and announced != digest:
        raise errors.DigestMismatch(f"registry {reg.domain} stored the manifest {digest} of {ref.familiar_name}:{tag} "
                                    f"as {announced}")
    return digest
