"""The distribution spec's grammar for what arrives in a URL: names, tags, digests, upload ids
and ``Content-Range``.

Nothing from a request path reaches storage before it passes here, and the checks are on the
*decoded* text of each path segment, so ``..``, ``%2e%2e``, ``%2F`` or a NUL can never become a
repository name, a tag or a file name: none of them fits the grammar.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from dockyard import errors as dy_errors
from dockyard.oci import digest as _digest
from dockyard.registry.server.errors import RegistryError

# spec.md "Pulling manifests" (one path component; components are joined with "/").
_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*", re.ASCII)
_TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", re.ASCII)
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
_RANGE_RE = re.compile(r"(?:bytes[ =])?([0-9]{1,18})-([0-9]{1,18})(?:/(?:[0-9]{1,18}|\*))?", re.ASCII)

# distribution's reference.NameTotalLengthMax, applied (as distribution does) to the name alone.
NAME_MAX = 255


def name_from_segments(segments: list[str]) -> str:
    """The repository name made of raw (still percent-encoded) path segments, or NAME_INVALID."""
    if not segments:
        raise RegistryError("NAME_INVALID", "repository name is empty")
    parts = [unquote(s, errors="replace") if "%" in s else s for s in segments]
    for part in parts:
        if not _COMPONENT_RE.fullmatch(part):
            raise RegistryError("NAME_INVALID", detail={"name": "/".join(parts),
                                                        "reason": f"invalid path component {part!r}"})
    name = "/".join(parts)
    if len(name) > NAME_MAX:
        raise RegistryError("NAME_INVALID", detail={"name": name[:64] + "…",
                                                    "reason": f"repository name longer than {NAME_MAX} characters"})
    return name


def check_name(name: str) -> str:
    """A whole repository name (e.g. from ``?from=``), checked like a path."""
    return name_from_segments(name.split("/"))


def is_tag(tag: str) -> bool:
    return bool(_TAG_RE.fullmatch(tag))


def check_tag(tag: str) -> str:
    if not is_tag(tag):
        raise RegistryError("TAG_INVALID", "invalid tag", detail={"tag": tag[:200]})
    return tag


def check_digest(digest: str) -> str:
    """A digest we can verify (sha256 or sha512), or DIGEST_INVALID."""
    try:
        return _digest.validate(digest)
    except dy_errors.InvalidDigest as e:
        raise RegistryError("DIGEST_INVALID", "invalid digest", detail=str(e)) from None


def parse_reference(segment: str) -> tuple[str | None, str | None]:
    """``(tag, None)`` or ``(None, digest)`` for the last segment of a manifest URL.

    Anything with a ``:`` is a digest (a tag may not contain one) and must be a valid digest;
    anything else must be a valid tag.
    """
    ref = unquote(segment) if "%" in segment else segment
    if ":" in ref:
        return None, check_digest(ref)
    return check_tag(ref), None


def check_upload_id(segment: str) -> str:
    if not _UUID_RE.fullmatch(segment):
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": segment[:80]})
    return segment


def new_upload_id() -> str:
    import uuid

    return str(uuid.uuid4())


def parse_content_range(value: str) -> tuple[int, int]:
    """``(start, end)`` (inclusive) of a chunk's ``Content-Range``.

    The spec's form is ``<start>-<end>``; the RFC form ``bytes <start>-<end>/<total>`` that some
    clients send is accepted too.
    """
    m = _RANGE_RE.fullmatch(value.strip())
    if not m:
        raise RegistryError("BLOB_UPLOAD_INVALID", "malformed Content-Range", detail={"Content-Range": value[:100]})
    start, end = int(m.group(1)), int(m.group(2))
    if end < start:
        raise RegistryError("BLOB_UPLOAD_INVALID", "Content-Range ends before it starts",
                            detail={"Content-Range": value[:100]}, status=416)
    return start, end
