"""The seccomp compiler, checked by running its BPF in a small interpreter over crafted
``struct seccomp_data`` and comparing with a straightforward model of the profile's meaning."""

from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest

from dockyard import errors
from dockyard.runtime import seccomp
from dockyard.runtime.seccomp import (
    AUDIT_ARCH, RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS, RET_KILL_THREAD, RET_LOG, RET_TRACE, RET_TRAP,
    compile_profile, filter_flags,
)
from dockyard.runtime.seccomp_default import BASE_SYSCALLS, default_profile, docker_profile, resolve
from dockyard.runtime.syscall_table import TABLES

DOCKER_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]
ALL_CAPS = DOCKER_CAPS + ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_BOOT", "CAP_SYS_MODULE",
                          "CAP_SYS_TIME", "CAP_SYS_NICE", "CAP_DAC_READ_SEARCH", "CAP_BPF", "CAP_PERFMON"]
ARCHES = ("x86_64", "aarch64")
EPERM_RET = RET_ERRNO | 1
ENOSYS_RET = RET_ERRNO | 38
AUDIT_ARCH_I386 = 0x40000003
CLONE_NEWUSER = 0x10000000
SIGCHLD = 17
CLONE_VM_THREAD_FLAGS = 0x3D0F00  # what pthread_create passes to clone


# -- a classic-BPF interpreter, with the kernel's load-time checks -----------------------


def insns(prog: bytes) -> list[tuple[int, int, int, int]]:
    assert len(prog) % 8 == 0
    return [struct.unpack_from("=HBBI", prog, o) for o in range(0, len(prog), 8)]


def validate(prog: bytes) -> None:
    """What the kernel's sk_chk_filter + seccomp_check_filter would reject."""
    code = insns(prog)
    assert 0 < len(code) <= 4096
    for pc, (op, jt, jf, k) in enumerate(code):
        if op == 0x20:  # ld [k]
            assert k % 4 == 0 and k < 64, f"{pc}: bad load offset {k}"
        elif op == 0x05:
            assert pc + 1 + k < len(code), f"{pc}: ja out of range"
        elif op in (0x15, 0x25, 0x35, 0x45):
            assert pc + 1 + max(jt, jf) < len(code), f"{pc}: jump out of range"
        else:
            assert op in (0x54, 0x06), f"{pc}: opcode {op:#x} not allowed"
    assert code[-1][0] == 0x06, "program must end in ret"


def run(prog: bytes, nr: int, arch: int, args: tuple[int, ...] = (0,) * 6) -> int:
    args = tuple(args) + (0,) * (6 - len(args))
    data = struct.pack("=iIQ6Q", nr if nr < 1 << 31 else nr - (1 << 32), arch, 0, *args)
    code = insns(prog)
    pc = a = 0
    while True:
        op, jt, jf, k = code[pc]
        pc += 1
        if op == 0x20:
            a = struct.unpack_from("=I", data, k)[0]
        elif op == 0x54:
            a &= k
        elif op == 0x05:
            pc += k
        elif op == 0x06:
            return k
        else:
            taken = {0x15: a == k, 0x25: a > k, 0x35: a >= k, 0x45: bool(a & k)}[op]
            pc += jt if taken else jf


def nr_of(arch: str, name: str) -> int:
    return TABLES[arch][name]


# -- a direct model of what a profile means (libseccomp/runc semantics) ----------------


def _test(op: str, arg: int, value: int, value_two: int) -> bool:
    return {
        "SCMP_CMP_NE": arg != value, "SCMP_CMP_LT": arg < value, "SCMP_CMP_LE": arg <= value,
        "SCMP_CMP_EQ": arg == value, "SCMP_CMP_GE": arg >= value, "SCMP_CMP_GT": arg > value,
        "SCMP_CMP_MASKED_EQ": arg & value == value_two,
    }[op]


