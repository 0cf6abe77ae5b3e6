"""The steps that turn a forked child into the container's process: one hardened sequence that
both the container's init (`init.py`, after its mounts and pivot_root) and `exec` (`exec.py`,
after joining the namespaces) go through, in runc's order, so the two cannot drift:

    `preload` (before the host's libraries become invisible) → `setup_console` (init: right after
    pivot_root, before the masked paths, as runc) → `become`: AppArmor profile (on exec) →
    rlimits → oom_score_adj → no_new_privs → seccomp (if it needs privileges) → capabilities + user →
    cwd → executable lookup → (the caller reports ready, init waits for `start`) → `execute`:
    close leaked fds → reset every signal's disposition and the mask → seccomp (with
    no_new_privs, last: fewer syscalls to allow) → execve.

Errors carry docker's exit codes: 125 (the runtime failed), 126 (cannot invoke), 127 (not found).
"""

from __future__ import annotations

from dockyard import jsonfast as json  # the C codec without `re` & co: a hot path

import os

from dockyard.linux import syscalls as sc
from dockyard.linux.signals import reset_signals
from dockyard.runtime.defaults import DEFAULT_PATH_ENV

# Not in Python's termios module; the asm-generic ioctl encoding, same on x86_64 and arm64.
TIOCSPTLCK = 0x40045431  # _IOW('T', 0x31, int)
TIOCGPTN = 0x80045430    # _IOR('T', 0x30, unsigned int)


class ExecError(Exception):
    """The process cannot be started: carries docker's exit code (125, 126 or 127)."""

    def __init__(self, msg: str, code: int) -> None:
        super().__init__(msg)
        self.code = code


def send(fd: int, **msg) -> None:
    """One JSON line to the parent over the sync pipe."""
    os.write(fd, (json.dumps(msg) + "\n").encode())


def compile_seccomp(profile: dict | None) -> tuple[bytes, int] | None:
    """(BPF program, filter flags) for an OCI seccomp profile; None when it filters nothing."""
    if not profile:
        return None
    from dockyard.runtime.seccomp import compile_profile, filter_flags

    prog = compile_profile(profile)
    return (prog, filter_flags(profile)) if prog else None


def preload(proc: dict) -> None:
    """Import what `become` needs while the host's Python library is still visible (before
    pivot_root, or before joining the container's mount namespace)."""
    if proc.get("terminal"):
        import fcntl, socket, struct, termios  # noqa: E401,F401
    if proc.get("rlimits"):
        import resource  # noqa: F401
    if proc.get("apparmorProfile"):
        from dockyard.runtime import lsm  # noqa: F401


def become(proc: dict, seccomp: tuple[bytes, int] | None) -> tuple[str, tuple | None]:
    """Give the calling process everything ``proc`` (an OCI process object) asks for, in the
    container it is already in: (path of the executable, seccomp still to load in `execute`)."""
    if proc.get("apparmorProfile"):  # takes effect at the exec, as runc's aa_change_onexec
        from dockyard.runtime import lsm  # loaded by `preload`

        lsm.apply_apparmor_on_exec(proc)
    for rl in proc.get("rlimits") or ():
        import resource

        kind = str(rl.get("type"))
        which = getattr(resource, kind, None) if kind.startswith("RLIMIT_") else None
        if which is None:  # spec.validate refuses these before init; a caller may skip it
            raise ExecError(f"wrong rlimit value: {kind}", 125)
        try:
            # the spec's uint64 RLIM_INFINITY (2^64-1, what runc takes) is Python's -1
            resource.setrlimit(which, tuple(resource.RLIM_INFINITY if isinstance(v, int) and v >= 1 << 63 else v
                                            for v in (rl["soft"], rl["hard"])))
        except (ValueError, OSError, TypeError, KeyError, OverflowError) as e:
            raise ExecError(f"setrlimit {rl['type']} ({rl.get('soft')}:{rl.get('hard')}): {e}", 125) from e
    if proc.get("oomScoreAdj") is not None:
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(proc["oomScoreAdj"]))
        except OSError as e:  # lowering it needs CAP_SYS_RESOURCE, which a sandboxed host may lack
            raise ExecError(f"write {proc['oomScoreAdj']} to /proc/self/oom_score_adj: {e.strerror} (lowering "
                            "the OOM score needs CAP_SYS_RESOURCE on the host)", 125) from e
    nnp = bool(proc.get("noNewPrivileges"))
    if nnp:
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    if seccomp is not None and seccomp[0] and not nnp:
        sc.seccomp_set_filter(*seccomp)  # needs CAP_SYS_ADMIN: before the capabilities go
    apply_user_and_caps(proc)
    cwd = proc.get("cwd") or "/"
    try:
        os.chdir(cwd)
    except OSError as e:
        raise ExecError(f"chdir to cwd ({cwd!r}) set in config.json failed: {e.strerror}", 125) from e
    return lookup(proc), (seccomp if seccomp is not None and seccomp[0] and nnp else None)


