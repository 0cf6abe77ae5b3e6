"""`dockyard build --output`: the built image's filesystem also written out, as BuildKit's
exporters do: ``type=local,dest=DIR`` (the files, into DIR) and ``type=tar,dest=FILE`` (one tar,
``-`` for stdout). ``type=image``/``type=docker`` name what the build always does (an image in
the store); other types are refused. The files come from a container made from the image and
never started (`docker export` of it): no whiteouts, no runtime mountpoints."""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument, NotImplemented


def parse_output(spec: str) -> tuple[str, str]:
    """``type=…,dest=…`` (or a bare path: local, ``-``: tar to stdout) → (type, dest)."""
    if "=" not in spec:
        return ("tar", "-") if spec == "-" else ("local", spec)
    vals: dict = {}
    for field in spec.split(","):
        k, eq, v = field.strip().partition("=")
        if not eq:
            raise InvalidArgument(f"invalid --output {spec!r}: {field!r} must be key=value")
        vals[k.lower()] = v
    kind = vals.pop("type", "")
    dest = vals.pop("dest", "")
    if kind in ("image", "docker"):
        if dest or vals:
            raise NotImplemented(f"--output type={kind} takes no options in dockyard (the image is stored)")
        return kind, ""
    if kind not in ("local", "tar"):
        raise NotImplemented(f"--output type={kind or '?'} is not supported: use type=local,dest=DIR or "
                             "type=tar,dest=FILE")
    if vals:
        raise NotImplemented(f"--output type={kind}: option {sorted(vals)[0]!r} is not supported")
    if not dest:
        raise InvalidArgument(f"--output type={kind} needs dest=")
    if kind == "local" and dest == "-":
        raise InvalidArgument("--output type=local needs a directory, not -")
    return kind, dest


def write_output(engine, image_id: str, kind: str, dest: str, stdout=None) -> None:
    """The image's files to ``dest`` as ``kind`` (see `parse_output`)."""
    if kind in ("image", "docker"):
        return
    from dockyard.engine.config import ContainerConfig
    from dockyard.engine.containers import create
    from dockyard.engine.filesystem import export
    from dockyard.engine.teardown import remove

    c = create(engine, ContainerConfig(image=image_id, cmd=("/",), entrypoint=(), network="none"), None,
               image_volumes=False)
    try:
        if kind == "tar":
            if dest == "-":
                export(engine, c.rec.id, stdout)
                stdout.flush()
            else:
                from dockyard.fsutil import write_output as write_file

                write_file(dest, lambda f: export(engine, c.rec.id, f))
            return
        import tempfile

        from dockyard.archive.apply import apply_layer

        os.makedirs(dest, exist_ok=True)
        with tempfile.TemporaryFile(dir=engine.tmp_dir()) as f:
            export(engine, c.rec.id, f)
            f.seek(0)
            apply_layer(f, dest, mode="flatten", allow_devices=False, same_owner=os.geteuid() == 0)
    finally:
        remove(engine, c.rec.id, force=True)
