"""One container of a pod spec → an Engine API create body (pure; `kube/podspec.py` calls it).

The body joins the pod's infra container (`NetworkMode`/`IpcMode` `container:<infra>`, and
`PidMode` with shareProcessNamespace); env comes from values, ConfigMap/Secret keys and the
pod's fields, with Kubernetes' `$(VAR)` expansion; probes become the health check; resources,
securityContext and volume mounts map to Docker's keys. What cannot be honoured is refused."""

from __future__ import annotations

import re

from dockyard.errors import InvalidArgument
from dockyard.kube import names

SECOND = 1_000_000_000
CONTAINER_KEYS = {"name", "image", "command", "args", "env", "envFrom", "workingDir", "ports", "resources",
                  "securityContext", "livenessProbe", "readinessProbe", "volumeMounts", "stdin", "tty",
                  "imagePullPolicy", "terminationMessagePath", "terminationMessagePolicy", "stdinOnce"}
SC_KEYS = {"runAsUser", "runAsGroup", "runAsNonRoot", "readOnlyRootFilesystem", "capabilities",
           "allowPrivilegeEscalation", "privileged", "seccompProfile"}
RESTART = {"Always": "always", "OnFailure": "on-failure", "Never": "no"}
_REF = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")


def expand(text: str, env: dict) -> str:
    """Kubernetes' `$(VAR)` expansion: defined names replaced, `$$` → `$`, the rest left as written."""
    return _REF.sub(lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)


def container_body(p, c: dict, objs, pod_sc: dict, restart: str, *, at: str, init: bool) -> tuple[dict, list]:
    for k in c:
        if k not in CONTAINER_KEYS:
            raise InvalidArgument(f"{at}: {k} is not supported by kube play")
        if k in ("terminationMessagePath", "terminationMessagePolicy", "stdinOnce"):
            p.notes.append(f"{at}: {k}: no local effect (dockyard keeps the exit code and the logs)")
    image = c.get("image")
    if not isinstance(image, str) or not image:
        raise InvalidArgument(f"{at}: image is required")
    env = _env(p, c, objs, at)
    envmap = dict(env)
    body: dict = {"Image": image, "Env": [f"{k}={v}" for k, v in env],
                  "Labels": {names.POD_LABEL: p.name, names.CONTAINER_LABEL: c["name"], names.KIND_LABEL: p.kind,
                             names.WORKLOAD_LABEL: p.workload, **({names.INIT_LABEL: "true"} if init else {})},
                  "Tty": bool(c.get("tty")), "OpenStdin": bool(c.get("stdin"))}
    policy = c.get("imagePullPolicy", "IfNotPresent")
    if policy not in ("Always", "IfNotPresent", "Never"):
        raise InvalidArgument(f"{at}: imagePullPolicy must be Always, IfNotPresent or Never")
    body["_pull"] = policy  # honoured by kube/play.py before anything is made
    for key, dkey in (("command", "Entrypoint"), ("args", "Cmd")):
        if key in c:
            if not isinstance(c[key], list) or not all(isinstance(x, str) for x in c[key]):
                raise InvalidArgument(f"{at}: {key} must be a list of strings")
            body[dkey] = [expand(x, envmap) for x in c[key]]
    if "command" in c and "args" not in c:
        body["Cmd"] = []
    if c.get("workingDir"):
        body["WorkingDir"] = str(c["workingDir"])
    hc: dict = {"NetworkMode": f"container:{p.infra_name}", "IpcMode": f"container:{p.infra_name}",
                "RestartPolicy": {"Name": "no" if init else RESTART[restart]}}
    if p.infra_opts.get("share_pid"):
        hc["PidMode"] = f"container:{p.infra_name}"
    _resources(c.get("resources") or {}, hc, p, at)
    _security(c.get("securityContext") or {}, pod_sc, body, hc, at)
    probe = c.get("livenessProbe") or c.get("readinessProbe")
    if c.get("livenessProbe") and c.get("readinessProbe"):
        p.notes.append(f"{at}: readinessProbe: a dockyard container has one health check; the liveness probe is it")
    if probe:
        if init:
            raise InvalidArgument(f"{at}: init containers cannot have probes")
        body["Healthcheck"] = _probe(probe, at)
    _mounts(p, c.get("volumeMounts") or [], hc, at)
    body["HostConfig"] = hc
    return body, _ports(c.get("ports") or [], at)


