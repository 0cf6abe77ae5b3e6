"""One Compose file into the model being built, in compose-go's order: parse, interpolate (with the
type casts of numbers and booleans compose-go applies), ``include``, ``extends``, merge over the
files before it, validate, canonical form. Also the relative-path resolution and the ``x-`` casts.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable

from dockyard.compose import canonical, interpolate, merge, schema, yamlio
from dockyard.compose.dotenv import read_file as read_env_file
from dockyard.errors import InvalidArgument, NotFound

Warn = Callable[[str], None]


class Ctx:
    """What loading one file needs: the interpolation environment, switches and the warn hook."""

    def __init__(self, env: dict, *, interpolate: bool = True, warn: Warn | None = None,
                 validate: bool = True, workdir: str = "") -> None:
        self.env = env
        self.interpolate = interpolate
        self.warn = warn or (lambda msg: None)
        self.validate = validate
        self.workdir = workdir

    def child(self, env: dict | None = None, **kw) -> Ctx:
        c = Ctx(self.env if env is None else env, interpolate=self.interpolate, warn=self.warn,
                validate=self.validate, workdir=self.workdir)
        for k, v in kw.items():
            setattr(c, k, v)
        return c


# ---- interpolation casts (compose-go's interpolateTypeCastMapping)

def _to_bool(v: str, where: str, warn: Warn):
    low = v.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("y", "yes", "on", "n", "no", "off"):
        val = low in ("y", "yes", "on")
        warn(f'"{v}" for boolean is not supported by YAML 1.2, please use `{str(val).lower()}`')
        return val
    raise InvalidArgument(f"failed to cast to expected type: invalid boolean: {v}")


def _to_int(v: str, where: str, warn: Warn):
    try:
        return int(v, 10)
    except ValueError:
        raise InvalidArgument(f'failed to cast to expected type: strconv.Atoi: parsing "{v}": invalid syntax') from None


def _to_float(v: str, where: str, warn: Warn):
    try:
        return float(v)
    except ValueError:
        raise InvalidArgument(f'failed to cast to expected type: strconv.ParseFloat: parsing "{v}": invalid syntax') from None


_SVC_CASTS = {
    ("cpu_count",): _to_int, ("cpu_percent",): _to_float, ("cpu_period",): _to_int, ("cpu_quota",): _to_int,
    ("cpu_rt_period",): _to_int, ("cpu_rt_runtime",): _to_int, ("cpus",): _to_float, ("cpu_shares",): _to_int,
    ("init",): _to_bool, ("depends_on", "*", "required"): _to_bool, ("depends_on", "*", "restart"): _to_bool,
    ("deploy", "replicas"): _to_int, ("deploy", "update_config", "parallelism"): _to_int,
    ("deploy", "update_config", "max_failure_ratio"): _to_float,
    ("deploy", "rollback_config", "parallelism"): _to_int,
    ("deploy", "rollback_config", "max_failure_ratio"): _to_float,
    ("deploy", "restart_policy", "max_attempts"): _to_int,
    ("deploy", "placement", "max_replicas_per_node"): _to_int,
    ("healthcheck", "retries"): _to_int, ("healthcheck", "disable"): _to_bool,
    ("oom_kill_disable",): _to_bool, ("oom_score_adj",): _to_int, ("pids_limit",): _to_int,
    ("ports", "[]", "target"): _to_int, ("privileged",): _to_bool, ("read_only",): _to_bool,
    ("scale",): _to_int, ("stdin_open",): _to_bool, ("tty",): _to_bool, ("ulimits", "*"): _to_int,
    ("ulimits", "*", "hard"): _to_int, ("ulimits", "*", "soft"): _to_int,
    ("volumes", "[]", "read_only"): _to_bool, ("volumes", "[]", "volume", "nocopy"): _to_bool,
}
_TOP_CASTS = {("networks", "*", k): _to_bool for k in ("external", "internal", "attachable", "enable_ipv4",
                                                       "enable_ipv6")}
_TOP_CASTS.update({(kind, "*", "external"): _to_bool for kind in ("volumes", "secrets", "configs")})


def _cast_for(path: tuple):
    if len(path) >= 3 and path[0] == "services":
        rest = path[2:]
        for pat, fn in _SVC_CASTS.items():
            if len(pat) == len(rest) and all(p == "*" and not isinstance(k, int) or p == "[]" and isinstance(k, int)
                                             or p == k for p, k in zip(pat, rest)):
                return fn
        return None
    for pat, fn in _TOP_CASTS.items():
        if len(pat) == len(path) and all(p == "*" or p == k for p, k in zip(pat, path)):
            return fn
    return None


def interpolate_model(node, ctx: Ctx, path: tuple = ()):
    if isinstance(node, str):
        where = _dotted(path)
        out = interpolate.substitute(node, ctx.env, where=where, warn=ctx.warn)
        fn = _cast_for(path)
        if fn is not None:
            try:
                return fn(out, where, ctx.warn)
            except InvalidArgument as e:
                raise InvalidArgument(f"error while interpolating {where}: {e}") from None
        return out
    if isinstance(node, dict):
        return {k: interpolate_model(v, ctx, path + (k,)) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate_model(v, ctx, path + (n,)) for n, v in enumerate(node)]
    if isinstance(node, yamlio.Override):
        return yamlio.Override(interpolate_model(node.value, ctx, path))
    return node


def _dotted(path: tuple) -> str:
    out = ""
    for k in path:
        out += ".[]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return out


# ---- one file

_STDIN: list[str] = []


def read_text(filename: str) -> str:
    """A Compose file's text; ``-`` is standard input (read once, as `-f -` does)."""
    if filename == "-":
        if not _STDIN:
            import sys

            _STDIN.append(sys.stdin.read())
        return _STDIN[0]
    try:
        with open(filename, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise NotFound(f"open {filename}: no such file or directory") from None
    except IsADirectoryError:
        raise InvalidArgument(f"read {filename}: is a directory") from None
    except UnicodeDecodeError:
        raise InvalidArgument(f"failed to parse {filename}: not UTF-8 text") from None


def load_file(filename: str, model: dict, ctx: Ctx, *, working_dir: str, included: list[str],
              skip_include: bool = False, skip_extends: bool = False, tracker: list | None = None,
              validate: bool | None = None) -> dict:
    """Merge the documents of ``filename`` into ``model``; returns the model."""
    validate = ctx.validate if validate is None else validate
    text = read_text(filename)
    for doc in yamlio.load_documents(text, filename):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise InvalidArgument(f"{filename}: top-level object must be a mapping")
        yamlio.check_keys(doc)
        cfg = interpolate_model(doc, ctx) if ctx.interpolate else doc
        if not skip_include and "include" in cfg:
            apply_include(cfg, ctx, working_dir=working_dir, included=included + [filename], filename=filename)
        if not skip_extends:
            apply_extends(cfg, ctx, filename=filename, tracker=tracker or [], working_dir=working_dir)
        model = merge.merge_file(model, cfg)
        model = canonical.enforce_unicity(model)
        if validate:
            schema.validate(model, filename)
            if "version" in model:
                ctx.warn(f"{filename}: the attribute `version` is obsolete, it will be ignored, "
                         "please remove it to avoid potential confusion")
                del model["version"]
        canonical.canonical(model, ctx.warn, lenient=not ctx.interpolate)
        model = canonical.enforce_unicity(model)
    return model


# ---- include

def apply_include(cfg: dict, ctx: Ctx, *, working_dir: str, included: list[str], filename: str) -> None:
    entries = cfg.pop("include") or []
    if not isinstance(entries, list):
        raise InvalidArgument(f"{filename}: include must be a list")
    for n, entry in enumerate(entries):
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict) or "path" not in entry:
            raise InvalidArgument(f"{filename}: include.{n}: path is required")
        paths = entry["path"] if isinstance(entry["path"], list) else [entry["path"]]
        paths = [p if os.path.isabs(p) else os.path.join(working_dir, p) for p in map(_expand_user, paths)]
        pdir = entry.get("project_directory")
        if not pdir:
            pdir = os.path.dirname(paths[0])
        elif not os.path.isabs(pdir):
            pdir = os.path.join(working_dir, pdir)
        if paths[0] in included:
            chain = "\n include ".join(included[1:] + [paths[0]])
            raise InvalidArgument(f"include cycle detected:\n{included[0]}\n include {chain}")
        env_files = entry.get("env_file")
        if env_files is None:
            dot = os.path.join(pdir, ".env")
            env_files = [dot] if os.path.isfile(dot) else []
        else:
            env_files = [env_files] if isinstance(env_files, str) else env_files
            resolved = []
            for f in env_files:
                if f == "/dev/null":
                    continue
                if not os.path.isabs(f):
                    f = os.path.join(working_dir, f)
                    if not os.path.exists(f):
                        raise NotFound(f"stat {f}: no such file or directory")
                    if os.path.isdir(f):
                        raise InvalidArgument(f"{f} is not a file")
                resolved.append(f)
            env_files = resolved
        from_files: dict = {}
        for f in env_files:
            from_files.update(read_env_file(f, lambda k: ctx.env.get(k, from_files.get(k))))
        env = dict(ctx.env)
        for k, v in from_files.items():
            env.setdefault(k, v)
        sub = ctx.child(env)
        imported: dict = {}
        for p in paths:
            imported = load_file(p, imported, sub, working_dir=pdir, included=included)
        canonical.set_defaults(imported)
        resolve_paths(imported, _relative_dir(pdir, working_dir))
        for kind in ("services", "volumes", "networks", "secrets", "configs", "models"):
            src = imported.get(kind)
            if not src:
                continue
            dst = cfg.get(kind) or {}
            for name, res in src.items():
                if name not in dst:
                    dst[name] = res
                else:
                    merge.apply_resets(res, dst[name])
                    dst[name] = merge.merge(res, merge.strip_tags(dst[name]), (kind, name))
            cfg[kind] = dst


