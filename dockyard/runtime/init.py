"""The container's init: what PID 1 does, in order, between fork and exec.

This runs in the forked child that is already inside the new namespaces (the parent unshared
them, see `spawn.py`). It is one linear sequence in runc's order, so reading it top to bottom
tells exactly what a container gets:

    stdio/console → mounts (rootfs, spec mounts, /dev) → pivot_root → read-only root →
    hostname → sysctls → read-only and masked paths → rlimits → oom_score_adj →
    no_new_privs → seccomp (if it needs privileges) → capabilities + user → cwd →
    report "ready" → wait for `start` → seccomp (if no_new_privs) → exec

It never returns: it execs the user's process or exits with 125/126/127 after telling the
parent why over the sync pipe.
"""

from __future__ import annotations

from dockyard import jsonfast as json  # the C codec without `re` & co: a hot path

import os

from dockyard.linux import syscalls as sc
from dockyard.linux.signals import reset_signals
from dockyard.runtime import mounts

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class InitConfig:
    """What init needs from its parent. A plain slotted class, not a dataclass: importing
    `dataclasses` costs more than this whole module on the `run` hot path."""

    __slots__ = ("spec", "rootfs", "sync_fd", "gate_fd", "gate_is_fifo", "console_fd", "rootfs_mounts",
                 "new_mount_ns", "new_user_ns", "seccomp", "late_seccomp", "preserve_fds", "cgroup_gate",
                 "new_cgroup_ns")

    def __init__(self, *, spec: dict, rootfs: str, sync_fd: int, gate_fd: int, gate_is_fifo: bool,
                 console_fd: int | None = None, rootfs_mounts: tuple = (), new_mount_ns: bool = True,
                 new_user_ns: bool = False, seccomp: tuple[bytes, int] | None = None,
                 preserve_fds: int = 0, cgroup_gate: int | None = None, new_cgroup_ns: bool = False) -> None:
        self.spec = spec                  # the OCI runtime spec (config.json)
        self.rootfs = rootfs              # host path of the root filesystem
        self.sync_fd = sync_fd            # write end: JSON messages to the parent
        self.gate_fd = gate_fd            # fifo (O_PATH, runc's exec.fifo) or pipe read end
        self.gate_is_fifo = gate_is_fifo
        self.console_fd = console_fd      # connected unix socket to send the pty master over
        self.rootfs_mounts = rootfs_mounts  # mounts making the rootfs (overlay), done in our mount ns
        self.new_mount_ns = new_mount_ns
        self.new_user_ns = new_user_ns
        self.seccomp = seccomp            # (BPF program, flags) compiled by the caller, or None
        self.late_seccomp: tuple[bytes, int] | None = None  # loaded right before exec (no_new_privs)
        self.preserve_fds = preserve_fds  # fds 3 .. 3+N-1 pass through to the process (LISTEN_FDS)
        self.cgroup_gate = cgroup_gate    # read b"c" here once the parent put us in our cgroup
        self.new_cgroup_ns = new_cgroup_ns  # then unshare the cgroup namespace ourselves


class ExecError(Exception):
    """The process cannot be started: carries docker's exit code (126 or 127)."""

    def __init__(self, msg: str, code: int) -> None:
        super().__init__(msg)
        self.code = code


def send(fd: int, **msg) -> None:
    os.write(fd, (json.dumps(msg) + "\n").encode())


def run_init(cfg: InitConfig) -> None:
    try:
        path = _prepare(cfg)
    except ExecError as e:
        send(cfg.sync_fd, error=str(e), code=e.code)
        os._exit(e.code)
    except BaseException as e:  # report anything, never a traceback on the user's terminal
        send(cfg.sync_fd, error=f"{type(e).__name__}: {e}" if not hasattr(e, "message") else str(e), code=125)
        os._exit(125)
    proc = cfg.spec["process"]
    send(cfg.sync_fd, ready=True)
    os.close(cfg.sync_fd)
    _wait_for_start(cfg)
    _close_on_exec_from(3 + cfg.preserve_fds)
    reset_signals()
    try:
        if cfg.late_seccomp is not None:  # with no_new_privs, loaded last: fewer syscalls to allow
            sc.seccomp_set_filter(*cfg.late_seccomp)
        os.execve(path, proc["args"], _env_dict(proc))
    except OSError as e:
        os.write(2, f"exec {proc['args'][0]}: {e.strerror}\n".encode())
        os._exit(127 if e.errno == 2 else 126)
    os._exit(125)


