"""The task-token table: one item per Jira story waiting for (or given) a decision.

Keyed by ``storyId`` (string partition key only). An item::

    {storyId, taskToken, executionArn, status: PENDING | DONE | TIMED_OUT | CLOSED,
     registeredAt (ISO), expiresAt (epoch seconds: the table's TTL attribute, registration + wait
     timeout + 1 h), decision?, comment?, decidedBy?, decidedAt?, resumingUntil?, resumedAt?,
     outcome?, closedAt?}

Life of an item: ``register`` (the wait starts: PENDING) → ``decide`` (a callback flips it to DONE
exactly once, conditionally, keeping the first decision) → ``mark_resumed`` (Step Functions took
the decision) → ``close`` (the execution recorded its outcome: TIMED_OUT for no decision, else DONE
stays DONE and anything else becomes CLOSED; the task token is removed). ``resumingUntil`` is set
with the decision and cleared once the resume is settled: while it lies ahead, the callback that
won the flip is still resuming, and a duplicate must not resume in its place.

Every change is conditional on the ``executionArn`` it expects, so an execution that failed with
``StoryAlreadyWaitingError`` never touches the waiting execution's item. DynamoDB's throttling and
5xx become ``TokenStoreUnavailableError`` (retryable); its other refusals ``TokenStoreError``.

``TokenStore`` works over a boto3 DynamoDB client the caller passes in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipelines.approvals.errors import StoryAlreadyWaitingError, TokenStoreError, TokenStoreUnavailableError
from pipelines.common import clock

PENDING, DONE, TIMED_OUT, CLOSED = "PENDING", "DONE", "TIMED_OUT", "CLOSED"
NO_DECISION = "no-decision"
TTL_MARGIN_S = 3600
# Longer than the callback function may run: past it, a resume that never settled was abandoned.
RESUME_GRACE_S = 60
MAX_ATTEMPTS = 3

DECIDED, ALREADY_DECIDED, EXPIRED, UNKNOWN = "decided", "already decided", "expired", "unknown"

_UNAVAILABLE = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "TransactionConflictException",
}
# Attribute names, every one through a placeholder (status and comment are reserved words).
_NAMES = {
    f"#{name}": name
    for name in (
        "storyId", "taskToken", "executionArn", "status", "expiresAt", "decision", "comment", "decidedBy",
        "decidedAt", "resumingUntil", "resumedAt", "outcome", "closedAt",
    )
}  # fmt: skip

_REGISTER_CONDITION = (
    "attribute_not_exists(#storyId) OR #status <> :pending OR #executionArn = :me OR #expiresAt < :now"
)
_DECIDE_UPDATE = (
    "SET #status = :done, #decision = :decision, #decidedBy = :by, #decidedAt = :at, #resumingUntil = :until"
)


def iso_time(epoch: float) -> str:
    """``2026-12-08T01:00:00.123Z``: UTC, milliseconds."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _to_dynamo(value: Any) -> dict[str, Any]:
    if isinstance(value, bool) or value is None:
        raise TypeError(f"the token table stores strings and numbers only, not {value!r}")
    if isinstance(value, (int, float)):
        return {"N": str(value)}
    return {"S": str(value)}


