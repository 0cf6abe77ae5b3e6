"""Local volumes: docker's `local` driver, daemonless.

A volume is a row in the state database plus a directory `<root>/volumes/<name>/_data` (docker's
layout), bind-mounted into the containers that use it. Anonymous volumes (an image's VOLUME, `-v
/path`) are named with 64 hex and labelled `com.docker.volume.anonymous` as docker ≥ 23 does;
`rm -v`, `run --rm` and a plain `volume prune` remove only those. Whether a volume is in use is
read from the containers' stored mounts (see dockyard.state.volumes), never kept as a counter.

Seeding is docker's copy-up: the first time an empty volume is mounted where the image has a
directory, that directory's content, owner and mode are copied into it (`nocopy` turns it off).
The image is read through a read-only overlay of its layers mounted in a forked child that has
unshared its mount namespace, so the overlay cannot outlive the copy or leak to the host.
"""

from __future__ import annotations

import os
import time

from dockyard.errors import AlreadyExists, Conflict, InvalidArgument, NotFound, Unavailable, VolumeNotFound

ANONYMOUS_LABEL = "com.docker.volume.anonymous"
_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_CHARS = _FIRST | frozenset("_.-")
_LOCAL_OPTS = {"type": ("device",), "device": ("type",), "o": ("device", "type")}  # option: what it needs


def validate_name(name: str) -> str:
    """docker's rule for local volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (so never a path)."""
    if len(name) == 1:
        raise InvalidArgument(f"create {name}: volume name is too short, names should be at least two "
                              "alphanumeric characters")
    if not name or name[0] not in _FIRST or not set(name) <= _CHARS:
        raise InvalidArgument(f'create {name}: "{name}" includes invalid characters for a local volume name, only '
                              '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
                              "use absolute path")
    return name


def check_driver(name: str, driver: str, options: dict | None) -> None:
    """Only the `local` driver exists; its options are mount(8)'s type, device and o."""
    if driver != "local":  # dockerd's plugin lookup: a NotFound (404; docker-py's test wants it)
        name = name or os.urandom(32).hex()  # an anonymous volume: dockerd names the random name it made
        raise NotFound(f'create {name}: error looking up volume plugin {driver}: plugin "{driver}" not found')
    for opt in options or {}:
        if opt not in _LOCAL_OPTS:
            raise InvalidArgument(f'create {name}: invalid option: "{opt}"')
        for need in _LOCAL_OPTS[opt]:
            if not (options or {}).get(need):
                raise InvalidArgument(f'create {name}: missing required option: "{need}"')


def volumes_dir(engine) -> str:
    return os.path.join(engine.root, "volumes")


def volume_dir(engine, name: str) -> str:
    return os.path.join(engine.root, "volumes", name)


def mountpoint(engine, name: str) -> str:
    return os.path.join(engine.root, "volumes", name, "_data")


def create(engine, name: str | None = None, *, driver: str = "local", labels: dict | None = None,
           options: dict | None = None, anonymous: bool = False):
    """docker volume create: (record, True), or (the existing record, False) if the name is taken
    by a volume of the same driver (docker's create is idempotent)."""
    from dockyard.state.volumes import VolumeRecord, get_volume, insert_volume

    given = bool(name)
    name = name or os.urandom(32).hex()
    anonymous = anonymous or not given  # moby's volume service: a volume made without a name is anonymous
    check_driver(name, driver, options)  # dockerd looks the driver up before it checks the name
    if given:
        name = validate_name(name)
    labels = dict(labels or {})
    if anonymous:
        labels.setdefault(ANONYMOUS_LABEL, "")
    rec = VolumeRecord(name=name, driver=driver, mountpoint=mountpoint(engine, name), created=time.time(),
                       labels=labels, options=dict(options or {}), anonymous=anonymous)
    db = engine.db
    home = os.path.dirname(rec.mountpoint)
    made = False
    try:
        with db.transaction():
            if not insert_volume(db, rec):
                old = get_volume(db, name)
                if old.driver != driver:
                    raise AlreadyExists(f"create {name}: a volume with the name {name} already exists with "
                                        f'driver "{old.driver}"')
                return old, False
            top = volumes_dir(engine)
            if not os.path.isdir(top):
                os.makedirs(engine.root, exist_ok=True)
                try:
                    os.mkdir(top, 0o701)  # others may traverse (user-namespaced containers), not list
                except FileExistsError:
                    pass
            made = not os.path.exists(home)
            os.makedirs(rec.mountpoint, mode=0o755, exist_ok=True)  # a failure rolls the row back
    except BaseException:
        if made:  # the row was rolled back (a full disk fails the COMMIT): so goes its directory
            from dockyard.fsutil import rmtree

            rmtree(home)
        raise
    from dockyard.engine import events

    events.emit(engine, "volume", "create", rec.name, {"driver": driver})
    return rec, True


