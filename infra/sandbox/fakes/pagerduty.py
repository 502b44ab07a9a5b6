"""A loopback fake of PagerDuty's REST API v2 ``GET /incidents``, failure modes included.

Follows the contract in shared/reference/external-apis.md: token and Accept headers checked,
``limit`` capped at 100, ``offset``/``more``/``total`` (null unless ``total=true``),
``since``/``until``/``statuses[]``/``service_ids[]``/``urgencies[]`` filters, error 2002 when
``offset + limit`` passes 10,000, and a 429 with ``ratelimit-*`` headers on request.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from infra.sandbox.fakes.base import FakeRequest, FakeResponse, LoopbackFake

DEFAULT_TOKEN = "fake-pagerduty-token"
ACCEPT = "application/vnd.pagerduty+json;version=2"
MAX_LIMIT = 100
DEFAULT_LIMIT = 25
OFFSET_CAP = 10_000
RATE_LIMIT = 960
WEB = "https://acme.pagerduty.com"
API = "https://api.pagerduty.com"
STATUSES = ("triggered", "acknowledged", "resolved")

DEFAULT_SERVICES = (
    ("PSVC001", "Checkout API"),
    ("PSVC002", "Payments worker"),
    ("PSVC003", "Search frontend"),
)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _ref(kind: str, ref_id: str, summary: str, path: str) -> dict:
    # PagerDuty references also carry "self"; left out to keep incidents near 1 KB.
    return {
        "id": ref_id,
        "type": f"{kind}_reference",
        "summary": summary,
        "html_url": f"{WEB}/{path.replace('_', '-')}/{ref_id}",
    }


def incident_id(seed: int, index: int) -> str:
    """A PagerDuty-looking incident id (Q + 13 upper-case hex), stable for (seed, index)."""
    return "Q" + hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).hexdigest()[:13].upper()


def make_incident(
    index: int,
    created_at: datetime,
    *,
    seed: int = 0,
    number: int | None = None,
    service: tuple[str, str] = DEFAULT_SERVICES[0],
    status: str | None = None,
    urgency: str | None = None,
    resolved_at: datetime | None = None,
) -> dict:
    """One incident shaped like PagerDuty's (about 1.2 KB of JSON), deterministic in its arguments."""
    status = status or ("resolved", "resolved", "resolved", "acknowledged", "triggered")[index % 5]
    urgency = urgency or ("high" if index % 3 == 0 else "low")
    ident = incident_id(seed, index)
    number = number if number is not None else index + 1
    service_id, service_name = service
    if status == "resolved" and resolved_at is None:
        resolved_at = created_at + timedelta(minutes=5 + index % 240)
    updated_at = resolved_at or created_at + timedelta(minutes=1)
    user = _ref("user", f"PUSR{index % 17:03d}", f"On-call engineer {index % 17}", "users")
    priority = (
        None
        if index % 4 == 0
        else {
            **_ref("priority", f"PPRI00{index % 4}", f"P{index % 4}", "priorities"),
            "type": "priority",
            "name": f"P{index % 4}",
        }
    )
    return {
        "id": ident,
        "type": "incident",
        "summary": f"[#{number}] {service_name}: error rate above threshold",
        "self": f"{API}/incidents/{ident}",
        "html_url": f"{WEB}/incidents/{ident}",
        "incident_number": number,
        "title": f"{service_name}: error rate above threshold",
        "created_at": _iso(created_at),
        "updated_at": _iso(updated_at),
        "last_status_change_at": _iso(updated_at),
        "resolved_at": _iso(resolved_at) if status == "resolved" and resolved_at else None,
        "status": status,
        "urgency": urgency,
        "incident_key": hashlib.sha1(f"{seed}:{index}:key".encode()).hexdigest(),
        "service": _ref("service", service_id, service_name, "services"),
        "escalation_policy": _ref(
            "escalation_policy", f"PEP{service_id[-3:]}", f"{service_name} policy", "escalation_policies"
        ),
        "teams": [_ref("team", "PTEAM01", "Platform", "teams")],
        "priority": priority,
        "assignments": [] if status == "resolved" else [{"at": _iso(created_at), "assignee": user}],
        "acknowledgements": [] if status != "acknowledged" else [{"at": _iso(updated_at), "acknowledger": user}],
        "alert_counts": {
            "all": 1,
            "triggered": 0 if status == "resolved" else 1,
            "resolved": 1 if status == "resolved" else 0,
        },
        "is_mergeable": True,
        "pending_actions": [],
        "conference_bridge": None,
        "incident_type": {"name": "incident_default"},
    }


def generate_incidents(
    count: int,
    since: datetime,
    until: datetime,
    *,
    seed: int = 0,
    services: Iterable[tuple[str, str]] = DEFAULT_SERVICES,
    first_number: int = 1,
) -> list[dict]:
    """``count`` incidents with creation times spread evenly over ``[since, until)`` (whole seconds)."""
    services = list(services)
    step = (until - since) / max(count, 1)
    incidents = []
    for index in range(count):
        created = (since + step * index).replace(microsecond=0)
        incidents.append(
            make_incident(
                index, created, seed=seed, number=first_number + index, service=services[index % len(services)]
            )
        )
    return incidents


def resolved_before_created(index: int, created_at: datetime, *, seed: int = 0, number: int | None = None) -> dict:
    """A bad incident: resolved an hour before it was created (validation must catch it)."""
    return make_incident(
        index, created_at, seed=seed, number=number, status="resolved", resolved_at=created_at - timedelta(hours=1)
    )


