"""Each hardening rule over small synthetic resource lists: a hardened world passes, one flaw makes the rule fire.

The world is written out by hand in the shapes the program declares (camelCase inputs, ARNs in
outputs), for an account and region other than the mocks' so no rule can lean on constants.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from infra.components.grants import KMS_TABLE_WRITE
from infra.hardening import RULES, check, rule
from infra.hardening import policy as p
from infra.hardening.index import Index
from infra.sandbox.mocks import DeclaredResource

ACCOUNT = "111122223333"
REGION = "eu-west-1"
PREFIX, PIPELINE = "sw-t", "demo"
OWNER = f"{PREFIX}-{PIPELINE}"
PATH = f"/{PREFIX}/{PIPELINE}/"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k-demo"
LOGS_BASE = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"
DATA_BUCKET, LOG_BUCKET = f"{OWNER}-data", f"{PREFIX}-logs"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{OWNER}-dlq"

World = dict[str, DeclaredResource]


def arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def res(typ: str, logical: str, inputs: dict, ident: str | None = None, /, **outputs) -> DeclaredResource:
    return DeclaredResource(typ=typ, name=logical, inputs=inputs, id=ident or logical, outputs=outputs)


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resources, sid: str | None = None, **extra) -> dict:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}
    if sid:
        statement["Sid"] = sid
    return statement


def tls_deny(resources, action="s3:*") -> dict:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": resources,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


LOG_GROUPS = {
    "fn-logs": f"/aws/lambda/{OWNER}-work",
    "other-logs": f"/aws/lambda/{OWNER}-other",
    "sfn-logs": f"/aws/vendedlogs/states/{OWNER}",
    "api-logs": f"/aws/apigateway/{OWNER}/start/access",
    "flow-logs": f"/aws/vpc/{OWNER}/flow-logs",
    "rds-logs": f"/aws/rds/instance/{OWNER}/postgresql",
}
ADMIN_ACTIONS = [
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
    "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
]  # fmt: skip


def key_policy() -> str:
    root = f"arn:aws:iam::{ACCOUNT}:root"
    return doc(
        {"Sid": "AccountAdministration", "Effect": "Allow", "Principal": {"AWS": root}, "Action": ADMIN_ACTIONS,
         "Resource": "*"},
        {"Sid": "PipelineRoles", "Effect": "Allow", "Principal": {"AWS": root},
         "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], "Resource": "*",
         "Condition": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role{PATH}*"}}},
        {"Sid": "ThroughServices", "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant", "kms:DescribeKey"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT,
                                        "kms:ViaService": [f"s3.{REGION}.amazonaws.com",
                                                           f"dynamodb.{REGION}.amazonaws.com"]}}},
        {"Sid": "CloudWatchLogs", "Effect": "Allow", "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
         "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
         "Resource": "*",
         "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": [
             f"{LOGS_BASE}/aws/*/{OWNER}", f"{LOGS_BASE}/aws/*/{OWNER}-*", f"{LOGS_BASE}/aws/*/{OWNER}/*"]}}},
        {"Sid": "EventBridge", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                       "ArnLike": {"aws:SourceArn": arn("events", f"rule/{OWNER}-*")}}},
        {"Sid": "CloudWatchAlarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                       "ArnLike": {"aws:SourceArn": ALARMS_PATTERN}}},
    )  # fmt: skip


def trust(service: str, source_account: bool = True, source_arn: str | None = None) -> str:
    statement: dict = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    condition: dict = {}
    if source_account:
        condition["StringEquals"] = {"aws:SourceAccount": ACCOUNT}
    if source_arn:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    if condition:
        statement["Condition"] = condition
    return doc(statement)


def role_arn(short: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role{PATH}{OWNER}-{short}"


ROLES = {
    "work": trust("lambda.amazonaws.com"),
    "other": trust("lambda.amazonaws.com"),
    "sfn": trust("states.amazonaws.com", source_arn=arn("states", f"stateMachine:{OWNER}")),
    "start": trust("apigateway.amazonaws.com", source_account=False),
    "schedule": trust("scheduler.amazonaws.com", source_arn=arn("scheduler", "schedule-group/default")),
    "target": trust("events.amazonaws.com", source_arn=arn("events", f"rule/{OWNER}-uploads")),
    "flowlogs": trust("vpc-flow-logs.amazonaws.com", source_arn=arn("ec2", "vpc-flow-log/*")),
    "monitoring": trust("monitoring.rds.amazonaws.com", source_arn=arn("rds", f"db:{OWNER}")),
}
FUNCTION_ARNS = {short: arn("lambda", f"function:{OWNER}-{short}") for short in ("work", "other")}
MACHINE_ARN = arn("states", f"stateMachine:{OWNER}")
TABLE_ARN = arn("dynamodb", f"table/{OWNER}-table")
SECRET_ARN = arn("secretsmanager", f"secret:{OWNER}-token-AbCdEf")
TOPIC_ARN = arn("sns", f"{OWNER}-reports")
API_ID = "a1b2c3d4e5"
ALARMS_PATTERN = arn("cloudwatch", f"alarm:{PREFIX}-*")
# handle → (namespace, dimension, the watched resource's value, the metrics its alarms watch)
ALARMED = {
    "sfn": ("AWS/States", "StateMachineArn", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{OWNER}",
            ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionThrottled")),
    "work": ("AWS/Lambda", "FunctionName", f"{OWNER}-work", ("Errors", "Throttles")),
    "other": ("AWS/Lambda", "FunctionName", f"{OWNER}-other", ("Errors", "Throttles")),
    "api": ("AWS/ApiGateway", "ApiId", API_ID, ("5xx",)),
}  # fmt: skip
QUEUE_ARN = arn("sqs", f"{OWNER}-dlq")
XRAY = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]


def _invoke(function: str, next_state: str) -> dict:
    return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": function},
            "Next": next_state}  # fmt: skip


# What the state machine's role grants, and nothing else: SW-SFN3 reads it from this definition.
MACHINE_DEFINITION = {
    "StartAt": "Work",
    "States": {
        "Work": _invoke(FUNCTION_ARNS["work"], "Other"),
        "Other": _invoke(FUNCTION_ARNS["other"], "Put"),
        "Put": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName": f"{OWNER}-table", "Item": {"id": {"S.$": "$.id"}}},
            "End": True,
        },
    },
}


def role_policies() -> dict[str, list[dict]]:
    data = f"arn:aws:s3:::{DATA_BUCKET}"
    return {
        "work": [
            allow(["logs:CreateLogStream", "logs:PutLogEvents"], [f"{LOGS_BASE}{LOG_GROUPS['fn-logs']}:*"], "Logs"),
            allow(XRAY, ["*"], "XRay"),
            allow(["s3:GetObject"], [f"{data}/in/*"], "Read"),
            allow(["s3:PutObject"], [f"{data}/out/*"], "Write"),
            allow(["secretsmanager:GetSecretValue"], [SECRET_ARN], "Secret"),
            allow(["dynamodb:GetItem"], [TABLE_ARN], "Table"),
            allow(["sqs:SendMessage"], [QUEUE_ARN], "Queue"),
            allow(["sns:Publish"], [TOPIC_ARN], "Topic"),
            allow(["kms:Decrypt", "kms:GenerateDataKey"], [KEY_ARN], "Key"),
        ],
        "other": [
            allow(["logs:CreateLogStream", "logs:PutLogEvents"], [f"{LOGS_BASE}{LOG_GROUPS['other-logs']}:*"]),
            allow(XRAY, ["*"], "XRay"),
        ],
        "sfn": [
            allow(["lambda:InvokeFunction"], [*FUNCTION_ARNS.values()], "Invoke"),
            allow(["dynamodb:PutItem"], [TABLE_ARN], "TablePutItem"),
            allow(list(KMS_TABLE_WRITE), [KEY_ARN], "TableKey"),
            allow(["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:DescribeLogGroups"], ["*"], "Delivery"),
            allow(XRAY, ["*"], "XRay"),
        ],
        "start": [allow(["states:StartExecution"], [MACHINE_ARN], "StartExecution")],
        "schedule": [allow(["states:StartExecution"], [MACHINE_ARN], "StartExecution")],
        "target": [allow(["states:StartExecution"], [MACHINE_ARN], "StartExecution")],
        "flowlogs": [
            allow(
                ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                [f"{LOGS_BASE}{LOG_GROUPS['flow-logs']}:*"],
                "Deliver",
            )
        ],
    }


def bucket(world: World, handle: str, name: str, sse: dict, policy: list[dict], logging_to: str | None) -> None:
    bucket_arn = f"arn:aws:s3:::{name}"
    world[handle] = res("aws:s3/bucket:Bucket", handle, {}, name, arn=bucket_arn, bucket=name)
    world[f"{handle}-pab"] = res(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        f"{handle}-pab",
        {"bucket": name, "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
         "restrictPublicBuckets": True},
    )  # fmt: skip
    world[f"{handle}-sse"] = res(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        f"{handle}-sse",
        {"bucket": name, "rules": [sse]},
    )
    world[f"{handle}-versioning"] = res(
        "aws:s3/bucketVersioning:BucketVersioning",
        f"{handle}-versioning",
        {"bucket": name, "versioningConfiguration": {"status": "Enabled"}},
    )
    world[f"{handle}-policy"] = res(
        "aws:s3/bucketPolicy:BucketPolicy",
        f"{handle}-policy",
        {"bucket": name, "policy": doc(tls_deny([bucket_arn, f"{bucket_arn}/*"]), *policy)},
    )
    world[f"{handle}-lifecycle"] = res(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        f"{handle}-lifecycle",
        {
            "bucket": name,
            "rules": [
                {"id": "abort-multipart", "status": "Enabled", "filter": {},
                 "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7.0}},
                {"id": "expire-staging", "status": "Enabled", "filter": {"prefix": "staging/"},
                 "expiration": {"days": 7.0}},
            ],
        },
    )  # fmt: skip
    if logging_to:
        world[f"{handle}-logging"] = res(
            "aws:s3/bucketLogging:BucketLogging",
            f"{handle}-logging",
            {"bucket": name, "targetBucket": logging_to, "targetPrefix": f"{name}/"},
        )


def hardened_world() -> World:
    """Every resource type the rules know, each hardened the way the rules ask."""
    w: World = {}
    w["key"] = res("aws:kms/key:Key", "demo-key", {"enableKeyRotation": True, "policy": key_policy()}, "k-demo",
                   arn=KEY_ARN, keyId="k-demo")  # fmt: skip
    w["alias"] = res("aws:kms/alias:Alias", "demo-alias", {"name": f"alias/{OWNER}", "targetKeyId": "k-demo"})
    for handle, name in LOG_GROUPS.items():
        w[handle] = res(
            "aws:cloudwatch/logGroup:LogGroup",
            f"demo-{handle}",
            {"name": name, "kmsKeyId": KEY_ARN, "retentionInDays": 30.0},
            name,
            arn=f"{LOGS_BASE}{name}",
            name=name,
        )
    policies = role_policies()
    for short, trust_policy in ROLES.items():
        w[f"{short}-role"] = res(
            "aws:iam/role:Role",
            f"demo-{short}-role",
            {"name": f"{OWNER}-{short}", "path": PATH, "assumeRolePolicy": trust_policy,
             "tags": {"pipeline": PIPELINE}},
            f"{OWNER}-{short}",
            arn=role_arn(short),
            name=f"{OWNER}-{short}",
        )  # fmt: skip
        if short in policies:
            w[f"{short}-policy"] = res(
                "aws:iam/rolePolicy:RolePolicy",
                f"demo-{short}-policy",
                {"role": f"{OWNER}-{short}", "policy": doc(*policies[short])},
            )
    w["monitoring-attachment"] = res(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "demo-monitoring-attachment",
        {"role": f"{OWNER}-monitoring",
         "policyArn": "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"},
    )  # fmt: skip
    for short, concurrency in (("work", 5.0), ("other", None)):
        inputs = {
            "name": f"{OWNER}-{short}",
            "role": role_arn(short),
            "tracingConfig": {"mode": "Active"},
            "loggingConfig": {"logFormat": "JSON", "logGroup": f"/aws/lambda/{OWNER}-{short}"},
        }
        if concurrency is not None:
            inputs["reservedConcurrentExecutions"] = concurrency
        w[f"{short}-function"] = res(
            "aws:lambda/function:Function", f"demo-{short}-function", inputs, arn=FUNCTION_ARNS[short]
        )
    w["sfn"] = res(
        "aws:sfn/stateMachine:StateMachine",
        "demo-sfn",
        {"name": OWNER, "roleArn": role_arn("sfn"), "tracingConfiguration": {"enabled": True},
         "definition": json.dumps(MACHINE_DEFINITION),
         "loggingConfiguration": {"level": "ALL", "includeExecutionData": False,
                                  "logDestination": f"{LOGS_BASE}{LOG_GROUPS['sfn-logs']}:*"}},
        MACHINE_ARN,
        arn=MACHINE_ARN,
    )  # fmt: skip
    w["route"] = res(
        "aws:apigatewayv2/route:Route", "demo-route", {"routeKey": "POST /start", "authorizationType": "AWS_IAM"}
    )
    w["stage"] = res(
        "aws:apigatewayv2/stage:Stage",
        "demo-stage",
        {"name": "$default",
         "accessLogSettings": {"destinationArn": f"{LOGS_BASE}{LOG_GROUPS['api-logs']}", "format": "{}"},
         "defaultRouteSettings": {"throttlingBurstLimit": 20.0, "throttlingRateLimit": 10.0}},
    )  # fmt: skip
    w["schedule"] = res(
        "aws:scheduler/schedule:Schedule",
        "demo-schedule",
        {"scheduleExpression": "rate(1 day)", "target": {"arn": MACHINE_ARN, "roleArn": role_arn("schedule")}},
    )
    w["event-rule"] = res(
        "aws:cloudwatch/eventRule:EventRule", "demo-rule", {"name": f"{OWNER}-uploads", "eventPattern": "{}"}
    )
    w["event-target"] = res(
        "aws:cloudwatch/eventTarget:EventTarget",
        "demo-target",
        {"rule": f"{OWNER}-uploads", "arn": MACHINE_ARN, "roleArn": role_arn("target"),
         "deadLetterConfig": {"arn": QUEUE_ARN}},
    )  # fmt: skip
    w["table"] = res(
        "aws:dynamodb/table:Table",
        "demo-table",
        {"serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY_ARN}},
        arn=TABLE_ARN,
    )
    w["secret"] = res("aws:secretsmanager/secret:Secret", "demo-token", {"kmsKeyId": KEY_ARN}, arn=SECRET_ARN)
    w["topic"] = res("aws:sns/topic:Topic", "demo-reports", {"kmsMasterKeyId": f"alias/{OWNER}"}, arn=TOPIC_ARN)
    cloudwatch_publishes = {
        "Sid": "CloudWatchAlarmsPublish", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish", "Resource": TOPIC_ARN,
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}, "ArnLike": {"aws:SourceArn": ALARMS_PATTERN}},
    }  # fmt: skip
    w["topic-policy"] = res(
        "aws:sns/topicPolicy:TopicPolicy",
        "demo-reports-policy",
        {"arn": TOPIC_ARN, "policy": doc(tls_deny(TOPIC_ARN, "sns:*"), cloudwatch_publishes)},
    )
    w["api"] = res(
        "aws:apigatewayv2/api:Api", "demo-api", {"protocolType": "HTTP"}, API_ID,
        arn=f"arn:aws:apigateway:{REGION}::/apis/{API_ID}",
    )  # fmt: skip
    for handle, (namespace, dimension, value, metrics) in ALARMED.items():
        for metric in metrics:
            name = f"{OWNER}-{handle}-{metric.lower()}"
            w[f"{handle}-{metric}-alarm"] = res(
                "aws:cloudwatch/metricAlarm:MetricAlarm",
                f"demo-{handle}-{metric}-alarm",
                {"name": name, "namespace": namespace, "metricName": metric, "dimensions": {dimension: value},
                 "statistic": "Sum", "period": 300.0, "threshold": 1.0, "evaluationPeriods": 1.0,
                 "comparisonOperator": "GreaterThanOrEqualToThreshold", "actionsEnabled": True,
                 "alarmActions": [TOPIC_ARN], "okActions": [TOPIC_ARN]},
                name,
                arn=arn("cloudwatch", f"alarm:{name}"),
            )  # fmt: skip
    w["queue"] = res(
        "aws:sqs/queue:Queue", "demo-dlq", {"kmsMasterKeyId": KEY_ARN}, QUEUE_URL, arn=QUEUE_ARN, url=QUEUE_URL
    )
    w["queue-policy"] = res(
        "aws:sqs/queuePolicy:QueuePolicy",
        "demo-dlq-policy",
        {"queueUrl": QUEUE_URL, "policy": doc(tls_deny(QUEUE_ARN, "sqs:*"))},
    )
    bucket(
        w,
        "data",
        DATA_BUCKET,
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN},
         "bucketKeyEnabled": True},
        [],
        LOG_BUCKET,
    )  # fmt: skip
    w["data-notification"] = res(
        "aws:s3/bucketNotification:BucketNotification", "demo-data-notification", {"bucket": DATA_BUCKET,
                                                                                   "eventbridge": True}
    )  # fmt: skip
    bucket(
        w,
        "logs",
        LOG_BUCKET,
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}},
        [
            {"Sid": "S3ServerAccessLogs", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
             "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{LOG_BUCKET}/*",
             "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                           "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{OWNER}-*"}}}
        ],
        None,
    )  # fmt: skip
    w["vpc"] = res("aws:ec2/vpc:Vpc", "demo-vpc", {"cidrBlock": "10.40.0.0/16"}, "vpc-1", arn=arn("ec2", "vpc/vpc-1"))
    w["flow-log"] = res(
        "aws:ec2/flowLog:FlowLog",
        "demo-flow-log",
        {"vpcId": "vpc-1", "logDestination": f"{LOGS_BASE}{LOG_GROUPS['flow-logs']}",
         "logDestinationType": "cloud-watch-logs", "iamRoleArn": role_arn("flowlogs"), "trafficType": "ALL"},
        "fl-1",
    )  # fmt: skip
    w["default-sg"] = res("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "demo-default-sg", {"vpcId": "vpc-1"})
    w["parameters"] = res(
        "aws:rds/parameterGroup:ParameterGroup",
        "demo-parameters",
        {"name": f"{OWNER}-postgres17", "family": "postgres17",
         "parameters": [{"name": "rds.force_ssl", "value": "1", "applyMethod": "immediate"}]},
        f"{OWNER}-postgres17",
    )  # fmt: skip
    w["db"] = res(
        "aws:rds/instance:Instance",
        "demo-db",
        {"identifier": OWNER, "engine": "postgres", "storageEncrypted": True, "kmsKeyId": KEY_ARN,
         "publiclyAccessible": False, "parameterGroupName": f"{OWNER}-postgres17", "backupRetentionPeriod": 7.0,
         "monitoringInterval": 60.0, "monitoringRoleArn": role_arn("monitoring"),
         "performanceInsightsEnabled": True, "performanceInsightsKmsKeyId": KEY_ARN,
         "manageMasterUserPassword": True, "masterUserSecretKmsKeyId": KEY_ARN,
         "enabledCloudwatchLogsExports": ["postgresql"]},
        OWNER,
        arn=arn("rds", f"db:{OWNER}"),
        identifier=OWNER,
        masterUserSecrets=[{"secretArn": arn("secretsmanager", "secret:rds!db-1-AbCdEf"), "kmsKeyId": KEY_ARN}],
    )  # fmt: skip
    return w


def run(world: World, rule_id: str | None = None):
    rules = [rule(rule_id)] if rule_id else None
    return check(list(world.values()), ACCOUNT, REGION, rules)


def edit_policy(resource: DeclaredResource, change: Callable[[list[dict]], None], field: str = "policy") -> None:
    document = json.loads(resource.inputs[field])
    change(document["Statement"])
    resource.inputs[field] = json.dumps(document)


def statement(statements: list[dict], sid: str) -> dict:
    (found,) = [s for s in statements if s.get("Sid") == sid]
    return found


# -- the hardened world passes every rule -------------------------------------------------------


def test_the_hardened_world_passes_every_rule():
    report = run(hardened_world())
    assert report.errors == []
    assert [str(f) for f in report.findings] == []


@pytest.mark.parametrize("rule_id", [r.id for r in RULES])
def test_each_rule_passes_on_the_hardened_world_and_has_something_to_check(rule_id):
    world = hardened_world()
    result = run(world, rule_id).results[0]
    assert result.error is None
    assert result.findings == []
    # No rule may pass because it found nothing of its types to look at.
    assert result.checked > 0, f"{rule_id} checks {rule(rule_id).types}, none of which the world declares"


def test_the_expected_exemptions_show_up_with_their_reasons():
    report = run(hardened_world())
    exempted = {(e.rule, e.resource.name) for e in report.exempted}
    assert exempted == {
        ("SW-BKT2", "logs"),
        ("SW-BKT6", "logs"),
        ("SW-LMB3", "demo-other-function"),
        ("SW-IAM2", "demo-start-role"),
        ("SW-IAM3", "demo-start-role"),
        ("SW-IAM3", "demo-work-role"),
        ("SW-IAM3", "demo-other-role"),
        ("SW-IAM8", "demo-monitoring-attachment"),
    }
    reasons = {(e.rule, e.resource.name): e.reason for e in report.exempted}
    assert "cannot deliver into an SSE-KMS bucket" in reasons["SW-BKT2", "logs"]
    assert "does not log to itself" in reasons["SW-BKT6", "logs"]
    assert "new account (quota 10) cannot reserve any" in reasons["SW-LMB3", "demo-other-function"]
    assert "does not set aws:SourceAccount" in reasons["SW-IAM2", "demo-start-role"]
    assert "trust.py SERVICES['apigateway.amazonaws.com']" in reasons["SW-IAM2", "demo-start-role"]
    assert "lambda.amazonaws.com" in reasons["SW-IAM3", "demo-work-role"]


# -- one flaw, and the rule fires ------------------------------------------------------------------


def _drop(resource: DeclaredResource, *path: str) -> None:
    value = resource.inputs
    for key in path[:-1]:
        value = value[key]
    del value[path[-1]]


def _set(resource: DeclaredResource, value, *path: str) -> None:
    target = resource.inputs
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _trust_condition(role: DeclaredResource, operator: str, key: str, value) -> None:
    def change(statements):
        statements[0].setdefault("Condition", {}).setdefault(operator, {})[key] = value

    edit_policy(role, change, "assumeRolePolicy")


def _drop_trust_condition(role: DeclaredResource, operator: str) -> None:
    edit_policy(role, lambda s: s[0]["Condition"].pop(operator), "assumeRolePolicy")


def _key_statement(w: World, sid: str, change: Callable[[dict], None]) -> None:
    edit_policy(w["key"], lambda statements: change(statement(statements, sid)))


def _drop_key_statement(w: World, sid: str) -> None:
    edit_policy(w["key"], lambda statements: statements.remove(statement(statements, sid)))


def _policy_statement(w: World, handle: str, sid: str, change: Callable[[dict], None]) -> None:
    edit_policy(w[handle], lambda statements: change(statement(statements, sid)))


def _drop_statement(w: World, handle: str, sid: str) -> None:
    edit_policy(w[handle], lambda statements: statements.remove(statement(statements, sid)))


def _lose_log_bucket_sse(w: World) -> None:
    w["logs-sse"].inputs["rules"] = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]


def _log_bucket_logs_to_itself(w: World) -> None:
    w["logs-logging"] = res(
        "aws:s3/bucketLogging:BucketLogging", "logs-logging", {"bucket": LOG_BUCKET, "targetBucket": LOG_BUCKET}
    )


# (rule, what is wrong, the flaw, the resource the finding names)
FLAWS: list[tuple[str, str, Callable[[World], None], str]] = [
    ("SW-KMS1", "rotation off", lambda w: _set(w["key"], False, "enableKeyRotation"), "demo-key"),
    ("SW-KMS2", "no explicit policy", lambda w: _drop(w["key"], "policy"), "demo-key"),
    (
        "SW-KMS2",
        "root may decrypt",
        lambda w: _key_statement(w, "AccountAdministration", lambda s: s.update(Action="kms:*")),
        "demo-key",
    ),
    (
        "SW-KMS2",
        "no administration statement",
        lambda w: _drop_key_statement(w, "AccountAdministration"),
        "demo-key",
    ),
    (
        "SW-KMS3",
        "pipeline roles statement unconditioned",
        lambda w: _key_statement(w, "PipelineRoles", lambda s: s.pop("Condition")),
        "demo-key",
    ),
    (
        "SW-KMS3",
        "account callers not confined to services",
        lambda w: _key_statement(w, "ThroughServices", lambda s: s["Condition"]["StringEquals"].pop("kms:ViaService")),
        "demo-key",
    ),
    (
        "SW-KMS3",
        "CloudWatch Logs for any log group of any account",
        lambda w: _key_statement(w, "CloudWatchLogs", lambda s: s.pop("Condition")),
        "demo-key",
    ),
    (
        "SW-KMS3",
        "a principal of another account",
        lambda w: _key_statement(
            w, "PipelineRoles", lambda s: s.update(Principal={"AWS": "arn:aws:iam::999999999999:role/x"})
        ),
        "demo-key",
    ),
    (
        "SW-KMS4",
        "pattern of another pipeline's path",
        lambda w: _key_statement(
            w,
            "PipelineRoles",
            lambda s: s["Condition"]["ArnLike"].update({"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/sw-t/x/*"}),
        ),
        "demo-key",
    ),
    (
        "SW-KMS4",
        "pattern that forgets the role path",
        lambda w: _key_statement(
            w,
            "PipelineRoles",
            lambda s: s["Condition"]["ArnLike"].update({"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/{OWNER}-*"}),
        ),
        "demo-key",
    ),
    (
        "SW-KMS5",
        "data grants without the key",
        lambda w: edit_policy(w["work-policy"], lambda s: s.remove(statement(s, "Key"))),
        "demo-work-policy",
    ),
    (
        "SW-KMS5",
        "table write with only kms:Decrypt",
        lambda w: _policy_statement(w, "sfn-policy", "TableKey", lambda s: s.update(Action=["kms:Decrypt"])),
        "demo-sfn-policy",
    ),
    (
        "SW-KMS5",
        "key grant under an encryption context S3 does not send",
        lambda w: _policy_statement(
            w,
            "work-policy",
            "Key",
            lambda s: s.update(Condition={"StringEquals": {"kms:EncryptionContext:pipeline": "demo"}}),
        ),
        "demo-work-policy",
    ),
    (
        "SW-KMS5",
        "key grant only via another service",
        lambda w: _policy_statement(
            w,
            "sfn-policy",
            "TableKey",
            lambda s: s.update(Condition={"StringEquals": {"kms:ViaService": f"sqs.{REGION}.amazonaws.com"}}),
        ),
        "demo-sfn-policy",
    ),
    (
        "SW-KMS6",
        "EventBridge not admitted to the dead-letter queue's key",
        lambda w: _drop_key_statement(w, "EventBridge"),
        "demo-target",
    ),
    (
        "SW-KMS6",
        "EventBridge admitted for other rules only",
        lambda w: _key_statement(
            w, "EventBridge", lambda s: s["Condition"]["ArnLike"].update({"aws:SourceArn": arn("events", "rule/x")})
        ),
        "demo-target",
    ),
    (
        "SW-KMS6",
        "CloudWatch not admitted to the alarm topic's key",
        lambda w: _drop_key_statement(w, "CloudWatchAlarms"),
        "demo-work-Errors-alarm",
    ),
    (
        "SW-KMS6",
        "CloudWatch admitted for other alarms only",
        lambda w: _key_statement(
            w,
            "CloudWatchAlarms",
            lambda s: s["Condition"]["ArnLike"].update({"aws:SourceArn": arn("cloudwatch", "alarm:x")}),
        ),
        "demo-sfn-ExecutionsFailed-alarm",
    ),
    ("SW-LOG1", "no key", lambda w: _drop(w["fn-logs"], "kmsKeyId"), "demo-fn-logs"),
    (
        "SW-LOG1",
        "an undeclared key",
        lambda w: _set(w["fn-logs"], arn("kms", "key/elsewhere"), "kmsKeyId"),
        "demo-fn-logs",
    ),
    (
        "SW-LOG2",
        "a name the key policy does not admit",
        lambda w: _set(w["fn-logs"], "/aws/lambda/sw-t-other-work", "name"),
        "demo-fn-logs",
    ),
    ("SW-LOG2", "no CloudWatch Logs statement", lambda w: _drop_key_statement(w, "CloudWatchLogs"), "demo-sfn-logs"),
    ("SW-LOG3", "kept forever", lambda w: _drop(w["api-logs"], "retentionInDays"), "demo-api-logs"),
    ("SW-SEC1", "secret without key", lambda w: _drop(w["secret"], "kmsKeyId"), "demo-token"),
    ("SW-SEC1", "RDS secret without key", lambda w: _drop(w["db"], "masterUserSecretKmsKeyId"), "demo-db"),
    ("SW-DDB1", "AWS-owned key", lambda w: _drop(w["table"], "serverSideEncryption", "kmsKeyArn"), "demo-table"),
    ("SW-DDB1", "encryption off", lambda w: _set(w["table"], False, "serverSideEncryption", "enabled"), "demo-table"),
    ("SW-SNS1", "unknown alias", lambda w: _set(w["topic"], "alias/aws/sns", "kmsMasterKeyId"), "demo-reports"),
    ("SW-SQS1", "SSE-SQS", lambda w: _drop(w["queue"], "kmsMasterKeyId"), "demo-dlq"),
    ("SW-BKT1", "one setting off", lambda w: _set(w["data-pab"], False, "restrictPublicBuckets"), "data"),
    ("SW-BKT1", "no public access block", lambda w: w.pop("data-pab"), "data"),
    (
        "SW-BKT2",
        "SSE-S3 on a bucket that is not the log bucket",
        lambda w: _set(w["data-sse"], [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}], "rules"),
        "data",
    ),
    ("SW-BKT2", "no bucket key", lambda w: w["data-sse"].inputs["rules"][0].pop("bucketKeyEnabled"), "data"),
    ("SW-BKT2", "log bucket under the AWS-managed key", _lose_log_bucket_sse, "logs"),
    (
        "SW-BKT3",
        "suspended",
        lambda w: _set(w["data-versioning"], {"status": "Suspended"}, "versioningConfiguration"),
        "data",
    ),
    (
        "SW-BKT4",
        "TLS deny on the bucket only",
        lambda w: _policy_statement(
            w, "data-policy", "DenyInsecureTransport", lambda s: s.update(Resource=f"arn:aws:s3:::{DATA_BUCKET}")
        ),
        "data",
    ),
    ("SW-BKT4", "no bucket policy", lambda w: w.pop("data-policy"), "data"),
    (
        "SW-BKT5",
        "abort rule only under a prefix",
        lambda w: w["data-lifecycle"].inputs["rules"][0].update(filter={"prefix": "in/"}),
        "data",
    ),
    ("SW-BKT5", "no lifecycle", lambda w: w.pop("data-lifecycle"), "data"),
    ("SW-BKT6", "does not log", lambda w: w.pop("data-logging"), "data"),
    (
        "SW-BKT6",
        "logs into an undeclared bucket",
        lambda w: _set(w["data-logging"], "somewhere-else", "targetBucket"),
        "data",
    ),
    ("SW-BKT6", "the log bucket logs into itself", _log_bucket_logs_to_itself, "logs"),
    (
        "SW-BKT7",
        "S3 logging for any account",
        lambda w: _policy_statement(
            w, "logs-policy", "S3ServerAccessLogs", lambda s: s["Condition"].pop("StringEquals")
        ),
        "logs",
    ),
    (
        "SW-BKT7",
        "aws:SourceArn not admitting a bucket that logs here",
        lambda w: _policy_statement(
            w,
            "logs-policy",
            "S3ServerAccessLogs",
            lambda s: s["Condition"]["ArnLike"].update({"aws:SourceArn": "arn:aws:s3:::other-*"}),
        ),
        "logs",
    ),
    (
        "SW-BKT7",
        "S3 logging admitted under another prefix than the one the data bucket logs to",
        lambda w: _policy_statement(
            w, "logs-policy", "S3ServerAccessLogs", lambda s: s.update(Resource=f"arn:aws:s3:::{LOG_BUCKET}/other/*")
        ),
        "logs",
    ),
    (
        "SW-BKT7",
        "S3 logging not admitted",
        lambda w: _policy_statement(w, "logs-policy", "S3ServerAccessLogs", lambda s: s.update(Effect="Deny")),
        "logs",
    ),
    ("SW-SNS2", "no topic policy", lambda w: w.pop("topic-policy"), "demo-reports"),
    (
        "SW-SQS2",
        "deny over TLS instead",
        lambda w: _policy_statement(
            w,
            "queue-policy",
            "DenyInsecureTransport",
            lambda s: s.update(Condition={"Bool": {"aws:SecureTransport": "true"}}),
        ),
        "demo-dlq",
    ),
    (
        "SW-IAM1",
        "a service the table does not describe",
        lambda w: edit_policy(
            w["start-role"], lambda s: s[0].update(Principal={"Service": "glue.amazonaws.com"}), "assumeRolePolicy"
        ),
        "demo-start-role",
    ),
    (
        "SW-IAM1",
        "an AWS principal",
        lambda w: edit_policy(
            w["start-role"],
            lambda s: s[0].update(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
            "assumeRolePolicy",
        ),
        "demo-start-role",
    ),
    (
        "SW-IAM2",
        "a Lambda role without aws:SourceAccount",
        lambda w: _drop_trust_condition(w["work-role"], "StringEquals"),
        "demo-work-role",
    ),
    (
        "SW-IAM2",
        "another account",
        lambda w: _trust_condition(w["sfn-role"], "StringEquals", "aws:SourceAccount", "999999999999"),
        "demo-sfn-role",
    ),
    (
        "SW-IAM3",
        "a state machine role without aws:SourceArn",
        lambda w: _drop_trust_condition(w["sfn-role"], "ArnLike"),
        "demo-sfn-role",
    ),
    (
        "SW-IAM3",
        "aws:SourceArn naming another state machine",
        lambda w: _trust_condition(w["sfn-role"], "ArnLike", "aws:SourceArn", arn("states", "stateMachine:other")),
        "demo-sfn-role",
    ),
    (
        "SW-IAM3",
        "aws:SourceArn for every account",
        lambda w: _trust_condition(w["flowlogs-role"], "ArnLike", "aws:SourceArn", "arn:aws:ec2:*:*:vpc-flow-log/*"),
        "demo-flowlogs-role",
    ),
    (
        "SW-IAM4",
        "aws:SourceAccount on the API Gateway role (every request 500s)",
        lambda w: _trust_condition(w["start-role"], "StringEquals", "aws:SourceAccount", ACCOUNT),
        "demo-start-role",
    ),
    (
        "SW-IAM4",
        "aws:SourceArn on a Lambda role",
        lambda w: _trust_condition(w["work-role"], "ArnLike", "aws:SourceArn", FUNCTION_ARNS["work"]),
        "demo-work-role",
    ),
    (
        "SW-IAM5",
        "s3:GetObject on *",
        lambda w: _policy_statement(w, "work-policy", "Read", lambda s: s.update(Resource="*")),
        "demo-work-policy",
    ),
    (
        "SW-IAM5",
        "every table of the account",
        lambda w: _policy_statement(w, "sfn-policy", "TablePutItem", lambda s: s.update(Resource=arn("dynamodb", "*"))),
        "demo-sfn-policy",
    ),
    (
        "SW-IAM6",
        "s3:*",
        lambda w: _policy_statement(w, "work-policy", "Read", lambda s: s.update(Action="s3:*")),
        "demo-work-policy",
    ),
    (
        "SW-IAM6",
        "NotAction",
        lambda w: _policy_statement(w, "work-policy", "Read", lambda s: s.update(NotAction=s.pop("Action"))),
        "demo-work-policy",
    ),
    ("SW-IAM7", "root path", lambda w: _set(w["work-role"], "/", "path"), "demo-work-role"),
    ("SW-IAM7", "another pipeline's path", lambda w: _set(w["work-role"], "/sw-t/other/", "path"), "demo-work-role"),
    (
        "SW-IAM8",
        "an AWS full-access policy",
        lambda w: _set(w["monitoring-attachment"], "arn:aws:iam::aws:policy/AdministratorAccess", "policyArn"),
        "demo-monitoring-attachment",
    ),
    (
        "SW-IAM8",
        "managedPolicyArns",
        lambda w: _set(w["work-role"], ["arn:aws:iam::aws:policy/AmazonS3FullAccess"], "managedPolicyArns"),
        "demo-work-role",
    ),
    ("SW-VPC1", "no flow log", lambda w: w.pop("flow-log"), "demo-vpc"),
    ("SW-VPC1", "rejected traffic only", lambda w: _set(w["flow-log"], "REJECT", "trafficType"), "demo-vpc"),
    ("SW-VPC1", "into an unencrypted log group", lambda w: _drop(w["flow-logs"], "kmsKeyId"), "demo-vpc"),
    (
        "SW-VPC1",
        "a role flow logs cannot assume",
        lambda w: _set(w["flow-log"], role_arn("work"), "iamRoleArn"),
        "demo-vpc",
    ),
    ("SW-VPC2", "default group not managed", lambda w: w.pop("default-sg"), "demo-vpc"),
    (
        "SW-VPC2",
        "default group keeps a rule",
        lambda w: _set(w["default-sg"], [{"protocol": "-1", "self": True, "fromPort": 0, "toPort": 0}], "ingress"),
        "demo-vpc",
    ),
    ("SW-RDS1", "public", lambda w: _set(w["db"], True, "publiclyAccessible"), "demo-db"),
    ("SW-RDS2", "AWS-managed storage key", lambda w: _drop(w["db"], "kmsKeyId"), "demo-db"),
    ("SW-RDS2", "unencrypted", lambda w: _set(w["db"], False, "storageEncrypted"), "demo-db"),
    ("SW-RDS3", "TLS optional", lambda w: w["parameters"].inputs["parameters"][0].update(value="0"), "demo-db"),
    ("SW-RDS3", "default parameter group", lambda w: _drop(w["db"], "parameterGroupName"), "demo-db"),
    ("SW-RDS4", "three days of backups", lambda w: _set(w["db"], 3.0, "backupRetentionPeriod"), "demo-db"),
    ("SW-RDS5", "monitoring unset", lambda w: _drop(w["db"], "monitoringInterval"), "demo-db"),
    ("SW-RDS5", "without a monitoring role", lambda w: _drop(w["db"], "monitoringRoleArn"), "demo-db"),
    ("SW-RDS5", "an interval RDS refuses", lambda w: _set(w["db"], 45.0, "monitoringInterval"), "demo-db"),
    (
        "SW-RDS6",
        "Performance Insights with the AWS key",
        lambda w: _drop(w["db"], "performanceInsightsKmsKeyId"),
        "demo-db",
    ),
    ("SW-RDS7", "exported log not declared", lambda w: w.pop("rds-logs"), "demo-db"),
    (
        "SW-LMB1",
        "pass-through tracing",
        lambda w: _set(w["work-function"], {"mode": "PassThrough"}, "tracingConfig"),
        "demo-work-function",
    ),
    (
        "SW-LMB2",
        "logs into an undeclared group",
        lambda w: _set(w["work-function"], "/aws/lambda/elsewhere", "loggingConfig", "logGroup"),
        "demo-work-function",
    ),
    (
        "SW-LMB3",
        "reserved concurrency 0 disables the function",
        lambda w: _set(w["other-function"], 0.0, "reservedConcurrentExecutions"),
        "demo-other-function",
    ),
    (
        "SW-LMB4",
        "two functions share a role",
        lambda w: _set(w["other-function"], role_arn("work"), "role"),
        "demo-other-function",
    ),
    (
        "SW-SFN1",
        "execution data logged",
        lambda w: _set(w["sfn"], True, "loggingConfiguration", "includeExecutionData"),
        "demo-sfn",
    ),
    ("SW-SFN1", "errors only", lambda w: _set(w["sfn"], "ERROR", "loggingConfiguration", "level"), "demo-sfn"),
    ("SW-SFN2", "no tracing", lambda w: _set(w["sfn"], {"enabled": False}, "tracingConfiguration"), "demo-sfn"),
    ("SW-API1", "no access logs", lambda w: _drop(w["stage"], "accessLogSettings"), "demo-stage"),
    ("SW-API2", "no throttling", lambda w: _drop(w["stage"], "defaultRouteSettings"), "demo-stage"),
    ("SW-API3", "open route", lambda w: _set(w["route"], "NONE", "authorizationType"), "demo-route"),
    ("SW-SFN3", "a state's table not granted", lambda w: _drop_statement(w, "sfn-policy", "TablePutItem"), "demo-sfn"),
    ("SW-OPS1", "no timed-out alarm", lambda w: w.pop("sfn-ExecutionsTimedOut-alarm"), "demo-sfn"),
    (
        "SW-OPS1",
        "the errors alarm watches another function",
        lambda w: _set(w["work-Errors-alarm"], {"FunctionName": f"{OWNER}-elsewhere"}, "dimensions"),
        "demo-work-function",
    ),
    (
        "SW-OPS1",
        "the throttles alarm in another namespace",
        lambda w: _set(w["other-Throttles-alarm"], "AWS/States", "namespace"),
        "demo-other-function",
    ),
    ("SW-OPS1", "an API without its 5xx alarm", lambda w: w.pop("api-5xx-alarm"), "demo-api"),
    (
        "SW-OPS2",
        "actions disabled",
        lambda w: _set(w["work-Errors-alarm"], False, "actionsEnabled"),
        "demo-work-Errors-alarm",
    ),
    ("SW-OPS2", "no OK action", lambda w: _drop(w["api-5xx-alarm"], "okActions"), "demo-api-5xx-alarm"),
    (
        "SW-OPS2",
        "an undeclared topic",
        lambda w: _set(w["sfn-ExecutionsFailed-alarm"], [arn("sns", "elsewhere")], "alarmActions"),
        "demo-sfn-ExecutionsFailed-alarm",
    ),
    (
        "SW-OPS2",
        "the topic policy does not admit CloudWatch",
        lambda w: _drop_statement(w, "topic-policy", "CloudWatchAlarmsPublish"),
        "demo-other-Errors-alarm",
    ),
    (
        "SW-OPS2",
        "CloudWatch admitted for another account's alarms",
        lambda w: _policy_statement(
            w,
            "topic-policy",
            "CloudWatchAlarmsPublish",
            lambda s: s["Condition"]["StringEquals"].update({"aws:SourceAccount": "999999999999"}),
        ),
        "demo-work-Throttles-alarm",
    ),
    (
        "SW-SFN3",
        "a grant no state uses",
        lambda w: _policy_statement(
            w, "sfn-policy", "Invoke", lambda s: s["Resource"].append(arn("lambda", "function:x"))
        ),
        "demo-sfn",
    ),
]


@pytest.mark.parametrize(
    ("rule_id", "flaw", "resource"), [(r, f, n) for r, _, f, n in FLAWS], ids=[f"{r}: {d}" for r, d, _, _ in FLAWS]
)
def test_one_flaw_makes_the_rule_fire_on_the_flawed_resource(rule_id, flaw, resource):
    world = hardened_world()
    flaw(world)
    result = run(world, rule_id).results[0]
    assert result.error is None
    assert resource in {f.resource.name for f in result.findings}, [str(f) for f in result.findings]
    assert all(f.message for f in result.findings)


def test_every_rule_has_a_flaw_that_makes_it_fire():
    assert {r.id for r in RULES} == {rule_id for rule_id, *_ in FLAWS}


# -- exemptions apply only to what they select -------------------------------------------------------


def test_an_explicit_monitoring_interval_of_zero_is_exempt_but_an_unset_one_is_not():
    world = hardened_world()
    world["db"].inputs["monitoringInterval"] = 0.0
    result = run(world, "SW-RDS5").results[0]
    assert result.findings == []
    assert [(e.resource.name, "turned enhanced monitoring off" in e.reason) for e in result.exempted] == [
        ("demo-db", True)
    ]
    del world["db"].inputs["monitoringInterval"]
    assert [f.resource.name for f in run(world, "SW-RDS5").results[0].findings] == ["demo-db"]


def test_the_log_bucket_is_found_by_the_logging_targets_not_by_name():
    world = hardened_world()
    # Without any bucket logging into it, the SSE-S3 bucket is just an SSE-S3 bucket.
    world.pop("data-logging")
    report = run(world)
    assert "logs" in {f.resource.name for f in report.result("SW-BKT2").findings}
    assert report.result("SW-BKT2").exempted == []


def test_sse_s3_on_the_log_bucket_is_exempt_only_as_sse_s3():
    world = hardened_world()
    world["logs-sse"].inputs["rules"] = []
    result = run(world, "SW-BKT2").results[0]
    assert [f.resource.name for f in result.findings] == ["logs"]


def test_a_lambda_role_is_exempt_from_source_arn_but_not_from_source_account():
    world = hardened_world()
    _drop_trust_condition(world["work-role"], "StringEquals")
    report = run(world)
    assert "demo-work-role" in {f.resource.name for f in report.result("SW-IAM2").findings}
    assert "demo-work-role" in {e.resource.name for e in report.result("SW-IAM3").exempted}


def test_set_reserved_concurrency_is_neither_a_finding_nor_exempt():
    report = run(hardened_world(), "SW-LMB3")
    assert "demo-work-function" not in {e.resource.name for e in report.exempted}
    assert report.findings == []


def test_trust_messages_name_the_table_entry():
    world = hardened_world()
    _trust_condition(world["start-role"], "ArnLike", "aws:SourceArn", arn("execute-api", "*"))
    (finding,) = run(world, "SW-IAM4").findings
    assert "infra/components/trust.py SERVICES['apigateway.amazonaws.com']" in finding.message
    world = hardened_world()
    _drop_trust_condition(world["sfn-role"], "ArnLike")
    (finding,) = run(world, "SW-IAM3").findings
    assert "SERVICES['states.amazonaws.com']" in finding.message


# -- the runner and its helpers --------------------------------------------------------------------


def test_a_rule_that_breaks_is_reported_and_the_others_still_run():
    from infra.hardening.model import Rule

    def broken(ix):
        raise KeyError("boom")

    rules = [Rule("SW-TEST1", "broken", "always raises", ("aws:kms/key:Key",), broken), rule("SW-KMS1")]
    report = check(list(hardened_world().values()), ACCOUNT, REGION, rules)
    assert report.errors == ["SW-TEST1: KeyError: 'boom'"]
    assert not report.ok
    assert report.result("SW-KMS1").ok


def test_report_lines_show_each_rule_with_pass_findings_and_grouped_exemptions():
    world = hardened_world()
    world["key"].inputs["enableKeyRotation"] = False
    lines = run(world).lines()
    assert any(line.startswith("SW-KMS1") and line.endswith("1 finding") for line in lines)
    assert any(line.startswith("SW-SFN2") and line.endswith("pass") for line in lines)
    assert any(line.startswith("SW-LMB3") and line.endswith("pass, 1 exempted") for line in lines)
    assert "    aws:kms/key:Key demo-key: enableKeyRotation is not true: the key material never rotates" in lines


L = "arn:aws:logs:eu-west-1:1:log-group:"


@pytest.mark.parametrize(
    ("pattern", "arn", "matches"),
    [
        (f"{L}/aws/*/sw-t-demo-*", f"{L}/aws/lambda/sw-t-demo-x", True),
        (f"{L}/aws/*/sw-t-demo", f"{L}/aws/vendedlogs/states/sw-t-demo", True),
        (f"{L}/aws/*/sw-t-demo", f"{L}/aws/lambda/sw-t-demo-x", False),
        (f"{L}/aws/?/x", f"{L}/aws/ab/x", False),
        (f"{L}/aws/??/x", f"{L}/aws/ab/x", True),
        # Components are matched separately: a * in the region does not swallow the account.
        ("arn:aws:logs:*:1:log-group:x", "arn:aws:logs:eu-west-1:2:log-group:x", False),
        ("arn:aws:iam::1:role/sw-t/demo/*", "arn:aws:iam::1:role/sw-t/demo/sw-t-demo-work", True),
        ("arn:aws:iam::1:role/sw-t-demo-*", "arn:aws:iam::1:role/sw-t/demo/sw-t-demo-work", False),
        ("*", "arn:aws:s3:::anything", True),
    ],
)
def test_arn_like_matches_component_by_component(pattern, arn, matches):
    assert p.arn_like(pattern, arn) is matches


def test_the_index_resolves_keys_by_alias_roles_with_their_path_and_bucket_companions():
    world = hardened_world()
    index = Index(list(world.values()), ACCOUNT, REGION)
    assert index.key(f"alias/{OWNER}") is world["key"]
    assert index.key("k-demo") is world["key"]
    assert index.key(arn("kms", "key/other")) is None
    # A role ARN as IAM forms it includes the path (the mocks' outputs leave it out).
    world["work-role"].outputs["arn"] = f"arn:aws:iam::{ACCOUNT}:role/{OWNER}-work"
    index = Index(list(world.values()), ACCOUNT, REGION)
    assert index.role_arn(world["work-role"]) == role_arn("work")
    assert index.role(role_arn("work")) is world["work-role"]
    assert index.role(f"arn:aws:iam::{ACCOUNT}:role/{OWNER}-work") is world["work-role"]
    assert [r.name for r, _ in index.role_policies(world["work-role"])] == ["demo-work-policy"]
    assert {c.name for c in index.companions(world["data"], "aws:s3/bucketVersioning:BucketVersioning")} == {
        "data-versioning"
    }
    assert index.log_bucket is world["logs"]
    assert index.log_group_arn(world["fn-logs"]) == f"{LOGS_BASE}/aws/lambda/{OWNER}-work"


def test_secret_wrapped_inputs_are_read_as_their_values():
    world = hardened_world()
    world["fn-logs"].inputs["kmsKeyId"] = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                                           "value": KEY_ARN}  # fmt: skip
    assert run(world, "SW-LOG1").ok
