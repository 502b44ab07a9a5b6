"""TransactWriteItems in the sandbox (infra/sandbox/dynamodb_transactions.py): all or nothing, isolated, cheap."""

from __future__ import annotations

import threading

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.sandbox import dynamodb_transactions
from tests.pipelines.fake_aws import set_fake_aws_environment

TABLE = "t"


@pytest.fixture
def ddb(monkeypatch):
    set_fake_aws_environment(monkeypatch)
    undo = dynamodb_transactions.install()
    try:
        with mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1")
            client.create_table(
                TableName=TABLE,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            )
            yield client
    finally:
        undo()


def put(pk: str, value: int, condition: str | None = None, **values) -> dict:
    op = {"TableName": TABLE, "Item": {"pk": {"S": pk}, "v": {"N": str(value)}}}
    if condition:
        op["ConditionExpression"] = condition
        if values:
            op["ExpressionAttributeValues"] = {k: {"N": str(v)} for k, v in values.items()}
    return {"Put": op}


def items(ddb) -> dict[str, int]:
    return {i["pk"]["S"]: int(i["v"]["N"]) for i in ddb.scan(TableName=TABLE)["Items"]}


def test_every_write_lands_when_every_condition_holds(ddb):
    ddb.transact_write_items(TransactItems=[put("a", 1), put("b", 2, "attribute_not_exists(pk)")])
    assert items(ddb) == {"a": 1, "b": 2}


def test_one_failed_condition_cancels_all_with_a_reason_per_item(ddb):
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "b"}, "v": {"N": "7"}})
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=[put("a", 1), put("b", 2, "attribute_not_exists(pk)")])
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in caught.value.response["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed"]
    assert items(ddb) == {"b": 7}  # "a" was never written


def test_a_write_refused_half_way_is_undone(ddb):
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    too_large = {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "c"}, "blob": {"S": "x" * 500_000}}}}
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[put("a", 2), put("b", 3), too_large])
    assert items(ddb) == {"a": 1}


def test_the_same_item_twice_is_refused(ddb):
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=[put("a", 1), put("a", 2)])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert items(ddb) == {}


def test_concurrent_conditional_increments_never_lose_an_update(ddb):
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "n"}, "v": {"N": "0"}})

    def increment() -> None:
        for _ in range(20):
            while True:
                current = int(ddb.get_item(TableName=TABLE, Key={"pk": {"S": "n"}})["Item"]["v"]["N"])
                try:
                    ddb.transact_write_items(TransactItems=[put("n", current + 1, "v = :seen", **{":seen": current})])
                    break
                except ClientError as exc:
                    assert exc.response["Error"]["Code"] == "TransactionCanceledException"

    threads = [threading.Thread(target=increment) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert items(ddb) == {"n": 80}
