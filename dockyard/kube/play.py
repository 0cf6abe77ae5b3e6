"""`kube play` and `kube down`: the pods of a manifest file made and removed through the engine.

Each pod is an infra container (`kube/infra.py`) holding the network, IPC and UTS namespaces and
publishing the pod's ports, its init containers run to completion in order, then its containers
start joined to the infra container (`container:<infra>`), so they reach each other on localhost.
Everything is planned and checked first (`kube/podspec.py`); a pod whose making fails is
removed again, so a failed play leaves nothing of that pod but an init container's exit."""

from __future__ import annotations

import os

from dockyard.errors import Conflict, DockyardError, InvalidArgument
from dockyard.kube import names
from dockyard.kube.podspec import PodPlan, plan
from dockyard.kube.network import NETWORK, ensure_network


def parse_publish(value: str) -> dict:
    """`--publish [IP:]HOST:POD[/PROTO]` (docker's -p form, both ports given)."""
    spec, _, proto = value.partition("/")
    proto = proto or "tcp"
    parts = spec.rsplit(":", 2)
    if len(parts) == 2:
        parts.insert(0, "")
    if len(parts) != 3 or proto not in ("tcp", "udp", "sctp") or not all(x.isdigit() for x in parts[1:]):
        raise InvalidArgument(f"invalid --publish {value!r}: expected [IP:]HOST_PORT:POD_PORT[/tcp|udp|sctp]")
    if parts[0]:
        import ipaddress

        try:
            ipaddress.IPv4Address(parts[0])
        except ValueError:
            raise InvalidArgument(f"invalid --publish {value!r}: {parts[0]!r} is not an IPv4 address") from None
    host, pod = int(parts[1]), int(parts[2])
    if not (0 < host < 65536 and 0 < pod < 65536):
        raise InvalidArgument(f"invalid --publish {value!r}: ports are 1-65535")
    return {"host_ip": parts[0], "host_port": host, "container_port": pod, "proto": proto}


def play(engine, docs: list[dict], where: str, *, replace: bool = False, publish=(), say=lambda s: None) -> list[PodPlan]:
    from dockyard.kube.pods import pod_containers, pod_volumes, remove_pod

    pods = plan(docs, where)
    if publish and not pods:
        raise InvalidArgument("--publish: the file has no pod")
    for value in publish:
        p = parse_publish(value)
        first = pods[0]
        first.ports = [x for x in first.ports if (x["container_port"], x["proto"]) != (p["container_port"], p["proto"])]
        first.ports.append(p)
    for p in pods:
        if pod_containers(engine, p.name).get(p.name) or pod_volumes(engine, p.name):
            if not replace:
                raise Conflict(f"pod {p.name} exists", hint="use --replace, or `dockyard kube down` first")
            remove_pod(engine, p.name, force=True)
    for p in pods:
        for n in p.notes:
            say(f"WARNING: {n}")
        try:
            _make(engine, p, say)
        except InitFailed:
            raise
        except BaseException:
            remove_pod(engine, p.name, force=True, missing_ok=True)
            raise
    return pods


class InitFailed(DockyardError):
    pass


def _make(engine, p: PodPlan, say) -> None:
    from dockyard.engine.containers import run_detached
    from dockyard.engine.create import config_from_request
    from dockyard.engine.lifecycle import wait
    from dockyard.kube.infra import ensure_infra_image

    infra_body = {"Image": ensure_infra_image(engine), "Hostname": p.hostname,
                  "Labels": {names.POD_LABEL: p.name, names.INFRA_LABEL: "true", names.KIND_LABEL: p.kind,
                             names.WORKLOAD_LABEL: p.workload},
                  "HostConfig": {"IpcMode": "shareable", "PortBindings": _bindings(p.ports), "NetworkMode": NETWORK,
                                 **{k: v for k, v in p.infra_opts.items() if k != "share_pid"}},
                  "NetworkingConfig": {"EndpointsConfig": {NETWORK: {"Aliases": list(p.aliases)}}}}
    bodies = [(c, b) for c, b in p.init + p.containers]
    for _, body in bodies:  # images first: a missing one fails before anything is made
        _check_image(engine, body, say)
    ensure_network(engine)
    _make_volumes(engine, p)
    for _, body in bodies:
        _subpaths(engine, body)
    run_detached(engine, config_from_request(infra_body), p.infra_name)
    for cname, body in p.init:
        cid = run_detached(engine, config_from_request(body), p.container_name(cname))
        code = wait(engine, cid)
        if code != 0:
            raise InitFailed(f"pod {p.name}: init container {cname} exited with code {code}",
                             hint=f"see `dockyard logs {p.container_name(cname)}`; `dockyard pod rm -f {p.name}` "
                                  "removes the pod")
    for cname, body in p.containers:
        run_detached(engine, config_from_request(body), p.container_name(cname))
    say(f"pod {p.name}: {len(p.containers)} container(s) running" +
        (", ports " + ", ".join(f"{x['host_ip'] or '0.0.0.0'}:{x['host_port']}->{x['container_port']}/{x['proto']}"
                                for x in p.ports) if p.ports else ""))


