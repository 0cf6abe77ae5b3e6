"""runc's container model: create, start, state, kill, delete, list over a state directory.

State lives in `<root>/<id>/state.json` written atomically; the status is *derived*, never stored
(a stored "running" would lie after a crash): an exec.fifo still present means `created`, a live
init whose start time matches the recorded one means `running` (the start time guards against pid
reuse), a frozen cgroup means `paused`, anything else is `stopped`.
"""

from __future__ import annotations

import os
import time

from dockyard import jsonfast as json  # the C codec without `re` & co: every verb reads state.json
from dockyard.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from dockyard.record import Record
from dockyard.runtime.procfs import mounts_under, proc_start_time, wait_gone

# runc's `^[\w+-\.]+$` (Go: ASCII \w, and `+-\.` is the range + , - .), without "." and ".."
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+,-.")


class ContainerState(Record):
    """What `state` reports: id, pid, status (created|running|stopped), bundle, rootfs, created."""

    __slots__ = ("id", "pid", "status", "bundle", "rootfs", "created", "annotations", "owner")
    _defaults = {"owner": ""}

    def to_json(self, *, owner: str | None = None) -> dict:
        """runc's state JSON: `annotations` only when there are some; `owner` is "" in `state`
        and the user name in `list`."""
        out = {"ociVersion": "1.0.2", "id": self.id, "pid": self.pid if self.status != "stopped" else 0,
               "status": self.status, "bundle": self.bundle, "rootfs": self.rootfs, "created": self.created}
        if self.annotations:
            out["annotations"] = self.annotations
        out["owner"] = self.owner if owner is None else owner
        return out


def rfc3339_now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


