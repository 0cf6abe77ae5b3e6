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

    def __init__(self, **kw) -> None:
        defaults = type(self)._defaults
        for name in self.__slots__:
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
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(_hashable(getattr(self, n)) for n in self.__slots__))

    def __repr__(self) -> str:
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({args})"

    def to_dict(self) -> dict:
        return {n: getattr(self, n) for n in self.__slots__}

    def replace(self, **changes):
        return type(self)(**(self.to_dict() | changes))


def _hashable(v):
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    return v
