"""OCI image-spec (and Docker schema2) documents as frozen dataclasses with JSON round-trip.

``from_json`` takes the decoded JSON object and ``to_json`` gives one back, with the exact key
spellings of the image-spec and empty fields left out as Go's ``omitempty`` does. Keys we do not
model in an image config survive in ``extra``: Docker-made configs carry many (``container``,
``docker_version``, ``Hostname``…). Existing images keep their original bytes, so a digest never
depends on this re-serialisation; :func:`canonical_json` is for documents dockyard writes itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard import errors
from dockyard.oci import digest as _digest

from dockyard.oci.mediatypes import *  # noqa: F401,F403 - re-exported: part of this module's API

CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
LAYER_TYPES = frozenset(
    {OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, DOCKER_LAYER_GZIP, DOCKER_FOREIGN_LAYER_GZIP}
)


def layer_compression(media_type: str) -> str | None:
    """``"gzip"``, ``"zstd"`` or ``None`` (plain tar) for a layer media type; raise if not a layer."""
    if media_type not in LAYER_TYPES:
        raise errors.BadSpec(f"not a layer media type: {media_type!r}")
    if media_type.endswith("gzip"):
        return "gzip"
    if media_type.endswith("+zstd"):
        return "zstd"
    return None


def canonical_json(obj: dict) -> bytes:
    """Deterministic JSON bytes (sorted keys, compact, UTF-8) for everything dockyard writes.

    Same document, same bytes, same digest: builds and commits are reproducible.
    """
    import json

    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------- decoding helpers


def _obj(doc: object, what: str) -> dict:
    if not isinstance(doc, dict):
        raise errors.BadSpec(f"{what}: expected a JSON object, got {type(doc).__name__}")
    return doc


def _req(doc: dict, key: str, kind: type | tuple[type, ...], what: str):
    if key not in doc:
        raise errors.BadSpec(f"{what}: missing required field {key!r}")
    return _typed(doc, key, kind, what)


def _typed(doc: dict, key: str, kind: type | tuple[type, ...], what: str, default=None):
    value = doc.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise errors.BadSpec(f"{what}: field {key!r} has the wrong type ({type(value).__name__})")
    return value


def _strs(doc: dict, key: str, what: str) -> tuple[str, ...]:
    value = _typed(doc, key, list, what, [])
    if not all(isinstance(v, str) for v in value):
        raise errors.BadSpec(f"{what}: field {key!r} must be a list of strings")
    return tuple(value)


def _put(out: dict, key: str, value) -> None:
    """Go's omitempty: leave out None, "", False, 0-length containers."""
    if value is None or value == "" or value is False or (isinstance(value, (dict, list, tuple)) and not value):
        return
    out[key] = list(value) if isinstance(value, tuple) else value


# ---------------------------------------------------------------- descriptors


@dataclass(frozen=True, slots=True, kw_only=True)
class Platform:
    architecture: str
    os: str
    os_version: str = ""
    os_features: tuple[str, ...] = ()
    variant: str = ""
    features: tuple[str, ...] = ()

    @classmethod
    def parse(cls, s: str) -> Platform:
        """``linux/arm64/v8`` → Platform (the ``--platform`` flag's spelling)."""
        parts = s.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise errors.InvalidArgument(
                f"invalid platform {s!r}", hint="use os/arch[/variant], e.g. linux/arm64/v8"
            )
        return cls(os=parts[0], architecture=parts[1], variant=parts[2] if len(parts) == 3 else "")

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")

    @classmethod
    def from_json(cls, doc: dict) -> Platform:
        what = "platform"
        doc = _obj(doc, what)
        return cls(
            architecture=_req(doc, "architecture", str, what),
            os=_req(doc, "os", str, what),
            os_version=_typed(doc, "os.version", str, what, ""),
            os_features=_strs(doc, "os.features", what),
            variant=_typed(doc, "variant", str, what, ""),
            features=_strs(doc, "features", what),
        )

    def to_json(self) -> dict:
        out = {"architecture": self.architecture, "os": self.os}
        _put(out, "os.version", self.os_version)
        _put(out, "os.features", self.os_features)
        _put(out, "variant", self.variant)
        _put(out, "features", self.features)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)
    data: str = ""  # base64 of the content, when embedded
    platform: Platform | None = None
    artifact_type: str = ""

    def __post_init__(self) -> None:
        _digest.validate(self.digest)
        if self.size < 0:
            raise errors.BadSpec(f"descriptor {self.digest}: negative size {self.size}")

    @classmethod
    def of(cls, media_type: str, data: bytes, **kw) -> Descriptor:
        """The descriptor of ``data`` (digest and size computed here, so they cannot disagree)."""
        return cls(media_type=media_type, digest=_digest.sha256_of(data), size=len(data), **kw)

    @classmethod
    def from_json(cls, doc: dict) -> Descriptor:
        what = "descriptor"
        doc = _obj(doc, what)
        platform = doc.get("platform")
        return cls(
            media_type=_req(doc, "mediaType", str, what),
            digest=_req(doc, "digest", str, what),
            size=_req(doc, "size", int, what),
            urls=_strs(doc, "urls", what),
            annotations=dict(_typed(doc, "annotations", dict, what, {})),
            data=_typed(doc, "data", str, what, ""),
            platform=Platform.from_json(platform) if platform is not None else None,
            artifact_type=_typed(doc, "artifactType", str, what, ""),
        )

    def to_json(self) -> dict:
        out = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        _put(out, "urls", self.urls)
        _put(out, "annotations", dict(self.annotations))
        _put(out, "data", self.data)
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        _put(out, "artifactType", self.artifact_type)
        return out


