"""Pruning: what nothing uses goes (`container prune`, `system prune`), and what a crash left
behind is finished (stale network endpoints, temps of killed commands). The CLI only asks and
prints; an Engine API prune calls the same functions."""

from __future__ import annotations

import os

from dockyard.engine.status import STOPPED
from dockyard.errors import DockyardError, InvalidArgument



def prune_containers(engine, accept=None) -> tuple[list[str], int]:
    """Remove every stopped container (that `accept(rec, state)` accepts, when given):
    (ids removed, bytes their layers used)."""
    from dockyard.engine.status import effective_state
    from dockyard.engine.teardown import remove

    removed, reclaimed = [], 0
    for rec in engine.db.list_containers():
        st = effective_state(rec, engine.db)
        if st.get("Status") not in STOPPED or (accept is not None and not accept(rec, st)):
            continue
        try:
            size = engine.snapshots.usage(rec.id)
        except (DockyardError, OSError):
            size = 0
        try:
            remove(engine, rec.id)
        except DockyardError:  # started, or removed, meanwhile
            continue
        removed.append(rec.id)
        reclaimed += size
    return removed, reclaimed


def prune_images(engine, *, all_images: bool, until: float | None = None,
                 labels: tuple = ()) -> tuple[list[tuple[str, str]], int]:
    """Dangling (untagged) images, or with `all_images` every image no container uses; `until`:
    only those created before then, `labels`: (key, value or None, negate) filters on the
    image's labels: (("Untagged"|"Deleted", what) lines, bytes)."""
    from dockyard.engine.volumes import match_labels
    from dockyard.oci import digest as dg
    from dockyard.units import parse_rfc3339

    out: list[tuple[str, str]] = []
    size = 0
    for rec in engine.db.list_images():
        if engine.db.containers_using_image(rec.id):
            continue
        if engine.db.tags_for(rec.id) and not all_images:
            continue
        if until is not None and (parse_rfc3339(rec.created) or rec.added) >= until:
            continue
        if labels and not match_labels((engine.images.config(rec).get("config") or {}).get("Labels") or {}, labels):
            continue
        try:  # dockerd's reclaimed space: the layers that went with it, not the image's whole size
            cfg = engine.images.config(rec)
            diff_ids = (cfg.get("rootfs") or {}).get("diff_ids") or []
            sizes = dict(zip(dg.chain_ids(diff_ids) if diff_ids else [],
                             engine.images.layer_sizes(cfg, engine.images.manifest(rec))))
            lines = engine.images.remove(rec.id, force=True)
        except DockyardError:
            continue
        out += lines
        size += sum(sizes.get(what, 0) for kind, what in lines if kind == "Deleted")
    return out, size


def prune_build_cache(engine) -> str | None:
    """The whole build cache (`system prune -a`): its directory, if there was one."""
    from dockyard.fsutil import rmtree

    cache = os.path.join(engine.root, "cache", "build")
    mounts = prune_cache_mounts(engine)
    if not os.path.isdir(cache):
        return cache if mounts else None
    rmtree(cache)
    return cache


