"""RUN: the command in a real container made from the current state, through the engine's public
functions (`create`, `launch_container`, `remove`); its overlay upper dir becomes the layer.
``RUN --mount`` is prepared by `dockyard.builder.runmounts`."""

from __future__ import annotations

import json
import os
import stat
import time

from dockyard.builder.state import BuildError, State
from dockyard.errors import NotImplemented


def run_step(builder, instr, state: State, args: dict, states: dict | None = None, df=None) -> State:
    if instr.security == "insecure":
        raise NotImplemented(f"{builder.name}:{instr.line}: RUN --security=insecure needs an entitlement "
                             "(--allow security.insecure) that dockyard build does not grant")
    if not instr.mounts:
        return run_with(builder, instr, state, args, [], [])
    from dockyard.builder.runmounts import prepare

    cc = state.cc
    mounts, env, cleanup = prepare(builder, instr, states or {}, df, cc.get("WorkingDir") or "/")
    try:
        return run_with(builder, instr, state, args, mounts, env)
    finally:
        cleanup()


def base_paths(builder, state: State, targets: list[str]) -> set:
    """Which of the targets and their parents exist in the state's filesystem."""
    root, unmount, _ = builder.mount_state(state)
    try:
        from dockyard.archive import inroot

        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        found = set()
        try:
            for t in targets:
                parts = [p for p in t.split("/") if p]
                for i in range(1, len(parts) + 1):
                    pfd = inroot.open_dir_strict(fd, tuple(parts[:i - 1]))
                    if pfd is None:
                        break
                    try:
                        if inroot.lstat_at(pfd, parts[i - 1]) is None:
                            break
                    finally:
                        os.close(pfd)
                    found.add("/" + "/".join(parts[:i]))
        finally:
            os.close(fd)
        return found
    finally:
        unmount()


def run_with(builder, instr, state: State, args: dict, mounts: list, secret_env: list) -> State:
    """The step's container with ``mounts`` and the secrets' env entries: run, checked, its upper
    dir made the new layer; removed after (kept, exited, as Docker's with the API's rm=0)."""
    from dockyard.engine.config import ContainerConfig
    from dockyard.engine.containers import create
    from dockyard.engine.teardown import remove

    cc = state.cc
    argv = run_argv(instr, state)
    env_keys = {kv.partition("=")[0] for kv in cc.get("Env") or ()}
    env = tuple(f"{k}={v}" for k, v in args.items() if k not in env_keys) + tuple(secret_env)
    network = {"default": None, None: None, "none": "none", "host": "host"}[instr.network] or builder.network
    targets = [m["target"] for m in mounts]
    existed = base_paths(builder, state, targets) if targets else set()
    image_id = builder.temp_image(state)
    cfg = ContainerConfig(image=image_id, cmd=tuple(argv), entrypoint=(), env=env, user=cc.get("User") or "",
                          workdir=cc.get("WorkingDir") or "", network=network, mounts=tuple(mounts),
                          host_opts={**builder.limit_opts, **run_host_opts(builder)}, **builder.limits)
    c = create(builder.engine, cfg, None, image_volumes=False)  # a VOLUME does not hide RUN's writes
    keep = False
    try:
        builder.out.flush()
        code = run_container(builder, c)
        if code != 0:
            keep = builder.keep_containers and not builder.force_rm and not secret_env
            shown = instr.command if instr.shell_form else json.dumps(instr.command)
            failed = BuildError(f"The command '{' '.join(argv[:-1]) + ' ' + shown if instr.shell_form else shown}' "
                                f"returned a non-zero code: {code}")
            failed.code = code  # the API's errorDetail.code, as dockerd's classic builder sends it
            raise failed
        upper = builder.engine.snapshots.upper_dir(c.rec.id)
        drop_runtime_stubs(upper)
        if targets:
            from dockyard.builder.runmounts import drop_mountpoints

            drop_mountpoints(upper, targets, existed)
        new = builder.add_layer(state, upper, overlay_upper=True, created_by=" ".join(argv))
        keep = builder.keep_containers and not secret_env  # its config holds a secret: never kept
        return new
    finally:
        if keep:  # kept as Docker keeps it: an exited container with the step's exit status
            from dockyard.engine.status import rfc3339, update_state

            update_state(builder.engine, c.rec.id, Status="exited", Running=False, Pid=0, ExitCode=code,
                         FinishedAt=rfc3339(time.time()))
            builder.say(f" ---> Keeping intermediate container {c.rec.id[:12]}")
        else:
            remove(builder.engine, c.rec.id, force=True)


