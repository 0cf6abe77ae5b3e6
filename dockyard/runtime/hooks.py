"""OCI runtime hooks (config.json `hooks`): checking them, and running one list of them.

Where each kind runs (runtime-spec config.md "POSIX-platform Hooks" and runtime.md's lifecycle,
at the places runc runs them), and the state each gets on stdin:

    prestart, createRuntime  the runtime (`create`), once init's namespaces and mounts exist,
                             before pivot_root            "creating", pid = init's host pid
    createContainer          init, in the container's namespaces, before pivot_root, cwd the
                             rootfs (the path is the host's)  "creating", pid as init sees it (1)
    startContainer           init, after `start`, right before the exec (the path is resolved in
                             the container, run as the container's user)   "created", pid 1
    poststart                the runtime (`start`), once the user process is exec'd; `start`
                             returns after them        the derived status ("running"), host pid
    poststop                 the runtime (`delete`, or a failed `create`), once the container is
                             gone; a failure is a warning and the rest still run    "stopped"

As runc: `args` absent or empty runs `[path]`; `env` absent or empty inherits the caller's
environment (the runtime's, or the container process's for the two in-container kinds);
`timeout` kills the hook (here its whole process group) and fails it. A hook's stdout and stderr
are captured and quoted in the error when it fails.
"""

from __future__ import annotations

import os
import select
import signal
import time

from dockyard import jsonfast as json
from dockyard.errors import BadSpec, DockyardError

KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
_FIELDS = frozenset(("path", "args", "env", "timeout"))
_CAPTURE = 1 << 20  # bytes of a hook's stdout (and stderr) kept for its error message


class HookError(DockyardError):
    """A hook failed: it could not be started, exited non-zero, was killed or timed out."""


def validate(hooks) -> None:
    """BadSpec for anything the runtime could not run exactly as written."""
    if hooks is None:
        return
    if not isinstance(hooks, dict):
        raise BadSpec("config.json: hooks must be an object")
    for kind, entries in hooks.items():
        if kind not in KINDS:
            raise BadSpec(f"config.json: unknown hook kind hooks.{kind} (known: {', '.join(KINDS)})")
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise BadSpec(f"config.json: hooks.{kind} must be a list")
        for i, h in enumerate(entries):
            where = f"config.json: hooks.{kind}[{i}]"
            if not isinstance(h, dict):
                raise BadSpec(f"{where} must be an object")
            extra = sorted(set(h) - _FIELDS)
            if extra:
                raise BadSpec(f"{where}: unknown field {extra[0]!r} (a hook has path, args, env, timeout)")
            path = h.get("path")
            if not isinstance(path, str) or not path.startswith("/"):
                raise BadSpec(f"{where}.path must be an absolute path, got {path!r}")
            for field in ("args", "env"):
                v = h.get(field)
                if v is not None and (not isinstance(v, list) or not all(isinstance(s, str) for s in v)):
                    raise BadSpec(f"{where}.{field} must be a list of strings")
                if v and any("\0" in s for s in v):
                    raise BadSpec(f"{where}.{field} must not contain NUL bytes")
            for kv in h.get("env") or ():
                if "=" not in kv or kv.startswith("="):
                    raise BadSpec(f"{where}.env entry {kv!r} is not KEY=VALUE")
            t = h.get("timeout")
            if t is not None and (isinstance(t, bool) or not isinstance(t, int) or t <= 0):
                raise BadSpec(f"{where}.timeout must be a whole number of seconds greater than zero, got {t!r}")


def state_json(*, cid: str, status: str, pid: int, bundle: str, annotations: dict | None) -> dict:
    """The runtime-spec state a hook reads on stdin, in runc's field order (pid and annotations
    left out when empty, as runc's `omitempty` does)."""
    out = {"ociVersion": "1.0.2", "id": cid, "status": status}
    if pid:
        out["pid"] = pid
    out["bundle"] = bundle
    if annotations:
        out["annotations"] = annotations
    return out


def run_hooks(kind: str, hooks: list | None, state: dict, *, env: dict | None = None) -> None:
    """Run `hooks` (one kind's list) in order; the first failure raises HookError naming it.
    `env` is the environment of hooks that set none (None: this process's own)."""
    if not hooks:
        return
    data = json.dumps(state, ensure_ascii=False).encode()
    # Writing a hook's stdin must not kill us when it exits unread (init runs with SIGPIPE at
    # its default by then): ignore SIGPIPE meanwhile, as Python does anyway in the runtime.
    old = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        for i, h in enumerate(hooks):
            try:
                err = run_one(h, data, env)
            except OSError as e:  # no pipe or process to be had (a pids limit, no fds left)
                err = f"cannot start it: {e.strerror or e}"
            if err is not None:
                raise HookError(f"error running {kind} hook #{i} ({h['path']}): {err}")
    finally:
        signal.signal(signal.SIGPIPE, old)


