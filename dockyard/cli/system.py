"""`dockyard system prune`: remove what nothing uses, and repair what a crash left behind."""

from __future__ import annotations


from dockyard.cli.flags import BOOL, LIST, Flag, parse, usage
from dockyard.cli.render import confirm
from dockyard.errors import DockyardError, InvalidArgument

FLAGS = [Flag("-a,--all", BOOL, "Remove all unused images not just dangling ones"),
         Flag("-f,--force", BOOL, "Do not prompt for confirmation"),
         Flag("--volumes", BOOL, "Prune anonymous volumes"),
         Flag("--filter", LIST, "Provide filter values (not supported)"),
         Flag("--help", BOOL, "Print usage")]


def cmd_system_prune(ctx, argv: list[str]) -> int:
    from dockyard.cli.render import human_size
    from dockyard.engine.containers import effective_state, remove

    opts = parse(FLAGS, argv)
    if opts.help:
        print(usage("dockyard system prune [OPTIONS]", "Remove unused data", FLAGS))
        return 0
    if opts.filter:
        raise InvalidArgument("system prune --filter is not supported")
    if not opts.force:
        what = ["all stopped containers", "all networks not used by at least one container"]
        if opts.volumes:
            what.append("all anonymous volumes not used by at least one container")
        what += ["all images without at least one container associated to them" if opts.all else
                 "all dangling images", "all build cache" if opts.all else "all dangling build cache"]
        if not confirm("WARNING! This will remove:\n" + "".join(f"  - {w}\n" for w in what)):
            return 0
    engine = ctx.engine
    reclaimed = 0
    removed_ctrs = []
    for rec in engine.db.list_containers():
        st = effective_state(rec)
        if st.get("Status") in ("exited", "created", "dead"):
            try:
                reclaimed += engine.snapshots.usage(rec.id)
            except (DockyardError, OSError):
                pass
            try:
                remove(engine, rec.id)
                removed_ctrs.append(rec.id)
            except DockyardError:
                continue
    if removed_ctrs:
        print("Deleted Containers:\n" + "\n".join(removed_ctrs) + "\n")
    repaired = _repair_networks(engine)
    from dockyard.engine.networking import prune as prune_networks

    nets = prune_networks(engine)
    if nets:
        print("Deleted Networks:\n" + "\n".join(nets) + "\n")
    if opts.volumes:
        from dockyard.engine.volumes import prune as prune_volumes

        vols, size = prune_volumes(engine)
        reclaimed += size
        if vols:
            print("Deleted Volumes:\n" + "\n".join(vols) + "\n")
    lines, size = _prune_images(engine, all_images=opts.all)
    reclaimed += size
    if lines:
        print("Deleted Images:\n" + "\n".join(f"{k.lower()}: {v}" for k, v in lines) + "\n")
    if opts.all:
        from dockyard.fsutil import rmtree
        import os

        cache = os.path.join(engine.root, "cache", "build")
        if os.path.isdir(cache):
            rmtree(cache)
            print("Deleted build cache objects:\n" + cache + "\n")
    temps, size = engine.reclaim_temps()  # what killed pulls, loads, builds, commits, rms left
    reclaimed += size
    if temps:
        print(f"Deleted temporary files of interrupted commands: {temps}\n")
    if repaired:
        print(f"Repaired: {repaired}\n")
    print(f"Total reclaimed space: {human_size(reclaimed)}")
    return 0


def _repair_networks(engine) -> str:
    """Addresses, rules and interfaces still held for containers that no longer run (their
    monitor was killed, or the host rebooted under them)."""
    from dockyard.engine.containers import effective_state
    from dockyard.engine.networking import detach
    from dockyard.state.networks import endpoints

    held = {e.container_id for e in endpoints(engine.db)}
    fixed = 0
    for rec in engine.db.list_containers():
        if rec.id in held and effective_state(rec).get("Status") not in ("running", "paused", "restarting"):
            detach(engine, rec.id, had_ports=bool(rec.config.get("ports")), reap_links=True)
            fixed += 1
    known = {r.id for r in engine.db.list_containers()}
    for cid in held - known:  # a record gone without its endpoints (killed mid-rm)
        detach(engine, cid, had_ports=True, reap_links=True)
        fixed += 1
    return f"network endpoints of {fixed} stopped container(s) released" if fixed else ""


def _prune_images(engine, *, all_images: bool) -> tuple[list[tuple[str, str]], int]:
    """Dangling (untagged) images, or with -a every image no container uses."""
    out: list[tuple[str, str]] = []
    size = 0
    for rec in engine.db.list_images():
        if engine.db.containers_using_image(rec.id):
            continue
        if engine.db.tags_for(rec.id) and not all_images:
            continue
        try:
            out += engine.images.remove(rec.id, force=True)
            size += rec.size
        except DockyardError:
            continue
    return out, size
