"""uploads, end to end through its real trigger: S3 put → EventBridge rule → router → the run → what landed.

Every file is put under ``uploads/`` of the pipeline's bucket; the bucket's EventBridge event starts
the EXPRESS router ``sw-dev-uploads-start``, which starts ``sw-dev-uploads`` (ValidateInput →
LogInput → ProcessUpload) once per object write. The tests read back what landed: the store-day
summaries through the ``byDate`` GSI (daily-analysis's access path), ``rejects/`` and
``quarantine/`` objects, and compare the totals with an independent computation (pandas over
exact ``Decimal`` money) of the same file.

The module deploys its own sandbox: the uploads pipeline of the dev stack with ``maxFileMb`` 1, so
the size limit is reachable with a file of 1 MiB and a byte (moto's state is process-wide: one
sandbox at a time, so the limit cannot get a second deployment beside the first). The tests share
it; each test gives its files their own keys, and its stores their own ids and business dates
(``shop``), so a test's GSI query by date finds its own store-days only.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import itertools
import json
import logging
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
import pytest
from boto3.dynamodb.types import TypeDeserializer

from infra.sandbox.environment import sandbox_environment
from infra.sandbox.eventbridge import s3_event_key
from infra.sandbox.uploads import upload_and_find_run
from pipelines.uploads import generate

MIB = 1024 * 1024
MAX_FILE_MB = 1
MAX_REJECT_RATIO = 0.01  # Pulumi.dev.yaml, stepworks:uploads.maxRejectRatio
PIPELINE_STATES = ["ValidateInput", "LogInput", "ProcessUpload"]
_deserialize = TypeDeserializer().deserialize


@pytest.fixture(scope="module")
def sandbox():
    """The dev stack's uploads pipeline deployed into the sandbox, with a 1 MB file limit."""
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    overrides = {"stepworks:uploads": {"maxFileMb": MAX_FILE_MB}}
    with sandbox_environment("dev", config_overrides=overrides, pipelines=["uploads"]) as deployed:
        yield deployed


FIRST_DAY = datetime.date(2030, 1, 7)  # far from generate.START_DATE: no test sells on another's dates
_weeks = itertools.count()


@dataclass(frozen=True)
class Shop:
    """One test's stores (``T1a2b3c4d-S001`` …) and business dates (a week no other test sells in)."""

    prefix: str
    first_day: datetime.date

    def dates(self, days: int = 2) -> list[str]:
        return [(self.first_day + datetime.timedelta(days=n)).isoformat() for n in range(days)]

    def sales(self, seed: int, *, stores: int = 3, days: int = 2, lines: int = 300, bad_ratio: float = 0.0):
        """A generated upload (JSON) moved to this shop's stores and dates; its bytes and what is in it."""
        out = io.BytesIO()
        info = generate.write(out, stores, days, lines, seed=seed, bad_ratio=bad_ratio)
        body = out.getvalue().replace(b'"storeId": "', f'"storeId": "{self.prefix}'.encode())
        for n, date in enumerate(self.dates(days)):
            generated = (generate.START_DATE + datetime.timedelta(days=n)).isoformat()
            body = body.replace(f'"timestamp": "{generated}T'.encode(), f'"timestamp": "{date}T'.encode())
        return body, info


@pytest.fixture
def shop():
    return Shop(f"T{uuid.uuid4().hex[:8]}-", FIRST_DAY + datetime.timedelta(weeks=next(_weeks)))


# --- files -------------------------------------------------------------------------------------------------


def transactions(body: bytes, bad: dict | set = frozenset()) -> list[dict]:
    """The file's transactions but those at the ``bad`` positions, money as exact Decimals."""
    records = json.loads(body, parse_float=Decimal)["transactions"]
    return [txn for index, txn in enumerate(records) if index not in bad]


