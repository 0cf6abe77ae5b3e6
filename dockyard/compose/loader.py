"""Loading a Compose project as Docker Compose v2 does: which files (``-f``, ``COMPOSE_FILE``, or
discovery from the project directory up), which environment (the caller's, then ``.env`` or
``--env-file``), which name (``-p``, ``COMPOSE_PROJECT_NAME``, ``name:``, the directory), then
each file merged over the last (`files.load_file`), normalized, checked for consistency, filtered
by profile, and ``environment`` resolved with ``env_file``. `Project.to_dict()` is the model
`docker compose config --format json` prints.
"""

from __future__ import annotations

import os
import re

from dockyard.compose import canonical, consistency, files, model
from dockyard.compose.dotenv import read_file as read_env_file
from dockyard.errors import InvalidArgument, NotFound

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = ("compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
                  "docker-compose.override.yaml")


class ProjectOptions:
    """What to load (keyword arguments; a plain class, not a dataclass: `compose config` starts
    faster without `dataclasses`)."""

    __slots__ = ("files", "project_name", "project_directory", "env_files", "profiles", "environ", "interpolate",
                 "resolve_paths", "normalize", "consistency", "services", "prune", "resolve_environment", "warn")

    def __init__(self, *, files: list[str] | None = None, project_name: str | None = None,
                 project_directory: str | None = None, env_files: list[str] | None = None,
                 profiles: list[str] | None = None, environ: dict | None = None, interpolate: bool = True,
                 resolve_paths: bool = True, normalize: bool = True, consistency: bool = True,
                 services: list[str] | None = None, prune: bool = True, resolve_environment: bool = True,
                 warn=None) -> None:
        self.files = list(files or [])  # empty: COMPOSE_FILE, else discovery from the project directory up
        self.project_name = project_name
        self.project_directory = project_directory
        self.env_files = list(env_files or [])
        self.profiles = list(profiles or [])
        self.environ = environ  # None: os.environ
        self.interpolate = interpolate
        self.resolve_paths = resolve_paths
        self.normalize = normalize
        self.consistency = consistency
        self.services = list(services or [])  # only these and their dependencies
        self.prune = prune  # drop networks/volumes/secrets/configs no enabled service uses (`--all-resources`)
        self.resolve_environment = resolve_environment  # fold env_file into environment (`--no-env-resolution`)
        self.warn = warn  # callable(str) for Compose's warnings; default: stderr


class Project:
    """A loaded project. ``services`` are the enabled ones (by profile), each a dict in canonical
    form (long syntax, relative paths absolute); ``disabled_services`` the others; ``environment``
    the one interpolation used."""

    def __init__(self, *, name: str, working_dir: str, services: dict, networks: dict, volumes: dict,
                 secrets: dict, configs: dict, disabled_services: dict, environment: dict, files: list[str],
                 profiles: list[str], extensions: dict | None = None) -> None:
        self.name, self.working_dir = name, working_dir
        self.services, self.networks, self.volumes = services, networks, volumes
        self.secrets, self.configs, self.disabled_services = secrets, configs, disabled_services
        self.environment, self.files, self.profiles = environment, files, profiles
        self.extensions = extensions or {}

    def to_dict(self) -> dict:
        """The normalized model, shaped as `docker compose config --format json` prints it."""
        out: dict = {"name": self.name}
        for kind, conv in (("networks", model.network_json), ("volumes", _volume_json),
                           ("secrets", _file_json), ("configs", _file_json)):
            res = getattr(self, kind)
            if res:
                out[kind] = {k: conv(v or {}, f"{kind}.{k}") for k, v in sorted(res.items())}
        out["services"] = {k: model.service_json(v, f"services.{k}") for k, v in sorted(self.services.items())}
        out.update(self.extensions)
        return dict(sorted(out.items()))

    @property
    def config_files(self) -> list[str]:
        return self.files

    def service_names(self) -> list[str]:
        return sorted(self.services)

    def dependency_order(self, names: list[str] | None = None) -> list[str]:
        """Services (``names`` and what they depend on, all when None) dependencies first,
        by name where the order is free."""
        out: list[str] = []
        seen: set = set()

        def visit(n: str) -> None:
            if n in seen or n not in self.services:
                return
            seen.add(n)
            for dep in sorted((self.services[n].get("depends_on") or {})):
                visit(dep)
            out.append(n)

        for n in sorted(self.services) if names is None else names:
            visit(n)
        return out

    def with_selected(self, names: list[str]) -> Project:
        """Only ``names`` and the services they depend on (a service disabled by its profiles is
        enabled when named), as `compose config SERVICE…` and `up SERVICE…` select them."""
        import copy

        for n in names:
            if n not in self.services and n not in self.disabled_services:
                raise NotFound(f"no such service: {n}")
        p = copy.copy(self)
        p.services = dict(self.services)
        p.disabled_services = dict(self.disabled_services)
        for n in names:
            if n in p.disabled_services:
                p.services[n] = p.disabled_services.pop(n)
        keep = p.dependency_order(names)
        p.disabled_services.update({k: v for k, v in p.services.items() if k not in keep})
        p.services = {k: v for k, v in p.services.items() if k in keep}
        return p


