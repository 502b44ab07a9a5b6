"""daily-analysis's own errors (class names are Step Functions error names: see common/errors)."""

from __future__ import annotations

from pipelines.common.errors import NonRetryableError, RetryableError


class BedrockUnavailableError(RetryableError):
    """Bedrock throttled, was not ready, unavailable or timed out: a later try may succeed."""


class BedrockRequestError(NonRetryableError):
    """Bedrock refused the request (ValidationException, AccessDeniedException, …): retrying cannot help."""


class NarrativeUnusableError(NonRetryableError):
    """The model's answer was cut off (max_tokens) or failed its schema, on the bounded retry too."""


class SnapshotMissingError(NonRetryableError):
    """A step's input object (the day's snapshot or results) is not in the bucket."""


# The errors that leave a Bedrock section unavailable instead of failing the run (after retries).
BEDROCK_ERRORS = (BedrockUnavailableError, BedrockRequestError, NarrativeUnusableError)
