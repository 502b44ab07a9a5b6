"""S3ObjectCreated: an object created under a key prefix starts a state machine, through EventBridge.

The bucket sends its events to EventBridge; a rule on ``Object Created`` under the prefix targets
the state machine (or, ``once_per_object``, a small EXPRESS router naming each run by the object
write, so a redelivered event never starts a second run) with its own role, a retry policy and,
optionally, a dead-letter queue.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import asl
from infra import integrations as i
from infra.components.key import ServiceKeyUse
from infra.components.pipeline import StepFunctionPipeline, StepFunctionPipelineArgs
from infra.components.queue import DeadLetterQueue, DeadLetterQueueArgs
from infra.components.stack import PipelineOwner
from infra.components.triggers import start_execution_role


@dataclass
class S3ObjectCreatedArgs:
    """Start the state machine for every object created under ``prefix`` of ``bucket_name``.

    ``once_per_object``: EventBridge delivers at least once and cannot name the execution it
    starts, so the rule starts a small EXPRESS router instead, which starts the state machine under
    a name hashed from bucket, key, ETag and sequencer: a duplicate event is refused by Step
    Functions (ExecutionAlreadyExists) and ends the router quietly. The router logs, like every
    machine, to a log group under ``key_arn``. ``dead_letter_arn``: an SQS queue for events the
    rule could not deliver (its policy must admit ``events.amazonaws.com`` from the rule, and its key
    EventBridge).
    """

    owner: PipelineOwner
    state_machine_arn: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    prefix: str
    once_per_object: bool = False
    key_arn: pulumi.Input[str] | None = None
    dead_letter_arn: pulumi.Input[str] | None = None
    # Names the rule ``<owner>-<label>`` (see ``object_rule_arn``: a key or queue policy can name it first).
    label: str = "objects"


def object_rule_name(owner: PipelineOwner, label: str = "objects") -> str:
    """The physical name of an ``S3ObjectCreated`` rule: ``sw-dev-uploads-objects`` (at most 64 characters)."""
    return f"{owner.stack.owner(owner.pipeline)}-{label}"[:64]


def object_rule_arn(owner: PipelineOwner, label: str = "objects") -> pulumi.Output[str]:
    """The rule's ARN before it exists: what a dead-letter queue's key policy admits EventBridge for."""
    return owner.stack.arn("events", f"rule/{object_rule_name(owner, label)}")


# The S3 event fields that identify one write of one object: a redelivered event repeats them all.
OBJECT_WRITE = "$.detail.bucket.name, $.detail.object.key, $.detail.object.etag, $.detail.object.sequencer"
EXECUTION_NAME = f"States.Hash(States.Format('{{}}/{{}}/{{}}/{{}}', {OBJECT_WRITE}), 'SHA-256')"


def object_router_definition(refs: Mapping[str, Any]) -> asl.Definition:
    """Start ``refs["target"]`` with the event, named by the object write it reports (64 hex characters)."""
    start = i.start_execution(
        refs["target"],
        name_path=EXECUTION_NAME,
        already_started_to="AlreadyStarted",
        next_state=None,
        timeout_s=60,
        catch_to="Failed",
        comment="A second event for the same object write finds its name taken.",
    )
    return asl.Definition.of(
        {
            "Comment": "Starts the pipeline once per object write, whatever EventBridge redelivers.",
            "StartAt": "StartOncePerObject",
            "States": {
                "StartOncePerObject": start,
                "AlreadyStarted": {"Type": "Succeed", "Comment": "A redelivered event: its run exists."},
                "Failed": asl.fail_with_cause("Could not start the pipeline"),
            },
        }
    )


def object_created_pattern(bucket_name: str, prefix: str) -> dict[str, Any]:
    """The EventBridge pattern matching Object Created events under ``prefix`` of one bucket."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket_name]}, "object": {"key": [{"prefix": prefix}]}},
    }


class S3ObjectCreated(pulumi.ComponentResource):
    """Bucket EventBridge notifications, a rule on a key prefix and a target role."""

    def __init__(self, name: str, args: S3ObjectCreatedArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:S3ObjectCreated", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.notification = aws.s3.BucketNotification(
            f"{name}-notifications", bucket=args.bucket_name, eventbridge=True, opts=child
        )
        self.rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            name=object_rule_name(args.owner, args.label),
            description=f"Object Created under {args.prefix}",
            event_pattern=pulumi.Output.from_input(args.bucket_name).apply(
                lambda bucket: json.dumps(object_created_pattern(bucket, args.prefix))
            ),
            tags=args.owner.tags,
            opts=child,
        )
        target_arn = args.state_machine_arn
        if args.once_per_object:
            if args.key_arn is None:
                raise ValueError("once_per_object needs key_arn: the router's log group is encrypted with it")
            self.router = StepFunctionPipeline(
                f"{name}-router",
                StepFunctionPipelineArgs(
                    pipeline=args.owner.pipeline,
                    stack=args.owner.stack,
                    key_arn=args.key_arn,
                    functions={},
                    render_definition=object_router_definition,
                    references={"target": args.state_machine_arn},
                    machine="start",
                    express=True,
                ),
                opts=child,
            )
            target_arn = self.router.arn
        self.role, policy = start_execution_role(
            f"{name}-target", "events.amazonaws.com", target_arn, args.owner, self, self.rule.arn
        )
        dead_letter = args.dead_letter_arn
        self.target = aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=self.rule.name,
            arn=target_arn,
            role_arn=self.role.arn,
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_retry_attempts=3, maximum_event_age_in_seconds=3600
            ),
            dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dead_letter) if dead_letter else None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.register_outputs({"ruleName": self.rule.name})


def dead_letters_key_use(owner: PipelineOwner, label: str = "objects") -> ServiceKeyUse:
    """What the pipeline key must admit for ``upload_trigger``'s dead letters: EventBridge, for that rule only."""
    return ServiceKeyUse(
        "EventBridgeDeadLetters", "events.amazonaws.com", ("kms:GenerateDataKey", "kms:Decrypt"),
        object_rule_arn(owner, label),
    )  # fmt: skip


def upload_trigger(
    name: str,
    owner: PipelineOwner,
    *,
    key_arn: pulumi.Input[str],
    state_machine_arn: pulumi.Input[str],
    bucket_name: pulumi.Input[str],
    prefix: str,
    parent: pulumi.Resource,
) -> tuple[DeadLetterQueue, S3ObjectCreated]:
    """What a pipeline started by uploads under ``prefix`` declares: the once-per-object trigger
    (``<name>-objects``) and the encrypted queue for the events its rule cannot deliver
    (``<name>-undelivered``), both children of ``parent``. Its key must admit ``dead_letters_key_use``."""
    child = pulumi.ResourceOptions(parent=parent)
    stack = owner.stack
    dead_letters = DeadLetterQueue(
        f"{name}-undelivered",
        DeadLetterQueueArgs(
            queue_name=f"{stack.owner(owner.pipeline)}-undelivered-events",
            key_arn=key_arn,
            account_id=stack.account_id,
            service="events.amazonaws.com",
            source_arn=object_rule_arn(owner),
            tags=owner.tags,
        ),
        opts=child,
    )
    trigger = S3ObjectCreated(
        f"{name}-objects",
        S3ObjectCreatedArgs(
            owner=owner,
            state_machine_arn=state_machine_arn,
            bucket_name=bucket_name,
            prefix=prefix,
            once_per_object=True,
            key_arn=key_arn,
            dead_letter_arn=dead_letters.arn,
        ),
        opts=child,
    )
    return dead_letters, trigger
