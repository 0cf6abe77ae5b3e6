"""`docker commit`: a container's upper dir as a new layer on its image, the container paused
meanwhile, with terminating signals unwound through the unpause."""

from __future__ import annotations

import copy
import os
from contextlib import contextmanager

from dockyard import errors


def commit(engine, ref: str, repo: str | None = None, *, message: str = "", author: str = "",
           changes: list[str] = (), pause: bool = True) -> str:
    """docker commit: the container's upper dir as a new layer on its image; the new image id.

    A running container is paused meanwhile (docker's default): the layer writer walks the upper
    dir by path, and a container changing it under the walk (a directory swapped for a symlink)
    must not get to lead it outside. Without a freezer the commit goes on unpaused.
    """
    from dockyard.engine.status import effective_state

    rec = engine.db.get_container(ref)
    paused = False
    with _signals_unwind():  # SIGTERM/SIGHUP/SIGINT unwind through the unpause below
        if pause and effective_state(rec, engine.db).get("Status") == "running":
            from dockyard.engine.observe import pause as freeze
            from dockyard.engine.status import owner_now

            with _signals_held():  # frozen and `paused` set, or neither
                try:
                    freeze(engine, rec.id, by=owner_now())  # SIGKILL: the next command thaws it
                    paused = True
                except errors.DockyardError:
                    pass  # no cgroup or freezer here; it may also have just stopped
        try:
            with engine.lease():  # until the image is recorded, `rmi` keeps the new layer
                return _commit(engine, rec, repo, message=message, author=author, changes=changes)
        finally:
            if paused:
                from dockyard.engine.observe import unpause

                with _signals_held():  # a signal now waits until the container is thawed
                    try:
                        unpause(engine, rec.id)
                    except errors.Conflict:  # its exit was recorded meanwhile (docker-py commits a
                        from dockyard.engine.status import container_cgroup  # short-lived container)

                        try:  # the record stays "exited"; only the freezer is let go
                            cg = container_cgroup(engine, engine.db.get_container(rec.id))
                            if cg is not None:
                                cg.thaw()
                        except (errors.DockyardError, OSError):
                            pass


_UNWIND_SIGNALS = ("SIGTERM", "SIGHUP", "SIGINT")


class _Interrupted(BaseException):
    """A terminating signal, raised where the process was so that `finally` blocks run."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum


@contextmanager
def _signals_unwind():
    """While a command holds something others must get back (a frozen container), SIGTERM,
    SIGHUP and SIGINT unwind the stack (running every `finally`) instead of killing the process
    where it stands; then the signal is delivered again with its old disposition, so the process
    still dies of it (or, for SIGINT, raises KeyboardInterrupt) as it would have. Only the main
    thread can take signals; elsewhere this does nothing."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        raise _Interrupted(signum)

    # an ignored one stays ignored (SIGHUP under nohup: the commit goes on, as it would have)
    sigs = [s for s in (getattr(signal, n) for n in _UNWIND_SIGNALS) if signal.getsignal(s) != signal.SIG_IGN]
    old = {s: signal.signal(s, handler) for s in sigs}
    try:
        yield
    except _Interrupted as e:
        for s, h in old.items():
            signal.signal(s, h)
        old = {}
        os.kill(os.getpid(), e.signum)  # its old disposition: dies, or KeyboardInterrupt (SIGINT)
        raise errors.Unavailable(f"interrupted by signal {e.signum}") from None  # a handler of the caller's
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextmanager
def _signals_held():
    """Block the unwinding signals for a step that must not be cut in half (thawing)."""
    import signal

    sigs = {getattr(signal, n) for n in _UNWIND_SIGNALS}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _commit(engine, rec, repo: str | None, *, message: str, author: str, changes) -> str:
    import copy
    import time

    from dockyard.engine.config import ContainerConfig
    from dockyard.engine.status import rfc3339
    from dockyard.images.importer import apply_changes
    from dockyard.images.layers import layer_from_dir

    if ContainerConfig.from_json(rec.config).userns:
        raise errors.NotImplemented("commit of a --userns auto container is not supported yet")
    tags = [repo] if repo else []
    for t in tags:
        engine.images.normalize_tag(t)
    image = engine.db.get_image(rec.image_id)
    if image is None:
        raise errors.ImageNotFound(f"No such image: {rec.image_id} (the container's image was removed)")
    full = copy.deepcopy(engine.images.config(image))
    cfg = dict(full.get("config") or {})
    _container_settings(engine, rec, cfg)
    apply_changes(cfg, list(changes))
    old_layers = list(engine.images.manifest(image).get("layers") or [])
    desc, diff_id, _tar_size = layer_from_dir(engine.content, engine.snapshots.upper_dir(rec.id),
                                         tmp_dir=engine.tmp_dir(), overlay_upper=True)
    now = rfc3339(time.time())
    st = rec.state
    entry = {"created": now, "created_by": " ".join([st.get("Path", ""), *(st.get("Args") or [])]).strip()}
    if author:
        entry["author"] = author
    if message:
        entry["comment"] = message
    rootfs = full.get("rootfs") or {}
    full.update(created=now, config=cfg, history=[*(full.get("history") or []), entry],
                rootfs={"type": "layers", "diff_ids": [*(rootfs.get("diff_ids") or []), diff_id]})
    if author:
        full["author"] = author
    else:
        full.pop("author", None)
    image_id = engine.images.add(full, [*old_layers, desc], tags, parent=image.id)  # docker commit's Parent
    from dockyard.engine import events

    events.container(engine, rec, "commit", comment=message, imageID=image_id, imageRef=repo or "")
    return image_id


# what a container's create settings make of its image's config, kept by the commit as dockerd
# keeps them (the committed image runs as the container did: its env, command, labels, ...)
_KEPT = ("User", "Env", "Cmd", "Entrypoint", "WorkingDir", "ExposedPorts", "Volumes", "StopSignal", "Healthcheck")


def _container_settings(engine, rec, cfg: dict) -> None:
    """The container's Config (docker inspect's) over the image's `cfg`: dockerd commits the
    container's config, then the --change instructions on it."""
    from dockyard.engine.inspect import container_json

    doc = container_json(engine, rec)["Config"]
    for key in _KEPT:
        if key in doc:  # empty too: `--entrypoint ""` cleared the image's entrypoint for good
            cfg[key] = copy.deepcopy(doc[key])
    if doc.get("Labels"):
        cfg["Labels"] = {**(cfg.get("Labels") or {}), **doc["Labels"]}
