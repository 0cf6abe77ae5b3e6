"""Issue 15's proof for `run`: the same command line on both sides (dockyard, and docker CLI 28
against Debian's dockerd 20.10), comparing what the container sees and prints, the exit code and
the warnings, then inspect's Config and HostConfig (normalised as conftest's `normalised` says).
The output-shaping flags (-d, -a, -i, -t, --rm, --cidfile, --sig-proxy) are compared on the CLI's
own output and exit code; network and pull flags live in test_flags_net_vs_docker.py."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from dockyard_interop import BLOCK, REPO, compares, differences, expand, normalised, wait_for

CG = "/sys/fs/cgroup"
RESOURCES = (f"cd {CG}; cat memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes "
             "memory/memory.memsw.limit_in_bytes memory/memory.swappiness memory/memory.oom_control "
             "cpu/cpu.cfs_period_us cpu/cpu.cfs_quota_us cpu/cpu.shares cpuset/cpuset.cpus cpuset/cpuset.mems "
             "pids/pids.max; grep -c . devices/devices.list; grep '1:3 ' devices/devices.list; "
             "cat /proc/self/oom_score_adj; ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1 | awk '{print $2}'")
PROCESS = ("grep -E '^(Cap(Inh|Prm|Eff|Bnd)|NoNewPrivs|Seccomp):' /proc/self/status; env | grep -v ^HOSTNAME= | sort; "
           "id; pwd; tr '\\0' ' ' < /proc/1/cmdline | cut -c1-40; echo; touch /x 2>&1; hostname; "
           "cat /proc/sys/kernel/domainname /etc/hostname; stat -c '%F %t:%T %a' /dev/xnull; "
           "echo > /dev/xnull 2>&1 || echo no write")
NAMESPACES = ("for n in pid ipc uts user; do readlink /proc/self/ns/$n; done; hostname; "
              "grep -E '^Cap(Eff|Bnd):' /proc/self/status; ls /dev | grep -c .; cat /proc/self/attr/current 2>&1 || echo no label")
ETC = ("cat /etc/hosts /etc/resolv.conf; cat /proc/sys/kernel/shmmni /proc/sys/net/ipv4/ip_forward; "
       "readlink /proc/self/ns/cgroup /proc/self/ns/ipc | sed s/[0-9]//g")
MOUNTS = ("cat /hostx/f; touch /hostx/g 2>&1; echo >/anon/a && echo >/mv/a && echo anon and named written; "
          "df -k /run | tail -1 | awk '{print $2}'; ls /vf; touch /vf/x 2>&1; "
          "awk '$5 ~ \"^/(hostx|anon|mv|run|vf)$\" {print $5, $6}' /proc/self/mountinfo | sort")

# group: (flags, the script that shows them from inside); run in the foreground, not removed
RUNS = {
    "resources": (["--cgroupns", "private", "--blkio-weight", "300", "--cpu-period", "100000", "--cpu-quota", "50000",
                   "--cpu-shares", "512", "--cpuset-cpus", "0", "--cpuset-mems", "0", "-m", "64m",
                   "--memory-reservation", "32m", "--memory-swap", "128m", "--memory-swappiness", "10",
                   "--oom-kill-disable", "--oom-score-adj", "10", "--pids-limit", "50", "--shm-size", "16m",
                   "--ulimit", "nofile=100:200", "--cgroup-parent", "/dyflags", "--device-cgroup-rule", "c 1:3 rwm"],
                  RESOURCES),
    "cpus": (["--cgroupns", "private", "--cpus", "1.5", "--memory-swap", "-1", "-m", "32m"],
             f"cat {CG}/cpu/cpu.cfs_period_us {CG}/cpu/cpu.cfs_quota_us {CG}/memory/memory.limit_in_bytes "
             f"{CG}/memory/memory.memsw.limit_in_bytes"),
    "blkio": (["--cgroupns", "private", "--blkio-weight-device", f"{BLOCK}:300", "--device-read-bps", f"{BLOCK}:1mb",
               "--device-read-iops", f"{BLOCK}:100", "--device-write-bps", f"{BLOCK}:2mb",
               "--device-write-iops", f"{BLOCK}:200"],
              f"cd {CG}/blkio; cat blkio.throttle.read_bps_device blkio.throttle.read_iops_device "
              "blkio.throttle.write_bps_device blkio.throttle.write_iops_device"),
    "process": (["--cap-add", "NET_ADMIN", "--cap-drop", "chown", "-e", "A=1", "-e", "PATH=/bin:/usr/bin",
                 "--env-file", "@envfile", "--init", "-u", "1000:1000", "-w", "/tmp", "--group-add", "10",
                 "--read-only", "--security-opt", "no-new-privileges", "--security-opt", "seccomp=unconfined",
                 "--domainname", "example.org", "-h", "hn", "--isolation", "default", "--runtime", "runc",
                 "--device", "/dev/null:/dev/xnull:r", "-l", "k=v", "--label-file", "@labelfile",
                 "--stop-signal", "SIGUSR1", "--stop-timeout", "7", "--entrypoint", "/bin/sh"], PROCESS),
    # (not --privileged: dockerd's runc cannot raise every capability on this VM, "unable to apply caps")
    "namespaces": (["--pid", "host", "--ipc", "host", "--uts", "host", "--userns", "host",
                    "--security-opt", "apparmor=unconfined"], NAMESPACES),
    "etc": (["--add-host", "h:1.2.3.4", "--add-host", "six:fd00::1", "--dns", "192.0.2.53", "--dns-option", "ndots:2",
             "--dns-search", "example.com", "--expose", "80", "--ipc", "shareable", "--cgroupns", "host",
             "--sysctl", "kernel.shmmni=1234", "--sysctl", "net.ipv4.ip_forward=1"], ETC),
    "health": (["--health-cmd", "true", "--health-interval", "5s", "--health-retries", "2",
                "--health-start-period", "2s", "--health-timeout", "3s", "--restart", "on-failure:3",
                "--log-driver", "json-file", "--log-opt", "max-size=1m", "--pull", "never", "--platform", "linux/amd64",
                "--disable-content-trust", "-a", "stdout"], "echo out; echo err >&2; exit 3"),
    "nohealth": (["--no-healthcheck", "-e", "X=1"], "echo $X"),
    "mounts": (["-v", "@hostdir:/hostx:ro", "-v", "/anon", "--mount", "type=volume,src=@volume,dst=/mv",
                "--tmpfs", "/run:size=1m", "--volume-driver", "local", "--volumes-from", "@source:ro"], MOUNTS),
}
EXIT = {"health": 3}


def hostnames(text: str, *docs: dict) -> str:
    """Each side's own container id (its hostname) made alike."""
    for d in docs:
        text = text.replace(d["Id"][:12], "<id>")
    return text


