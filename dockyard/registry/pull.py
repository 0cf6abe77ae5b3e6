"""`pull`: a manifest from a registry, its config and layers into the content store, an image record.

1. GET the manifest by tag or digest, accepting OCI and Docker schema2 manifests and indexes. An
   index (manifest list) is resolved to this machine's platform (``linux/amd64`` here; an entry
   without a variant first), as Docker does. Every manifest's bytes are checked against the
   digest asked for, or the ``Docker-Content-Digest`` the registry announced.
2. Download the config and the layers the store does not already hold, ``concurrency`` at a time
   (Docker's max-concurrent-downloads is 3), each streamed in 1 MiB reads through the content
   store's ingest, which hashes while writing and only renames a blob into place once its digest
   and size match: a registry sending wrong bytes gets an error and leaves nothing behind. A
   connection that drops mid-blob is resumed with ``Range: bytes=N-`` from what was written (a
   registry that ignores Range answers 200, and the first N bytes are skipped), up to a few
   times.
3. Record the image (``ImageStore.add_manifest``, the path ``load`` takes) with the reference as
   its tag; a pull by digest adds no tag, as in Docker. Layers are unpacked lazily, by the first
   ``run``, as for any image.
"""

from __future__ import annotations

import http.client
import json
import threading
import time

from dockyard import errors
from dockyard.oci import digest as dg
from dockyard.oci import mediatypes as mt
from dockyard.record import Record
from dockyard.registry.parallel import Aborted, run_all
from dockyard.registry.progress import Progress

CONCURRENCY = 3
BLOCK = 1 << 20
MAX_MANIFEST = 4 << 20
RETRIES = 5
ACCEPT = ", ".join((mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST))
LAYER_TYPES = frozenset({mt.OCI_LAYER, mt.OCI_LAYER_GZIP, mt.OCI_LAYER_ZSTD, mt.DOCKER_LAYER_GZIP,
                         "application/vnd.docker.image.rootfs.diff.tar"})


class PullResult(Record):
    """reference: what was pulled, in full (``docker.io/library/busybox:latest``); digest: the
    manifest (or index) digest the reference resolved to; up_to_date: nothing changed locally."""

    __slots__ = ("reference", "familiar", "digest", "image_id", "up_to_date", "downloaded")


def host_platform() -> tuple[str, str]:
    from dockyard.oci.platform import go_arch

    return "linux", go_arch()


def check_platform(platform: str | None) -> tuple[str, str]:
    """The (os, architecture) to pull; only the host's own is supported."""
    want = host_platform()
    if not platform:
        return want
    parts = platform.strip().lower().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise errors.InvalidArgument(f"invalid platform {platform!r}", hint="use os/arch, e.g. linux/amd64")
    if (parts[0], parts[1]) != want or len(parts) == 3:
        raise errors.NotImplemented(f"pulling for platform {platform} is not supported: dockyard runs "
                                    f"{want[0]}/{want[1]} images only",
                                    hint=f"leave out --platform, or use --platform {want[0]}/{want[1]}")
    return want


