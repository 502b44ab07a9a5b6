"""Fixtures for the radar tests: loopback Radar and provider fakes, moto S3/KMS/Secrets Manager."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from infra.sandbox.fakes.provider import ProviderFake
from infra.sandbox.fakes.radar import RadarFake
from tests.pipelines import fake_aws
from tests.pipelines.fake_aws import set_fake_aws_environment

EVENTS = Path(__file__).resolve().parents[2] / "events"
RADAR_TOKEN = "radar-token-for-tests"
PROVIDER_TOKEN = "provider-token-for-tests"
BUCKET = "radar-test-data"


def load_event(name: str) -> dict:
    """A sample event from tests/events/radar_<name>.json."""
    return json.loads((EVENTS / f"radar_{name}.json").read_text())


def sample_registry() -> dict:
    """The registry in the extract_orgs sample event."""
    return load_event("extract_orgs")["registry"]


# The fakes are started once per session (no server start/stop per test) and reset
# before every test, so no misbehaviour or recorded request leaks from one test into another.
@pytest.fixture(scope="session")
def _radar_server():
    with RadarFake(token=RADAR_TOKEN) as fake:
        yield fake


@pytest.fixture(scope="session")
def _provider_server():
    with ProviderFake(token=PROVIDER_TOKEN) as fake:
        yield fake


@pytest.fixture
def radar(_radar_server):
    """The Radar fake expecting RADAR_TOKEN, with no misbehaviour configured."""
    _radar_server.reset()
    return _radar_server


@pytest.fixture
def provider(_provider_server):
    """The registry provider fake serving the sample registry, expecting PROVIDER_TOKEN."""
    _provider_server.reset(registry=sample_registry())
    return _provider_server


@pytest.fixture
def lambda_context():
    """The attributes Powertools' inject_lambda_context reads."""
    return fake_aws.lambda_context("radar-test", 512)


@pytest.fixture(scope="module")
def _moto():
    """One moto per test module (starting it costs about a second): bucket, KMS key, both secrets."""
    from moto import mock_aws

    from pipelines.common.aws import client, reset_clients
    from pipelines.common.secrets import reset_secret_cache

    patch = pytest.MonkeyPatch()
    set_fake_aws_environment(patch)
    reset_clients()
    reset_secret_cache()
    try:
        with mock_aws():
            client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
            secrets = client("secretsmanager")
            yield SimpleNamespace(
                key_id=client("kms").create_key(Description="radar test key")["KeyMetadata"]["Arn"],
                radar_secret=secrets.create_secret(Name="radar/cloudflare", SecretString=RADAR_TOKEN)["ARN"],
                provider_secret=secrets.create_secret(Name="radar/provider", SecretString=PROVIDER_TOKEN)["ARN"],
            )
    finally:
        patch.undo()
        reset_clients()
        reset_secret_cache()


@pytest.fixture
def aws(_moto):
    """The module's moto resources, with the bucket emptied so no test sees another's objects."""
    from pipelines.common.aws import client

    s3 = client("s3")
    for key in s3_keys():
        s3.delete_object(Bucket=BUCKET, Key=key)
    return _moto


@pytest.fixture
def env(aws, radar, monkeypatch):
    """Every variable the radar handlers read, pointing at moto and the Radar fake; registry in S3."""
    from pipelines.common.aws import client

    values = {
        "PIPELINE_NAME": "radar",
        "BUCKET_NAME": BUCKET,
        "KMS_KEY_ID": aws.key_id,
        "REGISTRY_KEY": "config/orgs.json",
        "STAGING_PREFIX": "staging/",
        "RADAR_TOKEN_SECRET_ARN": aws.radar_secret,
        "RADAR_API_BASE_URL": radar.base_url,
        "RADAR_QUERIES": json.dumps(["ranking", "device_type", "asn"]),
        "RADAR_TIMEOUT_SECONDS": "5",
        "RADAR_MAX_RETRIES": "1",
        # The fakes serve plain http on loopback; the program sets this only in the sandbox.
        "STEPWORKS_ALLOW_LOOPBACK_HTTP": "true",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PROVIDER_URL", raising=False)
    client("s3").put_object(Bucket=BUCKET, Key="config/orgs.json", Body=json.dumps(sample_registry()).encode())
    return SimpleNamespace(values=values, aws=aws, radar=radar)


def s3_text(key: str) -> str:
    """The object at ``key`` in the test bucket, decoded."""
    from pipelines.common.aws import client

    return client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8")


def s3_keys(prefix: str = "") -> list[str]:
    """Every key under ``prefix`` in the test bucket."""
    from pipelines.common.aws import client

    listing = client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(obj["Key"] for obj in listing.get("Contents", []))