def independent(txns: list[dict]) -> dict:
    """Store-day totals of ``txns`` computed from the raw records with Decimal and pandas, not pipeline code.

    A line's net amount is sign(quantity) × (|quantity| × unitPrice − discount), in cents; the
    business date and hour are the timestamp's own (local) ones; a product whose net units and
    revenue are both 0 is left out.
    """
    rows = []
    for number, txn in enumerate(txns):
        when = datetime.datetime.fromisoformat(txn["timestamp"])
        for line in txn["lines"]:
            quantity = line["quantity"]
            gross = abs(quantity) * Decimal(str(line["unitPrice"]))
            net = (gross - Decimal(str(line.get("discount", 0)))) * (1 if quantity > 0 else -1) * 100
            assert net == net.to_integral_value()
            rows.append(
                {
                    "txn": number,
                    "store": txn["storeId"],
                    "date": when.date().isoformat(),
                    "hour": when.hour,
                    "currency": txn.get("currency", "USD"),
                    "product": line["productId"],
                    "units": quantity,
                    "net": int(net),
                }
            )
    lines = pd.DataFrame(rows)
    day_keys = ["store", "date"]
    refunds = lines[lines["units"] < 0].groupby(day_keys)
    refund_lines, refund_units, refund_amount = refunds.size(), -refunds["units"].sum(), -refunds["net"].sum()
    hourly = lines.pivot_table(index=day_keys, columns="hour", values="net", aggfunc="sum", fill_value=0)
    hourly = hourly.reindex(columns=range(24), fill_value=0)
    products = lines.groupby([*day_keys, "product"])[["units", "net"]].sum()
    expected = {}
    for key, group in lines.groupby(day_keys):
        (currency,) = group["currency"].unique()
        expected[key] = {
            "currency": currency,
            "revenue": int(group["net"].sum()),
            "units": int(group["units"].sum()),
            "transactions": int(group["txn"].nunique()),
            "refundLines": int(refund_lines.get(key, 0)),
            "refundUnits": int(refund_units.get(key, 0)),
            "refundAmount": int(refund_amount.get(key, 0)),
            "hourlyRevenue": [int(v) for v in hourly.loc[key]],
            "products": {
                product: [int(row["units"]), int(row["net"])]
                for product, row in products.loc[key].iterrows()
                if (row["units"], row["net"]) != (0, 0)
            },
        }
    return expected


# --- what landed -------------------------------------------------------------------------------------------


def outputs(sandbox) -> dict:
    return sandbox.outputs("uploads")


def _item(raw: dict) -> dict:
    return {name: _deserialize(value) for name, value in raw.items()}


def by_date(sandbox, dates: list[str]) -> list[dict]:
    """Every item of the ``byDate`` GSI on ``dates``, read as daily-analysis reads: one Query a date, paginated."""
    pages = sandbox.client("dynamodb").get_paginator("query")
    return [
        _item(raw)
        for date in dates
        for page in pages.paginate(
            TableName=outputs(sandbox)["summaryTableName"],
            IndexName=outputs(sandbox)["summaryDateIndex"],
            KeyConditionExpression="gsiDate = :d",
            ExpressionAttributeValues={":d": {"S": date}},
        )
        for raw in page["Items"]
    ]


def landed(sandbox, shop: Shop, days: int = 2) -> dict:
    """The shop's store-days, read through the ``byDate`` GSI: summary fields, products, contributors."""
    found: dict = {}
    for item in by_date(sandbox, shop.dates(days)):
        assert item["storeId"].startswith(shop.prefix), f"another test's store on {item['businessDate']}"
        assert item["gsiStore"] == f"{item['storeId']}#{item['sk']}" and item["gsiDate"] == item["businessDate"]
        day = found.setdefault((item["storeId"], item["businessDate"]), {"products": {}})
        if item["sk"] == "summary":
            day |= {name: int(item[name]) for name in ("revenue", "units", "transactions")}
            day |= {name: int(item[name]) for name in ("refundLines", "refundUnits", "refundAmount")}
            day |= {"currency": item["currency"], "hourlyRevenue": [int(v) for v in item["hourlyRevenue"]]}
            day["contributors"] = dict(item["contributors"])
        else:
            assert re.fullmatch(r"products#[0-7]", item["sk"]), item["sk"]
            for product, (units, revenue) in item["products"].items():
                assert product not in day["products"], f"{product} is in two parts"
                day["products"][product] = [int(units), int(revenue)]
    return found


def totals(days: dict) -> dict:
    """``landed`` without the contributors: what ``independent`` computes."""
    return {key: {k: v for k, v in day.items() if k != "contributors"} for key, day in days.items()}


def items_of(sandbox, shop: Shop, days: int = 2) -> int:
    """How many summary and product part items the shop's store-days are."""
    return len(by_date(sandbox, shop.dates(days)))


