"""Image routes: list (filters dangling/reference/label), inspect, tag, delete, and create
(= pull, with Docker's JSON progress stream)."""

from __future__ import annotations


from dockyard.api.filters import label_ok, parse_filters
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.units import parse_rfc3339


def _filters(raw: str | None) -> dict:
    out = parse_filters(raw, ("dangling", "reference", "label"))
    values = out.get("dangling", ())
    if any(x.lower() not in ("true", "false", "1", "0") for x in values):
        raise InvalidArgument(f"Invalid filter 'dangling={values[0]}'")
    return out


_SEEN: dict = {}  # config digest -> (labels, created epoch): content-addressed, so never stale
_FAMILIAR: dict = {}  # stored tag -> its familiar form
_CACHE_MAX = 4096


def _remember(cache: dict, key, value):
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = value
    return value


def _config_facts(engine, rec) -> tuple:
    facts = _SEEN.get(rec.config_digest)
    if facts is None:
        cfg = engine.images.config(rec)
        facts = _remember(_SEEN, rec.config_digest, ((cfg.get("config") or {}).get("Labels") or {},
                                                     parse_rfc3339(rec.created)))
    return facts


def _familiar(tag: str) -> str:
    name = _FAMILIAR.get(tag)
    if name is None:
        from dockyard.oci import reference

        name = _remember(_FAMILIAR, tag, reference.parse(tag).familiar())
    return name


def list_images(engine, req) -> None:
    """Three queries whatever the number of images (images, tags, container counts); each
    image's labels and creation time come from its config once per service."""
    import fnmatch

    flt = _filters(req.q("filters"))
    db = engine.db
    tags_of: dict[str, list[str]] = {}
    for tag, image_id in db.list_tags():
        tags_of.setdefault(image_id, []).append(tag)
    users = db.container_counts_by_image()
    records = db.list_images()
    hidden = set() if req.qbool("all") else engine.images.intermediates(records, tags_of)
    shared = None
    if req.qbool("shared-size"):
        from dockyard.engine.diskusage import shared_sizes

        shared = shared_sizes(engine)
    out = []
    for rec in records:
        if rec.id in hidden:
            continue
        tags = sorted(tags_of.get(rec.id, []))  # as ImageStore.names, from the one query above
        familiar = [_familiar(t) for t in tags if "@" not in t]
        digests = [_familiar(t) for t in tags if "@" in t]
        if "dangling" in flt and (not tags) != (flt["dangling"][-1].lower() in ("true", "1")):
            continue
        if "reference" in flt:
            def hit(t):
                repo = t.rpartition(":")[0] if ":" in t.rpartition("/")[2] else t
                return any(fnmatch.fnmatch(t, p) or fnmatch.fnmatch(repo, p) for p in flt["reference"])
            familiar = [t for t in familiar if hit(t)]
            if not familiar:
                continue
        labels, created = _config_facts(engine, rec)
        if "label" in flt and not all(label_ok(labels, c) for c in flt["label"]):
            continue
        doc = {"Id": rec.id, "ParentId": rec.parent, "RepoTags": familiar, "RepoDigests": digests,
               "Created": int(created or rec.added), "Size": rec.size,
               "SharedSize": -1 if shared is None else shared.get(rec.id, 0),
               "Labels": dict(labels) or None, "Containers": users.get(rec.id, 0)}
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
    lines = engine.images.remove(name, force=req.qbool("force"), prune=not req.qbool("noprune"))
    req.send_json([{k: v} for k, v in lines])


def create(engine, req) -> None:
    """POST /images/create?fromImage=…&tag=…: a pull; ?fromSrc=-: an import of the body."""
    from dockyard.api.regauth import JsonProgress, registry_auth
    from dockyard.registry.pull import check_platform, pull
    from dockyard.sign.policy import enforcer

    if req.q("fromSrc") is not None:
        from dockyard.api.imageio import import_image

        import_image(engine, req)
        return
    image = req.q("fromImage")
    if not image:
        raise InvalidArgument("fromImage is required")
    tag = req.q("tag")
    if tag:
        image = f"{image}@{tag}" if tag.startswith("sha256:") else f"{image}:{tag}"
    check_platform(req.q("platform") or None)
    creds = registry_auth(req)
    check = enforcer(engine.root, None)
    out = req.stream("application/json")
    progress = JsonProgress(out)
    try:
        result = pull(engine, image, platform=req.q("platform") or None, progress=progress, check=check,
                      creds=creds)
    except DockyardError as e:  # the stream has begun: the error is its last message, as dockerd's
        progress.send({"errorDetail": {"message": str(e)}, "error": str(e)})
    else:
        progress.line(f"Digest: {result.digest}")
        state = "Image is up to date" if result.up_to_date else "Downloaded newer image"
        progress.line(f"Status: {state} for {result.familiar}")
    out.close()
