"""`Record`: frozen, slotted, keyword-only value classes without importing `dataclasses`.

`dataclasses` pulls in `inspect` (and with it `ast`, `dis`, `tokenize`): about 10 ms of a
`dockyard run` whose whole budget is a few tens. The records on that path (container config,
state rows, mounts, references) only need what this gives: keyword construction with defaults,
immutability, equality, a readable repr, and `to_dict`.

    class Mount(Record):
        __slots__ = ("type", "source", "target", "options")
        _defaults = {"target": "", "options": ()}
"""

from __future__ import annotations


class Record:
    __slots__ = ()
    _defaults: dict = {}
    _fields: tuple = ()  # set by @record for classes that inherit fields; else __slots__ is the list

    def _names(self) -> tuple:
        return type(self)._fields or self.__slots__

    def __init__(self, *args, **kw) -> None:
        defaults = type(self)._defaults
        names = self._names()
        if args:  # positional, in field order (the @record(frozen=False) helper records use it)
            if len(args) > len(names):
                raise TypeError(f"{type(self).__name__}() takes {len(names)} fields, {len(args)} given")
            kw = dict(zip(names, args)) | kw
        for name in names:
            if name in kw:
                value = kw.pop(name)
            elif name in defaults:
                value = defaults[name]
                if isinstance(value, (dict, list)):
                    value = type(value)(value)  # never share a mutable default
            else:
                raise TypeError(f"{type(self).__name__}() missing keyword argument {name!r}")
            object.__setattr__(self, name, value)
        if kw:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments {sorted(kw)}")

    def __setattr__(self, name, value) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen; use replace()")

    def __delattr__(self, name) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __eq__(self, other) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._names())

    def __hash__(self) -> int:
        return hash(tuple(_hashable(getattr(self, n)) for n in self._names()))

    def __repr__(self) -> str:
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._names())
        return f"{type(self).__name__}({args})"

    def to_dict(self) -> dict:
        return {n: getattr(self, n) for n in self._names()}

    def replace(self, **changes):
        return type(self)(**({n: getattr(self, n) for n in self._names()} | changes))


def _hashable(v):
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    return v


class MutableRecord(Record):
    """A Record whose fields may be assigned after construction (no hash)."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]

    def __setattr__(self, name, value) -> None:
        object.__setattr__(self, name, value)


def record(cls=None, *, frozen: bool = True):
    """Turn an annotated class into a Record, the way @dataclass(kw_only=True, slots=True) would:
    annotations (inherited ones first, `ClassVar`s skipped) are the fields, class values their
    defaults (a mutable default is copied per instance). Much cheaper to define than a dataclass,
    which compiles generated methods with exec() for every class."""

    def wrap(cls):
        fields: list[str] = []
        defaults: dict = {}
        for klass in reversed(cls.__mro__):
            for name, typ in klass.__dict__.get("__annotations__", {}).items():
                if name.startswith("_") or str(typ).startswith(("ClassVar", "typing.ClassVar")):
                    continue
                if name not in fields:
                    fields.append(name)
                value = klass.__dict__.get(name, _MISSING)
                if value is not _MISSING and not type(value).__name__ == "member_descriptor":
                    defaults[name] = value
                elif klass is cls:
                    defaults.pop(name, None)
        inherited = set()
        for b in cls.__mro__[1:]:
            inherited.update(getattr(b, "_fields", ()) or getattr(b, "__slots__", ()))
        ns = {k: v for k, v in cls.__dict__.items() if k not in fields and k not in ("__dict__", "__weakref__")}
        ns["__slots__"] = tuple(f for f in fields if f not in inherited)
        ns["_fields"] = tuple(fields)
        ns["_defaults"] = defaults
        bases = cls.__bases__
        if not any(issubclass(b, Record) for b in bases):
            bases = (Record if frozen else MutableRecord,) + tuple(b for b in bases if b is not object)
        elif not frozen and not any(issubclass(b, MutableRecord) for b in bases):
            bases = (MutableRecord,) + bases
        return type(cls)(cls.__name__, bases, ns)

    return wrap(cls) if cls is not None else wrap


_MISSING = object()