def item_count(sandbox) -> int:
    """How many items the summaries table holds (summaries, product parts and pointers of every test)."""
    table = outputs(sandbox)["summaryTableName"]
    return sandbox.client("dynamodb").describe_table(TableName=table)["Table"]["ItemCount"]


def pointer(sandbox, key: str) -> dict | None:
    """The upload's pointer item: the version the totals include, where its contribution is kept."""
    table = outputs(sandbox)["summaryTableName"]
    found = sandbox.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": f"source#{source_id(sandbox, key)}"}, "sk": {"S": "contribution"}}
    )
    return _item(found["Item"]) if "Item" in found else None


def table_state(sandbox, shop: Shop, key: str) -> tuple:
    """What a write would change: the table's item count, the shop's items as stored, the upload's pointer.

    (A Scan of the whole table is too slow in moto once it holds the other tests' product maps.)
    """
    items = sorted(by_date(sandbox, shop.dates()), key=lambda item: (item["pk"], item["sk"]))
    return item_count(sandbox), items, pointer(sandbox, key)


def bucket_versions(sandbox) -> set[tuple[str, str]]:
    """Every (key, version) in the pipeline's bucket, delete markers included."""
    pages = sandbox.client("s3").get_paginator("list_object_versions").paginate(Bucket=outputs(sandbox)["bucketName"])
    return {
        (entry["Key"], entry["VersionId"])
        for page in pages
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", [])
    }


def read_object(sandbox, key: str) -> bytes:
    return sandbox.client("s3").get_object(Bucket=outputs(sandbox)["bucketName"], Key=key)["Body"].read()


def source_id(sandbox, key: str) -> str:
    """The contributor id of an upload (``layout``): 32 hex digits of SHA-256 of ``s3://bucket/key``."""
    return hashlib.sha256(f"s3://{outputs(sandbox)['bucketName']}/{key}".encode()).hexdigest()[:32]


# --- executions --------------------------------------------------------------------------------------------


def entered(result) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in result.history if e["type"].endswith("StateEntered")]


def scheduled(result, state: str) -> int:
    """How many times ``state``'s task was scheduled (a Retry schedules it again)."""
    count, current = 0, None
    for event in result.history:
        if event["type"].endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == "TaskScheduled" and current == state:
            count += 1
    return count


def executions(sandbox, machine: str = "stateMachineArn") -> list[dict]:
    pages = sandbox.client("stepfunctions").get_paginator("list_executions")
    return [e for page in pages.paginate(stateMachineArn=outputs(sandbox)[machine]) for e in page["executions"]]


def delivery_of(sandbox, key: str):
    """The one EventBridge delivery of the S3 event for ``key``."""
    (delivery,) = [d for d in sandbox.events.wait_idle() if d.event["detail"]["object"]["key"] == s3_event_key(key)]
    return delivery


def redeliver(sandbox, event: dict, times: int = 1) -> list:
    """EventBridge delivering ``event`` again (``times`` copies): the deliveries it made.

    Its stand-in here is ``PutEvents`` of the same source, detail type and detail (AWS keeps ``aws.``
    sources to its services; the sandbox lets a test play S3's part, as tests/infra does).
    """
    entry = {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "Resources": event["resources"],
    }
    before = len(sandbox.events.wait_idle())
    sandbox.client("events").put_events(Entries=[entry] * times)
    return sandbox.events.wait_idle()[before:]


def load(sandbox, name: str, body: bytes):
    """Upload ``body`` as ``uploads/<name>`` and follow the run it started to its end; (run, result)."""
    run = upload_and_find_run(sandbox, "uploads", name, body)
    return run, sandbox.wait(run.execution_arn)


def loaded_output(run, records: int, store_days: int, writes: int, rejected: int = 0) -> dict:
    return {
        "bucket": run.bucket,
        "key": run.key,
        "version": run.version_id,
        "outcome": "new",
        "records": records,
        "rejected": rejected,
        "storeDays": store_days,
        "writes": writes,
    }


# --- a good file -------------------------------------------------------------------------------------------


