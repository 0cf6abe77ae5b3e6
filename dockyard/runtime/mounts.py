"""Setting up a container's filesystem view inside its new mount namespace.

Called by init before pivot_root. The order follows runc's rootfs_linux.go: make the old root's
propagation private/slave so nothing leaks back to the host, bind the rootfs onto itself (pivot_root
needs a mount point), mount each spec mount at a target resolved inside the rootfs, populate a
tmpfs /dev, then pivot.
"""

from __future__ import annotations

import os
import stat

from dockyard.errors import BadSpec, SyscallError
from dockyard.linux import syscalls as sc
from dockyard.runtime.paths import create_file, fd_path, open_in_root, proc_mount_refused, secure_join

# option -> (flags to set, clear?)
_FLAGS = {
    "ro": (sc.MS_RDONLY, False), "rw": (sc.MS_RDONLY, True),
    "nosuid": (sc.MS_NOSUID, False), "suid": (sc.MS_NOSUID, True),
    "nodev": (sc.MS_NODEV, False), "dev": (sc.MS_NODEV, True),
    "noexec": (sc.MS_NOEXEC, False), "exec": (sc.MS_NOEXEC, True),
    "sync": (sc.MS_SYNCHRONOUS, False), "async": (sc.MS_SYNCHRONOUS, True),
    "dirsync": (sc.MS_DIRSYNC, False), "remount": (sc.MS_REMOUNT, False),
    "mand": (sc.MS_MANDLOCK, False), "nomand": (sc.MS_MANDLOCK, True),
    "atime": (sc.MS_NOATIME, True), "noatime": (sc.MS_NOATIME, False),
    "diratime": (sc.MS_NODIRATIME, True), "nodiratime": (sc.MS_NODIRATIME, False),
    "relatime": (sc.MS_RELATIME, False), "norelatime": (sc.MS_RELATIME, True),
    "strictatime": (sc.MS_STRICTATIME, False), "nostrictatime": (sc.MS_STRICTATIME, True),
    "bind": (sc.MS_BIND, False), "rbind": (sc.MS_BIND | sc.MS_REC, False),
    "nosymfollow": (sc.MS_NOSYMFOLLOW, False), "symfollow": (sc.MS_NOSYMFOLLOW, True),
}
_PROPAGATION = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}
# Options of other tools (podman, SELinux, idmapped mounts) that carry no mount(2) meaning here.
_IGNORED = {"z", "Z", "tmpcopyup", "notmpcopyup", "copy", "nocopy", "U", "idmap", "private-mount"}
_LOCKED = (sc.MS_NOSUID, sc.MS_NODEV, sc.MS_NOEXEC, sc.MS_RDONLY)
_ST_FLAGS = {os.ST_NOSUID: sc.MS_NOSUID, os.ST_NODEV: sc.MS_NODEV, os.ST_NOEXEC: sc.MS_NOEXEC,
             os.ST_RDONLY: sc.MS_RDONLY}


# runc's recursive attributes (mount_setattr(2) with AT_RECURSIVE): the one dockerd asks for
_RECURSIVE = {"rro": sc.MOUNT_ATTR_RDONLY}


def mount_option_names() -> list[str]:
    """The mount(2) options (flags and propagation) this runtime knows: `features` lists them."""
    return list(_FLAGS) + list(_PROPAGATION) + list(_RECURSIVE)


def parse_options(options) -> tuple[int, int, str]:
    """Split OCI mount options into (flags, propagation flags, data string)."""
    flags = 0
    prop = 0
    data: list[str] = []
    for opt in options or ():
        if opt in _FLAGS:
            bit, clear = _FLAGS[opt]
            flags = flags & ~bit if clear else flags | bit
        elif opt in _PROPAGATION:
            prop |= _PROPAGATION[opt]
        elif opt in _IGNORED or opt in _RECURSIVE:  # the recursive ones: mount_one applies them
            continue
        else:
            data.append(opt)
    return flags, prop, ",".join(data)


def _locked_flags(path: str) -> int:
    """Flags already on a mount; a bind remount must keep them (the kernel refuses otherwise in a userns)."""
    f = os.statvfs(path).f_flag
    return sum(v for k, v in _ST_FLAGS.items() if f & k)


