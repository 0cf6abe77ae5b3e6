"""`compose up`/`create`/`run`'s engine half: bring the project's containers to what the file says.

Per service, in dependency order (Compose v2's convergence): the wanted number of replicas; a
container whose config hash or image changed is recreated, an unchanged one is left as it is
(running); extra replicas go. Before a service starts, its `depends_on` conditions are awaited
(service_started, service_healthy, service_completed_successfully)."""

from __future__ import annotations

import time

from dockyard.compose import project as P
from dockyard.compose.convert import LABEL, Context, create_body, image_name, service_hash
from dockyard.errors import Conflict, DockyardError, InvalidArgument


class Options:
    """What `up`/`create` were asked (Compose v2's flags)."""

    def __init__(self, *, scale=None, force_recreate=False, no_recreate=False, no_deps=False, remove_orphans=False,
                 no_start=False, build=False, wait=False, wait_timeout=None, timeout=None) -> None:
        if force_recreate and no_recreate:
            raise InvalidArgument("--force-recreate and --no-recreate are incompatible")
        self.scale, self.force_recreate, self.no_recreate = dict(scale or {}), force_recreate, no_recreate
        self.no_deps, self.remove_orphans, self.no_start, self.build = no_deps, remove_orphans, no_start, build
        self.wait, self.wait_timeout, self.timeout = wait, wait_timeout, timeout


def replicas(project, svc: str, opts: Options) -> int:
    if svc in opts.scale:
        return opts.scale[svc]
    s = project.services[svc]
    if s.get("scale") is not None:
        return int(s["scale"])
    r = (s.get("deploy") or {}).get("replicas")
    return 1 if r is None else int(r)


def _image_id(engine, ref: str) -> str:
    try:
        return engine.images.resolve(ref).id
    except DockyardError:
        return ""


def container_of(engine, project):
    """service → the name of its first container (network_mode/pid/ipc: service:X)."""
    def find(svc: str) -> str:
        recs = P.containers(engine, project.name, services=[svc])
        if not recs:
            raise Conflict(f"service {svc!r} has no container to share a namespace with")
        return recs[0].name
    return find


def container_config(engine, project, svc: str, number: int, *, name: str | None = None, oneoff: bool = False,
                     overrides=None) -> tuple:
    """The checked ContainerConfig of one container of `svc`, its name and the further networks
    to connect after create. `overrides(body)` edits the create body (`compose run`)."""
    from dockyard.engine.create import config_from_request

    service = project.services[svc]
    name = name or P.container_name(project, svc, service, number)
    labels = {**P.common_labels(project, svc), LABEL + "container-number": str(number),
              LABEL + "config-hash": service_hash(service), LABEL + "oneoff": "True" if oneoff else "False",
              LABEL + "depends_on": P.depends_label(service),
              LABEL + "image": _image_id(engine, image_name(project.name, svc, service))}
    body, extra = create_body(Context(project, container_of(engine, project)), svc, service, number=number,
                              name=name, labels=labels, oneoff=oneoff)
    if overrides is not None:
        overrides(body)
    return config_from_request(body), name, extra


def connect_extra(engine, cid: str, extra) -> None:
    """The service's further networks, recorded on the created container (joined when it starts)."""
    from dockyard.engine.networking import connect

    for net, aliases, ip, ip6, link_local in extra:
        connect(engine, net, cid, aliases=aliases, ip=ip, ip6=ip6, link_local=link_local)


def create_container(engine, project, svc: str, number: int, carry=()) -> object:
    """Make one container of `svc` (not started). `carry`: [(volume, target)] of the container it
    replaces, its anonymous volumes, mounted again where the service mounts nothing (v2 keeps
    their data across a recreate)."""
    from dockyard.engine.containers import create
    from dockyard.engine.teardown import remove

    def keep(body: dict) -> None:
        mounts = body["HostConfig"].setdefault("Mounts", [])
        old = dict((dst, src) for src, dst in carry)
        for m in mounts:  # the service's own anonymous volume: the one it had
            if m.get("Type") == "volume" and not m.get("Source") and m.get("Target") in old:
                m["Source"] = old[m["Target"]]
        taken = {m.get("Target") for m in mounts} | set((body["HostConfig"].get("Tmpfs") or {}))
        mounts.extend({"Type": "volume", "Source": src, "Target": dst} for src, dst in carry if dst not in taken)

    cfg, name, extra = container_config(engine, project, svc, number, overrides=keep if carry else None)
    c = create(engine, cfg, name)
    try:
        connect_extra(engine, c.rec.id, extra)
    except BaseException:
        remove(engine, c.rec.id, force=True)
        raise
    return c


class Pending:
    """A container not made yet: it joins a peer's namespaces, which must run first."""

    def __init__(self, service: str, number: int, name: str) -> None:
        self.service, self.number, self.name, self.id = service, number, name, f"pending:{name}"


