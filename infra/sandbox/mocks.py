"""Pulumi mocks: record every declared resource, and (in the sandbox) create it in the emulator.

``RecordingMocks`` answers with synthetic identifiers and touches nothing: it backs offline
``synth`` and the program tests. ``EmulatorMocks`` hands each custom resource to a translator
that creates it in moto through real boto3 calls and answers with moto's identifiers.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import pulumi

if TYPE_CHECKING:
    from infra.sandbox.databases import DatabaseFleet

ACCOUNT_ID = "123456789012"
REGION = "us-west-2"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


@dataclass
class DeclaredResource:
    """One resource the program declared: Pulumi type, logical name, inputs and the answer."""

    typ: str
    name: str
    inputs: dict[str, Any]
    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    custom: bool = True


class UnsupportedResourceType(Exception):
    """The sandbox has no translation for a declared resource type."""


def physical_name(logical: str, max_length: int = 64, lower: bool = False) -> str:
    """A stable physical name for an auto-named resource: ``<logical>-<7 hex>``, length-capped."""
    suffix = hashlib.sha1(logical.encode()).hexdigest()[:7]
    base = logical.lower() if lower else logical
    return f"{base[: max_length - 8]}-{suffix}"


def unwrap_secret(value: Any) -> Any:
    """The plain value of a secret-wrapped input (``{<sig>: <secret sig>, "value": …}``)."""
    if isinstance(value, Mapping) and SECRET_SIG in value.values() and "value" in value:
        return value["value"]
    return value


def _arn(service: str, resource: str, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"


def synthetic_outputs(typ: str, name: str, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Plausible identifiers for a resource nobody creates (synth, program tests)."""
    module = typ.split(":")[1].split("/")[0]
    given = inputs.get("name")
    resource_name = given if isinstance(given, str) else physical_name(name)
    if typ == "aws:iam/role:Role":
        path = inputs.get("path") if isinstance(inputs.get("path"), str) else "/"
        arn = f"arn:aws:iam::{ACCOUNT_ID}:role{path}{resource_name}"
        return resource_name, {"arn": arn, "name": resource_name, "path": path}
    if typ == "aws:lambda/function:Function":
        arn = _arn("lambda", f"function:{resource_name}")
        return resource_name, {"arn": arn, "name": resource_name, "invokeArn": arn, "qualifiedArn": f"{arn}:$LATEST"}
    if typ == "aws:lambda/layerVersion:LayerVersion":
        layer = _arn("lambda", f"layer:{inputs.get('layerName', resource_name)}")
        return f"{layer}:1", {"arn": f"{layer}:1", "layerArn": layer, "version": "1"}
    if typ == "aws:cloudwatch/logGroup:LogGroup":
        return resource_name, {"arn": _arn("logs", f"log-group:{resource_name}"), "name": resource_name}
    if typ == "aws:sfn/stateMachine:StateMachine":
        arn = _arn("states", f"stateMachine:{resource_name}")
        return arn, {"arn": arn, "name": resource_name}
    if typ == "aws:dynamodb/table:Table":
        return resource_name, {"arn": _arn("dynamodb", f"table/{resource_name}"), "name": resource_name}
    if typ == "aws:apigatewayv2/api:Api":
        api_id = hashlib.sha1(name.encode()).hexdigest()[:10]
        return api_id, {
            "apiEndpoint": f"https://{api_id}.execute-api.{REGION}.amazonaws.com",
            "executionArn": _arn("execute-api", api_id),
            "arn": f"arn:aws:apigateway:{REGION}::/apis/{api_id}",
        }
    if typ in _MESSAGING_AND_KEYS:
        return _MESSAGING_AND_KEYS[typ](name, resource_name, inputs)
    if typ == "aws:s3/bucket:Bucket":
        bucket = given if isinstance(given, str) else physical_name(name, 63, lower=True)
        return bucket, {"arn": f"arn:aws:s3:::{bucket}", "bucket": bucket, "id": bucket}
    if typ in _NETWORK_IDS:
        return _network_outputs(typ, name, inputs)
    if typ in ("aws:rds/subnetGroup:SubnetGroup", "aws:rds/parameterGroup:ParameterGroup"):
        rds_name = given if isinstance(given, str) else physical_name(name, 255, lower=True)
        kind = "subgrp" if typ.endswith("SubnetGroup") else "pg"
        return rds_name, {"id": rds_name, "arn": _arn("rds", f"{kind}:{rds_name}"), "name": rds_name}
    if typ == "aws:rds/instance:Instance":
        return _rds_instance_outputs(name, inputs)
    ident = hashlib.sha1(f"{typ}/{name}".encode()).hexdigest()[:12]
    return ident, {"arn": _arn(module, f"{name}/{ident}"), "name": resource_name}


