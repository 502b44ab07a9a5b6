"""EventBridge → Step Functions in the sandbox (infra/sandbox/eventbridge.py).

An object created in a bucket with EventBridge notifications on starts, by itself, the state
machine its rule targets: with the AWS-format event as input, as the target's role (assumed by
events.amazonaws.com with the rule as aws:SourceArn), and an undeliverable event lands in the
target's dead-letter queue.
"""

from __future__ import annotations

import json
import logging
import uuid

import pulumi
import pulumi_aws as aws
import pytest
from botocore.exceptions import ClientError
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.components.object_trigger import S3ObjectCreated, S3ObjectCreatedArgs, object_created_pattern
from infra.components.stack import FunctionRuntime, PipelineOwner, StackContext
from infra.sandbox.core import Sandbox
from infra.sandbox.eventbridge import Delivery, EventRouter, s3_event_key, target_input
from infra.sandbox.mocks import ACCOUNT_ID, DeclaredResource, EmulatorMocks
from infra.sandbox.translators import TRANSLATORS
from tests.infra.policy_documents import allow, trust

REGION = "us-west-2"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


@pytest.fixture(scope="module")
def sandbox():
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    with Sandbox() as running:
        yield running


# --- the uploads trigger, declared by the S3ObjectCreated component --------------------------------------


def _uploads_program():
    stack = StackContext("sw-test", REGION, ACCOUNT_ID, 30, FunctionRuntime("python3.12", "x86_64", "INFO", None, []))
    owner = PipelineOwner(stack, "uploads")
    bucket = aws.s3.Bucket("uploads-bucket")
    role = aws.iam.Role("machine-role", assume_role_policy=trust("states.amazonaws.com"))
    machine = aws.sfn.StateMachine("machine", role_arn=role.arn, definition=PASS)
    trigger = S3ObjectCreated("uploads", S3ObjectCreatedArgs(owner, machine.arn, bucket.bucket, "uploads/"))
    pulumi.export("bucket", bucket.bucket)
    pulumi.export("machine", machine.arn)
    pulumi.export("rule", trigger.rule.arn)


@pytest.fixture(scope="module")
def uploads(sandbox):
    mocks = EmulatorMocks(TRANSLATORS, region=REGION, clients=sandbox.client)
    pulumi_settings.reset_options(project="stepworks", stack="test")
    pulumi.runtime.set_all_config({"aws:region": REGION}, [])
    pulumi.runtime.set_mocks(mocks, project="stepworks", stack="test", preview=False)
    _sync_await(run_pulumi_func(_uploads_program))
    return _sync_await(pulumi.Output.from_input(dict(pulumi_settings.get_root_resource().outputs)).future())


def _upload(sandbox, bucket: str, key: str, body: bytes = b'{"sales": []}'):
    """Put one object; the deliveries it caused (after the router is idle)."""
    before = len(sandbox.events.wait_idle())
    sandbox.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return sandbox.events.wait_idle()[before:]


def test_an_upload_under_the_prefix_starts_the_machine_with_the_aws_format_event(sandbox, uploads):
    (delivery,) = _upload(sandbox, uploads["bucket"], "uploads/2026-11-23/store-1.json", b"0123456789")

    assert delivery.status == "STARTED", delivery.error_message
    assert delivery.rule_arn == uploads["rule"]
    result = sandbox.wait(delivery.execution_arn)
    assert result.status == "SUCCEEDED"
    event = result.output  # a Pass state: the input itself
    assert event == delivery.event
    assert {k: event[k] for k in ("version", "detail-type", "source", "account", "region", "resources")} == {
        "version": "0",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT_ID,
        "region": REGION,
        "resources": [f"arn:aws:s3:::{uploads['bucket']}"],
    }
    assert event["time"].endswith("Z") and len(event["time"]) == 20
    detail = event["detail"]
    assert detail["bucket"] == {"name": uploads["bucket"]}
    assert detail["reason"] == "PutObject" and detail["requester"] == ACCOUNT_ID
    head = sandbox.client("s3").head_object(Bucket=uploads["bucket"], Key="uploads/2026-11-23/store-1.json")
    assert detail["object"]["key"] == "uploads/2026-11-23/store-1.json"
    assert detail["object"]["size"] == 10
    assert detail["object"]["etag"] == head["ETag"].strip('"')
    assert "version-id" not in detail["object"]  # the bucket is not versioned
    # The execution name is EventBridge's, not the caller's.
    assert len(delivery.execution_arn.rsplit(":", 1)[-1]) == 36


