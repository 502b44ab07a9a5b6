"""The identifiers AWS gives each resource type, with the random parts derived from a hash.

``synthetic_outputs`` answers, for a resource nobody creates (offline ``synth``, the program
tests), the id and outputs pulumi-aws would report: ARNs in their service's documented format,
EC2 ids (``vpc-`` + 17 hex digits …), API ids, queue URLs, endpoints and auto-generated names.
Every "random" part is a hash of the resource's type and logical name, so two runs of the same
program answer the same identifiers and synth output diffs stay stable.

A type without an entry in ``FORMATS`` gets a hashed id and no outputs: the mocks never invent an
ARN format; a test requires an entry for every type the program declares.
"""

from __future__ import annotations

import hashlib
import re
import string
import uuid
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ACCOUNT_ID = "123456789012"
REGION = "us-west-2"
PARTITION = "aws"

LOWER_ALNUM = string.ascii_lowercase + string.digits
MIXED_ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits


# --- hashed "random" parts -----------------------------------------------------------------------


def hex_id(*parts: str, length: int = 17) -> str:
    """``length`` hex digits derived from ``parts``."""
    return hashlib.sha1("/".join(parts).encode()).hexdigest()[:length]


def chars(*parts: str, length: int, alphabet: str = LOWER_ALNUM) -> str:
    """``length`` characters of ``alphabet`` derived from ``parts``."""
    out: list[str] = []
    counter = 0
    while len(out) < length:
        number = int.from_bytes(hashlib.sha256("/".join((*parts, str(counter))).encode()).digest(), "big")
        for _ in range(32):  # 256 bits hold 32 characters of any alphabet up to 256 symbols
            number, index = divmod(number, len(alphabet))
            out.append(alphabet[index])
        counter += 1
    return "".join(out[:length])


def uuid4(*parts: str) -> str:
    """A version-4 UUID (the form of KMS key ids, connection ids, …) derived from ``parts``."""
    return str(uuid.UUID(bytes=hashlib.sha256("/".join(parts).encode()).digest()[:16], version=4))


def physical_name(logical: str, max_length: int = 64, lower: bool = False) -> str:
    """A stable physical name for an auto-named resource: ``<logical>-<7 hex>``, length-capped."""
    suffix = hex_id(logical, length=7)
    base = logical.lower() if lower else logical
    return f"{base[: max_length - 8]}-{suffix}"


def bucket_name(logical: str) -> str:
    """An auto-generated S3 bucket name: ``<logical>-<7 hex>``, lowercase, only ``[a-z0-9.-]``."""
    name = physical_name(logical, 63, lower=True)
    name = re.sub(r"[^a-z0-9.-]", "-", name)
    return name if name[0].isalnum() else f"b{name[1:]}"


def rds_name(name: str, max_length: int = 63) -> str:
    """An RDS name as RDS stores it: lowercase letters, digits and single hyphens, a letter first."""
    name = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", name.lower())).strip("-")
    name = name if name[:1].isalpha() else f"db-{name}"
    return name[:max_length].rstrip("-")


# --- the context every answer is built in --------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One resource to answer for: its type, logical name, inputs, and the region and account."""

    typ: str
    name: str
    inputs: Mapping[str, Any]
    region: str = REGION
    account: str = ACCOUNT_ID

    def arn(self, service: str, resource: str, regional: bool = True, account: bool = True) -> str:
        """``arn:aws:<service>:<region>:<account>:<resource>`` (global services leave region out)."""
        region = self.region if regional else ""
        return f"arn:{PARTITION}:{service}:{region}:{self.account if account else ''}:{resource}"

    def given(self, key: str = "name") -> str | None:
        """The input ``key`` when the program set it to a non-empty string."""
        value = self.inputs.get(key)
        return value if isinstance(value, str) and value else None

    def named(self, key: str = "name", max_length: int = 64, lower: bool = False) -> str:
        """The given name, or the auto-generated ``<logical>-<7 hex>``."""
        return self.given(key) or physical_name(self.name, max_length, lower)

    def hex(self, *extra: str, length: int = 17) -> str:
        return hex_id(self.typ, self.name, *extra, length=length)

    def chars(self, length: int, alphabet: str = LOWER_ALNUM, *extra: str) -> str:
        return chars(self.typ, self.name, *extra, length=length, alphabet=alphabet)

    def uuid(self, *extra: str) -> str:
        return uuid4(self.typ, self.name, *extra)

    def timestamp_id(self) -> str:
        """Terraform's ``PrefixedUniqueId`` tail: a UTC timestamp to 1/10000 s and an 8-hex-digit counter."""
        return f"20250101000000{int(self.hex(length=4), 16) % 10000:04d}{int(self.hex('n', length=2), 16) + 1:08x}"


