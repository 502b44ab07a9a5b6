"""Typed pipeline errors.

Step Functions matches a Lambda failure on the exception's class name (``errorType``), so the
class names below are part of the workflow contract: each workflow lists the retryable errors
its own functions raise (``infra.asl.error_names``), and a test ties that list to the raise
statements its handlers can reach. Rename with care.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error a handler raises on purpose."""


class NonRetryableError(PipelineError):
    """Retrying cannot help: the input, the credentials or the data are wrong."""


class RetryableError(PipelineError):
    """A second try may succeed: an upstream outage, a timeout, a rate limit."""


# An error's message travels in the execution's Cause (and state payloads of at most 256 KiB):
# whatever a handler puts in it, it is cut to this many characters.
MAX_MESSAGE_CHARS = 500


def bounded_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, any lone surrogate escaped (it could not be encoded)."""
    if len(text) > limit:
        text = f"{text[: limit - 1]}…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class InvalidInputError(NonRetryableError):
    """The event (or a record in it) is malformed; the message names the field."""

    def __init__(self, field: str, problem: str):
        self.field = bounded_message(field, 80)
        self.problem = bounded_message(problem)
        super().__init__(f"{self.field}: {self.problem}")


class ConfigurationError(NonRetryableError):
    """The function is deployed without a setting it needs (environment variable, secret)."""


class UpstreamAuthError(NonRetryableError):
    """A third-party API refused our credentials (401/403)."""


class DataIntegrityError(NonRetryableError):
    """Stored or received data failed an integrity check (tampering, wrong context)."""


class UpstreamUnavailableError(RetryableError):
    """A third-party API or a dependency timed out or answered 5xx."""


class RateLimitedError(RetryableError):
    """A third-party API answered 429; ``retry_after`` is the wait it asked for, in seconds."""

    def __init__(self, message: str, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message)
