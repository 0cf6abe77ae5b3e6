"""`Mount`: the lingua franca between snapshotters and the runtime.

Snapshotters return mounts and mount nothing themselves (containerd's idea), so the same
snapshot can be handed to our runtime, to runc in a bundle, or mounted on the host.
"""

from __future__ import annotations

from dockyard.record import Record


class Mount(Record):
    """type, source, target (may be empty: the caller decides), options (a tuple of strings)."""

    __slots__ = ("type", "source", "target", "options")
    _defaults = {"target": "", "options": ()}

    def to_dict(self) -> dict:
        return {"type": self.type, "source": self.source, "options": list(self.options)}
