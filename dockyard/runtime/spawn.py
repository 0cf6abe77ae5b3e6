"""Starting a container's init process in new namespaces (the parent's side of init.py).

Python cannot call clone(2) with namespace flags safely, so we fork twice, as runc's nsexec does
in C: an intermediate child joins or unshares the namespaces (unshare(CLONE_NEWPID) only affects
*children*), then forks the real init, which is PID 1 of the new pid namespace, reports its pid
and exits. The caller is left with a single-threaded init blocked at a start gate (runc's
exec.fifo, or a pipe for in-process `run`), so it can finish cgroups and networking before any
user code runs.
"""

from __future__ import annotations

from dockyard import jsonfast as json  # the C codec without `re` & co: a hot path

import os
from dockyard.errors import BadSpec, DockyardError
from dockyard.linux import syscalls as sc


class StartError(DockyardError):
    """The container process could not be started; `code` is docker's exit code for it."""

    def __init__(self, message: str, code: int = 125) -> None:
        super().__init__(message)
        self.code = code


class Spawned:
    """A container init waiting at its start gate (plain class: see InitConfig on dataclasses)."""

    __slots__ = ("pid", "gate_fd")

    def __init__(self, *, pid: int, gate_fd: int | None) -> None:
        self.pid = pid
        self.gate_fd = gate_fd  # write b"1" to start (pipe gate); None when runc's fifo is the gate

    def start(self) -> None:
        if self.gate_fd is not None:
            os.write(self.gate_fd, b"1")
            os.close(self.gate_fd)
            self.gate_fd = None


def _namespaces(spec: dict) -> tuple[int, list[tuple[str, str]]]:
    flags = 0
    join: list[tuple[str, str]] = []
    for ns in (spec.get("linux") or {}).get("namespaces") or ():
        t = ns.get("type")
        if t not in sc.NAMESPACE_FLAGS:
            raise BadSpec(f"unknown namespace type {t!r}")
        if ns.get("path"):
            join.append((t, ns["path"]))
        else:
            flags |= sc.NAMESPACE_FLAGS[t]
    # user first (it grants the capabilities to join the others), mount last (it changes paths)
    join.sort(key=lambda tp: {"user": 0, "mount": 2}.get(tp[0], 1))
    return flags, join


