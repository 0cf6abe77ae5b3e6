"""A Compose project's resources on the engine: its containers, networks and volumes, found by
Compose v2's labels (so `docker compose` and `dockyard ps --filter label=…` see the same
project), named as v2 names them, made and removed through the engine's public functions."""

from __future__ import annotations

import os

from dockyard.compose.convert import LABEL, VERSION
from dockyard.errors import DockyardError, InvalidArgument, NotFound

PROJECT, SERVICE, NUMBER, ONEOFF = LABEL + "project", LABEL + "service", LABEL + "container-number", LABEL + "oneoff"
HASH = LABEL + "config-hash"


class Model:
    """A loaded project as the commands use it: its services, networks, volumes, secrets and
    configs in Compose v2's normalized JSON form (what `config --format json` prints), so a
    container's config hash is the same whoever loaded the file."""

    __slots__ = ("name", "working_dir", "config_files", "services", "networks", "volumes", "secrets", "configs")

    def __init__(self, name: str, working_dir: str, config_files, model: dict) -> None:
        self.name, self.working_dir, self.config_files = name, working_dir, list(config_files)
        for key in ("services", "networks", "volumes", "secrets", "configs"):
            setattr(self, key, dict(model.get(key) or {}))

    @classmethod
    def of(cls, project) -> "Model":
        """From compose/loader.py's Project."""
        return cls(project.name, project.working_dir, project.files, project.to_dict())

    @classmethod
    def from_engine(cls, engine, name: str) -> "Model":
        """A project whose file is not at hand, as its containers' and volumes' labels show it:
        services by name (no settings), its volumes; enough to list, stop and take it down."""
        from dockyard.engine.volumes import list_volumes

        recs = containers(engine, name, oneoff=None)
        lab = labels_of(recs[0]) if recs else {}
        files = [f for f in lab.get(LABEL + "project.config_files", "").split(",") if f]
        services = {labels_of(r).get(SERVICE): {} for r in recs if labels_of(r).get(SERVICE)}
        volumes = {(v.labels or {}).get(LABEL + "volume"): {"name": v.name} for v in list_volumes(engine)
                   if (v.labels or {}).get(PROJECT) == name and (v.labels or {}).get(LABEL + "volume")}
        return cls(name, lab.get(LABEL + "project.working_dir", ""), files,
                   {"services": services, "volumes": volumes})


def labels_of(rec) -> dict:
    return rec.config.get("labels") or {}


def containers(engine, project: str, *, services=None, oneoff: bool | None = False) -> list:
    """The project's container records (oldest first), optionally of some services only.
    `oneoff`: False = service containers, True = `run` containers, None = both."""
    out = []
    for rec in reversed(engine.db.list_containers()):
        lab = labels_of(rec)
        if lab.get(PROJECT) != project:
            continue
        if oneoff is not None and (lab.get(ONEOFF) == "True") != oneoff:
            continue
        if services is not None and lab.get(SERVICE) not in services:
            continue
        out.append(rec)
    return sorted(out, key=lambda r: (labels_of(r).get(SERVICE, ""), number_of(r)))


def number_of(rec) -> int:
    n = labels_of(rec).get(NUMBER, "0")
    return int(n) if n.isdigit() else 0


def state_of(rec) -> dict:
    from dockyard.engine.status import effective_state

    return effective_state(rec)


def container_name(project, svc: str, service: dict, number: int) -> str:
    return service.get("container_name") or f"{project.name}-{svc}-{number}"


def common_labels(project, svc: str) -> dict:
    files = project.config_files
    return {PROJECT: project.name, SERVICE: svc, LABEL + "project.working_dir": project.working_dir,
            LABEL + "project.config_files": ",".join(files), LABEL + "version": VERSION}


def depends_label(service: dict) -> str:
    """v2's com.docker.compose.depends_on: `svc:condition:restart` joined by commas."""
    deps = service.get("depends_on") or {}
    return ",".join(f"{k}:{(v or {}).get('condition', 'service_started')}:{str(bool((v or {}).get('restart'))).lower()}"
                    for k, v in sorted(deps.items()))


# ---------------------------------------------------------------------------- networks and volumes


def network_labels(project, key: str, decl: dict) -> dict:
    return {**(decl.get("labels") or {}), LABEL + "network": key, PROJECT: project.name, LABEL + "version": VERSION}


def used_networks(project, services) -> list[str]:
    """The network keys the given services join (`default` only if one of them does)."""
    from dockyard.compose.convert import service_networks

    keys: list[str] = []
    for svc in services:
        for k in service_networks(project.services[svc]):
            if k not in keys:
                keys.append(k)
    return keys


