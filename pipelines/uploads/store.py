"""The DynamoDB write plan of one processed upload version (items of ``layout``, model of ``contributions``).

``store_contribution(new, table, archive)``:

1. Read the upload's pointer item (``source#<hash>`` / ``contribution``, consistent read): the
   version the totals include now and where its contribution is spilled in S3. Same version →
   ``unchanged``; an older S3 sequencer → ``stale``: nothing is written at all.
2. Spill the new contribution to S3 (``contributions/<hash>/<version>.json``) *before* any total
   names it, so a later correction can always take it back out.
3. Per (store, date) change of ``contributions.plan``: read the summary item and the product parts
   the change touches (consistent reads), apply the change with ``contributions.apply``, and write
   the summary plus every part whose products changed in **one TransactWriteItems** (at most
   1 + ``PRODUCT_PARTS`` = 9 items, far under 100), each conditioned on the ``revision`` it was read
   at (or on not existing). The summary and its parts therefore change together or not at all,
   and a store-day written by anyone in between cancels the transaction; it is then re-read and
   re-applied, up to ``MAX_ATTEMPTS`` times, with a short jittered pause.
   A replay (the summary already names this version, after a crash or a racing duplicate) writes
   nothing.
4. Move the pointer to the new version, conditioned on it still naming the previous one.

If ``apply`` finds the store-day holding a third version of this upload (another execution of the
same key got there first), or the pointer moved, the whole plan is re-read from the pointer (up to
``MAX_REPLANS`` times). Running out raises ``ContributionConflictError`` (retryable: Step Functions
tries again later). Writes per file: per store-day changed, 1 summary + the changed parts, plus 1
pointer item; never per record.

Throttling, 5xx and network failures raise ``UpstreamUnavailableError`` (retryable). What a second
try cannot fix is not retried: a request DynamoDB rejects as invalid (``SummaryRequestRejectedError``)
or a store-day whose summary would pass 400 KB (``TooManyContributorsError``, checked before the
transaction is sent). Either stops the plan at that store-day: the ones before it hold the new
version already (as after a crash), the pointer still names the previous one, and a rerun once the
cause is dealt with finishes the rest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.common.aws import client
from pipelines.common.errors import ConfigurationError, UpstreamUnavailableError
from pipelines.uploads.contributions import Change, Contribution, apply, plan
from pipelines.uploads.errors import ContributionConflictError, SummaryRequestRejectedError
from pipelines.uploads.items import (
    SUMMARY_SK,
    StoreDaySnapshot,
    Write,
    part_sk,
    pointer_key,
    source_hash,
    store_day_pk,
    store_day_writes,
    touched_parts,
)
from pipelines.uploads.layout import DATE_INDEX, DATE_INDEX_PARTITION
from pipelines.uploads.objects import ContributionArchive
from pipelines.uploads.summary import StoreDay

MAX_ATTEMPTS = 5
MAX_REPLANS = 3
_PAUSE_SECONDS = 0.05
_CONFLICT_REASONS = {"ConditionalCheckFailed", "TransactionConflict", "None", ""}
# Cancellation reasons of a transaction that a later try can get past (capacity, throttling).
_TRANSIENT_REASONS = {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
# Error codes that mean "someone wrote first": of a conditional item write, of a transaction.
_ITEM_CONFLICTS = ("ConditionalCheckFailedException",)
_TRANSACTION_CONFLICTS = ("TransactionConflictException", "ConditionalCheckFailedException")
_REFUSED = ("ResourceNotFoundException", "AccessDeniedException")
# 4xx codes a later try can succeed on: throttling and capacity, a transaction still in progress,
# a request that timed out. Every other 4xx (ValidationException: an item over 400 KB, a bad
# expression; SerializationException …) is the request's own fault: retried, it fails the same way.
_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "TransactionInProgressException",
        "ReplicatedWriteConflictException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)
# Refused as invalid whatever the status says (a hand-made ClientError may have none).
_INVALID_CODES = frozenset(
    {"ValidationException", "SerializationException", "ItemCollectionSizeLimitExceededException"}
)
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


class Conflict(Exception):
    """A conditional write lost: an item changed since it was read."""


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _message(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Message", "")[:200]


def _cancelled(exc: ClientError, failed: str) -> Exception:
    """A cancelled transaction by its items' reasons: conflicts only → Conflict; conflicts and
    throttling → UpstreamUnavailableError; any other (ValidationError …) → SummaryRequestRejectedError."""
    reasons = [(r.get("Code") or "None", r.get("Message") or "") for r in exc.response.get("CancellationReasons", [])]
    codes = {code for code, _ in reasons}
    if codes <= _CONFLICT_REASONS:
        return Conflict(sorted(codes))
    if codes <= _CONFLICT_REASONS | _TRANSIENT_REASONS:
        return UpstreamUnavailableError(f"{failed} cancelled ({', '.join(sorted(codes))})")
    invalid = [(code, text) for code, text in reasons if code not in _CONFLICT_REASONS | _TRANSIENT_REASONS]
    named = ", ".join(sorted({code for code, _ in invalid}))
    return SummaryRequestRejectedError(f"{failed} cancelled ({named}): {invalid[0][1][:200]}")


def _dynamo(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serialize(v) for k, v in values.items()}


def _python(item: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: _deserialize(v) for k, v in item.items()} if item else None


class SummaryTable:
    """The summaries table over the low-level DynamoDB client (consistent reads, conditional writes)."""

    def __init__(self, name: str):
        self.name = name

    @contextlib.contextmanager
    def _errors(self, operation: str, conflicts: tuple[str, ...] = _ITEM_CONFLICTS) -> Iterator[None]:
        """DynamoDB's failures as the pipeline's: a lost condition (``conflicts``, or a transaction
        cancelled for conflicts only) → Conflict; a missing table or a refusal → ConfigurationError;
        throttling, capacity, 5xx, a transaction cancelled for throttling, a network failure →
        UpstreamUnavailableError (retryable); any other 4xx (ValidationException …) or a transaction
        cancelled for a validation error → SummaryRequestRejectedError (not retried)."""
        try:
            yield
        except ClientError as exc:
            code, status = _code(exc), exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            failed = f"DynamoDB {operation} on {self.name}"
            if code == "TransactionCanceledException":
                raise _cancelled(exc, failed) from None
            if code in conflicts:
                raise Conflict(code) from None
            if code in _REFUSED:
                raise ConfigurationError(f"{failed} refused ({code})") from None
            if code in _INVALID_CODES or (400 <= status < 500 and code not in _TRANSIENT_CODES):
                raise SummaryRequestRejectedError(f"{failed} rejected ({code}): {_message(exc)}") from None
            raise UpstreamUnavailableError(f"{failed} failed ({code})") from None
        except BotoCoreError as exc:
            raise UpstreamUnavailableError(f"DynamoDB {operation} failed: {type(exc).__name__}") from None

    def _call(self, operation: str, **kwargs) -> dict[str, Any]:
        with self._errors(operation):
            return getattr(client("dynamodb"), operation)(TableName=self.name, **kwargs)

    def store_days_on(self, date: str) -> dict[str, StoreDay]:
        """Every store's summary of ``date`` (store id → totals with all its products), by the ``byDate`` GSI.

        One paginated Query, no Scan: what daily-analysis reads. A GSI is eventually consistent:
        a write of the last second may not show yet.
        """
        summaries: dict[str, dict[str, Any]] = {}
        parts: dict[str, dict[int, dict[str, Any]]] = {}
        request = {
            "IndexName": DATE_INDEX,
            "KeyConditionExpression": "#date = :date",
            "ExpressionAttributeNames": {"#date": DATE_INDEX_PARTITION},
            "ExpressionAttributeValues": {":date": {"S": date}},
        }
        while True:
            page = self._call("query", **request)
            for raw in page.get("Items", []):
                item = _python(raw)
                store, sk = item["storeId"], item["sk"]
                if sk == SUMMARY_SK:
                    summaries[store] = item
                else:
                    part_items = parts.setdefault(store, {})
                    part_items[len(part_items)] = item
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        days = {}
        for store, summary in sorted(summaries.items()):
            total = StoreDaySnapshot((store, date), summary, parts.get(store, {})).total()
            days[store] = total.summary
        return days

    def get(self, key: dict[str, str]) -> dict[str, Any] | None:
        return _python(self._call("get_item", Key=_dynamo(key), ConsistentRead=True).get("Item"))

    def read_store_day(self, key: tuple[str, str], parts: set[int]) -> StoreDaySnapshot:
        """The store-day's summary and the ``parts`` asked for: one consistent Query of its partition.

        One round trip instead of a GetItem per item (1 + up to 8); a partition of large parts
        can pass Query's 1 MB page, so pages are followed.
        """
        pk = store_day_pk(key)
        found: dict[str, dict[str, Any]] = {}
        request = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        while True:
            page = self._call("query", **request)
            for raw in page.get("Items", []):
                item = _python(raw)
                found[item["sk"]] = item
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return StoreDaySnapshot(key, found.get(SUMMARY_SK), {n: found.get(part_sk(n)) for n in sorted(parts)})

    def transact(self, writes: list[Write]) -> None:
        """All of ``writes`` or none; Conflict if any item's revision moved since it was read."""
        with self._errors("TransactWriteItems", _TRANSACTION_CONFLICTS):
            client("dynamodb").transact_write_items(TransactItems=[self._transact_item(w) for w in writes])

    def _transact_item(self, write: Write) -> dict[str, Any]:
        condition = _condition(write.expect)
        if write.action == "put":
            return {"Put": {"TableName": self.name, "Item": _dynamo(write.item or {}), **condition}}
        return {"Delete": {"TableName": self.name, "Key": _dynamo(write.key), **condition}}

    def put_pointer(self, item: dict[str, Any], expected_version: str | None) -> None:
        """Write the pointer item if it still names ``expected_version`` (None: if there is none); else Conflict."""
        if expected_version is None:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":v": _serialize(expected_version)},
            }
        self._call("put_item", Item=_dynamo(item), **condition)


