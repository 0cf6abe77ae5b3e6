"""Container routes: create, start, stop, kill, restart, wait, delete, inspect, logs (attach: attach.py).

Calls that fork (create, start, restart) run through isolated.call in a fresh process; the rest
act from the request's thread. The containers are the CLI's: same store, same monitors."""

from __future__ import annotations

import time

from dockyard.api import isolated
from dockyard.api.streams import Follower, content_type, encode, follow, hung_up, log_path
from dockyard.api.wire import pauses
from dockyard.engine.status import ACTIVE, effective_state
from dockyard.errors import ContainerNotFound, InvalidArgument


def _record(engine, ref: str):
    return engine.db.get_container(ref)


def create(engine, req) -> None:
    from dockyard.engine.containers import validate_name
    from dockyard.engine.create import config_from_request

    body = req.json()
    name = req.q("name") or None
    platform = req.q("platform")
    if platform:  # dockerd: the image must be of that platform; dockyard's are the host's
        from dockyard.oci.platform import go_arch

        want = f"linux/{go_arch()}"
        if platform.lower().split("/")[:2] != want.split("/") or platform.count("/") > 1:
            raise InvalidArgument(f"platform {platform} is not supported: dockyard runs {want} images only")
    config_from_request(body)  # a bad body is a 400 here, before a process is started
    if name:
        validate_name(name)
    cid, warnings = isolated.call(engine, "create", body=body, name=name)
    req.send_json({"Id": cid, "Warnings": warnings}, 201)


def start(engine, req, name: str) -> None:
    rec = _record(engine, name)
    if effective_state(rec, engine.db).get("Status") in ("running", "restarting"):
        req.send(304)
        return
    isolated.call(engine, "start", ref=rec.id)
    req.no_content()


def _timeout(req) -> int | None:
    from dockyard.engine.lifecycle import parse_timeout

    return parse_timeout(req.q("t") if req.q("t") is not None else req.q("timeout"))


def stop(engine, req, name: str) -> None:
    from dockyard.engine.lifecycle import stop as stop_container

    timeout = _timeout(req)
    rec = _record(engine, name)
    if effective_state(rec, engine.db).get("Status") not in ACTIVE:
        req.send(304)
        return
    stop_container(engine, rec.id, timeout=timeout, signal=req.q("signal") or None)
    req.no_content()


def kill(engine, req, name: str) -> None:
    from dockyard.engine.lifecycle import kill as kill_container

    signal = req.q("signal") or "SIGKILL"
    rec = _record(engine, name)
    kill_container(engine, name, signal)
    if signal.upper().removeprefix("SIG") in ("KILL", "9"):  # dockerd's Kill: the exit is recorded first
        from dockyard.engine.teardown import await_exit_recorded

        try:
            await_exit_recorded(engine, rec.id)
        except ContainerNotFound:
            pass  # --rm: already removed after its exit
    req.no_content()


def restart(engine, req, name: str) -> None:
    timeout = _timeout(req)
    rec = _record(engine, name)
    isolated.call(engine, "restart", ref=rec.id, timeout=timeout, signal=req.q("signal") or None)
    req.no_content()


def delete(engine, req, name: str) -> None:
    from dockyard.engine.teardown import remove

    if req.qbool("link"):  # the link /me/alias (engine/links.py), not a container
        from dockyard.engine.links import remove as remove_link

        remove_link(engine, name)
    elif "/" in name.strip("/"):
        raise ContainerNotFound(f"No such container: {name}")
    else:
        remove(engine, name, force=req.qbool("force"), volumes=req.qbool("v"))
    req.no_content()


def inspect(engine, req, name: str) -> None:
    from dockyard.engine.inspect import container_json

    req.send_json(container_json(engine, _record(engine, name), size=req.qbool("size")))


def wait(engine, req, name: str) -> None:
    """docker wait: headers at once, the body when the condition is met."""
    from dockyard.engine.monitor import exit_file
    from dockyard.engine.status import NEVER

    condition = req.q("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise InvalidArgument(f"invalid condition: {condition!r}: use not-running, next-exit or removed")
    rec = _record(engine, name)
    first = effective_state(rec, engine.db)
    out = req.stream("application/json")
    code = None
    waits = pauses()
    while code is None:
        try:
            st = effective_state(engine.db.get_container(rec.id), engine.db)
        except ContainerNotFound:
            try:
                with open(exit_file(engine, rec.id)) as f:
                    code = int(f.read().strip() or 0)
            except (OSError, ValueError):
                code = int(first.get("ExitCode", 0))
            break
        if condition != "removed" and st.get("FinishedAt") not in (None, "", NEVER, first.get("FinishedAt")):
            code = int(st.get("ExitCode", 0))  # it exited since (a restart policy may have restarted it)
            break
        if st.get("Status") not in ACTIVE and condition != "removed":
            ran = st.get("StartedAt") != first.get("StartedAt") or first.get("Status") in ACTIVE
            if condition == "not-running" or ran:
                code = int(st.get("ExitCode", 0))
                break
        time.sleep(next(waits))
    out.write(b'{"StatusCode":%d}\n' % code)
    out.close()


def logs(engine, req, name: str) -> None:
    from dockyard.engine.logs import check_readable, read_records
    from dockyard.units import parse_rfc3339

    rec = _record(engine, name)
    check_readable(rec.config)
    want = {s for s in ("stdout", "stderr") if req.qbool(s)}
    if not want:
        raise InvalidArgument("you must choose at least one stream")
    since, until = _time(req, "since"), _time(req, "until")
    tail = req.q("tail") or "all"
    if tail != "all":
        try:
            tail = int(tail)
        except ValueError:
            raise InvalidArgument(f'invalid value for "tail": {tail!r}') from None
    tty, stamps = bool(rec.config.get("tty")), req.qbool("timestamps")
    prefix = ""
    if req.qbool("details"):
        from dockyard.engine.logs import details_prefix

        prefix = details_prefix(engine, rec)

    def wanted(r):
        if r.get("stream") not in want:
            return False
        if since is None and until is None:
            return True
        t = parse_rfc3339(r.get("time", ""))
        return (since is None or t >= since) and (until is None or t <= until)

    path = log_path(engine, rec.id)
    if req.qbool("follow"):
        # the current file is read through the follower's own descriptor, from its start: a
        # record written meanwhile is read once (two reads of the file gave it twice)
        follower = Follower(path, from_start=True)
        records = [r for r in [*read_records(path, rotated_only=True), *follower.read()] if wanted(r)]
    else:
        follower = None
        records = [r for r in read_records(path) if wanted(r)]
    if isinstance(tail, int) and tail >= 0:
        records = records[-tail:] if tail else []
    out = req.stream(content_type(req, tty))
    try:
        for r in records:
            out.write(encode(r, tty=tty, timestamps=stamps, prefix=prefix))
        if follower is not None:
            follow(engine, rec.id, follower,
                   lambda r: wanted(r) and out.write(encode(r, tty=tty, timestamps=stamps, prefix=prefix)),
                   until_exit_of_next_run=False,
                   left=lambda: hung_up(req.handler.connection))
        out.close()
    finally:
        if follower is not None:
            follower.close()


def _time(req, name: str) -> float | None:
    v = req.q(name)
    if v in (None, "", "0"):
        return None
    try:
        return float(v)
    except ValueError:
        raise InvalidArgument(f"invalid value for {name!r}: {v!r}: a unix timestamp") from None
