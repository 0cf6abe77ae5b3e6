"""GET /containers/json: the list docker ps reads, with all/limit/size and the filters id, name,
label, status, exited, ancestor, before, since."""

from __future__ import annotations

import time

from dockyard.api.filters import parse_filters
from dockyard.engine.status import effective_state
from dockyard.errors import DockyardError
from dockyard.units import human_duration, parse_rfc3339

FILTERS = ("id", "name", "label", "status", "exited", "ancestor", "before", "since")
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


def status_text(st: dict) -> str:
    status = st.get("Status")
    if status in ("running", "paused"):
        up = "Up " + human_duration(time.time() - parse_rfc3339(st.get("StartedAt", "")))
        return up + " (Paused)" if status == "paused" else up
    if status == "exited":
        finished = parse_rfc3339(st.get("FinishedAt", ""))
        code = st.get("ExitCode", 0)
        return f"Exited ({code}) " + human_duration(time.time() - finished) + " ago" if finished else f"Exited ({code})"
    if status == "restarting":
        return f"Restarting ({st.get('ExitCode', 0)}) " + \
            human_duration(time.time() - parse_rfc3339(st.get("FinishedAt", ""))) + " ago"
    return status.capitalize() if status else "Unknown"


def _matches(engine, rec, st: dict, flt: dict, order: dict) -> bool:
    import re

    def any_of(key, pred):
        return key not in flt or any(pred(v) for v in flt[key])

    def ancestor(v):
        try:
            return engine.images.resolve(v).id == rec.image_id
        except DockyardError:
            return rec.image == v

    def position(v):
        return order[engine.db.get_container(v).id]

    labels = rec.config.get("labels") or {}
    return (any_of("status", lambda v: st.get("Status") == v)
            and any_of("name", lambda v: re.search(v, rec.name) is not None)
            and any_of("id", lambda v: rec.id.startswith(v))
            and any_of("label", lambda v: (v in labels) if "=" not in v
                       else labels.get(v.partition("=")[0]) == v.partition("=")[2])
            and any_of("exited", lambda v: st.get("Status") == "exited" and str(st.get("ExitCode")) == v)
            and any_of("ancestor", ancestor)
            and any_of("before", lambda v: position(v) > order[rec.id])
            and any_of("since", lambda v: position(v) < order[rec.id]))


def summary(engine, rec, st: dict, *, size: bool) -> dict:
    """One entry of the list: the parts of the inspect document `docker ps` shows (built here
    from the record rather than the whole document: the list is read often)."""
    from dockyard.engine.inspect import container_sizes, network_settings
    from dockyard.engine.mounts import mounts_json

    cfg = rec.config
    doc = {"NetworkSettings": network_settings(cfg, st), "HostConfig": {"NetworkMode": cfg.get("network", "none")},
           "Mounts": mounts_json(engine, cfg.get("mounts"))}
    if size:
        doc["SizeRw"], doc["SizeRootFs"] = container_sizes(engine, rec)
    args = [f"'{a}'" if " " in a else a for a in st.get("Args") or ()]  # dockerd's quoting
    ports = []
    for key, binds in ((doc["NetworkSettings"].get("Ports") or {}).items() if st.get("Status") == "running" else ()):
        port, _, proto = key.partition("/")
        for b in binds or [None]:
            entry = {"PrivatePort": int(port), "Type": proto}
            if b:
                entry.update(IP=b.get("HostIp") or "0.0.0.0", PublicPort=int(b.get("HostPort") or 0))
            ports.append(entry)
    out = {
        "Id": rec.id, "Names": ["/" + rec.name], "Image": rec.image, "ImageID": rec.image_id,
        "Command": " ".join([st.get("Path") or ""] + args).strip(), "Created": int(rec.created),
        "Ports": ports, "Labels": rec.config.get("labels") or {}, "State": st.get("Status", ""),
        "Status": status_text(st), "HostConfig": {"NetworkMode": doc["HostConfig"].get("NetworkMode", "")},
        "NetworkSettings": {"Networks": doc["NetworkSettings"]["Networks"]}, "Mounts": doc["Mounts"],
    }
    if size:
        out["SizeRw"], out["SizeRootFs"] = doc["SizeRw"], doc["SizeRootFs"]
    return out


def list_containers(engine, req) -> None:
    flt = parse_filters(req.q("filters"), FILTERS)
    limit = req.qint("limit", -1)
    show_all = req.qbool("all") or limit > 0 or "status" in flt or "exited" in flt
    size = req.qbool("size")
    recs = engine.db.list_containers()  # newest first
    order = {r.id: i for i, r in enumerate(reversed(recs))}
    out = []
    for rec in recs:
        st = effective_state(rec)
        if not show_all and st.get("Status") not in ("running", "paused", "restarting"):
            continue
        if not _matches(engine, rec, st, flt, order):
            continue
        out.append(summary(engine, rec, st, size=size))
        if 0 < limit <= len(out):
            break
    req.send_json(out)
