"""Errors specific to the incidents pipeline (class names are ASL ``ErrorEquals`` values)."""

from __future__ import annotations

from pipelines.common.errors import NonRetryableError, RetryableError


class DatabaseUnavailableError(RetryableError):
    """PostgreSQL could not be reached or dropped the connection; the batch was rolled back."""


class DatabaseAuthError(NonRetryableError):
    """PostgreSQL refused the credentials from the database secret."""


class UpstreamRejectedError(NonRetryableError):
    """PagerDuty answered 4xx (other than 401/403/429) to a request we built: retrying repeats it."""
