"""Docker's config.json: credentials stored and found the way the docker CLI does."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from dockyard import errors
from dockyard.registry import credentials as c


@pytest.fixture
def docker_config(tmp_path, monkeypatch):
    d = tmp_path / "docker-config"
    monkeypatch.setenv("DOCKER_CONFIG", str(d))
    return d


def test_path_follows_docker_config(docker_config, monkeypatch):
    assert c.config_path() == str(docker_config / "config.json")
    monkeypatch.delenv("DOCKER_CONFIG")
    monkeypatch.setenv("HOME", "/home/someone")
    assert c.config_path() == "/home/someone/.docker/config.json"


def test_store_get_erase_round_trip_keeps_other_keys(docker_config):
    docker_config.mkdir()
    path = docker_config / "config.json"
    path.write_text(json.dumps({"auths": {"other.example": {"auth": base64.b64encode(b"a:b").decode()}},
                                "psFormat": "table {{.ID}}", "credsStore": "desktop"}))
    c.store("127.0.0.1:5000", c.Credentials("user", "p:a:ss"))
    doc = json.loads(path.read_text())
    assert doc["psFormat"] == "table {{.ID}}" and doc["credsStore"] == "desktop"
    assert doc["auths"]["other.example"]["auth"] == base64.b64encode(b"a:b").decode()
    assert doc["auths"]["127.0.0.1:5000"] == {"auth": base64.b64encode(b"user:p:a:ss").decode()}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert c.get("127.0.0.1:5000") == c.Credentials("user", "p:a:ss")
    assert c.get("other.example") == c.Credentials("a", "b")
    assert c.get("nowhere.example") is None
    assert c.erase("127.0.0.1:5000") == "127.0.0.1:5000"
    assert c.erase("127.0.0.1:5000") is None
    doc = json.loads(path.read_text())
    assert "127.0.0.1:5000" not in doc["auths"] and doc["psFormat"] == "table {{.ID}}"
    assert not [n for n in os.listdir(docker_config) if n.endswith(".tmp")]


def test_docker_hub_uses_the_legacy_index_key(docker_config):
    c.store("docker.io", c.Credentials("me", "secret"))
    doc = json.loads((docker_config / "config.json").read_text())
    assert list(doc["auths"]) == ["https://index.docker.io/v1/"]
    assert c.get("docker.io") == c.Credentials("me", "secret")
    assert c.domain_of("index.docker.io") == c.domain_of("https://index.docker.io/v1/") == "docker.io"
    assert c.domain_of("https://registry.example:5000/v2/") == "registry.example:5000"


def test_lookup_tolerates_scheme_and_path_in_keys_and_plain_fields(docker_config):
    docker_config.mkdir()
    (docker_config / "config.json").write_text(json.dumps({"auths": {
        "https://registry.example:5000/v2/": {"auth": base64.b64encode(b"x:y").decode()},
        "plain.example": {"username": "u", "password": "p"},
        "helper.example": {},
    }}))
    assert c.get("registry.example:5000") == c.Credentials("x", "y")
    assert c.get("plain.example") == c.Credentials("u", "p")
    assert c.get("helper.example") is None
    c.store("registry.example:5000", c.Credentials("x2", "y2"))  # replaces the odd key with the plain one
    doc = json.loads((docker_config / "config.json").read_text())
    assert "registry.example:5000" in doc["auths"] and "https://registry.example:5000/v2/" not in doc["auths"]


def test_damaged_config_is_a_clear_error(docker_config):
    docker_config.mkdir()
    (docker_config / "config.json").write_text("{nope")
    with pytest.raises(errors.InvalidArgument, match="not valid JSON"):
        c.get("x.example")
    (docker_config / "config.json").write_text(json.dumps({"auths": {"x.example": {"auth": "bm9jb2xvbg=="}}}))
    with pytest.raises(errors.InvalidArgument, match="no ':'"):
        c.get("x.example")


def test_missing_or_empty_config_means_no_credentials(docker_config):
    assert c.get("x.example") is None
    docker_config.mkdir()
    (docker_config / "config.json").write_text("")
    assert c.get("x.example") is None


def test_credentials_repr_hides_the_password():
    assert "secret" not in repr(c.Credentials("me", "secret"))
