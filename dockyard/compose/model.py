"""The tables of Compose v2's typed model: each service, network, volume, secret and config key with
the converter that turns its canonical YAML value into what `docker compose config --format json`
prints. Key order is Go's field order, so our JSON reads like v2's.
"""

from __future__ import annotations

from dockyard.compose import gotypes as t
from dockyard.compose.gotypes import OMIT

_ULIMIT = t.obj({"single": t.i, "soft": t.i, "hard": t.i})


def _ulimit(v, where=""):
    return t.to_int(v, where) if not isinstance(v, dict) else _ULIMIT(v, where)


def _count(v, where=""):
    if v in ("all", -1):
        return "all" if v == "all" else -1
    return t.to_int(v, where)


_DEVICE_REQUEST = t.obj({"capabilities": t.strlist, "driver": t.s, "count": _count,
                         "device_ids": t.strlist, "options": t.mapping})
_THROTTLE = t.obj({"path": t.s, "rate": lambda v, w="": t.parse_size(v, w)})
_WEIGHT = t.obj({"path": t.s, "weight": t.i})
_FILE_REF = t.obj({"source": t.s, "target": t.s, "uid": t.s, "gid": t.s, "mode": t.filemode})
_RESOURCE = t.obj({"cpus": t.f, "memory": t.size, "pids": t.i, "devices": t.listof(_DEVICE_REQUEST),
                   "generic_resources": t.listof(t.raw)})
_UPDATE = t.obj({"parallelism": t.ip, "delay": t.dur0, "failure_action": t.s, "monitor": t.dur0,
                 "max_failure_ratio": t.f, "order": t.s})


def _resources(v, where=""):
    return t.obj({"limits": _RESOURCE, "reservations": _RESOURCE})(v, where)


def _placement(v, where=""):
    return t.obj({"constraints": t.strlist, "preferences": t.listof(t.obj({"spread": t.s})),
                  "max_replicas_per_node": t.i})(v, where)


def _deploy(v, where=""):
    out = t.obj({"mode": t.s, "replicas": t.ip, "labels": t.mapping, "update_config": _UPDATE,
                 "rollback_config": _UPDATE, "resources": _resources,
                 "restart_policy": t.obj({"condition": t.s, "delay": t.dur, "max_attempts": t.ip,
                                          "window": t.dur}),
                 "placement": _placement, "endpoint_mode": t.s})(v, where)
    # Resources and Placement are struct values in Go: always written
    out.setdefault("resources", {})
    out.setdefault("placement", {})
    return _ordered(out, ("mode", "replicas", "labels", "update_config", "rollback_config", "resources",
                          "restart_policy", "placement", "endpoint_mode"))


def _ordered(d: dict, order) -> dict:
    return {k: d[k] for k in order if k in d}


def _ssh(v, where=""):
    if not v:
        return OMIT
    return [({"id": k, "path": p} if p else {"id": k}) for k, p in v.items()]


def _build(v, where=""):
    return t.obj({
        "context": t.s, "dockerfile": t.s, "dockerfile_inline": t.s, "entitlements": t.strlist,
        "args": t.mapping_eq, "provenance": t.s, "sbom": t.s, "ssh": _ssh, "labels": t.mapping,
        "cache_from": t.strlist, "cache_to": t.strlist, "no_cache": t.b, "no_cache_filter": t.strlist,
        "additional_contexts": t.mapping, "pull": t.b, "extra_hosts": t.hosts, "isolation": t.s,
        "network": t.s, "target": t.s, "secrets": t.listof(_FILE_REF), "shm_size": t.size,
        "tags": t.strlist, "ulimits": t.mapof(_ulimit), "platforms": t.strlist, "privileged": t.b,
    })(v, where)


def _healthcheck(v, where=""):
    return t.obj({"test": _hc_test, "timeout": t.dur, "interval": t.dur, "retries": t.ip,
                  "start_period": t.dur, "start_interval": t.dur, "disable": t.b})(v, where)