def _from_dynamo(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if not item:
        return None
    result: dict[str, Any] = {}
    for name, typed in item.items():
        ((kind, raw),) = typed.items()
        if kind == "N":
            number = float(raw)
            result[name] = int(number) if number.is_integer() else number
        elif kind in ("S", "BOOL"):
            result[name] = raw
        elif kind == "NULL":
            result[name] = None
    return result


class _ConditionFailed(Exception):
    """A conditional write lost: the item is not as it was read."""


@dataclass(frozen=True)
class Decision:
    """What ``decide`` found: ``kind`` (decided, already decided, expired, unknown) and the item as it stands."""

    kind: str
    item: dict[str, Any] | None


def _names(expression: str) -> dict[str, str]:
    return {placeholder: name for placeholder, name in _NAMES.items() if placeholder in expression}


class TokenStore:
    """The task-token table ``table`` over the DynamoDB client ``dynamodb`` (low-level boto3 client)."""

    def __init__(self, dynamodb, table: str):
        self._dynamodb = dynamodb
        self.table = table

    @contextlib.contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code == "ConditionalCheckFailedException":
                raise _ConditionFailed(code) from None
            if code in _UNAVAILABLE or status >= 500:
                raise TokenStoreUnavailableError(f"DynamoDB {operation} on {self.table} failed ({code})") from None
            raise TokenStoreError(f"DynamoDB {operation} on {self.table} refused ({code})") from None
        except BotoCoreError as exc:
            raise TokenStoreUnavailableError(f"DynamoDB {operation} failed: {type(exc).__name__}") from None

    def _key(self, story: str) -> dict[str, Any]:
        return {"storyId": {"S": story}}

    def _update(self, story: str, update: str, condition: str, values: dict[str, Any]) -> dict[str, Any]:
        expression = f"{update} {condition}"
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Key": self._key(story),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": _names(expression),
            "ReturnValues": "ALL_NEW",
        }
        if values:
            kwargs["ExpressionAttributeValues"] = {name: _to_dynamo(value) for name, value in values.items()}
        with self._errors("UpdateItem"):
            return _from_dynamo(self._dynamodb.update_item(**kwargs).get("Attributes")) or {}

    def get(self, story: str) -> dict[str, Any] | None:
        """The story's item (a consistent read), or None."""
        with self._errors("GetItem"):
            answer = self._dynamodb.get_item(TableName=self.table, Key=self._key(story), ConsistentRead=True)
        return _from_dynamo(answer.get("Item"))

    def register(self, story: str, token: str, execution_arn: str, timeout_s: int) -> dict[str, Any]:
        """Store the wait's token: ``{"expiresAt", "reregistered"}``; StoryAlreadyWaitingError if another waits.

        Allowed over no item, an item not PENDING, this execution's own item (a retried task brings
        a new token) or an item past its expiry (its execution is long gone).
        """
        for _ in range(MAX_ATTEMPTS):
            now = clock.now()
            expires = int(now) + int(timeout_s) + TTL_MARGIN_S
            item = {
                "storyId": story,
                "taskToken": token,
                "executionArn": execution_arn,
                "status": PENDING,
                "registeredAt": iso_time(now),
                "expiresAt": expires,
            }
            condition = _REGISTER_CONDITION
            try:
                with self._errors("PutItem"):
                    answer = self._dynamodb.put_item(
                        TableName=self.table,
                        Item={name: _to_dynamo(value) for name, value in item.items()},
                        ConditionExpression=condition,
                        ExpressionAttributeNames=_names(condition),
                        ExpressionAttributeValues={
                            ":pending": {"S": PENDING},
                            ":me": {"S": execution_arn},
                            ":now": {"N": str(int(now))},
                        },
                        ReturnValues="ALL_OLD",
                    )
            except _ConditionFailed:
                other = self.get(story)
                if other is not None and other.get("status") == PENDING and other.get("executionArn") != execution_arn:
                    raise StoryAlreadyWaitingError(
                        f"{story} is already waiting for a decision in execution {other.get('executionArn')}; "
                        "decide or let that wait end before starting another release of this story"
                    ) from None
                continue  # it ended between the write and the read: try again
            previous = _from_dynamo(answer.get("Attributes")) or {}
            return {"expiresAt": expires, "reregistered": previous.get("executionArn") == execution_arn}
        raise TokenStoreUnavailableError(f"the item of {story} kept changing while the wait registered")

    def decide(self, story: str, decision: str, comment: str | None, decided_by: str) -> Decision:
        """Record the first decision on ``story``: decided (this call flipped it), already decided, expired, unknown."""
        for _ in range(MAX_ATTEMPTS):
            item = self.get(story)
            if item is None:
                return Decision(UNKNOWN, None)
            status = item.get("status")
            if status == DONE:
                return Decision(ALREADY_DECIDED, item)
            if status != PENDING or float(item.get("expiresAt", 0)) < clock.now():
                return Decision(EXPIRED, item)
            now = clock.now()
            values = {
                ":done": DONE,
                ":pending": PENDING,
                ":arn": item["executionArn"],
                ":token": item["taskToken"],
                ":decision": decision,
                ":by": decided_by,
                ":at": iso_time(now),
                ":until": int(now) + RESUME_GRACE_S,
            }
            update = _DECIDE_UPDATE
            if comment:
                update += ", #comment = :comment"
                values[":comment"] = comment
            try:
                updated = self._update(
                    story,
                    update,
                    "#status = :pending AND #executionArn = :arn AND #taskToken = :token",
                    values,
                )
            except _ConditionFailed:
                continue  # another callback decided first, or the wait re-registered: read again
            return Decision(DECIDED, updated)
        raise TokenStoreUnavailableError(f"the item of {story} kept changing while the decision was recorded")

    def mark_resumed(self, story: str, execution_arn: str) -> bool:
        """Note that Step Functions took the decision (the first time only); False if the item moved on."""
        try:
            self._update(
                story,
                "SET #resumedAt = if_not_exists(#resumedAt, :now) REMOVE #resumingUntil",
                "#executionArn = :arn AND #status = :done",
                {":now": iso_time(clock.now()), ":arn": execution_arn, ":done": DONE},
            )
        except _ConditionFailed:
            return False
        return True

    def release_resume(self, story: str, execution_arn: str) -> None:
        """A resume attempt failed without an answer: let the next delivery of the decision try again."""
        with contextlib.suppress(_ConditionFailed):
            self._update(
                story,
                "REMOVE #resumingUntil",
                "#executionArn = :arn AND #status = :done AND attribute_not_exists(#resumedAt)",
                {":arn": execution_arn, ":done": DONE},
            )

    def mark_timed_out(self, story: str, execution_arn: str) -> bool:
        """Step Functions says the wait has ended: TIMED_OUT, unless a resume already went through."""
        try:
            self._update(
                story,
                "SET #status = :timed_out REMOVE #resumingUntil, #taskToken",
                "#executionArn = :arn AND (#status = :pending OR #status = :done) AND attribute_not_exists(#resumedAt)",
                {":timed_out": TIMED_OUT, ":arn": execution_arn, ":pending": PENDING, ":done": DONE},
            )
        except _ConditionFailed:
            return False
        return True

    def close(self, story: str, execution_arn: str, outcome: str) -> str | None:
        """The execution ended with ``outcome``: the status it leaves (None if the item is not its own or gone).

        ``no-decision`` → TIMED_OUT; otherwise DONE stays DONE and any other status becomes CLOSED.
        The task token is removed. Repeating it is harmless.
        """
        for _ in range(MAX_ATTEMPTS):
            item = self.get(story)
            if item is None or item.get("executionArn") != execution_arn:
                return None
            current = item.get("status")
            status = TIMED_OUT if outcome == NO_DECISION else (DONE if current == DONE else CLOSED)
            try:
                self._update(
                    story,
                    "SET #status = :status, #outcome = :outcome, #closedAt = :now REMOVE #taskToken, #resumingUntil",
                    "#executionArn = :arn AND #status = :current",
                    {
                        ":status": status,
                        ":outcome": outcome,
                        ":now": iso_time(clock.now()),
                        ":arn": execution_arn,
                        ":current": current,
                    },
                )
            except _ConditionFailed:
                continue
            return status
        raise TokenStoreUnavailableError(f"the item of {story} kept changing while the execution closed it")
