"""Short syntax to long syntax, as compose-go's canonical transform does it: ports and volumes
parsed into mappings, lists of names into maps, ``depends_on``/``env_file``/``build``/``extends``
into their mapping forms; then the defaults compose-go sets and the "one entry per key" rule for
sequences (a later ``ports``/``volumes``/``environment``… entry replaces an earlier one with the
same key).
"""

from __future__ import annotations

from dockyard.compose.shortsyntax import CanonicalError, parse_port, parse_volume

__all__ = ["CanonicalError", "canonical", "enforce_unicity", "parse_port", "parse_volume", "set_defaults"]

# ---- the transform

def _string_or_list(v):
    return [v] if isinstance(v, str) else v


def _list_to_map(v):
    if isinstance(v, list):
        return {str(k): None for k in v}
    return v


def _key_value(v, where):
    if isinstance(v, list):
        out = {}
        for e in v:
            k, eq, val = str(e).partition("=")
            if not eq:
                raise CanonicalError(f"{where}: invalid value {e}, expected key=value")
            out[k] = val
        return out
    return v


def _file_mount(v, where):
    if isinstance(v, str):
        return {"source": v}
    if isinstance(v, dict):
        return v
    raise CanonicalError(f"{where}: unsupported type {type(v).__name__}")


def _depends_on(v, where):
    if isinstance(v, list):
        return {str(k): {"condition": "service_started", "required": True} for k in v}
    if isinstance(v, dict):
        for k, d in v.items():
            if not isinstance(d, dict):
                raise CanonicalError(f"{where}.{k}: unsupported value {d}")
            d.setdefault("condition", "service_started")
            d.setdefault("required", True)
        return v
    raise CanonicalError(f"{where}: invalid type {type(v).__name__} for depend_on")


def _env_file(v, where):
    items = [v] if isinstance(v, str) else v
    out = []
    for e in items:
        if isinstance(e, str):
            out.append({"path": e, "required": True})
        else:
            e.setdefault("required", True)
            out.append(e)
    return out


def _ports(v, where):
    out = []
    for n, e in enumerate(v):
        if isinstance(e, bool):
            raise CanonicalError(f"{where}: invalid type bool for port")
        if isinstance(e, (int, str)):
            out.extend(parse_port(str(e), f"{where}.{n}"))
        elif isinstance(e, dict):
            out.append(e)
        else:
            raise CanonicalError(f"{where}: invalid type {type(e).__name__} for port")
    return out


def _volumes(v, where, lenient=False):
    out = []
    for e in v:
        if isinstance(e, str):
            try:
                e = parse_volume(e)
            except CanonicalError:
                if not lenient:
                    raise
        out.append(e)
    return out


def _ssh(v, where):
    if isinstance(v, list):
        out = {}
        for e in v:
            k, eq, p = str(e).partition("=")
            if not eq and k != "default":
                raise CanonicalError(f"invalid ssh key {e!r}")
            out[k] = p if eq else None
        return out
    return v


def _device(v):
    if not isinstance(v, str):
        return v
    parts = v.split(":")
    if len(parts) > 3:
        raise CanonicalError(f"confusing device mapping, please use long syntax: {v}")
    src = parts[0]
    dst = parts[1] if len(parts) > 1 and parts[1] else src
    return {"source": src, "target": dst, "permissions": parts[2] if len(parts) == 3 else "rwm"}


def _build(v, where):
    if isinstance(v, str):
        v = {"context": v}
    if "ssh" in v:
        v["ssh"] = _ssh(v["ssh"], where + ".ssh")
    if "additional_contexts" in v:
        v["additional_contexts"] = _key_value(v["additional_contexts"], where + ".additional_contexts")
    if "secrets" in v:
        v["secrets"] = [_file_mount(e, f"{where}.secrets.{n}") for n, e in enumerate(v["secrets"])]
    for k in ("provenance", "sbom"):
        if k in v and not isinstance(v[k], str):
            v[k] = str(v[k]).lower() if isinstance(v[k], bool) else str(v[k])
    return v


