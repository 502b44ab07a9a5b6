"""Errors specific to the uploads pipeline; their class names are ASL ``ErrorEquals`` values."""

from __future__ import annotations

from pipelines.common.errors import NonRetryableError, RetryableError


class UploadError(NonRetryableError):
    """The uploaded object as a whole cannot be loaded (it is quarantined, nothing is loaded)."""


class MalformedUploadError(UploadError):
    """The object is not well-formed JSON (or NDJSON framing); ``position`` says where it broke."""

    def __init__(self, problem: str, *, byte: int | None = None, line: int | None = None):
        self.byte, self.line, self.problem = byte, line, problem
        where = [f"byte {byte}"] if byte is not None else []
        where += [f"line {line}"] if line is not None else []
        super().__init__(f"{problem} (at {', '.join(where)})" if where else problem)


class EmptyUploadError(UploadError):
    """The object holds no transaction: 0 bytes, whitespace, ``{}`` or an empty ``transactions`` array."""


class ContributionConflictError(RetryableError):
    """A store-day summary changed under us (another execution wrote it first): re-read and re-plan."""


class SummaryRequestRejectedError(NonRetryableError):
    """DynamoDB refused a request as invalid (``ValidationException``: an item over 400 KB, a bad
    expression …; a transaction cancelled for such a reason): a second try would be refused the same way."""


class CurrencyConflictError(NonRetryableError):
    """An upload's store-day is in another currency than the other uploads for that store-day."""


class UploadTooLargeError(UploadError):
    """The object is larger than MAX_FILE_MB: it is quarantined unread."""


class TooManyRejectsError(UploadError):
    """More than MAX_REJECT_RATIO of the records were rejected: nothing is loaded."""


class UploadMissingError(NonRetryableError):
    """The object (or the version) the event names does not exist any more."""
