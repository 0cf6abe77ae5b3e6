"""`compose down`, `stop`, `rm`: taking a project's containers, networks, volumes and images away."""

from __future__ import annotations

from dockyard.compose import project as P
from dockyard.errors import DockyardError, InvalidArgument, NotFound


def stop_timeout(project, rec, timeout: int | None) -> int | None:
    if timeout is not None:
        return timeout
    svc = P.labels_of(rec).get(P.SERVICE)
    service = (project.services or {}).get(svc) if project is not None else None
    if service and service.get("stop_grace_period") is not None:
        from dockyard.compose.convert import duration_ns

        return duration_ns(svc, "stop_grace_period", service["stop_grace_period"]) // 1_000_000_000
    return None


def stop(engine, project, recs, progress, timeout: int | None = None) -> None:
    from dockyard.engine import lifecycle

    def one(rec) -> None:
        progress.event("Container", rec.name, "Stopping")
        lifecycle.stop(engine, rec.id, timeout=stop_timeout(project, rec, timeout))
        progress.event("Container", rec.name, "Stopped")

    live = [r for r in recs if P.state_of(r).get("Status") in ("running", "paused", "restarting")]
    for group in reversed(P.levels(project, live)):  # dependents first, each level at once, as v2 does
        P.parallel(one, group, progress.parallel)


def remove(engine, recs, progress, *, volumes: bool = False) -> None:
    from dockyard.engine import teardown

    def one(rec) -> None:
        progress.event("Container", rec.name, "Removing")
        teardown.remove(engine, rec.id, force=True, volumes=volumes)
        progress.event("Container", rec.name, "Removed")

    P.parallel(one, recs, progress.parallel)


def down(engine, project, progress, *, volumes: bool = False, rmi: str | None = None, remove_orphans: bool = False,
         timeout: int | None = None) -> None:
    if rmi not in (None, "all", "local"):
        raise InvalidArgument(f'invalid --rmi option "{rmi}": use "all" or "local"')
    recs = [r for r in P.containers(engine, project.name, oneoff=None)
            if remove_orphans or P.labels_of(r).get(P.SERVICE) in project.services]
    order = P.dependency_order(project, [s for s in project.services])
    rank = {s: i for i, s in enumerate(order)}
    recs.sort(key=lambda r: (rank.get(P.labels_of(r).get(P.SERVICE), -1), P.number_of(r)))
    from dockyard.engine import lifecycle, teardown

    def one(rec) -> None:  # each container stopped and removed in one go, a dependency level at once
        if P.state_of(rec).get("Status") in ("running", "paused", "restarting"):
            progress.event("Container", rec.name, "Stopping")
            lifecycle.stop(engine, rec.id, timeout=stop_timeout(project, rec, timeout))
            progress.event("Container", rec.name, "Stopped")
        progress.event("Container", rec.name, "Removing")
        teardown.remove(engine, rec.id, force=True, volumes=volumes)
        progress.event("Container", rec.name, "Removed")

    # volumes the containers mount that were made anonymous (some carried across a recreate, so
    # no longer flagged so on the container): `down -v` takes them too
    mounted = [m["source"] for r in recs for m in r.config.get("mounts") or () if m.get("type") == "volume"]
    for group in reversed(P.levels(project, recs)):
        P.parallel(one, group, progress.parallel)
    if volumes and mounted:
        from dockyard.engine import volumes as V

        V.remove_unused(engine, [n for n in mounted if _anonymous(engine, n)])
    left = P.containers(engine, project.name, oneoff=None)
    if left:
        progress.warn(f"Found orphan containers ({', '.join(r.name for r in left)}) for this project. If you "
                      "removed or renamed this service in your compose file, you can run this command with the "
                      "--remove-orphans flag to clean it up.")
    else:
        P.remove_networks(engine, project, progress)
    if volumes:
        P.remove_volumes(engine, project, progress)
    if rmi:
        remove_images(engine, project, rmi, progress)


def remove_images(engine, project, rmi: str, progress) -> None:
    """--rmi local: images Compose built without a custom tag; all: every service's image."""
    from dockyard.compose.convert import image_name

    done = set()
    for svc, s in project.services.items():
        if rmi == "local" and s.get("image"):
            continue
        ref = image_name(project.name, svc, s)
        if ref in done:
            continue
        done.add(ref)
        try:
            engine.images.resolve(ref)
        except (NotFound, DockyardError):
            continue
        progress.event("Image", ref, "Removing")
        try:
            engine.images.remove(ref)
        except DockyardError as e:
            progress.event("Image", ref, f"Error: {e}")
            continue
        progress.event("Image", ref, "Removed")


def _anonymous(engine, name: str) -> bool:
    from dockyard.engine.volumes import get

    try:
        return bool(get(engine, name).anonymous)
    except NotFound:
        return False