def pull(engine, name: str, *, insecure: bool = False, platform: str | None = None,
         progress: Progress | None = None, concurrency: int = CONCURRENCY, check=None,
         creds=None) -> PullResult:
    """Pull ``name`` (``busybox``, ``host:5000/ns/app:1``, ``…@sha256:…``) into ``engine``'s stores.

    ``check(reg, ref, digest)`` (a signature policy) runs once the top manifest's digest is
    known, before anything is stored; it raises to refuse the image. ``creds`` (`Credentials`)
    replace those of Docker's config.json (the API's X-Registry-Auth)."""
    from dockyard.oci import reference
    from dockyard.registry import credentials
    from dockyard.registry.client import Registry

    progress = progress or Progress()
    want = check_platform(platform)
    ref = reference.parse(name)
    if ref.digest is None and ref.tag is None:
        ref = ref.with_default_tag()
        progress.line(f"Using default tag: {ref.tag}")
    tag = ref.tag if ref.digest is None else None
    scopes = (f"repository:{ref.path}:pull",)
    with Registry(ref.domain, insecure=insecure, credentials=creds or credentials.get(ref.domain)) as reg:
        body, media_type, top_digest = _get_manifest(reg, ref, ref.digest or ref.tag, scopes)
        if check is not None:
            check(reg, ref, top_digest)
        progress.line(f"{ref.digest or ref.tag}: Pulling from {ref.path}")
        doc = _json(body, f"manifest {top_digest}")
        media_type = _kind(doc, media_type, top_digest)
        if media_type in mt.INDEX_TYPES:
            child = _choose(doc, want, ref)
            body, media_type, _ = _get_manifest(reg, ref, child, scopes)
            doc = _json(body, f"manifest {child}")
            media_type = _kind(doc, media_type, child)
            if media_type in mt.INDEX_TYPES:
                raise errors.NotImplemented(f"manifest {child} of {ref.familiar()} is an index inside an index")
        manifest_digest = dg.sha256_of(body)
        config_desc, layers = _parse_manifest(doc, manifest_digest)
        added: list[str] = []
        with engine.lease() as lease:  # until the image is recorded, `rmi` keeps what it fetches
            try:
                _fetch_blobs(engine, reg, ref, scopes, config_desc, layers, progress, concurrency, added)
                return _record(engine, ref, tag, body, manifest_digest, top_digest, config_desc, layers, len(added))
            except BaseException:
                _forget(engine, added, lease)
                raise


def _forget(engine, added: list[str], lease) -> None:
    """After a failed pull, remove the blobs it added that no image uses and no other command's
    lease protects (a concurrent pull may be reusing them): a failed pull leaves nothing behind
    (a later pull downloads them again, as Docker's does)."""
    try:
        engine.images.drop_unreferenced(added, lease)
    except Exception:  # noqa: BLE001 - cleanup must not hide the error that caused it
        pass


# ============================================================================ manifests

def _get_manifest(reg, ref, reference: str, scopes) -> tuple[bytes, str, str]:
    """(bytes, media type from Content-Type, digest) of a manifest, verified."""
    resp = reg.request("GET", f"/v2/{ref.path}/manifests/{reference}", headers={"Accept": ACCEPT}, scopes=scopes)
    if resp.status != 200:
        what = f"{ref.name}@{reference}" if ":" in reference and dg.is_valid(reference) else f"{ref.name}:{reference}"
        if resp.status == 404:
            err = reg.error(resp, f"manifest for {what} not found")
            raise errors.ImageNotFound(err.message, hint=err.hint)
        if resp.status in (401, 403):
            err = reg.error(resp, f"pull access denied for {ref.familiar_name}, repository does not exist or "
                                  "may require 'dockyard login'")
            raise err
        raise reg.error(resp, f"fetching manifest {what} from {reg.host}")
    body = resp.read(MAX_MANIFEST)
    if dg.is_valid(reference):
        algorithm = dg.algorithm_of(reference)
        import hashlib

        actual = f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"
        if actual != reference:
            raise errors.DigestMismatch(f"manifest {reference} from {reg.domain}/{ref.path} failed verification: "
                                        f"its content hashes to {actual}; nothing was stored")
        digest = reference
    else:
        digest = dg.sha256_of(body)
        announced = resp.header("Docker-Content-Digest")
        if announced and announced.startswith("sha256:") and announced != digest:
            raise errors.DigestMismatch(f"manifest {ref.familiar()} from {reg.domain} failed verification: the "
                                        f"registry announced {announced} but the content hashes to {digest}; "
                                        "nothing was stored")
    content_type = (resp.header("Content-Type") or "").split(";")[0].strip()
    return body, content_type, digest


