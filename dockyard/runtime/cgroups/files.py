"""cgroup file access with errors that name the file and the value, and the walks over a
cgroup tree (its processes, its removal). Every failure is an `InvalidArgument` (the kernel refused a
value), `Unavailable` (a file is missing) or `SyscallError`, never a bare OSError.
Hot path module: only os, errno and time (all builtin) are imported."""

from __future__ import annotations

import errno
import os
import time

from dockyard.errors import DockyardError, InvalidArgument, SyscallError, Unavailable


def read_file(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno in (errno.ENODEV, errno.ESRCH):  # cgroup removed under us
            return None
        raise SyscallError("read", e.errno or errno.EIO, path) from None


def write_file(path: str, value: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Unavailable(f"cannot write {value!r} to {path}: no such file (is the controller mounted and "
                          "enabled for this cgroup?)") from None
    except OSError as e:
        raise SyscallError("open", e.errno or errno.EIO, f"{path} to write {value!r}") from None
    try:
        os.write(fd, value.encode())
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.ERANGE):
            raise InvalidArgument(f"invalid value {value!r} for {path}: the kernel refused it "
                                  f"({os.strerror(e.errno)})") from None
        hint = None
        if e.errno == errno.EBUSY and path.endswith(("limit_in_bytes", "memory.max")):
            hint = "the limit is below what the container already uses"
        elif e.errno == errno.ENOSPC and path.endswith("cgroup.procs"):
            hint = "the cgroup's cpuset.cpus or cpuset.mems is empty"
        raise SyscallError("write", e.errno or errno.EIO, f"{value!r} to {path}", hint=hint) from None
    finally:
        os.close(fd)


def int_file(path: str) -> int | None:
    s = read_file(path)
    if s is None:
        return None
    s = s.strip()
    if s == "max":
        return None
    try:
        return int(s)
    except ValueError:
        return None


def kv_file(path: str) -> dict:
    """`key value` lines (memory.stat, cpu.stat, memory.events, memory.oom_control) → {key: int}."""
    out = {}
    for line in (read_file(path) or "").splitlines():
        k, _, v = line.partition(" ")
        try:
            out[k] = int(v)
        except ValueError:
            continue
    return out


def procs_below(d: str, out: set) -> None:
    """Pids in cgroup `d` and every cgroup below it."""
    s = read_file(d + "/cgroup.procs")
    if s is None:
        return
    out.update(int(p) for p in s.split())
    try:
        subs = [e.path for e in os.scandir(d) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return
    for sub in subs:
        procs_below(sub, out)


def rmdir_tree(d: str, deadline: float) -> None:
    """rmdir a cgroup and its children, deepest first; tolerate already-removed ones and retry
    EBUSY (a cgroup stays populated for a moment after its last task exits) until `deadline`."""
    try:
        subs = [e.path for e in os.scandir(d) if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return
    except OSError as e:
        raise SyscallError("scandir", e.errno or errno.EIO, d) from None
    for sub in subs:
        rmdir_tree(sub, deadline)
    delay = 0.001
    while True:
        try:
            os.rmdir(d)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno == errno.EBUSY and time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
                continue
            raise SyscallError("rmdir", e.errno or errno.EIO, d,
                               hint="processes are still in it" if e.errno == errno.EBUSY else None) from None


def kill_pids(pids, sig: int) -> None:
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            pass  # not ours to signal (user namespace oddities); destroy's wait reports it


def enable_controllers(d: str) -> None:
    """Enable in `d`'s subtree_control every controller `d` has (runc does the same); one by one
    when the batch fails, ignoring refusals: a cgroup with processes of its own cannot delegate
    (the "no internal processes" rule), and a later write to the missing file names the problem."""
    have = (read_file(d + "/cgroup.controllers") or "").split()
    on = set((read_file(d + "/cgroup.subtree_control") or "").split())
    want = [c for c in have if c not in on]
    if not want:
        return
    try:
        write_file(d + "/cgroup.subtree_control", " ".join("+" + c for c in want))
    except DockyardError:
        for c in want:
            try:
                write_file(d + "/cgroup.subtree_control", "+" + c)
            except DockyardError:
                pass
