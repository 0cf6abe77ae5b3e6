"""The per-container monitor of a detached container (Podman's conmon, containerd's shim).

`dockyard run -d` forks it and returns once the container runs; the monitor outlives the CLI. It
is the container init's parent (a subreaper), so it alone can learn the exit status. It holds the
container's stdout/stderr pipes (or its pty) and its stdin, writes the output to the json-file
log and to the clients of its attach socket (attachsock.py: attach, start -a, the API's attach),
feeds their input to the container, records every state change in the database, and applies the
restart policy with Docker's back-off.

It is a new interpreter started on `engine/monitor_entry.py` (not a fork of the CLI), so it holds
only what a monitor needs: no copy of the CLI's heap (its idle memory stays small, and a threaded
server may start containers), and it reads the container back from its record and bundle.
"""

from __future__ import annotations

import os
import time

from dockyard.engine.config import parse_restart
from dockyard.engine.launch import launch_container
from dockyard.engine.status import NEVER, Status, rfc3339
from dockyard.errors import DockyardError

BACKOFF_START = 0.1
BACKOFF_MAX = 60.0
BACKOFF_RESET_AFTER = 10.0


def next_backoff(previous: float, ran: float) -> float:
    """The wait before the next restart, as Docker's restart manager: 100 ms first, doubled for
    each quick failure up to a minute; a run of 10 s or more starts again at 100 ms."""
    if previous <= 0 or ran >= BACKOFF_RESET_AFTER:
        return BACKOFF_START
    return min(previous * 2, BACKOFF_MAX)


def should_restart(policy: str, exit_code: int, restart_count: int, manually_stopped: bool) -> bool:
    name, max_retries = parse_restart(policy)
    if manually_stopped or name == "no":
        return False
    if name == "on-failure":
        return exit_code != 0 and (max_retries == 0 or restart_count < max_retries)
    return True  # always, unless-stopped


FIRST_OUTPUT_S = 0.01  # how long a start waits for its container's first output (Monitor._run_once)
SPARE: dict = {}  # (root, runroot) → a monitor started even earlier, by a caller that expects a start


def prestart(engine):
    """Start a monitor ahead of the container (its interpreter loads while the caller creates or
    prepares the container); `.go(created)` hands it the container, whose bundle is written, and
    returns the init's pid once it runs. Leaving the `with` block without `go` lets it exit.
    A spare in SPARE for this store is taken instead (the API's zygote keeps one ready)."""
    from dockyard.engine.detach import spawn_detached

    spare = SPARE.pop((engine.root, engine.runroot), None)
    return Prestarted(engine, spare or spawn_detached("dockyard.engine.monitor_entry", [engine.root, engine.runroot]))


class Prestarted:
    def __init__(self, engine, spawned) -> None:
        self.engine, self.spawned = engine, spawned

    def go(self, created) -> int:
        self.engine.db.close()  # as before a fork: no transaction of ours may be open meanwhile
        return self.spawned.go(created.rec.id)["pid"]

    def __enter__(self) -> "Prestarted":
        return self

    def __exit__(self, *exc) -> None:
        self.spawned.__exit__(*exc)


def log_crash(engine, cid: str) -> None:
    """A monitor has no terminal: what killed it goes to <root>/containers/<id>/monitor.log."""
    import traceback

    try:
        d = engine.container_data_dir(cid)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "monitor.log"), "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} monitor {os.getpid()} failed:\n")
            traceback.print_exc(file=f)
    except OSError:
        pass


def _send(fd: int, **msg) -> None:
    from dockyard.engine.detach import report

    report(fd, **msg)