def _volume_json(v, where):
    return model.convert(model.VOLUME, v, where)


def _file_json(v, where):
    return model.convert(model.FILE_OBJECT, v, where)


def normalize_project_name(s: str) -> str:
    return "".join(re.findall(r"[a-z0-9_-]", s.lower())).lstrip("_-")


def _stderr_warn(msg: str) -> None:
    import sys

    sys.stderr.write(f'WARN[0000] {msg}\n')


def find_files(start: str) -> list[str]:
    """Compose v2's discovery: the first directory from ``start`` up holding a Compose file."""
    d = os.path.abspath(start)
    while True:
        found = [os.path.join(d, n) for n in DEFAULT_FILES if os.path.isfile(os.path.join(d, n))]
        if found:
            out = [found[0]]
            overrides = [os.path.join(d, n) for n in OVERRIDE_FILES if os.path.isfile(os.path.join(d, n))]
            if overrides:
                out.append(overrides[0])
            return out
        parent = os.path.dirname(d)
        if parent == d:
            return []
        d = parent


def _prepare(opts: ProjectOptions, warn) -> tuple[dict, list[str], str, str]:
    """The environment, the files, the project directory and the name, as v2 finds them."""
    environ = dict(os.environ if opts.environ is None else opts.environ)
    if opts.project_directory:
        workdir = os.path.abspath(opts.project_directory)
    elif opts.files and opts.files[0] != "-":
        workdir = os.path.dirname(os.path.abspath(opts.files[0]))
    else:
        workdir = os.getcwd()
    # the environment: the caller's, then .env (or --env-file) where the caller set nothing
    env_files = list(opts.env_files)
    if not env_files and environ.get("COMPOSE_DISABLE_ENV_FILE", "").lower() not in ("1", "true", "t"):
        dot = os.path.join(workdir, ".env")
        if os.path.isfile(dot):
            env_files = [dot]
    from_files: dict = {}
    for f in env_files:
        f = os.path.abspath(f)
        if not os.path.exists(f):
            raise NotFound(f"couldn't find env file: {f}")
        if os.path.isdir(f):
            raise InvalidArgument(f"{f} is a directory")
        from_files.update(read_env_file(f, lambda k: environ.get(k, from_files.get(k))))
    env = dict(environ)
    for k, v in from_files.items():  # a later file wins over an earlier one, the caller's environment over both
        env.setdefault(k, v)
    # the files
    paths = [f if f == "-" else os.path.abspath(f) for f in opts.files]
    if not paths and env.get("COMPOSE_FILE"):
        sep = env.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        paths = [os.path.abspath(p) for p in env["COMPOSE_FILE"].split(sep) if p]
    if not paths:
        paths = find_files(workdir)
        if not paths:
            raise NotFound("no configuration file provided: not found")
    if not opts.project_directory:
        workdir = os.path.dirname(paths[0]) if paths[0] != "-" else os.getcwd()
    name = _project_name(opts, env, paths, workdir, warn)
    env["COMPOSE_PROJECT_NAME"] = name
    return env, paths, workdir, name


def project_environment(opts: ProjectOptions) -> dict:
    """The environment interpolation uses (`config --environment`)."""
    return _prepare(opts, opts.warn or _stderr_warn)[0]


def model_variables(opts: ProjectOptions) -> list[dict]:
    """Every variable the files use, with its default and alternate values (`config --variables`)."""
    from dockyard.compose import interpolate, yamlio

    env, paths, _workdir, _name = _prepare(opts, opts.warn or _stderr_warn)
    found: dict = {}
    for p in paths:
        for doc in yamlio.load_documents(files.read_text(p), p):
            yamlio.check_keys(doc)
            interpolate.collect_variables(doc, found)
    return [found[k] for k in sorted(found)]


