"""Issue 15's "defects in what exists", checked on dockyard alone (the same cases against dockerd
are in tests/interop/test_parity_vs_docker.py): exit codes, logs of a foreground run, inspect's
HostConfig, sizes, RepoDigests, stop/restart flags, the restart back-off, .dockerignore
exceptions, and the subnet pools when host routes take dockyard's."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid

import pytest
from support import no_traceback, wait_for

# (argv, exit code, first stderr line contains) — docker CLI 28 against dockerd gives the same
# codes (tests/interop/test_parity_vs_docker.py compares the two).
EXIT_CODES = [
    (["ps", "--bogus"], 125, "unknown flag: --bogus"),
    (["rm", "--bogus", "x"], 125, "unknown flag: --bogus"),
    (["images", "-z"], 125, "unknown shorthand flag: 'z' in -z"),
    (["network", "ls", "--bogus"], 125, "unknown flag"),
    (["volume", "create", "--bogus"], 125, "unknown flag"),
    (["stop", "--time"], 125, "flag needs an argument"),
    (["run"], 1, '"dockyard run" requires at least 1 argument'),
    (["create"], 1, '"dockyard create" requires at least 1 argument'),
    (["exec"], 1, "requires at least 2 arguments"),
    (["rm"], 1, "requires at least 1 argument"),
    (["exec", "NOSUCH", "true"], 1, "No such container: NOSUCH"),
    (["exec", "STOPPED", "true"], 1, "is not running"),
    (["exec", "-it", "RUNNING", "true"], 1, "the input device is not a TTY"),
    (["run", "-it", "busybox", "true"], 1, "the input device is not a TTY"),
    (["exec", "RUNNING", "nosuchcmd"], 126, 'exec: "nosuchcmd": executable file not found in $PATH'),
    (["exec", "-u", "nosuchuser", "RUNNING", "true"], 126, "unable to find user nosuchuser"),
    (["create", "--name", "STOPPED", "busybox"], 1, "is already in use by container"),
    (["run", "--name", "STOPPED", "busybox"], 125, "is already in use by container"),
    (["create", "nosuchimage:1"], 1, "No such image: nosuchimage:1"),
    (["create", "--stop-signal", "NOPE", "busybox"], 1, "Invalid signal: NOPE"),  # dockerd's check: 1
    (["create", "--restart", "bogus", "busybox"], 1, "invalid restart policy 'bogus'"),
    (["create", "--rm", "--restart", "always", "busybox"], 125,
     "conflicting options: cannot specify both --restart and --rm"),
    (["run", "--rm", "--stop-signal", "NOPE", "busybox"], 125, "Invalid signal: NOPE"),
    (["create", "--label", "=x", "busybox"], 125, "invalid label '=x': empty name"),
    (["create", "-m", "abc", "busybox"], 125, 'invalid argument "abc" for "-m, --memory" flag'),
    (["run", "--rm", "--network", "none", "--ip", "10.1.2.3", "busybox", "true"], 125,
     "user specified IP address is supported on user defined networks only"),
    (["inspect", "--type", "nope", "STOPPED"], 1, 'unknown type: "nope"'),
    (["commit", "-c", "EXPOSE abc", "STOPPED"], 1, "abc"),
    (["tag", "busybox", "UPPER/x"], 1, "repository name must be lowercase"),
    (["tag", "busybox", "Upper"], 1, "must be lowercase"),
    (["inspect", "-f", "{{.Nope", "STOPPED"], 64, "template parsing error: template: :1: unclosed action"),
    (["inspect", "-f", "{{.Config.Nope}}", "STOPPED"], 1,
     'template: :1:9: executing "" at <.Config.Nope>: map has no entry for key "Nope"'),
    (["images", "--format", "{{.Nope}}"], 1, "can't evaluate field Nope in type *formatter.imageContext"),
    (["ps", "-a", "--format", "{{.Nope}}"], 1, "can't evaluate field Nope in type *formatter.ContainerContext"),
]


@pytest.fixture
def two(dy, busybox, name):
    """A stopped and a running container, under this test's names."""
    stopped, running = name + "-stopped", name + "-running"
    dy("create", "--name", stopped, "busybox", "true")
    dy("run", "-d", "--name", running, "busybox", "sleep", "300")
    return stopped, running


def test_exit_codes_and_first_error_lines(dy, two):
    stopped, running = two
    for argv, code, text in EXIT_CODES:
        argv = [a.replace("STOPPED", stopped).replace("RUNNING", running) for a in argv]
        p = dy(*argv, check=False, input=b"")
        no_traceback(p)
        assert p.returncode == code, (argv, p.returncode, p.err)
        assert text in p.err.splitlines()[0], (argv, p.err)
    assert dy("images", "-q", "--filter", "reference=upper*").out == ""  # nothing was tagged


