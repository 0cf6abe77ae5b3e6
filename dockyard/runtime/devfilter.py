"""cgroup v2 device policy: an `Emulator` state (devices.py) → a BPF_PROG_TYPE_CGROUP_DEVICE
program, as runc's devicefilter.go (after crun's ebpf.c) writes it.

The kernel calls the program with `struct bpf_cgroup_dev_ctx {u32 access_type; u32 major; u32
minor;}` (access_type = access << 16 | type) and allows the access when it returns 1:

    r2 = type; r3 = access; r4 = major; r5 = minor
    for each exception:  if it matches, return the exception's verdict
    return the default

Pure module: instructions are packed with `struct`; loading and attaching is linux/bpf.py.
"""

from __future__ import annotations

import struct
import sys

from dockyard.runtime.devices import WILDCARD, Emulator

# include/uapi/linux/bpf.h
DEV_BLOCK, DEV_CHAR = 1, 2
ACC_MKNOD, ACC_READ, ACC_WRITE = 1, 2, 4
ACCESS_BITS = {"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}

# opcodes (class | op | source)
LDX_MEM_W = 0x61     # dst = *(u32 *)(src + off)
ALU_AND_K = 0x54     # dst32 &= imm
ALU_RSH_K = 0x74     # dst32 >>= imm
ALU_MOV_K = 0xB4     # dst32 = imm
ALU_MOV_X = 0xBC     # dst32 = src32
JMP32_JNE_K = 0x56   # if (u32)dst != imm goto +off
JMP32_JNE_X = 0x5E   # if (u32)dst != (u32)src goto +off
EXIT = 0x95

LICENSE = "Apache"  # runc's; the helpers this program uses need no GPL


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> tuple:
    return code, dst, src, off, imm


def _block(kind: str, major: int, minor: int, access: str, verdict: bool) -> list:
    """One exception: tests that jump past the block on a mismatch (offset filled in later as
    None), then `return verdict`."""
    out = [_insn(JMP32_JNE_K, 2, imm=DEV_CHAR if kind == "c" else DEV_BLOCK, off=None)]
    mask = 0
    for c in access:
        mask |= ACCESS_BITS[c]
    if mask != ACC_MKNOD | ACC_READ | ACC_WRITE:  # the asked access must lie within the rule's
        out += [_insn(ALU_MOV_X, 1, 3), _insn(ALU_AND_K, 1, imm=mask), _insn(JMP32_JNE_X, 1, 3, off=None)]
    if major != WILDCARD:
        out.append(_insn(JMP32_JNE_K, 4, imm=_s32(major), off=None))
    if minor != WILDCARD:
        out.append(_insn(JMP32_JNE_K, 5, imm=_s32(minor), off=None))
    out += [_insn(ALU_MOV_K, 0, imm=int(verdict)), _insn(EXIT)]
    n = len(out)
    return [(c, d, s, n - i - 1 if o is None else o, m) for i, (c, d, s, o, m) in enumerate(out)]


def _s32(v: int) -> int:
    """A u32 as the signed 32-bit immediate field holds it (JMP32 compares the low 32 bits)."""
    return v - (1 << 32) if v >= 1 << 31 else v


def instructions(emu: Emulator) -> list:
    """The program as (code, dst, src, off, imm) tuples."""
    prog = [_insn(LDX_MEM_W, 2, 1, 0), _insn(ALU_AND_K, 2, imm=0xFFFF),
            _insn(LDX_MEM_W, 3, 1, 0), _insn(ALU_RSH_K, 3, imm=16),
            _insn(LDX_MEM_W, 4, 1, 4), _insn(LDX_MEM_W, 5, 1, 8)]
    for kind, major, minor, access in emu.ordered():
        prog += _block(kind, major, minor, access, not emu.default_allow)
    prog += [_insn(ALU_MOV_K, 0, imm=int(emu.default_allow)), _insn(EXIT)]
    return prog


def encode(prog: list) -> bytes:
    """struct bpf_insn {u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm;} in host order."""
    little = sys.byteorder == "little"
    return b"".join(struct.pack("=BBhi", c, (s << 4 | d) if little else (d << 4 | s), o, m)
                    for c, d, s, o, m in prog)

