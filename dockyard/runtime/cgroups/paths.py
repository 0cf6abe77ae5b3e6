"""Where a container's cgroup lives: the cgroupsPath rules (absolute, relative to the caller's
own cgroup, systemd's `slice:prefix:name`, the `/dockyard/<id>` default), the host's layout (v1,
v2, hybrid) from /proc/self/mountinfo, and the directory in each hierarchy.
Hot path module: only os and errno (builtin) are imported."""

from __future__ import annotations

import errno
import os

from dockyard.errors import BadSpec, InvalidArgument, SyscallError, Unavailable
from dockyard.errors import NotImplemented as NotImplementedErr

# v1 hierarchies a container joins (when mounted), in runc's order. `name=systemd` only tracks.
V1_HIERARCHIES = ("cpuset", "cpu", "cpuacct", "memory", "devices", "freezer", "blkio", "pids", "net_cls",
                  "net_prio", "perf_event", "hugetlb", "rdma", "misc", "name=systemd")
DEFAULT_PARENT = "/dockyard"

_MOUNTS: tuple | None = None  # (v1 {controller: (mountpoint, root)}, v2 (mountpoint, root) | None)


def systemd_path(value: str) -> str:
    """`slice:prefix:name` → the cgroup path systemd would give the unit, e.g.
    `machine.slice:libpod:abc` → `/machine.slice/libpod-abc.scope` (runc's ExpandSlice rules)."""
    parts = value.split(":")
    if len(parts) != 3:
        raise InvalidArgument(f"invalid systemd cgroupsPath {value!r}: expected slice:prefix:name")
    slice_, prefix, name = parts
    if not name or any("/" in p for p in parts):
        raise InvalidArgument(f"invalid systemd cgroupsPath {value!r}: expected slice:prefix:name")
    base = expand_slice(slice_ or "system.slice")
    unit = name if name.endswith(".slice") else (f"{prefix}-{name}.scope" if prefix else f"{name}.scope")
    return base.rstrip("/") + "/" + unit


def expand_slice(slice_: str) -> str:
    """systemd's slice nesting: `a-b-c.slice` → `/a.slice/a-b.slice/a-b-c.slice`; `-.slice` → `/`."""
    if not slice_.endswith(".slice") or "/" in slice_:
        raise InvalidArgument(f"invalid systemd slice {slice_!r}")
    if slice_ == "-.slice":
        return "/"
    name = slice_[:-len(".slice")]
    if not name or name.startswith("-") or name.endswith("-") or "--" in name:
        raise InvalidArgument(f"invalid systemd slice {slice_!r}")
    path, prefix = "", ""
    for comp in name.split("-"):
        prefix = f"{prefix}-{comp}" if prefix else comp
        path += f"/{prefix}.slice"
    return path


def clean_path(path: str) -> str:
    """Normalise a cgroup path; refuse `..`, NUL and the root cgroup itself."""
    if not isinstance(path, str) or "\0" in path:
        raise BadSpec(f"invalid cgroupsPath {path!r}")
    comps = [c for c in path.split("/") if c and c != "."]
    if ".." in comps:
        raise BadSpec(f"invalid cgroupsPath {path!r}: '..' is not allowed")
    if not comps:
        raise BadSpec(f"invalid cgroupsPath {path!r}: a container cannot use the root cgroup")
    return ("/" if path.startswith("/") else "") + "/".join(comps)


def spec_cgroup_path(spec: dict, container_id: str, *, systemd: bool = False) -> str | None:
    """The (clean) cgroup path for a spec: cgroupsPath, a converted systemd path, or
    `/dockyard/<id>`; None when the spec has neither cgroupsPath nor resources."""
    linux = spec.get("linux") or {}
    path = linux.get("cgroupsPath") or ""
    if not path and not linux.get("resources") and not systemd:
        return None
    if not isinstance(path, str):
        raise BadSpec(f"linux.cgroupsPath must be a string, not {path!r}")
    if systemd or (path.count(":") == 2 and not path.startswith("/")):
        if systemd and os.path.isdir("/run/systemd/system"):
            raise NotImplementedErr(
                "the systemd cgroup driver is not implemented (systemd is running here and would "
                "fight over the directories)", hint="run without --systemd-cgroup")
        path = systemd_path(path or f":dockyard:{container_id}")
    elif not path:
        path = f"{DEFAULT_PARENT}/{container_id}"
    return clean_path(path)


