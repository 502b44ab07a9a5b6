"""Hardening of the network and the database: flow logs, the default security group, the pipeline key
on RDS, Enhanced Monitoring and Performance Insights, confused-deputy conditions on their roles.

Under recording mocks (what the program declares) and in the sandbox (what lands in moto and
PostgreSQL when the same components are deployed).
"""

import json

import boto3
import pulumi
import pulumi_aws as aws
import pytest
from moto import mock_aws

from infra.components.database import (
    PI_RETENTION_DAYS,
    DatabaseSettings,
    PostgresDatabase,
    PostgresDatabaseArgs,
)
from infra.components.network import Network, NetworkArgs, NetworkSettings, SecurityGroupArgs, security_group
from infra.components.stack import FunctionRuntime, PipelineOwner, StackContext
from infra.config import ConfigError, Section
from infra.sandbox.databases import DatabaseFleet
from infra.sandbox.mocks import ACCOUNT_ID, EmulatorMocks, RecordingMocks
from infra.sandbox.postgres import URL_ENV
from infra.sandbox.program import load_stack_file, run_program
from infra.sandbox.translators import TRANSLATORS
from tests.infra.test_sandbox_network_database import _connect_as_a_function_would, _run_inline

REGION = "us-west-2"
ROLE_PATH = "/sw-dev/incidents/"
IDENTIFIER = "sw-dev-incidents"
FLOW_LOGS = "aws:ec2/flowLog:FlowLog"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
INSTANCE = "aws:rds/instance:Instance"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
# AmazonRDSEnhancedMonitoringRole's actions (AWS managed policy, version v1).
ENHANCED_MONITORING_ACTIONS = {
    "logs:CreateLogGroup",
    "logs:PutRetentionPolicy",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "logs:DescribeLogStreams",
    "logs:GetLogEvents",
}


def one(program, typ, name=None):
    found = [r for r in program.of_type(typ) if name is None or r.name == name]
    assert len(found) == 1, [r.name for r in program.of_type(typ)]
    return found[0]


def program_with(**incidents_settings):
    config = {**load_stack_file("dev"), "stepworks:pipelines": ["incidents"], "stepworks:incidents": incidents_settings}
    return run_program(RecordingMocks(), config, stack="dev")


def key_arn(program) -> str:
    return one(program, "aws:kms/key:Key", "incidents-key").outputs["arn"]


def policy_statements(program, name) -> list[dict]:
    return json.loads(one(program, ROLE_POLICY, name).inputs["policy"])["Statement"]


def trust_statement(role) -> dict:
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    return statement


# --- network ----------------------------------------------------------------------------------------


def test_a_created_vpc_logs_all_traffic_every_minute_into_an_encrypted_retained_group(dev_program):
    vpc = one(dev_program, "aws:ec2/vpc:Vpc")
    group = one(dev_program, LOG_GROUP, "incidents-network-flow-logs")
    role = one(dev_program, ROLE, "incidents-network-flow-logs-role")
    flow_log = one(dev_program, FLOW_LOGS).inputs
    assert (flow_log["vpcId"], flow_log["trafficType"], flow_log["logDestinationType"]) == (
        vpc.id,
        "ALL",
        "cloud-watch-logs",
    )
    assert (flow_log["logDestination"], flow_log["iamRoleArn"]) == (group.outputs["arn"], role.outputs["arn"])
    assert flow_log["maxAggregationInterval"] == 60
    # Named so the pipeline key's policy admits CloudWatch Logs for it, under that key, retained.
    assert group.inputs["name"] == "/aws/vpc/sw-dev-incidents/flow-logs"
    assert group.inputs["kmsKeyId"] == key_arn(dev_program)
    assert group.inputs["retentionInDays"] == 30


