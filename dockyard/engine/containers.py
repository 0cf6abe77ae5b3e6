"""Containers: create (record + snapshot + bundle), run in the foreground, remove.

The record in the state database is the truth about a container; the status shown to users is
derived from it plus the kernel (a "running" container whose init is gone is reported exited),
so a killed CLI never leaves `ps` lying.
"""

from __future__ import annotations

from dockyard import jsonfast as json  # the C codec without `re` & co: a hot path

import os
import time

from dockyard.errors import ContainerRunning, InvalidArgument, NameInUse
from dockyard.engine.config import ContainerConfig

# --userns auto: container uid 0..65535 is host uid 100000..165535 (the subuid range Debian's
# useradd hands out first, and what Docker's userns-remap picks for its "dockremap" user).
USERNS_SHIFT, USERNS_SIZE = 100000, 65536
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def validate_name(name: str) -> str:
    name = name.removeprefix("/")
    if not name or name[0] not in _NAME_CHARS or name[0] in "_.-" or not set(name) <= _NAME_CHARS:
        raise InvalidArgument(f'Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed')
    return name


def read_rootfs_file(dirs: list[str], path: str) -> str | None:
    """A file's text from the first layer dir (top first) that has it; None if none has."""
    import stat

    rel = path.lstrip("/")
    for d in dirs:
        p = os.path.join(d, rel)
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            return None  # an overlay whiteout: deleted in this layer
        if stat.S_ISREG(st.st_mode):
            with open(p, errors="replace") as f:
                return f.read()
        return None
    return None


def process_status(pid: int, start_time: int | None) -> bool:
    from dockyard.runtime.procfs import proc_start_time

    return bool(pid) and proc_start_time(pid) == start_time


def effective_state(rec) -> dict:
    """The record's state, corrected by the kernel: a dead init means the container has exited.

    While its monitor lives, the monitor is about to record the exit itself (with the real exit
    code), so only a container with neither init nor monitor is declared exited here.
    """
    st = dict(rec.state)
    if st.get("Status") in ("running", "paused", "restarting") and \
            not process_status(st.get("Pid", 0), st.get("PidStartTime")):
        if process_status(st.get("MonitorPid", 0), st.get("MonitorStartTime")):
            return st
        st.update(Status="exited", Running=False, Paused=False, Restarting=False, Pid=0,
                  ExitCode=st.get("ExitCode") or 137,
                  Error=st.get("Error") or "container process disappeared")
    return st


def container_cgroup(engine, rec):
    """The container's cgroup, rebuilt from its bundle's spec (None if it has no bundle)."""
    from dockyard.runtime.cgroups import Cgroup

    try:
        with open(os.path.join(engine.container_dir(rec.id), "config.json")) as f:
            spec = json.load(f)
    except OSError:
        return None
    return Cgroup.for_spec(spec, rec.id)


class Created:
    """A container made by `create`, with what `start` needs to launch it without re-reading it."""

    __slots__ = ("rec", "cfg", "spec", "bundle", "rootfs", "mounts", "seccomp")

    def __init__(self, rec, cfg, spec, bundle, rootfs, mounts, seccomp=None) -> None:
        self.rec, self.cfg, self.spec, self.bundle, self.rootfs, self.mounts = rec, cfg, spec, bundle, rootfs, mounts
        self.seccomp = seccomp  # (BPF program, flags) of spec's profile, precompiled


