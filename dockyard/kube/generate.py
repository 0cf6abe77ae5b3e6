"""Kubernetes manifests from containers: pure data in, manifests and warnings out.

A container is given as a *view* (`kube/gather.py` reads it from the engine):

    {"name": "web", "config": <the stored ContainerConfig JSON>, "image": "reg/app@sha256:…",
     "image_config": <the image's config.config>, "run_as": (uid, gid) or None,
     "image_note": None or why the image is not pinned}

As `podman kube generate` does, the containers given together form one pod: a Deployment
(a StatefulSet when they use named volumes, or a bare Pod: `kind`), with PersistentVolumeClaims
for the named volumes and, with `service`, a Service for the published ports (NodePort with
`node_ports`). Whatever a container asked for that Kubernetes cannot express is a warning
naming the container and the key; nothing is dropped silently.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument
from dockyard.kube import names
from dockyard.kube.podlevel import pod_level, security_context

KINDS = ("deployment", "statefulset", "pod")
SECOND = 1_000_000_000
PVC_SIZE = "1Gi"  # a claim must ask for some storage; docker volumes have no size
NODE_PORTS = range(30000, 32768)
DEFAULT_ENV = ("HOSTNAME", "HOME")  # set by the engine, not by the user


class Generated:
    """The manifests (a list of objects, in apply order) and the warnings."""

    def __init__(self) -> None:
        self.docs: list[dict] = []
        self.warnings: list[str] = []

    def warn(self, container: str, key: str, text: str) -> None:
        self.warnings.append(f"container {container}: {key}: {text}")


def generate(views: list[dict], *, kind: str | None = None, service: bool = False, node_ports: bool = False,
             name: str | None = None) -> Generated:
    """Manifests for the containers of `views`, as one pod named `name` (default: the first
    container's). `kind` None picks a StatefulSet when a named volume is used, else a Deployment."""
    if not views:
        raise InvalidArgument("kube generate needs at least one container")
    if kind is not None and kind not in KINDS:
        raise InvalidArgument(f"invalid --type {kind!r}: use deployment, statefulset or pod")
    out = Generated()
    pod_name = names.dns_label(name or views[0]["name"])
    app = {"app": pod_name}
    volumes: dict[str, dict] = {}
    claims: list[str] = []
    containers, ports = [], []
    restarts = set()
    pod_extra: dict = {}
    for v in views:
        c, cports = _container(v, out, volumes, claims, pod_extra)
        containers.append(c)
        ports += cports
        restarts.add(v["config"].get("restart") or "no")
    if kind is None:
        kind = "statefulset" if claims else "deployment"
    pod_spec: dict = {"containers": containers}
    if volumes:
        pod_spec["volumes"] = list(volumes.values())
    pod_spec.update(pod_extra)
    pod_spec["restartPolicy"] = _restart_policy(kind, restarts, views, out)
    if len({c["name"] for c in containers}) != len(containers):
        raise InvalidArgument("two containers would get the same name in the pod: rename one")
    for claim in claims:
        out.docs.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                         "metadata": {"name": claim, "labels": dict(app)},
                         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": PVC_SIZE}}}})
    meta = {"name": pod_name, "labels": dict(app)}
    annotations = _annotations(views, out)
    if kind == "pod":
        pod_meta = dict(meta, **({"annotations": annotations} if annotations else {}))
        out.docs.append({"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": pod_spec})
    else:
        tmeta = {"labels": dict(app), **({"annotations": annotations} if annotations else {})}
        spec = {"replicas": 1, "selector": {"matchLabels": dict(app)}, "template": {"metadata": tmeta, "spec": pod_spec}}
        if kind == "statefulset":
            spec["serviceName"] = pod_name
        out.docs.append({"apiVersion": "apps/v1", "kind": "Deployment" if kind == "deployment" else "StatefulSet",
                         "metadata": meta, "spec": spec})
    if service:
        svc = _service(pod_name, app, ports, node_ports, out)
        if svc:
            out.docs.append(svc)
    elif node_ports:
        raise InvalidArgument("--node-ports needs --service")
    return out


def _restart_policy(kind: str, restarts: set, views: list[dict], out: Generated) -> str:
    """Docker's restart policy as the pod's restartPolicy. A Deployment or StatefulSet only allows
    Always; a pod takes one policy for all its containers."""
    mapped = {"no": "Never", "always": "Always", "unless-stopped": "Always", "on-failure": "OnFailure"}
    wanted = {mapped[r.partition(":")[0]] for r in restarts}
    for v in views:
        r = v["config"].get("restart") or "no"
        if ":" in r:
            out.warn(v["name"], "HostConfig.RestartPolicy.MaximumRetryCount",
                     f"{r}: Kubernetes restarts without a retry limit")
        if r.startswith("unless-stopped"):
            out.warn(v["name"], "HostConfig.RestartPolicy", "unless-stopped is written as Always")
    if kind == "pod":
        if len(wanted) > 1:
            out.warn(views[0]["name"], "HostConfig.RestartPolicy",
                     f"the containers differ ({', '.join(sorted(restarts))}); the pod takes Always")
            return "Always"
        return wanted.pop()
    for v in views:
        r = (v["config"].get("restart") or "no").partition(":")[0]
        if r in ("no", "on-failure"):
            out.warn(v["name"], "HostConfig.RestartPolicy",
                     f"{r}: a {kind} always restarts its containers (restartPolicy Always); use --type pod to keep it")
    return "Always"


def _annotations(views: list[dict], out: Generated) -> dict:
    """Docker labels as pod annotations (podman's choice: label values are too narrow)."""
    ann = {}
    for v in views:
        for k, val in (v["config"].get("labels") or {}).items():
            if k.startswith("io.dockyard.") or k.startswith("com.docker.compose."):
                continue
            if names.is_qualified_key(k):
                ann[k] = str(val)
            else:
                out.warn(v["name"], f"Labels.{k}", "not a valid Kubernetes annotation key")
        for k, val in ((v["config"].get("host_opts") or {}).get("Annotations") or {}).items():
            if names.is_qualified_key(k):
                ann[k] = str(val)
            else:
                out.warn(v["name"], f"HostConfig.Annotations.{k}", "not a valid Kubernetes annotation key")
    return ann


def _container(v: dict, out: Generated, volumes: dict, claims: list, pod_extra: dict) -> tuple[dict, list]:
    name, cfg, icfg = v["name"], v["config"], v.get("image_config") or {}
    c: dict = {"name": names.dns_label(name), "image": v["image"]}
    if v.get("image_note"):
        out.warn(name, "Image", v["image_note"])
    entry, cmd = cfg.get("entrypoint"), cfg.get("cmd")
    if entry is not None:  # docker's rule: a given entrypoint drops the image's CMD; so does a command in Kubernetes
        c["command"] = list(entry) or _empty_entrypoint(name, cmd, icfg, out)
        if entry and cmd:
            c["args"] = list(cmd)
        if not c["command"]:
            del c["command"]
    elif cmd and list(cmd) != list(icfg.get("Cmd") or []):
        c["args"] = list(cmd)
    if cfg.get("workdir") and cfg["workdir"] != (icfg.get("WorkingDir") or ""):
        c["workingDir"] = cfg["workdir"]
    env = _env(name, cfg.get("env") or (), icfg.get("Env") or [], out)
    if env:
        c["env"] = env
    ports = _ports(name, cfg, c, out)
    res = _resources(name, cfg, out)
    if res:
        c["resources"] = res
    probe = _probe(name, cfg.get("healthcheck"), out)
    if probe:
        c["livenessProbe"] = probe
    sc = security_context(v, out)
    if sc:
        c["securityContext"] = sc
    if cfg.get("tty"):
        c["tty"] = True
    if cfg.get("stdin_open"):
        c["stdin"] = True
    mounts = _mounts(name, cfg.get("mounts") or (), out, volumes, claims)
    if mounts:
        c["volumeMounts"] = mounts
    pod_level(name, cfg, out, pod_extra)
    return c, ports


def _empty_entrypoint(name: str, cmd, icfg: dict, out: Generated) -> list:
    """`--entrypoint ''`: the command is CMD alone; Kubernetes needs a command, so CMD becomes it."""
    run = list(cmd or [])
    if not run:
        out.warn(name, "Config.Entrypoint", "empty entrypoint and no command: the image's entrypoint stays")
    return run


def _env(name: str, env, image_env: list, out: Generated) -> list:
    items = []
    for e in env:
        if e in image_env:
            continue  # the image sets it already
        k, has, val = e.partition("=")
        if k in DEFAULT_ENV and has:
            continue
        if not names.is_env_name(k):
            out.warn(name, f"Config.Env.{k}", "not a valid Kubernetes environment variable name")
            continue
        items.append({"name": k, "value": val})
    return items


def _ports(name: str, cfg: dict, c: dict, out: Generated) -> list:
    """The container's ports: published ones keep their host port and address (hostPort/hostIP,
    as podman writes them: `kube play` publishes them again); exposed ones are listed."""
    published = []
    seen = set()
    cports = []
    for p in cfg.get("ports") or ():
        key = (p["container_port"], p["proto"].upper())
        host_port, host_ip = p.get("host_port") or 0, p.get("host_ip") or ""
        if not host_port:
            out.warn(name, "HostConfig.PortBindings", f"{p['container_port']}/{p['proto']} has a random host port: "
                                                      "written without a hostPort")
        published.append({"targetPort": key[0], "protocol": key[1], "host_port": host_port})
        if key in seen:
            out.warn(name, "HostConfig.PortBindings", f"{p['container_port']}/{p['proto']} is published twice: "
                                                      "the first binding is written")
            continue
        seen.add(key)
        cp = {"containerPort": key[0], "protocol": key[1]}
        if host_port:
            cp["hostPort"] = host_port
            if host_ip not in ("", "0.0.0.0", "::"):
                cp["hostIP"] = host_ip
        cports.append(cp)
    for spec in (cfg.get("host_opts") or {}).get("ExposedPorts") or ():
        port, _, proto = str(spec).partition("/")
        key = (int(port), (proto or "tcp").upper())
        if key not in seen:
            seen.add(key)
            cports.append({"containerPort": key[0], "protocol": key[1]})
    if cfg.get("publish_all"):
        out.warn(name, "HostConfig.PublishAllPorts", "random host ports have no Kubernetes form; "
                                                     "the exposed ports are listed as container ports")
    if cports:
        c["ports"] = cports
    return published


def _resources(name: str, cfg: dict, out: Generated) -> dict:
    limits, requests = {}, {}
    if cfg.get("memory"):
        limits["memory"] = names.memory_quantity(cfg["memory"])
    if cfg.get("memory_swap") not in (0, None):
        out.warn(name, "HostConfig.MemorySwap", "Kubernetes has no per-container swap limit")
    if cfg.get("cpu_quota") and cfg.get("cpu_period"):
        limits["cpu"] = names.cpu_quantity(cfg["cpu_quota"], cfg["cpu_period"])
    if cfg.get("cpu_shares"):
        requests["cpu"] = f"{max(1, cfg['cpu_shares'] * 1000 // 1024)}m"  # the kubelet's shares = request × 1024
    reservation = (cfg.get("host_opts") or {}).get("MemoryReservation")
    if reservation:
        requests["memory"] = names.memory_quantity(reservation)
    if cfg.get("pids_limit"):
        out.warn(name, "HostConfig.PidsLimit", f"{cfg['pids_limit']}: Kubernetes sets PID limits per node "
                                               "(the kubelet's podPidsLimit), not per container")
    if cfg.get("cpuset_cpus"):
        out.warn(name, "HostConfig.CpusetCpus", "CPU pinning is the kubelet's CPU manager's, not the pod's")
    for k in ("memory", "cpu"):
        if k in requests and k in limits and names.parse_memory(requests[k], k) > names.parse_memory(limits[k], k):
            del requests[k]
    res = {}
    if limits:
        res["limits"] = limits
    if requests:
        res["requests"] = requests
    return res


def _seconds(ns: int | None, default: int) -> int:
    if not ns:
        return default
    return max(1, -(-ns // SECOND))


def _probe(name: str, hc: dict | None, out: Generated) -> dict | None:
    """A Docker health check as an exec liveness probe."""
    if not hc or not hc.get("Test") or hc["Test"][0] == "NONE":
        return None
    test = list(hc["Test"])
    if test[0] == "CMD":
        command = test[1:]
    elif test[0] == "CMD-SHELL":
        command = ["/bin/sh", "-c", " ".join(test[1:])]
    else:
        out.warn(name, "Config.Healthcheck.Test", f"unknown form {test[0]!r}")
        return None
    for key in ("Interval", "Timeout", "StartPeriod"):
        if hc.get(key) and hc[key] % SECOND:
            out.warn(name, f"Config.Healthcheck.{key}", "Kubernetes counts whole seconds: rounded up")
    if hc.get("StartInterval"):
        out.warn(name, "Config.Healthcheck.StartInterval", "Kubernetes has no start interval (a startupProbe would "
                                                           "fail the container instead)")
    probe = {"exec": {"command": command}, "periodSeconds": _seconds(hc.get("Interval"), 30),
             "timeoutSeconds": _seconds(hc.get("Timeout"), 30), "failureThreshold": hc.get("Retries") or 3}
    if hc.get("StartPeriod"):
        probe["initialDelaySeconds"] = _seconds(hc["StartPeriod"], 0)
    return probe


def _mounts(name: str, mounts, out: Generated, volumes: dict, claims: list) -> list:
    result = []
    for m in mounts:
        target = m["target"]
        if m["type"] == "bind":
            out.warn(name, f"HostConfig.Binds.{target}", f"host path {m['source']} cannot be expressed (a hostPath "
                                                         "ties the pod to one node): left out")
            continue
        if m["type"] == "volume" and m.get("anonymous"):
            vol = "anon-" + names.dns_label(target.strip("/").replace("/", "-"), 40)
            volumes.setdefault(vol, {"name": vol, "emptyDir": {}})
        elif m["type"] == "volume":
            claim = names.dns_label(m["source"])
            vol = claim
            if claim not in claims:
                claims.append(claim)
            volumes.setdefault(vol, {"name": vol, "persistentVolumeClaim": {"claimName": claim}})
        elif m["type"] == "tmpfs":
            vol = "tmpfs-" + names.dns_label(target.strip("/").replace("/", "-"), 40)
            ed: dict = {"medium": "Memory"}
            size = _tmpfs_size(m)
            if size:
                ed["sizeLimit"] = names.memory_quantity(size)
            volumes.setdefault(vol, {"name": vol, "emptyDir": ed})
        else:
            out.warn(name, f"HostConfig.Mounts.{target}", f"{m['type']} mounts are not expressible")
            continue
        vm = {"name": vol, "mountPath": target}
        if m.get("readonly"):
            vm["readOnly"] = True
        result.append(vm)
    return result


def _tmpfs_size(m: dict) -> int:
    from dockyard.units import ram_in_bytes

    for o in m.get("tmpfs") or ():
        if o.startswith("size="):
            try:
                return ram_in_bytes(o[5:])
            except Exception:  # noqa: BLE001 - a size the engine accepted; unknown forms are left out
                return 0
    return 0


def _service(pod_name: str, app: dict, published: list, node_ports: bool, out: Generated) -> dict | None:
    """A Service for the published ports. Its port is the container's, so peers keep using
    `name:port` as on a Compose or user network; with `node_ports` the host port becomes the
    node port when it is in the cluster's range."""
    if not published:
        out.warnings.append(f"pod {pod_name}: --service: no published ports, so no Service")
        return None
    ports, seen = [], set()
    for p in published:
        key = (p["targetPort"], p["protocol"])
        if key in seen:
            continue
        seen.add(key)
        sp = {"name": f"{p['protocol'].lower()}-{p['targetPort']}", "port": p["targetPort"],
              "targetPort": p["targetPort"], "protocol": p["protocol"]}
        if node_ports:
            if p["host_port"] in NODE_PORTS:
                sp["nodePort"] = p["host_port"]
            else:
                out.warnings.append(f"pod {pod_name}: port {p['host_port'] or p['targetPort']}: outside the node "
                                    "port range 30000-32767, the cluster picks the node port")
        ports.append(sp)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": pod_name, "labels": dict(app)},
            "spec": {"type": "NodePort" if node_ports else "ClusterIP", "selector": dict(app), "ports": ports}}
