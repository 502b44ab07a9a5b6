"""Reading the organization registry from the provider's HTTPS endpoint."""

from __future__ import annotations

import requests

from pipelines.common.errors import (
    ConfigurationError,
    RateLimitedError,
    UpstreamAuthError,
    UpstreamUnavailableError,
)
from pipelines.radar.transport import retry_after_seconds


def fetch_registry(session: requests.Session, url: str, token: str) -> bytes:
    """The registry document's bytes from ``url`` (GET with a bearer token).

    Bodies are never quoted in errors: the registry is confidential even when malformed.
    """
    try:
        response = session.get(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    except requests.RequestException as exc:
        raise UpstreamUnavailableError(f"registry provider unreachable: {type(exc).__name__}") from None
    status = response.status_code
    if status in (401, 403):
        raise UpstreamAuthError(f"registry provider refused the token ({status})")
    if status == 429:
        wait = retry_after_seconds(response)
        raise RateLimitedError(f"registry provider is rate limiting (retry after {wait}s)", retry_after=wait)
    if status == 408 or status >= 500:
        raise UpstreamUnavailableError(f"registry provider answered {status}")
    if status != 200:
        raise ConfigurationError(f"registry provider answered {status}; check PROVIDER_URL")
    return response.content
