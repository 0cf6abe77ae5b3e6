"""After the files are merged: compose-go's normalization (the implicit ``default`` network, resource
names, build defaults, dependencies implied by ``links``/``network_mode: service:``/``volumes_from``),
its consistency checks (with v2's messages), the pruning of unused resources ``config`` does, and
``environment`` resolved with ``env_file``.
"""

from __future__ import annotations

import os
import posixpath

from dockyard.compose import gotypes
from dockyard.compose.dotenv import read_file as read_env_file
from dockyard.errors import InvalidArgument, NotFound


class InvalidProject(InvalidArgument):
    def __init__(self, message: str) -> None:
        super().__init__(f"{message}: invalid compose project")


def normalize(m: dict, env: dict) -> None:
    _normalize_networks(m)
    for name, svc in (m.get("services") or {}).items():
        if not isinstance(svc, dict):
            continue
        if svc.get("pull_policy") == "if_not_present":
            svc["pull_policy"] = "missing"
        b = svc.get("build")
        if isinstance(b, dict):
            if b.get("context") is None:
                b["context"] = "."
            if b.get("dockerfile") is None and b.get("dockerfile_inline") is None:
                b["dockerfile"] = "Dockerfile"
            if "args" in b:
                b["args"] = _resolve(b["args"], env, keep_empty=False)
        if "environment" in svc:
            svc["environment"] = _resolve(svc["environment"], env, keep_empty=True)
        deps = svc.get("depends_on") or {}
        for link in svc.get("links") or []:
            parts = str(link).split(":")
            target = parts[0] if len(parts) == 2 else str(link)
            deps.setdefault(target, {"condition": "service_started", "restart": True, "required": True})
        for ns in ("network_mode", "ipc", "pid", "uts", "cgroup"):
            ref = svc.get(ns)
            if isinstance(ref, str) and ref.startswith("service:"):
                deps.setdefault(ref[8:], {"condition": "service_started", "restart": True, "required": True})
        for vol in svc.get("volumes") or []:
            if isinstance(vol, dict) and isinstance(vol.get("target"), str) and vol["target"]:
                vol["target"] = _clean(vol["target"])
        for vf in svc.get("volumes_from") or []:
            if not str(vf).startswith("container:"):
                deps.setdefault(str(vf).split(":")[0],
                                {"condition": "service_started", "restart": False, "required": True})
        if deps:
            svc["depends_on"] = deps
        hooks = svc.get("pre_start")
        if isinstance(hooks, list) and svc.get("image"):
            for h in hooks:
                if isinstance(h, dict):
                    h.setdefault("image", svc["image"])
    for kind in ("networks", "volumes", "configs", "secrets"):
        top = m.get(kind)
        if not isinstance(top, dict):
            continue
        for key, res in list(top.items()):
            res = res if isinstance(res, dict) else {}
            if res.get("name") is None:
                res["name"] = key if res.get("external") is True else f"{m['name']}_{key}"
            top[key] = res


def _clean(p: str) -> str:
    out = posixpath.normpath(p)
    return out[1:] if out.startswith("//") else out


def _normalize_networks(m: dict) -> None:
    networks = m.get("networks") or {}
    uses_default = False
    for svc in (m.get("services") or {}).values():
        if not isinstance(svc, dict) or "provider" in svc or "network_mode" in svc:
            continue
        nets = svc.get("networks")
        if not nets:
            svc["networks"] = {"default": None}
            uses_default = True
        elif "default" in nets:
            uses_default = True
    if uses_default and "default" not in networks:
        networks["default"] = None
    if networks:
        m["networks"] = networks


def _resolve(value, env: dict, keep_empty: bool):
    if isinstance(value, list):
        out = []
        for v in value:
            s = gotypes.go_str(v)
            if "=" in s:
                out.append(s)
            elif s in env:
                out.append(f"{s}={env[s]}")
            elif keep_empty:
                out.append(s)
        return out
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if v is not None:
                out[k] = v
            elif k in env:
                out[k] = env[k]
            elif keep_empty:
                out[k] = None
        return out
    return value


