"""The uploads intake (ValidateInput): the S3 ``Object Created`` event, checked and reduced to one object write.

Its own module so the function loads only the input rules (no parser, no DynamoDB code).

validate_upload(event)
    event  the EventBridge event S3 sends (the rule's router hands it on unchanged), see
           ``pipelines.common.s3_events.object_write``
    return {"bucket", "key" (decoded), "versionId" (or null), "etag", "size", "sequencer" (or null)}
    env    UPLOAD_BUCKET (the pipeline's bucket), UPLOAD_PREFIX (``uploads/``)
    errors InvalidInputError naming the field: another source or event type, another bucket, a key
           outside the prefix, a missing or mistyped key, size or ETag
"""

from __future__ import annotations

from pipelines.common.logging import get_logger
from pipelines.common.s3_events import object_write
from pipelines.common.settings import require_env

__all__ = ["object_write", "validate_upload"]

logger = get_logger("uploads")


@logger.inject_lambda_context
def validate_upload(event, context):
    """Check the execution input (the rule's event) before anything reads the object."""
    return object_write(event, require_env("UPLOAD_BUCKET"), require_env("UPLOAD_PREFIX"))
