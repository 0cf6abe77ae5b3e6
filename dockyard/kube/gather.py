"""Containers read from the engine as the views `kube/generate.py` takes: the stored config, the
image's config, the image reference pinned by digest when the image came from a registry, and
the user's numeric ids from the image's /etc/passwd and /etc/group."""

from __future__ import annotations

from dockyard.errors import DockyardError


def container_views(engine, refs: list[str]) -> list[dict]:
    views = []
    for ref in refs:
        rec = engine.db.get_container(ref)
        image = engine.db.get_image(rec.image_id)
        icfg = (engine.images.config(image).get("config") or {}) if image else {}
        pinned, note = pin_image(engine, rec.image, image)
        views.append({"name": rec.name, "config": rec.config, "image": pinned, "image_config": icfg,
                      "run_as": run_as(engine, image, rec.config.get("user") or ""), "image_note": note})
    return views


def pin_image(engine, name: str, image) -> tuple[str, str | None]:
    """(the reference to write, None or why it is not pinned). An image pulled from or pushed to a
    registry is written `repo@sha256:…` (the index digest when it was pulled through one, as
    docker's RepoDigests); a local-only one keeps its name, and the note says so."""
    from dockyard.oci import reference
    from dockyard.registry.sources import BlobSources

    if image is None:
        return name, "the image is gone from this store; its name is written unpinned"
    try:
        ref = reference.parse(name)
    except DockyardError:
        return name, None
    if ref.digest:
        return str(ref), None
    tags = engine.db.tags_for(image.id)
    for t in tags:  # pulled through an index: name@<index digest>
        if t.startswith(ref.name + "@sha256:"):
            return t, None
    if ref.domain != reference.DEFAULT_DOMAIN and ref.path in BlobSources(engine.root, engine.content).repos(
            image.config_digest, ref.domain):
        return f"{ref.name}@{image.manifest_digest}", None
    return ref.familiar(), (f"{ref.familiar()} is only in this store: push it to a registry the cluster pulls "
                            "from (it is written unpinned)")


def run_as(engine, image, user: str):
    """(uid, gid) of a `--user` value, names looked up in the image; None when none is set or a
    name is not in the image."""
    if not user:
        return None
    u, _, g = user.partition(":")
    if u.isdigit() and (not g or g.isdigit()):
        return int(u), int(g) if g else 0 if u == "0" else _primary_gid(engine, image, u)
    from dockyard.engine.launch import read_rootfs_file
    from dockyard.engine.users import resolve_user

    try:
        top = engine.images.ensure_unpacked(image)
        lowers = engine.snapshots.lowerdirs(top) if top else []
        eu = resolve_user(user, read_rootfs_file(lowers, "/etc/passwd"), read_rootfs_file(lowers, "/etc/group"))
    except (DockyardError, OSError):
        return None
    return eu.uid, eu.gid


def _primary_gid(engine, image, uid: str) -> int:
    from dockyard.engine.launch import read_rootfs_file
    from dockyard.engine.users import resolve_user

    try:
        top = engine.images.ensure_unpacked(image)
        lowers = engine.snapshots.lowerdirs(top) if top else []
        return resolve_user(uid, read_rootfs_file(lowers, "/etc/passwd"), None).gid
    except (DockyardError, OSError, AttributeError):
        return 0
