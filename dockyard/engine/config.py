"""What the user asked for a container (`ContainerConfig`), kept apart from what is happening.

The config is frozen: it is written once at create time and is the input of specgen. What
changes (status, pid, exit code, timestamps) lives in the container's state record.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument
from dockyard.record import Record


class ContainerConfig(Record):
    """Fields (all keyword-only):

    image         the image as the user typed it
    cmd           None: the image's Cmd
    entrypoint    None: the image's Entrypoint; () resets it
    env, user, workdir, hostname, domainname, labels
    tty, stdin_open, auto_remove, read_only
    stdin_once    the first attacher's end of input closes the container's stdin (docker run -i)
    network       bridge (the default network) | none | host | container:NAME | a user network
    networks      further networks joined with `network connect`: {name: {"aliases": [], "ip": ""}}
    network_aliases, ip: names and a fixed address on the first network (user networks only)
    ip6, link_local_ips: a fixed IPv6 address (an IPv6 user network) and link-local addresses
                  there; a connected network's are its entry's "ip6" and "link_local"
    endpoint_opts {network name: {"Links": ["NAME[:ALIAS]", …], "DriverOpts": {k: v}}}: an endpoint's
                  network-scoped links and driver options, as given (engine/endpointopts.py)
    ports         published ports: ({"proto", "host_ip", "host_port", "container_port"}, …);
                  host_port 0 picks a free one. publish_all: -P (every EXPOSEd port, random)
    cap_add, cap_drop, privileged, security_opt
    devices       --device values as "HOST:CONTAINER:PERMS" (validated, normalised)
    device_cgroup_rules  --device-cgroup-rule values ("c 1:3 rwm")
    runtime       dockyard | runc | a path to a runc-compatible binary
    userns        run in a user namespace (root maps to uid 100000 and up)
    restart       no | on-failure[:N] | always | unless-stopped (detached containers)
    log_driver    json-file (the default) | none (no log kept: `logs` refuses, as Docker's)
    log_opts      json-file options: max-size, max-file
    memory, memory_swap, cpu_quota, cpu_period, cpu_shares, cpuset_cpus, pids_limit: cgroup limits
    stop_signal, stop_timeout: how `stop` ends it (None: the image's StopSignal, 10 s)
    healthcheck   Docker's HealthConfig {Test, Interval, Timeout, StartPeriod, StartInterval, Retries}
                  (ns), merged with the image's at create (engine/health.py); None: the image's
    mounts        -v/--mount/--tmpfs/--volumes-from as dicts (see engine/mounts.py); create stores
                  them resolved (anonymous volumes named, image VOLUMEs added) so start reuses them
    host_opts     the create request's /etc, namespace, process and further resource keys, under
                  Docker's names, only those given (engine/hostopts.py checks them, specopts.py applies)
    """

    __slots__ = ("image", "cmd", "entrypoint", "env", "user", "workdir", "hostname", "domainname", "labels",
                 "tty", "stdin_open", "auto_remove", "read_only", "network", "cap_add", "cap_drop", "privileged",
                 "security_opt", "runtime", "userns", "restart", "log_driver", "log_opts", "memory", "memory_swap", "cpu_quota",
                 "cpu_period", "cpu_shares", "cpuset_cpus", "pids_limit", "stop_signal", "stop_timeout",
                 "networks", "network_aliases", "ip", "ip6", "link_local_ips", "ports", "publish_all", "mounts",
                 "devices", "device_cgroup_rules", "host_opts", "healthcheck", "stdin_once", "endpoint_opts")
    _defaults = {"cmd": None, "entrypoint": None, "env": (), "user": "", "workdir": "", "hostname": "",
                 "domainname": "", "labels": {}, "tty": False, "stdin_open": False, "auto_remove": False,
                 "read_only": False, "network": "bridge", "cap_add": (), "cap_drop": (), "privileged": False,
                 "security_opt": (), "runtime": "dockyard", "userns": False, "restart": "no", "log_driver": "json-file", "log_opts": {},
                 "memory": 0, "memory_swap": 0, "cpu_quota": 0, "cpu_period": 0, "cpu_shares": 0,
                 "cpuset_cpus": "", "pids_limit": 0, "stop_signal": None, "stop_timeout": None,
                 "networks": {}, "network_aliases": (), "ip": "", "ip6": "", "link_local_ips": (), "ports": (),
                 "publish_all": False, "mounts": (),
                 "devices": (), "device_cgroup_rules": (), "host_opts": {}, "healthcheck": None,
                 "stdin_once": False, "endpoint_opts": {}}

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.to_dict().items()}

    @classmethod
    def from_json(cls, d: dict) -> "ContainerConfig":
        known = {k: v for k, v in d.items() if k in cls.__slots__}
        for k in ("cmd", "entrypoint", "env", "cap_add", "cap_drop", "security_opt", "network_aliases",
                  "link_local_ips", "ports", "mounts", "devices", "device_cgroup_rules"):
            if isinstance(known.get(k), list):
                known[k] = tuple(known[k])
        return cls(**known)


def parse_restart(policy: str) -> tuple[str, int]:
    """docker's --restart: no | on-failure[:max-retries] | always | unless-stopped."""

    name, _, count = (policy or "no").partition(":")
    if name not in ("no", "always", "unless-stopped", "on-failure"):
        raise InvalidArgument(f"invalid restart policy '{policy}'")
    if count:
        if name != "on-failure":
            raise InvalidArgument(f"maximum retry count cannot be used with restart policy '{name}'")
        if not count.isdigit():
            raise InvalidArgument(f"maximum retry count must be an integer: '{count}'")
    return name, int(count or 0)


# -- reading JSON request bodies (the Engine API's shapes), with a clear error for a wrong type ------

def json_field(d: dict, key: str, kind, where: str, default=None):
    """d[key] checked against a JSON type (absent or null gives the default)."""
    v = d.get(key)
    if v is None:
        return default
    if kind is int:
        ok = isinstance(v, int) and not isinstance(v, bool)
    else:
        ok = isinstance(v, kind)
    if not ok:
        names = {str: "a string", bool: "a boolean", int: "an integer", list: "an array", dict: "an object"}
        raise InvalidArgument(f"invalid {where}{key}: expected {names[kind]}")
    return v


def json_strings(d: dict, key: str, where: str) -> tuple | None:
    v = json_field(d, key, list, where)
    if v is None:
        return None
    if not all(isinstance(x, str) for x in v):
        raise InvalidArgument(f"invalid {where}{key}: expected an array of strings")
    return tuple(v)


def json_string_map(d: dict, key: str, where: str) -> dict:
    v = json_field(d, key, dict, where, {})
    if not all(isinstance(x, str) for x in v.values()):
        raise InvalidArgument(f"invalid {where}{key}: expected an object of strings")
    return dict(v)
