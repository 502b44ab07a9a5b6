"""The DynamoDB write plan against moto: idempotent, replacing, summing, and safe under concurrency."""

from __future__ import annotations

import io

import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from infra.workflows.uploads import RETRYABLE_ERRORS
from pipelines.common.errors import ConfigurationError, NonRetryableError, UpstreamUnavailableError
from pipelines.uploads import aggregate, generate, parse
from pipelines.uploads.contributions import Contribution, Source, StoreDayTotal
from pipelines.uploads.errors import ContributionConflictError, SummaryRequestRejectedError
from pipelines.uploads.items import StoreDaySnapshot, Write, summary_item
from pipelines.uploads.layout import ITEM_LIMIT_BYTES, PRODUCT_PARTS, TooManyContributorsError, item_size
from pipelines.uploads.objects import ContributionArchive, UploadBucket
from pipelines.uploads.store import Conflict, SummaryTable, store_contribution
from pipelines.uploads.summary import StoreDay
from tests.pipelines.uploads.conftest import BUCKET, TABLE


def summaries(seed: int, stores: int = 3, days: int = 2, lines: int = 400) -> dict:
    out = io.BytesIO()
    generate.write(out, stores, days, lines, seed=seed)
    out.seek(0)
    return aggregate.run(parse.parse(out, "x.json")).summaries


def contribution(key: str, version: str, data: dict, sequencer: str | None = None) -> Contribution:
    return Contribution(Source(BUCKET, key), version, data, sequencer)


def stored(aws) -> dict[tuple[str, str], StoreDay]:
    """Every store-day in the table, summary and all parts, read back through the item model."""
    table = SummaryTable(TABLE)
    keys = {
        (i["storeId"]["S"], i["businessDate"]["S"])
        for i in aws.dynamodb.scan(TableName=TABLE)["Items"]
        if i["sk"]["S"] == "summary"
    }
    return {k: table.read_store_day(k, set(range(PRODUCT_PARTS))).total().summary for k in keys}


def added(*parts: dict) -> dict:
    total: dict = {}
    for part in parts:
        for key, day in part.items():
            total.setdefault(key, StoreDay(day.currency)).add(day)
    return total


@pytest.fixture
def store(aws):
    table, archive = SummaryTable(TABLE), ContributionArchive(UploadBucket(BUCKET))
    return lambda c: store_contribution(c, table, archive)


def test_a_new_upload_is_stored_exactly_with_writes_per_store_day(aws, store):
    data = summaries(1)
    result = store(contribution("uploads/a.json", "v1", data))
    assert result.outcome == "new"
    assert stored(aws) == data
    assert result.store_days == len(data) == result.transactions
    assert len(data) + 1 < result.writes <= len(data) * (1 + PRODUCT_PARTS) + 1
    item = aws.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "S001#2026-11-20"}, "sk": {"S": "summary"}})
    assert "N" in item["Item"]["revenue"] and "." not in item["Item"]["revenue"]["N"]


def test_the_same_version_twice_writes_nothing(aws, store):
    data = summaries(1)
    store(contribution("uploads/a.json", "v1", data))
    before = aws.dynamodb.scan(TableName=TABLE)["Items"]
    result = store(contribution("uploads/a.json", "v1", summaries(1)))
    assert (result.outcome, result.writes, result.store_days) == ("unchanged", 0, 0)
    assert aws.dynamodb.scan(TableName=TABLE)["Items"] == before


def test_a_corrected_upload_replaces_its_previous_contribution(aws, store):
    store(contribution("uploads/a.json", "v1", summaries(1, days=3)))
    corrected = summaries(2, days=1)
    result = store(contribution("uploads/a.json", "v2", corrected))
    assert result.outcome == "replaced"
    assert stored(aws) == corrected  # store-days only v1 had are gone


def test_an_older_version_delivered_late_changes_nothing(aws, store):
    store(contribution("uploads/a.json", "v2", summaries(2), sequencer="00B2"))
    result = store(contribution("uploads/a.json", "v1", summaries(1), sequencer="00A1"))
    assert (result.outcome, result.writes) == ("stale", 0)
    assert stored(aws) == summaries(2)


def test_two_uploads_for_the_same_store_days_add_up(aws, store):
    first, second = summaries(1), summaries(2)
    store(contribution("uploads/a.json", "v1", first))
    store(contribution("uploads/b.json", "v1", second))
    assert stored(aws) == added(first, second)
    store(contribution("uploads/b.json", "v2", summaries(3)))
    assert stored(aws) == added(first, summaries(3))


def test_a_writer_that_loses_the_race_rereads_and_both_count(aws, store, monkeypatch):
    first, second = summaries(1), summaries(2)
    original = SummaryTable.transact
    interleaved = []

    def transact(self, writes):
        if not interleaved:  # writer A has read a store-day; B now writes every one of them first
            interleaved.append(None)
            interleaved[0] = store(contribution("uploads/b.json", "v1", second))
        return original(self, writes)

    monkeypatch.setattr(SummaryTable, "transact", transact)
    result = store(contribution("uploads/a.json", "v1", first))
    assert result.conflicts >= 1 and result.outcome == "new"
    assert interleaved[0].conflicts == 0
    assert stored(aws) == added(first, second)


