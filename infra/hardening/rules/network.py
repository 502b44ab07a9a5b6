"""Created VPCs (flow logs, a closed default security group) and RDS instances."""

from __future__ import annotations

from collections.abc import Iterator

from infra.hardening import policy as p
from infra.hardening.index import RDS_INSTANCE, Index, get, number
from infra.hardening.model import Exemption, RuleSet, Selector
from infra.sandbox.mocks import DeclaredResource

RULES = RuleSet()

VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
MONITORING_INTERVALS = (1, 5, 10, 15, 30, 60)
MIN_BACKUP_DAYS = 7  # DatabaseSettings.backup_retention_days' default

Problems = Iterator[tuple[DeclaredResource, str]]


def _of_vpc(ix: Index, typ: str, vpc: DeclaredResource) -> list[DeclaredResource]:
    return [r for r in ix.of_type(typ) if get(r, "vpcId") in ix.names(vpc)]


@RULES.rule(
    "SW-VPC1",
    "VPC flow logs",
    "Every VPC the program creates has a flow log of ALL traffic into a declared, KMS-encrypted log group, "
    "delivered by a declared role that vpc-flow-logs.amazonaws.com assumes.",
    (VPC,),
)
def vpc_flow_logs(ix: Index) -> Problems:
    for vpc in ix.of_type(VPC):
        flow_logs = _of_vpc(ix, FLOW_LOG, vpc)
        if not flow_logs:
            yield vpc, "no flow log"
        for flow_log in flow_logs:
            kind = get(flow_log, "logDestinationType", default="cloud-watch-logs")
            if kind != "cloud-watch-logs":
                yield vpc, f"flow log {flow_log.name} delivers to {kind}, not an encrypted CloudWatch log group"
                continue
            group = ix.log_group(get(flow_log, "logDestination") or get(flow_log, "logGroupName"))
            if group is None:
                yield vpc, f"flow log {flow_log.name} does not deliver into a log group this program declares"
            elif ix.key(get(group, "kmsKeyId")) is None:
                yield vpc, f"flow log {flow_log.name} delivers into {group.name}, which no declared key encrypts"
            role = ix.role(get(flow_log, "iamRoleArn"))
            if role is None or "vpc-flow-logs.amazonaws.com" not in ix.trusted_services(role):
                yield vpc, f"flow log {flow_log.name}: no declared delivery role trusted to vpc-flow-logs.amazonaws.com"
            if get(flow_log, "trafficType") != "ALL":
                yield vpc, f"flow log {flow_log.name} records {get(flow_log, 'trafficType')} traffic, not ALL"


@RULES.rule(
    "SW-VPC2",
    "VPC default security group closed",
    "Every VPC the program creates takes over its default security group (DefaultSecurityGroup) and strips it "
    "of all ingress and egress rules, so nothing placed in it by default can talk.",
    (VPC,),
)
def vpc_default_sg_closed(ix: Index) -> Problems:
    for vpc in ix.of_type(VPC):
        groups = _of_vpc(ix, DEFAULT_SG, vpc)
        if not groups:
            yield vpc, "its default security group is not managed (AWS's default allows all traffic within the group)"
        for group in groups:
            rules = [k for k in ("ingress", "egress") if p.as_list(get(group, k))]
            if rules:
                yield vpc, f"default security group {group.name} keeps {' and '.join(rules)} rules"


@RULES.rule(
    "SW-RDS1",
    "RDS not public",
    "No RDS instance is publicly accessible.",
    (RDS_INSTANCE,),
)
def rds_not_public(ix: Index) -> Problems:
    for instance in ix.of_type(RDS_INSTANCE):
        if get(instance, "publiclyAccessible") is True:
            yield instance, "publiclyAccessible is true"


@RULES.rule(
    "SW-RDS2",
    "RDS storage under a customer-managed key",
    "Every RDS instance has storageEncrypted with kmsKeyId a declared KMS key.",
    (RDS_INSTANCE,),
)
def rds_storage_cmk(ix: Index) -> Problems:
    for instance in ix.of_type(RDS_INSTANCE):
        if get(instance, "storageEncrypted") is not True:
            yield instance, "storageEncrypted is not true"
        elif ix.key(get(instance, "kmsKeyId")) is None:
            message = (
                f"storage key {get(instance, 'kmsKeyId') or '(unset: the AWS-managed aws/rds key)'} is not a key this "
                "program declares"
            )
            yield instance, message


# The parameter that refuses unencrypted connections, per engine family.
_TLS_PARAMETERS = {
    "postgres": "rds.force_ssl",
    "mysql": "require_secure_transport",
    "mariadb": "require_secure_transport",
}


