"""A project's images before `up`/`create`: built or pulled as the services' pull_policy says."""

from __future__ import annotations


def ensure_images(engine, project, services, *, force: bool, never: bool, progress) -> None:
    """Each service's image, as v2's pull_policy says: `build:` services get theirs built when it
    is missing (always with --build or `pull_policy: build`); others pull a missing one (always
    with `pull_policy: always`) — from the registry the reference names: a Docker Hub name is never
    fetched implicitly, as with `dockyard run`."""
    from dockyard.compose.convert import image_name
    from dockyard.errors import ImageNotFound

    for svc in services:
        service = project.services[svc]
        ref = image_name(project.name, svc, service)
        policy = service.get("pull_policy") or "missing"
        try:
            engine.images.resolve(ref)
            present = True
        except ImageNotFound:
            present = False
        if service.get("build") and not never and (force or policy == "build" or not present):
            from dockyard.compose.build import build_service

            progress.event("Service", svc, "Building")
            build_service(engine, project, svc, quiet=progress.mode != "plain")
            progress.event("Service", svc, "Built")
        elif service.get("image") and (policy == "always" or (not present and policy not in ("never", "build"))):
            from dockyard.oci import reference

            if not present and reference.parse(ref).domain == reference.DEFAULT_DOMAIN and policy != "always":
                raise ImageNotFound(f"service {svc!r}: no such image: {ref}",
                                    hint="dockyard never pulls from Docker Hub implicitly: pull, load or build it")
            from dockyard.registry.pull import pull
            from dockyard.sign.policy import enforcer

            progress.event("Image", ref, "Pulling")
            pull(engine, ref, check=enforcer(engine.root, None))
            progress.event("Image", ref, "Pulled")
