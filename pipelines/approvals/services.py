"""Clients of the three bearer-token release services: validation, deployment, notification.

The contract (the sandbox's fakes and ``reference`` implement exactly this)::

    POST {base}/validate  {"storyId", "packages", "environment"}
        → 200 {"valid": bool, "checks": [{"package", "passed": bool, "message"}]}
    POST {base}/deploy    {"storyId", "package", "environment"}, one call per package,
                          header Idempotency-Key (a repeated key returns the first answer)
        → 200 | 201 {"deploymentId", "package", "status"}
    POST {base}/notify    {"storyId", "environment", "packages", "requester", "message"},
                          header Idempotency-Key
        → 202 {"notificationId"}

Every call carries ``Authorization: Bearer <token>``, a timeout (connect 3 s, read 10 s), and is
tried at most three times in all (``ServiceRetry``): connection errors, read timeouts, 5xx and 429
are retried with full-jitter backoff, a 429's ``Retry-After`` is honoured up to 20 s (longer:
``ServiceRateLimitedError`` at once, Step Functions waits instead); no other 4xx is retried. POST
is safe to retry: validation has no side effects and the others carry an idempotency key derived
from the execution (``idempotency_key``), never a random one, so a retry of the call or of the
whole task never deploys or notifies twice.

The clients know nothing of AWS: the handler checks the URL (``require_secure_url``), reads the
token by ARN and passes both in. Error messages name the service and status, quote at most a short
prefix of what the service said, and never carry the token or the URL (a query may hold a secret).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from pipelines.approvals.errors import (
    ServiceAuthError,
    ServiceProtocolError,
    ServiceRateLimitedError,
    ServiceRejectedError,
    ServiceUnavailableError,
    ValidationFailedError,
)
from pipelines.common import clock
from pipelines.common.errors import bounded_message
from pipelines.common.http import retrying_session
from pipelines.common.inputs import described, quote
from pipelines.common.jsontext import utf8_json

VALIDATION, DEPLOYMENT, NOTIFICATION = "validation", "deployment", "notification"
SERVICES = (VALIDATION, DEPLOYMENT, NOTIFICATION)

DEFAULT_TIMEOUT = (3.0, 10.0)  # (connect, read) seconds, per attempt
ATTEMPTS = 3
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 4.0
MAX_RETRY_AFTER_S = 20.0
RETRY_STATUSES = (429, *range(500, 600))
# An answer is a few hundred bytes; anything near this is not one of the contract's.
MAX_ANSWER_BYTES = 256 * 1024
MAX_CHECKS = 1000
MAX_ID_CHARS = 256
USER_AGENT = "stepworks-release-approval/1"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def idempotency_key(execution_id: str, purpose: str, package: str | None = None) -> str:
    """The key of one side-effecting call: 32 hex characters of sha256("<execution>|<purpose>[|<package>]").

    Derived, never random: every attempt of the same call, in-process or a Step Functions retry of
    the whole task, sends the same key, and the service answers a repeated key with its first answer.
    """
    text = f"{execution_id}|{purpose}" if package is None else f"{execution_id}|{purpose}|{package}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def retry_after_seconds(raw: str) -> float:
    """A Retry-After header (whole seconds, or an HTTP date read against ``clock.now``) in seconds ≥ 0.

    ValueError if it is neither.
    """
    text = raw.strip()
    if text.isascii() and text.isdigit():
        seconds = float(int(text))
    else:
        try:
            seconds = parsedate_to_datetime(text).timestamp() - clock.now()
        except (TypeError, ValueError, IndexError, OverflowError):
            raise ValueError("not a Retry-After value") from None
    return max(seconds, 0.0)


class ServiceRetry(Retry):
    """urllib3 Retry that sleeps on ``pipelines.common.clock`` with full jitter, and stops on a long Retry-After.

    The n-th retry waits ``uniform(0, min(backoff_max, backoff_factor * 2**(n-1)))``, or exactly
    the ``Retry-After`` a 429/503 asked for when that is at most ``max_retry_after`` seconds; a
    longer one ends the retries at once and the caller sees that response. Every pause goes
    through ``clock.sleep``, so the sandbox's clock (and a test's) decides how long it takes.
    """

    def __init__(self, *args, max_retry_after: float = MAX_RETRY_AFTER_S, rng: random.Random | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_retry_after = max_retry_after
        self.rng = rng or random.Random()

    def new(self, **kw):
        retry = super().new(**kw)
        retry.max_retry_after = self.max_retry_after
        retry.rng = self.rng
        return retry

    def parse_retry_after(self, retry_after: str) -> float:
        return retry_after_seconds(retry_after)

    def get_retry_after(self, response) -> float | None:
        raw = response.headers.get("Retry-After")
        if raw is None:
            return None
        try:
            return self.parse_retry_after(raw)
        except ValueError:
            return None  # an unreadable Retry-After: back off as if there were none

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if response is not None and self.respect_retry_after_header:
            wait = self.get_retry_after(response)
            if wait is not None and wait > self.max_retry_after:
                # urllib3 catches this (raise_on_status=False) and hands the caller this response.
                raise MaxRetryError(_pool, url, ResponseError(f"Retry-After {wait:.0f}s is too long to wait here"))
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def get_backoff_time(self) -> float:
        failures = len(self.history)
        if failures == 0:
            return 0.0
        return self.rng.uniform(0.0, min(self.backoff_max, self.backoff_factor * 2 ** (failures - 1)))

    def sleep(self, response=None) -> None:
        if response is not None and self.respect_retry_after_header:
            wait = self.get_retry_after(response)
            if wait is not None:
                clock.sleep(wait)
                return
        clock.sleep(self.get_backoff_time())


def service_session(
    *,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    attempts: int = ATTEMPTS,
    backoff_base: float = BACKOFF_BASE_S,
    backoff_cap: float = BACKOFF_CAP_S,
    max_retry_after: float = MAX_RETRY_AFTER_S,
    rng: random.Random | None = None,
) -> requests.Session:
    """A session that POSTs with ``timeout`` and ``ServiceRetry``: ``attempts`` tries in all."""

    def retry_class(**kwargs) -> ServiceRetry:
        return ServiceRetry(max_retry_after=max_retry_after, rng=rng, other=0, **kwargs)

    return retrying_session(
        total=attempts - 1,
        backoff_factor=backoff_base,
        backoff_max=backoff_cap,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"POST"}),
        retry_class=retry_class,
        timeout=timeout,
    )


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("retry-after", "")
    try:
        return retry_after_seconds(raw) if raw else None
    except ValueError:
        return None


def _service_message(body: Any, text: str) -> str:
    """What a service said about a refusal, short: its ``message``/``error`` field, else the text."""
    if isinstance(body, Mapping):
        for name in ("message", "error", "detail"):
            value = body.get(name)
            if isinstance(value, str) and value.strip():
                return quote(value, 120)
            if isinstance(value, Mapping) and isinstance(value.get("message"), str):
                return quote(value["message"], 120)
    return quote(text, 120) if text.strip() else "no message"


class ReleaseService:
    """One release service at ``base_url`` (checked by the caller), called with ``token`` over ``session``.

    ``authorization`` replaces the ``Bearer <token>`` header value (Jira Cloud wants Basic).
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        token: str,
        session: requests.Session | None = None,
        *,
        authorization: str | None = None,
    ):
        self.name = name
        self._base_url = base_url.rstrip("/")
        self._session = session or service_session()
        self._headers = {
            "Authorization": authorization or f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }

    def _read(self, response: requests.Response) -> bytes:
        chunks, size = [], 0
        for chunk in response.iter_content(65536):
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise ServiceProtocolError(f"the {self.name} service answered more than {MAX_ANSWER_BYTES:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def post(self, path: str, body: Any, *, expected: Iterable[int], idempotency: str | None = None) -> dict:
        """POST ``body`` to ``path``; the answer's JSON object when the status is one of ``expected``."""
        headers = dict(self._headers)
        if idempotency is not None:
            headers[IDEMPOTENCY_HEADER] = idempotency
        what = f"the {self.name} service"
        try:
            response = self._session.post(
                self._base_url + path, data=utf8_json(body), headers=headers, allow_redirects=False, stream=True
            )
            try:
                raw = self._read(response)
            finally:
                response.close()
        except requests.RequestException as exc:
            # The exception's text names the URL; only its kind is said (the URL may carry a secret).
            kind = "timed out" if isinstance(exc, requests.Timeout) or "timeout" in repr(exc).lower() else "unreachable"
            raise ServiceUnavailableError(f"{what} {kind} ({type(exc).__name__}) after {ATTEMPTS} attempts") from None
        status = response.status_code
        text = raw.decode("utf-8", "replace")
        try:
            answer = json.loads(text) if text.strip() else None
        except (ValueError, RecursionError):
            answer = None
            if status in expected:
                raise ServiceProtocolError(f"{what} answered {status} with a non-JSON body: {quote(text)}") from None
        if status in (401, 403):
            raise ServiceAuthError(f"{what} refused the bearer token ({status}): {_service_message(answer, text)}")
        if status == 429:
            wait = _retry_after(response)
            after = f" (Retry-After {wait:.0f}s)" if wait is not None else ""
            raise ServiceRateLimitedError(f"{what} is rate limiting us{after}", retry_after=wait)
        if status >= 500:
            raise ServiceUnavailableError(f"{what} answered {status} after {ATTEMPTS} attempts")
        if 400 <= status < 500:
            raise ServiceRejectedError(f"{what} refused the request ({status}): {_service_message(answer, text)}")
        if status not in expected:
            raise ServiceProtocolError(f"{what} answered {status}, expected {' or '.join(map(str, expected))}")
        if not isinstance(answer, dict):
            raise ServiceProtocolError(f"{what} answered {status} with {described(answer)}, not a JSON object")
        return answer


def _field(answer: Mapping[str, Any], name: str, kind: type, service: str, where: str = "") -> Any:
    value = answer.get(name)
    if kind is str:
        ok = isinstance(value, str) and bool(value.strip()) and len(value) <= MAX_ID_CHARS
    else:
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if not ok:
        wanted = {str: "a non-empty string", bool: "a boolean", list: "an array"}[kind]
        raise ServiceProtocolError(
            f"the {service} service's answer{where}: {name} must be {wanted}, got {described(value)}"
        )
    return value


@dataclass(frozen=True)
class Check:
    """One validation check as the service reported it."""

    package: str
    passed: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"package": self.package, "passed": self.passed, "message": self.message}


