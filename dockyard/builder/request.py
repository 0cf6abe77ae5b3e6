"""A build as the Engine API asks for it (POST /build): the query's options checked as dockerd's
classic builder checks them, and the build of an unpacked context with them.

`options(query)` turns the query (a dict of lists, as `parse_qs` gives) into plain options or a
clear `InvalidArgument`/`NotImplemented` before anything is made; `run(engine, context, opts,
out)` builds, tags and writes Docker's progress lines to `out` (a text stream)."""

from __future__ import annotations

import base64
import json

from dockyard.errors import InvalidArgument, NotImplemented

# query keys the docker CLI sends with their "nothing asked" values: anything else is refused,
# since a limit or option the builder would not apply must not be silently dropped
_INERT = {
    "memory": ("0", ""), "memswap": ("0", ""), "cpushares": ("0", ""), "cpuquota": ("0", ""),
    "cpuperiod": ("0", ""), "cpusetcpus": ("",), "cpusetmems": ("",), "shmsize": None,
    "cgroupparent": ("",), "isolation": ("", "default"), "squash": ("0", "false", ""),
    "extrahosts": None, "cachefrom": None, "ulimits": ("", "[]", "null"),
    "remote": ("",), "outputs": ("", "[]", "null"), "session": None, "buildid": None, "version": ("1", ""),
    "securityopt": ("", "[]", "null"), "platform": None, "networkmode": None, "rm": None, "forcerm": None,
    "q": None, "nocache": None, "pull": None, "t": None, "dockerfile": None, "buildargs": None, "labels": None,
    "target": None,
}


def _one(query: dict, key: str, default: str = "") -> str:
    """The first value of a repeated key, as dockerd's FormValue (docker-py repeats `dockerfile`)."""
    v = query.get(key)
    return v[0] if v else default


def _bool(query: dict, key: str, default: bool = False) -> bool:
    v = _one(query, key, None)
    if v is None:
        return default
    if v.lower() in ("1", "true", "t", "yes"):
        return True
    if v.lower() in ("0", "false", "f", "no", ""):
        return False
    raise InvalidArgument(f"invalid value for {key!r}: {v!r} is not a boolean")


def _json_map(query: dict, key: str) -> dict:
    raw = _one(query, key)
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
    except ValueError:
        raise InvalidArgument(f"invalid {key}: not a JSON object: {raw[:80]!r}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict) or not all(isinstance(k, str) for k in doc):
        raise InvalidArgument(f"invalid {key}: a JSON object of strings is required")
    bad = [k for k, v in doc.items() if v is not None and not isinstance(v, str)]
    if bad:
        raise InvalidArgument(f"invalid {key}: the value of {bad[0]!r} is not a string")
    return doc


def registry_config(header: str | None) -> dict:
    """X-Registry-Config: base64url JSON {registry: auth config}. The classic builder builds from
    local images only (nothing is pulled), so the credentials are checked for shape, not used."""
    if not header:
        return {}
    try:
        doc = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)) or b"{}")
    except (ValueError, TypeError):
        raise InvalidArgument("invalid X-Registry-Config header: not base64url JSON") from None
    if not isinstance(doc, dict):
        raise InvalidArgument("invalid X-Registry-Config header: a JSON object is required")
    return doc


