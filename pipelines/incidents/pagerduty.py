"""PagerDuty REST API v2 client for ``GET /incidents``: paging, the 10,000 offset cap, 429s.

It speaks HTTP through the ``requests`` session it is given and knows nothing of AWS or the
database; the handler passes the token it read from Secrets Manager.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import requests

from pipelines.common.errors import RateLimitedError, UpstreamAuthError, UpstreamUnavailableError
from pipelines.common.http import retrying_session
from pipelines.incidents.errors import UpstreamRejectedError
from pipelines.incidents.window import TimeWindow

ACCEPT = "application/vnd.pagerduty+json;version=2"
PAGE_LIMIT = 100
OFFSET_CAP = 10_000  # PagerDuty refuses offset + limit above this (error code 2002)
OFFSET_CAP_ERROR_CODE = 2002
MAX_RATE_LIMIT_WAITS = 5
MAX_RATE_LIMIT_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Filters:
    """Optional query filters; empty tuples mean no filter."""

    statuses: tuple[str, ...] = ()
    service_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Page:
    """One ``GET /incidents`` answer."""

    incidents: list[dict]
    offset: int
    limit: int
    more: bool
    total: int | None


class _OffsetCapExceeded(Exception):
    """PagerDuty answered error 2002: the window holds more than it lets us page through."""


def _error_detail(response: requests.Response) -> tuple[int | None, str]:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return None, response.text[:300]
    details = "; ".join(str(e) for e in error.get("errors") or [])
    message = error.get("message") or response.reason
    return error.get("code"), f"{message}{': ' + details if details else ''}"


def _rate_limit_wait(response: requests.Response, now: float) -> float:
    raw = response.headers.get("ratelimit-reset") or response.headers.get("retry-after")
    try:
        wait = float(raw)
    except (TypeError, ValueError):
        return 1.0
    # Defensive: accept an epoch timestamp too, in case the header is ever sent that way.
    if wait > 1_000_000_000:
        wait -= now
    return max(wait, 0.0)


class PagerDutyClient:
    """Lists incidents, one request at a time (PagerDuty rate-limits per token)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        page_limit: int = PAGE_LIMIT,
    ):
        self._url = base_url.rstrip("/") + "/incidents"
        self._headers = {"Authorization": f"Token token={token}", "Accept": ACCEPT}
        self._session = session or retrying_session()
        self._sleep = sleep
        self._clock = clock
        self._limit = min(page_limit, PAGE_LIMIT)
        self.requests_made = 0
        self.windows_fetched = 0

    def page(
        self, window: TimeWindow, filters: Filters, *, offset: int = 0, total: bool = False, limit: int | None = None
    ) -> Page:
        """One page of incidents created in ``window``."""
        limit = limit or self._limit
        params: dict[str, object] = {**window.as_params(), "limit": limit, "offset": offset}
        if total:
            params["total"] = "true"
        if filters.statuses:
            params["statuses[]"] = list(filters.statuses)
        if filters.service_ids:
            params["service_ids[]"] = list(filters.service_ids)
        body = self._get(params)
        incidents = body.get("incidents")
        if not isinstance(incidents, list):
            raise UpstreamUnavailableError("PagerDuty answered without an incidents list")
        answered_limit = body.get("limit")
        return Page(
            incidents=incidents,
            offset=offset,
            limit=answered_limit if isinstance(answered_limit, int) and answered_limit > 0 else limit,
            more=bool(body.get("more")),
            total=body.get("total") if isinstance(body.get("total"), int) else None,
        )

    def count(self, window: TimeWindow, filters: Filters) -> int | None:
        """PagerDuty's total for the window (None if it does not say); one small request."""
        # limit=1: only ``total`` is wanted here; the incidents are fetched by the next step.
        return self.page(window, filters, total=True, limit=1).total

    def iter_pages(self, window: TimeWindow, filters: Filters) -> Iterator[list[dict]]:
        """Every incident in ``window``, page by page, halving windows PagerDuty will not page through.

        Halves are adjacent, so no incident is skipped; an incident can be yielded twice when a
        window is split after paging began (the loader collapses duplicates by id).
        """
        pending = [window]
        while pending:
            current = pending.pop(0)
            try:
                first = self.page(current, filters, total=True)
                if first.total is not None and first.total > OFFSET_CAP:
                    pending[:0] = self._halves(current, f"it holds {first.total} incidents")
                    continue
                self.windows_fetched += 1
                yield first.incidents
                yield from self._rest_of_window(current, filters, first)
            except _OffsetCapExceeded:
                pending[:0] = self._halves(current, "it grew past the offset cap while paging")

    def _rest_of_window(self, window: TimeWindow, filters: Filters, page: Page) -> Iterator[list[dict]]:
        offset = 0
        while page.more:
            offset += page.limit
            if offset + self._limit > OFFSET_CAP:
                raise _OffsetCapExceeded()
            page = self.page(window, filters, offset=offset)
            yield page.incidents

    @staticmethod
    def _halves(window: TimeWindow, why: str) -> list[TimeWindow]:
        if not window.can_split():
            raise UpstreamRejectedError(f"window {window} cannot be paged ({why}) and is too narrow to split further")
        return list(window.split())

    def _get(self, params: dict) -> dict:
        for _attempt in range(MAX_RATE_LIMIT_WAITS + 1):
            response = self._send(params)
            if response.status_code != 429:
                return self._body(response)
            wait = _rate_limit_wait(response, self._clock())
            if wait > MAX_RATE_LIMIT_WAIT_SECONDS:
                break
            self._sleep(wait)
        raise RateLimitedError(f"PagerDuty rate limit: wait {wait:.0f}s", retry_after=wait)

    def _send(self, params: dict) -> requests.Response:
        self.requests_made += 1
        try:
            return self._session.get(self._url, params=params, headers=self._headers)
        except requests.RequestException as exc:
            raise UpstreamUnavailableError(f"PagerDuty unreachable: {type(exc).__name__}: {exc}") from None

    @staticmethod
    def _body(response: requests.Response) -> dict:
        status = response.status_code
        if status in (401, 403):
            raise UpstreamAuthError(f"PagerDuty refused the API token ({status}): {_error_detail(response)[1]}")
        if status == 400:
            code, detail = _error_detail(response)
            if code == OFFSET_CAP_ERROR_CODE:
                raise _OffsetCapExceeded()
            raise UpstreamRejectedError(f"PagerDuty rejected the request (400, code {code}): {detail}")
        if status >= 500:
            raise UpstreamUnavailableError(f"PagerDuty answered {status}: {_error_detail(response)[1]}")
        if status != 200:
            raise UpstreamRejectedError(f"PagerDuty answered {status}: {_error_detail(response)[1]}")
        try:
            body = response.json()
        except ValueError:
            raise UpstreamUnavailableError("PagerDuty answered 200 with a body that is not JSON") from None
        if not isinstance(body, dict):
            raise UpstreamUnavailableError("PagerDuty answered 200 with a body that is not a JSON object")
        return body
