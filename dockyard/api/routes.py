"""The route table: (method, path pattern) → handler(engine, req, **path params)."""

from __future__ import annotations

import re
from dockyard.api import build, imageio, netconnect, sysroutes  # noqa: I001 - apart from the line below: merges

from dockyard.api import archive, attach, containers, events, observe, execs, images, listing, prune, resources, system

NAME = r"(?P<name>[^/]+)"
IMAGE = r"(?P<name>.+?)"  # image names have slashes: host:5000/ns/app:1

ROUTES = [
    ("GET", r"/_ping", system.ping),
    ("HEAD", r"/_ping", system.ping),
    ("GET", r"/version", system.version),
    ("GET", r"/info", system.info),
    ("GET", r"/events", events.events),
    ("GET", r"/containers/json", listing.list_containers),
    ("POST", r"/containers/create", containers.create),
    ("GET", rf"/containers/{NAME}/json", containers.inspect),
    ("POST", rf"/containers/{NAME}/start", containers.start),
    ("POST", rf"/containers/{NAME}/stop", containers.stop),
    ("POST", rf"/containers/{NAME}/kill", containers.kill),
    ("POST", rf"/containers/{NAME}/restart", containers.restart),
    ("POST", rf"/containers/{NAME}/wait", containers.wait),
    ("GET", rf"/containers/{NAME}/logs", containers.logs),
    ("POST", rf"/containers/{NAME}/attach", attach.attach),
    ("GET", rf"/containers/{NAME}/attach/ws", attach.attach_ws),
    ("POST", rf"/containers/{NAME}/resize", attach.resize),
    ("GET", rf"/containers/{NAME}/stats", observe.stats),
    ("POST", rf"/containers/{NAME}/update", observe.update),
    ("GET", rf"/containers/{NAME}/top", observe.top),
    ("GET", rf"/containers/{NAME}/changes", observe.changes),
    ("GET", rf"/containers/{NAME}/export", observe.export),
    ("HEAD", rf"/containers/{NAME}/archive", archive.head),
    ("GET", rf"/containers/{NAME}/archive", archive.get),
    ("PUT", rf"/containers/{NAME}/archive", archive.put),
    ("DELETE", rf"/containers/{NAME}", containers.delete),
    ("DELETE", r"/containers/(?P<name>/*[^/]+/[^/]+)", containers.delete),  # ?link=1 of /me/alias
    ("POST", rf"/containers/{NAME}/pause", prune.pause),
    ("POST", rf"/containers/{NAME}/unpause", prune.unpause),
    ("POST", rf"/containers/{NAME}/rename", prune.rename),
    ("POST", r"/containers/prune", prune.containers),
    ("POST", r"/volumes/prune", prune.volumes),
    ("POST", r"/networks/prune", prune.networks),
    ("POST", rf"/containers/{NAME}/exec", execs.create),
    ("POST", r"/exec/(?P<eid>[^/]+)/start", execs.start),
    ("POST", r"/exec/(?P<eid>[^/]+)/resize", execs.resize),
    ("GET", r"/exec/(?P<eid>[^/]+)/json", execs.inspect),
    ("GET", r"/images/json", images.list_images),
    ("POST", r"/images/create", images.create),
    ("GET", rf"/images/{IMAGE}/json", images.inspect),
    ("POST", rf"/images/{IMAGE}/tag", images.tag),
    ("DELETE", rf"/images/{IMAGE}", images.delete),
    ("GET", r"/networks", resources.list_networks),
    ("POST", r"/networks/create", resources.create_network),
    ("GET", rf"/networks/{NAME}", resources.inspect_network),
    ("DELETE", rf"/networks/{NAME}", resources.remove_network),
    ("GET", r"/volumes", resources.list_volumes),
    ("POST", r"/volumes/create", resources.create_volume),
    ("GET", rf"/volumes/{NAME}", resources.inspect_volume),
    ("DELETE", rf"/volumes/{NAME}", resources.remove_volume),
    # images in and out, builds, disk usage and logins (api/build.py, imageio.py, sysroutes.py)
    ("POST", r"/build", build.build),
    ("GET", r"/images/get", imageio.get_images),
    ("GET", r"/images/search", imageio.search),
    ("POST", r"/images/load", imageio.load),
    ("POST", r"/images/prune", imageio.prune),
    ("GET", rf"/images/{IMAGE}/history", imageio.history),
    ("GET", rf"/images/{IMAGE}/get", imageio.get_images),
    ("POST", rf"/images/{IMAGE}/push", imageio.push),
    ("POST", r"/commit", imageio.commit),
    ("GET", r"/system/df", sysroutes.df),
    ("POST", r"/auth", sysroutes.auth),
    ("POST", rf"/networks/{NAME}/connect", netconnect.connect),
    ("POST", rf"/networks/{NAME}/disconnect", netconnect.disconnect),
    ("GET", r"/swarm", sysroutes.not_in_swarm),
    ("POST", r"/swarm/leave", sysroutes.not_in_swarm),
    ("POST", r"/swarm/(?:update|unlock)", sysroutes.not_in_swarm),
    ("GET", r"/swarm/unlockkey", sysroutes.not_in_swarm),
    ("POST", r"/swarm/(?:init|join)", sysroutes.no_swarm_mode),
    ("GET", r"/(?:nodes|services|tasks|secrets|configs)(?:/[^/]+)?", sysroutes.not_in_swarm),
]

COMPILED = [(m, re.compile(p + r"/?\Z"), fn) for m, p, fn in ROUTES]


def match(method: str, path: str):
    """(handler, params) for a request; (None, allowed) when the path exists for other methods
    only (405), (None, None) when it does not exist (404)."""
    allowed = []
    for m, rx, fn in COMPILED:
        found = rx.match(path)
        if found:
            if m == method:
                return fn, found.groupdict()
            allowed.append(m)
    return None, (allowed or None)
