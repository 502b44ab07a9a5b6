"""Fixtures of the release-approval tests: a test clock, the services fake, moto with the pipeline's resources."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from infra.sandbox.fakes.jira import JiraFake
from infra.sandbox.fakes.release_services import ReleaseServicesFake
from pipelines.common import clock
from tests.pipelines import fake_aws
from tests.pipelines.fake_aws import set_fake_aws_environment

BUCKET = "sw-test-release-approval"
TOKEN_TABLE = "sw-test-release-approval-tokens"
IDEMPOTENCY_TABLE = "sw-test-release-approval-idempotency"
START = 1_796_691_600.0  # 2026-12-08T01:00:00Z
EXECUTION_ARN = "arn:aws:states:eu-west-2:123456789012:execution:sw-test-release-approval:run-1"
OTHER_EXECUTION_ARN = "arn:aws:states:eu-west-2:123456789012:execution:sw-test-release-approval:run-2"


class TestClock:
    """A clock that only moves when something sleeps on it (or a test advances it)."""

    __test__ = False

    def __init__(self, start: float = START):
        self.time = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds

    def advance(self, seconds: float) -> None:
        self.time += seconds


@pytest.fixture
def test_clock(monkeypatch):
    """The pipeline runs on a test clock; a real ``time.sleep`` fails the test."""
    fake = TestClock()

    def no_real_sleep(seconds):
        raise AssertionError(f"a real time.sleep({seconds}) was called")

    monkeypatch.setattr(time, "sleep", no_real_sleep)
    undo = clock.substitute(fake.now, fake.sleep)
    yield fake
    undo()


@pytest.fixture(scope="module")
def _services_server():
    with ReleaseServicesFake() as fake:
        yield fake


@pytest.fixture
def services(_services_server):
    """The three release services on one loopback server, fresh for each test."""
    _services_server.reset()
    return _services_server


@pytest.fixture(scope="module")
def _jira_server():
    with JiraFake() as fake:
        yield fake


@pytest.fixture
def jira(_jira_server):
    _jira_server.comments.clear()
    _jira_server.requests.clear()
    _jira_server._queued.clear()
    _jira_server.pat = None
    return _jira_server


@pytest.fixture
def lambda_context():
    return fake_aws.lambda_context("release-approval-test", 256)


def create_token_table(dynamodb, name: str = TOKEN_TABLE) -> None:
    """The task-token table: storyId string partition key, TTL on expiresAt."""
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "storyId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "storyId", "KeyType": "HASH"}],
    )


def create_idempotency_table(dynamodb, name: str = IDEMPOTENCY_TABLE) -> None:
    """The reference services' table: idempotencyKey string partition key, TTL on expiresAt."""
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "idempotencyKey", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "idempotencyKey", "KeyType": "HASH"}],
    )


@pytest.fixture
def aws(monkeypatch):
    """A fresh moto: the pipeline's bucket (versioned), the token and idempotency tables; env for handlers."""
    from moto import mock_aws

    from pipelines.common.aws import client
    from pipelines.common.secrets import reset_secret_cache

    set_fake_aws_environment(monkeypatch, BUCKET_NAME=BUCKET, TOKEN_TABLE_NAME=TOKEN_TABLE)
    for name in ("INPUT_PREFIX", "ENVIRONMENTS", "WAIT_TIMEOUT_SECONDS", "JIRA_BASE_URL", "JIRA_TOKEN_SECRET_ARN"):
        monkeypatch.delenv(name, raising=False)
    # Clients are kept across tests (each costs ~0.1 s to create; moto intercepts them whenever
    # it is active); cached secret values are not.
    reset_secret_cache()
    with mock_aws():
        s3 = client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        dynamodb = client("dynamodb")
        create_token_table(dynamodb)
        create_idempotency_table(dynamodb)
        yield SimpleNamespace(
            s3=s3, dynamodb=dynamodb, secrets=client("secretsmanager"), states=client("stepfunctions")
        )
    reset_secret_cache()


def put_secret(secrets, name: str, value: str) -> str:
    """A secret holding ``value`` (AWSCURRENT); its ARN."""
    return secrets.create_secret(Name=name, SecretString=value)["ARN"]