def _hc_test(v, where=""):
    if isinstance(v, str):
        return ["CMD-SHELL", v]
    out = [t.go_str(x) for x in v or []]
    return out if out else OMIT


def _depends_on(v, where=""):
    out = {}
    for name, d in sorted((v or {}).items()):
        e = {}
        if d.get("condition"):
            e["condition"] = t.go_str(d["condition"])
        if d.get("restart"):
            e["restart"] = True
        e["required"] = bool(d.get("required", False))
        out[name] = e
    return out if out else OMIT


def _networks(v, where=""):
    conv = t.obj({"aliases": t.strlist, "driver_opts": t.mapping, "gw_priority": t.i,
                  "interface_name": t.s, "ipv4_address": t.s, "ipv6_address": t.s,
                  "link_local_ips": t.strlist, "mac_address": t.s, "priority": t.i})
    out = {}
    for name, n in sorted((v or {}).items()):
        out[name] = None if n is None else conv(n, f"{where}.{name}")
    return out if out else OMIT


def _port(v, where=""):
    return t.obj({"name": t.s, "mode": t.s, "host_ip": t.s, "target": t.i, "published": t.s,
                  "protocol": t.s, "app_protocol": t.s})(v, where)


def _volume_mount(v, where=""):
    out = t.obj({"type": t.s, "source": t.s, "target": t.s, "read_only": t.b, "consistency": t.s,
                 "bind": t.obj({"selinux": t.s, "propagation": t.s, "create_host_path": t.b,
                                "recursive": t.s}),
                 "volume": t.obj({"labels": t.mapping, "nocopy": t.b, "subpath": t.s}),
                 "tmpfs": t.obj({"size": t.size, "mode": _octal_int}),
                 "image": t.obj({"subpath": t.s})})(v, where)
    return out


def _octal_int(v, where=""):
    n = int(v, 8) if isinstance(v, str) else t.to_int(v, where)
    return n if n else OMIT


def _env_files(v, where=""):
    out = []
    for e in v or []:
        d = {"path": e["path"]}
        if not e.get("required", True):
            d["required"] = False
        if e.get("format"):
            d["format"] = e["format"]
        out.append(d)
    return out if out else OMIT


def _logging(v, where=""):
    return t.obj({"driver": t.s, "options": _options})(v, where)


def _options(v, where=""):
    out = {k: t.go_str(e) for k, e in sorted((v or {}).items())}
    return out if out else OMIT


def _extends(v, where=""):
    return t.obj({"file": t.s, "service": t.s})(v, where)


def _devices(v, where=""):
    return t.listof(t.obj({"source": t.s, "target": t.s, "permissions": t.s}))(v, where)


def _hooks(v, where=""):
    conv = t.obj({"command": t.command, "image": t.s, "user": t.s, "privileged": t.b,
                  "working_dir": t.s, "environment": t.mapping_eq, "per_replica": t.b})
    out = []
    for n, h in enumerate(v or []):
        d = conv(h, f"{where}.{n}")
        d.setdefault("command", None)
        out.append(d)
    return out if out else OMIT


def _blkio(v, where=""):
    return t.obj({"weight": t.i, "weight_device": t.listof(_WEIGHT),
                  "device_read_bps": t.listof(_THROTTLE), "device_read_iops": t.listof(_THROTTLE),
                  "device_write_bps": t.listof(_THROTTLE), "device_write_iops": t.listof(_THROTTLE)})(v, where)


