"""Health checks, run as dockerd runs them (moby daemon/health.go).

A container whose config (merged with its image's at create, as docker merges them) has a
`Healthcheck` with a CMD or CMD-SHELL test gets a *prober*: a small process forked by whoever
watches the container (its monitor when detached, the CLI for a foreground `run`: the same
`start_prober`/`stop_prober` for both). The prober is its own process so a probe that hangs can
never hold up the monitor's other work (draining logs, recording the exit, restarting).

Each probe is an exec in the container (the container's process spec: its user, cwd, env,
capabilities, seccomp) with stdout and stderr in one pipe; at most 4096 bytes are kept ("..."
marks the rest dropped); a probe still running after Timeout is killed and counts as a failure
(ExitCode -1, "Health check exceeded timeout (30s)"). The result goes into the container's state
record (`Health`: Status, FailingStreak, Log of the last 5), so `inspect` and `ps` see it:
`starting` until the first success (failures inside StartPeriod are not counted while starting),
`healthy` on a success, `unhealthy` after Retries failures in a row. Probes run every Interval
(StartInterval while starting inside the start period), the first one Interval after start;
none while the container is paused. `Test: ["NONE"]` disables the image's check.
"""

from __future__ import annotations

import os
import signal
import time

from dockyard.errors import InvalidArgument

MAX_OUTPUT = 4096
MAX_LOG = 5
DEFAULT_INTERVAL = 30_000_000_000
DEFAULT_TIMEOUT = 30_000_000_000
DEFAULT_START_PERIOD = 0
DEFAULT_START_INTERVAL = 5_000_000_000
DEFAULT_RETRIES = 3
MIN_DURATION = 1_000_000  # 1ms, dockerd's containertypes.MinimumDuration
STATUSES = ("starting", "healthy", "unhealthy")
DURATIONS = ("Interval", "Timeout", "StartPeriod", "StartInterval")


def check(hc) -> dict | None:
    """A create request's Config.Healthcheck checked as dockerd's validateHealthCheck does (and
    a test dockerd would accept but never run refused): the dict to keep, or None."""
    if hc is None:
        return None
    if not isinstance(hc, dict):
        raise InvalidArgument("invalid Healthcheck: expected an object")
    out: dict = {}
    test = hc.get("Test")
    if test is not None:
        if not isinstance(test, list) or not all(isinstance(t, str) for t in test):
            raise InvalidArgument("invalid Healthcheck.Test: expected an array of strings")
        if test:
            kind = test[0]
            if kind not in ("CMD", "CMD-SHELL", "NONE"):
                raise InvalidArgument(f"unknown healthcheck type {kind!r} in Healthcheck.Test: "
                                      "expected CMD, CMD-SHELL or NONE")
            if kind == "NONE" and len(test) > 1:
                raise InvalidArgument("Healthcheck.Test NONE takes no arguments")
            if kind == "CMD-SHELL" and len(test) != 2:
                raise InvalidArgument("Healthcheck.Test CMD-SHELL takes exactly one command string")
            if kind == "CMD" and (len(test) < 2 or not test[1]):
                raise InvalidArgument("Healthcheck.Test CMD needs a command")
        out["Test"] = list(test)
    for key in DURATIONS:
        v = hc.get(key)
        if v is None or v == 0:
            continue
        if not isinstance(v, int) or isinstance(v, bool):
            raise InvalidArgument(f"invalid Healthcheck.{key}: expected an integer (nanoseconds)")
        if v < MIN_DURATION:
            raise InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms")
        out[key] = v
    retries = hc.get("Retries")
    if retries is not None and retries != 0:
        if not isinstance(retries, int) or isinstance(retries, bool):
            raise InvalidArgument("invalid Healthcheck.Retries: expected an integer")
        if retries < 0:
            raise InvalidArgument("Retries in Healthcheck cannot be negative")
        out["Retries"] = retries
    return out


def merge(mine: dict | None, image: dict | None) -> dict | None:
    """The container's Healthcheck over its image's, field by field (moby's merge at create)."""
    if not image:
        return mine or None
    if mine is None:
        return dict(image)
    out = dict(mine)
    if not out.get("Test"):
        out["Test"] = list(image.get("Test") or [])
    for key in DURATIONS + ("Retries",):
        if not out.get(key) and image.get(key):
            out[key] = image[key]
    return out


def probed(hc: dict | None) -> bool:
    """Whether a (merged) Healthcheck asks for probes (moby's getProbe != nil)."""
    return bool(hc) and bool(hc.get("Test")) and hc["Test"][0] in ("CMD", "CMD-SHELL")


def go_duration(ns: int) -> str:
    """Go's time.Duration.String(): 30s, 1m0s, 500ms, 1.5s, 2h0m0s."""
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return _frac(ns, size) + unit
    h, rem = divmod(ns, 3_600_000_000_000)
    m, rem = divmod(rem, 60_000_000_000)
    s = _frac(rem, 1_000_000_000) + "s"
    if h:
        return f"{h}h{m}m{s}"
    if m:
        return f"{m}m{s}"
    return s


