"""Reference implementations of the three release services, for trying the pipeline without real ones.

Deployed only with ``stepworks:release-approval.referenceServices: true``: Lambda behind an HTTP
API (payload format 2.0), answering exactly the contract of ``services``:

reference_validation    POST …/validate  {"storyId", "packages", "environment"}
    → 200 {"valid", "checks": [{"package", "passed", "message"}]}: a package id containing
      ``invalid`` fails its check (as the seed's mock does), every other one passes
reference_deployment    POST …/deploy    {"storyId", "package", "environment"} + Idempotency-Key
    → 201 {"deploymentId", "package", "status": "deployed"}; the same key again → 200, the first answer
reference_notification  POST …/notify    {"storyId", "environment", "packages", "requester", "message"}
                                          + Idempotency-Key
    → 202 {"notificationId"}; the same key again → 202, the first answer

Each checks ``Authorization: Bearer <token>`` against the secret at TOKEN_SECRET_ARN (AWSCURRENT or
AWSPREVIOUS, constant time) → 401; a malformed body → 400 ``{"message": "<field>: <problem>"}``; a
key reused with another body → 422. Deployment and notification keep each key's first answer in
the DynamoDB table IDEMPOTENCY_TABLE_NAME (partition key ``idempotencyKey``, TTL ``expiresAt``,
one day); DynamoDB throttled → 503 with Retry-After.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipelines.approvals.httpapi import header, json_object_body, matches, presented_secret, response
from pipelines.approvals.request import ENVIRONMENT_NAME, MAX_PACKAGES, PACKAGE_ID, STORY_ID
from pipelines.common import clock
from pipelines.common.aws import client
from pipelines.common.errors import InvalidInputError
from pipelines.common.inputs import described, field_name, has_lone_surrogate, nearest, quote
from pipelines.common.logging import get_logger
from pipelines.common.secrets import read_secret_stages
from pipelines.common.settings import require_env

logger = get_logger("release-approval-reference")

MAX_BODY_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 4000
IDEMPOTENCY_TTL_S = 86_400
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_UNAVAILABLE = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}

FIELDS = {
    "validation": ("storyId", "packages", "environment"),
    "deployment": ("storyId", "package", "environment"),
    "notification": ("storyId", "environment", "packages", "requester", "message"),
}


class _Unavailable(Exception):
    """The idempotency table is throttled or down."""


def _text(body: Mapping[str, Any], name: str, pattern: re.Pattern | None = None, limit: int = 256) -> str:
    value = body[name]
    if not isinstance(value, str):
        raise InvalidInputError(name, f"must be a string, got {described(value)}")
    if has_lone_surrogate(value):
        raise InvalidInputError(name, "contains a lone surrogate (e.g. \\ud800): text must be valid Unicode")
    if not value.strip() or len(value) > limit:
        raise InvalidInputError(name, f"must be 1 to {limit} characters, not blank")
    if pattern is not None and not pattern.fullmatch(value):
        raise InvalidInputError(name, f"is not well-formed: {quote(value)}")
    return value


def _packages(body: Mapping[str, Any]) -> list[str]:
    value = body["packages"]
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_PACKAGES:
        raise InvalidInputError("packages", f"must be an array of 1 to {MAX_PACKAGES} package ids")
    for index, package in enumerate(value):
        if not isinstance(package, str) or not PACKAGE_ID.fullmatch(package):
            raise InvalidInputError(f"packages[{index}]", f"is not a package id: {quote(package)}")
    return value


def checked_body(service: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """The request body of ``service``, every field checked; InvalidInputError naming the field."""
    body = json_object_body(event, MAX_BODY_BYTES)
    known = FIELDS[service]
    for name in body:
        if name not in known:
            guess = nearest(name, known) if isinstance(name, str) else None
            hint = f"; did you mean {guess}?" if guess else ""
            raise InvalidInputError(field_name(name), f"is not a known field{hint}")
    for name in known:
        if name not in body:
            raise InvalidInputError(name, "is required")
    _text(body, "storyId", STORY_ID)
    _text(body, "environment", ENVIRONMENT_NAME)
    if "packages" in known:
        _packages(body)
    if "package" in known:
        _text(body, "package", PACKAGE_ID)
    if "requester" in known:
        _text(body, "requester", limit=128)
    if "message" in known:
        _text(body, "message", limit=MAX_MESSAGE_CHARS)
    return body


def validation_answer(body: Mapping[str, Any]) -> dict[str, Any]:
    """The seed's rule: a package id containing ``invalid`` fails its check."""
    checks = [
        {
            "package": package,
            "passed": "invalid" not in package.lower(),
            "message": "package id is marked invalid" if "invalid" in package.lower() else "ok",
        }
        for package in body["packages"]
    ]
    return {"valid": all(c["passed"] for c in checks), "checks": checks}


