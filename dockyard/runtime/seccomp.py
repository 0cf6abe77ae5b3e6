"""Compile an OCI ``linux.seccomp`` object into a classic-BPF seccomp program, as libseccomp would.

``compile_profile(profile)`` returns the packed ``struct sock_filter`` array that
`dockyard.linux.syscalls.seccomp_set_filter` loads (with ``filter_flags(profile)`` as flags), or
None for an empty profile. Only this machine's architecture is compiled (x86_64 or aarch64;
``arch=`` picks another for tests). The program, in order:

    ld arch;  jeq AUDIT_ARCH_<native> else → KILL              (libseccomp's bad-arch action)
    ld nr;    x86_64 only: nr ≥ 0x40000000 (x32 ABI) → KILL, but nr == -1 → default action
    binary search over syscall-number intervals → a shared RET for unconditional rules,
        a per-syscall argument block for conditional ones, or the default action;
        numbers above the largest syscall the profile names → ERRNO(ENOSYS) (runc's stub,
        so libc falls back for syscalls newer than the profile) unless the default allows
    per-syscall blocks: rules in profile order, each a chain of 64-bit argument tests
        split into hi/lo 32-bit halves; first matching rule's RET, else the default's RET

Semantics follow runc + libseccomp: names unknown on the architecture are skipped; a rule
whose action equals the default is dropped; an unconditional rule supersedes the conditional
ones of that syscall (the first unconditional one wins); conditions on the same argument
index twice turn into one rule per condition (OR), otherwise conditions AND. ``ERRNO`` and
``TRACE`` return ``errnoRet`` (default EPERM); the default action uses ``defaultErrnoRet``.
The x32 ABI and 32-bit compat syscalls (i386, arm) are killed, even when the profile lists
SCMP_ARCH_X32/X86/ARM: dockyard has no syscall tables for them. ``SCMP_ACT_NOTIFY`` is not
supported (it needs a listener process) and fails with `NotImplemented`.

BPF jumps reach at most 255 instructions ahead; the assembler below lays out with labels
and, where a conditional jump would reach further, inserts a trampoline after it (a 32-bit
``ja``, or a copy of the target when that is a ``ret``). Programs stay far below the
kernel's 4096-instruction limit (Docker's default profile: about 125).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from dockyard.errors import BadSpec
from dockyard.errors import NotImplemented as Unsupported
from dockyard.runtime.syscall_table import TABLES

# seccomp filter return values (<linux/seccomp.h>)
RET_KILL_PROCESS = 0x80000000
RET_KILL_THREAD = 0x00000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_USER_NOTIF = 0x7FC00000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000
RET_DATA = 0x0000FFFF
RET_BAD_ARCH = RET_KILL_THREAD  # libseccomp's default SCMP_FLTATR_ACT_BADARCH (SCMP_ACT_KILL)

EPERM = 1
ENOSYS = 38

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000
BPF_MAXINSNS = 4096

# struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
OFF_NR = 0
OFF_ARCH = 4

FILTER_FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1,
    "SECCOMP_FILTER_FLAG_LOG": 2,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32,
}
ARCHITECTURES = frozenset(
    "SCMP_ARCH_" + a for a in (
        "NATIVE X86 X86_64 X32 ARM AARCH64 MIPS MIPS64 MIPS64N32 MIPSEL MIPSEL64 MIPSEL64N32 "
        "PPC PPC64 PPC64LE S390 S390X PARISC PARISC64 RISCV64 LOONGARCH64 M68K SH SHEB").split()
)
OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
       "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ")

# classic BPF opcodes
LD_W_ABS = 0x20
ALU_AND_K = 0x54
JA = 0x05
JEQ = 0x15
JGT = 0x25
JGE = 0x35
JSET = 0x45
RET_K = 0x06
_CONDITIONAL = (JEQ, JGT, JGE, JSET)


def compile_profile(profile: dict | None, *, arch: str | None = None, enosys: bool = True) -> bytes | None:
    """The BPF program for an OCI ``linux.seccomp`` object, None when there is nothing to load.

    Raises `BadSpec` for a malformed profile and `NotImplemented` for SCMP_ACT_NOTIFY or an
    architecture without a syscall table. ``enosys=False`` leaves out runc's ENOSYS stub."""
    if not profile or (not profile.get("defaultAction") and not profile.get("syscalls")):
        return None
    arch = arch or os.uname().machine
    if arch not in AUDIT_ARCH or arch not in TABLES:
        raise Unsupported(f"seccomp is not supported on {arch} (dockyard knows x86_64 and aarch64)")
    table = TABLES[arch]
    for a in profile.get("architectures") or ():
        if a not in ARCHITECTURES:
            raise BadSpec(f"seccomp: unknown architecture {a!r}")
    filter_flags(profile)
    if not profile.get("defaultAction"):
        raise BadSpec("seccomp: defaultAction is required")
    default = _action(profile["defaultAction"], profile.get("defaultErrnoRet"), "defaultAction")

    unconditional: dict[int, int] = {}
    conditional: dict[int, list[tuple[list[_Cond], int]]] = {}
    largest = -1
    for i, rule in enumerate(profile.get("syscalls") or ()):
        where = f"syscalls[{i}]"
        names = rule.get("names") or ([rule["name"]] if rule.get("name") else [])
        if not names:
            raise BadSpec(f"seccomp: {where} names no syscall")
        action = _action(rule.get("action"), rule.get("errnoRet"), where)
        conds = [_cond(a, f"{where}.args[{j}]") for j, a in enumerate(rule.get("args") or ())]
        indexes = [c.index for c in conds]
        alternatives = [[c] for c in conds] if len(set(indexes)) < len(indexes) else [conds]
        for name in names:
            nr = table.get(name)
            if nr is None:
                continue  # not a syscall on this architecture: skipped, like libseccomp
            largest = max(largest, nr)
            if action == default:
                continue
            if not conds:
                unconditional.setdefault(nr, action)
            else:
                conditional.setdefault(nr, []).extend((alt, action) for alt in alternatives)
    for nr in unconditional:
        conditional.pop(nr, None)

    stub = (enosys and largest >= 0 and default != RET_ERRNO | ENOSYS
            and default & 0xFFFF0000 not in (RET_ALLOW, RET_LOG, RET_TRACE))
    return _generate(arch, default, unconditional, conditional, largest if stub else None)