def _checks(answer: Mapping[str, Any]) -> list[Check]:
    items = _field(answer, "checks", list, VALIDATION)
    if len(items) > MAX_CHECKS:
        raise ServiceProtocolError(f"the validation service answered {len(items):,} checks (at most {MAX_CHECKS})")
    checks = []
    for index, item in enumerate(items):
        where = f" checks[{index}]"
        if not isinstance(item, Mapping):
            raise ServiceProtocolError(f"the validation service's answer{where} is {described(item)}, not an object")
        message = item.get("message", "")
        if not isinstance(message, str):
            raise ServiceProtocolError(f"the validation service's answer{where}: message must be a string")
        package = _field(item, "package", str, VALIDATION, where)
        checks.append(Check(package, _field(item, "passed", bool, VALIDATION, where), bounded_message(message, 300)))
    return checks


def failed_checks_message(checks: list[Check], limit: int = 10) -> str:
    """``validation failed for N of M checks: pkg (message); …`` naming at most ``limit`` of them."""
    failed = [c for c in checks if not c.passed]
    if not failed:
        return "validation failed (the service named no failing check)"
    shown = "; ".join(f"{c.package} ({quote(c.message, 80)})" if c.message else c.package for c in failed[:limit])
    more = f"; and {len(failed) - limit} more" if len(failed) > limit else ""
    return bounded_message(f"validation failed for {len(failed)} of {len(checks)} checks: {shown}{more}")


