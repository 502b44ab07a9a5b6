"""Translations of declared Pulumi resources into moto, through real boto3 calls.

Each translator receives the resource's camelCase inputs and returns ``(id, outputs)`` with the
identifiers moto assigned. Types not listed in ``TRANSLATORS`` make the sandbox fail, naming
the type: a resource silently skipped would make the sandbox lie about what was deployed.
The VPC and RDS types live in ``network_translators`` and ``database_translators``.
"""

from __future__ import annotations

import datetime
import io
import json
import threading
import zipfile
from typing import Any

from botocore.exceptions import ClientError

from infra.sandbox import iam
from infra.sandbox import trust as trust_policy
from infra.sandbox.database_translators import DATABASE_TRANSLATORS
from infra.sandbox.mocks import physical_name, unwrap_secret
from infra.sandbox.network_translators import NETWORK_TRANSLATORS
from infra.sandbox.translator_support import _account, _client, _name, _tags_list


class RoleNotAssumable(Exception):
    """The service a resource runs as cannot assume its role; AWS refuses to create the resource."""


def _require_trust(mocks, role_arn: str, principal: str, source_arn: str, refusal: str) -> None:
    # Lambda and Step Functions check at creation that they can assume the role they are given.
    decision = iam.role_trust(_client(mocks, "iam"), _account(mocks), role_arn, principal, source_arn)
    if not decision.allowed:
        raise RoleNotAssumable(f"{refusal} Role {role_arn}: {decision.reason}")


