"""Image routes that move images in and out or make them: history, get (docker save), load,
import (POST /images/create?fromSrc=-), push (with X-Registry-Auth), prune, commit; search is
refused (it needs Docker Hub). Bodies are read as streams (`bodies.BodyStream`); a malformed one
is a 400 before anything is stored."""

from __future__ import annotations

import json

from dockyard.api.filters import parse_filters
from dockyard.errors import DockyardError, InvalidArgument, NotImplemented


def history(engine, req, name: str) -> None:
    from dockyard.engine.history import image_history

    req.send_json(image_history(engine, name))


class _ChunkWriter:
    """A binary stream over a chunked answer, in 256 KiB chunks."""

    def __init__(self, out) -> None:
        self.out, self.buf = out, bytearray()

    def write(self, data) -> int:
        self.buf += data
        if len(self.buf) >= 1 << 18:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.buf:
            self.out.write(bytes(self.buf))
            self.buf.clear()


def get_images(engine, req, name: str | None = None) -> None:
    """GET /images/get?names=…&names=… and GET /images/{name}/get: a docker-archive tar."""
    from dockyard.images.archive_save import save

    names = [name] if name is not None else [n for n in req.query.get("names", ()) if n]
    if not names:
        raise InvalidArgument("name at least one image (names=…)")
    for n in names:
        engine.images.resolve(n)  # a 404 before the answer starts
    out = req.stream("application/x-tar")
    w = _ChunkWriter(out)
    try:
        save(engine, names, w)
        w.flush()
    except DockyardError:  # the tar has begun: all that can be said is to cut it short
        req.handler.close_connection = True
        return
    out.close()


def load(engine, req) -> None:
    """POST /images/load[?quiet=1]: a docker-archive or OCI layout tar in the body. quiet drops
    only dockerd's progress bars, which dockyard does not draw: the "Loaded image" lines stay."""
    from dockyard.api.bodies import BodyStream
    from dockyard.images.archive_load import load as load_archive
    from dockyard.oci import reference

    req.qbool("quiet")  # checked: a bad value is a 400
    req.handler.close_connection = True  # read as a stream: nothing is kept for the next request
    try:
        loaded = load_archive(engine, BodyStream(req.handler.rfile, req.headers))
    except DockyardError as e:  # dockerd: 200, and the error in the JSON stream (docker-py's ImageLoadError)
        msg = str(e)
        req.send(200, json.dumps({"errorDetail": {"message": msg}, "error": msg}).encode() + b"\n", "application/json")
        return
    lines = []
    for img in loaded:
        for old, new in img.moved:
            lines.append(f"The image {reference.parse(new).familiar()} already exists, renaming the old one "
                         f"with ID {old} to empty string")
        if img.tags:
            lines += [f"Loaded image: {reference.parse(t).familiar()}" for t in img.tags]
        else:
            lines.append(f"Loaded image ID: {img.id}")
    body = b"".join(json.dumps({"stream": line + "\n"}).encode() + b"\n" for line in lines)
    req.send(200, body, "application/json")


def import_image(engine, req) -> None:
    """POST /images/create?fromSrc=-&repo=…&tag=…&changes=…&message=…: a rootfs tar in the body."""
    from dockyard.api.bodies import BodyStream
    from dockyard.images.importer import import_rootfs

    src = req.q("fromSrc")
    if src != "-":
        raise NotImplemented("importing from a URL is not supported: send the tar as the body (fromSrc=-)")
    repo, tag = req.q("repo") or "", req.q("tag") or ""
    if tag and not repo:
        raise InvalidArgument("a tag needs a repository (repo=…)")
    if req.q("platform"):
        from dockyard.registry.pull import check_platform

        check_platform(req.q("platform"))
    target = (f"{repo}:{tag}" if tag else repo) or None
    req.handler.close_connection = True
    image_id = import_rootfs(engine, BodyStream(req.handler.rfile, req.headers), target,
                             changes=list(req.query.get("changes", ())), message=req.q("message") or "")
    req.send(200, json.dumps({"status": image_id}).encode() + b"\n", "application/json")


