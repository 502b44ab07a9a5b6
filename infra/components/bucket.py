"""SecureBucket and the stack's AccessLogBucket: the hardened S3 storage every pipeline reuses.

A SecureBucket blocks public access, encrypts with SSE-KMS under the pipeline's key with a bucket
key (one KMS call per bucket-key lifetime instead of per object), keeps versions, refuses any
request not made over TLS, aborts incomplete multipart uploads, expires what its owner says, and
logs server access into the stack's log bucket.

The log bucket is hardened the same way but for two things AWS imposes: S3 server access logging
cannot deliver into an SSE-KMS bucket (so it uses SSE-S3), and a bucket must not log into itself.
Its policy admits the S3 logging service for this account's buckets only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import grants as g
from infra.components.stack import moved_from
from infra.integrations import bucket_ref

ACCESS_LOG_PREFIX = "s3-access/"
ABORT_INCOMPLETE_UPLOADS_DAYS = 7


@dataclass(frozen=True)
class Expiration:
    """Delete objects under ``prefix`` after ``days`` (and their old versions after ``noncurrent_days``)."""

    rule_id: str
    prefix: str
    days: int
    noncurrent_days: int | None = None


def tls_only_policy(bucket_arn: str, extra_statements: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """A bucket policy denying every request not made over TLS, plus ``extra_statements``."""
    return {
        "Version": "2012-10-17",
        "Statement": [g.deny_insecure_transport("s3:*", [bucket_arn, f"{bucket_arn}/*"]), *extra_statements],
    }


def access_log_delivery_statement(bucket_arn: str, account_id: str, sources: Sequence[str]) -> dict[str, Any]:
    """Let S3 server access logging write logs of exactly these buckets of this account."""
    return {
        "Sid": "S3ServerAccessLogsFromThisAccount",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{bucket_arn}/{ACCESS_LOG_PREFIX}*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": sorted(sources)},
        },
    }


def _lifecycle_rules(expirations: Sequence[Expiration]) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    rules = [
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="abort-incomplete-multipart-uploads",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=ABORT_INCOMPLETE_UPLOADS_DAYS
            ),
        )
    ]
    for expiration in expirations:
        rules.append(
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id=expiration.rule_id,
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=expiration.prefix),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=expiration.days),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=expiration.noncurrent_days or expiration.days
                ),
            )
        )
    return rules


class _HardenedBucket(pulumi.ComponentResource):
    """What both bucket kinds share: the bucket, public access block, versioning, lifecycle, policy."""

    def _harden(
        self,
        name: str,
        expirations: Sequence[Expiration],
        policy_for: Callable[[pulumi.Output[str]], pulumi.Output[str]] | None,
        tags: Mapping[str, str],
        former_parent: pulumi.Resource | None = None,
    ) -> pulumi.ResourceOptions:
        self.bucket = aws.s3.Bucket(
            name, tags=dict(tags), opts=pulumi.ResourceOptions(parent=self, aliases=moved_from(former_parent))
        )
        self.name: pulumi.Output[str] = self.bucket.id
        self.arn: pulumi.Output[str] = self.bucket.arn
        bucket_child = pulumi.ResourceOptions(parent=self.bucket)
        self.public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=bucket_child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=bucket_child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=self.bucket.id, rules=_lifecycle_rules(expirations), opts=bucket_child
        )
        if policy_for is not None:
            self._policy(name, policy_for(self.bucket.arn))
        return bucket_child

    def _policy(self, name: str, policy: pulumi.Input[str]) -> None:
        # After the public access block: a policy put first could race it.
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=self.bucket.id,
            policy=policy,
            opts=pulumi.ResourceOptions(parent=self.bucket, depends_on=[self.public_access]),
        )

    def _encryption(self, name: str, algorithm: str, key_arn: pulumi.Input[str] | None, opts) -> None:
        self.encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm=algorithm, kms_master_key_id=key_arn
                    ),
                    bucket_key_enabled=key_arn is not None,
                )
            ],
            opts=opts,
        )


# The tag naming the stack's log bucket (its value: the prefix the logs go under).
LOG_BUCKET_TAG = "stepworks:access-logs"


@dataclass
class AccessLogBucketArgs:
    """The stack's log bucket: whose account it serves and how long logs are kept."""

    account_id: pulumi.Input[str]
    retention_days: int = 365
    tags: Mapping[str, str] = field(default_factory=dict)