def test_the_flow_log_role_is_assumable_only_by_flow_logs_of_this_account_and_writes_only_its_group(dev_program):
    role = one(dev_program, ROLE, "incidents-network-flow-logs-role")
    assert role.inputs["path"] == ROLE_PATH
    trust = trust_statement(role)
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:vpc-flow-log/*"},
    }
    group_arn = one(dev_program, LOG_GROUP, "incidents-network-flow-logs").outputs["arn"]
    (statement,) = policy_statements(dev_program, "incidents-network-flow-logs-policy")
    assert statement["Resource"] == [group_arn, f"{group_arn}:*"]
    assert set(statement["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"}


def test_the_default_security_group_of_a_created_vpc_is_left_without_any_rule(dev_program):
    group = one(dev_program, DEFAULT_SG).inputs
    assert group["vpcId"] == one(dev_program, "aws:ec2/vpc:Vpc").id
    # Explicitly empty (not absent): a rule added by hand later is a diff `pulumi up --refresh` removes.
    assert (group["ingress"], group["egress"]) == ([], [])


def test_an_existing_vpc_gets_neither_a_flow_log_nor_a_default_group_change():
    program = program_with(network={"vpcId": "vpc-0123", "privateSubnetIds": ["subnet-0aaa", "subnet-0bbb"]})
    assert program.of_type(FLOW_LOGS) == [] and program.of_type(DEFAULT_SG) == []
    assert not [r for r in program.of_type(ROLE) if "flow-logs" in r.name]
    assert not [r for r in program.of_type(LOG_GROUP) if r.inputs["name"].startswith("/aws/vpc/")]
    # The database is hardened the same way in someone else's VPC.
    assert one(program, INSTANCE).inputs["kmsKeyId"] == key_arn(program)


# --- database ----------------------------------------------------------------------------------------


def test_the_database_keeps_its_protections_and_uses_the_pipeline_key_for_storage_secret_and_log(dev_program):
    db = one(dev_program, INSTANCE)
    key = key_arn(dev_program)
    assert (db.inputs["storageEncrypted"], db.inputs["kmsKeyId"]) == (True, key)
    assert (db.inputs["manageMasterUserPassword"], db.inputs["masterUserSecretKmsKeyId"]) == (True, key)
    assert db.outputs["masterUserSecrets"][0]["kmsKeyId"] == key
    assert db.inputs["caCertIdentifier"] == "rds-ca-rsa2048-g1"
    assert (db.inputs["publiclyAccessible"], db.inputs["iamDatabaseAuthenticationEnabled"]) == (False, True)
    assert db.inputs["backupRetentionPeriod"] == 7
    assert db.inputs["enabledCloudwatchLogsExports"] == ["postgresql"]
    server_log = one(dev_program, LOG_GROUP, "incidents-db-server-log").inputs
    assert server_log["name"] == f"/aws/rds/instance/{IDENTIFIER}/postgresql"
    assert (server_log["kmsKeyId"], server_log["retentionInDays"]) == (key, 30)
    # Performance Insights is off unless a stack turns it on.
    assert db.inputs["performanceInsightsEnabled"] is False
    assert "performanceInsightsKmsKeyId" not in db.inputs
    assert "performanceInsightsRetentionPeriod" not in db.inputs


def test_performance_insights_when_switched_on_uses_the_key_and_the_configured_retention():
    program = program_with(database={"performanceInsights": True, "performanceInsightsRetentionDays": 93})
    db = one(program, INSTANCE).inputs
    assert db["performanceInsightsEnabled"] is True
    assert db["performanceInsightsKmsKeyId"] == key_arn(program)
    assert db["performanceInsightsRetentionPeriod"] == 93
    default_retention = one(program_with(database={"performanceInsights": True}), INSTANCE).inputs
    assert default_retention["performanceInsightsRetentionPeriod"] == 7


def test_enhanced_monitoring_runs_every_60_seconds_under_a_role_only_rds_may_assume_for_this_instance(dev_program):
    db = one(dev_program, INSTANCE).inputs
    role = one(dev_program, ROLE, "incidents-db-monitoring-role")
    assert (db["monitoringInterval"], db["monitoringRoleArn"]) == (60, role.outputs["arn"])
    assert role.inputs["path"] == ROLE_PATH
    trust = trust_statement(role)
    assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:db:{IDENTIFIER}"},
    }
    assert "managedPolicyArns" not in role.inputs
    assert not dev_program.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")


def test_the_monitoring_policy_is_the_managed_one_narrowed_to_rdsosmetrics_in_this_account_and_region(dev_program):
    statements = policy_statements(dev_program, "incidents-db-monitoring-policy")
    assert {a for s in statements for a in s["Action"]} == ENHANCED_MONITORING_ACTIONS
    group = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:RDSOSMetrics"
    resources = [r for s in statements for r in s["Resource"]]
    assert "*" not in resources
    assert all(r == group or r.startswith(f"{group}:") for r in resources), resources
    streams = next(s for s in statements if "logs:PutLogEvents" in s["Action"])
    assert streams["Resource"] == [f"{group}:log-stream:*"]


@pytest.mark.parametrize("interval", [1, 15])
def test_the_monitoring_interval_is_configurable(interval):
    program = program_with(database={"monitoringInterval": interval})
    db = one(program, INSTANCE).inputs
    assert db["monitoringInterval"] == interval
    assert db["monitoringRoleArn"] == one(program, ROLE, "incidents-db-monitoring-role").outputs["arn"]


def test_monitoring_interval_0_turns_enhanced_monitoring_off_and_creates_no_role():
    program = program_with(database={"monitoringInterval": 0})
    db = one(program, INSTANCE).inputs
    assert db["monitoringInterval"] == 0 and "monitoringRoleArn" not in db
    assert not [r for r in program.of_type(ROLE) if "monitoring" in r.name]
    assert not [r for r in program.of_type(ROLE_POLICY) if "monitoring" in r.name]


def test_every_role_of_the_network_and_database_is_under_the_pipeline_path_and_scoped(dev_program):
    roles = [r for r in dev_program.of_type(ROLE) if r.name.startswith(("incidents-network", "incidents-db"))]
    assert sorted(r.name for r in roles) == ["incidents-db-monitoring-role", "incidents-network-flow-logs-role"]
    for role in roles:
        assert role.inputs["path"] == ROLE_PATH
        condition = trust_statement(role)["Condition"]
        assert set(condition) == {"StringEquals", "ArnLike"}
        for statement in policy_statements(dev_program, role.name.replace("-role", "-policy")):
            assert "*" not in statement["Resource"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"monitoringInterval": 45}, "stepworks:incidents.database.monitoringInterval: 45 is not allowed; allowed: 0"),
        ({"monitoringInterval": True}, "stepworks:incidents.database.monitoringInterval: true is not allowed"),
        ({"monitoringInterval": "often"}, 'stepworks:incidents.database.monitoringInterval: "often" is not allowed'),
        ({"performanceInsights": "yes"}, "stepworks:incidents.database.performanceInsights:"),
        (
            {"performanceInsightsRetentionDays": 31},
            "stepworks:incidents.database.performanceInsightsRetentionDays: only applies with performanceInsights",
        ),
        (
            {"performanceInsights": True, "performanceInsightsRetentionDays": 30},
            "stepworks:incidents.database.performanceInsightsRetentionDays: 30 is not allowed; allowed: 7, a multiple",
        ),
        (
            {"performanceInsights": True, "performanceInsightsRetentionDays": 744},
            "stepworks:incidents.database.performanceInsightsRetentionDays: 744 is not allowed",
        ),
        (
            {"performanceInsights": True, "performanceInsightsRetentionDays": 732},
            "stepworks:incidents.database.performanceInsightsRetentionDays: 732 is not allowed",
        ),
    ],
)
def test_bad_monitoring_settings_name_the_key(values, message):
    with pytest.raises(ConfigError) as raised:
        DatabaseSettings.from_section(Section("stepworks:incidents.database", values))
    assert message in str(raised.value)


def test_monitoring_defaults_and_the_retentions_rds_accepts():
    defaults = DatabaseSettings.from_section(Section("stepworks:incidents.database", None))
    assert (defaults.monitoring_interval, defaults.performance_insights) == (60, False)
    assert PI_RETENTION_DAYS[:3] == (7, 31, 62) and PI_RETENTION_DAYS[-2:] == (713, 731)
    for days in (7, 31, 341, 713, 731):
        settings = DatabaseSettings.from_section(
            Section("x", {"performanceInsights": True, "performanceInsightsRetentionDays": days})
        )
        assert settings.performance_insights_retention_days == days
    assert DatabaseSettings.from_section(Section("x", {"monitoringInterval": "5"})).monitoring_interval == 5


# --- the same components in the sandbox ----------------------------------------------------------------


@pytest.fixture
def fleet(monkeypatch):
    monkeypatch.delenv(URL_ENV, raising=False)
    databases = DatabaseFleet()
    yield databases
    databases.close()


def _hardened_program():
    key = aws.kms.Key("key", enable_key_rotation=True)
    account_id = aws.get_caller_identity_output().account_id
    stack = StackContext("sw-test", REGION, account_id, 7, FunctionRuntime("python3.12", "x86_64", "INFO", None, None))
    owner = PipelineOwner(stack, "incidents")
    network = Network("net", NetworkArgs(NetworkSettings(cidr_block="10.50.0.0/16"), owner, key.arn))
    clients = security_group("fn", SecurityGroupArgs(network.vpc_id, "functions"), network)
    database = PostgresDatabase(
        "db",
        PostgresDatabaseArgs(
            identifier="sw-test-incidents",
            settings=DatabaseSettings(deletion_protection=False, skip_final_snapshot=True, performance_insights=True),
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            client_security_group_id=clients.id,
            owner=owner,
            key_arn=key.arn,
        ),
    )
    pulumi.export("keyArn", key.arn)
    pulumi.export("vpcId", network.vpc_id)
    pulumi.export("flowLogGroupArn", network.flow_log_group.arn)
    pulumi.export("flowLogRoleArn", network.flow_log_role.arn)
    pulumi.export("monitoringRoleArn", database.monitoring_role.arn)
    pulumi.export("secretArn", database.master_secret_arn)
    pulumi.export("address", database.address)
    pulumi.export("port", database.port)
    pulumi.export("dbName", database.db_name)


def test_in_the_sandbox_the_flow_log_and_the_ruleless_default_group_exist_and_the_database_still_serves(fleet):
    with mock_aws():
        out = _run_inline(EmulatorMocks(TRANSLATORS, region=REGION, databases=fleet), _hardened_program)
        ec2 = boto3.client("ec2", region_name=REGION)
        by_vpc = [{"Name": "resource-id", "Values": [out["vpcId"]]}]
        (flow_log,) = ec2.describe_flow_logs(Filters=by_vpc)["FlowLogs"]
        assert (flow_log["TrafficType"], flow_log["MaxAggregationInterval"]) == ("ALL", 60)
        assert flow_log["LogDestination"] == out["flowLogGroupArn"]
        assert flow_log["LogGroupName"] == "/aws/vpc/sw-test-incidents/flow-logs"
        assert flow_log["DeliverLogsPermissionArn"] == out["flowLogRoleArn"]
        assert flow_log["DeliverLogsStatus"] == "SUCCESS"  # moto found the destination group

        default = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [out["vpcId"]]}, {"Name": "group-name", "Values": ["default"]}]
        )["SecurityGroups"][0]
        assert (default["IpPermissions"], default["IpPermissionsEgress"]) == ([], [])

        rds = boto3.client("rds", region_name=REGION)
        instance = rds.describe_db_instances(DBInstanceIdentifier="sw-test-incidents")["DBInstances"][0]
        assert (instance["StorageEncrypted"], instance["KmsKeyId"]) == (True, out["keyArn"])
        assert (instance["MonitoringInterval"], instance["MonitoringRoleArn"]) == (60, out["monitoringRoleArn"])
        assert instance["PerformanceInsightsEnabled"] is True
        assert instance["PerformanceInsightsKMSKeyId"] == out["keyArn"]
        assert instance["PerformanceInsightsRetentionPeriod"] == 7
        assert instance["MasterUserSecret"]["KmsKeyId"] == out["keyArn"]
        secret = boto3.client("secretsmanager", region_name=REGION).describe_secret(SecretId=out["secretArn"])
        assert secret["KmsKeyId"] == out["keyArn"]

        outputs = {
            "address": out["address"],
            "port": out["port"],
            "dbName": out["dbName"],
            "masterUserSecrets": [{"secretArn": out["secretArn"]}],
        }
        with _connect_as_a_function_would(outputs, fleet.ca_bundle_path()) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("incidents",)
            assert conn.pgconn.ssl_in_use
