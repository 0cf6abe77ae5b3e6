"""`docker diff`: a container's overlay upper dir compared with its lower dirs, as moby's
overlay driver reports changes."""

from __future__ import annotations

import os
import stat

from dockyard.engine.fsroot import mount_options

# Mount points the runtime creates in the container's upper layer when the image lacks them
# (Docker keeps them in its "-init" layer, so its diff never shows them).
_STUB_FILES = frozenset({"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"})


def _overlay_dirs(engine, cid: str) -> tuple[str, list[str]]:
    """The container's upper dir and its lower dirs (top first), as its overlay stacks them."""
    opts: dict[str, str] = {}
    for m in engine.snapshots.mounts(cid):
        opts.update(mount_options(m.options))
    upper = opts.get("upperdir") or engine.snapshots.upper_dir(cid)
    return upper, [d for d in opts.get("lowerdir", "").split(":") if d]


def _whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def _lower(layers: list[str], name: str) -> tuple[os.stat_result | None, list[str]]:
    """``name`` in the merged view of ``layers`` (dirs of one directory, top first): its lstat
    (None if absent or whited out) and, for a directory, the layer dirs that make it up."""
    found = None
    dirs: list[str] = []
    for layer in layers:
        p = os.path.join(layer, name)
        try:
            st = os.lstat(p)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if _whiteout(st) or (found is not None and not stat.S_ISDIR(st.st_mode)):
            break
        if found is None:
            found = st
            if not stat.S_ISDIR(st.st_mode):
                break
        dirs.append(p)
        if _opaque(p):
            break
    return found, dirs


def diff(engine, ref: str) -> list[tuple[str, str]]:
    """docker diff: [(kind, path)] with kind A (added), C (changed) or D (deleted), by path."""
    from dockyard.runtime.defaults import default_mounts

    rec = engine.db.get_container(ref)
    upper, lowers = _overlay_dirs(engine, rec.id)
    stub_dirs = frozenset(m["destination"] for m in default_mounts())
    out: list[tuple[str, str]] = []
    _diff_dir(upper, "", lowers, out, stub_dirs)
    return sorted(out, key=lambda c: os.fsencode(c[1]))


def _diff_dir(path: str, rel: str, lowers: list[str], out: list, stub_dirs) -> tuple[bool, bool]:
    """Changes below upper dir ``path``; returns (any reported, children exist and none is).

    As moby's overlay changes: a whiteout is D, what the lowers lack is A, what they have is C
    (a directory only if its metadata differ or something below it changed), an opaque
    directory is C and all it holds is A. Mount points the runtime made are left out.
    """
    names = sorted(os.listdir(path), key=os.fsencode)
    reported = False
    for name in names:
        p = os.path.join(path, name)
        st = os.lstat(p)
        cpath = f"{rel}/{name}"
        if _whiteout(st):
            out.append(("D", cpath))
            reported = True
            continue
        lst, dirs = _lower(lowers, name)
        if stat.S_ISDIR(st.st_mode):
            opaque = _opaque(p)
            sub, hidden = _diff_dir(p, cpath, [] if opaque else dirs, out, stub_dirs)
            if lst is None:
                if hidden or (cpath in stub_dirs and not os.listdir(p)):
                    continue  # made by the runtime for its mounts
                kind = "A"
            elif opaque or not stat.S_ISDIR(lst.st_mode) or sub:
                kind = "C"
            elif (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) != (stat.S_IMODE(lst.st_mode), lst.st_uid, lst.st_gid) \
                    or (st.st_mtime_ns != lst.st_mtime_ns and not hidden):
                kind = "C"
            else:
                continue  # copied up, unchanged
        else:
            if lst is None and cpath in _STUB_FILES and stat.S_ISREG(st.st_mode) and st.st_size == 0:
                continue
            kind = "A" if lst is None else "C"
        out.append((kind, cpath))
        reported = True
    return reported, bool(names) and not reported
