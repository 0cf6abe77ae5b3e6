"""`docker save` / `docker load`: image archives in and out of the stores.

Two formats, as Docker writes them:

- **docker-archive** (`docker save`, Docker 20.10's legacy layout): `manifest.json`
  (`[{"Config", "RepoTags", "Layers"}]`), `repositories`, the config as `<hex>.json`, and one
  directory per layer with `layer.tar` (uncompressed: its sha256 is the layer's diff_id), `json`
  and `VERSION`.
- **OCI image layout** (`--format oci`): `oci-layout`, `index.json` (one descriptor per tag, with
  `io.containerd.image.name` and `org.opencontainers.image.ref.name` annotations) and
  `blobs/sha256/…` holding our manifest, config and layer blobs byte for byte.

Saving writes a deterministic tar (sorted entries, owner 0, mtimes clamped to the image's
creation time) as a stream, so it can go to a pipe. Loading reads the archive as a stream too
(plain or compressed): no member is ever extracted to a path, every regular file goes straight into
the content store (plain layer tars are gzipped on the way in), and nothing is recorded until every
blob matched its digest and every layer its diff_id. A failed load removes the blobs it added.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import tarfile
import tempfile
from typing import BinaryIO

from dockyard.errors import DigestMismatch, DockyardError, ImageNotFound, InvalidArgument, UnsafeArchive
from dockyard.oci import image as oi

CHUNK = 1 << 20
SMALL_LIMIT = 8 << 20  # members larger than this (or named layer.tar, or blobs) are streamed, never buffered
SMALL_TOTAL_LIMIT = 256 << 20  # buffered JSON and such, all told
INDEX_LIMIT = 1 << 20  # manifest.json, index.json, repositories: read whole, so capped
INDEX_FILES = ("manifest.json", "index.json", "repositories")
_HEX = frozenset("0123456789abcdef")


# ============================================================================ save

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
        if not (reference.looks_like_id(name) and not engine.db.resolve_tag(engine.images._maybe_tag(name))):
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


# ============================================================================ load

class _Member:
    """What one regular file of the archive became in the content store."""

    __slots__ = ("digest", "size", "diff_id", "plain_digest", "plain_size")

    def __init__(self, digest: str, size: int, diff_id: str | None = None, plain_digest: str | None = None,
                 plain_size: int = 0) -> None:
        self.plain_size = plain_size    # uncompressed size, once known
        self.digest = digest            # the stored blob
        self.size = size
        self.diff_id = diff_id          # sha256 of the uncompressed tar, when known
        self.plain_digest = plain_digest  # the member's own digest when it was a plain tar we gzipped


class LoadedImage:
    __slots__ = ("id", "tags", "moved")

    def __init__(self, image_id: str, tags: list[str], moved: list[tuple[str, str]]) -> None:
        self.id, self.tags, self.moved = image_id, tags, moved


def _clean_name(name: str) -> str:
    """The archive-relative name of a member; UnsafeArchive for names that climb or are absolute."""
    if name.startswith("/") or "\\" in name or "\x00" in name:
        raise UnsafeArchive(f"refusing archive member {name!r}: absolute or odd path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"refusing archive member {name!r}: it climbs out of the archive with '..'")
    return "/".join(parts)


def _is_plain_tar(head: bytes) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"


def _fits(p: dict, os_: str, arch: str, variant: str) -> bool:
    """An index entry's platform against the one wanted (what either leaves out matches)."""
    return (p.get("os") in (None, os_) and (not arch or p.get("architecture") in (None, arch))
            and (not variant or p.get("variant") in (None, variant)))