@compares("run", "--blkio-weight", "--cpu-period", "--cpu-quota", "--cpu-shares", "--cpuset-cpus", "--cpuset-mems",
          "--memory", "--memory-reservation", "--memory-swap", "--memory-swappiness", "--oom-kill-disable",
          "--oom-score-adj", "--pids-limit", "--shm-size", "--ulimit", "--cgroup-parent", "--device-cgroup-rule",
          "--cgroupns", "--cpus", "--blkio-weight-device", "--device-read-bps", "--device-read-iops",
          "--device-write-bps", "--device-write-iops", "--cap-add", "--cap-drop", "--env", "--env-file", "--init",
          "--user", "--workdir", "--group-add", "--read-only", "--security-opt", "--domainname", "--hostname",
          "--isolation", "--runtime", "--device", "--label", "--label-file", "--stop-signal", "--stop-timeout",
          "--entrypoint", "--pid", "--ipc", "--uts", "--userns", "--add-host", "--dns", "--dns-option",
          "--dns-search", "--expose", "--sysctl", "--health-cmd", "--health-interval", "--health-retries",
          "--health-start-period", "--health-timeout", "--restart", "--log-driver", "--log-opt", "--pull", "--platform",
          "--disable-content-trust", "--attach", "--volume", "--mount", "--tmpfs", "--volume-driver", "--volumes-from",
          "--no-healthcheck", "--name")