class Monitor:
    def __init__(self, engine, created, *, report_fd: int | None) -> None:
        self.engine = engine
        self.c = created
        self.report_fd = report_fd
        self.cid = created.rec.id

    # -- state -------------------------------------------------------------------------------

    def _state(self) -> dict:
        return dict(self.engine.db.get_container(self.cid).state)

    def _write(self, changes: dict) -> dict:
        with self.engine.db.transaction():
            st = self._state()
            st.update(changes)
            self.engine.db.update_state(self.cid, st)
        return st

    def _update(self, **changes) -> dict:
        """Record a state change. A full disk does not lose it: the database's reserve is given
        up first, then the write is retried until space returns (the monitor is the only one who
        knows an exit code, and the container is already stopped, so waiting costs nothing)."""
        return _persist(self.engine.db.must, self._write, changes)

    def _try_update(self, **changes) -> bool:
        """Record a change now if the disk lets us; False to try again later (while the
        container runs, its output must keep being drained)."""
        from dockyard.errors import DiskFull

        try:
            self.engine.db.must(self._write, changes)
        except DiskFull:
            return False
        return True

    # -- main loop -----------------------------------------------------------------------------

    def run(self) -> None:
        from dockyard.engine.logs import container_log
        from dockyard.linux import syscalls as sc

        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
        try:
            with open("/proc/self/comm", "w") as f:  # `ps` shows what this process is
                f.write("dockyard-mon")
        except OSError:
            pass
        cfg = self.c.cfg
        log = container_log(self.engine, self.cid, cfg.log_opts, cfg.log_driver)
        # nothing runs yet: a full disk here fails `run -d`/`start` cleanly instead of waiting
        self.engine.db.must(self._write, dict(MonitorPid=os.getpid(), MonitorStartTime=_start_time(os.getpid()),
                                              ManuallyStopped=False))
        from dockyard.engine.attachsock import AttachServer

        self.attach = AttachServer(self.engine, self.cid, stdin_once=bool(cfg.stdin_once))
        delay = 0.0  # next_backoff: the first restart waits BACKOFF_START
        try:
            while True:
                started = time.monotonic()
                code = self._run_once(log)
                st = self._state()
                if not should_restart(cfg.restart, code, st.get("RestartCount", 0), st.get("ManuallyStopped", False)):
                    break
                ran = time.monotonic() - started
                delay = next_backoff(delay, ran)
                self._update(Status=Status.RESTARTING, Restarting=True)
                if self._stopped_during(delay):
                    self._update(Status=Status.EXITED, Restarting=False)
                    break
                self._update(RestartCount=self._state().get("RestartCount", 0) + 1)
        finally:
            self.attach.close()
            log.close()
            self._update(MonitorPid=0)
        if cfg.auto_remove:
            from dockyard.engine.teardown import remove

            _record_exit(self.engine, self.cid, self._state().get("ExitCode", 0))
            try:
                remove(self.engine, self.cid, force=True, volumes=True)  # --rm: anonymous volumes too
            except DockyardError:
                pass

    def _report_started(self, pid: int) -> None:
        _send(self.report_fd, pid=pid)
        os.close(self.report_fd)
        self.report_fd = None

    def _stopped_during(self, delay: float) -> bool:
        """Sleep out a restart back-off, but wake as soon as `stop` asks (Docker cancels a
        pending restart at once)."""
        deadline = time.monotonic() + delay
        while True:
            if self._state().get("ManuallyStopped"):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, 0.05))

    def _run_once(self, log) -> int:
        import select

        from dockyard.runtime.procfs import proc_start_time

        cfg = self.c.cfg
        out_r = err_r = stdin_w = None
        if cfg.tty:
            stdio = (0, 1, 2)  # unused: init gets the pty
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            if cfg.stdin_open:  # held here, fed by attachers (attachsock.py)
                in_r, stdin_w = os.pipe()
            else:
                in_r = os.open("/dev/null", os.O_RDONLY)
            stdio = (in_r, out_w, err_w)
        try:
            launch = launch_container(self.engine, self.c, stdio=stdio)
        except BaseException as e:
            self._update(Status=Status.EXITED, Running=False, Pid=0, ExitCode=getattr(e, "code", 125),
                         Error=str(e), FinishedAt=rfc3339(time.time()))
            if self.report_fd is not None:
                _send(self.report_fd, error=str(e), code=getattr(e, "code", 125))
                os.close(self.report_fd)
                self.report_fd = None
            raise
        finally:
            if not cfg.tty:
                for fd in stdio:
                    os.close(fd)
        now = time.time()
        running = dict(Status=Status.RUNNING, Running=True, Paused=False, Restarting=False, Pid=launch.pid,
                       PidStartTime=proc_start_time(launch.pid), ExitCode=0, Error="", OOMKilled=False,
                       StartedAt=rfc3339(now), FinishedAt=NEVER,
                       NetworkSettings=launch.network or {})
        health = cfg.healthcheck and _health()
        if health and health.probed(cfg.healthcheck):
            running["Health"] = health.initial(self._state().get("Health"))
        else:
            health = None
        pending = None if self._try_update(**running) else running
        retry_at = time.monotonic() + 1.0
        att = self.attach
        att.master = launch.master
        if cfg.tty:
            att.set_stdin(launch.master if cfg.stdin_open else None, pty=True)
        else:
            att.set_stdin(stdin_w, pty=False)
            stdin_w = None  # the attach server owns it now
        att.wait_first()
        launch.start()
        from dockyard.engine import events

        events.container(self.engine, self.c.rec, "start")
        # the start is reported once the container has said something, ended its output, or had
        # FIRST_OUTPUT_S: a client that starts it and reads its logs at once (docker-py's tests
        # do) finds a quick command's first output there, as it does with dockerd's slower start
        report_by = time.monotonic() + FIRST_OUTPUT_S if self.report_fd is not None else None
        prober = health.start_prober(self.engine, self.cid, cfg.healthcheck, launch.pid, now,
                                     self.c.seccomp) if health else None
        streams = {out_r: "stdout", err_r: "stderr"} if not cfg.tty else {launch.master: "stdout"}
        open_fds = [fd for fd in streams if fd is not None]
        status = None
        while status is None:
            ready = writable = []
            if open_fds:
                rd, wr = att.fds()
                wait = 0.5 if report_by is None else max(0.0, report_by - time.monotonic())
                try:
                    ready, writable, _ = select.select(open_fds + rd, wr, [], wait)
                except InterruptedError:
                    continue
            elif report_by is None:
                time.sleep(0.05)
            for fd in ready:
                if fd not in streams:
                    continue
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:  # EIO from a pty whose other side closed
                    data = b""
                if data:
                    log.write(streams[fd], data.replace(b"\r\n", b"\n") if cfg.tty else data)
                    att.broadcast(streams[fd], data)
                else:
                    open_fds.remove(fd)
            if report_by is not None and (not open_fds or any(fd in streams for fd in ready)
                                          or time.monotonic() >= report_by):
                self._report_started(launch.pid)
                report_by = None
            if ready or writable:
                att.handle(ready, writable)
            if pending is not None and time.monotonic() >= retry_at:
                pending = None if self._try_update(**pending) else pending
                retry_at = time.monotonic() + 1.0
            status = _reap(launch.pid, block=not open_fds and pending is None)
        if report_by is not None:  # it ended before a stream said anything (an attacher woke us)
            self._report_started(launch.pid)
        if prober is not None:
            prober.stop()
        for fd in streams:
            if fd is not None:
                try:
                    while data := os.read(fd, 65536):
                        log.write(streams[fd], data)
                        att.broadcast(streams[fd], data)
                except OSError:
                    pass
                os.close(fd)
        att.end_run()
        att.master = None
        log.flush_partial()
        from dockyard.runtime.wait import exit_code

        code = exit_code(status)
        oom = launch.oom_killed()
        _persist(self.engine.db.must, launch.cleanup)  # idempotent: gives the network back too
        self._update(Status=Status.EXITED, Running=False, Paused=False, Pid=0, ExitCode=code, OOMKilled=oom,
                     FinishedAt=rfc3339(time.time()), NetworkSettings={})
        from dockyard.engine import events

        if oom:
            events.container(self.engine, self.c.rec, "oom")
        events.container(self.engine, self.c.rec, "die", exitCode=code)
        return code


def _health():
    from dockyard.engine import health

    return health


def _persist(call, *args):
    """`call(*args)`, retried with back-off for as long as the disk is full."""
    from dockyard.errors import DiskFull

    delay = 0.1
    while True:
        try:
            return call(*args)
        except DiskFull:
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def exit_file(engine, cid: str) -> str:
    return os.path.join(engine.runroot, "exits", cid)


def _record_exit(engine, cid: str, code: int) -> None:
    """An auto-removed container's exit code outlives its record, for `wait` (as docker's does)."""
    try:
        os.makedirs(os.path.dirname(exit_file(engine, cid)), exist_ok=True)
        with open(exit_file(engine, cid), "w") as f:
            f.write(str(code))
    except OSError:
        pass


def _reap(pid: int, *, block: bool):
    """waitpid for the init, reaping any other orphan re-parented to us (we are a subreaper)."""
    while True:
        try:
            got, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return 255 << 8
        if got == 0:
            return None
        if got == pid:
            return status


def _start_time(pid: int):
    from dockyard.runtime.procfs import proc_start_time

    return proc_start_time(pid)