def _env(p, c: dict, objs, at: str) -> list[tuple[str, str]]:
    out: dict[str, str] = {}
    for ef in c.get("envFrom") or []:
        prefix = str(ef.get("prefix") or "")
        for kind, key in (("configMap", "configMapRef"), ("secret", "secretRef")):
            if key in ef:
                ref = ef[key] or {}
                data = objs.source(kind, str(ref.get("name")), bool(ref.get("optional")), f"{at}: envFrom")
                for k, v in (data or {}).items():
                    if names.is_env_name(prefix + k):
                        out[prefix + k] = v.decode(errors="replace")
    for e in c.get("env") or []:
        name = e.get("name") if isinstance(e, dict) else None
        if not isinstance(name, str) or not names.is_env_name(name):
            raise InvalidArgument(f"{at}: env: invalid name {name!r}")
        if "valueFrom" in e:
            val = _value_from(p, e["valueFrom"] or {}, objs, f"{at}: env {name}")
            if val is None:
                continue
        else:
            val = expand(str(e.get("value", "")), out)
        out[name] = val
    return list(out.items())


def _value_from(p, vf: dict, objs, at: str) -> str | None:
    for kind, key in (("configMap", "configMapKeyRef"), ("secret", "secretKeyRef")):
        if key in vf:
            ref = vf[key] or {}
            optional = bool(ref.get("optional"))
            data = objs.source(kind, str(ref.get("name")), optional, at)
            if data is None or ref.get("key") not in data:
                if optional:
                    return None
                raise InvalidArgument(f"{at}: key {ref.get('key')!r} is not in {ref.get('name')}")
            return data[ref["key"]].decode(errors="replace")
    if "fieldRef" in vf:
        path = str((vf["fieldRef"] or {}).get("fieldPath"))
        m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
        if m:
            source = p.labels if m.group(1) == "labels" else p.annotations
            return str(source.get(m.group(2), ""))
        fields = {"metadata.name": p.name, "metadata.namespace": "default", "spec.nodeName": "localhost",
                  "spec.serviceAccountName": "default"}
        if path in fields:
            return fields[path]
        raise InvalidArgument(f"{at}: fieldRef {path!r} is not known here (metadata.name, metadata.namespace, "
                              "metadata.labels['…'], spec.nodeName are)")
    raise InvalidArgument(f"{at}: valueFrom: only configMapKeyRef, secretKeyRef and fieldRef are played")


