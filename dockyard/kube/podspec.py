"""Kubernetes objects → what `kube play` makes: pure data, checked whole before anything is made.

`plan(docs)` reads Pods, Deployments/ReplicaSets (template × replicas), StatefulSets, Services,
ConfigMaps, Secrets and PersistentVolumeClaims and returns one `PodPlan` per pod: its volumes,
the ports its infra container publishes (a hostPort as given; a ClusterIP Service's port on
127.0.0.1; a NodePort Service's node port on every address), and the Engine API create bodies
of its init containers and containers (they join the infra container's network and IPC
namespaces with `container:<infra>` modes). Anything the manifests ask for that cannot be
honoured here is refused with the object and field named; nothing is silently left out.
"""

from __future__ import annotations

import base64
import re

from dockyard.errors import InvalidArgument
from dockyard.kube import names
from dockyard.kube.podcontainer import container_body

WORKLOADS = ("Pod", "Deployment", "ReplicaSet", "StatefulSet")
SUPPORTED = WORKLOADS + ("Service", "ConfigMap", "Secret", "PersistentVolumeClaim")
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


class PodPlan:
    """One pod to make: names, labels, volumes, published ports, container bodies."""

    def __init__(self, name: str, kind: str, workload: str, labels: dict, spec: dict) -> None:
        self.name, self.kind, self.workload, self.labels, self.spec = name, kind, workload, labels, spec
        self.volumes: dict[str, dict] = {}  # pod volume name → {"kind", "volume", "files", "tmpfs"}
        self.ports: list[dict] = []  # {"host_ip", "host_port", "container_port", "proto"}
        self.hostname = name[:63].rstrip("-.")  # the kubelet's rule: a hostname is one DNS label's length
        self.infra_opts: dict = {}  # ExtraHosts, Dns*, Sysctls of the infra container
        self.init: list[tuple[str, dict]] = []  # (container name, create body)
        self.containers: list[tuple[str, dict]] = []
        self.notes: list[str] = []
        self.annotations: dict = {}
        self.aliases: list[str] = []  # Services selecting the pod: names its peers resolve to it

    @property
    def infra_name(self) -> str:
        return f"{self.name}-infra"

    def container_name(self, c: str) -> str:
        return f"{self.name}-{c}"


class Objects:
    """The ConfigMaps, Secrets and claims of a manifest file, by name."""

    def __init__(self, docs: list[dict], where: str) -> None:
        self.config_maps: dict[str, dict] = {}
        self.secrets: dict[str, dict] = {}
        self.claims: set[str] = set()
        for d in docs:
            kind, name = d.get("kind"), _name(d, where)
            if kind == "ConfigMap":
                data = {k: str(v).encode() for k, v in (d.get("data") or {}).items()}
                data.update({k: _b64(v, f"{where}: ConfigMap {name}: binaryData.{k}")
                             for k, v in (d.get("binaryData") or {}).items()})
                self.config_maps[name] = _keys(data, f"{where}: ConfigMap {name}")
            elif kind == "Secret":
                data = {k: _b64(v, f"{where}: Secret {name}: data.{k}") for k, v in (d.get("data") or {}).items()}
                data.update({k: str(v).encode() for k, v in (d.get("stringData") or {}).items()})
                self.secrets[name] = _keys(data, f"{where}: Secret {name}")
            elif kind == "PersistentVolumeClaim":
                self.claims.add(name)

    def source(self, kind: str, name: str, optional: bool, where: str) -> dict | None:
        table = self.config_maps if kind == "configMap" else self.secrets
        if name in table:
            return table[name]
        if optional:
            return None
        what = "ConfigMap" if kind == "configMap" else "Secret"
        raise InvalidArgument(f"{where}: {what} {name!r} is not in the file (and not optional)")


