"""What the user asked for a container (`ContainerConfig`), kept apart from what is happening.

The config is frozen: it is written once at create time and is the input of specgen. What
changes (status, pid, exit code, timestamps) lives in the container's state record.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerConfig:
    image: str                                  # as the user typed it
    cmd: tuple[str, ...] | None = None          # None: the image's Cmd
    entrypoint: tuple[str, ...] | None = None   # None: the image's Entrypoint; () resets it
    env: tuple[str, ...] = ()
    user: str = ""
    workdir: str = ""
    hostname: str = ""
    domainname: str = ""
    labels: dict = field(default_factory=dict)
    tty: bool = False
    stdin_open: bool = False
    auto_remove: bool = False
    read_only: bool = False
    network: str = "none"                       # none | host (bridges arrive with the network issue)
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    security_opt: tuple[str, ...] = ()
    runtime: str = "dockyard"                   # dockyard | runc | a path to a runc-compatible binary
    userns: bool = False                        # run in a user namespace (root maps to 100000+)
    init: bool = False

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "ContainerConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for k in ("cmd", "entrypoint", "env", "cap_add", "cap_drop", "security_opt"):
            if isinstance(known.get(k), list):
                known[k] = tuple(known[k])
        return cls(**known)