def _expand_user(p: str) -> str:
    return os.path.expanduser(p) if p.startswith("~") else p


# ---- extends

def apply_extends(cfg: dict, ctx: Ctx, *, filename: str, tracker: list, working_dir: str) -> None:
    services = cfg.get("services")
    if services is None:
        return
    if not isinstance(services, dict):
        raise InvalidArgument("services must be a mapping")
    for name in list(services):
        services[name] = _extend_one(name, services, ctx, filename, tracker, working_dir)


def _relative_dir(path: str, base: str) -> str:
    """``path`` relative to ``base`` (compose-go resolves a loaded file's paths against its directory
    as seen from the project's, so they stay relative until the last step makes them absolute)."""
    try:
        return os.path.relpath(path, base) if base else path
    except ValueError:
        return path


def _extend_one(name: str, services: dict, ctx: Ctx, filename: str, tracker: list, working_dir: str):
    svc = services.get(name)
    if svc is None:
        return None
    if not isinstance(svc, dict):
        raise InvalidArgument(f"services.{name} must be a mapping")
    ext = svc.get("extends")
    if ext is None:
        return svc
    ref_file = None
    if isinstance(ext, str):
        ref = ext
    elif isinstance(ext, dict):
        ref = ext.get("service")
        if not isinstance(ref, str):
            raise InvalidArgument(f"extends.{name}.service is required")
        ref_file = ext.get("file")
    else:
        raise InvalidArgument(f"services.{name}.extends must be a string or a mapping")
    base_services = services
    if ref_file is not None:
        path = ref_file if os.path.isabs(ref_file) else os.path.join(os.path.dirname(filename), _expand_user(ref_file))
        sub = load_file(path, {}, ctx, working_dir=os.path.dirname(path), included=[], skip_include=True,
                        skip_extends=True, validate=False)
        base_services = sub.get("services")
        if not isinstance(base_services, dict):
            raise InvalidArgument(f"cannot extend service {name!r} in {path}: no services section")
        if ref not in base_services:
            raise NotFound(f'cannot extend service "{name}" in {filename}: service "{ref}" not found in {ref_file}')
        resolve_paths({"services": base_services}, _relative_dir(os.path.dirname(path), working_dir))
        filename = path
    elif ref not in services:
        raise NotFound(f'cannot extend service "{name}" in {filename}: service "{ref}" not found')
    key = (filename, ref)
    if key in tracker or (filename, name) == key:
        chain = ", ".join(f"{f}:{s}" for f, s in tracker + [key])
        raise InvalidArgument(f"Circular reference detected: {chain}")
    base = _extend_one(ref, base_services, ctx, filename, tracker + [(filename, name)], working_dir)
    if base is None:
        return svc
    source = copy.deepcopy(base)
    merge.apply_resets(source, svc)
    merged = merge.merge(source, merge.strip_tags(svc), ("services", "x"))
    merged.pop("extends", None)
    services[name] = merged
    return merged


