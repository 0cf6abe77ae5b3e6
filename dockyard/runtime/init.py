"""The container's init: what PID 1 does, in order, between fork and exec.

This runs in the forked child that is already inside the new namespaces (the parent unshared
them, see `spawn.py`). It is one linear sequence in runc's order, so reading it top to bottom
tells exactly what a container gets:

    stdio → mounts (rootfs, spec mounts, /dev) → [prestart/createRuntime hooks (run by the
    parent), createContainer hooks] → pivot_root → read-only root → console → hostname →
    sysctls → read-only and masked paths → root propagation → then the sequence `exec` shares (`process.py`):
    rlimits → oom_score_adj → no_new_privs → seccomp (if it needs privileges) →
    capabilities + user → cwd → report "ready" → wait for `start` → reset signals → seccomp
    (if no_new_privs) → [startContainer hooks] → exec

It never returns: it execs the user's process or exits with 125/126/127 after telling the
parent why over the sync pipe.
"""

from __future__ import annotations

import os

from dockyard.linux import syscalls as sc
from dockyard.runtime import mounts
from dockyard.runtime import process
from dockyard.runtime.process import ExecError, send


class InitConfig:
    """What init needs from its parent. A plain slotted class, not a dataclass: importing
    `dataclasses` costs more than this whole module on the `run` hot path."""

    __slots__ = ("spec", "rootfs", "sync_fd", "gate_fd", "gate_is_fifo", "console_fd", "rootfs_mounts",
                 "new_mount_ns", "new_user_ns", "seccomp", "late_seccomp", "preserve_fds", "cgroup_gate",
                 "new_cgroup_ns", "keyring", "hooks_gate", "hook_state", "fifo_w")

    def __init__(self, *, spec: dict, rootfs: str, sync_fd: int, gate_fd: int, gate_is_fifo: bool,
                 console_fd: int | None = None, rootfs_mounts: tuple = (), new_mount_ns: bool = True,
                 new_user_ns: bool = False, seccomp: tuple[bytes, int] | None = None,
                 preserve_fds: int = 0, cgroup_gate: int | None = None, new_cgroup_ns: bool = False,
                 hooks_gate: int | None = None, hook_state: dict | None = None, keyring: str | None = None) -> None:
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
        self.hooks_gate = hooks_gate      # say "hooks", read b"h" once the parent ran prestart/createRuntime
        self.hook_state = hook_state      # id, bundle, annotations: for createContainer/startContainer hooks
        self.keyring = keyring            # join a new session keyring of this name (runc's default)
        self.fifo_w = None                # the exec.fifo, held open until exec when `start` waits for that


def run_init(cfg: InitConfig) -> None:
    try:
        path = _prepare(cfg)
    except ExecError as e:
        send(cfg.sync_fd, error=str(e), code=e.code)
        os._exit(e.code)
    except BaseException as e:  # report anything, never a traceback on the user's terminal
        send(cfg.sync_fd, error=f"{type(e).__name__}: {e}" if not hasattr(e, "message") else str(e), code=125)
        os._exit(125)
    send(cfg.sync_fd, ready=True)
    os.close(cfg.sync_fd)
    _wait_for_start(cfg)
    before_exec = None
    if _hooks_of(cfg, "startContainer"):
        def before_exec() -> None:
            _start_container_hooks(cfg, cfg.spec["process"])
    process.execute(path, cfg.spec["process"], cfg.late_seccomp, preserve_fds=cfg.preserve_fds,
                    before_exec=before_exec)


