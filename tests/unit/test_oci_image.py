from __future__ import annotations

import hashlib
import json

import pytest

from dockyard import errors
from dockyard.oci import image as oci
from dockyard.oci.image import (
    ContainerConfig,
    Descriptor,
    History,
    ImageConfig,
    Index,
    Manifest,
    Platform,
    RootFS,
    canonical_json,
)

L1 = "sha256:" + "1" * 64
L2 = "sha256:" + "2" * 64
CFG = "sha256:" + "c" * 64

# An image config as `docker build` (classic builder, 20.10) writes it: many keys dockyard does
# not model, empty strings, and nulls.
DOCKER_CONFIG = json.loads(r"""
{
  "architecture": "amd64",
  "config": {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false,
    "AttachStdout": false, "AttachStderr": false,
    "ExposedPorts": {"80/tcp": {}},
    "Tty": false, "OpenStdin": false, "StdinOnce": false,
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.25.1"],
    "Cmd": ["nginx", "-g", "daemon off;"],
    "Healthcheck": {"Test": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"], "Interval": 30000000000, "Retries": 3},
    "ArgsEscaped": true,
    "Image": "sha256:5f0e2c2b1c9c1a4c8f5a1b8c44f4b6e1c1e4ad4d1a7b0c8a0c0b5d5d4b0a0b0c",
    "Volumes": {"/var/cache/nginx": {}},
    "WorkingDir": "",
    "Entrypoint": ["/docker-entrypoint.sh"],
    "OnBuild": null,
    "Labels": {"maintainer": "NGINX Docker Maintainers <docker-maint@nginx.com>"},
    "StopSignal": "SIGQUIT",
    "Shell": ["/bin/bash", "-c"]
  },
  "container": "3a6b6c5b0a9f0e2d8c1b4a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d",
  "container_config": {"Hostname": "3a6b6c5b0a9f", "Cmd": ["/bin/sh", "-c", "#(nop) ", "CMD [\"nginx\" \"-g\" \"daemon off;\"]"]},
  "created": "2023-07-28T13:55:16.184950393Z",
  "docker_version": "20.10.23",
  "history": [
    {"created": "2023-07-28T01:20:36.479032149Z", "created_by": "/bin/sh -c #(nop) ADD file:3e48ba in / "},
    {"created": "2023-07-28T01:20:36.839154419Z", "created_by": "/bin/sh -c #(nop)  CMD [\"bash\"]", "empty_layer": true},
    {"created": "2023-07-28T13:55:16.184950393Z", "created_by": "RUN /bin/sh -c set -x && apt-get update # buildkit", "comment": "buildkit.dockerfile.v0", "author": "me"}
  ],
  "os": "linux",
  "rootfs": {"type": "layers", "diff_ids": ["sha256:1111111111111111111111111111111111111111111111111111111111111111", "sha256:2222222222222222222222222222222222222222222222222222222222222222"]}
}
""")


def test_docker_config_is_understood():
    cfg = ImageConfig.from_json(DOCKER_CONFIG)
    assert (cfg.architecture, cfg.os, cfg.created) == ("amd64", "linux", "2023-07-28T13:55:16.184950393Z")
    c = cfg.config
    assert c is not None
    assert c.cmd == ("nginx", "-g", "daemon off;")
    assert c.entrypoint == ("/docker-entrypoint.sh",)
    assert c.env[1] == "NGINX_VERSION=1.25.1"
    assert c.exposed_ports == {"80/tcp": {}}
    assert c.volumes == {"/var/cache/nginx": {}}
    assert c.stop_signal == "SIGQUIT"
    assert c.shell == ("/bin/bash", "-c")
    assert c.args_escaped is True
    assert c.healthcheck["Retries"] == 3
    assert c.on_build == () and c.user == "" and c.working_dir == ""
    assert cfg.rootfs.diff_ids == (L1, L2)
    assert [h.empty_layer for h in cfg.history] == [False, True, False]
    assert cfg.history[2].comment == "buildkit.dockerfile.v0" and cfg.history[2].author == "me"
    # What we do not model is kept, at both levels.
    assert cfg.extra["docker_version"] == "20.10.23"
    assert cfg.extra["container_config"]["Hostname"] == "3a6b6c5b0a9f"
    assert c.extra["Image"].startswith("sha256:5f0e")
    assert c.extra["AttachStdin"] is False and c.extra["Hostname"] == ""


