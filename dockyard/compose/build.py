"""A service's `build:` through the builder: context, dockerfile (inside the context, or a path
the file names), dockerfile_inline, args, target, labels, network; the image is tagged as the
service's image (`image:`, else `<project>-<service>`)."""

from __future__ import annotations

import os
import sys

from dockyard.errors import InvalidArgument

SUPPORTED = {"context", "dockerfile", "dockerfile_inline", "args", "target", "labels", "network", "tags", "no_cache"}


def build_service(engine, project, svc: str, *, quiet: bool = False, no_cache: bool = False) -> str:
    from dockyard.builder.build import Builder
    from dockyard.compose.convert import image_name

    service = project.services[svc]
    b = service.get("build") or {}
    if isinstance(b, str):
        b = {"context": b}
    for k in b:
        if k not in SUPPORTED:
            raise InvalidArgument(f"service {svc!r}: build.{k}: dockyard compose does not support this key")
    context = b.get("context") or "."
    if not os.path.isabs(context):
        context = os.path.join(project.working_dir, context)
    if not os.path.isdir(context):
        raise InvalidArgument(f"service {svc!r}: build.context: {context} is not a directory")
    if b.get("dockerfile_inline") is not None:
        text, name = b["dockerfile_inline"], "Dockerfile"
    else:
        text, name = _dockerfile(svc, context, b.get("dockerfile") or "Dockerfile")
    network = b.get("network") or "default"
    if network not in ("default", "none", "host", "bridge"):
        raise InvalidArgument(f"service {svc!r}: build.network: {network!r} is not supported (default, none, host)")
    args = {k: v for k, v in (b.get("args") or {}).items() if v is not None}
    builder = Builder(engine, context=context, dockerfile_text=text, dockerfile_name=name, build_args=args,
                      target=b.get("target") or None, no_cache=no_cache or bool(b.get("no_cache")),
                      labels=dict(b.get("labels") or {}), network={"default": "bridge"}.get(network, network),
                      out=sys.stderr, quiet=quiet)
    image_id = builder.build()
    for tag in [image_name(project.name, svc, service)] + list(b.get("tags") or ()):
        engine.images.tag(image_id, tag)
    return image_id


def _dockerfile(svc: str, context: str, rel: str) -> tuple[str, str]:
    """The context's own Dockerfile is read inside the context (a link out of it names nothing);
    an absolute path the file names is read as given."""
    from dockyard.builder.copier import read_inside

    if os.path.isabs(rel):
        try:
            with open(rel, "rb") as f:
                data = f.read()
        except OSError as e:
            raise InvalidArgument(f"service {svc!r}: build.dockerfile: {rel}: {e.strerror}") from None
    else:
        data = read_inside(context, rel)
        if data is None:
            raise InvalidArgument(f"service {svc!r}: build.dockerfile: {rel} is not a file inside the context "
                                  f"{context}")
    try:
        return data.decode("utf-8"), os.path.basename(rel)
    except UnicodeDecodeError:
        raise InvalidArgument(f"service {svc!r}: build.dockerfile: {rel} is not UTF-8 text") from None