def create(engine, cfg: ContainerConfig, name: str | None = None, *, image_volumes: bool = True,
           launched: bool = False) -> Created:
    """docker create: the record, the writable snapshot, and the bundle. `image_volumes=False`
    (build steps) gives the image's VOLUMEs no anonymous volume, as BuildKit does. `launched`
    (`run`): the record names this process as the one that starts it, so a `--rm` container
    whose launcher is killed before it could remove it is removed by the next command."""
    from dockyard.engine.names import random_name
    from dockyard.engine.specgen import command, process_env
    from dockyard.engine.users import resolve_user
    from dockyard.state.db import ContainerRecord

    from dockyard.engine.security import parse as security_opts

    sec = security_opts(cfg.security_opt)  # refused before anything is made
    from dockyard.engine.resources import check_resources

    cfg, warnings = check_resources(cfg)  # limits this host lacks: discarded with docker's warning
    for w in warnings:
        os.write(2, f"WARNING: {w}\n".encode())  # where docker's CLI prints create's Warnings
    if cfg.privileged and isinstance(sec.seccomp, dict):
        raise InvalidArgument("--privileged runs without seccomp: a seccomp profile cannot be combined with it")
    images = engine.images
    image = images.resolve(cfg.image)
    full = images.config(image)
    icfg = full.get("config") or {}
    check_image_defaults(icfg, cfg)
    top = images.ensure_unpacked(image, full)
    lowers = engine.snapshots.lowerdirs(top) if top else []
    user = resolve_user(cfg.user or icfg.get("User") or "", read_rootfs_file(lowers, "/etc/passwd"),
                        read_rootfs_file(lowers, "/etc/group"))
    if cfg.network not in ("none", "host"):
        from dockyard.engine.networking import check_config

        if cfg.publish_all:  # -P: the image's EXPOSEd ports, fixed now so `start` publishes the same
            from dockyard.network.ports import exposed_ports, merge

            cfg = cfg.replace(ports=tuple(merge(list(cfg.ports), exposed_ports(icfg))))
        check_config(engine, cfg)
    if cfg.mounts or (image_volumes and icfg.get("Volumes")):  # see engine/mounts.py
        from dockyard.engine.mounts import resolve

        cfg = cfg.replace(mounts=resolve(engine, cfg.mounts, icfg, image_volumes=image_volumes))
    cid = os.urandom(32).hex()
    name_given = bool(name)
    name = validate_name(name) if name else random_name()
    if cfg.network == "host":
        hostname = cfg.hostname or os.uname().nodename
    elif cfg.network.startswith("container:"):
        if cfg.hostname:
            raise InvalidArgument("conflicting options: hostname and the network mode")
        hostname = _joined(engine, cfg).state.get("Hostname") or cid[:12]
    else:
        hostname = cfg.hostname or cid[:12]
    args = command(cfg, icfg)
    state = {"Status": "created", "ExitCode": 0, "Pid": 0, "Path": args[0], "Args": args[1:],
             "Hostname": hostname, "Env": process_env(cfg, icfg, hostname, user.home),
             "ImageCmd": icfg.get("Cmd"), "ImageEntrypoint": icfg.get("Entrypoint"),
             "StopSignal": icfg.get("StopSignal") or "SIGTERM", "RestartCount": 0}
    if launched:
        from dockyard.engine.repair import owner_now

        state["Launcher"] = owner_now()
    rec = ContainerRecord(id=cid, name=name, image_id=image.id, image=cfg.image, created=time.time(),
                          config=cfg.to_json(), state=state)
    if cfg.userns:
        _check_traversable(engine.container_dir(cid))
    made = []  # volumes made for this container (removed again if it fails)
    for attempt in range(10):
        try:
            if cfg.mounts:
                from dockyard.engine.mounts import insert_with_volumes

                made = insert_with_volumes(engine, rec, cfg.mounts)
            else:
                engine.db.insert_container(rec)
            break
        except NameInUse:
            if name_given or attempt == 9:
                raise
            rec = rec.replace(name=random_name())  # a generated name taken meanwhile: draw again, as docker does
    try:
        os.makedirs(engine.container_dir(cid), mode=0o755)
        mounts = engine.snapshots.prepare(cid, top, uid_shift=USERNS_SHIFT if cfg.userns else 0)
        if cfg.mounts:
            from dockyard.engine.volumes import seed

            seed(engine, cid, cfg.mounts, lowers, uid_shift=USERNS_SHIFT if cfg.userns else 0)
        return _bundle(engine, rec, cfg, icfg, user, mounts)
    except BaseException:
        _cleanup_files(engine, cid)
        engine.db.must(engine.db.delete_container, cid)
        if made:
            from dockyard.engine.volumes import remove_unused

            remove_unused(engine, made)
        raise


