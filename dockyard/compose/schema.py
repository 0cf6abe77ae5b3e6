"""Validation of a Compose model against the Compose Specification's rules, in a compact table of
our own: every key of a service, network, volume, secret, config and the top level with the types
it accepts. ``x-`` keys are free everywhere. Messages are Compose v2's:
``validating FILE: services.web.ports must be a array``,
``validating FILE: services.web additional properties 'foo' not allowed``.

A type is a string of alternatives (``"s|i"``): ``s`` string, ``i`` integer, ``n`` number, ``b``
boolean, ``null``, ``map`` (any mapping), ``los`` (list of unique strings), ``sol`` (string or list
of strings), ``lod`` (list of strings or mapping of scalars), ``cmd`` (null, string or list of
strings); or a nested table (a mapping with those keys only; ``"!required"`` lists the keys it
must have), ``List(type)``, ``MapOf(type)`` or ``OneOf(type, …)``.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument


class SchemaError(InvalidArgument):
    pass


class List:
    __slots__ = ("item",)

    def __init__(self, item) -> None:
        self.item = item


class OneOf:
    """Alternatives where some are tables or lists."""

    __slots__ = ("alts",)

    def __init__(self, *alts) -> None:
        self.alts = alts


class Pattern:
    """A string matching a regular expression (anywhere in it, as JSON Schema's ``pattern``)."""

    __slots__ = ("type", "pattern")

    def __init__(self, type_: str, pattern: str) -> None:
        self.type, self.pattern = type_, pattern


class MapOf:
    """A mapping whose values all have one type (keys free)."""

    __slots__ = ("value",)

    def __init__(self, value) -> None:
        self.value = value


FILE_MOUNT = List(OneOf("s", {"source": "s", "target": "s", "uid": "s", "gid": "s", "mode": "n|s"}))
ULIMITS = MapOf(OneOf("i|s", {"hard": "i|s", "soft": "i|s", "!required": ("soft", "hard")}))
DEVICE_REQUESTS = List({"capabilities": "los", "count": "s|i", "device_ids": "los", "driver": "s",
                        "options": "lod"})
BLKIO_LIMIT = List({"path": "s", "rate": "i|s"})
HOOK = {"command": "cmd", "user": "s", "privileged": "b|s", "working_dir": "s", "environment": "lod"}
PRE_START_HOOK = dict(HOOK, image="s", per_replica="b|s")
DURATION = "s"
RESOURCE = {"cpus": "n|s", "memory": "s|i", "pids": "i|s", "devices": DEVICE_REQUESTS,
            "generic_resources": List({"discrete_resource_spec": {"kind": "s", "value": "n|s"}})}
UPDATE = {"parallelism": "i|s", "delay": DURATION, "failure_action": "s", "monitor": DURATION,
          "max_failure_ratio": "n|s", "order": "s"}
DEPLOY = {
    "mode": "s", "endpoint_mode": "s", "replicas": "i|s", "labels": "lod", "rollback_config": UPDATE,
    "update_config": UPDATE, "resources": {"limits": RESOURCE, "reservations": RESOURCE},
    "restart_policy": {"condition": "s", "delay": DURATION, "max_attempts": "i|s", "window": DURATION},
    "placement": {"constraints": List("s"), "preferences": List({"spread": "s"}), "max_replicas_per_node": "i|s"},
}
BUILD = {
    "context": "s", "dockerfile": "s", "dockerfile_inline": "s", "entitlements": List("s"), "args": "lod",
    "ssh": "lod", "labels": "lod", "cache_from": List("s"), "cache_to": List("s"), "no_cache": "b|s",
    "no_cache_filter": "sol", "additional_contexts": "lod", "network": "s", "provenance": "s|b",
    "sbom": "s|b", "pull": "b|s", "target": "s", "shm_size": "i|s", "extra_hosts": OneOf(List("s"), MapOf("s|los")),
    "isolation": "s", "privileged": "b|s", "secrets": FILE_MOUNT, "tags": List("s"), "ulimits": ULIMITS,
    "platforms": List("s"),
}
HEALTHCHECK = {"disable": "b|s", "interval": DURATION, "retries": "n|s", "test": "s|los", "timeout": DURATION,
               "start_period": DURATION, "start_interval": DURATION}
PORT = {"name": "s", "mode": "s", "host_ip": "s", "target": "i|s", "published": "s|i", "protocol": "s",
        "app_protocol": "s"}
VOLUME_MOUNT = {
    "type": "s", "source": "s", "target": "s", "read_only": "b|s", "consistency": "s",
    "bind": {"propagation": "s", "create_host_path": "b|s", "recursive": "s", "selinux": "s"},
    "volume": {"labels": "lod", "nocopy": "b|s", "subpath": "s"},
    "tmpfs": {"size": "i|s", "mode": "n|s"}, "image": {"subpath": "s"},
}
SERVICE_NETWORK = {"aliases": "los", "interface_name": "s", "ipv4_address": "s", "ipv6_address": "s",
                   "link_local_ips": "los", "mac_address": "s", "driver_opts": MapOf("s|n"),
                   "priority": "n", "gw_priority": "n"}
WATCH = {"ignore": "sol", "include": "sol", "path": "s", "action": "s", "target": "s", "exec": HOOK,
         "initial_sync": "b"}
SERVICE = {
    "develop": {"watch": List(WATCH)}, "deploy": DEPLOY, "annotations": "lod", "attach": "b|s",
    "build": OneOf("s", BUILD),
    "blkio_config": {"device_read_bps": BLKIO_LIMIT, "device_read_iops": BLKIO_LIMIT,
                     "device_write_bps": BLKIO_LIMIT, "device_write_iops": BLKIO_LIMIT,
                     "weight": "i|s", "weight_device": List({"path": "s", "weight": "i|s"})},
    "cap_add": "los", "cap_drop": "los", "cgroup": "s", "cgroup_parent": "s", "command": "cmd",
    "configs": FILE_MOUNT, "container_name": Pattern("s", r"[a-zA-Z0-9][a-zA-Z0-9_.-]+"), "cpu_count": "s|i", "cpu_percent": "s|i",
    "cpu_shares": "n|s", "cpu_quota": "n|s", "cpu_period": "n|s", "cpu_rt_period": "n|s",
    "cpu_rt_runtime": "n|s", "cpus": "n|s", "cpuset": "s",
    "credential_spec": {"config": "s", "file": "s", "registry": "s"},
    "depends_on": OneOf("los", MapOf({"restart": "b|s", "required": "b", "condition": "s"})),
    "device_cgroup_rules": "los", "devices": List(OneOf("s", {"source": "s", "target": "s", "permissions": "s"})),
    "dns": "sol", "dns_opt": "los", "dns_search": "sol", "domainname": "s", "entrypoint": "cmd",
    "env_file": OneOf("s", List(OneOf("s", {"path": "s", "format": "s", "required": "b|s"}))),
    "label_file": "sol", "environment": "lod", "expose": List("s|n"),
    "extends": OneOf("s", {"service": "s", "file": "s"}), "provider": {"type": "s", "options": "map"},
    "external_links": "los", "extra_hosts": OneOf(List("s"), MapOf("s|los")), "gpus": OneOf("s", DEVICE_REQUESTS),
    "group_add": List("s|n"), "healthcheck": HEALTHCHECK, "hostname": "s", "image": "s", "init": "b|s",
    "ipc": "s", "isolation": "s", "labels": "lod", "links": "los",
    "logging": {"driver": "s", "options": MapOf("s|n|null")}, "mac_address": "s", "mem_limit": "n|s",
    "mem_reservation": "s|i", "mem_swappiness": "i|s", "memswap_limit": "n|s", "network_mode": "s",
    "models": OneOf("los", "map"), "networks": OneOf("los", MapOf(OneOf(SERVICE_NETWORK, "null"))),
    "oom_kill_disable": "b|s", "oom_score_adj": "s|i", "pid": "s|null", "pids_limit": "n|s", "platform": "s",
    "ports": List(OneOf("n|s", PORT)), "pre_start": List(PRE_START_HOOK), "post_start": List(HOOK),
    "pre_stop": List(HOOK), "privileged": "b|s", "profiles": "los", "pull_policy": "s",
    "pull_refresh_after": "s", "read_only": "b|s", "restart": "s", "runtime": "s", "scale": "i|s",
    "security_opt": "los", "shm_size": "n|s", "secrets": FILE_MOUNT, "sysctls": "lod", "stdin_open": "b|s",
    "stop_grace_period": DURATION, "stop_signal": "s", "storage_opt": "map", "tmpfs": "sol", "tty": "b|s",
    "ulimits": ULIMITS, "use_api_socket": "b", "user": "s", "uts": "s", "userns_mode": "s",
    "volumes": List(OneOf("s", VOLUME_MOUNT)), "volumes_from": "los", "working_dir": "s",
}
IPAM = {"driver": "s", "config": List({"subnet": "s", "ip_range": "s", "gateway": "s", "aux_addresses": MapOf("s")}),
        "options": MapOf("s")}
EXTERNAL = OneOf("b|s", {"name": "s"})
NETWORK = {"name": "s", "driver": "s", "driver_opts": MapOf("s|n"), "ipam": IPAM, "external": EXTERNAL,
           "internal": "b|s", "enable_ipv4": "b|s", "enable_ipv6": "b|s", "attachable": "b|s", "labels": "lod"}
VOLUME = {"name": "s", "driver": "s", "driver_opts": MapOf("s|n"), "external": EXTERNAL, "labels": "lod"}
SECRET = {"name": "s", "environment": "s", "file": "s", "external": EXTERNAL, "labels": "lod", "driver": "s",
          "driver_opts": MapOf("s|n"), "template_driver": "s"}
CONFIG = {"name": "s", "content": "s", "environment": "s", "file": "s", "external": EXTERNAL, "labels": "lod",
          "template_driver": "s"}
MODEL = {"name": "s", "model": "s", "context_size": "i", "runtime_flags": List("s")}
INCLUDE = OneOf("s", {"path": "sol", "env_file": "sol", "project_directory": "s"})
TOP = {
    "version": "s", "name": "s", "include": List(INCLUDE),
    "services": MapOf(OneOf(SERVICE, "null")), "models": MapOf(MODEL),
    "networks": MapOf(OneOf(NETWORK, "null")), "volumes": MapOf(OneOf(VOLUME, "null")),
    "secrets": MapOf(SECRET), "configs": MapOf(CONFIG),
}

_NAMES = {"s": "string", "i": "integer", "n": "number", "b": "boolean", "null": "null", "map": "mapping",
          "los": "array", "sol": "string", "lod": "mapping", "cmd": "string"}


def validate(model: dict, filename: str) -> None:
    try:
        _no_times(model, "")
        _check(model, TOP, "")
    except SchemaError as e:
        raise SchemaError(f"validating {filename}: {e}") from None


def _no_times(v, path: str) -> None:
    """A plain YAML timestamp is a time value, which no Compose key takes (v2's message)."""
    import datetime

    if isinstance(v, (datetime.date, datetime.datetime)):
        _fail(path, "invalid jsonType time.Time")
    if isinstance(v, dict):
        for k, x in v.items():
            _no_times(x, f"{path}.{k}" if path else k)
    elif isinstance(v, list):
        for n, x in enumerate(v):
            _no_times(x, f"{path}.{n}")


def _fail(path: str, msg: str):
    raise SchemaError(f"{path} {msg}" if path else f" {msg}")


def _scalar_ok(v, code: str) -> bool:
    if code == "s":
        return isinstance(v, str)
    if code == "i":
        return isinstance(v, int) and not isinstance(v, bool) or (isinstance(v, float) and v == int(v))
    if code == "n":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if code == "b":
        return isinstance(v, bool)
    if code == "null":
        return v is None
    if code == "map":
        return isinstance(v, dict)
    if code == "los":
        return isinstance(v, list) and all(isinstance(x, str) for x in v)
    if code == "sol":
        return isinstance(v, str) or _scalar_ok(v, "los")
    if code == "lod":
        if isinstance(v, dict):
            return all(x is None or isinstance(x, (str, int, float, bool)) for x in v.values())
        return isinstance(v, list) and all(isinstance(x, str) for x in v)
    if code == "cmd":
        return v is None or _scalar_ok(v, "sol")
    raise AssertionError(code)


def _type_name(spec) -> str:
    if isinstance(spec, str):
        names: list[str] = []
        for c in spec.split("|"):
            if c != "null" and _NAMES[c] not in names:
                names.append(_NAMES[c])
        return " or ".join(names)
    if isinstance(spec, List):
        return "array"
    if isinstance(spec, Pattern):
        return _type_name(spec.type)
    if isinstance(spec, OneOf):
        return _type_name(spec.alts[0])
    return "mapping"


def _matches(v, spec) -> bool:
    """Whether ``v`` has the top-level shape of ``spec`` (used to pick the alternative to check)."""
    if isinstance(spec, str):
        return any(_scalar_ok(v, c) for c in spec.split("|"))
    if isinstance(spec, List):
        return isinstance(v, list)
    if isinstance(spec, Pattern):
        return _matches(v, spec.type)
    if isinstance(spec, OneOf):
        return any(_matches(v, a) for a in spec.alts)
    return isinstance(v, dict)


def _check(v, spec, path: str) -> None:
    if isinstance(spec, Pattern):
        _check(v, spec.type, path)
        import re

        if not re.search(spec.pattern, v):
            _fail(path, f"'{v}' does not match pattern '{spec.pattern}'")
        return
    if isinstance(spec, str):
        codes = spec.split("|")
        if any(_scalar_ok(v, c) for c in codes):
            if "los" in codes and isinstance(v, list) and len(set(v)) != len(v):
                _fail(path, "must be unique")
            return
        if isinstance(v, list) and any(c in ("los", "sol", "lod", "cmd") for c in codes):
            for n, x in enumerate(v):
                if not isinstance(x, str):
                    _fail(f"{path}.{n}", "must be a string")
        if isinstance(v, dict) and "lod" in codes:
            for k, x in v.items():
                if not (x is None or isinstance(x, (str, int, float, bool))):
                    _fail(f"{path}.{k}", "must be a string, number, boolean or null")
        _fail(path, f"must be a {_type_name(spec)}")
    if isinstance(spec, OneOf):
        for alt in spec.alts:
            if _matches(v, alt):
                if isinstance(alt, dict) and any(k not in v for k in alt.get("!required", ())):
                    break  # v2 words this as the type of the first alternative
                _check(v, alt, path)
                return
        _fail(path, f"must be a {_type_name(spec)}")
    if isinstance(spec, List):
        if not isinstance(v, list):
            _fail(path, "must be a array")
        for n, x in enumerate(v):
            _check(x, spec.item, f"{path}.{n}")
        return
    if isinstance(spec, MapOf):
        if not isinstance(v, dict):
            _fail(path, "must be a mapping")
        for k, x in v.items():
            if k.startswith("x-") and path.count(".") == 0 and path in ("services", "networks", "volumes",
                                                                        "secrets", "configs"):
                continue
            _check(x, spec.value, f"{path}.{k}" if path else k)
        return
    # a table
    if not isinstance(v, dict):
        _fail(path, "must be a mapping")
    missing = [k for k in spec.get("!required", ()) if k not in v]
    if missing:
        _fail(path, f"missing properties {', '.join(repr(k) for k in missing)}")
    unknown = [k for k in v if (k not in spec or k == "!required") and not k.startswith("x-")]
    if unknown:
        _fail(path, "additional properties " + ", ".join(f"'{k}'" for k in sorted(unknown)) + " not allowed")
    for k, x in v.items():
        if k in spec:
            _check(x, spec[k], f"{path}.{k}" if path else k)
