"""`docker exec`: another process in a running container, with the container's own rules.

The process gets the container's namespaces, capabilities, seccomp profile and no_new_privs
(runtime/exec.py does the joining); here we only decide what it runs as: the container's
process spec with the command, `-e`, `-w`, `-u` (resolved in the container's own /etc/passwd)
and `-t` applied, as docker builds an exec config from the container's.
"""

from __future__ import annotations

import os

from dockyard import jsonfast as json  # the C codec: a prober execs often and needs no `re`

from dockyard.errors import Conflict


def exec_target(engine, ref: str) -> tuple:
    """(record, effective state) of a container an exec may enter: dockerd's 409s otherwise."""
    from dockyard.engine.status import effective_state

    rec = engine.db.get_container(ref)
    st = effective_state(rec, engine.db)
    if st.get("Status") == "paused":
        raise Conflict(f"Container {rec.id} is paused, unpause the container before exec")
    if st.get("Status") != "running":
        raise Conflict(f"Container {rec.id} is not running")
    return rec, st


def exec_in_container(engine, ref: str, cmd: list[str], *, tty: bool = False, interactive: bool = False,
                      user: str = "", workdir: str = "", env: list[str] = (), detach: bool = False,
                      privileged: bool = False) -> int:
    from dockyard.linux import syscalls as sc
    from dockyard.runtime.exec import exec_process

    rec, st = exec_target(engine, ref)
    pid = st["Pid"]
    from dockyard.engine import events

    what = " ".join(cmd)
    events.container(engine, rec, f"exec_create: {what}")
    events.container(engine, rec, f"exec_start: {what}")
    spec, process = process_spec(engine, rec.id, pid, cmd, tty=tty, user=user, workdir=workdir, env=env,
                                 privileged=privileged,
                                 group_add=(rec.config.get("host_opts") or {}).get("GroupAdd") or ())
    from dockyard.engine.runtimes import external_runtime

    runtime = external_runtime(engine, rec)
    if runtime is not None:
        return _exec_external(engine, runtime, rec.id, process, tty=tty, interactive=interactive, detach=detach)
    if detach:
        from dockyard.engine.status import container_cgroup

        return _exec_detached(engine, pid, spec, process, container_cgroup(engine, rec), keyring=rec.id)
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
    from dockyard.engine.status import container_cgroup

    cgroup = container_cgroup(engine, rec)
    try:
        epid = exec_process(pid, spec, process, stdio=stdio, console_fd=console_child, cgroup=cgroup, keyring=rec.id)
    finally:
        for fd in (console_child, null):
            if fd is not None:
                os.close(fd)
    from dockyard.runtime.wait import forward_signals, wait_exit

    if sock is not None:
        from dockyard.engine.attach import proxy_tty
        from dockyard.engine.runtimes import recv_master

        master = recv_master(sock)
        sock.close()
        proxy_tty(master, stdin_open=interactive)
        return wait_exit(epid)
    restore = forward_signals(epid)
    try:
        return wait_exit(epid)
    finally:
        restore()


def process_spec(engine, cid: str, pid: int, cmd: list[str], *, tty: bool = False, user: str = "",
                 workdir: str = "", env=(), privileged: bool = False, group_add=()) -> tuple[dict, dict]:
    """The container's spec and the OCI process of an exec in it: the container's own process
    with the command, `-t`, `-e`, `-w`, `-u` and `--privileged` applied."""
    from dockyard.engine.specgen import merge_env
    from dockyard.linux import syscalls as sc

    with open(os.path.join(engine.container_dir(cid), "config.json")) as f:
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

        u = resolve_user(user, _read(pid, "/etc/passwd"), _read(pid, "/etc/group"), group_add)
        process["user"] = {"uid": u.uid, "gid": u.gid, "additionalGids": u.additional_gids}
        caps = process.get("capabilities") or {}
        if u.uid != 0:
            process["capabilities"] = dict(caps, effective=[], permitted=[])
        elif caps.get("bounding"):
            process["capabilities"] = dict(caps, effective=caps["bounding"], permitted=caps["bounding"])
    if privileged:
        all_caps = list(sc.CAPABILITIES[: sc.last_cap() + 1])
        process["capabilities"] = {"bounding": all_caps, "effective": all_caps, "permitted": all_caps}
    return spec, process


class Probe:
    """A health probe started by start_probe: `wait_pid` is the child to wait for (the process
    itself, or the `runc exec` that runs it), `kill()` ends the process at once."""

    def __init__(self, wait_pid: int, kill, cleanup=None, started=None) -> None:
        self.wait_pid, self.pid = wait_pid, wait_pid
        self.kill_fn, self.cleanup, self.started = kill, cleanup, started

    def kill(self) -> None:
        self.kill_fn()

    def exit_code(self, status: int) -> int:
        """The probe's exit code; -1 when the runtime could not start it (as dockerd records an
        exec that failed to start; its error is then the output)."""
        from dockyard.runtime.wait import exit_code

        failed = self.started is not None and not self.started()
        if self.cleanup is not None:
            self.cleanup()
        return -1 if failed else exit_code(status)


