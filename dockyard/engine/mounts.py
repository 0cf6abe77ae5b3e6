"""A container's mounts: docker's `-v`, `--mount`, `--tmpfs`, `--volumes-from` and image VOLUMEs.

Each mount is a plain dict (JSON form, stored in `ContainerConfig.mounts`):

    type         bind | volume | tmpfs (| volumes-from, only until `resolve`)
    source       bind: host path; volume: its name ("" = anonymous, until `resolve`); tmpfs: ""
    target       absolute, cleaned path in the container
    readonly     bool
    origin       v (-v), mount (--mount), tmpfs (--tmpfs), image (VOLUME), volumes-from
    and, when they apply: mode (-v's third field, shown by inspect), spec (the -v text, HostConfig.Binds),
    propagation, nonrecursive, readonly_nonrecursive / readonly_force_recursive (BindOptions'
    ReadOnlyNonRecursive / ReadOnlyForceRecursive: a read-only bind is otherwise read-only below
    too where the kernel can), create (-v of a missing host path makes it), nocopy, anonymous,
    tmpfs (tmpfs options), labels/options/driver (--mount volume-*: used if the volume is created),
    device (a local volume made with -o type=/device=/o=: mounted instead of its _data)

Parsing (`parse_flags`) is pure and happens in the CLI, so bad input fails before anything is
made. `resolve` (at create time) expands `--volumes-from`, adds the image's VOLUMEs and names
anonymous volumes; the config stores the result, so `start` of an existing container mounts the
same volumes and never makes new ones. `oci_mounts` turns the stored mounts into spec mounts.
"""

from __future__ import annotations

import os
import posixpath

from dockyard.errors import InvalidArgument

_RW = {"rw", "ro"}
_LABEL = {"z", "Z"}
_CONSISTENCY = {"consistent", "cached", "delegated"}
PROPAGATION = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_COPY = {"nocopy"}
# tmpfs: mount flags (grouped: the later of ro/rw etc. wins) and the data options docker accepts
_TMPFS_FLAGS = {"ro": "ro", "rw": "ro", "suid": "suid", "nosuid": "suid", "dev": "dev", "nodev": "dev",
                "exec": "exec", "noexec": "exec", "sync": "sync", "async": "sync", "dirsync": "dirsync",
                "mand": "mand", "nomand": "mand", "atime": "atime", "noatime": "atime", "diratime": "diratime",
                "nodiratime": "diratime", "relatime": "relatime", "norelatime": "relatime",
                "strictatime": "strictatime", "nostrictatime": "strictatime",
                **{p: "propagation" for p in PROPAGATION}}
_TMPFS_DATA = {"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol", "huge"}
TMPFS_DEFAULTS = ("noexec", "nosuid", "nodev", "rprivate")  # docker's, before the user's options


# -- parsing: docker's rules (moby volume/mounts/linux_parser.go, docker/cli opts/mount.go) -------------

def parse_flags(volumes=(), mounts=(), tmpfs=(), volumes_from=()) -> tuple:
    """`-v`, `--mount`, `--tmpfs`, `--volumes-from` values → mount dicts; duplicates refused."""
    return parse_request(volumes, [parse_mount(m) for m in mounts], tmpfs, volumes_from)


def parse_request(binds=(), mounts=(), tmpfs=(), volumes_from=()) -> tuple:
    """A create request's Binds (`-v` texts), Mounts (already mount dicts, see `mount_from_api`),
    Tmpfs (`TARGET[:OPTIONS]` texts) and VolumesFrom → mount dicts; duplicates refused."""
    out = [parse_volume(v) for v in binds] + list(mounts) + [parse_tmpfs(t) for t in tmpfs]
    seen: set[str] = set()
    for m in out:
        if m["target"] in seen:
            raise InvalidArgument(f"Duplicate mount point: {m['target']}")
        seen.add(m["target"])
    return tuple(parse_volumes_from(v) for v in volumes_from) + tuple(out)


