"""The ProcessUpload event, checked (pure): which object version to load.

The intake (``intake.validate_upload``) reduces the EventBridge ``Object Created`` event to::

    {"bucket", "key" (decoded), "versionId" (or null), "etag", "size", "sequencer" (or null)}

and the state machine hands exactly that to ProcessUpload. ``key`` is the object's real key:
the intake has already decoded the URL-encoding S3 uses in events (``+`` for a space), so it
is never decoded twice. ``versionId`` is null for an unversioned bucket; the ETag then
identifies the version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipelines.common.errors import InvalidInputError
from pipelines.common.inputs import RequestShape, checked_request, described

SHAPE = RequestShape.of("bucket", "key", "versionId", "etag", "size", "sequencer", max_bytes=2048)
_REQUIRED = ("bucket", "key", "etag", "size")


@dataclass(frozen=True)
class UploadRequest:
    """One object version to process; ``version`` is the version id or else the ETag."""

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
    key = _string(body, "key")
    version_id = _string(body, "versionId", optional=True)
    return UploadRequest(
        bucket=_string(body, "bucket"),
        key=key,
        version_id=None if version_id == "null" else version_id,
        etag=_string(body, "etag").strip('"'),
        size=size,
        sequencer=_string(body, "sequencer", optional=True),
    )
