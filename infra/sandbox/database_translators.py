"""Translations of the RDS resources into moto, with a real PostgreSQL server behind each instance.

moto records an RDS instance but serves no database. The instance translator therefore also
gets a server from the sandbox's ``DatabaseFleet`` (TLS on, the declared database and user),
answers with that server's address and port, and writes the server's credentials into the
master-user secret moto created, exactly where RDS keeps them. A pipeline that reads the
secret by the instance's ``masterUserSecrets[0].secretArn`` and connects to ``address:port``
reaches a real PostgreSQL, as it would reach RDS once deployed.

What moto accepts without checking (an unknown KMS key, monitoring role) is checked here as RDS
would; what it drops (Performance Insights) is recorded on its instance, so that describing the
instance shows what was declared.
"""

from __future__ import annotations

import json
from typing import Any

from moto.rds.models import rds_backends

from infra.sandbox.mocks import physical_name
from infra.sandbox.translator_support import _account, _client, _name, _tags_list

DEFAULT_DESCRIPTION = "Managed by Pulumi"
MODIFY_BATCH = 20  # ModifyDBParameterGroup takes at most 20 parameters a call


def subnet_group(mocks, r):
    name = _name(r, 255, lower=True)
    created = _client(mocks, "rds").create_db_subnet_group(
        DBSubnetGroupName=name,
        DBSubnetGroupDescription=r.inputs.get("description") or DEFAULT_DESCRIPTION,
        SubnetIds=list(r.inputs["subnetIds"]),
        Tags=_tags_list(r.inputs.get("tags")),
    )["DBSubnetGroup"]
    return name, {"id": name, "arn": created["DBSubnetGroupArn"], "name": name, "vpcId": created.get("VpcId", "")}


def parameter_group(mocks, r):
    name = _name(r, 255, lower=True)
    rds = _client(mocks, "rds")
    created = rds.create_db_parameter_group(
        DBParameterGroupName=name,
        DBParameterGroupFamily=r.inputs["family"],
        Description=r.inputs.get("description") or DEFAULT_DESCRIPTION,
        Tags=_tags_list(r.inputs.get("tags")),
    )["DBParameterGroup"]
    parameters = [
        {
            "ParameterName": p["name"],
            "ParameterValue": str(p["value"]),
            "ApplyMethod": p.get("applyMethod") or "immediate",
        }
        for p in r.inputs.get("parameters") or []
    ]
    for start in range(0, len(parameters), MODIFY_BATCH):
        rds.modify_db_parameter_group(DBParameterGroupName=name, Parameters=parameters[start : start + MODIFY_BATCH])
    return name, {"id": name, "arn": created["DBParameterGroupArn"], "name": name}


# camelCase input → CreateDBInstance parameter, for the inputs passed through as they are.
_INSTANCE_PARAMETERS = {
    "engine": "Engine",
    "engineVersion": "EngineVersion",
    "instanceClass": "DBInstanceClass",
    "storageType": "StorageType",
    "kmsKeyId": "KmsKeyId",
    "dbName": "DBName",
    "username": "MasterUsername",
    "masterUserSecretKmsKeyId": "MasterUserSecretKmsKeyId",
    "dbSubnetGroupName": "DBSubnetGroupName",
    "parameterGroupName": "DBParameterGroupName",
    "availabilityZone": "AvailabilityZone",
    "backupWindow": "PreferredBackupWindow",
    "maintenanceWindow": "PreferredMaintenanceWindow",
    "caCertIdentifier": "CACertificateIdentifier",
    "monitoringRoleArn": "MonitoringRoleArn",
}
_INSTANCE_FLAGS = {
    "storageEncrypted": "StorageEncrypted",
    "iamDatabaseAuthenticationEnabled": "EnableIAMDatabaseAuthentication",
    "publiclyAccessible": "PubliclyAccessible",
    "deletionProtection": "DeletionProtection",
    "multiAz": "MultiAZ",
    "autoMinorVersionUpgrade": "AutoMinorVersionUpgrade",
    "copyTagsToSnapshot": "CopyTagsToSnapshot",
    "performanceInsightsEnabled": "EnablePerformanceInsights",
}
_INSTANCE_NUMBERS = {
    "allocatedStorage": "AllocatedStorage",
    "maxAllocatedStorage": "MaxAllocatedStorage",
    "backupRetentionPeriod": "BackupRetentionPeriod",
    "iops": "Iops",
    "port": "Port",
    "monitoringInterval": "MonitoringInterval",
}
# Performance Insights settings moto's CreateDBInstance drops: input → attribute of moto's instance
# (the names its DescribeDBInstances serializer reads).
_PERFORMANCE_INSIGHTS = {
    "performanceInsightsEnabled": ("performance_insights_enabled", bool),
    "performanceInsightsKmsKeyId": ("performance_insights_kms_key_id", str),
    "performanceInsightsRetentionPeriod": ("performance_insights_retention_period", int),
}
_KEY_INPUTS = ("kmsKeyId", "masterUserSecretKmsKeyId", "performanceInsightsKmsKeyId")


