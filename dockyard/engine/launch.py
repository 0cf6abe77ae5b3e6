"""Launching a container: its bundle (spec, /etc files, seccomp, mounts) written from the record,
handed to its runtime with networking done between "created" and "started", run in the
foreground; the runtime-aware signals and thaw that reach a running one; and removing what a
launch made (cleanup_files: snapshot, bundle, cgroup and network leftovers).

Above status.py and networking.py; below teardown.py, monitor.py and the commands.
"""

from __future__ import annotations

from dockyard import jsonfast as json  # the C codec without `re` & co: a hot path

import os
import time

from dockyard.engine.config import ContainerConfig
from dockyard.engine.status import NEVER, Status, container_cgroup, effective_state, rfc3339, update_state
from dockyard.errors import Unavailable

# --userns auto: container uid 0..65535 is host uid 100000..165535 (the subuid range Debian's
# useradd hands out first, and what Docker's userns-remap picks for its "dockremap" user).
USERNS_SHIFT, USERNS_SIZE = 100000, 65536


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


class Created:
    """A container made by `create`, with what `start` needs to launch it without re-reading it."""

    __slots__ = ("rec", "cfg", "spec", "bundle", "rootfs", "mounts", "seccomp")

    def __init__(self, rec, cfg, spec, bundle, rootfs, mounts, seccomp=None) -> None:
        self.rec, self.cfg, self.spec, self.bundle, self.rootfs, self.mounts = rec, cfg, spec, bundle, rootfs, mounts
        self.seccomp = seccomp  # (BPF program, flags) of spec's profile, precompiled


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
                        read_rootfs_file(dirs, "/etc/group"), (cfg.host_opts or {}).get("GroupAdd") or ())
    os.makedirs(engine.container_dir(rec.id), mode=0o755, exist_ok=True)
    return write_bundle(engine, rec, cfg, icfg, user, engine.snapshots.mounts(rec.id))


def joined(engine, cfg: ContainerConfig):
    """--network container:NAME: that container, which must be running."""
    ref = cfg.network.partition(":")[2]
    other = engine.db.get_container(ref)
    st = effective_state(other, engine.db)
    if st.get("Status") not in (Status.RUNNING, Status.PAUSED):
        from dockyard.errors import Conflict

        raise Conflict(f"cannot join network namespace of a non running container: {other.name}")
    return other


def write_bundle(engine, rec, cfg: ContainerConfig, icfg: dict, user, mounts) -> Created:
    from dockyard.engine.specgen import build_spec
    from dockyard.network.etcfiles import write_etc_files

    bundle = engine.container_dir(rec.id)
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(rootfs, mode=0o755, exist_ok=True)
    hostname = rec.state.get("Hostname") or rec.id[:12]
    netns_path = None
    if cfg.network.startswith("container:"):  # its namespace, and its hosts and resolv.conf, as docker does
        other = joined(engine, cfg)
        netns_path = f"/proc/{effective_state(other, engine.db)['Pid']}/ns/net"
        odir = engine.container_dir(other.id)
        etc = {f"/etc/{n}": os.path.join(odir, n) for n in ("hosts", "hostname", "resolv.conf")}
    else:
        extra = {}
        if cfg.host_opts:  # --add-host, --dns, --dns-search, --dns-option
            from dockyard.engine.specopts import etc_options

            extra = etc_options(engine, cfg)
        user_network = cfg.network not in ("none", "host", "bridge", "default")
        etc = write_etc_files(bundle, hostname, host_network=cfg.network == "host", embedded_dns=user_network,
                              **extra)
    seccomp, compiled = seccomp_of(engine, cfg)
    user_mounts = None
    if cfg.mounts:  # volumes, binds, tmpfs: engine/mounts.py
        from dockyard.engine.mounts import oci_mounts

        user_mounts = oci_mounts(engine, cfg.mounts)
    spec = build_spec(cfg, icfg, user=user, hostname=hostname, etc_files=etc, rootfs=rootfs,
                      seccomp=seccomp, userns_map=(USERNS_SHIFT, USERNS_SIZE) if cfg.userns else None,
                      cgroups_path=f"/dockyard/{rec.id}", netns_path=netns_path, mounts=user_mounts)
    if cfg.host_opts:  # --ulimit, --sysctl, --pid, --ipc, --init, ... (engine/specopts.py)
        from dockyard.engine.specopts import apply

        apply(engine, spec, cfg, rec.id)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    _keep_seccomp(bundle, compiled)
    return Created(rec, cfg, spec, bundle, rootfs, mounts, compiled)


