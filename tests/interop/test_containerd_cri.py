"""The kubelet's runtime path: containerd's CRI plugin runs images that dockyard built and pushed.

dockyard builds two images from the busybox base: an app and a sandbox ("pause") image, a shell
that sleeps until SIGTERM/SIGINT. `dockyard registry serve` on 127.0.0.1 holds both. A private
containerd (Debian's 1.6, CRI plugin on) runs for this module only, with its own config, root,
state, socket, runc state roots and cgroup parent under the test's tmp dir and name; its CRI
config names the dockyard-built pause image as `sandbox_image` and reads registry hosts from
`config_path` (`certs.d/127.0.0.1:PORT/hosts.toml`, plain http). CRI v1 is driven over gRPC from
Python with a proto subset written for these tests (data/cri_v1_subset.proto, compiled with
grpcio-tools at test time), as the kubelet would: PullImage, ImageStatus, ListImages,
RunPodSandbox with host networking, CreateContainer, StartContainer, ContainerStatus, the CRI log
file, StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox. `ctr` pulls (plain http)
and runs the same image, and fetches its cosign signature made by `dockyard sign`.

Afterwards nothing is left: containerd stopped, no shims, no mounts under the tmp dir, no cgroup
under this module's parent, no new network namespace. Skipped, with the reason, when containerd,
runc or grpcio/grpcio-tools are missing.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from dockyard_interop import REPO, SESSION, kill_processes_under, sh, unmount_below, wait_for

TOOLS = ("containerd", "ctr", "containerd-shim-runc-v2", "runc")
PROTO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "cri_v1_subset.proto")
CGROUP_PARENT = f"/dytest-cri-{SESSION}"
CTR_NS = f"dytest-cri-{SESSION}"
CRI_NS = "k8s.io"  # the CRI plugin's containerd namespace (fixed)
SHIM_SOCKET_DIR = "/run/containerd/s"
TIMEOUT = 60  # seconds for any one gRPC call (pulls included)

CONFIG = """\
version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = [
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{base}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  enable_selinux = false
  restrict_oom_score_adj = true  # the sandbox asks for -998; never below what containerd has (a host may refuse)
  disable_tcp_service = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{base}/cni/bin"
    conf_dir = "{base}/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{base}/certs.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "runc"
        Root = "{base}/runc-root"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.dockyard]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.dockyard.options]
        BinaryName = "{dockyard_runtime}"
        Root = "{base}/dockyard-runtime-root"
"""

HOSTS_TOML = """\
server = "http://{host}"

[host."http://{host}"]
  capabilities = ["pull", "resolve"]
"""

APP_DOCKERFILE = """\
FROM busybox:latest
COPY index.html /www/index.html
ENV GREETING=dockyard
CMD ["sh", "-c", "echo hello from $GREETING; echo to stderr >&2; exit 3"]
"""

# The sandbox image: PID 1 of the pod, holding its namespaces; it sleeps until it is told to stop.
PAUSE_DOCKERFILE = """\
FROM busybox:latest
ENTRYPOINT ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"]
"""


def _missing() -> str | None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"needs {', '.join(missing)} (apt-get install containerd runc)"
    try:
        import grpc  # noqa: F401
        import grpc_tools  # noqa: F401
    except ImportError:
        return "needs grpcio and grpcio-tools (pip install grpcio grpcio-tools; `make deps`)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- dockyard side

class Store:
    """The dockyard CLI of this checkout over a private root (module-wide: images are built once)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.env = dict(os.environ, DOCKYARD_ROOT=os.path.join(base, "root"),
                        DOCKYARD_RUNROOT=os.path.join(base, "run"), PYTHONPATH=REPO,
                        DOCKER_CONFIG=os.path.join(base, "docker-config"))

    def __call__(self, *args: str, input: str | None = None, timeout: float = 120) -> str:
        p = subprocess.run([sys.executable, "-S", "-m", "dockyard", *args], env=self.env, cwd=REPO, text=True,
                           capture_output=True, timeout=timeout, input=input,
                           stdin=None if input is not None else subprocess.DEVNULL)
        if p.returncode != 0:
            raise AssertionError(f"dockyard {' '.join(args)} exited {p.returncode}:\n{p.stderr}{p.stdout}")
        return p.stdout + p.stderr

    def close(self) -> None:
        subprocess.run([sys.executable, "-S", "-m", "dockyard", "system", "prune", "-a", "-f"], env=self.env,
                       cwd=REPO, capture_output=True, timeout=120)
        kill_processes_under(self.base)
        unmount_below(self.base)