def _resources(res: dict, hc: dict, p, at: str) -> None:
    for part in ("limits", "requests"):
        for k, v in (res.get(part) or {}).items():
            where = f"{at}: resources.{part}.{k}"
            if k == "memory":
                n = names.parse_memory(v, where)
                if part == "limits":
                    hc["Memory"] = n
                else:
                    hc["MemoryReservation"] = n
            elif k == "cpu":
                nano = names.parse_cpu(v, where)
                if part == "limits":
                    hc["NanoCpus"] = nano
                else:
                    hc["CpuShares"] = max(2, nano * 1024 // SECOND)  # the kubelet's request → shares
            else:
                p.notes.append(f"{where}: not enforced locally")
    if "Memory" in hc and hc.get("MemoryReservation", 0) > hc["Memory"]:
        raise InvalidArgument(f"{at}: resources: the memory request is above the limit")


def _security(sc: dict, pod_sc: dict, body: dict, hc: dict, at: str) -> None:
    for k in sc:
        if k not in SC_KEYS:
            raise InvalidArgument(f"{at}: securityContext.{k} is not supported by kube play")
    merged = {k: v for k, v in pod_sc.items() if k in ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile")}
    merged.update(sc)
    uid, gid = merged.get("runAsUser"), merged.get("runAsGroup")
    for key, v in (("runAsUser", uid), ("runAsGroup", gid)):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise InvalidArgument(f"{at}: securityContext.{key} must be a non-negative integer")
    if uid is not None:
        body["User"] = f"{uid}:{gid}" if gid is not None else str(uid)
    elif gid is not None:
        raise InvalidArgument(f"{at}: runAsGroup without runAsUser is not played (the image's user is a name)")
    if merged.get("runAsNonRoot"):
        body["_run_as_non_root"] = True  # checked against the image's user when it is known (kube/play.py)
        if uid == 0:
            raise InvalidArgument(f"{at}: runAsNonRoot with runAsUser 0")
    groups = pod_sc.get("supplementalGroups") or []
    if groups:
        hc["GroupAdd"] = [str(g) for g in groups]
    if merged.get("readOnlyRootFilesystem"):
        hc["ReadonlyRootfs"] = True
    caps = merged.get("capabilities") or {}
    if caps.get("add"):
        hc["CapAdd"] = [str(x) for x in caps["add"]]
    if caps.get("drop"):
        hc["CapDrop"] = [str(x) for x in caps["drop"]]
    opts = []
    if merged.get("allowPrivilegeEscalation") is False:
        opts.append("no-new-privileges")
    if merged.get("privileged"):
        hc["Privileged"] = True
    prof = (merged.get("seccompProfile") or {}).get("type", "RuntimeDefault")
    if prof == "Unconfined":
        opts.append("seccomp=unconfined")
    elif prof != "RuntimeDefault":
        raise InvalidArgument(f"{at}: seccompProfile {prof} is not played (RuntimeDefault or Unconfined)")
    if opts:
        hc["SecurityOpt"] = opts


def _probe(probe: dict, at: str) -> dict:
    if set(probe) & {"httpGet", "tcpSocket", "grpc"} or "exec" not in probe:
        raise InvalidArgument(f"{at}: only exec probes are played (as dockyard health checks)")
    cmd = (probe["exec"] or {}).get("command")
    if not isinstance(cmd, list) or not cmd or not all(isinstance(x, str) for x in cmd):
        raise InvalidArgument(f"{at}: probe exec.command must be a non-empty list of strings")
    return {"Test": ["CMD", *cmd], "Interval": int(probe.get("periodSeconds", 10)) * SECOND,
            "Timeout": int(probe.get("timeoutSeconds", 1)) * SECOND,
            "StartPeriod": int(probe.get("initialDelaySeconds", 0)) * SECOND,
            "Retries": int(probe.get("failureThreshold", 3))}


def _mounts(p, vms: list, hc: dict, at: str) -> None:
    mounts, tmpfs = [], {}
    for vm in vms:
        vname, target = vm.get("name"), vm.get("mountPath")
        if vname not in p.volumes:
            raise InvalidArgument(f"{at}: volumeMounts: no volume named {vname!r}")
        if not isinstance(target, str) or not target.startswith("/"):
            raise InvalidArgument(f"{at}: volumeMounts {vname}: mountPath must be absolute")
        for k in vm:
            if k not in ("name", "mountPath", "readOnly", "subPath"):
                raise InvalidArgument(f"{at}: volumeMounts {vname}: {k} is not supported by kube play")
        v = p.volumes[vname]
        ro = bool(vm.get("readOnly")) or v.get("readonly", False) or v["kind"] in ("configMap", "secret")
        if vm.get("subPath"):
            sub = names.check_rel_path(vm["subPath"], f"{at}: volumeMounts {vname}: subPath")
            if v["kind"] not in ("configMap", "secret") or sub not in v["files"]:
                raise InvalidArgument(f"{at}: volumeMounts {vname}: subPath is played for a configMap or secret "
                                      "key only")
            mounts.append({"Type": "volume", "Source": v["volume"], "Target": target, "ReadOnly": True,
                           "_subpath": sub})
            continue
        if v["kind"] == "emptyDir" and v["memory"]:
            tmpfs[target] = f"size={v['size']}" if v["size"] else ""
            v.setdefault("targets", []).append((hc, target))
            continue
        m = {"Type": "volume", "Source": v["volume"], "Target": target}
        if ro:
            m["ReadOnly"] = True
        mounts.append(m)
    if mounts:
        hc["Mounts"] = mounts
    if tmpfs:
        hc["Tmpfs"] = tmpfs


def _ports(ports: list, at: str) -> list:
    out = []
    for cp in ports:
        port = cp.get("containerPort")
        if not isinstance(port, int) or not 0 < port < 65536:
            raise InvalidArgument(f"{at}: ports: containerPort must be a port number")
        proto = str(cp.get("protocol", "TCP")).lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidArgument(f"{at}: ports: protocol {cp.get('protocol')!r}")
        if cp.get("hostPort"):
            out.append({"host_ip": str(cp.get("hostIP") or ""), "host_port": int(cp["hostPort"]),
                        "container_port": port, "proto": proto})
    return out
