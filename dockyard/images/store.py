"""Images: names and tags over the content store, the state database and the snapshotter.

An image is its manifest and config blobs in the content store plus a record in the state
database (id = config digest, as docker's image ids are). Tags are full normalised references.
`ensure_unpacked` turns its layers into committed snapshots once; containers then only stack them.
"""

from __future__ import annotations

from dockyard import jsonfast as json  # the C codec without `re` & co: a hot path

import time

from dockyard.errors import Conflict, ImageNotFound, InvalidArgument, NotFound
from dockyard.oci import digest as dg

_HEX = frozenset("0123456789abcdef")
_SIMPLE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-/:")


def _canonical(obj: dict) -> bytes:
    """oci.image.canonical_json's bytes (sorted keys, compact, UTF-8) without importing it."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False).encode("utf-8")


def _is_id_prefix(name: str) -> bool:
    h = name.removeprefix("sha256:")
    return 12 <= len(h) <= 64 and set(h) <= _HEX


def _hub_tag(name: str) -> str | None:
    """The normalised tag for the commonest names (`busybox`, `user/app:1`), without the regex
    grammar; None for anything else (registries, digests, odd characters) — those take the
    full parser. Only used to look up tags that exist, so it never has to reject anything."""
    if not name or not set(name) <= _SIMPLE or name.count(":") > 1:
        return None
    repo, colon, tag = name.partition(":")
    if (colon and (not tag or "/" in tag)) or "." in repo.split("/", 1)[0] or repo.startswith("localhost"):
        return None
    if "/" not in repo:
        repo = "library/" + repo
    return f"docker.io/{repo}:{tag or 'latest'}"


class ImageStore:
    def __init__(self, content, db, snapshots, leases_dir: str) -> None:
        self.content = content
        self.db = db
        self.snapshots = snapshots
        self.leases_dir = leases_dir  # where writers hold their leases (`dockyard.leases`)

    # ---------------------------------------------------------------- lookup

    def resolve(self, name: str):
        """An image record from a name[:tag], name@digest, or an id (prefix); docker's lookup order."""
        if _is_id_prefix(name):
            found = self.db.find_images(name.removeprefix("sha256:"))
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise InvalidArgument(f"image id prefix {name!r} is ambiguous")
            if len(name.removeprefix("sha256:")) == 64 or name.startswith("sha256:"):
                raise ImageNotFound(f"No such image: {name}")
        key = _hub_tag(name)
        if key is not None:
            image_id = self.db.resolve_tag(key)
            rec = self.db.get_image(image_id) if image_id else None
            if rec is not None:
                return rec
        from dockyard.oci import reference

        ref = reference.parse(name)
        if ref.digest:
            for rec in self.db.list_images():
                if rec.manifest_digest == ref.digest or rec.id == ref.digest:
                    return rec
            image_id = self.db.resolve_tag(f"{ref.name}@{ref.digest}")  # an index's digest, recorded by pull
            rec = self.db.get_image(image_id) if image_id else None
            if rec is not None:
                return rec
            raise ImageNotFound(f"No such image: {ref.familiar()}")
        ref = ref.with_default_tag()
        image_id = self.db.resolve_tag(str(ref))
        rec = self.db.get_image(image_id) if image_id else None
        if rec is None:
            raise ImageNotFound(f"No such image: {ref.familiar()}")
        return rec

    def config(self, rec) -> dict:
        return json.loads(self.content.read_bytes(rec.config_digest))

    def check_platform(self, rec, platform: str | None, name: str) -> None:
        """docker's `--platform` on an image command (inspect, history, rmi, save, push): the
        image must be that platform's (a dockyard image has one platform; there are no variants
        to choose from), else moby's error."""
        if not platform:
            return
        from dockyard.oci.platform import describe, matches

        config = self.config(rec)
        try:
            ok = matches(config, platform)
        except ValueError as e:
            raise InvalidArgument(f"invalid platform: {e}") from None
        if not ok:
            raise ImageNotFound(f"image with reference {name} was found but does not match the specified platform: "
                                f"wanted {platform}, actual: {describe(config)}")

    def manifest(self, rec) -> dict:
        return json.loads(self.content.read_bytes(rec.manifest_digest))

    def tags(self, rec) -> list[str]:
        return self.db.tags_for(rec.id)

    def names(self, rec) -> tuple[list[str], list[str]]:
        """(RepoTags, RepoDigests) as docker's familiar names: `name:tag` rows and the
        `name@digest` rows pulls and pushes record."""
        from dockyard.oci import reference

        rows = sorted(self.db.tags_for(rec.id))
        tags = [reference.parse(t).familiar() for t in rows if "@" not in t]
        digests = [reference.parse(t).familiar() for t in rows if "@" in t]
        return tags, digests

    # ---------------------------------------------------------------- adding

    def add(self, config: dict, layers: list[dict], tags: list[str] = (), *, parent: str = "") -> str:
        """Store config + manifest for already-ingested layer blobs; returns the image id.

        `layers` are descriptors (mediaType, digest, size) in order, matching config's diff_ids;
        `parent`: the image a commit was made from (inspect's Parent).
        """
        from dockyard.oci import mediatypes as oi

        config_bytes = _canonical(config)
        config_digest = self.content.write_bytes(config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": oi.OCI_MANIFEST,
            "config": {"mediaType": oi.OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
            "layers": layers,
        }
        return self.add_manifest(_canonical(manifest), tags, parent=parent)

    def add_manifest(self, manifest_bytes: bytes, tags: list[str] = (), *, parent: str = "") -> str:
        """Record an image whose manifest, config and layer blobs are all in the content store."""
        from dockyard.oci import mediatypes as oi

        manifest = json.loads(manifest_bytes)
        for d in [manifest["config"]] + list(manifest.get("layers") or ()):
            if not self.content.retain(d["digest"]):  # touched: a writer's lease keeps it until recorded
                raise InvalidArgument(f"image manifest refers to a missing blob {d['digest']}")
        try:
            config = json.loads(self.content.read_bytes(manifest["config"]["digest"]))
        except (ValueError, RecursionError) as e:
            raise InvalidArgument(f"invalid image config: {e}") from None
        from dockyard.images.validate import check_config

        check_config(config)  # before anything of this image is written
        manifest_digest = self.content.write_bytes(manifest_bytes)
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(manifest.get("layers") or ()):
            raise InvalidArgument("image config's rootfs.diff_ids do not match the manifest's layers")
        from dockyard.state.db import ImageRecord

        rec = ImageRecord(id=manifest["config"]["digest"], manifest_digest=manifest_digest,
                          manifest_media_type=manifest.get("mediaType") or oi.OCI_MANIFEST,
                          config_digest=manifest["config"]["digest"],
                          size=self._size(config, manifest),
                          created=config.get("created") or "", added=time.time(), parent=parent)
        with self.db.transaction():
            self.db.put_image(rec)
            for t in tags:
                self.db.set_tag(self.normalize_tag(t), rec.id)
        return rec.id

    def _size(self, config: dict, manifest: dict) -> int:
        """Docker's image SIZE: the content size of every layer (file bytes, no tar headers, no
        compression; shared layers counted in each image), the same whichever way the image came
        (build, commit, load, pull): an unpacked layer's recorded size, else read from its blob."""
        return sum(self.layer_sizes(config, manifest))

    def layer_sizes(self, config: dict, manifest: dict) -> list[int]:
        """Each layer's size as Docker counts it (`archive.apply.ApplyResult`), in order."""
        from dockyard.archive.apply import content_size

        out = []
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        chains = dg.chain_ids(diff_ids) if diff_ids else []
        for chain, layer in zip(chains, manifest.get("layers") or ()):
            size = self.snapshots.layer_size(chain)
            if size is None:
                with self.content.open(layer["digest"]) as f:
                    size = content_size(f)
            out.append(size)
        return out

    @staticmethod
    def normalize_tag(name: str, *, new: bool = True) -> str:
        """The stored form of a tag; `new` (a name being given) also refuses what dockerd refuses
        only when naming (`reference.parse_new_name`)."""
        from dockyard.oci import reference

        ref = reference.parse_new_name(name) if new else reference.parse(name)
        if ref.digest:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {name}")
        return str(ref.with_default_tag())

    def tag(self, source: str, target: str) -> None:
        from dockyard.state import journal

        rec = self.resolve(source)
        tag = self.normalize_tag(target)
        self.db.set_tag(tag, rec.id)
        from dockyard.oci import reference

        journal.image(self.db, "tag", rec.id, reference.parse(tag).familiar())

    # ---------------------------------------------------------------- layers

    def ensure_unpacked(self, rec, config: dict | None = None, *, retain: bool = False) -> str | None:
        """Unpack missing layers into snapshots; return the top chain id (None: no layers).
        ``retain``: the caller holds a lease (`dockyard.leases`) and is about to stack on the
        layers, so the ones already there are touched, not merely seen."""
        config = config if config is not None else self.config(rec)
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if not diff_ids:
            return None
        chains = dg.chain_ids(diff_ids)
        have = self.snapshots.retain_layer if retain else self.snapshots.has_layer
        if have(chains[-1]):
            return chains[-1]
        layers = self.manifest(rec)["layers"]
        parent = None
        for chain, diff_id, layer in zip(chains, diff_ids, layers):
            if not have(chain):
                if not self.content.verify(layer["digest"]):
                    from dockyard.errors import DigestMismatch

                    raise DigestMismatch(f"layer blob {layer['digest']} is corrupt: its content does not match "
                                         "its digest", hint="remove the image and pull or load it again")
                with self.content.open(layer["digest"]) as f:
                    self.snapshots.unpack_layer(chain, parent, f, diff_id=diff_id)
            parent = chain
        return chains[-1]

    # ---------------------------------------------------------------- removal

    def remove(self, name: str, *, force: bool = False, prune: bool = True) -> list[tuple[str, str]]:
        """docker rmi: untag; delete the image once no tag and no container refer to it, and
        (`prune`, unless --no-prune) its Parent chain's images that nothing else keeps.

        Returns [("Untagged", name) | ("Deleted", id)] lines as docker prints them.
        """
        from dockyard.oci import reference

        rec = self.resolve(name)
        out: list[tuple[str, str]] = []
        tags = self.db.tags_for(rec.id)
        users = self.db.containers_using_image(rec.id)
        by_id = self.names_by_id(name)
        with self.db.transaction():
            if not by_id:
                tag = self.normalize_tag(name, new=False)
                named = [t for t in tags if "@" not in t]
                if len(named) > 1:  # other names keep the image: only this name goes
                    self.db.remove_tag(tag)
                    out.append(("Untagged", reference.parse(tag).familiar()))
                    repo = tag.rpartition(":")[0]
                    if not any(t.rpartition(":")[0] == repo for t in named if t != tag):
                        for t in tags:  # the repository's last tag: its digests go too, as docker's
                            if t.partition("@")[0] == repo:
                                self.db.remove_tag(t)
                                out.append(("Untagged", reference.parse(t).familiar()))
                    return _report(self.db, rec.id, out)
                if users and not force:
                    raise Conflict(f'conflict: unable to remove repository reference "{name}" (must force) - '
                                   f"container {users[0].id[:12]} is using its referenced image "
                                   f"{dg.short_id(rec.id)}")
                for t in [tag] + [t for t in tags if "@" in t and t != tag]:
                    self.db.remove_tag(t)
                    out.append(("Untagged", reference.parse(t).familiar()))
                if users:  # forced: the image stays, untagged, for the containers made from it
                    return _report(self.db, rec.id, out)
                if self._children(rec.id):  # it stays as an intermediate image (dockerd's quiet conflict)
                    return _report(self.db, rec.id, out)
            else:
                if self._children(rec.id):
                    raise Conflict(f"conflict: unable to delete {dg.short_id(rec.id)} (cannot be forced) - "
                                   "image has dependent child images")
                if len({t.partition("@")[0].rpartition(":")[0] if "@" not in t else t.partition("@")[0]
                        for t in tags}) > 1 and not force:
                    raise Conflict(f"conflict: unable to delete {dg.short_id(rec.id)} (must be forced) - "
                                   "image is referenced in multiple repositories")
                if users and not force:
                    raise Conflict(f"conflict: unable to delete {dg.short_id(rec.id)} (must be forced) - "
                                   f"image is being used by stopped container {users[0].id[:12]}")
                for t in tags:
                    self.db.remove_tag(t)
                    out.append(("Untagged", reference.parse(t).familiar()))
                if users:
                    return _report(self.db, rec.id, out)
            gone = [rec] + (self._untagged_parents(rec) if prune else [])
            chains = {}
            for r in gone:
                try:
                    diff_ids = (self.config(r).get("rootfs") or {}).get("diff_ids") or []
                except Exception:  # noqa: BLE001 - a damaged image still goes; its layers are not named
                    diff_ids = []
                chains[r.id] = list(reversed(dg.chain_ids(diff_ids))) if diff_ids else []
                self.db.delete_image(r.id)
        self.gc()
        # dockerd names the layers that went with each image too (chain IDs, the top one first)
        _, kept = self.referenced()
        for i, r in enumerate(gone):  # each image's own layers under it; its parent's under the parent
            out.append(("Deleted", r.id))
            _report(self.db, r.id, out[-1:] if r is not rec else out)
            below = set(chains[gone[i + 1].id]) if i + 1 < len(gone) else set()
            out += [("Deleted", c) for c in chains[r.id] if c not in kept and c not in below]
        return out

    def _children(self, image_id: str) -> list[str]:
        """The images that name `image_id` as their Parent."""
        return [r.id for r in self.db.list_images() if r.parent == image_id]

    def _untagged_parents(self, rec) -> list:
        """The images up `rec`'s Parent chain that go with it (dockerd's prune of untagged
        parents): untagged, used by no container and parent of no other image."""
        out = []
        while rec.parent:
            parent = self.db.get_image(rec.parent)
            if parent is None or self.db.tags_for(parent.id) or self.db.containers_using_image(parent.id) or \
                    self._children(parent.id) != [rec.id]:
                break
            out.append(parent)
            rec = parent
        return out

    def intermediates(self, records=None, tagged=None) -> set[str]:
        """Untagged images another image names as its Parent (a commit's base): dockerd's image
        list leaves them out unless all images are asked for (`images -a`, all=1). `records`
        and `tagged` (the ids that have a tag): what a caller has read already."""
        parents = {r.parent for r in (self.db.list_images() if records is None else records) if r.parent}
        if not parents:
            return set()
        return parents - (set(tagged) if tagged is not None else {i for _, i in self.db.list_tags()})

    def names_by_id(self, name: str) -> bool:
        """Whether `name` is an image ID (or a prefix of one) rather than a tag: an ID-like name
        that is also a repository's tag ("abcdef" → abcdef:latest) is that tag, as dockerd reads it."""
        from dockyard.oci import reference

        if not reference.looks_like_id(name):
            return False
        try:
            tag = str(reference.parse(name).with_default_tag())
        except InvalidArgument:
            return True
        return not self.db.resolve_tag(tag)

    def gc(self) -> None:
        """Delete manifests, configs, layer blobs and snapshots no image refers to any more, but
        nothing a live lease protects: content written or retained since the oldest live lease
        began (`dockyard.leases`), i.e. what a concurrent pull, load, build, commit or import has
        written and not yet recorded. The leases are read first, the images second: a writer that
        records its image and drops its lease in between is seen by the second read."""
        from dockyard import leases

        cutoff = leases.cutoff(self.leases_dir)
        keep, keep_chains = self.referenced()
        self.content.delete_stale([d for d in self.content.walk() if d not in keep], cutoff)
        for chain in sorted(self.snapshots.list_layers(), key=self._depth, reverse=True):  # children first
            if chain not in keep_chains:
                try:
                    self.snapshots.remove_layer(chain, older_than=cutoff)
                except (Conflict, NotFound):  # stacked on, or removed by another collector
                    pass

    def _depth(self, chain: str) -> int:
        try:
            return self.snapshots.depth(chain)
        except NotFound:  # a parent removed meanwhile (another collector): it goes, or stays, alone
            return 0

    def referenced(self) -> tuple[set[str], set[str]]:
        """(blob digests, layer chain IDs) the recorded images use."""
        keep: set[str] = set()
        keep_chains: set[str] = set()
        for rec in self.db.list_images():
            keep.update((rec.manifest_digest, rec.config_digest))
            try:
                m = self.manifest(rec)
                cfg = self.config(rec)
            except Exception:  # noqa: BLE001 - a damaged image keeps what it has
                continue
            keep.update(layer["digest"] for layer in m.get("layers") or ())
            diff_ids = (cfg.get("rootfs") or {}).get("diff_ids") or []
            keep_chains.update(dg.chain_ids(diff_ids) if diff_ids else [])
        return keep, keep_chains

    def drop_unreferenced(self, digests, lease) -> None:
        """After a failed or partly redundant write (pull, load): delete those of ``digests`` no
        image uses and no *other* live lease protects (``lease``: the caller's own)."""
        import os

        from dockyard import leases

        newest = None
        for d in digests:  # its own writes of the last clock tick are older than "now" too
            try:
                newest = max(newest or 0.0, os.lstat(self.content.path(d)).st_mtime)
            except FileNotFoundError:
                continue
        cutoff = leases.cutoff(self.leases_dir, exclude=lease, newer_than=newest)
        keep, _ = self.referenced()
        self.content.delete_stale([d for d in digests if d not in keep], cutoff)


def _report(db, image_id: str, lines: list) -> list:
    """The events of an rmi: untag per name, delete for the image (state/journal.py)."""
    from dockyard.state import journal

    for what, value in lines:
        journal.image(db, "untag" if what == "Untagged" else "delete", image_id, value)
    return lines
