"""Translations of the S3 types: buckets and what hardens them (policy, logging, lifecycle …), objects.

S3 server access logging is admitted as AWS admits it, from the target bucket's policy, and a
logging configuration waits for a target policy declared after it (the log bucket is sealed last).
"""

from __future__ import annotations

import datetime
import json
import threading
from typing import Any

from botocore.exceptions import ClientError

from infra.sandbox import trust as trust_policy
from infra.sandbox.mocks import physical_name, unwrap_secret
from infra.sandbox.translator_support import _account, _client, _tags_list


def s3_bucket(mocks, r):
    name = r.inputs.get("bucket") or physical_name(r.name, 63, lower=True)
    s3 = _client(mocks, "s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": mocks.region})
    if r.inputs.get("tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags_list(r.inputs["tags"])})
    return name, {"arn": f"arn:aws:s3:::{name}", "bucket": name, "id": name}


def s3_public_access_block(mocks, r):
    inputs = r.inputs
    _client(mocks, "s3").put_public_access_block(
        Bucket=inputs["bucket"],
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": bool(inputs.get("blockPublicAcls")),
            "IgnorePublicAcls": bool(inputs.get("ignorePublicAcls")),
            "BlockPublicPolicy": bool(inputs.get("blockPublicPolicy")),
            "RestrictPublicBuckets": bool(inputs.get("restrictPublicBuckets")),
        },
    )
    return inputs["bucket"], {}


def s3_encryption(mocks, r):
    rules = []
    for rule in r.inputs.get("rules", []):
        default = rule.get("applyServerSideEncryptionByDefault") or {}
        by_default = {"SSEAlgorithm": default.get("sseAlgorithm", "AES256")}
        if default.get("kmsMasterKeyId"):
            by_default["KMSMasterKeyID"] = default["kmsMasterKeyId"]
        rules.append(
            {"ApplyServerSideEncryptionByDefault": by_default, "BucketKeyEnabled": bool(rule.get("bucketKeyEnabled"))}
        )
    _client(mocks, "s3").put_bucket_encryption(
        Bucket=r.inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
    )
    return r.inputs["bucket"], {}


def s3_versioning(mocks, r):
    status = (r.inputs.get("versioningConfiguration") or {}).get("status", "Enabled")
    _client(mocks, "s3").put_bucket_versioning(Bucket=r.inputs["bucket"], VersioningConfiguration={"Status": status})
    return r.inputs["bucket"], {}


_TLS_ONLY_CONDITION = {"Bool": {"aws:SecureTransport": "false"}}


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _emulated_bucket_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """The declared bucket policy, reshaped (same meaning) where moto misreads it."""
    statements = []
    for st in _listed(policy.get("Statement", [])):
        # moto evaluates a Deny on aws:SecureTransport=false as matching every request (in-process
        # calls have no transport), while in AWS every SDK call is HTTPS and never matches it. That
        # one statement is left out of the emulated policy; the declared policy is what synth shows.
        if st.get("Condition") == _TLS_ONLY_CONDITION:
            continue
        principal = st.get("Principal")
        if isinstance(principal, dict) and isinstance(principal.get("Service"), list):
            # moto's server-access-logging check compares Principal.Service and Resource as one
            # string each: one statement per service and resource reads the same to IAM.
            services = principal["Service"]
        else:
            services = [None]
        for service in services:
            for resource in _listed(st.get("Resource", [])) or [None]:
                split = dict(st)
                if service is not None:
                    split["Principal"] = {**principal, "Service": service}
                if resource is not None:
                    split["Resource"] = resource
                statements.append(split)
    # Service-principal statements first: moto's logging check stops at the first one that
    # grants delivery and fails on a statement whose Principal is the string "*".
    statements.sort(key=lambda st: not isinstance(st.get("Principal"), dict))
    return {**policy, "Statement": statements}


def s3_policy(mocks, r):
    declared = json.loads(r.inputs["policy"])
    policy = _emulated_bucket_policy(declared)
    if policy["Statement"]:
        _client(mocks, "s3").put_bucket_policy(Bucket=r.inputs["bucket"], Policy=json.dumps(policy))
    # Server access logging declared before this policy existed waits for it (see s3_logging).
    for source, status in _pending_logging(mocks).pop(r.inputs["bucket"], []):
        _enable_logging(mocks, source, status, declared)
    return r.inputs["bucket"], {}


LOGGING_SERVICE = "logging.s3.amazonaws.com"


def _pending_logging(mocks) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Target bucket → logging configurations waiting for that bucket's policy."""
    if not hasattr(mocks, "pending_logging"):
        mocks.pending_logging = {}
    return mocks.pending_logging


def _put_logging(mocks, source: str, status: dict[str, Any]) -> None:
    _client(mocks, "s3").put_bucket_logging(Bucket=source, BucketLoggingStatus={"LoggingEnabled": status})


_LOGGING_CHECK = threading.Lock()