def _valid_mode(mode: str) -> bool:
    if not mode:
        return True
    counts = {"rw": 0, "label": 0, "propagation": 0, "copy": 0}
    for o in mode.split(","):
        kind = ("rw" if o in _RW else "label" if o in _LABEL else "propagation" if o in PROPAGATION
                else "copy" if o in _COPY else "consistency" if o in _CONSISTENCY else None)
        if kind is None:
            return False
        if kind in counts:
            counts[kind] += 1
            if counts[kind] > 1:
                return False
    return True


def parse_volume(spec: str) -> dict:
    """`-v [SOURCE:]TARGET[:MODE]`: SOURCE absolute → a bind mount, else a volume's name."""
    parts = spec.split(":")
    bad = InvalidArgument(f"invalid volume specification: '{spec}'")
    if not parts[0]:
        raise bad
    if len(parts) == 1:
        source, target, mode = "", parts[0], ""
    elif len(parts) == 2:
        if _valid_mode(parts[1]):  # "/foo:rw": a mode needs a source (volumes can't be given one alone)
            raise bad
        source, target, mode = parts[0], parts[1], ""
    elif len(parts) == 3:
        source, target, mode = parts
    else:
        raise bad
    if not _valid_mode(mode):
        raise InvalidArgument(f"invalid mode: {mode}")
    opts = mode.split(",") if mode else []
    kind = "bind" if source.startswith("/") else "volume"
    m = {"type": kind, "source": source, "target": target, "readonly": "ro" in opts, "origin": "v",
         "mode": mode, "spec": spec}
    prop = [o for o in opts if o in PROPAGATION]
    try:
        if kind == "bind":
            if "nocopy" in opts:
                raise _MountError(kind, "field VolumeOptions must not be specified")
            m["propagation"] = prop[0] if prop else ""
            m["create"] = True  # docker's legacy: -v makes a missing host directory
        else:
            if prop:
                raise _MountError(kind, "field BindOptions must not be specified")
            m["nocopy"] = "nocopy" in opts
            m["anonymous"] = not source
        _check(m)
    except _MountError as e:
        raise InvalidArgument(f"invalid volume specification: '{spec}': {e}") from None
    return m


class _MountError(Exception):
    def __init__(self, kind: str, msg: str) -> None:
        super().__init__(f'invalid mount config for type "{kind}": {msg}')


def _check(m: dict, *, bind_must_exist: bool = False) -> None:
    """moby's validateMountConfig (raises _MountError) plus the volume name rule."""
    kind, target = m["type"], m["target"]
    if not target:
        raise _MountError(kind, "field Target must not be empty")
    if not target.startswith("/"):
        raise _MountError(kind, f"invalid mount path: '{target}' mount path must be absolute")
    m["target"] = target = posixpath.normpath(target).replace("//", "/")
    if target == "/":
        raise _MountError(kind, "invalid specification: destination can't be '/'")
    from dockyard.runtime.paths import proc_mount_refused

    why = proc_mount_refused(target, kind)
    if why:
        raise _MountError(kind, why)
    if kind == "bind":
        if not m["source"]:
            raise _MountError(kind, "field Source must not be empty")
        if not m["source"].startswith("/"):
            raise _MountError(kind, f"invalid mount path: '{m['source']}' mount path must be absolute")
        if m.get("propagation") and m["propagation"] not in PROPAGATION:
            raise _MountError(kind, f"invalid propagation mode: {m['propagation']}")
        if bind_must_exist and not os.path.exists(m["source"]):
            raise _MountError(kind, f"bind source path does not exist: {m['source']}")
    elif kind == "volume":
        if m["readonly"] and not m["source"]:
            raise _MountError(kind, "must not set ReadOnly mode when using anonymous volumes")
        if m["source"]:
            from dockyard.engine.volumes import validate_name

            validate_name(m["source"])
    elif kind == "tmpfs":
        if m["source"]:
            raise _MountError(kind, "field Source must not be specified")
    else:
        raise _MountError(kind, "mount type unknown")


