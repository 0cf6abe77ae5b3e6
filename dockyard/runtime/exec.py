"""Running another process inside a running container (`runc exec`, `docker exec`).

The new process joins every namespace of the container's init (user first, mount last), is
forked once more so it is inside the pid namespace, then gets the same treatment as init's own
process: no_new_privs, the container's seccomp profile, capabilities, user, cwd, and optionally
a terminal created in the container's devpts and handed over a console socket.
"""

from __future__ import annotations

from dockyard import jsonfast as json  # the C codec without `re` & co: a hot path

import os

from dockyard.errors import Conflict
from dockyard.linux import syscalls as sc
from dockyard.linux.signals import reset_signals

_ORDER = ("user", "ipc", "uts", "network", "cgroup", "pid", "time", "mount")


def exec_process(init_pid: int, spec: dict, process: dict, *, stdio=None, console_fd: int | None = None,
                 preserve_fds: int = 0, on_pid=None, cgroup=None) -> int:
    """Start `process` (an OCI process object) in the container of `init_pid`; return its pid.

    The process is re-parented to the caller's subreaper (or init), like runc exec --detach.
    """
    from dockyard.runtime import init as ini
    from dockyard.runtime.spawn import StartError

    if not os.path.exists(f"/proc/{init_pid}/ns"):
        raise Conflict("cannot exec in a stopped container")
    linux = spec.get("linux") or {}
    seccomp = ini._compile_seccomp(linux["seccomp"]) if linux.get("seccomp") else None
    # Modules needed after joining the container's mount namespace must be loaded now.
    if process.get("terminal"):
        import fcntl, socket, struct, termios  # noqa: E401,F401
    if process.get("rlimits"):
        import resource  # noqa: F401
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
            child = os.fork()
            if child == 0:
                _exec_child(ini, process, seccomp, msg_w, console_fd, preserve_fds)
            ini.send(msg_w, pid=child)
            os._exit(0)
        except BaseException as e:  # noqa: BLE001
            ini.send(msg_w, error=str(e), code=125)
            os._exit(125)
    os.close(msg_w)
    for _, fd in ns_fds:
        os.close(fd)
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


def _exec_child(ini, process: dict, seccomp, msg_w: int, console_fd, preserve_fds: int) -> None:
    try:
        os.setsid()
        if process.get("terminal"):
            cfg = ini.InitConfig(spec={}, rootfs="/", sync_fd=msg_w, gate_fd=-1, gate_is_fifo=False,
                                 console_fd=console_fd)
            ini._setup_console(cfg, process)
        for rl in process.get("rlimits") or ():
            import resource

            which = getattr(resource, str(rl.get("type")), None)
            if which is None or not str(rl.get("type")).startswith("RLIMIT_"):
                raise ini.ExecError(f"wrong rlimit value: {rl.get('type')}", 125)
            resource.setrlimit(which, (rl["soft"], rl["hard"]))
        if process.get("apparmorProfile"):
            from dockyard.runtime import lsm  # loaded by exec_process before the namespaces

            lsm.apply_apparmor_on_exec(process)
        if process.get("noNewPrivileges"):
            sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
        if seccomp is not None and seccomp[0] and not process.get("noNewPrivileges"):
            sc.seccomp_set_filter(*seccomp)
        ini._apply_user_and_caps(process)
        cwd = process.get("cwd") or "/"
        try:
            os.chdir(cwd)
        except OSError as e:
            raise ini.ExecError(f"chdir to cwd ({cwd!r}) failed: {e.strerror}", 125) from e
        path = ini._lookup(process)
    except ini.ExecError as e:
        ini.send(msg_w, error=str(e), code=e.code)
        os._exit(e.code)
    except BaseException as e:  # noqa: BLE001
        ini.send(msg_w, error=str(e), code=125)
        os._exit(125)
    ini.send(msg_w, ready=True)
    os.close(msg_w)
    ini._close_on_exec_from(3 + preserve_fds)
    reset_signals()
    try:
        if seccomp is not None and seccomp[0] and process.get("noNewPrivileges"):
            sc.seccomp_set_filter(*seccomp)
        os.execve(path, process["args"], ini._env_dict(process))
    except OSError as e:
        os.write(2, f"exec {process['args'][0]}: {e.strerror}\n".encode())
        os._exit(127 if e.errno == 2 else 126)
