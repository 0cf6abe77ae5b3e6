"""An image archive's tar stream into the content store, for `archive_load.py`.

The archive is read as a stream (plain or compressed): no member is ever extracted to a path.
Small JSON members are kept in memory (capped), every other regular file goes straight into
the content store (plain layer tars are gzipped on the way in), links are kept as names.
`ArchiveReader` then answers the format readers' questions: a member by name (through links),
a JSON document, a blob by digest, a layer's diff_id and descriptor, each checked.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import tarfile
from typing import BinaryIO

from dockyard.errors import DigestMismatch, InvalidArgument, UnsafeArchive
from dockyard.oci import image as oi

CHUNK = 1 << 20
SMALL_LIMIT = 8 << 20  # members larger than this (or named layer.tar, or blobs) are streamed, never buffered
SMALL_TOTAL_LIMIT = 256 << 20  # buffered JSON and such, all told
INDEX_LIMIT = 1 << 20  # manifest.json, index.json, repositories: read whole, so capped
INDEX_FILES = ("manifest.json", "index.json", "repositories")


class Member:
    """What one regular file of the archive became in the content store."""

    __slots__ = ("digest", "size", "diff_id", "plain_digest", "plain_size")

    def __init__(self, digest: str, size: int, diff_id: str | None = None, plain_digest: str | None = None,
                 plain_size: int = 0) -> None:
        self.plain_size = plain_size    # uncompressed size, once known
        self.digest = digest            # the stored blob
        self.size = size
        self.diff_id = diff_id          # sha256 of the uncompressed tar, when known
        self.plain_digest = plain_digest  # the member's own digest when it was a plain tar we gzipped


def clean_name(name: str) -> str:
    """The archive-relative name of a member; UnsafeArchive for names that climb or are absolute."""
    if name.startswith("/") or "\\" in name or "\x00" in name:
        raise UnsafeArchive(f"refusing archive member {name!r}: absolute or odd path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"refusing archive member {name!r}: it climbs out of the archive with '..'")
    return "/".join(parts)


def _is_plain_tar(head: bytes) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"


class ArchiveReader:
    """What one archive stream held: buffered small members, stored blobs, links; `new` the
    blobs this reading added (the caller removes them again when the load fails)."""

    def __init__(self, engine, platform: tuple[str, str, str] | None = None) -> None:
        self.engine = engine
        self.platform = platform             # (os, arch, variant) of `load --platform`, else the host's
        self.content = engine.content
        self.new: set[str] = set()           # blobs this load added (removed again on failure)
        self.members: dict[str, Member] = {}
        self.small: dict[str, bytes] = {}
        self.links: dict[str, str] = {}      # symlink / hardlink name -> target name
        self.plain: dict[str, Member] = {}  # digest of a plain layer tar -> its gzipped blob
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
                    name = clean_name(m.name)
                    if not name:
                        continue
                    if m.isdir():
                        continue
                    if m.issym() or m.islnk():
                        target = m.linkname if m.islnk() else posixpath.join(posixpath.dirname(name), m.linkname)
                        if m.issym() and m.linkname.startswith("/"):
                            raise UnsafeArchive(f"refusing archive member {name!r}: absolute link target")
                        self.links[name] = clean_name(posixpath.normpath(target) if m.issym() else target)
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
        self.members[name] = Member(w.digest, w.size)

    def _ingest_plain_tar(self, name: str, head: bytes, f: BinaryIO, expected: str | None) -> Member:
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
        m = Member(w.digest, w.size, diff_id=plain, plain_digest=plain, plain_size=n)
        self.plain[plain] = m
        return m

    # -------------------------------------------------------------- after the stream

    def resolve(self, name: str, seen: int = 0) -> str:
        name = clean_name(posixpath.normpath(name)) if name else name
        if seen > 40:
            raise InvalidArgument(f"invalid archive: too many links resolving {name!r}")
        if name in self.links:
            return self.resolve(self.links[name], seen + 1)
        return name

    def member(self, name: str, what: str) -> Member:
        name = self.resolve(name)
        m = self.members.get(name)
        if m is None and name in self.small:  # a small blob that was buffered: store it now
            data = self.small[name]
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            existed = self.content.has(digest)
            self.content.write_bytes(data)
            self._track(digest, existed)
            m = self.members[name] = Member(digest, len(data))
        if m is None:
            raise InvalidArgument(f"invalid archive: {what} {name!r} is missing")
        return m

    def small_json(self, name: str, what: str):
        name = self.resolve(name)
        if name in self.small:
            data = self.small[name]
        elif name in self.members:
            data = self.read_capped(self.members[name], name, what)
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

    def diff_id_of(self, m: Member) -> str:
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

    def layer_desc(self, m: Member) -> dict:
        if m.plain_digest is not None:
            return {"mediaType": oi.OCI_LAYER_GZIP, "digest": m.digest, "size": m.size}
        with self.content.open(m.digest) as f:
            from dockyard.archive.compression import detect

            kind = detect(f.read(8))
        media = {"gzip": oi.OCI_LAYER_GZIP, "zstd": oi.OCI_LAYER_ZSTD, "none": oi.OCI_LAYER}.get(kind)
        if media is None:
            raise InvalidArgument(f"unsupported layer compression {kind} in {m.digest}")
        return {"mediaType": media, "digest": m.digest, "size": m.size}

    def check_layers(self, config: dict, layers: list[Member], what: str) -> list[dict]:
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

    def read_capped(self, m: Member, name: str, what: str) -> bytes:
        """A JSON member that went to the store (it was large): refused past SMALL_LIMIT."""
        if m.size > SMALL_LIMIT:
            raise InvalidArgument(f"invalid archive: {what} {name!r} is {m.size} bytes, more than the "
                                  f"{SMALL_LIMIT >> 20} MiB a JSON document of an image can take")
        return self.content.read_bytes(m.digest)

    def raw(self, name: str, what: str) -> bytes:
        if name in self.small:
            return self.small[name]
        if name in self.members:
            return self.read_capped(self.members[name], name, what)
        raise InvalidArgument(f"invalid archive: {what} {name!r} is missing")

    def blob(self, digest: str, what: str) -> bytes:
        from dockyard.oci import digest as dg

        if not isinstance(digest, str) or not dg.is_valid(digest):
            raise InvalidArgument(f"invalid archive: {what} has an invalid digest {digest!r}")
        alg, _, hexd = digest.partition(":")
        name = self.resolve(f"blobs/{alg}/{hexd}")
        if name in self.small:
            return self.small[name]
        if name in self.members:
            return self.read_capped(self.members[name], name, what)
        raise InvalidArgument(f"invalid archive: {what} {digest} is missing")

    def blob_json(self, desc: dict, what: str) -> dict:
        raw = self.blob(desc.get("digest"), what)
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            raise InvalidArgument(f"invalid archive: {what} {desc.get('digest')} is not valid JSON: {e}") from None
        if not isinstance(doc, dict):
            raise InvalidArgument(f"invalid archive: {what} {desc.get('digest')} is not an object")
        return doc