SERVICE = {
    "profiles": t.strlist, "annotations": t.mapping, "attach": t.bp, "build": _build,
    "develop": t.raw, "blkio_config": _blkio, "cap_add": t.strlist, "cap_drop": t.strlist,
    "cgroup_parent": t.s, "cgroup": t.s, "cpu_count": t.i, "cpu_percent": t.f, "cpu_period": t.i,
    "cpu_quota": t.i, "cpu_rt_period": t.i, "cpu_rt_runtime": t.i, "cpus": t.f, "cpuset": t.s,
    "cpu_shares": t.i, "command": t.command, "configs": t.listof(_FILE_REF), "container_name": t.s,
    "credential_spec": t.obj({"config": t.s, "file": t.s, "registry": t.s}),
    "depends_on": _depends_on, "deploy": _deploy, "device_cgroup_rules": t.strlist,
    "devices": _devices, "dns": t.strlist, "dns_opt": t.strlist, "dns_search": t.strlist,
    "dockerfile": t.s, "domainname": t.s, "entrypoint": t.command,
    "provider": t.obj({"type": t.s, "options": t.raw}), "environment": t.mapping_eq,
    "env_file": _env_files, "expose": t.strlist, "extends": _extends, "external_links": t.strlist,
    "extra_hosts": t.hosts, "group_add": t.strlist, "gpus": t.listof(_DEVICE_REQUEST),
    "hostname": t.s, "healthcheck": _healthcheck, "image": t.s, "init": t.bp, "ipc": t.s,
    "isolation": t.s, "labels": t.mapping, "label_file": t.strlist, "links": t.strlist,
    "logging": _logging, "log_driver": t.s, "log_opt": _options, "mem_limit": t.size,
    "mem_reservation": t.size, "memswap_limit": t.size, "mem_swappiness": t.size,
    "mac_address": t.s, "models": t.raw, "net": t.s, "network_mode": t.s, "networks": _networks,
    "oom_kill_disable": t.b, "oom_score_adj": t.i, "pid": t.s, "pids_limit": t.i, "platform": t.s,
    "ports": t.listof(_port), "privileged": t.b, "pull_policy": t.s, "read_only": t.b,
    "restart": t.s, "runtime": t.s, "scale": t.ip, "secrets": t.listof(_FILE_REF),
    "security_opt": t.strlist, "shm_size": t.size, "stdin_open": t.b, "stop_grace_period": t.dur,
    "stop_signal": t.s, "storage_opt": _options, "sysctls": t.mapping, "tmpfs": t.strlist, "tty": t.b,
    "ulimits": t.mapof(_ulimit), "use_api_socket": t.b, "user": t.s, "userns_mode": t.s, "uts": t.s,
    "volume_driver": t.s, "volumes": t.listof(_volume_mount), "volumes_from": t.strlist,
    "working_dir": t.s, "pre_start": _hooks, "post_start": _hooks, "pre_stop": _hooks,
}

_IPAM = t.obj({"driver": t.s, "config": t.listof(t.obj({"subnet": t.s, "gateway": t.s, "ip_range": t.s,
                                                      "aux_addresses": t.mapping})),
               "options": _options})
NETWORK = {"name": t.s, "driver": t.s, "driver_opts": _options, "ipam": _IPAM, "external": t.b,
           "internal": t.b, "attachable": t.b, "labels": t.mapping, "enable_ipv4": t.bp, "enable_ipv6": t.bp}
VOLUME = {"name": t.s, "driver": t.s, "driver_opts": _options, "external": t.b, "labels": t.mapping}
FILE_OBJECT = {"name": t.s, "file": t.s, "environment": t.s, "content": t.s, "external": t.b,
               "labels": t.mapping, "driver": t.s, "driver_opts": _options, "template_driver": t.s}


def convert(table: dict, value: dict | None, where: str) -> dict:
    out = {}
    value = value or {}
    for key, fn in table.items():
        if key in value:
            r = fn(value[key], f"{where}.{key}")
            if r is not OMIT:
                out[key] = r
    return out  # ``x-`` extensions of services and resources are not printed (v2's json:"-")


def service_json(svc: dict, where: str) -> dict:
    out = convert(SERVICE, svc, where)
    out.setdefault("command", None)
    out.setdefault("entrypoint", None)
    return _ordered_keys(out, SERVICE)


def network_json(net: dict, where: str) -> dict:
    out = convert(NETWORK, net, where)
    out.setdefault("ipam", {})  # a struct value in Go: always written
    return _ordered_keys(out, NETWORK)


def _ordered_keys(d: dict, table: dict) -> dict:
    out = {k: d[k] for k in table if k in d}
    out.update((k, v) for k, v in d.items() if k not in out)
    return out
