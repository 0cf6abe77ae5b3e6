"""A container's root filesystem, opened from the host for `cp`, `export` and `stat_path`, and
paths inside it as Docker's cp reads them.

- a running (or paused) container: its own root, ``/proc/<pid>/root``, so `cp` sees and changes
  what its processes see (its /etc/hosts, files written a moment ago).
- a stopped or created one: its overlay, mounted on a private temporary directory under
  ``<root>/tmp`` (read-only as upper+lowers stacked as lowers, or read-write for `cp` into it),
  unmounted in a ``finally``, while holding the container's lock so `start` waits for us.

Every container path is resolved like a chroot would (``secure_join`` semantics: symlinks
relative to the container root, ``..`` clamped at it), by directory descriptor
(`dockyard.archive.inroot`); `lookup` follows the last component only when asked.
"""

from __future__ import annotations

import os
from contextlib import ExitStack, contextmanager

from dockyard import errors
from dockyard.archive import inroot

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


class ContainerRoot:
    """An open container root: ``fd`` (a directory descriptor) and ``shift`` (the host uid of
    the container's root: non-zero with --userns auto)."""

    __slots__ = ("rec", "fd", "shift", "running")

    def __init__(self, rec, fd: int, shift: int, running: bool) -> None:
        self.rec, self.fd, self.shift, self.running = rec, fd, shift, running


@contextmanager
def open_root(engine, ref: str, *, writable: bool = False, volumes: bool = False) -> Iterator[ContainerRoot]:
    """The container's root filesystem for the duration of the block (see the module doc);
    with ``volumes``, a stopped container's volumes and binds are mounted on it as a running
    one's are (Docker's view for cp, `engine/mountview.py`)."""
    from dockyard.engine.config import ContainerConfig
    from dockyard.engine.launch import USERNS_SHIFT
    from dockyard.engine.status import ContainerLock, effective_state

    rec = engine.db.get_container(ref)
    shift = USERNS_SHIFT if ContainerConfig.from_json(rec.config).userns else 0
    with ExitStack() as stack:
        fd = _running_root(rec)
        if fd is None:
            stack.enter_context(ContainerLock(engine, rec.id))
            rec = engine.db.get_container(rec.id)
            fd = _running_root(rec)  # started while we waited for the lock
        running = fd is not None
        if fd is None:
            restarting = effective_state(rec, engine.db).get("Status") == "restarting"
            if writable and restarting:
                # its monitor is about to mount the same upper dir again, without our lock
                raise errors.Conflict(f"container {rec.name} is restarting, wait until it is running")
            view = []
            if volumes and not restarting:  # mount points may have to be made: a writable overlay
                from dockyard.engine.mountview import view_mounts

                view = view_mounts(engine, ContainerConfig.from_json(rec.config))
            target = stack.enter_context(_mounted(engine, rec.id, writable=writable or bool(view)))
            if view:
                from dockyard.engine.mountview import mount_view

                mount_view(target, view)  # detached with the overlay by _mounted
            fd = os.open(target, inroot.O_DIR)
        stack.callback(os.close, fd)
        yield ContainerRoot(rec, fd, shift, running)


def _running_root(rec) -> int | None:
    """A descriptor of a live container's root directory, None when its init is not running."""
    from dockyard.engine.status import alive as process_status
    from dockyard.engine.status import effective_state

    st = effective_state(rec)
    pid, start = st.get("Pid") or 0, st.get("PidStartTime")
    if st.get("Status") not in ("running", "paused", "restarting") or not process_status(pid, start):
        return None
    try:
        fd = os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    if not process_status(pid, start):  # exited, and the pid may be someone else's now
        os.close(fd)
        return None
    fst, host = os.fstat(fd), os.stat("/")
    if (fst.st_dev, fst.st_ino) == (host.st_dev, host.st_ino):
        os.close(fd)
        raise errors.Unavailable(f"container {rec.name} is still setting up its root filesystem; try again")
    return fd


@contextmanager
def _mounted(engine, cid: str, *, writable: bool) -> Iterator[str]:
    """Mount a stopped container's snapshot on a private temporary directory."""
    import tempfile

    from dockyard.linux.mount import Mount
    from dockyard.snapshots.mount import mount_all, unmount_all

    mounts = [m if writable else _readonly(m) for m in engine.snapshots.mounts(cid)]
    mounts = [Mount(type=m.type, source=m.source, target=m.target, options=(*m.options, "private"))
              for m in mounts]
    from dockyard.ownership import owner_tag

    target = tempfile.mkdtemp(prefix=f"mnt-{owner_tag()}-", dir=engine.tmp_dir())
    try:
        mount_all(mounts, target)
        try:
            yield target
        finally:
            try:
                unmount_all(target)
            except errors.SyscallError:
                unmount_all(target, detach=True)
    finally:
        os.rmdir(target)


def _readonly(m):
    """The container's overlay, read-only: its upper dir becomes the top lower dir, so the
    mount needs no work dir and cannot change anything."""
    from dockyard.linux.mount import Mount

    if m.type != "overlay":
        return Mount(type=m.type, source=m.source, target=m.target, options=(*m.options, "ro"))
    opts = mount_options(m.options)
    lower = opts.get("lowerdir", "")
    if opts.get("upperdir"):
        lower = opts["upperdir"] + ":" + lower
    return Mount(type="overlay", source=m.source, target=m.target, options=(f"lowerdir={lower}", "index=off", "ro"))


def mount_options(options) -> dict[str, str]:
    out = {}
    for o in options:
        k, eq, v = o.partition("=")
        if eq:
            out[k] = v
    return out


class PathSpec:
    """A path as Docker's cp reads it: cleaned components (``filepath.Join("/", p)``), whether it
    asserts a directory (a trailing ``/`` or ``/.``) and whether it names the contents (``/.``)."""

    __slots__ = ("text", "parts", "asserts_dir", "contents")

    def __init__(self, text: str, *, cwd: str | None = None) -> None:
        self.text = text
        self.parts = inroot.clean_parts(os.path.join(cwd, text) if cwd is not None else text)
        self.contents = text == "." or text.endswith("/.")
        self.asserts_dir = self.contents or text.endswith("/")

    @property
    def base(self) -> str:
        """The name its entries get: ``.`` for the contents of a directory (or the root)."""
        return "." if self.contents or not self.parts else self.parts[-1]


def lookup(root_fd: int, parts: tuple[str, ...], *, follow: bool):
    """(parent fd or None, name, lstat or None, real parts) of a path in scope. The last
    component is followed only with ``follow``; the caller closes the descriptor."""
    if follow:
        parts = inroot.realpath(root_fd, parts)
    if not parts:
        return os.dup(root_fd), None, os.fstat(root_fd), ()
    preal = inroot.realpath(root_fd, parts[:-1])
    real = (*preal, parts[-1])
    pfd = inroot.open_dir_strict(root_fd, preal)
    if pfd is None:
        return None, parts[-1], None, real
    return pfd, parts[-1], inroot.lstat_at(pfd, parts[-1]), real