def get(engine, name: str):
    from dockyard.state.volumes import get_volume

    rec = get_volume(engine.db, name)
    if rec is None:
        raise VolumeNotFound(f"get {name}: no such volume")
    return rec


def list_volumes(engine) -> list:
    from dockyard.state.volumes import list_volumes as rows

    return rows(engine.db)


def remove(engine, name: str, *, force: bool = False) -> bool:
    """docker volume rm: refused while any container (running or not) mounts it; -f only
    silences "no such volume". False if there was none (with force)."""
    from dockyard.fsutil import rmtree, unique_name
    from dockyard.state.volumes import containers_using, delete_volume, get_volume

    db = engine.db
    trash = os.path.join(volumes_dir(engine), unique_name(".removing-"))
    with db.transaction():
        if get_volume(db, name) is None:
            if force:
                return False
            raise VolumeNotFound(f"get {name}: no such volume")
        users = containers_using(db, name)
        if users:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        delete_volume(db, name)
        try:  # moved aside before the commit: a volume of the same name made next gets a fresh dir
            os.rename(volume_dir(engine, name), trash)
        except FileNotFoundError:
            trash = ""
    if trash:
        rmtree(trash)
    from dockyard.engine import events

    events.emit(engine, "volume", "destroy", name, {"driver": "local"})
    return True


def remove_dirs(engine, names) -> None:
    """Remove the directories of volumes whose rows were rolled back."""
    from dockyard.fsutil import rmtree

    for name in names:
        rmtree(volume_dir(engine, name))


def remove_unused(engine, names) -> None:
    """Remove these volumes unless a container uses one (a failed create's own volumes)."""
    for name in names:
        try:
            remove(engine, name, force=True)
        except Conflict:
            pass


def remove_anonymous(engine, mounts) -> None:
    """`rm -v` / `--rm`: the container's anonymous volumes go, unless another container uses one
    (docker ignores that case: the volume is still wanted)."""
    remove_unused(engine, [m["source"] for m in mounts or () if m.get("type") == "volume" and m.get("anonymous")])


def prune(engine, *, all_volumes: bool = False, labels: tuple = ()) -> tuple[list[str], int]:
    """docker volume prune (docker ≥ 23): unused anonymous volumes, or with -a every unused one.
    `labels`: (key, value-or-None, negate) filters. Returns (names removed, bytes reclaimed)."""
    from dockyard.state.volumes import volumes_in_use

    _empty_trash(engine)
    used = volumes_in_use(engine.db)
    removed, reclaimed = [], 0
    for rec in list_volumes(engine):
        if rec.name in used or not (all_volumes or rec.anonymous) or not match_labels(rec.labels, labels):
            continue
        size = content_size(rec.mountpoint)
        try:
            if remove(engine, rec.name, force=True):
                removed.append(rec.name)
                reclaimed += size
        except Conflict:
            continue  # a container started using it meanwhile
    return removed, reclaimed


def content_size(path: str) -> int:
    """What docker reports as a volume's size: file sizes, directories not counted, hard links once."""
    seen: set = set()
    total = 0
    for base, _dirs, files in os.walk(path):
        for n in files:
            try:
                st = os.lstat(os.path.join(base, n))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def _empty_trash(engine) -> None:
    """Finish removals a killed `volume rm` left half done (its renamed-aside directories)."""
    from dockyard.fsutil import rmtree

    try:
        names = os.listdir(volumes_dir(engine))
    except FileNotFoundError:
        return
    for n in names:
        if n.startswith(".removing-"):
            rmtree(os.path.join(volumes_dir(engine), n))


def label_filters(flt: dict) -> tuple:
    """label=KEY, label=KEY=VALUE, label!=KEY[=VALUE] of a filter dict as (key, value or None,
    negate), what `match_labels` takes (prune and `volume ls`, from the CLI and the API)."""
    out = []
    for key, negate in (("label", False), ("label!", True)):
        for v in flt.get(key, ()):
            k, eq, val = v.partition("=")
            out.append((k, val if eq else None, negate))
    return tuple(out)


