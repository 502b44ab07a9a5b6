"""S3 buckets (the SecureBucket properties and the stack's log bucket), and TLS-only topic and queue policies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infra.hardening import policy as p
from infra.hardening.index import BUCKET, BUCKET_LOGGING, BUCKET_POLICY, QUEUE, TOPIC, Index, get, number
from infra.hardening.model import Exemption, RuleSet, Selector
from infra.sandbox.mocks import DeclaredResource

RULES = RuleSet()

PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
S3_LOGGING_PRINCIPAL = "logging.s3.amazonaws.com"

Problems = Iterator[tuple[DeclaredResource, str]]

# AWS: "Server access log target buckets support only SSE-S3 default encryption" (S3 User Guide,
# "Enabling Amazon S3 server access logging"): deliveries into an SSE-KMS bucket are dropped.
LOG_BUCKET_SSE_S3 = Exemption(
    Selector(
        BUCKET,
        "the stack's log bucket, encrypted with SSE-S3 (AES256)",
        where=lambda bucket, ix: ix.is_log_bucket(bucket) and ix.sse_algorithms(bucket) == {"AES256"},
    ),
    "the stack's log bucket: S3 server access logging cannot deliver into an SSE-KMS bucket, so it is encrypted "
    "with SSE-S3 (the only default encryption a log target supports)",
)
LOG_BUCKET_NOT_LOGGED = Exemption(
    Selector(
        BUCKET,
        "the stack's log bucket, which logs nowhere",
        where=lambda bucket, ix: ix.is_log_bucket(bucket) and not ix.companions(bucket, BUCKET_LOGGING),
    ),
    "the stack's log bucket does not log to itself: every delivery would write another log record about "
    "itself (AWS advises against a bucket being its own target)",
)


def _one(ix: Index, bucket: DeclaredResource, typ: str, what: str) -> tuple[DeclaredResource | None, str | None]:
    found = ix.companions(bucket, typ)
    if not found:
        return None, f"no {what} ({typ.rsplit(':', 1)[-1]})"
    if len(found) > 1:
        return None, f"{len(found)} {what} resources for one bucket: S3 keeps only the last one applied"
    return found[0], None


@RULES.rule(
    "SW-BKT1",
    "bucket public access blocked",
    "Every bucket has a public access block with all four settings true.",
    (BUCKET,),
)
def public_access_blocked(ix: Index) -> Problems:
    settings = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket in ix.of_type(BUCKET):
        block, problem = _one(ix, bucket, PUBLIC_ACCESS_BLOCK, "public access block")
        if problem:
            yield bucket, problem
            continue
        off = [s for s in settings if get(block, s) is not True]
        if off:
            yield bucket, f"public access block leaves {', '.join(off)} off"


def _default_encryption(rule: dict[str, Any]) -> dict[str, Any]:
    default = rule.get("applyServerSideEncryptionByDefault") or {}
    default = default[0] if isinstance(default, list) and default else default
    return default if isinstance(default, dict) else {}


@RULES.rule(
    "SW-BKT2",
    "bucket SSE-KMS with a bucket key",
    "Every bucket's default encryption is SSE-KMS under a declared key with the S3 bucket key enabled.",
    (BUCKET,),
    exemptions=(LOG_BUCKET_SSE_S3,),
)
def bucket_sse_kms(ix: Index) -> Problems:
    for bucket in ix.of_type(BUCKET):
        rules = ix.sse_rules(bucket)
        if not rules:
            yield bucket, "no default encryption configuration (SSE-KMS under a declared key wanted)"
            continue
        for rule in rules:
            default = _default_encryption(rule)
            algorithm = default.get("sseAlgorithm")
            if algorithm not in ("aws:kms", "aws:kms:dsse"):
                yield bucket, f"default encryption is {algorithm}, not SSE-KMS"
            elif ix.key(default.get("kmsMasterKeyId")) is None:
                message = (
                    f"SSE-KMS key {default.get('kmsMasterKeyId') or '(unset: the AWS-managed aws/s3 key)'} is not "
                    "a key this program declares"
                )
                yield bucket, message
            elif rule.get("bucketKeyEnabled") is not True:
                yield bucket, "bucketKeyEnabled is not true: every object operation calls KMS"


@RULES.rule(
    "SW-BKT3",
    "bucket versioning",
    "Every bucket has versioning enabled.",
    (BUCKET,),
)
def bucket_versioning(ix: Index) -> Problems:
    for bucket in ix.of_type(BUCKET):
        if get(bucket, "versioning", "enabled") is True:
            continue
        versioning, problem = _one(ix, bucket, VERSIONING, "versioning configuration")
        if problem:
            yield bucket, problem
        elif get(versioning, "versioningConfiguration", "status") != "Enabled":
            yield bucket, f"versioning status is {get(versioning, 'versioningConfiguration', 'status')}, not Enabled"


def _bucket_policy_statements(ix: Index, bucket: DeclaredResource) -> list[dict[str, Any]]:
    return [s for policy in ix.companions(bucket, BUCKET_POLICY) for s in p.statements(policy.inputs.get("policy"))]


def _tls_deny_covers(statement: dict[str, Any], actions: tuple[str, ...], arns: tuple[str, ...]) -> bool:
    return (
        p.denies_insecure_transport(statement)
        and all(p.covers(statement, a) for a in actions)
        and all(p.resource_matches(statement, arn) for arn in arns)
    )


@RULES.rule(
    "SW-BKT4",
    "bucket TLS-only policy",
    "Every bucket's policy denies every s3 action to everyone when aws:SecureTransport is false, on the bucket "
    "and on its objects.",
    (BUCKET,),
)
def bucket_tls_only(ix: Index) -> Problems:
    for bucket in ix.of_type(BUCKET):
        arn = ix.bucket_arn(bucket)
        arns = (arn, f"{arn}/any-object")
        actions = ("s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject", "s3:PutBucketPolicy")
        if not any(_tls_deny_covers(s, actions, arns) for s in _bucket_policy_statements(ix, bucket)):
            message = (
                "no bucket policy statement denies s3:* to everyone on the bucket and its objects when "
                "aws:SecureTransport is false"
            )
            yield bucket, message


def _whole_bucket(rule: dict[str, Any]) -> bool:
    if rule.get("prefix"):
        return False
    scope = rule.get("filter")
    scope = scope[0] if isinstance(scope, list) and scope else scope
    if not scope:
        return True
    return isinstance(scope, dict) and not any(v for v in scope.values())


@RULES.rule(
    "SW-BKT5",
    "bucket aborts incomplete multipart uploads",
    "Every bucket has an enabled lifecycle rule over the whole bucket that aborts incomplete multipart uploads "
    "(their parts are stored, and billed, until aborted); caller-given expirations come in addition.",
    (BUCKET,),
)
def bucket_aborts_multipart(ix: Index) -> Problems:
    for bucket in ix.of_type(BUCKET):
        rules = [
            r
            for config in ix.companions(bucket, LIFECYCLE)
            for r in p.as_list(get(config, "rules"))
            if isinstance(r, dict)
        ]
        aborting = [r for r in rules if r.get("status") == "Enabled" and (get_days(r) or 0) > 0 and _whole_bucket(r)]
        if not aborting:
            message = (
                "no enabled whole-bucket lifecycle rule with abortIncompleteMultipartUpload.daysAfterInitiation"
                if rules
                else "no lifecycle configuration (an abortIncompleteMultipartUpload rule is wanted)"
            )
            yield bucket, message


def get_days(rule: dict[str, Any]) -> float | None:
    """``abortIncompleteMultipartUpload.daysAfterInitiation`` of a lifecycle rule."""
    block = rule.get("abortIncompleteMultipartUpload")
    block = block[0] if isinstance(block, list) and block else block
    return number(block.get("daysAfterInitiation")) if isinstance(block, dict) else None


@RULES.rule(
    "SW-BKT6",
    "bucket access logging into the log bucket",
    "Every bucket logs server access into the stack's log bucket (the declared bucket the other buckets' "
    "BucketLogging targets).",
    (BUCKET,),
    exemptions=(LOG_BUCKET_NOT_LOGGED,),
)
def bucket_access_logging(ix: Index) -> Problems:
    log_bucket = ix.log_bucket
    for bucket in ix.of_type(BUCKET):
        loggings = ix.companions(bucket, BUCKET_LOGGING)
        if not loggings:
            where = f"into the log bucket {log_bucket.name}" if log_bucket else "(the stack has no log bucket)"
            yield bucket, f"no server access logging (BucketLogging) {where}"
            continue
        for logging in loggings:
            target_ref = get(logging, "targetBucket")
            target = ix.bucket(target_ref)
            if target is None:
                yield bucket, f"logs into {target_ref}, which is not a bucket this program declares (and hardens)"
            elif target is bucket:
                yield bucket, "logs into itself"
            elif target is not log_bucket and log_bucket is not None:
                yield bucket, f"logs into {target.name}, not the stack's log bucket {log_bucket.name}"


@RULES.rule(
    "SW-BKT7",
    "log bucket admits S3 logging for this account only",
    "The log bucket's policy lets logging.s3.amazonaws.com s3:PutObject into it only with aws:SourceAccount "
    "(this account) and aws:SourceArn matching every bucket that logs into it, in every statement naming that "
    "principal.",
    (BUCKET,),
)
def log_bucket_policy(ix: Index) -> Problems:
    log_bucket = ix.log_bucket
    if log_bucket is None:
        return
    arn = ix.bucket_arn(log_bucket)
    deliveries = [
        (source, str(get(logging, "targetPrefix", default="")))
        for logging in ix.of_type(BUCKET_LOGGING)
        if ix.bucket(get(logging, "targetBucket")) is log_bucket
        and (source := ix.bucket(get(logging, "bucket"))) is not None
    ]
    sources = [ix.bucket_arn(source) for source, _ in deliveries]
    admitting = [
        s
        for s in _bucket_policy_statements(ix, log_bucket)
        if p.allows(s) and S3_LOGGING_PRINCIPAL in p.principals(s, "Service")
    ]
    for source, prefix in deliveries:
        # A delivered log object's key starts with the source's target prefix.
        key = f"{arn}/{prefix}2024-01-01-00-00-00-0123456789ABCDEF"
        if not any(p.covers(s, "s3:PutObject") and p.resource_matches(s, key) for s in admitting):
            message = (
                f"its policy does not let {S3_LOGGING_PRINCIPAL} s3:PutObject under {prefix or '(no prefix)'}, "
                f"where {source.name} logs"
            )
            yield log_bucket, message
    for statement in admitting:
        sid = statement.get("Sid") or "(no Sid)"
        accounts = p.condition_values(statement, "aws:SourceAccount")
        if not accounts or any(v != ix.account_id for v in accounts):
            yield log_bucket, f"statement {sid} admits {S3_LOGGING_PRINCIPAL} without aws:SourceAccount {ix.account_id}"
        source_arns = p.condition_values(statement, "aws:SourceArn")
        if not source_arns:
            yield log_bucket, f"statement {sid} admits {S3_LOGGING_PRINCIPAL} without an aws:SourceArn condition"
            continue
        broad = [v for v in source_arns if not v.startswith("arn:aws:s3:::") or v in ("arn:aws:s3:::*",)]
        if broad:
            yield log_bucket, f"statement {sid}: aws:SourceArn {', '.join(broad)} is not this program's buckets"
        for source in sources:
            if not p.condition_admits(statement, "aws:SourceArn", source):
                yield log_bucket, f"statement {sid}: aws:SourceArn does not admit {source}, which logs here"


def _tls_only(
    ix: Index, typ: str, policy_typ: str, ref_input: str, action: str
) -> Iterator[tuple[DeclaredResource, str]]:
    for resource in ix.of_type(typ):
        arn = str(resource.outputs.get("arn") or resource.id)
        policies = [q for q in ix.of_type(policy_typ) if ix.find(typ, get(q, ref_input)) is resource]
        if not any(
            _tls_deny_covers(s, (action,), (arn,)) for q in policies for s in p.statements(q.inputs.get("policy"))
        ):
            yield resource, f"no policy statement denies {action} to everyone when aws:SecureTransport is false"


@RULES.rule(
    "SW-SNS2",
    "topic TLS-only policy",
    "Every SNS topic's policy denies publishing to everyone when aws:SecureTransport is false.",
    (TOPIC,),
)
def topic_tls_only(ix: Index) -> Problems:
    yield from _tls_only(ix, TOPIC, TOPIC_POLICY, "arn", "sns:Publish")


@RULES.rule(
    "SW-SQS2",
    "queue TLS-only policy",
    "Every SQS queue's policy denies sending to everyone when aws:SecureTransport is false.",
    (QUEUE,),
)
def queue_tls_only(ix: Index) -> Problems:
    yield from _tls_only(ix, QUEUE, QUEUE_POLICY, "queueUrl", "sqs:SendMessage")
