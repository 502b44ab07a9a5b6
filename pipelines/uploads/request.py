"""The ProcessUpload event, checked (pure): which object version to load.

The event is built by the state machine from the EventBridge ``Object Created`` event::

    {"bucket": "$.detail.bucket.name", "key": "$.detail.object.key",
     "versionId"?: "$.detail.object.version-id", "etag": "$.detail.object.etag",
     "size": "$.detail.object.size", "sequencer"?: "$.detail.object.sequencer"}

``key`` is passed **as EventBridge delivers it: URL-encoded**, ``+`` for a space (ASL has no
intrinsic to decode it, so the workflow passes it through untouched); it is decoded here with
``urllib.parse.unquote_plus``. A caller with a plain key (the CLI, a test) must encode it with
``urllib.parse.quote_plus`` first. ``versionId`` is left out (or ``null``) for an unversioned
bucket; the ETag then identifies the version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from pipelines.common.errors import InvalidInputError
from pipelines.common.inputs import RequestShape, checked_request, described

SHAPE = RequestShape.of("bucket", "key", "versionId", "etag", "size", "sequencer", max_bytes=2048)
_REQUIRED = ("bucket", "key", "etag", "size")


@dataclass(frozen=True)
class UploadRequest:
    """One object version to process; ``key`` decoded, ``version`` the version id or else the ETag."""

    bucket: str
    key: str
    version_id: str | None
    etag: str
    size: int
    sequencer: str | None

    @property
    def version(self) -> str:
        return self.version_id or self.etag


def _string(body: dict[str, Any], name: str, optional: bool = False) -> str | None:
    value = body.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(name, f"must be a non-empty string, got {described(value)}")
    return value


def parse_request(event: Any) -> UploadRequest:
    """The checked event; InvalidInputError naming the field otherwise."""
    body = checked_request(event, SHAPE)
    for name in _REQUIRED:
        if name not in body:
            raise InvalidInputError(name, "is required")
    size = body["size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidInputError("size", f"must be a whole number of bytes ≥ 0, got {described(size)}")
    key = unquote_plus(_string(body, "key"))
    if not key:
        raise InvalidInputError("key", "decodes to an empty key")
    version_id = _string(body, "versionId", optional=True)
    return UploadRequest(
        bucket=_string(body, "bucket"),
        key=key,
        version_id=None if version_id == "null" else version_id,
        etag=_string(body, "etag").strip('"'),
        size=size,
        sequencer=_string(body, "sequencer", optional=True),
    )