class Runtime:
    """An OCI runtime over a state directory, the library behind `dockyard-runtime`."""

    def __init__(self, root: str = "/run/dockyard-runtime", *, warn=None, systemd_cgroup: bool = False) -> None:
        self.root = root
        self.warn = warn or _warn  # where a poststop hook's failure goes: it fails nothing
        self.systemd_cgroup = systemd_cgroup  # read cgroupsPath as slice:prefix:name (--systemd-cgroup)

    def _dir(self, cid: str) -> str:
        if not cid or cid in (".", "..") or not _ID_CHARS.issuperset(cid):
            raise InvalidArgument(f"invalid container id {cid!r}")
        return os.path.join(self.root, cid)

    def _load(self, cid: str) -> dict:
        try:
            with open(os.path.join(self._dir(cid), "state.json")) as f:
                return json.load(f)
        except FileNotFoundError:
            raise NotFound(f"container does not exist: {cid}") from None

    def create(self, cid: str, bundle: str, *, stdio=None, console_fd: int | None = None,
               pid_file: str | None = None, preserve_fds: int = 0, new_keyring: bool = True) -> ContainerState:
        from dockyard.runtime.spawn import spawn
        from dockyard.runtime.spec import load_bundle

        bundle = os.path.abspath(bundle)
        spec, rootfs = load_bundle(bundle)
        hooks = {k: v for k, v in (spec.get("hooks") or {}).items() if v}
        annotations = spec.get("annotations") or {}
        d = self._dir(cid)
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        try:
            os.mkdir(d, 0o711)
        except FileExistsError:
            raise AlreadyExists(f"container with id exists: {cid}") from None
        fifo = os.path.join(d, "exec.fifo")
        cgroup = None
        # Without a mount namespace of its own the container's mounts are made in ours: note
        # which are there already, so that `delete` (or a failed create) takes down the rest.
        host_ns = not any(ns.get("type") == "mount" for ns in (spec.get("linux") or {}).get("namespaces") or ())
        before = [i for i, _ in mounts_under(rootfs)] if host_ns else None
        try:
            os.mkfifo(fifo, 0o622)
            os.chmod(fifo, 0o622)  # as runc: writable by the container's (possibly non-root) user
            rootfs_mounts = spec_rootfs_mounts(spec)
            from dockyard.runtime.cgroups.cgroup import Cgroup

            cgroup = Cgroup.for_spec(spec, cid, systemd=self.systemd_cgroup)
            if cgroup is not None:
                cgroup.create()
                cgroup.set()
                for note in cgroup.skipped:  # what runc too only warns about (kernel memory)
                    os.write(2, f"dockyard-runtime: warning: {note}\n".encode())
            on_hooks = None
            if hooks.get("prestart") or hooks.get("createRuntime"):
                def on_hooks(pid: int) -> None:  # once init's namespaces and mounts exist
                    from dockyard.runtime.hooks import run_hooks, state_json

                    st = state_json(cid=cid, status="creating", pid=pid, bundle=bundle, annotations=annotations)
                    run_hooks("prestart", hooks.get("prestart"), st)  # deprecated; right before createRuntime
                    run_hooks("createRuntime", hooks.get("createRuntime"), st)
            spawned = spawn(spec, rootfs, stdio=stdio, fifo_path=fifo, console_fd=console_fd,
                            preserve_fds=preserve_fds, rootfs_mounts=rootfs_mounts, cgroup=cgroup,
                            on_hooks=on_hooks,
                            hook_state={"id": cid, "bundle": bundle, "annotations": annotations} if hooks else None,
                            keyring=cid if new_keyring else None)
            st = ContainerState(id=cid, pid=spawned.pid, status="created", bundle=bundle, rootfs=rootfs,
                                created=rfc3339_now(), annotations=annotations)
            started = proc_start_time(spawned.pid)
            if started is None:
                raise Conflict("container init exited before it was started")
            rec = st.to_json() | {"start_time": started, "mounts_before": before, "no_new_keyring": not new_keyring,
                                  "cgroup": cgroup.to_json() if cgroup is not None else None}
            if hooks:
                rec["hooks"] = hooks  # start and delete run them as created, whatever the bundle holds by then
            _write_atomic(os.path.join(d, "state.json"), json.dumps(rec))
            if pid_file:
                _write_atomic(os.path.abspath(pid_file), str(spawned.pid))
        except BaseException:
            if cgroup is not None:
                cgroup.destroy()
            if before is not None:
                _unmount_new(rootfs, before)
            _rmtree(d)
            # runtime-spec: a failed create destroys the container, then runs the poststop hooks
            self._poststop(hooks, cid, bundle, annotations)
            raise
        return st

    def _poststop(self, hooks: dict | None, cid: str, bundle: str, annotations: dict) -> None:
        if not hooks or not hooks.get("poststop"):
            return
        from dockyard.runtime.hooks import run_poststop, state_json

        for w in run_poststop(hooks["poststop"], state_json(cid=cid, status="stopped", pid=0, bundle=bundle,
                                                            annotations=annotations)):
            self.warn(w)

    def state(self, cid: str) -> ContainerState:
        rec = self._load(cid)
        return ContainerState(id=rec["id"], pid=rec["pid"], status=self._status(cid, rec), bundle=rec["bundle"],
                              rootfs=rec["rootfs"], created=rec["created"], annotations=rec.get("annotations") or {},
                              owner=rec.get("owner", ""))

    def _status(self, cid: str, rec: dict) -> str:
        pid = rec.get("pid") or 0
        if not pid or proc_start_time(pid) != rec.get("start_time"):
            return "stopped"
        if os.path.exists(os.path.join(self._dir(cid), "exec.fifo")):
            return "created"
        cg = _cgroup_of(rec)
        if cg is not None and cg.frozen():
            return "paused"
        return "running"

    def pause(self, cid: str) -> None:
        rec = self._load(cid)
        if self._status(cid, rec) != "running":
            raise Conflict("container not running")
        cg = _cgroup_of(rec)
        if cg is None:
            raise Conflict("container has no cgroup to freeze")
        cg.freeze()

    def resume(self, cid: str) -> None:
        rec = self._load(cid)
        if self._status(cid, rec) != "paused":
            raise Conflict("container not paused")
        _cgroup_of(rec).thaw()

    def start(self, cid: str) -> None:
        rec = self._load(cid)
        status = self._status(cid, rec)
        if status != "created":
            raise Conflict(f"cannot start a container that has {status}" if status == "stopped"
                           else f"cannot start an already {status} container")
        fifo = os.path.join(self._dir(cid), "exec.fifo")
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            import select

            poller = select.poll()
            poller.register(fd, select.POLLIN)
            while True:
                if poller.poll(100):
                    if os.read(fd, 1):
                        break
                if proc_start_time(rec["pid"]) != rec.get("start_time"):
                    raise Conflict("container init exited before it was started")
            hooks = rec.get("hooks") or {}
            said = b""
            if hooks.get("startContainer") or hooks.get("poststart"):
                # init holds the fifo open until its exec (close-on-exec): what it writes meanwhile
                # is why a startContainer hook stopped it
                os.set_blocking(fd, True)
                while chunk := os.read(fd, 4096):
                    said += chunk
        finally:
            os.close(fd)
        os.unlink(fifo)
        # Only init's dying words count: a host process that can open the fifo (mode 0622, as
        # runc's) could write there too, but it cannot make init exit.
        if said and wait_gone(rec["pid"], rec.get("start_time"), 5.0):
            from dockyard.runtime.hooks import HookError

            raise HookError(said.decode(errors="replace"))
        if hooks.get("poststart"):
            self._poststart(cid, rec, hooks["poststart"])

    def _poststart(self, cid: str, rec: dict, hooks: list) -> None:
        """After the user process started; a failure kills the container (left for `delete`),
        as runc does, and fails `start`."""
        from dockyard.runtime.hooks import HookError, run_hooks, state_json

        status = self._status(cid, rec)
        st = state_json(cid=cid, status=status, pid=rec["pid"] if status != "stopped" else 0, bundle=rec["bundle"],
                        annotations=rec.get("annotations"))
        try:
            run_hooks("poststart", hooks, st)
        except HookError:
            try:
                os.kill(rec["pid"], 9)
            except ProcessLookupError:
                pass
            wait_gone(rec["pid"], rec.get("start_time"), 10.0)
            raise

    def kill(self, cid: str, sig: str | int = "SIGTERM", *, all_processes: bool = False) -> None:
        rec = self._load(cid)
        if self._status(cid, rec) == "stopped":
            raise Conflict("container not running")
        from dockyard.signals import parse_signal

        signum = 0 if str(sig) == "0" else parse_signal(sig)  # runc lets `kill ID 0` probe
        pids = [rec["pid"]]
        if all_processes:
            cg = _cgroup_of(rec)
            pids = (cg.pids() if cg is not None else None) or _pids_in_pidns(rec["pid"]) or pids
        for p in pids:
            try:
                os.kill(p, signum)
            except ProcessLookupError:
                pass

    def delete(self, cid: str, *, force: bool = False) -> None:
        rec = self._load(cid)
        status = self._status(cid, rec)
        if status == "running" and not force:
            raise Conflict(f"cannot delete container {cid} that is not stopped: {status}")
        if status != "stopped":
            # Without a cgroup (which destroy() empties) nor a pid namespace (which dies with its
            # init), the init's descendants must be found before it dies and they move away.
            victims = [rec["pid"]] if _cgroup_of(rec) is not None else _pids_in_pidns(rec["pid"]) or [rec["pid"]]
            for p in victims:
                try:
                    os.kill(p, 9)  # SIGKILL
                except ProcessLookupError:
                    pass
            wait_gone(rec["pid"], rec.get("start_time"), 10.0)
        cg = _cgroup_of(rec)
        if cg is not None:
            cg.destroy()
        if rec.get("mounts_before") is not None:
            _unmount_new(rec["rootfs"], rec["mounts_before"])
        _rmtree(self._dir(cid))
        self._poststop(rec.get("hooks"), cid, rec["bundle"], rec.get("annotations") or {})

    def exec(self, cid: str, process: dict, *, stdio=None, console_fd: int | None = None,
             pid_file: str | None = None, preserve_fds: int = 0) -> int:
        """Start `process` in the running container; returns its pid (it is not our child)."""
        from dockyard.runtime.exec import exec_process
        from dockyard.runtime.spec import load_bundle

        rec = self._load(cid)
        status = self._status(cid, rec)
        if status != "running":
            raise Conflict(f"cannot exec in a {status} container")
        spec, _ = load_bundle(rec["bundle"])
        pid = exec_process(rec["pid"], spec, process, stdio=stdio, console_fd=console_fd,
                           preserve_fds=preserve_fds, keyring=None if rec.get("no_new_keyring") else cid)
        if pid_file:
            _write_atomic(os.path.abspath(pid_file), str(pid))
        return pid

    def list(self) -> list[ContainerState]:
        out = []
        try:
            names = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return out
        for cid in names:
            try:
                out.append(self.state(cid))
            except NotFound:
                continue
        return out

    def spawn_created(self, cid: str):  # pragma: no cover - convenience for callers
        from dockyard.runtime.spawn import Spawned

        rec = self._load(cid)
        return Spawned(pid=rec["pid"], gate_fd=None)


