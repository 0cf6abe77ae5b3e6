"""Health checks as dockerd runs them (moby daemon/health.go): probes are execs in the container,
results in State.Health (last 5, output cut at 4096 bytes), starting → healthy/unhealthy, start
period and start interval, a probe's timeout kills it, HEALTHCHECK from a built image, NONE and
--no-healthcheck, `ps` STATUS and `--filter health=`, the foreground `run` probed the same way.

Every test uses its own store; intervals are a few hundred ms so the file runs in seconds.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from support import CREATED, container_processes, no_traceback, run_d, wait_for

LOOP = "while :; do sleep 0.1; done"


def health(dy, ref: str) -> dict | None:
    return json.loads(dy("inspect", ref, timeout=30).out)[0]["State"].get("Health")


def health_status(dy, ref: str) -> str:
    return (health(dy, ref) or {}).get("Status", "")


def _comm(pid) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def probers_of(root: str) -> list[int]:
    """`dockyard-health` processes of the store at `root` (not the short-lived forks a prober
    makes to exec a probe, which carry its name until they exec)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if _comm(pid) != "dockyard-health":
                continue
            with open(f"/proc/{pid}/stat") as f:
                if _comm(f.read().rsplit(")", 1)[1].split()[1]) == "dockyard-health":
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if b"DOCKYARD_ROOT=" + root.encode() in f.read().split(b"\0"):
                    out.append(int(pid))
        except OSError:
            continue
    return out


def cmdlines(pids) -> list[str]:
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                out.append(f.read().replace(b"\0", b" ").decode(errors="replace").strip())
        except OSError:
            pass
    return out


def ps_status(dy, name: str, *flags: str) -> str | None:
    out = dy("ps", *flags, "--format", "{{.Names}}|{{.Status}}", timeout=30).out
    for line in out.splitlines():
        n, _, st = line.partition("|")
        if n == name:
            return st
    return None


def test_healthy_inspect_ps_and_filters(dy, busybox, tmp_path):
    run_d(dy, "ok", "sh", "-c", LOOP, flags=("--health-cmd", "echo fine; echo warn >&2",
                                             "--health-interval", "200ms"))
    run_d(dy, "plain", "sh", "-c", LOOP)
    run_d(dy, "later", "sh", "-c", LOOP, flags=("--health-cmd", "true", "--health-interval", "60s"))
    assert ps_status(dy, "later").endswith(" (health: starting)")
    assert health(dy, "later") == {"Status": "starting", "FailingStreak": 0, "Log": []}
    wait_for(lambda: health_status(dy, "ok") == "healthy", what="healthy")
    h = health(dy, "ok")
    assert list(h) == ["Status", "FailingStreak", "Log"]
    assert h["FailingStreak"] == 0
    entry = h["Log"][-1]
    assert list(entry) == ["Start", "End", "ExitCode", "Output"]
    assert entry["ExitCode"] == 0 and entry["Output"] == "fine\nwarn\n"  # stdout and stderr, one stream
    assert entry["Start"] <= entry["End"]
    assert dy("inspect", "-f", "{{.State.Health.Status}}", "ok").out.strip() == "healthy"
    cfg = json.loads(dy("inspect", "ok").out)[0]["Config"]["Healthcheck"]
    assert cfg == {"Test": ["CMD-SHELL", "echo fine; echo warn >&2"], "Interval": 200_000_000}
    st = ps_status(dy, "ok")
    assert st.startswith("Up ") and st.endswith(" (healthy)"), st
    assert "(" not in ps_status(dy, "plain")
    assert health(dy, "plain") is None

    def names(value):
        return dy("ps", "--filter", f"health={value}", "--format", "{{.Names}}").out.split()

    assert names("healthy") == ["ok"]
    assert names("none") == ["plain"]
    assert names("unhealthy") == [] and names("starting") == ["later"]
    p = dy("ps", "--filter", "health=sick", check=False)
    assert p.returncode != 0 and "Unrecognised filter value for health: sick" in p.err
    no_traceback(p)
    dy("rm", "-f", "ok", "plain", "later")
    wait_for(lambda: not probers_of(dy.root), what="the prober to go with its container")


