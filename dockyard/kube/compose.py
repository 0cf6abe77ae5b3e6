"""Kubernetes manifests from a Compose project, as kompose writes them: one workload per service
(`kube/generate.py` on the container config Compose would create), a Service per service with
ports (`--service`), PersistentVolumeClaims for named volumes, ConfigMaps for `configs` and
`env_file`s, Secrets for `secrets`. The project is loaded by `dockyard.compose.loader`."""

from __future__ import annotations

import os

from dockyard.errors import DockyardError, InvalidArgument
from dockyard.kube import names
from dockyard.kube.generate import Generated, generate


def from_compose(files: list[str], project_name: str | None, *, kind=None, service=False, node_ports=False,
                 engine=None, environ: dict | None = None, profiles=(), env_files=(),
                 workdir: str | None = None) -> Generated:
    """Manifests for the project Compose would load from `files` (none: found as Compose finds
    them), with `project_name`, `profiles`, `env_files` (`--env-file`) and `environ` as given."""
    from dockyard.compose.loader import ProjectOptions, load_project

    out = Generated()
    opts = ProjectOptions(files=list(files), project_name=project_name, resolve_environment=False,
                          profiles=list(profiles), env_files=list(env_files), project_directory=workdir,
                          warn=lambda m: out.warnings.append(f"compose: {m}"), environ=environ)
    project = load_project(opts)
    env_files = {svc: list(s.get("env_file") or ()) for svc, s in project.services.items()}
    from dockyard.compose.consistency import resolve_service_environment

    resolve_service_environment(project)  # environment with env_file folded in, as Compose runs it
    resources = {}  # ConfigMaps and Secrets, by name, written first
    from dockyard.compose.model import service_json

    for svc in project.dependency_order():
        s = service_json(project.services[svc], f"services.{svc}")  # the normalized form `config` prints
        mounts = _files(project, svc, s, resources, out)
        requests = _reservations(s)
        env_from = _env_files(project, svc, s, env_files.get(svc) or [], resources)
        s = _expressible(svc, s, out)
        health = _health(svc, s.pop("healthcheck", None))
        view = _view(engine, project, svc, s, out)
        if health is not None:
            view["config"]["healthcheck"] = health
        gen = generate([view], kind=kind, service=service, node_ports=node_ports, name=svc)
        out.warnings += gen.warnings
        for d in gen.docs:
            if d["kind"] == "PersistentVolumeClaim" and any(x["kind"] == d["kind"] and x["metadata"]["name"] ==
                                                            d["metadata"]["name"] for x in out.docs):
                continue  # a volume two services share: one claim
            if d["kind"] in ("Deployment", "StatefulSet", "Pod"):
                _attach(d, mounts, env_from, requests)
                replicas = (s.get("deploy") or {}).get("replicas")
                if d["kind"] != "Pod" and isinstance(replicas, int) and replicas >= 0:
                    d["spec"]["replicas"] = replicas
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
    for net, *_ in extra:
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
                data = _source_bytes(svc, key, src, decl, project.environment or {})
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


def _source_bytes(svc: str, key: str, src: str, decl: dict, env: dict) -> bytes:
    if decl.get("external"):
        raise InvalidArgument(f"service {svc!r}: {key}: {src!r} is external: create it in the cluster and "
                              "leave it out here")
    if decl.get("file"):
        try:
            with open(decl["file"], "rb") as f:
                return f.read()
        except OSError as e:
            raise InvalidArgument(f"service {svc!r}: {key}: {src!r}: cannot read {decl['file']}: "
                                  f"{e.strerror}") from None
    if decl.get("content") is not None:
        return str(decl["content"]).encode()
    if decl.get("environment"):
        val = env.get(decl["environment"])
        if val is None:
            raise InvalidArgument(f"service {svc!r}: {key}: {src!r}: environment variable {decl['environment']} "
                                  "is not set")
        return val.encode()
    raise InvalidArgument(f"service {svc!r}: {key}: {src!r} has no file, content or environment source")


def _env_files(project, svc: str, s: dict, env_files: list, resources: dict) -> list:
    """Each `env_file` → a ConfigMap the container takes with envFrom (kompose's mapping); the
    keys they give drop out of the service's inline environment unless it sets another value."""
    from dockyard.compose.dotenv import read_file

    refs, given = [], {}
    env = project.environment or {}
    for i, ef in enumerate(env_files):
        path = ef.get("path") if isinstance(ef, dict) else ef
        if not os.path.exists(path):
            continue  # an optional one (the loader refused a missing required one)
        data = read_file(path, lambda k: env.get(k))
        given.update(data)
        obj = names.dns_label(f"{project.name}-{svc}-env-{i}", 253)
        resources[obj] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": obj},
                          "data": {k: "" if v is None else str(v) for k, v in data.items()}}
        refs.append({"configMapRef": {"name": obj}})
    if given and isinstance(s.get("environment"), dict):
        s["environment"] = {k: v for k, v in s["environment"].items() if k not in given or given[k] != v}
    return refs


# service keys with no Kubernetes form (and that `dockyard compose` does not run either): warned, left out
NO_KUBE_FORM = ("volumes_from", "isolation", "blkio_config", "cpu_count", "cpu_percent", "cpu_rt_runtime",
                "cpu_rt_period", "cpu_period", "cpu_quota", "credential_spec", "storage_opt", "gpus",
                "device_cgroup_rules", "post_start", "pre_stop", "use_api_socket", "mem_swappiness", "external_links")
DEPLOY_KEPT = ("resources", "replicas", "restart_policy")


