"""Kubernetes manifests from a Compose project, as kompose writes them: one workload per service
(`kube/generate.py` on the container config Compose would create), a Service per service with
ports (`--service`), PersistentVolumeClaims for named volumes, ConfigMaps for `configs` and
`env_file`s, Secrets for `secrets`. The project is loaded by `dockyard.compose.loader`."""

from __future__ import annotations

import os

from dockyard.errors import DockyardError, InvalidArgument
from dockyard.kube import names
from dockyard.kube.generate import Generated, generate


def from_compose(file: str | None, project_name: str | None, *, kind=None, service=False, node_ports=False,
                 engine=None, environ: dict | None = None) -> Generated:
    from dockyard.compose.loader import ProjectOptions, load_project

    out = Generated()
    opts = ProjectOptions(files=[file] if file else [], project_name=project_name, resolve_environment=False,
                          warn=lambda m: out.warnings.append(f"compose: {m}"), environ=environ)
    project = load_project(opts)
    resources = {}  # ConfigMaps and Secrets, by name, written first
    for svc in project.dependency_order():
        s = dict(project.services[svc])
        mounts = _files(project, svc, s, resources, out)
        env_from = _env_files(project, svc, s, resources)
        view = _view(engine, project, svc, s, out)
        gen = generate([view], kind=kind, service=service, node_ports=node_ports, name=svc)
        out.warnings += gen.warnings
        for d in gen.docs:
            if d["kind"] == "PersistentVolumeClaim" and any(x["kind"] == d["kind"] and x["metadata"]["name"] ==
                                                            d["metadata"]["name"] for x in out.docs):
                continue  # a volume two services share: one claim
            if d["kind"] in ("Deployment", "StatefulSet", "Pod"):
                _attach(d, mounts, env_from)
            out.docs.append(d)
        if not service and (s.get("ports") or s.get("expose")):
            out.warnings.append(f"service {svc}: other services reach it by name through a Service: use --service")
    out.docs[:0] = list(resources.values())
    return out


def _view(engine, project, svc: str, s: dict, out: Generated) -> dict:
    from dockyard.compose.convert import Context, create_body, image_name
    from dockyard.engine.create import config_from_request

    body, extra = create_body(Context(project), svc, {k: v for k, v in s.items() if k not in ("secrets", "configs")},
                              number=1, name=svc, labels={})
    for net, _aliases, ip in extra:
        out.warn(svc, "networks", f"{net}: pods share the cluster network")
    hc = body["HostConfig"]
    net = hc.get("NetworkMode", "")
    if net.startswith(f"{project.name}_"):  # the project's networks: in a cluster, Services give the names
        hc["NetworkMode"] = "bridge"
        body.pop("NetworkingConfig", None)
    cfg = config_from_request(body).to_json()
    image = image_name(project.name, svc, s)
    pinned, note, icfg, run_as = image, None, {}, None
    if engine is not None:
        from dockyard.kube.gather import pin_image, run_as as user_ids

        try:
            rec = engine.images.resolve(image)
        except DockyardError:
            rec = None
        if rec is not None:
            pinned, note = pin_image(engine, image, rec)
            icfg = engine.images.config(rec).get("config") or {}
            run_as = user_ids(engine, rec, cfg.get("user") or "")
        else:
            note = f"{image} is not in this store: build or pull it, and push it where the cluster pulls from"
    if run_as is None and cfg.get("user"):
        u, _, g = cfg["user"].partition(":")
        if u.isdigit() and (not g or g.isdigit()):
            run_as = (int(u), int(g or 0))
    if s.get("build") is not None:
        note = (note or "") + ("; " if note else "") + "built by Compose: push the image to a registry"
    return {"name": svc, "config": cfg, "image": pinned, "image_config": icfg, "run_as": run_as, "image_note": note}