def _condition(expect: int | None) -> dict[str, Any]:
    if expect is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {
        "ConditionExpression": "#r = :r",
        "ExpressionAttributeNames": {"#r": "revision"},
        "ExpressionAttributeValues": {":r": _serialize(expect)},
    }


@dataclass
class StoreResult:
    """What ``store_contribution`` did: ``outcome`` of the plan, store-days and items written, conflicts lost."""

    outcome: str
    store_days: int = 0
    writes: int = 0
    transactions: int = 0
    conflicts: int = 0
    contribution_key: str | None = None


def _apply_change(table: SummaryTable, change: Change, result: StoreResult) -> None:
    parts = touched_parts(change.minus, change.plus)
    for attempt in range(MAX_ATTEMPTS):
        snapshot = table.read_store_day(change.key, parts)
        total = snapshot.total()
        after = apply(total, change)  # ContributionConflictError: another version of this upload is in
        if after is total:
            return  # replayed: the store-day already holds this version
        writes = store_day_writes(snapshot, after)
        try:
            table.transact(writes)
        except Conflict:
            result.conflicts += 1
            time.sleep(_PAUSE_SECONDS * (attempt + 1) * random.random())
            continue
        result.store_days += 1
        result.writes += len(writes)
        result.transactions += 1
        return
    raise ContributionConflictError(
        f"{change.key[0]} {change.key[1]}: lost {MAX_ATTEMPTS} conditional writes in a row to other executions"
    )


