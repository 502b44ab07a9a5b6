"""The S3 ``Object Created`` event (EventBridge), checked and reduced to one object write (pure).

Shared by every pipeline an upload starts (uploads, release-approval).

object_write(event, bucket, prefix)
    event  the EventBridge event S3 sends (a rule's router hands it on unchanged)::

               {"version", "id", "detail-type": "Object Created", "source": "aws.s3", "account",
                "time", "region", "resources", "replay-name"?,
                "detail": {"bucket": {"name"}, "object": {"key" (URL-encoded), "size", "etag",
                           "version-id"?, "sequencer"?}, …}}

           Envelope keys other than EventBridge's are refused (a hand-made input with a typo is
           named); inside ``detail`` only the fields used are read, since S3 adds fields to it.
    return {"bucket", "key" (decoded), "versionId" (or null), "etag", "size", "sequencer" (or null)}
    errors InvalidInputError naming the field: another source or event type, another bucket, a key
           outside the prefix, a missing or mistyped key, size or ETag

S3 encodes keys in events as a form value (``quote_plus``: a space is ``+``, a ``+`` is
``%2B``), and ASL cannot decode it, so the decoding happens here, once; everything after the
intake works with the real key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from pipelines.common.errors import InvalidInputError
from pipelines.common.inputs import RequestShape, checked_request, described, quote

# The EventBridge envelope (``replay-name`` on an archive replay); ``detail`` holds a key of up
# to 1,024 UTF-8 bytes, URL-encoded (up to 3 characters a byte) beside a few short fields.
SHAPE = RequestShape.of(
    "version", "id", "detail-type", "source", "account", "time", "region", "resources", "replay-name",
    max_bytes=2048, detail=16_384,
)  # fmt: skip
MAX_KEY_BYTES = 1024


def _object_of(body: Mapping[str, Any], name: str, path: str) -> Mapping[str, Any]:
    value = body.get(name)
    if not isinstance(value, Mapping):
        raise InvalidInputError(path, f"must be an object, got {described(value)}")
    return value


def _text(body: Mapping[str, Any], name: str, path: str, optional: bool = False) -> str | None:
    value = body.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(path, f"must be a non-empty string, got {described(value)}")
    return value


def _expect(body: Mapping[str, Any], name: str, wanted: str) -> None:
    value = body.get(name)
    if not isinstance(value, str):
        raise InvalidInputError(name, f"must be a string, got {described(value)}")
    if value != wanted:
        raise InvalidInputError(name, f"must be {wanted!r} (an S3 Object Created event), got {described(value)}")


def object_write(event: Any, bucket: str, prefix: str) -> dict[str, Any]:
    """The object write an S3 ``Object Created`` event reports, for ``bucket`` under ``prefix`` (pure)."""
    body = checked_request(event, SHAPE)
    _expect(body, "source", "aws.s3")
    _expect(body, "detail-type", "Object Created")
    detail = _object_of(body, "detail", "detail")
    named_bucket = _text(_object_of(detail, "bucket", "detail.bucket"), "name", "detail.bucket.name")
    if named_bucket != bucket:
        raise InvalidInputError("detail.bucket.name", f"is {quote(named_bucket)}, not this pipeline's bucket {bucket}")
    written = _object_of(detail, "object", "detail.object")
    key = unquote_plus(_text(written, "key", "detail.object.key"))
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidInputError("detail.object.key", f"decodes to more than {MAX_KEY_BYTES} bytes, S3's key limit")
    if not key.startswith(prefix) or key == prefix:
        raise InvalidInputError("detail.object.key", f"{quote(key)} is not an object under {prefix}")
    if key.endswith("/"):
        # The S3 console's "Create folder" writes a 0-byte object so named: not a file to load.
        raise InvalidInputError("detail.object.key", f"{quote(key)} is a folder marker (ends in /), not a file")
    size = written.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidInputError("detail.object.size", f"must be a whole number of bytes ≥ 0, got {described(size)}")
    version_id = _text(written, "version-id", "detail.object.version-id", optional=True)
    return {
        "bucket": bucket,
        "key": key,
        "versionId": None if version_id == "null" else version_id,
        "etag": _text(written, "etag", "detail.object.etag").strip('"'),
        "size": size,
        "sequencer": _text(written, "sequencer", "detail.object.sequencer", optional=True),
    }
