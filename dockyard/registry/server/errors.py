"""The distribution spec's error codes and their JSON form.

Every refusal the server makes is a :class:`RegistryError`; the HTTP layer turns it into the
status from :data:`CODES` and the body ``{"errors": [{"code", "message", "detail"}]}`` that Docker,
containerd, skopeo and the conformance suite parse. Statuses follow the CNCF distribution
registry, the reference clients are tested against, where the spec leaves them open.
"""

from __future__ import annotations

import json

# code -> (HTTP status, default message). The spec's table plus the few distribution adds.
CODES: dict[str, tuple[int, str]] = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (400, "manifest references a manifest or blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "TAG_INVALID": (400, "manifest tag did not match URI"),
    "UNAUTHORIZED": (401, "authentication required"),
    "DENIED": (403, "requested access to the resource is denied"),
    "UNSUPPORTED": (405, "The operation is unsupported."),
    "TOOMANYREQUESTS": (429, "too many requests"),
    "PAGINATION_NUMBER_INVALID": (400, "invalid number of results requested"),
    "UNKNOWN": (500, "unknown error"),
}


class RegistryError(Exception):
    """One spec error. ``status`` overrides the code's usual status (413 for an oversized
    manifest, 416 for an out-of-order chunk); ``headers`` are added to the response."""

    def __init__(self, code: str, message: str | None = None, detail: object = None, *,
                 status: int | None = None, headers: dict[str, str] | None = None) -> None:
        default_status, default_message = CODES[code]
        self.code = code
        self.message = message or default_message
        self.detail = detail
        self.status = status or default_status
        self.headers = headers or {}
        self.more: list[RegistryError] = []  # further errors reported in the same body
        super().__init__(self.message)

    def entries(self) -> list[dict]:
        return [{"code": e.code, "message": e.message, "detail": e.detail} for e in (self, *self.more)]

    def body(self) -> bytes:
        return json.dumps({"errors": self.entries()}).encode()


def several(errors: list[RegistryError]) -> RegistryError:
    """One error carrying the others (the response lists them all, with the first's status)."""
    first = errors[0]
    first.more = list(errors[1:])
    return first