def _peers_running(engine, project, svc: str) -> bool:
    for peer in P.peers(project.services[svc]):
        recs = P.containers(engine, project.name, services=[peer])
        if not recs or P.state_of(recs[0]).get("Status") != "running":
            return False
    return True


def _outdated(engine, project, svc: str, rec) -> bool:
    lab = P.labels_of(rec)
    service = project.services[svc]
    if lab.get(P.HASH) != service_hash(service):
        return True
    want = _image_id(engine, image_name(project.name, svc, service))
    return bool(want) and lab.get(LABEL + "image") not in (want, "")


def converge(engine, project, services, opts: Options, progress) -> list:
    """Create/recreate/remove the services' containers; return [(svc, record)] to start, in order."""
    from dockyard.engine import lifecycle, teardown

    out = []
    for svc in services:
        want = replicas(project, svc, opts)
        have = P.containers(engine, project.name, services=[svc])
        keep = have[:want]
        for rec in have[want:]:
            progress.event("Container", rec.name, "Stopping")
            lifecycle.stop(engine, rec.id, timeout=_stop_timeout(project.services[svc], opts.timeout))
            teardown.remove(engine, rec.id, force=True)
            progress.event("Container", rec.name, "Removed")
        numbers = {P.number_of(r) for r in keep}
        for rec in keep:
            if opts.force_recreate or (not opts.no_recreate and _outdated(engine, project, svc, rec)):
                progress.event("Container", rec.name, "Recreate")
                number = P.number_of(rec)
                carry = [(m["source"], m["target"]) for m in rec.config.get("mounts") or ()
                         if m.get("type") == "volume" and m.get("anonymous")]
                lifecycle.stop(engine, rec.id, timeout=_stop_timeout(project.services[svc], opts.timeout))
                teardown.remove(engine, rec.id, force=True)
                c = create_container(engine, project, svc, number, carry)
                progress.event("Container", c.rec.name, "Recreated")
                out.append((svc, engine.db.get_container(c.rec.id)))
            else:
                progress.event("Container", rec.name, "Running" if P.state_of(rec).get("Status") == "running"
                               else "Created")
                out.append((svc, rec))
        n = 1
        for _ in range(want - len(keep)):
            while n in numbers:
                n += 1
            numbers.add(n)
            name = P.container_name(project, svc, project.services[svc], n)
            if not _peers_running(engine, project, svc):
                out.append((svc, Pending(svc, n, name)))  # made once its peers run (start_all)
                continue
            progress.event("Container", name, "Creating")
            c = create_container(engine, project, svc, n)
            progress.event("Container", name, "Created")
            out.append((svc, engine.db.get_container(c.rec.id)))
    return out


def _stop_timeout(service: dict, given: int | None) -> int | None:
    if given is not None:
        return given
    if service.get("stop_grace_period") is None:
        return None
    from dockyard.compose.convert import duration_ns

    return duration_ns("", "stop_grace_period", service["stop_grace_period"]) // 1_000_000_000


def validate(project, services) -> None:
    """Every service's create request built and checked before anything is made, so a key the
    engine cannot honour is refused with nothing left behind."""
    from dockyard.engine.create import config_from_request

    for svc in services:
        service = project.services[svc]
        body, _extra = create_body(Context(project, lambda peer: f"{project.name}-{peer}-1"), svc, service, number=1,
                                   name=P.container_name(project, svc, service, 1), labels={})
        try:
            config_from_request(body)
        except InvalidArgument as e:
            raise InvalidArgument(f"service {svc!r}: {e}") from None


def orphans(engine, project) -> list:
    return [r for r in P.containers(engine, project.name, oneoff=None)
            if P.labels_of(r).get(P.SERVICE) not in project.services and P.labels_of(r).get(P.ONEOFF) != "True"]


def prepare(engine, project, names, opts: Options, progress) -> tuple[list[str], list]:
    """Networks, volumes, orphans and containers for `up`/`create`: (services in order, to start)."""
    from dockyard.engine import teardown

    wanted = P.select_services(project, names)
    services = wanted if opts.no_deps else P.dependency_order(project, wanted)
    validate(project, services)
    left = orphans(engine, project)
    if left and opts.remove_orphans:
        for rec in left:
            progress.event("Container", rec.name, "Removing")
            teardown.remove(engine, rec.id, force=True)
            progress.event("Container", rec.name, "Removed")
    elif left:
        progress.warn(f"Found orphan containers ({', '.join(r.name for r in left)}) for this project. If you "
                      "removed or renamed this service in your compose file, you can run this command with the "
                      "--remove-orphans flag to clean it up.")
    P.ensure_networks(engine, project, P.used_networks(project, services), progress)
    P.ensure_volumes(engine, project, P.used_volumes(project, services), progress)
    return services, converge(engine, project, services, opts, progress)


