"""Interop fixtures: one busybox rootfs, our runtime behind a real launcher, images in podman.

Everything here is session-scoped and private to this test session:

- `busybox_rootfs` / `busybox_tar`: a rootfs made straight from Debian's busybox-static (no
  dockyard code involved, so these tests exercise only the runtime) and its tarball.
- `dockyard_runtime`: a launcher *file* named `dockyard-runtime` in a temp dir, written the way
  scripts/install-launchers writes it (podman passes `--log`/`--log-format json` only to runtimes
  whose basename is in containers.conf's runtime_supports_json, so a wrapper with another name
  or a `python -m` command line would not do).
- `podman_image`: the tarball imported into podman as `localhost/dytest-<uuid>`, removed at the
  end together with every container this session created.
- `docker_archive`: a docker-archive tar (layer.tar + config + manifest.json) built by hand, for
  `ctr images import`.

Missing tools skip the tests that need them, with the reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SESSION = uuid.uuid4().hex[:10]
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PODMAN_CONF = "/etc/containers/containers.conf.d/50-dockyard-ci.conf"

# The test modules import these helpers as `dockyard_interop`: a name of its own, because several
# conftest.py files share the module name `conftest`, and the *same* module object pytest loaded
# (one SESSION id for fixtures and tests alike).
sys.modules.setdefault("dockyard_interop", sys.modules[__name__])


# ----------------------------------------------------------------------------- helpers

def compares(command: str, *flags: str):
    """A test that runs dockyard and the docker CLI (against dockerd) on the same input and compares
    their output and exit code says which flags of which command it covers: `@compares("run",
    "--add-host", "--dns")`. scripts/parity-table reads these declarations from the test files'
    text (so: literal strings only) and lists, for every flag docs/parity.md calls "yes", the tests
    that compare it with Docker; tests/unit/test_parity_table.py fails when a flag of the issue-15
    commands has none. `command` is docker's command path ("run", "network create"); a flag is its
    long name ("--add-host"), or its short one when it has no long one."""
    def mark(fn):
        fn.compares = getattr(fn, "compares", ()) + ((command, flags),)
        return fn
    return mark


def sh(cmd: list[str], *, timeout: float = 60, check: bool = False, input: str | None = None,
       env: dict | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run a command with captured text output and a timeout (never unbounded)."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input,
                       stdin=None if input is not None else subprocess.DEVNULL, env=env, cwd=cwd)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def write_launcher(bin_dir: str, name: str, module: str) -> str:
    """A `#!<python> -S` launcher for `module`, as scripts/install-launchers writes it."""
    os.makedirs(bin_dir, exist_ok=True)
    path = os.path.join(bin_dir, name)
    with open(path + ".tmp", "w") as f:
        f.write(f"#!{sys.executable} -S\n"
                "import sys\n"
                f"sys.path.insert(0, {REPO!r})\n"
                f"from {module} import main\n"
                "sys.exit(main())\n")
    os.chmod(path + ".tmp", 0o755)
    os.replace(path + ".tmp", path)
    return path


def go_arch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(m, m)


def unmount_below(path: str) -> None:
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for p in sorted((p for p in points if p == real or p.startswith(real + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", p], stderr=subprocess.DEVNULL, timeout=30)


def kill_processes_under(path: str) -> None:
    """SIGKILL any process whose root or cwd is inside `path` (a container left running)."""
    real = os.path.realpath(path)
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            if any(os.readlink(f"/proc/{pid}/{link}").startswith(real + "/") for link in ("root", "cwd")):
                os.kill(int(pid), 9)
        except OSError:
            continue


def wait_for(predicate, timeout: float, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy or `timeout` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# ----------------------------------------------------------------------------- docker

DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker")


def docker_answering() -> bool:
    return bool(DOCKER) and subprocess.run([DOCKER, "version"], capture_output=True, timeout=30).returncode == 0


@contextlib.contextmanager
def private_dockerd(args: str = "--bridge=none --iptables=false --ip6tables=false"):
    """The docker CLI's path, with a dockerd answering: one already running is used as it is;
    otherwise one is started with `args` (by default it touches no host networking: no docker0
    bridge, no iptables rules) and stopped at the end, by its pid."""
    if not DOCKER or not shutil.which("dockerd"):
        pytest.skip("docker.io is not installed (apt-get install docker.io)")
    pid = None
    if not docker_answering():
        p = sh(["bash", os.path.join(REPO, ".ci/start-dockerd")], timeout=120, env=dict(os.environ, DOCKERD_ARGS=args))
        if p.returncode != 0:
            pytest.skip(f"dockerd could not be started: {p.stderr[-300:]}")
        with open("/var/run/docker.pid") as f:
            pid = int(f.read().strip())
    try:
        yield DOCKER
    finally:
        if pid is not None:
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pid = None
            if pid is not None and not wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 40):
                os.kill(pid, 9)


# ----------------------------------------------------------------------------- session fixtures

@pytest.fixture(scope="session")
def interop_tmp(tmp_path_factory):
    """A session-wide temp dir; whatever runs or is mounted below it is gone at the end."""
    d = tmp_path_factory.mktemp("interop")
    yield str(d)
    kill_processes_under(str(d))
    unmount_below(str(d))


@pytest.fixture(scope="session")
def dockyard_runtime(interop_tmp) -> str:
    """Path of a real `dockyard-runtime` launcher file for this checkout."""
    return write_launcher(os.path.join(interop_tmp, "bin"), "dockyard-runtime", "dockyard.runtime.cli")


def _static_busybox() -> str:
    for cand in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.isfile(cand):
            with open(cand, "rb") as f:
                head = f.read(4096)
            # Debian's busybox-static has no PT_INTERP, so no "ld-linux" string near the start
            if head[:4] == b"\x7fELF" and b"ld-linux" not in head and b"ld-musl" not in head:
                return cand
    pytest.skip("needs Debian's busybox-static (/bin/busybox, statically linked)")


@pytest.fixture(scope="session")
def busybox_rootfs(interop_tmp) -> str:
    """A minimal busybox rootfs directory (root-owned, applets as symlinks to /bin/busybox)."""
    busybox = _static_busybox()
    root = os.path.join(interop_tmp, "busybox-rootfs")
    for d, mode in (("bin", 0o755), ("dev", 0o755), ("etc", 0o755), ("proc", 0o555), ("root", 0o700),
                    ("sys", 0o555), ("tmp", 0o1777), ("usr/bin", 0o755), ("usr/sbin", 0o755), ("sbin", 0o755),
                    ("var", 0o755)):
        os.makedirs(os.path.join(root, d), exist_ok=True)
        os.chmod(os.path.join(root, d), mode)
    shutil.copy(busybox, os.path.join(root, "bin/busybox"))
    os.chmod(os.path.join(root, "bin/busybox"), 0o755)
    applets = sh([busybox, "--list-full"], check=True).stdout.split()
    for rel in sorted(set(applets)):
        rel = rel.strip("/")
        if not rel or rel == "bin/busybox" or ".." in rel.split("/"):
            continue
        link = os.path.join(root, rel)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if not os.path.lexists(link):
            os.symlink(os.path.relpath(os.path.join(root, "bin/busybox"), os.path.dirname(link)), link)
    for name, text in (("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
                       ("etc/group", "root:x:0:\nwheel:x:10:root\nnogroup:x:65534:\n")):
        with open(os.path.join(root, name), "w") as f:
            f.write(text)
    return root


@pytest.fixture(scope="session")
def busybox_tar(busybox_rootfs, interop_tmp) -> str:
    """The rootfs as an uncompressed tarball (entries `./bin/...`, numeric root ownership)."""
    path = os.path.join(interop_tmp, "busybox-rootfs.tar")
    sh(["tar", "--numeric-owner", "--owner=0", "--group=0", "--sort=name", "--mtime=@0",
        "-C", busybox_rootfs, "-cf", path, "."], check=True, timeout=120)
    return path


@pytest.fixture(scope="session")
def docker_archive(busybox_tar, interop_tmp) -> tuple[str, str]:
    """(path, ref): a docker-archive (docker save format) of the rootfs, tagged `ref`."""
    ref = f"localhost/dytest-{SESSION}:latest"
    with open(busybox_tar, "rb") as f:
        layer = f.read()
    diff_hex = hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": go_arch(), "os": "linux", "created": "1970-01-01T00:00:00Z",
        "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_hex}"]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "dockyard interop tests"}],
    }, sort_keys=True).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [ref], "Layers": [f"{diff_hex}/layer.tar"]}]).encode()
    path = os.path.join(interop_tmp, "busybox-docker-archive.tar")
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in ((f"{diff_hex}/layer.tar", layer), (config_name, config), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return path, ref


# ----------------------------------------------------------------------------- podman

def podman_ids(*filters: str) -> list[str]:
    args = ["podman", "ps", "-a", "-q", "--no-trunc"]
    for flt in filters:
        args += ["--filter", flt]
    return sh(args, timeout=60).stdout.split()


def _ensure_podman_config() -> None:
    """`.ci/podman-setup` once, when its drop-in is missing (it pins ulimits this VM can grant)."""
    try:
        with open(PODMAN_CONF) as f:
            if "dockyard-runtime" in f.read():
                return
    except FileNotFoundError:
        pass
    sh(["bash", os.path.join(REPO, ".ci/podman-setup")], check=True)


@pytest.fixture(scope="session")
def podman_image(busybox_tar):
    """`localhost/dytest-<uuid>` in podman's store; it and this session's containers go at the end."""
    if not shutil.which("podman"):
        pytest.skip("podman is not installed (apt-get install podman)")
    if not shutil.which("conmon"):
        pytest.skip("conmon is not installed (podman needs it)")
    _ensure_podman_config()
    image = f"localhost/dytest-{SESSION}"
    sh(["podman", "import", "--change", 'CMD ["sh"]', busybox_tar, image], check=True, timeout=120)
    yield image
    ids = podman_ids(f"ancestor={image}") + podman_ids(f"name=dyt-{SESSION}")
    if ids:
        sh(["podman", "rm", "-f", "-t", "0", *sorted(set(ids))], timeout=120)
    sh(["podman", "rmi", "-f", image], timeout=120)


# ----------------------------------------------------------------------------- dockyard beside docker

class FlagPair:
    """One dockyard store and the docker CLI (against dockerd) holding the same image, `tag`: the
    run/create flag comparisons (tests/interop/test_flags_*_vs_docker.py) run the same command line
    on both sides. Container and network names get this session's id, so another session on the
    same dockerd never meets them; `forget` removes them from both sides."""

    def __init__(self, root: str, docker: str) -> None:
        self.root, self.docker_cli = root, docker
        self.store = {"DOCKYARD_ROOT": os.path.join(root, "root"), "DOCKYARD_RUNROOT": os.path.join(root, "run"),
                      "PYTHONPATH": REPO}
        self.tag = f"dyflags-{SESSION}:1"
        self.made: list[tuple[str, str]] = []  # (kind, name) made on both sides, removed by forget()

    def dy(self, *args: str, timeout: float = 60, input: str | None = None, env: dict | None = None
           ) -> subprocess.CompletedProcess:
        return sh([sys.executable, "-S", "-m", "dockyard", *args], timeout=timeout, input=input,
                  env=dict(os.environ, **self.store, **(env or {})), cwd=REPO)

    def docker(self, *args: str, timeout: float = 120, input: str | None = None, env: dict | None = None
               ) -> subprocess.CompletedProcess:
        return sh([self.docker_cli, *args], timeout=timeout, input=input, env=dict(os.environ, **(env or {})))

    def both(self, *args: str, **kw) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
        """The same command line on both sides: (dockyard's result, docker's)."""
        return self.dy(*args, **kw), self.docker(*args, **kw)

    def name(self, kind: str = "container") -> str:
        n = f"dyf-{SESSION}-{len(self.made)}"
        self.made.append((kind, n))
        return n

    def inspect(self, name: str) -> tuple[dict, dict]:
        ours, theirs = self.both("inspect", name)
        assert ours.returncode == 0 and theirs.returncode == 0, (ours.stderr, theirs.stderr)
        return json.loads(ours.stdout)[0], json.loads(theirs.stdout)[0]

    def forget(self) -> None:
        """Remove every container, then every network and volume, this pair named (both sides)."""
        for kinds, rm in ((("container",), ("rm", "-f", "-v")), (("network",), ("network", "rm")),
                          (("volume",), ("volume", "rm", "-f"))):
            names = [n for k, n in self.made if k in kinds]
            if names:
                self.dy(*rm, *names, timeout=120)
                # newest first, one at a time: a --volumes-from source's anonymous volume goes only once
                # no container uses it (docker's CLI removes several in parallel)
                for n in reversed(names):
                    self.docker(*rm, n, timeout=120)
        self.made.clear()


BLOCK = next((f"/dev/{d}" for d in sorted(os.listdir("/sys/block")) if d.startswith(("vd", "sd", "nvme", "xvd"))
              and os.path.exists(f"/dev/{d}")), None)
POWERCAP = "/sys/devices/virtual/powercap"


def normalised(doc: dict) -> dict:
    """Config and HostConfig of one side, with what differs by nature made equal."""
    cfg, hc = dict(doc["Config"]), dict(doc["HostConfig"])
    if cfg.get("Hostname") == doc["Id"][:12]:  # each side's own container id
        cfg["Hostname"] = "<id>"
    for key in ("KernelMemory", "KernelMemoryTCP"):  # API 1.41's; dockyard answers as API 1.44+, without them
        hc.pop(key, None)
    for key in ("OnBuild", "Volumes"):  # null in 20.10's JSON, omitted (omitempty) by newer dockerd and dockyard
        if cfg.get(key) is None:
            cfg.pop(key, None)
    if hc.get("Runtime") in ("runc", "dockyard"):  # each engine's default runtime is its own
        hc["Runtime"] = "<default>"
    if hc.get("MaskedPaths"):  # dockyard masks powercap as moby >= 23 does (CVE-2020-8694); 20.10 does not
        hc["MaskedPaths"] = [p for p in hc["MaskedPaths"] if p != POWERCAP]
    if hc.get("SecurityOpt"):
        # dockerd 20.10 adds an SELinux "label=disable" for --privileged/--pid host/--ipc host even on a
        # host without SELinux; dockyard refuses SELinux labels altogether (runtime/lsm.py)
        hc["SecurityOpt"] = [o for o in hc["SecurityOpt"] if o != "label=disable"] or None
    if hc.get("CgroupnsMode") in ("host", "private") and "--cgroupns" not in doc.get("_asked", ()):
        # dockerd's default on this cgroup v1 host is the host's cgroup namespace; dockyard's is a private
        # one everywhere (the container sees its own cgroup as /). Compared where --cgroupns is given.
        hc["CgroupnsMode"] = "<default>"
    if "--env-file" in doc.get("_asked", ()):
        # docker's CLI 28 passes --env-file's and -e's variables through a Go map when both are given: their
        # order changes from run to run (the set is what is compared)
        cfg["Env"] = sorted(cfg["Env"] or ())
    assert cfg.get("Image"), cfg
    return {"Config": cfg, "HostConfig": hc}


def differences(ours: dict, theirs: dict, path: str = "") -> list[str]:
    """Readable differences between two documents (the assertion message)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out = []
        for k in sorted(set(ours) | set(theirs)):
            if k not in ours:
                out.append(f"{path}.{k}: only docker's: {theirs[k]!r}")
            elif k not in theirs:
                out.append(f"{path}.{k}: only dockyard's: {ours[k]!r}")
            else:
                out += differences(ours[k], theirs[k], f"{path}.{k}")
        return out
    return [] if ours == theirs else [f"{path}: dockyard {ours!r} / docker {theirs!r}"]