def test_a_good_file_lands_as_summaries_equal_to_an_independent_computation(sandbox, shop):
    body, info = shop.sales(seed=101)
    before = item_count(sandbox)
    run, result = load(sandbox, "good.json", body)
    assert result.status == "SUCCEEDED", result.cause_text()
    assert entered(result) == PIPELINE_STATES
    expected = independent(transactions(body))
    assert len(expected) == 6 and any(day["refundLines"] for day in expected.values())  # 3 stores × 2 days
    days = landed(sandbox, shop)
    assert totals(days) == expected
    assert all(day["contributors"] == {source_id(sandbox, run.key): run.version_id} for day in days.values())
    # One write per summary and per product part, plus the upload's pointer: never one per record,
    # and nothing anywhere else in the table.
    writes = items_of(sandbox, shop) + 1
    assert result.output == loaded_output(run, info.transactions, len(expected), writes)
    assert item_count(sandbox) - before == writes
    assert (pointer(sandbox, run.key)["key"], pointer(sandbox, run.key)["version"]) == (run.key, run.version_id)
    assert run.key == "uploads/good.json"
    assert [k for k, _ in bucket_versions(sandbox) if k.startswith(("rejects/", "quarantine/")) and "good" in k] == []


def test_the_same_event_redelivered_ends_the_router_already_started_and_changes_nothing(sandbox, shop):
    run, first = load(sandbox, "again.json", shop.sales(seed=102)[0])
    assert first.status == "SUCCEEDED", first.cause_text()
    runs, table, objects = executions(sandbox), table_state(sandbox, shop, run.key), bucket_versions(sandbox)

    (again,) = redeliver(sandbox, delivery_of(sandbox, run.key).event)
    assert again.status == "STARTED"
    router = sandbox.wait(again.execution_arn)
    assert router.status == "SUCCEEDED"
    assert entered(router) == ["StartOncePerObject", "AlreadyStarted"]
    assert router.output["alreadyStarted"]["Error"] == "StepFunctions.ExecutionAlreadyExistsException"
    assert run.execution_arn in router.output["alreadyStarted"]["Cause"]
    assert executions(sandbox) == runs
    assert table_state(sandbox, shop, run.key) == table and bucket_versions(sandbox) == objects


def test_the_run_started_again_with_the_same_event_is_unchanged_and_writes_nothing(sandbox, shop):
    body, info = shop.sales(seed=103)
    run, first = load(sandbox, "retried.json", body)
    assert first.status == "SUCCEEDED", first.cause_text()
    table = table_state(sandbox, shop, run.key)

    # A caller that lost StartExecution's answer starts the run again, under another name.
    retried = sandbox.wait(sandbox.start(outputs(sandbox)["stateMachineArn"], delivery_of(sandbox, run.key).event))
    assert retried.status == "SUCCEEDED", retried.cause_text()
    assert entered(retried) == PIPELINE_STATES
    assert retried.output == {**loaded_output(run, info.transactions, 0, 0), "outcome": "unchanged"}
    assert table_state(sandbox, shop, run.key) == table
    assert totals(landed(sandbox, shop)) == independent(transactions(body))


def test_duplicate_events_of_one_object_write_start_exactly_one_execution(sandbox, shop):
    body, _ = shop.sales(seed=104)
    key = "uploads/duplicated.json"
    before, count = executions(sandbox), item_count(sandbox)
    sandbox.client("s3").put_object(Bucket=outputs(sandbox)["bucketName"], Key=key, Body=body)
    delivery = delivery_of(sandbox, key)
    duplicates = redeliver(sandbox, delivery.event, times=2)

    routers = [sandbox.wait(d.execution_arn) for d in [delivery, *duplicates]]
    assert [r.status for r in routers] == ["SUCCEEDED"] * 3
    # The three routers run at once: whichever starts first wins, the other two find the name taken.
    paths = sorted(entered(r) for r in routers)
    assert paths == [["StartOncePerObject"]] + [["StartOncePerObject", "AlreadyStarted"]] * 2
    (winner,) = [r for r in routers if entered(r) == ["StartOncePerObject"]]
    started = winner.output["ExecutionArn"]
    (new,) = [e for e in executions(sandbox) if e not in before]
    assert new["executionArn"] == started
    # Named after the object write: bucket, key as S3 encodes it, ETag and sequencer.
    written = delivery.event["detail"]["object"]
    name = f"{outputs(sandbox)['bucketName']}/{written['key']}/{written['etag']}/{written['sequencer']}"
    assert new["name"] == hashlib.sha256(name.encode()).hexdigest()
    result = sandbox.wait(started)
    assert result.status == "SUCCEEDED", result.cause_text()
    assert totals(landed(sandbox, shop)) == independent(transactions(body))  # counted once
    assert result.output["writes"] == item_count(sandbox) - count == items_of(sandbox, shop) + 1