# ---- relative paths (compose-go's paths.ResolveRelativePaths)

def _abs(p, base: str):
    if not isinstance(p, str) or not p:
        return p
    p = _expand_user(p)
    return p if os.path.isabs(p) else os.path.normpath(os.path.join(base, p))


def _abs_context(p, base: str):
    if not isinstance(p, str):
        return p
    if "://" in p or p.startswith("service:"):
        return p
    if p.startswith(("https://", "http://", "git://", "ssh://", "github.com/", "git@")):
        return p
    return _abs(p, base)


def resolve_paths(model: dict, base: str) -> None:
    for svc in (model.get("services") or {}).values():
        if not isinstance(svc, dict):
            continue
        b = svc.get("build")
        if isinstance(b, dict):
            if "context" in b:
                b["context"] = _abs_context(b["context"], base)
            ac = b.get("additional_contexts")
            if isinstance(ac, dict):
                for k, v in ac.items():
                    ac[k] = _abs_context(v, base)
            ssh = b.get("ssh")
            if isinstance(ssh, dict):
                for k, v in ssh.items():
                    ssh[k] = _abs(v, base) if v else v
        for ef in svc.get("env_file") or []:
            if isinstance(ef, dict) and "path" in ef:
                ef["path"] = _abs(ef["path"], base)
        if isinstance(svc.get("label_file"), list):
            svc["label_file"] = [_abs(p, base) for p in svc["label_file"]]
        ext = svc.get("extends")
        if isinstance(ext, dict) and "file" in ext:
            ext["file"] = _abs(ext["file"], base)
        dev = svc.get("develop")
        if isinstance(dev, dict):
            for w in dev.get("watch") or []:
                if isinstance(w, dict) and "path" in w:
                    w["path"] = os.path.realpath(_abs(w["path"], base))
        for vol in svc.get("volumes") or []:
            if isinstance(vol, dict) and vol.get("type") == "bind":
                if "source" not in vol:
                    raise InvalidArgument('invalid mount config for type "bind": field Source must not be empty')
                vol["source"] = _abs(vol["source"], base)
    for kind in ("configs", "secrets"):
        for res in (model.get(kind) or {}).values():
            if isinstance(res, dict) and "file" in res:
                res["file"] = _abs(res["file"], base)
    for vol in (model.get("volumes") or {}).values():
        if isinstance(vol, dict) and vol.get("driver") == "local":
            opts = vol.get("driver_opts")
            if isinstance(opts, dict) and opts.get("o") == "bind" and "device" in opts:
                opts["device"] = _abs(opts["device"], base)
