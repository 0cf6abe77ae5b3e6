"""The build cache: one JSON entry per step key in ``<root>/cache/build`` (the step's layer
descriptor, diff id and history entry), and beside it ``why/`` — each step's inputs kept under
its parent's key and instruction, so a miss can say what changed (something no other builder
tells)."""

from __future__ import annotations

import json
import os

from dockyard.builder.state import State, step_key


class StepCache:
    """Cached steps of the store at ``cache_dir`` whose layers are in ``content``; ``cache_from``
    ([(history created_by list, diff_ids, history, layers)] of `--cache-from` images, or None)
    limits which cached steps may be used, and their own layers are steps too (`from_images`)."""

    def __init__(self, cache_dir: str, content, cache_from: list | None = None) -> None:
        self.dir, self.content, self.cache_from = cache_dir, content, cache_from

    def get(self, key: str) -> dict | None:
        path = os.path.join(self.dir, key + ".json")
        try:
            with open(path) as f:
                entry = json.load(f)
        except (OSError, ValueError):
            return None
        layer = entry.get("layer")
        if layer and not self.content.retain(layer["digest"]):
            return None  # its layer was garbage-collected: build the step again
        try:
            os.utime(path)  # its mtime is when it was last used (builder prune --filter until, --keep-storage)
        except OSError:
            pass
        return entry

    def put(self, key: str, state: State) -> None:
        res = state.layer_result
        entry = {"layer": res[0] if res else None, "diff_id": res[1] if res else None,
                 "history": state.config["history"][-1]}
        os.makedirs(self.dir, exist_ok=True)
        tmp = os.path.join(self.dir, f".{key}.{os.getpid()}")
        with open(tmp, "w") as f:
            json.dump(entry, f)
        os.replace(tmp, os.path.join(self.dir, key + ".json"))

    def usable(self, state: State, extra: dict | None = None) -> bool:
        """Whether a cached step may be used: always without --cache-from, else only if the image
        it makes (history, layers; plus the `extra` history entry) begins one of those images."""
        if self.cache_from is None:
            return True
        history = [h.get("created_by", "") for h in state.config.get("history") or ()]
        if extra is not None:
            history.append(extra.get("created_by", ""))
        diff_ids = list((state.config.get("rootfs") or {}).get("diff_ids") or ())
        return any(h[:len(history)] == history and d[:len(diff_ids)] == diff_ids for h, d, *_ in self.cache_from)

    def from_images(self, state: State, created_by: str) -> dict | None:
        """A step taken from a --cache-from image itself, as dockerd's classic builder does: an
        image whose history and layers begin as `state`'s and whose next history entry is this
        step (`created_by`) gives that entry and its layer (None: no such image)."""
        if not self.cache_from:
            return None
        history = [h.get("created_by", "") for h in state.config.get("history") or ()]
        diff_ids = list((state.config.get("rootfs") or {}).get("diff_ids") or ())
        for h, d, entries, layers in self.cache_from:
            n = len(history)
            if len(h) <= n or h[:n] != history or d[:len(diff_ids)] != diff_ids or h[n] != created_by:
                continue
            entry = entries[n]
            if entry.get("empty_layer"):
                return {"layer": None, "diff_id": None, "history": entry}
            i = len(diff_ids)
            if i >= len(d) or i >= len(layers) or not self.content.retain(layers[i]["digest"]):
                continue
            return {"layer": layers[i], "diff_id": d[i], "history": entry}
        return None

    # -- why a step was not cached --------------------------------------------------------------

    def why_path(self, parent: State, instr) -> str:
        return os.path.join(self.dir, "why", step_key(parent.key, instr.original) + ".json")

    def inputs_before(self, parent: State, instr) -> dict | None:
        """The inputs this step had when it was last built on this parent (None: never)."""
        try:
            with open(self.why_path(parent, instr)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def remember_inputs(self, parent: State, instr, inputs: dict) -> None:
        path = self.why_path(parent, instr)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump(inputs, f)
        os.replace(path + ".tmp", path)

    def miss_reason(self, parent: State, instr, inputs: dict, *, missed: bool) -> str:
        """Which input made this step miss the cache: a build arg, which source files, the step
        before it (``missed``: an earlier step of the stage was rebuilt), or that this step (or
        its base) was never built before."""
        before = self.inputs_before(parent, instr)
        if before is None:
            return ("an earlier step changed" if missed else
                    "no earlier build of this step on this base (new or edited instruction, or a new base image)")
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
        return "; ".join(reasons) or "its cached result is gone from the store"
