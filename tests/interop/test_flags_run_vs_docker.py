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
          "--name")
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
    ours_doc, theirs_doc = normalised(a, ""), normalised(b, "")
    assert ours_doc == theirs_doc, "\n".join(differences(ours_doc, theirs_doc))
