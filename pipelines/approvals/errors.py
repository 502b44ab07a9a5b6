"""Errors of the release-approval pipeline; their class names are ASL ``ErrorEquals`` values.

Retryable (Step Functions may try the task again): ServiceUnavailableError,
ServiceRateLimitedError, TokenStoreUnavailableError, StorageUnavailableError,
HistoryUnavailableError. Everything else here is final.
"""

from __future__ import annotations

from pipelines.common.errors import InvalidInputError, NonRetryableError, RetryableError


class InvalidReleaseRequestError(InvalidInputError):
    """The release request document (inputs/<name>.json) is malformed; the message names the field."""


class ServiceAuthError(NonRetryableError):
    """A release service refused our bearer token (401/403); the message names the service."""


class ServiceRejectedError(NonRetryableError):
    """A release service refused the request (a 4xx other than 401/403/429); quotes its message."""


class ServiceProtocolError(NonRetryableError):
    """A release service answered something outside its contract (not JSON, wrong shape, odd status)."""


class ValidationFailedError(NonRetryableError):
    """The validation service answered ``valid: false``; the message lists the failing checks."""


class ServiceUnavailableError(RetryableError):
    """A release service answered 5xx, timed out or was unreachable, after the in-process retries."""


class ServiceRateLimitedError(RetryableError):
    """A release service answered 429 for longer than is worth waiting in the function."""

    def __init__(self, message: str, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message)


class StoryAlreadyWaitingError(NonRetryableError):
    """Another execution is already waiting for a decision on this Jira story."""


class TokenStoreUnavailableError(RetryableError):
    """The task-token table was throttled or failed (DynamoDB 5xx, connection)."""


class TokenStoreError(NonRetryableError):
    """The task-token table refused a call (missing table, access denied, a bad request)."""


class StorageUnavailableError(RetryableError):
    """S3 was throttled or failed while reading the request or writing the results."""


class HistoryUnavailableError(RetryableError):
    """Step Functions' GetExecutionHistory was throttled or failed (the execution log needs it)."""