def derived_id(prefix: str, key: str) -> str:
    """An id derived from the idempotency key: the same key always names the same deployment."""
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


class IdempotencyTable:
    """First answers by idempotency key (conditional put; a repeat reads the first)."""

    def __init__(self, dynamodb, table: str):
        self._dynamodb = dynamodb
        self.table = table

    def _call(self, operation: str, **kwargs) -> dict[str, Any]:
        try:
            return getattr(self._dynamodb, operation)(TableName=self.table, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise
            if code in _UNAVAILABLE or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
                raise _Unavailable(code) from None
            raise
        except BotoCoreError as exc:
            raise _Unavailable(type(exc).__name__) from None

    def first_answer(self, scope: str, key: str, fingerprint: str, answer: dict) -> tuple[bool, str, dict]:
        """``(new, fingerprint of the first request, first answer)`` for ``key`` in ``scope``."""
        item = {
            "idempotencyKey": {"S": f"{scope}#{key}"},
            "fingerprint": {"S": fingerprint},
            "answer": {"S": json.dumps(answer)},
            "expiresAt": {"N": str(int(clock.now()) + IDEMPOTENCY_TTL_S)},
        }
        try:
            self._call("put_item", Item=item, ConditionExpression="attribute_not_exists(idempotencyKey)")
            return True, fingerprint, answer
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
        stored = self._call("get_item", Key={"idempotencyKey": item["idempotencyKey"]}, ConsistentRead=True)["Item"]
        return False, stored["fingerprint"]["S"], json.loads(stored["answer"]["S"])


def _fingerprint(body: Mapping[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return hashlib.sha256(canonical).hexdigest()


def handle(
    service: str,
    event: Any,
    secrets: Callable[[], list[str]],
    table: Callable[[], IdempotencyTable] | None = None,
) -> dict[str, Any]:
    """The HTTP answer of one reference service to one request."""
    event = event if isinstance(event, Mapping) else {}
    try:
        if not matches(presented_secret(event), [s for s in secrets() if s]):
            return response(401, {"message": "missing or invalid bearer token"})
        try:
            body = checked_body(service, event)
        except InvalidInputError as exc:
            return response(400, {"message": str(exc)})
        if service == "validation":
            return response(200, validation_answer(body))
        key = header(event, "idempotency-key")
        if key is None or not _KEY.fullmatch(key):
            return response(400, {"message": "Idempotency-Key: a header of 1 to 255 printable characters is required"})
        if service == "deployment":
            answer, status_new, status_again = (
                {"deploymentId": derived_id("dep", key), "package": body["package"], "status": "deployed"},
                201,
                200,
            )
        else:
            answer, status_new, status_again = {"notificationId": derived_id("ntf", key)}, 202, 202
        if table is None:
            raise ValueError(f"the {service} service needs its idempotency table")
        new, fingerprint, first = table().first_answer(service, key, _fingerprint(body), answer)
        if fingerprint != _fingerprint(body):
            return response(422, {"message": "Idempotency-Key: reused with a different request"})
        return response(status_new if new else status_again, first)
    except _Unavailable:
        return response(503, {"message": "temporarily unavailable; retry later"}, retry_after=2)
    except Exception as exc:  # noqa: BLE001 - never a traceback in an answer
        logger.error("reference service failed", extra={"errorType": type(exc).__name__})
        return response(500, {"message": "internal error"})


def _secrets() -> list[str]:
    return [v for v in read_secret_stages(require_env("TOKEN_SECRET_ARN")).values() if v]


def _table() -> IdempotencyTable:
    return IdempotencyTable(client("dynamodb"), require_env("IDEMPOTENCY_TABLE_NAME"))


@logger.inject_lambda_context(clear_state=True)
def reference_validation(event, context):
    """``POST …/validate`` of the reference validation service."""
    return handle("validation", event, _secrets)


@logger.inject_lambda_context(clear_state=True)
def reference_deployment(event, context):
    """``POST …/deploy`` of the reference deployment service."""
    return handle("deployment", event, _secrets, _table)


@logger.inject_lambda_context(clear_state=True)
def reference_notification(event, context):
    """``POST …/notify`` of the reference notification service."""
    return handle("notification", event, _secrets, _table)