def _csv_fields(value: str) -> list[str]:
    """One CSV record (docker reads --mount with encoding/csv): commas split, "quotes" protect."""
    fields, cur, quoted, i = [], [], False, 0
    while i < len(value):
        c = value[i]
        if quoted:
            if c == '"' and value[i + 1:i + 2] == '"':
                cur.append('"')
                i += 1
            elif c == '"':
                quoted = False
            else:
                cur.append(c)
        elif c == '"':
            quoted = True
        elif c == ",":
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    if quoted:
        raise ValueError('extraneous or missing " in quoted-field')
    fields.append("".join(cur))
    return fields


def _bool(key: str, val: str) -> bool:
    v = val.lower()
    if v in ("1", "t", "true"):
        return True
    if v in ("0", "f", "false"):
        return False
    raise ValueError(f"invalid value for {key}: {val}")


def parse_mount(value: str) -> dict:
    """`--mount type=bind|volume|tmpfs,source=…,target=…,readonly,…` (docker's keys) → a mount dict."""
    return mount_from_api(mount_request(value))


def mount_request(value: str) -> dict:
    """The CLI's half of `--mount` (docker/cli opts/mount.go): the CSV → an Engine API Mount object."""
    try:
        return _mount_request(value)
    except ValueError as e:
        raise InvalidArgument(f'invalid argument "{value}" for "--mount" flag: {e}') from None


def _mount_request(value: str) -> dict:
    d = {"Type": "volume", "Source": "", "Target": ""}
    volume_opts: dict = {}
    bind_opts: dict = {}
    tmpfs_opts: dict = {}
    for field in _csv_fields(value):
        key, eq, val = field.partition("=")
        key = key.lower()
        if not eq:
            if key in ("readonly", "ro"):
                d["ReadOnly"] = True
            elif key == "volume-nocopy":
                volume_opts["NoCopy"] = True
            elif key == "bind-nonrecursive":
                bind_opts["NonRecursive"] = True
            else:
                raise ValueError(f"invalid field '{field}' must be a key=value pair")
            continue
        if key == "type":
            d["Type"] = val.lower()
        elif key in ("source", "src"):
            d["Source"] = os.path.abspath(val) if val == "." or val.startswith("./") else val
        elif key in ("target", "dst", "destination"):
            d["Target"] = val
        elif key in ("readonly", "ro"):
            d["ReadOnly"] = _bool(key, val)
        elif key == "consistency":
            if val.lower() not in _CONSISTENCY | {"default"}:
                raise ValueError(f"invalid value for {key}: {val}")
            d["Consistency"] = val.lower()
        elif key == "bind-propagation":
            bind_opts["Propagation"] = val.lower()
        elif key == "bind-nonrecursive":
            bind_opts["NonRecursive"] = _bool(key, val)
        elif key == "bind-recursive":  # docker CLI 25+
            try:  # a boolean is an alias of enabled/disabled
                word = "enabled" if _bool(key, val) else "disabled"
            except ValueError:
                word = val
            if word == "disabled":
                bind_opts["NonRecursive"] = True
            elif word == "writable":
                bind_opts["ReadOnlyNonRecursive"] = True
            elif word == "readonly":
                bind_opts["ReadOnlyForceRecursive"] = True
            elif word != "enabled":
                raise ValueError(f'invalid value for {key}: {val} (must be "enabled", "disabled", "writable", '
                                 'or "readonly")')
        elif key == "volume-driver":
            volume_opts.setdefault("DriverConfig", {})["Name"] = val
        elif key == "volume-nocopy":
            volume_opts["NoCopy"] = _bool(key, val)
        elif key == "volume-label":
            k, _, v = val.partition("=")
            volume_opts.setdefault("Labels", {})[k] = v
        elif key == "volume-opt":
            k, _, v = val.partition("=")
            volume_opts.setdefault("DriverConfig", {}).setdefault("Options", {})[k] = v
        elif key == "tmpfs-size":
            tmpfs_opts["SizeBytes"] = _ram_in_bytes(key, val)
        elif key == "tmpfs-mode":
            try:
                tmpfs_opts["Mode"] = int(val, 8)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {val}") from None
        elif key == "volume-subpath":
            raise ValueError("volume-subpath is not supported by dockyard")
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")
    if not d["Target"]:
        raise ValueError("target is required")
    for prefix, opts, kind_ok in (("volume", volume_opts, "volume"), ("bind", bind_opts, "bind"),
                                  ("tmpfs", tmpfs_opts, "tmpfs")):
        if opts and d["Type"] != kind_ok:
            raise ValueError(f"cannot mix '{prefix}-*' options with mount type '{d['Type']}'")
    for key, opts in (("VolumeOptions", volume_opts), ("BindOptions", bind_opts), ("TmpfsOptions", tmpfs_opts)):
        if opts:
            d[key] = opts
    return d


