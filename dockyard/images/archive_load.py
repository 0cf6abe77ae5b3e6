"""`docker load`: an image archive (docker-archive or OCI image layout, maybe compressed, see
`archive_save.py` for both) into the stores. `archive_reader.py` reads the stream into the
content store; the format readers here turn what it held into image manifests and tags. Nothing
is recorded until every blob matched its digest and every layer its diff_id. A failed load
removes the blobs it added.
"""

from __future__ import annotations

import json
import posixpath
import tarfile
from typing import BinaryIO

from dockyard.errors import DigestMismatch, DockyardError, ImageNotFound, InvalidArgument
from dockyard.images.archive_reader import ArchiveReader
from dockyard.oci import image as oi

_HEX = frozenset("0123456789abcdef")


class LoadedImage:
    __slots__ = ("id", "tags", "moved")

    def __init__(self, image_id: str, tags: list[str], moved: list[tuple[str, str]]) -> None:
        self.id, self.tags, self.moved = image_id, tags, moved


def _fits(p: dict, os_: str, arch: str, variant: str) -> bool:
    """An index entry's platform against the one wanted (what either leaves out matches)."""
    return (p.get("os") in (None, os_) and (not arch or p.get("architecture") in (None, arch))
            and (not variant or p.get("variant") in (None, variant)))


class _Loader(ArchiveReader):
    """The format readers: docker-archive's manifest.json or the OCI layout's index.json."""

    def plan(self) -> list[tuple[bytes, list[str], int]]:
        """(manifest bytes, tags) per image, every layer checked against its diff_id."""
        if "manifest.json" in self.small or "manifest.json" in self.members or "manifest.json" in self.links:
            return self._plan_docker()
        if "index.json" in self.small or "oci-layout" in self.small:
            return self._plan_oci()
        raise InvalidArgument("invalid archive: it has neither manifest.json (docker save) nor index.json "
                              "(OCI image layout)", hint="is this an image archive? `dockyard import` takes a rootfs tarball")

    def _plan_docker(self) -> list[tuple[bytes, list[str], int]]:
        doc = self.small_json("manifest.json", "manifest")
        if not isinstance(doc, list) or not doc:
            raise InvalidArgument("invalid archive: manifest.json is not a list of images")
        out = []
        for entry in doc:
            if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
                raise InvalidArgument("invalid archive: a manifest.json entry has no Config")
            cfg_name = self.resolve(entry["Config"])
            raw = self.raw(cfg_name, "image config")
            expected = None
            base = posixpath.basename(cfg_name).removesuffix(".json")
            if len(base) == 64 and set(base) <= _HEX:
                expected = "sha256:" + base
            config_digest = self.store_json(raw, expected)
            try:
                config = json.loads(raw)
            except (ValueError, UnicodeDecodeError, RecursionError) as e:
                raise InvalidArgument(f"invalid archive: image config {cfg_name!r} is not valid JSON: {e}") from None
            if not isinstance(config, dict):
                raise InvalidArgument(f"invalid archive: image config {cfg_name!r} is not an object")
            layers = entry.get("Layers") or []
            if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
                raise InvalidArgument("invalid archive: a manifest.json entry's Layers is not a list of names")
            members = [self.member(x, "layer") for x in layers]
            descs = self.check_layers(config, members, f"image {config_digest}")
            manifest = {"schemaVersion": 2, "mediaType": oi.OCI_MANIFEST,
                        "config": {"mediaType": oi.OCI_CONFIG, "digest": config_digest, "size": len(raw)},
                        "layers": descs}
            tags = entry.get("RepoTags") or []
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise InvalidArgument("invalid archive: RepoTags is not a list of names")
            out.append((oi.canonical_json(manifest), [self._tag(t) for t in tags], self.last_size))
        return out

    @staticmethod
    def _tag(t: str) -> str:
        from dockyard.images.store import ImageStore

        return ImageStore.normalize_tag(t)

    def _plan_oci(self) -> list[tuple[bytes, list[str], int]]:
        index = self.small_json("index.json", "index")
        if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
            raise InvalidArgument("invalid archive: index.json has no manifests")
        by_manifest: dict[str, tuple[bytes, list[str], int]] = {}
        for desc, tag in self._walk_index(index, None, 0):
            digest = desc["digest"]
            if digest not in by_manifest:
                by_manifest[digest] = (self._plan_oci_manifest(desc), [], self.last_size)
            if tag and tag not in by_manifest[digest][1]:
                by_manifest[digest][1].append(tag)
        if not by_manifest and self.platform:
            raise ImageNotFound(f"the archive has no image for platform {'/'.join(p for p in self.platform if p)}")
        if not by_manifest:
            raise InvalidArgument("invalid archive: index.json lists no image manifest")
        return list(by_manifest.values())

    def _walk_index(self, index: dict, tag: str | None, depth: int):
        from dockyard.oci.platform import go_arch

        os_, arch, variant = self.platform or ("linux", go_arch(), "")
        if depth > 4:
            raise InvalidArgument("invalid archive: indexes nest too deep")
        for desc in index.get("manifests") or []:
            if not isinstance(desc, dict):
                raise InvalidArgument("invalid archive: bad descriptor in index")
            t = self._desc_tag(desc) or tag
            media = desc.get("mediaType")
            if media in oi.INDEX_TYPES:
                child = self.blob_json(desc, "image index")
                # a multi-platform index: take this machine's platform (or --platform's), as docker does
                subs = [d for d in child.get("manifests") or [] if isinstance(d, dict)
                        and _fits(d.get("platform") or {}, os_, arch, variant)]
                yield from self._walk_index({"manifests": subs[:1]}, t, depth + 1)
            elif media in oi.MANIFEST_TYPES or media is None:
                yield desc, t

    @staticmethod
    def _desc_tag(desc: dict) -> str | None:
        from dockyard.images.store import ImageStore

        ann = desc.get("annotations") or {}
        for key in ("io.containerd.image.name", "org.opencontainers.image.ref.name"):
            v = ann.get(key)
            if not isinstance(v, str) or not v:
                continue
            if key.startswith("org.") and ":" not in v and "/" not in v:
                continue  # just a tag ("latest"): no repository to put it in
            try:
                return ImageStore.normalize_tag(v)
            except DockyardError:
                continue
        return None

    def _plan_oci_manifest(self, desc: dict) -> bytes:
        raw = self.blob(desc.get("digest"), "image manifest")
        manifest = self.blob_json(desc, "image manifest")
        self.store_json(raw, desc["digest"])
        cfg_desc = manifest.get("config")
        if not isinstance(cfg_desc, dict):
            raise InvalidArgument(f"invalid archive: manifest {desc['digest']} has no config")
        cfg_raw = self.blob(cfg_desc.get("digest"), "image config")
        self.store_json(cfg_raw, cfg_desc["digest"])
        config = self.blob_json(cfg_desc, "image config")
        members, rewritten = [], False
        for layer in manifest.get("layers") or []:
            if not isinstance(layer, dict):
                raise InvalidArgument("invalid archive: bad layer descriptor")
            d = layer.get("digest")
            m = self.plain.get(d)
            if m is not None:
                rewritten = True  # a plain tar we stored gzipped: the manifest must point at the gzip
            else:
                alg, _, hexd = str(d).partition(":")
                m = self.member(f"blobs/{alg}/{hexd}", "layer blob")
                if m.digest != d:
                    raise DigestMismatch(f"layer blob {d} is corrupt: its content hashes to {m.digest}")
            members.append(m)
        descs = self.check_layers(config, members, f"image {cfg_desc['digest']}")
        if not rewritten:
            return raw
        new = dict(manifest)
        new["mediaType"] = manifest.get("mediaType") or oi.OCI_MANIFEST
        new["layers"] = [dict(old, **d) for old, d in zip(manifest["layers"], descs)]
        return oi.canonical_json(new)


