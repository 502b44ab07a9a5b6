"""NotificationTopic: an encrypted SNS topic people subscribe to by e-mail (alerts, reports).

- encrypted with the pipeline's customer-managed key: whoever publishes needs
  ``kms:GenerateDataKey``/``kms:Decrypt`` on it (``grants.topic_publish`` adds them), and the
  key policy admits the pipeline's roles;
- a policy that denies every request not made over TLS and lets only this account's principals
  (whose IAM policies must still grant ``sns:Publish``) publish, and the AWS services named in
  ``service_publishers`` for their sources in this account (CloudWatch for the stack's alarms);
- one ``email`` subscription per address in config. AWS sends each address a confirmation
  link; nothing is delivered to it until someone clicks it (README, "Subscriptions").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import grants as g
from infra.components.stack import PipelineOwner


@dataclass(frozen=True)
class ServicePublisher:
    """An AWS service that publishes to the topic for sources of this account matching ``source_arn``."""

    sid: str
    principal: str
    source_arn: pulumi.Input[str]


def topic_policy(
    topic_arn: str, account_id: str, publishers: Sequence[tuple[ServicePublisher, str]] = ()
) -> dict[str, Any]:
    """TLS only; the account's own principals may publish, and each service publisher for its
    resolved source pattern, from this account only (pure)."""
    statements = [
        g.deny_insecure_transport("sns:Publish", topic_arn),
        {
            "Sid": "AccountPublishes",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
        },
    ]
    for publisher, source_arn in publishers:
        statements.append(
            {
                "Sid": publisher.sid,
                "Effect": "Allow",
                "Principal": {"Service": publisher.principal},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": source_arn},
                },
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass
class NotificationTopicArgs:
    """The pipeline the topic belongs to, what it is for (``suffix``), its key and who is subscribed.

    The physical name is ``<owner>-<suffix>`` (``sw-dev-daily-analysis-alerts``); tags and the
    account the policy admits come from the owner.
    """

    owner: PipelineOwner
    suffix: str
    display_name: str
    key_arn: pulumi.Input[str]
    emails: Sequence[str] = ()
    # Services that publish (their key use is the key policy's: ``ServiceKeyUse``).
    service_publishers: Sequence[ServicePublisher] = ()

    @property
    def topic_name(self) -> str:
        return f"{self.owner.stack.owner(self.owner.pipeline)}-{self.suffix}"


class NotificationTopic(pulumi.ComponentResource):
    """The topic, its policy and its e-mail subscriptions; ``arn`` for publishers."""

    def __init__(self, name: str, args: NotificationTopicArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:NotificationTopic", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=args.topic_name,
            display_name=args.display_name[:100],
            kms_master_key_id=args.key_arn,
            tags=args.owner.tags,
            opts=child,
        )
        publishers = list(args.service_publishers)
        policy = pulumi.Output.all(
            self.topic.arn, args.owner.stack.account_id, *[p.source_arn for p in publishers]
        ).apply(lambda v: json.dumps(topic_policy(v[0], v[1], list(zip(publishers, v[2:], strict=True))), indent=2))
        self.policy = aws.sns.TopicPolicy(f"{name}-policy", arn=self.topic.arn, policy=policy, opts=child)
        self.subscriptions = [
            aws.sns.TopicSubscription(
                f"{name}-email-{index}", topic=self.topic.arn, protocol="email", endpoint=address, opts=child
            )
            for index, address in enumerate(args.emails)
        ]
        self.arn = self.topic.arn
        self.register_outputs({"arn": self.arn})
