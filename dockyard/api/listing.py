"""GET /containers/json: the list docker ps reads, with all/limit/size and the filters id, name,
label, status, exited, health, ancestor, before, since (selected by engine/listing.py, as for
`dockyard ps`)."""

from __future__ import annotations

from dockyard.api.filters import parse_filters
from dockyard.engine.listing import select, status_text

FILTERS = ("id", "name", "label", "status", "exited", "health", "ancestor", "before", "since")


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
    out = []
    for rec, st in select(engine, flt, show_all=show_all):
        out.append(summary(engine, rec, st, size=size))
        if 0 < limit <= len(out):
            break
    req.send_json(out)
