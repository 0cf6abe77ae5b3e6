"""What the store holds on disk, as dockerd's GET /system/df reports it and `docker system df`
sums it: images (with the size they share with other images through common layers), containers
(their writable layers), volumes (their data, and how many containers use them), the build
cache (step results whose layers no image holds), and the unique layers' total."""

from __future__ import annotations

import os

TYPES = ("container", "image", "volume", "build-cache")


def _layer_sizes(engine, rec) -> list[tuple[str, int]]:
    """(chain id, unpacked size) of an image's layers."""
    from dockyard.oci import digest as dg

    cfg = engine.images.config(rec)
    diff_ids = (cfg.get("rootfs") or {}).get("diff_ids") or []
    layers = list(engine.images.manifest(rec).get("layers") or ())
    out = []
    for chain, layer in zip(dg.chain_ids(diff_ids) if diff_ids else [], layers):
        size = engine.snapshots.layer_size(chain)
        out.append((chain, size if size is not None else int(layer.get("size", 0))))
    return out


def shared_sizes(engine) -> dict[str, int]:
    """Each image's SharedSize: its layers' bytes that other images hold too (GET /images/json?shared-size=1)."""
    return _shared({rec.id: _layer_sizes(engine, rec) for rec in engine.db.list_images()})


def _shared(layers_of: dict[str, list[tuple[str, int]]]) -> dict[str, int]:
    """{image id: its layers' (chain id, size)} → {image id: the bytes of its layers another image has too}."""
    users: dict[str, int] = {}
    for layers in layers_of.values():
        for chain, _ in layers:
            users[chain] = users.get(chain, 0) + 1
    return {image_id: sum(size for chain, size in layers if users[chain] > 1) for image_id, layers in layers_of.items()}


def images_usage(engine) -> tuple[list[dict], int, set]:
    """(image entries, LayersSize, the blob digests of every image's layers)."""
    from dockyard.oci import reference
    from dockyard.units import parse_rfc3339

    db = engine.db
    per_image = {}
    blobs = set()
    for rec in db.list_images():
        per_image[rec.id] = (rec, _layer_sizes(engine, rec))
        blobs.update(layer["digest"] for layer in engine.images.manifest(rec).get("layers") or ())
    shared = _shared({image_id: layers for image_id, (_, layers) in per_image.items()})
    total = {}
    images = []
    for rec, layers in per_image.values():
        total.update(layers)
        labels = (engine.images.config(rec).get("config") or {}).get("Labels") or None
        images.append({
            "Id": rec.id, "ParentId": rec.parent,
            "RepoTags": sorted(reference.parse(t).familiar() for t in db.tags_for(rec.id)),
            "RepoDigests": [], "Created": int(parse_rfc3339(rec.created) or rec.added), "Size": rec.size,
            "SharedSize": shared[rec.id], "Labels": labels,
            "Containers": len(db.containers_using_image(rec.id))})
    images.sort(key=lambda d: d["Created"], reverse=True)
    return images, sum(total.values()), blobs


def containers_usage(engine) -> list[tuple]:
    """(record, effective state, SizeRw, SizeRootFs) per container, newest first."""
    from dockyard.engine.inspect import container_sizes
    from dockyard.engine.status import effective_state

    out = []
    for rec in sorted(engine.db.list_containers(), key=lambda r: r.created, reverse=True):
        rw, rootfs = container_sizes(engine, rec)
        out.append((rec, effective_state(rec, engine.db), rw, rootfs))
    return out


def volumes_usage(engine) -> list[dict]:
    from dockyard.engine.volumes import list_volumes
    from dockyard.fsutil import disk_usage
    from dockyard.state.volumes import containers_using

    out = []
    for v in list_volumes(engine):
        out.append({"Name": v.name, "Driver": v.driver, "Mountpoint": v.mountpoint, "Labels": v.labels or None,
                    "Scope": "local", "Options": v.options or None,
                    "CreatedAt": _rfc3339(v.created),
                    "UsageData": {"Size": disk_usage(v.mountpoint), "RefCount": len(containers_using(engine.db, v.name))}})
    return out


def build_cache_usage(engine, image_blobs: set) -> list[dict]:
    """One entry per cached build step; its size counts only when no image holds its layer."""
    import json

    cache = os.path.join(engine.root, "cache", "build")
    out = []
    try:
        names = sorted(n for n in os.listdir(cache) if n.endswith(".json") and not n.startswith("."))
    except FileNotFoundError:
        return out
    for n in names:
        path = os.path.join(cache, n)
        try:
            with open(path) as f:
                entry = json.load(f)
            st = os.stat(path)  # mtime: when the builder last wrote or used it
        except (OSError, ValueError):
            continue
        layer = entry.get("layer") or {}
        shared = layer.get("digest") in image_blobs
        size = 0 if shared or not layer or not engine.content.has(layer["digest"]) else int(layer.get("size", 0))
        out.append({"ID": n[:-5][:25], "Parents": None, "Type": "regular",
                    "Description": (entry.get("history") or {}).get("created_by", ""), "InUse": False,
                    "Shared": shared, "Size": size,
                    "CreatedAt": (entry.get("history") or {}).get("created") or _rfc3339(st.st_mtime),
                    "LastUsedAt": _rfc3339(st.st_mtime), "UsageCount": 1})
    return out


def _rfc3339(t: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def summary(engine) -> list[tuple[str, int, int, int, int, bool]]:
    """`docker system df`'s rows, computed as the docker CLI computes them from GET /system/df:
    (type, total, active, size, reclaimable, whether the reclaimable bytes get a percentage)."""
    images, layers_size, blobs = images_usage(engine)
    used = sum(i["Size"] - i["SharedSize"] for i in images if i["Containers"])
    containers = containers_usage(engine)
    running = [c for c in containers if c[1].get("Status") in ("running", "paused", "restarting")]
    volumes = volumes_usage(engine)
    cache = build_cache_usage(engine, blobs)
    return [
        ("Images", len(images), sum(1 for i in images if i["Containers"]), layers_size, layers_size - used, True),
        ("Containers", len(containers), len(running), sum(c[2] for c in containers),
         sum(c[2] for c in containers if c not in running), True),
        ("Local Volumes", len(volumes), sum(1 for v in volumes if v["UsageData"]["RefCount"]),
         sum(v["UsageData"]["Size"] for v in volumes),
         sum(v["UsageData"]["Size"] for v in volumes if not v["UsageData"]["RefCount"]), True),
        ("Build Cache", len(cache), sum(1 for c in cache if c["InUse"]), sum(c["Size"] for c in cache if not c["Shared"]),
         sum(c["Size"] for c in cache if not c["InUse"] and not c["Shared"]), False),
    ]