def test_unhealthy_only_after_retries_failures_in_a_row(dy, busybox):
    run_d(dy, "bad", "sh", "-c", LOOP, flags=("--health-cmd", "echo nope; exit 3", "--health-interval", "250ms",
                                              "--health-retries", "3"))
    seen = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        h = health(dy, "bad")
        seen.append((h["Status"], h["FailingStreak"], len(h["Log"])))
        if h["Status"] == "unhealthy" and h["FailingStreak"] >= 6:
            break
    for status, streak, _ in seen:  # never unhealthy before the 3rd failure, always after it
        assert (status == "unhealthy") == (streak >= 3), seen
        assert status != "healthy"
    assert any(streak in (1, 2) for _, streak, _ in seen), seen  # it went through starting
    h = health(dy, "bad")
    assert len(h["Log"]) == 5  # the last five only
    assert all(e["ExitCode"] == 3 and e["Output"] == "nope\n" for e in h["Log"])
    assert ps_status(dy, "bad").endswith(" (unhealthy)")
    dy("rm", "-f", "bad")


def test_recovers_to_healthy_and_streak_resets(dy, busybox):
    run_d(dy, "flip", "sh", "-c", LOOP, flags=("--health-cmd", "test -e /ok", "--health-interval", "200ms",
                                               "--health-retries", "1"))
    wait_for(lambda: health_status(dy, "flip") == "unhealthy", what="unhealthy")
    dy("exec", "flip", "touch", "/ok")
    wait_for(lambda: health_status(dy, "flip") == "healthy", what="healthy again")
    assert health(dy, "flip")["FailingStreak"] == 0
    dy("rm", "-f", "flip")


def test_start_period_failures_do_not_count(dy, busybox):
    started = time.monotonic()
    run_d(dy, "slow", "sh", "-c", LOOP, flags=("--health-cmd", "exit 1", "--health-interval", "200ms",
                                               "--health-retries", "1", "--health-start-period", "2s"))
    wait_for(lambda: len((health(dy, "slow") or {}).get("Log") or []) >= 3, what="three probes")
    h = health(dy, "slow")
    if time.monotonic() - started < 1.8:  # still inside the start period: failures are logged only
        assert h["Status"] == "starting" and h["FailingStreak"] == 0, h
    wait_for(lambda: health_status(dy, "slow") == "unhealthy", timeout=10, what="unhealthy after the period")
    assert time.monotonic() - started >= 2.0
    dy("rm", "-f", "slow")


def test_start_interval_probes_often_during_the_start_period(dy, busybox):
    # Interval 10s, but StartInterval 200ms while starting, more than an interval before the end of
    # the 60s start period (moby's getInterval)
    run_d(dy, "warm", "sh", "-c", LOOP, flags=("--health-cmd", "exit 1", "--health-interval", "10s",
                                               "--health-start-period", "60s", "--health-start-interval", "200ms"))
    wait_for(lambda: len((health(dy, "warm") or {}).get("Log") or []) >= 3, timeout=5, what="three quick probes")
    h = health(dy, "warm")
    assert h["Status"] == "starting" and h["FailingStreak"] == 0
    dy("rm", "-f", "warm")


