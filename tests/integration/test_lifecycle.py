"""Detached containers end to end: `run -d`, logs, ps/inspect formats, stop/start/restart/kill/wait,
restart policies, exec, pause/unpause, top/stats, rename/prune/rm, crash truth and concurrency.

Every test runs the real CLI against its own store (`dy`), names its containers itself and
leaves nothing behind: no container record, monitor (`dockyard-mon`), cgroup dir or mount.
Containers use the default network (none). Docker 20.10's behaviour is the reference.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time

from support import Pty, CREATED, HEX64, cgroup_dirs, container_processes, monitors_of, mounts_under, no_traceback, run_d, wait_for

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
UP = re.compile(r"\bUp (Less than a second|\d+ seconds?|About a minute)\b")
LOOP = "while :; do sleep 0.1; done"
STATS_HEADERS = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]


# -- helpers -------------------------------------------------------------------------------------


def inspect(dy, ref: str) -> dict:
    return json.loads(dy("inspect", ref, timeout=30).out)[0]


def fmt(dy, ref: str, template: str) -> str:
    return dy("inspect", "-f", template, ref, timeout=30).out.strip()


def status(dy, ref: str) -> str:
    return fmt(dy, ref, "{{.State.Status}}")


def ps_row(dy, name: str, *flags: str) -> str | None:
    for line in dy("ps", *flags, timeout=30).out.splitlines()[1:]:
        if line.split()[-1:] == [name]:
            return line
    return None


def log_path(dy, cid: str) -> str:
    return os.path.join(dy.root, "containers", cid, f"{cid}-json.log")


def log_records(dy, cid: str) -> list[dict]:
    """The json-file records, oldest first (rotated files included); every line must be JSON."""
    base = log_path(dy, cid)
    files = sorted((f for f in os.listdir(os.path.dirname(base)) if f.startswith(os.path.basename(base) + ".")),
                   key=lambda f: -int(f.rsplit(".", 1)[1]))
    out = []
    for f in [*files, os.path.basename(base)]:
        try:
            with open(os.path.join(os.path.dirname(base), f), "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            continue
        for line in data.split(b"\n")[:-1]:  # a torn last line may be mid-write
            out.append(json.loads(line))
    return out


def log_lines(dy, cid: str, text: str) -> int:
    return sum(1 for r in log_records(dy, cid) if r["log"] == text + "\n")


def logs(dy, ref: str, *flags: str):
    return dy("logs", *flags, ref, timeout=30)


def monitors(dy) -> list[int]:
    """dockyard-mon processes working for this test's store."""
    return monitors_of(dy.root)


def ppid_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return int(data[data.rfind(b")") + 2:].split()[1])


