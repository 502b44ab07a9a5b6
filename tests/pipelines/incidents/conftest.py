"""Fixtures for the incidents tests: a TLS PostgreSQL server, the PagerDuty fake, moto secrets."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from infra.sandbox.fakes.pagerduty import DEFAULT_TOKEN, PagerDutyFake
from infra.sandbox.postgres import TemporaryPostgres
from tests.pipelines import fake_aws
from tests.pipelines.fake_aws import set_fake_aws_environment

# A fixed window so generated data and assertions never depend on the clock.
SINCE = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = datetime(2026, 3, 2, tzinfo=UTC)


@dataclass
class Database:
    """One fresh database on the shared server."""

    server: TemporaryPostgres
    name: str

    def connect(self, **kwargs):
        return self.server.connect(self.name, **kwargs)

    def scalar(self, query: str, params=()):
        with self.connect() as conn:
            return conn.execute(query, params).fetchone()[0]


@pytest.fixture(scope="session")
def postgres_server():
    """One TLS-enabled server for the whole session (or STEPWORKS_DATABASE_URL's)."""
    with TemporaryPostgres(ssl=True) as server:
        yield server


@pytest.fixture
def database(postgres_server):
    """A fresh, empty database per test, dropped afterwards."""
    name = postgres_server.create_database(f"incidents_{uuid.uuid4().hex[:12]}")
    yield Database(postgres_server, name)
    postgres_server.drop_database(name)


@pytest.fixture
def conn(database):
    """A connection to the test's fresh database."""
    with database.connect() as connection:
        yield connection


@pytest.fixture(scope="session")
def _pagerduty_server():
    # One server for the session: stopping a fake waits out its serve_forever poll interval.
    with PagerDutyFake() as fake:
        yield fake


@pytest.fixture
def pagerduty(_pagerduty_server):
    """The PagerDuty fake, empty, on a loopback port."""
    _pagerduty_server.reset()
    yield _pagerduty_server
    _pagerduty_server.reset()


@pytest.fixture
def lambda_context():
    """The attributes Powertools' inject_lambda_context reads."""
    return fake_aws.lambda_context("incidents-test", 512)


@pytest.fixture
def aws(monkeypatch):
    """moto's Secrets Manager with the database and PagerDuty secrets; fresh clients and caches."""
    from moto import mock_aws

    from pipelines.common.aws import reset_clients
    from pipelines.common.secrets import reset_secret_cache

    set_fake_aws_environment(monkeypatch)
    reset_clients()
    reset_secret_cache()
    with mock_aws():
        yield
    reset_clients()
    reset_secret_cache()


def put_secret(name: str, value: str) -> str:
    """Create a Secrets Manager secret in moto; returns its ARN."""
    from pipelines.common.aws import client

    return client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]


@pytest.fixture
def handler_env(aws, database, pagerduty, monkeypatch):
    """Every environment variable the handlers read, pointing at the fakes, with verify-full TLS."""
    server = database.server
    db_secret = put_secret("incidents/db", json.dumps({"username": server.user, "password": server.password}))
    token_secret = put_secret("incidents/pagerduty", DEFAULT_TOKEN)
    env = {
        "DB_SECRET_ARN": db_secret,
        "DB_HOST": server.host,
        "DB_PORT": str(server.port),
        "DB_NAME": database.name,
        "DB_SSLMODE": server.sslmode,
        "PAGERDUTY_TOKEN_SECRET_ARN": token_secret,
        "PAGERDUTY_API_BASE_URL": pagerduty.url,
        # The fake serves plain http on loopback; the program sets this only in the sandbox.
        "STEPWORKS_ALLOW_LOOPBACK_HTTP": "true",
    }
    if server.ca_path:
        env["DB_SSLROOTCERT"] = server.ca_path
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return SimpleNamespace(env=env, database=database, pagerduty=pagerduty, token_secret=token_secret)
