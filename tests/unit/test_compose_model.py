"""Merge rules, canonical forms, validation and the Go-shaped values of the Compose model."""

from __future__ import annotations

import pytest

from dockyard.compose import canonical, gotypes, merge, schema, yamlio
from dockyard.compose.model import service_json


# ---- merge

def _merged(*docs):
    model: dict = {}
    for d in docs:
        model = merge.merge_file(model, yamlio.load_documents(d, "f")[0])
        model = canonical.enforce_unicity(model)
    return model["services"]["s"]


def test_merge_sequences_by_key():
    s = _merged(
        "services: {s: {ports: ['80:80', '443:443'], volumes: ['./a:/a', './b:/b'], environment: [A=1, B=2],"
        " labels: {x: '1'}, command: [a, b], dns: 1.1.1.1, cap_add: [X]}}",
        "services: {s: {ports: ['80:80'], volumes: ['./c:/b'], environment: {B: '3', C: '4'}, labels: [y=2],"
        " command: c, dns: [8.8.8.8], cap_add: [X, Y]}}")
    assert s["ports"] == ["80:80", "443:443"]
    assert s["volumes"] == ["./a:/a", "./c:/b"]  # same target: the later one
    assert s["environment"] == ["A=1", "B=3", "C=4"]
    assert s["labels"] == ["x=1", "y=2"]
    assert s["command"] == "c"  # replaced, never merged
    assert s["dns"] == ["1.1.1.1", "8.8.8.8"]
    assert s["cap_add"] == ["X", "Y"]


def test_merge_maps_and_special_keys():
    s = _merged(
        "services: {s: {depends_on: [a], networks: [n1], logging: {driver: json-file, options: {max-size: 1m}},"
        " healthcheck: {test: [CMD, a], interval: 1s}, ulimits: {nofile: {soft: 1, hard: 2}}, build: ./ctx}}",
        "services: {s: {depends_on: {b: {condition: service_healthy}}, networks: {n2: {aliases: [x]}},"
        " logging: {options: {max-file: '2'}}, healthcheck: {test: [CMD, b]}, ulimits: {nofile: 5},"
        " build: {dockerfile: D}}}")
    assert s["depends_on"] == {"a": {"condition": "service_started", "required": True},
                               "b": {"condition": "service_healthy"}}
    assert s["networks"] == {"n1": None, "n2": {"aliases": ["x"]}}
    assert s["logging"] == {"driver": "json-file", "options": {"max-size": "1m", "max-file": "2"}}
    assert s["healthcheck"] == {"test": ["CMD", "b"], "interval": "1s"}
    assert s["ulimits"] == {"nofile": 5}
    assert s["build"] == {"context": "./ctx", "dockerfile": "D"}


def test_logging_with_another_driver_is_replaced():
    s = _merged("services: {s: {logging: {driver: json-file, options: {a: '1'}}}}",
                "services: {s: {logging: {driver: syslog}}}")
    assert s["logging"] == {"driver": "syslog"}


def test_reset_and_override_tags():
    s = _merged("services: {s: {ports: ['1:1', '2:2'], environment: {A: '1', B: '2'}, command: x, image: i}}",
                "services: {s: {ports: !override ['3:3'], environment: {B: !reset null}, command: !reset null}}")
    assert s == {"ports": ["3:3"], "environment": ["A=1"], "image": "i"}


def test_cannot_override_a_mapping_with_a_list():
    with pytest.raises(Exception, match="cannot override services.s.deploy"):
        _merged("services: {s: {deploy: {replicas: 1}}}", "services: {s: {deploy: [1]}}")


# ---- canonical forms

@pytest.mark.parametrize("spec,expected", [
    ("80", [{"mode": "ingress", "target": 80, "protocol": "tcp"}]),
    ("8080:80/udp", [{"mode": "ingress", "target": 80, "published": "8080", "protocol": "udp"}]),
    ("127.0.0.1::5000", [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 5000, "protocol": "tcp"}]),
    ("[::1]:8443:443", [{"mode": "ingress", "host_ip": "::1", "target": 443, "published": "8443", "protocol": "tcp"}]),
    ("6000-6001:6000", [{"mode": "ingress", "target": 6000, "published": "6000-6001", "protocol": "tcp"}]),
    ("9-10:9-10", [{"mode": "ingress", "target": 10, "published": "10", "protocol": "tcp"},  # Go sorts "10/tcp" first
                   {"mode": "ingress", "target": 9, "published": "9", "protocol": "tcp"}]),
])
def test_ports(spec, expected):
    assert canonical.parse_port(spec) == expected


@pytest.mark.parametrize("spec,message", [
    ("80:80:80:80x", "invalid IP address"), ("a:80", "invalid hostPort"), ("80-79", "invalid containerPort"),
    ("1-3:1-2", "invalid ranges"), ("70000", "invalid containerPort"),
])
def test_bad_ports(spec, message):
    with pytest.raises(canonical.CanonicalError, match=message):
        canonical.parse_port(spec)