def load(engine, src: BinaryIO, platform: str | None = None) -> list[LoadedImage]:
    """Read an image archive (docker-archive or OCI layout tar, maybe compressed) from `src`. With
    `platform` (docker's `load --platform`) that platform's image of a multi-platform index is
    taken, and every image loaded must be that platform's, else nothing is loaded."""
    with engine.lease() as lease:  # until its images are recorded, `rmi` keeps what it stores
        return _load(engine, src, platform, lease)


def _load(engine, src: BinaryIO, platform: str | None, lease) -> list[LoadedImage]:
    import zlib

    from dockyard.oci.platform import describe, matches, parse_platform

    try:
        wanted = parse_platform(platform) if platform else None
    except ValueError as e:
        raise InvalidArgument(f"invalid platform: {e}") from None
    loader = _Loader(engine, wanted)
    try:
        try:
            loader.read(src)
            plans = loader.plan()
        except (tarfile.TarError, EOFError, zlib.error) as e:
            raise InvalidArgument(f"invalid archive: {e or type(e).__name__}",
                                  hint="dockyard load takes a tar written by `docker save` or an OCI layout tar") from None
        except (KeyError, TypeError, AttributeError) as e:
            raise InvalidArgument(f"invalid archive: malformed document ({type(e).__name__}: {e})") from None
        loaded = []
        for manifest_bytes, tags, _tar_size in plans:
            image_id = json.loads(manifest_bytes)["config"]["digest"]
            if platform:
                config = json.loads(engine.content.read_bytes(image_id))
                if not matches(config, platform):
                    raise ImageNotFound(f"the archive has no image for platform {platform} (its image "
                                        f"{image_id[:19]} is {describe(config)})")
            moved = []
            for t in tags:
                old = engine.db.resolve_tag(t)
                if old and old != image_id:
                    moved.append((t, old))
            if engine.db.get_image(image_id) is not None:  # already here: keep its blobs, move the tags
                with engine.db.transaction():
                    for t in tags:
                        engine.db.set_tag(t, image_id)
            else:
                engine.images.add_manifest(manifest_bytes, tags)
            loader.new.discard(image_id)
            loaded.append(LoadedImage(image_id, tags, moved))
    finally:
        # what it stored that no image uses (a failed load, or blobs of an image already here),
        # unless another command's lease protects it (another load may be using it meanwhile)
        engine.images.drop_unreferenced(loader.new, lease)
    return loaded
