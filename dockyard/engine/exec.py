"""`docker exec`: another process in a running container, with the container's own rules.

The process gets the container's namespaces, capabilities, seccomp profile and no_new_privs
(runtime/exec.py does the joining); here we only decide what it runs as: the container's
process spec with the command, `-e`, `-w`, `-u` (resolved in the container's own /etc/passwd)
and `-t` applied, as docker builds an exec config from the container's.
"""

from __future__ import annotations

import json
import os

from dockyard.errors import Conflict


def exec_in_container(engine, ref: str, cmd: list[str], *, tty: bool = False, interactive: bool = False,
                      user: str = "", workdir: str = "", env: list[str] = (), detach: bool = False,
                      privileged: bool = False) -> int:
    from dockyard.engine.containers import effective_state
    from dockyard.engine.specgen import merge_env
    from dockyard.linux import syscalls as sc
    from dockyard.runtime.exec import exec_process

    rec = engine.db.get_container(ref)
    st = effective_state(rec)
    if st.get("Status") == "paused":
        raise Conflict(f"Container {rec.id} is paused, unpause the container before exec")
    if st.get("Status") != "running":
        raise Conflict(f"Container {rec.id} is not running")
    pid = st["Pid"]
    with open(os.path.join(engine.container_dir(rec.id), "config.json")) as f:
        spec = json.load(f)
    process = dict(spec["process"])
    process["args"] = list(cmd)
    process["terminal"] = tty
    process.pop("consoleSize", None)
    if env:
        process["env"] = merge_env(process.get("env") or [], list(env))
    if workdir:
        process["cwd"] = workdir
    if user:
        from dockyard.engine.users import resolve_user

        u = resolve_user(user, _read(pid, "/etc/passwd"), _read(pid, "/etc/group"))
        process["user"] = {"uid": u.uid, "gid": u.gid, "additionalGids": u.additional_gids}
        caps = process.get("capabilities") or {}
        if u.uid != 0:
            process["capabilities"] = dict(caps, effective=[], permitted=[])
        elif caps.get("bounding"):
            process["capabilities"] = dict(caps, effective=caps["bounding"], permitted=caps["bounding"])
    if privileged:
        all_caps = list(sc.CAPABILITIES[: sc.last_cap() + 1])
        process["capabilities"] = {"bounding": all_caps, "effective": all_caps, "permitted": all_caps}
    if detach:
        from dockyard.engine.containers import container_cgroup

        return _exec_detached(engine, pid, spec, process, container_cgroup(engine, rec))
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    sock = console_child = None
    if tty:
        import socket

        sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        console_child = child.detach()
    null = None
    if interactive or tty:
        stdio = (0, 1, 2)
    else:
        null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        stdio = (null, 1, 2)
    from dockyard.engine.containers import container_cgroup

    cgroup = container_cgroup(engine, rec)
    try:
        epid = exec_process(pid, spec, process, stdio=stdio, console_fd=console_child, cgroup=cgroup)
    finally:
        for fd in (console_child, null):
            if fd is not None:
                os.close(fd)
    from dockyard.runtime.wait import forward_signals, wait_exit

    if sock is not None:
        from dockyard.engine.attach import proxy_tty
        from dockyard.engine.runtimes import _recv_master

        master = _recv_master(sock)
        sock.close()
        proxy_tty(master, stdin_open=interactive)
        return wait_exit(epid)
    restore = forward_signals(epid)
    try:
        return wait_exit(epid)
    finally:
        restore()


def _exec_detached(engine, pid: int, spec: dict, process: dict, cgroup=None) -> int:
    """exec -d: a small forked reaper (a subreaper, like the container's monitor) owns the
    process, so it is reaped when it exits instead of lingering as a zombie under the
    container's init. Returns once the process has started."""
    from dockyard.engine.detach import fork_detached, report
    from dockyard.linux import syscalls as sc
    from dockyard.runtime.exec import exec_process

    def reaper(fd: int) -> None:
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
        null = os.open("/dev/null", os.O_RDWR)
        report(fd, pid=exec_process(pid, spec, dict(process, terminal=False), stdio=(null, null, null),
                                    cgroup=cgroup))
        os.close(fd)
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break

    fork_detached(engine, reaper, default_code=126)
    return 0


def _read(pid: int, path: str) -> str | None:
    from dockyard.runtime.paths import secure_join

    try:
        with open(secure_join(f"/proc/{pid}/root", path), errors="replace") as f:
            return f.read()
    except OSError:
        return None