def model(profile: dict, arch: str, nr: int, args=(0,) * 6) -> int:
    table = TABLES[arch]
    default = seccomp.action_value(profile["defaultAction"], profile.get("defaultErrnoRet"))
    if arch == "x86_64" and nr & 0x40000000:
        return default if nr == 0xFFFFFFFF else RET_KILL_THREAD
    rules = [r for r in profile["syscalls"] if any(table.get(n) == nr for n in r["names"])]
    rules = [r for r in rules if seccomp.action_value(r["action"], r.get("errnoRet")) != default]
    for r in rules:
        if not r.get("args"):
            return seccomp.action_value(r["action"], r.get("errnoRet"))
    for r in rules:
        conds = r["args"]
        passed = [_test(c["op"], args[c["index"]], c.get("value", 0), c.get("valueTwo", 0)) for c in conds]
        same_index_twice = len({c["index"] for c in conds}) < len(conds)
        if (any(passed) if same_index_twice else all(passed)):
            return seccomp.action_value(r["action"], r.get("errnoRet"))
    known = [table[n] for r in profile["syscalls"] for n in r["names"] if n in table]
    allows = default & 0xFFFF0000 in (RET_ALLOW, RET_LOG, RET_TRACE)
    if known and nr > max(known) and not allows and default != ENOSYS_RET:
        return ENOSYS_RET
    return default


# -- Docker's default profile -----------------------------------------------------------


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("caps", [DOCKER_CAPS, ALL_CAPS, []], ids=["docker-caps", "many-caps", "no-caps"])
def test_default_profile_compiles_and_is_valid(arch, caps):
    prog = compile_profile(default_profile(caps, arch=arch), arch=arch)
    validate(prog)
    assert len(prog) // 8 < 400


@pytest.mark.parametrize("arch", ARCHES)
def test_default_profile_decisions(arch):
    prog = compile_profile(default_profile(DOCKER_CAPS, arch=arch), arch=arch)
    me = AUDIT_ARCH[arch]
    nr = lambda name: nr_of(arch, name)  # noqa: E731

    for name in ("read", "write", "openat", "close", "execve", "exit_group", "futex", "getpid",
                 "mmap", "rt_sigaction", "wait4", "mkdirat", "statx", "mseal"):
        assert run(prog, nr(name), me) == RET_ALLOW, name
    for name in ("mount", "umount2", "unshare", "setns", "reboot", "kexec_load", "init_module",
                 "bpf", "keyctl", "add_key", "pivot_root", "swapon"):
        assert run(prog, nr(name), me) == EPERM_RET, name
    # clone: plain fork/thread flags allowed, any namespace flag denied
    assert run(prog, nr("clone"), me, (SIGCHLD,)) == RET_ALLOW
    assert run(prog, nr("clone"), me, (CLONE_VM_THREAD_FLAGS,)) == RET_ALLOW
    assert run(prog, nr("clone"), me, (SIGCHLD | CLONE_NEWUSER,)) == EPERM_RET
    assert run(prog, nr("clone"), me, (0x20000,)) == EPERM_RET  # CLONE_NEWNS
    assert run(prog, nr("clone3"), me) == ENOSYS_RET
    # socket: everything but AF_ALG (38) and AF_VSOCK (40)
    for domain, want in ((1, RET_ALLOW), (2, RET_ALLOW), (10, RET_ALLOW), (16, RET_ALLOW), (37, RET_ALLOW),
                         (38, EPERM_RET), (39, RET_ALLOW), (40, EPERM_RET), (41, RET_ALLOW),
                         (1 << 32 | 2, RET_ALLOW)):  # high half set: > 40, as libseccomp compares
        assert run(prog, nr("socket"), me, (domain, 1, 0)) == want, domain
    # personality: only the listed personas
    for persona, want in ((0, RET_ALLOW), (8, RET_ALLOW), (0x20000, RET_ALLOW), (0xFFFFFFFF, RET_ALLOW),
                          (1, EPERM_RET), (0x0040000, EPERM_RET), (1 << 32, EPERM_RET)):
        assert run(prog, nr("personality"), me, (persona,)) == want, persona
    # a syscall number beyond anything the profile names: ENOSYS so libc can fall back
    assert run(prog, 470, me) == ENOSYS_RET
    assert run(prog, 100000, me) == ENOSYS_RET
    # wrong architecture: killed (libseccomp's bad-arch action)
    other = AUDIT_ARCH["aarch64" if arch == "x86_64" else "x86_64"]
    for bad in (other, AUDIT_ARCH_I386, 0x40000028, 0):
        assert run(prog, nr("read"), bad) == RET_KILL_THREAD