def created_alike(pair, command: str, flags: list[str], args: list[str] = ()) -> tuple:
    """`command` (create, or run without --rm) with `flags` on both sides; both must succeed with the
    same warnings and output; returns the two normalised inspect documents."""
    name = pair.name()
    cid = None
    if "--cidfile" in flags:  # one path for both: removed between the two (each side refuses an existing file)
        cid = flags[flags.index("--cidfile") + 1]
    if "--network" not in flags:  # dockerd here has no default bridge (--bridge=none)
        flags = ["--network", "none", *flags]
    ours = pair.dy(command, "--name", name, *flags, pair.tag, *args)
    if cid:
        assert open(cid).read() == pair.dy("inspect", "-f", "{{.Id}}", name).stdout.strip()
        os.unlink(cid)
    theirs = pair.docker(command, "--name", name, *flags, pair.tag, *args)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    if command == "create":  # the new container's id, and nothing else
        assert len(ours.stdout.strip()) == len(theirs.stdout.strip()) == 64
    else:
        assert ours.stdout == theirs.stdout
    assert ours.stderr == theirs.stderr  # the same warnings (a kernel without blkio weights, ...)
    a, b = pair.inspect(name)
    a["_asked"] = b["_asked"] = flags
    return normalised(a), normalised(b)


