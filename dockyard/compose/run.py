"""`compose run`'s engine half: a one-off container of a service (labelled oneoff, named
`<project>-<service>-run-<hex>`, no published ports unless asked), after its dependencies are up
and — beyond Compose v1 and v2 — after their `depends_on` conditions hold."""

from __future__ import annotations

import os

from dockyard.compose import project as P
from dockyard.compose import up as U


def prepare(engine, project, svc: str, *, no_deps: bool, progress) -> None:
    """Networks, volumes, and the dependencies running (their conditions met)."""
    P.select_services(project, [svc])
    deps = [] if no_deps else [d for d in P.dependency_order(project, [svc]) if d != svc]
    P.ensure_networks(engine, project, P.used_networks(project, deps + [svc]), progress)
    P.ensure_volumes(engine, project, P.used_volumes(project, deps + [svc]), progress)
    if deps:
        todo = U.converge(engine, project, deps, U.Options(no_recreate=False), progress)
        U.start_all(engine, project, todo, progress)
    if not no_deps:
        U.await_dependencies(engine, project, svc, progress)


def oneoff_name(project, svc: str) -> str:
    return f"{project.name}-{svc}-run-{os.urandom(6).hex()}"


def run(engine, project, svc: str, overrides, *, name: str | None, detach: bool, stdin_open: bool):
    """Create and run the one-off container: detached → its id, else its exit code."""
    from dockyard.engine import containers

    name = name or oneoff_name(project, svc)
    cfg, name, extra = U.container_config(engine, project, svc, 1, name=name, oneoff=True, overrides=overrides)

    def created(cid: str) -> None:
        U.connect_extra(engine, cid, extra)

    if detach:
        return containers.run_detached(engine, cfg, name, created=created)
    return containers.run(engine, cfg, name, stdin_open=stdin_open, created=created)
