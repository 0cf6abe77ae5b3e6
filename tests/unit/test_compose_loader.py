"""load_project: which files, which environment, which name, profiles, include/extends, and the
errors (no Docker needed: tests/interop compares the same rules with Compose v2's binary)."""

from __future__ import annotations

import os

import pytest

from dockyard.compose.loader import ProjectOptions, find_files, load_project, normalize_project_name
from dockyard.errors import InvalidArgument, NotFound


def write(path, text: str) -> str:
    path = str(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def load(tmp_path, env=None, **kw):
    warnings = []
    kw.setdefault("project_directory", str(tmp_path))
    p = load_project(ProjectOptions(environ=dict(env or {}), warn=warnings.append, **kw))
    p.warnings = warnings
    return p


def test_discovery_prefers_compose_yaml_and_adds_one_override(tmp_path):
    write(tmp_path / "docker-compose.yml", "services: {a: {image: old}}")
    write(tmp_path / "compose.yaml", "services: {a: {image: new}}")
    write(tmp_path / "compose.override.yml", "services: {a: {environment: [O=1]}}")
    write(tmp_path / "docker-compose.override.yml", "services: {a: {environment: [P=1]}}")
    assert find_files(str(tmp_path)) == [str(tmp_path / "compose.yaml"), str(tmp_path / "compose.override.yml")]
    p = load(tmp_path)
    assert p.services["a"]["image"] == "new" and p.services["a"]["environment"] == {"O": "1"}


def test_discovery_walks_up_and_the_file_gives_the_directory(tmp_path):
    write(tmp_path / "proj" / "compose.yml", "services: {a: {image: x, volumes: ['./d:/d']}}")
    deep = tmp_path / "proj" / "x" / "y"
    deep.mkdir(parents=True)
    old = os.getcwd()
    os.chdir(deep)
    try:
        p = load_project(ProjectOptions(environ={}))
    finally:
        os.chdir(old)
    assert p.name == "proj" and p.working_dir == str(tmp_path / "proj")
    assert p.services["a"]["volumes"][0]["source"] == str(tmp_path / "proj" / "d")


def test_no_file(tmp_path):
    with pytest.raises(NotFound, match="no configuration file provided"):
        load(tmp_path, files=[]) if find_files(str(tmp_path)) == [] else pytest.skip("a compose file above tmp")


@pytest.mark.parametrize("raw,name", [("My App", "myapp"), ("__x.Y-z", "xy-z"), ("Ünïcode_1", "ncode_1")])
def test_name_normalization(raw, name):
    assert normalize_project_name(raw) == name


def test_name_precedence(tmp_path):
    write(tmp_path / "compose.yaml", "name: ${N:-From}_File\nservices: {a: {image: x}}")
    assert load(tmp_path).name == "from_file"
    assert load(tmp_path, env={"COMPOSE_PROJECT_NAME": "env"}).name == "env"
    assert load(tmp_path, env={"COMPOSE_PROJECT_NAME": "env"}, project_name="flag").name == "flag"
    with pytest.raises(InvalidArgument, match='invalid project name "Flag"'):
        load(tmp_path, project_name="Flag")


def test_environment_precedence(tmp_path):
    write(tmp_path / "compose.yaml", "services: {a: {image: 'x:${T}', environment: [S=$S, D=$D, E=$E]}}")
    write(tmp_path / ".env", "T=dotenv\nS=dotenv\nD=dotenv\n")
    write(tmp_path / "one.env", "T=one\nE=one\n")
    write(tmp_path / "two.env", "E=two\n")
    p = load(tmp_path, env={"S": "shell"})
    assert p.services["a"]["image"] == "x:dotenv"
    assert p.services["a"]["environment"] == {"S": "shell", "D": "dotenv", "E": ""}
    assert p.warnings == ['The "E" variable is not set. Defaulting to a blank string.']
    p = load(tmp_path, env={"S": "shell"}, env_files=[str(tmp_path / "one.env"), str(tmp_path / "two.env")])
    assert p.services["a"]["image"] == "x:one"  # --env-file replaces .env; a later file wins
    assert p.services["a"]["environment"] == {"S": "shell", "D": "", "E": "two"}
    with pytest.raises(NotFound, match="couldn't find env file"):
        load(tmp_path, env_files=[str(tmp_path / "none.env")])


def test_compose_file_variable(tmp_path, monkeypatch):
    write(tmp_path / "a.yaml", "services: {a: {image: x}}")
    write(tmp_path / "b.yaml", "services: {a: {image: y}, b: {image: z}}")
    monkeypatch.chdir(tmp_path)  # relative COMPOSE_FILE paths are the working directory's, as in v2
    p = load(tmp_path, env={"COMPOSE_FILE": "a.yaml,b.yaml", "COMPOSE_PATH_SEPARATOR": ","})
    assert sorted(p.services) == ["a", "b"] and p.services["a"]["image"] == "y"


def test_profiles(tmp_path):
    write(tmp_path / "compose.yaml", """
services:
  app: {image: x}
  dbg: {image: x, profiles: [debug], depends_on: [app]}
  tool: {image: x, profiles: [tools], depends_on: {dbg: {condition: service_started, required: false}}}
""")
    assert sorted(load(tmp_path).services) == ["app"]
    p = load(tmp_path, profiles=["debug"])
    assert sorted(p.services) == ["app", "dbg"] and sorted(p.disabled_services) == ["tool"]
    assert sorted(load(tmp_path, env={"COMPOSE_PROFILES": "tools"}).services) == ["app", "tool"]
    assert sorted(load(tmp_path, profiles=["*"]).services) == ["app", "dbg", "tool"]
    # naming a service enables it, and what it depends on
    assert sorted(load(tmp_path, services=["dbg"]).services) == ["app", "dbg"]


def test_include_and_extends(tmp_path):
    write(tmp_path / "compose.yaml", "include: [lib/inc.yaml]\nservices:\n  web: {extends: {file: lib/base.yaml, service: b}, image: w}\n")
    write(tmp_path / "lib" / "inc.yaml", "services:\n  db: {image: 'pg:${V}', volumes: ['./init:/init']}\n")
    write(tmp_path / "lib" / ".env", "V=15\n")
    write(tmp_path / "lib" / "base.yaml", "services:\n  b: {build: ./ctx, environment: {X: '1'}}\n")
    p = load(tmp_path)
    assert p.services["db"]["image"] == "pg:15"
    assert p.services["db"]["volumes"][0]["source"] == str(tmp_path / "lib" / "init")
    assert p.services["web"]["build"]["context"] == str(tmp_path / "lib" / "ctx")
    assert p.services["web"]["image"] == "w" and p.services["web"]["environment"] == {"X": "1"}


@pytest.mark.parametrize("files,message", [
    ({"compose.yaml": "include: [b.yaml]\nservices: {a: {image: x}}", "b.yaml": "include: [compose.yaml]"},
     "include cycle detected"),
    ({"compose.yaml": "services: {a: {extends: b, image: x}, b: {extends: a}}"}, "Circular reference"),
    ({"compose.yaml": "services: {a: {image: x, depends_on: [b]}, b: {image: x, depends_on: [a]}}"},
     "dependency cycle detected"),
    ({"compose.yaml": ""}, "empty compose file"),
    ({"compose.yaml": "[1, 2]"}, "top-level object must be a mapping"),
    ({"compose.yaml": "services: {a: {image: x, networks: [nope]}}"}, "refers to undefined network nope"),
    ({"compose.yaml": "services: {a: {image: x, secrets: [s]}}"}, "refers to undefined secret s"),
    ({"compose.yaml": "services: {a: {image: x, mem_limit: 1g, deploy: {resources: {limits: {memory: 2g}}}}}"},
     "can't set distinct values on 'mem_limit'"),
    ({"compose.yaml": "services: {a: {image: x, container_name: c}}"},
     "services.a.container_name 'c' does not match pattern"),
    ({"compose.yaml": "services: {a: {image: x, container_name: cc, scale: 2}}"},
     "can't set container_name and a as container name must be unique"),
    ({"compose.yaml": "services: {a: {image: x, configs: [c]}}\nconfigs: {c: {}}"},
     "configs.c: one of file|environment|content must be set"),
    ({"compose.yaml": "services: {a: {image: x, volumes: ['v:/v']}}\nvolumes: {v: {external: true, driver: x}}"},
     'volumes.v: conflicting parameters "external" and "driver" specified'),
    ({"compose.yaml": "services: {a: {image: x, healthcheck: {test: [BAD]}}}"}, "healthcheck.test must start"),
])
def test_refused(tmp_path, files, message):
    for name, text in files.items():
        write(tmp_path / name, text)
    with pytest.raises(InvalidArgument, match=message):
        load(tmp_path)


def test_version_is_obsolete_with_a_warning(tmp_path):
    write(tmp_path / "compose.yaml", "version: '3'\nservices: {a: {image: x}}")
    p = load(tmp_path)
    assert p.warnings == [f"{tmp_path / 'compose.yaml'}: the attribute `version` is obsolete, it will be ignored, "
                          "please remove it to avoid potential confusion"]
    assert "version" not in p.to_dict()


def test_to_dict_is_v2s_model(tmp_path):
    write(tmp_path / "compose.yaml", """
x-top: 1
services:
  web:
    build: ./web
    ports: ["3000:3000"]
    depends_on: [db]
    env_file: [web.env]
  db:
    image: postgres:15
    volumes: [pg:/var/lib/postgresql/data]
volumes: {pg: {}, unused: {}}
""")
    write(tmp_path / "web.env", "A=1\n")
    d = load(tmp_path).to_dict()
    n = tmp_path.name.lower()
    assert d == {
        "name": n, "x-top": 1,
        "networks": {"default": {"name": f"{n}_default", "ipam": {}}},
        "volumes": {"pg": {"name": f"{n}_pg"}},
        "services": {
            "db": {"command": None, "entrypoint": None, "image": "postgres:15", "networks": {"default": None},
                   "volumes": [{"type": "volume", "source": "pg", "target": "/var/lib/postgresql/data",
                                "volume": {}}]},
            "web": {"build": {"context": str(tmp_path / "web"), "dockerfile": "Dockerfile"}, "command": None,
                    "depends_on": {"db": {"condition": "service_started", "required": True}}, "entrypoint": None,
                    "environment": {"A": "1"}, "networks": {"default": None},
                    "ports": [{"mode": "ingress", "target": 3000, "published": "3000", "protocol": "tcp"}]},
        },
    }
