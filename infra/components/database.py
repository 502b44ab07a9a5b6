"""PostgresDatabase: a private, encrypted RDS PostgreSQL instance that only its clients can reach.

The master password is generated and rotated by RDS and kept in Secrets Manager
(``manage_master_user_password``); the program never sees it. A parameter group forces TLS,
and the security group admits PostgreSQL connections from one client security group only.
The pipeline's key encrypts the storage, the master secret, the exported server log and (when
switched on) Performance Insights. Enhanced Monitoring (every 60 s by default) runs under a role
of its own that only RDS, for this one instance, may assume.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import grants as g
from infra.components.logs import LogGroupArgs, encrypted_log_group, rds_log_group_name
from infra.components.network import SecurityGroupArgs, security_group
from infra.components.stack import PipelineOwner, StackContext
from infra.components.trust import trust_policy
from infra.config import ConfigError, Section, describe

POSTGRES_PORT = 5432
# The RDS CA the instance's certificate is issued by; its root is in the bundle functions ship.
CA_CERT_IDENTIFIER = "rds-ca-rsa2048-g1"
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Enhanced Monitoring intervals RDS accepts, in seconds; 0 turns it off.
MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
# Performance Insights retention RDS accepts: 7 days, whole 31-day months (1–23), or 731 (2 years).
PI_RETENTION_DAYS = (7, *(31 * months for months in range(1, 24)), 731)
MONITORING_PRINCIPAL = "monitoring.rds.amazonaws.com"
# Where Enhanced Monitoring writes: one log group per account and region that RDS itself
# creates on first use, shared by every instance there (each writes a stream of its own).
ENHANCED_MONITORING_LOG_GROUP = "RDSOSMetrics"


@dataclass(frozen=True)
class DatabaseSettings:
    """Size, version and protection of the instance."""

    instance_class: str = "db.t4g.micro"
    allocated_storage_gb: int = 20
    max_allocated_storage_gb: int = 30
    engine_version: str = "17"
    db_name: str = "incidents"
    master_username: str = "incidents_admin"
    backup_retention_days: int = 7
    deletion_protection: bool = True
    skip_final_snapshot: bool = False
    multi_az: bool = False
    monitoring_interval: int = 60
    # AWS restricts Performance Insights by instance class for RDS for MariaDB and MySQL (the micro
    # and small classes) but not for RDS for PostgreSQL, on any available engine version: no
    # class/version combination is refused here.
    performance_insights: bool = False
    performance_insights_retention_days: int = 7

    @property
    def parameter_group_family(self) -> str:
        """``postgres<major>``, the family the parameter group must match."""
        return f"postgres{self.engine_version.split('.')[0]}"

    @classmethod
    def from_section(cls, section: Section) -> DatabaseSettings:
        """Validate ``stepworks:<pipeline>.database``."""
        section.reject_unknown(
            [
                "instanceClass",
                "allocatedStorage",
                "maxAllocatedStorage",
                "engineVersion",
                "dbName",
                "masterUsername",
                "backupRetentionDays",
                "deletionProtection",
                "skipFinalSnapshot",
                "multiAz",
                "monitoringInterval",
                "performanceInsights",
                "performanceInsightsRetentionDays",
            ]
        )
        instance_class = section.string("instanceClass", cls.instance_class)
        if not instance_class.startswith("db."):
            raise ConfigError(
                f"{section.key('instanceClass')}: {describe(instance_class)} is not allowed; "
                "allowed: an RDS class (db.…)"
            )
        raw_version = section.raw("engineVersion", cls.engine_version)
        # YAML reads an unquoted 17 as a number; the version is still meant.
        version = (
            str(raw_version)
            if isinstance(raw_version, (int, float)) and not isinstance(raw_version, bool)
            else raw_version
        )
        if not isinstance(version, str):
            raise ConfigError(
                f"{section.key('engineVersion')}: {describe(version)} is not allowed; allowed: a version string"
            )
        if not re.fullmatch(r"1[3-9](\.\d+)?", version):
            raise ConfigError(
                f"{section.key('engineVersion')}: {describe(version)} is not allowed; "
                "allowed: a PostgreSQL version 13–19 (major, or major.minor)"
            )
        allocated = section.integer("allocatedStorage", cls.allocated_storage_gb, 20, 65536)
        maximum = section.integer("maxAllocatedStorage", cls.max_allocated_storage_gb, 20, 65536)
        if maximum < allocated:
            raise ConfigError(
                f"{section.key('maxAllocatedStorage')}: {maximum} is below allocatedStorage {allocated}; "
                "allowed: at least allocatedStorage"
            )
        names = {}
        for key, default in (("dbName", cls.db_name), ("masterUsername", cls.master_username)):
            value = section.string(key, default)
            if not _IDENTIFIER.match(value) or value in ("postgres", "rdsadmin", "admin"):
                raise ConfigError(
                    f"{section.key(key)}: {describe(value)} is not allowed; allowed: lower-case letters, digits and _ "
                    "(starting with a letter, not a reserved name)"
                )
            names[key] = value
        monitoring = _one_of(
            section,
            "monitoringInterval",
            cls.monitoring_interval,
            MONITORING_INTERVALS,
            "0 (off), 1, 5, 10, 15, 30 or 60",
        )
        insights = section.boolean("performanceInsights", cls.performance_insights)
        if not insights and "performanceInsightsRetentionDays" in section.values:
            raise ConfigError(
                f"{section.key('performanceInsightsRetentionDays')}: only applies with performanceInsights: true; "
                "remove it or turn Performance Insights on"
            )
        retention = _one_of(
            section,
            "performanceInsightsRetentionDays",
            cls.performance_insights_retention_days,
            PI_RETENTION_DAYS,
            "7, a multiple of 31 from 31 to 713 (whole months) or 731",
        )
        return cls(
            instance_class=instance_class,
            allocated_storage_gb=allocated,
            max_allocated_storage_gb=maximum,
            engine_version=version,
            db_name=names["dbName"],
            master_username=names["masterUsername"],
            backup_retention_days=section.integer("backupRetentionDays", cls.backup_retention_days, 7, 35),
            deletion_protection=section.boolean("deletionProtection", cls.deletion_protection),
            skip_final_snapshot=section.boolean("skipFinalSnapshot", cls.skip_final_snapshot),
            multi_az=section.boolean("multiAz", cls.multi_az),
            monitoring_interval=monitoring,
            performance_insights=insights,
            performance_insights_retention_days=retention,
        )


def _one_of(section: Section, name: str, default: int, allowed: Sequence[int], described: str) -> int:
    value = section.raw(name, default)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise ConfigError(f"{section.key(name)}: {describe(value)} is not allowed; allowed: {described}")
    return value


@dataclass
class PostgresDatabaseArgs:
    """Where the instance lives and who may connect to it."""

    identifier: str
    settings: DatabaseSettings
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    client_security_group_id: pulumi.Input[str]
    owner: PipelineOwner  # tags, role path, account, region and log retention come from the pipeline's stack
    key_arn: pulumi.Input[str]  # the pipeline key: storage, master secret, server log, Performance Insights


def enhanced_monitoring_grants(stack: StackContext) -> list[g.Grant]:
    """AWS's ``AmazonRDSEnhancedMonitoringRole``, narrowed from ``RDS*`` in any account and region to
    ``RDSOSMetrics`` in this one."""
    group = stack.arn("logs", f"log-group:{ENHANCED_MONITORING_LOG_GROUP}")
    return [
        # RDS creates the shared group on first use (and sets its retention) with this role.
        g.Grant(
            "EnhancedMonitoringLogGroup",
            ("logs:CreateLogGroup", "logs:PutRetentionPolicy"),
            [group, pulumi.Output.concat(group, ":*")],
        ),
        g.Grant(
            "EnhancedMonitoringLogStreams",
            ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:GetLogEvents"),
            [pulumi.Output.concat(group, ":log-stream:*")],
        ),
    ]


class PostgresDatabase(pulumi.ComponentResource):
    """RDS PostgreSQL: subnet group, TLS-only parameter group, security group, instance."""

    def __init__(self, name: str, args: PostgresDatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:PostgresDatabase", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings, tags, stack = args.settings, args.owner.tags, args.owner.stack
        subnets = aws.rds.SubnetGroup(
            f"{name}-subnets",
            name=args.identifier,
            subnet_ids=args.subnet_ids,
            description=f"Private subnets of {args.identifier}",
            tags=tags,
            opts=child,
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-parameters",
            name=f"{args.identifier}-{settings.parameter_group_family}",
            family=settings.parameter_group_family,
            description=f"{args.identifier}: TLS required",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1", apply_method="immediate"),
                # Slow statements are worth seeing in the exported logs.
                aws.rds.ParameterGroupParameterArgs(
                    name="log_min_duration_statement", value="1000", apply_method="immediate"
                ),
            ],
            tags=tags,
            opts=child,
        )
        self.security_group = security_group(
            f"{name}-sg",
            SecurityGroupArgs(args.vpc_id, f"{args.identifier}: PostgreSQL from its clients only", tags),
            self,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-clients",
            security_group_id=self.security_group.id,
            referenced_security_group_id=args.client_security_group_id,
            ip_protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            description="PostgreSQL from the client security group",
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-clients-to-db",
            security_group_id=args.client_security_group_id,
            referenced_security_group_id=self.security_group.id,
            ip_protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            description=f"PostgreSQL to {args.identifier}",
            opts=child,
        )
        # Created first so the exported server log is encrypted and retained, not created by RDS
        # without either.
        server_log = encrypted_log_group(
            f"{name}-server-log",
            LogGroupArgs(rds_log_group_name(args.identifier), stack.log_retention_days, args.key_arn, tags),
            self,
        )
        instance_after: list[pulumi.Resource] = [server_log]
        self.monitoring_role: aws.iam.Role | None = None
        if settings.monitoring_interval:
            self.monitoring_role = aws.iam.Role(
                f"{name}-monitoring-role",
                path=args.owner.role_path,
                # The instance's ARN is known before it exists: its identifier is.
                assume_role_policy=trust_policy(
                    MONITORING_PRINCIPAL, stack.account_id, stack.arn("rds", f"db:{args.identifier}")
                ),
                description=f"RDS Enhanced Monitoring of {args.identifier} into RDSOSMetrics",
                tags=tags,
                opts=child,
            )
            instance_after.append(
                aws.iam.RolePolicy(
                    f"{name}-monitoring-policy",
                    role=self.monitoring_role.id,
                    policy=g.policy_document(enhanced_monitoring_grants(stack)),
                    opts=child,
                )
            )
        insights = settings.performance_insights
        self.instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=args.identifier,
            engine="postgres",
            engine_version=settings.engine_version,
            instance_class=settings.instance_class,
            allocated_storage=settings.allocated_storage_gb,
            max_allocated_storage=settings.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            # Fixed at creation: a different key means a new instance (snapshot, copy, restore).
            kms_key_id=args.key_arn,
            db_name=settings.db_name,
            username=settings.master_username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.key_arn,
            iam_database_authentication_enabled=True,
            publicly_accessible=False,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[self.security_group.id],
            parameter_group_name=parameters.name,
            ca_cert_identifier=CA_CERT_IDENTIFIER,
            backup_retention_period=settings.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=settings.deletion_protection,
            skip_final_snapshot=settings.skip_final_snapshot,
            final_snapshot_identifier=None if settings.skip_final_snapshot else f"{args.identifier}-final",
            multi_az=settings.multi_az,
            auto_minor_version_upgrade=True,
            enabled_cloudwatch_logs_exports=["postgresql"],
            monitoring_interval=settings.monitoring_interval,
            monitoring_role_arn=self.monitoring_role.arn if self.monitoring_role else None,
            performance_insights_enabled=insights,
            # The Performance Insights key can never be changed once set.
            performance_insights_kms_key_id=args.key_arn if insights else None,
            performance_insights_retention_period=settings.performance_insights_retention_days if insights else None,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=instance_after),
        )
        self.address = self.instance.address
        self.port = self.instance.port
        self.endpoint = self.instance.endpoint
        self.db_name = self.instance.db_name
        self.master_secret_arn = self.instance.master_user_secrets.apply(_secret_arn)
        self.register_outputs({"address": self.address, "port": self.port, "masterSecretArn": self.master_secret_arn})


def _secret_arn(secrets: Sequence) -> str:
    if not secrets:
        raise ConfigError("RDS returned no master user secret (manage_master_user_password is on)")
    return secrets[0].secret_arn