def _prepare(cfg: InitConfig) -> str:
    spec = cfg.spec
    proc = spec.get("process") or {}
    linux = spec.get("linux") or {}
    os.setsid()
    # Everything init needs after pivot_root must be imported (or computed) now: the host's
    # Python library is not visible from inside the container's root.
    seccomp = cfg.seccomp
    if seccomp is None and linux.get("seccomp"):
        seccomp = _compile_seccomp(linux["seccomp"])
    if proc.get("terminal"):
        import fcntl, socket, struct, termios  # noqa: E401,F401
    if proc.get("rlimits"):
        import resource  # noqa: F401
    if proc.get("apparmorProfile"):
        from dockyard.runtime import lsm
    if cfg.new_user_ns:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)

    # -- mounts, still seeing the host's filesystem
    rootfs = cfg.rootfs
    if cfg.new_mount_ns:
        prop = mounts._PROPAGATION.get(linux.get("rootfsPropagation") or "rslave", sc.MS_SLAVE | sc.MS_REC)
        sc.mount(None, "/", None, prop)
        for m in cfg.rootfs_mounts:
            flags, _, data = mounts.parse_options(m.get("options"))
            sc.mount(m["source"], rootfs, m["type"], flags, data or None)
        sc.mount(rootfs, rootfs, None, sc.MS_BIND | sc.MS_REC)
        dev_is_tmpfs = False
        private_cgroupns = any(ns.get("type") == "cgroup" and not ns.get("path")
                               for ns in linux.get("namespaces") or ())
        for m in spec.get("mounts") or ():
            if m.get("type") == "cgroup":
                _join_cgroup(cfg)  # the cgroup mount must show our own cgroup
            mounts.mount_one(rootfs, m, private_cgroupns=private_cgroupns)
            if m.get("destination") == "/dev" and m.get("type") == "tmpfs":
                dev_is_tmpfs = True
        if dev_is_tmpfs:
            mounts.create_devices(rootfs, linux.get("devices"), bind=cfg.new_user_ns)
            mounts.create_dev_symlinks(rootfs)
        cwd = proc.get("cwd") or "/"
        try:
            from dockyard.runtime.paths import open_in_root
            os.close(open_in_root(rootfs, cwd, create="dir"))
        except OSError:
            pass  # reported by chdir below with the container's view
        mounts.pivot_root(rootfs)
        if (spec.get("root") or {}).get("readonly"):
            mounts.remount_readonly("/")
    else:
        os.chroot(rootfs)
        os.chdir("/")

    _join_cgroup(cfg)

    # -- the terminal is created in the container's own devpts, like runc's console socket
    if proc.get("terminal"):
        _setup_console(cfg, proc)

    if "uts" in _ns_types(linux) or spec.get("hostname"):
        if spec.get("hostname"):
            sc.sethostname(spec["hostname"])
        if spec.get("domainname"):
            sc.setdomainname(spec["domainname"])
    # sysctls before /proc/sys turns read-only, then read-only paths, then masks (runc's order)
    for key, value in (linux.get("sysctl") or {}).items():
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)
    for p in linux.get("readonlyPaths") or ():
        mounts.readonly_path(p)
    for p in linux.get("maskedPaths") or ():
        mounts.mask_path(p)
    if proc.get("apparmorProfile"):  # takes effect at the exec below, as runc's aa_change_onexec
        lsm.apply_apparmor_on_exec(proc)

    # -- process attributes
    if proc.get("rlimits"):
        import resource
        for rl in proc["rlimits"]:
            which = getattr(resource, rl["type"], None) if str(rl["type"]).startswith("RLIMIT_") else None
            if which is None:  # spec.validate refuses these before init; a caller may skip it
                raise ExecError(f"wrong rlimit value: {rl['type']}", 125)
            try:
                resource.setrlimit(which, (rl["soft"], rl["hard"]))
            except (ValueError, OSError) as e:
                raise ExecError(f"setrlimit {rl['type']} ({rl['soft']}:{rl['hard']}): {e}", 125) from e
    if proc.get("oomScoreAdj") is not None:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(proc["oomScoreAdj"]))
    if proc.get("noNewPrivileges"):
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    if seccomp is not None and seccomp[0] and not proc.get("noNewPrivileges"):
        sc.seccomp_set_filter(*seccomp)

    _apply_user_and_caps(proc)
    cwd = proc.get("cwd") or "/"
    try:
        os.chdir(cwd)
    except OSError as e:
        raise ExecError(f"chdir to cwd ({cwd!r}) set in config.json failed: {e.strerror}", 125) from e
    cfg.late_seccomp = seccomp if seccomp is not None and seccomp[0] and proc.get("noNewPrivileges") else None
    return _lookup(proc)


def _join_cgroup(cfg: InitConfig) -> None:
    """Wait until the parent has moved us into our cgroup, then make the cgroup namespace.

    The parent does the move while we mount (on cgroup v1 it can take an RCU grace period), so
    the two costs overlap instead of adding up. Idempotent."""
    if cfg.cgroup_gate is None:
        return
    if os.read(cfg.cgroup_gate, 1) != b"c":
        raise ExecError("the runtime went away before placing the container in its cgroup", 125)
    cfg.cgroup_gate = None
    if cfg.new_cgroup_ns:
        sc.unshare(sc.CLONE_NEWCGROUP)