def mount_one(rootfs: str, m: dict, *, private_cgroupns: bool = True) -> None:
    """Mount one spec mount. The target is opened inside the rootfs by descriptor (`open_in_root`)
    and mounted onto through /proc/self/fd/N, as runc does since CVE-2021-30465: a volume shared
    with another container cannot swap a directory on the way for a symlink out of the root."""
    target = m.get("destination")
    if not target or not target.startswith("/"):
        raise BadSpec(f"mount destination must be an absolute path: {target!r}")
    mtype = m.get("type") or ""
    source = m.get("source") or ""
    flags, prop, data = parse_options(m.get("options"))
    bind = mtype == "bind" or bool(flags & sc.MS_BIND)
    why = proc_mount_refused(os.path.normpath(target), "bind" if bind else mtype)
    if why:
        raise BadSpec(f"mount {source or mtype} on {target}: {why}")
    if bind:
        flags |= sc.MS_BIND
        if not os.path.exists(source):
            raise BadSpec(f"bind mount source {source} does not exist")
        fd = _target(rootfs, target, "dir" if os.path.isdir(source) else "file")
    else:
        # proc and sysfs only on an ordinary directory, never through a symlink (runc's rule)
        fd = _target(rootfs, target, "dir", follow=mtype not in ("proc", "sysfs"), fstype=mtype)
    try:
        host = fd_path(fd)
        if bind:
            sc.mount(source, host, None, flags & (sc.MS_BIND | sc.MS_REC))
            _remount_bind(rootfs, target, fd, flags)
        elif mtype == "cgroup":
            _mount_cgroup(host, flags, lambda fn: _on_mount(rootfs, target, fd, fn), private_ns=private_cgroupns)
        else:
            try:
                sc.mount(source or mtype, host, mtype, flags, data or None)
            except SyscallError as e:
                # sysfs cannot be mounted without a network namespace of our own: bind the host's.
                if mtype == "sysfs" and e.errno == 1:
                    sc.mount("/sys", host, None, sc.MS_BIND | sc.MS_REC)
                    _remount_bind(rootfs, target, fd, sc.MS_RDONLY)
                    _readonly_below(rootfs, target, fd)
                elif mtype == "mqueue" and e.errno in (1, 16):
                    sc.mount("/dev/mqueue", host, None, sc.MS_BIND | sc.MS_REC)
                else:
                    raise
        recursive = sum(_RECURSIVE[o] for o in set(m.get("options") or ()) if o in _RECURSIVE)
        if recursive:  # "rro": every mount below a bind too, not its top alone
            _set_below(rootfs, target, fd, recursive)
        if prop:
            _on_mount(rootfs, target, fd, lambda p: sc.mount(None, p, None, prop))
    except SyscallError as e:  # name the container's path, not /proc/self/fd/N
        raise SyscallError(f"mount {source or mtype} on {target} in the container", e.errno) from None
    finally:
        os.close(fd)


def _target(rootfs: str, target: str, create: str, *, follow: bool = True, fstype: str = "") -> int:
    try:
        fd = open_in_root(rootfs, target, create=create, follow=follow)
    except OSError as e:
        if not follow and e.errno == 40:
            raise BadSpec(f"filesystem {fstype!r} must be mounted on an ordinary directory, and {target} "
                          "is a symbolic link") from None
        raise BadSpec(f"cannot make the mount point {target} inside the container: {e.strerror}") from None
    if not follow and not stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise BadSpec(f"filesystem {fstype!r} must be mounted on an ordinary directory, and {target} is not one")
    return fd


def _on_mount(rootfs: str, target: str, fd: int, fn) -> None:
    """Run `fn(path)` on the mount just made on the mount point `fd`. The descriptor still names
    the covered directory, so the target is opened again inside the root (which crosses into the
    new mount) and must be on another mount than `fd`, as runc checks before a remount."""
    try:
        top = open_in_root(rootfs, target)
    except OSError as e:
        raise BadSpec(f"mount point {target} changed while it was being mounted: {e.strerror}") from None
    try:
        if _mnt_id(top) == _mnt_id(fd):
            raise BadSpec(f"mount point {target} changed while it was being mounted")
        fn(fd_path(top))
    finally:
        os.close(top)


def _set_below(rootfs: str, target: str, fd: int, attrs: int) -> None:
    """mount_setattr(2) `attrs` on the mount just made and on every mount below it."""
    _on_mount(rootfs, target, fd, lambda p: sc.mount_setattr(p, attrs, recursive=True))


def _readonly_below(rootfs: str, target: str, fd: int) -> None:
    """The host's mounts under a bound /sys read-only too (debugfs, tracefs, securityfs, ...), where
    the kernel has mount_setattr (5.12)."""
    try:
        _set_below(rootfs, target, fd, sc.MOUNT_ATTR_RDONLY)
    except SyscallError as e:
        if e.errno != 38:  # ENOSYS: an older kernel, the top alone is read-only
            raise