def run_argv(instr, state: State) -> list[str]:
    """The RUN step's command line (its history entry's created_by, joined by spaces)."""
    if instr.shell_form:
        return list(state.cc.get("Shell") or ["/bin/sh", "-c"]) + [heredoc_script(instr)]
    return list(instr.command)


def run_host_opts(builder) -> dict:
    """--add-host and --shm-size of the build, as host options of each step's container."""
    opts: dict = {}
    if builder.extra_hosts:
        opts["ExtraHosts"] = list(builder.extra_hosts)
    if builder.shm_size:
        opts["ShmSize"] = builder.shm_size
    return opts


def run_container(builder, c) -> int:
    """Run a step's container with its output piped to the progress display (a reader thread,
    started only after the container is forked: no fork ever happens with it running). One pipe
    for both streams (their order kept), unless the display tells stderr apart (the Engine API's
    build stream, where dockerd colours it)."""
    import threading

    from dockyard.engine.launch import launch_container
    from dockyard.linux import syscalls as sc
    from dockyard.runtime.wait import wait_exit

    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    r, w = os.pipe()
    er, ew = os.pipe() if builder.progress.tells_stderr else (None, w)
    null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    try:
        launch = launch_container(builder.engine, c, stdio=(null, w, ew))
    finally:
        os.close(null)
        os.close(w)
        if er is not None:
            os.close(ew)

    def pump() -> None:
        import select

        open_fds = {r: False} if er is None else {r: False, er: True}
        poller = select.poll()
        for fd in open_fds:
            poller.register(fd, select.POLLIN)
        while open_fds:
            for fd, _ in poller.poll():
                data = os.read(fd, 65536)
                if data:
                    builder.progress.output(data, stderr=open_fds[fd])
                else:
                    poller.unregister(fd)
                    del open_fds[fd]

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        launch.start()
        return wait_exit(launch.pid)
    finally:
        launch.cleanup()
        reader.join(timeout=10)
        os.close(r)
        if er is not None:
            os.close(er)


def heredoc_script(instr) -> str:
    """The shell script of a shell-form RUN with heredocs, as buildkit runs it: `RUN <<EOF` runs
    the body itself; `RUN cat <<EOF > f` hands the shell the command and its here-documents."""
    if not instr.heredocs:
        return instr.command
    words = instr.command.split()
    if len(instr.heredocs) == 1 and len(words) == 1 and words[0].lstrip("<-").strip("'\"") == instr.heredocs[0].name:
        return instr.heredocs[0].content
    return instr.command + "\n" + "".join(f"{h.content}{h.name}\n" for h in instr.heredocs)


def drop_runtime_stubs(upper: str) -> None:
    """The runtime's empty mountpoints (/etc/hosts…, /proc, /sys, /dev) are not the step's work.

    The upper dir was written by the step's container: it is walked by descriptor, so a link it
    left (an ``etc`` pointing anywhere) is never followed."""
    from dockyard.archive import inroot

    root = os.open(upper, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            etc = os.open("etc", inroot.O_DIR, dir_fd=root)
        except OSError:
            etc = None
        if etc is not None:
            try:
                for name in ("hosts", "hostname", "resolv.conf"):
                    st = inroot.lstat_at(etc, name)
                    if st is not None and stat.S_ISREG(st.st_mode) and st.st_size == 0:
                        os.unlink(name, dir_fd=etc)
            finally:
                os.close(etc)
        for name in ("proc", "sys", "dev", "etc"):
            try:
                os.rmdir(name, dir_fd=root)  # only an empty directory, never through a link
            except OSError:
                pass
    finally:
        os.close(root)
