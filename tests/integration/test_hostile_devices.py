"""Issue 10 item 1, by attack: a container must not reach host devices it was not given.

A loop device backed by a host file with known content stands for a host disk; /dev/kmsg (1:11)
for the host's kernel log. Each attack checks the HOST afterwards (the backing file and the loop
device read back unchanged, `dmesg` without the marker), and each is run under dockyard's own
runtime and under runc, which must agree (runc is Docker's runtime: its answer is Docker's).
Positive controls (`--device`, `--device-cgroup-rule`) show the same probe succeeding when access
is granted, so a failure is the device policy's doing and not an accident of the probe.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import uuid

import pytest
from support import no_traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNTIMES = ["dockyard", "runc"] if shutil.which("runc") else ["dockyard"]
EPERM = "Operation not permitted"
PAYLOAD = b"PWNED-BY-CONTAINER"

pytestmark = [pytest.mark.integration, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


class Loop:
    def __init__(self, dev: str, backing: str, content: bytes) -> None:
        self.dev = dev
        rdev = os.stat(dev).st_rdev
        self.major, self.minor = os.major(rdev), os.minor(rdev)
        self.backing = backing
        self.content = content
        self.marker = content[:40].decode()

    def assert_unchanged(self) -> None:
        with open(self.backing, "rb") as f:
            assert f.read() == self.content, "the host file behind the loop device was changed"
        fd = os.open(self.dev, os.O_RDONLY | os.O_DIRECT) if hasattr(os, "O_DIRECT") else os.open(self.dev, os.O_RDONLY)
        try:
            import mmap

            buf = mmap.mmap(-1, len(self.content))  # O_DIRECT needs an aligned buffer
            assert os.readv(fd, [buf]) == len(self.content)
            assert bytes(buf) == self.content, "the loop device reads back changed"
        finally:
            os.close(fd)


@pytest.fixture
def loop(tmp_path):
    """A loop device over a 1 MiB host file of known content; always detached again."""
    if not shutil.which("losetup") or not os.path.exists("/dev/loop-control"):
        pytest.skip("no loop device support")
    backing = str(tmp_path / "disk.img")
    content = b"".join(f"DOCKYARD-CANARY-{uuid.uuid4().hex}-{i:06d}".encode().ljust(512, b".") for i in range(2048))
    with open(backing, "wb") as f:
        f.write(content)
    p = subprocess.run(["losetup", "--find", "--show", backing], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        pytest.skip(f"losetup: {p.stderr.strip()}")
    dev = p.stdout.strip()
    try:
        yield Loop(dev, backing, content)
    finally:
        subprocess.run(["losetup", "-d", dev], capture_output=True, timeout=30)
        left = subprocess.run(["losetup", "-j", backing], capture_output=True, text=True, timeout=30).stdout
        assert left.strip() == "", f"loop device left attached: {left}"


def dmesg() -> str:
    return subprocess.run(["dmesg"], capture_output=True, text=True, timeout=30).stdout


# A probe run in the container: each step prints NAME=ok or NAME=<the error>.
PROBE = r"""
try() { name=$1; shift; if out=$("$@" 2>&1); then echo "$name=ok $out"; else echo "$name=${out##*: }"; fi; }
"""


def probe(dy, rt, script: str, *flags: str, image: str = "busybox") -> dict:
    p = dy("run", "--rm", "--runtime", rt, *flags, image, "sh", "-c", PROBE + script, check=False, timeout=60)
    no_traceback(p)
    assert p.returncode == 0, p.err + p.out
    return {k: v.strip() for k, _, v in (line.partition("=") for line in p.out.splitlines()) if _}


def block_attack(loop: Loop, node: str = "/n", mknod: bool = True) -> str:
    make = f"try mknod mknod {node} b {loop.major} {loop.minor}\n" if mknod else ""
    return make + (f"try read head -c 64 {node}\n"
                   f"try write sh -c 'printf {PAYLOAD.decode()} | dd of={node} bs={len(PAYLOAD)} count=1 conv=notrunc'\n")


@pytest.mark.parametrize("rt", RUNTIMES)
def test_default_container_cannot_use_a_host_block_device(dy, busybox, loop, rt):
    got = probe(dy, rt, block_attack(loop))
    assert got["mknod"].startswith("ok")  # Docker's rules allow mknod of any node; opening it is denied
    assert got["read"] == EPERM and got["write"] == EPERM, got
    assert loop.marker not in json.dumps(got)
    loop.assert_unchanged()


@pytest.mark.parametrize("rt", RUNTIMES)
def test_default_container_cannot_write_the_host_kernel_log(dy, busybox, rt):
    marker = f"dockyard-kmsg-attack-{uuid.uuid4().hex}"
    got = probe(dy, rt, f"try mknod mknod /k c 1 11\ntry write sh -c 'echo {marker} > /k'\n")
    assert got["write"] == EPERM, got
    assert marker not in dmesg()


@pytest.mark.parametrize("rt", RUNTIMES)
def test_host_char_devices_are_not_openable(dy, busybox, rt):
    """/dev/kvm, a virtual console, fuse, /dev/mem, loop-control: made with mknod, never opened."""
    wanted = [p for p in ("/dev/kvm", "/dev/tty0", "/dev/tty1", "/dev/fuse", "/dev/mem", "/dev/loop-control",
                          "/dev/kmsg") if os.path.exists(p)]
    script = ""
    for i, path in enumerate(wanted):
        rdev = os.stat(path).st_rdev
        script += f"mknod /d{i} c {os.major(rdev)} {os.minor(rdev)}; try {i} head -c0 /d{i}\n"
    script += "try null head -c0 /dev/null\ntry zero head -c1 /dev/zero\ntry urandom head -c1 /dev/urandom\n"
    got = probe(dy, rt, script)
    for i, path in enumerate(wanted):
        assert got[str(i)] == EPERM, (path, got[str(i)])
    assert all(got[k].startswith("ok") for k in ("null", "zero", "urandom")), got


def shipping_image(dy, tmp_path, busybox: str, loop: Loop) -> str:
    """An image whose layer ships the loop device's block node and a kmsg node, both 0666 so that
    file permissions let any user in: only the device policy stands between them and the host."""
    layers = glob.glob(os.path.join(dy.root, "snapshots", "layers", "*", "fs"))
    assert len(layers) == 1, layers
    tar_path = str(tmp_path / "with-devices.tar")
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(layers[0], arcname=".")
        for name, kind, major, minor in (("disk", tarfile.BLKTYPE, loop.major, loop.minor),
                                         ("kmsg", tarfile.CHRTYPE, 1, 11)):
            info = tarfile.TarInfo(f"./shipped/{name}")
            info.type, info.devmajor, info.devminor, info.mode = kind, major, minor, 0o666
            tar.addfile(info)
    name = f"shipped-{uuid.uuid4().hex[:8]}:latest"
    dy("import", tar_path, name)
    return name


SHIPPED_FLAGS = [
    (),
    ("--cap-drop", "ALL", "-u", "65534", "--security-opt", "no-new-privileges"),
    ("--userns", "auto"),
]


@pytest.fixture
def open_runroot(dy):
    """--userns auto needs a runroot every uid can traverse (as /run/dockyard is); tmp_path's
    parent is 0700. Containers and mounts in it are removed afterwards."""
    import tempfile

    from support import mounts_under

    base = tempfile.mkdtemp(prefix="dockyard-devices-", dir="/tmp")
    os.chmod(base, 0o755)
    saved = dy.runroot
    dy.runroot = dy.env["DOCKYARD_RUNROOT"] = os.path.join(base, "run")
    yield
    ids = dy("ps", "-aq", "--no-trunc", check=False).out.split()
    if ids:
        dy("rm", "-f", *ids, check=False)
    for p in sorted(mounts_under(base), key=len, reverse=True):
        subprocess.run(["umount", "-l", p], stderr=subprocess.DEVNULL)
    shutil.rmtree(base, ignore_errors=True)
    dy.runroot = dy.env["DOCKYARD_RUNROOT"] = saved


@pytest.mark.parametrize("flags", SHIPPED_FLAGS, ids=["default", "no-caps-nobody-nnp", "userns"])
@pytest.mark.parametrize("rt", RUNTIMES)
def test_device_nodes_shipped_in_an_image(dy, busybox, loop, tmp_path, request, rt, flags):
    if rt == "runc" and "--userns" in flags:
        pytest.skip("--userns auto is dockyard's own runtime only")
    if "--userns" in flags:
        request.getfixturevalue("open_runroot")
    image = shipping_image(dy, tmp_path, busybox, loop)
    marker = f"dockyard-shipped-kmsg-{uuid.uuid4().hex}"
    script = ("ls -ln /shipped | grep -q 'b.*disk' && echo listed=ok\n" + block_attack(loop, "/shipped/disk", False)
              + f"try kmsg sh -c 'echo {marker} > /shipped/kmsg'\n")
    got = probe(dy, rt, script, *flags, image=image)
    assert got.get("listed") == "ok", got  # the node is there, with the loop's numbers
    for step in ("read", "write", "kmsg"):
        assert not got[step].startswith("ok"), (step, got)
        if "--userns" not in flags:  # (in a user namespace the mount's nodev may answer first)
            assert got[step] == EPERM, (step, got)
    loop.assert_unchanged()
    assert marker not in dmesg()
    # The same node, allowed by a rule, is readable: the policy, and nothing else, stopped it.
    if "--userns" not in flags:
        allowed = probe(dy, rt, "try read head -c 40 /shipped/disk\n", *flags, "--device-cgroup-rule",
                        f"b {loop.major}:{loop.minor} r", image=image)
        assert allowed["read"] == "ok " + loop.marker


@pytest.mark.parametrize("rt", RUNTIMES)
def test_device_flag_gives_the_device(dy, busybox, loop, rt):
    got = probe(dy, rt, "try read head -c 40 /dev/xvda\ntry list sh -c 'ls -l /dev/xvda'\n", "--device",
                f"{loop.dev}:/dev/xvda:r")
    assert got["read"] == "ok " + loop.marker
    assert re.search(rf"^ok b.* {loop.major}, +{loop.minor} .*/dev/xvda$", got["list"]), got["list"]
    # read-only: writing is refused and the host is untouched
    got = probe(dy, rt, block_attack(loop, "/dev/xvda", False), "--device", f"{loop.dev}:/dev/xvda:r")
    assert got["read"] == "ok " + loop.content[:64].decode() and got["write"] == EPERM, got
    loop.assert_unchanged()
    # rw: the write reaches the host file (the positive control of every write check here)
    got = probe(dy, rt, block_attack(loop, "/dev/xvda", False) + "sync\n", "--device", f"{loop.dev}:/dev/xvda")
    assert got["write"].startswith("ok"), got
    with open(loop.backing, "rb") as f:
        assert f.read(len(PAYLOAD) + 1) == PAYLOAD + loop.content[len(PAYLOAD):len(PAYLOAD) + 1]


@pytest.mark.parametrize("rt", RUNTIMES)
def test_device_cgroup_rule(dy, busybox, loop, rt):
    rule = f"b {loop.major}:{loop.minor} r"
    got = probe(dy, rt, block_attack(loop), "--device-cgroup-rule", rule)
    assert got["read"] == "ok " + loop.content[:64].decode() and got["write"] == EPERM, got
    other = f"b {loop.major}:{loop.minor + 1} rwm"  # a neighbour's rule gives nothing here
    got = probe(dy, rt, block_attack(loop), "--device-cgroup-rule", other, "--device-cgroup-rule", "c 1:11 r")
    assert got["read"] == EPERM and got["write"] == EPERM, got
    wild = f"b {loop.major}:* r"
    got = probe(dy, rt, block_attack(loop), "--device-cgroup-rule", wild)
    assert got["read"].startswith("ok") and got["write"] == EPERM, got
    loop.assert_unchanged()


def test_kmsg_positive_control(dy, busybox):
    """The dmesg check can see a write that is allowed (so its absence above means something)."""
    marker = f"dockyard-kmsg-allowed-{uuid.uuid4().hex}"
    got = probe(dy, "dockyard", f"mknod /k c 1 11\ntry write sh -c 'echo {marker} > /k'\n",
                "--device-cgroup-rule", "c 1:11 w")
    assert got["write"].startswith("ok"), got
    assert marker in dmesg()


@pytest.mark.parametrize("flag, value, message", [
    ("--device-cgroup-rule", "c 1:3 rwx", "invalid device cgroup format"),
    ("--device-cgroup-rule", "z *:* r", "invalid device cgroup format"),
    ("--device-cgroup-rule", "c 1:3", "invalid device cgroup format"),
    ("--device-cgroup-rule", "c 1:99999999999 r", "invalid device cgroup format"),
    ("--device", "/dev/null:rel", "rel is not an absolute path"),
    ("--device", "/dev/null:/x:rwz", "invalid device mode"),
    ("--device", "/nonexistent-device", "No such file or directory"),
    ("--device", "/etc/hostname", "not a device node"),
])
@pytest.mark.parametrize("command", ["run", "create"])
def test_bad_device_flags_are_refused(dy, busybox, command, flag, value, message):
    args = [command] + (["--rm"] if command == "run" else []) + [flag, value, "busybox", "true"]
    p = dy(*args, check=False)
    no_traceback(p)
    # docker's CLI checks the formats itself (125); the device node is the daemon's to look at, so
    # `create` exits 1 when it is missing or no device (as docker create does) and `run` 125
    looked_at = message in ("No such file or directory", "not a device node")
    code = 1 if command == "create" and looked_at else 125
    assert p.returncode == code and message in p.err, p.err
    assert dy("ps", "-aq").out == ""  # nothing created, nothing lost


def test_inspect_shows_devices(dy, busybox, name):
    dy("create", "--name", name, "--device", "/dev/null:/dev/n2:r", "--device-cgroup-rule", "c 1:5 rw", "busybox")
    host = json.loads(dy("inspect", name).out)[0]["HostConfig"]
    assert host["Devices"] == [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n2", "CgroupPermissions": "r"}]
    assert host["DeviceCgroupRules"] == ["c 1:5 rw"]


@pytest.mark.parametrize("rt", RUNTIMES)
def test_same_policy_as_runc(dy, busybox, rt):
    """The cgroup's own view: the devices list (v1) both runtimes leave is the same."""
    if not os.path.isdir("/sys/fs/cgroup/devices"):
        pytest.skip("no cgroup v1 devices controller")
    got = dy("run", "--rm", "--runtime", rt, "--device-cgroup-rule", "b 7:* r", "busybox",
             "cat", "/sys/fs/cgroup/devices/devices.list").out.split("\n")
    want = ["b *:* m", "c *:* m", "b 7:* r", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
            "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 10:200 rwm", "c 136:* rwm"]
    assert sorted(filter(None, got)) == sorted(want)