# ---------------------------------------------------------------- manifest and index


def _schema_version(doc: dict, what: str) -> int:
    version = _req(doc, "schemaVersion", int, what)
    if version != 2:
        raise errors.BadSpec(
            f"{what}: unsupported schemaVersion {version}",
            hint="Docker schema 1 images are deprecated; re-push the image with a current client",
        )
    return version


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    config: Descriptor
    layers: tuple[Descriptor, ...] = ()
    media_type: str = OCI_MANIFEST
    schema_version: int = 2
    artifact_type: str = ""
    subject: Descriptor | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, doc: dict) -> Manifest:
        what = "image manifest"
        doc = _obj(doc, what)
        subject = doc.get("subject")
        return cls(
            schema_version=_schema_version(doc, what),
            media_type=_typed(doc, "mediaType", str, what, ""),
            artifact_type=_typed(doc, "artifactType", str, what, ""),
            config=Descriptor.from_json(_req(doc, "config", dict, what)),
            layers=tuple(Descriptor.from_json(d) for d in _typed(doc, "layers", list, what, [])),
            subject=Descriptor.from_json(subject) if subject is not None else None,
            annotations=dict(_typed(doc, "annotations", dict, what, {})),
        )

    def to_json(self) -> dict:
        out: dict = {"schemaVersion": self.schema_version}
        _put(out, "mediaType", self.media_type)
        _put(out, "artifactType", self.artifact_type)
        out["config"] = self.config.to_json()
        out["layers"] = [d.to_json() for d in self.layers]
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        _put(out, "annotations", dict(self.annotations))
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Index:
    manifests: tuple[Descriptor, ...] = ()
    media_type: str = OCI_INDEX
    schema_version: int = 2
    artifact_type: str = ""
    subject: Descriptor | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, doc: dict) -> Index:
        what = "image index"
        doc = _obj(doc, what)
        subject = doc.get("subject")
        return cls(
            schema_version=_schema_version(doc, what),
            media_type=_typed(doc, "mediaType", str, what, ""),
            artifact_type=_typed(doc, "artifactType", str, what, ""),
            manifests=tuple(Descriptor.from_json(d) for d in _typed(doc, "manifests", list, what, [])),
            subject=Descriptor.from_json(subject) if subject is not None else None,
            annotations=dict(_typed(doc, "annotations", dict, what, {})),
        )

    def to_json(self) -> dict:
        out: dict = {"schemaVersion": self.schema_version}
        _put(out, "mediaType", self.media_type)
        _put(out, "artifactType", self.artifact_type)
        out["manifests"] = [d.to_json() for d in self.manifests]
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        _put(out, "annotations", dict(self.annotations))
        return out


# ---------------------------------------------------------------- image config

