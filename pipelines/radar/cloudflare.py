"""Cloudflare Radar client: one GET per query, the response envelope checked and statuses typed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import requests

from pipelines.common.errors import RateLimitedError, UpstreamAuthError, UpstreamUnavailableError
from pipelines.radar.errors import RadarQueryError
from pipelines.radar.queries import QUERIES
from pipelines.radar.transport import retry_after_seconds

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"

OK = "ok"
NOT_FOUND = "not_found"


@dataclass(frozen=True)
class QueryResult:
    """A query's outcome: ``ok`` with the API's envelope, or ``not_found`` with its error envelope."""

    status: str
    body: dict


def _errors(body: object) -> str:
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return "no error details"
    return "; ".join(f"{e.get('code', '?')}: {e.get('message', '')}" if isinstance(e, dict) else str(e) for e in errors)


class RadarClient:
    """Runs Radar queries over an injected session (retries and timeouts are the session's)."""

    def __init__(self, session: requests.Session, base_url: str, token: str):
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def run(self, query_name: str, connector_params: Mapping[str, str]) -> QueryResult:
        """The result of query ``query_name`` for one organization's connectorParams."""
        path, params = QUERIES[query_name].request(connector_params)
        what = f"Radar {query_name} query"
        try:
            response = self._session.get(self._base_url + path, params=params, headers=self._headers)
        except requests.RequestException as exc:
            # The exception names the URL and cause only; request headers (the token) are not in it.
            raise UpstreamUnavailableError(f"{what} failed: {type(exc).__name__}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        status = response.status_code
        if status in (401, 403):
            raise UpstreamAuthError(f"{what} refused the API token ({status}: {_errors(body)})")
        if status == 404:
            return QueryResult(NOT_FOUND, body if isinstance(body, dict) else {"success": False, "errors": []})
        if status == 429:
            wait = retry_after_seconds(response)
            raise RateLimitedError(f"{what} is rate limited (retry after {wait}s): {_errors(body)}", retry_after=wait)
        if status == 408 or status >= 500 or status < 200 or 300 <= status < 400:
            raise UpstreamUnavailableError(f"{what} answered {status}: {_errors(body)}")
        if status >= 400:  # 400 validation, 422 query too costly: the same query fails again
            raise RadarQueryError(f"{what} was rejected ({status}): {_errors(body)}")
        if not isinstance(body, dict) or body.get("success") is not True or "result" not in body:
            raise UpstreamUnavailableError(f"{what} answered {status} without a successful envelope: {_errors(body)}")
        return QueryResult(OK, body)

    def run_all(self, query_names: tuple[str, ...], connector_params: Mapping[str, str]) -> dict[str, QueryResult]:
        """Every configured query for one organization, in configuration order."""
        return {name: self.run(name, connector_params) for name in query_names}