@RULES.rule(
    "SW-RDS3",
    "RDS TLS only",
    "Every RDS instance uses a declared parameter group that refuses unencrypted connections (rds.force_ssl=1 "
    "for PostgreSQL, require_secure_transport=1 for MySQL/MariaDB).",
    (RDS_INSTANCE,),
)
def rds_tls_only(ix: Index) -> Problems:
    for instance in ix.of_type(RDS_INSTANCE):
        engine = str(get(instance, "engine", default=""))
        parameter = next((v for k, v in _TLS_PARAMETERS.items() if k in engine), "rds.force_ssl")
        group = ix.find(PARAMETER_GROUP, get(instance, "parameterGroupName"))
        if group is None:
            yield instance, "uses no parameter group this program declares (the default one allows plain connections)"
            continue
        values = {
            str(x.get("name")): str(x.get("value")).lower()
            for x in p.as_list(get(group, "parameters"))
            if isinstance(x, dict)
        }
        if values.get(parameter) not in ("1", "on", "true"):
            yield instance, f"parameter group {group.name} does not set {parameter}=1"


@RULES.rule(
    "SW-RDS4",
    "RDS backups",
    f"Every RDS instance keeps automated backups for at least {MIN_BACKUP_DAYS} days.",
    (RDS_INSTANCE,),
)
def rds_backups(ix: Index) -> Problems:
    for instance in ix.of_type(RDS_INSTANCE):
        days = number(get(instance, "backupRetentionPeriod"))
        if days is None or days < MIN_BACKUP_DAYS:
            shown = "unset" if days is None else f"{days:g}"
            yield instance, f"backupRetentionPeriod is {shown}, below {MIN_BACKUP_DAYS} days"


RDS_MONITORING_OFF = Exemption(
    Selector(
        RDS_INSTANCE,
        "RDS instances whose stack set monitoringInterval to 0",
        where=lambda instance, ix: number(instance.inputs.get("monitoringInterval")) == 0,
    ),
    "the stack turned enhanced monitoring off (stepworks:<pipeline>.database.monitoringInterval: 0); the "
    "instance still has CloudWatch's standard RDS metrics",
)


@RULES.rule(
    "SW-RDS5",
    "RDS enhanced monitoring",
    f"Every RDS instance has enhanced monitoring (monitoringInterval one of {MONITORING_INTERVALS}, default 60) "
    "with a declared role that monitoring.rds.amazonaws.com assumes; an interval of 0 is exempt only when set "
    "explicitly (the stack turned it off).",
    (RDS_INSTANCE,),
    exemptions=(RDS_MONITORING_OFF,),
)
def rds_enhanced_monitoring(ix: Index) -> Problems:
    for instance in ix.of_type(RDS_INSTANCE):
        interval = number(get(instance, "monitoringInterval"))
        if interval is None:
            yield instance, "monitoringInterval is not set: no enhanced monitoring"
            continue
        if interval == 0:
            yield instance, "monitoringInterval is 0: no enhanced monitoring"
            continue
        if interval not in MONITORING_INTERVALS:
            yield instance, f"monitoringInterval {interval:g} is not one of {MONITORING_INTERVALS}"
        role = ix.role(get(instance, "monitoringRoleArn"))
        if role is None or "monitoring.rds.amazonaws.com" not in ix.trusted_services(role):
            yield instance, "monitoringRoleArn is not a declared role trusted to monitoring.rds.amazonaws.com"


@RULES.rule(
    "SW-RDS6",
    "RDS Performance Insights under a customer-managed key",
    "Performance Insights is either off or on with performanceInsightsKmsKeyId a declared KMS key.",
    (RDS_INSTANCE,),
)
def rds_performance_insights(ix: Index) -> Problems:
    for instance in ix.of_type(RDS_INSTANCE):
        enabled = get(instance, "performanceInsightsEnabled") is True
        if enabled and ix.key(get(instance, "performanceInsightsKmsKeyId")) is None:
            message = (
                "Performance Insights is on without a declared performanceInsightsKmsKeyId (the AWS-managed "
                "aws/rds key would be used)"
            )
            yield instance, message


@RULES.rule(
    "SW-RDS7",
    "RDS log exports into declared log groups",
    "Every log an RDS instance exports (enabledCloudwatchLogsExports) goes to a declared log group "
    "/aws/rds/instance/<identifier>/<log>; otherwise RDS creates it unencrypted and kept forever.",
    (RDS_INSTANCE,),
)
def rds_log_groups(ix: Index) -> Problems:
    for instance in ix.of_type(RDS_INSTANCE):
        identifier = get(instance, "identifier") or instance.outputs.get("identifier") or instance.id
        for log in p.as_list(get(instance, "enabledCloudwatchLogsExports")):
            name = f"/aws/rds/instance/{identifier}/{log}"
            if ix.log_group(name) is None:
                yield instance, f"exports its {log} log to {name}, which the program does not declare"
