"""The container's volumes and binds in the view `cp` and the archive API work on.

Docker gives `cp` (and GET/PUT/HEAD /containers/{id}/archive) the container's filesystem *with*
its volume and bind mounts on it, whether the container runs or not (moby's
``daemon/containerfs_linux.go`` openContainerFS: the rootfs, then every mount point bound at its
destination resolved inside the rootfs; tmpfs mounts are not in it). A running container's own
root (``/proc/<pid>/root``) already is that view. For a stopped or created one,
`engine/fsroot.open_root` mounts its overlay on a private temporary directory, and
`mount_view` binds the same sources the runtime would bind at start onto it, through the
runtime's own `mount_one`: each destination is opened inside the rootfs by descriptor (symlinks
resolved in scope, never followed by the kernel) and mounted onto through /proc/self/fd/N, the
mount point made if missing (Docker makes it too), read-only mounts remounted read-only, every
bind rprivate. After that the descriptor-based resolver (`dockyard.archive.inroot`) walks the
view as it walks any tree: a path under a mount point crosses into the volume, and a symlink in
a volume is resolved inside the *container's* root (a link to /etc names the container's /etc,
as in Docker), so nothing in a volume can lead a copy onto the host.

`check_writable` is moby's containerExtractToDir rule: the directory a copy goes into, resolved
in the view, may be in a read-only mount ("mounted volume is marked read-only") or, outside every
mount, in a --read-only rootfs ("container rootfs is marked read-only") -- for a running or a
stopped container alike.
"""

from __future__ import annotations

from dockyard import errors

_PROPAGATION = frozenset({"private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable",
                          "runbindable"})


def view_mounts(engine, cfg) -> list[dict]:
    """The OCI mounts of the container's volumes and binds (its tmpfs mounts are not in
    Docker's view), parents before children."""
    from dockyard.engine.mounts import oci_mounts

    mounts = [m for m in cfg.mounts or () if m.get("type") != "tmpfs"]
    out = []
    for om in oci_mounts(engine, mounts) if mounts else ():
        # rprivate whatever the container asked for, as moby's view: these binds are detached
        # when the copy is done, and an unmount must never propagate to the source's peers
        opts = [o for o in om.get("options") or () if o not in _PROPAGATION]
        out.append(dict(om, options=[*opts, "rprivate"]))
    return out


def mount_view(rootfs: str, mounts: list[dict]) -> None:
    """Mount ``mounts`` on the container rootfs mounted at ``rootfs`` (a private mount the
    caller detaches with everything on it). A source that is gone fails the copy, as Docker's."""
    from dockyard.runtime.mounts import mount_one

    for m in mounts:
        try:
            mount_one(rootfs, m)
        except errors.SyscallError as e:
            raise errors.Unavailable(f"mounting {m['source']} on {m['destination']} for the copy: {e}") from e


def _covers(target: str, parts: tuple[str, ...]) -> bool:
    """moby's HasResource: ``/``-joined ``parts`` is the mount's destination or below it."""
    tparts = tuple(p for p in target.split("/") if p not in ("", "."))
    return parts[:len(tparts)] == tparts


def check_writable(cfg, real: tuple[str, ...]) -> None:
    """Refuse a copy into directory ``real`` (its path in the view, symlinks resolved) that
    Docker refuses: one in a read-only mount, or in a --read-only rootfs outside every mount."""
    best = None  # the innermost mount holding the path decides (mounts may nest)
    for m in cfg.mounts or ():
        if m.get("origin") == "tmpfs":  # --tmpfs: not one of Docker's MountPoints
            continue
        target = m.get("target") or ""
        if _covers(target, real) and (best is None or len(target.rstrip("/")) > len(best["target"].rstrip("/"))):
            best = m
    if best is not None:
        if best.get("readonly"):
            raise errors.InvalidArgument("mounted volume is marked read-only")
        return
    if cfg.read_only:
        raise errors.InvalidArgument("container rootfs is marked read-only")