def run_poststop(hooks: list | None, state: dict) -> list[str]:
    """Every poststop hook, each failure a warning (returned) that stops nothing."""
    warnings = []
    for i, h in enumerate(hooks or ()):
        try:
            run_hooks("poststop", [h], state)
        except HookError as e:
            warnings.append(str(e).replace("poststop hook #0", f"poststop hook #{i}", 1))
    return warnings


def run_one(hook: dict, data: bytes, env: dict | None) -> str | None:
    """Fork and exec one hook with `data` on its stdin; None if it exited 0, else why not."""
    path = hook["path"]
    argv = hook.get("args") or [path]
    if hook.get("env"):
        env = dict(kv.split("=", 1) for kv in hook["env"])
    elif env is None:
        env = os.environ
    timeout = hook.get("timeout")
    fds: list[int] = []
    try:
        for _ in range(4):
            fds += os.pipe()
        pid = os.fork()
    except OSError:
        for fd in fds:
            os.close(fd)
        raise
    # stdin, stdout, stderr, and a close-on-exec pipe: EOF once exec succeeded, the errno if not
    in_r, in_w, out_r, out_w, err_r, err_w, exec_r, exec_w = fds
    if pid == 0:
        try:
            os.setpgid(0, 0)  # its own process group: a timeout kills whatever it started too
            os.dup2(in_r, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.closerange(3, exec_w)
            os.closerange(exec_w + 1, 1 << 20)
            for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # Python's ignores would survive exec
                signal.signal(sig, signal.SIG_DFL)
            os.execve(path, argv, env)
        except OSError as e:
            os.write(exec_w, str(e.errno or 0).encode())
        finally:
            os._exit(127)
    for fd in (in_r, out_w, err_w, exec_w):
        os.close(fd)
    failed = b""
    while chunk := os.read(exec_r, 64):
        failed += chunk
    os.close(exec_r)
    if failed:
        os.close(in_w)
        os.close(out_r)
        os.close(err_r)
        os.waitpid(pid, 0)
        errno = int(failed)
        return f"exec {path}: {os.strerror(errno) if errno else 'failed'}"
    status, out, err = _supervise(pid, data, in_w, out_r, err_r, timeout)
    if status is None:
        return f"hook ran past specified timeout of {timeout:.1f}s"
    if status == 0:
        return None
    code = os.waitstatus_to_exitcode(status)
    why = f"exit status {code}" if code >= 0 else f"killed by signal {-code}"
    return (f"{why}, stdout: {out.decode(errors='replace').rstrip()}, "
            f"stderr: {err.decode(errors='replace').rstrip()}")


def _supervise(pid: int, data: bytes, in_w: int, out_r: int, err_r: int, timeout: int | None):
    """Feed stdin, collect stdout and stderr, wait for the exit (or kill at the deadline); closes
    the three pipes. Returns (wait status, or None on timeout; stdout; stderr). The hook's exit
    ends the wait even if something it left behind still holds its stdout."""
    deadline = time.monotonic() + timeout if timeout else None
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None  # no pidfd (an old kernel, a seccomp profile): poll waitpid instead
    bufs = {out_r: bytearray(), err_r: bytearray()}
    poller = select.poll()
    for fd in bufs:
        poller.register(fd, select.POLLIN)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    sent = 0
    if data:
        os.set_blocking(in_w, False)
        poller.register(in_w, select.POLLOUT)
    else:
        os.close(in_w)
        in_w = -1
    status = None
    try:
        while status is None:
            wait_ms = -1 if pidfd is not None else 10
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    _kill_group(pid)
                    return None, bytes(bufs[out_r]), bytes(bufs[err_r])
                left_ms = max(1, int(left * 1000))
                wait_ms = left_ms if wait_ms < 0 else min(wait_ms, left_ms)
            for fd, _ in poller.poll(wait_ms):
                if fd == in_w:
                    try:
                        sent += os.write(in_w, data[sent:sent + 65536])
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        sent = len(data)  # it closed its stdin: the rest is not wanted
                    if sent >= len(data):
                        poller.unregister(in_w)
                        os.close(in_w)
                        in_w = -1
                elif fd in bufs:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        poller.unregister(fd)
                    elif len(bufs[fd]) < _CAPTURE:
                        bufs[fd] += chunk[:_CAPTURE - len(bufs[fd])]
            got, st = os.waitpid(pid, os.WNOHANG)
            if got:
                status = st
        for fd, buf in bufs.items():  # what it wrote before it exited, not waiting for its children
            os.set_blocking(fd, False)
            try:
                while len(buf) < _CAPTURE and (chunk := os.read(fd, 65536)):
                    buf += chunk[:_CAPTURE - len(buf)]
            except BlockingIOError:
                pass
        return status, bytes(bufs[out_r]), bytes(bufs[err_r])
    finally:
        for fd in (pidfd, in_w, out_r, err_r):
            if fd is not None and fd >= 0:
                os.close(fd)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, 9)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
