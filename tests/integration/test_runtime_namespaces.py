"""dockyard-runtime and runc side by side on what the OCI runtime-tools suite found us short on:
linux.rootfsPropagation, specs without a mount (or any) namespace, and resource limits for
cgroup controllers or files this host lacks.

Each case runs the same bundle (made by `runc spec`) through both runtimes and compares the
outcome: exit code, error, the container's /proc/self/mountinfo. The host is checked after each:
no mounts under the bundle, no state, no cgroup directory.

runc is Debian's 1.1.x. Two things it does differently from runc ≥ 1.2, which we follow:
a shared or unbindable rootfsPropagation is applied to the new `/` after pivot_root (1.1 leaves
`/` private for "shared" and fails to start with "unbindable"). And runc without a mount
namespace mounts in the caller's namespace and changes its `/` propagation; so runc runs those
cases inside a throwaway mount namespace (`unshare -m`), never on the host. Ours runs on the
host, which proves that it touches nothing there and that `delete` takes its mounts down.
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
import uuid

import pytest
from support import mounts_under, no_traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNTIMES = ["dockyard-runtime", "runc"]
PROPAGATIONS = ["", "shared", "rshared", "slave", "rslave", "private", "rprivate", "unbindable", "runbindable"]


def _runc_version() -> tuple[int, int]:
    try:
        out = subprocess.run(["runc", "--version"], capture_output=True, text=True, timeout=10).stdout
    except FileNotFoundError:
        return (0, 0)
    m = re.search(r"runc version (\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


RUNC = _runc_version()
RUNC_1_1 = RUNC < (1, 2)
pytestmark = pytest.mark.skipif(RUNC == (0, 0), reason="runc is not installed")


# -- bundles and runtimes -------------------------------------------------------------------------


@pytest.fixture
def rootfs_dir(dy, busybox):
    layers = glob.glob(os.path.join(dy.root, "snapshots", "layers", "*", "fs"))
    assert len(layers) == 1, layers
    return layers[0]


@pytest.fixture
def bundle(tmp_path, rootfs_dir):
    """make(args, edit=None) → a bundle dir with `runc spec`'s config, `edit(spec)` applied."""
    made = []

    def make(args: list[str], edit=None) -> str:
        d = tmp_path / f"bundle{len(made)}"
        d.mkdir()
        subprocess.run(["cp", "-a", rootfs_dir, str(d / "rootfs")], check=True)
        subprocess.run(["runc", "spec"], cwd=d, check=True, timeout=30)
        with open(d / "config.json") as f:
            spec = json.load(f)
        spec["process"]["terminal"] = False
        spec["process"]["args"] = args
        if edit is not None:
            edit(spec)
        with open(d / "config.json", "w") as f:
            json.dump(spec, f)
        made.append(str(d))
        return str(d)

    yield make
    for d in made:
        assert mounts_under(d) == [], f"mounts left under {d}"


def rt_cmd(runtime: str, state: str) -> list[str]:
    if runtime == "runc":
        return ["runc", "--root", state]
    return [sys.executable, "-S", "-m", "dockyard.runtime.cli", "--root", state]


ENV = dict(os.environ, PYTHONPATH=REPO)


def run(runtime: str, bundle_dir: str, tmp_path, *, own_mountns: bool = False, timeout: float = 60):
    """`RT run` of the bundle; `own_mountns` runs it inside a throwaway mount namespace."""
    state = str(tmp_path / f"state-{runtime}")
    cid = "t" + uuid.uuid4().hex[:12]
    cmd = rt_cmd(runtime, state) + ["run", "--bundle", bundle_dir, cid]
    if own_mountns:
        cmd = ["unshare", "-m", "--propagation", "private", *cmd]
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    p.out, p.err = p.stdout, p.stderr
    left = subprocess.run(rt_cmd(runtime, state) + ["list", "-q"], env=ENV, capture_output=True, text=True)
    assert left.stdout.split() == [], f"{runtime} kept state: {left.stdout}"
    if runtime != "runc":
        no_traceback(p)
    return p