def _unescape(s: str) -> str:
    if "\\" not in s:
        return s
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> tuple[dict, tuple | None]:
    """cgroup mounts from /proc/self/mountinfo text: ({v1 controller: (mountpoint, root)},
    (cgroup2 mountpoint, root) or None). The first mount of a hierarchy wins; for cgroup2 the
    one at /sys/fs/cgroup, then /sys/fs/cgroup/unified, then the first."""
    v1: dict = {}
    v2 = []
    for line in text.splitlines():
        if " - cgroup" not in line:
            continue
        left, _, right = line.partition(" - ")
        f = left.split()
        r = right.split()
        if len(f) < 5 or len(r) < 3:
            continue
        root, mnt = _unescape(f[3]), _unescape(f[4])
        if r[0] == "cgroup2":
            v2.append((mnt, root))
        elif r[0] == "cgroup":
            for opt in r[2].split(","):
                if opt in V1_HIERARCHIES and opt not in v1:
                    v1[opt] = (mnt, root)
    best = None
    for want in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        best = best or next((m for m in v2 if m[0] == want), None)
    return v1, best or (v2[0] if v2 else None)


def mounts() -> tuple[dict, tuple | None]:
    global _MOUNTS
    if _MOUNTS is None:
        try:
            with open("/proc/self/mountinfo") as f:
                _MOUNTS = parse_mountinfo(f.read())
        except OSError as e:
            raise SyscallError("open", e.errno or errno.EIO, "/proc/self/mountinfo") from None
    return _MOUNTS


def layout_of(v1: dict, v2) -> str:
    if any(c != "name=systemd" for c in v1):
        return "hybrid" if v2 else "v1"
    if v2:
        return "v2"
    raise Unavailable("no cgroup filesystem is mounted", hint="mount cgroup2 on /sys/fs/cgroup")


def current_layout() -> str:
    """"v2" (unified), "v1" (legacy) or "hybrid" (v1 controllers plus an empty cgroup2)."""
    return layout_of(*mounts())


def parse_proc_cgroup(text: str) -> dict:
    """/proc/<pid>/cgroup → {controller: path}, with "" for the cgroup2 entry."""
    own = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if not parts[1]:
            own[""] = parts[2]
        for c in parts[1].split(","):
            if c:
                own[c] = parts[2]
    return own


def _own_cgroups() -> dict:
    try:
        with open("/proc/self/cgroup") as f:
            return parse_proc_cgroup(f.read())
    except OSError as e:
        raise SyscallError("open", e.errno or errno.EIO, "/proc/self/cgroup") from None


def hierarchy_dir(mountpoint: str, root: str, own: str, path: str) -> str:
    """Where `path` lives in one hierarchy: absolute → under the hierarchy's root (the mount),
    relative → under `own` (the caller's cgroup there, seen through a mount whose root is `root`)."""
    if path.startswith("/"):
        return mountpoint.rstrip("/") + path
    base = own or "/"
    if root not in ("", "/"):
        if base == root or base.startswith(root.rstrip("/") + "/"):
            base = base[len(root.rstrip("/")):] or "/"
    return mountpoint.rstrip("/") + ("/" + base.strip("/") if base.strip("/") else "") + "/" + path


def resolve_dirs(path: str, v1: dict, v2, own: dict | None, layout: str) -> dict:
    """{hierarchy: directory} for a clean path; hierarchy "" is the cgroup2 one."""
    if not path.startswith("/") and own is None:
        own = _own_cgroups()
    own = own or {}
    dirs = {}
    if layout != "v2":
        for c in V1_HIERARCHIES:
            if c in v1:
                dirs[c] = hierarchy_dir(v1[c][0], v1[c][1], own.get(c, "/"), path)
    if v2 is not None and layout in ("v2", "hybrid"):
        dirs[""] = hierarchy_dir(v2[0], v2[1], own.get("", "/"), path)
    return dirs