class AccessLogBucket(_HardenedBucket):
    """Receives every SecureBucket's server access logs under ``s3-access/<bucket>/``.

    Its policy names the buckets that log into it, so it is written by ``seal()`` once every
    pipeline has declared its buckets (``__main__.py`` calls it last).
    """

    def __init__(self, name: str, args: AccessLogBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:AccessLogBucket", name, None, opts)
        self._name = name
        self._account_id = args.account_id
        self._sources: list[pulumi.Input[str]] = []
        self._sealed = False
        expire_logs = Expiration("expire-access-logs", ACCESS_LOG_PREFIX, args.retention_days, 30)
        # Tagged: the rule pack knows it as the stack's log bucket even while no bucket logs into it.
        bucket_opts = self._harden(name, [expire_logs], None, {**args.tags, LOG_BUCKET_TAG: ACCESS_LOG_PREFIX})
        # SSE-S3: server access logging cannot deliver into an SSE-KMS bucket.
        self._encryption(name, "AES256", None, bucket_opts)

    def admit(self, source_bucket_arn: pulumi.Input[str]) -> None:
        """Let ``source_bucket_arn``'s server access logs in (SecureBucket calls this)."""
        if self._sealed:
            raise RuntimeError("the access log bucket's policy is already written; admit buckets before seal()")
        self._sources.append(source_bucket_arn)

    def seal(self) -> None:
        """Write the policy: TLS only, and log delivery for exactly the admitted buckets."""
        self._sealed = True

        def document(values: list[str]) -> str:
            # No bucket to admit (a stack of greeting alone): TLS only, no delivery statement with no sources.
            delivery = [access_log_delivery_statement(values[0], values[1], values[2:])] if values[2:] else []
            return json.dumps(tls_only_policy(values[0], delivery), indent=2)

        policy = pulumi.Output.all(self.bucket.arn, self._account_id, *self._sources).apply(document)
        self._policy(self._name, policy)
        self.register_outputs({"name": self.name})


@dataclass
class SecureBucketArgs:
    """A pipeline bucket: its key, where it logs, what expires, whether EventBridge hears of uploads."""

    key_arn: pulumi.Input[str]
    access_logs: AccessLogBucket | None
    expirations: Sequence[Expiration] = ()
    eventbridge: bool = False
    # The component that declared the bucket before it moved here, so `pulumi up` keeps its data.
    moved_from: pulumi.Resource | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


class SecureBucket(_HardenedBucket):
    """A private, SSE-KMS, versioned, TLS-only, access-logged bucket."""

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:SecureBucket", name, None, opts)
        self.key_arn = args.key_arn
        self._moved_from = args.moved_from
        bucket_opts = self._harden(
            name,
            args.expirations,
            lambda arn: arn.apply(lambda a: json.dumps(tls_only_policy(a), indent=2)),
            args.tags,
            args.moved_from,
        )
        self._encryption(name, "aws:kms", args.key_arn, bucket_opts)
        if args.access_logs is not None:
            args.access_logs.admit(self.arn)
            aws.s3.BucketLogging(
                f"{name}-access-logging",
                bucket=self.bucket.id,
                target_bucket=args.access_logs.name,
                target_prefix=self.bucket.id.apply(lambda b: f"{ACCESS_LOG_PREFIX}{b}/"),
                opts=bucket_opts,
            )
        if args.eventbridge:
            aws.s3.BucketNotification(f"{name}-eventbridge", bucket=self.bucket.id, eventbridge=True, opts=bucket_opts)
        self.register_outputs({"name": self.name, "arn": self.arn})

    def put_object(self, name: str, key: str, content: pulumi.Input[str], content_type: str) -> aws.s3.BucketObjectv2:
        """An object the program itself writes (configuration), encrypted under the bucket's key."""
        return aws.s3.BucketObjectv2(
            name,
            bucket=self.name,
            key=key,
            content=content,
            content_type=content_type,
            server_side_encryption="aws:kms",
            kms_key_id=self.key_arn,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.encryption], aliases=moved_from(self._moved_from)
            ),
        )

    def ref(self):
        """The bucket as a definition renderer sees it (``integrations.BucketRef``)."""
        return bucket_ref(self.name, self.arn, self.key_arn)

    def read(self, pattern: str, sid: str = "S3Read", versions: bool = False) -> list[g.Grant]:
        """Read objects ``pattern`` names (see ``grants.object_arn``), with the key; ``versions``: by version id too."""
        return g.s3_read(self.arn, pattern, self.key_arn, sid, versions)

    def write(self, pattern: str, sid: str = "S3Write", multipart: bool = False) -> list[g.Grant]:
        """Write objects ``pattern`` names, with the key; ``multipart``: abort a multipart upload too."""
        return g.s3_write(self.arn, pattern, self.key_arn, sid, multipart)

    def delete(self, pattern: str, sid: str = "S3Delete") -> list[g.Grant]:
        """Delete objects ``pattern`` names."""
        return g.s3_delete(self.arn, pattern, sid)

    def list(self, sid: str = "S3List") -> list[g.Grant]:
        """List the bucket's keys (so a missing object is a 404, not a 403)."""
        return g.s3_list(self.arn, sid)