# --- versions and files that add up ---------------------------------------------------------------------------


def test_a_corrected_reupload_under_the_same_key_replaces_the_first_version(sandbox, shop):
    first, _ = shop.sales(seed=105, stores=3, days=2)
    corrected, info = shop.sales(seed=106, stores=2, days=1)
    old, new = independent(transactions(first)), independent(transactions(corrected))
    assert len(old) == 6 and len(new) == 2 and set(new) < set(old)
    run, result = load(sandbox, "corrected.json", first)
    assert result.status == "SUCCEEDED", result.cause_text()
    assert totals(landed(sandbox, shop)) == old

    rerun, replaced = load(sandbox, "corrected.json", corrected)
    assert replaced.status == "SUCCEEDED", replaced.cause_text()
    assert rerun.version_id != run.version_id
    assert replaced.output["outcome"] == "replaced"
    assert (replaced.output["records"], replaced.output["storeDays"]) == (info.transactions, len(old))
    # The totals are the corrected file's alone; the 4 store-days only the first version had are gone.
    days = landed(sandbox, shop)
    assert totals(days) == new
    assert all(day["contributors"] == {source_id(sandbox, rerun.key): rerun.version_id} for day in days.values())
    stored = pointer(sandbox, rerun.key)
    assert (stored["key"], stored["version"]) == (rerun.key, rerun.version_id)


def test_the_same_bytes_uploaded_again_are_a_new_version_that_replaces_the_first_and_changes_no_total(sandbox, shop):
    body, info = shop.sales(seed=109)
    run, first = load(sandbox, "same-bytes.json", body)
    assert first.status == "SUCCEEDED", first.cause_text()
    before, count = landed(sandbox, shop), item_count(sandbox)

    rerun, again = load(sandbox, "same-bytes.json", body)  # S3 keeps both: a new version, the same ETag
    assert again.status == "SUCCEEDED", again.cause_text()
    assert rerun.version_id != run.version_id and rerun.execution_arn != run.execution_arn
    assert again.output["outcome"] == "replaced"
    assert (again.output["records"], again.output["storeDays"]) == (info.transactions, len(before))
    days = landed(sandbox, shop)
    assert totals(days) == totals(before) == independent(transactions(body))  # not counted twice
    assert all(day["contributors"] == {source_id(sandbox, rerun.key): rerun.version_id} for day in days.values())
    assert item_count(sandbox) == count and pointer(sandbox, rerun.key)["version"] == rerun.version_id


def test_two_files_for_the_same_store_days_add_up(sandbox, shop):
    first, _ = shop.sales(seed=107, days=1)
    second, _ = shop.sales(seed=108, days=1)
    assert set(independent(transactions(first))) == set(independent(transactions(second)))  # the same 3 store-days
    runs, before = [], item_count(sandbox)
    for name, body in (("shop-a.json", first), ("shop-b.json", second)):
        run, result = load(sandbox, name, body)
        assert result.status == "SUCCEEDED", result.cause_text()
        assert result.output["outcome"] == "new"
        runs.append(run)
    days = landed(sandbox, shop)
    assert totals(days) == independent(transactions(first) + transactions(second))
    contributors = {source_id(sandbox, run.key): run.version_id for run in runs}
    assert all(day["contributors"] == contributors for day in days.values())
    assert item_count(sandbox) - before == items_of(sandbox, shop) + 2  # one store-day set, two pointers


# --- bad records, bad files ------------------------------------------------------------------------------------

# How the rule each corruption of ``generate`` breaks is named in a reject's reason.
REASONS = {
    "missing_field": r"(storeId|transactionId|timestamp|lines): is required",
    "unknown_key": r"storeID: unknown field.*",
    "bad_quantity": r"lines\[0\]\.quantity: must be a non-zero integer within ±100,000, not .+",
    "too_many_decimals": r"lines\[0\]\.unitPrice: must (have at most 2 decimals|be a decimal string with at most 2).+",
    "negative_price": r'lines\[\d+\]\.unitPrice: must be a decimal string .+, not "-1\.00"',
    "excess_discount": r"lines\[0\]\.discount: 1000\.00 is more than \|quantity\| × unitPrice \(.+\)",
    "bad_timestamp": r"timestamp: .+",
    "lone_surrogate": r"lines\[0\]\.productId: contains a lone surrogate.*",
    "bad_currency": r"currency: must be a supported ISO 4217 code .+",
    "bad_lines": r"lines: must be an array of 1 to 1,000 line items, not .+",
}


