"""Issue 15's proof for `create` (and the same flags through `run`): the same command line on both
sides, then the whole of `inspect`'s Config and HostConfig compared, and the create's exit code
and warnings. Docker here is Debian's dockerd 20.10 (API 1.41) under docker CLI 28; `normalised`
says, for each field it touches, why the two differ by nature rather than by mistake."""

from __future__ import annotations

import pytest
from dockyard_interop import BLOCK, compares, created_alike, differences, expand

# Each group: flags given together; every one of them shows in inspect's Config or HostConfig.
GROUPS = {
    "resources": ["--blkio-weight", "300", "--cpu-period", "100000", "--cpu-quota", "50000", "--cpu-shares", "512",
                  "--cpuset-cpus", "0", "--cpuset-mems", "0", "-m", "64m", "--memory-reservation", "32m",
                  "--memory-swap", "128m", "--memory-swappiness", "10", "--oom-kill-disable", "--oom-score-adj", "10",
                  "--pids-limit", "50", "--shm-size", "16m", "--ulimit", "nofile=10:20", "--cgroup-parent", "/dyflags",
                  "--device-cgroup-rule", "c 1:3 rwm"],
    "cpus": ["--cpus", "1.5", "--memory-swap", "-1", "-m", "32m"],
    "blkio": ["--blkio-weight-device", f"{BLOCK}:300", "--device-read-bps", f"{BLOCK}:1mb",
              "--device-read-iops", f"{BLOCK}:100", "--device-write-bps", f"{BLOCK}:2mb",
              "--device-write-iops", f"{BLOCK}:200", "--device", "/dev/null:/dev/xnull:r"],
    "process": ["--cap-add", "NET_ADMIN", "--cap-drop", "chown", "--entrypoint", "/bin/sh", "-e", "A=1",
                "-e", "PATH=/bin", "--env-file", "@envfile", "--init", "-l", "k=v", "--label-file", "@labelfile",
                "-u", "1000:1000", "-w", "/tmp", "--group-add", "10", "--read-only", "--stop-signal", "SIGUSR1",
                "--stop-timeout", "7", "--security-opt", "no-new-privileges", "--security-opt", "seccomp=unconfined",
                "--domainname", "example.org", "-h", "hn", "--isolation", "default", "--runtime", "runc"],
    "namespaces": ["--pid", "host", "--ipc", "host", "--uts", "host", "--userns", "host", "--cgroupns", "private",
                   "--privileged"],
    "etc": ["--add-host", "h:1.2.3.4", "--dns", "192.0.2.53", "--dns-option", "ndots:2", "--dns-search",
            "example.com", "--expose", "80", "--expose", "90-91/udp", "--ipc", "shareable", "--cgroupns", "host",
            "--sysctl", "kernel.shmmni=1234", "--sysctl", "net.ipv4.ip_forward=1"],
    "health": ["--health-cmd", "true", "--health-interval", "5s", "--health-retries", "2",
               "--health-start-period", "2s", "--health-timeout", "3s"],
    "lifecycle": ["--restart", "on-failure:3", "--log-driver", "json-file", "--log-opt", "max-size=1m",
                  "--log-opt", "max-file=2", "--pull", "never", "--platform", "linux/amd64",
                  "--disable-content-trust", "--cidfile", "@cidfile", "-i", "-t", "-a", "stdout"],
    "nohealth": ["--no-healthcheck", "--rm", "-a", "stderr", "-i"],
    "volumes-from": ["--volumes-from", "@source:ro", "--volumes-from", "@source"],
    "mounts": ["-v", "@hostdir:/hostx:ro", "-v", "/anon", "--mount", "type=volume,src=@volume,dst=/mv",
               "--tmpfs", "/run:size=1m", "--volume-driver", "local"],
}


@compares("create", "--blkio-weight", "--cpu-period", "--cpu-quota", "--cpu-shares", "--cpuset-cpus", "--cpuset-mems",
          "--memory", "--memory-reservation", "--memory-swap", "--memory-swappiness", "--oom-kill-disable",
          "--oom-score-adj", "--pids-limit", "--shm-size", "--ulimit", "--cgroup-parent", "--device-cgroup-rule",
          "--cpus", "--blkio-weight-device", "--device-read-bps", "--device-read-iops", "--device-write-bps",
          "--device-write-iops", "--device", "--cap-add", "--cap-drop", "--entrypoint", "--env", "--env-file",
          "--init", "--label", "--label-file", "--user", "--workdir", "--group-add", "--read-only", "--stop-signal",
          "--stop-timeout", "--security-opt", "--domainname", "--hostname", "--isolation", "--runtime", "--pid",
          "--ipc", "--uts", "--userns", "--cgroupns", "--privileged", "--sysctl", "--add-host", "--dns",
          "--dns-option", "--dns-search", "--expose", "--health-cmd", "--health-interval", "--health-retries",
          "--health-start-period", "--health-timeout", "--restart", "--log-driver", "--log-opt", "--pull",
          "--platform", "--disable-content-trust", "--cidfile", "--interactive", "--tty", "--attach",
          "--no-healthcheck", "--rm", "--volume", "--mount", "--tmpfs", "--volume-driver", "--volumes-from", "--name")
@pytest.mark.parametrize("group", sorted(GROUPS))
def test_create_inspect_matches_docker(pair, tmp_path, group, monkeypatch):
    if group == "blkio" and BLOCK is None:
        pytest.skip("no disk block device (vd*, sd*, nvme*) to name")
    monkeypatch.setenv("E2", "from-the-caller")  # --env-file's bare E2 takes the caller's value on both sides
    flags = expand(GROUPS[group], tmp_path, pair)
    if any("@source" in f for f in flags):  # --volumes-from's source: the same container on both sides
        source = pair.name()
        for side in (pair.dy, pair.docker):
            assert side("create", "--name", source, "--network", "none", "-v", "/vf", pair.tag).returncode == 0
        flags = [f.replace("@source", source) for f in flags]
    ours, theirs = created_alike(pair, "create", flags)
    assert ours == theirs, "\n".join(differences(ours, theirs))