def _frac(n: int, size: int) -> str:
    whole, frac = divmod(n, size)
    if not frac:
        return str(whole)
    digits = len(str(size)) - 1
    return f"{whole}.{str(frac).rjust(digits, '0').rstrip('0')}"


def initial(previous: dict | None) -> dict:
    """Health when the container (re)starts: starting, streak 0, the earlier log kept (moby's
    initHealthMonitor)."""
    return {"Status": "starting", "FailingStreak": 0, "Log": list((previous or {}).get("Log") or [])}


def apply_result(health: dict, result: dict, hc: dict, started_at: float, probe_start: float) -> dict:
    """moby's handleProbeResult: the new Health after one probe."""
    retries = hc.get("Retries") or DEFAULT_RETRIES
    h = {"Status": health.get("Status", "starting"), "FailingStreak": health.get("FailingStreak", 0),
         "Log": (list(health.get("Log") or []) + [result])[-MAX_LOG:]}
    if result["ExitCode"] == 0:
        h["FailingStreak"] = 0
        h["Status"] = "healthy"
    else:
        count = True
        if h["Status"] == "starting":
            start_period = (hc.get("StartPeriod") or DEFAULT_START_PERIOD) / 1e9
            if probe_start - started_at < start_period:
                count = False
        if count:
            h["FailingStreak"] += 1
            if h["FailingStreak"] >= retries:
                h["Status"] = "unhealthy"
    return h


def next_interval(hc: dict, started_at: float, status: str) -> float:
    """Seconds until the next probe (moby's getInterval: the start period's end is probed at once,
    StartInterval while starting within the start period)."""
    interval = (hc.get("Interval") or DEFAULT_INTERVAL) / 1e9
    start_interval = (hc.get("StartInterval") or DEFAULT_START_INTERVAL) / 1e9
    start_period = (hc.get("StartPeriod") or DEFAULT_START_PERIOD) / 1e9
    elapsed = time.time() - started_at
    if elapsed >= start_period:
        return interval
    remaining = start_period - elapsed
    if remaining < interval:
        return remaining
    return start_interval if status == "starting" else interval


# -- the prober process --------------------------------------------------------------------------

def start_prober(engine, cid: str, hc: dict, init_pid: int, started_at: float,
                 seccomp=None) -> "ProberHandle":
    """Fork the prober of a running container (stop it with the handle's stop()). `seccomp`: the
    container's compiled profile, as its launch had it (each probe is filtered by it)."""
    engine.db.close()  # SQLite's lock bookkeeping must never cross a fork
    pid = os.fork()
    if pid == 0:
        import gc

        gc.freeze()  # the collector must not walk (and so copy) every page inherited from our parent
        code = 0
        try:
            Prober(engine, cid, hc, init_pid, started_at, seccomp).run()
        except BaseException:  # noqa: BLE001 - a forked child never unwinds into its parent's code
            code = 1
        os._exit(code)
    return ProberHandle(pid)