def test_default_profile_x32_and_minus_one_on_x86_64():
    prog = compile_profile(default_profile(DOCKER_CAPS, arch="x86_64"), arch="x86_64")
    me = AUDIT_ARCH["x86_64"]
    for nr in (0x40000000, 0x40000000 | 0, 0x40000000 | 39, 0x40000000 | 512, 0x7FFFFFFF):
        assert run(prog, nr, me) == RET_KILL_THREAD, hex(nr)
    assert run(prog, 0xFFFFFFFF, me) == EPERM_RET  # a tracer's "skip this call" is not killed


def test_default_profile_with_cap_sys_admin_allows_namespaces():
    prog = compile_profile(default_profile(DOCKER_CAPS + ["SYS_ADMIN"], arch="x86_64"), arch="x86_64")
    me = AUDIT_ARCH["x86_64"]
    assert run(prog, nr_of("x86_64", "clone"), me, (SIGCHLD | CLONE_NEWUSER,)) == RET_ALLOW
    for name in ("clone3", "mount", "unshare", "setns", "umount2", "sethostname"):
        assert run(prog, nr_of("x86_64", name), me) == RET_ALLOW, name
    assert run(prog, nr_of("x86_64", "reboot"), me) == EPERM_RET


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("caps", [DOCKER_CAPS, ALL_CAPS])
def test_every_syscall_number_matches_the_model(arch, caps):
    profile = default_profile(caps, arch=arch)
    prog = compile_profile(profile, arch=arch)
    me = AUDIT_ARCH[arch]
    arg_sets = [(0,) * 6, (SIGCHLD | CLONE_NEWUSER, 1 << 40, 3, 4, 5, 6), (40, 38, 0, 0, 0, 0)]
    for nr in list(range(0, 1100)) + [0x3FFFFFFF, 0xFFFFFFFF]:
        for args in arg_sets:
            assert run(prog, nr, me, args) == model(profile, arch, nr, args), (nr, args)


def test_allow_list_names_are_allowed_when_the_arch_has_them():
    for arch in ARCHES:
        prog = compile_profile(default_profile(DOCKER_CAPS, arch=arch), arch=arch)
        for name in BASE_SYSCALLS:
            if name in TABLES[arch]:
                assert run(prog, TABLES[arch][name], AUDIT_ARCH[arch]) == RET_ALLOW, (arch, name)


# -- the compiler on its own ----------------------------------------------------------------

VALUES = [0, 1, 2, 0x7F, 0xFFFFFFFE, 0xFFFFFFFF, 1 << 32, (1 << 32) + 1, (5 << 32) | 7, (5 << 32) | 8,
          (5 << 32) | 6, (4 << 32) | 0xFFFFFFFF, (6 << 32), 1 << 63, (1 << 64) - 1, (1 << 64) - 2]


@pytest.mark.parametrize("op", seccomp.OPS)
@pytest.mark.parametrize("arch", ARCHES)
def test_argument_comparisons_are_64_bit(op, arch):
    me = AUDIT_ARCH[arch]
    for value in [(5 << 32) | 7, 0, 0xFFFFFFFF, 1 << 32, (1 << 64) - 1]:
        for value_two in ([0, 7, (5 << 32) | 7, 1 << 32] if op == "SCMP_CMP_MASKED_EQ" else [0]):
            profile = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 3, "op": op, "value": value, "valueTwo": value_two}]}]}
            prog = compile_profile(profile, arch=arch)
            validate(prog)
            for arg in VALUES:
                want = RET_ALLOW if _test(op, arg, value, value_two) else EPERM_RET
                assert run(prog, nr_of(arch, "read"), me, (0, 0, 0, arg)) == want, (op, value, value_two, arg)