def filter_flags(profile: dict | None) -> int:
    """The seccomp(2) flags for the profile's ``flags`` list (SECCOMP_FILTER_FLAG_*)."""
    flags = 0
    for name in (profile or {}).get("flags") or ():
        if name not in FILTER_FLAGS:
            raise BadSpec(f"seccomp: unknown filter flag {name!r}")
        flags |= FILTER_FLAGS[name]
    return flags


def action_value(name: str, errno_ret: int | None = None) -> int:
    """The SECCOMP_RET_* value of an OCI action name, e.g. ``SCMP_ACT_ERRNO`` → 0x50001."""
    return _action(name, errno_ret, "action")


# -- profile parsing ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cond:
    index: int
    op: str
    value: int
    value_two: int


def _action(name: str | None, errno_ret: int | None, where: str) -> int:
    data = EPERM if errno_ret is None else errno_ret
    if not isinstance(data, int) or isinstance(data, bool) or not 0 <= data <= RET_DATA:
        raise BadSpec(f"seccomp: {where}: errnoRet {errno_ret!r} is not a number in 0..65535")
    match name:
        case "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD":
            return RET_KILL_THREAD
        case "SCMP_ACT_KILL_PROCESS":
            return RET_KILL_PROCESS
        case "SCMP_ACT_TRAP":
            return RET_TRAP
        case "SCMP_ACT_ERRNO":
            return RET_ERRNO | data
        case "SCMP_ACT_TRACE":
            return RET_TRACE | data
        case "SCMP_ACT_ALLOW":
            return RET_ALLOW
        case "SCMP_ACT_LOG":
            return RET_LOG
        case "SCMP_ACT_NOTIFY":
            raise Unsupported(f"seccomp: {where}: SCMP_ACT_NOTIFY is not supported by dockyard",
                              hint="use SCMP_ACT_ERRNO or SCMP_ACT_TRACE for that syscall instead")
    raise BadSpec(f"seccomp: {where}: unknown action {name!r}")


def _cond(arg: dict, where: str) -> _Cond:
    index, op = arg.get("index"), arg.get("op")
    if not isinstance(index, int) or not 0 <= index <= 5:
        raise BadSpec(f"seccomp: {where}: argument index {index!r} is not 0..5")
    if op not in OPS:
        raise BadSpec(f"seccomp: {where}: unknown comparison {op!r}")
    values = []
    for key in ("value", "valueTwo"):
        v = arg.get(key) or 0
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 1 << 64:
            raise BadSpec(f"seccomp: {where}: {key} {v!r} is not a 64-bit unsigned number")
        values.append(v)
    return _Cond(index, op, values[0], values[1])


