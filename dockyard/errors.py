"""The one error tree of dockyard.

    DockyardError
    ├── NotFound            ── ImageNotFound, ContainerNotFound, BlobNotFound
    ├── AlreadyExists       ── NameInUse
    ├── Conflict            ── ContainerRunning
    ├── InvalidArgument     ── DigestMismatch, InvalidDigest, BadReference, UnsafeArchive, BadSpec
    ├── PermissionDenied
    ├── Unavailable         ── SyscallError, DiskFull
    └── NotImplemented

The CLI renders any of these as ``dockyard: error: <message>`` (plus the hint) and the API maps
the category to an HTTP status; nothing matches on message text, so messages are free to improve.
"""

from __future__ import annotations


class DockyardError(Exception):
    """Base of every error dockyard raises on purpose. ``hint`` tells the user what to do."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class NotFound(DockyardError):
    pass


class AlreadyExists(DockyardError):
    pass


class Conflict(DockyardError):
    pass


class InvalidArgument(DockyardError):
    pass


class PermissionDenied(DockyardError):
    pass


class Unavailable(DockyardError):
    pass


class NotImplemented(DockyardError):  # noqa: A001 - the category's name in DESIGN.md
    pass


class ImageNotFound(NotFound):
    pass


class ContainerNotFound(NotFound):
    pass


class BlobNotFound(NotFound):
    pass


class NetworkNotFound(NotFound):
    pass


class VolumeNotFound(NotFound):
    pass


class NameInUse(AlreadyExists):
    pass


class ContainerRunning(Conflict):
    pass


class DigestMismatch(InvalidArgument):
    pass


class InvalidDigest(InvalidArgument):
    """A string that is not a well-formed ``algorithm:hex`` digest (so it never becomes a path)."""


class BadReference(InvalidArgument):
    pass


class UnsafeArchive(InvalidArgument):
    """A layer tar tried to write outside its root or carried a forbidden entry."""


class BadSpec(InvalidArgument):
    """An OCI runtime spec (config.json) or image config that cannot be used."""


class DiskFull(Unavailable):
    """No space left on the device that holds the store (ENOSPC, SQLite's "database or disk is
    full"): nothing was changed, and the command can be retried once space is freed."""


class SyscallError(Unavailable):
    """A failed system call, named with its arguments in words, e.g. ``mount(overlay → /x): EBUSY``."""

    def __init__(self, call: str, errno: int, detail: str = "", *, hint: str | None = None) -> None:
        import os

        self.call = call
        self.errno = errno
        msg = f"{call}: {os.strerror(errno)}"
        if detail:
            msg = f"{call} ({detail}): {os.strerror(errno)}"
        super().__init__(msg, hint=hint)
