"""Encryption at rest: every log group, secret, table, topic and queue under a key the program declares,
and log groups retained and admitted by their key."""

from __future__ import annotations

from collections.abc import Iterator

from infra.hardening import policy as p
from infra.hardening.index import LOG_GROUP, QUEUE, RDS_INSTANCE, SECRET, TABLE, TOPIC, Index, get, number
from infra.hardening.model import RuleSet
from infra.sandbox.mocks import DeclaredResource

RULES = RuleSet()

Problems = Iterator[tuple[DeclaredResource, str]]


def _not_a_declared_key(ix: Index, ref: object, what: str) -> str | None:
    if ref in (None, ""):
        return f"{what} is not set: encrypted with an AWS-owned or AWS-managed key, not a customer-managed one"
    if ix.key(ref) is None:
        return f"{what} {ref} is not a key this program declares"
    return None


def _without_declared_key(ix: Index, typ: str, field: str) -> Problems:
    """Every resource of ``typ`` whose ``field`` does not name a key the program declares."""
    for resource in ix.of_type(typ):
        problem = _not_a_declared_key(ix, get(resource, field), field)
        if problem:
            yield resource, problem


@RULES.rule(
    "SW-LOG1",
    "log groups under a customer-managed key",
    "Every log group (Lambda, state machine, API access, RDS, flow logs) is encrypted with a declared KMS key.",
    (LOG_GROUP,),
)
def log_group_cmk(ix: Index) -> Problems:
    yield from _without_declared_key(ix, LOG_GROUP, "kmsKeyId")


# What CloudWatch Logs needs of a log group's key ("Encrypt log data in CloudWatch Logs using AWS
# KMS", step 2; the documented statement also grants kms:ReEncrypt* and kms:Describe*).
LOGS_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")


def key_admits_log_group(ix: Index, key: DeclaredResource, group: DeclaredResource, action: str) -> bool:
    """The key policy lets CloudWatch Logs call ``action`` under this log group's encryption context."""
    service = f"logs.{ix.region}.amazonaws.com"
    arn = ix.log_group_arn(group)
    for statement in ix.key_statements(key):
        if not (p.allows(statement) and p.covers(statement, action) and service in p.principals(statement, "Service")):
            continue
        if p.resource_matches(statement, ix.key_arn(key)) and p.condition_admits(
            statement, "kms:EncryptionContext:aws:logs:arn", arn
        ) in (None, True):
            return True
    return False


@RULES.rule(
    "SW-LOG2",
    "log group key admits CloudWatch Logs",
    "The key of every log group lets logs.<region>.amazonaws.com Encrypt, Decrypt and GenerateDataKey with a "
    "kms:EncryptionContext:aws:logs:arn condition (ArnLike) that matches the log group's ARN; otherwise AWS "
    "refuses to create the log group.",
    (LOG_GROUP,),
)
def log_key_admits_logs(ix: Index) -> Problems:
    for group in ix.of_type(LOG_GROUP):
        key = ix.key(get(group, "kmsKeyId"))
        if key is None:
            continue  # SW-LOG1
        missing = [a for a in LOGS_KEY_ACTIONS if not key_admits_log_group(ix, key, group, a)]
        if missing:
            message = (
                f"key {key.name} does not let logs.{ix.region}.amazonaws.com {', '.join(missing)} for "
                f"{ix.log_group_arn(group)} (no statement whose aws:logs:arn encryption context matches it)"
            )
            yield group, message


@RULES.rule(
    "SW-LOG3",
    "log retention",
    "Every log group has a retention (retentionInDays), so logs are not kept, and paid for, forever.",
    (LOG_GROUP,),
)
def log_retention(ix: Index) -> Problems:
    for group in ix.of_type(LOG_GROUP):
        days = number(get(group, "retentionInDays"))
        if days is None or days <= 0:
            yield group, "retentionInDays is not set: events are kept forever"


@RULES.rule(
    "SW-SEC1",
    "secrets under a customer-managed key",
    "Every Secrets Manager secret, including the master-user secret RDS manages (masterUserSecretKmsKeyId), is "
    "encrypted with a declared KMS key.",
    (SECRET, RDS_INSTANCE),
)
def secret_cmk(ix: Index) -> Problems:
    for resource, _, key_ref in ix.secrets():
        what = "masterUserSecretKmsKeyId" if resource.typ == RDS_INSTANCE else "kmsKeyId"
        problem = _not_a_declared_key(ix, key_ref, what)
        if problem:
            yield resource, problem


@RULES.rule(
    "SW-DDB1",
    "tables under a customer-managed key",
    "Every DynamoDB table has serverSideEncryption enabled with kmsKeyArn a declared KMS key.",
    (TABLE,),
)
def table_cmk(ix: Index) -> Problems:
    for table in ix.of_type(TABLE):
        if get(table, "serverSideEncryption", "enabled") is not True:
            yield table, "serverSideEncryption is not enabled: the table uses the AWS-owned key"
            continue
        key_ref = get(table, "serverSideEncryption", "kmsKeyArn")
        problem = _not_a_declared_key(ix, key_ref, "serverSideEncryption.kmsKeyArn")
        if problem:
            yield table, problem


@RULES.rule(
    "SW-SNS1",
    "topics under a customer-managed key",
    "Every SNS topic has kmsMasterKeyId a declared KMS key.",
    (TOPIC,),
)
def topic_cmk(ix: Index) -> Problems:
    yield from _without_declared_key(ix, TOPIC, "kmsMasterKeyId")


@RULES.rule(
    "SW-SQS1",
    "queues under a customer-managed key",
    "Every SQS queue has kmsMasterKeyId a declared KMS key (not SSE-SQS, not the AWS-managed aws/sqs key, which "
    "EventBridge and S3 cannot use).",
    (QUEUE,),
)
def queue_cmk(ix: Index) -> Problems:
    yield from _without_declared_key(ix, QUEUE, "kmsMasterKeyId")