def mount_from_api(d: dict) -> dict:
    """The engine's half: an Engine API Mount object → a checked mount dict (moby's validateMountConfig)."""
    from dockyard.engine.config import json_field, json_string_map

    w = "HostConfig.Mounts[]."
    kind = json_field(d, "Type", str, w, "")
    m = {"type": kind, "source": json_field(d, "Source", str, w, ""), "target": json_field(d, "Target", str, w, ""),
         "readonly": json_field(d, "ReadOnly", bool, w, False), "origin": "mount"}
    if json_field(d, "Consistency", str, w, "") not in _CONSISTENCY | {"default", ""}:
        raise InvalidArgument(f"invalid {w}Consistency: {d['Consistency']}")
    given = {}
    for key, opt_kind in (("BindOptions", "bind"), ("VolumeOptions", "volume"), ("TmpfsOptions", "tmpfs")):
        given[opt_kind] = json_field(d, key, dict, w, None)
        if given[opt_kind] is not None and kind != opt_kind:
            raise InvalidArgument(str(_MountError(kind, f"field {key} must not be specified")))
    if kind == "bind":
        bind = given["bind"] or {}
        m["propagation"] = json_field(bind, "Propagation", str, w + "BindOptions.", "").lower()
        if json_field(bind, "NonRecursive", bool, w + "BindOptions.", False):
            m["nonrecursive"] = True
        _recursive_readonly(m, bind, w + "BindOptions.")
    elif kind == "volume":
        vol = given["volume"] or {}
        if json_field(vol, "Subpath", str, w + "VolumeOptions.", ""):  # moby: API 1.45's; the CLI refuses it too
            raise InvalidArgument("VolumeOptions.Subpath is not supported by dockyard (it needs API v1.45 or newer; "
                                  "dockyard serves v1.44)")
        m["nocopy"] = json_field(vol, "NoCopy", bool, w + "VolumeOptions.", False)
        m["anonymous"] = not m["source"]
        driver = json_field(vol, "DriverConfig", dict, w + "VolumeOptions.", None)
        if driver is not None and "Name" in driver:
            m["driver"] = json_field(driver, "Name", str, w + "VolumeOptions.DriverConfig.", "")
        if "Labels" in vol:
            m["labels"] = json_string_map(vol, "Labels", w + "VolumeOptions.")
        if driver is not None and "Options" in driver:
            m["options"] = json_string_map(driver, "Options", w + "VolumeOptions.DriverConfig.")
        from dockyard.engine.volumes import check_driver

        check_driver(m["source"], m.get("driver") or "local", m.get("options"))
    elif kind == "tmpfs":
        tmp = given["tmpfs"] or {}
        size = json_field(tmp, "SizeBytes", int, w + "TmpfsOptions.", 0)
        mode = json_field(tmp, "Mode", int, w + "TmpfsOptions.", 0)
        if size < 0 or mode < 0:
            raise InvalidArgument(str(_MountError(kind, "TmpfsOptions must not be negative")))
        m["tmpfs"] = (["ro"] if m["readonly"] else []) + ([f"size={_size_suffix(size)}"] if size else []) + \
            ([f"mode={mode:o}"] if "Mode" in tmp else [])
    try:
        _check(m, bind_must_exist=True)
    except _MountError as e:
        raise InvalidArgument(str(e)) from None
    return m