def comm_of(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return False
    return data[data.rfind(b")") + 2:].split()[0] != b"Z"


def monitor_of(dy, ref: str) -> int:
    """The monitor of a running detached container: the parent of its init."""
    pid = int(fmt(dy, ref, "{{.State.Pid}}"))
    assert pid > 0
    mon = ppid_of(pid)
    assert comm_of(mon) == "dockyard-mon", (mon, comm_of(mon))
    return mon


def assert_clean(dy, tmp_path, ids) -> None:
    """Nothing of these containers is left: records, monitors, cgroups, mounts, processes."""
    assert dy("ps", "-aq", timeout=30).out == ""
    wait_for(lambda: not monitors(dy), timeout=5, what="the monitors to exit")
    for cid in ids:
        assert cgroup_dirs(cid) == [], cid
        assert not os.path.exists(os.path.join(dy.root, "containers", cid))
        assert not os.path.exists(os.path.join(dy.runroot, "containers", cid))
    assert mounts_under(str(tmp_path)) == []
    assert container_processes(str(tmp_path)) == []




# -- run -d, logs ----------------------------------------------------------------------------------


API = ("sh", "-c", "while true; do date; sleep 1; done")
API_FLAGS = ("--restart", "on-failure:3", "-m", "64m", "--cpus", "0.5", "--pids-limit", "50")


def test_run_detached_with_limits_is_up_and_logs_dated_lines(dy, busybox, name):
    t0 = time.monotonic()
    cid = run_d(dy, name, *API, flags=API_FLAGS)
    assert time.monotonic() - t0 < 10  # returns once the container runs, not when it ends
    row = ps_row(dy, name)
    assert row is not None and row.startswith(cid[:12]) and UP.search(row), row
    assert dy("ps", "-q", "--no-trunc").out.split() == [cid]
    info = inspect(dy, name)
    assert info["Id"] == cid and info["State"]["Status"] == "running" and info["State"]["Running"] is True
    pid = info["State"]["Pid"]
    assert pid > 0 and comm_of(pid) == "sh"
    mon = monitor_of(dy, name)
    assert monitors(dy) == [mon]
    wait_for(lambda: len(log_records(dy, cid)) >= 2, what="two dated lines")
    out = logs(dy, name).out.splitlines()
    assert len(out) >= 2
    for line in out:  # busybox date: "Sat Nov 28 16:03:11 UTC 2026"
        assert re.fullmatch(r"\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \w+ \d{4}", line), line
    tail = logs(dy, name, "--tail", "1", "-t").out.splitlines()
    assert len(tail) == 1, tail
    stamp, _, text = tail[0].partition(" ")
    assert RFC3339.fullmatch(stamp), tail
    assert text == out[-1] or text in logs(dy, name).out.splitlines()
    since = logs(dy, name, "--since", "10s").out.splitlines()
    assert 1 <= len(since) and set(since) <= set(logs(dy, name).out.splitlines())


def test_logs_tail_timestamps_since_until(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", "echo early; sleep 1.2; echo late")
    assert dy("wait", name, timeout=30).out.strip() == "0"
    assert logs(dy, name).out == "early\nlate\n"
    assert logs(dy, name, "--tail", "1").out == "late\n"
    assert logs(dy, name, "-n", "0").out == ""
    recs = log_records(dy, cid)
    assert [r["log"] for r in recs] == ["early\n", "late\n"]
    stamped = logs(dy, name, "-t").out.splitlines()
    assert stamped == [f"{recs[0]['time']} early", f"{recs[1]['time']} late"]
    assert RFC3339.fullmatch(recs[0]["time"])
    assert logs(dy, name, "--since", "10s").out == "early\nlate\n"
    assert logs(dy, name, "--since", "1h30m").out == "early\nlate\n"
    assert logs(dy, name, "--since", recs[1]["time"]).out == "late\n"
    assert logs(dy, name, "--until", recs[0]["time"]).out == "early\n"
    p = dy("logs", "--since", "yesterday-ish", name, check=False)
    assert p.returncode != 0 and "since" in p.err
    no_traceback(p)


def test_logs_follow_ends_when_the_container_stops(dy, busybox, name):
    run_d(dy, name, "sh", "-c", "sleep 0.6; for i in 1 2 3; do echo n$i; sleep 0.3; done")
    p = subprocess.Popen(dy.cmd("logs", "-f", name), env=dy.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=20)  # must end by itself when the container exits
    finally:
        p.kill()
        p.wait()
    assert p.returncode == 0, err
    assert out == b"n1\nn2\nn3\n", (out, err)
    assert status(dy, name) == "exited"
    # following an exited container prints what there is and returns at once
    t0 = time.monotonic()
    assert dy("logs", "-f", name, timeout=10).out == "n1\nn2\nn3\n"
    assert time.monotonic() - t0 < 5


def test_logs_keep_stdout_and_stderr_apart_in_json_file(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", "echo out1; echo err1 >&2; echo out2; printf partial")
    assert dy("wait", name, timeout=30).out.strip() == "0"
    p = logs(dy, name)
    assert p.out == "out1\nout2\npartial" and p.err == "err1\n", (p.out, p.err)
    with open(log_path(dy, cid), "rb") as f:
        raw = f.read().splitlines()
    recs = [json.loads(line) for line in raw]  # every line is one JSON object
    for r in recs:
        assert set(r) == {"log", "stream", "time"}, r
        assert RFC3339.fullmatch(r["time"]), r
    assert sorted((r["stream"], r["log"]) for r in recs) == [
        ("stderr", "err1\n"), ("stdout", "out1\n"), ("stdout", "out2\n"), ("stdout", "partial")]
    times = [r["time"] for r in recs]
    assert times == sorted(times)


def test_log_rotation(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c",
                "i=0; while [ $i -lt 400 ]; do echo \"line $i padding-padding-padding\"; i=$((i+1)); done",
                flags=("--log-opt", "max-size=1k", "--log-opt", "max-file=2"))
    assert dy("wait", name, timeout=30).out.strip() == "0"
    d = os.path.dirname(log_path(dy, cid))
    files = sorted(f for f in os.listdir(d) if f.startswith(f"{cid}-json.log"))
    assert files == [f"{cid}-json.log", f"{cid}-json.log.1"], files
    for f in files:
        size = os.path.getsize(os.path.join(d, f))
        assert 0 < size <= 1000 + 120, (f, size)  # max-size plus at most one record
    out = logs(dy, name).out.splitlines()
    assert out[-1] == "line 399 padding-padding-padding"
    first = int(out[0].split()[1])
    assert out == [f"line {i} padding-padding-padding" for i in range(first, 400)]  # no gaps, no repeats
    assert first > 300  # the old lines were rotated away


def test_invalid_log_opts(dy, busybox, name):
    for opt in ("max-size=lots", "max-file=0", "nonsense=1"):
        p = dy("run", "-d", "--name", name, "--log-opt", opt, "busybox", "true", check=False, timeout=30)
        assert p.returncode == 125, (opt, p.err)
        assert "dockyard: error:" in p.err
        no_traceback(p)
    assert dy("ps", "-aq").out == ""


def test_log_driver_none_keeps_nothing_and_never_blocks(dy, busybox, name):
    """Docker's `none` driver: no log file, `logs` refused with dockerd's words (exit 1), and
    the container's output still drained (2 MB, far more than a pipe holds, does not block it)."""
    cid = run_d(dy, name, "sh", "-c", "head -c 2000000 /dev/zero | tr '\\0' x; echo; echo err >&2",
                flags=("--log-driver", "none"))
    assert dy("wait", name, timeout=30).out.strip() == "0"
    assert inspect(dy, name)["HostConfig"]["LogConfig"] == {"Type": "none", "Config": {}}
    assert not os.path.exists(log_path(dy, cid))
    p = dy("logs", name, check=False)
    assert p.returncode == 1 and "configured logging driver does not support reading" in p.err, p.err
    no_traceback(p)
    # a foreground run still shows its output; nothing is kept for later either
    p = dy("run", "--name", name + "-fg", "--log-driver", "none", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert (p.out, p.err) == ("out\n", "err\n")
    assert dy("logs", name + "-fg", check=False).returncode == 1
    # options are the docker CLI's refusal (125); an unknown driver dockerd's plugin lookup (1, as docker 28)
    for flags, words, code in ((("--log-driver", "none", "--log-opt", "max-size=1m"),
                                "invalid logging opts for driver none", 125),
                               (("--log-driver", "nope"), 'error looking up logging plugin nope: plugin "nope" not found', 1)):
        p = dy("create", *flags, "busybox", "true", check=False)
        assert p.returncode == code and words in p.err, p.err
    dy("rm", name, name + "-fg")


# -- ps, inspect, images formats -------------------------------------------------------------------


def test_ps_status_texts_filters_and_formats(dy, busybox, name):
    up, done, bad = name + "-up", name + "-done", name + "-bad"
    up_id = run_d(dy, up, "sh", "-c", LOOP, flags=("--label", "tier=web", "--label", "a=1"))
    done_id = run_d(dy, done, "sh", "-c", "exit 0", flags=("--label", "tier=db"))
    bad_id = run_d(dy, bad, "sh", "-c", "exit 3")
    dy("wait", done, bad, timeout=30)
    # docker's wording, with a number of seconds once a second has passed
    row = wait_for(lambda: (r := ps_row(dy, up)) and re.search(r"\bUp \d+ seconds?\b", r) and r,
                   timeout=5, what="Up N seconds")
    assert " (Paused)" not in row
    row = wait_for(lambda: (r := ps_row(dy, done, "-a")) and re.search(r"\bExited \(0\) \d+ seconds? ago\b", r)
                   and r, timeout=5, what="Exited (0) N seconds ago")
    assert re.search(r"\bExited \(3\) (Less than a second|\d+ seconds?) ago\b", ps_row(dy, bad, "-a"))
    assert ps_row(dy, done) is None  # plain ps: running only

    def ids(*flags):
        return dy("ps", *flags, "--format", "{{.ID}}").out.split()

    assert dy("ps", "--format", "{{.ID}} {{.Names}}").out == f"{up_id[:12]} {up}\n"
    assert dy("ps", "-a", "--no-trunc", "--format", "{{.ID}}:{{.Status}}").out.count(":") == 3
    table = dy("ps", "-a", "--format", "table {{.ID}}\t{{.Names}}").out.splitlines()
    assert re.fullmatch(r"CONTAINER ID\s{3,}NAMES", table[0]), table
    assert len(table) == 4 and table[1].split() == [bad_id[:12], bad]  # newest first
    assert sorted(ids("-a")) == sorted(c[:12] for c in (up_id, done_id, bad_id))
    assert ids("--filter", "status=exited") == [bad_id[:12], done_id[:12]]
    assert ids("--filter", "status=running") == [up_id[:12]]
    assert ids("-a", "--filter", f"name={done}") == [done_id[:12]]
    assert ids("-a", "--filter", "label=tier=db") == [done_id[:12]]
    assert sorted(ids("-a", "--filter", "label=tier")) == sorted([up_id[:12], done_id[:12]])
    assert ids("-a", "--filter", "label=a=1", "--filter", "label=tier=web") == [up_id[:12]]
    assert len(ids("-a", "--filter", "ancestor=busybox")) == 3
    assert len(ids("-a", "--filter", "ancestor=busybox:latest")) == 3
    assert ids("-a", "--filter", "exited=3") == [bad_id[:12]]
    assert ids("-l") == [bad_id[:12]]
    assert ids("-n", "2") == [bad_id[:12], done_id[:12]]
    assert dy("ps", "-q").out == up_id[:12] + "\n"
    assert sorted(dy("ps", "-aq").out.split()) == sorted(c[:12] for c in (up_id, done_id, bad_id))
    p = dy("ps", "--filter", "status=bogus", check=False)
    assert p.returncode != 0 and "status" in p.err
    no_traceback(p)
    # inspect templates
    assert fmt(dy, up, "{{.State.Status}}") == "running"
    assert fmt(dy, done, "{{.State.Status}}") == "exited"
    assert int(fmt(dy, up, "{{.State.Pid}}")) > 0 and fmt(dy, done, "{{.State.Pid}}") == "0"
    assert fmt(dy, bad, "{{.State.ExitCode}}") == "3"
    cfg = json.loads(fmt(dy, up, "{{json .Config}}"))
    assert cfg["Cmd"] == ["sh", "-c", LOOP] and cfg["Labels"] == {"tier": "web", "a": "1"}
    assert cfg["Image"] == "busybox" and cfg["Hostname"] == up_id[:12]
    assert fmt(dy, up, "{{.Name}} {{.State.Running}}") == f"/{up} true"
    assert dy("images", "--format", "{{.Repository}}:{{.Tag}}").out == "busybox:latest\n"


# -- stop, start, restart, kill, wait --------------------------------------------------------------


TRAP = "trap 'echo got {sig}; exit 0' {sig}; echo ready; " + LOOP


def _ready(dy, cid, count: int = 1):
    wait_for(lambda: log_lines(dy, cid, "ready") >= count, what="the container to print ready")


def test_stop_sends_sigterm(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", TRAP.format(sig="TERM"))
    _ready(dy, cid)
    t0 = time.monotonic()
    assert dy("stop", "-t", "5", name, timeout=30).out.strip() == name
    assert time.monotonic() - t0 < 4
    assert re.search(r"\bExited \(0\) ", ps_row(dy, name, "-a"))
    assert ps_row(dy, name) is None
    assert logs(dy, name).out == "ready\ngot TERM\n"
    st = inspect(dy, name)["State"]
    assert st["ExitCode"] == 0 and st["Running"] is False and st["Pid"] == 0 and st["OOMKilled"] is False
    assert RFC3339.fullmatch(st["FinishedAt"]) and not st["FinishedAt"].startswith("0001")
    wait_for(lambda: not monitors(dy), timeout=5, what="the monitor to exit")
    assert cgroup_dirs(cid) == []
    # stopping a stopped container is not an error (docker)
    assert dy("stop", name).out.strip() == name


def test_stop_kills_a_container_ignoring_sigterm_after_the_timeout(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", "trap '' TERM; echo ready; " + LOOP)
    _ready(dy, cid)
    t0 = time.monotonic()
    dy("stop", "-t", "1", name, timeout=30)
    took = time.monotonic() - t0
    assert 1.0 <= took < 5, took
    assert fmt(dy, name, "{{.State.ExitCode}}") == "137"
    assert re.search(r"\bExited \(137\) ", ps_row(dy, name, "-a"))


def test_stop_signal_is_honoured(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", "trap '' TERM; " + TRAP.format(sig="USR1"),
                flags=("--stop-signal", "SIGUSR1"))
    _ready(dy, cid)
    t0 = time.monotonic()
    dy("stop", "-t", "5", name, timeout=30)
    assert time.monotonic() - t0 < 4
    assert logs(dy, name).out == "ready\ngot USR1\n"
    assert fmt(dy, name, "{{.State.ExitCode}}") == "0"


def test_start_and_restart_run_the_container_again(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", TRAP.format(sig="TERM"))
    _ready(dy, cid)
    first = inspect(dy, name)["State"]
    dy("stop", "-t", "5", name, timeout=30)
    assert status(dy, name) == "exited"
    assert dy("start", name, timeout=30).out.strip() == name
    _ready(dy, cid, 2)
    second = inspect(dy, name)["State"]
    assert second["Status"] == "running" and UP.search(ps_row(dy, name))
    assert second["Pid"] != first["Pid"] and second["StartedAt"] > first["StartedAt"]
    assert logs(dy, name).out == "ready\ngot TERM\nready\n"  # logs gain a new run
    assert dy("start", name).out.strip() == name  # starting a running container: no-op
    assert len(monitors(dy)) == 1
    assert dy("restart", "-t", "5", name, timeout=30).out.strip() == name
    _ready(dy, cid, 3)
    third = inspect(dy, name)["State"]
    assert third["Status"] == "running" and third["Pid"] not in (first["Pid"], second["Pid"])
    assert logs(dy, name).out == "ready\ngot TERM\nready\ngot TERM\nready\n"
    assert monitors(dy) == [monitor_of(dy, name)]
    # restart of a stopped container starts it
    dy("stop", "-t", "5", name, timeout=30)
    dy("restart", name, timeout=30)
    _ready(dy, cid, 4)
    assert status(dy, name) == "running"


def test_kill_with_a_signal_and_by_default(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", "trap 'echo got HUP' HUP; echo ready; " + LOOP)
    _ready(dy, cid)
    assert dy("kill", "-s", "HUP", name).out.strip() == name
    wait_for(lambda: log_lines(dy, cid, "got HUP") == 1, what="the trap to log HUP")
    assert status(dy, name) == "running"
    dy("kill", "--signal=SIGHUP", name)
    wait_for(lambda: log_lines(dy, cid, "got HUP") == 2, what="the trap to log SIGHUP")
    dy("kill", name)  # SIGKILL by default
    wait_for(lambda: status(dy, name) == "exited", what="the container to exit")
    assert fmt(dy, name, "{{.State.ExitCode}}") == "137"
    assert re.search(r"\bExited \(137\) ", ps_row(dy, name, "-a"))
    p = dy("kill", name, check=False)  # not running any more
    assert p.returncode != 0 and "is not running" in p.err
    no_traceback(p)
    p = dy("kill", "-s", "NOSUCHSIG", name, check=False)
    assert p.returncode != 0
    no_traceback(p)


def test_wait_prints_the_exit_code(dy, busybox, name):
    run_d(dy, name, "sh", "-c", "sleep 0.5; exit 5")
    p = dy("wait", name, timeout=30)
    assert p.out == "5\n" and p.returncode == 0
    assert dy("wait", name, timeout=10).out == "5\n"  # an exited container: at once
    p = dy("wait", "no-such-container", check=False)
    assert p.returncode != 0 and "no-such-container" in p.err
    no_traceback(p)


def test_stop_timeout_flag_of_run(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", "trap '' TERM; echo ready; " + LOOP, flags=("--stop-timeout", "1"))
    _ready(dy, cid)
    t0 = time.monotonic()
    dy("stop", name, timeout=30)  # no -t: the container's own 1 s, not docker's default 10 s
    assert 1.0 <= time.monotonic() - t0 < 5
    assert fmt(dy, name, "{{.State.ExitCode}}") == "137"


def test_run_d_rm_removes_the_container_when_it_exits(dy, busybox, name, tmp_path):
    cid = run_d(dy, name, "sh", "-c", "echo bye", flags=("--rm",))
    wait_for(lambda: dy("ps", "-aq").out == "", what="the container to remove itself")
    assert_clean(dy, tmp_path, [cid])
    cid = run_d(dy, name, "sh", "-c", TRAP.format(sig="TERM"), flags=("--rm",))
    _ready(dy, cid)
    dy("stop", "-t", "5", name, timeout=30)
    wait_for(lambda: dy("ps", "-aq").out == "", what="the stopped container to remove itself")
    assert_clean(dy, tmp_path, [cid])


def test_wait_on_an_auto_removed_container_prints_its_exit_code(dy, busybox, name):
    run_d(dy, name, "sh", "-c", "sleep 0.5; exit 5", flags=("--rm",))
    p = dy("wait", name, check=False, timeout=30)
    no_traceback(p)
    assert (p.returncode, p.out) == (0, "5\n"), p.err  # docker: the code, even though it is removed


# -- restart policies ------------------------------------------------------------------------------


def _settled(dy, name):
    """Status exited and no monitor left (the restart policy is done)."""
    return status(dy, name) == "exited" and not monitors(dy)


def test_restart_on_failure_with_a_maximum(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", "echo run; exit 3", flags=("--restart", "on-failure:2"))
    wait_for(lambda: _settled(dy, name), timeout=15, what="the retries to end")
    assert fmt(dy, name, "{{.RestartCount}}") == "2"
    assert fmt(dy, name, "{{.State.ExitCode}}") == "3"
    assert logs(dy, name).out == "run\nrun\nrun\n"
    time.sleep(1)
    assert fmt(dy, name, "{{.RestartCount}}") == "2" and log_lines(dy, cid, "run") == 3


def test_restart_on_failure_does_not_restart_a_success(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", "echo run; exit 0", flags=("--restart", "on-failure"))
    wait_for(lambda: _settled(dy, name), timeout=15, what="the container to exit")
    time.sleep(0.8)
    assert fmt(dy, name, "{{.RestartCount}}") == "0" and log_lines(dy, cid, "run") == 1


def test_restart_no_never_restarts(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", "echo run; exit 1", flags=("--restart", "no"))
    wait_for(lambda: _settled(dy, name), timeout=15, what="the container to exit")
    time.sleep(0.8)
    assert fmt(dy, name, "{{.RestartCount}}") == "0" and log_lines(dy, cid, "run") == 1
    assert status(dy, name) == "exited"


def test_restart_always_until_stopped(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", "echo run; sleep 0.1; exit 0", flags=("--restart", "always"))
    wait_for(lambda: int(fmt(dy, name, "{{.RestartCount}}")) >= 2, timeout=15, what="two restarts")
    assert status(dy, name) in ("running", "restarting")
    dy("stop", "-t", "2", name, timeout=30)
    assert status(dy, name) == "exited"
    assert re.search(r"\bExited \(\d+\) ", ps_row(dy, name, "-a"))
    wait_for(lambda: not monitors(dy), timeout=5, what="the monitor to exit")
    count, runs = fmt(dy, name, "{{.RestartCount}}"), log_lines(dy, cid, "run")
    time.sleep(1.5)  # stays stopped
    assert status(dy, name) == "exited" and ps_row(dy, name) is None
    assert fmt(dy, name, "{{.RestartCount}}") == count and log_lines(dy, cid, "run") == runs
    assert cgroup_dirs(cid) == []


def test_ps_shows_a_restarting_container_as_docker_does(dy, busybox, name):
    run_d(dy, name, "sh", "-c", "exit 1", flags=("--restart", "always"))
    # the back-offs grow (0.1 s, 0.2 s, … 1.6 s, 3.2 s): a `ps` inside one, however slow the host,
    # once the back-off is long enough; the row as soon as a back-off is seen
    row = ""
    deadline = time.monotonic() + 30
    while "Restarting" not in row:
        assert time.monotonic() < deadline, row
        if fmt(dy, name, "{{.State.Status}}") == "restarting":
            row = ps_row(dy, name, "-a")
    # docker's State.String(): "Restarting (1) Less than a second ago", the last exit and its time
    assert re.search(r"\bRestarting \(1\) (Less than a second|\d+ seconds?) ago\b", row), row
    # in one document: a restarting container is Restarting, with its last exit code
    wait_for(lambda: fmt(dy, name, "{{.State.Status}} {{.State.Restarting}} {{.State.ExitCode}}") ==
             "restarting true 1", timeout=15, interval=0.02, what="a back-off")
    dy("rm", "-f", name, timeout=30)


def test_stop_of_a_restarting_container_is_prompt(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", "echo run; exit 1", flags=("--restart", "always"))
    # back-off: 0.1, 0.2, 0.4, 0.8 s, then 1.6 s before the 5th run
    wait_for(lambda: fmt(dy, name, "{{.RestartCount}} {{.State.Status}}") == "4 restarting", timeout=15,
             interval=0.02, what="the 4th back-off")
    t0 = time.monotonic()
    dy("stop", "-t", "5", name, timeout=30)
    took = time.monotonic() - t0
    wait_for(lambda: not monitors(dy), timeout=10, what="the monitor to exit")
    runs = log_lines(dy, cid, "run")
    time.sleep(0.5)
    assert status(dy, name) == "exited" and log_lines(dy, cid, "run") == runs
    assert took < 1.5, f"stop of a restarting container took {took:.1f}s (docker: at once)"


def test_restart_back_off_grows(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", "echo run; exit 1", flags=("--restart", "on-failure:4"))
    wait_for(lambda: _settled(dy, name), timeout=20, what="the retries to end")
    from datetime import datetime

    def ts(r):
        t = r["time"].rstrip("Z")
        main, _, frac = t.partition(".")
        return datetime.fromisoformat(main).timestamp() + float("0." + (frac or "0"))

    starts = [ts(r) for r in log_records(dy, cid) if r["log"] == "run\n"]
    assert len(starts) == 5
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(b > a for a, b in zip(gaps, gaps[1:])), gaps  # each wait longer than the last
    assert gaps[-1] >= 2 * gaps[0], gaps


# -- exec ------------------------------------------------------------------------------------------


def test_exec_env_user_workdir_and_exit_codes(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", LOOP, flags=("-e", "FOO=bar"))
    env = dy("exec", "-e", "X=1", name, "env", timeout=30).out.splitlines()
    assert "FOO=bar" in env and "X=1" in env and f"HOSTNAME={cid[:12]}" in env
    assert "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in env
    assert "X=1" not in dy("exec", name, "env").out.splitlines()
    assert dy("exec", "-u", "nobody", "-w", "/tmp", name, "sh", "-c", "id -u; pwd").out == "65534\n/tmp\n"
    assert dy("exec", name, "sh", "-c", "id -u; pwd").out == "0\n/\n"
    assert dy("exec", name, "true").returncode == 0
    assert dy("exec", name, "sh", "-c", "exit 3", check=False).returncode == 3
    p = dy("exec", name, "/etc/passwd", check=False)
    assert p.returncode == 126 and "permission denied" in p.err
    no_traceback(p)
    p = dy("exec", name, "no-such-command", check=False)
    assert p.returncode == 126 and "not found" in p.err  # docker exec: 126 (run: 127)
    no_traceback(p)
    # the exec'd process is in the container: same pid namespace (init is pid 1 there)
    assert dy("exec", name, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '").out.startswith("sh -c ")
    assert dy("exec", "-i", name, "cat", input="piped\n").out == "piped\n"
    assert status(dy, name) == "running"


def test_exec_it_on_a_real_terminal(dy, busybox, name):
    run_d(dy, name, "sh", "-c", LOOP)
    t = Pty(dy, "exec", "-it", name, "sh")
    try:
        end = t.expect(rb"# ")
        t.send(b"tty; echo sum=$((2+3))\n")
        end = t.expect(rb"/dev/pts/\d+\r?\n", start=end)
        end = t.expect(rb"sum=5\r?\n", start=end)
        t.expect(rb"# ", start=end)
        t.send(b"exit 6\n")
        assert t.wait() == 6
    finally:
        t.kill()
    assert status(dy, name) == "running"


def test_exec_in_a_stopped_container_fails_clearly(dy, busybox, name):
    run_d(dy, name, "true")
    dy("wait", name, timeout=30)
    p = dy("exec", name, "true", check=False)
    assert p.returncode != 0 and "is not running" in p.err, p.err
    no_traceback(p)
    p = dy("exec", "no-such-container", "true", check=False)
    assert p.returncode != 0 and "no-such-container" in p.err
    no_traceback(p)


# -- pause / unpause -------------------------------------------------------------------------------


def test_pause_freezes_and_unpause_resumes(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", "while :; do echo tick; sleep 0.1; done")
    wait_for(lambda: log_lines(dy, cid, "tick") >= 2, what="ticks")
    assert dy("pause", name).out.strip() == name
    row = ps_row(dy, name)
    assert row is not None and re.search(r"\bUp .* \(Paused\)", row), row
    assert status(dy, name) == "paused" and fmt(dy, name, "{{.State.Paused}}") == "true"
    time.sleep(0.3)  # a line in flight may still land
    before = log_lines(dy, cid, "tick")
    time.sleep(1.0)
    assert log_lines(dy, cid, "tick") == before  # frozen: not a single line
    p = dy("exec", name, "true", check=False, timeout=15)
    assert p.returncode != 0 and "paused" in p.err
    no_traceback(p)
    p = dy("pause", name, check=False)
    assert p.returncode != 0 and "already paused" in p.err
    assert dy("unpause", name).out.strip() == name
    assert status(dy, name) == "running" and "(Paused)" not in ps_row(dy, name)
    wait_for(lambda: log_lines(dy, cid, "tick") >= before + 3, what="ticks after unpause")
    p = dy("unpause", name, check=False)
    assert p.returncode != 0 and "not paused" in p.err
    # a paused container can be stopped
    dy("pause", name)
    t0 = time.monotonic()
    dy("stop", "-t", "1", name, timeout=30)
    assert time.monotonic() - t0 < 8
    assert status(dy, name) == "exited"
    p = dy("pause", name, check=False)
    assert p.returncode != 0 and "not running" in p.err
    no_traceback(p)


# -- top, stats ------------------------------------------------------------------------------------


def test_top_and_stats(dy, busybox, name):
    cid = run_d(dy, name, *API, flags=API_FLAGS)
    wait_for(lambda: log_records(dy, cid), what="the first line")
    lines = dy("top", name).out.splitlines()
    header = lines[0].split()
    assert "PID" in header and "CMD" in header, lines
    col = header.index("PID")
    pids = {int(line.split()[col]) for line in lines[1:]}
    assert int(fmt(dy, name, "{{.State.Pid}}")) in pids
    assert any("while true" in line for line in lines[1:]), lines
    assert not any("dockyard" in line for line in lines[1:]), lines  # the monitor is not the container's
    assert all(re.search(r"\b(sh|sleep|date)\b", line) for line in lines[1:]), lines
    custom = dy("top", name, "-eo", "pid,comm").out.splitlines()
    assert custom[0].split() == ["PID", "COMMAND"] and any(line.split()[-1] == "sh" for line in custom[1:])
    out = dy("stats", "--no-stream", name, timeout=30).out.splitlines()
    assert len(out) == 2, out
    assert re.split(r"\s{2,}", out[0].strip()) == STATS_HEADERS, out[0]
    assert out[0].startswith("CONTAINER ID   NAME")
    cells = re.split(r"\s{2,}", out[1].strip())
    assert cells[0] == cid[:12] and cells[1] == name
    assert re.fullmatch(r"\d+\.\d\d%", cells[2])
    used, limit = cells[3].split(" / ")
    assert limit == "64MiB" and re.fullmatch(r"[\d.]+(B|KiB|MiB)", used), cells
    assert re.fullmatch(r"\d+\.\d\d%", cells[4])
    assert 1 <= int(cells[7]) <= 50
    fmt_out = dy("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", name, timeout=30).out
    assert fmt_out.startswith(name + " ") and fmt_out.rstrip().endswith("/ 64MiB")
    dy("stop", "-t", "1", name, timeout=30)
    p = dy("top", name, check=False)
    assert p.returncode != 0 and "not running" in p.err
    no_traceback(p)


# -- rename, prune, rm ------------------------------------------------------------------------------


def test_rename(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", LOOP)
    assert dy("rename", name, name + "2").returncode == 0
    assert ps_row(dy, name + "2") is not None and ps_row(dy, name) is None
    assert fmt(dy, name + "2", "{{.Name}}") == f"/{name}2"
    assert fmt(dy, cid, "{{.Name}}") == f"/{name}2"
    p = dy("inspect", name, check=False)
    assert p.returncode != 0
    other = run_d(dy, name, "true")  # the old name is free again
    p = dy("rename", name, name + "2", check=False)  # the new one is taken
    assert p.returncode != 0 and "already in use" in p.err
    no_traceback(p)
    dy("stop", "-t", "1", name + "2", timeout=30)
    dy("start", name + "2", timeout=30)  # the monitor follows the container, whatever its name
    assert status(dy, name + "2") == "running" and other


def test_container_prune_removes_only_stopped_containers(dy, busybox, name, tmp_path):
    running = run_d(dy, name + "-run", "sh", "-c", LOOP)
    stopped = [run_d(dy, f"{name}-x{i}", "sh", "-c", f"exit {i}") for i in range(2)]
    dy("wait", *stopped, timeout=30)
    p = dy("container", "prune", "-f", timeout=60)
    assert "Deleted Containers:" in p.out
    assert sorted(line for line in p.out.splitlines() if HEX64.fullmatch(line)) == sorted(stopped)
    assert "Total reclaimed space:" in p.out
    assert dy("ps", "-aq", "--no-trunc").out.split() == [running]
    for cid in stopped:
        assert not os.path.exists(os.path.join(dy.root, "containers", cid))
    assert status(dy, running) == "running"


def test_rm_f_everything_leaves_nothing(dy, busybox, name, tmp_path):
    ids = [
        run_d(dy, name + "-a", "sh", "-c", LOOP, flags=("-m", "64m", "--pids-limit", "50")),
        run_d(dy, name + "-b", "sh", "-c", "trap '' TERM; " + LOOP),
        run_d(dy, name + "-c", "sh", "-c", "exit 2"),
        run_d(dy, name + "-d", "sh", "-c", "sleep 0.2; exit 1", flags=("--restart", "always")),
    ]
    dy("wait", name + "-c", timeout=30)
    assert any(cgroup_dirs(ids[0]))
    p = dy("rm", name + "-a", check=False)
    assert p.returncode != 0 and "cannot remove a running container" in p.err
    all_ids = dy("ps", "-aq").out.split()
    assert len(all_ids) == 4
    t0 = time.monotonic()
    out = dy("rm", "-f", *all_ids, timeout=60).out.split()
    assert sorted(out) == sorted(all_ids)
    assert time.monotonic() - t0 < 15
    assert_clean(dy, tmp_path, ids)
    time.sleep(0.5)  # the `always` container is not resurrected by a late monitor
    assert_clean(dy, tmp_path, ids)


def test_rm_f_of_a_paused_container_is_prompt(dy, busybox, name, tmp_path):
    cid = run_d(dy, name, "sh", "-c", LOOP, flags=("-m", "64m"))
    dy("pause", name)
    pid = int(fmt(dy, name, "{{.State.Pid}}"))
    t0 = time.monotonic()
    assert dy("rm", "-f", name, timeout=60).out.strip() == name
    took = time.monotonic() - t0
    assert not alive(pid)
    assert_clean(dy, tmp_path, [cid])
    assert took < 5, f"rm -f of a paused container took {took:.1f}s"  # docker: immediate


# -- crash truth -----------------------------------------------------------------------------------


def test_killed_monitor_ps_tells_the_truth_and_stop_works(dy, busybox, name, tmp_path):
    cid = run_d(dy, name, "sh", "-c", TRAP.format(sig="TERM"), flags=("-m", "64m"))
    _ready(dy, cid)
    pid = int(fmt(dy, name, "{{.State.Pid}}"))
    os.kill(monitor_of(dy, name), signal.SIGKILL)
    wait_for(lambda: not monitors(dy), what="the monitor to die")
    assert alive(pid)
    row = ps_row(dy, name)
    assert row is not None and UP.search(row), row  # the init lives: it is running
    assert inspect(dy, name)["State"]["Running"] is True
    t0 = time.monotonic()
    dy("stop", "-t", "5", name, timeout=30)
    assert time.monotonic() - t0 < 8
    wait_for(lambda: not alive(pid), timeout=5, what="the init to be gone")
    row = ps_row(dy, name, "-a")
    assert row is not None and "Exited (" in row and "Up" not in row, row
    assert ps_row(dy, name) is None
    st = inspect(dy, name)["State"]
    assert st["Status"] == "exited" and st["Running"] is False and st["Pid"] == 0
    dy("rm", "-f", name, timeout=30)
    assert_clean(dy, tmp_path, [cid])


def test_killed_monitor_then_init_is_exited(dy, busybox, name, tmp_path):
    cid = run_d(dy, name, "sh", "-c", LOOP)
    pid = int(fmt(dy, name, "{{.State.Pid}}"))
    os.kill(monitor_of(dy, name), signal.SIGKILL)
    wait_for(lambda: not monitors(dy), what="the monitor to die")
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not alive(pid), timeout=5, what="the init to die")
    wait_for(lambda: ps_row(dy, name) is None, what="ps to drop the container")
    assert re.search(r"\bExited \(137\) ", ps_row(dy, name, "-a"))
    assert status(dy, name) == "exited"
    dy("start", name, timeout=30)  # a new monitor takes over
    assert status(dy, name) == "running" and len(monitors(dy)) == 1
    dy("rm", "-f", name, timeout=30)
    assert_clean(dy, tmp_path, [cid])


def test_killed_init_is_recorded_by_the_monitor(dy, busybox, name, tmp_path):
    cid = run_d(dy, name, "sh", "-c", LOOP, flags=("-m", "64m"))
    pid = int(fmt(dy, name, "{{.State.Pid}}"))
    monitor_of(dy, name)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: status(dy, name) == "exited", what="the exit to be recorded")
    assert fmt(dy, name, "{{.State.ExitCode}}") == "137"
    assert re.search(r"\bExited \(137\) ", ps_row(dy, name, "-a"))
    wait_for(lambda: not monitors(dy), timeout=5, what="the monitor to exit")
    assert cgroup_dirs(cid) == []  # the monitor cleaned up after its container
    dy("rm", name, timeout=30)
    assert_clean(dy, tmp_path, [cid])


def test_killed_foreground_cli_leaves_a_true_ps_and_rm_cleans_up(dy, busybox, name, tmp_path):
    p = subprocess.Popen(dy.cmd("run", "--name", name, "-m", "64m", "--pids-limit", "50", "busybox", "sleep", "60"),
                         env=dy.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: p.poll() is not None or (ps_row(dy, name) or "").find(" Up ") >= 0, what="Up")
        assert p.poll() is None, p.stderr.read()
        cid = fmt(dy, name, "{{.Id}}")
        CREATED.append(cid)
        pid = int(fmt(dy, name, "{{.State.Pid}}"))
        assert comm_of(pid) == "sleep" and cgroup_dirs(cid)
        p.kill()
        p.wait(10)
    finally:
        p.kill()
        p.wait()
    assert alive(pid)  # the container outlives its CLI, as docker's do
    row = ps_row(dy, name)
    assert row is not None and UP.search(row), dy("ps", "-a").out
    assert inspect(dy, name)["State"]["Running"] is True
    t0 = time.monotonic()
    dy("rm", "-f", name, timeout=30)
    assert time.monotonic() - t0 < 10
    wait_for(lambda: not alive(pid), timeout=5, what="the init to be killed")
    assert_clean(dy, tmp_path, [cid])


# -- concurrency -----------------------------------------------------------------------------------


def test_parallel_stop_and_start_end_consistent(dy, busybox, name):
    cid = run_d(dy, name, "sh", "-c", TRAP.format(sig="TERM"))
    _ready(dy, cid)
    results: list = [None] * 10

    def act(i):
        cmd = ("stop", "-t", "2", name) if i % 2 == 0 else ("start", name)
        results[i] = dy(*cmd, check=False, timeout=60)

    threads = [threading.Thread(target=act, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    for r in results:
        assert r is not None
        no_traceback(r)
        assert r.returncode == 0, r.err
    wait_for(lambda: status(dy, name) in ("running", "exited"), what="a settled state")
    info = inspect(dy, name)  # valid JSON
    st = info["State"]
    if st["Status"] == "running":
        assert st["Running"] is True and alive(st["Pid"])
        assert monitors(dy) == [monitor_of(dy, name)]  # exactly one monitor, the init's parent
        assert ps_row(dy, name) is not None
    else:
        assert st["Running"] is False and st["Pid"] == 0
        wait_for(lambda: not monitors(dy), timeout=5, what="no monitor for an exited container")
        assert ps_row(dy, name) is None and ps_row(dy, name, "-a") is not None
    # and it still works normally afterwards
    dy("stop", "-t", "2", name, timeout=30)
    assert status(dy, name) == "exited"
    dy("start", name, timeout=30)
    assert status(dy, name) == "running" and len(monitors(dy)) == 1


def test_operations_on_different_containers_do_not_block_each_other(dy, busybox, name):
    a = run_d(dy, name + "-a", "sh", "-c", "trap '' TERM; echo ready; " + LOOP)
    run_d(dy, name + "-b", "sh", "-c", LOOP)
    _ready(dy, a)
    baseline = time.monotonic()
    dy("inspect", name + "-b")
    baseline = time.monotonic() - baseline  # one CLI round trip on this machine
    done = {}

    def stop_a():
        t0 = time.monotonic()
        done["stop"] = dy("stop", "-t", "3", name + "-a", check=False, timeout=30)
        done["took"] = time.monotonic() - t0

    t = threading.Thread(target=stop_a)
    t.start()
    try:
        time.sleep(0.6)  # `stop` now holds A's lock and waits out its grace period
        t0 = time.monotonic()
        dy("kill", name + "-b", timeout=30)
        took = time.monotonic() - t0
        assert "took" not in done  # A's stop is still under way
    finally:
        t.join(30)
    assert took < baseline + 1.0, (took, baseline)
    assert done["stop"].returncode == 0 and done["took"] >= 3
    assert fmt(dy, name + "-b", "{{.State.ExitCode}}") == "137"
    assert fmt(dy, name + "-a", "{{.State.ExitCode}}") == "137"
