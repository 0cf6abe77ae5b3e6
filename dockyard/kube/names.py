"""Kubernetes object names and keys: DNS-1123 labels from container names, label/annotation key
checks (apimachinery's validation rules), and the quantity strings of resources."""

from __future__ import annotations

import re

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QNAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
MEBI = 1 << 20

# labels dockyard sets on the containers of a played pod
POD_LABEL = "io.dockyard.pod"
INFRA_LABEL = "io.dockyard.pod.infra"
CONTAINER_LABEL = "io.dockyard.pod.container"
KIND_LABEL = "io.dockyard.kube.kind"
WORKLOAD_LABEL = "io.dockyard.kube.workload"
INIT_LABEL = "io.dockyard.pod.init"


def dns_label(name: str, limit: int = 63) -> str:
    """A DNS-1123 label (lower case alphanumerics and '-', at most `limit` chars) made from a
    container or service name: `My_App.1` → `my-app-1`."""
    out = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    out = out[:limit].strip("-")
    return out or "app"


def is_dns_label(name: str, limit: int = 63) -> bool:
    return bool(name) and len(name) <= limit and bool(_LABEL.match(name))


def is_subdomain(name: str) -> bool:
    return bool(name) and len(name) <= 253 and bool(_SUBDOMAIN.match(name))


def is_qualified_key(key: str) -> bool:
    """A label/annotation key: [prefix/]name, name ≤ 63 chars of [A-Za-z0-9_.-], prefix a DNS subdomain."""
    prefix, _, name = key.rpartition("/")
    if "/" in key and not is_subdomain(prefix):
        return False
    return bool(name) and len(name) <= 63 and bool(_QNAME.match(name))


def is_label_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and bool(_QNAME.match(value)))


def is_env_name(name: str) -> bool:
    return bool(_ENV_NAME.match(name))


def memory_quantity(n: int) -> str:
    """Bytes as a Kubernetes quantity: `64Mi` when exact, else the byte count."""
    if n % (1 << 30) == 0:
        return f"{n >> 30}Gi"
    if n % MEBI == 0:
        return f"{n >> 20}Mi"
    if n % 1024 == 0:
        return f"{n >> 10}Ki"
    return str(n)


def cpu_quantity(quota: int, period: int) -> str:
    """A CFS quota/period as CPUs: `500m`; whole CPUs as `2`."""
    milli = -(-quota * 1000 // period)  # round up: never less than the container had
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def parse_memory(value, where: str) -> int:
    """A Kubernetes memory quantity (`64Mi`, `1G`, `128974848`, `129e6`) in bytes."""
    from dockyard.errors import InvalidArgument

    text = str(value).strip()
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m|e[0-9]+)?", text)
    if not m:
        raise InvalidArgument(f"{where}: invalid quantity {text!r}")
    num, suffix = float(m.group(1)), m.group(2) or ""
    mult = {"": 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60,
            "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "m": 1e-3}
    factor = 10 ** int(suffix[1:]) if suffix.startswith("e") else mult[suffix]
    return int(-(-num * factor // 1))


def parse_cpu(value, where: str) -> int:
    """A Kubernetes CPU quantity (`500m`, `1`, `0.25`) in nano CPUs."""
    from dockyard.errors import InvalidArgument

    text = str(value).strip()
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(m?)", text)
    if not m:
        raise InvalidArgument(f"{where}: invalid CPU quantity {text!r}")
    n = float(m.group(1)) * (1_000_000 if m.group(2) else 1_000_000_000)
    return int(n)


def check_rel_path(path, at: str) -> str:
    """Kubernetes' rule for items.path and subPath: relative, no '..' element."""
    from dockyard.errors import InvalidArgument

    if not isinstance(path, str) or not path or path.startswith("/") or ".." in path.split("/") or "\0" in path:
        raise InvalidArgument(f"{at}: {path!r} must be a relative path without '..'")
    return "/".join(x for x in path.split("/") if x not in ("", "."))
