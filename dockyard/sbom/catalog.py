"""Run every cataloger over an image's merged filesystem."""

from __future__ import annotations

from dockyard.sbom import apk, binary, dpkg, gobin, npm, python
from dockyard.sbom.model import Distro, Package, read_os_release

CATALOGERS = {"dpkg": dpkg.catalog, "apk": apk.catalog, "python": python.catalog, "npm": npm.catalog,
              "go": gobin.catalog, "binary": binary.catalog}


class Inventory:
    """The packages found in one image, and what the image is."""

    __slots__ = ("name", "image_id", "manifest_digest", "distro", "packages", "layers")

    def __init__(self, name: str, image_id: str, manifest_digest: str, distro: Distro,
                 packages: list[Package], layers: list[str]) -> None:
        self.name, self.image_id, self.manifest_digest = name, image_id, manifest_digest
        self.distro, self.packages, self.layers = distro, packages, layers


def catalog_fs(fs) -> tuple[Distro, list[Package]]:
    distro = read_os_release(fs)
    found: list[Package] = []
    seen: set[tuple[str, str]] = set()
    for fn in CATALOGERS.values():
        for p in fn(fs, distro):
            key = (p.purl, p.locations[0] if p.locations else "")
            if key not in seen:
                seen.add(key)
                found.append(p)
    found.sort(key=lambda p: (p.name, p.version, p.type, p.purl))
    return distro, found


def catalog_image(engine, name: str) -> Inventory:
    from dockyard.sbom.rootfs import open_image

    fs, rec, _config = open_image(engine, name)
    distro, packages = catalog_fs(fs)
    return Inventory(name, rec.id, rec.manifest_digest, distro, packages, fs.layer_ids)
