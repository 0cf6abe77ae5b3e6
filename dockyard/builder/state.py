"""What a build carries from step to step: the image being built (`State`), the step error, and
the small pure helpers every step module shares (the cache key, a file's digest, the clock)."""

from __future__ import annotations

import hashlib
import json
import time

from dockyard.errors import InvalidArgument


class BuildError(InvalidArgument):
    """A step failed; the message says which, as docker's does."""


class State:
    """An image being built: layer descriptors, the OCI config, and the cache key so far."""

    layer_result = None  # set by Builder.add_layer: (descriptor, diff_id) of a step's new layer

    def __init__(self, layers: list, config: dict, key: str) -> None:
        self.layers, self.config, self.key = layers, config, key

    def copy(self) -> "State":
        return State(list(self.layers), json.loads(json.dumps(self.config)), self.key)

    @property
    def cc(self) -> dict:
        return self.config.setdefault("config", {})


def now_rfc3339(epoch: int | None) -> str:
    t = time.time() if epoch is None else epoch
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def step_key(*parts) -> str:
    """A cache key: the sha256 of the parts as JSON."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def file_digest(path: str, algo: str = "sha256") -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