def test_an_object_outside_the_prefix_starts_nothing(sandbox, uploads):
    sfn = sandbox.client("stepfunctions")
    before = len(sfn.list_executions(stateMachineArn=uploads["machine"])["executions"])

    assert _upload(sandbox, uploads["bucket"], "elsewhere/store-1.json") == []
    assert _upload(sandbox, uploads["bucket"], "uploadsX/store-1.json") == []

    assert len(sfn.list_executions(stateMachineArn=uploads["machine"])["executions"]) == before


def test_a_key_with_spaces_and_plus_is_url_encoded_in_the_event(sandbox, uploads):
    (delivery,) = _upload(sandbox, uploads["bucket"], "uploads/store 1+2 (nov).json")

    assert delivery.status == "STARTED"
    assert delivery.event["detail"]["object"]["key"] == "uploads/store+1%2B2+%28nov%29.json"
    assert sandbox.wait(delivery.execution_arn).output["detail"]["object"]["key"] == s3_event_key(
        "uploads/store 1+2 (nov).json"
    )


def test_put_events_from_aws_s3_is_delivered_and_a_duplicate_starts_a_second_execution(sandbox, uploads):
    # EventBridge delivers at least once: de-duplication is the pipeline's job (its execution names).
    detail = {"bucket": {"name": uploads["bucket"]}, "object": {"key": "uploads/dup.json", "size": 1, "etag": "e"}}
    entry = {"Source": "aws.s3", "DetailType": "Object Created", "Detail": json.dumps(detail)}
    before = len(sandbox.events.wait_idle())
    sandbox.client("events").put_events(Entries=[entry, entry])
    deliveries = sandbox.events.wait_idle()[before:]

    assert [d.status for d in deliveries] == ["STARTED", "STARTED"]
    assert len({d.execution_arn for d in deliveries}) == 2
    event = sandbox.wait(deliveries[0].execution_arn).output
    assert event["detail"] == detail and event["source"] == "aws.s3" and event["time"].endswith("Z")
    assert "ingestion-time" not in event


# --- once per object: the rule starts a router, which names the run by the object write -----------------


def _once_program():
    stack = StackContext("sw-test", REGION, ACCOUNT_ID, 30, FunctionRuntime("python3.12", "x86_64", "INFO", None, []))
    bucket = aws.s3.Bucket("once-bucket")
    key = aws.kms.Key("once-key")
    role = aws.iam.Role("once-machine-role", assume_role_policy=trust("states.amazonaws.com"))
    machine = aws.sfn.StateMachine("once-machine", role_arn=role.arn, definition=PASS)
    args = S3ObjectCreatedArgs(
        PipelineOwner(stack, "uploads"),
        machine.arn,
        bucket.bucket,
        "uploads/",
        once_per_object=True,
        key_arn=key.arn,
        label="once",  # its own rule: the `uploads` program's rule (label "objects") is deployed beside it
    )
    trigger = S3ObjectCreated("once", args)
    pulumi.export("bucket", bucket.bucket)
    pulumi.export("machine", machine.arn)
    pulumi.export("router", trigger.router.arn)


@pytest.fixture(scope="module")
def once(sandbox, uploads):  # after `uploads`: one program at a time under the mock runtime
    mocks = EmulatorMocks(TRANSLATORS, region=REGION, clients=sandbox.client)
    pulumi_settings.reset_options(project="stepworks", stack="test")
    pulumi.runtime.set_all_config({"aws:region": REGION}, [])
    pulumi.runtime.set_mocks(mocks, project="stepworks", stack="test", preview=False)
    _sync_await(run_pulumi_func(_once_program))
    return _sync_await(pulumi.Output.from_input(dict(pulumi_settings.get_root_resource().outputs)).future())


