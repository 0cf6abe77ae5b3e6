"""ctypes wrappers for the system calls Python's `os` module lacks.

Every failure raises `SyscallError` naming the call and its arguments in words, so a user sees
``mount(overlay on /x/rootfs): Invalid argument`` rather than a bare errno. This module is
imported by the container init, so it stays tiny: ctypes and os only.
"""

from __future__ import annotations

import ctypes
import os

from dockyard.errors import SyscallError

_libc = ctypes.CDLL(None, use_errno=True)
libc = _libc  # the C library, for the other linux/ modules

# Syscall numbers glibc has no wrapper for, per architecture.
_NR = {
    "x86_64": {"pivot_root": 155, "capget": 125, "capset": 126, "seccomp": 317, "rt_sigaction": 13, "keyctl": 250,
               "mount_setattr": 442},
    "aarch64": {"pivot_root": 41, "capget": 90, "capset": 91, "seccomp": 277, "rt_sigaction": 134, "keyctl": 219,
                "mount_setattr": 442},
}[os.uname().machine]

# mount(2) flags
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000

MNT_FORCE = 1
MNT_DETACH = 2

# clone(2)/unshare(2) namespace flags
CLONE_NEWTIME = 0x80
CLONE_NEWNS = 0x20000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

NAMESPACE_FLAGS = {
    "mount": CLONE_NEWNS,
    "cgroup": CLONE_NEWCGROUP,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "user": CLONE_NEWUSER,
    "pid": CLONE_NEWPID,
    "network": CLONE_NEWNET,
    "time": CLONE_NEWTIME,
}
# /proc/<pid>/ns/<file> for each OCI namespace type
NAMESPACE_FILES = {
    "mount": "mnt", "cgroup": "cgroup", "uts": "uts", "ipc": "ipc",
    "user": "user", "pid": "pid", "network": "net", "time": "time",
}

# prctl(2) options
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_SET_SECCOMP = 22
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.setdomainname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.syscall.restype = ctypes.c_long


def _enc(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


def _check(ret: int, call: str, detail: str = "") -> int:
    if ret < 0:
        raise SyscallError(call, ctypes.get_errno(), detail)
    return ret


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    detail = f"{fstype or 'bind'} {source or ''} on {target}".replace("  ", " ")
    _check(_libc.mount(_enc(source), _enc(target), _enc(fstype), flags, _enc(data)), "mount", detail)


MOUNT_ATTR_RDONLY = 0x1
_AT_FDCWD = -100
_AT_RECURSIVE = 0x8000


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64)]


def mount_setattr(path: str, attr_set: int, *, recursive: bool) -> None:
    """mount_setattr(2) (Linux 5.12): set `attr_set` on the mount at `path`, and with `recursive`
    on every mount below it too (what a recursively read-only bind needs: MS_RDONLY on a remount
    reaches the top mount only)."""
    attr = _MountAttr(attr_set, 0, 0, 0)
    _check(_libc.syscall(_NR["mount_setattr"], _AT_FDCWD, _enc(path), _AT_RECURSIVE if recursive else 0,
                         ctypes.byref(attr), ctypes.sizeof(attr)), "mount_setattr", path)


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_enc(target), flags), "umount2", target)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare", hex(flags))


def setns(fd: int, nstype: int = 0, what: str = "") -> None:
    _check(_libc.setns(fd, nstype), "setns", what)


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_libc.syscall(_NR["pivot_root"], _enc(new_root), _enc(put_old)), "pivot_root", new_root)


def sethostname(name: str) -> None:
    b = name.encode()
    _check(_libc.sethostname(b, len(b)), "sethostname", name)


def setdomainname(name: str) -> None:
    b = name.encode()
    _check(_libc.setdomainname(b, len(b)), "setdomainname", name)


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_libc.prctl(option, arg2, arg3, arg4, arg5), "prctl", str(option))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_CAP_V3 = 0x20080522


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's capability sets from 64-bit masks."""
    hdr = _CapHeader(_CAP_V3, 0)
    data = (_CapData * 2)()
    for i in range(2):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.syscall(_NR["capset"], ctypes.byref(hdr), data), "capset")


def seccomp_set_filter(filter_bytes: bytes, flags: int = 0) -> None:
    """Load a classic-BPF seccomp program (struct sock_filter array, packed)."""

    class _SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    buf = ctypes.create_string_buffer(filter_bytes, len(filter_bytes))
    prog = _SockFprog(len(filter_bytes) // 8, ctypes.cast(buf, ctypes.c_char_p))
    # seccomp(SECCOMP_SET_MODE_FILTER=1, flags, &prog)
    _check(_libc.syscall(_NR["seccomp"], 1, flags, ctypes.byref(prog)), "seccomp")


# Capability names in number order (CAP_CHOWN = 0 … CAP_CHECKPOINT_RESTORE = 40).
CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
CAP_NUMBERS = {name: i for i, name in enumerate(CAPABILITIES)}


def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(CAPABILITIES) - 1


def cap_mask(names) -> int:
    """64-bit mask from capability names; unknown names are ignored here (validated earlier)."""
    mask = 0
    for n in names or ():
        i = CAP_NUMBERS.get(n.upper() if n.upper().startswith("CAP_") else "CAP_" + n.upper())
        if i is not None:
            mask |= 1 << i
    return mask


def default_disposition(sig: int) -> None:
    """rt_sigaction(sig, SIG_DFL) by the raw syscall: libc refuses the signals it reserves for
    itself (32 and 33), yet an ignore of them inherited from a caller survives exec like any other.
    An all-zero kernel sigaction is SIG_DFL, no flags, empty mask, on every architecture."""
    act = ctypes.create_string_buffer(64)
    _check(_libc.syscall(_NR["rt_sigaction"], sig, act, None, 8), "rt_sigaction", str(sig))


KEYCTL_JOIN_SESSION_KEYRING = 1
KEYCTL_SETPERM = 5
KEYCTL_DESCRIBE = 6
KEY_USR_SEARCH = 0x00080000


def join_session_keyring(name: str) -> int | None:
    """Join the session keyring called ``_ses.<name>`` (made if none this process may search has it),
    instead of the one inherited from the caller; its serial, or None where the kernel has no
    keyrings (ENOSYS, as runc tolerates). The keyring also gets user-search permission, so a
    process exec'd later into the container (possibly as another uid) joins the same one (runc's
    modKeyringPerm)."""
    serial = _libc.syscall(_NR["keyctl"], KEYCTL_JOIN_SESSION_KEYRING, _enc("_ses." + name))  # runc's name
    if serial < 0:
        err = ctypes.get_errno()
        if err == 38:  # ENOSYS
            return None
        raise SyscallError("keyctl", err, f"join session keyring {name}")
    buf = ctypes.create_string_buffer(512)
    n = _check(_libc.syscall(_NR["keyctl"], KEYCTL_DESCRIBE, serial, buf, len(buf)), "keyctl", "describe")
    perm = int(buf.raw[:max(n - 1, 0)].split(b";")[3], 16)  # "type;uid;gid;perm;description"
    _check(_libc.syscall(_NR["keyctl"], KEYCTL_SETPERM, serial, perm | KEY_USR_SEARCH), "keyctl", "setperm")
    return serial