def validate(m: dict) -> None:
    """compose-go's validation pass over the merged model (before paths are resolved)."""
    for kind, keys in (("configs", ("file", "environment", "content")), ("secrets", ("file", "environment"))):
        for name, res in (m.get(kind) or {}).items():
            res = res or {}
            count = sum(1 for k in keys if k in res)
            if count > 1:
                raise InvalidArgument(f"{kind}.{name}: {'|'.join(keys)} attributes are mutually exclusive")
            if count == 0 and "driver" not in res and "external" not in res:
                raise InvalidArgument(f"{kind}.{name}: one of {'|'.join(keys)} must be set")
    for name, vol in (m.get("volumes") or {}).items():
        if isinstance(vol, dict) and vol.get("external") is True:
            for k in vol:
                if k not in ("name", "external") and not k.startswith("x-"):
                    raise InvalidArgument(f'volumes.{name}: conflicting parameters "external" and "{k}" specified')
    for sname, svc in (m.get("services") or {}).items():
        if not isinstance(svc, dict):
            continue
        for n, port in enumerate(svc.get("ports") or []):
            if isinstance(port, dict) and "host_ip" in port and not _is_ip(port["host_ip"]):
                raise InvalidArgument(f"services.{sname}.ports.[]: invalid ip address: {port['host_ip']}")
        reqs = list(svc.get("gpus") or []) if isinstance(svc.get("gpus"), list) else []
        dep = svc.get("deploy")
        if isinstance(dep, dict):
            reqs += ((dep.get("resources") or {}).get("reservations") or {}).get("devices") or []
        for r in reqs:
            if isinstance(r, dict) and "count" in r and "device_ids" in r:
                raise InvalidArgument(f'services.{sname}: "count" and "device_ids" attributes are exclusive')


def _is_ip(s) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(str(s))
        return True
    except ValueError:
        return False


def check(project) -> None:
    """compose-go's checkConsistency, with its messages."""
    for name, s in sorted(project.services.items()):
        if not s.get("build") and not s.get("image") and not s.get("provider"):
            raise InvalidProject(f'service "{name}" has neither an image nor a build context specified')
        b = s.get("build")
        if isinstance(b, dict) and b.get("dockerfile_inline") and b.get("dockerfile"):
            raise InvalidProject(f'service "{name}" declares mutualy exclusive dockerfile and dockerfile_inline')
        if s.get("network_mode") and s.get("networks"):
            raise InvalidProject(f"service {name} declares mutually exclusive `network_mode` and `networks`")
        for net in s.get("networks") or {}:
            if net not in project.networks:
                raise InvalidProject(f'service "{name}" refers to undefined network {net}')
        test = (s.get("healthcheck") or {}).get("test")
        if isinstance(test, list) and test and test[0] not in ("CMD", "CMD-SHELL", "NONE"):
            raise InvalidArgument('healthcheck.test must start either by "CMD", "CMD-SHELL" or "NONE"')
        for dep, cfg in (s.get("depends_on") or {}).items():
            if dep not in project.services:
                if dep in project.disabled_services and not (cfg or {}).get("required", True):
                    continue
                raise InvalidProject(f'service "{name}" depends on undefined service "{dep}"')
        nm = s.get("network_mode")
        if isinstance(nm, str) and nm.startswith("service:") and nm[8:] not in project.services:
            ref = nm[8:]
            raise InvalidArgument(f"service \"{ref}\" not found for network_mode 'service:{ref}'")
        for vol in s.get("volumes") or []:
            if vol.get("type") == "volume" and vol.get("source") and vol["source"] not in project.volumes:
                raise InvalidProject(f'service "{name}" refers to undefined volume {vol["source"]}')
        for sec in (b.get("secrets") or []) if isinstance(b, dict) else []:
            if sec.get("source") not in project.secrets:
                raise InvalidProject(f'service "{name}" refers to undefined build secret {sec.get("source")}')
        for cfg in s.get("configs") or []:
            if cfg.get("source") not in project.configs:
                raise InvalidProject(f'service "{name}" refers to undefined config {cfg.get("source")}')
        for sec in s.get("secrets") or []:
            if sec.get("source") not in project.secrets:
                raise InvalidProject(f'service "{name}" refers to undefined secret {sec.get("source")}')
        _check_resources(name, s)
    for name, sec in sorted(project.secrets.items()):
        sec = sec or {}
        if sec.get("external"):
            continue
        if not sec.get("file") and not sec.get("environment"):
            raise InvalidProject(f'secret "{name}" must declare either `file` or `environment`')
    _check_cycles(project)


