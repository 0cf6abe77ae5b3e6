"""`Mount`: the lingua franca between snapshotters and the runtime.

Snapshotters return mounts and mount nothing themselves (containerd's idea), so the same
snapshot can be handed to our runtime, to runc in a bundle, or mounted on the host.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class Mount:
    type: str
    source: str
    target: str = ""
    options: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {"type": self.type, "source": self.source, "options": list(self.options)}