def _pointer_item(digest: str, new: Contribution, key: str) -> dict[str, Any]:
    item = {
        **pointer_key(digest),
        "bucket": new.source.bucket,
        "key": new.source.key,
        "version": new.version,
        "contributionKey": key,
    }
    return item | ({"sequencer": new.sequencer} if new.sequencer else {})


def store_contribution(new: Contribution, table: SummaryTable, archive: ContributionArchive) -> StoreResult:
    """Make every store-day total include ``new`` instead of the upload's previous version."""
    digest = source_hash(new.source)
    result = StoreResult("new")
    for _ in range(MAX_REPLANS):
        pointer = table.get(pointer_key(digest))
        previous = archive.read(pointer["contributionKey"]) if pointer else None
        if previous is not None and pointer is not None and pointer.get("sequencer") and previous.sequencer is None:
            previous = dataclasses.replace(previous, sequencer=pointer["sequencer"])
        outcome = plan(previous, new)
        result.outcome = outcome.outcome
        if outcome.outcome in ("unchanged", "stale"):
            return result
        result.contribution_key = archive.write(digest, new)
        try:
            for change in outcome.changes:
                _apply_change(table, dataclasses.replace(change, source_id=digest), result)
            table.put_pointer(_pointer_item(digest, new, result.contribution_key), previous and previous.version)
        except (ContributionConflictError, Conflict):
            result.conflicts += 1
            continue
        result.writes += 1
        return result
    raise ContributionConflictError(f"{new.source.id}: another execution kept changing this upload's totals")
