"""`dockyard system df [-v] [--format]`: docker CLI 28's disk usage views over engine/diskusage.py
(the numbers of GET /system/df, which the docker CLI renders the same way)."""

from __future__ import annotations

import sys

SUMMARY = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
SUMMARY_HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
                   "Reclaimable": "RECLAIMABLE"}
IMAGES = ("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}"
          "\t{{.Containers}}")
IMAGE_HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
                 "Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"}
CONTAINERS = ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}"
              "\t{{.Names}}")
CONTAINER_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "LocalVolumes": "LOCAL VOLUMES",
                     "Size": "SIZE", "RunningFor": "CREATED", "Status": "STATUS", "Names": "NAMES"}
VOLUMES = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
VOLUME_HEADERS = {"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}
CACHE = "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}"
CACHE_HEADERS = {"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE", "CreatedSince": "CREATED",
                 "LastUsedSince": "LAST USED", "UsageCount": "USAGE", "Shared": "SHARED"}


def summary_rows(engine) -> list[dict]:
    """The four rows of `docker system df`, as its formatter's fields (all strings)."""
    from dockyard.engine.diskusage import summary
    from dockyard.units import human_size

    rows = []
    for kind, total, active, size, reclaim, pct in summary(engine):
        text = human_size(reclaim)
        if pct and size > 0:  # the docker CLI's rule: no percentage of nothing
            text += f" ({reclaim * 100 // size}%)"
        # keys in encoding/json's order for a Go map (what `--format json` prints)
        rows.append({"Active": str(active), "Reclaimable": text, "Size": human_size(size), "TotalCount": str(total),
                     "Type": kind})
    return rows


def print_summary(engine, fmt: str | None) -> None:
    from dockyard.cli.template import render_table

    fmt = SUMMARY if fmt in (None, "", "table") else fmt
    sys.stdout.write(render_table(fmt, summary_rows(engine), SUMMARY_HEADERS,
                                  row_type="*formatter.diskUsageImagesContext"))


def print_verbose(engine) -> None:
    """`docker system df -v`: a table per kind of object, docker's columns and size precisions."""
    from dockyard.cli.containers import ps_row
    from dockyard.cli.render import ago
    from dockyard.cli.template import render_table
    from dockyard.engine import diskusage as du
    from dockyard.units import human_size, parse_rfc3339

    images, _layers, blobs = du.images_usage(engine)
    rows = []
    for img in images:
        for tag in img["RepoTags"] or ["<none>:<none>"]:
            repo, _, t = tag.rpartition(":")
            rows.append({"Repository": repo, "Tag": t, "ID": img["Id"].removeprefix("sha256:")[:12],
                         "CreatedSince": ago(img["Created"]), "Size": human_size(img["Size"], 3),
                         "SharedSize": human_size(img["SharedSize"]),
                         "UniqueSize": human_size(img["Size"] - img["SharedSize"]), "Containers": str(img["Containers"])})
    out = ["Images space usage:\n\n", render_table(IMAGES, rows, IMAGE_HEADERS)]
    rows = []
    for rec, st, rw, _rootfs in du.containers_usage(engine):
        row = ps_row(rec, st, no_trunc=False)
        row["Size"] = human_size(rw, 3)
        rows.append(row)
    out += ["\nContainers space usage:\n\n", render_table(CONTAINERS, rows, CONTAINER_HEADERS)]
    rows = [{"Name": v["Name"], "Links": str(v["UsageData"]["RefCount"]), "Size": human_size(v["UsageData"]["Size"])}
            for v in du.volumes_usage(engine)]
    out += ["\nLocal Volumes space usage:\n\n", render_table(VOLUMES, rows, VOLUME_HEADERS)]
    cache = du.build_cache_usage(engine, blobs)
    rows = [{"ID": c["ID"][:12], "CacheType": c["Type"], "Size": human_size(c["Size"]),
             "CreatedSince": ago(parse_rfc3339(c["CreatedAt"])), "LastUsedSince": ago(parse_rfc3339(c["LastUsedAt"])),
             "UsageCount": str(c["UsageCount"]), "Shared": "true" if c["Shared"] else "false"} for c in cache]
    out += [f"\nBuild cache usage: {human_size(sum(c['Size'] for c in cache))}\n\n",
            render_table(CACHE, rows, CACHE_HEADERS)]
    sys.stdout.write("".join(out))
