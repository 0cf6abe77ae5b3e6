"""An image's history as dockerd's GET /images/{name}/history gives it: one entry per step of its
config's history, newest first; the top entry carries the image's id and tags, the next ones its
parent's, grandparent's, … while those are kept (dockerd's way), older ones "<missing>". Sizes are
the layers' unpacked sizes; steps that made no layer are 0."""

from __future__ import annotations


def image_history(engine, name: str) -> list[dict]:
    from dockyard.oci import digest as dg
    from dockyard.oci import reference
    from dockyard.units import parse_rfc3339

    rec = engine.images.resolve(name)
    cfg = engine.images.config(rec)
    layers = list(engine.images.manifest(rec).get("layers") or ())
    diff_ids = (cfg.get("rootfs") or {}).get("diff_ids") or []
    sizes = []
    for chain, layer in zip(dg.chain_ids(diff_ids) if diff_ids else [], layers):
        size = engine.snapshots.layer_size(chain)
        sizes.append(size if size is not None else int(layer.get("size", 0)))
    out = []
    li = 0
    for h in cfg.get("history") or []:
        size = 0
        if not h.get("empty_layer"):
            size = sizes[li] if li < len(sizes) else 0
            li += 1
        created = parse_rfc3339(h.get("created") or "") if h.get("created") else None
        out.append({"Id": "<missing>", "Created": int(created or 0), "CreatedBy": h.get("created_by", ""),
                    "Tags": None, "Size": size, "Comment": h.get("comment", "")})
    out.reverse()
    tags = sorted(reference.parse(t).familiar() for t in engine.db.tags_for(rec.id))
    if not out:  # an image without history (imported by hand): one entry for the image itself
        out.append({"Id": rec.id, "Created": int(parse_rfc3339(rec.created) or rec.added), "CreatedBy": "",
                    "Tags": None, "Size": rec.size, "Comment": ""})
    # dockerd names the entries from the newest down after the image and then its parents (commit
    # and build record one), one each, while they are still here; the rest stay "<missing>"
    hist = rec
    for entry in out:
        entry["Id"] = hist.id
        entry["Tags"] = (tags if hist is rec else
                         sorted(reference.parse(t).familiar() for t in engine.db.tags_for(hist.id))) or None
        hist = engine.db.get_image(hist.parent) if hist.parent else None
        if hist is None:
            break
    return out