class ProberHandle:
    """The prober's pid, held as a pidfd: our caller may reap it with a waitpid(-1) of its own,
    and a signal must never reach whatever process gets that pid next."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)  # not waited for yet: it cannot have been reaped

    def stop(self) -> None:
        """End the prober (it kills a probe it is running) and reap it."""
        if self.pidfd < 0:
            return
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGTERM)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass  # gone, and reaped by our caller's waitpid(-1)
        finally:
            os.close(self.pidfd)
            self.pidfd = -1


class Prober:
    def __init__(self, engine, cid: str, hc: dict, init_pid: int, started_at: float, seccomp=None) -> None:
        self.engine, self.cid, self.hc, self.seccomp = engine, cid, hc, seccomp
        self.init_pid, self.started_at = init_pid, started_at
        self.handle = None  # the probe running now

    def run(self) -> None:
        from dockyard.linux import syscalls as sc

        sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)  # never outlives whoever watches the container
        if os.getppid() == 1:
            return
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)  # probes are re-parented to us, and reaped here
        os.setpgid(0, 0)  # the terminal's ^C is the container's business, not ours
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd > 2:
                try:
                    os.close(fd)
                except OSError:
                    pass
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        signal.signal(signal.SIGTERM, self._terminate)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            with open("/proc/self/comm", "w") as f:
                f.write("dockyard-health")
        except OSError:
            pass
        from dockyard.runtime.procfs import proc_start_time

        init_start = proc_start_time(self.init_pid)
        shell = None
        status = "starting"
        while True:
            time.sleep(next_interval(self.hc, self.started_at, status))
            if proc_start_time(self.init_pid) != init_start or init_start is None:
                return
            rec = self.engine.db.get_container(self.cid)
            if rec.state.get("Status") != "running" or rec.state.get("Pid") != self.init_pid:
                continue  # paused (docker probes no paused container), or stopping
            test = self.hc["Test"]
            if test[0] == "CMD-SHELL":
                if shell is None:
                    shell = image_shell(self.engine, rec)
                cmd = shell + [test[1]]
            else:
                cmd = list(test[1:])
            begun = time.time()
            result = self.probe(rec, cmd)
            result["Start"] = _rfc3339(begun)
            result = {"Start": result["Start"], "End": result["End"], "ExitCode": result["ExitCode"],
                      "Output": result["Output"]}
            status = self.record(result, begun)

    def _terminate(self, signum, frame) -> None:
        if self.handle is not None:
            self.handle.kill()
        os._exit(0)

    def record(self, result: dict, begun: float) -> str:
        from dockyard.errors import DiskFull

        db = self.engine.db
        try:
            with db.transaction():
                st = dict(db.get_container(self.cid).state)
                if st.get("Pid") != self.init_pid:
                    return "starting"  # restarted meanwhile: this result belongs to the last run
                before = (st.get("Health") or {}).get("Status")
                st["Health"] = apply_result(st.get("Health") or initial(None), result, self.hc,
                                            self.started_at, begun)
                db.update_state(self.cid, st)
        except DiskFull:
            return "starting"  # best effort, as dockerd's in-memory health: the next probe writes again
        now = st["Health"]["Status"]
        if now != before:  # as dockerd: an event when the status changes
            from dockyard.engine import events

            events.container(self.engine, db.get_container(self.cid), f"health_status: {now}")
        return now

    def probe(self, rec, cmd: list[str]) -> dict:
        """Run one probe: {End, ExitCode, Output}."""
        from dockyard.engine.exec import start_probe

        timeout = (self.hc.get("Timeout") or DEFAULT_TIMEOUT) / 1e9
        r, w = os.pipe()
        try:
            try:
                handle = start_probe(self.engine, rec, cmd, out_fd=w, seccomp=self.seccomp)
            finally:
                os.close(w)
        except Exception as e:  # noqa: BLE001 - dockerd records an exec that cannot start as a failure
            from dockyard.runtime.spawn import StartError

            os.close(r)
            msg = str(e)
            if isinstance(e, StartError):  # the process could not start: in runc's words, as docker shows it
                msg = f"OCI runtime exec failed: exec failed: unable to start container process: {msg}: unknown"
            return {"End": _rfc3339(time.time()), "ExitCode": -1, "Output": msg}
        self.handle = handle
        out, truncated, code = self.collect(r, handle, timeout)
        self.handle = None
        os.close(r)
        text = out.decode("utf-8", errors="replace") + ("..." if truncated else "")
        if code is None:
            msg = f"Health check exceeded timeout ({go_duration(self.hc.get('Timeout') or DEFAULT_TIMEOUT)})"
            return {"End": _rfc3339(time.time()), "ExitCode": -1, "Output": f"{msg}: {text}" if text else msg}
        if code == -1:  # the runtime could not start it: its error, as docker shows an OCI runtime's
            text = "OCI runtime exec failed: " + runtime_error(text) + ": unknown"
        return {"End": _rfc3339(time.time()), "ExitCode": code, "Output": text}

    def collect(self, r: int, handle, timeout: float):
        """Read the probe's output until it exits (None as its code if it outran `timeout`)."""
        import select

        pidfd = os.pidfd_open(handle.wait_pid)
        deadline = time.monotonic() + timeout
        out = bytearray()
        truncated = False
        fds = [r, pidfd]
        code = None
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    handle.kill()
                    _reap(handle.wait_pid)
                    return bytes(out), truncated, None
                ready, _, _ = select.select(fds, [], [], left)
                if r in ready:
                    data = os.read(r, 65536)
                    if not data:
                        fds.remove(r)
                    else:
                        keep = MAX_OUTPUT - len(out)
                        out += data[:max(keep, 0)]
                        truncated = truncated or len(data) > keep
                if pidfd in ready:
                    code = handle.exit_code(_reap(handle.wait_pid))
                    break
        finally:
            os.close(pidfd)
        os.set_blocking(r, False)  # what it wrote before it exited; not what its children keep writing
        try:
            while data := os.read(r, 65536):
                keep = MAX_OUTPUT - len(out)
                out += data[:max(keep, 0)]
                truncated = truncated or len(data) > keep
        except BlockingIOError:
            pass
        return bytes(out), truncated, code


def runtime_error(text: str) -> str:
    """runc's logged error line (`time="…" level=error msg="exec failed: …"`) → its message."""
    head, sep, msg = text.strip().partition(' msg="')
    if not sep:
        return text.strip()
    return msg.removesuffix('"').replace('\\"', '"').replace("\\\\", "\\")


def _reap(pid: int) -> int:
    """waitpid(pid), and any orphans a probe left us (we are a subreaper)."""
    status = 255 << 8
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    while True:
        try:
            got, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if got == 0:
            break
    return status


def image_shell(engine, rec) -> list[str]:
    """The shell of CMD-SHELL: the image's SHELL, else /bin/sh -c (moby's getShell)."""
    image = engine.db.get_image(rec.image_id)
    if image is not None:
        shell = (engine.images.config(image).get("config") or {}).get("Shell")
        if shell:
            return list(shell)
    return ["/bin/sh", "-c"]


def _rfc3339(t: float) -> str:
    from dockyard.engine.status import rfc3339

    return rfc3339(t)
