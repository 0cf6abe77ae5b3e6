"""Issue 15's proof for build: the implemented flags run through dockyard and through docker CLI
28's legacy builder (DOCKER_BUILDKIT=0: no buildx here) against dockerd 20.10, on the same
context, with the same exit code, the same -q output shape and the same view from inside the
build's RUN step (what the flags set: hosts, ulimits, /dev/shm, network, cgroup limits, args,
labels). Normalised: image ids (each build's own: creation times differ) and the RUN step's
/proc/self/cgroup (dockyard gives every container a cgroup namespace; dockerd 20.10 on this
cgroup v1 host does not), which is why --cgroup-parent is looked at from the host instead."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest
from dockyard_interop import compares, private_dockerd

CLI28 = "/usr/local/bin/docker"
OBSERVE = ("(echo A=$A; grep foo /etc/hosts; ulimit -n; df -k /dev/shm | tail -1 | awk '{print $2}'; "
           "ls /sys/class/net; cd /sys/fs/cgroup; cat cpu/cpu.cfs_period_us cpu/cpu.cfs_quota_us cpu/cpu.shares "
           "cpuset/cpuset.cpus cpuset/cpuset.mems memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes "
           "2>&1; grep Seccomp: /proc/self/status) > /obs")


@pytest.fixture(scope="module")
def docker():
    with private_dockerd() as d:
        yield CLI28 if os.access(CLI28, os.X_OK) else d


@compares("build", "--add-host", "--build-arg", "--cpu-period", "--cpu-quota", "--cpu-shares", "--cpuset-cpus",
          "--cpuset-mems", "--disable-content-trust", "--file", "--force-rm", "--iidfile", "--isolation", "--label",
          "--memory", "--memory-swap", "--network", "--no-cache", "--platform", "--quiet", "--rm", "--shm-size",
          "--tag", "--target", "--ulimit")
def test_build_flags_match_docker(dy, busybox, docker, tmp_path):
    base = f"dyflags-{uuid.uuid4().hex[:8]}:1"
    built = base.replace(":1", "-built:1")
    dy("tag", "busybox", base)
    dy("save", "-o", str(tmp_path / "bb.tar"), base)
    env = dict(dy.env, DOCKER_BUILDKIT="0")
    assert subprocess.run([docker, "load", "-i", str(tmp_path / "bb.tar")], capture_output=True,
                          timeout=120).returncode == 0
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile.x").write_text(f"FROM {base} AS first\nARG A=default\nLABEL stage=first\nRUN {OBSERVE}\n"
                                      "FROM first AS second\nRUN echo not-built > /second\n")
    got = []
    try:
        for cli in (dy.cmd(), [docker]):
            iid = tmp_path / f"iid-{len(got)}"
            p = subprocess.run([*cli, "build", "-q", "-f", str(ctx / "Dockerfile.x"), "--target", "first", "--add-host",
                                "foo:192.0.2.4", "--build-arg", "A=given", "--cpu-period", "100000", "--cpu-quota",
                                "50000", "-c", "512", "--cpuset-cpus", "0", "--cpuset-mems", "0",
                                "--disable-content-trust", "--force-rm", "--iidfile", str(iid), "--isolation",
                                "default", "--label", "l1=v1", "-m", "64m", "--memory-swap", "128m", "--network", "none",
                                "--no-cache", "--platform", "linux/amd64", "--rm", "--shm-size", "16m", "-t", built,
                                "--ulimit", "nofile=123:456", str(ctx)],
                               env=env, capture_output=True, text=True, timeout=300)
            assert p.returncode == 0, (cli, p.stderr)
            image_id = p.stdout.strip()
            # the id file: docker's legacy builder ends it with a newline, BuildKit (docker's default
            # builder, which dockyard follows) does not
            assert image_id.startswith("sha256:") and len(image_id) == 71 and iid.read_text().strip() == image_id
            obs = subprocess.run([*cli, "run", "--rm", "--network", "none", built, "sh", "-c",
                                  "cat /obs; test -e /second && echo second-built"], env=env, capture_output=True,
                                 text=True, timeout=120).stdout
            labels = subprocess.run([*cli, "inspect", "-f", "{{json .Config.Labels}}", built], env=env,
                                    capture_output=True, text=True, timeout=60).stdout
            left = subprocess.run([*cli, "ps", "-aq", "--filter", f"ancestor={base}"], env=env, capture_output=True,
                                  text=True, timeout=60).stdout  # --rm/--force-rm: no build container stays
            got.append((obs, labels, left))
        assert "A=given\n192.0.2.4\tfoo\n123\n16384\nlo\n" in got[1][0], got[1]
        assert got[0] == got[1]
    finally:
        subprocess.run([docker, "rmi", "-f", built, base], capture_output=True, timeout=60)
