"""Loopback fake of the radar pipeline's organization-registry provider.

``GET <path>`` with ``Authorization: Bearer <token>`` answers the registry JSON; a wrong or
missing token answers 401. ``fail_next`` makes the next requests answer an error status.
"""

from __future__ import annotations

import threading

from infra.sandbox.fakes.base import FakeRequest, FakeResponse, LoopbackFake


class ProviderFake(LoopbackFake):
    """Serves one organization registry to bearer-authenticated GETs."""

    def __init__(self, registry: dict | None = None, token: str = "provider-test-token", path: str = "/orgs"):
        super().__init__()
        self.registry = registry if registry is not None else {"organizations": []}
        self.token = token
        self.path = path
        self._failures: list[tuple[int, dict]] = []
        self._failures_lock = threading.Lock()

    @property
    def registry_url(self) -> str:
        """What PROVIDER_URL should be."""
        return self.url + self.path

    def fail_next(self, status: int, times: int = 1, headers: dict | None = None) -> None:
        """Answer ``status`` to the next ``times`` requests (e.g. 503, or 429 with retry-after)."""
        with self._failures_lock:
            self._failures.extend([(status, headers or {})] * times)

    def reset(self, registry: dict | None = None) -> None:
        """Forget pending failures and recorded requests; optionally serve another registry."""
        with self._failures_lock:
            self._failures.clear()
        with self._lock:
            self.requests.clear()
        if registry is not None:
            self.registry = registry

    def handle(self, request: FakeRequest) -> FakeResponse:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return FakeResponse(401, {"error": "unauthorized"})
        if request.method != "GET" or request.path != self.path:
            return FakeResponse(404, {"error": "not found"})
        with self._failures_lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, headers = failure
            return FakeResponse(status, {"error": f"failure {status}"}, headers=headers)
        return FakeResponse(200, self.registry)