def test_conditions_and_together_but_or_on_the_same_index():
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
         "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 1}, {"index": 1, "op": "SCMP_CMP_EQ", "value": 9}]},
        {"names": ["tkill"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 1}, {"index": 0, "op": "SCMP_CMP_EQ", "value": 2}]},
    ]}
    prog = compile_profile(profile, arch="x86_64")
    me, kill, tkill = AUDIT_ARCH["x86_64"], nr_of("x86_64", "kill"), nr_of("x86_64", "tkill")
    assert run(prog, kill, me, (1, 9)) == RET_ERRNO | 13
    assert run(prog, kill, me, (1, 15)) == RET_ALLOW
    assert run(prog, kill, me, (2, 9)) == RET_ALLOW
    assert run(prog, tkill, me, (1,)) == EPERM_RET
    assert run(prog, tkill, me, (2,)) == EPERM_RET
    assert run(prog, tkill, me, (3,)) == RET_ALLOW
    assert run(prog, 1000, me) == RET_ALLOW  # an allowing default gets no ENOSYS stub


def test_unconditional_rule_supersedes_conditional_and_default_rules_are_dropped():
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_TRAP", "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 5}]},
        {"names": ["read"], "action": "SCMP_ACT_LOG"},
        {"names": ["read"], "action": "SCMP_ACT_KILL_PROCESS"},
        {"names": ["write"], "action": "SCMP_ACT_ERRNO"},  # same as the default: dropped
        {"names": ["write"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
        {"names": ["close"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},  # dropped, but still named
    ]}
    prog = compile_profile(profile, arch="x86_64")
    me = AUDIT_ARCH["x86_64"]
    assert run(prog, 0, me, (5,)) == RET_LOG
    assert run(prog, 1, me) == RET_TRACE | 7
    assert run(prog, 2, me) == EPERM_RET
    assert run(prog, 3, me) == EPERM_RET
    assert run(prog, 4, me) == ENOSYS_RET  # above every syscall the profile names


@pytest.mark.parametrize("action, want", [
    ("SCMP_ACT_KILL", RET_KILL_THREAD), ("SCMP_ACT_KILL_THREAD", RET_KILL_THREAD),
    ("SCMP_ACT_KILL_PROCESS", RET_KILL_PROCESS), ("SCMP_ACT_TRAP", RET_TRAP),
    ("SCMP_ACT_ERRNO", EPERM_RET), ("SCMP_ACT_TRACE", RET_TRACE | 1), ("SCMP_ACT_LOG", RET_LOG),
])
def test_actions(action, want):
    prog = compile_profile({"defaultAction": "SCMP_ACT_ALLOW",
                            "syscalls": [{"names": ["getppid"], "action": action}]}, arch="aarch64")
    assert run(prog, nr_of("aarch64", "getppid"), AUDIT_ARCH["aarch64"]) == want
    assert run(prog, nr_of("aarch64", "getpid"), AUDIT_ARCH["aarch64"]) == RET_ALLOW


def test_default_errno_ret_and_enosys_default():
    prog = compile_profile({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}, arch="x86_64")
    assert run(prog, 1, AUDIT_ARCH["x86_64"]) == ENOSYS_RET
    prog = compile_profile({"defaultAction": "SCMP_ACT_KILL_PROCESS",
                            "syscalls": [{"names": ["read", "close"], "action": "SCMP_ACT_ALLOW"}]}, arch="x86_64")
    assert run(prog, 0, AUDIT_ARCH["x86_64"]) == RET_ALLOW
    assert run(prog, 1, AUDIT_ARCH["x86_64"]) == RET_KILL_PROCESS
    assert run(prog, 3, AUDIT_ARCH["x86_64"]) == RET_ALLOW
    assert run(prog, 100, AUDIT_ARCH["x86_64"]) == ENOSYS_RET  # runc's stub applies to kill defaults too


def test_names_unknown_on_the_arch_are_skipped():
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["no_such_call", "socketcall", "arch_prctl"], "action": "SCMP_ACT_ALLOW"}]}
    arm = compile_profile(profile, arch="aarch64")  # arm64 has none of them
    assert all(run(arm, nr, AUDIT_ARCH["aarch64"]) == EPERM_RET for nr in range(0, 500))
    x86 = compile_profile(profile, arch="x86_64")
    assert run(x86, nr_of("x86_64", "arch_prctl"), AUDIT_ARCH["x86_64"]) == RET_ALLOW


