"""`dockyard inspect`: JSON shaped like `docker inspect` for containers and images."""

from __future__ import annotations

import json
import sys

from dockyard.cli.flags import STR, Flag, parse, usage
from dockyard.errors import DockyardError, NotFound

FLAGS = [Flag("-f,--format", STR, "Format output using a custom template"),
         Flag("--type", STR, "Return JSON for specified type (container|image)"),
         Flag("-s,--size", "bool", "Display total file sizes if the type is container"), Flag("--help")]


def container_json(engine, rec) -> dict:
    from dockyard.engine.containers import effective_state, rfc3339
    from dockyard.engine.mounts import host_config, mounts_json

    cfg = rec.config
    st = effective_state(rec)
    args = list(st.get("Args") or [])
    path = st.get("Path") or ""
    status = st.get("Status", "created")
    return {
        "Id": rec.id,
        "Created": rfc3339(rec.created),
        "Path": path,
        "Args": args,
        "State": {
            "Status": status, "Running": status == "running", "Paused": status == "paused",
            "Restarting": status == "restarting", "OOMKilled": bool(st.get("OOMKilled")), "Dead": status == "dead",
            "Pid": st.get("Pid", 0) if status in ("running", "paused") else 0, "ExitCode": st.get("ExitCode", 0),
            "Error": st.get("Error", ""), "StartedAt": st.get("StartedAt", "0001-01-01T00:00:00Z"),
            "FinishedAt": st.get("FinishedAt", "0001-01-01T00:00:00Z"),
        },
        "Image": rec.image_id,
        "ResolvConfPath": f"{engine.container_dir(rec.id)}/resolv.conf",
        "HostnamePath": f"{engine.container_dir(rec.id)}/hostname",
        "HostsPath": f"{engine.container_dir(rec.id)}/hosts",
        "Name": "/" + rec.name,
        "RestartCount": st.get("RestartCount", 0),
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": {
            "NetworkMode": cfg.get("network", "none"), "AutoRemove": cfg.get("auto_remove", False),
            "PortBindings": port_bindings(cfg), "PublishAllPorts": cfg.get("publish_all", False),
            "CapAdd": list(cfg.get("cap_add") or []) or None, "CapDrop": list(cfg.get("cap_drop") or []) or None,
            "Privileged": cfg.get("privileged", False), "ReadonlyRootfs": cfg.get("read_only", False),
            "SecurityOpt": list(cfg.get("security_opt") or []) or None, "Runtime": cfg.get("runtime", "dockyard"),
            "Devices": [dict(zip(("PathOnHost", "PathInContainer", "CgroupPermissions"), d.split(":")))
                        for d in cfg.get("devices") or ()],
            "DeviceCgroupRules": list(cfg.get("device_cgroup_rules") or []) or None,
            **host_config(cfg.get("mounts")),
        },
        "GraphDriver": {"Name": "overlay", "Data": {
            "UpperDir": engine.snapshots.upper_dir(rec.id) if hasattr(engine.snapshots, "upper_dir") else ""}},
        "Mounts": mounts_json(engine, cfg.get("mounts")),
        "Config": {
            "Hostname": st.get("Hostname", rec.id[:12]), "Domainname": cfg.get("domainname", ""),
            "User": cfg.get("user", ""), "AttachStdin": cfg.get("stdin_open", False),
            "Tty": cfg.get("tty", False), "OpenStdin": cfg.get("stdin_open", False),
            "Env": st.get("Env") or list(cfg.get("env") or []),
            "Cmd": list(cfg["cmd"]) if cfg.get("cmd") else st.get("ImageCmd"),
            "Image": rec.image, "WorkingDir": cfg.get("workdir", ""),
            "Entrypoint": list(cfg["entrypoint"]) if cfg.get("entrypoint") is not None else st.get("ImageEntrypoint"),
            "Labels": cfg.get("labels") or {},
        },
        "NetworkSettings": network_settings(cfg, st),
    }


def network_names(cfg: dict) -> list[str]:
    first = cfg.get("network") or "bridge"
    if first.startswith("container:"):
        return []
    return [first] + list(cfg.get("networks") or {})


