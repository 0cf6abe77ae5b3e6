"""Image routes: list (filters dangling/reference/label), inspect, tag, delete, and create
(= pull, with Docker's JSON progress stream)."""

from __future__ import annotations

import json
import threading

from dockyard.api.filters import label_ok, parse_filters
from dockyard.errors import DockyardError, InvalidArgument, NotImplemented
from dockyard.units import parse_rfc3339


def _filters(raw: str | None) -> dict:
    out = parse_filters(raw, ("dangling", "reference", "label"))
    values = out.get("dangling", ())
    if any(x.lower() not in ("true", "false", "1", "0") for x in values):
        raise InvalidArgument(f"invalid filter 'dangling={values[0]}'")
    return out


def list_images(engine, req) -> None:
    import fnmatch

    from dockyard.oci import reference

    flt = _filters(req.q("filters"))
    db = engine.db
    out = []
    for rec in db.list_images():
        familiar, digests = engine.images.names(rec)
        tags = familiar + digests
        if "dangling" in flt and (not tags) != (flt["dangling"][-1].lower() in ("true", "1")):
            continue
        if "reference" in flt:
            def hit(t):
                repo = t.rpartition(":")[0] if ":" in t.rpartition("/")[2] else t
                return any(fnmatch.fnmatch(t, p) or fnmatch.fnmatch(repo, p) for p in flt["reference"])
            familiar = [t for t in familiar if hit(t)]
            if not familiar:
                continue
        cfg = engine.images.config(rec)
        labels = (cfg.get("config") or {}).get("Labels") or {}
        if "label" in flt and not all(label_ok(labels, c) for c in flt["label"]):
            continue
        doc = {"Id": rec.id, "ParentId": "", "RepoTags": familiar, "RepoDigests": digests,
               "Created": int(parse_rfc3339(rec.created) or rec.added), "Size": rec.size, "SharedSize": -1,
               "Labels": labels or None, "Containers": len(db.containers_using_image(rec.id))}
        if req.version < (1, 44):
            doc["VirtualSize"] = rec.size
        out.append(doc)
    out.sort(key=lambda d: d["Created"], reverse=True)
    req.send_json(out)


def inspect(engine, req, name: str) -> None:
    from dockyard.engine.inspect import image_json

    req.send_json(image_json(engine, engine.images.resolve(name)))


def tag(engine, req, name: str) -> None:
    repo = req.q("repo")
    if not repo:
        raise InvalidArgument("repository name (repo) is required")
    target = f"{repo}:{req.q('tag')}" if req.q("tag") else repo
    engine.images.tag(name, target)
    req.send(201)


def delete(engine, req, name: str) -> None:
    if req.qbool("noprune"):
        raise InvalidArgument("noprune is not supported: dockyard images have no untagged parents to keep")
    req.send_json([{k: v} for k, v in engine.images.remove(name, force=req.qbool("force"))])


def _registry_auth(req) -> None:
    """X-Registry-Auth: the docker CLI sends an empty one; credentials in it cannot be used yet."""
    import base64

    raw = req.headers.get("X-Registry-Auth")
    if not raw:
        return
    try:
        doc = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)) or b"{}")
    except ValueError:
        raise InvalidArgument("invalid X-Registry-Auth header: not base64url JSON") from None
    if isinstance(doc, dict) and any(doc.get(k) for k in ("username", "password", "identitytoken",
                                                           "registrytoken", "auth")):
        raise NotImplemented("credentials in X-Registry-Auth are not used by dockyard's API yet",
                             hint="log in on the host with `dockyard login`: its credentials are used")


class _JsonProgress:
    """registry.progress events as Docker's JSON progress messages."""

    def __init__(self, out) -> None:
        self.out = out
        self.lock = threading.Lock()

    def send(self, doc: dict) -> None:
        with self.lock:
            self.out.write(json.dumps(doc).encode() + b"\r\n")

    def line(self, text: str) -> None:
        self.send({"status": text})

    def status(self, ident: str, text: str) -> None:
        self.send({"status": text, "id": ident, "progressDetail": {}})

    def progress(self, ident: str, action: str, current: int, total: int) -> None:
        self.send({"status": action, "id": ident, "progressDetail": {"current": current, "total": total}})

    def finish(self) -> None:
        pass


def create(engine, req) -> None:
    """POST /images/create?fromImage=…&tag=…: a pull. Importing (fromSrc) is refused for now."""
    from dockyard.registry.pull import check_platform, pull
    from dockyard.sign.policy import enforcer

    if req.q("fromSrc") is not None:
        raise NotImplemented("importing an image through the API (fromSrc) is not supported yet; "
                             "use `dockyard import`")
    image = req.q("fromImage")
    if not image:
        raise InvalidArgument("fromImage is required")
    tag = req.q("tag")
    if tag:
        image = f"{image}@{tag}" if tag.startswith("sha256:") else f"{image}:{tag}"
    check_platform(req.q("platform") or None)
    _registry_auth(req)
    check = enforcer(engine.root, None)
    out = req.stream("application/json")
    progress = _JsonProgress(out)
    try:
        result = pull(engine, image, platform=req.q("platform") or None, progress=progress, check=check)
    except DockyardError as e:  # the stream has begun: the error is its last message, as dockerd's
        progress.send({"errorDetail": {"message": str(e)}, "error": str(e)})
    else:
        progress.line(f"Digest: {result.digest}")
        state = "Image is up to date" if result.up_to_date else "Downloaded newer image"
        progress.line(f"Status: {state} for {result.familiar}")
    out.close()