def _recursive_readonly(m: dict, bind: dict, where: str) -> None:
    """BindOptions.ReadOnlyNonRecursive (only the top read-only: dockerd 24's `ro`) and
    ReadOnlyForceRecursive (every mount below read-only, or an error), checked as moby's
    validateMountConfig checks them."""
    from dockyard.engine.config import json_field

    def refuse(why: str) -> None:
        raise InvalidArgument(str(_MountError("bind", why)))

    if json_field(bind, "ReadOnlyNonRecursive", bool, where, False):
        if not m["readonly"]:
            refuse("option ReadOnlyNonRecursive requires ReadOnly")
        m["readonly_nonrecursive"] = True
    if json_field(bind, "ReadOnlyForceRecursive", bool, where, False):
        if not m["readonly"]:
            refuse("option ReadOnlyForceRecursive requires ReadOnly")
        if m.get("readonly_nonrecursive"):
            refuse("option ReadOnlyForceRecursive conflicts with ReadOnlyNonRecursive")
        if m.get("nonrecursive"):
            refuse("option ReadOnlyForceRecursive conflicts with NonRecursive")
        if m["propagation"] not in ("", "rprivate"):
            refuse("option ReadOnlyForceRecursive requires Propagation to be rprivate")
        if not recursive_readonly_supported():
            refuse("option ReadOnlyForceRecursive needs Linux 5.12 or later (mount_setattr)")
        m["readonly_force_recursive"] = True


def _ram_in_bytes(key: str, val: str) -> int:
    """go-units RAMInBytes, as docker reads tmpfs-size."""
    from dockyard.units import SizeError, ram_in_bytes

    try:
        return ram_in_bytes(val)
    except SizeError as e:
        raise ValueError(f"invalid value for {key}: {val}: {e}") from None


def _size_suffix(size: int) -> str:
    """moby's ConvertTmpfsOptions: the largest of g/m/k that divides the size evenly."""
    for suffix, div in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if size and size % div == 0:
            return f"{size // div}{suffix}"
    return str(size)


def parse_tmpfs(value: str) -> dict:
    """`--tmpfs TARGET[:OPTIONS]` (options as mount(8) takes them, e.g. rw,size=64m,mode=1777)."""
    target, _, data = value.partition(":")
    opts = [o for o in data.split(",") if o] if data else []
    merge_tmpfs_options(list(TMPFS_DEFAULTS) + opts)  # refuses what docker refuses
    m = {"type": "tmpfs", "source": "", "target": target, "readonly": "ro" in merge_tmpfs_options(opts),
         "origin": "tmpfs", "tmpfs": opts}
    try:
        _check(m)
    except _MountError as e:
        raise InvalidArgument(str(e)) from None
    return m


def merge_tmpfs_options(options: list[str]) -> list[str]:
    """moby's MergeTmpfsOptions: the last of each flag group (ro/rw, exec/noexec…) and of each
    key=value option wins; unknown options are refused."""
    seen: set[str] = set()
    out: list[str] = []
    for o in reversed(options):
        if o == "defaults":
            continue
        key = _TMPFS_FLAGS.get(o)
        if key is None:
            k, eq, _ = o.partition("=")
            if not eq or k not in _TMPFS_DATA:
                raise InvalidArgument(f'Invalid tmpfs option ["{k}"' + (f' "{o[len(k) + 1:]}"]' if eq else "]"))
            key = "=" + k
            _check_tmpfs_number(k, o[len(k) + 1:])
        if key not in seen:
            seen.add(key)
            out.insert(0, o)
    return out


