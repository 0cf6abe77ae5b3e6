"""The rest of docker CLI 28's `run` flags: honoured (--blkio-weight-device, --isolation default,
--volume-driver local, --disable-content-trust) or refused with the reason and nothing made."""

from __future__ import annotations

import json
import os

import pytest

REFUSED = [
    (("--kernel-memory", "64m"), "--kernel-memory is not supported"),
    (("--use-api-socket",), "--use-api-socket is not supported"),
    (("--cpu-rt-period", "1000"), "--cpu-rt-period is not supported"),
    (("--cpu-rt-runtime", "100"), "--cpu-rt-runtime is not supported"),
    (("--isolation", "hyperv"), 'Invalid isolation: "hyperv" - linux only supports \'default\''),
    (("--volume-driver", "nfs"), 'volume driver "nfs" is not supported'),
    (("--disable-content-trust=false",), "Docker Content Trust (Notary v1) is not supported"),
    (("--blkio-weight-device", "/dev/null:5"), "invalid weight for device"),
    (("--blkio-weight-device", "sda:100"), "bad format"),
]


# what dockerd refuses (not docker's CLI): `create` exits 1 for it, `run` 125 (docker CLI 28)
DAEMON_SIDE = {("--isolation", "hyperv")}


@pytest.mark.parametrize("args,words", REFUSED, ids=[a[0][0] for a in REFUSED])
def test_refused_flags_name_the_reason_and_make_nothing(dy, busybox, args, words):
    for cmd in ("run", "create"):
        p = dy(cmd, "--rm" if cmd == "run" else "-q", *args, "busybox", "true", check=False)
        code = 1 if cmd == "create" and args in DAEMON_SIDE else 125
        assert p.returncode == code and words in p.err and "Traceback" not in p.err, (cmd, args, p.err)
    assert dy("ps", "-aq").out == ""


def test_honoured_flags(dy, busybox, tmp_path):
    img = tmp_path / "disk.img"
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    loop = os.popen(f"losetup -f --show {img}").read().strip()
    assert loop.startswith("/dev/loop"), loop
    try:
        p = dy("create", "--name", "w", "--blkio-weight-device", f"{loop}:300", "--isolation", "default",
               "--volume-driver", "local", "--disable-content-trust", "busybox", "true")
        hc = json.loads(dy("inspect", "w").out)[0]["HostConfig"]
        support = os.path.exists("/sys/fs/cgroup/blkio/blkio.weight_device") or \
            os.path.exists("/sys/fs/cgroup/blkio/blkio.bfq.weight_device")
        if support:
            assert hc["BlkioWeightDevice"] == [{"Path": loop, "Weight": 300}]
        else:  # dockerd's rule on a host without blkio weights: discarded with its warning
            assert "Weight-device discarded" in p.err and hc["BlkioWeightDevice"] == []
        dy("rm", "w")
    finally:
        os.system(f"losetup -d {loop}")


def test_exec_detach_keys_and_rm_link_are_refused(dy, busybox):
    dy("run", "-d", "--name", "sleeper", "--network", "none", "busybox", "sleep", "60")
    p = dy("exec", "--detach-keys", "ctrl-x", "sleeper", "true", check=False)
    assert p.returncode == 125 and "cannot detach" in p.err
    p = dy("rm", "-l", "sleeper", check=False)  # a link is /container/alias (tests/integration/test_links.py)
    assert p.returncode == 1 and "cannot remove the default link name of the container" in p.err
    assert dy("inspect", "-f", "{{.State.Status}}", "sleeper").out.strip() == "running"
    dy("rm", "-f", "sleeper")


def test_network_create_and_connect_flags(dy, busybox):
    # (--ip-range and --aux-address work now: tests/integration/test_network_ipam.py)
    for args, words in ((("--ipam-opt", "x=y"), "no options"), (("--ingress",), "Swarm"),
                        (("--config-only",), "Swarm"), (("--config-from", "other"), "Swarm"),
                        (("--ipv4=false",), "IPv4 networks"), (("--ipam-driver", "dhcp"), "only \"default\""),
                        (("--scope", "swarm"), "dockyard networks are local")):
        p = dy("network", "create", *args, "refused-net", check=False)
        assert p.returncode != 0 and words in p.err and "Traceback" not in p.err, (args, p.err)
    assert "refused-net" not in dy("network", "ls", "--format", "{{.Name}}").out.split()
    dy("network", "create", "--ipv4", "--ipam-driver", "default", "--scope", "local", "ok-net")
    dy("create", "--name", "c1", "--network", "none", "busybox", "true")
    # (--link and --driver-opt work now: tests/integration/test_scoped_links.py; --ip6 and
    # --link-local-ip: tests/integration/test_ipv6.py)
    for flag, value in (("--gw-priority", "1"),):
        p = dy("network", "connect", flag, value, "ok-net", "c1", check=False)
        assert p.returncode != 0 and f"{flag} is not supported" in p.err, p.err
    dy("rm", "c1")
    dy("network", "rm", "ok-net")
