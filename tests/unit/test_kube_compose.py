"""kube generate --compose (pure: no engine): every Compose project of the repository's corpus
(tests/interop/data/compose/, examples/) gives manifests that pass the Kubernetes OpenAPI schemas
strictly for 1.28 and the newest bundled version; configs, secrets and env files become
ConfigMaps and Secrets mounted and referenced where Compose put them."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from dockyard.kube.compose import from_compose

kv = pytest.importorskip("kubernetes_validate")
VERSIONS = ("1.28.0", kv.latest_version())
REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "interop" / "data" / "compose"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []
EXAMPLES = sorted(str(p.parent.relative_to(REPO)) for pat in ("compose.y*ml", "docker-compose.y*ml")
                  for p in (REPO / "examples").rglob(pat))


def validate(docs):
    assert docs
    for d in docs:
        for v in VERSIONS:
            kv.validate(d, v, strict=True)


def _case_options(d: Path) -> dict:
    spec = json.loads((d / "case.json").read_text()) if (d / "case.json").exists() else {}
    args, opts = list(spec.get("args", [])), {"files": [], "project_name": None, "profiles": [], "env_files": []}
    while args:
        a = args.pop(0)
        key = {"-f": "files", "--file": "files", "--profile": "profiles", "--env-file": "env_files"}.get(a)
        if key:
            opts[key].append(args.pop(0))
        elif a in ("-p", "--project-name"):
            opts["project_name"] = args.pop(0)
        else:
            raise AssertionError(f"case argument {a!r} not understood by this test")
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root", **spec.get("env", {})}
    return dict(opts, environ=env, workdir=str(d / spec.get("cwd", ".")))


@pytest.mark.parametrize("case", CASES + EXAMPLES)
def test_corpus_generates_valid_manifests(case, monkeypatch, tmp_path):
    import shutil

    from dockyard.compose.loader import ProjectOptions, load_project

    src = CORPUS / case if case in CASES else REPO / case
    d = tmp_path / src.name
    shutil.copytree(src, d, symlinks=True)
    opts = _case_options(d)
    monkeypatch.chdir(opts["workdir"])
    files = [os.path.join(opts["workdir"], f) for f in opts["files"]]
    project = load_project(ProjectOptions(files=files, project_name=opts["project_name"], profiles=opts["profiles"],
                                          env_files=opts["env_files"], environ=opts["environ"],
                                          project_directory=None, warn=lambda m: None))
    for res in list((project.secrets or {}).values()) + list((project.configs or {}).values()):
        if (res or {}).get("file") and not os.path.exists(res["file"]):  # the corpus is for `config`: no data files
            os.makedirs(os.path.dirname(res["file"]), exist_ok=True)
            Path(res["file"]).write_text("placeholder\n")
    monkeypatch.chdir(opts["workdir"])
    files = [os.path.join(opts["workdir"], f) for f in opts.pop("files")]
    for kind in (None, "pod"):
        gen = from_compose(files, service=True, kind=kind, **opts)
        validate(gen.docs)
        workloads = [x for x in gen.docs if x["kind"] in ("Deployment", "StatefulSet", "Pod")]
        assert workloads


def test_corpus_is_there():
    assert len(CASES) >= 30


def test_configs_secrets_env_files_volumes_health(tmp_path):
    (tmp_path / "web.env").write_text("FROM_FILE=yes\nOTHER=2\n")
    (tmp_path / "token.txt").write_bytes(b"s3cret\n")
    (tmp_path / "compose.yaml").write_text("""
services:
  web:
    image: registry.example:5000/web:1
    command: ["httpd", "-f", "-p", "80"]
    ports: ["8080:80"]
    environment: {MODE: prod}
    env_file: [web.env]
    volumes: [data:/www]
    configs: [{source: site, target: /etc/site.conf}]
    secrets: [token]
    healthcheck: {test: ["CMD", "true"], interval: 5s, retries: 2}
    deploy: {resources: {limits: {memory: 64M, cpus: "0.5"}}}
  worker:
    image: busybox
    command: sleep 1000
    read_only: true
    user: "1000:1000"
    depends_on: [web]
volumes:
  data: {}
configs:
  site: {content: "x=1"}
secrets:
  token: {file: ./token.txt}
""")
    gen = from_compose([str(tmp_path / "compose.yaml")], "shop", service=True, environ={"PATH": "/bin"})
    validate(gen.docs)
    by = {(d["kind"], d["metadata"]["name"]): d for d in gen.docs}
    assert by[("ConfigMap", "shop-site")]["data"] == {"site": "x=1"}
    assert base64.b64decode(by[("Secret", "shop-token")]["data"]["token"]) == b"s3cret\n"
    assert by[("ConfigMap", "shop-web-env-0")]["data"] == {"FROM_FILE": "yes", "OTHER": "2"}
    assert ("PersistentVolumeClaim", "shop-data") in by
    web = by[("StatefulSet", "web")]["spec"]["template"]["spec"]
    c = web["containers"][0]
    assert c["env"] == [{"name": "MODE", "value": "prod"}]
    assert c["envFrom"] == [{"configMapRef": {"name": "shop-web-env-0"}}]
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/etc/site.conf"]["subPath"] == "site" and mounts["/run/secrets/token"]["subPath"] == "token"
    assert mounts["/www"]["name"] == "shop-data"
    assert c["livenessProbe"]["exec"]["command"] == ["true"] and c["livenessProbe"]["failureThreshold"] == 2
    assert c["resources"]["limits"] == {"memory": "64Mi", "cpu": "500m"}
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP", "hostPort": 8080}]
    assert by[("Service", "web")]["spec"]["ports"][0]["port"] == 80
    worker = by[("Deployment", "worker")]["spec"]["template"]["spec"]["containers"][0]
    assert worker["securityContext"]["readOnlyRootFilesystem"] is True
    assert worker["securityContext"]["runAsUser"] == 1000
    assert not any("NetworkMode" in w for w in gen.warnings)  # the project's own network is the cluster's