def _check_tmpfs_number(key: str, val: str) -> None:
    """The kernel's grammar (memparse) for tmpfs' numbers, checked now so `start` cannot fail on it:
    digits with an optional k/m/g/t/p/e suffix; `size` may be a percentage; mode is octal, ids decimal."""
    digits = val.isascii() and val.isdigit()
    if key in ("size", "nr_blocks", "nr_inodes"):
        num = val[:-1] if val[-1:].lower() in ("k", "m", "g", "t", "p", "e") or (key == "size" and val[-1:] == "%") \
            else val
        ok = num.isascii() and num.isdigit()
    elif key == "mode":
        ok = val.isascii() and len(val) > 0 and all(c in "01234567" for c in val) and int(val, 8) <= 0o7777
    elif key in ("uid", "gid"):
        ok = digits and int(val) < 1 << 32
    else:
        return
    if not ok:
        raise InvalidArgument(f"invalid tmpfs option {key}={val}: not a valid number for tmpfs")


def parse_volumes_from(value: str) -> dict:
    """`--volumes-from CONTAINER[:ro|:rw]`: expanded by `resolve` into that container's mounts."""
    ref, _, mode = value.partition(":")
    if mode not in ("", "ro", "rw") or not ref:
        raise InvalidArgument(f"invalid mode: {mode}" if ref else f"invalid volumes-from spec: '{value}'")
    return {"type": "volumes-from", "source": ref, "target": "", "readonly": mode == "ro", "mode": mode,
            "origin": "volumes-from"}


# -- at create time ----------------------------------------------------------------------------------

def resolve(engine, requested, image_cfg: dict, *, image_volumes: bool = True) -> tuple:
    """The mounts a new container gets, in docker's order of precedence: `--volumes-from` first,
    then the user's mounts (replacing one at the same target), then an anonymous volume for each
    image VOLUME no mount covers. Anonymous volumes get their 64-hex names here."""
    by_target: dict[str, dict] = {}
    for req in requested:
        if req["type"] != "volumes-from":
            continue
        other = engine.db.get_container(req["source"])
        for m in other.config.get("mounts") or ():
            if m["type"] == "tmpfs":
                continue
            m = dict(m, origin="volumes-from")
            if req["mode"]:
                m["readonly"] = req["readonly"]
                m["mode"] = req["mode"]
            by_target[m["target"]] = m
    for m in requested:
        if m["type"] != "volumes-from":
            by_target[m["target"]] = dict(m)
    if image_volumes:
        for path in (image_cfg.get("Volumes") or {}):
            target = posixpath.normpath("/" + path.strip()).replace("//", "/")
            if target != "/" and target not in by_target:
                by_target[target] = {"type": "volume", "source": "", "target": target, "readonly": False,
                                     "origin": "image", "nocopy": False, "anonymous": True}
    out = []
    for m in by_target.values():
        if m["type"] == "volume":
            if not m["source"]:
                m["source"] = os.urandom(32).hex()
            options = m.get("options")  # --mount volume-opt: used if the volume is made now
            if m["origin"] != "volumes-from":
                from dockyard.state.volumes import get_volume

                vol = get_volume(engine.db, m["source"])
                options = vol.options if vol is not None else options
                m.pop("device", None)
                if options:
                    m["device"] = dict(options)  # a local volume with -o type/device/o: mounted as given
        out.append(m)
    return tuple(out)


def insert_with_volumes(engine, rec, mounts) -> list[str]:
    """Insert the container record and make the volumes its mounts name that do not exist yet, in
    one transaction: a concurrent `volume rm` either runs first or sees the volume in use.
    Returns the names of the volumes made (removed again if the container's creation fails)."""
    from dockyard.engine import volumes

    made: list[str] = []
    try:
        with engine.db.transaction():
            for m in mounts:
                if m["type"] != "volume":
                    continue
                vol, created = volumes.create(engine, m["source"], driver=m.get("driver") or "local",
                                              labels=m.get("labels"), options=m.get("options"),
                                              anonymous=bool(m.get("anonymous")))
                if created:
                    made.append(vol.name)
            engine.db.insert_container(rec)
    except BaseException:
        volumes.remove_dirs(engine, made)
        raise
    return made