def check_image_defaults(icfg, cfg: ContainerConfig) -> None:
    """What a container takes from its image and the caller, checked before anything is made:
    an image stored before images were checked on the way in (images/validate.py) may hold a
    crafted config, and API callers bypass the CLI's checks."""
    if not isinstance(icfg, dict):
        raise InvalidArgument("the image's config is not an object")
    for where, items in (("the image's Env", icfg.get("Env")), ("the environment", cfg.env),
                         ("the image's Cmd", icfg.get("Cmd")), ("the image's Entrypoint", icfg.get("Entrypoint")),
                         ("the command", cfg.cmd), ("the entrypoint", cfg.entrypoint)):
        if items is None:
            continue
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise InvalidArgument(f"{where} is not a list of strings")
        for i in items:
            if "\0" in i:
                raise InvalidArgument(f"{where} holds {i.partition('=')[0]!r} with a NUL byte in it")
    signal = cfg.stop_signal or icfg.get("StopSignal")
    if signal:
        from dockyard.signals import parse_signal

        try:
            parse_signal(signal)
        except InvalidArgument:
            raise InvalidArgument(f"Invalid signal: {signal}"
                                  + ("" if cfg.stop_signal else " (the image's StopSignal)")) from None


def _check_traversable(path: str) -> None:
    """A user-namespaced container's root is an unprivileged host uid: every directory above its
    bundle must let others search it, or mounting its root fails with a bare EACCES."""
    from dockyard.fsutil import first_unsearchable

    found = first_unsearchable(os.path.dirname(os.path.abspath(path)))
    if found is not None:
        d, mode = found
        raise InvalidArgument(f"--userns auto needs every directory above the container's bundle to be "
                              f"searchable by other users, and {d} has mode {oct(mode & 0o777)}",
                              hint=f"chmod o+x {d}, or use a --runroot outside it")


def prepare(engine, rec) -> Created:
    """The bundle of an existing container, (re)written: `start` after a reboot wiped the runroot,
    or after the image's user database changed in the container's own upper layer."""
    from dockyard.engine.users import resolve_user

    cfg = ContainerConfig.from_json(rec.config)
    image = engine.db.get_image(rec.image_id)
    if image is None:
        from dockyard.errors import ImageNotFound

        raise ImageNotFound(f"No such image: {rec.image_id} (the container's image was removed)")
    full = engine.images.config(image)
    icfg = full.get("config") or {}
    top = engine.images.ensure_unpacked(image, full)
    dirs = [engine.snapshots.upper_dir(rec.id)] + (engine.snapshots.lowerdirs(top) if top else [])
    user = resolve_user(cfg.user or icfg.get("User") or "", read_rootfs_file(dirs, "/etc/passwd"),
                        read_rootfs_file(dirs, "/etc/group"))
    os.makedirs(engine.container_dir(rec.id), mode=0o755, exist_ok=True)
    return _bundle(engine, rec, cfg, icfg, user, engine.snapshots.mounts(rec.id))


def _joined(engine, cfg: ContainerConfig):
    """--network container:NAME: that container, which must be running."""
    ref = cfg.network.partition(":")[2]
    other = engine.db.get_container(ref)
    st = effective_state(other)
    if st.get("Status") not in ("running", "paused"):
        from dockyard.errors import Conflict

        raise Conflict(f"cannot join network namespace of a non running container: {other.name}")
    return other


def _bundle(engine, rec, cfg: ContainerConfig, icfg: dict, user, mounts) -> Created:
    from dockyard.engine.specgen import build_spec
    from dockyard.network.etcfiles import write_etc_files

    bundle = engine.container_dir(rec.id)
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(rootfs, mode=0o755, exist_ok=True)
    hostname = rec.state.get("Hostname") or rec.id[:12]
    netns_path = None
    if cfg.network.startswith("container:"):  # its namespace, and its hosts and resolv.conf, as docker does
        other = _joined(engine, cfg)
        netns_path = f"/proc/{effective_state(other)['Pid']}/ns/net"
        odir = engine.container_dir(other.id)
        etc = {f"/etc/{n}": os.path.join(odir, n) for n in ("hosts", "hostname", "resolv.conf")}
    else:
        user_network = cfg.network not in ("none", "host", "bridge", "default")
        etc = write_etc_files(bundle, hostname, host_network=cfg.network == "host", embedded_dns=user_network)
    seccomp = compiled = None
    if not cfg.privileged:
        from dockyard.engine.security import parse, seccomp_program
        from dockyard.engine.specgen import capabilities

        found = seccomp_program(os.path.join(engine.root, "cache"), parse(cfg.security_opt), capabilities(cfg))
        if found is not None:
            seccomp, prog, flags = found
            compiled = (prog, flags)
    user_mounts = None
    if cfg.mounts:  # volumes, binds, tmpfs: engine/mounts.py
        from dockyard.engine.mounts import oci_mounts

        user_mounts = oci_mounts(engine, cfg.mounts)
    spec = build_spec(cfg, icfg, user=user, hostname=hostname, etc_files=etc, rootfs=rootfs,
                      seccomp=seccomp, userns_map=(USERNS_SHIFT, USERNS_SIZE) if cfg.userns else None,
                      cgroups_path=f"/dockyard/{rec.id}", netns_path=netns_path, mounts=user_mounts)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    return Created(rec, cfg, spec, bundle, rootfs, mounts, compiled)


