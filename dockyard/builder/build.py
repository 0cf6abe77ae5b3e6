"""`dockyard build`: a Dockerfile's stages, step by step, into an image, with a layer cache.

Each step starts from the state of the previous one (layers + image config) and either changes
only the config (ENV, CMD, …: no layer, as Docker) or adds one layer: RUN runs the command in a
real container made from the current state and takes its overlay upper dir as the layer; COPY
and ADD write their files into a fresh directory that becomes the layer. A step is reused when
its cache key — the parent step's key, the instruction's text, the build args it can see and,
for COPY/ADD, the content and modes of its sources (not their mtimes) — was built before and
its layer is still in the store.

RUN --mount (cache, bind, tmpfs, secret) is prepared by `dockyard.builder.runmounts`.
What is not done yet (see the issue): RUN --mount=type=ssh, ADD from git URLs, COPY --parents/
--exclude, --platform (images are built for this machine's platform).
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import stat
import sys
import time

from dockyard.errors import DockyardError, InvalidArgument, NotImplemented
from dockyard.ownership import owner_tag


class BuildError(InvalidArgument):
    """A step failed; the message says which, as docker's does."""


class State:
    """An image being built: layer descriptors, the OCI config, and the cache key so far."""

    def __init__(self, layers: list, config: dict, key: str) -> None:
        self.layers, self.config, self.key = layers, config, key

    def copy(self) -> "State":
        return State(list(self.layers), json.loads(json.dumps(self.config)), self.key)

    @property
    def cc(self) -> dict:
        return self.config.setdefault("config", {})


