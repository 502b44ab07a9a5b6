"""The release-approval intake (ValidateInput): which release request document to load.

Its own module so the function loads only the input rules (no HTTP client, no DynamoDB code).

validate_release_input(event)
    event  EITHER the EventBridge S3 ``Object Created`` event of the pipeline's bucket under the
           input prefix (see ``pipelines.common.s3_events``), OR a manual start
           ``{"inputKey": "inputs/<name>.json"}`` (that key only). The two are told apart by their
           keys; a key neither has is refused, naming the closest known one.
    return {"inputKey": str, "versionId": str | None}   (a manual start reads the latest version)
    env    BUCKET_NAME (the pipeline's bucket), INPUT_PREFIX (``inputs/``)
    errors InvalidInputError naming the field (``inputKey`` or ``detail.object.key`` for a bad key)

A key is accepted when it is under the prefix, ends in ``.json``, is at most 1,024 UTF-8 bytes,
has no ``..`` segment, no empty segment and no control character.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pipelines.common.errors import InvalidInputError
from pipelines.common.inputs import RequestShape, checked_request, described, field_name, nearest, quote
from pipelines.common.logging import get_logger
from pipelines.common.s3_events import MAX_KEY_BYTES, object_write
from pipelines.common.s3_events import SHAPE as EVENT_SHAPE
from pipelines.common.settings import optional_env, require_env

logger = get_logger("release-approval")

DEFAULT_INPUT_PREFIX = "inputs/"
INPUT_KEY = "inputKey"
# A key of 1,024 UTF-8 bytes written as JSON may take up to 6 characters a byte (\u escapes).
MANUAL_SHAPE = RequestShape.of(INPUT_KEY, max_bytes=6 * MAX_KEY_BYTES + 2)
_EVENT_KEYS = frozenset(EVENT_SHAPE.fields)
_KNOWN = (INPUT_KEY, *EVENT_SHAPE.fields)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def checked_key(key: Any, prefix: str, field: str) -> str:
    """``key`` if it names a release request document under ``prefix``; InvalidInputError naming ``field``."""
    if not isinstance(key, str):
        raise InvalidInputError(field, f"must be a string, got {described(key)} (the request's key under {prefix})")
    if not key:
        raise InvalidInputError(field, "must be a non-empty string")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidInputError(field, f"is more than {MAX_KEY_BYTES} UTF-8 bytes, S3's key limit")
    if _CONTROL.search(key):
        raise InvalidInputError(field, f"contains a control character: {quote(key)}")
    if not key.startswith(prefix) or key == prefix:
        raise InvalidInputError(field, f"{quote(key)} is not an object under {prefix}")
    segments = key[len(prefix) :].split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise InvalidInputError(field, f"{quote(key)} has an empty, '.' or '..' path segment")
    if not key.endswith(".json"):
        raise InvalidInputError(field, f"{quote(key)} is not a .json document")
    return key


def release_input(event: Any, bucket: str, prefix: str = DEFAULT_INPUT_PREFIX) -> dict[str, Any]:
    """The document an execution is to load: ``{"inputKey", "versionId"}`` (pure)."""
    if isinstance(event, Mapping):
        for name in event:
            if name not in _KNOWN:
                guess = nearest(name, _KNOWN) if isinstance(name, str) else None
                hint = f"did you mean {guess}? " if guess else ""
                raise InvalidInputError(
                    field_name(name),
                    f'is not a known field; {hint}send {{"{INPUT_KEY}": "{prefix}<name>.json"}} '
                    "or the S3 Object Created event",
                )
        if _EVENT_KEYS.intersection(event):
            if INPUT_KEY in event:
                raise InvalidInputError(INPUT_KEY, "is for a manual start only, not inside an S3 event")
            written = object_write(event, bucket, prefix)
            key = checked_key(written["key"], prefix, "detail.object.key")
            return {INPUT_KEY: key, "versionId": written["versionId"]}
    body = checked_request(event, MANUAL_SHAPE)
    if INPUT_KEY not in body:
        raise InvalidInputError(INPUT_KEY, f'is required: send {{"{INPUT_KEY}": "{prefix}<name>.json"}}')
    return {INPUT_KEY: checked_key(body[INPUT_KEY], prefix, INPUT_KEY), "versionId": None}


@logger.inject_lambda_context(clear_state=True)
def validate_release_input(event, context):
    """Check the execution input (manual or the S3 event) before anything reads the document."""
    return release_input(event, require_env("BUCKET_NAME"), optional_env("INPUT_PREFIX", DEFAULT_INPUT_PREFIX))