def expand(flags: list[str], tmp_path, pair) -> list[str]:
    """The group's @placeholders → files and names of this test."""
    (tmp_path / "env").write_text("E1=x\n# a comment\nE2\n")
    (tmp_path / "labels").write_text("lf=1\n")
    (tmp_path / "host").mkdir(exist_ok=True)
    subs = {"@envfile": str(tmp_path / "env"), "@labelfile": str(tmp_path / "labels"),
            "@cidfile": str(tmp_path / "cid"), "@hostdir": str(tmp_path / "host")}
    out = []
    for f in flags:
        if "@volume" in f:
            vol = pair.name("volume")
            f = f.replace("@volume", vol)
        for k, v in subs.items():
            f = f.replace(k, v)
        out.append(f)
    return out


@pytest.fixture(scope="session")
def flag_pair(interop_tmp):
    """A FlagPair whose store holds busybox (dockyard bootstrap), loaded into dockerd as `tag`."""
    with private_dockerd() as docker:
        # the docker CLI a user types (PATH's: here CLI 28, whose requests dockyard's CLI follows), not
        # necessarily DOCKER (Debian's 20.10 CLI, beside its dockerd)
        pair = FlagPair(os.path.join(interop_tmp, "flagpair"), shutil.which("docker") or docker)
        boot = pair.dy("bootstrap", "busybox", pair.tag, timeout=300)
        assert boot.returncode == 0, boot.stderr
        archive = os.path.join(interop_tmp, "flagpair.tar")
        pair.dy("save", "-o", archive, pair.tag, timeout=120)
        sh([docker, "load", "-i", archive], check=True, timeout=120)
        try:
            yield pair
        finally:
            pair.forget()
            left = pair.dy("ps", "-aq").stdout.split()
            if left:
                pair.dy("rm", "-f", *left, timeout=120)
            pair.docker("rmi", "-f", pair.tag)
            # a bridge this store made (its default one included) is host-wide: taken down
            from dockyard.engine.engine import Engine
            from dockyard.engine.networking import reset

            reset(Engine(pair.store["DOCKYARD_ROOT"], pair.store["DOCKYARD_RUNROOT"]))


@pytest.fixture
def pair(flag_pair):
    """flag_pair for one test: what the test named on both sides is removed after it."""
    yield flag_pair
    flag_pair.forget()

CLI28 = "/usr/local/bin/docker"  # docker CLI 28, the client issue 15 compares with


@pytest.fixture(scope="module")
def docker28():
    """docker CLI 28 (else the docker.io CLI) with a dockerd answering (`private_dockerd`)."""
    with private_dockerd() as d:
        yield CLI28 if os.access(CLI28, os.X_OK) else d


@pytest.fixture
def dockyard_registry(tmp_path):
    """A `dockyard registry serve` on a kernel-picked port of 127.0.0.1: its host:port."""
    log = tmp_path / "registry.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-S", "-m", "dockyard", "registry", "serve", "--addr", "127.0.0.1:0",
                                 "--root", str(tmp_path / "registry")], cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=f)
    try:
        deadline = time.monotonic() + 20
        while not (m := re.search(r"listening on http://(127\.0\.0\.1:\d+)", log.read_text(errors="replace"))):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        yield m.group(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
