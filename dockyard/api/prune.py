"""Prune routes (containers, volumes, networks) and the small container verbs pause, unpause and
rename. Prune filters: label and label! (and `all` for volumes); others are refused, not ignored."""

from __future__ import annotations

from dockyard.api.resources import filters
from dockyard.engine.volumes import label_filters
from dockyard.errors import InvalidArgument


def _refuse_until(flt: dict) -> None:
    if "until" in flt:
        raise InvalidArgument("the until filter is not supported by dockyard's prune yet")


def containers(engine, req) -> None:
    from dockyard.engine.prune import prune_containers
    from dockyard.engine.volumes import match_labels

    flt = filters(req, ("label", "label!", "until"))
    _refuse_until(flt)
    wanted = label_filters(flt)
    accept = (lambda rec, st: match_labels(rec.config.get("labels") or {}, wanted)) if wanted else None
    removed, reclaimed = prune_containers(engine, accept)
    req.send_json({"ContainersDeleted": removed or None, "SpaceReclaimed": reclaimed})


def volumes(engine, req) -> None:
    from dockyard.engine.volumes import prune

    flt = filters(req, ("label", "label!", "all"))
    all_values = [v.lower() for v in flt.get("all", ())]
    if any(v not in ("1", "true", "0", "false") for v in all_values):
        raise InvalidArgument(f"Invalid filter 'all={all_values[0]}'")
    removed, reclaimed = prune(engine, all_volumes=any(v in ("1", "true") for v in all_values),
                               labels=label_filters(flt))
    req.send_json({"VolumesDeleted": removed or None, "SpaceReclaimed": reclaimed})


def networks(engine, req) -> None:
    from dockyard.engine.networking import prune

    from dockyard.engine.events import parse_time

    flt = filters(req, ("label", "label!", "until"))
    if len(flt.get("until", ())) > 1:
        raise InvalidArgument("more than one until filter specified")
    until = parse_time(flt["until"][0]) if flt.get("until") else None
    req.send_json({"NetworksDeleted": prune(engine, until=until, labels=label_filters(flt)) or None})


def pause(engine, req, name: str) -> None:
    from dockyard.engine.observe import pause as pause_container

    pause_container(engine, name)
    req.no_content()


def unpause(engine, req, name: str) -> None:
    from dockyard.engine.observe import unpause as unpause_container

    unpause_container(engine, name)
    req.no_content()


def rename(engine, req, name: str) -> None:
    from dockyard.engine.containers import rename as rename_container

    new = req.q("name")
    if not new:
        raise InvalidArgument("the new name (name) is required")
    rename_container(engine, name, new)
    req.no_content()