def test_once_per_object_a_redelivered_event_never_starts_a_second_run(sandbox, once):
    sfn = sandbox.client("stepfunctions")

    def runs() -> list[dict]:
        return sfn.list_executions(stateMachineArn=once["machine"])["executions"]

    (delivery,) = _upload(sandbox, once["bucket"], "uploads/store 1.json", b"first")
    assert delivery.status == "STARTED" and once["router"].rsplit(":", 1)[-1] in delivery.execution_arn
    assert sandbox.wait(delivery.execution_arn).status == "SUCCEEDED"
    (run,) = runs()
    assert len(run["name"]) == 64 and int(run["name"], 16) >= 0  # SHA-256 of the object write
    assert sandbox.wait(run["executionArn"]).output == delivery.event  # the target gets the event itself

    # EventBridge redelivers the same event: the router finds the name taken and ends quietly.
    entry = {"Source": "aws.s3", "DetailType": "Object Created", "Detail": json.dumps(delivery.event["detail"])}
    before = len(sandbox.events.wait_idle())
    sandbox.client("events").put_events(Entries=[entry])
    (again,) = sandbox.events.wait_idle()[before:]
    redelivered = sandbox.wait(again.execution_arn)
    assert redelivered.status == "SUCCEEDED"
    assert redelivered.output["alreadyStarted"]["Error"] == "StepFunctions.ExecutionAlreadyExistsException"
    assert len(runs()) == 1

    # A new write of the same key is a new object write: a second run.
    (corrected,) = _upload(sandbox, once["bucket"], "uploads/store 1.json", b"corrected")
    assert sandbox.wait(corrected.execution_arn).status == "SUCCEEDED"
    assert len(runs()) == 2


# --- a target declared by hand: role, retry policy, dead-letter queue ---------------------------------------


