"""Containers: create (record + snapshot + bundle), run in the foreground or detached.

The commands on top of the container lifecycle: status.py (the record, lock, liveness) is below,
then launch.py (bundle, runtime, networking), teardown.py (exit, cleanup, `rm`) and monitor.py.
"""

from __future__ import annotations

import os
import time

from dockyard.engine.config import ContainerConfig
from dockyard.engine.launch import USERNS_SHIFT, Created, cleanup_files, joined, read_rootfs_file, start_foreground
from dockyard.engine.launch import write_bundle
from dockyard.engine.status import Status, owner_now
from dockyard.errors import InvalidArgument, NameInUse, NotFound

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def validate_name(name: str) -> str:
    name = name.removeprefix("/")
    if not name or name[0] not in NAME_CHARS or name[0] in "_.-" or not set(name) <= NAME_CHARS:
        raise InvalidArgument(f'Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed')
    return name


def rename(engine, ref: str, new_name: str) -> None:
    """docker rename (the "rename" event names the old name, as dockerd's)."""
    from dockyard.engine import events

    rec = engine.db.get_container(ref)
    try:
        engine.db.rename_container(rec.id, validate_name(new_name))
    except NameInUse as e:  # dockerd's words
        raise NameInUse(f"Error when allocating new name: {e}") from None
    events.container(engine, rec.replace(name=new_name), "rename", oldName="/" + rec.name)


def create(engine, cfg: ContainerConfig, name: str | None = None, *, image_volumes: bool = True,
           launched: bool = False) -> Created:
    """docker create: the record, the writable snapshot, and the bundle. `image_volumes=False`
    (build steps) gives the image's VOLUMEs no anonymous volume, as BuildKit does. `launched`
    (`run`): the record names this process as the one that starts it, so a `--rm` container
    whose launcher is killed before it could remove it is removed by the next command."""
    from dockyard.engine.names import random_name
    from dockyard.engine.specgen import command, process_env
    from dockyard.engine.users import resolve_user
    from dockyard.state.db import ContainerRecord

    from dockyard.engine.security import parse as security_opts

    sec = security_opts(cfg.security_opt)  # refused before anything is made
    from dockyard.engine.resources import check_resources

    cfg, warnings = check_resources(cfg)  # limits this host lacks: discarded with docker's warning
    for w in warnings:
        os.write(2, f"WARNING: {w}\n".encode())  # where docker's CLI prints create's Warnings
    if cfg.privileged and isinstance(sec.seccomp, dict):
        raise InvalidArgument("--privileged runs without seccomp: a seccomp profile cannot be combined with it")
    images = engine.images
    image = images.resolve(cfg.image)
    full = images.config(image)
    icfg = full.get("config") or {}
    check_image_defaults(icfg, cfg)
    if cfg.healthcheck is not None or icfg.get("Healthcheck"):  # docker merges the image's in at create
        from dockyard.engine.health import merge

        cfg = cfg.replace(healthcheck=merge(cfg.healthcheck, icfg.get("Healthcheck")))
    top = images.ensure_unpacked(image, full)
    lowers = engine.snapshots.lowerdirs(top) if top else []
    user = resolve_user(cfg.user or icfg.get("User") or "", read_rootfs_file(lowers, "/etc/passwd"),
                        read_rootfs_file(lowers, "/etc/group"), (cfg.host_opts or {}).get("GroupAdd") or ())
    if cfg.network not in ("none", "host"):
        from dockyard.engine.networking import check_config

        if cfg.publish_all:  # -P: the image's EXPOSEd ports, fixed now so `start` publishes the same
            from dockyard.network.ports import exposed_ports, merge

            exposed = dict(icfg.get("ExposedPorts") or {}, **{p: {} for p in cfg.host_opts.get("ExposedPorts", ())})
            auto = [dict(p, publish_all=True) for p in exposed_ports({"ExposedPorts": exposed})]  # not asked: not
            cfg = cfg.replace(ports=tuple(merge(list(cfg.ports), auto)))  # in inspect's HostConfig.PortBindings
        check_config(engine, cfg)
    if cfg.host_opts.get("Links"):  # the targets exist (and their start is checked at each start)
        from dockyard.engine.links import check as check_links

        cfg = cfg.replace(host_opts=dict(cfg.host_opts, Links=check_links(engine, cfg.host_opts["Links"],
                                                                           cfg.network or "")))
    asked = cfg.host_opts.get("Volumes") or ()  # the request's Config.Volumes: made as an image's VOLUMEs
    if cfg.mounts or asked or (image_volumes and icfg.get("Volumes")):  # see engine/mounts.py
        from dockyard.engine.mounts import resolve

        vcfg = dict(icfg, Volumes={**((icfg.get("Volumes") or {}) if image_volumes else {}), **{p: {} for p in asked}})
        cfg = cfg.replace(mounts=resolve(engine, cfg.mounts, vcfg))
        driver = cfg.host_opts.get("VolumeDriver", "local")
        if driver != "local":  # only the local driver is here: a volume it would make cannot be made
            for m in cfg.mounts:
                if m["type"] == "volume" and m.get("origin") != "volumes-from":
                    raise NotFound(f'create {m["source"]}: error looking up volume plugin {driver}: '
                                          f'plugin "{driver}" not found')
    cid = os.urandom(32).hex()
    name_given = bool(name)
    name = validate_name(name) if name else random_name()
    if cfg.network == "host":
        hostname = cfg.hostname or os.uname().nodename  # (--uts host: the id's, as dockerd's Config.Hostname)
    elif cfg.network.startswith("container:"):
        if cfg.hostname:
            raise InvalidArgument("conflicting options: hostname and the network mode")
        hostname = joined(engine, cfg).state.get("Hostname") or cid[:12]
    else:
        hostname = cfg.hostname or cid[:12]
    args = command(cfg, icfg)
    state = {"Status": Status.CREATED, "ExitCode": 0, "Pid": 0, "Path": args[0], "Args": args[1:],
             "Hostname": hostname, "Env": process_env(cfg, icfg, hostname, user.home),
             "ImageCmd": icfg.get("Cmd"), "ImageEntrypoint": icfg.get("Entrypoint"), "ImageEnv": icfg.get("Env"),
             "StopSignal": icfg.get("StopSignal") or "SIGTERM", "RestartCount": 0}
    if launched:
        state["Launcher"] = owner_now()
    rec = ContainerRecord(id=cid, name=name, image_id=image.id, image=cfg.image, created=time.time(),
                          config=cfg.to_json(), state=state)
    if cfg.userns:
        _check_traversable(engine.container_dir(cid))
    made = []  # volumes made for this container (removed again if it fails)
    for attempt in range(10):
        try:
            if cfg.mounts:
                from dockyard.engine.mounts import insert_with_volumes

                made = insert_with_volumes(engine, rec, cfg.mounts)
            else:
                engine.db.insert_container(rec)
            break
        except NameInUse:
            if name_given or attempt == 9:
                raise
            rec = rec.replace(name=random_name())  # a generated name taken meanwhile: draw again, as docker does
    try:
        os.makedirs(engine.container_dir(cid), mode=0o755)
        mounts = engine.snapshots.prepare(cid, top, uid_shift=USERNS_SHIFT if cfg.userns else 0)
        if cfg.mounts:
            from dockyard.engine.volumes import seed

            seed(engine, cid, cfg.mounts, lowers, uid_shift=USERNS_SHIFT if cfg.userns else 0)
        created = write_bundle(engine, rec, cfg, icfg, user, mounts)
        from dockyard.engine import events

        events.container(engine, created.rec, "create")
        return created
    except BaseException:
        cleanup_files(engine, cid)
        engine.db.must(engine.db.delete_container, cid)
        if made:
            from dockyard.engine.volumes import remove_unused

            remove_unused(engine, made)
        raise


