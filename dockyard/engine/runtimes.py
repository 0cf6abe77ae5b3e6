"""The OCI runtimes the engine can hand a bundle to: our own in-process one, or runc's CLI.

Both take the same bundle (config.json + rootfs dir) and give back a container init waiting at
its start gate, so the engine does networking between "created" and "started" the same way for
both. Ours mounts the rootfs overlay inside the container's mount namespace (it vanishes with the
container); for an external runtime the engine mounts it on the host first, as containerd does.
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument, Unavailable


class Launch:
    """A created container: its init pid, the pty master if it has a terminal, and how to start it.

    `cgroup` is set by the engine when the container has one: `oom_killed` asks it, and
    `cleanup` removes it after the runtime's own cleanup."""

    __slots__ = ("pid", "master", "_start", "_cleanup", "cgroup", "network")

    def __init__(self, pid: int, master: int | None, start, cleanup) -> None:
        self.pid, self.master, self._start, self._cleanup = pid, master, start, cleanup
        self.cgroup = None
        self.network = None  # NetworkSettings (docker's inspect form) when attached to networks

    def start(self) -> None:
        self._start()

    def oom_killed(self) -> bool:
        return bool(self.cgroup is not None and self.cgroup.oom_killed())

    def cleanup(self) -> None:
        try:
            self._cleanup()
        finally:
            if self.cgroup is not None:
                self.cgroup.destroy()

    def add_cleanup(self, after) -> None:
        """`cleanup` also calls `after()`, right after the runtime's own cleanup (even if that fails)."""
        first = self._cleanup

        def both() -> None:
            try:
                first()
            finally:
                after()

        self._cleanup = both


def recv_master(sock) -> int:
    """The pty master a runtime (or an exec) sent over a console socket."""
    import socket

    _msg, fds, _flags, _addr = socket.recv_fds(sock, 4096, 1)
    if not fds:
        raise Unavailable("the runtime sent no terminal")
    return fds[0]


class InProcessRuntime:
    name = "dockyard"

    def launch(self, cid: str, bundle: str, spec: dict, rootfs: str, mounts: list, *, stdio, on_pid,
               seccomp=None) -> Launch:
        from dockyard.runtime.spawn import spawn

        console_child = sock = None
        if spec["process"].get("terminal"):
            import socket

            sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            console_child = child.detach()
            os.set_inheritable(console_child, False)
        cgroup = _cgroup(spec, cid)
        try:
            spawned = spawn(spec, rootfs, stdio=stdio, console_fd=console_child,
                            rootfs_mounts=[m.to_dict() | {"target": rootfs} for m in mounts], on_pid=on_pid,
                            seccomp=seccomp, cgroup=cgroup, keyring=cid)
        except BaseException:
            if cgroup is not None:
                cgroup.destroy()
            raise
        finally:
            if console_child is not None:
                os.close(console_child)
        master = None
        if sock is not None:
            master = recv_master(sock)
            sock.close()
        launch = Launch(spawned.pid, master, spawned.start, lambda: None)
        launch.cgroup = cgroup
        return launch


def _cgroup(spec: dict, cid: str):
    """The container's cgroup, created and configured (limits set) before its init starts."""
    from dockyard.runtime.cgroups.cgroup import Cgroup

    cg = Cgroup.for_spec(spec, cid)
    if cg is not None:
        cg.create()
        try:
            cg.set()
        except BaseException:
            cg.destroy()
            raise
    return cg


