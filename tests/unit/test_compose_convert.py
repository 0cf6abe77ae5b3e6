"""A normalized Compose service → the Engine API create body Compose v2 would send, its config
hash, and refusals that name the service and the key."""

from __future__ import annotations

import pytest

from dockyard.compose.convert import Context, create_body, service_hash
from dockyard.compose.project import Model, dependency_order, levels
from dockyard.errors import InvalidArgument


def model(services, **top) -> Model:
    return Model("p", "/w", ["/w/compose.yaml"], {"services": services, **top})


def body(service, **top):
    p = model({"s": service}, **top)
    return create_body(Context(p, lambda peer: f"p-{peer}-1"), "s", service, number=1, name="p-s-1",
                       labels={"L": "1"})


def test_body_from_a_normalized_service():
    b, extra = body({
        "image": "busybox", "command": ["sleep", "1"], "entrypoint": None, "environment": {"A": "1", "U": None},
        "ports": [{"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp", "host_ip": "127.0.0.1"}],
        "healthcheck": {"test": ["CMD-SHELL", "true"], "interval": "1m30s", "retries": 3},
        "deploy": {"resources": {"limits": {"cpus": 0.5, "memory": "67108864", "pids": 20},
                                 "reservations": {"memory": "1048576"}}},
        "networks": {"front": {"aliases": ["www"], "ipv4_address": "10.9.0.5"}, "default": None},
        "stop_grace_period": "3s", "extra_hosts": ["h=1.2.3.4"], "restart": "on-failure:2",
    }, networks={"front": {"name": "p_front"}, "default": {"name": "p_default"}})
    h = b["HostConfig"]
    assert b["Cmd"] == ["sleep", "1"] and "Entrypoint" not in b and b["Env"] == ["A=1"]
    assert b["Labels"] == {"L": "1"} and b["StopTimeout"] == 3
    assert b["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 90_000_000_000, "Retries": 3}
    assert h["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}
    assert (h["NanoCpus"], h["Memory"], h["PidsLimit"], h["MemoryReservation"]) == (500_000_000, 64 << 20, 20, 1 << 20)
    assert h["ExtraHosts"] == ["h:1.2.3.4"] and h["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    # networks by name; the first (by name) at create, with service and container name as aliases
    assert h["NetworkMode"] == "p_default"
    assert b["NetworkingConfig"]["EndpointsConfig"]["p_default"]["Aliases"] == ["s", "p-s-1"]
    assert extra == [("p_front", ["s", "p-s-1", "www"], "10.9.0.5", "", [])]


def test_the_hash_ignores_scale_and_build_only():
    base = {"image": "busybox", "environment": {"A": "1"}, "deploy": {"replicas": 2}}
    h = service_hash(base)
    assert service_hash({**base, "deploy": {"replicas": 5}}) == h
    assert service_hash({**base, "scale": 3, "build": {"context": "/x"}}) == h
    assert service_hash({**base, "environment": {"A": "2"}}) != h


@pytest.mark.parametrize("service, words", [
    ({"image": "b", "deploy": {"placement": {"constraints": ["x"]}}}, "deploy.placement"),
    ({"image": "b", "logging": {"driver": "syslog"}}, "logging.driver"),
    ({"image": "b", "volumes": [{"type": "bind", "source": "/tmp", "target": "/t", "bind": {"selinux": "z"}}]},
     "volumes.bind.selinux"),
    ({"image": "b", "gpus": "all"}, "gpus"),
    ({"image": "b", "ports": [{"target": 80, "published": "8000-8001", "protocol": "tcp"}]}, "ports"),
    ({"image": "b", "network_mode": "bogus"}, "network_mode"),
])
def test_refusals_name_the_service_and_the_key(service, words):
    with pytest.raises(InvalidArgument) as e:
        body(service)
    assert "service 's'" in str(e.value) and words in str(e.value)


def test_dependency_order_levels_and_namespace_peers():
    p = model({"web": {"depends_on": {"db": {"condition": "service_healthy"}}}, "db": {},
               "side": {"network_mode": "service:web"}})
    assert dependency_order(p, ["side"]) == ["db", "web", "side"]

    class R:
        def __init__(self, svc):
            self.service, self.config = svc, {}

    groups = levels(p, [R("side"), R("web"), R("db")])
    assert [[r.service for r in g] for g in groups] == [["db"], ["web"], ["side"]]
    with pytest.raises(InvalidArgument, match="cycle"):
        dependency_order(model({"a": {"depends_on": {"b": {}}}, "b": {"depends_on": {"a": {}}}}), ["a"])


def test_logging_none_and_links_reach_the_body():
    b, _ = body({"image": "b", "logging": {"driver": "none"}, "links": ["db:database", "cache"],
                 "external_links": ["other:o"]})
    assert b["HostConfig"]["LogConfig"] == {"Type": "none", "Config": {}}
    assert b["HostConfig"]["Links"] == ["p-db-1:database", "p-cache-1:cache", "other:o"]