def _files(project, svc: str, s: dict, resources: dict, out: Generated) -> list:
    """`configs` → ConfigMaps, `secrets` → Secrets (a key each), mounted by subPath at the target."""
    mounts = []
    for key, top, where in (("configs", project.configs, "/"), ("secrets", project.secrets, "/run/secrets/")):
        for ref in s.get(key) or ():
            ref = {"source": ref} if isinstance(ref, str) else ref
            src = ref.get("source")
            decl = (top or {}).get(src)
            if decl is None:
                raise InvalidArgument(f"service {svc!r}: {key}: {src!r} is not declared at the top level")
            obj_name = names.dns_label(f"{project.name}-{src}", 253)
            data_key = names.dns_label(src)
            if obj_name not in resources:
                data = _source_bytes(svc, key, src, decl)
                if key == "configs":
                    try:
                        doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": obj_name},
                               "data": {data_key: data.decode()}}
                    except UnicodeDecodeError:
                        import base64

                        doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": obj_name},
                               "binaryData": {data_key: base64.b64encode(data).decode()}}
                else:
                    import base64

                    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": obj_name}, "type": "Opaque",
                           "data": {data_key: base64.b64encode(data).decode()}}
                resources[obj_name] = doc
            target = ref.get("target") or src
            if not target.startswith("/"):
                target = where + target
            if ref.get("uid") or ref.get("gid"):
                out.warn(svc, f"{key}.{src}", "uid/gid: the kubelet writes the file as root (use fsGroup)")
            vol = {"name": names.dns_label(f"{key[:-1]}-{src}", 63)}
            item = {"key": data_key, "path": data_key}
            if ref.get("mode") is not None:
                item["mode"] = int(ref["mode"]) if not isinstance(ref["mode"], str) else int(ref["mode"], 8)
            if key == "configs":
                vol["configMap"] = {"name": obj_name, "items": [item]}
            else:
                vol["secret"] = {"secretName": obj_name, "items": [item]}
            mounts.append((vol, {"name": vol["name"], "mountPath": target, "subPath": data_key, "readOnly": True}))
    return mounts


def _source_bytes(svc: str, key: str, src: str, decl: dict) -> bytes:
    if decl.get("external"):
        raise InvalidArgument(f"service {svc!r}: {key}: {src!r} is external: create it in the cluster and "
                              "leave it out here")
    if decl.get("file"):
        with open(decl["file"], "rb") as f:
            return f.read()
    if decl.get("content") is not None:
        return str(decl["content"]).encode()
    if decl.get("environment"):
        val = os.environ.get(decl["environment"])
        if val is None:
            raise InvalidArgument(f"service {svc!r}: {key}: {src!r}: environment variable {decl['environment']} "
                                  "is not set")
        return val.encode()
    raise InvalidArgument(f"service {svc!r}: {key}: {src!r} has no file, content or environment source")


def _env_files(project, svc: str, s: dict, resources: dict) -> list:
    """Each `env_file` → a ConfigMap the container takes with envFrom (kompose's mapping)."""
    from dockyard.compose.dotenv import read_file

    refs = []
    for i, ef in enumerate(s.get("env_file") or ()):
        path = ef.get("path") if isinstance(ef, dict) else ef
        if not os.path.exists(path):
            if isinstance(ef, dict) and ef.get("required") is False:
                continue
            raise InvalidArgument(f"service {svc!r}: env_file {path}: no such file")
        data = read_file(path, lambda k: (project.environment or {}).get(k))
        obj = names.dns_label(f"{project.name}-{svc}-env-{i}", 253)
        resources[obj] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": obj},
                          "data": {k: "" if v is None else str(v) for k, v in data.items()}}
        refs.append({"configMapRef": {"name": obj}})
    return refs


def _attach(workload: dict, mounts: list, env_from: list) -> None:
    spec = workload["spec"] if workload["kind"] == "Pod" else workload["spec"]["template"]["spec"]
    c = spec["containers"][0]
    if env_from:
        c["envFrom"] = env_from
    for vol, vm in mounts:
        spec.setdefault("volumes", []).append(vol)
        c.setdefault("volumeMounts", []).append(vm)