def names_the_broken_rule(body: bytes, position: int, kind: str, reason: str) -> bool:
    """Whether ``reason`` names what ``generate`` broke (``kind``) in the record at ``position``."""
    if kind == "duplicate_id":
        records = json.loads(body)["transactions"]
        record = records[position]
        first = next(
            i
            for i, r in enumerate(records[:position])
            if (r.get("storeId"), r.get("transactionId")) == (record["storeId"], record["transactionId"])
        )
        return reason == f"transactionId: duplicate of the transaction at position {first}"
    return re.fullmatch(REASONS[kind], reason) is not None


def test_a_file_with_half_a_percent_bad_records_loads_the_good_ones_and_lists_each_reject(sandbox, shop):
    body, info = shop.sales(seed=23, lines=2000, bad_ratio=0.005)
    assert len(info.bad) >= 2 and round(len(info.bad) / info.transactions, 3) == 0.005
    before = item_count(sandbox)
    run, result = load(sandbox, "some bad.json", body)
    assert result.status == "SUCCEEDED", result.cause_text()
    expected = independent(transactions(body, info.bad))
    assert totals(landed(sandbox, shop)) == expected
    rejects_key = "rejects/uploads/some bad.json.ndjson"
    writes = items_of(sandbox, shop) + 1
    assert item_count(sandbox) - before == writes
    assert result.output == {
        **loaded_output(run, info.transactions, len(expected), writes, rejected=len(info.bad)),
        "rejectsKey": rejects_key,
    }
    rejects = [json.loads(line) for line in read_object(sandbox, rejects_key).decode().splitlines()]
    assert [r["position"] for r in rejects] == sorted(info.bad)  # one line per bad record, in file order
    for reject in rejects:
        kind = info.bad[reject["position"]]
        assert names_the_broken_rule(body, reject["position"], kind, reject["reason"]), (kind, reject)
    assert [k for k, _ in bucket_versions(sandbox) if k.startswith("quarantine/uploads/some bad")] == []


def _missing_comma(shop: Shop) -> tuple[bytes, int]:
    record = json.dumps({"storeId": f"{shop.prefix}S001", "transactionId": "T1", "timestamp": "2026-11-20T10:00Z"})
    body = f'{{"transactions": [{record} {record}]}}'.encode()
    return body, body.index(record.encode(), 20)  # where it breaks: the second record, after no comma


def _too_many_rejects(shop: Shop) -> tuple[bytes, dict]:
    body, info = shop.sales(seed=29, lines=500, bad_ratio=0.05)
    assert 0.04 < len(info.bad) / info.transactions < 0.06
    return body, info


BAD_FILES = ["missing comma", "not JSON", "empty object", "zero bytes", "too large", "too many rejects"]