def _prepare(cfg: InitConfig) -> str:
    spec = cfg.spec
    proc = spec.get("process") or {}
    linux = spec.get("linux") or {}
    os.setsid()
    # Everything init needs after pivot_root must be imported (or computed) now: the host's
    # Python library is not visible from inside the container's root.
    seccomp = cfg.seccomp
    if seccomp is None and linux.get("seccomp"):
        seccomp = process.compile_seccomp(linux["seccomp"])
    process.preload(proc)
    if _hooks_of(cfg, "createContainer") or _hooks_of(cfg, "startContainer"):
        from dockyard.runtime import hooks  # noqa: F401 (and select: a file of the host's Python)
    if cfg.new_user_ns:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    if cfg.keyring:  # not the caller's session keyring (runc's default; --no-new-keyring keeps it)
        sc.join_session_keyring(cfg.keyring)

    # -- mounts, still seeing the host's filesystem
    rootfs = cfg.rootfs
    if cfg.new_mount_ns:
        mounts.prepare_root(rootfs, linux.get("rootfsPropagation"), cfg.rootfs_mounts)
    else:
        # No mount namespace of its own: as with runc, the spec's mounts are made in the
        # runtime's own (where `delete` takes them down again: Runtime.create records them) and
        # the root is entered by chroot. The propagation of the runtime's mounts is left alone
        # (spec.validate refuses what would need it: rootfsPropagation, a read-only root, masks).
        for m in cfg.rootfs_mounts:
            flags, _, data = mounts.parse_options(m.get("options"))
            sc.mount(m["source"], rootfs, m["type"], flags, data or None)
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
    _create_hooks(cfg, rootfs)
    if cfg.new_mount_ns:
        mounts.pivot_root(rootfs)
        if (spec.get("root") or {}).get("readonly"):
            mounts.remount_readonly("/")
    else:
        os.chroot(rootfs)
        os.chdir("/")
        if not os.path.isdir("/proc/self/fd"):  # the start gate and exec need it
            raise ExecError("the container has no /proc: without a mount namespace of its own, "
                            "its spec must mount proc on /proc", 125)

    _join_cgroup(cfg)

    # -- the terminal is created in the container's own devpts, like runc's console socket
    if proc.get("terminal"):
        process.setup_console(cfg.console_fd, proc, mount_console=True)

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
    if cfg.new_mount_ns:  # after the last bind: an unbindable root could not be bound from
        mounts.root_propagation_after_pivot(linux.get("rootfsPropagation"))

    # -- the process itself: the sequence exec shares
    path, cfg.late_seccomp = process.become(proc, seccomp)
    return path


def _hooks_of(cfg: InitConfig, kind: str) -> list:
    return ((cfg.spec.get("hooks") or {}).get(kind) or []) if cfg.hook_state is not None else []


def _create_hooks(cfg: InitConfig, rootfs: str) -> None:
    """The create operation's hooks, after the mounts and before pivot_root (runc's places): the
    parent runs prestart and createRuntime (in the runtime's namespaces, with the cgroup set up),
    then init runs createContainer in the container's namespaces with the rootfs as its cwd."""
    if cfg.hooks_gate is not None:
        _join_cgroup(cfg)
        send(cfg.sync_fd, hooks=True)
        if os.read(cfg.hooks_gate, 1) != b"h":
            raise ExecError("the runtime went away while running the createRuntime hooks", 125)
    if _hooks_of(cfg, "createContainer"):
        from dockyard.runtime.hooks import run_hooks, state_json

        os.chdir(rootfs)
        st = cfg.hook_state
        run_hooks("createContainer", _hooks_of(cfg, "createContainer"),
                  state_json(cid=st["id"], status="creating", pid=os.getpid(), bundle=st["bundle"],
                             annotations=st.get("annotations")), env=process.env_dict(cfg.spec["process"]))


def _start_container_hooks(cfg: InitConfig, proc: dict) -> None:
    """Inside the container, as its user, right before exec; a failure stops the container and is
    reported to `start` through the exec fifo it is still reading (or on stderr)."""
    from dockyard.runtime.hooks import HookError, run_hooks, state_json

    st = cfg.hook_state
    try:
        run_hooks("startContainer", _hooks_of(cfg, "startContainer"),
                  state_json(cid=st["id"], status="created", pid=os.getpid(), bundle=st["bundle"],
                             annotations=st.get("annotations")), env=process.env_dict(proc))
    except HookError as e:
        msg = str(e).encode()
        if cfg.fifo_w is not None:
            os.write(cfg.fifo_w, msg)
        else:
            os.write(2, msg + b"\n")
        os._exit(125)


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


def _wait_for_start(cfg: InitConfig) -> None:
    if cfg.gate_is_fifo:
        fd = os.open(f"/proc/self/fd/{cfg.gate_fd}", os.O_WRONLY | os.O_CLOEXEC)
        os.write(fd, b"0")
        if _hooks_of(cfg, "startContainer") or _hooks_of(cfg, "poststart"):
            cfg.fifo_w = fd  # `start` reads to EOF, which exec's close-on-exec gives it (as runc)
        else:
            os.close(fd)
        os.close(cfg.gate_fd)
    else:
        if os.read(cfg.gate_fd, 1) != b"1":  # parent went away or said no
            os._exit(125)
        os.close(cfg.gate_fd)


