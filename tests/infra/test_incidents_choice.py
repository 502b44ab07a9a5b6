"""The incidents success check, run by the ASL interpreter: only ``"success": true`` goes on."""

import json
import time

import boto3
import pytest
from moto import mock_aws

from infra.workflows.incidents import _succeeded


@pytest.fixture(scope="module")
def machine():
    definition = {
        "StartAt": "Check",
        "States": {
            "Check": _succeeded("Next"),
            "Next": {"Type": "Pass", "Result": {"path": "went on"}, "End": True},
            "HandleError": {"Type": "Pass", "Result": {"path": "handled"}, "End": True},
        },
    }
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-west-2")
        arn = sfn.create_state_machine(
            name="success-check",
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]
        yield sfn, arn


def outcome(machine, payload) -> str:
    sfn, arn = machine
    execution = sfn.start_execution(stateMachineArn=arn, name=f"run-{time.monotonic_ns()}", input=json.dumps(payload))
    while (described := sfn.describe_execution(executionArn=execution["executionArn"]))["status"] == "RUNNING":
        time.sleep(0.01)
    assert described["status"] == "SUCCEEDED", described
    return json.loads(described["output"])["path"]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"success": True, "run_id": 1}, "went on"),
        ({"success": False, "failed_rules": ["service_known"]}, "handled"),
        ({"run_id": 1}, "handled"),  # success missing
        ({"success": "true"}, "handled"),  # not a boolean
        ({"success": None}, "handled"),
    ],
)
def test_only_a_boolean_true_success_goes_on(machine, payload, expected):
    assert outcome(machine, payload) == expected
