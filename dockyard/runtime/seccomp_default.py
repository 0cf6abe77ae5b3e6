"""Docker's default seccomp profile, and the resolver for Docker-format seccomp profiles.

The data is moby's ``profiles/seccomp/default.json`` (github.com/moby/profiles/seccomp v0.2.3,
as vendored by moby): an allow-list with ``defaultAction: SCMP_ACT_ERRNO`` (EPERM), a few
argument-filtered rules (socket, personality, clone), and groups that Docker adds only when the
container holds a capability (CAP_SYS_ADMIN unlocks mount, unshare, setns, clone with namespace
flags, clone3, …). Only the amd64 and arm64 parts of the ``archMap`` are kept: those are the
architectures dockyard compiles filters for.

Docker's profile format is a superset of the OCI ``linux.seccomp`` object: rules may carry
``includes`` / ``excludes`` (``caps``, ``arches``, ``minKernel``) and the file may carry an
``archMap``. `resolve` turns such a profile into the OCI object for one container, exactly as
moby's ``setupSeccomp`` does; `default_profile` is `resolve` over `docker_profile`.
``--privileged`` and ``seccomp=unconfined`` get no profile at all: that is the caller's call.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from dockyard.errors import BadSpec

ALLOW = "SCMP_ACT_ALLOW"

# Allowed for every container (on the architectures that have them; other names are skipped).
BASE_SYSCALLS: tuple[str, ...] = (
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
    "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
    "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat", "dup",
    "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat",
    "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
    "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
    "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
    "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
    "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv",
    "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
    "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
    "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
    "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
    "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area",
    "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "getxattrat", "inotify_add_watch",
    "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy",
    "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set",
    "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen",
    "listmount", "listxattr", "listxattrat", "llistxattr", "_llseek", "lremovexattr", "lseek",
    "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create",
    "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2",
    "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
    "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
    "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
    "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open",
    "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc",
    "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv",
    "preadv2", "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64",
    "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recv",
    "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr",
    "removexattrat", "rename", "renameat", "renameat2", "restart_syscall", "riscv_hwprobe",
    "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
    "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
    "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget",
    "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
    "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
    "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
    "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
    "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid",
    "setuid32", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt", "shmget", "shutdown",
    "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair",
    "splice", "stat", "stat64", "statfs", "statfs64", "statmount", "statx", "symlink", "symlinkat",
    "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
    "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask",
    "uname", "unlink", "unlinkat", "uretprobe", "utime", "utimensat", "utimensat_time64", "utimes",
    "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write", "writev",
)

# Docker's rules after the allow-list, in default.json's order, in Docker's own format.
_RULES: tuple[dict, ...] = (
    {"names": ("process_vm_readv", "process_vm_writev", "ptrace"), "includes": {"minKernel": "4.8"}},
    # socket(): everything but AF_ALG (38) and AF_VSOCK (40).
    {"names": ("socket",), "args": ({"index": 0, "value": 38, "op": "SCMP_CMP_LT"},)},
    {"names": ("socket",), "args": ({"index": 0, "value": 39, "op": "SCMP_CMP_EQ"},)},
    {"names": ("socket",), "args": ({"index": 0, "value": 40, "op": "SCMP_CMP_GT"},)},
    # personality(): PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and the 0xffffffff query.
    *({"names": ("personality",), "args": ({"index": 0, "value": v, "op": "SCMP_CMP_EQ"},)}
      for v in (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)),
    {"names": ("sync_file_range2", "swapcontext"), "includes": {"arches": ("ppc64le",)}},
    {"names": ("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
               "cacheflush", "set_tls"), "includes": {"arches": ("arm", "arm64")}},
    {"names": ("arch_prctl",), "includes": {"arches": ("amd64", "x32")}},
    {"names": ("modify_ldt",), "includes": {"arches": ("amd64", "x32", "x86")}},
    {"names": ("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"),
     "includes": {"arches": ("s390", "s390x")}},
    {"names": ("riscv_flush_icache",), "includes": {"arches": ("riscv64",)}},
    {"names": ("open_by_handle_at",), "includes": {"caps": ("CAP_DAC_READ_SEARCH",)}},
    {"names": ("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
               "lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr",
               "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl",
               "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount",
               "umount2", "unshare"),
     "includes": {"caps": ("CAP_SYS_ADMIN",)}},
    # clone() without CAP_SYS_ADMIN: no namespace flags (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|
    # NEWUSER|NEWPID|NEWNET = 0x7E020000); s390 swaps clone's first two arguments.
    {"names": ("clone",), "args": ({"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},),
     "excludes": {"caps": ("CAP_SYS_ADMIN",), "arches": ("s390", "s390x")}},
    {"names": ("clone",), "args": ({"index": 1, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},),
     "includes": {"arches": ("s390", "s390x")}, "excludes": {"caps": ("CAP_SYS_ADMIN",)}},
    # clone3() flags live in memory seccomp cannot read: ENOSYS makes libc fall back to clone().
    {"names": ("clone3",), "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ("CAP_SYS_ADMIN",)}},
    {"names": ("reboot",), "includes": {"caps": ("CAP_SYS_BOOT",)}},
    {"names": ("chroot",), "includes": {"caps": ("CAP_SYS_CHROOT",)}},
    {"names": ("delete_module", "init_module", "finit_module"), "includes": {"caps": ("CAP_SYS_MODULE",)}},
    {"names": ("acct",), "includes": {"caps": ("CAP_SYS_PACCT",)}},
    {"names": ("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"),
     "includes": {"caps": ("CAP_SYS_PTRACE",)}},
    {"names": ("iopl", "ioperm"), "includes": {"caps": ("CAP_SYS_RAWIO",)}},
    {"names": ("settimeofday", "stime", "clock_settime", "clock_settime64"), "includes": {"caps": ("CAP_SYS_TIME",)}},
    {"names": ("vhangup",), "includes": {"caps": ("CAP_SYS_TTY_CONFIG",)}},
    {"names": ("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
     "includes": {"caps": ("CAP_SYS_NICE",)}},
    {"names": ("syslog",), "includes": {"caps": ("CAP_SYSLOG",)}},
    {"names": ("bpf",), "includes": {"caps": ("CAP_BPF",)}},
    {"names": ("perf_event_open",), "includes": {"caps": ("CAP_PERFMON",)}},
)

# Docker's GOARCH-style names (used in includes/excludes) and SCMP_ARCH names per machine.
_DOCKER_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
_NATIVE_SCMP = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}
_ARCH_MAP = (
    {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ("SCMP_ARCH_X86", "SCMP_ARCH_X32")},
    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ("SCMP_ARCH_ARM",)},
)


def docker_profile() -> dict:
    """Docker's default profile in Docker's own format (what ``default.json`` holds)."""
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [dict(a, subArchitectures=list(a["subArchitectures"])) for a in _ARCH_MAP],
        "syscalls": [{"names": list(BASE_SYSCALLS), "action": ALLOW}]
        + [{**r, "names": list(r["names"]), "action": r.get("action", ALLOW)} for r in _RULES],
    }


def default_profile(capabilities: Iterable[str] = (), *, arch: str | None = None,
                    kernel: str | None = None) -> dict:
    """The OCI ``linux.seccomp`` object Docker gives a container with these (bounding)
    capabilities, e.g. ``default_profile(["CAP_CHOWN", …])``; "SYS_ADMIN" works too."""
    return resolve(docker_profile(), capabilities, arch=arch, kernel=kernel)


def resolve(profile: dict, capabilities: Iterable[str] = (), *, arch: str | None = None,
            kernel: str | None = None) -> dict | None:
    """Turn a Docker-format profile into the OCI object for one container, like moby's
    ``setupSeccomp``: pick the ``archMap`` entry of ``arch`` (default: this machine), keep the
    rules whose ``includes`` hold and whose ``excludes`` do not. None means "no seccomp"."""
    if not profile or (not profile.get("defaultAction") and not profile.get("syscalls")):
        return None
    if profile.get("architectures") and profile.get("archMap"):
        raise BadSpec("seccomp profile has both 'architectures' and 'archMap'; use one of them")
    machine = arch or os.uname().machine
    docker_arch = _DOCKER_ARCH.get(machine, machine)
    caps = {_cap_name(c) for c in capabilities}
    release = kernel or os.uname().release

    out = {k: v for k, v in profile.items() if k not in ("archMap", "syscalls", "architectures")}
    architectures = list(profile.get("architectures") or ())
    native = _NATIVE_SCMP.get(machine)
    for entry in profile.get("archMap") or ():
        if entry.get("architecture") == native:
            architectures = [native, *(entry.get("subArchitectures") or ())]
            break
    out["architectures"] = architectures

    syscalls = []
    for i, rule in enumerate(profile.get("syscalls") or ()):
        names = rule.get("names")
        if rule.get("name"):
            if names:
                raise BadSpec(f"seccomp profile syscalls[{i}] has both 'name' and 'names'")
            names = [rule["name"]]
        exc = rule.get("excludes") or {}
        inc = rule.get("includes") or {}
        if docker_arch in (exc.get("arches") or ()):
            continue
        if any(_cap_name(c) in caps for c in exc.get("caps") or ()):
            continue
        if exc.get("minKernel") and _kernel_at_least(release, exc["minKernel"]):
            continue
        if inc.get("arches") and docker_arch not in inc["arches"]:
            continue
        if any(_cap_name(c) not in caps for c in inc.get("caps") or ()):
            continue
        if inc.get("minKernel") and not _kernel_at_least(release, inc["minKernel"]):
            continue
        oci = {"names": list(names or ()), "action": rule.get("action")}
        if rule.get("args"):
            oci["args"] = [dict(a) for a in rule["args"]]
        for key in ("errnoRet", "comment"):
            if rule.get(key) is not None:
                oci[key] = rule[key]
        syscalls.append(oci)
    out["syscalls"] = syscalls
    return out


def _cap_name(name: str) -> str:
    name = name.upper()
    return name if name.startswith("CAP_") else "CAP_" + name


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("-")[0].split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit()) if piece else ""
        if not digits:
            break
        parts.append(int(digits))
    if not parts:
        raise BadSpec(f"not a kernel version: {text!r}")
    return tuple(parts)


def _kernel_at_least(release: str, minimum: str) -> bool:
    return _version(release) >= _version(minimum)


def known_syscalls() -> frozenset[str]:
    """Every syscall name dockyard knows: its tables (x86_64, aarch64) and Docker's profile, which
    also names other architectures' calls (those are skipped where they do not exist)."""
    from dockyard.runtime.syscall_table import TABLES

    names = set(BASE_SYSCALLS)
    for r in _RULES:
        names.update(r["names"])
    for table in TABLES.values():
        names.update(table)
    return frozenset(names)