def _mnt_id(fd: int) -> int:
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            if line.startswith("mnt_id:"):
                return int(line.split()[1])
    raise BadSpec("no mnt_id in /proc/self/fdinfo")


def _remount_bind(rootfs: str, target: str, fd: int, flags: int) -> None:
    rest = flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
    if rest:
        _on_mount(rootfs, target, fd,
                  lambda p: sc.mount(None, p, None, sc.MS_REMOUNT | sc.MS_BIND | rest | _locked_flags(p)))


def _mount_cgroup(host: str, flags: int, on_top, *, private_ns: bool = True) -> None:
    """Mount the cgroup filesystems as the container should see them.

    On a unified host this is one cgroup2 mount. On a v1/hybrid host it is a tmpfs holding one
    mount per v1 hierarchy plus the cgroup2 `unified` mount, mirroring the host's layout. In a
    private cgroup namespace a fresh mount shows the container's own cgroup as its root; without
    one (podman's default on v1) the container's own cgroup directories are bind-mounted
    instead, as runc does, so it still sees its own limits rather than the host's root.
    """
    if not private_ns:
        _bind_own_cgroups(host, flags, on_top)
        return
    ro = flags & sc.MS_RDONLY
    base = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        sc.mount("cgroup2", host, "cgroup2", base | ro)
        return
    sc.mount("tmpfs", host, "tmpfs", base, "mode=755")
    on_top(lambda top: _mount_v1_hierarchies(top, flags))


def _mount_v1_hierarchies(host: str, flags: int) -> None:
    """Inside the tmpfs at `host` (a path that reaches the tmpfs, not the directory under it)."""
    ro = flags & sc.MS_RDONLY
    base = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC
    for line in open("/proc/self/cgroup"):
        _, controllers, _ = line.rstrip("\n").split(":", 2)
        if not controllers:
            name, fstype, data = "unified", "cgroup2", None
        else:
            name = controllers[5:] if controllers.startswith("name=") else controllers
            fstype, data = "cgroup", controllers
        if not os.path.isdir(f"/sys/fs/cgroup/{name}"):
            continue
        d = os.path.join(host, name)
        os.makedirs(d, exist_ok=True)
        try:
            sc.mount("cgroup", d, fstype, base | ro, data)
        except SyscallError:
            os.rmdir(d)
    if ro:
        sc.mount(None, host, None, sc.MS_REMOUNT | base | sc.MS_RDONLY, "mode=755")


def _bind_own_cgroups(host: str, flags: int, on_top) -> None:
    ro = flags & sc.MS_RDONLY
    base = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        path = open("/proc/self/cgroup").read().rsplit(":", 1)[-1].strip()
        sc.mount("/sys/fs/cgroup" + path, host, None, sc.MS_BIND | sc.MS_REC)
        if ro:
            on_top(lambda top: sc.mount(None, top, None, sc.MS_REMOUNT | sc.MS_BIND | base | sc.MS_RDONLY))
        return
    sc.mount("tmpfs", host, "tmpfs", base, "mode=755")
    on_top(lambda top: _bind_v1_hierarchies(top, flags))


def _bind_v1_hierarchies(host: str, flags: int) -> None:
    ro = flags & sc.MS_RDONLY
    base = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC
    for line in open("/proc/self/cgroup"):
        _, controllers, path = line.rstrip("\n").split(":", 2)
        name = "unified" if not controllers else controllers.removeprefix("name=")
        src = f"/sys/fs/cgroup/{name}{path}"
        if not os.path.isdir(src):
            continue
        d = os.path.join(host, name)
        os.makedirs(d, exist_ok=True)
        sc.mount(src, d, None, sc.MS_BIND | sc.MS_REC)
        if ro:
            sc.mount(None, d, None, sc.MS_REMOUNT | sc.MS_BIND | base | sc.MS_RDONLY)
    if ro:
        sc.mount(None, host, None, sc.MS_REMOUNT | base | sc.MS_RDONLY, "mode=755")


_DEFAULT_DEVICES = (
    ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
    ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
)


