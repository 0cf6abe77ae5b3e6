"""Issue 15's run flags side by side with the real Docker daemon (docker.io's dockerd, started here
without a bridge, so both sides use --network none): the same flags give the same view from
inside the container, and the same bad values exit 125 in both."""

import os
import subprocess
import uuid

import pytest
from dockyard_interop import compares, private_dockerd


@pytest.fixture(scope="module")
def dockerd():
    with private_dockerd() as docker:
        yield docker


@pytest.fixture
def image_in_docker(dy, busybox, dockerd, tmp_path):
    tag = f"dyinterop-flags-{uuid.uuid4().hex[:8]}:1"
    dy("tag", "busybox", tag)
    archive = tmp_path / "bb.tar"
    dy("save", "-o", str(archive), tag)
    assert subprocess.run([dockerd, "load", "-i", str(archive)], capture_output=True, timeout=120).returncode == 0
    yield tag
    subprocess.run([dockerd, "rmi", "-f", tag], capture_output=True, timeout=60)


def both(dy, docker, tag, flags, script):
    ours = dy("run", "--rm", "--network", "none", *flags, tag, "sh", "-c", script, check=False, timeout=60)
    theirs = subprocess.run([docker, "run", "--rm", "--network", "none", *flags, tag, "sh", "-c", script],
                            capture_output=True, text=True, timeout=120)
    return ours, theirs


GROUP1 = ("--add-host", "foo:1.2.3.4", "--add-host", "six:fd00::1", "--dns", "192.0.2.53", "--dns-search",
          "example.com", "--dns-option", "ndots:3", "--ulimit", "nofile=100:200", "--ulimit", "nproc=50",
          "--ulimit", "core=-1", "--shm-size", "32m", "--group-add", "wheel", "--group-add", "4321",
          "--oom-score-adj", "500", "--sysctl", "kernel.shmmni=1234", "--sysctl", "fs.mqueue.msg_max=42")
SCRIPT1 = ("grep -E 'foo|six' /etc/hosts; cat /etc/resolv.conf; ulimit -Sn; ulimit -Hn; ulimit -u; ulimit -c; "
           "df -k /dev/shm | tail -1 | awk '{print $2}'; id -G; cat /proc/self/oom_score_adj; "
           "cat /proc/sys/kernel/shmmni /proc/sys/fs/mqueue/msg_max")


@compares("run", "--add-host", "--dns", "--dns-search", "--dns-option", "--ulimit", "--shm-size", "--group-add",
          "--oom-score-adj", "--sysctl")
def test_etc_and_process_flags_match_docker(dy, dockerd, image_in_docker):
    ours, theirs = both(dy, dockerd, image_in_docker, GROUP1, SCRIPT1)
    assert theirs.returncode == 0, theirs.stderr
    assert (ours.returncode, ours.out) == (0, theirs.stdout), ours.err


@compares("run", "--pid", "--uts", "--ipc", "--cgroupns", "--init")
def test_namespace_and_init_flags_match_docker(dy, dockerd, image_in_docker):
    script = ("for n in pid uts ipc cgroup; do readlink /proc/self/ns/$n; done; hostname; "
              "tr '\\0' ' ' < /proc/1/cmdline | cut -d' ' -f1-2")
    flags = ("--pid", "host", "--uts", "host", "--ipc", "host", "--cgroupns", "host")
    ours, theirs = both(dy, dockerd, image_in_docker, flags, script)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.out.splitlines()[:5] == theirs.stdout.splitlines()[:5]
    ours, theirs = both(dy, dockerd, image_in_docker, ("--init",), "tr '\\0' ' ' < /proc/1/cmdline")
    assert theirs.stdout.startswith("/sbin/docker-init -- sh -c ")
    assert ours.out == theirs.stdout


BAD = [("--oom-score-adj", "2000"), ("--ulimit", "bogus=1"), ("--sysctl", "kernel.foo=1"), ("--pid", "foo"),
       ("--uts", "foo"), ("--memory-swappiness", "200"), ("--cpu-period", "10"),
       ("--add-host", "foo"), ("--dns", "1.2.3"), ("--shm-size", "abc"), ("--expose", "80-x"),
       ("--memory-reservation", "1m"), ("--uts", "host", "-h", "x")]


@compares("run", "--oom-score-adj", "--ulimit", "--sysctl", "--pid", "--uts", "--memory-swappiness", "--cpu-period",
          "--add-host", "--dns", "--shm-size", "--expose", "--memory-reservation", "--hostname")
@pytest.mark.parametrize("flags", BAD, ids=[" ".join(b) for b in BAD])
def test_bad_values_exit_125_in_both(dy, dockerd, image_in_docker, flags):
    ours, theirs = both(dy, dockerd, image_in_docker, flags, "true")
    assert theirs.returncode == 125, theirs.stderr
    assert ours.returncode == 125 and "Traceback" not in ours.err, ours.err


@compares("run", "--blkio-weight")
def test_blkio_weight_like_docker(dy, dockerd, image_in_docker):
    """Where the kernel has no blkio weight (no BFQ), both warn and discard even an out-of-range one."""
    for weight in ("300", "5"):
        ours, theirs = both(dy, dockerd, image_in_docker, ("--blkio-weight", weight), "true")
        assert ours.returncode == theirs.returncode, (ours.err, theirs.stderr)
        assert ours.err.strip() == theirs.stderr.strip()


@compares("run", "--cidfile")
def test_cidfile_refusal_matches_docker(dy, dockerd, image_in_docker, tmp_path):
    f = tmp_path / "cid"
    f.write_text("x")
    ours, theirs = both(dy, dockerd, image_in_docker, ("--cidfile", str(f)), "true")
    assert theirs.returncode == ours.returncode == 125
    assert "container id file found" in theirs.stderr.lower() and "container id file found" in ours.err.lower()
    assert f.read_text() == "x"
    assert os.path.exists(f)