def test_timeout_kills_the_probe_and_never_blocks_the_monitor(dy, busybox, tmp_path):
    cid = run_d(dy, "hang", "sh", "-c", "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.1; done",
                flags=("--health-cmd", "echo begun; sleep 987", "--health-interval", "200ms",
                       "--health-timeout", "400ms", "--health-retries", "2"))
    wait_for(lambda: health_status(dy, "hang") == "unhealthy", what="unhealthy")
    h = health(dy, "hang")
    assert h["Log"][0]["ExitCode"] == -1
    assert h["Log"][0]["Output"] == "Health check exceeded timeout (400ms): begun\n"
    # the probe was killed: no `sleep 987` outlives its timeout (at most the current one runs)
    assert len([c for c in cmdlines(container_processes(str(tmp_path))) if c == "sleep 987"]) <= 1
    # meanwhile the monitor kept draining the container's output into its log
    n1 = len(dy("logs", "hang").out.splitlines())
    time.sleep(0.6)
    n2 = len(dy("logs", "hang").out.splitlines())
    assert n2 > n1 > 5
    # and `kill` while a probe hangs is recorded at once, the probe with the container
    dy("kill", "hang")
    wait_for(lambda: dy("inspect", "-f", "{{.State.Status}}", "hang").out.strip() == "exited", timeout=5,
             what="the exit recorded while a probe hangs")
    wait_for(lambda: not probers_of(dy.root), timeout=5, what="the prober gone")
    assert not [c for c in cmdlines(container_processes(str(tmp_path))) if "sleep 987" in c]
    # the health state outlives the container, as docker's does
    assert health_status(dy, "hang") == "unhealthy"
    assert cid in CREATED
    dy("rm", "-f", "hang")


def test_output_truncated_to_4096_bytes(dy, busybox):
    run_d(dy, "loud", "sh", "-c", LOOP, flags=("--health-cmd", "head -c 10000 /dev/zero | tr '\\0' a",
                                               "--health-interval", "200ms"))
    wait_for(lambda: health_status(dy, "loud") == "healthy", what="healthy")
    out = health(dy, "loud")["Log"][0]["Output"]
    assert out == "a" * 4096 + "..."
    dy("rm", "-f", "loud")


def test_restart_resets_status_and_keeps_the_log(dy, busybox):
    run_d(dy, "again", "sh", "-c", LOOP, flags=("--health-cmd", "exit 1", "--health-interval", "200ms",
                                                "--health-retries", "1"))
    wait_for(lambda: health_status(dy, "again") == "unhealthy", what="unhealthy")
    dy("stop", "-t", "0", "again")
    before = health(dy, "again")["Log"]
    dy("start", "again")
    h = health(dy, "again")
    assert h["Status"] == "starting" and h["FailingStreak"] == 0
    assert h["Log"][: len(before)] == before
    dy("rm", "-f", "again")


