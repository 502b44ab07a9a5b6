"""Where the sandbox corrects moto's ASL interpreter to behave as Step Functions (infra/sandbox/interpreter.py)."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from infra import asl
from infra import integrations as i
from infra.sandbox.core import Sandbox

PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


@pytest.fixture(scope="module")
def sandbox():
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    with Sandbox() as running:
        yield running


def machine(sandbox, definition: dict | str, *grants: dict) -> str:
    """A state machine running as a role that Step Functions may assume, with ``grants``."""
    iam, name = sandbox.client("iam"), f"m-{uuid.uuid4().hex[:8]}"
    trust = {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    role = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
    )
    if grants:
        policy = {"Version": "2012-10-17", "Statement": list(grants)}
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    document = definition if isinstance(definition, str) else json.dumps(definition)
    return sandbox.client("stepfunctions").create_state_machine(
        name=name, definition=document, roleArn=role["Role"]["Arn"]
    )["stateMachineArn"]


def test_start_execution_takes_the_documented_parameter_names_and_a_repeated_name_is_refused(sandbox):
    target = machine(sandbox, PASS)
    start = i.start_execution(
        target, input_path="$.detail", name_path="States.Hash($.detail.key, 'SHA-256')", next_state=None,
        timeout_s=30, catch_to="Duplicate",
    )  # fmt: skip
    start.state["Catch"].insert(
        0,
        {
            "ErrorEquals": ["StepFunctions.ExecutionAlreadyExistsException"],
            "ResultPath": "$.duplicate",
            "Next": "Duplicate",
        },
    )
    definition = asl.Definition.of(
        {"StartAt": "Start", "States": {"Start": start, "Duplicate": {"Type": "Succeed"}}}
    ).document
    router = machine(sandbox, definition, {"Effect": "Allow", "Action": "states:StartExecution", "Resource": target})

    outputs = []
    for _ in range(2):
        started = sandbox.start(router, {"detail": {"key": "uploads/a.json"}})
        result = sandbox.wait(started)
        assert result.status == "SUCCEEDED", result.cause_text()
        outputs.append(result.output)

    (execution,) = sandbox.client("stepfunctions").list_executions(stateMachineArn=target)["executions"]
    assert len(execution["name"]) == 64  # the SHA-256 of the key: one execution per key
    assert outputs[0]["ExecutionArn"] == execution["executionArn"]
    assert outputs[0]["StartDate"] == pytest.approx(execution["startDate"].timestamp() * 1000, abs=1)
    assert outputs[1]["duplicate"]["Error"] == "StepFunctions.ExecutionAlreadyExistsException"


def test_a_definition_is_parsed_once_and_each_execution_still_gets_its_own_components(sandbox):
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 7, "End": True}}})
    first, tree = AmazonStateLanguageParser.parse(definition)
    second, same_tree = AmazonStateLanguageParser.parse(definition)
    assert same_tree is tree and second is not first
    arn = machine(sandbox, definition)
    assert [sandbox.wait(sandbox.start(arn, {})).output for _ in range(2)] == [7, 7]


def test_a_symmetric_key_needs_no_private_key_until_something_signs(sandbox):
    from moto.kms.models import kms_backends

    key_id = sandbox.client("kms").create_key()["KeyMetadata"]["KeyId"]
    key = kms_backends[sandbox.iam.account][sandbox.region].keys[key_id]
    assert key.private_key._key is None  # not generated at creation (it took 50–250 ms)
    signing = sandbox.client("kms").create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]["KeyId"]
    signed = sandbox.client("kms").sign(KeyId=signing, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert signed["Signature"]