def _check_references(mocks, inputs: dict[str, Any]) -> None:
    """Refuse what RDS refuses and moto lets through: a KMS key or monitoring role that does not exist."""
    for key in _KEY_INPUTS:
        if inputs.get(key):
            try:
                _client(mocks, "kms").describe_key(KeyId=inputs[key])
            except Exception as exc:  # noqa: BLE001 - reported as RDS reports it
                raise ValueError(f"KMSKeyNotAccessibleFault: {key} {inputs[key]} cannot be used ({exc})") from None
    if inputs.get("monitoringRoleArn"):
        _client(mocks, "iam").get_role(RoleName=inputs["monitoringRoleArn"].rsplit("/", 1)[-1])
    if inputs.get("performanceInsightsKmsKeyId") or inputs.get("performanceInsightsRetentionPeriod"):
        if not inputs.get("performanceInsightsEnabled"):
            raise ValueError(
                "InvalidParameterCombination: Performance Insights settings need performanceInsightsEnabled"
            )


def _record_performance_insights(mocks, identifier: str, inputs: dict[str, Any]) -> None:
    instance = rds_backends[_account(mocks)][mocks.region].databases[identifier]
    for key, (attribute, kind) in _PERFORMANCE_INSIGHTS.items():
        if inputs.get(key) is not None:
            setattr(instance, attribute, kind(inputs[key]))


def _create_instance_kwargs(mocks, identifier: str, inputs: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"DBInstanceIdentifier": identifier, "ManageMasterUserPassword": True}
    kwargs.update({boto: inputs[key] for key, boto in _INSTANCE_PARAMETERS.items() if inputs.get(key)})
    kwargs.update({boto: bool(inputs[key]) for key, boto in _INSTANCE_FLAGS.items() if inputs.get(key) is not None})
    kwargs.update({boto: int(inputs[key]) for key, boto in _INSTANCE_NUMBERS.items() if inputs.get(key) is not None})
    groups = list(inputs.get("vpcSecurityGroupIds") or [])
    if groups:
        # moto accepts any id here (and invents one when none is given); AWS rejects unknown groups.
        _client(mocks, "ec2").describe_security_groups(GroupIds=groups)
        kwargs["VpcSecurityGroupIds"] = groups
    kwargs["Tags"] = _tags_list(inputs.get("tags"))
    return kwargs


def db_instance(mocks, r):
    inputs = r.inputs
    if not inputs.get("manageMasterUserPassword"):
        raise ValueError(
            "the sandbox only emulates RDS-managed master passwords: set manageMasterUserPassword=True "
            "(RDS keeps the credentials in a Secrets Manager secret the sandbox points at a real server)"
        )
    if not inputs.get("dbName"):
        raise ValueError("the sandbox needs the instance's dbName: it creates that database on the real server")
    if mocks.databases is None:
        raise RuntimeError("no DatabaseFleet: an RDS instance needs EmulatorMocks(..., databases=DatabaseFleet())")
    identifier = inputs.get("identifier") or physical_name(r.name, 63, lower=True)
    _check_references(mocks, inputs)
    kwargs = _create_instance_kwargs(mocks, identifier, inputs)
    rds = _client(mocks, "rds")
    created = rds.create_db_instance(**kwargs)["DBInstance"]
    _record_performance_insights(mocks, identifier, inputs)
    managed = created["MasterUserSecret"]

    server = mocks.databases.provision(identifier, dbname=inputs["dbName"], user=inputs["username"])
    # Where RDS keeps the master credentials; moto's placeholder would name no real login. The
    # secret keeps the key RDS created it with (masterUserSecretKmsKeyId, when declared).
    _client(mocks, "secretsmanager").put_secret_value(
        SecretId=managed["SecretArn"], SecretString=json.dumps({"username": server.user, "password": server.password})
    )
    described = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    return identifier, {
        "id": identifier,
        "identifier": identifier,
        "arn": created["DBInstanceArn"],
        "address": server.host,
        "port": int(server.port),
        "endpoint": f"{server.host}:{server.port}",
        "dbName": server.dbname,
        "username": server.user,
        "engine": created["Engine"],
        "engineVersionActual": created["EngineVersion"],
        "resourceId": created["DbiResourceId"],
        "status": "available",
        "kmsKeyId": described.get("KmsKeyId", ""),
        "monitoringInterval": int(described.get("MonitoringInterval", 0)),
        "monitoringRoleArn": described.get("MonitoringRoleArn", ""),
        "performanceInsightsEnabled": bool(described.get("PerformanceInsightsEnabled", False)),
        "performanceInsightsKmsKeyId": described.get("PerformanceInsightsKMSKeyId", ""),
        "performanceInsightsRetentionPeriod": int(described.get("PerformanceInsightsRetentionPeriod", 0)),
        "masterUserSecrets": [
            {"kmsKeyId": managed.get("KmsKeyId", ""), "secretArn": managed["SecretArn"], "secretStatus": "active"}
        ],
    }


DATABASE_TRANSLATORS = {
    "aws:rds/subnetGroup:SubnetGroup": subnet_group,
    "aws:rds/parameterGroup:ParameterGroup": parameter_group,
    "aws:rds/instance:Instance": db_instance,
}
