"""The container list that `dockyard ps` and the API's GET /containers/json both show: which
containers a filter selects, in docker's order, and their STATUS text. One module, so the CLI
and the API cannot drift apart."""

from __future__ import annotations

import time

from dockyard.engine.status import effective_state
from dockyard.errors import DockyardError
from dockyard.units import human_duration, parse_rfc3339

SHOWN_BY_DEFAULT = ("running", "paused", "restarting")  # what `ps` without -a lists


def status_text(st: dict) -> str:
    """docker ps STATUS: "Up 3 seconds (healthy)", "Exited (0) 2 seconds ago", "Created"."""
    status = st.get("Status")
    if status == "running":
        up = "Up " + human_duration(time.time() - parse_rfc3339(st.get("StartedAt", "")))
        health = (st.get("Health") or {}).get("Status")
        if health:
            return f"{up} (health: starting)" if health == "starting" else f"{up} ({health})"
        return up
    if status == "paused":
        return "Up " + human_duration(time.time() - parse_rfc3339(st.get("StartedAt", ""))) + " (Paused)"
    if status == "exited":
        finished = parse_rfc3339(st.get("FinishedAt", ""))
        if not finished:  # it died with nobody watching: when is not known
            return f"Exited ({st.get('ExitCode', 0)})"
        return f"Exited ({st.get('ExitCode', 0)}) " + _ago(finished)
    if status == "restarting":
        return f"Restarting ({st.get('ExitCode', 0)}) " + _ago(parse_rfc3339(st.get("FinishedAt", "")))
    return status.capitalize() if status else "Unknown"


def _ago(t: float) -> str:
    return human_duration(time.time() - t) + " ago"


def select(engine, flt: dict[str, list[str]], *, show_all: bool) -> list[tuple]:
    """(record, effective state) of the containers `flt` selects, newest first; without
    `show_all` only running, paused and restarting ones."""
    recs = engine.db.list_containers()  # newest first
    accept = matcher(engine, flt, recs)
    out = []
    for rec in recs:
        st = effective_state(rec, engine.db)
        if not show_all and st.get("Status") not in SHOWN_BY_DEFAULT:
            continue
        if accept is None or accept(rec, st):
            out.append((rec, st))
    return out


def matcher(engine, flt: dict[str, list[str]], recs: list | None = None):
    """A predicate (record, state) → bool for docker's container filters (status, name, id,
    label, exited, health, ancestor, before, since); None when `flt` is empty. Values of one key
    are alternatives, keys must all hold."""
    if not flt:
        return None
    import re

    recs = engine.db.list_containers() if recs is None else recs
    order = {r.id: i for i, r in enumerate(reversed(recs))}  # oldest is 0

    def position(ref: str) -> int:
        return order[engine.db.get_container(ref).id]

    def ancestor(rec, name: str) -> bool:
        try:
            return engine.images.resolve(name).id == rec.image_id
        except DockyardError:
            return rec.image == name

    def accept(rec, st: dict) -> bool:
        def any_of(key, pred):
            return key not in flt or any(pred(v) for v in flt[key])

        labels = rec.config.get("labels") or {}
        return (any_of("status", lambda v: st.get("Status") == v)
                and any_of("name", lambda v: re.search(v, rec.name) is not None)
                and any_of("id", lambda v: rec.id.startswith(v))
                and any_of("label", lambda v: (v in labels) if "=" not in v
                           else labels.get(v.partition("=")[0]) == v.partition("=")[2])
                and any_of("exited", lambda v: st.get("Status") == "exited" and str(st.get("ExitCode")) == v)
                and any_of("health", lambda v: ((st.get("Health") or {}).get("Status") or "none") == v)
                and any_of("ancestor", lambda v: ancestor(rec, v))
                and any_of("before", lambda v: position(v) > order[rec.id])
                and any_of("since", lambda v: position(v) < order[rec.id]))

    return accept