def _b64(value, where: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except ValueError:
        raise InvalidArgument(f"{where}: not valid base64") from None


def _keys(data: dict, where: str) -> dict:
    for k in data:
        if not _KEY.match(k) or k in (".", ".."):
            raise InvalidArgument(f"{where}: invalid key {k!r} (letters, digits, '-', '_', '.')")
    return data


def _name(d: dict, where: str) -> str:
    meta = d.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not names.is_subdomain(name):
        raise InvalidArgument(f"{where}: {d.get('kind')} has no valid metadata.name (a DNS subdomain)")
    return name


def plan(docs: list[dict], where: str = "the file") -> list[PodPlan]:
    """The pods of `docs`, checked whole: any error is raised before anything is made."""
    for d in docs:
        if d.get("kind") not in SUPPORTED:
            raise InvalidArgument(f"{where}: kind {d.get('kind')!r} ({_name(d, where)}) is not played; kube play "
                                  f"runs {', '.join(SUPPORTED)}")
    objs = Objects(docs, where)
    pods: list[PodPlan] = []
    for d in docs:
        if d["kind"] in WORKLOADS:
            pods += _workload_pods(d, where)
    seen = set()
    for p in pods:
        if p.name in seen:
            raise InvalidArgument(f"{where}: two pods would be named {p.name!r}")
        seen.add(p.name)
        _pod(p, objs, where)
    for d in docs:
        if d["kind"] == "Service":
            _service(d, pods, where)
    return pods


def _workload_pods(d: dict, where: str) -> list[PodPlan]:
    kind, name = d["kind"], _name(d, where)
    if kind == "Pod":
        meta = d.get("metadata") or {}
        p = PodPlan(name, kind, name, dict(meta.get("labels") or {}), _obj(d, "spec", f"Pod {name}"))
        p.annotations = dict(meta.get("annotations") or {})
        return [p]
    spec = _obj(d, "spec", f"{kind} {name}")
    template = _obj(spec, "template", f"{kind} {name}: spec")
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        raise InvalidArgument(f"{where}: {kind} {name}: spec.selector does not match the template's labels")
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise InvalidArgument(f"{where}: {kind} {name}: spec.replicas must be a non-negative integer")
    if spec.get("volumeClaimTemplates"):
        raise InvalidArgument(f"{where}: {kind} {name}: volumeClaimTemplates are not played; use "
                              "PersistentVolumeClaims")
    pod_spec = _obj(template, "spec", f"{kind} {name}: spec.template")
    out = []
    for i in range(replicas):
        pod_name = f"{name}-{i}" if kind == "StatefulSet" else f"{name}-pod-{i}"
        out.append(PodPlan(pod_name, kind, name, labels, pod_spec))
        out[-1].annotations = dict((template.get("metadata") or {}).get("annotations") or {})
    return out


def _obj(d: dict, key: str, where: str) -> dict:
    v = d.get(key)
    if not isinstance(v, dict):
        raise InvalidArgument(f"{where}: {key} must be an object")
    return v


POD_KEYS = {"containers", "initContainers", "volumes", "restartPolicy", "hostname", "hostAliases", "dnsConfig",
            "dnsPolicy", "securityContext", "terminationGracePeriodSeconds", "subdomain", "serviceAccountName",
            "automountServiceAccountToken", "enableServiceLinks", "nodeSelector", "affinity", "tolerations",
            "priorityClassName", "schedulerName", "shareProcessNamespace"}
CLUSTER_ONLY = {"serviceAccountName", "automountServiceAccountToken", "enableServiceLinks", "nodeSelector",
                "affinity", "tolerations", "priorityClassName", "schedulerName", "subdomain", "dnsPolicy"}


def _pod(p: PodPlan, objs: Objects, where: str) -> None:
    spec, at = p.spec, f"{where}: pod {p.name}"
    for k in spec:
        if k not in POD_KEYS:
            raise InvalidArgument(f"{at}: spec.{k} is not supported by kube play")
        if k in CLUSTER_ONLY:
            p.notes.append(f"pod {p.name}: spec.{k} concerns a cluster's scheduler or API; it has no local effect")
    restart = spec.get("restartPolicy", "Always")
    if restart not in ("Always", "OnFailure", "Never"):
        raise InvalidArgument(f"{at}: restartPolicy must be Always, OnFailure or Never")
    if p.kind != "Pod" and restart != "Always":
        raise InvalidArgument(f"{at}: a {p.kind}'s pods must have restartPolicy Always")
    if spec.get("hostname"):
        if not names.is_dns_label(str(spec["hostname"])):
            raise InvalidArgument(f"{at}: spec.hostname must be a DNS label")
        p.hostname = spec["hostname"]
    if spec.get("shareProcessNamespace"):
        p.infra_opts["share_pid"] = True
    _pod_network(p, spec, at)
    _volumes(p, spec.get("volumes") or [], objs, at)
    pod_sc = spec.get("securityContext") or {}
    for key in pod_sc:
        if key not in ("runAsUser", "runAsGroup", "runAsNonRoot", "supplementalGroups", "sysctls",
                       "seccompProfile", "fsGroup"):
            raise InvalidArgument(f"{at}: spec.securityContext.{key} is not supported by kube play")
    if "fsGroup" in pod_sc:
        p.notes.append(f"pod {p.name}: securityContext.fsGroup: volume ownership is not changed locally")
    cnames = set()
    for group, items in (("initContainers", spec.get("initContainers") or []),
                         ("containers", spec.get("containers") or [])):
        if group == "containers" and not items:
            raise InvalidArgument(f"{at}: spec.containers is empty")
        for c in items:
            if not isinstance(c, dict) or not names.is_dns_label(str(c.get("name", ""))):
                raise InvalidArgument(f"{at}: {group}: every container needs a name (a DNS label)")
            if c["name"] in cnames:
                raise InvalidArgument(f"{at}: two containers are named {c['name']!r}")
            cnames.add(c["name"])
            body, ports = container_body(p, c, objs, pod_sc, restart, at=f"{at}: {group} {c['name']}",
                                         init=group == "initContainers")
            p.ports += ports
            (p.init if group == "initContainers" else p.containers).append((c["name"], body))
    for vname, v in p.volumes.items():
        if v["kind"] == "emptyDir" and len(v.get("targets") or ()) > 1:  # a tmpfs each would not be shared
            p.notes.append(f"pod {p.name}: volume {vname}: a Memory emptyDir shared by containers is a disk volume here")
            for hc, target in v["targets"]:
                del hc["Tmpfs"][target]
                hc.setdefault("Mounts", []).append({"Type": "volume", "Source": v["volume"], "Target": target})
        v.pop("targets", None)


def _pod_network(p: PodPlan, spec: dict, at: str) -> None:
    hosts = []
    for a in spec.get("hostAliases") or []:
        for h in a.get("hostnames") or []:
            hosts.append(f"{h}:{a.get('ip')}")
    if hosts:
        p.infra_opts["ExtraHosts"] = hosts
    dns = spec.get("dnsConfig") or {}
    if dns.get("nameservers"):
        p.infra_opts["Dns"] = [str(x) for x in dns["nameservers"]]
    if dns.get("searches"):
        p.infra_opts["DnsSearch"] = [str(x) for x in dns["searches"]]
    if dns.get("options"):
        p.infra_opts["DnsOptions"] = [o["name"] + (f":{o['value']}" if o.get("value") is not None else "")
                                      for o in dns["options"]]
    ctls = (spec.get("securityContext") or {}).get("sysctls") or []
    if ctls:
        p.infra_opts["Sysctls"] = {s["name"]: str(s["value"]) for s in ctls}


def _volumes(p: PodPlan, vols: list, objs: Objects, at: str) -> None:
    for v in vols:
        vname = v.get("name") if isinstance(v, dict) else None
        if not isinstance(vname, str) or not names.is_dns_label(vname):
            raise InvalidArgument(f"{at}: every volume needs a name (a DNS label)")
        if vname in p.volumes:
            raise InvalidArgument(f"{at}: two volumes are named {vname!r}")
        kinds = [k for k in v if k != "name"]
        if len(kinds) != 1:
            raise InvalidArgument(f"{at}: volume {vname}: exactly one volume source is needed")
        kind, src = kinds[0], v[kinds[0]] or {}
        own = f"{p.name}-{vname}"  # a volume of this pod alone, removed with it
        if kind == "emptyDir":
            p.volumes[vname] = {"kind": "emptyDir", "volume": own, "memory": src.get("medium") == "Memory",
                                "size": names.parse_memory(src["sizeLimit"], f"{at}: volume {vname}: sizeLimit")
                                if src.get("sizeLimit") else 0}
        elif kind == "persistentVolumeClaim":
            claim = src.get("claimName")
            if not isinstance(claim, str) or not names.is_subdomain(claim):
                raise InvalidArgument(f"{at}: volume {vname}: persistentVolumeClaim.claimName is required")
            p.volumes[vname] = {"kind": "pvc", "volume": claim, "readonly": bool(src.get("readOnly"))}
            if claim not in objs.claims:
                p.notes.append(f"pod {p.name}: claim {claim!r} is not in the file: the volume {claim} is used "
                               "(made if missing)")
        elif kind in ("configMap", "secret"):
            ref = src.get("name") if kind == "configMap" else src.get("secretName")
            data = objs.source(kind, str(ref), bool(src.get("optional")), f"{at}: volume {vname}")
            p.volumes[vname] = {"kind": kind, "volume": own,
                                "files": _files(data or {}, src, f"{at}: volume {vname}")}
        else:
            raise InvalidArgument(f"{at}: volume {vname}: {kind} volumes are not played (emptyDir, "
                                  "persistentVolumeClaim, configMap and secret are)")


def _files(data: dict, src: dict, at: str) -> dict:
    """{relative path: (bytes, mode)} of a configMap/secret volume (`items` pick and rename keys)."""
    mode = src.get("defaultMode", 0o644)
    if not isinstance(mode, int) or not 0 <= mode <= 0o777:
        raise InvalidArgument(f"{at}: defaultMode must be between 0 and 0777")
    items = src.get("items")
    if items is None:
        return {k: (v, mode) for k, v in data.items()}
    out = {}
    for it in items:
        key, path = it.get("key"), it.get("path")
        if key not in data:
            if src.get("optional"):
                continue
            raise InvalidArgument(f"{at}: items: key {key!r} is not in the source")
        out[names.check_rel_path(path, f"{at}: items.path")] = (data[key], it.get("mode", mode))
    return out


def _service(d: dict, pods: list[PodPlan], where: str) -> None:
    name = _name(d, where)
    spec = d.get("spec") or {}
    stype = spec.get("type", "ClusterIP")
    if stype not in ("ClusterIP", "NodePort", "LoadBalancer"):
        raise InvalidArgument(f"{where}: Service {name}: type {stype} is not played")
    selector = spec.get("selector") or {}
    targets = [p for p in pods if selector and all(p.labels.get(k) == v for k, v in selector.items())]
    if not targets:
        pods and pods[0].notes.append(f"Service {name}: selects no pod of this file: its ports are not published")
        return
    for p in targets:
        if names.is_dns_label(name) and name not in p.aliases:
            p.aliases.append(name)
    target = targets[0]
    for p in targets[1:]:
        target.notes.append(f"Service {name}: published by {target.name} only (pod {p.name} shares its ports "
                            "in a cluster, not on one host)")
    for sp in spec.get("ports") or []:
        port = sp.get("port")
        if not isinstance(port, int) or not 0 < port < 65536:
            raise InvalidArgument(f"{where}: Service {name}: every port needs a port number")
        proto = str(sp.get("protocol", "TCP")).lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidArgument(f"{where}: Service {name}: protocol {sp.get('protocol')!r}")
        tp = sp.get("targetPort", port)
        if isinstance(tp, str):
            tp = _named_port(target, tp, f"{where}: Service {name}")
        if stype in ("NodePort", "LoadBalancer") and sp.get("nodePort"):
            host_ip, host_port = "", sp["nodePort"]
        elif stype in ("NodePort", "LoadBalancer"):
            host_ip, host_port = "", port
        else:
            host_ip, host_port = "127.0.0.1", port  # a ClusterIP answers inside the cluster: here, loopback
            if any((x["container_port"], x["proto"]) == (tp, proto) for x in target.ports):
                continue  # a hostPort publishes that port already
        target.ports.append({"host_ip": host_ip, "host_port": host_port, "container_port": tp, "proto": proto})


def _named_port(p: PodPlan, name: str, at: str) -> int:
    for c in p.spec.get("containers") or []:
        for cp in c.get("ports") or []:
            if cp.get("name") == name:
                return cp["containerPort"]
    raise InvalidArgument(f"{at}: targetPort {name!r} names no container port of pod {p.name}")