# (json key, attribute, kind) of Docker's image "config" object, in Docker's field order.
_CC_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("User", "user", "str"),
    ("ExposedPorts", "exposed_ports", "map"),
    ("Env", "env", "list"),
    ("Entrypoint", "entrypoint", "list"),
    ("Cmd", "cmd", "list"),
    ("Healthcheck", "healthcheck", "map"),
    ("ArgsEscaped", "args_escaped", "bool"),
    ("Volumes", "volumes", "map"),
    ("WorkingDir", "working_dir", "str"),
    ("Labels", "labels", "map"),
    ("OnBuild", "on_build", "list"),
    ("StopSignal", "stop_signal", "str"),
    ("Shell", "shell", "list"),
)
_CC_KEYS = frozenset(k for k, _, _ in _CC_FIELDS)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerConfig:
    """The ``config`` object of an image config: the defaults a container starts with.

    ``exposed_ports`` and ``volumes`` keep Docker's set-as-map spelling (``{"80/tcp": {}}``);
    ``healthcheck`` is Docker's HealthConfig as decoded JSON (Test, Interval in ns, …).
    """

    user: str = ""
    exposed_ports: dict[str, dict] = field(default_factory=dict)
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    healthcheck: dict = field(default_factory=dict)
    args_escaped: bool = False
    volumes: dict[str, dict] = field(default_factory=dict)
    working_dir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    on_build: tuple[str, ...] = ()
    stop_signal: str = ""
    shell: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, doc: dict) -> ContainerConfig:
        what = "image config.config"
        doc = _obj(doc, what)
        kw: dict = {}
        for key, attr, kind in _CC_FIELDS:
            if kind == "list":
                kw[attr] = _strs(doc, key, what)
            elif kind == "map":
                kw[attr] = dict(_typed(doc, key, dict, what, {}))
            elif kind == "bool":
                kw[attr] = _typed(doc, key, bool, what, False)
            else:
                kw[attr] = _typed(doc, key, str, what, "")
        kw["extra"] = {k: v for k, v in doc.items() if k not in _CC_KEYS}
        return cls(**kw)

    def to_json(self) -> dict:
        out: dict = {}
        for key, attr, _ in _CC_FIELDS:
            value = getattr(self, attr)
            _put(out, key, dict(value) if isinstance(value, dict) else value)
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    created: str = ""
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False

    @classmethod
    def from_json(cls, doc: dict) -> History:
        what = "image history entry"
        doc = _obj(doc, what)
        return cls(
            created=_typed(doc, "created", str, what, ""),
            created_by=_typed(doc, "created_by", str, what, ""),
            author=_typed(doc, "author", str, what, ""),
            comment=_typed(doc, "comment", str, what, ""),
            empty_layer=_typed(doc, "empty_layer", bool, what, False),
        )

    def to_json(self) -> dict:
        out: dict = {}
        for key in ("created", "created_by", "author", "comment", "empty_layer"):
            _put(out, key, getattr(self, key))
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class RootFS:
    diff_ids: tuple[str, ...] = ()
    type: str = "layers"

    def __post_init__(self) -> None:
        for d in self.diff_ids:
            _digest.validate(d)

    @classmethod
    def from_json(cls, doc: dict) -> RootFS:
        what = "image config rootfs"
        doc = _obj(doc, what)
        kind = _req(doc, "type", str, what)
        if kind != "layers":
            raise errors.BadSpec(f"{what}: unsupported type {kind!r} (want 'layers')")
        return cls(type=kind, diff_ids=_strs(doc, "diff_ids", what))

    def to_json(self) -> dict:
        return {"type": self.type, "diff_ids": list(self.diff_ids)}


_IC_KEYS = frozenset(
    {"created", "author", "architecture", "os", "os.version", "os.features", "variant",
     "config", "rootfs", "history"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageConfig:
    """An image config (``application/vnd.oci.image.config.v1+json`` or Docker's equivalent).

    ``config`` is None when the document has no ``config`` object at all, so presence survives.
    """

    architecture: str
    os: str
    rootfs: RootFS = field(default_factory=RootFS)
    created: str = ""
    author: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()
    variant: str = ""
    config: ContainerConfig | None = None
    history: tuple[History, ...] = ()
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, doc: dict) -> ImageConfig:
        what = "image config"
        doc = _obj(doc, what)
        config = doc.get("config")
        return cls(
            created=_typed(doc, "created", str, what, ""),
            author=_typed(doc, "author", str, what, ""),
            architecture=_req(doc, "architecture", str, what),
            os=_req(doc, "os", str, what),
            os_version=_typed(doc, "os.version", str, what, ""),
            os_features=_strs(doc, "os.features", what),
            variant=_typed(doc, "variant", str, what, ""),
            config=ContainerConfig.from_json(config) if config is not None else None,
            rootfs=RootFS.from_json(_req(doc, "rootfs", dict, what)),
            history=tuple(History.from_json(h) for h in _typed(doc, "history", list, what, [])),
            extra={k: v for k, v in doc.items() if k not in _IC_KEYS},
        )

    def to_json(self) -> dict:
        out: dict = {}
        _put(out, "created", self.created)
        _put(out, "author", self.author)
        out["architecture"] = self.architecture
        out["os"] = self.os
        _put(out, "os.version", self.os_version)
        _put(out, "os.features", self.os_features)
        _put(out, "variant", self.variant)
        if self.config is not None:
            out["config"] = self.config.to_json()
        out["rootfs"] = self.rootfs.to_json()
        _put(out, "history", [h.to_json() for h in self.history])
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    @property
    def platform(self) -> Platform:
        return Platform(
            architecture=self.architecture, os=self.os, os_version=self.os_version,
            os_features=self.os_features, variant=self.variant,
        )
