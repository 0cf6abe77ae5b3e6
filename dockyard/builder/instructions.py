"""What a parsed Dockerfile is: `Dockerfile` → `Stage`s → frozen instruction records (`From`, `Run`,
`Copy`, …, with their `Mount`s and `Heredoc`s), each with ``to_dict()``."""

from __future__ import annotations

from dockyard.builder.lexer import StageNotFound
from dockyard.record import Record, record

TYPE_CHECKING = False  # typing is for annotations only: not imported on the cached build path
if TYPE_CHECKING:
    from typing import Any, ClassVar


def _to_json(v: Any) -> Any:
    if isinstance(v, (Instruction, Mount, Heredoc)):
        return v.to_dict()
    if isinstance(v, (list, tuple)):
        return [_to_json(x) for x in v]
    if isinstance(v, dict):
        return {k: _to_json(x) for k, x in v.items()}
    return v


class _ToDict(Record):
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        kw = getattr(self, "keyword", None)
        if kw:
            out["kind"] = kw
        for name in self._names():
            out[name] = _to_json(getattr(self, name))
        return out


@record
class Heredoc(_ToDict):
    name: str
    content: str
    expand: bool = True
    chomp: bool = False
    fd: int | None = None


@record
class Mount(_ToDict):
    """One ``RUN --mount=...``."""
    type: str = "bind"
    target: str = ""
    source: str | None = None
    from_: str | None = None
    readonly: bool = False
    id: str | None = None
    sharing: str | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    required: bool = False
    env: str | None = None
    size: str | None = None


@record
class Instruction(_ToDict):
    """Common to every instruction: first and last source line and the joined original text."""
    keyword: ClassVar[str] = ""
    line: int
    end_line: int
    original: str


@record
class From(Instruction):
    keyword: ClassVar[str] = "FROM"
    image: str
    name: str | None = None
    platform: str | None = None


@record
class Run(Instruction):
    keyword: ClassVar[str] = "RUN"
    command: list[str] | str
    shell_form: bool
    mounts: list[Mount] = []
    network: str | None = None
    security: str | None = None
    heredocs: list[Heredoc] = []


@record
class Cmd(Instruction):
    keyword: ClassVar[str] = "CMD"
    command: list[str] | str
    shell_form: bool


@record
class Entrypoint(Instruction):
    keyword: ClassVar[str] = "ENTRYPOINT"
    command: list[str] | str
    shell_form: bool


@record
class Label(Instruction):
    keyword: ClassVar[str] = "LABEL"
    pairs: list[tuple[str, str]]


@record
class Maintainer(Instruction):
    """Deprecated. Docker stores it as the image's ``author``; :attr:`pairs` gives the LABEL form."""
    keyword: ClassVar[str] = "MAINTAINER"
    maintainer: str

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [("maintainer", self.maintainer)]


@record
class Expose(Instruction):
    keyword: ClassVar[str] = "EXPOSE"
    ports: list[str]


@record
class Env(Instruction):
    keyword: ClassVar[str] = "ENV"
    pairs: list[tuple[str, str]]


@record
class Add(Instruction):
    keyword: ClassVar[str] = "ADD"
    sources: list[str]
    dest: str
    chown: str | None = None
    chmod: str | None = None
    checksum: str | None = None
    keep_git_dir: bool = False
    link: bool = False
    exclude: list[str] = []
    heredocs: list[Heredoc] = []


@record
class Copy(Instruction):
    keyword: ClassVar[str] = "COPY"
    sources: list[str]
    dest: str
    from_: str | None = None
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    parents: bool = False
    exclude: list[str] = []
    heredocs: list[Heredoc] = []


@record
class Volume(Instruction):
    keyword: ClassVar[str] = "VOLUME"
    paths: list[str]


@record
class User(Instruction):
    keyword: ClassVar[str] = "USER"
    user: str


@record
class Workdir(Instruction):
    keyword: ClassVar[str] = "WORKDIR"
    path: str


@record
class Arg(Instruction):
    """One declared ARG (``ARG a=1 b`` gives two, with the same line). ``default`` is the
    expanded default; ``value`` what the build sees (build arg, default, global value, or None)."""
    keyword: ClassVar[str] = "ARG"
    name: str
    default: str | None = None
    value: str | None = None


@record
class Onbuild(Instruction):
    """``expression`` is the trigger text as Docker stores it in the image config."""
    keyword: ClassVar[str] = "ONBUILD"
    instruction: Instruction
    expression: str


@record
class Stopsignal(Instruction):
    keyword: ClassVar[str] = "STOPSIGNAL"
    signal: str


@record
class Healthcheck(Instruction):
    """``test`` as in the image config: ``["NONE"]``, ``["CMD", ...]`` or ``["CMD-SHELL", cmd]``.
    Durations in nanoseconds, 0 meaning "inherit/default"."""
    keyword: ClassVar[str] = "HEALTHCHECK"
    test: list[str]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    @property
    def none(self) -> bool:
        return self.test == ["NONE"]


@record
class Shell(Instruction):
    keyword: ClassVar[str] = "SHELL"
    shell: list[str]


@record(frozen=False)
class Stage:
    index: int
    name: str | None
    from_: From
    instructions: list[Instruction] = []

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "from": self.from_.to_dict(),
                "instructions": [i.to_dict() for i in self.instructions]}


@record(frozen=False)
class Dockerfile:
    filename: str
    stages: list[Stage]
    meta_args: list[Arg]
    escape: str = "\\"
    syntax: str | None = None
    directives: dict[str, str] = {}

    def stage_by_name(self, name_or_index: str | int) -> Stage:
        """A stage by its ``AS`` name (case-insensitive) or index (int or digit string)."""
        if isinstance(name_or_index, int) or (isinstance(name_or_index, str) and name_or_index.isdigit()):
            i = int(name_or_index)
            if 0 <= i < len(self.stages):
                return self.stages[i]
            raise StageNotFound(f"build stage {i} not found ({len(self.stages)} stages)")
        low = name_or_index.lower()
        for s in self.stages:
            if s.name == low:
                return s
        raise StageNotFound(f"build stage {name_or_index!r} not found")

    def to_dict(self) -> dict[str, Any]:
        return {"meta_args": [a.to_dict() for a in self.meta_args],
                "stages": [s.to_dict() for s in self.stages]}