def _maybe_external(v, where, warn):
    if v is None:
        return None
    ext = v.get("external")
    if isinstance(ext, dict):
        v["external"] = True
        if "name" in ext:
            if warn:
                warn(f"{where}: external.name is deprecated. Please set name and external: true")
            if "name" in v and v["name"] != ext["name"]:
                raise CanonicalError(f"{where}: name and external.name conflict; only use name")
            v.setdefault("name", ext["name"])
    return v


def canonical(model: dict, warn=None, *, lenient: bool = False) -> dict:
    """The canonical transform, in place; returns the model. ``lenient`` (values not interpolated):
    a port or volume that does not parse is kept as written, as compose-go does then."""
    for name, svc in (model.get("services") or {}).items():
        if not isinstance(svc, dict):
            continue
        w = f"services.{name}"
        if "build" in svc:
            svc["build"] = _build(svc["build"], w + ".build")
        if "depends_on" in svc:
            svc["depends_on"] = _depends_on(svc["depends_on"], w + ".depends_on")
        if "env_file" in svc:
            svc["env_file"] = _env_file(svc["env_file"], w + ".env_file")
        if "label_file" in svc:
            svc["label_file"] = _string_or_list(svc["label_file"])
        if "extends" in svc and isinstance(svc["extends"], str):
            svc["extends"] = {"service": svc["extends"]}
        for k in ("networks", "models"):
            if k in svc:
                svc[k] = _list_to_map(svc[k])
        if "volumes" in svc:
            svc["volumes"] = _volumes(svc["volumes"], w + ".volumes", lenient)
        if "dns" in svc:
            svc["dns"] = [d for d in _string_or_list(svc["dns"]) if d not in (None, "")]
        for k in ("secrets", "configs"):
            if k in svc:
                svc[k] = [_file_mount(e, f"{w}.{k}.{n}") for n, e in enumerate(svc[k])]
        if "ports" in svc:
            try:
                svc["ports"] = _ports(svc["ports"], w + ".ports")
            except CanonicalError:
                if not lenient:
                    raise
        if isinstance(svc.get("devices"), list):
            svc["devices"] = [_device(d) for d in svc["devices"]]
        dev = svc.get("develop")
        if isinstance(dev, dict):
            for trig in dev.get("watch") or []:
                for k in ("ignore", "include"):
                    if k in trig:
                        trig[k] = _string_or_list(trig[k])
    for kind in ("volumes", "networks", "secrets", "configs"):
        for name, res in list((model.get(kind) or {}).items()):
            model[kind][name] = _maybe_external(res, f"{kind}.{name}", warn)
    include = model.get("include")
    if isinstance(include, list):
        model["include"] = [{"path": e} if isinstance(e, str) else e for e in include]
    return model


def set_defaults(model: dict) -> dict:
    for svc in (model.get("services") or {}).values():
        if not isinstance(svc, dict):
            continue
        if isinstance(svc.get("build"), dict):
            svc["build"].setdefault("context", ".")
        for sec in svc.get("secrets") or []:
            sec.setdefault("target", f"/run/secrets/{sec.get('source')}")
        for p in svc.get("ports") or []:
            if not isinstance(p, dict):
                continue  # not interpolated, kept as written
            p.setdefault("protocol", "tcp")
            p.setdefault("mode", "ingress")
        for req in ((svc.get("deploy") or {}).get("resources") or {}).get("reservations", {}).get("devices") or []:
            if "count" not in req and "device_ids" not in req:
                req["count"] = "all"
        for req in svc.get("gpus") or []:
            if isinstance(req, dict) and "count" not in req and "device_ids" not in req:
                req["count"] = "all"
    return model


# ---- one entry per key in sequences (compose-go's EnforceUnicity)

def _kv_key(e, where):
    if not isinstance(e, str):
        raise CanonicalError(f"{where}: unexpected type {type(e).__name__}")
    return e.partition("=")[0]


