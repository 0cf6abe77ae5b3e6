"""Mount a snapshotter's `Mount`s on the host (build steps, `cp`, `export`, tests).

The runtime mounts a container's rootfs itself, inside its own mount namespace; this is for the
host-side users of a snapshot. Options are split the way mount(8) does it: the flag words
(``ro``, ``nosuid``, ``rbind``, …) become mount(2) flags, everything else is filesystem data.
Syscalls go through `dockyard.linux.syscalls`, the one place that uses ctypes.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence

from dockyard import errors
from dockyard.linux.mount import Mount


def _tables() -> tuple[dict[str, tuple[bool, int]], dict[str, int]]:
    from dockyard.linux import syscalls as sc

    # option -> (clear instead of set, flag)
    flags = {
        "ro": (False, sc.MS_RDONLY),
        "rw": (True, sc.MS_RDONLY),
        "nosuid": (False, sc.MS_NOSUID),
        "suid": (True, sc.MS_NOSUID),
        "nodev": (False, sc.MS_NODEV),
        "dev": (True, sc.MS_NODEV),
        "noexec": (False, sc.MS_NOEXEC),
        "exec": (True, sc.MS_NOEXEC),
        "sync": (False, sc.MS_SYNCHRONOUS),
        "async": (True, sc.MS_SYNCHRONOUS),
        "dirsync": (False, sc.MS_DIRSYNC),
        "noatime": (False, sc.MS_NOATIME),
        "atime": (True, sc.MS_NOATIME),
        "nodiratime": (False, sc.MS_NODIRATIME),
        "diratime": (True, sc.MS_NODIRATIME),
        "relatime": (False, sc.MS_RELATIME),
        "norelatime": (True, sc.MS_RELATIME),
        "strictatime": (False, sc.MS_STRICTATIME),
        "bind": (False, sc.MS_BIND),
        "rbind": (False, sc.MS_BIND | sc.MS_REC),
        "remount": (False, sc.MS_REMOUNT),
    }
    propagation = {
        "private": sc.MS_PRIVATE,
        "rprivate": sc.MS_PRIVATE | sc.MS_REC,
        "slave": sc.MS_SLAVE,
        "rslave": sc.MS_SLAVE | sc.MS_REC,
        "shared": sc.MS_SHARED,
        "rshared": sc.MS_SHARED | sc.MS_REC,
        "unbindable": sc.MS_UNBINDABLE,
        "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
    }
    return flags, propagation


def parse_options(options: Sequence[str]) -> tuple[int, int, str]:
    """(mount flags, propagation flags, data string) for a `Mount`'s options."""
    table, prop_table = _tables()
    flags = prop = 0
    data: list[str] = []
    for opt in options:
        if opt in table:
            clear, bit = table[opt]
            flags = flags & ~bit if clear else flags | bit
        elif opt in prop_table:
            prop |= prop_table[opt]
        else:
            data.append(opt)
    return flags, prop, ",".join(data)


def mount_all(mounts: Sequence[Mount], target: str) -> None:
    """Mount ``mounts`` in order on ``target`` (a `Mount.target` is taken relative to it).

    All or nothing: if one fails, those already mounted are unmounted before the error
    propagates, so a failure leaves no mount behind.
    """
    from dockyard.linux import syscalls as sc

    done: list[str] = []
    try:
        for m in mounts:
            dest = os.path.join(target, m.target.lstrip("/")) if m.target else target
            flags, prop, data = parse_options(m.options)
            if m.type == "bind" or flags & sc.MS_BIND:
                flags |= sc.MS_BIND
                # bind ignores every flag but MS_REC; read-only etc. need a remount
                sc.mount(m.source, dest, None, flags & (sc.MS_BIND | sc.MS_REC), None)
                done.append(dest)
                rest = flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
                if rest:
                    sc.mount(None, dest, None, sc.MS_REMOUNT | sc.MS_BIND | rest, None)
            else:
                sc.mount(m.source, dest, m.type, flags, data or None)
                done.append(dest)
            if prop:
                sc.mount(None, dest, None, prop, None)
    except BaseException:
        for dest in reversed(done):
            try:
                sc.umount2(dest, sc.MNT_DETACH)
            except errors.SyscallError:
                pass
        raise


def unmount_all(target: str, *, detach: bool = False) -> int:
    """Unmount everything stacked on ``target``; returns how many mounts were removed.

    Stops when ``target`` is no longer a mount point, so calling it twice is harmless.
    """
    from dockyard.linux import syscalls as sc

    count = 0
    while True:
        try:
            sc.umount2(target, sc.MNT_DETACH if detach else 0)
        except errors.SyscallError as e:
            if e.errno in (errno.EINVAL, errno.ENOENT):
                return count
            raise
        count += 1