def _kms_key(name: str, _resource_name: str, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    key_id = _uuid("kms-key", name)
    return key_id, {"arn": _arn("kms", f"key/{key_id}"), "keyId": key_id}


def _kms_alias(name: str, _resource_name: str, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    given = inputs.get("name")
    alias = given if isinstance(given, str) else f"alias/{physical_name(name, 250)}"
    target = inputs.get("targetKeyId")
    target_arn = target if isinstance(target, str) and target.startswith("arn:") else _arn("kms", f"key/{target}")
    return alias, {"arn": _arn("kms", alias), "name": alias, "targetKeyArn": target_arn}


def _secret(name: str, _resource_name: str, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    given = inputs.get("name")
    secret_name = given if isinstance(given, str) else physical_name(name, 256)
    arn = _arn("secretsmanager", f"secret:{secret_name}-{_hex('secret', name, length=6)}")
    return arn, {"arn": arn, "name": secret_name}


def _sns_topic(name: str, resource_name: str, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    topic = physical_name(name, 256) if not isinstance(inputs.get("name"), str) else resource_name
    if inputs.get("fifoTopic") is True and not topic.endswith(".fifo"):
        topic = f"{topic[:251]}.fifo"
    arn = _arn("sns", topic)
    return arn, {"arn": arn, "name": topic}


def _sqs_queue(name: str, resource_name: str, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    queue = physical_name(name, 80) if not isinstance(inputs.get("name"), str) else resource_name
    if inputs.get("fifoQueue") is True and not queue.endswith(".fifo"):
        queue = f"{queue[:75]}.fifo"
    url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{queue}"
    return url, {"arn": _arn("sqs", queue), "url": url, "name": queue}


def _topic_policy(name: str, _resource_name: str, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    arn = inputs.get("arn") if isinstance(inputs.get("arn"), str) else _arn("sns", name)
    return arn, {"arn": arn}


def _queue_policy(name: str, _resource_name: str, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    url = inputs.get("queueUrl")
    url = url if isinstance(url, str) else f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}"
    return url, {"queueUrl": url}


def _bucket_logging(name: str, _resource_name: str, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    bucket = inputs.get("bucket") if isinstance(inputs.get("bucket"), str) else physical_name(name, 63, lower=True)
    return bucket, {"bucket": bucket}


_MESSAGING_AND_KEYS = {
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:sns/topic:Topic": _sns_topic,
    "aws:sns/topicPolicy:TopicPolicy": _topic_policy,
    "aws:sqs/queue:Queue": _sqs_queue,
    "aws:sqs/queuePolicy:QueuePolicy": _queue_policy,
    "aws:s3/bucketLogging:BucketLogging": _bucket_logging,
}


# Pulumi type → (id prefix, ARN resource kind or None) of the EC2/VPC resources.
_NETWORK_IDS = {
    "aws:ec2/vpc:Vpc": ("vpc", "vpc"),
    "aws:ec2/subnet:Subnet": ("subnet", "subnet"),
    "aws:ec2/internetGateway:InternetGateway": ("igw", "internet-gateway"),
    "aws:ec2/eip:Eip": ("eipalloc", "elastic-ip"),
    "aws:ec2/natGateway:NatGateway": ("nat", None),
    "aws:ec2/routeTable:RouteTable": ("rtb", "route-table"),
    "aws:ec2/route:Route": ("r", None),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("rtbassoc", None),
    "aws:ec2/securityGroup:SecurityGroup": ("sg", "security-group"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("sg", "security-group"),
    "aws:ec2/flowLog:FlowLog": ("fl", "vpc-flow-log"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("sgr", "security-group-rule"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("sgr", "security-group-rule"),
}


def _hex(*parts: str, length: int = 17) -> str:
    return hashlib.sha1("/".join(parts).encode()).hexdigest()[:length]


def _uuid(*parts: str) -> str:
    digest = _hex(*parts, length=32)
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def _network_outputs(typ: str, name: str, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    prefix, kind = _NETWORK_IDS[typ]
    ident = f"{prefix}-{_hex(typ, name)}"
    outputs: dict[str, Any] = {"id": ident}
    if kind:
        outputs["arn"] = _arn("ec2", f"{kind}/{ident}")
    if typ == "aws:ec2/vpc:Vpc":
        outputs.update(
            cidrBlock=inputs.get("cidrBlock", ""),
            defaultSecurityGroupId=f"sg-{_hex(typ, name, 'default-sg')}",
            mainRouteTableId=f"rtb-{_hex(typ, name, 'main-rtb')}",
        )
    elif typ == "aws:ec2/subnet:Subnet":
        outputs.update(
            availabilityZone=inputs.get("availabilityZone", f"{REGION}a"),
            vpcId=inputs.get("vpcId", ""),
            cidrBlock=inputs.get("cidrBlock", ""),
        )
    elif typ == "aws:ec2/securityGroup:SecurityGroup":
        given = inputs.get("name")
        outputs["name"] = given if isinstance(given, str) else physical_name(name, 255)
        outputs["vpcId"] = inputs.get("vpcId", "")
    elif typ == "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup":
        outputs.update(name="default", vpcId=inputs.get("vpcId", ""), ingress=[], egress=[])
    elif typ == "aws:ec2/eip:Eip":
        outputs.update(allocationId=ident, publicIp=f"198.51.100.{int(_hex(name, length=2), 16) % 250 + 1}")
    elif kind == "security-group-rule":
        outputs.update(securityGroupRuleId=ident)
    return ident, outputs


def _rds_instance_outputs(name: str, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    given = inputs.get("identifier")
    identifier = given if isinstance(given, str) and given else physical_name(name, 63, lower=True)
    address = f"{identifier}.abcdefghijkl.{REGION}.rds.amazonaws.com"
    secret_arn = _arn("secretsmanager", f"secret:rds!db-{_uuid('rds-secret', name)}-AbCdEf")
    # RDS reports the keys it was given; without one, the account's default key for the service.
    secret_key = inputs.get("masterUserSecretKmsKeyId")
    if not isinstance(secret_key, str) or not secret_key:
        secret_key = _arn("kms", f"key/{_uuid('rds-secret-key', name)}")
    return identifier, {
        "id": identifier,
        "identifier": identifier,
        "arn": _arn("rds", f"db:{identifier}"),
        "address": address,
        "port": 5432,
        "endpoint": f"{address}:5432",
        "dbName": inputs.get("dbName", ""),
        "username": inputs.get("username", ""),
        "resourceId": f"db-{_hex('rds', name, length=26).upper()}",
        "engineVersionActual": str(inputs.get("engineVersion", "")),
        "kmsKeyId": inputs.get("kmsKeyId") or _arn("kms", f"key/{_uuid('rds-storage-key', name)}"),
        "masterUserSecrets": [
            {
                "kmsKeyId": secret_key,
                "secretArn": secret_arn,
                "secretStatus": "active",
            }
        ],
    }


AVAILABILITY_ZONES = "aws:index/getAvailabilityZones:getAvailabilityZones"


def _zones_result(region: str, zones: list[tuple[str, str]], args: Mapping[str, Any]) -> dict[str, Any]:
    """The getAvailabilityZones answer for (name, zone id) pairs, honouring its exclude arguments."""
    excluded = set(args.get("excludeNames") or []) | set(args.get("excludeZoneIds") or [])
    kept = [(name, zone_id) for name, zone_id in zones if name not in excluded and zone_id not in excluded]
    return {
        "id": region,
        "names": [name for name, _ in kept],
        "zoneIds": [zone_id for _, zone_id in kept],
        "groupNames": [region],
        "state": args.get("state"),
    }


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every declared resource; answers with synthetic identifiers."""

    def __init__(self, region: str = REGION):
        self.region = region
        self.resources: list[DeclaredResource] = []
        self._lock = threading.Lock()

    def create(self, resource: DeclaredResource) -> tuple[str, dict[str, Any]]:
        """Create ``resource``; return its id and computed outputs."""
        return synthetic_outputs(resource.typ, resource.name, resource.inputs)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        resource = DeclaredResource(typ=args.typ, name=args.name, inputs=dict(args.inputs), custom=bool(args.custom))
        if not resource.custom or args.typ.startswith("pulumi:providers:"):
            resource.id = f"{args.name}_id" if resource.custom else ""
        else:
            resource.id, computed = self.create(resource)
            resource.outputs = computed
        with self._lock:
            self.resources.append(resource)
        return resource.id, {**resource.inputs, **resource.outputs}

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/sandbox", "userId": "sandbox"}
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}
        if args.token == AVAILABILITY_ZONES:
            return self.availability_zones(dict(args.args or {}))
        raise UnsupportedResourceType(f"the sandbox cannot answer the invoke {args.token}")

    def of_type(self, typ: str) -> list[DeclaredResource]:
        """Declared custom resources of one Pulumi type."""
        return [r for r in self.resources if r.typ == typ]

    def availability_zones(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """``getAvailabilityZones``: three synthetic zones of the region (``<region>a`` … ``c``)."""
        parts = self.region.split("-")
        short = parts[0] + "".join(p[0] for p in parts[1:-1]) + parts[-1]  # us-west-2 → usw2
        zones = [(f"{self.region}{letter}", f"{short}-az{n}") for n, letter in enumerate("abc", 1)]
        return _zones_result(self.region, zones, args)


Translator = Callable[["EmulatorMocks", DeclaredResource], tuple[str, dict[str, Any]]]


class EmulatorMocks(RecordingMocks):
    """Creates every declared resource in moto; an untranslatable type is an error naming it."""

    def __init__(
        self,
        translators: Mapping[str, Translator],
        region: str = REGION,
        databases: DatabaseFleet | None = None,
        clients: Callable[[str], Any] | None = None,
    ):
        super().__init__(region)
        self.translators = translators
        self.databases = databases  # the PostgreSQL servers behind declared RDS instances
        # Who deploys: the sandbox passes its operator's clients; without, the default credentials.
        self.clients = clients
        self.errors: list[str] = []

    def client(self, service: str):
        """A client of the emulator for the deploying identity."""
        if self.clients is not None:
            return self.clients(service)
        return boto3.client(service, region_name=self.region)

    def availability_zones(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """``getAvailabilityZones`` answered from moto's ``DescribeAvailabilityZones``."""
        filters = [{"Name": "state", "Values": [args["state"]]}] if args.get("state") else []
        described = self.client("ec2").describe_availability_zones(Filters=filters)
        zones = [(z["ZoneName"], z["ZoneId"]) for z in described["AvailabilityZones"]]
        return _zones_result(self.region, zones, args)

    def create(self, resource: DeclaredResource) -> tuple[str, dict[str, Any]]:
        translate = self.translators.get(resource.typ)
        if translate is None:
            message = f"the sandbox cannot emulate resource type {resource.typ} (declared as {resource.name!r})"
            self.errors.append(message)
            raise UnsupportedResourceType(message)
        try:
            return translate(self, resource)
        except Exception as exc:
            self.errors.append(f"{resource.typ} {resource.name!r}: {exc}")
            raise