def spawn(spec: dict, rootfs: str, *, stdio: tuple[int, int, int] | None = None,
          fifo_path: str | None = None, console_fd: int | None = None,
          preserve_fds: int = 0, rootfs_mounts: tuple = (), on_pid=None,
          seccomp: tuple[bytes, int] | None = None, cgroup=None, on_hooks=None,
          hook_state: dict | None = None, keyring: str | None = None) -> Spawned:
    """Fork the container init; return once it is ready and waiting at its start gate.

    `on_pid(pid)` runs in the parent once the init is ready and before it may start (network,
    cgroups): a failing init has reported its own error by then.
    `seccomp` is the spec's profile precompiled (program, flags), to spare init compiling it.
    `cgroup` (created and configured by the caller) is joined by init before it makes its cgroup
    namespace (so the namespace is rooted at the container's own cgroup) and before it may exec.
    `on_hooks(pid)` runs the spec's prestart and createRuntime hooks in the parent, while init
    waits after its mounts, before pivot_root; `hook_state` (the state JSON's id, bundle and
    annotations) lets init run the createContainer and startContainer hooks (see hooks.py).
    Raises StartError (with docker's 125/126/127) if the init could not get ready.
    """
    from dockyard.runtime.init import InitConfig, run_init
    from dockyard.runtime.process import send

    flags, join = _namespaces(spec)
    new_user = bool(flags & sc.CLONE_NEWUSER)
    msg_r, msg_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    fifo_fd = os.open(fifo_path, os.O_PATH | os.O_CLOEXEC) if fifo_path else None
    mid = os.fork()
    if mid == 0:  # intermediate child
        try:
            os.close(msg_r)
            os.close(ctl_w)
            if stdio is not None:
                for target, fd in enumerate(stdio):
                    if fd != target:
                        os.dup2(fd, target)
            for i in range(preserve_fds):
                os.set_inheritable(3 + i, True)
            for t, path in join:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                sc.setns(fd, sc.NAMESPACE_FLAGS[t], f"{t} namespace {path}")
                os.close(fd)
            if new_user and rootfs_mounts:
                # The rootfs overlay is mounted by real root, in a mount namespace of our own that
                # the container's (user-namespace-owned) one then copies: overlayfs mounted from
                # inside a user namespace could not use its trusted.* xattrs.
                sc.unshare(sc.CLONE_NEWNS)
                sc.mount(None, "/", None, sc.MS_SLAVE | sc.MS_REC)
                from dockyard.runtime.mounts import parse_options

                for m in rootfs_mounts:
                    mflags, _, data = parse_options(m.get("options"))
                    sc.mount(m["source"], rootfs, m["type"], mflags, data or None)
                rootfs_mounts = ()
            if new_user:
                sc.unshare(sc.CLONE_NEWUSER)
                send(msg_w, userns=True)
                if os.read(ctl_r, 1) != b"u":
                    os._exit(125)
            # With a cgroup, the cgroup namespace is made later, by init, once the parent has put
            # it in its cgroup (so the namespace is rooted there): see InitConfig.cgroup_gate.
            late = sc.CLONE_NEWCGROUP if cgroup is not None else 0
            if flags & ~sc.CLONE_NEWUSER & ~late:
                sc.unshare(flags & ~sc.CLONE_NEWUSER & ~late)
            child = os.fork()
            if child == 0:
                run_init(InitConfig(
                    spec=spec, rootfs=rootfs, sync_fd=msg_w,
                    gate_fd=fifo_fd if fifo_fd is not None else ctl_r, gate_is_fifo=fifo_fd is not None,
                    console_fd=console_fd, rootfs_mounts=tuple(rootfs_mounts),
                    new_mount_ns=bool(flags & sc.CLONE_NEWNS) or any(t == "mount" for t, _ in join),
                    new_user_ns=new_user, seccomp=seccomp, preserve_fds=preserve_fds,
                    cgroup_gate=ctl_r if cgroup is not None else None, keyring=keyring,
                    new_cgroup_ns=bool(flags & sc.CLONE_NEWCGROUP),
                    hooks_gate=ctl_r if on_hooks is not None else None, hook_state=hook_state,
                ))
                os._exit(125)
            send(msg_w, pid=child)
            os._exit(0)
        except BaseException as e:  # noqa: BLE001 - must report, never unwind into the caller's code
            try:
                send(msg_w, error=str(e), code=125)
            finally:
                os._exit(125)

    os.close(msg_w)
    os.close(ctl_r)
    if fifo_fd is not None:
        os.close(fifo_fd)
    pid = None
    error = None
    ready = False
    hooks_due = False
    try:
        with os.fdopen(msg_r, "rb") as msgs:
            # The middle child sends the pid and init sends ready, each on its own: either may
            # arrive first, so wait for both (or an error, or EOF when both have gone).
            for line in msgs:
                msg = json.loads(line)
                if msg.get("userns"):
                    _write_id_maps(mid, spec)
                    os.write(ctl_w, b"u")
                elif "pid" in msg:
                    pid = msg["pid"]
                    if cgroup is not None:
                        # Joining a cgroup can wait out an RCU grace period (~10 ms on cgroup v1);
                        # the parent does it while init is busy mounting, then lets it go on.
                        cgroup.apply(pid)
                        try:
                            os.write(ctl_w, b"c")
                        except BrokenPipeError:
                            pass  # init failed before it read this: its error is the next message
                elif msg.get("ready"):
                    ready = True
                elif msg.get("hooks"):
                    hooks_due = True
                elif "error" in msg:
                    error = msg
                    break
                if hooks_due and pid is not None:  # init waits at its hooks point until told "h"
                    hooks_due = False
                    on_hooks(pid)
                    os.write(ctl_w, b"h")
                if ready and pid is not None:
                    if on_pid is not None:
                        on_pid(pid)
                    break
    except BaseException:
        if pid:
            _kill_quietly(pid)
        os.close(ctl_w)
        raise
    finally:
        os.waitpid(mid, 0)
    if error is not None or pid is None or not ready:
        if pid:
            _kill_quietly(pid)
        os.close(ctl_w)
        if error is None:
            raise StartError("container init exited before it was ready")
        raise StartError(error["error"], error.get("code", 125))
    if fifo_path is not None:
        os.close(ctl_w)
        return Spawned(pid=pid, gate_fd=None)
    return Spawned(pid=pid, gate_fd=ctl_w)


def _kill_quietly(pid: int) -> None:
    from dockyard.runtime.procfs import proc_start_time, wait_gone

    started = proc_start_time(pid)
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        return
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # not our child (reparented elsewhere): wait until it has died
        wait_gone(pid, started, 10.0)


def _write_id_maps(pid: int, spec: dict) -> None:
    linux = spec.get("linux") or {}
    for kind in ("uid", "gid"):
        lines = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n"
                        for m in linux.get(f"{kind}Mappings") or ())
        if not lines:
            raise BadSpec(f"a user namespace needs linux.{kind}Mappings")
        with open(f"/proc/{pid}/{kind}_map", "w") as f:
            f.write(lines)