def bad_file(case: str, shop: Shop) -> tuple[bytes, str, str, dict]:
    """A bad upload's body, its error, the error's message and what the error document adds about it."""
    no_records = {"positionKind": "index", "positions": [], "rejects": []}
    if case == "missing comma":
        body, at = _missing_comma(shop)
        found = json.dumps(body[at : at + 30].decode())
        message = f"expected ',' or ']' after a transaction, found {found} (at byte {at})"
        return body, "MalformedUploadError", message, {"positionKind": "byte", "positions": [at]}
    if case == "not JSON":
        body = b"storeId,transactionId,amount\nS001,T1,3.49\n"  # a CSV export named .json
        found = json.dumps(body[:30].decode())
        message = f'expected a JSON object {{"transactions": [...]}}, found {found} (at byte 0)'
        return body, "MalformedUploadError", message, {"positionKind": "byte", "positions": [0]}
    if case == "empty object":
        message = 'the upload is an empty object: it needs {"transactions": [...]}'
        return b"{}", "EmptyUploadError", message, no_records
    if case == "zero bytes":
        return b"", "EmptyUploadError", "the upload is empty (0 bytes or only whitespace)", no_records
    if case == "too large":
        body, _ = shop.sales(seed=109)
        body += b" " * (MAX_FILE_MB * MIB + 1 - len(body))  # valid JSON, one byte over the limit
        message = f"the object is {MAX_FILE_MB * MIB + 1:,} bytes, over the {MAX_FILE_MB} MB limit"
        return body, "UploadTooLargeError", message, no_records
    body, info = _too_many_rejects(shop)
    rejected, records = len(info.bad), info.transactions
    message = (
        f"{rejected} of {records} records rejected ({rejected / records:.2%}), "
        f"more than the {MAX_REJECT_RATIO:.2%} allowed"
    )
    details = {"positionKind": "index", "positions": sorted(info.bad), "records": records, "rejected": rejected}
    return body, "TooManyRejectsError", message, details | {"maxRejectRatio": MAX_REJECT_RATIO}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_file_fails_at_once_quarantined_naming_the_reason_and_loads_nothing(sandbox, shop, case):
    body, error, message, details = bad_file(case, shop)
    count, objects, deliveries = item_count(sandbox), bucket_versions(sandbox), len(sandbox.events.wait_idle())
    run, result = load(sandbox, f"bad {case}.json", body)
    assert result.status == "FAILED"
    assert result.error == error
    assert result.cause_text() == f"{error}: {message}"
    assert entered(result) == [*PIPELINE_STATES, "Failed"]
    # Not retried: a bad file stays bad (ProcessUpload retries only conflicts and outages).
    assert scheduled(result, "ProcessUpload") == 1
    # Nothing loaded: no summary, part, pointer, contribution or reject; the object and its error quarantined.
    assert item_count(sandbox) == count and landed(sandbox, shop) == {} and pointer(sandbox, run.key) is None
    quarantined = f"quarantine/{run.key}"
    assert {key for key, _ in bucket_versions(sandbox) - objects} == {run.key, quarantined, f"{quarantined}.error.json"}
    assert read_object(sandbox, quarantined) == body
    document = json.loads(read_object(sandbox, f"{quarantined}.error.json"))
    rejects = document.pop("rejects", None)
    assert document == {
        "reason": error,
        "message": message,
        "bucket": run.bucket,
        "key": run.key,
        "version": run.version_id,
        "maxFileBytes": MAX_FILE_MB * MIB,
        **{k: v for k, v in details.items() if k != "rejects"},
    }
    if case == "too many rejects":
        _, info = _too_many_rejects(shop)
        assert [r["position"] for r in rejects] == sorted(info.bad)
        assert all(names_the_broken_rule(body, r["position"], info.bad[r["position"]], r["reason"]) for r in rejects)
    else:
        assert rejects == details.get("rejects")
    # The pipeline's own writes (quarantine/…) start no run: the upload was the only delivery.
    assert len(sandbox.events.wait_idle()) == deliveries + 1


def test_a_file_of_exactly_the_size_limit_is_loaded(sandbox, shop):
    body, info = shop.sales(seed=110)
    body += b"\n" * (MAX_FILE_MB * MIB - len(body))  # whitespace after the document: still valid JSON
    before = item_count(sandbox)
    run, result = load(sandbox, "at the limit.json", body)
    assert result.status == "SUCCEEDED", result.cause_text()
    expected = independent(transactions(body))
    assert totals(landed(sandbox, shop)) == expected
    writes = items_of(sandbox, shop) + 1
    assert result.output == loaded_output(run, info.transactions, len(expected), writes)
    assert item_count(sandbox) - before == writes


# --- keys -----------------------------------------------------------------------------------------------------


def test_a_key_with_spaces_plus_and_parentheses_is_processed_under_its_real_key(sandbox, shop):
    body, info = shop.sales(seed=111)
    before = item_count(sandbox)
    run, result = load(sandbox, "store 1+2 (nov).json", body)
    assert run.key == "uploads/store 1+2 (nov).json"
    assert delivery_of(sandbox, run.key).event["detail"]["object"]["key"] == "uploads/store+1%2B2+%28nov%29.json"
    assert result.status == "SUCCEEDED", result.cause_text()
    expected = independent(transactions(body))
    writes = items_of(sandbox, shop) + 1
    assert result.output == loaded_output(run, info.transactions, len(expected), writes)
    assert item_count(sandbox) - before == writes
    days = landed(sandbox, shop)
    assert totals(days) == expected
    assert all(day["contributors"] == {source_id(sandbox, run.key): run.version_id} for day in days.values())
    assert pointer(sandbox, run.key)["key"] == run.key