def oci_mounts(engine, mounts) -> list[dict]:
    """The stored mounts as OCI spec mounts, parents before children (docker sorts them so)."""
    from dockyard.engine.volumes import mountpoint

    out = []
    for m in sorted(mounts, key=lambda m: m["target"].count("/")):
        kind, ro = m["type"], ["ro"] if m.get("readonly") else []
        if kind == "tmpfs":
            opts = merge_tmpfs_options(list(TMPFS_DEFAULTS) + list(m.get("tmpfs") or ()) + ro)
            out.append({"destination": m["target"], "type": "tmpfs", "source": "tmpfs", "options": opts})
            continue
        if kind == "volume" and m.get("device"):  # local driver -o type=,device=,o=
            dev = m["device"]
            opts = [o for o in (dev.get("o") or "").split(",") if o] + ro
            out.append({"destination": m["target"], "type": dev.get("type") or "none",
                        "source": dev.get("device") or "none", "options": opts})
            continue
        if kind == "volume":
            source = mountpoint(engine, m["source"])
        else:
            source = m["source"]
            if m.get("create") and not os.path.lexists(source):
                os.makedirs(source, mode=0o755, exist_ok=True)  # docker's -v legacy: make it
        opts = ["bind" if m.get("nonrecursive") else "rbind", m.get("propagation") or "rprivate"] + ro
        if ro and not m.get("nonrecursive") and not m.get("readonly_nonrecursive") and \
                (m.get("readonly_force_recursive") or recursive_readonly_supported()):
            opts.append("rro")  # dockerd ≥ 25: the mounts below a read-only bind are read-only too
        out.append({"destination": m["target"], "type": "bind", "source": source, "options": opts})
    return out


def recursive_readonly_supported() -> bool:
    """Whether the kernel has mount_setattr(2) (5.12), which recursively read-only binds need."""
    try:
        major, minor = (int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 12)


def mounts_json(engine, mounts) -> list[dict]:
    """docker inspect's "Mounts" (a --tmpfs is not listed there: docker shows it in HostConfig.Tmpfs)."""
    from dockyard.engine.volumes import mountpoint

    out = []
    for m in mounts or ():
        kind = m["type"]
        if m.get("origin") == "tmpfs":
            continue
        rw = not m.get("readonly")
        if kind == "volume":
            out.append({"Type": "volume", "Name": m["source"], "Source": mountpoint(engine, m["source"]),
                        "Destination": m["target"], "Driver": m.get("driver") or "local", "Mode": m.get("mode", ""),
                        "RW": rw, "Propagation": ""})
        elif kind == "bind":
            out.append({"Type": "bind", "Source": m["source"], "Destination": m["target"], "Mode": m.get("mode", ""),
                        "RW": rw, "Propagation": m.get("propagation") or "rprivate"})
        else:
            out.append({"Type": kind, "Source": "", "Destination": m["target"], "Mode": "", "RW": rw,
                        "Propagation": ""})
    return out


def host_config(mounts) -> dict:
    """docker inspect's HostConfig.Binds / Mounts / Tmpfs from the stored mounts."""
    binds = [m["spec"] for m in mounts or () if m.get("origin") == "v"]
    tmpfs = {m["target"]: ",".join(m.get("tmpfs") or ()) for m in mounts or () if m.get("origin") == "tmpfs"}
    api = []
    for m in mounts or ():
        if m.get("origin") == "mount":
            d = {"Type": m["type"], "Source": m["source"] if not m.get("anonymous") else "", "Target": m["target"]}
            if m.get("readonly"):
                d["ReadOnly"] = True
            api.append(d)
    return {"Binds": binds or None, "Mounts": api or None, **({"Tmpfs": tmpfs} if tmpfs else {})}