def drop_ns(*types: str):
    def edit(spec):
        spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] not in types]
    return edit


def add_ns(*types: str):
    def edit(spec):
        spec["linux"]["namespaces"] += [{"type": t} for t in types]
    return edit


def edits(*fns):
    def edit(spec):
        for fn in fns:
            fn(spec)
    return edit


def writable(spec):
    spec["root"]["readonly"] = False


def no_masks(spec):
    spec["linux"].pop("maskedPaths", None)
    spec["linux"].pop("readonlyPaths", None)


# -- rootfsPropagation -------------------------------------------------------------------------


def propagation_of(mountinfo: str) -> dict[str, str]:
    """{mount point: "shared" | "slave" | "shared+slave" | "unbindable" | "private"}; the top
    mount wins where mounts are stacked."""
    out = {}
    for line in mountinfo.splitlines():
        left = line.partition(" - ")[0].split()
        opts = left[6:]
        shared = any(o.startswith("shared:") for o in opts)
        slave = any(o.startswith("master:") for o in opts)
        tag = "+".join(t for t, on in (("shared", shared), ("slave", slave)) if on)
        out[left[4]] = tag or ("unbindable" if "unbindable" in opts else "private")
    return out


def expected_propagation(value: str, mounts: dict[str, str]) -> dict[str, set]:
    """What runc ≥ 1.2 gives: per mount point, the allowed tags (slave or private depends on
    whether the host's mount is shared)."""
    rec = value in ("rshared", "rslave", "rprivate", "runbindable")
    base = value[1:] if rec else value
    out = {}
    for point in mounts:
        top = point == "/"
        if base == "shared" and (top or rec):
            out[point] = {"shared"}
        elif base == "unbindable" and (top or rec):
            out[point] = {"unbindable"}
        elif base == "private":
            out[point] = {"private"}
        else:  # default (rslave), slave; and what shared/unbindable leave below `/`
            out[point] = {"private", "slave"}
    return out


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("value", PROPAGATIONS, ids=[v or "default" for v in PROPAGATIONS])
def test_rootfs_propagation_mountinfo(bundle, tmp_path, runtime, value):
    def edit(spec):
        writable(spec)
        spec["linux"]["namespaces"].append({"type": "cgroup"})  # a fresh cgroup mount, not binds of the host's
        if value:
            spec["linux"]["rootfsPropagation"] = value
    b = bundle(["cat", "/proc/self/mountinfo"], edit)
    p = run(runtime, b, tmp_path)
    if runtime == "runc" and RUNC_1_1 and value in ("unbindable", "runbindable"):
        assert p.returncode != 0 and "invalid argument" in p.err, p.err  # 1.1 binds the rootfs after
        return
    assert p.returncode == 0, p.err
    got = propagation_of(p.out)
    assert "/" in got and "/proc" in got and "/dev" in got
    if runtime == "runc" and RUNC_1_1 and value in ("shared", "rshared"):
        want = {point: {"private", "slave"} for point in got}  # 1.1 never sets a shared root
    else:
        want = expected_propagation(value, got)
    assert {k: v for k, v in got.items() if v not in want[k]} == {}, got


@pytest.mark.parametrize("value", ["", "rslave", "private", "slave"])
def test_rootfs_propagation_same_as_runc(bundle, tmp_path, value):
    """Where runc 1.1 and ≥ 1.2 agree, ours must give the very same propagation for every mount."""
    def edit(spec):
        writable(spec)
        if value:
            spec["linux"]["rootfsPropagation"] = value
    b = bundle(["cat", "/proc/self/mountinfo"], edit)
    ours, theirs = run("dockyard-runtime", b, tmp_path), run("runc", b, tmp_path)
    assert ours.returncode == theirs.returncode == 0, (ours.err, theirs.err)
    a, b_ = propagation_of(ours.out), propagation_of(theirs.out)
    common = set(a) & set(b_)
    assert {"/", "/proc", "/dev", "/dev/pts", "/sys"} <= common
    assert {k: a[k] for k in common} == {k: b_[k] for k in common}