def check_image_defaults(icfg, cfg: ContainerConfig) -> None:
    """What a container takes from its image and the caller, checked before anything is made:
    an image stored before images were checked on the way in (images/validate.py) may hold a
    crafted config, and API callers bypass the CLI's checks."""
    if not isinstance(icfg, dict):
        raise InvalidArgument("the image's config is not an object")
    for where, items in (("the image's Env", icfg.get("Env")), ("the environment", cfg.env),
                         ("the image's Cmd", icfg.get("Cmd")), ("the image's Entrypoint", icfg.get("Entrypoint")),
                         ("the command", cfg.cmd), ("the entrypoint", cfg.entrypoint)):
        if items is None:
            continue
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise InvalidArgument(f"{where} is not a list of strings")
        for i in items:
            if "\0" in i:
                raise InvalidArgument(f"{where} holds {i.partition('=')[0]!r} with a NUL byte in it")
    signal = cfg.stop_signal or icfg.get("StopSignal")
    if signal:
        from dockyard.signals import parse_signal

        try:
            parse_signal(signal)
        except InvalidArgument:
            raise InvalidArgument(f"Invalid signal: {signal}"
                                  + ("" if cfg.stop_signal else " (the image's StopSignal)")) from None


def _check_traversable(path: str) -> None:
    """A user-namespaced container's root is an unprivileged host uid: every directory above its
    bundle must let others search it, or mounting its root fails with a bare EACCES."""
    from dockyard.fsutil import first_unsearchable

    found = first_unsearchable(os.path.dirname(os.path.abspath(path)))
    if found is not None:
        d, mode = found
        raise InvalidArgument(f"--userns auto needs every directory above the container's bundle to be "
                              f"searchable by other users, and {d} has mode {oct(mode & 0o777)}",
                              hint=f"chmod o+x {d}, or use a --runroot outside it")


def run(engine, cfg: ContainerConfig, name: str | None = None, *, stdin_open: bool = False, created=None,
        streams=("stdin", "stdout", "stderr"), sig_proxy: bool = True) -> int:
    """docker run in the foreground; `created(id)` is called once the container exists (--cidfile);
    `streams` attached (`run -a`), `sig_proxy` as start_foreground's."""
    c = create(engine, cfg, name, launched=True)
    if created is not None:
        created(c.rec.id)
    try:
        return start_foreground(engine, c, stdin_open=stdin_open, streams=streams, sig_proxy=sig_proxy)
    finally:
        if cfg.auto_remove:  # start_foreground removed the cgroup itself
            cleanup_files(engine, c.rec.id, orphaned_cgroup=False)
            engine.db.must(engine.db.delete_container, c.rec.id)
            from dockyard.engine import events

            events.container(engine, c.rec, "destroy")
            if c.cfg.mounts:  # --rm takes the anonymous volumes along, as docker's does
                from dockyard.engine.volumes import remove_anonymous

                remove_anonymous(engine, c.cfg.mounts)


def run_detached(engine, cfg: ContainerConfig, name: str | None = None, *, created=None) -> str:
    """docker run -d: create, hand the container to its monitor, return its id once it runs."""
    from dockyard.engine.monitor import prestart

    c = None
    try:
        with prestart(engine) as monitor:  # its start-up overlaps the create
            c = create(engine, cfg, name, launched=True)
            if created is not None:
                created(c.rec.id)
            monitor.go(c)
    except BaseException:
        if c is not None and cfg.auto_remove:
            from dockyard.engine.teardown import remove

            remove(engine, c.rec.id, force=True, volumes=True)
        raise
    return c.rec.id