def test_help_everywhere(dy):
    for argv in (["tag", "--help"], ["rename", "--help"], ["rm", "-h"], ["ps", "-h"], ["network", "ls", "-h"],
                 ["stop", "-h"], ["restart", "--help"], ["image", "inspect", "-h"], ["volume", "create", "--help"]):
        p = dy(*argv)
        assert p.out.startswith("Usage:  dockyard "), (argv, p.out)
    assert "--timeout" in dy("stop", "--help").out and "--signal" in dy("restart", "--help").out


def test_foreground_run_keeps_json_file_logs(dy, busybox, name):
    p = dy("run", "--name", name, "busybox", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert (p.returncode, p.out, p.err) == (3, "out\n", "err\n")  # still streamed as it runs
    logs = dy("logs", name)
    assert (logs.out, logs.err) == ("out\n", "err\n")
    cid = dy("inspect", "-f", "{{.Id}}", name).out.strip()
    path = dy("inspect", "-f", "{{.LogPath}}", name, check=False).out.strip()
    files = [f for f in os.listdir(os.path.join(dy.root, "containers", cid)) if f.endswith("-json.log")]
    assert files, path
    records = [json.loads(line) for line in open(os.path.join(dy.root, "containers", cid, files[0]))]
    assert [(r["stream"], r["log"]) for r in records] == [("stdout", "out\n"), ("stderr", "err\n")]
    # a TTY's output is logged too (CRLF as LF), and a second run appends
    dy("run", "--name", name + "-t", "-t", "busybox", "echo", "on a tty")
    assert dy("logs", name + "-t").out == "on a tty\n"
    assert dy("run", "--rm", "busybox", "echo", "rm").out == "rm\n"  # --rm: nothing kept, nothing left
    assert len(dy("ps", "-aq").out.split()) == 2


def test_inspect_hostconfig_has_dockers_keys_and_values(dy, busybox, name):
    dy("create", "--name", name, "-m", "1GiB", "--cpus", "1.5", "--restart", "on-failure:3",
       "--log-opt", "max-size=1m", "--stop-signal", "SIGUSR1", "--stop-timeout", "7", "--shm-size", "128m",
       "--pids-limit", "50", "--oom-score-adj", "100", "--read-only", "busybox", "true")
    doc = json.loads(dy("inspect", name).out)[0]
    hc = doc["HostConfig"]
    assert len(hc) >= 63, sorted(hc)
    for key in ("Binds", "ContainerIDFile", "VolumeDriver", "ConsoleSize", "CgroupnsMode", "Dns", "IpcMode",
                "Isolation", "BlkioWeightDevice", "CpuRealtimeRuntime", "DeviceRequests", "MemorySwappiness",
                "Ulimits", "CpuCount", "IOMaximumBandwidth", "MaskedPaths", "ReadonlyPaths"):
        assert key in hc, key
    assert (hc["Memory"], hc["MemorySwap"], hc["NanoCpus"], hc["CpuPeriod"], hc["CpuQuota"]) == \
        (1 << 30, 2 << 30, 1_500_000_000, 0, 0)
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
    assert (hc["ShmSize"], hc["PidsLimit"], hc["OomScoreAdj"], hc["ReadonlyRootfs"]) == (128 << 20, 50, 100, True)
    assert (doc["Config"]["StopSignal"], doc["Config"]["StopTimeout"]) == ("SIGUSR1", 7)
    dy("create", "--name", name + "-plain", "busybox", "true")
    plain = json.loads(dy("inspect", name + "-plain").out)[0]
    assert "StopSignal" not in plain["Config"] and plain["HostConfig"]["ShmSize"] == 64 << 20
    assert dy("inspect", "-f", "[{{.Config.StopSignal}}]", name + "-plain").out == "[]\n"  # as docker's struct


def _docker_size(tree: str) -> int:
    """moby's directory.Size: files and symlinks, each inode once."""
    seen, total = set(), 0
    for d, dirs, files in os.walk(tree):
        for n in dirs + files:
            st = os.lstat(os.path.join(d, n))
            if not os.path.isdir(os.path.join(d, n)) or os.path.islink(os.path.join(d, n)):
                if st.st_ino not in seen and st.st_size:
                    seen.add(st.st_ino)
                    total += st.st_size
    return total


def test_image_size_is_dockers_everywhere(dy, busybox, name, tmp_path):
    layers = os.path.join(dy.root, "snapshots", "layers")
    (layer,) = os.listdir(layers)
    want = _docker_size(os.path.join(layers, layer, "fs"))
    size = int(dy("image", "inspect", "-f", "{{.Size}}", "busybox").out)
    assert size == want
    archive = str(tmp_path / "bb.tar")
    dy("save", "-o", archive, "busybox")
    dy("rmi", "busybox")
    dy("load", "-i", archive)  # loaded: counted the same, not as the tar's or gzip's size
    assert int(dy("image", "inspect", "-f", "{{.Size}}", "busybox").out) == size
    dy("run", "--name", name, "busybox", "sh", "-c", "head -c 5000 /dev/zero > /f; ln -s f /l")
    assert dy("ps", "-as", "--format", "{{.Size}}").out == f"5kB (virtual {(size + 5001) / 1e6:.3g}MB)\n"
    assert dy("ps", "-a", "-s").out.splitlines()[0].split()[-1] == "SIZE"
    dy("commit", name, "committed:1")
    assert int(dy("image", "inspect", "-f", "{{.Size}}", "committed:1").out) == size + 5001
    history = dy("history", "--format", "{{.Size}}", "committed:1").out.split()
    assert history[0] == "5kB"
    # -H=false: plain bytes, and the creation time where the age was (docker's non-human table: CREATED AT)
    plain = dy("history", "-H=false", "--format", "{{.Size}}|{{.CreatedSince}}", "committed:1").out.split()
    assert plain[0].split("|")[0] == "5001" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)",
                                                            plain[0].split("|")[1]), plain
    assert dy("history", "-H=false", "committed:1").out.splitlines()[0].split() == ["IMAGE", "CREATED", "AT",
                                                                                    "CREATED", "BY", "SIZE", "COMMENT"]


