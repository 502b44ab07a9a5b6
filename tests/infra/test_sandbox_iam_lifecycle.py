"""The sandbox's IAM switches on with the sandbox and leaves moto, the environment and boto3 as it found them."""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError
from moto import settings as moto_settings
from moto.dynamodb.responses import DynamoHandler
from moto.iam import access_control
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from infra.sandbox import iam, iam_emulation
from infra.sandbox.core import Sandbox
from pipelines.common import aws

STRANGER = iam.RoleCredentials("AKIAIOSFODNN7EXAMPLE", "a-key-the-emulator-never-issued")


def _untouched(environment: dict[str, str | None]) -> None:
    assert moto_settings.INITIAL_NO_AUTH_ACTION_COUNT == float("inf")
    assert iam.active() is None
    assert access_control.IAMRequest is not iam_emulation.SandboxIAMRequest
    assert "_determine_resource" not in DynamoHandler.__dict__
    assert lambda_eval_utils.boto_client_for.__module__ == "moto.stepfunctions.parser.asl.utils.boto_client"
    assert {name: os.environ.get(name) for name in environment} == environment


@pytest.fixture
def environment(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "outer-key")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return {name: os.environ.get(name) for name in iam.CREDENTIAL_VARIABLES}


def test_enforcement_is_on_inside_and_everything_is_restored_on_exit(environment):
    with Sandbox() as sandbox:
        assert moto_settings.INITIAL_NO_AUTH_ACTION_COUNT == 0
        assert os.environ["AWS_ACCESS_KEY_ID"] == sandbox.iam.operator.access_key
        assert sandbox.client("dynamodb").list_tables()["TableNames"] == []
        with pytest.raises(ClientError, match="InvalidClientTokenId"):
            STRANGER.client("dynamodb", sandbox.region).list_tables()
    _untouched(environment)


def test_everything_is_restored_when_the_block_fails(environment):
    with pytest.raises(RuntimeError, match="test failed"), Sandbox():
        raise RuntimeError("test failed")
    _untouched(environment)


def test_everything_is_restored_when_the_sandbox_cannot_start(environment, monkeypatch):
    def broken(*args):
        raise RuntimeError("cannot patch moto")

    monkeypatch.setattr(iam_emulation, "install", broken)
    with pytest.raises(RuntimeError, match="cannot patch moto"), Sandbox():
        pass
    _untouched(environment)


def test_without_enforcement_moto_checks_nothing_but_roles_are_still_assumed_by_their_service():
    with Sandbox(enforce_iam=False) as sandbox:
        assert STRANGER.client("dynamodb", sandbox.region).list_tables()["TableNames"] == []
        role = sandbox.client("iam").create_role(
            RoleName="states-only",
            AssumeRolePolicyDocument='{"Statement": [{"Effect": "Allow", "Principal": {"Service": '
            '"states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}',
        )["Role"]["Arn"]
        with pytest.raises(iam.AssumeRoleRefused, match=r"no statement allows lambda\.amazonaws\.com"):
            sandbox.iam.assume(role, iam.LAMBDA)


def test_one_sandbox_at_a_time():
    with Sandbox(), pytest.raises(RuntimeError, match="already running"), Sandbox():
        pass


def test_function_clients_are_cached_per_credentials(monkeypatch):
    aws.reset_clients()
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAFIRSTROLE")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token-1")
    first = aws.client("dynamodb")
    assert aws.client("dynamodb") is first
    assert first._request_signer._credentials.access_key == "ASIAFIRSTROLE"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIASECONDROLE")
    second = aws.client("dynamodb")
    assert second is not first and second._request_signer._credentials.access_key == "ASIASECONDROLE"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAFIRSTROLE")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token-2")  # the same key id refreshed: a new client
    assert aws.client("dynamodb") is not first
    aws.reset_clients()