class ExternalRuntime:
    """runc (or any binary with runc's CLI, such as `dockyard-runtime`) driven as a subprocess."""

    def __init__(self, binary: str, state_root: str) -> None:
        import shutil

        path = binary if "/" in binary else shutil.which(binary)
        if not path or not os.access(path, os.X_OK):
            raise InvalidArgument(f"unknown or invalid runtime name: {binary}")
        self.name = os.path.basename(binary)
        self.binary = path
        self.state_root = state_root

    def _cmd(self, *args: str) -> list[str]:
        return [self.binary, "--root", self.state_root, *args]

    def _run(self, *args: str, **kw) -> None:
        import subprocess

        p = subprocess.run(self._cmd(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
        if p.returncode != 0:
            raise Unavailable(f"{self.name} {args[0]} failed: {p.stderr.decode(errors='replace').strip()}")

    def launch(self, cid: str, bundle: str, spec: dict, rootfs: str, mounts: list, *, stdio, on_pid,
               seccomp=None) -> Launch:
        import subprocess

        from dockyard.snapshots.mount import mount_all, unmount_all

        mount_all(mounts, rootfs)
        args = ["create", "--bundle", bundle, "--pid-file", os.path.join(bundle, "init.pid")]
        listener = None
        if spec["process"].get("terminal"):
            import socket

            path = os.path.join(bundle, "console.sock")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            listener.listen(1)
            args += ["--console-socket", path]

        def cleanup() -> None:
            subprocess.run(self._cmd("delete", "--force", cid), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            unmount_all(rootfs)

        log = os.path.join(bundle, "runtime.log")
        try:
            # The container inherits create's stdio, so runc's own errors go to --log (JSON), as
            # conmon and containerd's shim arrange it; a pipe here would stay open as long as the
            # container runs.
            stdin, stdout, stderr = stdio
            # runc passes the signal mask it inherits on to the container: it starts from a clean one
            from dockyard.linux.signals import reset_signals

            proc = subprocess.Popen([self.binary, "--root", self.state_root, "--log", log, "--log-format", "json",
                                     *args, cid], stdin=stdin, stdout=stdout, stderr=stderr,
                                    preexec_fn=reset_signals)
            master = None
            if listener is not None:
                listener.settimeout(0.05)
                while master is None and proc.poll() is None:
                    try:
                        conn, _ = listener.accept()
                    except TimeoutError:
                        continue  # create failing before it connects is seen by poll()
                    conn.settimeout(30)
                    master = recv_master(conn)
                    conn.close()
                listener.close()
            if proc.wait() != 0:
                msg = _last_error(log) or f"{self.name} create exited with {proc.returncode}"
                from dockyard.runtime.spawn import StartError

                # runc reports exec failures only in words; docker maps them to 126/127 the same way.
                code = 127 if "executable file not found" in msg or "no such file or directory" in msg \
                    else 126 if "permission denied" in msg else 125
                raise StartError(msg, code)
            with open(os.path.join(bundle, "init.pid")) as f:
                pid = int(f.read().strip())
            if on_pid is not None:
                on_pid(pid)
        except BaseException:
            cleanup()
            raise
        return Launch(pid, master, lambda: self._run("start", cid), cleanup)


    # Operations on a running container it created: the runtime that made a container is the one
    # that signals, freezes and joins it (runc keeps its own state and cgroup bookkeeping).

    def kill(self, cid: str, sig: int) -> None:
        self._run("kill", cid, str(sig))

    def pause(self, cid: str) -> None:
        self._run("pause", cid)

    def resume(self, cid: str) -> None:
        self._run("resume", cid)

    def exec_command(self, cid: str, process_file: str, *, pid_file: str = "") -> list[str]:
        """`runc exec` of a process.json (its `terminal` decides the pty): the argv to run; the
        caller owns stdio and waiting."""
        args = ["exec", "--process", process_file]
        if pid_file:
            args += ["--pid-file", pid_file]
        return self._cmd(*args, cid)


def _last_error(log: str) -> str:
    import json

    msg = ""
    try:
        with open(log) as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("level") == "error":
                    msg = entry.get("msg", "")
    except OSError:
        pass
    return msg


def forget(name: str, runroot: str, cid: str) -> None:
    """Make an external runtime drop a container it may still hold (`runc delete --force`: kills
    an init left waiting at its start gate by a killed `run`, removes runc's state and cgroup).
    Nothing to do for our own runtime, whose init dies with its parent."""
    import subprocess

    try:
        rt = get_runtime(name, runroot)
    except InvalidArgument:
        return  # the runtime binary is gone: it holds nothing we could ask it to drop
    if isinstance(rt, ExternalRuntime):
        subprocess.run(rt._cmd("delete", "--force", cid), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def get_runtime(name: str, runroot: str):
    if name in ("", "dockyard"):
        return InProcessRuntime()
    return ExternalRuntime(name, os.path.join(runroot, "runtimes", os.path.basename(name)))


def external_runtime(engine, rec) -> ExternalRuntime | None:
    """The external runtime (runc) that created this container, or None for our own."""
    name = (rec.config or {}).get("runtime") or "dockyard"
    return None if name == "dockyard" else get_runtime(name, engine.runroot)
