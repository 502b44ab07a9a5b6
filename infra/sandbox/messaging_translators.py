"""Translations of the SNS and SQS types: topics, queues and their policies."""

from __future__ import annotations

from typing import Any

from infra.sandbox.translator_support import _client, _name, _tags_list


def sns_topic(mocks, r):
    inputs = r.inputs
    name = _name(r, 256)
    if inputs.get("fifoTopic") and not name.endswith(".fifo"):
        name = f"{name[:251]}.fifo"
    attributes = {
        key: str(inputs[field]).lower() if isinstance(inputs[field], bool) else str(inputs[field])
        for field, key in (
            ("kmsMasterKeyId", "KmsMasterKeyId"),
            ("policy", "Policy"),
            ("displayName", "DisplayName"),
            ("fifoTopic", "FifoTopic"),
            ("contentBasedDeduplication", "ContentBasedDeduplication"),
            ("deliveryPolicy", "DeliveryPolicy"),
            ("signatureVersion", "SignatureVersion"),
            ("tracingConfig", "TracingConfig"),
        )
        if inputs.get(field) not in (None, "")
    }
    created = _client(mocks, "sns").create_topic(Name=name, Attributes=attributes, Tags=_tags_list(inputs.get("tags")))
    arn = created["TopicArn"]
    return arn, {"arn": arn, "name": name, "kmsMasterKeyId": inputs.get("kmsMasterKeyId", "")}


def sns_topic_policy(mocks, r):
    _client(mocks, "sns").set_topic_attributes(
        TopicArn=r.inputs["arn"], AttributeName="Policy", AttributeValue=r.inputs["policy"]
    )
    return r.inputs["arn"], {"arn": r.inputs["arn"], "policy": r.inputs["policy"]}


_QUEUE_ATTRIBUTES = (
    ("kmsMasterKeyId", "KmsMasterKeyId"),
    ("kmsDataKeyReusePeriodSeconds", "KmsDataKeyReusePeriodSeconds"),
    ("sqsManagedSseEnabled", "SqsManagedSseEnabled"),
    ("messageRetentionSeconds", "MessageRetentionPeriod"),
    ("visibilityTimeoutSeconds", "VisibilityTimeout"),
    ("delaySeconds", "DelaySeconds"),
    ("maxMessageSize", "MaximumMessageSize"),
    ("receiveWaitTimeSeconds", "ReceiveMessageWaitTimeSeconds"),
    ("policy", "Policy"),
    ("redrivePolicy", "RedrivePolicy"),
    ("fifoQueue", "FifoQueue"),
    ("contentBasedDeduplication", "ContentBasedDeduplication"),
)


def _attribute_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():  # Pulumi numbers arrive as floats
        return str(int(value))
    return str(value)


def sqs_queue(mocks, r):
    inputs = r.inputs
    name = _name(r, 80)
    if inputs.get("fifoQueue") and not name.endswith(".fifo"):
        name = f"{name[:75]}.fifo"
    attributes = {
        key: _attribute_value(inputs[field])
        for field, key in _QUEUE_ATTRIBUTES
        if inputs.get(field) not in (None, "")
        and not (field == "fifoQueue" and not inputs[field])  # FifoQueue=false is refused by SQS
    }
    sqs = _client(mocks, "sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes, tags=inputs.get("tags") or {})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, {"arn": arn, "url": url, "name": name, "kmsMasterKeyId": inputs.get("kmsMasterKeyId", "")}


def sqs_queue_policy(mocks, r):
    _client(mocks, "sqs").set_queue_attributes(QueueUrl=r.inputs["queueUrl"], Attributes={"Policy": r.inputs["policy"]})
    return r.inputs["queueUrl"], {"queueUrl": r.inputs["queueUrl"], "policy": r.inputs["policy"]}


MESSAGING_TRANSLATORS = {
    "aws:sns/topic:Topic": sns_topic,
    "aws:sns/topicPolicy:TopicPolicy": sns_topic_policy,
    "aws:sqs/queue:Queue": sqs_queue,
    "aws:sqs/queuePolicy:QueuePolicy": sqs_queue_policy,
}
