"""Compiled seccomp programs loaded into the real kernel, each in a forked child that reports
through its exit status (0 = every check passed, otherwise the number of the failed check)."""

from __future__ import annotations

import errno
import os
import signal
import tempfile

import pytest

from dockyard.errors import SyscallError
from dockyard.linux import syscalls as sc
from dockyard.runtime.seccomp import compile_profile, filter_flags
from dockyard.runtime.seccomp_default import default_profile

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(os.uname().machine not in ("x86_64", "aarch64"), reason="no syscall table"),
]

DOCKER_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]


def in_child(profile: dict, checks) -> int:
    """Fork; the child loads ``profile`` then runs ``checks()`` (returns 0 or a failure number).
    Returns the raw wait status."""
    prog = compile_profile(profile)
    flags = filter_flags(profile)
    pid = os.fork()
    if pid == 0:
        code = 120
        try:
            sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
            sc.seccomp_set_filter(prog, flags)
            code = checks()
        except BaseException:  # noqa: BLE001 - anything unexpected is a failure code
            code = 121
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


def test_errno_rule_blocks_mkdir_and_nothing_else():
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "blocked")

        def checks() -> int:
            try:
                os.mkdir(target)
                return 1
            except OSError as e:
                if e.errno != errno.EPERM:
                    return 2
            if os.getpid() <= 0 or os.getppid() <= 0:
                return 3
            if not os.path.isdir(tmp):  # stat and friends still work
                return 4
            with open(os.path.join(tmp, "file"), "w") as f:
                f.write("ok")
            return 0

        status = in_child(profile, checks)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
        assert not os.path.exists(target)
        assert os.path.exists(os.path.join(tmp, "file"))


def test_kill_process_action_kills_with_sigsys():
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}

    def checks() -> int:
        os.getppid()
        return 1

    status = in_child(profile, checks)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS, status


def test_docker_default_profile_runs_python_and_denies_privileged_calls():
    profile = default_profile(DOCKER_CAPS)
    with tempfile.TemporaryDirectory() as tmp:

        def checks() -> int:
            path = os.path.join(tmp, "data")
            with open(path, "w") as f:
                f.write("hello")
            with open(path) as f:
                if f.read() != "hello":
                    return 1
            if "data" not in os.listdir(tmp):
                return 2
            pid = os.fork()  # clone() without namespace flags is allowed
            if pid == 0:
                os._exit(7)
            _, st = os.waitpid(pid, 0)
            if not (os.WIFEXITED(st) and os.WEXITSTATUS(st) == 7):
                return 3
            try:
                sc.mount("tmpfs", tmp, "tmpfs")
                return 4
            except SyscallError as e:
                if e.errno != errno.EPERM:
                    return 5
            try:
                sc.unshare(sc.CLONE_NEWUSER)
                return 6
            except SyscallError as e:
                if e.errno != errno.EPERM:
                    return 7
            r, w = os.pipe()
            os.write(w, b"x")
            if os.read(r, 1) != b"x":
                return 8
            return 0

        status = in_child(profile, checks)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (
            f"check {os.WEXITSTATUS(status)} failed" if os.WIFEXITED(status) else f"signal {os.WTERMSIG(status)}")