def load_model(opts: ProjectOptions) -> dict:
    """The merged, normalized model as a plain YAML tree, before it is typed (what
    `config --no-interpolate` prints: every service whatever its profiles, values as written)."""
    warn = opts.warn or _stderr_warn
    env, paths, workdir, name = _prepare(opts, warn)
    return _load_dict(opts, env, paths, workdir, name, warn)


def _load_dict(opts: ProjectOptions, env: dict, paths: list[str], workdir: str, name: str, warn) -> dict:
    ctx = files.Ctx(env, interpolate=opts.interpolate, warn=warn, workdir=workdir)
    dict_model: dict = {}
    for p in paths:
        dict_model = files.load_file(p, dict_model, ctx, working_dir=workdir, included=[])
    if not dict_model:
        raise InvalidArgument("empty compose file")
    canonical.set_defaults(dict_model)
    consistency.validate(dict_model)
    if opts.resolve_paths:
        files.resolve_paths(dict_model, workdir)
    if opts.interpolate:
        _resolve_environment_refs(dict_model, env)
    dict_model.pop("name", None)
    dict_model["name"] = name
    if opts.normalize:
        consistency.normalize(dict_model, env if opts.interpolate else {})
    return dict_model


def load_project(opts: ProjectOptions) -> Project:
    warn = opts.warn or _stderr_warn
    env, paths, workdir, name = _prepare(opts, warn)
    profiles = list(opts.profiles)
    if not profiles and env.get("COMPOSE_PROFILES"):
        profiles = [p.strip() for p in env["COMPOSE_PROFILES"].split(",")]
    dict_model = _load_dict(opts, env, paths, workdir, name, warn)
    services = dict_model.get("services") or {}
    for sname, svc in services.items():
        if svc is None:
            services[sname] = svc = {}
    enabled = {k: v for k, v in services.items() if _has_profile(v, profiles)}
    disabled = {k: v for k, v in services.items() if k not in enabled}
    project = Project(
        name=name, working_dir=workdir, services=enabled,
        networks=dict(dict_model.get("networks") or {}), volumes=dict(dict_model.get("volumes") or {}),
        secrets=dict(dict_model.get("secrets") or {}), configs=dict(dict_model.get("configs") or {}),
        disabled_services=disabled, environment=env, files=paths, profiles=profiles,
        extensions={k: v for k, v in dict_model.items() if k.startswith("x-")},
    )
    if opts.consistency:
        consistency.check(project)
    if opts.services:
        project = project.with_selected(opts.services)
    if opts.prune:
        consistency.prune_resources(project)
    if opts.resolve_environment:
        consistency.resolve_service_environment(project)
    return project


def _has_profile(svc: dict, profiles: list[str]) -> bool:
    own = svc.get("profiles") or []
    if not own:
        return True
    return "*" in profiles or any(p in own for p in profiles)


def _project_name(opts: ProjectOptions, env: dict, paths: list[str], workdir: str, warn) -> str:
    explicit = opts.project_name or env.get("COMPOSE_PROJECT_NAME")
    if explicit:
        if normalize_project_name(explicit) != explicit:
            raise InvalidArgument(
                f'invalid project name "{explicit}": must consist only of lowercase alphanumeric characters, '
                "hyphens, and underscores as well as start with a letter or number")
        return explicit
    from dockyard.compose import interpolate, yamlio

    named = ""
    for p in paths:
        try:
            docs = yamlio.load_documents(files.read_text(p), p)
        except InvalidArgument:
            break
        for d in docs:
            if isinstance(d, dict) and isinstance(d.get("name"), str) and d["name"]:
                named = d["name"]
    if named and opts.interpolate:
        named = interpolate.substitute(named, env, where="name", warn=warn)
    if opts.normalize:  # `config --no-normalize` keeps the name: as written
        named = normalize_project_name(named)
    if named:
        return named
    name = normalize_project_name(os.path.basename(workdir))
    if not name:
        raise InvalidArgument("project name must not be empty")
    return name


def _resolve_environment_refs(m: dict, env: dict) -> None:
    """compose-go's ResolveEnvironment: ``environment: [NAME]`` takes NAME's value from the
    project environment; secrets and configs read from ``environment:`` get their content."""
    for svc in (m.get("services") or {}).values():
        if isinstance(svc, dict) and isinstance(svc.get("environment"), list):
            svc["environment"] = [f"{e}={env[e]}" if isinstance(e, str) and e in env else e
                                  for e in svc["environment"] if isinstance(e, str)]
    for kind, key in (("secrets", "#value"), ("configs", "content")):
        for res in (m.get(kind) or {}).values():
            if isinstance(res, dict) and isinstance(res.get("environment"), str) and res["environment"] in env:
                res[key] = env[res["environment"]]
