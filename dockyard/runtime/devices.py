"""Device access rules of a container: Docker's and runc's defaults, the flags that add to them,
and runc's emulator of the cgroup v1 devices controller.

Rules are OCI `linux.resources.devices` entries: {"allow", "type" (a|b|c), "major", "minor"
(absent or -1: any), "access" (r, w, m)}. A list of them means what it means to cgroup v1: each
rule in turn changes the state (the default plus a set of exceptions). `Emulator` replays them
the way runc does (libcontainer/cgroups/devices), so cgroup v1 writes and the cgroup v2 eBPF
program (`devfilter.py`) come from one state and behave alike.

Pure module (os only), used by the runtime on every `create` and by the engine's spec generator.
"""

from __future__ import annotations

import os

from dockyard.errors import BadSpec

WILDCARD = -1
MAX_DEVNUM = 0xFFFFFFFF  # the kernel's dev_t halves are u32 in both cgroup APIs


def _rule(allow: bool, kind: str, major: int, minor: int, access: str = "rwm") -> dict:
    return {"allow": allow, "type": kind, "major": major, "minor": minor, "access": access}


# Docker's default (moby oci/defaults.go): deny all; allow zero, null, urandom, random, tty, console;
# deny fuse. runc's list below then adds full, ptmx, pts, tun and mknod of any node.
DOCKER_DEFAULT_RULES = (
    {"allow": False, "access": "rwm"},
    _rule(True, "c", 1, 5), _rule(True, "c", 1, 3), _rule(True, "c", 1, 9), _rule(True, "c", 1, 8),
    _rule(True, "c", 5, 0), _rule(True, "c", 5, 1), _rule(False, "c", 10, 229),
)

# runc's AllowedDevices (libcontainer/specconv, runc 1.1), which runc appends to every spec's rules:
# mknod of any node, null, random, full, tty, zero, urandom, /dev/pts/*, ptmx, /dev/net/tun.
RUNC_ALLOWED_RULES = (
    _rule(True, "c", WILDCARD, WILDCARD, "m"), _rule(True, "b", WILDCARD, WILDCARD, "m"),
    _rule(True, "c", 1, 3), _rule(True, "c", 1, 8), _rule(True, "c", 1, 7), _rule(True, "c", 5, 0),
    _rule(True, "c", 1, 5), _rule(True, "c", 1, 9), _rule(True, "c", 136, WILDCARD), _rule(True, "c", 5, 2),
    _rule(True, "c", 10, 200),
)

PRIVILEGED_RULES = ({"allow": True, "access": "rwm"},)


# ---------------------------------------------------------------------------------------------
# Docker's flags

def parse_cgroup_rule(text: str) -> dict:
    """`--device-cgroup-rule 'c 1:3 rwm'` → an allow rule (Docker's grammar:
    `^([acb]) ([0-9]+|\\*):([0-9]+|\\*) ([rwm]{1,3})$`)."""
    parts = text.split(" ") if isinstance(text, str) else []
    bad = BadSpec(f"invalid device cgroup rule format: '{text}'",
                  hint="expected 'TYPE MAJOR:MINOR ACCESS', e.g. 'c 1:3 rwm' (TYPE a, b or c; * for any number)")
    if len(parts) != 3 or parts[0] not in ("a", "b", "c"):
        raise bad
    major, sep, minor = parts[1].partition(":")
    nums = []
    for n in (major, minor):
        if n == "*":
            nums.append(WILDCARD)
        elif n.isdigit() and n.isascii() and int(n) <= MAX_DEVNUM:
            nums.append(int(n))
        else:
            raise bad
    access = parts[2]
    if not sep or not 1 <= len(access) <= 3 or any(c not in "rwm" for c in access):
        raise bad
    return _rule(True, parts[0], nums[0], nums[1], access)


def _valid_access(s: str) -> bool:
    return 0 < len(s) <= 3 and all(c in "rwm" for c in s) and len(set(s)) == len(s)


def parse_device_flag(value: str) -> tuple[str, str, str]:
    """`--device HOST[:CONTAINER][:PERMS]` → (host, container, perms), Docker's rules."""
    parts = value.split(":")
    if not value or len(parts) > 3 or not all(parts[:1]):
        raise BadSpec(f"invalid device specification: {value}")
    host, container, perms = parts[0], parts[0], "rwm"
    if len(parts) == 3:
        container, perms = parts[1], parts[2]
    elif len(parts) == 2:
        if _valid_access(parts[1]):
            perms = parts[1]
        else:
            container = parts[1]
    if not _valid_access(perms):
        raise BadSpec(f"invalid device mode: {perms}")
    if not container.startswith("/"):
        raise BadSpec(f"{container} is not an absolute path")
    if not host.startswith("/"):
        raise BadSpec(f"{host} is not an absolute path")
    return host, container, perms