def _volume_key(e, where):
    if isinstance(e, dict):
        if not isinstance(e.get("target"), str):
            raise CanonicalError(f"service volume {where} is missing a mount target")
        return e["target"]
    if isinstance(e, str):
        return parse_volume(e).get("target", "")
    return ""


def _device_key(e, where):
    if isinstance(e, dict):
        return str(e.get("target"))
    parts = str(e).split(":")
    return parts[0] if len(parts) == 1 else parts[1]


def _mount_key(default):
    def key(e, where):
        if isinstance(e, str):
            return f"{default}/{e}"
        if isinstance(e, dict):
            return e["target"] if "target" in e else f"{default}/{e.get('source')}"
        raise CanonicalError(f"{where}: unsupported value {e}")
    return key


def _port_key(e, where):
    if isinstance(e, int):
        return str(e)
    if isinstance(e, dict):
        if "target" not in e:
            raise CanonicalError(f"service ports {where} is missing a target port")
        return f"{e.get('host_ip', '0.0.0.0')}:{e.get('published')}:{e['target']}/{e.get('protocol', 'tcp')}"
    return str(e)


def _env_file_key(e, where):
    if isinstance(e, dict):
        if "path" not in e:
            raise CanonicalError(f"environment path attribute {where} is missing")
        return e["path"]
    return str(e)


_SERVICE_UNIQUE = {
    "annotations": _kv_key, "cap_add": _kv_key, "cap_drop": _kv_key, "configs": _mount_key(""),
    "dns": _kv_key, "dns_opt": _kv_key, "dns_search": _kv_key, "environment": _kv_key,
    "env_file": _env_file_key, "expose": lambda e, w: str(e), "labels": _kv_key, "links": _kv_key,
    "ports": _port_key, "profiles": _kv_key, "secrets": _mount_key("/run/secrets"), "sysctls": _kv_key,
    "tmpfs": _kv_key, "volumes": _volume_key, "devices": _device_key,
}
_BUILD_UNIQUE = ("args", "additional_contexts", "platform", "tags", "labels")


def _unique(seq, keyfn, where):
    if not isinstance(seq, list):
        return seq
    out: list = []
    index: dict = {}
    for n, e in enumerate(seq):
        k = keyfn(e, f"{where}[{n}]")
        if k in index:
            out[index[k]] = e
        else:
            index[k] = len(out)
            out.append(e)
    return out


def enforce_unicity(model: dict) -> dict:
    for name, svc in (model.get("services") or {}).items():
        if not isinstance(svc, dict):
            continue
        w = f"services.{name}"
        for key, fn in _SERVICE_UNIQUE.items():
            if key in svc:
                svc[key] = _unique(svc[key], fn, f"{w}.{key}")
        b = svc.get("build")
        if isinstance(b, dict):
            for key in _BUILD_UNIQUE:
                if key in b:
                    b[key] = _unique(b[key], _kv_key, f"{w}.build.{key}")
        dep = svc.get("deploy")
        if isinstance(dep, dict) and "labels" in dep:
            dep["labels"] = _unique(dep["labels"], _kv_key, f"{w}.deploy.labels")
        nets = svc.get("networks")
        if isinstance(nets, dict):
            for nn, nc in nets.items():
                if isinstance(nc, dict):
                    for key in ("aliases", "link_local_ips"):
                        if key in nc:
                            nc[key] = _unique(nc[key], _kv_key, f"{w}.networks.{nn}.{key}")
    for name, net in (model.get("networks") or {}).items():
        if isinstance(net, dict):
            if "labels" in net:
                net["labels"] = _unique(net["labels"], _kv_key, f"networks.{name}.labels")
            ipam = net.get("ipam")
            if isinstance(ipam, dict) and "options" in ipam:
                ipam["options"] = _unique(ipam["options"], _kv_key, f"networks.{name}.ipam.options")
    return model