def _now_rfc3339(epoch: int | None) -> str:
    t = time.time() if epoch is None else epoch
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Builder:
    def __init__(self, engine, *, context: str, dockerfile_text: str, dockerfile_name: str = "Dockerfile",
                 build_args: dict | None = None, target: str | None = None, no_cache: bool = False,
                 labels: dict | None = None, network: str = "none", out=None, quiet: bool = False,
                 progress: str = "auto", keep_containers: bool = False, extra_hosts=(),
                 shm_size: int = 0, secrets: dict | None = None, run_limits: dict | None = None,
                 force_rm: bool = False, no_cache_filter=(), build_contexts: dict | None = None,
                 pull: bool = False, cache_from: list | None = None) -> None:
        self.engine = engine
        self.context = os.path.abspath(context)
        self.text = dockerfile_text
        self.name = dockerfile_name
        self.build_args = dict(build_args or {})
        self.target = target
        self.no_cache = no_cache
        # --build-context NAME=DIR: a directory COPY --from=NAME and RUN --mount=from=NAME read
        self.build_contexts = {k: os.path.abspath(v) for k, v in (build_contexts or {}).items()}
        self.pull = pull  # --pull: each FROM image is pulled again (once per build) before use
        self._pulled: set = set()
        self.no_cache_filter = {s.lower() for s in no_cache_filter}  # stages built without the cache
        self._skip_cache = no_cache  # this stage's steps do not read the cache
        self.labels = dict(labels or {})
        self.network = network
        self.out = out or sys.stdout
        self.quiet = quiet
        self.keep_containers = keep_containers  # the API's rm=0: RUN steps' containers stay, as Docker's
        self.extra_hosts = list(extra_hosts)  # --add-host for the RUN steps ("name:ip", checked by the caller)
        self.force_rm = force_rm  # a failed step's container goes even when keep_containers
        # --ulimit, --cgroup-parent, -m, --cpu-*, --security-opt for the RUN steps: a HostConfig,
        # checked here as a create request is (the same fields, the same errors)
        self._limits: dict = {}
        self._limit_opts: dict = {}
        if run_limits:
            from dockyard.engine.create import config_from_request

            t = config_from_request({"Image": "build", "HostConfig": dict(run_limits)})
            self._limits = {k: getattr(t, k) for k in ("memory", "memory_swap", "cpu_quota", "cpu_period",
                                                        "cpu_shares", "cpuset_cpus", "security_opt")}
            self._limit_opts = dict(t.host_opts)
        self.secrets = dict(secrets or {})  # --secret id -> bytes: for RUN --mount=type=secret only
        self.shm_size = shm_size  # --shm-size for the RUN steps' /dev/shm (bytes; 0: Docker's 64 MiB)
        # --cache-from: [(history created_by list, diff_ids)] of the images a cached step must be
        # part of (dockerd's classic builder then uses only those); None: any cached step
        self.cache_from = cache_from
        from dockyard.builder.progress import PlainProgress, TtyProgress

        tty = progress == "tty" or (progress == "auto" and not quiet and self.out.isatty())
        self.progress = TtyProgress(self.out) if tty else PlainProgress(self.out, quiet=quiet)
        sde = os.environ.get("SOURCE_DATE_EPOCH")
        self.epoch = int(sde) if sde and sde.isdigit() else None
        self.cache_dir = os.path.join(engine.root, "cache", "build")
        self._temp_images: list[str] = []
        self._filter = None
        self._missed = False    # an earlier step of this stage was rebuilt
        self._last_files: dict = {}
        self._downloads: dict[str, str] = {}  # ADD URL -> downloaded file, removed after the build

    # -- output ---------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.progress.note(text)

    # -- the build ------------------------------------------------------------------------------

    def build(self) -> str:
        with self.engine.lease():  # until the image is recorded, `rmi` keeps the layers written
            return self._build()

    def _build(self) -> str:
        from dockyard.builder.context import ContextFilter
        from dockyard.builder.dockerfile import parse

        if not os.path.isdir(self.context):
            raise InvalidArgument(f"unable to prepare context: path {self.context!r} not found")
        from dockyard.builder.copier import read_inside

        ignore = read_inside(self.context, ".dockerignore") or b""
        self._filter = ContextFilter.from_text(ignore.decode("utf-8", "surrogateescape"), dockerfile=self.name,
                                               keep_sent=False)  # an excluded Dockerfile is not copied
        df = parse(self.text, filename=self.name, build_args=self.build_args, image_env=self._image_env)
        last = df.stage_by_name(self.target) if self.target else df.stages[-1]
        states: dict[int, State] = {}
        known = {s.name.lower() for s in df.stages if s.name} | {str(s.index) for s in df.stages}
        unknown = sorted(self.no_cache_filter - known)
        if unknown:
            raise InvalidArgument(f"--no-cache-filter: no stage named {unknown[0]!r} in {self.name}")
        total = sum(1 + len(s.instructions) for s in df.stages[: last.index + 1])
        step = 0
        ok = False
        try:
            for stage in df.stages[: last.index + 1]:
                step += 1
                label = stage.name if len(df.stages) > 1 else None
                self._skip_cache = self.no_cache or bool(
                    {(stage.name or "").lower(), str(stage.index)} & self.no_cache_filter)
                self.progress.step(step, total, stage.from_.original, label)
                state = self._from(stage, df, states)
                self._missed = False
                args: dict[str, str] = {}
                state = self._onbuild(state, args, states, df)
                for instr in stage.instructions:
                    step += 1
                    self.progress.step(step, total, instr.original, label)
                    state = self._step(instr, state, args, states, df)
                    self.progress.done(state.key)
                states[stage.index] = state
            final = states[last.index]
            if self.labels:
                final.cc.setdefault("Labels", {}).update(self.labels)
            image_id = self._commit_image(final)
            ok = True
            return image_id
        finally:
            self.progress.finish(ok)
            self._drop_temp_images()
            for path in self._downloads.values():
                try:
                    os.unlink(path)
                except OSError:
                    pass

    def _onbuild(self, state: State, args: dict, states: dict, df) -> State:
        """Run the base image's ONBUILD triggers first, as docker does; they are not inherited."""
        from dockyard.builder.dockerfile import parse

        triggers = state.cc.pop("OnBuild", None) or []
        for trigger in triggers:
            self.say(f"# Executing 1 build trigger: {trigger}")
            instr = parse(f"FROM scratch\n{trigger}\n", filename=self.name).stages[0].instructions[0]
            state = self._step(instr, state, args, states, df)
        return state

    def _image_env(self, image: str) -> dict:
        try:
            rec = self.engine.images.resolve(image)
        except DockyardError:
            return {}
        env = {}
        for kv in (self.engine.images.config(rec).get("config") or {}).get("Env") or ():
            k, _, v = kv.partition("=")
            env[k] = v
        return env

    def _from(self, stage, df, states: dict) -> State:
        image = stage.from_.image
        if image in self.build_contexts:
            raise NotImplemented(f"{stage.from_.original}: FROM a --build-context directory is not supported "
                                 "(COPY --from and RUN --mount from= can read it)")
        if image == "scratch":
            from dockyard.oci.platform import go_arch

            cfg = {"architecture": go_arch(), "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": []},
                   "history": []}
            return State([], cfg, hashlib.sha256(b"scratch").hexdigest())
        for prev in df.stages[: stage.index]:
            if prev.name and prev.name.lower() == image.lower() and prev.index in states:
                return states[prev.index].copy()
        if self.pull and image not in self._pulled:
            self._pull(stage, image)
        try:
            rec = self.engine.images.resolve(image)
        except DockyardError as e:
            raise BuildError(f"{stage.from_.original}: {e}",
                             hint="dockyard builds only from local images: bootstrap, load or import one") from None
        manifest = self.engine.images.manifest(rec)
        cfg = self.engine.images.config(rec)
        cfg.setdefault("history", [])
        return State(list(manifest.get("layers") or ()), cfg, rec.id.removeprefix("sha256:"))

    def _pull(self, stage, image: str) -> None:
        from dockyard.registry.pull import pull

        self.say(f"Pulling {image}")
        try:
            pull(self.engine, image)
        except DockyardError as e:
            raise BuildError(f"{stage.from_.original}: --pull: {e}") from None
        self._pulled.add(image)

    # -- steps ----------------------------------------------------------------------------------

    def _step(self, instr, state: State, args: dict, states: dict, df) -> State:
        kw = instr.keyword
        if kw == "ARG":
            if instr.value is not None:
                args[instr.name] = instr.value
            new = state.copy()
            new.key = _key(state.key, instr.original, sorted(args.items()))
            inputs = {"args": {instr.name: instr.value}}
            try:
                with open(self._why_path(state, instr)) as f:
                    changed = json.load(f) != inputs
            except (OSError, ValueError):
                changed = False
            if changed:  # the steps after it will miss: say why here, once
                self.progress.miss(f"build arg {instr.name} changed")
                self._missed = True
            self._remember_inputs(state, instr, inputs)
            return new
        if kw in ("RUN", "COPY", "ADD"):
            self._last_files = {}
            extra = self._sources_digest(instr, states, df) if kw in ("COPY", "ADD") else ""
            if kw == "RUN" and any(m.type == "bind" for m in instr.mounts):
                from dockyard.builder.runmounts import bind_digest

                extra = bind_digest(self, instr, states, df)
            # a heredoc's body is not in `original` (the first line): it is part of the step
            extra += "".join(f"\0{h.name}\0{h.content}" for h in getattr(instr, "heredocs", ()) or ())
            used_args = sorted(args.items()) if kw == "RUN" else []
            key = _key(state.key, instr.original, used_args, extra, self.network if kw == "RUN" else "")
            cached = None if self._skip_cache else self._cache_get(key)
            if cached is not None:
                new = state.copy()
                new.key = key
                if cached["layer"]:
                    new.layers.append(cached["layer"])
                    new.config.setdefault("rootfs", {"type": "layers", "diff_ids": []})["diff_ids"].append(
                        cached["diff_id"])
                new.config["history"].append(cached["history"])
                if self._in_cache_from(new):
                    self.progress.cached()
                    return new
            inputs = {"args": dict(used_args), "files": self._last_files, "extra": hashlib.sha256(
                extra.encode()).hexdigest(), "network": self.network if kw == "RUN" else ""}
            self._explain_miss(state, instr, inputs)
            new = self._run(instr, state, args, states, df) if kw == "RUN" else self._copy(instr, state, states, df)
            new.key = key
            self._cache_put(key, new)
            self._remember_inputs(state, instr, inputs)
            return new
        new = state.copy()
        self._metadata(instr, new)
        new.key = _key(state.key, instr.original)
        # cached too, so a fully cached build repeats its history and times: the same image id
        cached = None if self._skip_cache else self._cache_get(new.key)
        if cached is not None and not self._in_cache_from(new, cached["history"]):
            cached = None
        new.config["history"].append(cached["history"] if cached else {
            "created": _now_rfc3339(self.epoch), "created_by": f"/bin/sh -c #(nop)  {instr.original}",
            "empty_layer": True})
        if cached is None:
            self._explain_miss(state, instr, {})
            self._cache_put(new.key, new)
            self._remember_inputs(state, instr, {})
        else:
            self.progress.cached()
        return new

    # -- why a step was not cached (something no other builder tells) ---------------------------

    def _why_path(self, parent: State, instr) -> str:
        return os.path.join(self.cache_dir, "why", _key(parent.key, instr.original) + ".json")

    def _remember_inputs(self, parent: State, instr, inputs: dict) -> None:
        path = self._why_path(parent, instr)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump(inputs, f)
        os.replace(path + ".tmp", path)

    def _explain_miss(self, parent: State, instr, inputs: dict) -> None:
        """Say which input made this step miss the cache: a build arg, which source files, the
        step before it, or that this step (or its base) was never built before."""
        if self._skip_cache:
            reason = "--no-cache" if self.no_cache else "--no-cache-filter"
        else:
            try:
                with open(self._why_path(parent, instr)) as f:
                    before = json.load(f)
            except (OSError, ValueError):
                before = None
            if before is None:
                reason = ("an earlier step changed" if self._missed else
                          "no earlier build of this step on this base (new or edited instruction, or a new base image)")
            else:
                reasons = []
                for k in sorted(set(before.get("args", {})) | set(inputs.get("args", {}))):
                    if before.get("args", {}).get(k) != inputs.get("args", {}).get(k):
                        reasons.append(f"build arg {k} changed")
                old_f, new_f = before.get("files", {}), inputs.get("files", {})
                changed = [f"{f} (modified)" for f in sorted(set(old_f) & set(new_f))
                           if old_f[f] != new_f[f] and not f.startswith("--from=")]
                reasons += [f"the stage or image it copies from ({f[7:]}) changed" for f in sorted(set(old_f) & set(new_f))
                            if old_f[f] != new_f[f] and f.startswith("--from=")]
                changed += [f"{f} (added)" for f in sorted(set(new_f) - set(old_f))]
                changed += [f"{f} (removed)" for f in sorted(set(old_f) - set(new_f))]
                if changed:
                    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
                    reasons.append(f"source files changed: {shown}")
                if before.get("extra") != inputs.get("extra") and not changed and not reasons:
                    reasons.append("the step's inline content changed")
                if before.get("network") != inputs.get("network"):
                    reasons.append(f"network mode changed to {inputs.get('network')}")
                reason = "; ".join(reasons) or "its cached result is gone from the store"
        self._missed = True
        self.progress.miss(reason)

    def _metadata(self, instr, st: State) -> None:
        cc = st.cc
        kw = instr.keyword
        if kw == "ENV":
            env = {}
            for kv in cc.get("Env") or ():
                k, _, v = kv.partition("=")
                env[k] = v
            for k, v in instr.pairs:
                env[k] = v
            cc["Env"] = [f"{k}={v}" for k, v in env.items()]
        elif kw in ("LABEL", "MAINTAINER"):
            for k, v in instr.pairs:
                cc.setdefault("Labels", {})[k] = v
        elif kw == "CMD":
            cc["Cmd"] = self._cmd(instr, cc)
        elif kw == "ENTRYPOINT":
            cc["Entrypoint"] = self._cmd(instr, cc)
            cc["Cmd"] = None  # docker: ENTRYPOINT resets a CMD inherited from the base image
        elif kw == "EXPOSE":
            for p in instr.ports:
                cc.setdefault("ExposedPorts", {})[p if "/" in p else p + "/tcp"] = {}
        elif kw == "VOLUME":
            for p in instr.paths:
                cc.setdefault("Volumes", {})[p] = {}
        elif kw == "USER":
            cc["User"] = instr.user
        elif kw == "WORKDIR":
            cc["WorkingDir"] = os.path.normpath(os.path.join(cc.get("WorkingDir") or "/", instr.path))
        elif kw == "STOPSIGNAL":
            cc["StopSignal"] = instr.signal
        elif kw == "SHELL":
            cc["Shell"] = list(instr.shell)
        elif kw == "HEALTHCHECK":
            hc = {"Test": list(instr.test)}
            for name, attr in (("Interval", "interval"), ("Timeout", "timeout"), ("StartPeriod", "start_period"),
                               ("StartInterval", "start_interval"), ("Retries", "retries")):
                if getattr(instr, attr, 0):
                    hc[name] = getattr(instr, attr)
            cc["Healthcheck"] = hc
        elif kw == "ONBUILD":
            cc.setdefault("OnBuild", []).append(instr.expression)
        else:
            raise NotImplemented(f"{self.name}:{instr.line}: {kw} is not supported by dockyard build yet")

    @staticmethod
    def _cmd(instr, cc: dict) -> list[str]:
        if instr.shell_form:
            return list(cc.get("Shell") or ["/bin/sh", "-c"]) + [instr.command]
        return list(instr.command)

    # -- RUN ------------------------------------------------------------------------------------

    def _run(self, instr, state: State, args: dict, states: dict | None = None, df=None) -> State:
        if instr.security == "insecure":
            raise NotImplemented(f"{self.name}:{instr.line}: RUN --security=insecure needs an entitlement "
                                 "(--allow security.insecure) that dockyard build does not grant")
        if not instr.mounts:
            return self._run_with(instr, state, args, [], [])
        from dockyard.builder.runmounts import prepare

        cc = state.cc
        mounts, env, cleanup = prepare(self, instr, states or {}, df, cc.get("WorkingDir") or "/")
        try:
            return self._run_with(instr, state, args, mounts, env)
        finally:
            cleanup()

    def _base_paths(self, state: State, targets: list[str]) -> set:
        """Which of the targets and their parents exist in the state's filesystem."""
        root, unmount, _ = self._mount_state(state)
        try:
            from dockyard.archive import inroot

            fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            found = set()
            try:
                for t in targets:
                    parts = [p for p in t.split("/") if p]
                    for i in range(1, len(parts) + 1):
                        pfd = inroot.open_dir_strict(fd, tuple(parts[:i - 1]))
                        if pfd is None:
                            break
                        try:
                            if inroot.lstat_at(pfd, parts[i - 1]) is None:
                                break
                        finally:
                            os.close(pfd)
                        found.add("/" + "/".join(parts[:i]))
            finally:
                os.close(fd)
            return found
        finally:
            unmount()

    def _run_with(self, instr, state: State, args: dict, mounts: list, secret_env: list) -> State:
        from dockyard.engine.config import ContainerConfig
        from dockyard.engine.containers import create
        from dockyard.engine.teardown import remove

        cc = state.cc
        if instr.shell_form:
            argv = list(cc.get("Shell") or ["/bin/sh", "-c"]) + [_heredoc_script(instr)]
        else:
            argv = list(instr.command)
        env_keys = {kv.partition("=")[0] for kv in cc.get("Env") or ()}
        env = tuple(f"{k}={v}" for k, v in args.items() if k not in env_keys) + tuple(secret_env)
        network = {"default": None, None: None, "none": "none", "host": "host"}[instr.network] or self.network
        targets = [m["target"] for m in mounts]
        existed = self._base_paths(state, targets) if targets else set()
        image_id = self._temp_image(state)
        cfg = ContainerConfig(image=image_id, cmd=tuple(argv), entrypoint=(), env=env, user=cc.get("User") or "",
                              workdir=cc.get("WorkingDir") or "", network=network, mounts=tuple(mounts),
                              host_opts={**self._limit_opts, **self._run_host_opts()}, **self._limits)
        c = create(self.engine, cfg, None, image_volumes=False)  # a VOLUME does not hide RUN's writes
        keep = False
        try:
            self.out.flush()
            code = self._run_container(c)
            if code != 0:
                keep = self.keep_containers and not self.force_rm and not secret_env
                shown = instr.command if instr.shell_form else json.dumps(instr.command)
                raise BuildError(f"The command '{' '.join(argv[:-1]) + ' ' + shown if instr.shell_form else shown}' "
                                 f"returned a non-zero code: {code}")
            upper = self.engine.snapshots.upper_dir(c.rec.id)
            _drop_runtime_stubs(upper)
            if targets:
                from dockyard.builder.runmounts import drop_mountpoints

                drop_mountpoints(upper, targets, existed)
            new = self._add_layer(state, upper, overlay_upper=True, created_by=" ".join(argv))
            keep = self.keep_containers and not secret_env  # its config holds a secret: never kept
            return new
        finally:
            if keep:  # kept as Docker keeps it: an exited container with the step's exit status
                from dockyard.engine.status import rfc3339, update_state

                update_state(self.engine, c.rec.id, Status="exited", Running=False, Pid=0, ExitCode=code,
                             FinishedAt=rfc3339(time.time()))
                self.say(f" ---> Keeping intermediate container {c.rec.id[:12]}")
            else:
                remove(self.engine, c.rec.id, force=True)

    def _run_host_opts(self) -> dict:
        opts: dict = {}
        if self.extra_hosts:
            opts["ExtraHosts"] = list(self.extra_hosts)
        if self.shm_size:
            opts["ShmSize"] = self.shm_size
        return opts

    def _run_container(self, c) -> int:
        """Run a step's container with its output piped to the progress display (a reader thread,
        started only after the container is forked: no fork ever happens with it running)."""
        import threading

        from dockyard.engine.launch import launch_container
        from dockyard.linux import syscalls as sc
        from dockyard.runtime.wait import wait_exit

        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
        r, w = os.pipe()
        null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        try:
            launch = launch_container(self.engine, c, stdio=(null, w, w))
        finally:
            os.close(null)
            os.close(w)

        def pump() -> None:
            while data := os.read(r, 65536):
                self.progress.output(data)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            launch.start()
            return wait_exit(launch.pid)
        finally:
            launch.cleanup()
            reader.join(timeout=10)
            os.close(r)

    # -- COPY / ADD -----------------------------------------------------------------------------

    def _sources_digest(self, instr, states: dict, df) -> str:
        """Content and modes of what the step copies (not mtimes): a changed file changes it."""
        h = hashlib.sha256()
        if instr.heredocs:
            return ""  # the bodies are hashed with the step (see _step)
        urls = [src for src in instr.sources if "://" in src]
        if urls:
            if instr.keyword != "ADD" or len(urls) != len(instr.sources):
                raise BuildError(f"{self.name}:{instr.line}: {instr.keyword} of a URL needs ADD and only URLs")
            files = self._last_files = {}
            for url in urls:
                files[url] = _file_digest(self._download(url, instr))
                h.update(f"{url}\0{files[url]}\n".encode())
            return h.hexdigest()
        if getattr(instr, "from_", None) and instr.from_ not in self.build_contexts:
            st = self._from_state(instr.from_, states, df)
            h.update(st.key.encode())
            h.update(json.dumps(instr.sources).encode())
            self._last_files = {f"--from={instr.from_}": st.key}
            return h.hexdigest()
        from dockyard.builder.copier import entry_digest

        files = self._last_files = {}
        skip = _excluder(instr)
        with self._named_root(getattr(instr, "from_", None)) as src:
            for source in instr.sources:
                for m in self._context_sources(src, source):
                    if skip and skip(m, ()):
                        continue
                    for rel, st, pfd, name in src.walk(m):
                        if rel and skip and skip(m, rel):
                            continue  # (what is below an excluded directory is skipped too: no matter)
                        path = "/".join((*m.name, *rel)) or "."
                        files[path] = entry_digest(src, st, pfd, name)
        for path in sorted(files):
            h.update(f"{path}\0{files[path]}\n".encode())
        return h.hexdigest()

    def _download(self, url: str, instr) -> str:
        """ADD's URL source, fetched once per build (to hash it for the cache, then to copy it);
        `--checksum` is verified before anything uses it."""
        cached = self._downloads.get(url)
        if cached:
            return cached
        import shutil
        import tempfile
        import urllib.error
        import urllib.request

        if not url.startswith(("http://", "https://")):
            raise NotImplemented(f"{self.name}:{instr.line}: ADD from {url.split(':', 1)[0]} URLs is not supported")
        fd, path = tempfile.mkstemp(dir=self.engine.tmp_dir(), prefix=f"add-{owner_tag()}-")
        try:
            with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=60) as resp:
                shutil.copyfileobj(resp, f)
        except (urllib.error.URLError, OSError, ValueError) as e:
            os.unlink(path)
            raise BuildError(f"{self.name}:{instr.line}: failed to GET {url}: {getattr(e, 'reason', e)}") from None
        if getattr(instr, "checksum", None):
            algo, _, want = instr.checksum.partition(":")
            if algo not in ("sha256", "sha384", "sha512") or not want:
                raise BuildError(f"{self.name}:{instr.line}: invalid --checksum {instr.checksum!r}")
            got = _file_digest(path, algo)
            if got != want:
                os.unlink(path)
                from dockyard.errors import DigestMismatch

                raise DigestMismatch(f"{self.name}:{instr.line}: digest mismatch for {url}: "
                                     f"expected {instr.checksum}, got {algo}:{got}")
        self._downloads[url] = path
        return path

    def _context_root(self):
        """The build context, open by descriptor, with .dockerignore applied."""
        from dockyard.builder.copier import SourceRoot

        f = self._filter
        return SourceRoot(self.context, excluded=f.excluded,
                          reenter=lambda rel: f.has_exclusions and f.may_reinclude(rel))

    def _named_root(self, name: str | None):
        """The build context (``name`` None) or the --build-context directory ``name``, by descriptor."""
        if name is None:
            return self._context_root()
        from dockyard.builder.copier import SourceRoot

        return SourceRoot(self.build_contexts[name])

    @staticmethod
    def _context_sources(src, source: str) -> list:
        """What one COPY source names in the context, resolved inside it (an error if nothing)."""
        if os.path.normpath(source.lstrip("/")).startswith(".."):
            raise BuildError(f"COPY failed: forbidden path outside the build context: {source}")
        from dockyard.builder.copier import MissingSource

        try:
            matches = src.expand(source)
        except MissingSource as e:
            source = e.path
            matches = []
        if not matches:
            raise BuildError(f"COPY failed: file not found in build context or excluded by .dockerignore: "
                             f"stat {source}: file does not exist")
        return matches

    def _from_state(self, ref: str, states: dict, df):
        """COPY --from: an earlier stage (by name or index), else an image in the store."""
        for s in df.stages:
            if (s.name and s.name.lower() == ref.lower()) or str(s.index) == ref:
                if s.index in states:
                    return states[s.index]
        try:
            rec = self.engine.images.resolve(ref)
        except DockyardError as e:
            raise BuildError(f"COPY --from={ref}: {e}") from None
        return State(list(self.engine.images.manifest(rec).get("layers") or ()), self.engine.images.config(rec),
                     rec.id.removeprefix("sha256:"))

    def _copy(self, instr, state: State, states: dict, df) -> State:
        from dockyard.builder.copier import Layer

        # --link gives the same filesystem (only the layer's independence differs): accepted as is
        if (getattr(instr, "parents", False) or instr.exclude) and (
                instr.heredocs or any("://" in s for s in instr.sources)):
            raise NotImplemented(f"{self.name}:{instr.line}: {instr.keyword} --parents/--exclude apply to files of "
                                 "the context or a stage, not to heredocs or URLs")

        cc = state.cc
        workdir = cc.get("WorkingDir") or "/"
        dest = instr.dest if instr.dest.startswith("/") else os.path.join(workdir, instr.dest)
        dest_is_dir = instr.dest.endswith("/") or len(instr.sources) > 1 or any(ch in s for s in instr.sources
                                                                                for ch in "*?[")
        uid = gid = 0
        if instr.chown:
            uid, gid = self._chown(instr.chown, state)
        mode = None
        if instr.chmod:
            from dockyard.builder.dockerfile import parse_chmod

            mode = parse_chmod(instr.chmod, where=f"{self.name}:{instr.line}")
        # Written through the stage's own filesystem (an overlay whose upper is the new layer), as
        # Docker does: a destination under a symlink of the image lands where the link points
        # (resolved inside the image), and directories that exist keep their owner and mode.
        root, unmount, upper = self._mount_state(state, writable=True)
        try:
            with Layer(root, uid=uid, gid=gid, mode=mode) as layer:
                if instr.heredocs:  # COPY <<EOF /file: the body is the file
                    self._copy_heredocs(instr, layer, dest, dest_is_dir)
                elif any("://" in src for src in instr.sources):  # ADD URL: the file as downloaded
                    self._copy_urls(instr, layer, dest, dest_is_dir)
                elif getattr(instr, "from_", None):
                    self._copy_from(instr, layer, dest, dest_is_dir, states, df)
                else:
                    with self._context_root() as src:
                        matches = [m for s in instr.sources for m in self._context_sources(src, s)]
                        for m in matches:
                            self._place(src, m, layer, dest, dest_is_dir, extract=instr.keyword == "ADD",
                                        instr=instr)
            unmount(keep=True)
            return self._add_layer(state, upper, overlay_upper=True,
                                   created_by=f"/bin/sh -c #(nop) {instr.original}")
        finally:
            unmount()

    def _copy_heredocs(self, instr, layer, dest: str, dest_is_dir: bool) -> None:
        bodies = {f"<<{h.name}": h for h in instr.heredocs} | {f"<<-{h.name}": h for h in instr.heredocs}
        for src in instr.sources:
            h = bodies.get(src)
            if h is None:
                raise NotImplemented(f"{self.name}:{instr.line}: mixing heredocs and files in one "
                                     f"{instr.keyword} is not supported yet")
            target = os.path.join(dest, h.name) if dest_is_dir and len(instr.sources) > 1 else dest
            pfd, name = layer.parent(target)
            try:
                if name is None:
                    raise BuildError(f"{self.name}:{instr.line}: cannot write a heredoc over /")
                layer.put_bytes(pfd, name, h.content.encode(), 0o644)
            finally:
                os.close(pfd)

    def _copy_urls(self, instr, layer, dest: str, dest_is_dir: bool) -> None:
        for url in instr.sources:
            base = os.path.basename(url.split("?", 1)[0].rstrip("/")) or "index.html"
            pfd, name = layer.parent(os.path.join(dest, base) if dest_is_dir else dest)
            try:
                with open(self._download(url, instr), "rb") as f:  # our own temp file, mode 0600
                    layer.put_file(pfd, name or base, f.fileno(), os.fstat(f.fileno()))  # docker: 0600
            finally:
                os.close(pfd)

    def _copy_from(self, instr, layer, dest: str, dest_is_dir: bool, states: dict, df) -> None:
        """COPY --from: sources resolved inside the stage's or image's filesystem."""
        from dockyard.builder.copier import MissingSource, SourceRoot

        if instr.from_ in self.build_contexts:
            root, unmount = self.build_contexts[instr.from_], (lambda: None)
        else:
            root, unmount, _ = self._mount_state(self._from_state(instr.from_, states, df))
        try:
            with SourceRoot(root) as src:
                matches = []
                for s in instr.sources:
                    try:
                        found = src.expand(s)
                    except MissingSource as e:
                        raise BuildError(f"COPY failed: {e}") from None
                    if not found:
                        raise BuildError(f"COPY failed: stat {s}: file does not exist")
                    matches += found
                for m in matches:
                    self._place(src, m, layer, dest, dest_is_dir, extract=False, instr=instr)
        finally:
            unmount()

    def _place(self, src, m, layer, dest: str, dest_is_dir: bool, *, extract: bool, instr=None) -> None:
        """One resolved source into the layer: a directory's contents into ``dest``, a local tar
        (ADD) unpacked into it, anything else to ``dest`` or to ``dest``/its name. COPY --exclude
        skips what its patterns name; COPY --parents keeps the source's path (below a ``/./`` in
        the source when there is one) under ``dest``."""
        excl = _excluder(instr) if instr is not None else None
        if excl and excl(m, ()):
            return
        skip = (lambda rel: excl(m, rel)) if excl else None
        if instr is not None and getattr(instr, "parents", False):
            dest = posixpath.join(dest, *m.name[_pivot(instr, m):]) if m.name else dest
            dest_is_dir = False
        if m.is_dir:
            dfd = layer.directory(dest)
            try:
                layer.copy(src, m, dfd, None, skip)
            finally:
                os.close(dfd)
            return
        if extract and stat.S_ISREG(m.st.st_mode):
            data = src.open_file(m.real)
            if data is not None:
                with os.fdopen(data, "rb") as f:
                    if _is_tar(f):
                        from dockyard.archive.apply import apply_layer

                        dfd = layer.directory(dest)
                        try:  # the directory's own descriptor, named through /proc: no path walk
                            apply_layer(f, f"/proc/self/fd/{dfd}", mode="flatten")
                        finally:
                            os.close(dfd)
                        return
        target = os.path.join(dest, m.name[-1]) if dest_is_dir or dest.endswith("/") else dest
        pfd, name = layer.parent(target)
        try:
            layer.copy(src, m, pfd, name, skip)
        finally:
            os.close(pfd)

    def _chown(self, spec: str, state: State) -> tuple[int, int]:
        from dockyard.engine.users import resolve_user

        user, _, group = spec.partition(":")
        if user.isdigit() and (not group or group.isdigit()):
            return int(user), int(group or user)
        root, unmount, _ = self._mount_state(state)
        try:
            from dockyard.builder.copier import SourceRoot

            with SourceRoot(root) as src:
                def read(p):  # inside the stage's root: an image's /etc/passwd may be a link
                    m = src.lookup(tuple(p.split("/")))
                    fd = None if m is None else src.open_file(m.real)
                    if fd is None:
                        return None
                    with os.fdopen(fd, encoding="utf-8", errors="replace") as f:
                        return f.read()
                u = resolve_user(spec, read("etc/passwd"), read("etc/group"))
            return u.uid, u.gid
        finally:
            unmount()

    def _mount_state(self, state: State, *, writable: bool = False):
        """The state's filesystem on a temp dir: (path, unmount function, upper directory or
        None). Read-only, or ``writable`` with what is written kept in the upper directory.
        ``unmount(keep=True)`` detaches the mount but keeps the snapshot (to read its upper);
        ``unmount()`` then removes it. Both names carry this process's owner tag, so what a killed
        build leaves is reclaimed by the next command (`Engine.reclaim_temps`)."""
        import tempfile

        from dockyard.snapshots.mount import mount_all, unmount_all

        image_id = self._temp_image(state)
        rec = self.engine.images.resolve(image_id)
        top = self.engine.images.ensure_unpacked(rec, retain=True)
        key = f"build-{owner_tag()}-{os.urandom(8).hex()}"
        mounts = self.engine.snapshots.prepare(key, top, readonly=not writable)
        target = tempfile.mkdtemp(dir=self.engine.tmp_dir(), prefix=f"mnt-{owner_tag()}-")
        try:
            mount_all(mounts, target)
        except BaseException:
            os.rmdir(target)
            self.engine.snapshots.remove(key, missing_ok=True)
            raise
        mounted = [True]

        def unmount(*, keep: bool = False) -> None:
            if mounted[0]:
                unmount_all(target)
                os.rmdir(target)
                mounted[0] = False
            if not keep:
                self.engine.snapshots.remove(key, missing_ok=True)

        return target, unmount, (self.engine.snapshots.upper_dir(key) if writable else None)

    # -- layers, images, cache -----------------------------------------------------------------

    def _add_layer(self, state: State, src_dir: str, *, overlay_upper: bool, created_by: str) -> State:
        from dockyard.images.layers import layer_from_dir

        new = state.copy()
        history = {"created": _now_rfc3339(self.epoch), "created_by": created_by}
        if not any(os.scandir(src_dir)):
            history["empty_layer"] = True
            new.config["history"].append(history)
            new.layer_result = None
            return new
        desc, diff_id, _size = layer_from_dir(self.engine.content, src_dir, tmp_dir=os.path.join(self.engine.root, "tmp"),
                                              overlay_upper=overlay_upper, mtime_clamp=self.epoch)
        new.layers.append(desc)
        new.config.setdefault("rootfs", {"type": "layers", "diff_ids": []})["diff_ids"].append(diff_id)
        new.config["history"].append(history)
        new.layer_result = (desc, diff_id)
        return new

    def _in_cache_from(self, state: State, extra: dict | None = None) -> bool:
        """Whether a cached step may be used: always without --cache-from, else only if the image
        it makes (history, layers; plus the `extra` history entry) begins one of those images."""
        if self.cache_from is None:
            return True
        history = [h.get("created_by", "") for h in state.config.get("history") or ()]
        if extra is not None:
            history.append(extra.get("created_by", ""))
        diff_ids = list((state.config.get("rootfs") or {}).get("diff_ids") or ())
        return any(h[:len(history)] == history and d[:len(diff_ids)] == diff_ids for h, d in self.cache_from)

    def _cache_get(self, key: str) -> dict | None:
        path = os.path.join(self.cache_dir, key + ".json")
        try:
            with open(path) as f:
                entry = json.load(f)
        except (OSError, ValueError):
            return None
        layer = entry.get("layer")
        if layer and not self.engine.content.retain(layer["digest"]):
            return None  # its layer was garbage-collected: build the step again
        try:
            os.utime(path)  # its mtime is when it was last used (builder prune --filter until, --keep-storage)
        except OSError:
            pass
        return entry

    def _cache_put(self, key: str, state: State) -> None:
        res = getattr(state, "layer_result", None)
        entry = {"layer": res[0] if res else None, "diff_id": res[1] if res else None,
                 "history": state.config["history"][-1]}
        os.makedirs(self.cache_dir, exist_ok=True)
        tmp = os.path.join(self.cache_dir, f".{key}.{os.getpid()}")
        with open(tmp, "w") as f:
            json.dump(entry, f)
        os.replace(tmp, os.path.join(self.cache_dir, key + ".json"))

    def _finish_config(self, state: State) -> dict:
        cfg = json.loads(json.dumps(state.config))
        history = cfg.get("history") or []
        # an image is as old as its last step (docker's rule): rebuilding from cache changes nothing
        cfg["created"] = history[-1]["created"] if history else _now_rfc3339(self.epoch)
        cfg.setdefault("rootfs", {"type": "layers", "diff_ids": []})
        cfg.setdefault("os", "linux")
        return cfg

    def _temp_image(self, state: State) -> str:
        image_id = self.engine.images.add(self._finish_config(state), list(state.layers), [])
        self._temp_images.append(image_id)
        return image_id

    def _commit_image(self, state: State) -> str:
        return self.engine.images.add(self._finish_config(state), list(state.layers), [])

    def _drop_temp_images(self) -> None:
        for image_id in self._temp_images:
            rec = self.engine.db.get_image(image_id)
            if rec is not None and not self.engine.db.tags_for(image_id) and \
                    not self.engine.db.containers_using_image(image_id):
                self.engine.db.delete_image(image_id)


