"""A loopback fake of the three release services (validation, deployment, notification), failure modes included.

One server, one path prefix per service, each with its own bearer token, following the contract of
``pipelines/approvals/services.py``::

    POST /validation/validate      {"storyId", "packages", "environment"}
        → 200 {"valid", "checks": [{"package", "passed", "message"}]}
    POST /deployment/deploy        {"storyId", "package", "environment"} + Idempotency-Key
        → 201 {"deploymentId", "package", "status": "deployed"} (a repeated key: 200, the first answer)
    POST /notification/notify      {"storyId", "environment", "packages", "requester", "message"} + Idempotency-Key
        → 202 {"notificationId"} (a repeated key: the first answer)

A package id containing ``invalid`` fails validation (as the reference service does);
``answer_invalid`` fails others. Refusals: 401 for a missing or wrong token, 400 naming the field
of a bad body, 422 for an idempotency key reused with another body.

    with ReleaseServicesFake() as fake:
        client_url = fake.url_of("deployment")          # http://127.0.0.1:port/deployment
        fake.fail_next("deployment", 500)                # the next deploy answers 500 (nothing deployed)
        fake.fail_next("validation", 429, retry_after=2)
        fake.slow_next("deployment", 0.5)                # deployed, but the answer comes 0.5 s late
        fake.performed("deployment")                     # [(key, package)] of deployments really done
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from typing import Any

from infra.sandbox.fakes.base import FakeRequest, FakeResponse, LoopbackFake

VALIDATION, DEPLOYMENT, NOTIFICATION = "validation", "deployment", "notification"
SERVICES = (VALIDATION, DEPLOYMENT, NOTIFICATION)
ENDPOINTS = {VALIDATION: "/validate", DEPLOYMENT: "/deploy", NOTIFICATION: "/notify"}
DEFAULT_TOKENS = {service: f"fake-{service}-token" for service in SERVICES}
FIELDS = {
    VALIDATION: {"storyId": str, "packages": list, "environment": str},
    DEPLOYMENT: {"storyId": str, "package": str, "environment": str},
    NOTIFICATION: {"storyId": str, "environment": str, "packages": list, "requester": str, "message": str},
}
MAX_KEY_CHARS = 255


def _message(status: int, message: str, headers: dict | None = None) -> FakeResponse:
    return FakeResponse(status, {"message": message}, headers=headers)


def derived_id(prefix: str, key: str) -> str:
    """An id derived from an idempotency key (the same key, the same id)."""
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def check_body(service: str, body: Any) -> str | None:
    """Why ``body`` is not a request of ``service`` (``"<field>: <problem>"``), or None."""
    if not isinstance(body, dict):
        return "body: must be a JSON object"
    fields = FIELDS[service]
    for name in body:
        if name not in fields:
            return f"{name}: is not a known field"
    for name, kind in fields.items():
        if name not in body:
            return f"{name}: is required"
        value = body[name]
        if not isinstance(value, kind):
            return f"{name}: must be {'an array' if kind is list else 'a string'}"
        if kind is list and (not value or not all(isinstance(item, str) and item for item in value)):
            return f"{name}: must be a non-empty array of strings"
        if kind is str and not value.strip():
            return f"{name}: must not be blank"
    return None


class ReleaseServicesFake(LoopbackFake):
    """The three services behind one loopback server; ``url_of(service)`` is a service's base URL."""

    def __init__(self, tokens: dict[str, str] | None = None):
        super().__init__()
        self.tokens = {**DEFAULT_TOKENS, **(tokens or {})}
        self._state = threading.Lock()
        self.reset(self.tokens)

    # -- test controls -------------------------------------------------------------------------
    def reset(self, tokens: dict[str, str] | None = None) -> None:
        """Forget answers, injected failures and recorded requests (reuse one server)."""
        with self._state, self._lock:
            self.tokens = {**DEFAULT_TOKENS, **(tokens or {})}
            self._queued: dict[str, list[FakeResponse]] = {s: [] for s in SERVICES}
            self._slow: dict[str, list[float]] = {s: [] for s in SERVICES}
            self._invalid: dict[str | None, str] = {}
            self._answers: dict[tuple[str, str], tuple[dict, dict]] = {}  # (service, key) → (request, answer)
            self._performed: dict[str, list[tuple[str, Any]]] = {s: [] for s in SERVICES}
            self.requests.clear()

    def url_of(self, service: str) -> str:
        """The base URL a client of ``service`` is configured with."""
        return f"{self.url}/{self._known(service)}"

    def fail_next(
        self, service: str, status: int, times: int = 1, retry_after: float | str | None = None, body: Any = None
    ) -> None:
        """Answer the next ``times`` requests to ``service`` with ``status`` (nothing done).

        ``body`` replaces the default ``{"message": …}`` (bytes are sent as they are: a malformed
        answer); ``retry_after`` sets the Retry-After header (seconds or an HTTP date).
        """
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        answer = body if body is not None else {"message": f"injected failure {status}"}
        with self._state:
            self._queued[self._known(service)].extend(FakeResponse(status, answer, headers) for _ in range(times))

    def slow_next(self, service: str, seconds: float, times: int = 1) -> None:
        """The next ``times`` requests to ``service`` are done, but answered ``seconds`` late (a lost answer)."""
        with self._state:
            self._slow[self._known(service)].extend([seconds] * times)

    def answer_invalid(self, packages: Iterable[str] | None = None, message: str = "package failed validation") -> None:
        """Validation fails ``packages`` (every package if None) with ``message``, until ``reset``."""
        with self._state:
            for package in [None] if packages is None else packages:
                self._invalid[package] = message

    def calls(self, service: str) -> list[FakeRequest]:
        """The requests ``service`` received, in order (injected failures and refusals included)."""
        prefix = f"/{self._known(service)}/"
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def performed(self, service: str) -> list[tuple[str, Any]]:
        """What ``service`` really did: ``(idempotency key, package)`` per deployment, ``(key, storyId)`` per
        notification, ``(None, storyId)`` per validation; a deduplicated repeat is not listed."""
        with self._state:
            return list(self._performed[self._known(service)])

    @staticmethod
    def _known(service: str) -> str:
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
        return service

    # -- the API -------------------------------------------------------------------------------
    def handle(self, request: FakeRequest) -> FakeResponse:
        service = next((s for s in SERVICES if request.path == f"/{s}{ENDPOINTS[s]}"), None)
        if service is None:
            return _message(404, "no such endpoint")
        if request.method != "POST":
            return _message(405, "use POST")
        if request.headers.get("authorization", "") != f"Bearer {self.tokens[service]}":
            return _message(401, "missing or invalid bearer token")
        with self._state:
            if self._queued[service]:
                return self._queued[service].pop(0)
            delay = self._slow[service].pop(0) if self._slow[service] else 0.0
        response = self._answer(service, request)
        response.delay = delay
        return response

    def _answer(self, service: str, request: FakeRequest) -> FakeResponse:
        try:
            body = request.json()
        except ValueError:
            return _message(400, "body: is not JSON")
        problem = check_body(service, body)
        if problem:
            return _message(400, problem)
        if service == VALIDATION:
            with self._state:
                self._performed[service].append((None, body["storyId"]))
                invalid = dict(self._invalid)
            checks = []
            for package in body["packages"]:
                failure = invalid.get(package) or invalid.get(None)
                if failure is None and "invalid" in package.lower():
                    failure = "package id is marked invalid"
                checks.append({"package": package, "passed": failure is None, "message": failure or "ok"})
            return FakeResponse(200, {"valid": all(c["passed"] for c in checks), "checks": checks})
        key = request.headers.get("idempotency-key", "")
        if not key or len(key) > MAX_KEY_CHARS or not key.isprintable():
            return _message(400, "Idempotency-Key: a header of 1 to 255 printable characters is required")
        with self._state:
            first = self._answers.get((service, key))
            if first is not None:
                if first[0] != body:
                    return _message(422, "Idempotency-Key: reused with a different request")
                return FakeResponse(200 if service == DEPLOYMENT else 202, first[1])
            if service == DEPLOYMENT:
                answer = {"deploymentId": derived_id("dep", key), "package": body["package"], "status": "deployed"}
                self._performed[service].append((key, body["package"]))
            else:
                answer = {"notificationId": derived_id("ntf", key)}
                self._performed[service].append((key, body["storyId"]))
            self._answers[(service, key)] = (body, answer)
        return FakeResponse(201 if service == DEPLOYMENT else 202, answer)