def platform_query(value: str | None) -> str | None:
    """The API's `platform` (API 1.46+: a JSON-encoded OCI platform; plain os/arch accepted too) as
    os/arch[/variant]."""
    if not value:
        return None
    if not value.lstrip().startswith("{"):
        return value
    try:
        doc = json.loads(value)
    except ValueError:
        raise InvalidArgument(f"invalid platform: {value!r}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("os"), str) or not doc.get("os"):
        raise InvalidArgument(f"invalid platform: {value!r}: it names no os")
    return "/".join(str(doc[k]) for k in ("os", "architecture", "variant") if doc.get(k))


def push(engine, req, name: str) -> None:
    """POST /images/{name}/push?tag=…: Docker's JSON progress, the digest as the last aux message."""
    from dockyard.api.regauth import JsonProgress, registry_auth
    from dockyard.registry.push import push as push_image

    from dockyard.oci import reference

    tag = req.q("tag")
    target = f"{name}:{tag}" if tag else name
    ref = reference.parse(target)  # a bad name is a 400 before the stream starts
    all_tags = not ref.tag and not ref.digest  # no tag: every tag of the repository, as dockerd
    platform = platform_query(req.q("platform"))
    creds = registry_auth(req)
    out = req.stream("application/json")
    progress = JsonProgress(out)
    try:
        results = push_image(engine, target, all_tags=all_tags, progress=progress, creds=creds, platform=platform)
    except DockyardError as e:  # the stream has begun: the error is its last message, as dockerd's
        progress.send({"errorDetail": {"message": str(e)}, "error": str(e)})
    else:
        from dockyard.sbom.attached import attach_pushed  # a build SBOM (build --sbom) goes along

        for _ref, _digest, message in attach_pushed(engine, results, creds=creds):
            progress.send({"status": message})
        for r in results:
            progress.send({"progressDetail": {}, "aux": {"Tag": r.tag, "Digest": r.digest, "Size": r.size}})
    out.close()


def prune(engine, req) -> None:
    """POST /images/prune?filters={"dangling":["false"]}: unused images (only untagged ones by default)."""
    from dockyard.engine.prune import prune_images

    flt = parse_filters(req.q("filters"), ("dangling",))
    values = [v.lower() for v in flt.get("dangling", ())]
    if any(v not in ("true", "false", "1", "0") for v in values):
        raise InvalidArgument(f"Invalid filter 'dangling={values[0]}'")
    lines, size = prune_images(engine, all_images=bool(values) and values[-1] in ("false", "0"))
    req.send_json({"ImagesDeleted": [{k: v} for k, v in lines] or None, "SpaceReclaimed": size})


def commit(engine, req) -> None:
    """POST /commit?container=…&repo=…&tag=…&comment=…&author=…&pause=…&changes=…"""
    from dockyard.engine.commit import commit as commit_container

    ref = req.q("container")
    if not ref:
        raise InvalidArgument("container is required")
    body = req.json(required=False)
    if body not in (None, {}) and (not isinstance(body, dict) or any(v not in (None, "", [], {}, 0, False)
                                                                      for v in body.values())):
        raise NotImplemented("a container config in the commit body is not supported: use changes=… "
                             "(Dockerfile instructions) instead")
    repo, tag = req.q("repo") or "", req.q("tag") or ""
    if tag and not repo:
        raise InvalidArgument("a tag needs a repository (repo=…)")
    target = (f"{repo}:{tag}" if tag else repo) or None
    changes = [c for v in req.query.get("changes", ()) for c in v.split("\n") if c.strip()]
    image_id = commit_container(engine, ref, target, message=req.q("comment") or "", author=req.q("author") or "",
                                changes=changes, pause=req.qbool("pause", True))
    req.send_json({"Id": image_id}, 201)


def search(engine, req) -> None:
    raise NotImplemented("image search is not available: it asks Docker Hub (index.docker.io), which dockyard "
                         "does not reach; list a registry's repositories with GET /v2/_catalog instead")
