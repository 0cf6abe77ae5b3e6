"""Issue 15's proof for `create` (and the same flags through `run`): the same command line on both
sides, then the whole of `inspect`'s Config and HostConfig compared, and the create's exit code
and warnings. Docker here is Debian's dockerd 20.10 (API 1.41) under docker CLI 28; `normalised`
says, for each field it touches, why the two differ by nature rather than by mistake."""

from __future__ import annotations

import os

import pytest
from dockyard_interop import compares

BLOCK = next((f"/dev/{d}" for d in sorted(os.listdir("/sys/block")) if d.startswith(("vd", "sd", "nvme", "xvd"))
              and os.path.exists(f"/dev/{d}")), None)
POWERCAP = "/sys/devices/virtual/powercap"


def normalised(doc: dict, image_id: str) -> dict:
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


def created_alike(pair, command: str, flags: list[str], args: list[str] = (), tmp_path=None) -> tuple:
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
    return normalised(a, a["Image"]), normalised(b, b["Image"])


# Each group: flags given together; every one of them shows in inspect's Config or HostConfig.
GROUPS = {
    "resources": ["--blkio-weight", "300", "--cpu-period", "100000", "--cpu-quota", "50000", "--cpu-shares", "512",
                  "--cpuset-cpus", "0", "--cpuset-mems", "0", "-m", "64m", "--memory-reservation", "32m",
                  "--memory-swap", "128m", "--memory-swappiness", "10", "--oom-kill-disable", "--oom-score-adj", "10",
                  "--pids-limit", "50", "--shm-size", "16m", "--ulimit", "nofile=10:20", "--cgroup-parent", "/dyflags",
                  "--device-cgroup-rule", "c 1:3 rwm"],
    "cpus": ["--cpus", "1.5", "--memory-swap", "-1", "-m", "32m"],
    "blkio": ["--blkio-weight-device", f"{BLOCK}:300", "--device-read-bps", f"{BLOCK}:1mb",
              "--device-read-iops", f"{BLOCK}:100", "--device-write-bps", f"{BLOCK}:2mb",
              "--device-write-iops", f"{BLOCK}:200", "--device", "/dev/null:/dev/xnull:r"],
    "process": ["--cap-add", "NET_ADMIN", "--cap-drop", "chown", "--entrypoint", "/bin/sh", "-e", "A=1",
                "-e", "PATH=/bin", "--env-file", "@envfile", "--init", "-l", "k=v", "--label-file", "@labelfile",
                "-u", "1000:1000", "-w", "/tmp", "--group-add", "10", "--read-only", "--stop-signal", "SIGUSR1",
                "--stop-timeout", "7", "--security-opt", "no-new-privileges", "--security-opt", "seccomp=unconfined",
                "--domainname", "example.org", "-h", "hn", "--isolation", "default", "--runtime", "runc"],
    "namespaces": ["--pid", "host", "--ipc", "host", "--uts", "host", "--userns", "host", "--cgroupns", "private",
                   "--privileged"],
    "etc": ["--add-host", "h:1.2.3.4", "--dns", "192.0.2.53", "--dns-option", "ndots:2", "--dns-search",
            "example.com", "--expose", "80", "--expose", "90-91/udp", "--ipc", "shareable", "--cgroupns", "host",
            "--sysctl", "kernel.shmmni=1234", "--sysctl", "net.ipv4.ip_forward=1"],
    "health": ["--health-cmd", "true", "--health-interval", "5s", "--health-retries", "2",
               "--health-start-period", "2s", "--health-timeout", "3s"],
    "lifecycle": ["--restart", "on-failure:3", "--log-driver", "json-file", "--log-opt", "max-size=1m",
                  "--log-opt", "max-file=2", "--pull", "never", "--platform", "linux/amd64",
                  "--disable-content-trust", "--cidfile", "@cidfile", "-i", "-t", "-a", "stdout"],
    "nohealth": ["--no-healthcheck", "--rm", "-a", "stderr", "-i"],
    "mounts": ["-v", "@hostdir:/hostx:ro", "-v", "/anon", "--mount", "type=volume,src=@volume,dst=/mv",
               "--tmpfs", "/run:size=1m", "--volume-driver", "local"],
}


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


@compares("create", "--blkio-weight", "--cpu-period", "--cpu-quota", "--cpu-shares", "--cpuset-cpus", "--cpuset-mems",
          "--memory", "--memory-reservation", "--memory-swap", "--memory-swappiness", "--oom-kill-disable",
          "--oom-score-adj", "--pids-limit", "--shm-size", "--ulimit", "--cgroup-parent", "--device-cgroup-rule",
          "--cpus", "--blkio-weight-device", "--device-read-bps", "--device-read-iops", "--device-write-bps",
          "--device-write-iops", "--device", "--cap-add", "--cap-drop", "--entrypoint", "--env", "--env-file",
          "--init", "--label", "--label-file", "--user", "--workdir", "--group-add", "--read-only", "--stop-signal",
          "--stop-timeout", "--security-opt", "--domainname", "--hostname", "--isolation", "--runtime", "--pid",
          "--ipc", "--uts", "--userns", "--cgroupns", "--privileged", "--sysctl", "--add-host", "--dns",
          "--dns-option", "--dns-search", "--expose", "--health-cmd", "--health-interval", "--health-retries",
          "--health-start-period", "--health-timeout", "--restart", "--log-driver", "--log-opt", "--pull",
          "--platform", "--disable-content-trust", "--cidfile", "--interactive", "--tty", "--attach",
          "--no-healthcheck", "--rm", "--volume", "--mount", "--tmpfs", "--volume-driver", "--name")
@pytest.mark.parametrize("group", sorted(GROUPS))
def test_create_inspect_matches_docker(pair, tmp_path, group, monkeypatch):
    if group == "blkio" and BLOCK is None:
        pytest.skip("no disk block device (vd*, sd*, nvme*) to name")
    monkeypatch.setenv("E2", "from-the-caller")  # --env-file's bare E2 takes the caller's value on both sides
    ours, theirs = created_alike(pair, "create", expand(GROUPS[group], tmp_path, pair), tmp_path=tmp_path)
    assert ours == theirs, "\n".join(differences(ours, theirs))