def _ns_types(linux: dict) -> set[str]:
    return {ns.get("type") for ns in linux.get("namespaces") or ()}


def _env_dict(proc: dict) -> dict:
    env = {}
    for kv in proc.get("env") or ():
        k, _, v = kv.partition("=")
        env[k] = v
    return env


def _lookup(proc: dict) -> str:
    """Find the executable as execvp would, reporting docker's 126/127 before `start`."""
    args = proc.get("args") or []
    if not args:
        raise ExecError("no command specified", 125)
    name = args[0]
    if "/" in name:
        candidates = [name]
    else:
        path = _env_dict(proc).get("PATH", DEFAULT_PATH)
        candidates = [os.path.join(d or ".", name) for d in path.split(":")]
    denied = None
    for c in candidates:
        if os.path.isfile(c):
            if os.access(c, os.X_OK):
                return c
            denied = c
        elif os.path.isdir(c) and "/" in name:
            raise ExecError(f'exec: "{name}": is a directory', 126)
    if denied:
        raise ExecError(f'exec: "{name}": permission denied', 126)
    if "/" in name:
        raise ExecError(f'exec: "{name}": stat {name}: no such file or directory', 127)
    raise ExecError(f'exec: "{name}": executable file not found in $PATH', 127)


def _apply_user_and_caps(proc: dict) -> None:
    user = proc.get("user") or {}
    caps = proc.get("capabilities")
    if caps is not None:
        bounding = sc.cap_mask(caps.get("bounding"))
        for i in range(sc.last_cap() + 1):
            if not bounding & (1 << i):
                sc.prctl(sc.PR_CAPBSET_DROP, i)
        sc.prctl(sc.PR_SET_KEEPCAPS, 1)
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    os.setgroups([int(g) for g in user.get("additionalGids") or ()])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if "umask" in user:
        os.umask(int(user["umask"]))
    if caps is not None:
        sc.prctl(sc.PR_SET_KEEPCAPS, 0)
        sc.capset(sc.cap_mask(caps.get("effective")), sc.cap_mask(caps.get("permitted")),
                  sc.cap_mask(caps.get("inheritable")))
        for name in caps.get("ambient") or ():
            i = sc.cap_mask([name]).bit_length() - 1
            if i >= 0:
                try:
                    sc.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_RAISE, i)
                except sc.SyscallError as e:
                    if e.errno not in (1, 22):  # not in permitted+inheritable: runc ignores it too
                        raise


# Not in Python's termios module; the asm-generic ioctl encoding, same on x86_64 and arm64.
TIOCSPTLCK = 0x40045431  # _IOW('T', 0x31, int)
TIOCGPTN = 0x80045430    # _IOR('T', 0x30, unsigned int)


def _dev_fstype() -> str:
    """The filesystem type of the mount on /dev (the last one listed), "" when none."""
    fstype = ""
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 6 and fields[4] == "/dev" and "-" in fields:
                    fstype = fields[fields.index("-") + 1]
    except OSError:
        pass
    return fstype


def _setup_console(cfg: InitConfig, proc: dict) -> None:
    import fcntl  # already loaded before pivot_root (see _prepare)
    import socket
    import struct
    import termios

    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))  # unlockpt
    n = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0" * 4))[0]  # ptsname
    slave_path = f"/dev/pts/{n}"
    slave = os.open(slave_path, os.O_RDWR | os.O_NOCTTY)
    size = proc.get("consoleSize")
    if size:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size["height"], size["width"], 0, 0))
    # /dev/console is the container's terminal, as runc arranges it.
    if os.path.exists("/dev/console") or os.path.isdir("/dev"):
        try:
            if not os.path.lexists("/dev/console") and _dev_fstype() == "tmpfs":  # never in a user's bind
                os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY, 0o600))
            sc.mount(slave_path, "/dev/console", None, sc.MS_BIND)
        except OSError:
            pass
    if cfg.console_fd is not None:
        sock = socket.socket(fileno=cfg.console_fd)
        socket.send_fds(sock, [slave_path.encode()], [master])
        sock.close()
    os.close(master)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _close_on_exec_from(first: int) -> None:
    """Whatever our caller leaked to us (conmon and shells do) must not reach the container."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= first:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass  # the listing's own fd, already closed


def _wait_for_start(cfg: InitConfig) -> None:
    if cfg.gate_is_fifo:
        fd = os.open(f"/proc/self/fd/{cfg.gate_fd}", os.O_WRONLY | os.O_CLOEXEC)
        os.write(fd, b"0")
        os.close(fd)
        os.close(cfg.gate_fd)
    else:
        if os.read(cfg.gate_fd, 1) != b"1":  # parent went away or said no
            os._exit(125)
        os.close(cfg.gate_fd)


def _compile_seccomp(profile: dict) -> tuple[bytes, int] | None:
    from dockyard.runtime.seccomp import compile_profile, filter_flags

    prog = compile_profile(profile)
    return (prog, filter_flags(profile)) if prog else None