REGISTRY = shutil.which("docker-registry") or "/usr/bin/docker-registry"


@pytest.mark.skipif(not os.path.exists(REGISTRY), reason="docker-registry is not installed")
def test_repo_digests_after_push_and_pull(dy, busybox, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "registry.json"
    cfg.write_text(json.dumps({"version": 0.1, "log": {"level": "error", "accesslog": {"disabled": True}},
                               "storage": {"filesystem": {"rootdirectory": str(tmp_path / "storage")}},
                               "http": {"addr": f"127.0.0.1:{port}"}}))
    proc = subprocess.Popen([REGISTRY, "serve", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 15, what="the registry")
        dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
        ref = f"127.0.0.1:{port}/parity/bb"
        dy("tag", "busybox", f"{ref}:1")
        digest = re.search(r"digest: (sha256:[0-9a-f]{64})", dy("push", f"{ref}:1").out).group(1)
        assert json.loads(dy("image", "inspect", "-f", "{{json .RepoDigests}}", "busybox").out) == \
            [f"{ref}@{digest}"]
        dy("rmi", "busybox", f"{ref}:1")
        assert dy("images", "-q").out == ""  # the digest went with the repository's last tag
        dy("pull", f"{ref}:1")
        row = dy("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}").out
        assert row == f"{ref} 1 {digest}\n"
        assert "DIGEST" in dy("images", "--digests").out.splitlines()[0]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_stop_timeout_and_restart_signal(dy, busybox, name):
    script = "trap 'echo got-usr1; exit 0' USR1; trap '' TERM; while :; do sleep 0.1; done"
    dy("run", "-d", "--name", name, "busybox", "sh", "-c", script)
    wait_for(lambda: dy("top", name, check=False).returncode == 0, what="the container")
    dy("restart", "-s", "SIGUSR1", "-t", "10", name)
    wait_for(lambda: "got-usr1" in dy("logs", name).out, what="USR1 in the log")
    assert dy("inspect", "-f", "{{.State.Running}}", name).out == "true\n"
    started = time.monotonic()
    dy("stop", "--timeout", "1", name)  # TERM is ignored: killed after the 1 s given
    assert 0.9 < time.monotonic() - started < 8
    assert dy("inspect", "-f", "{{.State.ExitCode}}", name).out == "137\n"


def test_restart_backoff_starts_at_100ms_and_doubles(dy, busybox, name):
    dy("volume", "create", name)
    dy("run", "-d", "--name", name, "--restart", "on-failure:4", "-v", f"{name}:/v", "busybox",
       "sh", "-c", "cut -d' ' -f1 /proc/uptime >> /v/starts; exit 1")
    wait_for(lambda: dy("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", name).out == "exited 4\n", 30,
             what="four restarts")
    starts = [float(x) for x in dy("run", "--rm", "-v", f"{name}:/v", "busybox", "cat", "/v/starts").out.split()]
    assert len(starts) == 5
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    # each wait is 0.1, 0.2, 0.4, 0.8 s plus the time a restart takes; it doubles, it never starts at 0.2
    for gap, wait in zip(gaps, (0.1, 0.2, 0.4, 0.8)):
        assert gap >= wait - 0.011, gaps
    assert gaps[3] - gaps[0] >= 0.6, gaps


def test_dockerignore_exception_inside_an_excluded_directory(dy, busybox, tmp_path):
    ctx = tmp_path / "ctx"
    for rel in ("dir/keep.txt", "dir/drop.txt", "dir/sub/keep2", "dir/sub/x", "other/a"):
        (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
        (ctx / rel).write_text(rel)
    (ctx / ".dockerignore").write_text("dir\n!dir/keep.txt\n!dir/sub/keep2\n")
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY . /ctx\nCOPY dir /dirc\n")
    tag = f"ign-{uuid.uuid4().hex[:8]}:1"
    dy("build", "-q", "-t", tag, str(ctx))
    found = sorted(dy("run", "--rm", tag, "find", "/ctx/dir", "/dirc").out.split())
    assert found == ["/ctx/dir", "/ctx/dir/keep.txt", "/ctx/dir/sub", "/ctx/dir/sub/keep2",
                     "/dirc", "/dirc/keep.txt", "/dirc/sub", "/dirc/sub/keep2"]


@pytest.fixture
def netns():
    """A network namespace of this test's own, whose only route is 10.0.0.0/8 on a veth pair
    inside it (a VPN's route, say): nothing in it reaches the host's networks, and it goes with
    everything dockyard made in it."""
    ns = "dyt-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["ip", "link", "add", "vpn0", "type", "veth", "peer", "name", "vpn1"],
                    ["ip", "addr", "add", "10.0.0.1/8", "dev", "vpn0"], ["ip", "link", "set", "vpn0", "up"],
                    ["ip", "link", "set", "vpn1", "up"]):
            subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def test_subnet_pools_fall_back_to_dockers_when_host_routes_take_ours(dy, netns):
    def in_ns(*args):
        p = subprocess.run(["ip", "netns", "exec", netns, *dy.cmd(*args)], env=dy.env, capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout

    try:
        assert "bridge" in in_ns("network", "ls")
        assert in_ns("network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", "bridge") == "172.17.0.0/16\n"
        in_ns("network", "create", "second")
        assert in_ns("network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", "second") == "172.18.0.0/16\n"
    finally:  # the bridges live in the namespace; the records must not make the fixture look on the host
        subprocess.run(["ip", "netns", "exec", netns, *dy.cmd("network", "rm", "second")], env=dy.env,
                       capture_output=True, timeout=60)
        subprocess.run(["ip", "netns", "exec", netns, "python3", "-c",
                        "import sys; sys.path.insert(0, sys.argv[1]); from dockyard.engine.engine import Engine; "
                        "from dockyard.engine.networking import reset; reset(Engine(sys.argv[2], sys.argv[3]))",
                        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        dy.root, dy.runroot], capture_output=True, timeout=60)


def test_images_before_since_filters_and_a_line_per_tag(dy, busybox, tmp_path):
    """images --filter before=/since= IMAGE (created strictly before/after it), -q a line per row
    (docker CLI 28: an image with two tags twice), --format json as docker's MarshalJSON."""
    (tmp_path / "Dockerfile").write_text("FROM busybox\nLABEL later=yes\n")
    time.sleep(1.1)  # created a second later than the bootstrapped busybox at least
    dy("build", "-q", "-t", "later:1", str(tmp_path))
    dy("tag", "busybox", "again:1")
    names = lambda *f: dy("images", *f, "--format", "{{.Repository}}").out.split()  # noqa: E731
    assert names("--filter", "since=busybox") == ["later"]
    assert sorted(names("--filter", "before=later:1")) == ["again", "busybox"]
    p = dy("images", "--filter", "since=nosuch:1", check=False)
    assert p.returncode == 1 and "No such image: nosuch:1" in p.err
    assert len(dy("images", "-q", "--filter", "before=later:1").out.split()) == 2
    line = dy("images", "--format", "json", "later:1").out
    assert line.startswith('{"Containers":"N/A","CreatedAt":') and '"Digest":"\\u003cnone\\u003e"' in line