@pytest.mark.parametrize("arch", ARCHES)
def test_large_profile_needs_long_jumps_and_stays_correct(arch):
    # every syscall with a rule of 6 argument tests: blocks far beyond 255 instructions
    table = TABLES[arch]
    actions = ["SCMP_ACT_ALLOW", "SCMP_ACT_TRAP", "SCMP_ACT_LOG", "SCMP_ACT_KILL_PROCESS"]
    syscalls = []
    for i, name in enumerate(sorted(table)):
        if i % 3 == 0:
            syscalls.append({"names": [name], "action": actions[i % 4]})
        else:
            syscalls.append({"names": [name], "action": actions[i % 4], "args": [
                {"index": j, "op": "SCMP_CMP_EQ" if j % 2 else "SCMP_CMP_LE", "value": i + j} for j in range(2)]})
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": syscalls}
    prog = compile_profile(profile, arch=arch)
    validate(prog)
    assert len(prog) // 8 > 2000
    me = AUDIT_ARCH[arch]
    for nr in sorted(set(table.values())) + [500, 0xFFFFFFFF]:
        i = next((i for i, n in enumerate(sorted(table)) if table[n] == nr), 7)
        for args in [(0,) * 6, tuple(i + j for j in range(6)), tuple(i + j + 1 for j in range(6))]:
            assert run(prog, nr, me, args) == model(profile, arch, nr, args), (nr, args)


def test_docker_sized_allow_list_without_binary_search_friendly_numbers():
    # 350 separate names all with the same conditional rule: one block each, long jumps everywhere
    names = sorted(TABLES["x86_64"])[:350]
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": names, "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "op": "SCMP_CMP_NE", "value": 0}]}]}
    prog = compile_profile(profile, arch="x86_64")
    validate(prog)
    me = AUDIT_ARCH["x86_64"]
    for name in names:
        nr = TABLES["x86_64"][name]
        assert run(prog, nr, me, (1,)) == RET_ALLOW
        assert run(prog, nr, me, (0,)) == EPERM_RET


def test_empty_profiles_compile_to_nothing():
    assert compile_profile(None) is None
    assert compile_profile({}) is None
    assert compile_profile({"defaultAction": "", "syscalls": []}) is None


def test_notify_is_not_supported():
    with pytest.raises(errors.NotImplemented):
        compile_profile({"defaultAction": "SCMP_ACT_ERRNO",
                         "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}, arch="x86_64")
    with pytest.raises(errors.NotImplemented):
        compile_profile({"defaultAction": "SCMP_ACT_NOTIFY"}, arch="x86_64")
    with pytest.raises(errors.NotImplemented):
        compile_profile({"defaultAction": "SCMP_ACT_ALLOW"}, arch="riscv64")


@pytest.mark.parametrize("profile", [
    {"defaultAction": "SCMP_ACT_NOPE"},
    {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000},
    {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_VAX"]},
    {"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]},
    {"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]},
    {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]},
    {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "ALLOW"}]},
    {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "op": "SCMP_CMP_EQ", "value": 1}]}]},
    {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "op": "SCMP_CMP_IN", "value": 1}]}]},
    {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": -1}]}]},
])
def test_malformed_profiles_are_bad_specs(profile):
    with pytest.raises(errors.BadSpec):
        compile_profile(profile, arch="x86_64")