def devices_from_path(host: str, container: str, perms: str) -> tuple[list, list]:
    """A `--device` → (linux.devices entries, allow rules): the node (symlinks followed), or each
    device node below a directory (at the same relative path under `container`), as Docker does."""
    import stat

    try:
        resolved = os.path.realpath(host, strict=True)
        st = os.stat(resolved)
    except OSError as e:
        raise BadSpec(f"error gathering device information while adding custom device {host!r}: "
                      f"{e.strerror or e}") from None
    found = []
    if stat.S_ISDIR(st.st_mode):
        for base, dirs, files in os.walk(resolved):
            dirs.sort()
            for name in sorted(files):
                p = os.path.join(base, name)
                try:
                    s = os.lstat(p)
                except OSError:
                    continue
                if stat.S_ISCHR(s.st_mode) or stat.S_ISBLK(s.st_mode):
                    found.append((os.path.join(container, os.path.relpath(p, resolved)), s))
        if not found:
            raise BadSpec(f"error gathering device information while adding custom device {host!r}: "
                          "no device nodes in this directory")
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        found.append((container, st))
    else:
        raise BadSpec(f"error gathering device information while adding custom device {host!r}: not a device node")
    devices, rules = [], []
    for path, s in found:
        kind = "c" if stat.S_ISCHR(s.st_mode) else "b"
        major, minor = os.major(s.st_rdev), os.minor(s.st_rdev)
        devices.append({"path": path, "type": kind, "major": major, "minor": minor,
                        "fileMode": stat.S_IMODE(s.st_mode), "uid": s.st_uid, "gid": s.st_gid})
        rules.append(_rule(True, kind, major, minor, perms))
    return devices, rules


# ---------------------------------------------------------------------------------------------
# The cgroup v1 semantics

def normalize(rule: dict) -> tuple:
    """An OCI rule → (allow, type, major, minor, access), validated."""
    if not isinstance(rule, dict):
        raise BadSpec(f"invalid device cgroup rule {rule!r}")
    kind = rule.get("type") or "a"
    access = rule.get("access") or "rwm"
    if kind not in ("a", "b", "c") or not isinstance(access, str) or any(c not in "rwm" for c in access):
        raise BadSpec(f"invalid device cgroup rule {rule!r}")
    nums = []
    for k in ("major", "minor"):
        v = rule.get(k)
        if v is None or v == WILDCARD:
            nums.append(WILDCARD)
        elif isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_DEVNUM:
            nums.append(v)
        else:
            raise BadSpec(f"invalid device cgroup rule {rule!r}: {k} must be -1 or 0..{MAX_DEVNUM}")
    return bool(rule.get("allow")), kind, nums[0], nums[1], "".join(c for c in "rwm" if c in access)


def rule_text(kind: str, major: int, minor: int, access: str) -> str:
    """The devices.allow/devices.deny line: `c 1:3 rwm`, `b 8:* r`, `a`."""
    if kind == "a":
        return "a"
    return f"{kind} {'*' if major == WILDCARD else major}:{'*' if minor == WILDCARD else minor} {access}"


class Emulator:
    """runc's emulator: `default_allow` plus exceptions {(type, major, minor): access}; in a
    deny-by-default state the exceptions allow, otherwise they deny."""

    __slots__ = ("default_allow", "exceptions")

    def __init__(self) -> None:
        self.default_allow = False
        self.exceptions: dict = {}

    def apply(self, rule: dict) -> None:
        allow, kind, major, minor, access = normalize(rule)
        if kind == "a":  # "a" is always every device and every access: a new default
            self.default_allow, self.exceptions = allow, {}
            return
        key = (kind, major, minor)
        if allow != self.default_allow:
            old = self.exceptions.get(key, "")
            self.exceptions[key] = "".join(c for c in "rwm" if c in old or c in access)
            return
        # Removing an exception. cgroup v1 silently ignores removing part of a wildcard
        # exception; runc refuses it (a false sense of security otherwise), and so do we.
        for partial in ((kind, WILDCARD, minor), (kind, major, WILDCARD), (kind, WILDCARD, WILDCARD)):
            if partial != key and set(self.exceptions.get(partial, "")) & set(access):
                raise BadSpec(f"device rule {rule_text(kind, major, minor, access)!r} cannot take access away "
                              f"from the wider rule {rule_text(*partial, self.exceptions[partial])!r} "
                              "(the devices cgroup cannot punch a hole in a wildcard rule)")
        left = "".join(c for c in self.exceptions.get(key, "") if c not in access)
        if left:
            self.exceptions[key] = left
        else:
            self.exceptions.pop(key, None)

    def ordered(self) -> list:
        """Exceptions as (type, major, minor, access), sorted by (major, minor, type) as runc."""
        return [(*k, v) for k, v in sorted(self.exceptions.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0]))]

    def allows(self, kind: str, major: int, minor: int, access: str) -> bool:
        """What the kernel answers for one request (type b|c, exact numbers, access ⊆ rwm)."""
        for (k, ma, mi), acc in self.exceptions.items():
            if k == kind and ma in (WILDCARD, major) and mi in (WILDCARD, minor) and set(access) <= set(acc):
                return not self.default_allow
        return self.default_allow

    def v1_writes(self) -> list:
        """(devices.allow|devices.deny, line) that bring a fresh cgroup to this state: the default
        first, then each exception."""
        first = ("devices.allow" if self.default_allow else "devices.deny", "a")
        other = "devices.deny" if self.default_allow else "devices.allow"
        return [first] + [(other, rule_text(*e)) for e in self.ordered()]


def effective(rules) -> Emulator:
    """What runc enforces for a spec's `linux.resources.devices`: deny all, those rules in order,
    then its AllowedDevices (appended to every container's, as runc does)."""
    emu = Emulator()
    for r in list(rules or ()) + list(RUNC_ALLOWED_RULES):
        emu.apply(r)
    return emu