def _expressible(svc: str, s: dict, out: Generated) -> dict:
    """The service without what has no Kubernetes form, each key left out with a warning: host
    binds, port ranges, Swarm's deploy settings, Windows and device keys."""
    s = dict(s)
    for key in NO_KUBE_FORM:
        if s.get(key) not in (None, [], {}, ""):
            out.warn(svc, key, "has no Kubernetes form: left out")
        s.pop(key, None)
    vols = []
    for v in s.get("volumes") or ():
        if v.get("type") == "bind":
            out.warn(svc, f"volumes.{v.get('target')}", f"host path {v.get('source')} cannot be expressed (a "
                                                       "hostPath ties the pod to one node): left out")
        elif v.get("type") not in ("volume", "tmpfs"):
            out.warn(svc, f"volumes.{v.get('target')}", f"{v.get('type')} mounts have no Kubernetes form: left out")
        elif (v.get("volume") or {}).get("subpath"):  # `dockyard compose` cannot mount one either
            out.warn(svc, f"volumes.{v.get('target')}", "a volume's subpath is not supported: left out")
        else:
            vols.append(v)
    s["volumes"] = vols
    ports = []
    for p in s.get("ports") or ():
        p = dict(p)
        if "-" in str(p.get("target")):
            out.warn(svc, "ports", f"container port range {p['target']}: list the ports one by one; left out")
            continue
        if ":" in str(p.get("host_ip") or ""):
            out.warn(svc, "ports", f"IPv6 host address {p['host_ip']} for {p['target']}: written without hostIP")
            p.pop("host_ip")
        if "-" in str(p.get("published") or ""):
            out.warn(svc, "ports", f"host port range {p['published']} for {p['target']}: no hostPort written")
            p.pop("published")
        if p.get("mode") not in (None, "ingress", "host"):
            p["mode"] = "ingress"
        ports.append(p)
    s["ports"] = ports
    expose = []
    for e in s.get("expose") or ():
        port, _, proto = str(e).partition("/")
        lo, _, hi = port.partition("-")
        if hi and lo.isdigit() and hi.isdigit() and int(hi) - int(lo) < 100:
            expose += [f"{n}/{proto or 'tcp'}" for n in range(int(lo), int(hi) + 1)]
        elif hi:
            out.warn(svc, "expose", f"{e}: too wide a range to list: left out")
        else:
            expose.append(str(e))
    s["expose"] = expose
    for key in ("network_mode", "pid", "ipc", "uts", "cgroup"):
        v = str(s.get(key) or "")
        if v.startswith(("service:", "container:")) or (key == "network_mode" and v == "host") or \
                (key in ("pid", "ipc", "uts") and v == "host"):
            out.warn(svc, key, f"{v}: no pod form (containers share a pod only when generated together): left out")
            s.pop(key)
    log = s.get("logging") or {}
    if log.get("driver") not in (None, "", "json-file") or log.get("options"):
        out.warn(svc, "logging", "logs are the kubelet's to keep: left out")
        s.pop("logging", None)
    deploy = dict(s.get("deploy") or {})
    for k in list(deploy):
        if k not in DEPLOY_KEPT:
            if deploy[k] not in (None, {}, [], "replicated"):
                out.warn(svc, f"deploy.{k}", "a Swarm setting with no pod form: left out")
            del deploy[k]
    res = dict(deploy.get("resources") or {})
    for part, kept in (("limits", ("cpus", "memory", "pids")), ("reservations", ("cpus", "memory"))):
        if res.get(part):
            for k in list(res[part]):
                if k not in kept:
                    out.warn(svc, f"deploy.resources.{part}.{k}", "needs a device plugin or extended resource: "
                                                                  "left out")
            res[part] = {k: v for k, v in res[part].items() if k in kept}
    if res:
        deploy["resources"] = res
    rp = deploy.get("restart_policy")
    if rp:
        extra = set(rp) - {"condition", "max_attempts"}
        if extra:
            out.warn(svc, "deploy.restart_policy", f"{', '.join(sorted(extra))}: no pod form, left out")
        deploy["restart_policy"] = {k: v for k, v in rp.items() if k in ("condition", "max_attempts")}
    s["deploy"] = deploy
    return s


def _health(svc: str, hc: dict | None) -> dict | None:
    """A Compose healthcheck in Docker's form (durations in ns) for the probe, without the
    engine's floors (a probe counts whole seconds anyway); no test: none."""
    from dockyard.compose.convert import healthcheck

    if hc is None:
        return None
    out = healthcheck(svc, hc)
    out.setdefault("Test", ["NONE"])
    return out


def _reservations(s: dict) -> dict:
    """A memory reservation as the container's memory request, taken out of the service before
    the engine's checks (its 6MB floor is the engine's, not Kubernetes')."""
    from dockyard.units import ram_in_bytes

    res = ((s.get("deploy") or {}).get("resources") or {}).get("reservations") or {}
    own = s.pop("mem_reservation", None)
    value = res.pop("memory", None) if isinstance(res, dict) else None
    value = own if value is None else value  # deploy's wins, as Compose's
    if value in (None, 0, "0"):
        return {}
    n = value if isinstance(value, int) else ram_in_bytes(str(value))
    return {"memory": names.memory_quantity(n)}


def _attach(workload: dict, mounts: list, env_from: list, requests: dict) -> None:
    spec = workload["spec"] if workload["kind"] == "Pod" else workload["spec"]["template"]["spec"]
    c = spec["containers"][0]
    if requests:
        c.setdefault("resources", {}).setdefault("requests", {}).update(requests)
    if env_from:
        c["envFrom"] = env_from
    for vol, vm in mounts:
        spec.setdefault("volumes", []).append(vol)
        c.setdefault("volumeMounts", []).append(vm)
