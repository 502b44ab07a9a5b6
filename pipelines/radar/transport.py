"""HTTP plumbing shared by the provider and Radar clients: retries that respect Retry-After
only while the wait is short, and (from ``pipelines.common.http``) the refusal to send bearer
tokens anywhere but https."""

from __future__ import annotations

import functools

import requests
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from pipelines.common.http import require_secure_url, retrying_session

__all__ = ["BoundedRetryAfter", "api_session", "require_secure_url", "retry_after_seconds"]


class BoundedRetryAfter(Retry):
    """urllib3 Retry that gives up at once when Retry-After asks for more than ``max_retry_after``.

    Radar answers 429 for five minutes once the rate limit is hit; sleeping that long inside a
    Lambda would burn its timeout, so the caller raises RateLimitedError and Step Functions
    waits instead.
    """

    def __init__(self, *args, max_retry_after: float = 10.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_retry_after = max_retry_after

    def new(self, **kw):
        retry = super().new(**kw)
        retry.max_retry_after = self.max_retry_after
        return retry

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if response is not None and self.respect_retry_after_header:
            wait = self.get_retry_after(response)
            if wait is not None and wait > self.max_retry_after:
                # Caught by urllib3 (raise_on_status=False), which then returns this response.
                raise MaxRetryError(_pool, url, ResponseError(f"Retry-After {wait}s is too long to wait here"))
        return super().increment(method, url, response, error, _pool, _stacktrace)


def api_session(
    *,
    total: int = 3,
    backoff_factor: float = 0.5,
    max_retry_after: float = 10.0,
    timeout: float | tuple[float, float] = (5, 30),
) -> requests.Session:
    """A GET session retrying connection errors, timeouts, 429 and 5xx with backoff.

    After the last retry the final response is returned so the caller can map its status to a
    typed error (429 → RateLimitedError with the upstream's Retry-After).
    """
    return retrying_session(
        total=total,
        backoff_factor=backoff_factor,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        retry_class=functools.partial(BoundedRetryAfter, max_retry_after=max_retry_after),
        timeout=timeout,
    )


def retry_after_seconds(response: requests.Response) -> float | None:
    """The response's Retry-After in seconds, if it gives one as a number."""
    raw = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None