def test_image_healthcheck_merge_none_and_no_healthcheck(dy, busybox, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text('FROM busybox\nHEALTHCHECK --interval=200ms --retries=2 CMD ["cat", "/etc/hostname"]\n')
    dy("build", "-q", "-t", "hc:1", str(ctx), timeout=120)
    (ctx / "Dockerfile").write_text("FROM hc:1\nHEALTHCHECK NONE\n")
    dy("build", "-q", "-t", "hc:none", str(ctx), timeout=120)
    dy("run", "-d", "--name", "img", "hc:1", "sh", "-c", LOOP)
    wait_for(lambda: health_status(dy, "img") == "healthy", what="the image's check")
    h = health(dy, "img")
    cid = json.loads(dy("inspect", "img").out)[0]["Id"]
    assert h["Log"][0]["Output"] == cid[:12] + "\n"  # exec form, no shell
    assert json.loads(dy("inspect", "img").out)[0]["Config"]["Healthcheck"] == {
        "Test": ["CMD", "cat", "/etc/hostname"], "Interval": 200_000_000, "Retries": 2}
    # a flag overrides its field only; the image's test stays
    dy("run", "-d", "--name", "merged", "--health-retries", "7", "hc:1", "sh", "-c", LOOP)
    assert json.loads(dy("inspect", "merged").out)[0]["Config"]["Healthcheck"] == {
        "Test": ["CMD", "cat", "/etc/hostname"], "Interval": 200_000_000, "Retries": 7}
    # --no-healthcheck and an image's HEALTHCHECK NONE: no probes, no State.Health
    dy("run", "-d", "--name", "off", "--no-healthcheck", "hc:1", "sh", "-c", LOOP)
    dy("run", "-d", "--name", "none", "hc:none", "sh", "-c", LOOP)
    time.sleep(0.8)
    for name in ("off", "none"):
        assert health(dy, name) is None
        assert "(" not in ps_status(dy, name)
    # moby's merge: the NONE test is the container's, the other fields still come from the image
    assert json.loads(dy("inspect", "off").out)[0]["Config"]["Healthcheck"] == {
        "Test": ["NONE"], "Interval": 200_000_000, "Retries": 2}
    names = dy("ps", "--filter", "health=none", "--format", "{{.Names}}").out.split()
    assert sorted(names) == ["none", "off"]
    assert len(probers_of(dy.root)) == 2  # img and merged only
    dy("rm", "-f", "img", "merged", "off", "none")


def test_foreground_run_is_probed_the_same_way(dy, busybox, tmp_path):
    p = dy("run", "--name", "fg", "--health-cmd", "echo fg", "--health-interval", "200ms", "busybox",
           "sh", "-c", "sleep 1.2; echo done")
    assert p.out == "done\n"  # probes print nothing to the terminal
    h = health(dy, "fg")
    assert h["Status"] == "healthy" and h["Log"] and h["Log"][-1]["Output"] == "fg\n"
    # a probe that hangs does not hold up a foreground run's end, nor outlive it
    t0 = time.monotonic()
    p = dy("run", "--rm", "--health-cmd", "sleep 988", "--health-interval", "100ms", "busybox", "sh", "-c",
           "sleep 0.6; exit 4", check=False)
    assert p.returncode == 4 and time.monotonic() - t0 < 5
    assert not probers_of(dy.root)
    assert not [c for c in cmdlines(container_processes(str(tmp_path))) if "sleep 988" in c]
    dy("rm", "fg")


def test_probe_through_runc(dy, busybox, tmp_path):
    run_d(dy, "viarunc", "sh", "-c", LOOP, flags=("--runtime", "runc", "--health-cmd", "echo via runc",
                                                  "--health-interval", "200ms"))
    wait_for(lambda: health_status(dy, "viarunc") == "healthy", what="healthy through runc")
    assert health(dy, "viarunc")["Log"][0]["Output"] == "via runc\n"
    dy("rm", "-f", "viarunc")
    run_d(dy, "runchang", "sh", "-c", LOOP, flags=("--runtime", "runc", "--health-cmd", "sleep 989",
                                                   "--health-interval", "100ms", "--health-timeout", "300ms",
                                                   "--health-retries", "1"))
    wait_for(lambda: health_status(dy, "runchang") == "unhealthy", what="timeout through runc")
    assert health(dy, "runchang")["Log"][0]["ExitCode"] == -1
    time.sleep(0.2)
    assert len([c for c in cmdlines(container_processes(str(tmp_path))) if c == "sleep 989"]) <= 1
    dy("rm", "-f", "runchang")


@pytest.mark.parametrize("flags, message", [
    (("--no-healthcheck", "--health-cmd", "true"), "--no-healthcheck conflicts with --health-* options"),
    (("--health-interval", "-1s"), "--health-interval cannot be negative"),
    (("--health-timeout", "soon"), 'invalid argument "soon" for "--health-timeout" flag: time: invalid duration'),
    (("--health-retries", "-2"), "--health-retries cannot be negative"),
    (("--health-retries", "x"), '"--health-retries"'),
    (("--health-start-period", "500us"), "StartPeriod in Healthcheck cannot be less than 1ms"),
    (("--health-interval", "10ns"), "Interval in Healthcheck cannot be less than 1ms"),
])
def test_bad_health_flags_are_refused(dy, busybox, flags, message):
    for verb in ("run", "create"):
        p = dy(verb, "--rm" if verb == "run" else "--name=x", *flags, "busybox", "true", check=False)
        assert p.returncode == 125 if verb == "run" else p.returncode != 0, p.err
        assert message in p.err, p.err
        no_traceback(p)
    assert dy("ps", "-aq").out == ""


def test_probe_has_the_container_confinement(dy, busybox):
    """A probe is an exec of the container's own process: its capabilities, seccomp filter,
    no_new_privs, namespaces and root; never the host's (compare a plain `exec`)."""
    probe = "grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status; hostname; ls /proc/1/root/ >/dev/null; id -u"
    run_d(dy, "conf", "sh", "-c", LOOP, flags=("--health-cmd", probe, "--health-interval", "200ms",
                                               "--security-opt", "no-new-privileges", "-u", "1234"))
    wait_for(lambda: (health(dy, "conf") or {}).get("Log"), what="a probe")
    out = health(dy, "conf")["Log"][0]["Output"]
    same = dy("exec", "conf", "sh", "-c", probe, check=False).out
    assert out == same, (out, same)
    assert "Seccomp:\t2" in out and "NoNewPrivs:\t1" in out and out.strip().endswith("1234")
    assert "CapEff:\t0000000000000000" in out  # a non-root user keeps no effective capabilities
    cid = json.loads(dy("inspect", "conf").out)[0]["Id"]
    assert cid[:12] in out  # the container's UTS namespace
    dy("rm", "-f", "conf")


def test_no_probes_while_paused(dy, busybox):
    run_d(dy, "nap", "sh", "-c", LOOP, flags=("--health-cmd", "date +%s%N", "--health-interval", "200ms"))
    wait_for(lambda: len((health(dy, "nap") or {}).get("Log") or []) >= 2, what="two probes")
    dy("pause", "nap")
    time.sleep(0.4)  # a probe begun before the pause may still finish
    before = health(dy, "nap")["Log"]
    time.sleep(1.2)
    assert health(dy, "nap")["Log"] == before
    dy("unpause", "nap")
    wait_for(lambda: health(dy, "nap")["Log"][-1] != before[-1], what="probes again after unpause")
    dy("rm", "-f", "nap")


@pytest.mark.parametrize("runtime", ["dockyard", "runc"])
def test_a_probe_that_cannot_start_fails_with_the_runtime_error(dy, busybox, tmp_path, runtime):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text('FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD ["/nonexistent"]\n')
    dy("build", "-q", "-t", "nf:1", str(ctx), timeout=120)
    dy("run", "-d", "--name", "nf", "--runtime", runtime, "nf:1", "sleep", "60")
    wait_for(lambda: health_status(dy, "nf") == "unhealthy", what="unhealthy")
    e = health(dy, "nf")["Log"][0]
    assert e["ExitCode"] == -1
    assert e["Output"] == ('OCI runtime exec failed: exec failed: unable to start container process: exec: '
                           '"/nonexistent": stat /nonexistent: no such file or directory: unknown')
    dy("rm", "-f", "nf")


def test_restart_policy_and_create_start_get_a_prober_each_run(dy, busybox):
    dy("create", "--name", "cs", "--health-cmd", "true", "--health-interval", "200ms", "busybox", "sleep", "60")
    assert health(dy, "cs") is None  # docker: no State.Health before the first start
    dy("start", "cs")
    wait_for(lambda: health_status(dy, "cs") == "healthy", what="healthy after start")
    run_d(dy, "loop", "sh", "-c", "sleep 1.5; exit 1", flags=("--restart", "always", "--health-cmd", "echo up",
                                                               "--health-interval", "200ms"))
    wait_for(lambda: int(dy("inspect", "-f", "{{.RestartCount}}", "loop").out) >= 2, timeout=20,
             what="two restarts")
    wait_for(lambda: health_status(dy, "loop") == "healthy", what="healthy in a later run")
    for _ in range(10):  # one per running container at most, none left from earlier runs
        assert 1 <= len(probers_of(dy.root)) <= 2
        time.sleep(0.2)
    dy("rm", "-f", "cs", "loop")
    wait_for(lambda: not probers_of(dy.root), what="probers gone")