def ensure_networks(engine, project, keys, progress) -> None:
    from dockyard.engine import networking
    from dockyard.state.networks import find_network

    for key in keys:
        decl = dict((project.networks or {}).get(key) or {})
        name = decl.get("name") or f"{project.name}_{key}"
        rec = find_network(engine.db, name)
        if decl.get("external"):
            if rec is None:
                raise NotFound(f"network {name} declared as external, but could not be found")
            continue
        if rec is not None:
            if (rec.labels or {}).get(PROJECT) not in (None, project.name):
                raise InvalidArgument(f"network {name} was found but belongs to project "
                                      f"{rec.labels.get(PROJECT)!r}")
            continue
        for k in decl:
            if k not in ("name", "driver", "internal", "ipam", "labels", "attachable", "external", "driver_opts",
                         "enable_ipv6"):
                raise InvalidArgument(f"network {key!r}: {k}: dockyard compose does not support this key")
        configs = ((decl.get("ipam") or {}).get("config")) or []
        by_family: dict = {}
        for one in configs:
            family = 6 if ":" in (one.get("subnet") or "") else 4
            if family in by_family:
                raise InvalidArgument(f"network {key!r}: ipam.config: one IPv{family} subnet is supported")
            by_family[family] = one
            extra = set(one) - {"subnet", "gateway", "ip_range", "aux_addresses"}
            if extra:
                raise InvalidArgument(f"network {key!r}: ipam.config.{sorted(extra)[0]}: not supported")
        cfg, cfg6 = by_family.get(4, {}), by_family.get(6, {})
        if cfg6.get("aux_addresses"):
            raise InvalidArgument(f"network {key!r}: ipam.config.aux_addresses: IPv4 subnets only")
        if (decl.get("ipam") or {}).get("driver") not in (None, "default"):
            raise InvalidArgument(f"network {key!r}: ipam.driver: only the default driver is supported")
        progress.event("Network", name, "Creating")
        networking.create(engine, name, subnet=cfg.get("subnet"), gateway=cfg.get("gateway"),
                          internal=bool(decl.get("internal")), labels=network_labels(project, key, decl),
                          options=dict(decl.get("driver_opts") or {}), driver=decl.get("driver") or "bridge",
                          ip_range=cfg.get("ip_range") or "", aux_addresses=dict(cfg.get("aux_addresses") or {}),
                          enable_ipv6=bool(decl.get("enable_ipv6")), subnet6=cfg6.get("subnet"),
                          gateway6=cfg6.get("gateway"), ip_range6=cfg6.get("ip_range") or "")
        progress.event("Network", name, "Created")


def remove_networks(engine, project, progress) -> None:
    """The project's own networks (by label: also those of services no longer in the file)."""
    from dockyard.engine import networking
    from dockyard.state.networks import list_networks

    for rec in list_networks(engine.db):
        if (rec.labels or {}).get(PROJECT) != project.name:
            continue
        progress.event("Network", rec.name, "Removing")
        try:
            networking.remove(engine, rec.id)
        except DockyardError as e:
            progress.event("Network", rec.name, f"Error: {e}")
            continue
        progress.event("Network", rec.name, "Removed")


def volume_name(project, key: str) -> str:
    return ((project.volumes or {}).get(key) or {}).get("name") or f"{project.name}_{key}"


def ensure_volumes(engine, project, keys, progress) -> None:
    from dockyard.engine import volumes

    for key in keys:
        decl = (project.volumes or {}).get(key) or {}
        name = volume_name(project, key)
        if decl.get("external"):
            try:
                volumes.get(engine, name)
            except NotFound:
                raise NotFound(f"external volume \"{name}\" not found") from None
            continue
        for k in decl:
            if k not in ("name", "driver", "driver_opts", "labels", "external"):
                raise InvalidArgument(f"volume {key!r}: {k}: dockyard compose does not support this key")
        labels = {**(decl.get("labels") or {}), LABEL + "volume": key, PROJECT: project.name,
                  LABEL + "version": VERSION}
        try:
            volumes.get(engine, name)
            continue
        except NotFound:
            pass
        progress.event("Volume", name, "Creating")
        volumes.create(engine, name, driver=decl.get("driver") or "local", labels=labels,
                       options=dict(decl.get("driver_opts") or {}))
        progress.event("Volume", name, "Created")


def used_volumes(project, services) -> list[str]:
    keys: list[str] = []
    for svc in services:
        for v in project.services[svc].get("volumes") or ():
            if v.get("type") == "volume" and v.get("source") in (project.volumes or {}) and v["source"] not in keys:
                keys.append(v["source"])
    return keys


def remove_volumes(engine, project, progress) -> None:
    """`down -v`: the project's declared named volumes (never external ones)."""
    from dockyard.engine import volumes

    for key, decl in (project.volumes or {}).items():
        if (decl or {}).get("external"):
            continue
        name = volume_name(project, key)
        try:
            rec = volumes.get(engine, name)
        except NotFound:
            continue
        if (rec.labels or {}).get(PROJECT) not in (None, project.name):
            continue
        progress.event("Volume", name, "Removing")
        try:
            volumes.remove(engine, name)
        except DockyardError as e:
            progress.event("Volume", name, f"Error: {e}")
            continue
        progress.event("Volume", name, "Removed")