@pytest.mark.parametrize(
    "key",
    [
        "elsewhere/x.json",
        "uploadsX/x.json",
        "uploads",
        "Uploads/x.json",
        "archive/uploads/x.json",
        "quarantine/uploads/x.json",
        "rejects/uploads/x.json.ndjson",
    ],
)
def test_an_object_outside_the_upload_prefix_is_never_delivered_and_starts_nothing(sandbox, shop, key):
    deliveries, runs, routers = len(sandbox.events.wait_idle()), executions(sandbox), executions(sandbox, "routerArn")
    count = item_count(sandbox)
    sandbox.client("s3").put_object(Bucket=outputs(sandbox)["bucketName"], Key=key, Body=shop.sales(seed=112)[0])
    assert len(sandbox.events.wait_idle()) == deliveries
    assert executions(sandbox) == runs and executions(sandbox, "routerArn") == routers
    assert item_count(sandbox) == count and landed(sandbox, shop) == {} and pointer(sandbox, key) is None


# --- a hand-started run ------------------------------------------------------------------------------------------


def object_created(bucket: str, key: str) -> dict:
    """An S3 Object Created event as EventBridge delivers it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-20T12:00:00Z",
        "region": "us-west-2",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": s3_event_key(key), "size": 120, "etag": "0" * 32, "sequencer": "0062E99A88DC407460"},
            "reason": "PutObject",
        },
    }


HAND_STARTED = [
    ("another bucket", "detail.bucket.name", 'is "someone-elses-uploads", not this pipeline\'s bucket {bucket}'),
    ("a key outside the prefix", "detail.object.key", '"elsewhere/sales.json" is not an object under uploads/'),
    ("the prefix itself", "detail.object.key", '"uploads/" is not an object under uploads/'),
    ("another source", "source", "must be 'aws.s3' (an S3 Object Created event), got string \"aws.ec2\""),
    ("a negative size", "detail.object.size", "must be a whole number of bytes ≥ 0, got number -1"),
]


@pytest.mark.parametrize(("case", "field", "problem"), HAND_STARTED, ids=[case for case, *_ in HAND_STARTED])
def test_a_hand_started_run_with_a_bad_event_is_rejected_naming_the_field_and_writes_nothing(
    sandbox, case, field, problem
):
    bucket = outputs(sandbox)["bucketName"]
    event = object_created(bucket, "uploads/sales.json")
    if case == "another bucket":
        event["detail"]["bucket"]["name"] = "someone-elses-uploads"
    elif case == "a key outside the prefix":
        event["detail"]["object"]["key"] = "elsewhere/sales.json"
    elif case == "the prefix itself":
        event["detail"]["object"]["key"] = "uploads/"
    elif case == "another source":
        event["source"] = "aws.ec2"
    else:
        event["detail"]["object"]["size"] = -1
    count, objects = item_count(sandbox), bucket_versions(sandbox)
    result = sandbox.wait(sandbox.start(outputs(sandbox)["stateMachineArn"], event))
    assert result.status == "FAILED"
    assert result.error == "InvalidInputError"
    assert result.cause_text() == f"InvalidInputError: {field}: {problem.format(bucket=bucket)}"
    assert entered(result) == ["ValidateInput", "InputRejected"]
    assert item_count(sandbox) == count and pointer(sandbox, "uploads/sales.json") is None
    assert bucket_versions(sandbox) == objects


def test_a_console_folder_under_the_prefix_is_rejected_at_the_intake_and_nothing_is_quarantined(sandbox, shop):
    before = bucket_versions(sandbox)
    count = item_count(sandbox)
    sandbox.client("s3").put_object(
        Bucket=outputs(sandbox)["bucketName"], Key=f"uploads/{shop.prefix}folder/", Body=b""
    )
    (delivery,) = sandbox.events.wait_idle()[-1:]
    router = sandbox.wait(delivery.execution_arn)
    result = sandbox.wait(router.output["ExecutionArn"])
    assert (result.status, result.error) == ("FAILED", "InvalidInputError")
    assert "is a folder marker (ends in /), not a file" in result.cause_text()
    assert entered(result) == ["ValidateInput", "InputRejected"]
    assert {key for key, _ in bucket_versions(sandbox) - before} == {f"uploads/{shop.prefix}folder/"}
    assert item_count(sandbox) == count