class Registry:
    """`dockyard registry serve` on a kernel-picked port of 127.0.0.1 (it prints which)."""

    def __init__(self, base: str) -> None:
        self.log = os.path.join(base, "registry.log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-S", "-m", "dockyard", "registry", "serve", "--addr", "127.0.0.1:0",
                 "--root", os.path.join(base, "registry")],
                cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=log)
        m = wait_for(lambda: self.proc.poll() is not None
                     or re.search(r"listening on http://(127\.0\.0\.1:\d+)", self.logtext()), 20, 0.02)
        if not isinstance(m, re.Match):
            self.stop()
            raise AssertionError(f"registry did not start:\n{self.logtext()}")
        self.host = m.group(1)

    def logtext(self) -> str:
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ----------------------------------------------------------------------------- containerd side

def _cgroup_dirs() -> list[str]:
    """This module's cgroup parent in every mounted hierarchy (v1: one per controller; v2: one)."""
    root = "/sys/fs/cgroup"
    dirs = [os.path.join(root, CGROUP_PARENT.strip("/"))]
    for h in os.listdir(root):
        if os.path.isdir(os.path.join(root, h)) and not os.path.exists(os.path.join(root, h, "cgroup.procs")):
            continue
        dirs.append(os.path.join(root, h, CGROUP_PARENT.strip("/")))
    return sorted(set(dirs))


def _netns() -> set[str]:
    try:
        return set(os.listdir("/var/run/netns"))
    except FileNotFoundError:
        return set()


