"""Translations of declared Pulumi resources into moto, through real boto3 calls.

Each translator receives the resource's camelCase inputs and returns ``(id, outputs)`` with the
identifiers moto assigned. Types not listed in ``TRANSLATORS`` make the sandbox fail, naming
the type: a resource silently skipped would make the sandbox lie about what was deployed.
IAM, logs, Lambda, Step Functions and DynamoDB live here; the other types by area:
``trigger_translators`` (API Gateway, Scheduler, EventBridge), ``storage_translators`` (S3),
``security_translators`` (KMS, Secrets Manager), ``messaging_translators`` (SNS, SQS),
``monitoring_translators`` (CloudWatch alarms and dashboards),
``network_translators`` (VPC) and ``database_translators`` (RDS).
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from infra.sandbox import iam
from infra.sandbox.database_translators import DATABASE_TRANSLATORS
from infra.sandbox.messaging_translators import MESSAGING_TRANSLATORS
from infra.sandbox.monitoring_translators import MONITORING_TRANSLATORS
from infra.sandbox.network_translators import NETWORK_TRANSLATORS
from infra.sandbox.security_translators import SECURITY_TRANSLATORS
from infra.sandbox.storage_translators import STORAGE_TRANSLATORS
from infra.sandbox.translator_support import _account, _client, _name, _tags_list
from infra.sandbox.trigger_translators import TRIGGER_TRANSLATORS


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


def _global_secondary_index(index: dict[str, Any]) -> dict[str, Any]:
    # pulumi-aws 7 declares an index's keys as keySchemas (hashKey/rangeKey are deprecated there).
    keys = [{"AttributeName": k["attributeName"], "KeyType": k["keyType"]} for k in index.get("keySchemas") or []]
    if not keys:
        keys = [{"AttributeName": index["hashKey"], "KeyType": "HASH"}]
        if index.get("rangeKey"):
            keys.append({"AttributeName": index["rangeKey"], "KeyType": "RANGE"})
    projection: dict[str, Any] = {"ProjectionType": index["projectionType"]}
    if index.get("nonKeyAttributes"):
        projection["NonKeyAttributes"] = list(index["nonKeyAttributes"])
    return {"IndexName": index["name"], "KeySchema": keys, "Projection": projection}


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
    indexes = [_global_secondary_index(index) for index in inputs.get("globalSecondaryIndexes") or []]
    table = ddb.create_table(
        TableName=name,
        KeySchema=keys,
        BillingMode=inputs.get("billingMode", "PAY_PER_REQUEST"),
        AttributeDefinitions=[{"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]],
        SSESpecification=encryption,
        Tags=_tags_list(inputs.get("tags")),
        **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
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


TRANSLATORS = {
    "aws:iam/role:Role": iam_role,
    "aws:iam/rolePolicy:RolePolicy": iam_role_policy,
    "aws:cloudwatch/logGroup:LogGroup": log_group,
    "aws:lambda/layerVersion:LayerVersion": lambda_layer,
    "aws:lambda/function:Function": lambda_function,
    "aws:sfn/stateMachine:StateMachine": state_machine,
    "aws:dynamodb/table:Table": dynamodb_table,
    **TRIGGER_TRANSLATORS,
    **STORAGE_TRANSLATORS,
    **SECURITY_TRANSLATORS,
    **MESSAGING_TRANSLATORS,
    **MONITORING_TRANSLATORS,
    **NETWORK_TRANSLATORS,
    **DATABASE_TRANSLATORS,
}