def _archive_zip(archive: Any) -> bytes:
    """A zip of an AssetArchive / FileArchive input (moto stores the code, never runs it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        assets = getattr(archive, "assets", None)
        if isinstance(assets, dict):
            for path, asset in assets.items():
                if getattr(asset, "path", None):
                    zf.write(asset.path, path)
                else:
                    zf.writestr(path, getattr(asset, "text", "") or "")
        else:
            zf.writestr("ARCHIVE.txt", str(getattr(archive, "path", archive)))
    return buffer.getvalue()


# --- IAM, logs -----------------------------------------------------------------------------


def iam_role(mocks, r):
    name = _name(r)
    kwargs: dict[str, Any] = dict(
        RoleName=name,
        AssumeRolePolicyDocument=r.inputs["assumeRolePolicy"],
        Description=r.inputs.get("description", ""),
        Tags=_tags_list(r.inputs.get("tags")),
    )
    if r.inputs.get("path"):
        kwargs["Path"] = r.inputs["path"]
    if r.inputs.get("maxSessionDuration"):
        kwargs["MaxSessionDuration"] = int(r.inputs["maxSessionDuration"])
    role = _client(mocks, "iam").create_role(**kwargs)["Role"]
    return name, {"arn": role["Arn"], "name": name, "path": role["Path"], "uniqueId": role["RoleId"]}


def iam_role_policy(mocks, r):
    name = _name(r, 128)
    _client(mocks, "iam").put_role_policy(RoleName=r.inputs["role"], PolicyName=name, PolicyDocument=r.inputs["policy"])
    return f"{r.inputs['role']}:{name}", {"name": name}


def log_group(mocks, r):
    name = _name(r, 512)
    logs = _client(mocks, "logs")
    kwargs: dict[str, Any] = {"logGroupName": name, "tags": r.inputs.get("tags") or {}}
    if r.inputs.get("kmsKeyId"):
        kwargs["kmsKeyId"] = r.inputs["kmsKeyId"]
    logs.create_log_group(**kwargs)
    if r.inputs.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(r.inputs["retentionInDays"]))
    arn = f"arn:aws:logs:{mocks.region}:{_account(mocks)}:log-group:{name}"
    return name, {"arn": arn, "name": name}


# --- Lambda ----------------------------------------------------------------------------------


def lambda_layer(mocks, r):
    layer = _client(mocks, "lambda").publish_layer_version(
        LayerName=r.inputs["layerName"],
        Description=r.inputs.get("description", ""),
        Content={"ZipFile": _archive_zip(r.inputs["code"])},
        CompatibleRuntimes=r.inputs.get("compatibleRuntimes", []),
    )
    return layer["LayerVersionArn"], {
        "arn": layer["LayerVersionArn"],
        "layerArn": layer["LayerArn"],
        "version": str(layer["Version"]),
    }


def lambda_function(mocks, r):
    name = _name(r)
    inputs = r.inputs
    kwargs: dict[str, Any] = dict(
        FunctionName=name,
        Runtime=inputs["runtime"],
        Role=inputs["role"],
        Handler=inputs["handler"],
        Code={"ZipFile": _archive_zip(inputs["code"])},
        MemorySize=int(inputs.get("memorySize", 128)),
        Timeout=int(inputs.get("timeout", 3)),
        Layers=list(inputs.get("layers") or []),
        Environment={"Variables": dict((inputs.get("environment") or {}).get("variables") or {})},
        TracingConfig={"Mode": (inputs.get("tracingConfig") or {}).get("mode", "PassThrough")},
        Architectures=list(inputs.get("architectures") or ["x86_64"]),
        Tags=inputs.get("tags") or {},
    )
    vpc = inputs.get("vpcConfig")
    if vpc:
        kwargs["VpcConfig"] = {
            "SubnetIds": vpc.get("subnetIds", []),
            "SecurityGroupIds": vpc.get("securityGroupIds", []),
        }
    function_arn = f"arn:aws:lambda:{mocks.region}:{_account(mocks)}:function:{name}"
    refusal = "The role defined for the function cannot be assumed by Lambda."
    _require_trust(mocks, inputs["role"], iam.LAMBDA, function_arn, refusal)
    lam = _client(mocks, "lambda")
    fn = lam.create_function(**kwargs)
    reserved = inputs.get("reservedConcurrentExecutions")
    if reserved is not None and int(reserved) >= 0:  # -1, Pulumi's default, leaves it unreserved
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=int(reserved))
    return name, {
        "arn": fn["FunctionArn"],
        "name": name,
        "invokeArn": fn["FunctionArn"],
        "qualifiedArn": f"{fn['FunctionArn']}:$LATEST",
        "version": "$LATEST",
    }


# --- Step Functions, DynamoDB -------------------------------------------------------------------


def state_machine(mocks, r):
    name = _name(r, 80)
    _require_trust(
        mocks,
        r.inputs["roleArn"],
        iam.STATES,
        f"arn:aws:states:{mocks.region}:{_account(mocks)}:stateMachine:{name}",
        "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to "
        "assume the provided role.",
    )
    logging = r.inputs.get("loggingConfiguration") or {}
    machine = _client(mocks, "stepfunctions").create_state_machine(
        name=name,
        definition=r.inputs["definition"],
        roleArn=r.inputs["roleArn"],
        type=r.inputs.get("type", "STANDARD"),
        loggingConfiguration={
            "level": logging.get("level", "OFF"),
            "includeExecutionData": bool(logging.get("includeExecutionData", False)),
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": logging["logDestination"]}}]
            if logging.get("logDestination")
            else [],
        },
        tracingConfiguration={"enabled": bool((r.inputs.get("tracingConfiguration") or {}).get("enabled"))},
        tags=_tags_list(r.inputs.get("tags"), "key", "value"),
    )
    return machine["stateMachineArn"], {"arn": machine["stateMachineArn"], "name": name}


def dynamodb_table(mocks, r):
    name = _name(r, 255)
    inputs = r.inputs
    keys = [{"AttributeName": inputs["hashKey"], "KeyType": "HASH"}]
    if inputs.get("rangeKey"):
        keys.append({"AttributeName": inputs["rangeKey"], "KeyType": "RANGE"})
    sse = inputs.get("serverSideEncryption") or {}
    encryption: dict[str, Any] = {"Enabled": bool(sse.get("enabled"))}
    if sse.get("enabled") and sse.get("kmsKeyArn"):
        encryption.update(SSEType="KMS", KMSMasterKeyId=sse["kmsKeyArn"])
    ddb = _client(mocks, "dynamodb")
    table = ddb.create_table(
        TableName=name,
        KeySchema=keys,
        BillingMode=inputs.get("billingMode", "PAY_PER_REQUEST"),
        AttributeDefinitions=[{"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]],
        SSESpecification=encryption,
        Tags=_tags_list(inputs.get("tags")),
    )["TableDescription"]
    if (inputs.get("pointInTimeRecovery") or {}).get("enabled"):
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    ttl = inputs.get("ttl") or {}
    if ttl.get("enabled") and ttl.get("attributeName"):
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]}
        )
    return name, {"arn": table["TableArn"], "name": name}


# --- API Gateway v2 ------------------------------------------------------------------------------


def http_api(mocks, r):
    api = _client(mocks, "apigatewayv2").create_api(
        Name=_name(r, 128),
        ProtocolType=r.inputs["protocolType"],
        Description=r.inputs.get("description", ""),
        Tags=r.inputs.get("tags") or {},
    )
    api_id = api["ApiId"]
    return api_id, {
        "apiEndpoint": api["ApiEndpoint"],
        "executionArn": f"arn:aws:execute-api:{mocks.region}:{_account(mocks)}:{api_id}",
        "arn": f"arn:aws:apigateway:{mocks.region}::/apis/{api_id}",
    }


def http_integration(mocks, r):
    inputs = r.inputs
    integration = _client(mocks, "apigatewayv2").create_integration(
        ApiId=inputs["apiId"],
        IntegrationType=inputs["integrationType"],
        IntegrationSubtype=inputs.get("integrationSubtype", ""),
        CredentialsArn=inputs.get("credentialsArn", ""),
        PayloadFormatVersion=inputs.get("payloadFormatVersion", "1.0"),
        RequestParameters=dict(inputs.get("requestParameters") or {}),
    )
    return integration["IntegrationId"], {}


def http_route(mocks, r):
    inputs = r.inputs
    kwargs = dict(
        ApiId=inputs["apiId"],
        RouteKey=inputs["routeKey"],
        Target=inputs.get("target", ""),
        AuthorizationType=inputs.get("authorizationType", "NONE"),
    )
    if inputs.get("authorizerId"):
        kwargs["AuthorizerId"] = inputs["authorizerId"]
    route = _client(mocks, "apigatewayv2").create_route(**kwargs)
    return route["RouteId"], {}


def http_authorizer(mocks, r):
    inputs = r.inputs
    jwt = inputs.get("jwtConfiguration") or {}
    authorizer = _client(mocks, "apigatewayv2").create_authorizer(
        ApiId=inputs["apiId"],
        AuthorizerType=inputs["authorizerType"],
        Name=_name(r, 128),
        IdentitySource=list(inputs.get("identitySources") or []),
        JwtConfiguration={"Issuer": jwt.get("issuer", ""), "Audience": list(jwt.get("audiences") or [])},
    )
    return authorizer["AuthorizerId"], {}


def http_stage(mocks, r):
    inputs = r.inputs
    access = inputs.get("accessLogSettings") or {}
    route = inputs.get("defaultRouteSettings") or {}
    _client(mocks, "apigatewayv2").create_stage(
        ApiId=inputs["apiId"],
        StageName=inputs["name"],
        AutoDeploy=bool(inputs.get("autoDeploy")),
        AccessLogSettings={"DestinationArn": access.get("destinationArn", ""), "Format": access.get("format", "")},
        DefaultRouteSettings={
            "ThrottlingBurstLimit": int(route.get("throttlingBurstLimit", 0)),
            "ThrottlingRateLimit": float(route.get("throttlingRateLimit", 0)),
        },
    )
    return f"{inputs['apiId']}/{inputs['name']}", {}


# --- Scheduler, EventBridge ----------------------------------------------------------------------


def schedule(mocks, r):
    inputs = r.inputs
    name = _name(r)
    target = inputs["target"]
    retry = target.get("retryPolicy") or {}
    created = _client(mocks, "scheduler").create_schedule(
        Name=name,
        ScheduleExpression=inputs["scheduleExpression"],
        ScheduleExpressionTimezone=inputs.get("scheduleExpressionTimezone", "UTC"),
        FlexibleTimeWindow={"Mode": inputs["flexibleTimeWindow"]["mode"]},
        State=inputs.get("state", "ENABLED"),
        Target={
            "Arn": target["arn"],
            "RoleArn": target["roleArn"],
            "Input": target.get("input", "{}"),
            "RetryPolicy": {
                "MaximumRetryAttempts": int(retry.get("maximumRetryAttempts", 185)),
                "MaximumEventAgeInSeconds": int(retry.get("maximumEventAgeInSeconds", 86400)),
            },
        },
    )
    return name, {"arn": created["ScheduleArn"], "name": name}


def event_rule(mocks, r):
    name = _name(r)
    rule = _client(mocks, "events").put_rule(
        Name=name,
        EventPattern=r.inputs["eventPattern"],
        Description=r.inputs.get("description", ""),
        State="ENABLED",
    )
    return name, {"arn": rule["RuleArn"], "name": name}


def event_target(mocks, r):
    inputs = r.inputs
    target_id = inputs.get("targetId") or physical_name(r.name)
    _client(mocks, "events").put_targets(
        Rule=inputs["rule"], Targets=[{"Id": target_id, "Arn": inputs["arn"], "RoleArn": inputs.get("roleArn", "")}]
    )
    return f"{inputs['rule']}-{target_id}", {"targetId": target_id}


# --- S3, KMS, Secrets Manager ------------------------------------------------------------------


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


def kms_key(mocks, r):
    inputs = r.inputs
    window = int(inputs.get("deletionWindowInDays") or 30)
    if not 7 <= window <= 30:
        # Used only when the key is destroyed (ScheduleKeyDeletion), but validated like AWS does.
        raise ValueError(f"deletionWindowInDays must be between 7 and 30, got {window}")
    kwargs: dict[str, Any] = dict(
        Description=inputs.get("description", ""),
        KeyUsage=inputs.get("keyUsage") or "ENCRYPT_DECRYPT",
        KeySpec=inputs.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT",
        Tags=_tags_list(inputs.get("tags"), "TagKey", "TagValue"),
    )
    if inputs.get("policy"):
        kwargs["Policy"] = inputs["policy"]
    if inputs.get("multiRegion"):
        kwargs["MultiRegion"] = True
    kms = _client(mocks, "kms")
    key = kms.create_key(**kwargs)["KeyMetadata"]
    if inputs.get("enableKeyRotation"):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    if inputs.get("isEnabled") is False:
        kms.disable_key(KeyId=key["KeyId"])
    return key["KeyId"], {
        "arn": key["Arn"],
        "keyId": key["KeyId"],
        "policy": kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"],
        "deletionWindowInDays": window,
        "enableKeyRotation": bool(inputs.get("enableKeyRotation")),
    }


def kms_alias(mocks, r):
    name = r.inputs.get("name") or f"alias/{physical_name(r.name, 250)}"
    kms = _client(mocks, "kms")
    kms.create_alias(AliasName=name, TargetKeyId=r.inputs["targetKeyId"])
    target = kms.describe_key(KeyId=name)["KeyMetadata"]
    return name, {
        "arn": f"arn:aws:kms:{mocks.region}:{_account(mocks)}:{name}",
        "name": name,
        "targetKeyArn": target["Arn"],
    }


def secret(mocks, r):
    name = r.inputs.get("name") or physical_name(r.name, 256)
    kwargs: dict[str, Any] = dict(
        Name=name, Description=r.inputs.get("description", ""), Tags=_tags_list(r.inputs.get("tags"))
    )
    if r.inputs.get("kmsKeyId"):
        kwargs["KmsKeyId"] = r.inputs["kmsKeyId"]
    created = _client(mocks, "secretsmanager").create_secret(**kwargs)
    return created["ARN"], {"arn": created["ARN"], "name": name, "kmsKeyId": r.inputs.get("kmsKeyId", "")}


# --- SNS, SQS ----------------------------------------------------------------------------------------


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


TRANSLATORS = {
    "aws:iam/role:Role": iam_role,
    "aws:iam/rolePolicy:RolePolicy": iam_role_policy,
    "aws:cloudwatch/logGroup:LogGroup": log_group,
    "aws:lambda/layerVersion:LayerVersion": lambda_layer,
    "aws:lambda/function:Function": lambda_function,
    "aws:sfn/stateMachine:StateMachine": state_machine,
    "aws:dynamodb/table:Table": dynamodb_table,
    "aws:apigatewayv2/api:Api": http_api,
    "aws:apigatewayv2/integration:Integration": http_integration,
    "aws:apigatewayv2/route:Route": http_route,
    "aws:apigatewayv2/authorizer:Authorizer": http_authorizer,
    "aws:apigatewayv2/stage:Stage": http_stage,
    "aws:scheduler/schedule:Schedule": schedule,
    "aws:cloudwatch/eventRule:EventRule": event_rule,
    "aws:cloudwatch/eventTarget:EventTarget": event_target,
    "aws:s3/bucket:Bucket": s3_bucket,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": s3_public_access_block,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": s3_encryption,
    "aws:s3/bucketVersioning:BucketVersioning": s3_versioning,
    "aws:s3/bucketPolicy:BucketPolicy": s3_policy,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": s3_lifecycle,
    "aws:s3/bucketNotification:BucketNotification": s3_notification,
    "aws:s3/bucketObjectv2:BucketObjectv2": s3_object,
    "aws:s3/bucketLogging:BucketLogging": s3_logging,
    "aws:kms/key:Key": kms_key,
    "aws:kms/alias:Alias": kms_alias,
    "aws:secretsmanager/secret:Secret": secret,
    "aws:sns/topic:Topic": sns_topic,
    "aws:sns/topicPolicy:TopicPolicy": sns_topic_policy,
    "aws:sqs/queue:Queue": sqs_queue,
    "aws:sqs/queuePolicy:QueuePolicy": sqs_queue_policy,
    **NETWORK_TRANSLATORS,
    **DATABASE_TRANSLATORS,
}
