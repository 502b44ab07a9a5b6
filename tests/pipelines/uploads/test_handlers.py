"""process_upload against moto: loads, replaces, sums, rejects, quarantines, and checks its event."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from decimal import Decimal

import pytest

from pipelines.common.errors import InvalidInputError
from pipelines.uploads import generate
from pipelines.uploads.errors import EmptyUploadError, MalformedUploadError, TooManyRejectsError, UploadTooLargeError
from pipelines.uploads.handlers import process_upload
from pipelines.uploads.layout import PRODUCT_PARTS
from pipelines.uploads.store import SummaryTable
from tests.pipelines.uploads.conftest import BUCKET, TABLE


def sample(seed: int = 1, bad_ratio: float = 0.0, lines: int = 600, ndjson: bool = False) -> tuple[bytes, dict]:
    out = io.BytesIO()
    info = generate.write(out, 3, 2, lines, seed=seed, bad_ratio=bad_ratio, ndjson=ndjson)
    return out.getvalue(), info.bad


def put(aws, key: str, body: bytes) -> dict:
    """Upload ``body`` and return the event the workflow would pass (the intake's answer)."""
    response = aws.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return {
        "bucket": BUCKET,
        "key": key,
        "versionId": response["VersionId"],
        "etag": response["ETag"].strip('"'),
        "size": len(body),
    }


def independent(*bodies: bytes) -> dict:
    """Per store-day totals computed straight from the JSON with Decimal: no pipeline code involved."""
    days: dict = defaultdict(lambda: {"revenue": 0, "units": 0, "transactions": 0, "products": defaultdict(int)})
    for body in bodies:
        for txn in json.loads(body, parse_float=Decimal)["transactions"]:
            day = days[(txn["storeId"], txn["timestamp"][:10])]
            day["transactions"] += 1
            for line in txn["lines"]:
                q, price = line["quantity"], Decimal(str(line["unitPrice"]))
                net = (abs(q) * price - Decimal(str(line.get("discount", 0)))) * (1 if q > 0 else -1)
                cents = int(net * 100)
                day["revenue"] += cents
                day["units"] += q
                day["products"][line["productId"]] += cents
    return {k: {**v, "products": {p: r for p, r in v["products"].items() if r}} for k, v in days.items()}


def stored(aws) -> dict:
    table = SummaryTable(TABLE)
    items = aws.dynamodb.scan(TableName=TABLE)["Items"]
    keys = {(i["storeId"]["S"], i["businessDate"]["S"]) for i in items if i["sk"]["S"] == "summary"}
    result = {}
    for key in keys:
        day = table.read_store_day(key, set(range(PRODUCT_PARTS))).total().summary
        products = {p: r for p, (_, r) in day.products.items() if r}
        result[key] = {"revenue": day.revenue, "units": day.units, "transactions": day.transactions}
        result[key]["products"] = products
    return result


def keys(aws, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def summary_rows(aws) -> list:
    return [i for i in aws.dynamodb.scan(TableName=TABLE)["Items"] if not i["pk"]["S"].startswith("source#")]


def test_a_good_file_is_loaded_exactly(aws, lambda_context):
    body, _ = sample()
    result = process_upload(put(aws, "uploads/sales.json", body), lambda_context)
    assert stored(aws) == independent(body)
    assert result["outcome"] == "new" and result["rejected"] == 0 and "rejectsKey" not in result
    assert result["storeDays"] == len(independent(body))
    assert result["storeDays"] < result["writes"] <= result["storeDays"] * (1 + PRODUCT_PARTS) + 1
    assert result["writes"] < result["records"]


def test_the_same_version_twice_changes_nothing(aws, lambda_context):
    event = put(aws, "uploads/sales.json", sample()[0])
    process_upload(event, lambda_context)
    before = aws.dynamodb.scan(TableName=TABLE)["Items"]
    again = process_upload(event, lambda_context)
    assert (again["outcome"], again["writes"], again["storeDays"]) == ("unchanged", 0, 0)
    assert aws.dynamodb.scan(TableName=TABLE)["Items"] == before


def test_a_corrected_reupload_replaces_the_first(aws, lambda_context):
    process_upload(put(aws, "uploads/sales.json", sample(1)[0]), lambda_context)
    corrected, _ = sample(2)
    result = process_upload(put(aws, "uploads/sales.json", corrected), lambda_context)
    assert result["outcome"] == "replaced"
    assert stored(aws) == independent(corrected)


def test_two_files_for_one_store_day_add_up(aws, lambda_context):
    first, second = sample(1)[0], sample(2)[0]
    process_upload(put(aws, "uploads/a.json", first), lambda_context)
    process_upload(put(aws, "uploads/b.json", second), lambda_context)
    assert stored(aws) == independent(first, second)


def test_a_few_bad_records_are_rejected_and_the_rest_loaded(aws, lambda_context, monkeypatch):
    body, bad = sample(3, bad_ratio=0.005, lines=8000)
    records = len(json.loads(body)["transactions"])
    assert bad and len(bad) / records <= 0.01
    result = process_upload(put(aws, "uploads/some bad.json", body), lambda_context)
    assert result["rejected"] == len(bad) and result["rejectsKey"] == "rejects/uploads/some bad.json.ndjson"
    lines = aws.s3.get_object(Bucket=BUCKET, Key=result["rejectsKey"])["Body"].read().decode().splitlines()
    rejects = [json.loads(line) for line in lines]
    assert sorted(r["position"] for r in rejects) == sorted(bad) and all(r["reason"] for r in rejects)
    good = [t for i, t in enumerate(json.loads(body)["transactions"]) if i not in bad]
    assert stored(aws) == independent(json.dumps({"transactions": good}).encode())
    assert keys(aws, "quarantine/") == []


def test_too_many_rejects_quarantine_the_file(aws, lambda_context):
    body, bad = sample(4, bad_ratio=0.2)
    with pytest.raises(TooManyRejectsError, match=r"more than the 1\.00% allowed"):
        process_upload(put(aws, "uploads/bad.json", body), lambda_context)
    assert summary_rows(aws) == []
    error = json.loads(aws.s3.get_object(Bucket=BUCKET, Key="quarantine/uploads/bad.json.error.json")["Body"].read())
    assert error["reason"] == "TooManyRejectsError" and error["positionKind"] == "index"
    assert error["positions"] == sorted(bad)[:100] and error["rejected"] == len(bad)
    assert aws.s3.get_object(Bucket=BUCKET, Key="quarantine/uploads/bad.json")["Body"].read() == body


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"transactions": [{"storeId": "S1",', MalformedUploadError),
        (b"not json at all", MalformedUploadError),
        (b'{"transactions": []}', EmptyUploadError),
        (b"", EmptyUploadError),
    ],
    ids=["truncated", "not-json", "empty-object", "zero-bytes"],
)
def test_an_unreadable_file_is_quarantined_and_fails(aws, lambda_context, body, error):
    with pytest.raises(error):
        process_upload(put(aws, "uploads/broken+file.json", body), lambda_context)
    assert summary_rows(aws) == [] and keys(aws, "contributions/") == []
    assert keys(aws, "quarantine/") == [
        "quarantine/uploads/broken+file.json",
        "quarantine/uploads/broken+file.json.error.json",
    ]
    document = json.loads(
        aws.s3.get_object(Bucket=BUCKET, Key="quarantine/uploads/broken+file.json.error.json")["Body"].read()
    )
    assert document["reason"] == error.__name__ and document["message"]


def test_a_file_over_the_size_limit_is_quarantined_unread(aws, lambda_context, monkeypatch):
    monkeypatch.setenv("MAX_FILE_MB", "1")
    body, _ = sample(lines=14_000)
    assert len(body) > 1024 * 1024
    with pytest.raises(UploadTooLargeError):
        process_upload(put(aws, "uploads/big.json", body), lambda_context)
    assert summary_rows(aws) == []
    assert "quarantine/uploads/big.json" in keys(aws, "quarantine/")


@pytest.mark.parametrize(
    ("announced", "loaded"),
    [(200 * 10**6, True), (256 * 1024 * 1024, True), (256 * 1024 * 1024 + 1, False)],
)
def test_the_default_size_limit_admits_a_200_mb_upload_and_stops_past_256_mb(aws, lambda_context, announced, loaded):
    # The size S3 announced is checked before a byte is read (the object itself is small here).
    body, _ = sample()
    event = put(aws, "uploads/announced.json", body) | {"size": announced}
    if loaded:
        assert process_upload(event, lambda_context)["outcome"] == "new"
    else:
        with pytest.raises(UploadTooLargeError, match="over the 256 MB limit"):
            process_upload(event, lambda_context)
        assert summary_rows(aws) == []


def test_a_size_the_event_understated_is_still_caught(aws, lambda_context, monkeypatch):
    monkeypatch.setenv("MAX_FILE_MB", "1")
    body, _ = sample(lines=14_000)
    event = put(aws, "uploads/big.json", body) | {"size": 10}
    with pytest.raises(UploadTooLargeError):
        process_upload(event, lambda_context)
    assert summary_rows(aws) == []


def test_a_key_with_spaces_plus_and_percent_is_used_as_given_never_decoded_twice(aws, lambda_context):
    body, _ = sample()
    result = process_upload(put(aws, "uploads/store 1+2 100%25 sales.json", body), lambda_context)
    assert result["key"] == "uploads/store 1+2 100%25 sales.json" and stored(aws) == independent(body)


def test_an_ndjson_upload_is_loaded(aws, lambda_context):
    body, _ = sample(ndjson=True)
    process_upload(put(aws, "uploads/sales.ndjson", body), lambda_context)
    as_json = json.dumps({"transactions": [json.loads(line) for line in body.splitlines()]}).encode()
    assert stored(aws) == independent(as_json)


def test_an_overwritten_object_in_an_unversioned_read_is_superseded(aws, lambda_context):
    event = put(aws, "uploads/sales.json", sample(1)[0])
    put(aws, "uploads/sales.json", sample(2)[0])
    result = process_upload({k: v for k, v in event.items() if k != "versionId"}, lambda_context)
    assert result["outcome"] == "superseded" and summary_rows(aws) == []


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (None, "input"),
        ([], "input"),
        ({"bucket": BUCKET, "key": "k", "etag": "e", "size": 1, "colour": "red"}, "colour"),
        ({"bucket": BUCKET, "key": "k", "etag": "e"}, "size"),
        ({"bucket": BUCKET, "key": "k", "etag": "e", "size": -1}, "size"),
        ({"bucket": BUCKET, "key": "k", "etag": "e", "size": True}, "size"),
        ({"bucket": BUCKET, "key": "", "etag": "e", "size": 1}, "key"),
        ({"bucket": 3, "key": "k", "etag": "e", "size": 1}, "bucket"),
        ({"bucket": BUCKET, "key": "k", "etag": "e", "size": 1, "versionId": 7}, "versionId"),
    ],
)
def test_a_malformed_event_names_the_field(aws, lambda_context, event, field):
    with pytest.raises(InvalidInputError) as caught:
        process_upload(event, lambda_context)
    assert caught.value.field == field


