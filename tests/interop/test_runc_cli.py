"""`dockyard-runtime` against `runc`: the same bundle, the same commands, the same answers.

The bundle is the busybox rootfs plus `runc spec`'s config.json with `terminal: false` and the
test's args. Each test drives both runtimes (each with its own `--root`) and asserts runc's
observable behaviour: exit codes, `state`/`list` JSON shapes, the `--log` JSON line, output.
Callers such as conmon and containerd's shim run the runtime with umask 022, and so do we.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from dockyard_interop import sh, wait_for

RUNC = shutil.which("runc")
pytestmark = pytest.mark.skipif(RUNC is None, reason="runc is not installed (the reference runtime)")

STATE_KEYS = {"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


class Runtime:
    """One runtime binary bound to its own --root: `rt("state", "c1")` → CompletedProcess (text)."""

    def __init__(self, name: str, binary: str, root: str) -> None:
        self.name, self.binary, self.root = name, binary, root
        os.makedirs(root, exist_ok=True)

    def __call__(self, *args: str, pre: tuple[str, ...] = (), timeout: float = 30) -> subprocess.CompletedProcess:
        argv = [self.binary, "--root", self.root, *pre, *args]
        # Files, not pipes: a created container inherits stdout/stderr and would hold a pipe open.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout,
                               preexec_fn=lambda: os.umask(0o022))
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(argv, p.returncode, out.read().decode(errors="replace"),
                                               err.read().decode(errors="replace"))

    def state(self, cid: str) -> dict:
        p = self("state", cid)
        assert p.returncode == 0, f"{self.name} state {cid}: {p.stderr}"
        return json.loads(p.stdout)

    def status(self, cid: str) -> str:
        return self.state(cid)["status"]

    def cleanup(self) -> None:
        for cid in self("list", "-q").stdout.split():
            self("delete", "--force", cid)


@pytest.fixture
def rts(tmp_path, dockyard_runtime):
    """{"runc": …, "dockyard": …}, each with a private state root; containers removed after."""
    d = {"runc": Runtime("runc", RUNC, str(tmp_path / "runc-root")),
         "dockyard": Runtime("dockyard-runtime", dockyard_runtime, str(tmp_path / "dy-root"))}
    yield d
    for rt in d.values():
        rt.cleanup()


@pytest.fixture
def bundle(tmp_path, busybox_rootfs):
    """bundle(args, …) → a bundle dir: `runc spec` + terminal false + args, rootfs by absolute path.

    `runc spec` asks for ambient capabilities without inheritable ones; runc ignores the failing
    PR_CAP_AMBIENT_RAISE. Only test_pristine_runc_spec keeps them (see there); the other bundles
    drop `ambient`, which leaves runc's result unchanged (CapAmb is 0 either way).
    """
    counter = iter(range(1000))

    def make(args: list[str], *, pristine: bool = False, annotations: dict | None = None,
             user: dict | None = None) -> str:
        d = tmp_path / f"bundle{next(counter)}"
        d.mkdir()
        sh([RUNC, "spec", "--bundle", str(d)], check=True)
        cfg = json.loads((d / "config.json").read_text())
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = args
        cfg["root"]["path"] = busybox_rootfs
        if not pristine:
            cfg["process"]["capabilities"].pop("ambient", None)
        if annotations:
            cfg["annotations"] = annotations
        if user:
            cfg["process"]["user"] = user
        (d / "config.json").write_text(json.dumps(cfg, indent=2))
        return str(d)

    return make


def create_started(rt: Runtime, b: str, cid: str) -> None:
    p = rt("create", "--bundle", b, cid)
    assert p.returncode == 0, f"{rt.name} create: {p.stderr}"
    p = rt("start", cid)
    assert p.returncode == 0, f"{rt.name} start: {p.stderr}"
    assert rt.status(cid) == "running"


def wait_stopped(rt: Runtime, cid: str) -> None:
    assert wait_for(lambda: rt.status(cid) == "stopped", 10), f"{rt.name}: {cid} did not stop"


def proc_caps(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if line.startswith("Cap"))


# ----------------------------------------------------------------------------- state

def test_state_json_keys_and_types(rts, bundle, tmp_path, busybox_rootfs):
    b = bundle(["sleep", "100"])
    states = {}
    for name, rt in rts.items():
        pid_file = str(tmp_path / f"{name}.pid")
        p = rt("create", "--bundle", b, "--pid-file", pid_file, "c1")
        assert p.returncode == 0, f"{name} create: {p.stderr}"
        assert p.stdout == ""
        st = states[name] = rt.state("c1")
        assert st["status"] == "created"
        assert st["id"] == "c1"
        assert st["bundle"] == b
        assert st["rootfs"] == busybox_rootfs
        assert st["pid"] > 0 and open(pid_file).read().strip() == str(st["pid"])
        assert RFC3339.match(st["created"]), st["created"]
    assert set(states["runc"]) == STATE_KEYS  # the reference: annotations omitted when empty
    assert set(states["dockyard"]) == set(states["runc"]), states["dockyard"]
    assert {k: type(v) for k, v in states["dockyard"].items()} == {k: type(v) for k, v in states["runc"].items()}
    assert states["dockyard"]["owner"] == states["runc"]["owner"]


def test_state_annotations_when_set(rts, bundle):
    b = bundle(["sleep", "100"], annotations={"org.example.key": "value"})
    for name, rt in rts.items():
        assert rt("create", "--bundle", b, "c1").returncode == 0
        assert rt.state("c1")["annotations"] == {"org.example.key": "value"}, name


def test_state_of_missing_container_fails(rts):
    for name, rt in rts.items():
        p = rt("state", "nosuch")
        assert p.returncode == 1, name
        assert p.stdout == "", name


def test_status_transitions(rts, bundle):
    b = bundle(["sleep", "100"])
    for name, rt in rts.items():
        assert rt("create", "--bundle", b, "c1").returncode == 0
        assert rt.status("c1") == "created"
        p = rt("start", "c1")
        assert (p.returncode, p.stdout) == (0, ""), f"{name}: {p.stderr}"
        assert rt.status("c1") == "running"
        assert rt("kill", "c1", "KILL").returncode == 0
        wait_stopped(rt, "c1")
        assert rt.state("c1")["pid"] == 0, name  # runc reports pid 0 once stopped
        assert rt("delete", "c1").returncode == 0
        assert rt("state", "c1").returncode != 0


def test_start_twice_fails(rts, bundle):
    b = bundle(["sleep", "100"])
    for name, rt in rts.items():
        create_started(rt, b, "c1")
        assert rt("start", "c1").returncode == 1, name


def test_create_duplicate_id_fails(rts, bundle):
    b = bundle(["sleep", "100"])
    for name, rt in rts.items():
        assert rt("create", "--bundle", b, "c1").returncode == 0
        assert rt("create", "--bundle", b, "c1").returncode == 1, name
        assert rt.status("c1") == "created"


# ----------------------------------------------------------------------------- kill / delete

def test_kill_accepts_runc_signal_spellings(rts, bundle):
    b = bundle(["sleep", "100"])  # pid 1 without a handler: SIGTERM does not stop it
    for name, rt in rts.items():
        create_started(rt, b, "c1")
        for sig in ("TERM", "SIGTERM", "15", "term"):
            p = rt("kill", "c1", sig)
            assert p.returncode == 0, f"{name} kill {sig}: {p.stderr}"
        assert rt.status("c1") == "running"


def test_kill_of_stopped_container_fails(rts, bundle):
    b = bundle(["sleep", "100"])
    for name, rt in rts.items():
        create_started(rt, b, "c1")
        assert rt("kill", "c1", "KILL").returncode == 0
        wait_stopped(rt, "c1")
        p = rt("kill", "c1", "KILL")
        assert p.returncode == 1, name
        assert "not running" in p.stderr, f"{name}: {p.stderr}"


def test_delete_of_running_container_needs_force(rts, bundle):
    b = bundle(["sleep", "100"])
    for name, rt in rts.items():
        create_started(rt, b, "c1")
        pid = rt.state("c1")["pid"]
        p = rt("delete", "c1")
        assert p.returncode == 1, name
        assert rt.status("c1") == "running"
        p = rt("delete", "--force", "c1")
        assert (p.returncode, p.stdout) == (0, ""), f"{name}: {p.stderr}"
        assert rt("state", "c1").returncode == 1
        assert wait_for(lambda: not os.path.exists(f"/proc/{pid}") or _is_zombie(pid), 10), name


def test_delete_of_created_container_needs_no_force(rts, bundle):
    b = bundle(["sleep", "100"])
    for name, rt in rts.items():
        assert rt("create", "--bundle", b, "c1").returncode == 0
        pid = rt.state("c1")["pid"]
        p = rt("delete", "c1")
        assert p.returncode == 0, f"{name}: {p.stderr}"
        assert rt("state", "c1").returncode == 1
        assert wait_for(lambda: not os.path.exists(f"/proc/{pid}") or _is_zombie(pid), 10), name


def test_delete_force_of_missing_container_is_silent_success(rts):
    for name, rt in rts.items():
        p = rt("delete", "--force", "nosuch")
        assert (p.returncode, p.stdout, p.stderr) == (0, "", ""), name


def test_delete_of_missing_container_fails(rts):
    for name, rt in rts.items():
        assert rt("delete", "nosuch").returncode == 1, name


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


# ----------------------------------------------------------------------------- list

def test_list_json_empty_is_null(rts):
    outs = {name: rt("list", "--format", "json") for name, rt in rts.items()}
    assert outs["runc"].stdout.strip() == "null"
    assert (outs["dockyard"].returncode, outs["dockyard"].stdout.strip()) == (0, "null")


def test_list_json_entries(rts, bundle):
    b = bundle(["sleep", "100"])
    entries = {}
    for name, rt in rts.items():
        assert rt("create", "--bundle", b, "c1").returncode == 0
        out = json.loads(rt("list", "--format", "json").stdout)
        assert isinstance(out, list) and len(out) == 1, out
        entries[name] = out[0]
    assert set(entries["dockyard"]) == set(entries["runc"]), entries
    assert {k: type(v) for k, v in entries["dockyard"].items()} == {k: type(v) for k, v in entries["runc"].items()}
    for key in ("id", "status", "bundle", "rootfs", "owner"):
        assert entries["dockyard"][key] == entries["runc"][key], key


def test_list_table(rts, bundle):
    empty = {name: rt("list").stdout for name, rt in rts.items()}
    assert empty["runc"].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert empty["dockyard"].split() == empty["runc"].split()
    b = bundle(["sleep", "100"])
    rows = {}
    for name, rt in rts.items():
        assert rt("create", "--bundle", b, "c1").returncode == 0
        lines = rt("list").stdout.splitlines()
        assert len(lines) == 2, lines
        rows[name] = lines[1].split()
        assert rt("list", "-q").stdout == "c1\n", name
    assert [rows["dockyard"][i] for i in (0, 2, 3, 5)] == [rows["runc"][i] for i in (0, 2, 3, 5)]
    assert rows["dockyard"][1] == str(rts["dockyard"].state("c1")["pid"])
    # the same layout too (runc: Go tabwriter, minimum cell width 12, padding 3)
    assert empty["dockyard"] == empty["runc"]


# ----------------------------------------------------------------------------- errors and --log

def test_log_json_one_error_line_on_failed_create(rts, bundle, tmp_path):
    b = bundle(["nosuchcmd"])
    for name, rt in rts.items():
        log = tmp_path / f"{name}.log.json"
        p = rt("create", "--bundle", b, "c1", pre=("--log", str(log), "--log-format", "json"))
        assert p.returncode == 1, f"{name}: {p.stderr}"
        lines = [line for line in log.read_text().splitlines() if line.strip()]
        assert len(lines) == 1, f"{name}: {lines}"
        entry = json.loads(lines[0])
        assert set(entry) == {"level", "msg", "time"}, entry
        assert entry["level"] == "error"
        assert "nosuchcmd" in entry["msg"] and "executable file not found in $PATH" in entry["msg"], entry
        assert RFC3339.match(entry["time"]), entry
        assert rt("list", "-q").stdout == "", f"{name}: a failed create left a container"


def test_run_foreground_output_and_exit_code(rts, bundle):
    b = bundle(["sh", "-c", "echo out; echo err >&2; exit 3"])
    for name, rt in rts.items():
        p = rt("run", "--bundle", b, "c1")
        assert (p.returncode, p.stdout) == (3, "out\n"), f"{name}: {p.stderr}"
        assert "err" in p.stderr
        assert rt("list", "-q").stdout == "", f"{name}: run left its container"


def test_exec_output_and_exit_code(rts, bundle, tmp_path):
    b = bundle(["sleep", "100"])
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["sh", "-c", "echo $X; exit 4"], "cwd": "/",
                                   "env": ["PATH=/usr/bin:/bin", "X=from-file"],
                                   "user": {"uid": 0, "gid": 0}}))
    for name, rt in rts.items():
        create_started(rt, b, "c1")
        p = rt("exec", "c1", "sh", "-c", "echo hi; exit 5")
        assert (p.returncode, p.stdout) == (5, "hi\n"), f"{name}: {p.stderr}"
        p = rt("exec", "--process", str(process), "c1")
        assert (p.returncode, p.stdout) == (4, "from-file\n"), f"{name}: {p.stderr}"


def test_user_1000_process_starts(rts, bundle):
    """A non-root process must still be able to open exec.fifo (runc creates it 0622, umask 0)."""
    b = bundle(["id", "-u"], user={"uid": 1000, "gid": 1000})
    for name, rt in rts.items():
        p = rt("run", "--bundle", b, "c1")
        assert (p.returncode, p.stdout) == (0, "1000\n"), f"{name}: {p.stderr}"


def test_pristine_runc_spec(rts, bundle):
    """`runc spec` unchanged (ambient caps without inheritable ones): runc starts it, CapAmb 0."""
    b = bundle(["sleep", "100"], pristine=True)
    caps = {}
    for name, rt in rts.items():
        p = rt("create", "--bundle", b, "c1")
        assert p.returncode == 0, f"{name} create: {p.stderr}"
        assert rt("start", "c1").returncode == 0
        caps[name] = proc_caps(rt.state("c1")["pid"])
    assert caps["dockyard"] == caps["runc"]


def test_version_first_line(rts):
    for name, rt in rts.items():
        p = rt("--version")
        assert p.returncode == 0, name
        lines = p.stdout.splitlines()
        m = re.match(r"^(\S+) version (\S+)$", lines[0])
        assert m, f"{name}: {lines[0]!r}"
        assert m.group(1) == os.path.basename(rt.binary)
        assert any(re.match(r"^spec: \S+$", line) for line in lines[1:]), lines
