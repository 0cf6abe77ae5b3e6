"""SBOMs made at build time (`dockyard build --sbom`) and kept with their image.

BuildKit's ``--sbom`` makes an SPDX document of the built image that travels with it and goes to
the registry with it. Here the document is made from the built image (the same catalog as
`dockyard sbom`), kept in ``<root>/sbom/<image id hex>.spdx.json`` (an image id is its config's
digest: one image, one document), and pushed as an OCI 1.1 referrer of the image's manifest
(:mod:`dockyard.sbom.referrer`) each time the image is pushed. Documents of images that no longer
exist are removed whenever one is stored.
"""

from __future__ import annotations

import json
import os
import re

from dockyard import errors

FORMAT = "spdx-json"
_ID = re.compile(r"^(sha256:)?([0-9a-f]{64})$")


def _dir(engine) -> str:
    return os.path.join(engine.root, "sbom")


def _path(engine, image_id: str) -> str:
    m = _ID.match(image_id)
    if not m:
        raise errors.InvalidArgument(f"invalid image id {image_id!r}")
    return os.path.join(_dir(engine), f"{m.group(2)}.spdx.json")


def generate(engine, image_id: str, name: str | None = None) -> bytes:
    """The SPDX 2.3 document of the image ``image_id`` (``name`` is what the document calls it)."""
    from dockyard import __version__
    from dockyard.sbom.catalog import catalog_image
    from dockyard.sbom.spdx import document

    inv = catalog_image(engine, image_id)
    if name:
        inv.name = name
    return (json.dumps(document(inv, __version__), indent=2) + "\n").encode()


def store(engine, image_id: str, doc: bytes) -> str:
    """Keep ``doc`` as the image's build SBOM (replacing one it had); its path."""
    path = _path(engine, image_id)
    os.makedirs(_dir(engine), mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(doc)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    prune(engine)
    return path


def stored(engine, image_id: str) -> bytes | None:
    """The build SBOM of ``image_id``, or None when it was built without one."""
    try:
        with open(_path(engine, image_id), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def prune(engine) -> None:
    """Remove the documents of images that are gone (and leftovers of interrupted writes)."""
    try:
        names = os.listdir(_dir(engine))
    except FileNotFoundError:
        return
    images = {rec.id.removeprefix("sha256:") for rec in engine.db.list_images()}
    for n in names:
        hexid, _, rest = n.partition(".")
        if hexid in images and (rest == "spdx.json" or rest.endswith(".tmp")):
            continue  # kept (a .tmp of a live image may be another process's write in progress)
        try:
            os.unlink(os.path.join(_dir(engine), n))
        except FileNotFoundError:
            pass


def attach_pushed(engine, results, *, insecure: bool = False, creds=None) -> list[tuple[str, str | None, str]]:
    """After a push: attach each pushed image's build SBOM to it in the registry. One
    (reference, referrer digest or None, message) per pushed tag whose image has one; a registry
    that cannot take it is a message, not a failure (the image itself was pushed)."""
    out = []
    for r in results:
        rec = engine.images.resolve(r.reference)
        doc = stored(engine, rec.id)
        if doc is None:
            continue
        try:
            created = (json.loads(doc).get("creationInfo") or {}).get("created")
        except ValueError:
            created = None
        from dockyard.sbom.referrer import attach

        try:
            digest = attach(f"{r.reference.rpartition(':')[0]}@{r.digest}", FORMAT, doc,
                            local_manifest_digest=r.digest, insecure=insecure, created=created, creds=creds)
        except errors.DockyardError as e:
            out.append((r.reference, None, f"the build SBOM was not attached: {e}"))
            continue
        out.append((r.reference, digest, f"{r.tag}: sbom: {digest} (application/spdx+json, "
                                         f"OCI 1.1 referrer of {r.digest})"))
    return out