@pytest.mark.parametrize("spec,expected", [
    ("/anon", {"type": "volume", "target": "/anon", "volume": {}}),
    ("data:/d:ro,nocopy", {"type": "volume", "source": "data", "target": "/d", "read_only": True,
                          "volume": {"nocopy": True}}),
    ("./x:/x/./y/", {"type": "bind", "source": "./x", "target": "/x/y", "bind": {"create_host_path": True}}),
    ("~/h:/h:rslave,z", {"type": "bind", "source": "~/h", "target": "/h",
                         "bind": {"propagation": "rslave", "selinux": "z", "create_host_path": True}}),
    ("${VAR:-/a:b}:/t", {"type": "volume", "source": "${VAR:-/a:b}", "target": "/t", "volume": {}}),
    ("c:/x:/y", {"type": "bind", "source": "c:/x", "target": "/y", "bind": {"create_host_path": True}}),
])
def test_volumes(spec, expected):
    assert canonical.parse_volume(spec) == expected


@pytest.mark.parametrize("spec,message", [("", "invalid empty volume spec"), ("ab::c", "empty section"),
                                          ("ab:bc:ro:x", "too many colons")])
def test_bad_volumes(spec, message):
    with pytest.raises(canonical.CanonicalError, match=message):
        canonical.parse_volume(spec)


# ---- YAML as yaml.v3 reads it

def test_yaml_1_2_scalars():
    doc = yamlio.load_documents("a: yes\nb: on\nc: 1:30\nd: 0755\ne: 0o17\nf: 0x1F\ng: ~\nh: true\ni: 1e3\nj: '5'", "f")[0]
    assert doc == {"a": "yes", "b": "on", "c": "1:30", "d": 0o755, "e": 15, "f": 31, "g": None, "h": True,
                   "i": 1000.0, "j": "5"}


def test_yaml_anchors_merge_keys_and_errors():
    doc = yamlio.load_documents("x: &a {p: 1, q: 2}\ny:\n  <<: *a\n  q: 3\n", "f")[0]
    assert doc["y"] == {"p": 1, "q": 3}
    with pytest.raises(Exception, match="failed to parse compose.yaml: yaml: line 2"):
        yamlio.load_documents("a: 1\n b: [\n", "compose.yaml")
    with pytest.raises(Exception, match="non-string key in services: 1"):
        yamlio.check_keys(yamlio.load_documents("services: {1: x}", "f")[0])


# ---- validation

@pytest.mark.parametrize("doc,message", [
    ("services: {w: {image: x, foo: 1}}", "services.w additional properties 'foo' not allowed"),
    ("services: {w: {image: 1}}", "services.w.image must be a string"),
    ("services: {w: {ports: '80'}}", "services.w.ports must be a array"),
    ("services: {w: {environment: 5}}", "services.w.environment must be a mapping"),
    ("services: {w: {cap_add: [A, A]}}", "services.w.cap_add must be unique"),
    ("services: {w: {healthcheck: {test: true}}}", "services.w.healthcheck.test must be a string"),
    ("services: {w: {ulimits: {nofile: {soft: 1}}}}", "services.w.ulimits.nofile must be a integer or string"),
    ("foo: 1", "additional properties 'foo' not allowed"),
    ("networks: {n: {driver: [x]}}", "networks.n.driver must be a string"),
    ("services: {w: {volumes: [{type: bind, source: a, target: b, bind: {x: 1}}]}}",
     "services.w.volumes.0.bind additional properties 'x' not allowed"),
])
def test_schema_refuses(doc, message):
    with pytest.raises(schema.SchemaError) as e:
        schema.validate(yamlio.load_documents(doc, "f")[0], "/p/compose.yaml")
    assert str(e.value) == f"validating /p/compose.yaml: {message}" or message in str(e.value)


def test_schema_accepts_extensions_and_interpolated_numbers():
    schema.validate(yamlio.load_documents(
        "x-a: 1\nservices: {w: {image: x, x-b: [1], cpus: '0.5', ports: [{target: 80, published: '8080'}],"
        " ulimits: {nofile: {soft: 1, hard: 2}, nproc: 3}}}", "f")[0], "f")


# ---- Go's shapes

@pytest.mark.parametrize("text,ns,out", [
    ("90s", 90 * 10 ** 9, "1m30s"), ("1.5s", 1_500_000_000, "1.5s"), ("500ms", 500_000_000, "500ms"),
    ("0s", 0, "0s"), ("1h2m3s", 3723 * 10 ** 9, "1h2m3s"), ("100us", 100_000, "100µs"), ("2h", 7200 * 10 ** 9, "2h0m0s"),
])
def test_durations(text, ns, out):
    assert gotypes.parse_duration(text) == ns
    assert gotypes.format_duration(ns) == out


def test_service_json_shapes():
    out = service_json({
        "image": "x", "command": "sh -c 'echo a b'", "mem_limit": "1g", "cpus": 1.5, "privileged": False,
        "init": False, "environment": ["A=1", "B"], "labels": ["x", "y=2"], "extra_hosts": {"b": "1", "a": ["2", "3"]},
        "secrets": [{"source": "s", "mode": 0o440}], "healthcheck": {"test": "curl x", "interval": "90s"},
        "deploy": {"replicas": 2}, "stop_grace_period": "1m",
    }, "services.s")
    assert out == {
        "command": ["sh", "-c", "echo a b"], "cpus": 1.5, "deploy": {"replicas": 2, "resources": {}, "placement": {}},
        "entrypoint": None, "environment": {"A": "1", "B": None}, "extra_hosts": ["a=2", "a=3", "b=1"],
        "healthcheck": {"test": ["CMD-SHELL", "curl x"], "interval": "1m30s"}, "image": "x", "init": False,
        "labels": {"x": "", "y": "2"}, "mem_limit": "1073741824", "secrets": [{"source": "s", "mode": "0440"}],
        "stop_grace_period": "1m0s",
    }