def launch_container(engine, c: Created, *, stdio):
    """Hand the bundle to the container's runtime: returns a Launch waiting at its start gate,
    with networking done. The Launch's cleanup gives the network back (addresses, rules, ports)."""
    from dockyard.engine.runtimes import get_runtime

    runtime = get_runtime(c.cfg.runtime, engine.runroot)
    held = []

    def on_pid(pid: int) -> None:
        if c.cfg.network == "none":  # the common scripted case: one ioctl, no imports
            from dockyard.linux.netdev import in_netns, set_link_up

            in_netns(pid, set_link_up, "lo")
        elif c.cfg.network != "host":
            from dockyard.engine.networking import attach

            held.append(attach(engine, c.rec.id, c.rec.name, c.cfg, pid))

    try:
        launch = runtime.launch(c.rec.id, c.bundle, c.spec, c.rootfs, c.mounts, stdio=stdio, on_pid=on_pid,
                                seccomp=c.seccomp)
    except BaseException:
        if held and held[0] is not None:
            from dockyard.engine.networking import detach

            detach(engine, c.rec.id, attachment=held[0])
        raise
    att = held[0] if held else None
    launch.network = att.settings if att is not None else None
    if att is not None:
        runtime_cleanup = launch._cleanup

        def cleanup() -> None:
            try:
                runtime_cleanup()
            finally:
                from dockyard.engine.networking import detach

                detach(engine, c.rec.id, attachment=att)

        launch._cleanup = cleanup
    return launch


def start_foreground(engine, c: Created, *, stdin_open: bool) -> int:
    """Start a created container attached to our terminal; return its exit code (docker's rules)."""
    from dockyard.linux import syscalls as sc
    from dockyard.runtime.procfs import proc_start_time
    from dockyard.runtime.wait import forward_signals, wait_exit

    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    null = None
    if c.cfg.tty:
        stdio = (0, 1, 2)
        _set_console_size(c)
    else:
        if not stdin_open:
            null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        stdio = (0 if stdin_open else null, 1, 2)
    try:
        launch = launch_container(engine, c, stdio=stdio)
    finally:
        if null is not None:
            os.close(null)
    state = dict(c.rec.state)
    state.update(Status="running", Running=True, Pid=launch.pid, PidStartTime=proc_start_time(launch.pid),
                 ExitCode=0, StartedAt=rfc3339(time.time()), FinishedAt="0001-01-01T00:00:00Z",
                 NetworkSettings=launch.network or {})
    code = 255
    try:
        engine.db.update_state(c.rec.id, state)
        launch.start()
        if launch.master is not None:
            from dockyard.engine.attach import proxy_tty

            proxy_tty(launch.master, stdin_open=stdin_open)
            code = wait_exit(launch.pid)
        else:
            restore = forward_signals(launch.pid)
            try:
                code = wait_exit(launch.pid)
            finally:
                restore()
    finally:
        oom = launch.oom_killed()
        launch.cleanup()
        state.update(Status="exited", Running=False, Pid=0, ExitCode=code, OOMKilled=oom,
                     FinishedAt=rfc3339(time.time()), NetworkSettings={})
        if not c.cfg.auto_remove:
            engine.db.must(engine.db.update_state, c.rec.id, state)
    return code


def _set_console_size(c: Created) -> None:
    """The container's terminal starts with our terminal's size (init applies consoleSize), so
    nothing it prints first is laid out for a 0x0 screen."""
    import fcntl
    import struct
    import termios

    for fd in (0, 1, 2):
        if os.isatty(fd):
            rows, cols = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))[:2]
            if rows and cols:
                c.spec["process"]["consoleSize"] = {"height": rows, "width": cols}
                if c.cfg.runtime not in ("", "dockyard"):  # an external runtime reads config.json
                    with open(os.path.join(c.bundle, "config.json"), "w") as f:
                        json.dump(c.spec, f)
            return


