"""HTTP sessions with timeouts and urllib3 retries for third-party APIs."""

from __future__ import annotations

from collections.abc import Callable

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

DEFAULT_TIMEOUT = (5, 30)  # (connect, read) seconds


class TimeoutSession(requests.Session):
    """A requests Session whose requests all carry a timeout unless one is given."""

    def __init__(self, timeout=DEFAULT_TIMEOUT):
        super().__init__()
        self._timeout = timeout

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, **kwargs)


def retrying_session(
    *,
    total: int = 3,
    backoff_factor: float = 0.5,
    status_forcelist: tuple[int, ...] = (500, 502, 503, 504),
    respect_retry_after: bool = True,
    backoff_max: float = 20.0,
    allowed_methods: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS"}),
    retry_class: Callable[..., Retry] = Retry,
    timeout=DEFAULT_TIMEOUT,
) -> requests.Session:
    """A Session that retries idempotent requests on connection errors and ``status_forcelist``.

    After the last retry the final response is returned (``raise_on_status=False``) so the caller
    maps it to a typed error with the upstream's own message. ``retry_class`` lets a client bound
    the retry policy further (radar gives up on long Retry-After waits).
    """
    retry = retry_class(
        total=total,
        connect=total,
        read=total,
        status=total,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        status_forcelist=status_forcelist,
        allowed_methods=allowed_methods,
        respect_retry_after_header=respect_retry_after,
        raise_on_status=False,
    )
    session = TimeoutSession(timeout=timeout)
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