def _bindings(ports: list[dict]) -> dict:
    out: dict = {}
    seen = set()
    for x in ports:
        key = (x["host_ip"], x["host_port"], x["proto"])
        if key in seen:
            continue
        seen.add(key)
        out.setdefault(f"{x['container_port']}/{x['proto']}", []).append(
            {"HostIp": x["host_ip"], "HostPort": str(x["host_port"])})
    return out


def _check_image(engine, body: dict, say) -> None:
    """The container's image is here (or pulled from the registry it names: never Docker Hub
    implicitly); `runAsNonRoot` is checked against the image's user, as the kubelet does."""
    from dockyard.errors import ImageNotFound
    from dockyard.oci import reference

    policy = body.pop("_pull", "IfNotPresent")
    ref = reference.parse(body["Image"])
    rec = None
    if policy != "Always":
        try:
            rec = engine.images.resolve(body["Image"])
        except ImageNotFound:
            if policy == "Never":
                raise ImageNotFound(f"image {body['Image']} is not in this store and imagePullPolicy is Never") from None
    if rec is None:
        if ref.domain == reference.DEFAULT_DOMAIN:  # Docker Hub is never reached implicitly
            rec = engine.images.resolve(body["Image"])
            say(f"WARNING: {body['Image']}: imagePullPolicy Always: Docker Hub is never pulled from implicitly; "
                "the local image runs")
        else:
            from dockyard.registry.pull import pull
            from dockyard.sign.policy import enforcer

            pull(engine, body["Image"], check=enforcer(engine.root, None))
            rec = engine.images.resolve(body["Image"])
    if body.pop("_run_as_non_root", False) and "User" not in body:
        user = (engine.images.config(rec).get("config") or {}).get("User") or ""
        uid = user.partition(":")[0]
        if not uid.isdigit() or uid == "0":
            raise InvalidArgument(f"container image {body['Image']} runs as {user or 'root'!r} and runAsNonRoot "
                                  "is set: give runAsUser (a non-zero number)")


def _make_volumes(engine, p: PodPlan) -> None:
    from dockyard.engine.volumes import create, mountpoint

    for vname, v in p.volumes.items():
        if v["kind"] == "pvc":
            create(engine, v["volume"], labels={"io.dockyard.kube.claim": v["volume"]})
            continue
        if v["kind"] == "emptyDir" and v["memory"] and not _mounted_as_volume(p, v["volume"]):
            continue  # each user has it as a tmpfs
        rec, made = create(engine, v["volume"], labels={names.POD_LABEL: p.name, "io.dockyard.kube.volume": vname})
        if not made:
            raise Conflict(f"volume {v['volume']} exists and belongs to no pod being played")
        if v["kind"] in ("configMap", "secret"):
            write_files(mountpoint(engine, v["volume"]), v["files"])


def _mounted_as_volume(p: PodPlan, volume: str) -> bool:
    return any(m.get("Source") == volume for _, b in p.init + p.containers for m in b["HostConfig"].get("Mounts") or ())


def _subpaths(engine, body: dict) -> None:
    """A configMap/secret key mounted by subPath: a read-only bind of that one file we wrote."""
    from dockyard.engine.volumes import mountpoint

    for m in body["HostConfig"].get("Mounts") or ():
        sub = m.pop("_subpath", None)
        if sub:
            m["Type"], m["Source"] = "bind", os.path.join(mountpoint(engine, m["Source"]), sub)


def write_files(top: str, files: dict) -> None:
    """Write {relative path: (bytes, mode)} under `top` by descriptor: every directory made and
    opened with O_NOFOLLOW below `top`, every file created new (O_EXCL), so no path of a
    manifest can reach outside it, whatever is there."""
    flags_dir = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    root = os.open(top, flags_dir)
    try:
        for rel, (data, mode) in sorted(files.items()):
            parts = rel.split("/")
            if any(x in ("", ".", "..") for x in parts):
                raise InvalidArgument(f"refusing file path {rel!r}")
            fd = os.dup(root)
            try:
                for d in parts[:-1]:
                    try:
                        os.mkdir(d, 0o755, dir_fd=fd)
                    except FileExistsError:
                        pass
                    nfd = os.open(d, flags_dir, dir_fd=fd)
                    os.close(fd)
                    fd = nfd
                f = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                            mode & 0o777, dir_fd=fd)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(f, view):]
                    os.fchmod(f, mode & 0o777)
                finally:
                    os.close(f)
            finally:
                os.close(fd)
    finally:
        os.close(root)


def down(engine, docs: list[dict], where: str) -> list[str]:
    """Remove the pods the file describes (their containers and own volumes; claims' volumes stay,
    as `podman kube down` keeps them). The pods removed."""
    from dockyard.kube.pods import remove_pod

    gone = []
    for p in plan(docs, where):
        if remove_pod(engine, p.name, force=True, missing_ok=True):
            gone.append(p.name)
    return gone