def _cleanup_files(engine, cid: str, *, orphaned_cgroup: bool = True, had_ports: bool = False) -> None:
    """Remove a container's snapshot, bundle and (when whoever ran it may have died before it
    could) its cgroup, network endpoints and port rules."""
    from dockyard.fsutil import rmtree
    from dockyard.snapshots.mount import unmount_all

    if orphaned_cgroup:
        from dockyard.engine.networking import detach

        detach(engine, cid, had_ports=had_ports, reap_links=True)

    bundle = engine.container_dir(cid)
    rootfs = os.path.join(bundle, "rootfs")
    if os.path.ismount(rootfs):
        unmount_all(rootfs)
    if orphaned_cgroup and os.path.exists(os.path.join(bundle, "config.json")):
        # normally removed by whoever ran the container; not if that process was killed
        from dockyard.state.db import ContainerRecord

        cg = container_cgroup(engine, ContainerRecord(id=cid, name="", image_id="", image="", created=0,
                                                      config={}, state={}))
        if cg is not None and cg.exists():
            cg.destroy()
    engine.snapshots.remove(cid, missing_ok=True)
    rmtree(bundle)


def remove(engine, ref: str, *, force: bool = False, volumes: bool = False, only_if=None) -> str:
    """docker rm [-f] [-v]: a running container needs force (then it is killed first); -v also
    removes its anonymous volumes (those no other container uses). `only_if(rec)`, checked under
    the container's lock, must hold for the removal to go on (a repair re-checking its reason)."""
    from dockyard.engine.lifecycle import ContainerLock
    from dockyard.fsutil import rmtree

    rec = engine.db.get_container(ref)
    with ContainerLock(engine, rec.id):
        rec = engine.db.get_container(rec.id)
        if only_if is not None and not only_if(rec):
            return rec.name
        st = effective_state(rec)
        if st.get("Status") in ("running", "paused", "restarting"):
            if not force:
                raise ContainerRunning(
                    f"You cannot remove a running container {rec.id}. Stop the container before attempting "
                    "removal or force remove")
            from dockyard.engine.lifecycle import _await_exit_recorded, _set
            from dockyard.runtime.procfs import wait_gone

            _set(engine, rec.id, ManuallyStopped=True)
            if st.get("Status") == "paused":  # frozen tasks cannot die: thaw first
                cg = container_cgroup(engine, rec)
                if cg is not None:
                    cg.thaw()
            if process_status(st.get("Pid", 0), st.get("PidStartTime")):
                os.kill(st["Pid"], 9)
                wait_gone(st["Pid"], st.get("PidStartTime"), 10.0)
            _await_exit_recorded(engine, rec.id)
        if rec.config.get("runtime") not in (None, "", "dockyard"):
            from dockyard.engine.runtimes import forget

            forget(rec.config["runtime"], engine.runroot, rec.id)  # e.g. an init stuck at runc's start gate
        _cleanup_files(engine, rec.id, had_ports=bool(rec.config.get("ports")))
        engine.db.must(engine.db.delete_container, rec.id)
    rmtree(engine.container_data_dir(rec.id))
    if volumes and rec.config.get("mounts"):
        from dockyard.engine.volumes import remove_anonymous

        remove_anonymous(engine, rec.config["mounts"])
    return rec.name


def run(engine, cfg: ContainerConfig, name: str | None = None, *, stdin_open: bool = False) -> int:
    c = create(engine, cfg, name, launched=True)
    try:
        return start_foreground(engine, c, stdin_open=stdin_open)
    finally:
        if cfg.auto_remove:  # start_foreground removed the cgroup itself
            _cleanup_files(engine, c.rec.id, orphaned_cgroup=False)
            engine.db.must(engine.db.delete_container, c.rec.id)
            if c.cfg.mounts:  # --rm takes the anonymous volumes along, as docker's does
                from dockyard.engine.volumes import remove_anonymous

                remove_anonymous(engine, c.cfg.mounts)


def run_detached(engine, cfg: ContainerConfig, name: str | None = None) -> str:
    """docker run -d: create, hand the container to its monitor, return its id once it runs."""
    from dockyard.engine.monitor import start_detached

    c = create(engine, cfg, name, launched=True)
    try:
        start_detached(engine, c)
    except BaseException:
        if cfg.auto_remove:
            remove(engine, c.rec.id, force=True, volumes=True)
        raise
    return c.rec.id