def check_profile(profile: dict) -> None:
    """Check a Docker-format profile as a whole (every rule, whatever its includes), so a typo in
    a rule this container would skip is still an error: BadSpec naming the field."""
    from dockyard.runtime.seccomp import ARCHITECTURES, OPS, action_value, compile_profile, filter_flags

    def fail(msg: str):
        raise BadSpec(msg)

    def str_list(v, where: str) -> list:
        if v is None:
            return []
        if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
            fail(f"{where} must be a list of strings")
        return v

    if not isinstance(profile.get("defaultAction"), str):
        fail("defaultAction is required")
    errno = profile.get("defaultErrnoRet")
    action_value(profile["defaultAction"], errno if errno is not None else None)
    for a in str_list(profile.get("architectures"), "architectures"):
        if a not in ARCHITECTURES:
            fail(f"unknown architecture {a!r}")
    arch_map = profile.get("archMap") or []
    if not isinstance(arch_map, (list, tuple)):
        fail("archMap must be a list")
    for i, entry in enumerate(arch_map):
        if not isinstance(entry, dict):
            fail(f"archMap[{i}] must be an object")
        for a in [entry.get("architecture")] + str_list(entry.get("subArchitectures"), f"archMap[{i}]"):
            if a not in ARCHITECTURES:
                fail(f"archMap[{i}]: unknown architecture {a!r}")
    str_list(profile.get("flags"), "flags")
    filter_flags(profile)
    rules = profile.get("syscalls") or []
    if not isinstance(rules, (list, tuple)):
        fail("syscalls must be a list")
    known = known_syscalls()
    for i, rule in enumerate(rules):
        where = f"syscalls[{i}]"
        if not isinstance(rule, dict):
            fail(f"{where} must be an object")
        names = str_list(rule.get("names"), f"{where}.names")
        if rule.get("name") is not None:
            if not isinstance(rule["name"], str) or names:
                fail(f"{where}: 'name' must be a string, and not given with 'names'")
            names = [rule["name"]]
        if not names:
            fail(f"{where} names no syscall")
        for n in names:
            if n not in known:
                fail(f"{where}: unknown syscall {n!r}")
        if not isinstance(rule.get("action"), str):
            fail(f"{where}: action is required")
        action_value(rule["action"], rule.get("errnoRet"))
        args = rule.get("args") or []
        if not isinstance(args, (list, tuple)):
            fail(f"{where}.args must be a list")
        for j, arg in enumerate(args):
            at = f"{where}.args[{j}]"
            if not isinstance(arg, dict):
                fail(f"{at} must be an object")
            index = arg.get("index")
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= 5:
                fail(f"{at}: index {index!r} is not 0..5")
            if arg.get("op") not in OPS:
                fail(f"{at}: unknown op {arg.get('op')!r} (one of {', '.join(OPS)})")
            for key in ("value", "valueTwo"):
                v = arg.get(key, 0)
                if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 1 << 64:
                    fail(f"{at}: {key} {v!r} is not a 64-bit unsigned number")
        for key in ("includes", "excludes"):
            f = rule.get(key) or {}
            if not isinstance(f, dict):
                fail(f"{where}.{key} must be an object")
            for cap in str_list(f.get("caps"), f"{where}.{key}.caps"):
                if not _cap_name(cap)[4:].replace("_", "").isalnum():
                    fail(f"{where}.{key}: bad capability {cap!r}")
            str_list(f.get("arches"), f"{where}.{key}.arches")
            mk = f.get("minKernel")
            if mk is not None and (not isinstance(mk, str) or not mk.strip()):
                fail(f"{where}.{key}.minKernel must be a kernel version")
            if mk:
                _version(mk)
    # the whole program must fit the kernel's limit for the largest rule set (every capability)
    from dockyard.linux.syscalls import CAPABILITIES

    compile_profile(resolve(profile, CAPABILITIES))
