"""The parts of `kube generate` that are not one container's command, env, ports and mounts:
its securityContext, and the pod-level keys (/etc/hosts entries, DNS, sysctls, hostname, grace
period) together with the warnings for what a pod spec cannot say (host network, namespaces,
devices, runtimes, log options, and every other host option the engine holds)."""

from __future__ import annotations

from dockyard.kube import names

# host_opts keys mapped by pod_level; every other one is reported
MAPPED_HOST_OPTS = {"ExtraHosts", "Dns", "DnsSearch", "DnsOptions", "Sysctls", "MemoryReservation", "ExposedPorts",
                    "Annotations"}


def security_context(v: dict, out) -> dict:
    name, cfg = v["name"], v["config"]
    sc: dict = {}
    if v.get("run_as"):
        uid, gid = v["run_as"]
        sc["runAsUser"] = uid
        sc["runAsGroup"] = gid
    elif cfg.get("user"):
        out.warn(name, "Config.User", f"{cfg['user']!r} has no numeric id in the image")
    if cfg.get("read_only"):
        sc["readOnlyRootFilesystem"] = True
    caps = {}
    if cfg.get("cap_add"):
        caps["add"] = [c.upper().removeprefix("CAP_") for c in cfg["cap_add"]]
    if cfg.get("cap_drop"):
        caps["drop"] = [c.upper().removeprefix("CAP_") for c in cfg["cap_drop"]]
    if caps:
        sc["capabilities"] = caps
    seccomp = "RuntimeDefault"
    for opt in cfg.get("security_opt") or ():
        key, _, val = opt.partition("=" if "=" in opt else ":")
        if key == "no-new-privileges" and val in ("", "true"):
            sc["allowPrivilegeEscalation"] = False
        elif key == "no-new-privileges":
            continue
        elif key == "seccomp" and val == "unconfined":
            seccomp = "Unconfined"
        elif key == "seccomp":
            out.warn(name, "HostConfig.SecurityOpt.seccomp", "a custom profile must be installed on each node "
                                                             "(seccompProfile Localhost): RuntimeDefault written")
        else:
            out.warn(name, f"HostConfig.SecurityOpt.{key}", f"{opt!r} is not expressed")
    sc["seccompProfile"] = {"type": seccomp}
    if cfg.get("privileged"):
        out.warn(name, "HostConfig.Privileged", "not carried over: privileged pods are refused by the Pod Security "
                                                "baseline and restricted levels")
    for d in cfg.get("devices") or ():
        out.warn(name, "HostConfig.Devices", f"{d}: host devices need a device plugin")
    if cfg.get("device_cgroup_rules"):
        out.warn(name, "HostConfig.DeviceCgroupRules", "not expressible")
    if cfg.get("userns"):
        out.warn(name, "HostConfig.UsernsMode", "auto: set hostUsers: false where the cluster supports user namespaces")
    return sc


def pod_level(name: str, cfg: dict, out, pod: dict) -> None:
    """Keys of the pod rather than of a container: /etc/hosts entries, DNS, sysctls, network,
    namespaces, hostname, stop timeout; and what none of them can say."""
    o = cfg.get("host_opts") or {}
    for entry in o.get("ExtraHosts") or ():
        host, _, ip = entry.partition(":")
        if ip == "host-gateway":
            out.warn(name, "HostConfig.ExtraHosts", f"{entry}: the host gateway has no address in a cluster")
            continue
        aliases = pod.setdefault("hostAliases", [])
        for a in aliases:
            if a["ip"] == ip:
                if host not in a["hostnames"]:
                    a["hostnames"].append(host)
                break
        else:
            aliases.append({"ip": ip, "hostnames": [host]})
    dns = {}
    if o.get("Dns"):
        dns["nameservers"] = list(o["Dns"])
    if o.get("DnsSearch"):
        dns["searches"] = list(o["DnsSearch"])
    if o.get("DnsOptions"):
        dns["options"] = [dict(zip(("name", "value"), x.split(":", 1))) for x in o["DnsOptions"]]
    if dns:
        pod.setdefault("dnsConfig", {}).update(dns)
    if o.get("Sysctls"):
        ctls = pod.setdefault("securityContext", {}).setdefault("sysctls", [])
        for k, val in sorted(o["Sysctls"].items()):
            if not any(s["name"] == k for s in ctls):
                ctls.append({"name": k, "value": str(val)})
    net = cfg.get("network") or "bridge"
    if net == "host":
        out.warn(name, "HostConfig.NetworkMode", "host: not carried over (hostNetwork gives up the pod's own network)")
    elif net.startswith("container:"):
        out.warn(name, "HostConfig.NetworkMode", f"{net}: generate both containers together to share a pod's network")
    elif net not in ("bridge", "none", "default"):
        out.warn(name, "HostConfig.NetworkMode", f"network {net!r}: pods share the cluster network; other pods reach "
                                                 "this one through its Service")
    elif net == "none":
        out.warn(name, "HostConfig.NetworkMode", "none: a pod always has a network")
    for extra in cfg.get("networks") or {}:
        out.warn(name, "NetworkingConfig", f"network {extra!r}: pods share the cluster network")
    if cfg.get("network_aliases"):
        out.warn(name, "NetworkingConfig.Aliases", "other pods find this one by its Service's name")
    if cfg.get("ip"):
        out.warn(name, "NetworkingConfig.IPAMConfig", "fixed addresses are the cluster's to give")
    if cfg.get("hostname"):
        h = cfg["hostname"]
        if names.is_dns_label(h):
            pod["hostname"] = h
        else:
            out.warn(name, "Config.Hostname", f"{h!r} is not a DNS label")
    if cfg.get("domainname"):
        out.warn(name, "Config.Domainname", "the cluster's DNS sets the domain (subdomain needs a headless Service)")
    if cfg.get("stop_timeout") is not None:
        pod["terminationGracePeriodSeconds"] = max(int(cfg["stop_timeout"]), pod.get("terminationGracePeriodSeconds", 0))
    if cfg.get("stop_signal") and cfg["stop_signal"] not in ("SIGTERM", "TERM", "15"):
        out.warn(name, "Config.StopSignal", f"{cfg['stop_signal']}: Kubernetes stops with the image's STOPSIGNAL")
    if cfg.get("runtime") not in (None, "dockyard"):
        out.warn(name, "HostConfig.Runtime", f"{cfg['runtime']}: choose a RuntimeClass on the cluster")
    if cfg.get("log_opts"):
        out.warn(name, "HostConfig.LogConfig", "log rotation is the kubelet's")
    if cfg.get("auto_remove"):
        out.warn(name, "HostConfig.AutoRemove", "pods are removed by their controller, not on exit")
    for key, val in sorted(o.items()):
        if key in MAPPED_HOST_OPTS:
            continue
        if key == "IpcMode" and val in ("private", "shareable", ""):
            continue
        if key == "ShmSize":
            out.warn(name, "HostConfig.ShmSize", "mount a Memory emptyDir at /dev/shm instead")
            continue
        out.warn(name, f"HostConfig.{key}", f"{val!r} is not expressible in a pod spec")