def _error(status: int, message: str, code: int, errors: list[str] | None = None, headers=None) -> FakeResponse:
    body = {"error": {"message": message, "code": code}}
    if errors:
        body["error"]["errors"] = errors
    return FakeResponse(status, body, headers=headers)


class PagerDutyFake(LoopbackFake):
    """``GET /incidents`` over an in-memory incident list sorted by creation time."""

    def __init__(self, token: str = DEFAULT_TOKEN, incidents: Iterable[dict] = ()):
        super().__init__()
        self.token = token
        self._data_lock = threading.Lock()
        self._created: list[datetime] = []
        self._incidents: list[dict] = []
        self._queued: list[FakeResponse] = []
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        # Called with each request before it is answered (a test can stop a database here).
        self.on_request: Callable[[FakeRequest], None] | None = None
        self.add_incidents(incidents)

    # -- test controls -------------------------------------------------------------------------
    def reset(self, token: str = DEFAULT_TOKEN) -> None:
        """Forget incidents, queued failures, hooks and recorded requests (reuse one server)."""
        with self._data_lock, self._lock:
            self.token = token
            self._incidents, self._created, self._queued = [], [], []
            self.requests.clear()
            self.on_request = None

    def add_incidents(self, incidents: Iterable[dict]) -> None:
        """Add incidents (kept sorted by created_at, then id, as PagerDuty lists them)."""
        with self._data_lock:
            merged = self._incidents + list(incidents)
            merged.sort(key=lambda i: (_parse(i["created_at"]), i["id"]))
            self._incidents = merged
            self._created = [_parse(i["created_at"]) for i in merged]

    def inject_bad_incident(self, created_at: datetime, *, index: int = 999_999, number: int | None = None) -> dict:
        """Add an incident resolved before it was created; returns it."""
        bad = resolved_before_created(index, created_at, number=number)
        self.add_incidents([bad])
        return bad

    @property
    def incidents(self) -> list[dict]:
        """Every incident the fake holds, in listing order."""
        return list(self._incidents)

    def rate_limit_next(self, reset: int = 1) -> None:
        """Answer the next request with 429 and ``ratelimit-reset: reset`` (once)."""
        headers = {"ratelimit-limit": RATE_LIMIT, "ratelimit-remaining": 0, "ratelimit-reset": reset}
        self._queued.append(_error(429, "Rate Limit Exceeded", 2020, headers=headers))

    def fail_next(self, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``status`` (an outage)."""
        for _ in range(times):
            self._queued.append(_error(status, "Service Unavailable", 5000))

    # -- the API -------------------------------------------------------------------------------
    def handle(self, request: FakeRequest) -> FakeResponse:
        if self.on_request is not None:
            self.on_request(request)
        if request.headers.get("authorization") != f"Token token={self.token}":
            return _error(401, "Authentication failed", 2006)
        if request.headers.get("accept") != ACCEPT:
            return _error(406, "Not Acceptable", 2001, [f"Accept must be {ACCEPT}"])
        with self._lock:
            if self._queued:
                return self._queued.pop(0)
        if request.method != "GET" or request.path.rstrip("/") != "/incidents":
            return _error(404, "Not Found", 2100)
        return self._list(request.query)

    def _list(self, query: dict[str, list[str]]) -> FakeResponse:
        first = {k: v[0] for k, v in query.items() if v}
        try:
            limit = min(int(first.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
            offset = int(first.get("offset", 0))
            if limit < 1 or offset < 0:
                raise ValueError
        except ValueError:
            return _error(400, "Invalid Input Provided", 2001, ["limit and offset must be non-negative integers"])
        if offset + limit > OFFSET_CAP:
            return _error(
                400, "Arguments Caused Error", 2002, [f"Offset+limit exceeds maximum allowed value of {OFFSET_CAP}."]
            )
        window = self._window(first)
        if isinstance(window, FakeResponse):
            return window
        matching = self._matching(window, query)
        return FakeResponse(
            200,
            {
                "incidents": matching[offset : offset + limit],
                "limit": limit,
                "offset": offset,
                "more": offset + limit < len(matching),
                "total": len(matching) if first.get("total") == "true" else None,
            },
        )

    def _window(self, first: dict[str, str]) -> tuple[datetime, datetime] | FakeResponse | None:
        if first.get("date_range") == "all":
            return None
        try:
            until = _parse(first["until"]) if "until" in first else self.now()
            since = _parse(first["since"]) if "since" in first else until - timedelta(days=30)
        except ValueError:
            return _error(400, "Invalid 'since' or 'until' Parameter Values", 2004)
        if until < since or until - since > timedelta(days=184):
            return _error(400, "Invalid Query Date Range", 2005, ["The date range must be 6 months or less."])
        return since, until

    def _matching(self, window, query: dict[str, list[str]]) -> list[dict]:
        with self._data_lock:
            incidents, created = self._incidents, self._created
        if window is not None:
            lo = bisect.bisect_left(created, window[0])
            hi = bisect.bisect_left(created, window[1])
            incidents = incidents[lo:hi]
        statuses = set(query.get("statuses[]", []))
        services = set(query.get("service_ids[]", []))
        urgencies = set(query.get("urgencies[]", []))
        if statuses or services or urgencies:
            incidents = [
                i
                for i in incidents
                if (not statuses or i.get("status") in statuses)
                and (not services or (i.get("service") or {}).get("id") in services)
                and (not urgencies or i.get("urgency") in urgencies)
            ]
        return incidents
