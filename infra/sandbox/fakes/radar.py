"""Loopback fake of the Cloudflare Radar API (the three endpoints the radar pipeline queries).

Follows the documented contract: the ``{success, errors, result}`` envelope, ``meta`` with
``dateRange``, ``normalization``, ``lastUpdated`` and ``confidenceInfo``, values as strings, a
ranking ``rank`` that is null for unranked domains, and the failure modes — 401 for a wrong
token, 404 for an unknown ASN or domain, 429 with ``retry-after``, 500, and slow answers.

    with RadarFake(token="t") as radar:
        radar.not_found("unknown.example")
        radar.rate_limit("example.com", retry_after=1, times=1)
        radar.server_error("13335")
        radar.slow("/radar/http/summary/device_type", seconds=2)
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass

from infra.sandbox.fakes.base import FakeRequest, FakeResponse, LoopbackFake

API_PREFIX = "/client/v4"
LAST_UPDATED = "2026-11-22T05:45:00Z"
DATE_RANGE = [{"startTime": "2026-11-15T06:00:00Z", "endTime": "2026-11-22T06:00:00Z"}]

# Well-known entities answer with their real names; anything else gets a deterministic stand-in.
KNOWN_ASNS = {
    "13335": ("CLOUDFLARENET", "US", "United States", "Cloudflare, Inc.", "https://www.cloudflare.com"),
    "15169": ("GOOGLE", "US", "United States", "Google LLC", "https://about.google"),
    "3320": ("DTAG", "DE", "Germany", "Deutsche Telekom AG", "https://www.telekom.com"),
}
RANKED_DOMAINS = {"google.com": 1, "cloudflare.com": 6, "example.com": 8421}
CATEGORIES = [
    {"id": 26, "name": "Technology", "superCategoryId": 12},
    {"id": 81, "name": "Content Servers", "superCategoryId": 3},
    {"id": 155, "name": "Search Engines", "superCategoryId": 12},
]
TOP_LOCATIONS = ["US", "DE", "GB", "IN", "BR", "JP"]

_RANKING = re.compile(r"^/radar/ranking/domain/([^/]+)$")
_ASN = re.compile(r"^/radar/entities/asns/([^/]+)$")
_DEVICE_TYPE = "/radar/http/summary/device_type"


def envelope(result: object) -> dict:
    """A successful Radar answer."""
    return {"success": True, "errors": [], "messages": [], "result": result}


def failure(code: int, message: str) -> dict:
    """A failed Radar answer."""
    return {"success": False, "errors": [{"code": code, "message": message}], "messages": [], "result": {}}


def meta(level: int | None = 5, annotations: list | None = None) -> dict:
    """The ``meta`` block summary endpoints carry."""
    return {
        "dateRange": [dict(r) for r in DATE_RANGE],
        "normalization": "PERCENTAGE",
        "lastUpdated": LAST_UPDATED,
        "confidenceInfo": {"level": level, "annotations": list(annotations or [])},
    }


def _seed(text: str) -> int:
    # Stable across processes (unlike hash()), so a fake's answers are reproducible in tests.
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


@dataclass
class _Rule:
    status: int
    retry_after: int | None = None
    remaining: int | None = None  # None: every matching request
    delay: float = 0.0


class RadarFake(LoopbackFake):
    """The Radar API on loopback; tell it per domain, ASN, location or path how to misbehave."""

    def __init__(self, token: str = "radar-test-token", prefix: str = API_PREFIX):
        super().__init__()
        self.token = token
        self.prefix = prefix
        self._rules: dict[str, _Rule] = {}
        self._rules_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """What RADAR_API_BASE_URL should be (``http://127.0.0.1:<port>/client/v4``)."""
        return self.url + self.prefix

    # -- misbehaviour ---------------------------------------------------------------------
    def not_found(self, target: str) -> None:
        """Answer 404 for ``target`` (a domain, an ASN, a location or a path)."""
        self._set(target, _Rule(404))

    def rate_limit(self, target: str, retry_after: int = 1, times: int | None = 1) -> None:
        """Answer 429 with ``retry-after`` ``times`` times (None: until cleared)."""
        self._set(target, _Rule(429, retry_after=retry_after, remaining=times))

    def server_error(self, target: str, times: int | None = None) -> None:
        """Answer 500 ``times`` times (None: until cleared)."""
        self._set(target, _Rule(500, remaining=times))

    def slow(self, target: str, seconds: float, times: int | None = None) -> None:
        """Answer normally, but only after ``seconds``."""
        self._set(target, _Rule(200, remaining=times, delay=seconds))

    def clear(self, target: str | None = None) -> None:
        """Forget the misbehaviour for ``target`` (or all of it)."""
        with self._rules_lock:
            if target is None:
                self._rules.clear()
            else:
                self._rules.pop(target, None)

    def reset(self) -> None:
        """Forget all misbehaviour and recorded requests (a fake shared between tests)."""
        self.clear()
        with self._lock:
            self.requests.clear()

    def _set(self, target: str, rule: _Rule) -> None:
        with self._rules_lock:
            self._rules[target] = rule

    def _rule_for(self, targets: list[str]) -> _Rule | None:
        with self._rules_lock:
            for target in targets:
                rule = self._rules.get(target)
                if rule is None:
                    continue
                if rule.remaining is not None:
                    if rule.remaining <= 0:
                        continue
                    rule.remaining -= 1
                return rule
        return None

    # -- serving --------------------------------------------------------------------------
    def handle(self, request: FakeRequest) -> FakeResponse:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return FakeResponse(401, failure(10000, "Authentication error"))
        if request.method != "GET" or not request.path.startswith(self.prefix + "/"):
            return FakeResponse(404, failure(7000, "No route for that URI"))
        path = request.path[len(self.prefix) :]
        location = (request.query.get("location") or [""])[0]
        targets = [path, path.rsplit("/", 1)[-1], location]
        rule = self._rule_for([t for t in targets if t])
        if rule is not None and rule.status == 404:
            return FakeResponse(404, failure(1002, "Not Found"))
        if rule is not None and rule.status == 429:
            return FakeResponse(
                429,
                failure(971, "Please wait and consider throttling your request speed"),
                headers={"retry-after": rule.retry_after},
            )
        if rule is not None and rule.status >= 500:
            return FakeResponse(rule.status, failure(10001, "Internal server error"))
        response = self._answer(path, request)
        if rule is not None:
            response.delay = rule.delay
        return response

    def _answer(self, path: str, request: FakeRequest) -> FakeResponse:
        if match := _RANKING.match(path):
            return FakeResponse(200, envelope(self._ranking(match.group(1), request)))
        if match := _ASN.match(path):
            asn = match.group(1)
            if not asn.isdigit():
                return FakeResponse(400, failure(10001, f"Invalid ASN: {asn}"))
            return FakeResponse(200, envelope({"asn": self._asn(asn)}))
        if path == _DEVICE_TYPE:
            location = (request.query.get("location") or [""])[0]
            if location and not re.fullmatch(r"[A-Z]{2}", location):
                return FakeResponse(400, failure(10001, f"Invalid location: {location}"))
            return FakeResponse(200, envelope(self._device_type(location or "WORLD")))
        return FakeResponse(404, failure(7000, "No route for that URI"))

    def _ranking(self, domain: str, request: FakeRequest) -> dict:
        seed = _seed(domain)
        rank = RANKED_DOMAINS.get(domain)
        limit = int((request.query.get("limit") or ["5"])[0])
        include_locations = (request.query.get("includeTopLocations") or ["false"])[0] == "true"
        details = {
            "rank": rank,  # only top domains are ranked; the rest answer null with a bucket
            "bucket": "200" if rank and rank <= 200 else ("10000" if rank else ">200000"),
            "categories": [dict(c) for c in CATEGORIES[: 1 + seed % 2]],
        }
        if include_locations:
            details["top_locations"] = [
                {"locationCode": code, "locationName": code, "rank": i + 1}
                for i, code in enumerate(TOP_LOCATIONS[:limit])
            ]
        return {"details_0": details, "meta": {"dateRange": [dict(r) for r in DATE_RANGE]}}

    def _asn(self, asn: str) -> dict:
        name, country, country_name, org_name, website = KNOWN_ASNS.get(
            asn, (f"AS{asn}-NET", "US", "United States", f"Organization {asn}", "")
        )
        return {
            "asn": int(asn),
            "name": name,
            "aka": "",
            "country": country,
            "countryName": country_name,
            "orgName": org_name,
            "website": website,
            "related": [],
            "source": "CAIDA",
            "estimatedUsers": {"locations": [], "estimatedUsers": None},
        }

    def _device_type(self, location: str) -> dict:
        seed = _seed(location)
        desktop = 40 + seed % 300 / 10  # 40.0 … 69.9, sent as strings like the real API
        other = seed % 9 / 10
        mobile = round(100 - desktop - other, 1)
        return {
            "summary_0": {"desktop": f"{desktop:.1f}", "mobile": f"{mobile:.1f}", "other": f"{other:.1f}"},
            "meta": meta(level=None if seed % 3 == 0 else 5),
        }
