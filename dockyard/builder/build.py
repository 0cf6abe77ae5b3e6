"""`dockyard build`: a Dockerfile's stages, step by step, into an image, with a layer cache.

Each step starts from the state of the previous one (layers + image config) and either changes
only the config (ENV, CMD, …: no layer, as Docker; `dockyard.builder.metadata`) or adds one layer:
RUN runs the command in a real container made from the current state and takes its overlay upper
dir as the layer (`dockyard.builder.runstep`); COPY and ADD write their files through an overlay
of the stage whose upper dir becomes the layer (`dockyard.builder.copystep`, reading through
`dockyard.builder.sources`). A step is reused when its cache key — the parent step's key, the
instruction's text, the build args it can see and, for COPY/ADD, the content and modes of its
sources (not their mtimes) — was built before and its layer is still in the store
(`dockyard.builder.stepcache`).

RUN --mount (cache, bind, tmpfs, secret) is prepared by `dockyard.builder.runmounts`.
What is not done yet (see the issue): RUN --mount=type=ssh, ADD from git URLs, --platform
(images are built for this machine's platform).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

from dockyard.builder.state import BuildError, State, now_rfc3339, step_key
from dockyard.builder.stepcache import StepCache
from dockyard.errors import DockyardError, InvalidArgument, NotImplemented
from dockyard.ownership import owner_tag


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
        self.limits: dict = {}
        self.limit_opts: dict = {}
        if run_limits:
            from dockyard.engine.create import config_from_request

            t = config_from_request({"Image": "build", "HostConfig": dict(run_limits)})
            self.limits = {k: getattr(t, k) for k in ("memory", "memory_swap", "cpu_quota", "cpu_period",
                                                        "cpu_shares", "cpuset_cpus", "security_opt")}
            self.limit_opts = dict(t.host_opts)
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
        self.cache = StepCache(self.cache_dir, engine.content, cache_from)
        self._temp_images: list[str] = []
        self.context_filter = None  # the .dockerignore of the context (read by build)
        self._missed = False    # an earlier step of this stage was rebuilt
        self.last_files: dict = {}  # a COPY/ADD step's sources and their digests
        self.downloads: dict[str, str] = {}  # ADD URL -> downloaded file, removed after the build

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
        self.context_filter = ContextFilter.from_text(ignore.decode("utf-8", "surrogateescape"), dockerfile=self.name,
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
                    state = self.step(instr, state, args, states, df)
                    self.progress.done(state.key)
                states[stage.index] = state
            final = states[last.index]
            if self.labels:
                final.cc.setdefault("Labels", {}).update(self.labels)
            image_id = self.commit_image(final)
            ok = True
            return image_id
        finally:
            self.progress.finish(ok)
            self.drop_temp_images()
            for path in self.downloads.values():
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
            state = self.step(instr, state, args, states, df)
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

    def step(self, instr, state: State, args: dict, states: dict, df) -> State:
        kw = instr.keyword
        if kw == "ARG":
            if instr.value is not None:
                args[instr.name] = instr.value
            new = state.copy()
            new.key = step_key(state.key, instr.original, sorted(args.items()))
            inputs = {"args": {instr.name: instr.value}}
            before = self.cache.inputs_before(state, instr)
            if before is not None and before != inputs:  # the steps after it will miss: say why here, once
                self.progress.miss(f"build arg {instr.name} changed")
                self._missed = True
            self.cache.remember_inputs(state, instr, inputs)
            return new
        if kw in ("RUN", "COPY", "ADD"):
            from dockyard.builder.sources import sources_digest

            self.last_files = {}
            extra = sources_digest(self, instr, states, df) if kw in ("COPY", "ADD") else ""
            if kw == "RUN" and any(m.type == "bind" for m in instr.mounts):
                from dockyard.builder.runmounts import bind_digest

                extra = bind_digest(self, instr, states, df)
            # a heredoc's body is not in `original` (the first line): it is part of the step
            extra += "".join(f"\0{h.name}\0{h.content}" for h in getattr(instr, "heredocs", ()) or ())
            used_args = sorted(args.items()) if kw == "RUN" else []
            key = step_key(state.key, instr.original, used_args, extra, self.network if kw == "RUN" else "")
            cached = None if self._skip_cache else self.cache.get(key)
            if cached is not None and self.cache_from is not None:
                cached = self._usable_entry(state, cached)
            if cached is None and not self._skip_cache and kw == "RUN" and not used_args and not instr.mounts \
                    and instr.network in (None, "default"):
                # a --cache-from image's own layer, matched by its history, as dockerd's classic
                # builder (a build arg or a mount is not in the history: such a step cannot be told)
                from dockyard.builder.runstep import run_argv

                cached = self.cache.from_images(state, " ".join(run_argv(instr, state)))
            if cached is not None:
                new = state.copy()
                new.key = key
                if cached["layer"]:
                    new.layers.append(cached["layer"])
                    new.config.setdefault("rootfs", {"type": "layers", "diff_ids": []})["diff_ids"].append(
                        cached["diff_id"])
                new.config["history"].append(cached["history"])
                if self.cache.usable(new):
                    self.progress.cached()
                    return new
            inputs = {"args": dict(used_args), "files": self.last_files, "extra": hashlib.sha256(
                extra.encode()).hexdigest(), "network": self.network if kw == "RUN" else ""}
            self.explain_miss(state, instr, inputs)
            if kw == "RUN":
                from dockyard.builder.runstep import run_step

                new = run_step(self, instr, state, args, states, df)
            else:
                from dockyard.builder.copystep import copy_step

                new = copy_step(self, instr, state, states, df)
            new.key = key
            self.cache.put(key, new)
            self.cache.remember_inputs(state, instr, inputs)
            return new
        from dockyard.builder.metadata import apply_metadata

        new = state.copy()
        apply_metadata(instr, new, self.name)
        new.key = step_key(state.key, instr.original)
        # cached too, so a fully cached build repeats its history and times: the same image id
        cached = None if self._skip_cache else self.cache.get(new.key)
        if cached is not None and not self.cache.usable(new, cached["history"]):
            cached = None
        new.config["history"].append(cached["history"] if cached else {
            "created": now_rfc3339(self.epoch), "created_by": f"/bin/sh -c #(nop)  {instr.original}",
            "empty_layer": True})
        if cached is None:
            self.explain_miss(state, instr, {})
            self.cache.put(new.key, new)
            self.cache.remember_inputs(state, instr, {})
        else:
            self.progress.cached()
        return new

    def _usable_entry(self, state: State, entry: dict) -> dict | None:
        """The step cache's entry if --cache-from allows it on `state`, else None."""
        new = state.copy()
        if entry["layer"]:
            new.config.setdefault("rootfs", {"type": "layers", "diff_ids": []})["diff_ids"].append(entry["diff_id"])
        new.config["history"].append(entry["history"])
        return entry if self.cache.usable(new) else None

    def explain_miss(self, parent: State, instr, inputs: dict) -> None:
        """Say which input made this step miss the cache (see `StepCache.miss_reason`)."""
        if self._skip_cache:
            reason = "--no-cache" if self.no_cache else "--no-cache-filter"
        else:
            reason = self.cache.miss_reason(parent, instr, inputs, missed=self._missed)
        self._missed = True
        self.progress.miss(reason)

    # -- the stage's filesystem, layers, images -------------------------------------------------

    def mount_state(self, state: State, *, writable: bool = False):
        """The state's filesystem on a temp dir: (path, unmount function, upper directory or
        None). Read-only, or ``writable`` with what is written kept in the upper directory.
        ``unmount(keep=True)`` detaches the mount but keeps the snapshot (to read its upper);
        ``unmount()`` then removes it. Both names carry this process's owner tag, so what a killed
        build leaves is reclaimed by the next command (`Engine.reclaim_temps`)."""
        import tempfile

        from dockyard.snapshots.mount import mount_all, unmount_all

        image_id = self.temp_image(state)
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

    def add_layer(self, state: State, src_dir: str, *, overlay_upper: bool, created_by: str) -> State:
        from dockyard.images.layers import layer_from_dir

        new = state.copy()
        history = {"created": now_rfc3339(self.epoch), "created_by": created_by}
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

    def finish_config(self, state: State) -> dict:
        cfg = json.loads(json.dumps(state.config))
        history = cfg.get("history") or []
        # an image is as old as its last step (docker's rule): rebuilding from cache changes nothing
        cfg["created"] = history[-1]["created"] if history else now_rfc3339(self.epoch)
        cfg.setdefault("rootfs", {"type": "layers", "diff_ids": []})
        cfg.setdefault("os", "linux")
        return cfg

    def temp_image(self, state: State) -> str:
        image_id = self.engine.images.add(self.finish_config(state), list(state.layers), [])
        self._temp_images.append(image_id)
        return image_id

    def commit_image(self, state: State) -> str:
        return self.engine.images.add(self.finish_config(state), list(state.layers), [])

    def drop_temp_images(self) -> None:
        for image_id in self._temp_images:
            rec = self.engine.db.get_image(image_id)
            if rec is not None and not self.engine.db.tags_for(image_id) and \
                    not self.engine.db.containers_using_image(image_id):
                self.engine.db.delete_image(image_id)