def test_a_writer_that_keeps_losing_raises_the_retryable_conflict(aws, store, monkeypatch):
    def transact(self, writes):
        raise Conflict("always")

    monkeypatch.setattr(SummaryTable, "transact", transact)
    monkeypatch.setattr("pipelines.uploads.store._PAUSE_SECONDS", 0)
    with pytest.raises(ContributionConflictError):
        store(contribution("uploads/a.json", "v1", summaries(1)))
    assert aws.dynamodb.scan(TableName=TABLE)["Items"] == []


def test_a_replayed_half_done_upload_finishes_without_double_counting(aws, store, monkeypatch):
    data = summaries(1)
    calls = []
    original = SummaryTable.put_pointer

    def crash(self, item, expected):
        calls.append(item)
        raise RuntimeError("the function died before the pointer moved")

    monkeypatch.setattr(SummaryTable, "put_pointer", crash)
    with pytest.raises(RuntimeError):
        store(contribution("uploads/a.json", "v1", data))
    monkeypatch.setattr(SummaryTable, "put_pointer", original)
    result = store(contribution("uploads/a.json", "v1", data))
    assert result.store_days == 0 and result.writes == 1  # only the pointer
    assert stored(aws) == data


def test_snapshot_refuses_fractional_numbers():
    from decimal import Decimal

    snapshot = StoreDaySnapshot(("S", "D"), {"revision": Decimal("1.5")})
    with pytest.raises(ValueError):
        _ = snapshot.revision


def test_two_versions_of_one_upload_racing_end_with_the_later_one(aws, store, monkeypatch):
    store(contribution("uploads/a.json", "v1", summaries(1), sequencer="0001"))
    original = SummaryTable.transact
    raced = []

    def transact(self, writes):
        if not raced:  # v2 is half-way when v3 (a later S3 write) is processed from start to end
            raced.append(None)
            raced[0] = store(contribution("uploads/a.json", "v3", summaries(3), sequencer="0003"))
        return original(self, writes)

    monkeypatch.setattr(SummaryTable, "transact", transact)
    late = store(contribution("uploads/a.json", "v2", summaries(2), sequencer="0002"))
    assert raced[0].outcome == "replaced" and late.outcome == "stale" and late.conflicts >= 1
    assert stored(aws) == summaries(3)


def dynamodb_size(value: dict) -> int:
    """The size DynamoDB counts for one attribute value as it travels (its published rules).

    A string: its UTF-8 bytes; a number: 1 byte per 2 significant digits, + 1 (+ 1 if negative); a
    map or list: 3 bytes, + 1 per element, + its names and values; a boolean or null: 1 byte.
    """
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        digits = data.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1 + data.startswith("-")
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + dynamodb_size(v) for name, v in data.items())
    if kind == "L":
        return 3 + sum(1 + dynamodb_size(v) for v in data)
    if kind in ("BOOL", "NULL"):
        return 1
    raise AssertionError(f"no size rule for {kind} here")


def item_bytes(item: dict) -> int:
    return sum(len(name.encode("utf-8")) + dynamodb_size(value) for name, value in item.items())


def test_a_store_day_of_over_10000_products_is_split_into_parts_under_400_kb_and_read_back_whole(aws, store):
    out = io.BytesIO()
    generate.write(out, 1, 1, 120_000, products=12_000)
    # Product ids of the longest length the format allows (64): all of them in one item would be ~800 KB.
    long_id = b"catalogue/grocery-ambient/" * 2 + b"sku-00P"
    body = out.getvalue().replace(b'"productId": "P', b'"productId": "' + long_id)
    data = aggregate.run(parse.parse(io.BytesIO(body), "x.json")).summaries
    ((key, day),) = data.items()
    assert len(day.products) > 10_000 and {len(p) for p in day.products} == {64}

    result = store(contribution("uploads/big-day.json", "v1", data))
    pages = aws.dynamodb.get_paginator("query").paginate(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"{key[0]}#{key[1]}"}},
    )
    items = [item for page in pages for item in page["Items"]]
    parts = [item for item in items if item["sk"]["S"].startswith("products#")]
    assert len(items) == 1 + PRODUCT_PARTS == len(parts) + 1 and result.writes == len(items) + 1  # + the pointer
    assert sum(len(part["products"]["M"]) for part in parts) == len(day.products)  # each product in one part
    sizes = [item_bytes(item) for item in items]
    assert max(sizes) < 400 * 1024 < sum(sizes)  # every item fits; one item could not hold them all
    assert SummaryTable(TABLE).store_days_on(key[1]) == {key[0]: day}


# --- errors: retried only when a second try can succeed ---------------------------------------------------