Outputs = tuple[str, dict[str, Any]]
Format = Callable[[Answer], Outputs]
FORMATS: dict[str, Format] = {}


def answers(*types: str) -> Callable[[Format], Format]:
    """Register ``fn`` as the identifier format of ``types``."""

    def register(fn: Format) -> Format:
        for typ in types:
            FORMATS[typ] = fn
        return fn

    return register


def synthetic_outputs(
    typ: str, name: str, inputs: Mapping[str, Any], region: str = REGION, account: str = ACCOUNT_ID
) -> Outputs:
    """The id and outputs AWS (through pulumi-aws) reports for a resource nobody creates."""
    answer = Answer(typ, name, inputs, region, account)
    fmt = FORMATS.get(typ)
    if fmt is None:
        return answer.hex(length=12), {}
    return fmt(answer)


# --- IAM -----------------------------------------------------------------------------------------


def _iam_path(a: Answer) -> str:
    return a.given("path") or "/"


@answers("aws:iam/role:Role")
def _role(a: Answer) -> Outputs:
    name, path = a.named(), _iam_path(a)
    return name, {
        "arn": a.arn("iam", f"role{path}{name}", regional=False),
        "name": name,
        "path": path,
        "uniqueId": f"AROA{a.chars(17, UPPER_ALNUM)}",
    }


@answers("aws:iam/policy:Policy")
def _policy(a: Answer) -> Outputs:
    name, path = a.named(max_length=128), _iam_path(a)
    arn = a.arn("iam", f"policy{path}{name}", regional=False)
    return arn, {"arn": arn, "name": name, "path": path, "policyId": f"ANPA{a.chars(17, UPPER_ALNUM)}"}


@answers("aws:iam/rolePolicy:RolePolicy")
def _role_policy(a: Answer) -> Outputs:
    name = a.named(max_length=128)
    return f"{a.given('role') or 'role'}:{name}", {"name": name}


