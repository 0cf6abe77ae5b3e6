"""`docker save`: images out of the stores as an image archive, in the two formats Docker writes:

- **docker-archive** (`docker save`, Docker 20.10's legacy layout): `manifest.json`
  (`[{"Config", "RepoTags", "Layers"}]`), `repositories`, the config as `<hex>.json`, and one
  directory per layer with `layer.tar` (uncompressed: its sha256 is the layer's diff_id), `json`
  and `VERSION`.
- **OCI image layout** (`--format oci`): `oci-layout`, `index.json` (one descriptor per tag, with
  `io.containerd.image.name` and `org.opencontainers.image.ref.name` annotations) and
  `blobs/sha256/…` holding our manifest, config and layer blobs byte for byte.

Saving writes a deterministic tar (sorted entries, owner 0, mtimes clamped to the image's
creation time) as a stream, so it can go to a pipe. `archive_load.py` reads both formats back.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import tarfile
import tempfile
from typing import BinaryIO

from dockyard.errors import DigestMismatch, InvalidArgument
from dockyard.oci import image as oi

CHUNK = 1 << 20  # copy buffer


def _epoch(created: str) -> int:
    """RFC 3339 → whole seconds since the epoch (0 when absent or unparsable)."""
    if not created:
        return 0
    try:
        from datetime import datetime

        s = created.strip().replace("Z", "+00:00")
        if "." in s:  # Python 3.11 takes at most 6 fractional digits
            head, _, rest = s.partition(".")
            frac = "".join(c for c in rest if c.isdigit())
            tz = rest[len(frac):]
            s = f"{head}.{frac[:6]}{tz}"
        return max(0, int(datetime.fromisoformat(s).timestamp()))
    except (ValueError, OverflowError):
        return 0


class _Entry:
    """One archive member to write: bytes, a file to copy, or a directory."""

    __slots__ = ("name", "data", "path", "size", "mtime", "isdir")

    def __init__(self, name: str, *, data: bytes | None = None, path: str | None = None, size: int = 0,
                 mtime: int = 0, isdir: bool = False) -> None:
        self.name, self.data, self.path, self.mtime, self.isdir = name, data, path, mtime, isdir
        self.size = len(data) if data is not None else size


def _write_tar(entries: dict[str, _Entry], out: BinaryIO, open_blob) -> None:
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(entries):
            e = entries[name]
            ti = tarfile.TarInfo(e.name + ("/" if e.isdir else ""))
            ti.mtime = e.mtime
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            if e.isdir:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(ti)
                continue
            ti.mode = 0o644
            ti.size = e.size
            if e.data is not None:
                import io

                tar.addfile(ti, io.BytesIO(e.data))
            else:
                with open_blob(e) as f:
                    tar.addfile(ti, f)


def _add_dirs(entries: dict[str, _Entry], name: str, mtime: int) -> None:
    parent = posixpath.dirname(name)
    while parent and parent not in entries:
        entries[parent] = _Entry(parent, isdir=True, mtime=mtime)
        parent = posixpath.dirname(parent)


class _Image:
    __slots__ = ("rec", "config", "config_bytes", "manifest", "tags", "mtime")


def _collect(engine, names: list[str]) -> list[_Image]:
    """Resolve the names to images (in order, each image once) with the tags asked for."""
    from dockyard.oci import reference

    images: dict[str, _Image] = {}
    for name in names:
        rec = engine.images.resolve(name)
        img = images.get(rec.id)
        if img is None:
            img = _Image()
            img.rec = rec
            img.config_bytes = engine.content.read_bytes(rec.config_digest)
            img.config = json.loads(img.config_bytes)
            img.manifest = engine.images.manifest(rec)
            img.tags = []
            img.mtime = _epoch(img.config.get("created") or "")
            images[rec.id] = img
        tag = None
        if not engine.images.names_by_id(name):
            ref = reference.parse(name)
            if not ref.digest:
                tag = str(ref.with_default_tag())
        if tag and tag not in img.tags:
            img.tags.append(tag)
    return list(images.values())


def save(engine, names: list[str], out: BinaryIO, fmt: str = "docker") -> None:
    """Write the images `names` to `out` as a docker-archive (`fmt="docker"`) or OCI layout tar."""
    if fmt not in ("docker", "oci"):
        raise InvalidArgument(f'invalid --format "{fmt}": use "docker" or "oci"')
    if not names:
        raise InvalidArgument("nothing to save: name at least one image")
    images = _collect(engine, names)
    if fmt == "oci":
        _save_oci(engine, images, out)
    else:
        _save_docker(engine, images, out)


def _save_oci(engine, images: list[_Image], out: BinaryIO) -> None:
    from dockyard.oci import reference

    entries: dict[str, _Entry] = {}
    descs = []
    top_mtime = max((i.mtime for i in images), default=0)
    for img in images:
        m = img.manifest
        for d in [m["config"]] + list(m.get("layers") or ()):
            _blob_entry(engine, entries, d["digest"], img.mtime)
        _blob_entry(engine, entries, img.rec.manifest_digest, img.mtime)
        base = {"mediaType": img.rec.manifest_media_type or oi.OCI_MANIFEST, "digest": img.rec.manifest_digest,
                "size": engine.content.size(img.rec.manifest_digest)}
        platform = {k: img.config[k] for k in ("architecture", "os", "variant") if img.config.get(k)}
        if platform.get("architecture") and platform.get("os"):
            base["platform"] = platform
        if not img.tags:
            descs.append(base)
        for t in img.tags:
            ref = reference.parse(t)
            descs.append(dict(base, annotations={"io.containerd.image.name": t,
                                                 "org.opencontainers.image.ref.name": ref.tag or "latest"}))
    index = {"schemaVersion": 2, "mediaType": oi.OCI_INDEX, "manifests": descs}
    entries["index.json"] = _Entry("index.json", data=oi.canonical_json(index), mtime=top_mtime)
    entries["oci-layout"] = _Entry("oci-layout", data=b'{"imageLayoutVersion":"1.0.0"}', mtime=top_mtime)
    _write_tar(entries, out, lambda e: engine.content.open(e.path))


def _blob_entry(engine, entries: dict[str, _Entry], digest: str, mtime: int) -> None:
    alg, _, hexd = digest.partition(":")
    name = f"blobs/{alg}/{hexd}"
    if name in entries:
        entries[name].mtime = min(entries[name].mtime, mtime)
        return
    entries[name] = _Entry(name, path=digest, size=engine.content.size(digest), mtime=mtime)
    _add_dirs(entries, name, mtime)


def _v1_id(diff_id: str, parent: str | None, created: str) -> str:
    """A legacy layer id: stable for the same layer on the same parent chain (Docker's v1 ids are
    hashes of a v1 config naming the layer and its parent, as here)."""
    doc = {"created": created or "1970-01-01T00:00:00Z", "layer_id": diff_id}
    if parent:
        doc["parent"] = "sha256:" + parent
    return hashlib.sha256(oi.canonical_json(doc)).hexdigest()


def _save_docker(engine, images: list[_Image], out: BinaryIO) -> None:
    from dockyard.oci import reference

    tmp_dir = engine.tmp_dir()
    entries: dict[str, _Entry] = {}
    temps: dict[str, tuple[str, int]] = {}  # layer blob digest -> (uncompressed temp file, size)
    manifest, repositories = [], {}
    top_mtime = max((i.mtime for i in images), default=0)
    try:
        for img in images:
            cfg_hex = img.rec.config_digest.partition(":")[2]
            entries[f"{cfg_hex}.json"] = _Entry(f"{cfg_hex}.json", data=img.config_bytes, mtime=img.mtime)
            diff_ids = (img.config.get("rootfs") or {}).get("diff_ids") or []
            layers = img.manifest.get("layers") or []
            if len(diff_ids) != len(layers):
                raise InvalidArgument(f"image {img.rec.id} is damaged: its config and manifest disagree on the layers")
            parent, layer_paths = None, []
            created = img.config.get("created") or ""
            for i, (diff_id, layer) in enumerate(zip(diff_ids, layers)):
                lid = _v1_id(diff_id, parent, created)
                if layer["digest"] not in temps:
                    temps[layer["digest"]] = _uncompress_layer(engine, layer, diff_id, tmp_dir)
                path, size = temps[layer["digest"]]
                entries.setdefault(f"{lid}/layer.tar", _Entry(f"{lid}/layer.tar", path=path, size=size,
                                                                mtime=img.mtime))
                entries.setdefault(f"{lid}/VERSION", _Entry(f"{lid}/VERSION", data=b"1.0", mtime=img.mtime))
                v1 = {"id": lid, "created": created or "1970-01-01T00:00:00Z",
                      "container_config": {"Cmd": None, "Env": None, "Image": "", "Labels": None},
                      "os": img.config.get("os") or "linux"}
                if parent:
                    v1["parent"] = parent
                if i == len(diff_ids) - 1:  # the top layer carries the image config, as Docker's does
                    for k, v in img.config.items():
                        if k not in ("rootfs", "history", "created"):
                            v1[k] = v
                entries.setdefault(f"{lid}/json", _Entry(f"{lid}/json", data=oi.canonical_json(v1), mtime=img.mtime))
                _add_dirs(entries, f"{lid}/json", img.mtime)
                layer_paths.append(f"{lid}/layer.tar")
                parent = lid
            repo_tags = []
            for t in img.tags:
                ref = reference.parse(t)
                repo_tags.append(ref.familiar())
                if parent:
                    repositories.setdefault(ref.familiar_name, {})[ref.tag or "latest"] = parent
            manifest.append({"Config": f"{cfg_hex}.json", "RepoTags": repo_tags or None, "Layers": layer_paths})
        entries["manifest.json"] = _Entry("manifest.json", data=json.dumps(manifest, separators=(",", ":")).encode(),
                                          mtime=top_mtime)
        if repositories:
            entries["repositories"] = _Entry("repositories", data=json.dumps(repositories, sort_keys=True,
                                                                            separators=(",", ":")).encode() + b"\n",
                                             mtime=top_mtime)
        _write_tar(entries, out, lambda e: open(e.path, "rb"))
    finally:
        for path, _ in temps.values():
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def _uncompress_layer(engine, layer: dict, diff_id: str, tmp_dir: str) -> tuple[str, int]:
    """The layer blob uncompressed into a temp file, checked against its diff_id."""
    from dockyard.archive.compression import open_decompressed

    from dockyard.ownership import owner_tag

    fd, path = tempfile.mkstemp(dir=tmp_dir, prefix=f"save-{owner_tag()}-", suffix=".tar")
    h, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as tmp, engine.content.open(layer["digest"]) as blob, \
                open_decompressed(blob) as plain:
            while chunk := plain.reader.read(CHUNK):
                h.update(chunk)
                tmp.write(chunk)
                size += len(chunk)
        if "sha256:" + h.hexdigest() != diff_id:
            raise DigestMismatch(f"layer {layer['digest']} is corrupt: it unpacks to sha256:{h.hexdigest()}, "
                                 f"not its diff_id {diff_id}", hint="remove the image and pull or load it again")
    except BaseException:
        os.unlink(path)
        raise
    return path, size