SEES_SCRIPT = (
    "mkdir -p /target /mnt1 /test && touch /test/file; "
    "if mount -o rbind / /target 2>/dev/null; then echo BOUND; else echo NOBIND; exit 0; fi; "
    "mount -o bind /test /mnt1 && if [ -e /target/mnt1/file ]; then echo EXPOSED; else echo HIDDEN; fi; "
    "umount /mnt1; umount -l /target"
)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("value, want", [("shared", "BOUND EXPOSED"), ("slave", "BOUND HIDDEN"),
                                         ("private", "BOUND HIDDEN"), ("unbindable", "NOBIND")])
def test_rootfs_propagation_behaviour(bundle, tmp_path, runtime, value, want):
    """runtime-tools' validateRootfsPropagation: bind `/` elsewhere inside the container, mount
    something, and see whether the bind shows it (shared) or whether `/` cannot be bound at all
    (unbindable)."""
    def edit(spec):
        writable(spec)
        spec["linux"]["rootfsPropagation"] = value
        caps = spec["process"]["capabilities"]
        for k in ("bounding", "effective", "permitted"):
            caps[k] = sorted(set(caps[k]) | {"CAP_SYS_ADMIN"})
        spec["linux"].pop("seccomp", None)
    b = bundle(["sh", "-c", SEES_SCRIPT], edit)
    p = run(runtime, b, tmp_path)
    if runtime == "runc" and RUNC_1_1 and value in ("shared", "unbindable"):
        # runc 1.1: a private root for "shared", no container at all for "unbindable"
        assert (p.out.split() == ["BOUND", "HIDDEN"]) if value == "shared" else p.returncode != 0, (p.out, p.err)
        return
    assert p.returncode == 0, p.err
    assert p.out.split() == want.split()


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("value", ["", "shared", "rshared", "rslave", "rprivate"])
def test_shared_host_gets_nothing_back(bundle, tmp_path, runtime, value):
    """On a host whose mounts are shared (systemd's default; simulated by a shared mount
    namespace around the runtime), pivot_root must still work and nothing the container mounts
    may appear on the host while it runs."""
    if runtime == "runc" and RUNC_1_1 and value in ("unbindable", "runbindable"):
        pytest.skip("runc 1.1 cannot start such a container")

    def edit(spec):
        writable(spec)
        if value:
            spec["linux"]["rootfsPropagation"] = value
    b = bundle(["sleep", "30"], edit)
    state = str(tmp_path / f"state-{runtime}")
    cid = "s" + uuid.uuid4().hex[:12]
    rt = " ".join(rt_cmd(runtime, state))
    script = (f"{rt} create --bundle {b} {cid} >{tmp_path}/out 2>{tmp_path}/err </dev/null || exit 3; "
              f"{rt} state {cid} | grep -q '\"created\"' || exit 4; "
              f"grep -c ' {b}' /proc/self/mountinfo; {rt} delete --force {cid}")
    try:
        p = subprocess.run(["unshare", "-m", "--propagation", "shared", "sh", "-c", script], env=ENV,
                           capture_output=True, text=True, timeout=60)
    finally:  # the script's own delete may not have run: its state and cgroup are on the host
        subprocess.run(rt_cmd(runtime, state) + ["delete", "--force", cid], env=ENV, capture_output=True, timeout=60)
    with open(tmp_path / "err") as f:
        err = f.read()
    assert p.returncode == 0, (p.returncode, err, p.stderr)
    assert p.stdout.split() == ["0"], "the container's mounts reached the (shared) host namespace"


# -- specs without a mount namespace -----------------------------------------------------------------