def prune_cache_mounts(engine, older_than: float | None = None) -> int:
    """The RUN --mount=type=cache directories no build is using (a user holds its ``.lock``):
    removed with their locks; how many went. With `older_than` only those whose directory last
    changed before that time."""
    import fcntl

    from dockyard.fsutil import rmtree

    base = os.path.join(engine.root, "cache", "mounts")
    try:
        names = sorted(n for n in os.listdir(base) if not n.endswith(".lock"))
    except FileNotFoundError:
        return 0
    gone = 0
    for name in names:
        lock = os.path.join(base, name + ".lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a build has it mounted
            if older_than is not None and _mtime(os.path.join(base, name)) >= older_than:
                continue
            rmtree(os.path.join(base, name))
            os.unlink(lock)
            gone += 1
        finally:
            os.close(fd)
    return gone


def system_prune(engine, *, all_images: bool = False, volumes: bool = False, until: float | None = None,
                 labels: tuple = ()) -> dict:
    """docker system prune: stopped containers, unused networks, (anonymous volumes,) dangling or
    unused images, (the build cache,) and the leftovers of killed commands. `until` and `labels`
    (docker's --filter until=, label=, label!=) narrow each kind: what was created before then,
    what has (or lacks) those labels (volumes take labels only; cache steps have no labels). The
    report's keys: Containers, Networks, Volumes, Images, BuildCache, Temps, Repaired, SpaceReclaimed."""
    from dockyard.engine.networking import prune as prune_networks
    from dockyard.engine.repair import release_stale_endpoints
    from dockyard.engine.volumes import match_labels

    if volumes and until is not None:
        raise InvalidArgument('The "until" filter is not supported with "--volumes"',  # docker's words
                              hint="docker's volume prune refuses it: leave out --volumes or the until filter")
    accept = None
    if until is not None or labels:
        def accept(rec, st) -> bool:
            return (until is None or rec.created < until) and match_labels(rec.config.get("labels") or {}, labels)
    containers, reclaimed = prune_containers(engine, accept)
    fixed = release_stale_endpoints(engine)
    report = {"Containers": containers, "Networks": prune_networks(engine, until=until, labels=labels),
              "Volumes": []}
    if volumes:
        from dockyard.engine.volumes import prune as prune_volumes

        report["Volumes"], size = prune_volumes(engine, labels=labels)
        reclaimed += size
    report["Images"], size = prune_images(engine, all_images=all_images, until=until, labels=labels)
    reclaimed += size
    if all_images and (until is not None or labels):  # the cache's steps: by age; a label matches none
        steps, size = prune_builder(engine, all_cache=True, until=until) if match_labels({}, labels) else ([], 0)
        report["BuildCache"] = f"{len(steps)} cached build step(s)" if steps else None
        reclaimed += size
    else:
        report["BuildCache"] = prune_build_cache(engine) if all_images else None
    report["Temps"], size = engine.reclaim_temps()  # what killed pulls, loads, builds, commits, rms left
    reclaimed += size
    report["Repaired"] = f"network endpoints of {fixed} stopped container(s) released" if fixed else ""
    report["SpaceReclaimed"] = reclaimed
    return report


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def prune_builder(engine, *, all_cache: bool, until: float | None = None,
                  keep_storage: int | None = None) -> tuple[list[tuple[str, int]], int]:
    """docker builder prune: the cached build steps no image holds the layer of (dangling), or
    with `all_cache` every one (and the cache's reasons), and the RUN --mount=type=cache
    directories no build is using (BuildKit counts those unused, whatever -a says); the layers
    then held by nothing go too. `until` (--filter until=): only steps last used before that
    time (and cache mounts last changed before it). `keep_storage` (--keep-storage): the least
    recently used steps go first, and only until the cache's steps take no more than that many
    bytes (cache mounts, whose size is not counted, are then left alone).
    Returns ((entry id, size) for each removed entry, bytes reclaimed)."""
    from dockyard.engine.diskusage import build_cache_usage, images_usage
    from dockyard.units import parse_rfc3339

    cache = os.path.join(engine.root, "cache", "build")
    _, _, blobs = images_usage(engine)
    removed, total = [], 0
    entries = build_cache_usage(engine, blobs)
    held = sum(e["Size"] for e in entries)
    for entry in sorted(entries, key=lambda e: e["LastUsedAt"]):  # least recently used first
        if entry["Shared"] and not all_cache:
            continue
        if until is not None and parse_rfc3339(entry["LastUsedAt"]) >= until:
            continue
        if keep_storage and held <= keep_storage:  # 0 keeps nothing, as BuildKit's KeepBytes
            break
        held -= entry["Size"]
        for name in os.listdir(cache):
            if name.startswith(entry["ID"]) and name.endswith(".json"):
                try:
                    os.unlink(os.path.join(cache, name))
                except FileNotFoundError:
                    continue
                removed.append((entry["ID"], entry["Size"]))
                total += entry["Size"]
                break
    if all_cache and until is None and keep_storage is None:
        from dockyard.fsutil import rmtree

        rmtree(os.path.join(cache, "why"))
    mounts = prune_cache_mounts(engine, until) if keep_storage is None else 0  # RUN --mount=type=cache directories no build holds
    if mounts:
        removed.append((f"{mounts} cache mount(s)", 0))
    if removed:
        engine.images.gc()
    return removed, total
