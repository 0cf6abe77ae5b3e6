"""Docker's defaults for a container, as an OCI runtime spec (moby's oci/defaults.go).

Used by `dockyard-runtime spec` and as the base the engine's specgen edits, so a dockyard
container gets exactly what a docker container gets unless the user asks otherwise.
"""

from __future__ import annotations

DEFAULT_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)  # CapEff 00000000a80425fb

MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def default_mounts() -> list[dict]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    ]


def default_spec(args: list[str] | None = None, *, rootfs: str = "rootfs", terminal: bool = False) -> dict:
    caps = list(DEFAULT_CAPS)
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": terminal,
            "user": {"uid": 0, "gid": 0},
            "args": list(args or ["sh"]),
            "env": [DEFAULT_PATH_ENV, "TERM=xterm"] if terminal else [DEFAULT_PATH_ENV],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": False,
        },
        "root": {"path": rootfs, "readonly": False},
        "hostname": "",
        "mounts": default_mounts(),
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }


def rootless_spec(spec: dict, uid: int, gid: int) -> dict:
    """`spec --rootless`: what runc's specconv.ToRootless does to a spec. A user namespace mapping
    only the caller (uid/gid) to root, no network namespace (an unprivileged user cannot set one
    up), /sys bound from the host instead of a new sysfs, no uid=/gid= mount options (unmapped ids)
    and no cgroup resources."""
    linux = dict(spec.get("linux") or {})
    namespaces = [ns for ns in linux.pop("namespaces", []) if ns.get("type") not in ("network", "user")]
    linux.pop("resources", None)
    linux.pop("uidMappings", None)
    linux.pop("gidMappings", None)
    mounts = []
    for m in spec.get("mounts") or []:
        if m.get("destination", "").rstrip("/") == "/sys":
            mounts.append({"destination": "/sys", "type": "none", "source": "/sys",
                           "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
        else:
            opts = [o for o in m.get("options") or [] if not o.startswith(("uid=", "gid="))]
            mounts.append(dict(m, options=opts) if "options" in m else dict(m))
    return dict(spec, mounts=mounts,
                linux={"uidMappings": [{"containerID": 0, "hostID": uid, "size": 1}],
                       "gidMappings": [{"containerID": 0, "hostID": gid, "size": 1}],
                       "namespaces": namespaces + [{"type": "user"}], **linux})