def _enable_logging(mocks, source: str, status: dict[str, Any], target_policy: dict[str, Any]) -> None:
    """Enable logging of ``source`` if the target's policy lets S3 deliver its logs, as AWS reads it.

    moto accepts a delivery statement only when its Resource is literally ``<target>/<prefix>*``
    (or the whole bucket) and the statement is not preceded by one whose Principal is "*"; AWS
    evaluates the policy. The sandbox evaluates it (``trust.evaluate`` with S3 logging's request
    context: aws:SourceAccount and aws:SourceArn = the source bucket) and lets moto take its answer.
    """
    target = status["TargetBucket"]
    context = {"aws:SourceAccount": _account(mocks), "aws:SourceArn": f"arn:aws:s3:::{source}"}
    object_arn = f"arn:aws:s3:::{target}/{status['TargetPrefix']}{datetime.date.today():%Y-%m-%d}-00-00-00-LOG"
    decision = trust_policy.evaluate(target_policy, LOGGING_SERVICE, context, "s3:PutObject", object_arn)
    if not decision.allowed:
        raise ValueError(
            f"server access logs of {source} cannot go to {target}: its bucket policy does not let "
            f"{LOGGING_SERVICE} s3:PutObject {object_arn} for {context['aws:SourceArn']} ({decision.reason})"
        )
    from moto.s3.models import FakeBucket

    with _LOGGING_CHECK:
        literal_check = FakeBucket.__dict__["_log_permissions_enabled_policy"]
        FakeBucket._log_permissions_enabled_policy = staticmethod(lambda target_bucket, target_prefix: True)
        try:
            _put_logging(mocks, source, status)
        finally:
            FakeBucket._log_permissions_enabled_policy = literal_check


def s3_logging(mocks, r):
    inputs = r.inputs
    source, target = inputs["bucket"], inputs["targetBucket"]
    status: dict[str, Any] = {"TargetBucket": target, "TargetPrefix": inputs.get("targetPrefix", "")}
    key_format = inputs.get("targetObjectKeyFormat") or {}
    if key_format.get("partitionedPrefix") is not None:
        partition_source = (key_format["partitionedPrefix"] or {}).get("partitionDateSource", "EventTime")
        status["TargetObjectKeyFormat"] = {"PartitionedPrefix": {"PartitionDateSource": partition_source}}
    elif key_format.get("simplePrefix") is not None:
        status["TargetObjectKeyFormat"] = {"SimplePrefix": {}}
    try:
        _put_logging(mocks, source, status)  # a target granting the log-delivery group by ACL, say
        return source, {}
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "InvalidTargetBucketForLogging" or "permissions" not in str(exc):
            raise
    try:
        target_policy = json.loads(_client(mocks, "s3").get_bucket_policy(Bucket=target)["Policy"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchBucketPolicy":
            raise
        # The target's policy may come later in the same deploy; Sandbox.deploy fails if it never does.
        _pending_logging(mocks).setdefault(target, []).append((source, status))
        return source, {}
    _enable_logging(mocks, source, status, target_policy)
    return source, {}


def unfinished_logging(mocks) -> list[str]:
    """Server access logging still waiting, after the deploy, for a target policy that admits it."""
    return [
        f"server access logs of {source} cannot go to {target}: {target} has no bucket policy letting "
        f"{LOGGING_SERVICE} write under {status['TargetPrefix']}"
        for target, waiting in getattr(mocks, "pending_logging", {}).items()
        for source, status in waiting
    ]


def s3_lifecycle(mocks, r):
    rules = []
    for rule in r.inputs.get("rules", []):
        converted: dict[str, Any] = {"ID": rule["id"], "Status": rule.get("status", "Enabled")}
        prefix = ((rule.get("filter") or {}).get("prefix")) or ""
        converted["Filter"] = {"Prefix": prefix}
        if rule.get("expiration"):
            converted["Expiration"] = {"Days": int(rule["expiration"]["days"])}
        if rule.get("noncurrentVersionExpiration"):
            converted["NoncurrentVersionExpiration"] = {
                "NoncurrentDays": int(rule["noncurrentVersionExpiration"]["noncurrentDays"])
            }
        if rule.get("abortIncompleteMultipartUpload"):
            converted["AbortIncompleteMultipartUpload"] = {
                "DaysAfterInitiation": int(rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"])
            }
        rules.append(converted)
    _client(mocks, "s3").put_bucket_lifecycle_configuration(
        Bucket=r.inputs["bucket"], LifecycleConfiguration={"Rules": rules}
    )
    return r.inputs["bucket"], {}


def s3_notification(mocks, r):
    config = {"EventBridgeConfiguration": {}} if r.inputs.get("eventbridge") else {}
    _client(mocks, "s3").put_bucket_notification_configuration(
        Bucket=r.inputs["bucket"], NotificationConfiguration=config
    )
    return r.inputs["bucket"], {}


def s3_object(mocks, r):
    inputs = r.inputs
    body = unwrap_secret(inputs.get("content", ""))
    kwargs: dict[str, Any] = dict(
        Bucket=inputs["bucket"],
        Key=inputs["key"],
        Body=body.encode(),
        ContentType=inputs.get("contentType", "application/octet-stream"),
    )
    if inputs.get("serverSideEncryption"):
        kwargs["ServerSideEncryption"] = inputs["serverSideEncryption"]
    if inputs.get("kmsKeyId"):
        kwargs["SSEKMSKeyId"] = inputs["kmsKeyId"]
    put = _client(mocks, "s3").put_object(**kwargs)
    return f"{inputs['bucket']}/{inputs['key']}", {
        "etag": put["ETag"].strip('"'),
        "versionId": put.get("VersionId", ""),
    }


STORAGE_TRANSLATORS = {
    "aws:s3/bucket:Bucket": s3_bucket,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": s3_public_access_block,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": s3_encryption,
    "aws:s3/bucketVersioning:BucketVersioning": s3_versioning,
    "aws:s3/bucketPolicy:BucketPolicy": s3_policy,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": s3_lifecycle,
    "aws:s3/bucketNotification:BucketNotification": s3_notification,
    "aws:s3/bucketObjectv2:BucketObjectv2": s3_object,
    "aws:s3/bucketLogging:BucketLogging": s3_logging,
}
