"""System routes beyond ping/version/info: GET /system/df (disk usage, engine/diskusage.py) and
POST /auth (credentials checked against the registry, as dockerd checks them; nothing stored)."""

from __future__ import annotations

from dockyard.errors import InvalidArgument, PermissionDenied


def df(engine, req) -> None:
    from dockyard.api.listing import summary
    from dockyard.engine import diskusage as du

    types = [t for t in req.query.get("type", ()) if t]
    bad = [t for t in types if t not in du.TYPES]
    if bad:
        raise InvalidArgument(f"invalid type {bad[0]!r}: use {', '.join(du.TYPES)}")
    want = set(types or du.TYPES)
    images, layers_size, blobs = du.images_usage(engine) if want & {"image", "build-cache"} else ([], 0, set())
    doc = {"LayersSize": layers_size if "image" in want else 0}
    doc["Images"] = images if "image" in want else None
    if req.version < (1, 44) and doc["Images"]:
        for i in doc["Images"]:
            i["VirtualSize"] = i["Size"]
    if "container" in want:
        doc["Containers"] = []
        for rec, st, rw, rootfs in du.containers_usage(engine):
            entry = summary(engine, rec, st, size=False)
            entry["SizeRw"], entry["SizeRootFs"] = rw, rootfs
            doc["Containers"].append(entry)
    else:
        doc["Containers"] = None
    doc["Volumes"] = du.volumes_usage(engine) if "volume" in want else None
    doc["BuildCache"] = du.build_cache_usage(engine, blobs) if "build-cache" in want else None
    req.send_json(doc)


def auth(engine, req) -> None:
    """POST /auth {"username", "password", "serveraddress"}: 200 "Login Succeeded", or 401."""
    from dockyard.registry import credentials
    from dockyard.registry.client import check_login

    body = req.json()
    if not isinstance(body, dict):
        raise InvalidArgument("the body must be a JSON object (AuthConfig)")
    if body.get("identitytoken") or body.get("registrytoken"):
        raise InvalidArgument("identity and registry tokens are not supported: send a username and password")
    user, password = body.get("username") or "", body.get("password") or ""
    if not isinstance(user, str) or not isinstance(password, str):
        raise InvalidArgument("username and password must be strings")
    if not user:
        raise InvalidArgument("Username cannot be empty")
    server = body.get("serveraddress") or credentials.INDEX_SERVER
    if not isinstance(server, str):
        raise InvalidArgument("serveraddress must be a string")
    domain = credentials.domain_of(server)
    try:
        check_login(domain, credentials.Credentials(user, password))
    except PermissionDenied as e:
        req.send_json({"message": str(e)}, 401)  # dockerd: errdefs.Unauthorized
        return
    req.send_json({"Status": "Login Succeeded", "IdentityToken": ""})


NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this '
               "node to swarm and try again.")


def not_in_swarm(engine, req, **_) -> None:
    """Swarm (out of scope): answered as dockerd answers on a node that is in no swarm (503), so
    clients that check or leave a swarm (`leave --force`) behave as they do with Docker."""
    from dockyard.errors import Unavailable

    if req.path.rstrip("/").endswith("/leave"):
        raise Unavailable("This node is not part of a swarm")
    raise Unavailable(NOT_MANAGER)


def no_swarm_mode(engine, req, **_) -> None:
    from dockyard.errors import NotImplemented

    raise NotImplemented("swarm mode is not supported by dockyard")