# -- code generation ---------------------------------------------------------------------


def _generate(arch: str, default: int, unconditional: dict[int, int],
              conditional: dict[int, list[tuple[list[_Cond], int]]], enosys_above: int | None) -> bytes:
    p = _Assembler()
    ret = _ret_label
    p.ld(OFF_ARCH)
    p.jump(JEQ, AUDIT_ARCH[arch], None, ret(RET_BAD_ARCH))
    p.ld(OFF_NR)
    if arch == "x86_64":
        p.jump(JGE, X32_SYSCALL_BIT, None, "dispatch")
        p.jump(JEQ, 0xFFFFFFFF, ret(default), ret(RET_BAD_ARCH))  # -1: a tracer skipping a call
        p.label("dispatch")

    targets = {nr: ret(action) for nr, action in unconditional.items()}
    targets.update({nr: f"sys{nr}" for nr in conditional})
    intervals: list[tuple[int, str]] = []  # (first number, target); the last runs to 2^32-1

    def add(start: int, target: str) -> None:
        if not intervals or intervals[-1][1] != target:
            intervals.append((start, target))

    nxt = 0
    for nr in sorted(targets):
        if nr > nxt:
            add(nxt, ret(default))
        add(nr, targets[nr])
        nxt = nr + 1
    if enosys_above is None:
        add(nxt, ret(default))
    else:
        if nxt <= enosys_above:
            add(nxt, ret(default))
        add(enosys_above + 1, ret(RET_ERRNO | ENOSYS))
    _search_tree(p, intervals)

    for nr in sorted(conditional):
        p.label(f"sys{nr}")
        for conds, action in conditional[nr]:
            fail = p.new_label()
            for c in conds:
                _emit_condition(p, c, fail)
            p.ret(action)
            p.label(fail)
        p.ret(default)

    for value in sorted(p.ret_targets):
        p.label(ret(value))
        p.ret(value)
    return p.assemble()


def _ret_label(value: int) -> str:
    return f"ret{value:08x}"


def _search_tree(p: _Assembler, intervals: list[tuple[int, str]]) -> None:
    """Binary search for the interval holding A (the syscall number); jump to its target."""
    if len(intervals) == 1:
        p.ja(intervals[0][1])
        return

    def node(lo: int, hi: int) -> None:  # code for intervals[lo..hi], hi > lo
        mid = (lo + hi + 1) // 2
        left = intervals[lo][1] if mid - 1 == lo else p.new_label()
        right = intervals[mid][1] if mid == hi else p.new_label()
        p.jump(JGE, intervals[mid][0], right, left if mid - 1 == lo else None)
        if mid - 1 != lo:
            p.label(left)
            node(lo, mid - 1)
        if mid != hi:
            p.label(right)
            node(mid, hi)

    node(0, len(intervals) - 1)


def _emit_condition(p: _Assembler, c: _Cond, fail: str) -> None:
    """Fall through when argument ``c.index`` passes, jump to ``fail`` when not (unsigned 64-bit)."""
    lo_off = 16 + 8 * c.index  # little-endian: low word first
    hi_off = lo_off + 4
    v_hi, v_lo = c.value >> 32, c.value & 0xFFFFFFFF
    ok = p.new_label()
    match c.op:
        case "SCMP_CMP_EQ":
            p.ld(hi_off)
            p.jump(JEQ, v_hi, None, fail)
            p.ld(lo_off)
            p.jump(JEQ, v_lo, None, fail)
        case "SCMP_CMP_NE":
            p.ld(hi_off)
            p.jump(JEQ, v_hi, None, ok)
            p.ld(lo_off)
            p.jump(JEQ, v_lo, fail, None)
        case "SCMP_CMP_GT" | "SCMP_CMP_GE":
            p.ld(hi_off)
            p.jump(JGT, v_hi, ok, None)
            p.jump(JEQ, v_hi, None, fail)
            p.ld(lo_off)
            p.jump(JGT if c.op == "SCMP_CMP_GT" else JGE, v_lo, None, fail)
        case "SCMP_CMP_LT" | "SCMP_CMP_LE":
            p.ld(hi_off)
            p.jump(JGT, v_hi, fail, None)
            p.jump(JEQ, v_hi, None, ok)
            p.ld(lo_off)
            p.jump(JGE if c.op == "SCMP_CMP_LT" else JGT, v_lo, fail, None)
        case "SCMP_CMP_MASKED_EQ":  # (arg & value) == valueTwo
            d_hi, d_lo = c.value_two >> 32, c.value_two & 0xFFFFFFFF
            for off, mask, datum in ((hi_off, v_hi, d_hi), (lo_off, v_lo, d_lo)):
                if mask == 0:
                    if datum != 0:
                        p.ja(fail)  # can never match
                    continue
                p.ld(off)
                if mask != 0xFFFFFFFF:
                    p.alu_and(mask)
                p.jump(JEQ, datum, None, fail)
    p.label(ok)