def test_docker_config_round_trip_keeps_everything_but_empty_modelled_fields():
    out = ImageConfig.from_json(DOCKER_CONFIG).to_json()
    expected = json.loads(json.dumps(DOCKER_CONFIG))
    for key in ("User", "WorkingDir", "OnBuild"):  # "" / null are omitempty, as in Go
        del expected["config"][key]
    assert out == expected
    # and it is a fixed point from there on
    assert ImageConfig.from_json(out).to_json() == out
    assert canonical_json(ImageConfig.from_json(out).to_json()) == canonical_json(expected)


def test_oci_config_minimal_and_omitempty():
    cfg = ImageConfig(architecture="arm64", os="linux", variant="v8", rootfs=RootFS(diff_ids=(L1,)))
    assert cfg.to_json() == {
        "architecture": "arm64",
        "os": "linux",
        "variant": "v8",
        "rootfs": {"type": "layers", "diff_ids": [L1]},
    }
    assert cfg.platform == Platform(architecture="arm64", os="linux", variant="v8")
    with_cfg = ImageConfig(architecture="amd64", os="linux", config=ContainerConfig())
    assert with_cfg.to_json()["config"] == {}
    assert ImageConfig.from_json(with_cfg.to_json()) == with_cfg


def test_dockyard_written_config_is_deterministic():
    cfg = ImageConfig(
        created="2024-01-02T03:04:05Z",
        architecture="amd64",
        os="linux",
        config=ContainerConfig(
            env=("PATH=/bin", "LANG=C.UTF-8"),
            cmd=("sh",),
            labels={"z": "1", "a": "ünïcode"},
            exposed_ports={"8080/tcp": {}},
        ),
        rootfs=RootFS(diff_ids=(L1, L2)),
        history=(History(created="2024-01-02T03:04:05Z", created_by="ADD rootfs.tar /"),),
    )
    data = canonical_json(cfg.to_json())
    assert data == canonical_json(json.loads(data))
    assert b" " not in data.replace(b"ADD rootfs.tar /", b"")
    assert "ünïcode".encode() in data  # UTF-8, not \u escapes
    keys = list(json.loads(data))
    assert keys == sorted(keys)
    assert ImageConfig.from_json(json.loads(data)) == cfg
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(canonical_json(cfg.to_json())).hexdigest()


def test_canonical_json_sorts_nested_keys_and_is_compact():
    assert canonical_json({"b": 1, "a": {"d": [1, 2], "c": "é"}}) == '{"a":{"c":"é","d":[1,2]},"b":1}'.encode()


def test_descriptor_round_trip_and_omitempty():
    d = Descriptor(media_type=oci.OCI_LAYER_GZIP, digest=L1, size=123)
    assert d.to_json() == {"mediaType": oci.OCI_LAYER_GZIP, "digest": L1, "size": 123}
    full = {
        "mediaType": oci.OCI_MANIFEST,
        "digest": L2,
        "size": 7,
        "urls": ["https://example.com/blob"],
        "annotations": {"org.opencontainers.image.ref.name": "1.0"},
        "platform": {"architecture": "arm64", "os": "linux", "variant": "v8",
                     "os.version": "10.0", "os.features": ["win32k"]},
        "artifactType": "application/vnd.example+json",
    }
    assert Descriptor.from_json(full).to_json() == full
    assert Descriptor.from_json(full).platform.os_features == ("win32k",)


def test_descriptor_of_bytes():
    d = Descriptor.of(oci.OCI_CONFIG, b"{}")
    assert d.size == 2
    assert d.digest == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


@pytest.mark.parametrize(
    "doc",
    [
        {"digest": L1, "size": 1},
        {"mediaType": "x", "size": 1},
        {"mediaType": "x", "digest": L1},
        {"mediaType": "x", "digest": L1, "size": "1"},
        {"mediaType": "x", "digest": L1, "size": True},
        {"mediaType": "x", "digest": L1, "size": -1},
        [],
    ],
)
def test_descriptor_rejects_bad_documents(doc):
    with pytest.raises(errors.BadSpec):
        Descriptor.from_json(doc)


def test_descriptor_rejects_path_like_digest():
    with pytest.raises(errors.InvalidDigest):
        Descriptor.from_json({"mediaType": "x", "digest": "sha256:../../etc/passwd", "size": 1})