def options(query: dict, images) -> dict:
    """The build's options from the API query; `images` (the image store) normalises the tags."""
    for key, values in query.items():
        allowed = _INERT.get(key, ())
        if key not in _INERT:
            raise InvalidArgument(f"unknown build option {key!r}")
        if allowed is not None and values and values[-1] not in allowed:
            raise NotImplemented(f"build option {key}={values[-1]!r} is not supported by dockyard's builder")
    if _one(query, "platform"):
        from dockyard.registry.pull import check_platform

        check_platform(_one(query, "platform"))
    if _bool(query, "pull"):
        raise NotImplemented("pull=1 is not supported: dockyard's builder builds only from local images",
                             hint="pull the base images first")
    network = _one(query, "networkmode") or "default"
    if network.startswith("container:"):
        raise NotImplemented(f"networkmode {network!r} is not supported: use default, bridge, none, host or a "
                             "user network")
    args = {k: v for k, v in _json_map(query, "buildargs").items() if v is not None}
    labels = {k: v or "" for k, v in _json_map(query, "labels").items()}
    tags = []
    for t in query.get("t", ()):
        if t:
            tags.append(images.normalize_tag(t))
    hosts = []
    for raw in query.get("extrahosts", ()):  # repeated host:ip values, or one JSON list of them
        if raw.strip() in ("", "null"):
            continue
        try:
            values = json.loads(raw) if raw.lstrip().startswith("[") else [raw]
        except ValueError:
            raise InvalidArgument(f"invalid extrahosts: {raw[:80]!r}") from None
        for h in values:
            if not isinstance(h, str):
                raise InvalidArgument("invalid extrahosts: a list of host:ip strings is required")
            from dockyard.engine.hostopts import check_extra_host

            check_extra_host(h)
            hosts.append(h)
    shm = _one(query, "shmsize") or "0"
    if not shm.isdigit():
        raise InvalidArgument(f"invalid shmsize {shm!r}: a number of bytes")
    dockerfile = _one(query, "dockerfile") or "Dockerfile"
    cache_from = None
    raw = _one(query, "cachefrom")
    if raw:
        try:
            cache_from = json.loads(raw)
        except ValueError:
            raise InvalidArgument(f"invalid cachefrom: not a JSON list: {raw[:80]!r}") from None
        if cache_from is not None and (not isinstance(cache_from, list)
                                       or not all(isinstance(c, str) for c in cache_from)):
            raise InvalidArgument("invalid cachefrom: a JSON list of image names is required")
    return {"cache_from": cache_from or None,"dockerfile": dockerfile, "build_args": args, "labels": labels, "target": _one(query, "target") or None,
            "no_cache": _bool(query, "nocache"), "quiet": _bool(query, "q"), "tags": tags,
            # rm=0 keeps the RUN steps' containers (forcerm=1 overrides); a failed step's
            # container is kept only then too (dockerd keeps it with rm=1 as well: a departure)
            "keep_containers": not _bool(query, "rm", True) and not _bool(query, "forcerm"),
            "extra_hosts": hosts, "shm_size": int(shm),
            "network": "bridge" if network == "default" else network}


def check_network(engine, network: str) -> str:
    """The RUN steps' network (dockerd's classic builder: networkmode, `build --network`): default
    (the default bridge), none, host or a user network, which must exist (its name or id). The
    steps' containers join it as `run --network` would (they resolve and reach its containers by
    name) and leave it when they are removed."""
    network = "bridge" if network in ("", "default") else network
    if network in ("bridge", "none", "host"):
        return network
    if network.startswith("container:"):
        raise NotImplemented(f"network mode {network!r} is not supported for builds: use default, none, host or "
                             "a user network")
    from dockyard.errors import NetworkNotFound
    from dockyard.state.networks import find_network

    rec = find_network(engine.db, network)
    if rec is None:
        raise NetworkNotFound(f"network {network} not found")
    return network


def cache_sources(engine, names) -> list | None:
    """cachefrom's images as (history's created_by list, diff_ids, history entries, layer
    descriptors), those that exist (dockerd skips a name it cannot find); None when none was asked
    (every cached step may be used)."""
    if not names:
        return None
    from dockyard.errors import ImageNotFound

    out = []
    for name in names:
        try:
            rec = engine.images.resolve(name)
            full = engine.images.config(rec)
        except (ImageNotFound, InvalidArgument):
            continue
        history = list(full.get("history") or ())
        out.append(([h.get("created_by", "") for h in history],
                    list((full.get("rootfs") or {}).get("diff_ids") or ()), history,
                    list(engine.images.manifest(rec).get("layers") or ())))
    return out


def run(engine, context: str, opts: dict, out, on_image=None) -> str:
    """Build the unpacked `context` with `opts` (from `options`), tag the image; its id.
    `on_image(id)` is called as soon as the image exists (dockerd's aux message comes first)."""
    from dockyard.builder.build import Builder
    from dockyard.builder.copier import read_inside
    from dockyard.oci import reference

    name = opts["dockerfile"]
    try:
        data = read_inside(context, name)
    except OSError as e:
        raise InvalidArgument(f"Cannot locate specified Dockerfile: {name}: {e.strerror}") from None
    if data is None:
        raise InvalidArgument(f"Cannot locate specified Dockerfile: {name}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument(f"the Dockerfile {name} is not UTF-8 text") from None
    b = Builder(engine, context=context, dockerfile_text=text, dockerfile_name=name.rpartition("/")[2],
                build_args=opts["build_args"], target=opts["target"], no_cache=opts["no_cache"],
                labels=opts["labels"], network=opts["network"], out=out, quiet=opts["quiet"], progress="plain",
                keep_containers=opts.get("keep_containers", False), extra_hosts=opts.get("extra_hosts") or (),
                shm_size=opts.get("shm_size") or 0, cache_from=cache_sources(engine, opts.get("cache_from")))
    image_id = b.build()
    if on_image is not None:
        on_image(image_id)
    if not opts["quiet"]:
        out.write(f"Successfully built {image_id.removeprefix('sha256:')[:12]}\n")
    for t in opts["tags"]:
        engine.images.tag(image_id, t)
        if not opts["quiet"]:
            out.write(f"Successfully tagged {reference.parse(t).familiar()}\n")
    return image_id