REFUSED = [
    ("masks", drop_ns("mount"), "unable to restrict sys entries without a private MNT namespace"),
    ("hostname", edits(drop_ns("uts"), no_masks), "unable to set hostname without a private UTS namespace"),
    ("mappings", lambda s: s["linux"].update(uidMappings=[{"containerID": 0, "hostID": 100000, "size": 1}]),
     "user namespace mappings specified, but user namespace isn't enabled in the config"),
    ("sysctl-host-net", edits(drop_ns("network"), lambda s: s["linux"].update(sysctl={"net.ipv4.ip_forward": "1"})),
     "not allowed in host network namespace"),
    ("sysctl-not-namespaced", lambda s: s["linux"].update(sysctl={"kernel.panic": "1"}),
     "is not in a separate kernel namespace"),
]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("case, edit, message", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_like_runc(bundle, tmp_path, runtime, case, edit, message):
    p = run(runtime, bundle(["sh", "-c", "exit 0"], edits(writable, edit)), tmp_path, own_mountns=runtime == "runc")
    if runtime == "runc" and RUNC_1_1 and case == "mappings":
        assert p.returncode == 0, p.err  # 1.1's specconv drops the mappings unread; ≥ 1.2 refuses
        return
    assert p.returncode != 0
    assert message in p.err, p.err


@pytest.mark.parametrize("what, edit", [
    ("rootfsPropagation", lambda s: s["linux"].update(rootfsPropagation="rshared")),
    ("read-only root", lambda s: s["root"].update(readonly=True)),
])
def test_refused_where_runc_would_touch_the_host(bundle, tmp_path, what, edit):
    """runc 1.1 applies rootfsPropagation to the caller's own `/` when there is no mount
    namespace, and ignores root.readonly: we refuse both (runc is not run: it would change the
    host's propagation)."""
    def host_root() -> str:
        with open("/proc/self/mountinfo") as f:
            return propagation_of(f.read())["/"]

    before = host_root()
    p = run("dockyard-runtime", bundle(["true"], edits(no_masks, drop_ns("mount"), edit)), tmp_path)
    assert p.returncode != 0 and "MNT namespace" in p.err, p.err
    assert host_root() == before and mounts_under(str(tmp_path)) == []


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("without", [("mount",), ("mount", "pid"), ("mount", "pid", "network", "ipc")])
def test_runs_without_a_mount_namespace(bundle, tmp_path, runtime, without):
    """Mounts go to the caller's namespace and the root is entered by chroot, as runc does; ours
    takes its mounts down again (runc leaves them: here, in its throwaway namespace)."""
    script = "echo pid=$$; hostname; cat /proc/self/cgroup >/dev/null && echo proc; ls /dev/null"
    b = bundle(["sh", "-c", script], edits(writable, no_masks, drop_ns(*without)))
    p = run(runtime, b, tmp_path, own_mountns=runtime == "runc")
    assert p.returncode == 0, p.err
    pid = "pid=1" if "pid" not in without else None
    lines = p.out.split()
    assert lines[1:] == ["runc", "proc", "/dev/null"], p.out
    if pid:
        assert lines[0] == pid
    else:
        assert lines[0] != "pid=1"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_no_proc_without_a_mount_namespace(bundle, tmp_path, runtime):
    """No mount namespace and no /proc mount: neither runtime can start it; ours says why."""
    b = bundle(["true"], edits(writable, no_masks, drop_ns("mount"), lambda s: s.update(mounts=[])))
    p = run(runtime, b, tmp_path, own_mountns=runtime == "runc", timeout=30)
    assert p.returncode != 0
    assert ("/proc" in p.err), p.err


def test_lifecycle_pid_namespace_without_mount_namespace(bundle, tmp_path):
    """create → created (a live pid), start → running, kill → stopped, delete: nothing left (this
    used to hang in `run` with `state` saying created)."""
    b = bundle(["sleep", "30"], edits(writable, no_masks, drop_ns("mount")))
    state = str(tmp_path / "state")
    cmd = rt_cmd("dockyard-runtime", state)
    with open(tmp_path / "create.err", "wb") as err:
        p = subprocess.run(cmd + ["create", "--bundle", b, "c1"], env=ENV, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=err, timeout=30)
    assert p.returncode == 0, (tmp_path / "create.err").read_text()
    try:
        st = json.loads(subprocess.run(cmd + ["state", "c1"], env=ENV, capture_output=True, timeout=30).stdout)
        assert st["status"] == "created" and st["pid"] > 0 and os.path.exists(f"/proc/{st['pid']}")
        assert mounts_under(b), "the container's mounts are in our namespace while it lives"
        assert os.readlink(f"/proc/{st['pid']}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
        assert os.readlink(f"/proc/{st['pid']}/ns/pid") != os.readlink("/proc/self/ns/pid")
        subprocess.run(cmd + ["start", "c1"], env=ENV, check=True, timeout=30)
        st = json.loads(subprocess.run(cmd + ["state", "c1"], env=ENV, capture_output=True, timeout=30).stdout)
        assert st["status"] == "running", (tmp_path / "create.err").read_text()  # the container's stderr
        subprocess.run(cmd + ["kill", "c1", "KILL"], env=ENV, check=True, timeout=30)
    finally:
        subprocess.run(cmd + ["delete", "--force", "c1"], env=ENV, timeout=30)
    assert mounts_under(b) == []
    assert subprocess.run(cmd + ["list", "-q"], env=ENV, capture_output=True, text=True).stdout == ""


def test_no_namespaces_at_all(bundle, tmp_path):
    """runtime-tools' linux_ns_itype: with no namespace listed, each of the container's is the
    runtime's own."""
    b = bundle(["sleep", "30"], edits(writable, no_masks, lambda s: s["linux"].update(namespaces=[]),
                                      lambda s: s.pop("hostname", None)))
    cmd = rt_cmd("dockyard-runtime", str(tmp_path / "state"))
    with open(tmp_path / "create.err", "wb") as err:
        p = subprocess.run(cmd + ["create", "--bundle", b, "c1"], env=ENV, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=err, timeout=30)
    try:
        assert p.returncode == 0, (tmp_path / "create.err").read_text()
        st = json.loads(subprocess.run(cmd + ["state", "c1"], env=ENV, capture_output=True, timeout=30).stdout)
        assert st["pid"] > 0
        for ns in ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts"):
            assert os.readlink(f"/proc/{st['pid']}/ns/{ns}") == os.readlink(f"/proc/self/ns/{ns}"), ns
    finally:
        subprocess.run(cmd + ["delete", "--force", "c1"], env=ENV, timeout=30)
    assert mounts_under(b) == []


# -- resource limits this host cannot apply ------------------------------------------------------------


def _v1_has(controller: str, f: str | None = None) -> bool:
    from dockyard.runtime.cgroups.paths import parse_mountinfo

    with open("/proc/self/mountinfo") as fh:
        v1, _ = parse_mountinfo(fh.read())
    if controller not in v1:
        return False
    return f is None or os.path.exists(os.path.join(v1[controller][0], f))


LACKING = [  # (id, resources, OCI field our message names, present on this host?)
    ("hugetlb", {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]}, "hugepageLimits",
     lambda: _v1_has("hugetlb")),
    ("hugetlb-size", {"hugepageLimits": [{"pageSize": "3MB", "limit": 4 << 20}]}, "hugepageLimits", lambda: False),
    ("net_cls", {"network": {"classID": 1048577}}, "network.classID", lambda: _v1_has("net_cls")),
    ("net_prio", {"network": {"priorities": [{"name": "lo", "priority": 1}]}}, "network.priorities",
     lambda: _v1_has("net_prio")),
    ("rdma", {"rdma": {"mlx5_1": {"hcaHandles": 3}}}, "rdma", lambda: _v1_has("rdma")),
    ("blkio-weight", {"blockIO": {"weight": 500}}, "blockIO.weight",
     lambda: _v1_has("blkio", "blkio.weight") or _v1_has("blkio", "blkio.bfq.weight")),
    ("blkio-leaf-weight", {"blockIO": {"leafWeight": 500}}, "blockIO.leafWeight",
     lambda: _v1_has("blkio", "blkio.leaf_weight")),
    ("swap", {"memory": {"limit": 64 << 20, "swap": 128 << 20}}, "memory.swap",
     lambda: _v1_has("memory", "memory.memsw.limit_in_bytes")),
]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("case, resources, field, present", LACKING, ids=[c[0] for c in LACKING])
def test_limit_the_host_lacks_is_refused(bundle, tmp_path, runtime, case, resources, field, present):
    from dockyard.runtime.cgroups.paths import current_layout

    if current_layout() == "v2":
        pytest.skip("these are cgroup v1 cases")
    if present():
        pytest.skip(f"this host has what {case} needs")
    if case == "hugetlb-size" and not _v1_has("hugetlb"):
        field = "hugepageLimits"  # refused for the missing controller first
    path = "/rtns-" + uuid.uuid4().hex[:12]

    def edit(spec):
        spec["linux"]["resources"] = resources
        spec["linux"]["cgroupsPath"] = path
    p = run(runtime, bundle(["true"], edits(writable, edit)), tmp_path)
    assert p.returncode != 0, p.out
    if runtime == "runc":
        assert "cgroup" in p.err or "no such file" in p.err, p.err
    else:
        assert f"linux.resources.{field}" in p.err, p.err
    assert glob.glob(f"/sys/fs/cgroup/*{path}") + glob.glob(f"/sys/fs/cgroup{path}") == []


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_kernel_memory_is_ignored_with_a_warning(bundle, tmp_path, runtime):
    path = "/rtns-" + uuid.uuid4().hex[:12]

    def edit(spec):
        spec["linux"]["resources"] = {"memory": {"limit": 64 << 20, "kernel": 32 << 20}}
        spec["linux"]["cgroupsPath"] = path
    p = run(runtime, bundle(["sh", "-c", "echo ok"], edits(writable, edit)), tmp_path)
    assert p.returncode == 0 and p.out == "ok\n", p.err
    assert "ernel memory settings are ignored" in p.err, p.err
    assert glob.glob(f"/sys/fs/cgroup/*{path}") == []


def test_init_failing_before_its_cgroup_gate_reports_its_error(bundle, tmp_path):
    """init fails in its mounts while the runtime is still placing it in its cgroup: the error
    is init's own, never the runtime's EPIPE on the gate it no longer reads ("Broken pipe")."""
    path = "/rtns-" + uuid.uuid4().hex[:12]

    def edit(spec):
        spec["linux"]["resources"] = {"pids": {"limit": 100}}
        spec["linux"]["cgroupsPath"] = path
        spec["mounts"].insert(0, {"destination": "/x", "type": "bind", "source": str(tmp_path / "absent"),
                                  "options": ["bind"]})
    b = bundle(["true"], edits(writable, edit))
    for _ in range(3):
        p = run("dockyard-runtime", b, tmp_path)
        assert p.returncode != 0 and "absent does not exist" in p.err and "Broken pipe" not in p.err, p.err
    assert glob.glob(f"/sys/fs/cgroup/*{path}") == []


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_kill_all_without_a_pid_namespace_spares_the_host(bundle, tmp_path, runtime):
    """`kill --all` of a container sharing our pid namespace (and, for ours, without a cgroup)
    signals the container's processes, not every process of the pid namespace. Run inside a
    throwaway pid namespace standing in for the host, with a canary process beside the runtime."""
    def no_cgroup(spec):
        spec["linux"].pop("resources", None)
        spec["linux"].pop("cgroupsPath", None)
    b = bundle(["sh", "-c", "sleep 60 & sleep 60"], edits(writable, drop_ns("pid"), no_cgroup))
    rt = " ".join(rt_cmd(runtime, str(tmp_path / f"state-{runtime}")))
    script = (f"sleep 60 & canary=$!; {rt} create --bundle {b} c1 </dev/null >{tmp_path}/out 2>{tmp_path}/err "
              f"|| exit 3; {rt} start c1; sleep 0.3; {rt} kill --all c1 KILL; sleep 0.3; "
              f"kill -0 $canary && echo CANARY-ALIVE; {rt} state c1 | grep -o '\"status\": *\"[a-z]*\"'; "
              f"{rt} delete --force c1; kill $canary")
    p = subprocess.run(["unshare", "-p", "-f", "-m", "--mount-proc", "--propagation", "private", "sh", "-c", script],
                       env=ENV, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, (p.stdout, p.stderr, (tmp_path / "err").read_text())
    assert p.stdout.split("\n")[:2] == ["CANARY-ALIVE", '"status": "stopped"'], (p.stdout, p.stderr)


def process_tree(root: int) -> list[int]:
    """`root` and its live descendants, from /proc/*/stat."""
    children: dict = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rpartition(") ")[2].split()
        except (OSError, ValueError):
            continue
        if fields and fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _live(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(") ")[2][:1] != "Z"
    except OSError:
        return False


def test_delete_without_pid_namespace_or_cgroup_leaves_no_process(bundle, tmp_path):
    """`delete --force` of a running container that has neither a cgroup nor a pid namespace:
    the init's children die with it (runc empties its cgroup; we have only the process tree)."""
    import time

    def no_cgroup(spec):
        spec["linux"].pop("resources", None)
    b = bundle(["sh", "-c", "sleep 61 & sleep 62 & wait"], edits(writable, drop_ns("pid"), no_cgroup))
    cmd = rt_cmd("dockyard-runtime", str(tmp_path / "state"))
    with open(tmp_path / "create.err", "wb") as err:
        p = subprocess.run(cmd + ["create", "--bundle", b, "c1"], env=ENV, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=err, timeout=30)
    assert p.returncode == 0, (tmp_path / "create.err").read_text()
    tree: list = []
    try:
        pid = json.loads(subprocess.run(cmd + ["state", "c1"], env=ENV, capture_output=True, timeout=30).stdout)["pid"]
        subprocess.run(cmd + ["start", "c1"], env=ENV, check=True, timeout=30)
        deadline = time.monotonic() + 10
        while len(tree := process_tree(pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(tree) == 3, tree
    finally:
        subprocess.run(cmd + ["delete", "--force", "c1"], env=ENV, timeout=30)
    time.sleep(0.2)
    alive = [p for p in tree if _live(p)]
    for p in alive:  # never leave them running, even when the check fails
        os.kill(p, 9)
    assert alive == [], "the container's processes outlived delete"


def test_exec_without_a_mount_namespace_sees_the_container_root(bundle, tmp_path):
    """An exec joins the container's root, which without a mount namespace is init's chroot
    (runc 1.1 leaves the exec'd process in the host's root)."""
    b = bundle(["sleep", "30"], edits(writable, no_masks, drop_ns("mount")))
    marker = "IN-ROOTFS-" + uuid.uuid4().hex[:8]
    open(os.path.join(b, "rootfs", marker), "w").close()
    cmd = rt_cmd("dockyard-runtime", str(tmp_path / "state"))
    p = subprocess.run(cmd + ["run", "-d", "--bundle", b, "c1"], env=ENV, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    try:
        assert p.returncode == 0
        out = subprocess.run(cmd + ["exec", "c1", "ls", "/"], env=ENV, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert marker in out.stdout.split() and "proc" in out.stdout.split()
    finally:
        subprocess.run(cmd + ["delete", "--force", "c1"], env=ENV, timeout=30)