def test_docker_schema2_manifest_round_trip():
    doc = {
        "schemaVersion": 2,
        "mediaType": oci.DOCKER_MANIFEST,
        "config": {"mediaType": oci.DOCKER_CONFIG, "size": 1457, "digest": CFG},
        "layers": [
            {"mediaType": oci.DOCKER_LAYER_GZIP, "size": 2152262, "digest": L1},
            {"mediaType": oci.DOCKER_LAYER_GZIP, "size": 32, "digest": L2},
        ],
    }
    m = Manifest.from_json(doc)
    assert m.media_type == oci.DOCKER_MANIFEST
    assert [layer.size for layer in m.layers] == [2152262, 32]
    assert m.to_json() == doc
    assert m.media_type in oci.MANIFEST_TYPES


def test_oci_manifest_with_subject_and_annotations():
    doc = {
        "schemaVersion": 2,
        "mediaType": oci.OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom",
        "config": {"mediaType": oci.OCI_EMPTY, "digest": CFG, "size": 2},
        "layers": [],
        "subject": {"mediaType": oci.OCI_MANIFEST, "digest": L1, "size": 500},
        "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
    }
    assert Manifest.from_json(doc).to_json() == doc


def test_manifest_rejects_schema1():
    with pytest.raises(errors.BadSpec, match="schemaVersion 1"):
        Manifest.from_json({"schemaVersion": 1, "name": "x", "fsLayers": []})


def test_index_round_trip_docker_manifest_list():
    doc = {
        "schemaVersion": 2,
        "mediaType": oci.DOCKER_MANIFEST_LIST,
        "manifests": [
            {"mediaType": oci.DOCKER_MANIFEST, "digest": L1, "size": 528,
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": oci.DOCKER_MANIFEST, "digest": L2, "size": 528,
             "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
        ],
    }
    idx = Index.from_json(doc)
    assert [str(d.platform) for d in idx.manifests] == ["linux/amd64", "linux/arm/v7"]
    assert idx.to_json() == doc
    assert idx.media_type in oci.INDEX_TYPES


def test_platform_parse():
    assert Platform.parse("linux/arm64/v8") == Platform(os="linux", architecture="arm64", variant="v8")
    assert str(Platform.parse("linux/amd64")) == "linux/amd64"
    for bad in ("linux", "linux/", "a/b/c/d"):
        with pytest.raises(errors.InvalidArgument):
            Platform.parse(bad)


def test_rootfs_validation():
    with pytest.raises(errors.BadSpec):
        RootFS.from_json({"type": "zfs", "diff_ids": []})
    with pytest.raises(errors.InvalidDigest):
        RootFS.from_json({"type": "layers", "diff_ids": ["sha256:nope"]})
    with pytest.raises(errors.BadSpec, match="rootfs"):
        ImageConfig.from_json({"architecture": "amd64", "os": "linux"})


def test_container_config_type_errors_are_bad_spec():
    with pytest.raises(errors.BadSpec, match="Cmd"):
        ContainerConfig.from_json({"Cmd": "sh"})
    with pytest.raises(errors.BadSpec, match="Env"):
        ContainerConfig.from_json({"Env": [1]})


def test_layer_compression():
    assert oci.layer_compression(oci.OCI_LAYER) is None
    assert oci.layer_compression(oci.OCI_LAYER_GZIP) == "gzip"
    assert oci.layer_compression(oci.DOCKER_LAYER_GZIP) == "gzip"
    assert oci.layer_compression(oci.OCI_LAYER_ZSTD) == "zstd"
    with pytest.raises(errors.BadSpec):
        oci.layer_compression(oci.OCI_CONFIG)


def test_media_type_spellings():
    assert oci.OCI_MANIFEST == "application/vnd.oci.image.manifest.v1+json"
    assert oci.OCI_INDEX == "application/vnd.oci.image.index.v1+json"
    assert oci.OCI_CONFIG == "application/vnd.oci.image.config.v1+json"
    assert oci.DOCKER_MANIFEST == "application/vnd.docker.distribution.manifest.v2+json"
    assert oci.DOCKER_MANIFEST_LIST == "application/vnd.docker.distribution.manifest.list.v2+json"
    assert oci.DOCKER_CONFIG == "application/vnd.docker.container.image.v1+json"
    assert oci.DOCKER_LAYER_GZIP == "application/vnd.docker.image.rootfs.diff.tar.gzip"