def test_a_corrected_upload_without_rejects_removes_the_stale_rejects(aws, lambda_context):
    bad_body, _ = sample(3, bad_ratio=0.005, lines=8000)
    first = process_upload(put(aws, "uploads/sales.json", bad_body), lambda_context)
    assert first["rejected"] and keys(aws, "rejects/") == [first["rejectsKey"]]
    process_upload(put(aws, "uploads/sales.json", sample(5)[0]), lambda_context)
    assert keys(aws, "rejects/") == []


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("AccessDenied", "ConfigurationError"),
        ("NoSuchVersion", "UploadMissingError"),
        ("SlowDown", "UpstreamUnavailableError"),
    ],
)
def test_a_failed_quarantine_copy_is_named_like_every_other_s3_failure(monkeypatch, code, error):
    from types import SimpleNamespace

    from botocore.exceptions import ClientError

    from pipelines.uploads import objects

    def refuse(*args, **kwargs):
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "CopyObject")

    monkeypatch.setattr(objects, "client", lambda service: SimpleNamespace(copy=refuse))
    with pytest.raises(Exception) as caught:
        objects.UploadBucket(BUCKET).copy_from("uploads/a.json", "v1", "quarantine/uploads/a.json")
    assert type(caught.value).__name__ == error
    assert f"S3 copy s3://{BUCKET}/uploads/a.json" in str(caught.value)
