"""DeadLetterQueue: an encrypted SQS queue that one AWS service may send to, for one source only.

Where an AWS service gives up delivering (an EventBridge rule's target, say), it sends the
message to a dead-letter queue so nothing is lost silently. The queue:

- is encrypted with the pipeline's customer-managed key (the key policy must also admit the
  service for that source: ``key.ServiceKeyUse``, or the service's sends fail in AWS though the
  emulator accepts them; the rule pack's SW-KMS check catches a missing one);
- keeps messages for the SQS maximum, 14 days, so an operator has time to look and redrive;
- has a policy denying every request not made over TLS and letting exactly ``service`` send,
  with ``aws:SourceArn`` = ``source_arn`` and ``aws:SourceAccount`` = the stack's account.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import grants as g

MAX_RETENTION_S = 14 * 24 * 3600
# How long SQS reuses a data key before asking KMS again (the default; fewer KMS calls, same key).
DATA_KEY_REUSE_S = 300


def dead_letter_policy(queue_arn: str, account_id: str, service: str, source_arn: str) -> dict[str, Any]:
    """TLS only, and ``service`` may send for ``source_arn`` of ``account_id`` (pure)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            g.deny_insecure_transport("sqs:*", queue_arn),
            {
                "Sid": "ServiceSendsUndelivered",
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": source_arn},
                    "StringEquals": {"aws:SourceAccount": account_id},
                },
            },
        ],
    }


@dataclass
class DeadLetterQueueArgs:
    """The queue's physical name, its key, and the one service and source that may send to it."""

    queue_name: str
    key_arn: pulumi.Input[str]
    account_id: pulumi.Input[str]
    service: str
    source_arn: pulumi.Input[str]
    tags: Mapping[str, str] = field(default_factory=dict)


class DeadLetterQueue(pulumi.ComponentResource):
    """The queue and its policy; ``arn`` and ``url`` for the sender's configuration and for operators."""

    def __init__(self, name: str, args: DeadLetterQueueArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:DeadLetterQueue", name, None, opts)
        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            name=args.queue_name,
            kms_master_key_id=args.key_arn,
            kms_data_key_reuse_period_seconds=DATA_KEY_REUSE_S,
            message_retention_seconds=MAX_RETENTION_S,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = pulumi.Output.all(self.queue.arn, args.account_id, args.source_arn).apply(
            lambda v: json.dumps(dead_letter_policy(v[0], v[1], args.service, v[2]), indent=2)
        )
        aws.sqs.QueuePolicy(
            f"{name}-policy", queue_url=self.queue.url, policy=policy, opts=pulumi.ResourceOptions(parent=self.queue)
        )
        self.arn = self.queue.arn
        self.url = self.queue.url
        self.register_outputs({"arn": self.arn, "url": self.url})