# ---------------------------------------------------------------------------- order


NAMESPACE_KEYS = ("network_mode", "pid", "ipc", "uts", "cgroup")


def peers(service: dict) -> list[str]:
    """Services whose namespaces this one joins (`network_mode: service:X`, `pid: service:X`…):
    implicit dependencies, whose container must run before this one is even created."""
    out = []
    for key in NAMESPACE_KEYS:
        v = service.get(key)
        if isinstance(v, str) and v.startswith("service:") and v[8:] not in out:
            out.append(v[8:])
    return out


def dependencies(service: dict) -> dict:
    """depends_on, plus the namespace peers as service_started dependencies."""
    deps = dict(service.get("depends_on") or {})
    for p in peers(service):
        deps.setdefault(p, {"condition": "service_started", "required": True})
    return deps


def dependency_order(project, services) -> list[str]:
    """The services and what they depend on (required dependencies must exist), dependencies first."""
    out: list[str] = []
    visiting: set[str] = set()

    def visit(svc: str, chain: tuple) -> None:
        if svc in out:
            return
        if svc in visiting:
            raise InvalidArgument(f"dependency cycle detected: {' -> '.join(chain + (svc,))}")
        visiting.add(svc)
        for dep, cond in sorted(dependencies(project.services[svc]).items()):
            if dep not in project.services:
                if (cond or {}).get("required", True):
                    raise InvalidArgument(f"service {svc!r} depends on undefined service {dep!r}")
                continue
            visit(dep, chain + (svc,))
        visiting.discard(svc)
        out.append(svc)

    for svc in services:
        visit(svc, ())
    return out


def levels(project, recs) -> list[list]:
    """Containers grouped by their service's depth in the dependency graph, dependencies first:
    the members of one group may be stopped or removed at the same time."""
    depth: dict[str, int] = {}

    def d(svc: str, seen=()) -> int:
        if svc not in depth:
            deps = [x for x in dependencies(project.services.get(svc) or {}) if x in project.services
                    and x not in seen]
            depth[svc] = 1 + max((d(x, seen + (svc,)) for x in deps), default=-1)
        return depth[svc]

    groups: dict[int, list] = {}
    for rec in recs:
        svc = getattr(rec, "service", None) or labels_of(rec).get(SERVICE, "")
        groups.setdefault(d(svc) if svc in project.services else 1 << 30, []).append(rec)
    return [groups[k] for k in sorted(groups)]


def _batches(items, limit: int) -> list:
    items = list(items)
    if limit is None or limit < 1:
        return [items]
    return [items[i:i + limit] for i in range(0, len(items), limit)]


def parallel(fn, items, limit: int = -1) -> None:
    """fn(item) for every item at once (at most `limit` at a time: --parallel), in threads (for
    stop and remove, which fork nothing); the first error is raised once all are done."""
    batches = _batches(items, limit)
    if len(batches) > 1:
        for b in batches:
            parallel(fn, b)
        return
    items = batches[0]
    if len(items) < 2:
        for it in items:
            fn(it)
        return
    import threading

    errors: list = []

    def one(it) -> None:
        try:
            fn(it)
        except BaseException as e:  # noqa: BLE001 - handed to the caller below
            errors.append(e)

    threads = [threading.Thread(target=one, args=(it,), daemon=True) for it in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def forked(engine, fn, items, limit: int = -1) -> None:
    """fn(item) for every item at once (at most `limit` at a time), each in a forked child (for `start`, which forks a
    monitor: never fork from a thread). The parent closes its database connection first (SQLite's
    locks must not cross a fork); a child's error comes back by pipe and is raised again here,
    with its category, once all are done."""
    batches = _batches(items, limit)
    if len(batches) > 1:
        for b in batches:
            forked(engine, fn, b)
        return
    items = batches[0]
    if len(items) < 2:
        for it in items:
            fn(it)
        return
    import sys

    from dockyard import errors

    engine.db.close()
    sys.stdout.flush()
    sys.stderr.flush()
    children = []
    for it in items:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: do it, report, leave without running the parent's cleanups
            os.close(r)
            code = 0
            try:
                fn(it)
            except BaseException as e:  # noqa: BLE001 - reported to the parent
                os.write(w, f"{type(e).__name__}\0{e}".encode(errors="replace"))
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(w)
        children.append((pid, r))
    first = None
    for pid, r in children:
        data = b""
        while chunk := os.read(r, 65536):
            data += chunk
        os.close(r)
        os.waitpid(pid, 0)
        if data and first is None:
            kind, _, text = data.decode(errors="replace").partition("\0")
            cls = getattr(errors, kind, None)
            first = cls(text) if isinstance(cls, type) and issubclass(cls, errors.DockyardError) else \
                errors.DockyardError(text)
    if first is not None:
        raise first


def select_services(project, names) -> list[str]:
    if not names:
        return list(project.services)
    for n in names:
        if n not in project.services:
            raise NotFound(f"no such service: {n}")
    return list(names)