# -- the OCI runtime on bundles: linux.resources.devices from any config.json --------------------

def runtime_cmd(which: str, state_root: str) -> list[str]:
    if which == "runc":
        return ["runc", "--root", state_root]
    return [sys.executable, "-m", "dockyard.runtime.cli", "--root", state_root]


@pytest.fixture
def bundle_runner(dy, busybox, tmp_path):
    """run(runtime, spec_changes) → the container's stdout; states are deleted afterwards."""
    layers = glob.glob(os.path.join(dy.root, "snapshots", "layers", "*", "fs"))
    roots = []
    env = dict(os.environ, PYTHONPATH=REPO)

    def run(which: str, linux: dict, script: str) -> str:
        bundle = tmp_path / f"bundle-{which}-{uuid.uuid4().hex[:6]}"
        bundle.mkdir()
        subprocess.run(["cp", "-a", layers[0], str(bundle / "rootfs")], check=True)
        p = subprocess.run(runtime_cmd(which, str(tmp_path / "unused")) + ["spec"], cwd=bundle, env=env,
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr
        spec = json.loads((bundle / "config.json").read_text())
        spec["process"].update(terminal=False, args=["sh", "-c", PROBE + script])
        spec["linux"].update(linux)
        (bundle / "config.json").write_text(json.dumps(spec))
        root = str(tmp_path / f"state-{which}")
        roots.append((which, root))
        p = subprocess.run(runtime_cmd(which, root) + ["run", "c-" + uuid.uuid4().hex[:8]], cwd=bundle, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout

    yield run
    for which, root in roots:
        if os.path.isdir(root):
            p = subprocess.run(runtime_cmd(which, root) + ["list", "-q"], env=env, capture_output=True, text=True)
            assert p.stdout.split() == [], "a runtime kept a container"


@pytest.mark.parametrize("which", ["dockyard-runtime", "runc"] if shutil.which("runc") else ["dockyard-runtime"])
def test_oci_runtime_honours_resources_devices(bundle_runner, loop, which):
    node = {"path": "/dev/xvda", "type": "b", "major": loop.major, "minor": loop.minor, "fileMode": 0o666}
    script = "try read head -c 40 /dev/xvda\n"
    # a spec device alone is created, not allowed (runc's rule): the cgroup decides
    out = bundle_runner(which, {"devices": [node], "cgroupsPath": f"/dockyard-test-{uuid.uuid4().hex[:8]}"},
                        script)
    assert out.strip() == f"read={EPERM}", out
    # spec rules: allow it read-only
    rules = [{"allow": False, "access": "rwm"},
             {"allow": True, "type": "b", "major": loop.major, "minor": loop.minor, "access": "r"}]
    out = bundle_runner(which, {"devices": [node], "resources": {"devices": rules}},
                        script + "try write sh -c 'echo x > /dev/xvda'\n")
    assert out.split("\n")[:2] == ["read=ok " + loop.marker, f"write={EPERM}"], out
    loop.assert_unchanged()