@pytest.mark.parametrize("group", sorted(RUNS))
def test_run_sees_and_records_like_docker(pair, tmp_path, group, monkeypatch):
    flags, script = RUNS[group]
    if group == "blkio" and BLOCK is None:
        pytest.skip("no disk block device (vd*, sd*, nvme*) to name")
    monkeypatch.setenv("E2", "from-the-caller")
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "f").write_text("from the host\n")
    flags = expand(flags, tmp_path, pair)
    if group == "mounts":  # --volumes-from's source: the same container on both sides
        source = pair.name()
        for side in (pair.dy, pair.docker):
            assert side("create", "--name", source, "--network", "none", "-v", "/vf", pair.tag).returncode == 0
        flags = [f.replace("@source", source) for f in flags]
    name = pair.name()
    args = [*flags, pair.tag, *(["-c"] if group == "process" else ["sh", "-c"]), script]
    ours = pair.dy("run", "--name", name, "--network", "none", *args)
    theirs = pair.docker("run", "--name", name, "--network", "none", *args)
    a, b = pair.inspect(name)
    assert theirs.returncode == EXIT.get(group, 0), theirs.stderr
    assert ours.returncode == theirs.returncode, ours.stderr
    assert hostnames(ours.stdout, a, b) == hostnames(theirs.stdout, a, b)
    assert ours.stderr == theirs.stderr
    a["_asked"] = b["_asked"] = flags
    ours_doc, theirs_doc = normalised(a), normalised(b)
    assert ours_doc == theirs_doc, "\n".join(differences(ours_doc, theirs_doc))


HEX64 = re.compile(r"^[0-9a-f]{64}\n$")


@compares("run", "--no-healthcheck", "--health-cmd", "--platform", "--pull", "--isolation")
@compares("create", "--no-healthcheck", "--health-cmd", "--platform", "--pull", "--isolation")
@pytest.mark.parametrize("command", ["run", "create"])
def test_refusals_like_docker(pair, command):
    """Values both sides refuse before anything is made: the same exit code, nothing on stdout."""
    for flags in (["--no-healthcheck", "--health-cmd", "true"], ["--pull", "sometimes"],
                  ["--isolation", "hyperv"], ["--platform", "linux/s390x", "--pull", "never"]):
        # (not --disable-content-trust=false nor --volume-driver OTHER: docker would then look up
        # notary.docker.io or try to pull a volume plugin from Docker Hub, off this host)
        ours, theirs = pair.both(command, "--network", "none", *flags, pair.tag, "true")
        assert theirs.returncode != 0 and theirs.stdout == "", (flags, theirs)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), (flags, ours, theirs)


@compares("run", "--detach", "--stop-signal", "--stop-timeout", "--log-driver", "--log-opt", "--name")
def test_detached_stop_and_logs_like_docker(pair):
    """run -d prints the id alone; stop sends --stop-signal; logs (json-file, with options) give the
    output; --log-driver none has no logs to read on either side."""
    name, quiet = pair.name(), pair.name()
    script = 'trap "echo got usr1; exit 3" USR1; echo started; while :; do sleep 0.1; done'
    ours, theirs = pair.both("run", "-d", "--name", name, "--network", "none", "--stop-signal", "SIGUSR1",
                             "--stop-timeout", "7", "--log-driver", "json-file", "--log-opt", "max-size=1m",
                             pair.tag, "sh", "-c", script)
    assert theirs.returncode == 0 and HEX64.match(theirs.stdout) and theirs.stderr == "", theirs.stderr
    assert ours.returncode == 0 and HEX64.match(ours.stdout) and ours.stderr == "", ours.stderr
    for side in (pair.dy, pair.docker):
        assert wait_for(lambda: side("logs", name).stdout == "started\n", 30), side("logs", name)
    ours, theirs = pair.both("stop", name)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout) == (0, name + "\n")
    ours, theirs = pair.both("inspect", "-f", "{{.State.ExitCode}} {{.State.Running}}", name)
    assert ours.stdout == theirs.stdout == "3 false\n"
    ours, theirs = pair.both("logs", name)
    assert ours.stdout == theirs.stdout == "started\ngot usr1\n"
    ours, theirs = pair.both("run", "-d", "--name", quiet, "--network", "none", "--log-driver", "none", pair.tag,
                             "echo", "unseen")
    assert ours.returncode == theirs.returncode == 0, (ours.stderr, theirs.stderr)
    for side in (pair.dy, pair.docker):
        assert wait_for(lambda: side("inspect", "-f", "{{.State.Status}}", quiet).stdout == "exited\n", 30)
    ours, theirs = pair.both("logs", quiet)
    assert ours.returncode == theirs.returncode != 0 and ours.stdout == theirs.stdout == "", (ours, theirs)
    assert "does not support reading" in theirs.stderr and "does not support reading" in ours.stderr, ours.stderr