def _cgroup_of(rec: dict):
    if not rec.get("cgroup"):
        return None
    from dockyard.runtime.cgroups.cgroup import Cgroup

    return Cgroup.from_json(rec["cgroup"])


def spec_rootfs_mounts(spec: dict) -> list[dict]:
    """Mounts that make up the rootfs, passed by dockyard's engine in an annotation.

    Other runtimes ignore the annotation (the engine mounts the rootfs itself for them); ours
    mounts it inside the container's mount namespace, so it vanishes with the container.
    """
    raw = (spec.get("annotations") or {}).get("org.dockyard.rootfs.mounts")
    return json.loads(raw) if raw else []


def _unmount_new(rootfs: str, before: list) -> None:
    """Detach every mount at or below `rootfs` that was not there when the container was
    created (a container without a mount namespace makes them in ours), newest first."""
    from dockyard.errors import SyscallError
    from dockyard.linux import syscalls as sc

    old = set(before)
    for mid, point in reversed(mounts_under(rootfs)):
        if mid not in old:
            try:
                sc.umount2(point, sc.MNT_DETACH)
            except SyscallError as e:
                if e.errno not in (2, 22):  # gone already, or covered and taken with its parent
                    raise


def _pids_in_pidns(init_pid: int) -> list[int]:
    """The container's processes when it has no cgroup: those in its pid namespace, or, when that
    is our own (no pid namespace of its own), init and its descendants, never every process
    of the host."""
    try:
        target = os.readlink(f"/proc/{init_pid}/ns/pid")
    except OSError:
        return []
    if target == os.readlink("/proc/self/ns/pid"):
        return _descendants(init_pid)
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.readlink(f"/proc/{name}/ns/pid") == target:
                    pids.append(int(name))
            except OSError:
                continue
    return pids


def _descendants(root: int) -> list[int]:
    """`root` and every process below it, from the parent pids in /proc/*/stat."""
    children: dict = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    data = f.read()
            except OSError:
                continue
            ppid = int(data[data.rfind(b")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _warn(msg: str) -> None:
    import sys

    sys.stderr.write(f"warning: {msg}\n")


def _write_atomic(path: str, data: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(data)
    os.replace(tmp, path)


def _rmtree(path: str) -> None:
    from dockyard.fsutil import rmtree  # not shutil: its archive codecs cost `delete` ~6 ms

    try:
        rmtree(path)
    except OSError:
        pass