def execute(path: str, proc: dict, late_seccomp: tuple | None, *, preserve_fds: int = 0, before_exec=None):
    """The last steps, then execve; never returns (exit 126/127 when the exec fails).
    ``before_exec`` (init's startContainer hooks) runs right before the execve, as runc's."""
    close_on_exec_from(3 + preserve_fds)
    reset_signals()
    try:
        if late_seccomp is not None:
            sc.seccomp_set_filter(*late_seccomp)
        if before_exec is not None:
            before_exec()
        os.execve(path, proc["args"], env_dict(proc))
    except OSError as e:
        os.write(2, f"exec {proc['args'][0]}: {e.strerror}\n".encode())
        os._exit(127 if e.errno == 2 else 126)
    os._exit(125)


def env_dict(proc: dict) -> dict:
    env = {}
    for kv in proc.get("env") or ():
        k, _, v = kv.partition("=")
        env[k] = v
    return env


def lookup(proc: dict) -> str:
    """Find the executable as execvp would, reporting docker's 126/127 before `start`."""
    args = proc.get("args") or []
    if not args:
        raise ExecError("no command specified", 125)
    name = args[0]
    if "/" in name:
        candidates = [name]
    else:
        path = env_dict(proc).get("PATH", DEFAULT_PATH_ENV[5:])
        candidates = [os.path.join(d or ".", name) for d in path.split(":")]
    denied = None
    for c in candidates:
        if os.path.isfile(c):
            if os.access(c, os.X_OK):
                return c
            denied = c
        elif os.path.isdir(c) and "/" in name:
            raise ExecError(f'exec: "{name}": is a directory', 126)
    if denied:
        raise ExecError(f'exec: "{name}": permission denied', 126)
    if "/" in name:
        raise ExecError(f'exec: "{name}": stat {name}: no such file or directory', 127)
    raise ExecError(f'exec: "{name}": executable file not found in $PATH', 127)


def apply_user_and_caps(proc: dict) -> None:
    """Bounding set, then groups/gid/uid (keeping capabilities across the switch), umask, then
    the effective/permitted/inheritable sets and the ambient ones."""
    user = proc.get("user") or {}
    caps = proc.get("capabilities")
    if caps is not None:
        bounding = sc.cap_mask(caps.get("bounding"))
        for i in range(sc.last_cap() + 1):
            if not bounding & (1 << i):
                sc.prctl(sc.PR_CAPBSET_DROP, i)
        sc.prctl(sc.PR_SET_KEEPCAPS, 1)
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    os.setgroups([int(g) for g in user.get("additionalGids") or ()])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if "umask" in user:
        os.umask(int(user["umask"]))
    if caps is not None:
        sc.prctl(sc.PR_SET_KEEPCAPS, 0)
        sc.capset(sc.cap_mask(caps.get("effective")), sc.cap_mask(caps.get("permitted")),
                  sc.cap_mask(caps.get("inheritable")))
        for name in caps.get("ambient") or ():
            i = sc.cap_mask([name]).bit_length() - 1
            if i >= 0:
                try:
                    sc.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_RAISE, i)
                except sc.SyscallError as e:
                    if e.errno not in (1, 22):  # not in permitted+inheritable: runc ignores it too
                        raise


def dev_fstype() -> str:
    """The filesystem type of the mount on /dev (the last one listed), "" when none."""
    fstype = ""
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 6 and fields[4] == "/dev" and "-" in fields:
                    fstype = fields[fields.index("-") + 1]
    except OSError:
        pass
    return fstype


def setup_console(console_fd: int | None, proc: dict, *, mount_console: bool) -> None:
    """A pty made in the container's own devpts (as runc does): the slave becomes stdio and the
    controlling terminal, the master goes to the caller over ``console_fd`` (a unix socket).
    Init (``mount_console``) also binds it on /dev/console; an exec'd process must not, or it
    would take the container's console from init (runc's exec leaves it too)."""
    import fcntl  # already loaded by `preload`
    import socket
    import struct
    import termios

    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))  # unlockpt
    n = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0" * 4))[0]  # ptsname
    slave_path = f"/dev/pts/{n}"
    slave = os.open(slave_path, os.O_RDWR | os.O_NOCTTY)
    size = proc.get("consoleSize")
    if size:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size["height"], size["width"], 0, 0))
    # /dev/console is the container's terminal, as runc arranges it.
    if mount_console and (os.path.exists("/dev/console") or os.path.isdir("/dev")):
        try:
            if not os.path.lexists("/dev/console") and dev_fstype() == "tmpfs":  # never in a user's bind
                os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY, 0o600))
            sc.mount(slave_path, "/dev/console", None, sc.MS_BIND)
        except OSError:
            pass
    if console_fd is not None:
        sock = socket.socket(fileno=console_fd)
        socket.send_fds(sock, [slave_path.encode()], [master])
        sock.close()
    os.close(master)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def close_on_exec_from(first: int) -> None:
    """Whatever our caller leaked to us (conmon and shells do) must not reach the container."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= first:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass  # the listing's own fd, already closed