State.layer_result = None  # set by _add_layer: (descriptor, diff_id) of a step's new layer


def _file_digest(path: str, algo: str = "sha256") -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _heredoc_script(instr) -> str:
    """The shell script of a shell-form RUN with heredocs, as buildkit runs it: `RUN <<EOF` runs
    the body itself; `RUN cat <<EOF > f` hands the shell the command and its here-documents."""
    if not instr.heredocs:
        return instr.command
    words = instr.command.split()
    if len(instr.heredocs) == 1 and len(words) == 1 and words[0].lstrip("<-").strip("'\"") == instr.heredocs[0].name:
        return instr.heredocs[0].content
    return instr.command + "\n" + "".join(f"{h.content}{h.name}\n" for h in instr.heredocs)


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _is_tar(f) -> bool:
    """Whether an open file is a (compressed) tar, as ADD decides to unpack it; rewinds it."""
    import tarfile

    head = os.pread(f.fileno(), 262, 0)
    if head[:2] == b"\x1f\x8b" or head[:4] == b"\x28\xb5\x2f\xfd" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        return True
    try:
        return tarfile.is_tarfile(f)
    finally:
        f.seek(0)


def _drop_runtime_stubs(upper: str) -> None:
    """The runtime's empty mountpoints (/etc/hosts…, /proc, /sys, /dev) are not the step's work.

    The upper dir was written by the step's container: it is walked by descriptor, so a link it
    left (an ``etc`` pointing anywhere) is never followed."""
    from dockyard.archive import inroot

    root = os.open(upper, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            etc = os.open("etc", inroot.O_DIR, dir_fd=root)
        except OSError:
            etc = None
        if etc is not None:
            try:
                for name in ("hosts", "hostname", "resolv.conf"):
                    st = inroot.lstat_at(etc, name)
                    if st is not None and stat.S_ISREG(st.st_mode) and st.st_size == 0:
                        os.unlink(name, dir_fd=etc)
            finally:
                os.close(etc)
        for name in ("proc", "sys", "dev", "etc"):
            try:
                os.rmdir(name, dir_fd=root)  # only an empty directory, never through a link
            except OSError:
                pass
    finally:
        os.close(root)


def _excluder(instr):
    """COPY/ADD --exclude as a test (match, path below it) -> skipped: the patterns (.dockerignore
    syntax, Go's filepath.Match per component) are matched against the path relative to the
    source directory, or the base name of a file source, as BuildKit's copy does."""
    pats = getattr(instr, "exclude", None)
    if not pats:
        return None
    from dockyard.builder.context import ContextFilter

    f = ContextFilter(pats, dockerfile=None, keep_sent=False)

    def skip(m, rel) -> bool:
        if m.is_dir:
            return bool(rel) and f.excluded("/".join(rel))
        return f.excluded("/".join((m.name[-1] if m.name else "", *rel)))
    return skip


def _pivot(instr, m) -> int:
    """How many leading components of a --parents match are dropped: those before a ``/./`` of
    the source that produced it (BuildKit's pivot), none without one."""
    from dockyard.archive.inroot import clean_parts

    for source in instr.sources:
        head, sep, _ = ("/" + source).rpartition("/./")
        if sep:
            from fnmatch import fnmatchcase

            want = clean_parts(head)
            n = len(want)
            if len(m.name) > n and all(fnmatchcase(a, b) for a, b in zip(m.name[:n], want)):
                return n
    return 0
