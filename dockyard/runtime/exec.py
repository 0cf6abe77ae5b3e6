"""Running another process inside a running container (`runc exec`, `docker exec`).

The new process joins every namespace of the container's init (user first, mount last), is
forked once more so it is inside the pid namespace, then gets the same treatment as init's own
process: the same steps in the same order (`process.py`: rlimits, oom_score_adj, no_new_privs,
the container's seccomp profile, capabilities, user, cwd, signal reset), and optionally a
terminal created in the container's devpts and handed over a console socket.
"""

from __future__ import annotations

from dockyard import jsonfast as json  # the C codec without `re` & co: a hot path

import os

from dockyard.errors import Conflict
from dockyard.linux import syscalls as sc
from dockyard.runtime import process as steps

_ORDER = ("user", "ipc", "uts", "network", "cgroup", "pid", "time", "mount")


def exec_process(init_pid: int, spec: dict, process: dict, *, stdio=None, console_fd: int | None = None,
                 preserve_fds: int = 0, on_pid=None, cgroup=None, keyring: str | None = None,
                 seccomp_program=None) -> int:
    """Start `process` (an OCI process object) in the container of `init_pid`; return its pid.

    The process is re-parented to the caller's subreaper (or init), like runc exec --detach.
    `seccomp_program`: spec's profile already compiled ((BPF, flags), as the launch had it), so a
    caller that execs often (health probes) does not compile it every time.
    """
    from dockyard.runtime.spawn import StartError

    if not os.path.exists(f"/proc/{init_pid}/ns"):
        raise Conflict("cannot exec in a stopped container")
    seccomp = seccomp_program or steps.compile_seccomp((spec.get("linux") or {}).get("seccomp"))
    steps.preload(process)  # what is needed after joining the container's mount namespace
    if process.get("apparmorProfile") or process.get("selinuxLabel"):
        from dockyard.runtime import lsm

        lsm.check(process)  # before joining anything: refused labels start nothing
    ns_fds = []
    for t in _ORDER:
        path = f"/proc/{init_pid}/ns/{sc.NAMESPACE_FILES[t]}"
        try:
            same = os.readlink(path) == os.readlink(f"/proc/self/ns/{sc.NAMESPACE_FILES[t]}")
        except OSError:
            continue
        if not same:
            ns_fds.append((t, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
    # A container without a mount namespace of its own was entered by chroot: so is its exec
    # (runc 1.1 leaves it in the host's root).
    root_fd = None
    if not any(t == "mount" for t, _ in ns_fds):
        try:
            root_fd = os.open(f"/proc/{init_pid}/root", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            raise Conflict("cannot exec in a stopped container") from None
    msg_r, msg_w = os.pipe()
    mid = os.fork()
    if mid == 0:
        try:
            os.close(msg_r)
            if stdio is not None:
                for target, fd in enumerate(stdio):
                    if fd != target:
                        os.dup2(fd, target)
            if cgroup is not None:  # before joining: the container's limits apply to execs too
                cgroup.apply(0)
            for t, fd in ns_fds:
                sc.setns(fd, sc.NAMESPACE_FLAGS[t], f"{t} namespace of pid {init_pid}")
            if root_fd is not None:
                os.fchdir(root_fd)
                os.chroot(".")
                os.close(root_fd)
            child = os.fork()
            if child == 0:
                _exec_child(process, seccomp, msg_w, console_fd, preserve_fds, keyring)
            steps.send(msg_w, pid=child)
            os._exit(0)
        except BaseException as e:  # noqa: BLE001
            steps.send(msg_w, error=str(e), code=125)
            os._exit(125)
    os.close(msg_w)
    for _, fd in ns_fds:
        os.close(fd)
    if root_fd is not None:
        os.close(root_fd)
    pid = error = None
    ready = False
    with os.fdopen(msg_r, "rb") as msgs:
        for line in msgs:  # pid (middle child) and ready (the process) may come in either order
            msg = json.loads(line)
            if "pid" in msg:
                pid = msg["pid"]
            elif "error" in msg:
                error = msg
                break
            elif msg.get("ready"):
                ready = True
            if ready and pid is not None:
                if on_pid is not None:
                    on_pid(pid)
                break
    os.waitpid(mid, 0)
    if error is not None and pid is not None:
        try:  # it reported and exited; reap it if it was re-parented to us (a subreaper)
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    if error is not None or pid is None or not ready:
        raise StartError(error["error"] if error else "exec process exited before it was ready",
                         error.get("code", 125) if error else 125)
    return pid


def _exec_child(process: dict, seccomp, msg_w: int, console_fd, preserve_fds: int, keyring: str | None) -> None:
    try:
        os.setsid()
        if keyring:  # the container's session keyring, as runc's exec joins it
            sc.join_session_keyring(keyring)
        if process.get("terminal"):
            steps.setup_console(console_fd, process, mount_console=False)
        path, late_seccomp = steps.become(process, seccomp)
    except steps.ExecError as e:
        steps.send(msg_w, error=str(e), code=e.code)
        os._exit(e.code)
    except BaseException as e:  # noqa: BLE001
        steps.send(msg_w, error=str(e), code=125)
        os._exit(125)
    steps.send(msg_w, ready=True)
    os.close(msg_w)
    steps.execute(path, process, late_seccomp, preserve_fds=preserve_fds)