class Trigger:
    """A bucket, a Pass machine and a rule on ``uploads/`` whose target role and DLQ a test chooses."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.mocks = EmulatorMocks(TRANSLATORS, region=REGION, clients=sandbox.client)
        self.suffix = uuid.uuid4().hex[:8]
        self.bucket = self.declare("aws:s3/bucket:Bucket", "bucket", bucket=f"b-{self.suffix}")["bucket"]
        self.declare("aws:s3/bucketNotification:BucketNotification", "notes", bucket=self.bucket, eventbridge=True)
        machine_role = self.declare("aws:iam/role:Role", "m", name=self.name("m"), assumeRolePolicy=trust(_STATES))
        self.machine = self.declare(
            "aws:sfn/stateMachine:StateMachine",
            "machine",
            name=self.name("machine"),
            roleArn=machine_role["arn"],
            definition=PASS,
        )["arn"]
        self.rule = self.declare(
            "aws:cloudwatch/eventRule:EventRule",
            "rule",
            name=self.name("rule"),
            eventPattern=json.dumps(object_created_pattern(self.bucket, "uploads/")),
        )

    def name(self, base: str) -> str:
        return f"{base}-{self.suffix}"

    def declare(self, typ: str, logical: str, /, **inputs) -> dict:
        return self.mocks.create(DeclaredResource(typ, self.name(logical), inputs))[1]

    def role(self, assume_role_policy: str, *policies: str) -> str:
        name = self.name(f"target-{uuid.uuid4().hex[:4]}")
        arn = self.declare("aws:iam/role:Role", name, name=name, assumeRolePolicy=assume_role_policy)["arn"]
        for index, policy in enumerate(policies):
            self.sandbox.client("iam").put_role_policy(RoleName=name, PolicyName=f"p{index}", PolicyDocument=policy)
        return arn

    def dead_letter_queue(self) -> dict:
        queue = self.declare("aws:sqs/queue:Queue", "dlq", name=self.name("dlq"))
        statement = {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue["arn"],
            "Condition": {"ArnEquals": {"aws:SourceArn": self.rule["arn"]}},
        }
        self.declare(
            "aws:sqs/queuePolicy:QueuePolicy",
            "dlq-policy",
            queueUrl=queue["url"],
            policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )
        return queue

    def target(self, role_arn: str, **extra) -> None:
        self.declare(
            "aws:cloudwatch/eventTarget:EventTarget",
            "target",
            rule=self.rule["name"],
            arn=self.machine,
            roleArn=role_arn,
            retryPolicy={"maximumRetryAttempts": 3.0, "maximumEventAgeInSeconds": 3600.0},
            **extra,
        )

    def events_trust(self, rule_arn: str | None = None) -> str:
        return trust(
            "events.amazonaws.com",
            StringEquals={"aws:SourceAccount": ACCOUNT_ID},
            ArnLike={"aws:SourceArn": rule_arn or self.rule["arn"]},
        )

    def executions(self) -> list:
        return self.sandbox.client("stepfunctions").list_executions(stateMachineArn=self.machine)["executions"]


_STATES = "states.amazonaws.com"


def test_a_target_role_without_start_execution_is_denied_and_the_event_lands_in_the_dead_letter_queue(sandbox):
    trigger = Trigger(sandbox)
    role = trigger.role(trigger.events_trust())  # trusted by EventBridge, but no grant
    queue = trigger.dead_letter_queue()
    trigger.target(role, deadLetterConfig={"arn": queue["arn"]})
    denials_before = len(sandbox.iam.denials)

    (delivery,) = _upload(sandbox, trigger.bucket, "uploads/a.json")

    assert delivery.status == "DEAD_LETTERED"
    assert delivery.error_code == "NO_PERMISSIONS" and "states:StartExecution" in delivery.error_message
    assert delivery.attempts == 1  # a permissions error is not retried
    assert trigger.executions() == []
    assert any(d.action == "states:StartExecution" for d in sandbox.iam.denials[denials_before:])
    (message,) = sandbox.client("sqs").receive_message(
        QueueUrl=queue["url"], MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert json.loads(message["Body"]) == delivery.event
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert attributes["RULE_ARN"] == trigger.rule["arn"] and attributes["TARGET_ARN"] == trigger.machine
    assert attributes["RETRY_ATTEMPTS"] == "0"

    # The same target once granted: the next upload starts the machine.
    sandbox.client("iam").put_role_policy(
        RoleName=role.rsplit("/", 1)[-1],
        PolicyName="start",
        PolicyDocument=allow("states:StartExecution", trigger.machine),
    )
    (granted,) = _upload(sandbox, trigger.bucket, "uploads/b.json")
    assert granted.status == "STARTED", granted.error_message
    assert sandbox.wait(granted.execution_arn).status == "SUCCEEDED"


def test_without_a_dead_letter_queue_the_undelivered_event_is_recorded_and_dropped(sandbox):
    trigger = Trigger(sandbox)
    trigger.target(trigger.role(trigger.events_trust()))

    (delivery,) = _upload(sandbox, trigger.bucket, "uploads/a.json")

    assert (delivery.status, delivery.error_code) == ("FAILED", "NO_PERMISSIONS")
    assert trigger.executions() == []


@pytest.mark.parametrize(
    "who",
    ["another service", "another rule"],
)
def test_a_role_events_cannot_assume_is_refused_by_its_trust_policy(sandbox, who):
    trigger = Trigger(sandbox)
    grant = allow("states:StartExecution", trigger.machine)
    if who == "another service":
        role = trigger.role(trust("scheduler.amazonaws.com"), grant)
    else:
        role = trigger.role(trigger.events_trust(trigger.rule["arn"] + "-other"), grant)
    queue = trigger.dead_letter_queue()
    trigger.target(role, deadLetterConfig={"arn": queue["arn"]})

    (delivery,) = _upload(sandbox, trigger.bucket, "uploads/a.json")

    assert delivery.status == "DEAD_LETTERED"
    assert delivery.error_code == "NO_PERMISSIONS"
    assert f"events.amazonaws.com cannot assume role {role}" in delivery.error_message
    assert trigger.executions() == []
    assert sandbox.iam.denials[-1].action == "sts:AssumeRole"


def test_a_dead_letter_queue_whose_policy_does_not_admit_the_rule_gets_nothing(sandbox):
    trigger = Trigger(sandbox)
    queue = trigger.declare("aws:sqs/queue:Queue", "bare-dlq", name=trigger.name("bare"))  # no queue policy
    trigger.target(trigger.role(trigger.events_trust()), deadLetterConfig={"arn": queue["arn"]})

    (delivery,) = _upload(sandbox, trigger.bucket, "uploads/a.json")

    assert delivery.status == "FAILED" and "no policy" in delivery.dead_letter_error
    assert "Messages" not in sandbox.client("sqs").receive_message(QueueUrl=queue["url"])


def test_the_target_input_and_input_transformer_replace_the_event(sandbox):
    trigger = Trigger(sandbox)
    role = trigger.role(trigger.events_trust(), allow("states:StartExecution", trigger.machine))
    trigger.target(
        role,
        inputTransformer={
            "inputPaths": {
                "bucket": "$.detail.bucket.name",
                "key": "$.detail.object.key",
                "size": "$.detail.object.size",
            },
            "inputTemplate": '{"object": "s3://<bucket>/<key>", "size": <size>, "rule": "<aws.events.rule-arn>"}',
        },
    )

    (delivery,) = _upload(sandbox, trigger.bucket, "uploads/a b.json", b"abc")

    assert sandbox.wait(delivery.execution_arn).output == {
        "object": f"s3://{trigger.bucket}/uploads/a+b.json",
        "size": 3,
        "rule": trigger.rule["arn"],
    }


def test_input_and_input_path():
    event = {"detail": {"object": {"key": "k"}}}
    assert target_input({"Input": '{"fixed": 1}'}, event, "arn:r") == '{"fixed": 1}'
    assert json.loads(target_input({"InputPath": "$.detail.object"}, event, "arn:r")) == {"key": "k"}
    assert json.loads(target_input({}, event, "arn:r")) == event


# --- the retry policy, without a sandbox ---------------------------------------------------------------------


class _FakeIam:
    account = ACCOUNT_ID

    def __init__(self, client):
        self.sfn = client

    def assume(self, role_arn, principal, source_arn=None, session_name=None):
        assert (principal, source_arn) == ("events.amazonaws.com", "arn:aws:events:us-west-2:1:rule/r")
        return object()

    def client_for(self, credentials, service, region, config=None):
        return self.sfn


class _Throttled:
    """StartExecution answering ThrottlingException ``failures`` times, then starting."""

    def __init__(self, failures: int):
        self.failures, self.calls = failures, 0

    def start_execution(self, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}, "ResponseMetadata": {}},
                "StartExecution",
            )
        return {"executionArn": f"{kwargs['stateMachineArn']}:{kwargs['name']}"}


MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:m"


@pytest.mark.parametrize(("failures", "status", "attempts"), [(2, "STARTED", 3), (4, "FAILED", 4)])
def test_throttling_is_retried_up_to_the_retry_policy(failures, status, attempts):
    sfn = _Throttled(failures)
    router = EventRouter(_FakeIam(sfn), REGION)
    target = {"Id": "t", "Arn": MACHINE, "RoleArn": "role", "RetryPolicy": {"MaximumRetryAttempts": 3}}
    delivery = Delivery("arn:aws:events:us-west-2:1:rule/r", "t", MACHINE, {"detail": {}})

    router._deliver(delivery, target)

    assert (delivery.status, delivery.attempts) == (status, attempts)
    if status == "FAILED":
        assert delivery.error_code == "THROTTLING"
