"""Image references (``docker.io/library/busybox:latest@sha256:…``) with Docker's normalisation.

Follows the grammar and ``ParseNormalizedNamed`` of distribution's ``reference`` package, so a
name the user types means exactly what it means to ``docker``: ``busybox`` is
``docker.io/library/busybox``, ``user/x`` is ``docker.io/user/x``, and the first component is a
registry only if it looks like a host (contains ``.`` or ``:``, is ``localhost``, or has
uppercase letters, which a repository path never may).
"""

from __future__ import annotations

import re

from dockyard import errors
from dockyard.oci import digest as _digest
from dockyard.record import Record

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

# distribution/reference regexp.go, spelled out.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?", re.ASCII
)
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*", re.ASCII)
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}", re.ASCII)
_FULL_HEX_ID = re.compile(r"[a-f0-9]{64}", re.ASCII)
_ID_PREFIX = re.compile(r"(?:sha256:)?[a-f0-9]{12,64}", re.ASCII)

_HINT = "a reference looks like [registry[:port]/]name[:tag][@digest], e.g. docker.io/library/busybox:1.36"


class Reference(Record):
    """A normalised reference. ``domain`` and ``path`` are always set; tag and digest optional."""

    __slots__ = ("domain", "path", "tag", "digest")
    _defaults = {"tag": None, "digest": None}

    @property
    def name(self) -> str:
        """The fully-qualified repository name, e.g. ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The short name Docker prints: ``busybox``, ``user/x``, ``myhost:5000/ns/x``."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        if self.path.startswith(OFFICIAL_REPO_PREFIX):
            rest = self.path[len(OFFICIAL_REPO_PREFIX):]
            if "/" not in rest:
                return rest
        return self.path

    def with_default_tag(self) -> Reference:
        """Add ``latest`` when there is neither tag nor digest (what ``docker pull x`` means)."""
        if self.tag is None and self.digest is None:
            return Reference(domain=self.domain, path=self.path, tag=DEFAULT_TAG)
        return self

    def with_tag(self, tag: str) -> Reference:
        """The same repository with ``tag`` and no digest (``docker tag`` targets)."""
        if not _TAG_RE.fullmatch(tag):
            raise errors.BadReference(f"invalid reference format: invalid tag {tag!r}", hint=_HINT)
        return Reference(domain=self.domain, path=self.path, tag=tag)

    def with_digest(self, digest: str) -> Reference:
        """The same repository pinned to ``digest`` (keeping the tag, as Docker's output does)."""
        return Reference(domain=self.domain, path=self.path, tag=self.tag, digest=_digest.validate(digest))

    def _suffix(self) -> str:
        return (f":{self.tag}" if self.tag is not None else "") + (
            f"@{self.digest}" if self.digest is not None else ""
        )

    def __str__(self) -> str:
        return self.name + self._suffix()

    def familiar(self) -> str:
        """Docker's ``FamiliarString``: familiar name plus whatever tag/digest the reference has."""
        return self.familiar_name + self._suffix()


def _bad(reason: str) -> errors.BadReference:
    return errors.BadReference(f"invalid reference format: {reason}", hint=_HINT)


def split_domain(name: str) -> tuple[str, str]:
    """Docker's ``splitDockerDomain``: (domain, remainder) with docker.io and library/ filled in."""
    first, slash, rest = name.partition("/")
    if not slash or (
        not any(c in first for c in ".:") and first != "localhost" and first.lower() == first
    ):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse_new_name(s: str) -> Reference:
    """`parse` for a name an image is about to get (tag, build -t, commit, pull, load): dockerd
    also refuses an uppercase first component without a dot or colon ("UPPER/x"), which docker's
    splitter takes for a registry host. Names already stored are still read with `parse`."""
    ref = parse(s)
    if ref.domain.lower() != ref.domain and not any(c in ref.domain for c in ".:"):
        raise _bad("repository name must be lowercase")
    return ref


def parse(s: str) -> Reference:
    """Parse and normalise what a user typed (``busybox``, ``ghcr.io/x/y:1@sha256:…``).

    Raises :class:`errors.BadReference` with Docker's wording where Docker has one.
    """
    if not isinstance(s, str) or not s:
        raise _bad("repository name must have at least one component")
    if _FULL_HEX_ID.fullmatch(s):
        raise errors.BadReference(
            f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings",
            hint="to refer to an image by id, use the id where an image is expected, not as a name",
        )
    domain, remainder = split_domain(s)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise _bad(f"repository name ({remote}) must be lowercase")

    rest, at, digest = remainder.partition("@")
    path, colon, tag = rest.partition(":")
    if not _DOMAIN_RE.fullmatch(domain):
        raise _bad(f"invalid registry host {domain!r} in {s!r}")
    if not path:
        raise _bad(f"repository name must have at least one component (in {s!r})")
    if not _PATH_RE.fullmatch(path):
        raise _bad(f"invalid repository name {path!r} in {s!r}")
    if colon and not _TAG_RE.fullmatch(tag):
        raise _bad(f"invalid tag {tag!r} in {s!r} (tags match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})")
    if at:
        if not _DIGEST_RE.fullmatch(digest):
            raise _bad(f"invalid digest {digest!r} in {s!r}")
        try:
            _digest.validate(digest)
        except errors.InvalidDigest as e:
            raise _bad(str(e)) from e
    if len(domain) + 1 + len(path) > NAME_TOTAL_LENGTH_MAX:
        raise _bad(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    return Reference(domain=domain, path=path, tag=tag if colon else None, digest=digest if at else None)


def looks_like_id(s: str) -> bool:
    """True for 12..64 lowercase hex characters, optionally after ``sha256:`` (an image/container id).

    Docker tries such strings as ids before (or instead of) names; the CLI uses this to decide.
    """
    return bool(_ID_PREFIX.fullmatch(s))