def _check_resources(name: str, s: dict) -> None:
    deploy = s.get("deploy")
    scale = s.get("scale")
    if scale is not None and isinstance(deploy, dict):
        if deploy.get("replicas") is not None and deploy["replicas"] != scale:
            raise InvalidProject(f"services.{name}: can't set distinct values on 'scale' and 'deploy.replicas'")
        deploy["replicas"] = scale
    if scale is not None and scale < 0:
        raise InvalidArgument(f"services.{name}.scale: must be greater than or equal to 0")
    if isinstance(deploy, dict) and deploy.get("replicas") is not None and deploy["replicas"] < 0:
        raise InvalidArgument(f"services.{name}.deploy.replicas: must be greater than or equal to 0")
    res = (deploy or {}).get("resources") or {} if isinstance(deploy, dict) else {}
    limits, reservations = res.get("limits"), res.get("reservations")
    pairs = (("cpus", limits, "cpus", "deploy.resources.limits.cpus", _float),
             ("mem_limit", limits, "memory", "deploy.resources.limits.memory", gotypes.parse_size),
             ("mem_reservation", reservations, "memory", "deploy.resources.reservations.memory", gotypes.parse_size),
             ("pids_limit", limits, "pids", "deploy.resources.limits.pids", _intval))
    for key, block, sub, label, conv in pairs:
        if s.get(key) in (None, 0, "0") or not isinstance(deploy, dict) or block is None:
            continue
        mine = conv(s[key])
        if not mine:
            continue
        theirs = conv(block[sub]) if block.get(sub) is not None else 0
        if mine != theirs:
            raise InvalidProject(f"services.{name}: can't set distinct values on '{key}' and '{label}'")
    replicas = scale if scale is not None else (deploy or {}).get("replicas") if isinstance(deploy, dict) else None
    if replicas is not None and replicas > 1 and s.get("container_name"):
        attr = "scale" if scale is not None else "deploy.replicas"
        raise InvalidProject(f"services.{attr}: can't set container_name and {name} as container name must be unique")


def _float(v) -> float:
    return float(gotypes.json_number(float(v)))


def _intval(v) -> int:
    return int(v)


def _check_cycles(project) -> None:
    state: dict = {}

    def visit(n: str, stack: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            raise InvalidArgument(f"dependency cycle detected: {' -> '.join(stack[stack.index(n):] + [n])}")
        state[n] = 1
        for dep in sorted((project.services.get(n) or {}).get("depends_on") or {}):
            if dep in project.services:
                visit(dep, stack + [n])
        state[n] = 2

    for n in sorted(project.services):
        visit(n, [])


def prune_resources(project) -> None:
    """Only the networks, volumes, secrets and configs an enabled service uses (as `config` prints)."""
    nets, vols, secs, cfgs = set(), set(), set(), set()
    for s in project.services.values():
        nets.update(s.get("networks") or {})
        for v in s.get("volumes") or []:
            if v.get("type") == "volume" and v.get("source"):
                vols.add(v["source"])
        for sec in s.get("secrets") or []:
            secs.add(sec.get("source"))
        b = s.get("build")
        if isinstance(b, dict):
            for sec in b.get("secrets") or []:
                secs.add(sec.get("source"))
        for c in s.get("configs") or []:
            cfgs.add(c.get("source"))
    project.networks = {k: v for k, v in project.networks.items() if k in nets}
    project.volumes = {k: v for k, v in project.volumes.items() if k in vols}
    project.secrets = {k: v for k, v in project.secrets.items() if k in secs}
    project.configs = {k: v for k, v in project.configs.items() if k in cfgs}


def resolve_service_environment(project) -> None:
    """``environment`` with ``env_file`` folded in (the service's own values win); ``env_file``
    itself is then dropped, as `config` prints the resolved model."""
    env = project.environment
    for name, s in project.services.items():
        own = s.get("environment")
        own_map = gotypes.mapping_eq(own) if own is not None else {}
        own_map = {} if own_map is gotypes.OMIT else own_map
        own_map = {k: (v if v is not None else env.get(k)) for k, v in own_map.items()}
        merged: dict = {}
        for ef in s.get("env_file") or []:
            path = ef["path"]
            if not os.path.exists(path):
                if ef.get("required", True):
                    raise NotFound(f"env file {path} not found: stat {path}: no such file or directory")
                continue

            def lookup(k, _own=own_map):
                if k in env:
                    return env[k]
                return _own.get(k)

            for k, v in read_env_file(path, lookup).items():
                merged[k] = v
        if not merged and own is None:
            s.pop("env_file", None)
            continue
        for k, v in own_map.items():
            if v is not None or k not in merged:
                merged[k] = v
        s["environment"] = merged
        s.pop("env_file", None)
