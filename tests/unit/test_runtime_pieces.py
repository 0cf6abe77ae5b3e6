"""Runtime helpers that need no root: secure path joins, mount options, records, names."""

import os

import pytest

from dockyard.images.store import _hub_tag
from dockyard.linux.mount import Mount
from dockyard.network.etcfiles import hosts_content, resolv_content
from dockyard.runtime.mounts import parse_options
from dockyard.runtime.paths import secure_join
from dockyard.linux import syscalls as sc


def test_secure_join_never_escapes(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/", root / "abs")
    os.symlink("../../../..", root / "etc" / "up")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    r = str(root)
    assert secure_join(r, "/abs/etc/passwd") == f"{r}/etc/passwd"
    assert secure_join(r, "/etc/up/tmp") == f"{r}/tmp"
    assert secure_join(r, "../../x") == f"{r}/x"
    with pytest.raises(OSError):
        secure_join(r, "/loop1/x")


def test_mount_options():
    flags, prop, data = parse_options(["nosuid", "ro", "rprivate", "mode=755", "size=64k", "z"])
    assert flags == sc.MS_NOSUID | sc.MS_RDONLY
    assert prop == sc.MS_PRIVATE | sc.MS_REC
    assert data == "mode=755,size=64k"
    assert parse_options(["ro", "rw"])[0] == 0


def test_record_is_frozen_and_comparable():
    m = Mount(type="bind", source="/a")
    assert m.target == "" and m.options == ()
    assert m == Mount(type="bind", source="/a") and hash(m) == hash(Mount(type="bind", source="/a"))
    with pytest.raises(AttributeError):
        m.source = "/b"
    with pytest.raises(TypeError):
        Mount(type="bind")
    assert m.replace(source="/b").source == "/b"


def test_hub_tag_fast_path():
    assert _hub_tag("busybox") == "docker.io/library/busybox:latest"
    assert _hub_tag("me/app:1.2") == "docker.io/me/app:1.2"
    for other in ("localhost:5000/x", "ghcr.io/a/b", "x@sha256:00", "UPPER", "a:b:c"):
        assert _hub_tag(other) is None


def test_etc_files(tmp_path):
    hosts = hosts_content("abc123", "10.0.0.2")
    assert hosts.startswith("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    assert hosts.endswith("10.0.0.2\tabc123\n")
    r = tmp_path / "resolv.conf"
    r.write_text("nameserver 127.0.0.53\noptions edns0\n")
    assert resolv_content(str(r)) == "options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    r.write_text("nameserver 10.1.1.1\nsearch x\n")
    assert resolv_content(str(r)) == "nameserver 10.1.1.1\nsearch x\n"