def network_settings(cfg: dict, st: dict) -> dict:
    """docker's NetworkSettings: live addresses while it runs, the configured networks always."""
    live = (st.get("NetworkSettings") or {}) if st.get("Status") in ("running", "paused") else {}
    nets = {}
    for i, name in enumerate(network_names(cfg)):
        conf = (cfg.get("networks") or {}).get(name) or {}
        aliases = list(cfg.get("network_aliases") or []) if i == 0 else list(conf.get("aliases") or [])
        empty = {"IPAMConfig": None, "Links": None, "Aliases": aliases or None, "NetworkID": "", "EndpointID": "",
                 "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": ""}
        nets[name] = dict(empty, **((live.get("Networks") or {}).get(name) or {}))
        nets[name].pop("Interface", None)
    return {"Bridge": live.get("Bridge", ""), "Ports": live.get("Ports") or {},
            "IPAddress": live.get("IPAddress", ""), "Gateway": live.get("Gateway", ""),
            "IPPrefixLen": live.get("IPPrefixLen", 0), "MacAddress": live.get("MacAddress", ""), "Networks": nets}


def port_bindings(cfg: dict) -> dict:
    out: dict = {}
    for p in cfg.get("ports") or ():
        out.setdefault(f"{p['container_port']}/{p['proto']}", []).append(
            {"HostIp": p["host_ip"], "HostPort": str(p["host_port"]) if p["host_port"] else ""})
    return out


def image_json(engine, rec) -> dict:
    from dockyard.oci import reference

    full = engine.images.config(rec)
    tags = [reference.parse(t).familiar() for t in sorted(engine.db.tags_for(rec.id))]
    return {
        "Id": rec.id,
        "RepoTags": tags,
        "RepoDigests": [],
        "Parent": "",
        "Comment": (full.get("history") or [{}])[-1].get("comment", "") if full.get("history") else "",
        "Created": full.get("created", ""),
        "DockerVersion": "",
        "Author": full.get("author", ""),
        "Config": full.get("config") or {},
        "Architecture": full.get("architecture", ""),
        "Variant": full.get("variant") or None,
        "Os": full.get("os", ""),
        "Size": rec.size,
        "GraphDriver": {"Name": "overlay", "Data": None},
        "RootFS": {"Type": "layers", "Layers": list((full.get("rootfs") or {}).get("diff_ids") or [])},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        "Descriptor": {"mediaType": rec.manifest_media_type, "digest": rec.manifest_digest},
    }


def _emit(objs: list[dict], fmt: str | None) -> None:
    if fmt:
        from dockyard.cli.template import render

        for o in objs:
            print(render(fmt, o))
    else:
        print(json.dumps(objs, indent=4))


def _inspect(ctx, argv: list[str], kind: str | None) -> int:
    opts = parse(FLAGS, argv)
    if opts.help or not opts.args:
        print(usage("dockyard inspect [OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information", FLAGS))
        return 0 if opts.help else 1
    kind = kind or opts.type
    engine = ctx.engine
    out, rc = [], 0
    for name in opts.args:
        try:
            obj = None
            if kind in (None, "container"):
                try:
                    obj = container_json(engine, engine.db.get_container(name))
                except NotFound:
                    if kind == "container":
                        raise
            if obj is None and kind in (None, "image"):
                obj = image_json(engine, engine.images.resolve(name))
            out.append(obj)
        except NotFound:
            sys.stderr.write(f"Error: No such {kind or 'object'}: {name}\n")
            rc = 1
        except DockyardError as e:
            sys.stderr.write(f"dockyard: error: {e}\n")
            rc = 1
    if out or not opts.format:
        _emit(out, opts.format)
    return rc


def cmd_inspect(ctx, argv):
    return _inspect(ctx, argv, None)


def cmd_image_inspect(ctx, argv):
    return _inspect(ctx, argv, "image")


def cmd_container_inspect(ctx, argv):
    return _inspect(ctx, argv, "container")