def client_error(code: str, status: int, message: str = "", reasons: list[tuple[str, str]] | None = None):
    response: dict = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": c, "Message": m} if m else {"Code": c} for c, m in reasons]
    return ClientError(response, "TransactWriteItems")


TOO_LARGE = "Item size has exceeded the maximum allowed size"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (client_error("ValidationException", 400, TOO_LARGE), SummaryRequestRejectedError),
        (client_error("ValidationException", 0, TOO_LARGE), SummaryRequestRejectedError),  # no status given
        (client_error("SerializationException", 400), SummaryRequestRejectedError),
        (client_error("ItemCollectionSizeLimitExceededException", 400), SummaryRequestRejectedError),
        (client_error("SomeFutureClientException", 400), SummaryRequestRejectedError),
        (client_error("ProvisionedThroughputExceededException", 400), UpstreamUnavailableError),
        (client_error("ThrottlingException", 400), UpstreamUnavailableError),
        (client_error("RequestLimitExceeded", 400), UpstreamUnavailableError),
        (client_error("TransactionInProgressException", 400), UpstreamUnavailableError),
        (client_error("InternalServerError", 500), UpstreamUnavailableError),
        (client_error("ServiceUnavailable", 503), UpstreamUnavailableError),
        (client_error("ResourceNotFoundException", 400), ConfigurationError),
        (client_error("AccessDeniedException", 400), ConfigurationError),
        (
            client_error("TransactionCanceledException", 400, "", [("None", ""), ("ConditionalCheckFailed", "")]),
            Conflict,
        ),
        (client_error("TransactionCanceledException", 400, "", [("TransactionConflict", "")]), Conflict),
        (
            client_error("TransactionCanceledException", 400, "", [("None", ""), ("ThrottlingError", "")]),
            UpstreamUnavailableError,
        ),
        (
            client_error("TransactionCanceledException", 400, "", [("None", ""), ("ValidationError", TOO_LARGE)]),
            SummaryRequestRejectedError,
        ),
        (
            client_error("TransactionCanceledException", 400, "", [("ThrottlingError", ""), ("ValidationError", "")]),
            SummaryRequestRejectedError,
        ),
    ],
)
def test_a_dynamodb_error_is_retried_only_if_a_second_try_can_succeed(monkeypatch, error, expected):
    class Failing:
        def transact_write_items(self, **_):
            raise error

    monkeypatch.setattr("pipelines.uploads.store.client", lambda service: Failing())
    with pytest.raises(expected) as raised:
        SummaryTable(TABLE).transact([Write("put", {"pk": "S#D", "sk": "summary"}, {"pk": "S#D"}, None)])
    if expected is SummaryRequestRejectedError:
        assert issubclass(expected, NonRetryableError) and expected.__name__ not in RETRYABLE_ERRORS
        cancelled = "CancellationReasons" in error.response
        assert f"({'ValidationError' if cancelled else error.response['Error']['Code']})" in str(raised.value)
        assert (TOO_LARGE in str(raised.value)) == (TOO_LARGE in str(error.response))  # DynamoDB's reason kept


def test_an_item_over_400_kb_is_rejected_at_once_not_retried_and_nothing_is_written(aws):
    table = SummaryTable(TABLE)
    key = {"pk": "S001#2026-11-20", "sk": "summary"}
    item = {**key, "notes": "x" * 420_000}
    with pytest.raises(SummaryRequestRejectedError, match=r"ValidationException.*size"):
        table.transact([Write("put", key, item, None)])
    with pytest.raises(SummaryRequestRejectedError, match=r"ValidationException.*size"):
        table.put_pointer(item, None)
    assert aws.dynamodb.scan(TableName=TABLE)["Items"] == []


def test_a_store_day_whose_summary_would_pass_400_kb_fails_naming_it_and_writes_nothing(aws, store):
    data = summaries(1, stores=1, days=1)
    ((key, day),) = data.items()
    # As many 32-character contributors (65 bytes each in the map) as the summary item can hold.
    base = item_size(summary_item(key, StoreDayTotal(day, {}), 1))
    held = {f"{n:032x}": f"{n:032x}" for n in range((ITEM_LIMIT_BYTES - base) // 65)}
    full = summary_item(key, StoreDayTotal(day, held), 1)
    assert ITEM_LIMIT_BYTES - 65 < item_size(full) <= ITEM_LIMIT_BYTES and len(held) > 5_000
    aws.dynamodb.put_item(TableName=TABLE, Item={k: TypeSerializer().serialize(v) for k, v in full.items()})
    before = aws.dynamodb.scan(TableName=TABLE)["Items"]

    with pytest.raises(TooManyContributorsError, match=f"{key[0]} {key[1]}: {len(held) + 1:,} uploads contribute"):
        store(contribution("uploads/one-too-many.json", "v" * 64, data))
    assert issubclass(TooManyContributorsError, NonRetryableError)
    assert aws.dynamodb.scan(TableName=TABLE)["Items"] == before  # no summary, part or pointer written