def _json(body: bytes, what: str) -> dict:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise errors.InvalidArgument(f"{what} is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise errors.InvalidArgument(f"{what} is not a JSON object")
    return doc


def _kind(doc: dict, content_type: str, digest: str) -> str:
    """The document's media type: its own ``mediaType`` field, else Content-Type, else its shape."""
    media = doc.get("mediaType") if isinstance(doc.get("mediaType"), str) else ""
    if not media and content_type in mt.MANIFEST_TYPES | mt.INDEX_TYPES:
        media = content_type
    if not media:
        if doc.get("schemaVersion") == 1:
            media = mt.DOCKER_MANIFEST_V1_SIGNED
        elif isinstance(doc.get("manifests"), list):
            media = mt.OCI_INDEX
        elif isinstance(doc.get("config"), dict):
            media = mt.OCI_MANIFEST
    if media in mt.MANIFEST_TYPES or media in mt.INDEX_TYPES:
        return media
    if media in (mt.DOCKER_MANIFEST_V1_SIGNED, "application/vnd.docker.distribution.manifest.v1+json") \
            or doc.get("schemaVersion") == 1:
        raise errors.NotImplemented(f"manifest {digest} is a Docker schema 1 manifest: that format is deprecated "
                                    "and not supported", hint="push the image again with a current tool")
    raise errors.InvalidArgument(f"manifest {digest} has an unsupported media type {media or content_type!r}")


def _choose(index: dict, want: tuple[str, str], ref) -> str:
    """The digest of the index entry for our platform (an entry without a variant first)."""
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise errors.InvalidArgument(f"image index of {ref.familiar()} has no manifests")
    found = []
    for i, d in enumerate(entries):
        if not isinstance(d, dict) or not isinstance(d.get("platform"), dict):
            continue
        p = d["platform"]
        if (p.get("os"), p.get("architecture")) != want:
            continue
        if d.get("mediaType") not in (None, *mt.MANIFEST_TYPES, *mt.INDEX_TYPES):
            continue
        found.append((bool(p.get("variant")), i, d))
    if not found:
        available = sorted({f"{(d.get('platform') or {}).get('os')}/{(d.get('platform') or {}).get('architecture')}"
                            for d in entries if isinstance(d, dict)})
        raise errors.ImageNotFound(f"no matching manifest for {want[0]}/{want[1]} in the manifest list entries "
                                   f"of {ref.familiar()} (it has: {', '.join(available) or 'none'})")
    found.sort(key=lambda t: (t[0], t[1]))
    return dg.validate(found[0][2].get("digest"))


def _descriptor(d, what: str) -> dict:
    if not isinstance(d, dict):
        raise errors.InvalidArgument(f"{what} is not a descriptor")
    digest, size = d.get("digest"), d.get("size")
    if not isinstance(digest, str) or not dg.is_valid(digest):
        raise errors.InvalidArgument(f"{what} has an invalid digest {digest!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise errors.InvalidArgument(f"{what} has an invalid size {size!r}")
    return d


def _parse_manifest(doc: dict, digest: str) -> tuple[dict, list[dict]]:
    config = _descriptor(doc.get("config"), f"manifest {digest}'s config")
    layers = doc.get("layers") or []
    if not isinstance(layers, list):
        raise errors.InvalidArgument(f"manifest {digest}'s layers is not a list")
    out = []
    for i, layer in enumerate(layers):
        layer = _descriptor(layer, f"layer {i + 1} of manifest {digest}")
        media = layer.get("mediaType")
        if media == mt.DOCKER_FOREIGN_LAYER_GZIP or layer.get("urls"):
            raise errors.NotImplemented(f"layer {layer['digest']} is a foreign layer (Windows images): not supported")
        if media not in LAYER_TYPES:
            raise errors.NotImplemented(f"layer {layer['digest']} has media type {media!r}, which dockyard cannot "
                                        "unpack (an artifact, or an encrypted layer?)")
        out.append(layer)
    return config, out


# ============================================================================ blobs

def _fetch_blobs(engine, reg, ref, scopes, config_desc: dict, layers: list[dict], progress: Progress,
                 concurrency: int, added: list[str]) -> None:
    """Download what the store lacks, in parallel; ``added`` gets the digest of each blob stored."""
    content = engine.content
    todo: list[tuple[dict, str | None]] = []
    seen: set[str] = set()
    if not content.retain(config_desc["digest"]):  # retained: touched, so the lease keeps it
        todo.append((config_desc, None))
        seen.add(config_desc["digest"])
    for layer in layers:
        ident = dg.short_id(layer["digest"])
        if content.retain(layer["digest"]):
            progress.status(ident, "Already exists")
        elif layer["digest"] not in seen:
            seen.add(layer["digest"])
            progress.status(ident, "Pulling fs layer")
            todo.append((layer, ident))
    if not todo:
        return
    run_all(lambda item, abort: _download(reg, ref, item[0], content, scopes, progress, item[1], abort, added),
            todo, concurrency, "pull")


def _download(reg, ref, desc: dict, content, scopes, progress: Progress, ident: str | None,
              abort: threading.Event, added: list[str]) -> None:
    """One blob into the content store, verified, resuming after dropped connections."""
    digest, size = desc["digest"], desc["size"]
    what = "layer" if ident else "image config"
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    failures = 0
    try:
        with content.ingest(digest, size) as w:
            while True:
                if abort.is_set():
                    raise Aborted()
                offset = w.size
                headers = {"Range": f"bytes={offset}-"} if offset else None
                try:
                    resp = reg.request("GET", f"/v2/{ref.path}/blobs/{digest}", headers=headers, scopes=scopes,
                                       follow=True)
                except errors.Unavailable as e:
                    failures = _retry(failures, e, what, digest)
                    continue
                with resp:
                    if resp.status == 206 and offset:
                        start = _range_start(resp.header("Content-Range"))
                        if start is None or start > offset:
                            raise errors.Unavailable(f"registry {reg.host} answered a request for {what} {digest} "
                                                     f"from byte {offset} with Content-Range "
                                                     f"{resp.header('Content-Range')!r}")
                        skip = offset - start
                    elif resp.status == 200:
                        skip = offset  # Range ignored: the whole blob again, the first bytes dropped
                    elif resp.status == 429 or resp.status >= 500:
                        failures = _retry(failures, reg.error(resp, f"downloading {what} {digest}"), what, digest)
                        continue
                    elif resp.status == 404:
                        err = reg.error(resp, f"{what} {digest} of {ref.familiar()} not found in {reg.domain}/"
                                              f"{ref.path}")
                        raise errors.NotFound(err.message, hint=err.hint)
                    else:
                        raise reg.error(resp, f"downloading {what} {digest}")
                    net_error = None
                    while True:
                        try:
                            n = resp.readinto(view)
                        except (OSError, http.client.HTTPException) as e:
                            net_error = e
                            break
                        if not n:
                            break
                        chunk = view[:n]
                        if skip:
                            drop = min(skip, n)
                            chunk, skip = chunk[drop:], skip - drop
                        if chunk:
                            w.write(chunk)
                            if ident:
                                progress.progress(ident, "Downloading", w.size, size)
                        if abort.is_set():
                            raise Aborted()
                if w.size >= size:
                    break
                failures = _retry(
                    failures, net_error or ConnectionError(f"connection closed after {w.size} of {size} bytes"),
                    what, digest)
    except errors.DigestMismatch as e:
        raise errors.DigestMismatch(f"{what} {digest} from {reg.domain}/{ref.path} failed verification: {e}; "
                                    "nothing was stored",
                                    hint="the registry sent other content than the manifest names; "
                                         "the image in the registry may be damaged") from None
    added.append(digest)  # list.append is atomic: the workers share the list
    if ident:
        progress.status(ident, "Pull complete")


def _retry(failures: int, error: BaseException, what: str, digest: str) -> int:
    """Count a failed attempt and wait a little before the next; raise once there were too many."""
    failures += 1
    if failures > RETRIES:
        if isinstance(error, errors.DockyardError):
            raise error
        raise errors.Unavailable(f"downloading {what} {digest} failed {failures} times; last: {error}")
    time.sleep(min(0.1 * 2 ** failures, 2.0))
    return failures


def _range_start(value: str | None) -> int | None:
    """``bytes 100-199/200`` → 100."""
    if not value:
        return None
    unit, _, rest = value.strip().partition(" ")
    first = rest.partition("-")[0]
    return int(first) if unit == "bytes" and first.isdigit() else None


# ============================================================================ the image

def _record(engine, ref, tag: str | None, body: bytes, manifest_digest: str, top_digest: str, config_desc: dict,
            layers: list[dict], downloaded: int) -> PullResult:
    image_id = config_desc["digest"]
    config = _json(engine.content.read_bytes(image_id), f"image config {image_id}")
    image_os = config.get("os")
    if image_os not in (None, "", "linux"):
        raise errors.NotImplemented(f"{ref.familiar()} is a {image_os} image; dockyard runs linux images only")
    tag_name = f"{ref.name}:{tag}" if tag else None
    existing = engine.db.get_image(image_id)
    before = engine.db.resolve_tag(tag_name) if tag_name else None
    if existing is not None and existing.manifest_digest == manifest_digest:
        if tag_name and before != image_id:
            engine.db.set_tag(tag_name, image_id)
    else:
        engine.images.add_manifest(body, [tag_name] if tag_name else [])
    up_to_date = existing is not None and existing.manifest_digest == manifest_digest and \
        (tag_name is None or before == image_id)
    # docker's RepoDigests: `name@<digest pulled>` (an index's, for a multi-platform image) finds it
    engine.db.set_tag(f"{ref.name}@{top_digest}", image_id)
    try:
        from dockyard.registry.sources import BlobSources

        BlobSources(engine.root, engine.content).add(ref.name, [config_desc["digest"]] + [x["digest"] for x in layers])
    except OSError:
        pass  # only a hint for later pushes
    from dockyard.oci.reference import Reference

    shown = ref if tag else Reference(domain=ref.domain, path=ref.path, digest=top_digest)
    from dockyard.state import journal

    journal.append(engine.root, "image", "pull", shown.familiar(), {"name": shown.familiar()})
    return PullResult(reference=str(shown), familiar=shown.familiar(), digest=top_digest, image_id=image_id,
                      up_to_date=up_to_date, downloaded=downloaded)


def list_tags(name: str, *, insecure: bool = False, creds=None) -> list[str]:
    """The repository's tags (GET /v2/<name>/tags/list, following the Link header's pages), for
    `pull --all-tags`. A name with a tag or digest is refused, as docker's."""
    from dockyard.oci import reference
    from dockyard.registry import credentials
    from dockyard.registry.client import Registry, status_error

    ref = reference.parse(name)
    if ref.tag is not None or ref.digest is not None:
        raise errors.InvalidArgument("tag can't be used with --all-tags/-a")
    scopes = (f"repository:{ref.path}:pull",)
    tags: list[str] = []
    path = f"/v2/{ref.path}/tags/list?n=1000"
    with Registry(ref.domain, insecure=insecure, credentials=creds or credentials.get(ref.domain)) as reg:
        while path:
            with reg.request("GET", path, scopes=scopes) as resp:
                if resp.status != 200:
                    raise status_error(resp.status, f"listing the tags of {ref.familiar()}: {resp.read()[:200]!r}")
                doc = _json(resp.read(1 << 24), f"tags of {ref.familiar()}")
                link = resp.header("Link") or ""
            tags += [t for t in doc.get("tags") or () if isinstance(t, str)]
            path = link.partition("<")[2].partition(">")[0] if 'rel="next"' in link else ""
    return tags