def create_devices(rootfs: str, devices, *, bind: bool) -> None:
    """Populate /dev with the default devices plus the spec's; bind from the host in a userns."""
    wanted = [(path, "c", major, minor, 0o666, 0, 0) for path, major, minor in _DEFAULT_DEVICES]
    for d in devices or ():
        wanted.append((d["path"], d.get("type", "c"), d.get("major", 0), d.get("minor", 0),
                       d.get("fileMode", 0o666), d.get("uid", 0), d.get("gid", 0)))
    for path, kind, major, minor, mode, uid, gid in wanted:
        host = secure_join(rootfs, path)
        os.makedirs(os.path.dirname(host), exist_ok=True)
        if bind:
            create_file(rootfs, path)
            sc.mount(path, host, None, sc.MS_BIND)
            continue
        fmt = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}.get(kind)
        if fmt is None:
            raise BadSpec(f"unknown device type {kind!r} for {path}")
        if os.path.lexists(host):
            os.unlink(host)
        os.mknod(host, fmt | (mode & 0o7777), os.makedev(major, minor))
        os.chmod(host, mode & 0o7777)  # mknod is subject to the umask
        os.chown(host, uid, gid)


def create_dev_symlinks(rootfs: str) -> None:
    links = [("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
             ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr")]
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "/dev/core"))
    for src, dst in links:
        host = secure_join(rootfs, dst)
        if not os.path.lexists(host):
            os.symlink(src, host)
    ptmx = secure_join(rootfs, "/dev/ptmx")
    if os.path.isdir(secure_join(rootfs, "/dev/pts")):
        if os.path.lexists(ptmx):
            os.unlink(ptmx)
        os.symlink("pts/ptmx", ptmx)


def prepare_root(rootfs: str, propagation: str | None, rootfs_mounts=()) -> None:
    """runc's prepareRoot, in the container's new mount namespace: `/` gets the requested
    propagation (rslave by default, so nothing made here reaches the host), the mount holding
    the rootfs is made private (slave when a slave root is asked for), which pivot_root needs
    (it refuses a shared new root or parent) and which keeps the binds below from propagating
    back, then the rootfs mounts (the engine's overlay) and the bind of the rootfs onto itself.
    A shared or unbindable root is set after pivot_root (`root_propagation_after_pivot`)."""
    flag = _PROPAGATION[propagation] if propagation else sc.MS_SLAVE | sc.MS_REC
    sc.mount(None, "/", None, flag)
    _parent_mount_propagation(rootfs, sc.MS_SLAVE if flag & sc.MS_SLAVE else sc.MS_PRIVATE)
    for m in rootfs_mounts:
        flags, _, data = parse_options(m.get("options"))
        sc.mount(m["source"], rootfs, m["type"], flags, data or None)
    sc.mount(rootfs, rootfs, None, sc.MS_BIND | sc.MS_REC)


def _parent_mount_propagation(path: str, flag: int) -> None:
    """Set `flag` on the mount that holds `path` (the path itself when it is a mount point):
    EINVAL means "not a mount point", so go up a directory, as runc does."""
    while True:
        try:
            sc.mount(None, path, None, flag)
            return
        except SyscallError as e:
            if e.errno != 22 or path == "/":
                raise
        path = os.path.dirname(path)


def root_propagation_after_pivot(propagation: str | None) -> None:
    """A shared or unbindable rootfsPropagation, applied to the new `/` once it is the root
    (runc since 1.2): applied before, it would reach the host's mount through the shared
    parent, and pivot_root would refuse a shared root anyway. Private and slave were set by
    prepare_root."""
    flag = _PROPAGATION[propagation] if propagation else 0
    if flag and not flag & (sc.MS_PRIVATE | sc.MS_SLAVE):
        sc.mount(None, "/", None, flag)


def pivot_root(rootfs: str) -> None:
    """runc's pivot_root(".", ".") dance: no put_old directory is left inside the container."""
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new)
        sc.pivot_root(".", ".")
        os.fchdir(old)
        sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)
        sc.umount2(".", sc.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(old)
        os.close(new)


def remount_readonly(path: str) -> None:
    sc.mount(None, path, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY | _locked_flags(path))


def mask_path(path: str, mount_label: str | None = None) -> None:
    """Hide a /proc or /sys path: /dev/null over a file, an empty read-only tmpfs over a dir."""
    try:
        if os.path.isdir(path):
            sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY)
        elif os.path.lexists(path):
            sc.mount("/dev/null", path, None, sc.MS_BIND)
    except SyscallError as e:
        if e.errno not in (2, 20):  # ENOENT, ENOTDIR: nothing to mask
            raise


def readonly_path(path: str) -> None:
    if not os.path.lexists(path):
        return
    try:
        sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
        remount_readonly(path)
    except SyscallError as e:
        if e.errno != 2:
            raise