def start_probe(engine, rec, cmd: list[str], *, out_fd: int, seccomp=None) -> Probe:
    """A health check's exec (moby's cmdProbe): the container's own process (its user, cwd, env)
    running `cmd`, no terminal, stdin /dev/null, stdout and stderr to `out_fd`. The caller must
    be a subreaper (the process is re-parented to it) and waits for `Probe.wait_pid`. `seccomp`:
    the container's profile as its launch compiled it (else it is compiled here)."""
    from dockyard.engine.runtimes import external_runtime
    from dockyard.engine.status import container_cgroup

    pid = rec.state.get("Pid", 0)
    spec, process = process_spec(engine, rec.id, pid, cmd)
    runtime = external_runtime(engine, rec)
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if runtime is None:
            from dockyard.runtime.exec import exec_process

            epid = exec_process(pid, spec, process, stdio=(null, out_fd, out_fd),
                                cgroup=container_cgroup(engine, rec), keyring=rec.id, seccomp_program=seccomp)

            def kill() -> None:
                try:
                    os.kill(epid, 9)
                except ProcessLookupError:
                    pass

            return Probe(epid, kill)
        return _probe_external(engine, runtime, rec.id, process, null, out_fd)
    finally:
        os.close(null)


def _probe_external(engine, runtime, cid: str, process: dict, null: int, out_fd: int) -> Probe:
    """The probe through `runc exec`, which stays its parent and reports its exit code."""
    import subprocess
    import tempfile

    from dockyard.linux.signals import reset_signals  # runc exec passes on what it inherits ignored

    fd, process_file = tempfile.mkstemp(prefix="probe-", suffix=".json", dir=engine.container_dir(cid))
    with os.fdopen(fd, "w") as f:
        json.dump(process, f)
    pid_file = process_file + ".pid"

    def cleanup() -> None:
        for path in (process_file, pid_file):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    try:
        proc = subprocess.Popen(runtime.exec_command(cid, process_file, pid_file=pid_file),
                                stdin=null, stdout=out_fd, stderr=out_fd, preexec_fn=reset_signals)
    except OSError:
        cleanup()
        raise

    def kill() -> None:
        try:
            with open(pid_file) as f:
                os.kill(int(f.read().strip()), 9)
        except (OSError, ValueError):
            pass  # not started yet: runc itself goes
        try:
            os.kill(proc.pid, 9)
        except ProcessLookupError:
            pass
        cleanup()

    proc.returncode = 0  # waited for by the caller with os.waitpid: Popen must not wait again
    return Probe(proc.pid, kill, cleanup, started=lambda: os.path.exists(pid_file))


def _exec_detached(engine, pid: int, spec: dict, process: dict, cgroup=None, keyring: str | None = None) -> int:
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
                                    cgroup=cgroup, keyring=keyring))
        os.close(fd)
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break

    fork_detached(engine, reaper, default_code=126)
    return 0


def _exec_external(engine, runtime, cid: str, process: dict, *, tty: bool, interactive: bool,
                   detach: bool) -> int:
    """exec through the runtime that made the container (`runc exec`): it joins the namespaces,
    cgroup, seccomp profile and capabilities it set up itself."""
    import subprocess
    import tempfile

    from dockyard.linux.signals import reset_signals  # runc exec passes on what it inherits ignored
    from dockyard.runtime.wait import forward_signals

    cdir = engine.container_dir(cid)
    fd, process_file = tempfile.mkstemp(prefix="exec-", suffix=".json", dir=cdir)
    with os.fdopen(fd, "w") as f:
        json.dump(dict(process, terminal=tty and not detach), f)
    try:
        if detach:
            from dockyard.engine.detach import fork_detached, report
            from dockyard.linux import syscalls as sc

            def reaper(fd: int) -> None:
                # runc stays the process's parent (it relays signals and collects the exit); we
                # own runc, and report the process's pid as soon as runc has written it.
                import time

                sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
                pid_file = process_file + ".pid"
                with open(os.devnull, "r+b") as null:
                    proc = subprocess.Popen(runtime.exec_command(cid, process_file, pid_file=pid_file),
                                            stdin=null, stdout=null, stderr=subprocess.PIPE, preexec_fn=reset_signals)
                while proc.poll() is None and not os.path.exists(pid_file):
                    time.sleep(0.005)
                try:
                    with open(pid_file) as f:
                        pid = int(f.read().strip())
                except (OSError, ValueError):
                    err = proc.stderr.read().decode(errors="replace").strip()
                    report(fd, error=f"{runtime.name} exec failed: {err}", code=126)
                    return
                report(fd, pid=pid)
                os.close(fd)
                proc.stderr.close()
                while True:  # runc, and whatever the process leaves orphaned to us
                    try:
                        os.waitpid(-1, 0)
                    except ChildProcessError:
                        break

            fork_detached(engine, reaper, default_code=126)
            return 0
        # In the foreground runc allocates the pty itself (terminal in process.json) and copies it
        # to and from our stdio, resizing it with our terminal, as `runc exec -t` does.
        stdin = None if interactive else subprocess.DEVNULL
        proc = subprocess.Popen(runtime.exec_command(cid, process_file), stdin=stdin, preexec_fn=reset_signals)
        restore = forward_signals(proc.pid)  # runc relays them to the process
        try:
            return proc.wait()
        finally:
            restore()
    finally:
        for path in (process_file, process_file + ".pid"):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def _read(pid: int, path: str) -> str | None:
    from dockyard.runtime.paths import secure_join

    try:
        with open(secure_join(f"/proc/{pid}/root", path), errors="replace") as f:
            return f.read()
    except OSError:
        return None
