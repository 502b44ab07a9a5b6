"""Fixtures for the uploads adapter and handler tests: moto S3 (versioned bucket) and the summaries table."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.pipelines import fake_aws
from tests.pipelines.fake_aws import set_fake_aws_environment

BUCKET = "uploads-test"
TABLE = "uploads-summaries-test"


@pytest.fixture
def lambda_context():
    """The attributes Powertools' inject_lambda_context reads."""
    return fake_aws.lambda_context("uploads-test", 1769)


def create_table(dynamodb, name: str = TABLE) -> None:
    """The summaries table of ``layout``: pk/sk strings, GSI byDate (gsiDate, gsiStore)."""
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsiDate", "gsiStore")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byDate",
                "KeySchema": [
                    {"AttributeName": "gsiDate", "KeyType": "HASH"},
                    {"AttributeName": "gsiStore", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


@pytest.fixture
def aws(monkeypatch):
    """A fresh moto per test: a versioned bucket and an empty summaries table; env for the handler."""
    from moto import mock_aws

    from infra.sandbox import dynamodb_reads, dynamodb_transactions
    from pipelines.common.aws import client, reset_clients

    set_fake_aws_environment(monkeypatch, SUMMARY_TABLE_NAME=TABLE)
    monkeypatch.delenv("MAX_FILE_MB", raising=False)
    monkeypatch.delenv("MAX_REJECT_RATIO", raising=False)
    reset_clients()
    # TransactWriteItems as AWS runs it (all or nothing, isolated), not moto's table copy per item.
    undo_transactions = dynamodb_transactions.install()
    # Read answers as the sandbox writes them (JSON directly): moto's serializer took seconds for
    # a store-day of 10,000 products; what a client receives is the same.
    undo_reads = dynamodb_reads.install()
    with mock_aws():
        s3 = client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        create_table(client("dynamodb"))
        yield SimpleNamespace(s3=s3, dynamodb=client("dynamodb"))
    undo_reads()
    undo_transactions()
    reset_clients()