@compares("run", "--rm", "--attach", "--interactive", "--name")
def test_streams_and_removal_like_docker(pair):
    """-i feeds stdin; -a picks the streams shown (and -i attaches stdin whatever -a says); --rm
    leaves no container; the exit code is the container's."""
    script = "cat; echo err >&2; exit 4"
    for flags, out, err in ((["-i"], "hello\n", "err\n"), (["-i", "-a", "stdout"], "hello\n", ""),
                            (["-a", "stderr"], "", "err\n"), (["-a", "STDOUT", "-a", "stderr"], "", "err\n")):
        name = pair.name()
        ours, theirs = pair.both("run", "--rm", "--name", name, "--network", "none", *flags, pair.tag, "sh", "-c",
                                 script, input="hello\n")
        assert (theirs.returncode, theirs.stdout, theirs.stderr) == (4, out, err), (flags, theirs)
        assert (ours.returncode, ours.stdout, ours.stderr) == (4, out, err), (flags, ours)
        ours, theirs = pair.both("inspect", name)
        assert ours.returncode == theirs.returncode == 1 and ours.stdout == theirs.stdout == "[]\n"


@compares("run", "--tty")
def test_tty_like_docker(pair):
    """-t (stdin not a terminal, no -i): the container gets a terminal; its output has CRLF line ends."""
    ours, theirs = pair.both("run", "--rm", "--network", "none", "-t", pair.tag, "sh", "-c",
                             "tty; test -t 0 && echo stdin is a tty; echo $TERM; exit 2")
    assert theirs.returncode == 2 and theirs.stdout.replace("\r", "") == "/dev/pts/0\nstdin is a tty\nxterm\n", theirs
    assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr)
    ours, theirs = pair.both("run", "--rm", "--network", "none", "-t", "-i", pair.tag, "true")
    assert ours.returncode == theirs.returncode == 1  # -it without a terminal: refused by both CLIs
    assert "the input device is not a TTY" in theirs.stderr and "the input device is not a TTY" in ours.stderr


@compares("run", "--cidfile")
def test_cidfile_like_docker(pair, tmp_path):
    """--cidfile: the id written (and kept after --rm); an existing file refused before anything runs."""
    for side in (pair.dy, pair.docker):
        cid = tmp_path / "cid"
        p = side("run", "--rm", "--network", "none", "--cidfile", str(cid), pair.tag, "echo", "ran")
        assert (p.returncode, p.stdout) == (0, "ran\n"), p.stderr
        assert re.fullmatch(r"[0-9a-f]{64}", cid.read_text()), cid.read_text()
        p = side("run", "--rm", "--network", "none", "--cidfile", str(cid), pair.tag, "echo", "ran")
        assert (p.returncode, p.stdout) == (125, ""), p
        assert "container ID file found" in p.stderr, p.stderr
        cid.unlink()


