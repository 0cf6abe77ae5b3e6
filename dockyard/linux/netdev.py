"""Bringing a network interface up with one ioctl, without importing `socket` on the hot path."""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct

from dockyard.errors import SyscallError
from dockyard.linux.syscalls import CLONE_NEWNET, libc, setns

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def set_link_up(name: str) -> None:
    fd = libc.socket(2, 2 | 0o2000000, 0)  # AF_INET, SOCK_DGRAM | SOCK_CLOEXEC
    if fd < 0:
        raise SyscallError("socket", ctypes.get_errno(), "AF_INET")
    try:
        req = struct.pack("16sH14x", name.encode(), 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(fd, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(fd, SIOCSIFFLAGS, struct.pack("16sH14x", name.encode(), flags | IFF_UP))
    except OSError as e:
        raise SyscallError("ioctl", e.errno, f"SIOCSIFFLAGS {name} up") from None
    finally:
        os.close(fd)


def in_netns(pid: int, fn, *args):
    """Run fn(*args) inside the network namespace of `pid`, then return to ours.

    setns(CLONE_NEWNET) changes only the calling thread, and dockyard's CLI is single-threaded,
    so this is safe and costs two syscalls instead of a fork.
    """
    own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(target, CLONE_NEWNET, f"network namespace of pid {pid}")
        try:
            return fn(*args)
        finally:
            setns(own, CLONE_NEWNET, "our own network namespace")
    finally:
        os.close(own)
        os.close(target)