def test_filter_flags():
    assert filter_flags(None) == 0
    assert filter_flags({"flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]}) == 6
    with pytest.raises(errors.BadSpec):
        filter_flags({"flags": ["nope"]})


# -- the Docker-format resolver ------------------------------------------------------------


def _names(profile, action="SCMP_ACT_ALLOW"):
    return {n for r in profile["syscalls"] if r["action"] == action and not r.get("args") for n in r["names"]}


def test_resolve_follows_capabilities_arches_and_kernel():
    plain = default_profile(DOCKER_CAPS, arch="x86_64", kernel="6.1.0-13-amd64")
    assert plain["defaultAction"] == "SCMP_ACT_ERRNO" and plain["defaultErrnoRet"] == 1
    assert plain["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = _names(plain)
    assert {"read", "arch_prctl", "modify_ldt", "ptrace", "chroot"} <= allowed
    assert not {"mount", "unshare", "reboot", "socket", "clone", "set_tls"} & allowed
    assert "clone3" in _names(plain, "SCMP_ACT_ERRNO")
    old_kernel = default_profile(DOCKER_CAPS, arch="x86_64", kernel="4.4.0")
    assert "ptrace" not in _names(old_kernel)

    admin = default_profile(["SYS_ADMIN", "sys_boot"], arch="aarch64")
    assert admin["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    allowed = _names(admin)
    assert {"mount", "unshare", "clone", "clone3", "reboot", "set_tls"} <= allowed
    assert "arch_prctl" not in allowed
    assert "clone3" not in _names(admin, "SCMP_ACT_ERRNO")
    assert not [r for r in admin["syscalls"] if r["names"] == ["clone"] and r.get("args")]


def test_resolve_rejects_ambiguous_profiles_and_passes_unconfined():
    assert resolve({}, []) is None
    with pytest.raises(errors.BadSpec):
        resolve({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                 "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}, [])
    with pytest.raises(errors.BadSpec):
        resolve({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "a", "names": ["b"]}]}, [])
    legacy = resolve({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read", "action": "SCMP_ACT_ALLOW"}]}, [])
    assert legacy["syscalls"] == [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]


def test_docker_profile_shape():
    p = docker_profile()
    assert len(BASE_SYSCALLS) == len(set(BASE_SYSCALLS)) > 350
    assert p["syscalls"][0]["names"] == list(BASE_SYSCALLS)
    assert {"socket", "mount", "ptrace", "clone", "clone3", "unshare", "reboot"}.isdisjoint(BASE_SYSCALLS)


# -- the syscall table -------------------------------------------------------------------------


def test_syscall_table_has_the_newer_syscalls():
    newer = {"clone3": 435, "close_range": 436, "openat2": 437, "faccessat2": 439, "epoll_pwait2": 441,
             "landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446,
             "memfd_secret": 447, "futex_waitv": 449, "cachestat": 451, "fchmodat2": 452,
             "map_shadow_stack": 453, "mseal": 462}
    for arch in ARCHES:
        for name, nr in newer.items():
            assert TABLES[arch][name] == nr, (arch, name)
    x86, arm = TABLES["x86_64"], TABLES["aarch64"]
    assert (x86["read"], x86["clone"], x86["seccomp"], x86["pivot_root"]) == (0, 56, 317, 155)
    assert (arm["read"], arm["clone"], arm["seccomp"], arm["pivot_root"]) == (63, 220, 277, 41)
    assert "open" not in arm and "renameat" in arm and arm["newfstatat"] == 79
    for table in TABLES.values():
        assert len(set(table.values())) == len(table)


def test_syscall_table_is_what_the_generator_writes():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = os.path.join(root, "scripts", "gen_syscall_table.py")
    headers = ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm-generic/unistd.h")
    if not all(os.path.exists(h) for h in headers):
        pytest.skip("linux-libc-dev headers not installed")
    out = subprocess.run([sys.executable, script, "-o", "-"], check=True, capture_output=True, text=True).stdout
    generated = {}
    exec(compile(out, "generated", "exec"), generated)  # noqa: S102 - our own generator's output
    for arch in ARCHES:
        for name, nr in generated["TABLES"][arch].items():
            assert TABLES[arch].get(name) == nr, (arch, name)