def match_labels(labels: dict, wanted) -> bool:
    for key, value, negate in wanted:
        hit = key in labels and (value is None or labels[key] == value)
        if hit == negate:
            return False
    return True


# -- seeding ---------------------------------------------------------------------------------------------

def seed(engine, cid: str, mounts, lowers: list[str], *, uid_shift: int = 0) -> None:
    """Copy-up for the container's empty volumes (see the module's docstring). With `uid_shift`
    (--userns auto) what is copied, and an empty volume's root, belong to the shifted ids."""
    import fcntl

    wanted = [m for m in mounts if m["type"] == "volume" and not m.get("device")]
    if not wanted:
        return
    if uid_shift:
        _check_searchable(volumes_dir(engine))
    locks, todo = [], []
    try:
        for m in sorted(wanted, key=lambda m: m["source"]):
            d = volume_dir(engine, m["source"])
            fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            locks.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)  # two containers creating at once copy once
            data = mountpoint(engine, m["source"])
            if os.listdir(data):
                continue
            if uid_shift and os.stat(data).st_uid == 0:
                os.chown(data, uid_shift, uid_shift)
            if not m.get("nocopy") and _maybe_in_image(lowers, m["target"]):
                todo.append((m["target"], data, m["source"]))
        if todo:
            if len(lowers) == 1:
                _copy_from(lowers[0], todo, uid_shift)
            else:
                _in_private_overlay(engine.container_dir(cid), lowers, todo, uid_shift)
    finally:
        for fd in locks:
            os.close(fd)


def _check_searchable(path: str) -> None:
    """A user-namespaced container mounts its volumes as an unprivileged host uid: every directory
    above them must let others search it, or the mount fails with a misleading ENOENT/EACCES."""
    from dockyard.fsutil import first_unsearchable

    found = first_unsearchable(path)
    if found is not None:
        d, mode = found
        raise InvalidArgument(f"--userns auto needs every directory above the volumes ({path}) to be "
                              f"searchable by other users, and {d} has mode {oct(mode & 0o777)}",
                              hint=f"chmod o+x {d}, or use a --root outside it")


def _maybe_in_image(lowers: list[str], target: str) -> bool:
    """A cheap test before mounting anything: does any layer have the target's first component?"""
    first = target.strip("/").split("/")[0]
    return any(os.path.lexists(os.path.join(d, first)) for d in lowers)


def _in_private_overlay(mnt: str, lowers: list[str], todo, uid_shift: int) -> None:
    """Mount the image's layers read-only on `mnt` in a child with its own mount namespace, and
    copy there; the mount dies with the child whatever happens."""
    from dockyard.linux import syscalls as sc

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            os.close(r)
            sc.unshare(sc.CLONE_NEWNS)
            sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
            sc.mount("overlay", mnt, "overlay", sc.MS_RDONLY, "lowerdir=" + ":".join(lowers) + ",index=off")
            _copy_from(mnt, todo, uid_shift)
            code = 0
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            try:
                os.write(w, str(e).encode(errors="replace")[:4000])
            except BaseException:  # noqa: BLE001
                pass
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        msg = f.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise Unavailable(f"copying the image's content into volume(s) {', '.join(t[2] for t in todo)}: "
                          f"{msg or 'failed'}")


def _copy_from(root: str, todo, uid_shift: int) -> None:
    import stat
    import subprocess

    from dockyard.runtime.paths import secure_join

    for target, data, name in todo:
        src = secure_join(root, target)
        try:
            st = os.stat(src)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        if os.listdir(src):
            p = subprocess.run(["cp", "-a", "--", src + "/.", data + "/"], capture_output=True)
            if p.returncode != 0:
                raise Unavailable(f"copying {target} into volume {name}: {p.stderr.decode(errors='replace').strip()}")
            if uid_shift:
                _shift_owners(data, uid_shift)
        os.chown(data, st.st_uid + uid_shift, st.st_gid + uid_shift)
        os.chmod(data, stat.S_IMODE(st.st_mode))


def _shift_owners(top: str, shift: int) -> None:
    """lchown everything below `top` by +shift (set-id bits, which chown clears, restored)."""
    import stat

    seen: set = set()
    for base, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(base, n)
            st = os.lstat(p)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            os.lchown(p, st.st_uid + shift, st.st_gid + shift)
            if stat.S_ISREG(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                os.chmod(p, stat.S_IMODE(st.st_mode))