@answers("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
def _role_policy_attachment(a: Answer) -> Outputs:
    return f"{a.given('role') or 'role'}-{a.timestamp_id()}", {}


# --- KMS and Secrets Manager ---------------------------------------------------------------------


@answers("aws:kms/key:Key")
def _kms_key(a: Answer) -> Outputs:
    key_id = a.uuid()
    return key_id, {"arn": a.arn("kms", f"key/{key_id}"), "keyId": key_id}


@answers("aws:kms/alias:Alias")
def _kms_alias(a: Answer) -> Outputs:
    alias = a.given() or f"alias/{physical_name(a.name, 250)}"
    target = a.given("targetKeyId") or a.uuid("target")
    target_arn = target if target.startswith("arn:") else a.arn("kms", f"key/{target}")
    return alias, {"arn": a.arn("kms", alias), "name": alias, "targetKeyArn": target_arn}


def secret_arn(a: Answer, secret_name: str, *extra: str) -> str:
    """A secret's ARN: its name, a hyphen and six random letters and digits."""
    return a.arn("secretsmanager", f"secret:{secret_name}-{a.chars(6, MIXED_ALNUM, 'secret', *extra)}")


@answers("aws:secretsmanager/secret:Secret")
def _secret(a: Answer) -> Outputs:
    arn = secret_arn(a, a.named(max_length=256))
    return arn, {"arn": arn, "name": a.named(max_length=256)}


# --- logs, Lambda, Step Functions, DynamoDB ------------------------------------------------------


@answers("aws:cloudwatch/logGroup:LogGroup")
def _log_group(a: Answer) -> Outputs:
    # pulumi-aws reports the group's ARN without the ``:*`` some CloudWatch Logs APIs append.
    name = a.named(max_length=512)
    return name, {"arn": a.arn("logs", f"log-group:{name}"), "name": name}


@answers("aws:lambda/function:Function")
def _function(a: Answer) -> Outputs:
    name = a.named()
    arn = a.arn("lambda", f"function:{name}")
    version = "1" if a.inputs.get("publish") is True else "$LATEST"
    qualified = f"{arn}:{version}"

    def invoke(target: str) -> str:
        # API Gateway's ARN of the Lambda invoke action: ``lambda`` stands where the account would.
        return f"arn:{PARTITION}:apigateway:{a.region}:lambda:path/2015-03-31/functions/{target}/invocations"

    return name, {
        "arn": arn,
        "name": name,
        "version": version,
        "qualifiedArn": qualified,
        "invokeArn": invoke(arn),
        "qualifiedInvokeArn": invoke(qualified),
    }


@answers("aws:lambda/permission:Permission")
def _permission(a: Answer) -> Outputs:
    # The id is the statement's id: the given one, or a terraform-<timestamp> one when none is given.
    statement = a.given("statementId") or f"terraform-{a.timestamp_id()}"
    return statement, {"statementId": statement}


@answers("aws:lambda/layerVersion:LayerVersion")
def _layer_version(a: Answer) -> Outputs:
    layer = a.arn("lambda", f"layer:{a.named('layerName', 140)}")
    return f"{layer}:1", {"arn": f"{layer}:1", "layerArn": layer, "version": "1"}


@answers("aws:sfn/stateMachine:StateMachine")
def _state_machine(a: Answer) -> Outputs:
    name = a.named(max_length=80)
    arn = a.arn("states", f"stateMachine:{name}")
    return arn, {"arn": arn, "name": name}


@answers("aws:dynamodb/table:Table")
def _table(a: Answer) -> Outputs:
    name = a.named(max_length=255)
    arn = a.arn("dynamodb", f"table/{name}")
    outputs: dict[str, Any] = {"arn": arn, "name": name}
    if a.inputs.get("streamEnabled") is True:
        label = f"2025-01-01T00:00:{int(a.hex(length=4), 16) % 60:02d}.{int(a.hex('ms', length=4), 16) % 1000:03d}"
        outputs.update(streamArn=f"{arn}/stream/{label}", streamLabel=label)
    return name, outputs


# --- API Gateway v2 ------------------------------------------------------------------------------


def _api_id(a: Answer) -> str:
    return a.given("apiId") or chars("api", a.name, length=10)


@answers("aws:apigatewayv2/api:Api")
def _api(a: Answer) -> Outputs:
    api_id = a.chars(10)
    protocol = "wss" if a.inputs.get("protocolType") == "WEBSOCKET" else "https"
    return api_id, {
        "apiEndpoint": f"{protocol}://{api_id}.execute-api.{a.region}.amazonaws.com",
        "executionArn": a.arn("execute-api", api_id),
        "arn": a.arn("apigateway", f"/apis/{api_id}", account=False),
    }


@answers("aws:apigatewayv2/integration:Integration", "aws:apigatewayv2/route:Route")
def _api_child(a: Answer) -> Outputs:
    return a.chars(7), {}


@answers("aws:apigatewayv2/authorizer:Authorizer")
def _authorizer(a: Answer) -> Outputs:
    return a.chars(6), {"name": a.named(max_length=128)}


@answers("aws:apigatewayv2/stage:Stage")
def _stage(a: Answer) -> Outputs:
    api_id, name = _api_id(a), a.named(max_length=128)
    path = "" if name == "$default" else name
    return name, {
        "name": name,
        "arn": a.arn("apigateway", f"/apis/{api_id}/stages/{name}", account=False),
        "executionArn": a.arn("execute-api", f"{api_id}/{name}"),
        "invokeUrl": f"https://{api_id}.execute-api.{a.region}.amazonaws.com/{path}",
    }


# --- CloudWatch alarms and dashboards ------------------------------------------------------------


@answers("aws:cloudwatch/metricAlarm:MetricAlarm")
def _metric_alarm(a: Answer) -> Outputs:
    # The id is the alarm's name; the ARN is regional.
    name = a.named(max_length=255)
    return name, {"arn": a.arn("cloudwatch", f"alarm:{name}"), "name": name}


@answers("aws:cloudwatch/dashboard:Dashboard")
def _dashboard(a: Answer) -> Outputs:
    # Dashboards are global: the ARN has the account and no region.
    name = a.given("dashboardName") or physical_name(a.name, 255)
    return name, {"dashboardArn": a.arn("cloudwatch", f"dashboard/{name}", regional=False), "dashboardName": name}


# --- EventBridge and EventBridge Scheduler -------------------------------------------------------


@answers("aws:cloudwatch/eventRule:EventRule")
def _event_rule(a: Answer) -> Outputs:
    name, bus = a.named(), a.given("eventBusName")
    if bus and bus != "default":
        return f"{bus}/{name}", {"arn": a.arn("events", f"rule/{bus}/{name}"), "name": name}
    return name, {"arn": a.arn("events", f"rule/{name}"), "name": name}


@answers("aws:cloudwatch/eventTarget:EventTarget")
def _event_target(a: Answer) -> Outputs:
    target_id = a.given("targetId") or f"terraform-{a.timestamp_id()}"
    return f"{a.given('rule') or 'rule'}-{target_id}", {"targetId": target_id}


@answers("aws:cloudwatch/eventConnection:EventConnection")
def _event_connection(a: Answer) -> Outputs:
    name, connection_id = a.named(), a.uuid()
    return name, {
        "arn": a.arn("events", f"connection/{name}/{connection_id}"),
        "name": name,
        "secretArn": secret_arn(a, f"events!connection/{name}/{a.uuid('secret')}"),
    }


@answers("aws:scheduler/schedule:Schedule")
def _schedule(a: Answer) -> Outputs:
    name, group = a.named(), a.given("groupName") or "default"
    return f"{group}/{name}", {
        "arn": a.arn("scheduler", f"schedule/{group}/{name}"),
        "name": name,
        "groupName": group,
    }


@answers("aws:scheduler/scheduleGroup:ScheduleGroup")
def _schedule_group(a: Answer) -> Outputs:
    name = a.named()
    return name, {"arn": a.arn("scheduler", f"schedule-group/{name}"), "name": name}


# --- SNS and SQS ---------------------------------------------------------------------------------


def _fifo(name: str, fifo: bool, max_length: int) -> str:
    return f"{name[: max_length - 5]}.fifo" if fifo and not name.endswith(".fifo") else name


@answers("aws:sns/topic:Topic")
def _topic(a: Answer) -> Outputs:
    topic = _fifo(a.named(max_length=256), a.inputs.get("fifoTopic") is True, 256)
    arn = a.arn("sns", topic)
    return arn, {"arn": arn, "name": topic}


@answers("aws:sns/topicPolicy:TopicPolicy")
def _topic_policy(a: Answer) -> Outputs:
    arn = a.given("arn") or a.arn("sns", physical_name(a.name, 256))
    return arn, {"arn": arn}


@answers("aws:sns/topicSubscription:TopicSubscription")
def _topic_subscription(a: Answer) -> Outputs:
    topic = a.given("topic") or a.arn("sns", physical_name(a.name, 256))
    arn = f"{topic}:{a.uuid()}"
    return arn, {"arn": arn}


def queue_url(a: Answer, queue: str) -> str:
    """``https://sqs.<region>.amazonaws.com/<account>/<queue>``."""
    return f"https://sqs.{a.region}.amazonaws.com/{a.account}/{queue}"


@answers("aws:sqs/queue:Queue")
def _queue(a: Answer) -> Outputs:
    queue = _fifo(a.named(max_length=80), a.inputs.get("fifoQueue") is True, 80)
    url = queue_url(a, queue)
    return url, {"arn": a.arn("sqs", queue), "url": url, "name": queue}


@answers("aws:sqs/queuePolicy:QueuePolicy")
def _queue_policy(a: Answer) -> Outputs:
    url = a.given("queueUrl") or queue_url(a, physical_name(a.name, 80))
    return url, {"queueUrl": url}


# --- S3 ------------------------------------------------------------------------------------------


@answers("aws:s3/bucket:Bucket")
def _bucket(a: Answer) -> Outputs:
    prefix = a.given("bucketPrefix")
    bucket = a.given("bucket") or (f"{prefix}{a.timestamp_id()}" if prefix else bucket_name(a.name))
    return bucket, {
        "arn": a.arn("s3", bucket, regional=False, account=False),
        "bucket": bucket,
        "id": bucket,
        "bucketDomainName": f"{bucket}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket}.s3.{a.region}.amazonaws.com",
        "region": a.region,
    }


@answers(
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLogging:BucketLogging",
    "aws:s3/bucketNotification:BucketNotification",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
)
def _bucket_setting(a: Answer) -> Outputs:
    # A bucket's settings are identified by the bucket's name.
    bucket = a.given("bucket") or bucket_name(a.name)
    return bucket, {"bucket": bucket}


@answers("aws:s3/bucketObjectv2:BucketObjectv2")
def _bucket_object(a: Answer) -> Outputs:
    bucket, key = a.given("bucket") or bucket_name(a.name), a.given("key") or a.name
    return key, {
        "arn": a.arn("s3", f"{bucket}/{key}", regional=False, account=False),
        "bucket": bucket,
        "key": key,
        "etag": a.hex("etag", length=32),
        "versionId": a.chars(32, MIXED_ALNUM, "version"),
    }


# --- EC2 / VPC -----------------------------------------------------------------------------------


# Pulumi type → (id prefix, ARN resource type or None) of the EC2/VPC resources.
NETWORK_IDS = {
    "aws:ec2/vpc:Vpc": ("vpc", "vpc"),
    "aws:ec2/subnet:Subnet": ("subnet", "subnet"),
    "aws:ec2/internetGateway:InternetGateway": ("igw", "internet-gateway"),
    "aws:ec2/eip:Eip": ("eipalloc", "elastic-ip"),
    "aws:ec2/natGateway:NatGateway": ("nat", None),
    "aws:ec2/routeTable:RouteTable": ("rtb", "route-table"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("rtbassoc", None),
    "aws:ec2/networkAcl:NetworkAcl": ("acl", "network-acl"),
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl": ("acl", "network-acl"),
    "aws:ec2/securityGroup:SecurityGroup": ("sg", "security-group"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("sg", "security-group"),
    "aws:ec2/flowLog:FlowLog": ("fl", "vpc-flow-log"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("sgr", "security-group-rule"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("sgr", "security-group-rule"),
}


def _ip(a: Answer, *extra: str) -> str:
    return f"198.51.100.{int(hex_id(a.name, *extra, length=2), 16) % 250 + 1}"


@answers(*NETWORK_IDS)
def _network(a: Answer) -> Outputs:
    prefix, kind = NETWORK_IDS[a.typ]
    ident = f"{prefix}-{a.hex()}"
    outputs: dict[str, Any] = {"id": ident}
    if kind:
        outputs["arn"] = a.arn("ec2", f"{kind}/{ident}")
    if a.typ == "aws:ec2/vpc:Vpc":
        main_table = f"rtb-{a.hex('main-rtb')}"
        outputs.update(
            cidrBlock=a.inputs.get("cidrBlock", ""),
            defaultSecurityGroupId=f"sg-{a.hex('default-sg')}",
            defaultNetworkAclId=f"acl-{a.hex('default-acl')}",
            defaultRouteTableId=main_table,
            mainRouteTableId=main_table,
            dhcpOptionsId=f"dopt-{a.hex('dopt')}",
            ownerId=a.account,
        )
    elif a.typ == "aws:ec2/subnet:Subnet":
        outputs.update(
            availabilityZone=a.inputs.get("availabilityZone", f"{a.region}a"),
            vpcId=a.inputs.get("vpcId", ""),
            cidrBlock=a.inputs.get("cidrBlock", ""),
            ownerId=a.account,
        )
    elif a.typ == "aws:ec2/securityGroup:SecurityGroup":
        outputs.update(name=a.named(max_length=255), vpcId=a.inputs.get("vpcId", ""), ownerId=a.account)
    elif a.typ == "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup":
        outputs.update(name="default", vpcId=a.inputs.get("vpcId", ""), ingress=[], egress=[], ownerId=a.account)
    elif a.typ == "aws:ec2/eip:Eip":
        ip = _ip(a)
        public_dns = f"ec2-{ip.replace('.', '-')}.{a.region}.compute.amazonaws.com"
        outputs.update(allocationId=ident, publicIp=ip, publicDns=public_dns, domain="vpc")
    elif a.typ == "aws:ec2/natGateway:NatGateway":
        outputs.update(networkInterfaceId=f"eni-{a.hex('eni')}", allocationId=a.inputs.get("allocationId", ""))
    elif kind == "security-group-rule":
        outputs.update(securityGroupRuleId=ident)
    return ident, outputs


@answers("aws:ec2/route:Route")
def _route(a: Answer) -> Outputs:
    # Terraform's route id: ``r-`` + the route table id + the CRC-32 of the destination.
    table = a.given("routeTableId") or f"rtb-{a.hex('rtb')}"
    keys = ("destinationCidrBlock", "destinationIpv6CidrBlock", "destinationPrefixListId")
    destination = next((a.given(k) for k in keys if a.given(k)), "0.0.0.0/0")
    ident = f"r-{table}{zlib.crc32(destination.encode())}"
    return ident, {"id": ident, "state": "active", "origin": "CreateRoute"}


# --- RDS -----------------------------------------------------------------------------------------


@answers("aws:rds/subnetGroup:SubnetGroup", "aws:rds/parameterGroup:ParameterGroup")
def _rds_group(a: Answer) -> Outputs:
    given = a.given()
    if a.typ.endswith("SubnetGroup"):
        name = given.lower() if given else physical_name(a.name, 255, lower=True)
    else:
        name = given.lower() if given else rds_name(physical_name(a.name, 255, lower=True), 255)
    kind = "subgrp" if a.typ.endswith("SubnetGroup") else "pg"
    return name, {"id": name, "arn": a.arn("rds", f"{kind}:{name}"), "name": name}


def rds_host_id(region: str, account: str) -> str:
    """The 12 characters RDS puts between an instance's identifier and the region (per account and region)."""
    return chars("rds-endpoint", account, region, length=12)


@answers("aws:rds/instance:Instance")
def _rds_instance(a: Answer) -> Outputs:
    given = a.given("identifier")
    identifier = given.lower() if given else rds_name(physical_name(a.name, 63, lower=True))
    address = f"{identifier}.{rds_host_id(a.region, a.account)}.{a.region}.rds.amazonaws.com"
    port = int(a.inputs.get("port") or 5432)
    # RDS reports the keys it was given; without one, the account's default key for the service.
    secret_key = a.given("masterUserSecretKmsKeyId") or a.arn("kms", f"key/{a.uuid('rds-secret-key')}")
    return identifier, {
        "id": identifier,
        "identifier": identifier,
        "arn": a.arn("rds", f"db:{identifier}"),
        "address": address,
        "port": port,
        "endpoint": f"{address}:{port}",
        "dbName": a.inputs.get("dbName", ""),
        "username": a.inputs.get("username", ""),
        "resourceId": f"db-{a.chars(26, UPPER_ALNUM, 'resource')}",
        "engineVersionActual": str(a.inputs.get("engineVersion", "")),
        "kmsKeyId": a.given("kmsKeyId") or a.arn("kms", f"key/{a.uuid('rds-storage-key')}"),
        "masterUserSecrets": [
            {
                "kmsKeyId": secret_key,
                "secretArn": secret_arn(a, f"rds!db-{a.uuid('rds-secret')}", "rds"),
                "secretStatus": "active",
            }
        ],
    }