class Containerd:
    def __init__(self, base: str, pause: str, registry_host: str, dockyard_runtime: str) -> None:
        self.base = base
        self.sock = os.path.join(base, "c.sock")
        self.log_path = os.path.join(base, "containerd.log")
        self.proc: subprocess.Popen | None = None
        self.tasks: set[tuple[str, str]] = set()  # (namespace, id) of every task this module started
        for d in ("cni/bin", "cni/net.d", f"certs.d/{registry_host}", "pods"):
            os.makedirs(os.path.join(base, d), exist_ok=True)
        with open(os.path.join(base, "certs.d", registry_host, "hosts.toml"), "w") as f:
            f.write(HOSTS_TOML.format(host=registry_host))
        self.config = os.path.join(base, "config.toml")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(base=base, sock=self.sock, pause=pause, dockyard_runtime=dockyard_runtime))

    def ctr(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return sh(["ctr", "--address", self.sock, "--namespace", CTR_NS, *args], timeout=timeout)

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(["containerd", "--config", self.config, "--address", self.sock],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        ok = wait_for(lambda: self.proc.poll() is not None or self.ctr("version", timeout=10).returncode == 0, 30, 0.2)
        if not ok or self.proc.poll() is not None:
            self.stop()
            raise AssertionError(f"private containerd did not come up:\n{self.log()[-3000:]}")

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def shim_socket(self, ns: str, task_id: str) -> str:
        """Where containerd 1.6 puts a shim's socket: /run/containerd/s/<sha256 of ADDRESS/NS/ID>
        (a host-wide directory; the name is this daemon's alone)."""
        return os.path.join(SHIM_SOCKET_DIR, hashlib.sha256(f"{self.sock}/{ns}/{task_id}".encode()).hexdigest())

    def shim_pids(self) -> list[int]:
        pids = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        argv = f.read().split(b"\0")
                except OSError:
                    continue
                if argv and argv[0].endswith(b"containerd-shim-runc-v2") and self.sock.encode() in argv:
                    pids.append(int(pid))
        return pids

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            for cid in self.ctr("containers", "list", "-q").stdout.split():  # ctr's, in our namespace
                self.ctr("tasks", "kill", "-s", "SIGKILL", cid, timeout=20)
                self.ctr("tasks", "delete", "--force", cid, timeout=20)
                self.ctr("containers", "delete", cid, timeout=20)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        for pid in self.shim_pids():  # shims of this daemon only (they carry its socket path)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        kill_processes_under(self.base)
        unmount_below(self.base)
        for ns, task_id in self.tasks:  # a shim that was killed leaves its socket behind
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.shim_socket(ns, task_id))
        # runc removes each container's cgroup; the parent it made for them is ours to remove
        deadline = time.monotonic() + 10
        while any(os.path.isdir(d) for d in _cgroup_dirs()) and time.monotonic() < deadline:
            for d in _cgroup_dirs():
                subs = sorted((os.path.join(r, x) for r, xs, _ in os.walk(d) for x in xs), key=len, reverse=True)
                for sub in [*subs, d]:
                    try:
                        os.rmdir(sub)
                    except OSError:
                        pass
            time.sleep(0.1)


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def cri_world(tmp_path_factory, dockyard_runtime):
    """(containerd, registry host, app ref, pause ref, store, the cosign public key, the app's
    manifest digest as the push reported it)."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    base = str(tmp_path_factory.mktemp("cri"))  # short: unix socket paths max 108 bytes
    netns_before = _netns()
    store = Store(os.path.join(base, "dy"))
    registry = Registry(base)
    ctrd = None
    try:
        store("bootstrap", "busybox", "busybox:latest")
        ctx = os.path.join(base, "ctx")
        os.makedirs(os.path.join(ctx, "pause"))
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write(APP_DOCKERFILE)
        with open(os.path.join(ctx, "index.html"), "w") as f:
            f.write(f"served by a dockyard-built image {SESSION}\n")
        with open(os.path.join(ctx, "pause", "Dockerfile"), "w") as f:
            f.write(PAUSE_DOCKERFILE)
        app = f"{registry.host}/dytest/app:1"
        pause = f"{registry.host}/dytest/pause:1"
        store("build", "-q", "-t", app, ctx, timeout=180)
        store("build", "-q", "-t", pause, os.path.join(ctx, "pause"), timeout=180)
        digest = re.search(r"digest: (sha256:[0-9a-f]{64})", store("push", app)).group(1)
        store("push", "-q", pause)
        key = os.path.join(base, "cosign")
        store("key", "generate", "--output-key-prefix", key, "--password-stdin", input="pw")
        store("sign", "--key", key + ".key", "--password-stdin", app, input="pw")

        ctrd = Containerd(os.path.join(base, "c"), pause, registry.host, dockyard_runtime)
        assert len(ctrd.sock) < 100, ctrd.sock
        ctrd.start()
        yield ctrd, registry.host, app, pause, store, key + ".pub", digest
    finally:
        if ctrd is not None:
            ctrd.stop()
        registry.stop()
        store.close()
    assert ctrd.proc.poll() is not None, "containerd is still running"
    assert ctrd.shim_pids() == [], "containerd shims are still running"
    with open("/proc/self/mountinfo") as f:
        left = [line.split()[4] for line in f if line.split()[4].startswith(base)]
    assert left == [], f"mounts left under {base}: {left}"
    assert [d for d in _cgroup_dirs() if os.path.isdir(d)] == [], "cgroups left under " + CGROUP_PARENT
    assert _netns() - netns_before == set(), "network namespaces left behind"


@pytest.fixture(scope="module")
def cri(cri_world, tmp_path_factory):
    """The generated CRI stubs and a channel to the private containerd: (pb2, runtime, images)."""
    import grpc
    from grpc_tools import protoc

    out = str(tmp_path_factory.mktemp("cri-proto"))
    rc = protoc.main(["protoc", f"-I{os.path.dirname(PROTO)}", f"--python_out={out}", f"--grpc_python_out={out}", PROTO])
    assert rc == 0, "protoc could not compile " + PROTO
    sys.path.insert(0, out)
    try:
        import cri_v1_subset_pb2 as pb2
        import cri_v1_subset_pb2_grpc as pb2_grpc
    finally:
        sys.path.remove(out)
    ctrd = cri_world[0]
    channel = grpc.insecure_channel("unix://" + ctrd.sock)
    yield pb2, pb2_grpc.RuntimeServiceStub(channel), pb2_grpc.ImageServiceStub(channel)
    channel.close()


# ----------------------------------------------------------------------------- tests

def test_cri_version(cri):
    pb2, rt, _ = cri
    v = rt.Version(pb2.VersionRequest(version="v1"), timeout=TIMEOUT)
    assert v.runtime_name == "containerd" and v.runtime_api_version == "v1", v


def test_cri_pull_image_status_list(cri, cri_world):
    pb2, _, img = cri
    _ctrd, _host, app, _pause, store, _pub, digest = cri_world
    ref = img.PullImage(pb2.PullImageRequest(image=pb2.ImageSpec(image=app)), timeout=TIMEOUT).image_ref
    local_id = store("inspect", "-f", "{{.Id}}", app).strip()
    assert ref == local_id, "containerd's image id is the config digest dockyard made"
    st = img.ImageStatus(pb2.ImageStatusRequest(image=pb2.ImageSpec(image=app)), timeout=TIMEOUT).image
    assert st.id == local_id and app in st.repo_tags and st.size > 0
    assert any(d.endswith("@" + digest) for d in st.repo_digests), (st.repo_digests, digest)
    listed = img.ListImages(pb2.ListImagesRequest(), timeout=TIMEOUT).images
    assert local_id in [i.id for i in listed]


def _cri_log(path: str) -> list[tuple[str, str, str]]:
    """(stream, tag, text) of each CRI log line: `<RFC 3339 nano time> <stream> <P|F> <text>`."""
    entries = []
    with open(path) as f:
        for line in f.read().splitlines():
            m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) ([PF]) (.*)", line)
            assert m, f"not a CRI log line: {line!r}"
            entries.append((m.group(2), m.group(3), m.group(4)))
    return entries


def _state(pb2, rt, cid: str):
    return rt.ContainerStatus(pb2.ContainerStatusRequest(container_id=cid), timeout=TIMEOUT).status


@pytest.mark.parametrize("handler", ["runc", "dockyard"])
def test_cri_pod_with_host_network_runs_dockyard_image(cri, cri_world, handler, dockyard_runtime):
    """A pod as the kubelet makes it, under runc (the default handler) and under `dockyard-runtime`
    (a RuntimeClass handler whose runc shim calls our runtime binary)."""
    pb2, rt, img = cri
    ctrd, _host, app, pause, _store, _pub, digest = cri_world
    img.PullImage(pb2.PullImageRequest(image=pb2.ImageSpec(image=app)), timeout=TIMEOUT)  # as the kubelet does first
    port = _free_port()
    logdir = os.path.join(ctrd.base, "pods", uuid.uuid4().hex[:8])
    os.makedirs(logdir)
    sandbox_cfg = pb2.PodSandboxConfig(
        metadata=pb2.PodSandboxMetadata(name="web", uid=uuid.uuid4().hex, namespace="dockyard-test"),
        log_directory=logdir,  # no hostname: a host-network pod has the node's (as the kubelet sends it)
        linux=pb2.LinuxPodSandboxConfig(cgroup_parent=CGROUP_PARENT, security_context=pb2.LinuxSandboxSecurityContext(
            namespace_options=pb2.NamespaceOption(network=pb2.NODE, pid=pb2.CONTAINER, ipc=pb2.POD))))
    pod = rt.RunPodSandbox(pb2.RunPodSandboxRequest(config=sandbox_cfg, runtime_handler=handler),
                           timeout=TIMEOUT).pod_sandbox_id
    ctrd.tasks.add((CRI_NS, pod))
    try:
        assert os.path.exists(ctrd.shim_socket(CRI_NS, pod)), "the pod's shim socket is not where cleanup looks"
        # the sandbox's PID 1 is the dockyard-built pause image, pulled through hosts.toml
        p = sh(["ctr", "--address", ctrd.sock, "--namespace", CRI_NS, "containers", "info", pod], timeout=30)
        info = json.loads(p.stdout)
        assert info["Image"] == pause, info["Image"]
        # the handler's runc options (a protobuf: binary_name = 6, root = 7) name the binary the shim runs
        options = base64.b64decode(info["Runtime"]["Options"]["value"])
        binary = {"runc": b"runc", "dockyard": dockyard_runtime.encode()}[handler]
        assert info["Runtime"]["Name"] == "io.containerd.runc.v2" and bytes([0x32, len(binary)]) + binary in options

        # a server on the node's network: the pod shares the host's loopback
        server = rt.CreateContainer(pb2.CreateContainerRequest(
            pod_sandbox_id=pod, sandbox_config=sandbox_cfg, config=pb2.ContainerConfig(
                metadata=pb2.ContainerMetadata(name="server"), image=pb2.ImageSpec(image=app),
                command=["sh", "-c"],
                args=[f"httpd -p 127.0.0.1:{port} -h /www; trap 'echo got TERM; exit 7' TERM; "
                      "echo serving $GREETING; while :; do sleep 0.1; done"],
                log_path="server.log")), timeout=TIMEOUT).container_id
        ctrd.tasks.add((CRI_NS, server))
        assert _state(pb2, rt, server).state == pb2.CONTAINER_CREATED
        rt.StartContainer(pb2.StartContainerRequest(container_id=server), timeout=TIMEOUT)
        assert _state(pb2, rt, server).state == pb2.CONTAINER_RUNNING
        body = wait_for(lambda: _get(f"http://127.0.0.1:{port}/index.html"), 15, 0.1)
        assert body == f"served by a dockyard-built image {SESSION}\n"
        assert wait_for(lambda: ("stdout", "F", "serving dockyard") in _cri_log(os.path.join(logdir, "server.log")), 10)
        rt.StopContainer(pb2.StopContainerRequest(container_id=server, timeout=10), timeout=TIMEOUT)
        st = _state(pb2, rt, server)
        assert (st.state, st.exit_code) == (pb2.CONTAINER_EXITED, 7), st
        assert ("stdout", "F", "got TERM") in _cri_log(os.path.join(logdir, "server.log"))
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2)

        # the image's own CMD and ENV: output on both streams, its exit code
        app_cid = rt.CreateContainer(pb2.CreateContainerRequest(
            pod_sandbox_id=pod, sandbox_config=sandbox_cfg, config=pb2.ContainerConfig(
                metadata=pb2.ContainerMetadata(name="app"), image=pb2.ImageSpec(image=app),
                log_path="app.log")), timeout=TIMEOUT).container_id
        ctrd.tasks.add((CRI_NS, app_cid))
        rt.StartContainer(pb2.StartContainerRequest(container_id=app_cid), timeout=TIMEOUT)
        st = wait_for(lambda: (s := _state(pb2, rt, app_cid)).state == pb2.CONTAINER_EXITED and s, 20, 0.1)
        assert st and st.exit_code == 3 and st.reason == "Error", st
        assert st.log_path == os.path.join(logdir, "app.log")
        assert st.image_ref == f"{app.rpartition(':')[0]}@{digest}", "the manifest dockyard pushed"
        log = _cri_log(os.path.join(logdir, "app.log"))
        assert sorted(log) == [("stderr", "F", "to stderr"), ("stdout", "F", "hello from dockyard")], log
        for cid in (server, app_cid):
            rt.RemoveContainer(pb2.RemoveContainerRequest(container_id=cid), timeout=TIMEOUT)
    finally:
        rt.StopPodSandbox(pb2.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=TIMEOUT)
        rt.RemovePodSandbox(pb2.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=TIMEOUT)
    assert ctrd.shim_pids() == [], "the pod's shim outlived RemovePodSandbox"
    p = sh(["ctr", "--address", ctrd.sock, "--namespace", CRI_NS, "containers", "list", "-q"], timeout=30)
    assert p.stdout.split() == []
    assert not os.path.exists(ctrd.shim_socket(CRI_NS, pod))


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


@pytest.mark.parametrize("which", ["runc", "dockyard"])
def test_ctr_pull_plain_http_and_run(cri_world, dockyard_runtime, which):
    ctrd, _host, app, _pause, _store, _pub, _digest = cri_world
    p = ctrd.ctr("images", "pull", "--plain-http", app, timeout=120)
    assert p.returncode == 0, p.stderr
    cid = "dyt-" + uuid.uuid4().hex[:8]
    ctrd.tasks.add((CTR_NS, cid))
    p = ctrd.ctr("run", "--rm", "--runc-binary", {"runc": "runc", "dockyard": dockyard_runtime}[which],
                 "--runc-root", os.path.join(ctrd.base, "ctr-runc"),
                 "--fifo-dir", os.path.join(ctrd.base, "fifo"),
                 "--cgroup", f"{CGROUP_PARENT}/{cid}", app, cid, timeout=90)
    assert (p.returncode, p.stdout) == (3, "hello from dockyard\n"), f"{p.stderr}\n{ctrd.log()[-2000:]}"
    assert "to stderr" in p.stderr
    assert cid not in ctrd.ctr("containers", "list", "-q").stdout.split()
    assert not os.path.exists(ctrd.shim_socket(CTR_NS, cid))


def test_ctr_fetches_cosign_signature(cri_world, tmp_path):
    """containerd fetches the signature `dockyard sign` stored beside the image (cosign's tag) and
    its payload verifies with the public key, naming the very manifest containerd pulled."""
    ctrd, host, app, _pause, _store, pub, digest = cri_world
    sig_ref = f"{host}/dytest/app:{digest.replace(':', '-')}.sig"
    p = ctrd.ctr("content", "fetch", "--plain-http", sig_ref, timeout=60)
    assert p.returncode == 0, p.stderr
    p = ctrd.ctr("images", "list")
    row = next(line.split() for line in p.stdout.splitlines() if line.startswith(sig_ref + " "))
    manifest_digest = next(x for x in row if x.startswith("sha256:"))
    manifest = json.loads(ctrd.ctr("content", "get", manifest_digest).stdout)
    layer = manifest["layers"][0]
    payload = subprocess.run(["ctr", "--address", ctrd.sock, "--namespace", CTR_NS, "content", "get",
                              layer["digest"]], capture_output=True, timeout=30).stdout
    doc = json.loads(payload)
    assert doc["critical"]["image"]["docker-manifest-digest"] == digest
    assert doc["critical"]["identity"]["docker-reference"] == f"{host}/dytest/app"
    (tmp_path / "payload").write_bytes(payload)
    (tmp_path / "sig").write_bytes(base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"]))
    p = sh(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", str(tmp_path / "sig"), str(tmp_path / "payload")])
    assert p.returncode == 0 and "Verified OK" in p.stdout, p.stdout + p.stderr