class _Loader:
    def __init__(self, engine, platform: tuple[str, str, str] | None = None) -> None:
        self.engine = engine
        self.platform = platform             # (os, arch, variant) of `load --platform`, else the host's
        self.content = engine.content
        self.new: set[str] = set()           # blobs this load added (removed again on failure)
        self.members: dict[str, _Member] = {}
        self.small: dict[str, bytes] = {}
        self.links: dict[str, str] = {}      # symlink / hardlink name -> target name
        self.plain: dict[str, _Member] = {}  # digest of a plain layer tar -> its gzipped blob
        self.last_size = 0
        self.small_total = 0

    def _track(self, digest: str, existed: bool) -> None:
        if not existed:
            self.new.add(digest)

    # -------------------------------------------------------------- reading the stream

    def read(self, src: BinaryIO) -> None:
        from dockyard.archive.compression import open_decompressed

        with open_decompressed(src) as dec:
            if dec.compression not in ("none", "gzip", "zstd", "bzip2", "xz"):
                raise InvalidArgument(f"unsupported archive compression {dec.compression}")
            with tarfile.open(fileobj=dec.reader, mode="r|") as tar:
                for m in tar:
                    name = _clean_name(m.name)
                    if not name:
                        continue
                    if m.isdir():
                        continue
                    if m.issym() or m.islnk():
                        target = m.linkname if m.islnk() else posixpath.join(posixpath.dirname(name), m.linkname)
                        if m.issym() and m.linkname.startswith("/"):
                            raise UnsafeArchive(f"refusing archive member {name!r}: absolute link target")
                        self.links[name] = _clean_name(posixpath.normpath(target) if m.issym() else target)
                        continue
                    if not m.isreg():
                        continue  # devices, fifos: nothing an image archive needs; never created
                    f = tar.extractfile(m)
                    self._member(name, m.size, f)

    def _member(self, name: str, size: int, f: BinaryIO) -> None:
        if name in INDEX_FILES and size > INDEX_LIMIT:
            raise InvalidArgument(f"invalid archive: {name} is {size} bytes, more than the "
                                  f"{INDEX_LIMIT >> 20} MiB an image archive's index can take")
        expected = None
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == "blobs":
            expected = f"{parts[1]}:{parts[2]}"
            from dockyard.oci import digest as dg

            if not dg.is_valid(expected):
                raise InvalidArgument(f"invalid archive: blob name {name!r} is not a digest")
        elif size <= SMALL_LIMIT and not name.endswith("layer.tar"):
            self.small_total += size - len(self.small.get(name, b""))
            if self.small_total > SMALL_TOTAL_LIMIT:
                raise InvalidArgument(f"invalid archive: more than {SMALL_TOTAL_LIMIT >> 20} MiB of small files "
                                      "besides the layers; this is not an image archive")
            data = f.read()
            if len(data) != size:
                raise InvalidArgument(f"invalid archive: member {name!r} is truncated")
            self.small[name] = data
            return
        head = b""
        while len(head) < 512:
            chunk = f.read(512 - len(head))
            if not chunk:
                break
            head += chunk
        if _is_plain_tar(head):
            self.members[name] = self._ingest_plain_tar(name, head, f, expected)
            return
        existed = expected is not None and self.content.has(expected)
        with self.content.ingest(expected, size) as w:
            w.write(head)
            while chunk := f.read(CHUNK):
                w.write(chunk)
        self._track(w.digest, existed)
        self.members[name] = _Member(w.digest, w.size)

    def _ingest_plain_tar(self, name: str, head: bytes, f: BinaryIO, expected: str | None) -> _Member:
        """Gzip a plain layer tar into the store while hashing it (its digest is its diff_id)."""
        import gzip

        h = hashlib.sha256(head)
        n = len(head)
        with self.content.ingest() as w:
            with gzip.GzipFile(filename="", mode="wb", fileobj=w, mtime=0, compresslevel=6) as gz:
                gz.write(head)
                while chunk := f.read(CHUNK):
                    h.update(chunk)
                    n += len(chunk)
                    gz.write(chunk)
            plain = "sha256:" + h.hexdigest()
            if expected is not None and expected != plain:
                raise DigestMismatch(f"archive blob {name} is corrupt: its content hashes to {plain}")
            existed = self.content.has(w.digest)
        self._track(w.digest, existed)
        m = _Member(w.digest, w.size, diff_id=plain, plain_digest=plain, plain_size=n)
        self.plain[plain] = m
        return m

    # -------------------------------------------------------------- after the stream

    def resolve(self, name: str, seen: int = 0) -> str:
        name = _clean_name(posixpath.normpath(name)) if name else name
        if seen > 40:
            raise InvalidArgument(f"invalid archive: too many links resolving {name!r}")
        if name in self.links:
            return self.resolve(self.links[name], seen + 1)
        return name

    def member(self, name: str, what: str) -> _Member:
        name = self.resolve(name)
        m = self.members.get(name)
        if m is None and name in self.small:  # a small blob that was buffered: store it now
            data = self.small[name]
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            existed = self.content.has(digest)
            self.content.write_bytes(data)
            self._track(digest, existed)
            m = self.members[name] = _Member(digest, len(data))
        if m is None:
            raise InvalidArgument(f"invalid archive: {what} {name!r} is missing")
        return m

    def small_json(self, name: str, what: str):
        name = self.resolve(name)
        if name in self.small:
            data = self.small[name]
        elif name in self.members:
            data = self._read_capped(self.members[name], name, what)
        else:
            raise InvalidArgument(f"invalid archive: {what} {name!r} is missing")
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            raise InvalidArgument(f"invalid archive: {what} {name!r} is not valid JSON: {e}") from None

    def store_json(self, data: bytes, expected: str | None = None) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if expected is not None and expected != digest:
            raise DigestMismatch(f"archive blob {expected} is corrupt: its content hashes to {digest}")
        existed = self.content.has(digest)
        self.content.write_bytes(data, digest)
        self._track(digest, existed)
        return digest

    def diff_id_of(self, m: _Member) -> str:
        """The sha256 of the layer uncompressed (hashing the stored blob once if need be)."""
        if m.diff_id is None:
            from dockyard.archive.compression import open_decompressed

            h, n = hashlib.sha256(), 0
            with self.content.open(m.digest) as blob, open_decompressed(blob) as plain:
                if plain.compression not in ("none", "gzip", "zstd"):
                    raise InvalidArgument(f"unsupported layer compression {plain.compression} in {m.digest}")
                while chunk := plain.reader.read(CHUNK):
                    h.update(chunk)
                    n += len(chunk)
            m.plain_size = n
            m.diff_id = "sha256:" + h.hexdigest()
        return m.diff_id

    def layer_desc(self, m: _Member) -> dict:
        if m.plain_digest is not None:
            return {"mediaType": oi.OCI_LAYER_GZIP, "digest": m.digest, "size": m.size}
        with self.content.open(m.digest) as f:
            from dockyard.archive.compression import detect

            kind = detect(f.read(8))
        media = {"gzip": oi.OCI_LAYER_GZIP, "zstd": oi.OCI_LAYER_ZSTD, "none": oi.OCI_LAYER}.get(kind)
        if media is None:
            raise InvalidArgument(f"unsupported layer compression {kind} in {m.digest}")
        return {"mediaType": media, "digest": m.digest, "size": m.size}

    # -------------------------------------------------------------- planning

    def plan(self) -> list[tuple[bytes, list[str], int]]:
        """(manifest bytes, tags) per image, every layer checked against its diff_id."""
        if "manifest.json" in self.small or "manifest.json" in self.members or "manifest.json" in self.links:
            return self._plan_docker()
        if "index.json" in self.small or "oci-layout" in self.small:
            return self._plan_oci()
        raise InvalidArgument("invalid archive: it has neither manifest.json (docker save) nor index.json "
                              "(OCI image layout)", hint="is this an image archive? `dockyard import` takes a rootfs tarball")

    def _check_layers(self, config: dict, layers: list[_Member], what: str) -> list[dict]:
        """Layer descriptors, each layer checked against its diff_id; `self.last_size` is the
        uncompressed total (docker's SIZE)."""
        self.last_size = 0
        diff_ids = (config.get("rootfs") or {}).get("diff_ids")
        if not isinstance(diff_ids, list) or len(diff_ids) != len(layers):
            raise InvalidArgument(f"invalid archive: {what}'s config lists {len(diff_ids or [])} layers, "
                                  f"the manifest {len(layers)}")
        descs = []
        for i, (want, m) in enumerate(zip(diff_ids, layers)):
            got = self.diff_id_of(m)
            if got != want:
                raise DigestMismatch(f"layer {i + 1} of {what} is corrupt: its content hashes to {got}, "
                                     f"the image config says {want}",
                                     hint="the archive is damaged; save it again from the source")
            descs.append(self.layer_desc(m))
            self.last_size += m.plain_size
        return descs

    def _plan_docker(self) -> list[tuple[bytes, list[str], int]]:
        doc = self.small_json("manifest.json", "manifest")
        if not isinstance(doc, list) or not doc:
            raise InvalidArgument("invalid archive: manifest.json is not a list of images")
        out = []
        for entry in doc:
            if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
                raise InvalidArgument("invalid archive: a manifest.json entry has no Config")
            cfg_name = self.resolve(entry["Config"])
            raw = self._raw(cfg_name, "image config")
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
            descs = self._check_layers(config, members, f"image {config_digest}")
            manifest = {"schemaVersion": 2, "mediaType": oi.OCI_MANIFEST,
                        "config": {"mediaType": oi.OCI_CONFIG, "digest": config_digest, "size": len(raw)},
                        "layers": descs}
            tags = entry.get("RepoTags") or []
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise InvalidArgument("invalid archive: RepoTags is not a list of names")
            out.append((oi.canonical_json(manifest), [self._tag(t) for t in tags], self.last_size))
        return out

    def _read_capped(self, m: _Member, name: str, what: str) -> bytes:
        """A JSON member that went to the store (it was large): refused past SMALL_LIMIT."""
        if m.size > SMALL_LIMIT:
            raise InvalidArgument(f"invalid archive: {what} {name!r} is {m.size} bytes, more than the "
                                  f"{SMALL_LIMIT >> 20} MiB a JSON document of an image can take")
        return self.content.read_bytes(m.digest)

    def _raw(self, name: str, what: str) -> bytes:
        if name in self.small:
            return self.small[name]
        if name in self.members:
            return self._read_capped(self.members[name], name, what)
        raise InvalidArgument(f"invalid archive: {what} {name!r} is missing")

    @staticmethod
    def _tag(t: str) -> str:
        from dockyard.images.store import ImageStore

        return ImageStore.normalize_tag(t)

    def _blob(self, digest: str, what: str) -> bytes:
        from dockyard.oci import digest as dg

        if not isinstance(digest, str) or not dg.is_valid(digest):
            raise InvalidArgument(f"invalid archive: {what} has an invalid digest {digest!r}")
        alg, _, hexd = digest.partition(":")
        name = self.resolve(f"blobs/{alg}/{hexd}")
        if name in self.small:
            return self.small[name]
        if name in self.members:
            return self._read_capped(self.members[name], name, what)
        raise InvalidArgument(f"invalid archive: {what} {digest} is missing")

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
                child = self._blob_json(desc, "image index")
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

    def _blob_json(self, desc: dict, what: str) -> dict:
        raw = self._blob(desc.get("digest"), what)
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            raise InvalidArgument(f"invalid archive: {what} {desc.get('digest')} is not valid JSON: {e}") from None
        if not isinstance(doc, dict):
            raise InvalidArgument(f"invalid archive: {what} {desc.get('digest')} is not an object")
        return doc

    def _plan_oci_manifest(self, desc: dict) -> bytes:
        raw = self._blob(desc.get("digest"), "image manifest")
        manifest = self._blob_json(desc, "image manifest")
        self.store_json(raw, desc["digest"])
        cfg_desc = manifest.get("config")
        if not isinstance(cfg_desc, dict):
            raise InvalidArgument(f"invalid archive: manifest {desc['digest']} has no config")
        cfg_raw = self._blob(cfg_desc.get("digest"), "image config")
        self.store_json(cfg_raw, cfg_desc["digest"])
        config = self._blob_json(cfg_desc, "image config")
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
        descs = self._check_layers(config, members, f"image {cfg_desc['digest']}")
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