SECCOMP_FILE = "seccomp.bpf"  # in the bundle: the compiled program, for a monitor to read back


def _keep_seccomp(bundle: str, compiled: tuple[bytes, int] | None) -> None:
    """`<flags>\n<BPF program>`, or no file when there is no filter."""
    path = os.path.join(bundle, SECCOMP_FILE)
    if compiled is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    prog, flags = compiled
    with open(path, "wb") as f:
        f.write(b"%d\n" % flags + prog)


def _kept_seccomp(bundle: str) -> tuple[bytes, int] | None:
    try:
        with open(os.path.join(bundle, SECCOMP_FILE), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    flags, _, prog = data.partition(b"\n")
    return prog, int(flags)


def seccomp_of(engine, cfg: ContainerConfig) -> tuple[dict | None, tuple[bytes, int] | None]:
    """(the spec's linux.seccomp, its compiled (BPF program, flags)); (None, None) when unconfined."""
    if cfg.privileged:
        return None, None
    from dockyard.engine.security import parse, seccomp_program
    from dockyard.engine.specgen import capabilities

    found = seccomp_program(os.path.join(engine.root, "cache"), parse(cfg.security_opt), capabilities(cfg))
    if found is None:
        return None, None
    seccomp, prog, flags = found
    return seccomp, (prog, flags)


def load_created(engine, rec) -> Created:
    """A container whose bundle `create` or `prepare` has just written, read back from disk: what
    a monitor started as a new process gets instead of the CLI's objects."""
    cfg = ContainerConfig.from_json(rec.config)
    bundle = engine.container_dir(rec.id)
    with open(os.path.join(bundle, "config.json"), "rb") as f:
        spec = json.loads(f.read())
    return Created(rec, cfg, spec, bundle, os.path.join(bundle, "rootfs"), engine.snapshots.mounts(rec.id),
                   _kept_seccomp(bundle))


def launch_container(engine, c: Created, *, stdio):
    """Hand the bundle to the container's runtime: returns a Launch waiting at its start gate,
    with networking done. The Launch's cleanup gives the network back (addresses, rules, ports)."""
    from dockyard.engine.runtimes import get_runtime

    runtime = get_runtime(c.cfg.runtime, engine.runroot)
    held = []
    spec = c.spec
    if (c.cfg.host_opts or {}).get("Links"):  # each start: the targets run, and give their variables
        spec = _linked_spec(engine, c)

    def on_pid(pid: int) -> None:
        if c.cfg.network == "none":  # the common scripted case: one ioctl, no imports
            from dockyard.linux.netdev import in_netns, set_link_up

            in_netns(pid, set_link_up, "lo")
        elif c.cfg.network != "host":
            from dockyard.engine.networking import attach

            held.append(attach(engine, c.rec.id, c.rec.name, c.cfg, pid))

    try:
        launch = runtime.launch(c.rec.id, c.bundle, spec, c.rootfs, c.mounts, stdio=stdio, on_pid=on_pid,
                                seccomp=c.seccomp)
    except BaseException:
        if held and held[0] is not None:
            from dockyard.engine.networking import detach

            detach(engine, c.rec.id, attachment=held[0])
        raise
    if c.cfg.mounts:
        _volume_events(engine, c, launch)
    att = held[0] if held else None
    launch.network = att.settings if att is not None else None
    if att is not None:
        def give_back() -> None:
            from dockyard.engine.networking import detach

            detach(engine, c.rec.id, attachment=att)

        launch.add_cleanup(give_back)
    return launch


def _linked_spec(engine, c: Created) -> dict:
    """The spec of a start of a container with --link (engine/links.py): its targets must run;
    on the default bridge its process gets their link variables (its own values win, as dockerd's).
    Their hosts lines are written with the network's (networking._sync_hosts)."""
    from dockyard.engine.links import environment, resolve
    from dockyard.engine.networking import networks_of

    linked = resolve(engine, c.cfg.host_opts["Links"], c.rec.name, networks_of(c.cfg))
    if c.cfg.network not in ("", "bridge", "default"):
        return c.spec
    env = list(c.spec["process"].get("env") or ())
    given = {e.partition("=")[0] for e in env}
    env += [v for v in environment(engine, linked, c.rec.name) if v.partition("=")[0] not in given]
    return dict(c.spec, process=dict(c.spec["process"], env=env))


def _volume_events(engine, c: Created, launch) -> None:
    """Docker's volume mount/unmount events, at the start and the end of each run."""
    from dockyard.engine import events

    vols = [m for m in c.cfg.mounts if m.get("type") == "volume" and m.get("source")]

    def report(action: str) -> None:
        for m in vols:
            events.emit(engine, "volume", action, m["source"],
                        {"container": c.rec.id, "destination": m.get("target", ""), "driver": "local",
                         "propagation": "", "read/write": "false" if m.get("readonly") else "true"})

    if vols:
        report("mount")
        launch.add_cleanup(lambda: report("unmount"))


def start_foreground(engine, c: Created, *, stdin_open: bool, streams=("stdin", "stdout", "stderr"),
                     sig_proxy: bool = True) -> int:
    """Start a created container attached to our terminal; return its exit code (docker's rules).
    `streams` are those attached (`run -a`): the others get /dev/null. `sig_proxy`: our signals
    are forwarded to the container (a TTY's are its line discipline's anyway)."""
    from dockyard.linux import syscalls as sc
    from dockyard.runtime.procfs import proc_start_time
    from dockyard.runtime.wait import forward_signals, hold_signals, wait_exit

    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    # Docker logs a foreground container too (`logs NAME` afterwards). A --rm container's log
    # would go with it, so it writes none, and `run --rm` keeps the container on our own stdio.
    log = None if c.cfg.auto_remove else _foreground_log(engine, c)
    pipes: dict = {}
    if c.cfg.tty:
        stdio = (0, 1, 2)
        _set_console_size(c)
    else:
        out, err = (1 if "stdout" in streams else null), (2 if "stderr" in streams else null)
        stdio = (0 if stdin_open and "stdin" in streams else null, out, err)
        if log is not None:  # logged whether attached or not, as docker's
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            pipes = {out_r: ("stdout", out), err_r: ("stderr", err)}
            stdio = (stdio[0], out_w, err_w)
    try:
        launch = launch_container(engine, c, stdio=stdio)
    except BaseException:
        for fd in pipes:
            os.close(fd)
        if log is not None:
            log.close()
        os.close(null)
        raise
    finally:
        for fd in stdio[1:] if pipes else ():
            os.close(fd)
    state = dict(c.rec.state)
    now = time.time()
    state.update(Status=Status.RUNNING, Running=True, Pid=launch.pid, PidStartTime=proc_start_time(launch.pid),
                 ExitCode=0, StartedAt=rfc3339(now), FinishedAt=NEVER,
                 NetworkSettings=launch.network or {})
    health = prober = None
    if c.cfg.healthcheck:  # the same prober as a detached container's monitor starts
        from dockyard.engine import health

        if health.probed(c.cfg.healthcheck):
            state["Health"] = health.initial(state.get("Health"))
        else:
            health = None
    code = 255
    try:
        engine.db.update_state(c.rec.id, state)
        launch.start()
        from dockyard.engine import events

        events.container(engine, c.rec, "start")
        if health is not None:
            prober = health.start_prober(engine, c.rec.id, c.cfg.healthcheck, launch.pid, now, c.seccomp)
        if launch.master is not None:
            from dockyard.engine.attach import proxy_tty

            proxy_tty(launch.master, stdin_open=stdin_open and "stdin" in streams,
                      stdout=1 if "stdout" in streams else null, log=log)
            code = wait_exit(launch.pid)
        else:
            restore = forward_signals(launch.pid) if sig_proxy else hold_signals()
            try:
                if pipes:
                    from dockyard.engine.logs import tee_streams

                    tee_streams(pipes, log)
                    pipes = {}
                code = wait_exit(launch.pid)
            finally:
                restore()
    finally:
        for fd in pipes:  # not drained (an error on the way): closed
            os.close(fd)
        if log is not None:
            log.close()
        os.close(null)
        if prober is not None:
            prober.stop()
            state["Health"] = engine.db.get_container(c.rec.id).state.get("Health")
        oom = launch.oom_killed()
        launch.cleanup()
        state.update(Status=Status.EXITED, Running=False, Pid=0, ExitCode=code, OOMKilled=oom,
                     FinishedAt=rfc3339(time.time()), NetworkSettings={})
        if not c.cfg.auto_remove:
            engine.db.must(engine.db.update_state, c.rec.id, state)
        from dockyard.engine import events

        events.container(engine, c.rec, "die", exitCode=code)
    return code


def _foreground_log(engine, c: Created):
    from dockyard.engine.logs import container_log

    if c.cfg.log_driver == "none":
        return None  # nothing kept: the container writes straight to our stdio
    return container_log(engine, c.rec.id, c.cfg.log_opts)


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


def cleanup_files(engine, cid: str, *, orphaned_cgroup: bool = True, had_ports: bool = False,
                  later: list | None = None) -> None:
    """Remove a container's snapshot, bundle and (when whoever ran it may have died before it
    could) its cgroup, network endpoints and port rules. `later`: see `snapshots.remove`."""
    from dockyard.fsutil import rmtree
    from dockyard.snapshots.mount import unmount_all

    if orphaned_cgroup:
        from dockyard.engine.networking import detach

        detach(engine, cid, had_ports=had_ports, reap_links=True)

    bundle = engine.container_dir(cid)
    rootfs = os.path.join(bundle, "rootfs")
    if os.path.ismount(rootfs):
        unmount_all(rootfs)
    if os.path.ismount(os.path.join(bundle, "shm")):  # --ipc shareable's /dev/shm (engine/specopts.py)
        unmount_all(os.path.join(bundle, "shm"), detach=True)
    if orphaned_cgroup and os.path.exists(os.path.join(bundle, "config.json")):
        # normally removed by whoever ran the container; not if that process was killed
        from dockyard.state.db import ContainerRecord

        cg = container_cgroup(engine, ContainerRecord(id=cid, name="", image_id="", image="", created=0,
                                                      config={}, state={}))
        if cg is not None and cg.exists():
            cg.destroy()
    engine.snapshots.remove(cid, missing_ok=True, later=later)
    rmtree(bundle)


def signal_container(engine, rec, pid: int, sig: int) -> None:
    """Signal a container's init through the runtime that made it: `runc kill` for runc's
    containers (as containerd and podman do), the kernel directly for our own."""
    from dockyard.engine.runtimes import external_runtime

    runtime = external_runtime(engine, rec)
    if runtime is None:
        kill_pid(pid, sig)
        return
    try:
        runtime.kill(rec.id, sig)
    except Unavailable:
        # runc no longer knows it (its state dir went with a reboot of the runroot, or it just
        # exited): the init's pid, checked against its start time by the caller, is still right
        kill_pid(pid, sig)


def kill_pid(pid: int, sig: int) -> None:
    if not isinstance(pid, int) or pid <= 0:  # kill(0) or kill(-1) would hit other processes
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def thaw(engine, cid: str) -> None:
    """Unfreeze a paused container through the runtime that made it, and record it running."""
    from dockyard.engine.runtimes import external_runtime

    rec = engine.db.get_container(cid)
    runtime = external_runtime(engine, rec)
    if runtime is not None:
        runtime.resume(cid)
    else:
        cg = container_cgroup(engine, rec)
        if cg is not None:
            cg.thaw()
    update_state(engine, cid, Status=Status.RUNNING, Paused=False, PausedBy=None)