@dataclass(slots=True)
class _Insn:
    code: int
    k: int = 0
    jt: str | None = None  # label, or None for the next instruction
    jf: str | None = None


class _Assembler:
    """Straight-line BPF with forward labels; far conditional jumps get trampolines."""

    def __init__(self) -> None:
        self._items: list[_Insn | str] = []  # instructions and label names
        self._count = 0
        self.ret_targets: set[int] = set()

    def new_label(self) -> str:
        self._count += 1
        return f"L{self._count}"

    def label(self, name: str) -> None:
        self._items.append(name)

    def ld(self, offset: int) -> None:
        self._items.append(_Insn(LD_W_ABS, offset))

    def alu_and(self, k: int) -> None:
        self._items.append(_Insn(ALU_AND_K, k))

    def jump(self, code: int, k: int, jt: str | None, jf: str | None) -> None:
        for target in (jt, jf):
            self._note(target)
        self._items.append(_Insn(code, k, jt, jf))

    def ja(self, target: str) -> None:
        self._note(target)
        self._items.append(_Insn(JA, 0, target))

    def ret(self, value: int) -> None:
        self._items.append(_Insn(RET_K, value))

    def _note(self, target: str | None) -> None:
        if target is not None and target.startswith("ret"):
            self.ret_targets.add(int(target[3:], 16))

    def assemble(self) -> bytes:
        insns = [it for it in self._items if isinstance(it, _Insn)]
        at: dict[str, int] = {}  # label → index in insns of the instruction it names
        count = 0
        for it in self._items:
            if isinstance(it, str):
                if it in at:
                    raise AssertionError(f"seccomp assembler: label {it} defined twice")
                at[it] = count
            else:
                count += 1
        far: list[tuple[str, ...]] = [()] * len(insns)  # sides that go through a trampoline
        while True:
            pos, n = [], 0
            for i in range(len(insns)):
                pos.append(n)
                n += 1 + len(far[i])
            changed = False
            for i, ins in enumerate(insns):
                if ins.code not in _CONDITIONAL:
                    continue
                for side in ("jt", "jf"):
                    label = getattr(ins, side)
                    if label is None or side in far[i]:
                        continue
                    if pos[at[label]] - (pos[i] + 1) > 255:
                        far[i] += (side,)
                        changed = True
            if not changed:
                break
        if n > BPF_MAXINSNS:
            raise BadSpec(f"seccomp profile compiles to {n} BPF instructions; the kernel takes {BPF_MAXINSNS}")

        out = bytearray()

        def emit(code: int, jt: int, jf: int, k: int) -> None:
            if not (0 <= jt <= 255 and 0 <= jf <= 255 and 0 <= k <= 0xFFFFFFFF):
                raise AssertionError(f"seccomp assembler: bad jump {code:#x} {jt} {jf} {k}")
            out.extend(struct.pack("=HBBI", code, jt, jf, k))

        for i, ins in enumerate(insns):
            here = pos[i] + 1
            if ins.code == JA:
                emit(JA, 0, 0, pos[at[ins.jt]] - here)
            elif ins.code in _CONDITIONAL:
                sides = far[i]
                offs = []
                for side in ("jt", "jf"):
                    label = getattr(ins, side)
                    if label is None:
                        offs.append(len(sides))
                    elif side in sides:
                        offs.append(sides.index(side))
                    else:
                        offs.append(pos[at[label]] - here)
                emit(ins.code, offs[0], offs[1], ins.k)
                for t, side in enumerate(sides):
                    target = insns[at[getattr(ins, side)]]
                    if target.code == RET_K:
                        emit(RET_K, 0, 0, target.k)
                    else:
                        emit(JA, 0, 0, pos[at[getattr(ins, side)]] - (here + t + 1))
            else:
                emit(ins.code, 0, 0, ins.k)
        return bytes(out)
