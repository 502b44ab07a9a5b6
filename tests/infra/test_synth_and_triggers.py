"""Offline synth writes what the program declares; S3ObjectCreated wires bucket → rule → state machine."""

import json

import pulumi

from infra import asl
from infra.cli import main as cli_main
from infra.components.object_trigger import EXECUTION_NAME, S3ObjectCreated, S3ObjectCreatedArgs, object_created_pattern
from infra.components.stack import FunctionRuntime, PipelineOwner, StackContext
from infra.sandbox.mocks import ACCOUNT_ID, RecordingMocks


def test_synth_writes_resources_every_state_machine_and_every_iam_policy(tmp_path, dev_program):
    assert cli_main(["synth", "--out", str(tmp_path)]) == 0
    resources = json.loads((tmp_path / "resources.json").read_text())
    assert {r["type"] for r in resources} >= {"aws:sfn/stateMachine:StateMachine", "aws:lambda/function:Function"}
    assert len(resources) == len([r for r in dev_program.resources if r.custom])
    assert dev_program.pipelines == ["greeting", "radar", "incidents", "uploads", "daily-analysis", "release-approval"]
    for pipeline in dev_program.pipelines:
        definition = json.loads((tmp_path / f"{pipeline}.asl.json").read_text())
        assert definition["StartAt"] in definition["States"]
    policies = {p.name for p in dev_program.of_type("aws:iam/rolePolicy:RolePolicy")}
    assert {p.stem for p in (tmp_path / "iam").glob("*.json") if ".trust" not in p.name} >= policies
    # Function code appears as its file list, never as bytes.
    fn = next(r for r in resources if r["type"] == "aws:lambda/function:Function")
    assert "pipelines/greeting/handlers.py" in fn["inputs"]["code"]["archive"]


def test_the_object_created_pattern_matches_one_bucket_and_one_prefix():
    assert object_created_pattern("b", "uploads/") == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["b"]}, "object": {"key": [{"prefix": "uploads/"}]}},
    }


def test_s3_object_created_enables_eventbridge_and_targets_the_machine_with_a_start_only_role():
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="stepworks", stack="test", preview=False)
    machine = "arn:aws:states:us-west-2:123456789012:stateMachine:m"

    @pulumi.runtime.test
    def declare():
        stack = StackContext(
            "sw-test", "us-west-2", ACCOUNT_ID, 30, FunctionRuntime("python3.12", "x86_64", "INFO", None, [])
        )
        owner = PipelineOwner(stack, "uploads")
        trigger = S3ObjectCreated("uploads", S3ObjectCreatedArgs(owner, machine, "bucket-1", "incoming/"))
        return trigger.rule.name

    declare()
    (notification,) = mocks.of_type("aws:s3/bucketNotification:BucketNotification")
    assert notification.inputs == {**notification.inputs, "bucket": "bucket-1", "eventbridge": True}
    (rule,) = mocks.of_type("aws:cloudwatch/eventRule:EventRule")
    assert json.loads(rule.inputs["eventPattern"]) == object_created_pattern("bucket-1", "incoming/")
    (target,) = mocks.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert target.inputs["arn"] == machine
    (policy,) = mocks.of_type("aws:iam/rolePolicy:RolePolicy")
    assert json.loads(policy.inputs["policy"])["Statement"] == [
        {"Sid": "StartExecution", "Effect": "Allow", "Action": ["states:StartExecution"], "Resource": [machine]}
    ]
    (role,) = mocks.of_type("aws:iam/role:Role")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    # EventBridge names the account and the rule when it assumes the role: only this rule may.
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": rule.outputs["arn"]},
    }
    assert role.inputs["path"] == "/sw-test/uploads/"


def test_once_per_object_puts_an_express_router_between_the_rule_and_the_machine_and_a_dead_letter_queue():
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, preview=False)
    machine = "arn:aws:states:us-west-2:123456789012:stateMachine:sw-test-uploads"
    key = "arn:aws:kms:us-west-2:123456789012:key/11111111-2222-3333-4444-555555555555"
    dlq = "arn:aws:sqs:us-west-2:123456789012:sw-test-uploads-dlq"

    @pulumi.runtime.test
    def declare():
        stack = StackContext(
            "sw-test", "us-west-2", ACCOUNT_ID, 30, FunctionRuntime("python3.12", "x86_64", "INFO", None, [])
        )
        args = S3ObjectCreatedArgs(
            PipelineOwner(stack, "uploads"), machine, "bucket-1", "uploads/", True, key_arn=key, dead_letter_arn=dlq
        )
        return S3ObjectCreated("uploads", args).rule.name

    declare()
    (router,) = mocks.of_type("aws:sfn/stateMachine:StateMachine")
    assert (router.inputs["name"], router.inputs["type"]) == ("sw-test-uploads-start", "EXPRESS")
    definition = json.loads(router.inputs["definition"])
    assert asl.check_definition(definition) == []
    start = definition["States"][definition["StartAt"]]
    assert start["Parameters"] == {"StateMachineArn": machine, "Input.$": "$", "Name.$": EXECUTION_NAME}
    assert [c["Next"] for c in start["Catch"]] == ["AlreadyStarted", "Failed"]
    (target,) = mocks.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert target.inputs["arn"] == router.outputs["arn"]
    assert target.inputs["deadLetterConfig"] == {"arn": dlq}
    policies = {p.name: json.loads(p.inputs["policy"]) for p in mocks.of_type("aws:iam/rolePolicy:RolePolicy")}
    # EventBridge may start the router only; the router may start the machine only.
    assert policies["uploads-target-policy"]["Statement"][0]["Resource"] == [router.outputs["arn"]]
    (router_start,) = [
        s for s in policies["uploads-router-sfn-policy"]["Statement"] if "states:StartExecution" in s["Action"]
    ]
    assert router_start["Resource"] == [machine]
