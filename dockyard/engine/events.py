"""The events journal: what `docker events` shows, without a daemon.

Every command and every monitor appends one JSON line per event to `<root>/events.log`, in
Docker's shape (Type, Action, Actor{ID, Attributes}, scope, time, timeNano; and for containers
and images the old `status`/`id`/`from` keys), written by state/journal.py (one `write(2)` to an
O_APPEND file: a few microseconds on the `run --rm` path). This module gives the engine's events
their attributes and reads the journal back: `dockyard events` and GET /events read the file
(and its one rotated generation) from its start for `--since` and follow it for what comes next.
"""

from __future__ import annotations

import os
import time


TYPES = ("container", "image", "network", "volume", "daemon", "plugin", "node", "service", "secret", "config")


def journal(engine) -> str:
    from dockyard.state.journal import path_in

    return path_in(engine.root)


def emit(engine, type_: str, action: str, actor_id: str, attributes: dict | None = None) -> None:
    """Append one event (state/journal.py writes it)."""
    from dockyard.state.journal import append

    append(engine.root, type_, action, actor_id, attributes)


def container(engine, rec, action: str, **extra) -> None:
    """A container event with Docker's attributes: image, name, the labels, and `extra`
    (exitCode for die, signal for kill, …)."""
    cfg = rec.config if isinstance(rec.config, dict) else rec.config.to_json()
    attrs = dict(cfg.get("labels") or {})
    attrs.update(image=cfg.get("image", ""), name=rec.name)
    attrs.update({k: str(v) for k, v in extra.items()})
    emit(engine, "container", action, rec.id, attrs)


# -- reading -------------------------------------------------------------------------------------


def parse_time(value, now: float | None = None) -> float | None:
    """--since/--until: a unix timestamp (with fraction), an RFC 3339 time, or a Go duration
    back from now (10m, 1h30m)."""
    from dockyard.errors import InvalidArgument

    if value in (None, ""):
        return None
    now = time.time() if now is None else now
    text = str(value)
    try:
        return float(text)
    except ValueError:
        pass
    import re

    if re.fullmatch(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", text):
        units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
        return now - sum(float(n) * units[u] for n, _, u in re.findall(r"(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)", text))
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d)(?:T(\d\d:\d\d)(:\d\d(?:\.\d+)?)?)?(Z|[+-]\d\d:\d\d)?", text)
    if not m:
        raise InvalidArgument(f'failed to parse value as time or duration: "{text}"',  # docker's words
                              hint="use a unix timestamp, an RFC 3339 time or a duration (10m)")
    from dockyard.units import parse_rfc3339

    day, hm, sec, zone = m.groups()
    t = parse_rfc3339(f"{day}T{hm or '00:00'}{(sec or ':00')}Z")
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        t -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return t


FILTER_KEYS = ("container", "event", "image", "label", "network", "type", "volume", "scope", "daemon")


def check_filters(filters: dict) -> dict:
    from dockyard.errors import InvalidArgument

    for k in filters:
        if k not in FILTER_KEYS:
            raise InvalidArgument(f"Invalid filter '{k}'")
    for t in filters.get("type", ()):
        if t not in TYPES:
            raise InvalidArgument(f"Invalid filter 'type={t}'")
    return filters


def matches(ev: dict, filters: dict) -> bool:
    """Docker's rules: values of one key are alternatives, different keys must all match."""
    actor = ev.get("Actor") or {}
    attrs = actor.get("Attributes") or {}
    typ = ev.get("Type")

    def any_of(key, values):
        want = filters.get(key)
        return not want or any(v in want for v in values)

    if not any_of("type", [typ]) or not any_of("event", [ev.get("Action"), ev.get("Action", "").split(":")[0]]):
        return False
    if not any_of("scope", [ev.get("scope")]):
        return False
    # moby's fuzzyMatchName for container=, volume=, network=: the actor's ID or name attribute starts
    # with the value, whatever the event's type (dockerd's filter.go)
    for key in ("container", "volume", "network"):
        if filters.get(key) and not any(actor.get("ID", "").startswith(v) or attrs.get("name", "").startswith(v)
                                        for v in filters[key]):
            return False
    if filters.get("image"):
        img = attrs.get("image") if typ == "container" else actor.get("ID")
        names = {img, attrs.get("name")} if typ == "image" else {img}
        if not any(v in names or (img or "").split(":")[0] == v for v in filters["image"]):
            return False
    for lab in filters.get("label", ()):
        k, eq, v = lab.partition("=")
        if k not in attrs or (eq and attrs[k] != v):
            return False
    return True


def read(engine, *, since: float | None, until: float | None, filters: dict, follow: bool, emit_fn,
         stop=None, poll: float = 0.1) -> None:
    """Call `emit_fn(event)` for every matching event in [since, until]; with `follow`, keep
    following the journal (until `until` passes or `stop()` is true). Without `since`, only new
    events, as docker's. The past and the live events are read through one descriptor, so an
    event written meanwhile is neither missed nor given twice."""
    import json as stdjson

    def feed(lines):
        for line in lines:
            ev = _event(stdjson, line)
            if ev is not None and _in(ev, since, until) and matches(ev, filters):
                emit_fn(ev)

    path = journal(engine)
    if since is not None:
        try:
            with open(path + ".1", "rb") as f:  # the older generation
                feed(f)
        except FileNotFoundError:
            pass
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    if since is None:
        os.lseek(fd, 0, os.SEEK_END)
    buf = b""
    try:
        ino = os.fstat(fd).st_ino
        while True:
            if stop is not None and stop():
                return
            chunk = os.read(fd, 1 << 16)
            if chunk:
                buf += chunk
                *lines, buf = buf.split(b"\n")
                feed(lines)
                continue
            if not follow or (until is not None and time.time() >= until):
                return
            try:
                if os.stat(path).st_ino != ino:  # rotated: the rest is in the new file
                    os.close(fd)
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                    ino, buf = os.fstat(fd).st_ino, b""
                    continue
            except FileNotFoundError:
                pass
            time.sleep(poll)
    finally:
        os.close(fd)


def _event(stdjson, line: bytes):
    try:
        ev = stdjson.loads(line)
    except ValueError:
        return None
    return ev if isinstance(ev, dict) else None


def _in(ev: dict, since, until) -> bool:
    t = ev.get("timeNano", 0) / 1e9
    return (since is None or t >= since) and (until is None or t <= until)
