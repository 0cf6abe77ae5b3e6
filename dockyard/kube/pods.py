"""Pods as the engine holds them: containers labelled `io.dockyard.pod=<name>` (one of them the
infra container), and the pod's own volumes labelled the same. No record of their own, no daemon:
`pod ls/inspect/rm` read and remove what those labels name."""

from __future__ import annotations

from dockyard.errors import Conflict, NotFound
from dockyard.kube import names


def pod_containers(engine, pod: str | None = None) -> dict[str, list]:
    """{pod name: [container records, infra first]} (all pods, or just `pod`)."""
    out: dict[str, list] = {}
    for rec in engine.db.list_containers():
        p = (rec.config.get("labels") or {}).get(names.POD_LABEL)
        if p and (pod is None or p == pod):
            out.setdefault(p, []).append(rec)
    for recs in out.values():
        recs.sort(key=lambda r: (not _is_infra(r), r.created))
    return out


def _is_infra(rec) -> bool:
    return (rec.config.get("labels") or {}).get(names.INFRA_LABEL) == "true"


def pod_json(engine, name: str, recs: list) -> dict:
    """`pod inspect`'s document (podman's key names where they fit)."""
    from dockyard.engine.status import effective_state, rfc3339

    infra = next((r for r in recs if _is_infra(r)), None)
    ctrs = []
    for r in recs:
        st = effective_state(r, engine.db)
        labels = r.config.get("labels") or {}
        ctrs.append({"Id": r.id, "Name": r.name, "State": st.get("Status", "created"),
                     "Container": labels.get(names.CONTAINER_LABEL, "infra" if _is_infra(r) else ""),
                     "Init": labels.get(names.INIT_LABEL) == "true", "Infra": _is_infra(r),
                     "ExitCode": st.get("ExitCode", 0)})
    first = (recs[0].config.get("labels") or {}) if recs else {}
    return {"Name": name, "Id": infra.id if infra else "", "Created": rfc3339(min(r.created for r in recs)),
            "State": pod_state(ctrs), "Kind": first.get(names.KIND_LABEL, ""),
            "Workload": first.get(names.WORKLOAD_LABEL, ""), "InfraContainerID": infra.id if infra else "",
            "Hostname": (effective_state(infra, engine.db).get("Hostname") if infra else ""),
            "NumContainers": len(ctrs), "Containers": ctrs,
            "Volumes": sorted(v.name for v in pod_volumes(engine, name))}


def pod_state(ctrs: list[dict]) -> str:
    """podman's pod states: Running (all app containers run), Degraded (some), Exited, Created."""
    app = [c for c in ctrs if not c["Infra"] and not c["Init"]]
    running = [c for c in app if c["State"] in ("running", "restarting", "paused")]
    if app and len(running) == len(app):
        return "Running"
    if running:
        return "Degraded"
    if all(c["State"] == "created" for c in ctrs):
        return "Created"
    return "Exited"


def pod_volumes(engine, pod: str) -> list:
    from dockyard.engine.volumes import list_volumes

    return [v for v in list_volumes(engine) if (v.labels or {}).get(names.POD_LABEL) == pod]


def remove_pod(engine, pod: str, *, force: bool = False, missing_ok: bool = False) -> list[str]:
    """Remove a pod's containers (app and init first, the infra container last) and its own
    volumes; without `force` a running pod is refused. The names of what went."""
    from dockyard.engine.status import Status, effective_state
    from dockyard.engine.teardown import remove
    from dockyard.engine.volumes import remove as remove_volume

    recs = pod_containers(engine, pod).get(pod, [])
    if not recs and not pod_volumes(engine, pod):
        if missing_ok:
            return []
        raise NotFound(f"no such pod: {pod}")
    if not force:
        running = [r.name for r in recs if effective_state(r, engine.db).get("Status") in (Status.RUNNING, Status.PAUSED,
                                                                               Status.RESTARTING)]
        if running:
            raise Conflict(f"pod {pod} is running ({', '.join(running)}): stop it first or use -f")
    gone = []
    for r in sorted(recs, key=_is_infra):  # joiners before the namespace holder
        remove(engine, r.id, force=True, volumes=True)
        gone.append(r.name)
    for v in pod_volumes(engine, pod):
        remove_volume(engine, v.name, force=True)
        gone.append(f"volume {v.name}")
    from dockyard.kube.network import remove_network_if_unused

    remove_network_if_unused(engine)
    return gone
