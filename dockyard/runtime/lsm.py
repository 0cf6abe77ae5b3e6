"""Linux security module fields of a runtime spec: honoured where this host can, refused otherwise.

- `process.apparmorProfile`: applied as runc does (aa_change_onexec: "exec NAME" written to
  `/proc/self/attr/apparmor/exec`, or the older `/proc/self/attr/exec`, just before exec), so the
  profile confines the process from its first instruction. A host without AppArmor cannot
  confine anything: the spec is refused before any process starts (runc fails the same spec later,
  at that write: "apparmor failed to apply profile: ... invalid argument").
- `process.selinuxLabel`, `linux.mountLabel`: dockyard-runtime labels neither processes nor
  mounts, so both are refused (runc refuses a process label without SELinux too, and its mounts
  fail with a `context=` option the kernel does not know). Silently running the container
  unlabelled would pretend a confinement that is not there.
"""

from __future__ import annotations

import os

from dockyard.errors import BadSpec


def apparmor_enabled() -> bool:
    """runc's test: AppArmor's securityfs directory exists and the module says it is enabled."""
    if not os.path.isdir("/sys/kernel/security/apparmor"):
        return False
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read(1) == "Y"
    except OSError:
        return False


def check(process: dict, linux: dict | None = None) -> None:
    """Refuse, before anything is started, the labels this host or runtime cannot apply."""
    profile = process.get("apparmorProfile")
    if profile:
        if not isinstance(profile, str):
            raise BadSpec(f"config.json: process.apparmorProfile must be a string, got {profile!r}")
        if not apparmor_enabled():
            raise BadSpec(f"config.json: process.apparmorProfile {profile!r} is set, but AppArmor is not "
                          "enabled on this host, so the profile cannot be applied")
    if process.get("selinuxLabel"):
        raise BadSpec(f"config.json: process.selinuxLabel {process['selinuxLabel']!r} is set, but "
                      "dockyard-runtime does not apply SELinux labels")
    if linux and linux.get("mountLabel"):
        raise BadSpec(f"config.json: linux.mountLabel {linux['mountLabel']!r} is set, but "
                      "dockyard-runtime does not apply SELinux labels to mounts")


def apply_apparmor_on_exec(process: dict) -> None:
    """Make the next execve enter `process.apparmorProfile` (no-op when none is set).

    Called in the container, after /proc is the container's own; an error aborts the start."""
    profile = process.get("apparmorProfile")
    if not profile:
        return
    path = "/proc/self/attr/apparmor/exec"
    if not os.path.exists(path):
        path = "/proc/self/attr/exec"  # kernels before 5.8
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            if _fstype_of(fd) != "proc":  # runc's EnsureProcHandle: nothing mounted over /proc
                raise OSError(22, "not on procfs", path)
            os.write(fd, f"exec {profile}".encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise BadSpec(f"apparmor failed to apply profile {profile!r}: write {path}: {e.strerror}") from e


def _fstype_of(fd: int) -> str:
    """The filesystem type of the mount an open file is on (fdinfo's mnt_id, looked up in
    mountinfo), "" when it cannot be told."""
    mnt_id = ""
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            if line.startswith("mnt_id:"):
                mnt_id = line.split()[1]
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == mnt_id and "-" in fields:
                return fields[fields.index("-") + 1]
    return ""
