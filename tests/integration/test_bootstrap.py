"""Offline base images: busybox from busybox-static (fast) and Debian via debootstrap (slow tier)."""

import os
import shutil

import pytest


def test_busybox_image_is_reproducible(dy, tmp_path):
    first = dy("bootstrap", "busybox", "bb:1").out.strip()
    other = type(dy)(str(tmp_path / "root2"), str(tmp_path / "run2"))
    assert other("bootstrap", "busybox", "bb:2").out.strip() == first
    env = {**dy.env, "SOURCE_DATE_EPOCH": "1700000000"}
    dy.env = env
    pinned = dy("bootstrap", "busybox", "bb:3").out.strip()
    assert pinned != first
    assert '"Created": "2023-11-14T22:13:20Z"' in dy("inspect", "bb:3").out


def test_busybox_image_contents(dy, busybox):
    out = dy("run", "--rm", "busybox", "sh", "-c",
             "cat /etc/passwd; ls -ld /tmp /root; readlink /bin/sh; which httpd").out
    assert "root:x:0:0:root:/root:/bin/sh" in out and "nobody:x:65534:65534" in out
    assert "drwxrwxrwt" in out and "drwx------" in out
    assert "busybox" in out and "httpd" in out


def test_bootstrap_refuses_a_dynamic_busybox(dy, tmp_path):
    p = dy("bootstrap", "busybox", "--busybox", shutil.which("ls"), "bb:dyn", check=False)
    assert p.returncode == 1 and "not statically linked" in p.err and "Traceback" not in p.err


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("debootstrap"), reason="debootstrap not installed")
def test_debian_via_debootstrap(dy, debian_base):
    # The session's one `bootstrap debian` (tests/conftest.py: --include ca-certificates and the
    # other slow tests' packages), saved and loaded into this test's store. debootstrap's .debs are
    # cached across runs in /var/cache/dockyard/debootstrap, so CI downloads them once per machine.
    assert debian_base.bootstrap.stdout.decode().startswith("sha256:")
    assert "ca-certificates" in debian_base.packages
    debian_base.load(dy, "debian:test")
    # save + load keep the image as bootstrap made it
    assert dy("inspect", "-f", "{{.Id}}", "debian:test").out.strip() == debian_base.image_id
    out = dy("run", "--rm", "debian:test", "sh", "-c",
             "cat /etc/debian_version; dpkg -s ca-certificates | grep Status; find /var/lib/apt/lists -type f | wc -l").out
    lines = out.split()
    assert lines[0].startswith("12"), out
    assert "install ok installed" in out
    assert lines[-1] == "0", "package lists are left out of the image"
    assert os.path.isdir("/var/cache/dockyard/debootstrap")
