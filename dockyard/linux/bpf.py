"""bpf(2) for cgroup device programs: load a BPF_PROG_TYPE_CGROUP_DEVICE program and attach it to a
cgroup v2 directory, as runc and crun do. `union bpf_attr` is packed by hand (the layout of
include/uapi/linux/bpf.h); failures are `SyscallError`s, with the verifier's log when it refused.
"""

from __future__ import annotations

import ctypes
import os
import struct

from dockyard.errors import SyscallError

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

_NR_BPF = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351, "riscv64": 280}.get(os.uname().machine)

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_QUERY = 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2
_ATTR_SIZE = 128
_LOG_SIZE = 1 << 16


def _bpf(cmd: int, attr: ctypes.Array, call: str, detail: str) -> int:
    if _NR_BPF is None:
        raise SyscallError(call, 38, f"{detail}: no bpf(2) number known for {os.uname().machine}")  # ENOSYS
    ret = _libc.syscall(_NR_BPF, cmd, ctypes.byref(attr), _ATTR_SIZE)
    if ret < 0:
        raise SyscallError(call, ctypes.get_errno(), detail)
    return ret


def load_cgroup_device_program(insns: bytes, license: str = "Apache", name: str = "dockyard_dev") -> int:
    """BPF_PROG_LOAD → a program fd (close it once attached: the attachment holds the program)."""
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(license.encode())
    log = ctypes.create_string_buffer(_LOG_SIZE)
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    # prog_type, insn_cnt, insns, license, log_level, log_size, log_buf, kern_version, prog_flags,
    # prog_name[16], prog_ifindex, expected_attach_type
    struct.pack_into("=IIQQIIQII16sII", attr, 0, BPF_PROG_TYPE_CGROUP_DEVICE, len(insns) // 8,
                     ctypes.addressof(code), ctypes.addressof(lic), 0, 0, 0, 0, 0, name.encode()[:15],
                     0, BPF_CGROUP_DEVICE)
    try:
        return _bpf(BPF_PROG_LOAD, attr, "bpf", f"BPF_PROG_LOAD of a {len(insns) // 8}-instruction device program")
    except SyscallError as e:
        if e.errno not in (22, 13):  # EINVAL, EACCES: ask the verifier why
            raise
    struct.pack_into("=IIQ", attr, 24, 1, _LOG_SIZE, ctypes.addressof(log))
    try:
        return _bpf(BPF_PROG_LOAD, attr, "bpf", "BPF_PROG_LOAD of a device program")
    except SyscallError as e:
        text = log.value.decode(errors="replace").strip().splitlines()[-3:]
        raise SyscallError("bpf", e.errno, "BPF_PROG_LOAD of a device program; verifier: " + " / ".join(text)) from None


def attach_cgroup_device_program(cgroup_dir: str, prog_fd: int) -> None:
    """BPF_PROG_ATTACH to `cgroup_dir` (a cgroup2 directory) with BPF_F_ALLOW_MULTI, so programs
    of the ancestors keep running too: an access must pass every one of them."""
    fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        attr = ctypes.create_string_buffer(_ATTR_SIZE)
        # target_fd, attach_bpf_fd, attach_type, attach_flags
        struct.pack_into("=IIII", attr, 0, fd, prog_fd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)
        _bpf(BPF_PROG_ATTACH, attr, "bpf", f"BPF_PROG_ATTACH of a device program to {cgroup_dir}")
    finally:
        os.close(fd)


def attached_cgroup_device_programs(cgroup_dir: str) -> list[int]:
    """BPF_PROG_QUERY: the ids of the device programs attached to `cgroup_dir` itself."""
    fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        ids = (ctypes.c_uint32 * 64)()
        attr = ctypes.create_string_buffer(_ATTR_SIZE)
        # target_fd, attach_type, query_flags, attach_flags, prog_ids, prog_cnt
        struct.pack_into("=IIIIQI", attr, 0, fd, BPF_CGROUP_DEVICE, 0, 0, ctypes.addressof(ids), 64)
        _bpf(BPF_PROG_QUERY, attr, "bpf", f"BPF_PROG_QUERY of {cgroup_dir}")
        count = struct.unpack_from("=I", attr, 24)[0]
        return list(ids[:count])
    finally:
        os.close(fd)


def attach_device_filter(cgroup_dir: str, insns: bytes, license: str = "Apache") -> None:
    """Load and attach in one step."""
    prog = load_cgroup_device_program(insns, license)
    try:
        attach_cgroup_device_program(cgroup_dir, prog)
    finally:
        os.close(prog)