def start_all(engine, project, todo, progress, *, skip_deps_of=()) -> list:
    """Start the created containers, each service after its dependencies' conditions hold: one
    dependency level at a time, the containers of a level at once (forked: a start forks)."""
    from dockyard.engine import lifecycle

    started, awaited = [], set(skip_deps_of)
    by_id = {rec.id: svc for svc, rec in todo}
    for group in P.levels(project, [rec for _svc, rec in todo]):
        for rec in group:
            svc = by_id[rec.id]
            if svc not in awaited:
                awaited.add(svc)
                await_dependencies(engine, project, svc, progress)
        group = [_made(engine, project, rec, progress) for rec in group]
        stopped = [rec for rec in group if P.state_of(engine.db.get_container(rec.id)).get("Status")
                   not in ("running", "restarting", "paused")]

        def one(rec) -> None:
            progress.event("Container", rec.name, "Starting")
            lifecycle.start(engine, rec.id)
            progress.event("Container", rec.name, "Started")

        P.forked(engine, one, stopped, progress.parallel)
        started.extend(stopped)
    return started


def _made(engine, project, rec, progress):
    """A Pending container is created now that its peers run."""
    if not isinstance(rec, Pending):
        return rec
    progress.event("Container", rec.name, "Creating")
    c = create_container(engine, project, rec.service, rec.number)
    progress.event("Container", rec.name, "Created")
    return engine.db.get_container(c.rec.id)


CONDITION_TIMEOUT = None  # Compose v2 waits as long as it takes, unless the dependency fails


def await_dependencies(engine, project, svc: str, progress) -> None:
    for dep, cond in sorted(P.dependencies(project.services[svc]).items()):
        cond = cond or {}
        if dep not in project.services:
            continue
        condition = cond.get("condition") or "service_started"
        recs = P.containers(engine, project.name, services=[dep])
        if not recs:
            if cond.get("required", True):
                raise Conflict(f"service {svc!r} depends on {dep!r}, which has no container")
            continue
        for rec in recs:
            if condition == "service_started":
                continue
            progress.event("Container", rec.name, "Waiting")
            wait_condition(engine, rec, condition)
            progress.event("Container", rec.name, "Healthy" if condition == "service_healthy" else "Exited")


def wait_condition(engine, rec, condition: str, deadline: float | None = None) -> None:
    """Block until `rec` meets `condition`; Conflict when it cannot any more (or the deadline passes)."""
    while True:
        st = P.state_of(engine.db.get_container(rec.id))
        status = st.get("Status")
        health = (st.get("Health") or {}).get("Status")
        if condition == "service_healthy":
            if health == "healthy":
                return
            if health == "unhealthy":
                raise Conflict(f"dependency failed to start: container {rec.name} is unhealthy")
            if not health and status == "running":
                raise Conflict(f"dependency failed to start: container {rec.name} has no healthcheck configured")
            if status in ("exited", "dead"):
                raise Conflict(f"dependency failed to start: container {rec.name} exited ({st.get('ExitCode', 0)})")
        elif condition == "service_completed_successfully":
            if status in ("exited", "dead"):
                code = st.get("ExitCode", 0)
                if code:
                    raise Conflict(f"service {P.labels_of(rec).get(P.SERVICE)!r} didn't complete successfully: "
                                   f"exit {code}")
                return
        elif condition == "running":
            if status == "running" and health in (None, "", "healthy"):
                return
            if health == "unhealthy" or status in ("exited", "dead"):
                raise Conflict(_not_healthy(rec, st))
        else:
            raise InvalidArgument(f"unknown depends_on condition {condition!r}")
        if deadline is not None and time.monotonic() > deadline:
            raise Conflict(_not_healthy(rec, st, timed_out=True))
        time.sleep(0.1)


def _not_healthy(rec, st: dict, *, timed_out: bool = False) -> str:
    """`--wait`'s give-up message: which service, its state, and its last probe's output."""
    svc = P.labels_of(rec).get(P.SERVICE, rec.name)
    health = st.get("Health") or {}
    what = f"is {health.get('Status')}" if health.get("Status") else f"is {st.get('Status')}"
    if st.get("Status") in ("exited", "dead"):
        what = f"exited ({st.get('ExitCode', 0)})"
    text = f"service {svc!r} (container {rec.name}) {what}"
    if timed_out:
        text = "timeout waiting for healthy services: " + text
    log = health.get("Log") or []
    if log:
        last = log[-1]
        text += f"; last health check exited {last.get('ExitCode')}: {(last.get('Output') or '').strip()!r}"
    return text


def wait_running(engine, recs, timeout: float | None) -> None:
    """`up --wait`: every container running, and healthy when it has a health check."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for rec in recs:
        wait_condition(engine, rec, "running", deadline)