def validate(service: ReleaseService, request: Mapping[str, Any]) -> dict[str, Any]:
    """``{"service": "validation", "valid": True, "checks"}``; ValidationFailedError when not valid."""
    body = {key: request[key] for key in ("storyId", "packages", "environment")}
    answer = service.post("/validate", body, expected=(200,))
    valid = _field(answer, "valid", bool, VALIDATION)
    checks = _checks(answer)
    if not valid:
        raise ValidationFailedError(failed_checks_message(checks))
    return {"service": VALIDATION, "valid": True, "checks": [c.to_dict() for c in checks]}


def deploy(service: ReleaseService, request: Mapping[str, Any], execution_id: str) -> dict[str, Any]:
    """One deployment per package, each with its derived key: ``{"service": "deployment", "deployments"}``."""
    deployments = []
    for package in request["packages"]:
        key = idempotency_key(execution_id, DEPLOYMENT, package)
        body = {"storyId": request["storyId"], "package": package, "environment": request["environment"]}
        answer = service.post("/deploy", body, expected=(200, 201), idempotency=key)
        deployment_id = _field(answer, "deploymentId", str, DEPLOYMENT)
        if answer.get("package") != package:
            raise ServiceProtocolError(
                f"the deployment service answered for package {described(answer.get('package'))}, not {quote(package)}"
            )
        status = _field(answer, "status", str, DEPLOYMENT)
        deployments.append({"package": package, "deploymentId": deployment_id, "status": status, "idempotencyKey": key})
    return {"service": DEPLOYMENT, "deployments": deployments}


def notification_message(request: Mapping[str, Any]) -> str:
    """The notification's text: what is released where, for which story, at whose request."""
    packages = request["packages"]
    listed = ", ".join(packages[:10]) + (f" and {len(packages) - 10} more" if len(packages) > 10 else "")
    return (
        f"Release of {len(packages)} package(s) to {request['environment']} for {request['storyId']}, "
        f"requested by {request['requester']}, awaits approval in Jira: {listed}"
    )


def notify(service: ReleaseService, request: Mapping[str, Any], execution_id: str) -> dict[str, Any]:
    """The release announced once per execution: ``{"service": "notification", "notificationId"}``."""
    body = {
        "storyId": request["storyId"],
        "environment": request["environment"],
        "packages": list(request["packages"]),
        "requester": request["requester"],
        "message": notification_message(request),
    }
    answer = service.post("/notify", body, expected=(202,), idempotency=idempotency_key(execution_id, NOTIFICATION))
    return {"service": NOTIFICATION, "notificationId": _field(answer, "notificationId", str, NOTIFICATION)}
