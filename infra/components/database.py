"""PostgresDatabase: a private, encrypted RDS PostgreSQL instance that only its clients can reach.

The master password is generated and rotated by RDS and kept in Secrets Manager
(``manage_master_user_password``); the program never sees it. A parameter group forces TLS,
and the security group admits PostgreSQL connections from one client security group only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.components.network import SecurityGroupArgs, security_group
from infra.config import ConfigError, Section

POSTGRES_PORT = 5432
# The RDS CA the instance's certificate is issued by; its root is in the bundle functions ship.
CA_CERT_IDENTIFIER = "rds-ca-rsa2048-g1"
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


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
            ]
        )
        instance_class = section.string("instanceClass", cls.instance_class)
        if not instance_class.startswith("db."):
            raise ConfigError(
                f"{section.key('instanceClass')}: {instance_class!r} is not allowed; allowed: an RDS class (db.…)"
            )
        raw_version = section.raw("engineVersion", cls.engine_version)
        # YAML reads an unquoted 17 as a number; the version is still meant.
        version = (
            str(raw_version)
            if isinstance(raw_version, (int, float)) and not isinstance(raw_version, bool)
            else raw_version
        )
        if not isinstance(version, str):
            raise ConfigError(f"{section.key('engineVersion')}: {version!r} is not allowed; allowed: a version string")
        if not re.fullmatch(r"1[3-9](\.\d+)?", version):
            raise ConfigError(
                f"{section.key('engineVersion')}: {version!r} is not allowed; allowed: a PostgreSQL version 13–19 "
                "(major, or major.minor)"
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
                    f"{section.key(key)}: {value!r} is not allowed; allowed: lower-case letters, digits and _ "
                    "(starting with a letter, not a reserved name)"
                )
            names[key] = value
        return cls(
            instance_class=instance_class,
            allocated_storage_gb=allocated,
            max_allocated_storage_gb=maximum,
            engine_version=version,
            db_name=names["dbName"],
            master_username=names["masterUsername"],
            backup_retention_days=section.integer("backupRetentionDays", cls.backup_retention_days, 1, 35),
            deletion_protection=section.boolean("deletionProtection", cls.deletion_protection),
            skip_final_snapshot=section.boolean("skipFinalSnapshot", cls.skip_final_snapshot),
            multi_az=section.boolean("multiAz", cls.multi_az),
        )


@dataclass
class PostgresDatabaseArgs:
    """Where the instance lives and who may connect to it."""

    identifier: str
    settings: DatabaseSettings
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    client_security_group_id: pulumi.Input[str]
    log_retention_days: int = 30
    tags: Mapping[str, str] = field(default_factory=dict)


class PostgresDatabase(pulumi.ComponentResource):
    """RDS PostgreSQL: subnet group, TLS-only parameter group, security group, instance."""

    def __init__(self, name: str, args: PostgresDatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:PostgresDatabase", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings, tags = args.settings, dict(args.tags)
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
        # Created first so the exported server log has a retention instead of keeping logs forever.
        server_log = aws.cloudwatch.LogGroup(
            f"{name}-server-log",
            name=f"/aws/rds/instance/{args.identifier}/postgresql",
            retention_in_days=args.log_retention_days,
            tags=tags,
            opts=child,
        )
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
            db_name=settings.db_name,
            username=settings.master_username,
            manage_master_user_password=True,
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
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[server_log]),
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
