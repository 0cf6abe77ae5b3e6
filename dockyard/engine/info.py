"""What `docker version` and `docker info` report: the engine's and this host's facts, as
dockerd's documents (GET /version, GET /info and `dockyard info` render them)."""

from __future__ import annotations

import os
import platform

from dockyard import __version__

API_VERSION = "1.44"  # what `dockyard system service` speaks (docker CLI 29 wants at least 1.44)
MIN_API_VERSION = "1.24"
GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
          "s390x": "s390x", "riscv64": "riscv64"}


def version_document() -> dict:
    """GET /version's document (and `dockyard version`'s server half)."""
    arch = GOARCH.get(platform.machine(), platform.machine())
    details = {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Os": "linux", "Arch": arch,
               "KernelVersion": platform.release(), "GitCommit": "", "GoVersion": "python" + platform.python_version(),
               "BuildTime": "", "Experimental": "false"}
    return {
        "Platform": {"Name": f"dockyard {__version__}"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
        "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "GitCommit": "",
        "GoVersion": details["GoVersion"], "Os": "linux", "Arch": arch, "KernelVersion": platform.release(),
        "BuildTime": "",
    }


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _mem_total() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def info_document(engine) -> dict:
    """GET /info's document (and `dockyard info`'s): dockerd's keys, this store's facts."""
    import shutil

    from dockyard.engine.status import effective_state

    counts = {"running": 0, "paused": 0, "stopped": 0}
    recs = engine.db.list_containers()
    for rec in recs:
        s = effective_state(rec, engine.db).get("Status")
        counts["running" if s in ("running", "restarting") else "paused" if s == "paused" else "stopped"] += 1
    cgroup2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    runc = shutil.which("runc")
    return {
        "ID": _host_id(engine), "Containers": len(recs), "ContainersRunning": counts["running"],
        "ContainersPaused": counts["paused"], "ContainersStopped": counts["stopped"],
        "Images": len(engine.db.list_images()), "Driver": "overlay",
        "DriverStatus": [],
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "none"], "Authorization": None,
                    "Log": ["json-file"]},
        "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True, "CPUShares": True,
        "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True, "Debug": False, "OomKillDisable": False,
        "NFd": len(os.listdir("/proc/self/fd")), "NGoroutines": 0, "SystemTime": _now(),
        "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs", "CgroupVersion": "2" if cgroup2 else "1",
        "KernelVersion": platform.release(), "OperatingSystem": _os_name(), "OSType": "linux",
        "OSVersion": "", "Architecture": platform.machine(), "NCPU": os.cpu_count() or 1, "MemTotal": _mem_total(),
        "IndexServerAddress": "https://index.docker.io/v1/", "DockerRootDir": engine.root,
        "Name": platform.node(), "Labels": [], "ExperimentalBuild": False, "ServerVersion": __version__,
        "Runtimes": {"dockyard": {"path": "dockyard-runtime"}, **({"runc": {"path": runc}} if runc else {})},
        "DefaultRuntime": "dockyard", "Swarm": {"LocalNodeState": "inactive", "ControlAvailable": False,
                                               "NodeID": "", "NodeAddr": "", "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": True, "Isolation": "",
        "SecurityOptions": ["name=seccomp,profile=builtin"] + (["name=cgroupns"] if cgroup2 else []),
        "Warnings": None, **_tool_facts(runc),
    }


_TOOLS: dict = {}


def _tool_facts(runc: str | None) -> dict:
    """The rest of what `docker info` prints: registries (loopback is insecure, as dockyard's
    client treats it), proxies, the init binary `--init` binds, runc's version (read once)."""
    if "facts" not in _TOOLS:
        import subprocess

        runc_version = ""
        if runc:
            try:
                out = subprocess.run([runc, "--version"], capture_output=True, text=True, timeout=5).stdout
                runc_version = out.split("\n")[0].rpartition(" ")[2]
            except (OSError, subprocess.SubprocessError):
                pass
        from dockyard.engine.specopts import INIT_SOURCES

        init = "docker-init" if any(os.path.exists(p) for p in INIT_SOURCES) else ""
        _TOOLS["facts"] = {"RuncCommit": {"ID": runc_version, "Expected": runc_version},
                           "ContainerdCommit": {"ID": "", "Expected": ""}, "InitCommit": {"ID": "", "Expected": ""},
                           "InitBinary": init}
    env = os.environ
    return {**_TOOLS["facts"], "KernelMemory": False, "KernelMemoryTCP": False, "NEventsListener": 0,
            "CDISpecDirs": [], "GenericResources": None,
            "HttpProxy": env.get("HTTP_PROXY") or env.get("http_proxy") or "",
            "HttpsProxy": env.get("HTTPS_PROXY") or env.get("https_proxy") or "",
            "NoProxy": env.get("NO_PROXY") or env.get("no_proxy") or "",
            "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": None,
                               "AllowNondistributableArtifactsHostnames": None,
                               "InsecureRegistryCIDRs": ["127.0.0.0/8", "::1/128"],
                               "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": True,
                                                              "Official": True}},
                               "Mirrors": []}}


def _now() -> str:
    import time

    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def _host_id(engine) -> str:
    """A stable id for this store (docker's engine ID lives in its root the same way)."""
    import uuid

    path = os.path.join(engine.root, "engine-id")
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        pass
    value = str(uuid.uuid4())
    os.makedirs(engine.root, exist_ok=True)
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(value + "\n")
    try:
        os.link(tmp, path)  # first writer wins
    except FileExistsError:
        pass
    os.unlink(tmp)
    with open(path) as f:
        return f.read().strip()