def _signalled(cmd: list[str], env: dict, kill) -> tuple:
    """Start `cmd` (a foreground run whose script says "ready" and traps TERM) and SIGTERM the CLI
    once the container is ready; if the CLI is still there a second later, `kill()` the container.
    (the CLI's exit code, its stdout, whether it outlived the SIGTERM)."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, cwd=REPO)
    try:
        assert p.stdout.readline() == "ready\n"
        time.sleep(0.3)  # past the CLI's signal handler set-up and the script's trap
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=1.5)
            outlived = False
        except subprocess.TimeoutExpired:
            outlived = True
            kill()
        out, _ = p.communicate(timeout=30)
        return p.returncode, out, outlived
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


@compares("run", "--sig-proxy")
def test_sig_proxy_like_docker(pair):
    """A foreground run passes the CLI's SIGTERM to the container (--sig-proxy, the default); with
    --sig-proxy=false the container does not get it (it runs on until killed)."""
    script = 'trap "echo got term; exit 5" TERM; echo ready; while :; do sleep 0.1; done'
    results = {}
    for side, cmd, env in (("dy", [sys.executable, "-S", "-m", "dockyard"], dict(os.environ, **pair.store)),
                           ("docker", [pair.docker_cli], dict(os.environ))):
        run = pair.dy if side == "dy" else pair.docker
        proxied, left = pair.name(), pair.name()
        results[side] = [
            _signalled([*cmd, "run", "--rm", "--name", proxied, "--network", "none", pair.tag, "sh", "-c", script],
                       env, lambda: None),
            _signalled([*cmd, "run", "--name", left, "--sig-proxy=false", "--network", "none", pair.tag,
                        "sh", "-c", script], env, lambda: run("kill", left))]
    assert results["docker"][0] == (5, "got term\n", False), results  # readline took "ready"
    assert results["docker"][1][1] == "", results  # the container never saw the TERM
    assert results["dy"] == results["docker"], results


@pytest.fixture
def registry(pair, tmp_path):
    """A `dockyard registry serve` on a kernel-picked port of 127.0.0.1 holding the pair's image as
    `<host>/flags/bb:1` (docker takes 127.0.0.0/8 registries over plain HTTP)."""
    log, remote = tmp_path / "registry.log", None
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-S", "-m", "dockyard", "registry", "serve", "--addr", "127.0.0.1:0",
                                 "--root", str(tmp_path / "registry")], cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=f)
    try:
        m = wait_for(lambda: re.search(r"listening on http://(127\.0\.0\.1:\d+)", log.read_text()), 20)
        assert m, log.read_text()
        remote = f"{m.group(1)}/flags/bb:1"
        assert pair.dy("tag", pair.tag, remote).returncode == 0
        push = pair.dy("push", remote, timeout=120)
        assert push.returncode == 0, push.stderr
        pair.dy("rmi", remote)
        yield remote
    finally:
        proc.terminate()
        proc.wait(10)
        if remote:
            pair.dy("rmi", remote)
            pair.docker("rmi", remote)


@compares("run", "--pull", "--quiet")
@compares("create", "--pull", "--quiet")
def test_pull_policies_and_quiet_like_docker(pair, registry):
    """--pull missing (the default) reports the pull on stderr, -q silences it, --pull always pulls an
    image present too, --pull never refuses a missing one; the run's own output is the same."""
    run = ("run", "--rm", "--network", "none")
    ours, theirs = pair.both(*run, "--pull", "never", registry, "echo", "hi")
    assert ours.returncode == theirs.returncode == 125 and ours.stdout == theirs.stdout == ""
    assert theirs.stderr.splitlines()[0].endswith(f"No such image: {registry}")
    assert ours.stderr.splitlines()[0].endswith(f"No such image: {registry}"), ours.stderr
    ours, theirs = pair.both(*run, "-q", registry, "echo", "hi")
    assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr) == (
        0, "hi\n", "")
    for side in (pair.dy, pair.docker):
        assert side("rmi", registry).returncode == 0
    ours, theirs = pair.both(*run, registry, "echo", "hi")
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout) == (0, "hi\n")
    for text in (f"Unable to find image '{registry}' locally", f"Status: Downloaded newer image for {registry}"):
        assert text in theirs.stderr and text in ours.stderr, (text, ours.stderr)
    digest = re.search(r"Digest: (sha256:[0-9a-f]{64})", theirs.stderr).group(1)
    assert f"Digest: {digest}" in ours.stderr
    ours, theirs = pair.both(*run, "--pull", "always", registry, "echo", "hi")  # present, pulled again
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout) == (0, "hi\n")
    assert f"Digest: {digest}" in theirs.stderr and f"Digest: {digest}" in ours.stderr, ours.stderr
    assert "Unable to find image" not in theirs.stderr + ours.stderr
    ours, theirs = pair.both(*run, "-q", "--pull", "always", registry, "echo", "hi")
    assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr) == (
        0, "hi\n", "")
    for side in (pair.dy, pair.docker):  # create -q: the pull is silent, the id alone on stdout
        assert side("rmi", registry).returncode == 0
    name = pair.name()
    ours, theirs = pair.both("create", "-q", "--name", name, "--network", "none", registry, "true")
    assert theirs.returncode == 0 and HEX64.match(theirs.stdout) and theirs.stderr == "", theirs
    assert ours.returncode == 0 and HEX64.match(ours.stdout) and ours.stderr == "", ours
    ours, theirs = pair.both("create", "--pull", "always", "--network", "none", registry, "true")
    assert ours.returncode == theirs.returncode == 0
    assert f"Digest: {digest}" in theirs.stderr and f"Digest: {digest}" in ours.stderr, ours.stderr
    for side, p in ((pair.dy, ours), (pair.docker, theirs)):
        side("rm", p.stdout.strip())
