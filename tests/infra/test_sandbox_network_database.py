"""The sandbox's VPC and RDS translations: moto holds the network, a real PostgreSQL is the database."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import psycopg
import pulumi
import pulumi_aws as aws
import pytest
from moto import mock_aws
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.sandbox import lambda_runner
from infra.sandbox.core import Sandbox
from infra.sandbox.databases import DatabaseFleet
from infra.sandbox.mocks import DeclaredResource, EmulatorMocks, RecordingMocks, synthetic_outputs
from infra.sandbox.postgres import URL_ENV, TemporaryPostgres
from infra.sandbox.translators import TRANSLATORS

REGION = "us-west-2"
INSTANCE = "aws:rds/instance:Instance"


@pytest.fixture(autouse=True)
def _own_servers(monkeypatch):
    # The fleet starts its own servers unless a test points it at an external one.
    monkeypatch.delenv(URL_ENV, raising=False)


@pytest.fixture
def fleet():
    databases = DatabaseFleet()
    yield databases
    databases.close()


@pytest.fixture
def mocks(fleet):
    with mock_aws():
        yield EmulatorMocks(TRANSLATORS, region=REGION, databases=fleet)


def declare(mocks: EmulatorMocks, typ: str, logical: str, /, **inputs) -> tuple[str, dict]:
    """Create one resource through its translator, as the Pulumi mock monitor would."""
    return mocks.create(DeclaredResource(typ=typ, name=logical, inputs=inputs))


def ec2():
    return boto3.client("ec2", region_name=REGION)


def _vpc(mocks) -> str:
    vpc_id, _ = declare(mocks, "aws:ec2/vpc:Vpc", "vpc", cidrBlock="10.0.0.0/16", enableDnsHostnames=True)
    return vpc_id


def _database_network(mocks) -> tuple[str, str]:
    """A VPC with two subnets, their DB subnet group and a database security group."""
    vpc_id = _vpc(mocks)
    subnets = [
        declare(mocks, "aws:ec2/subnet:Subnet", f"db-{zone}", vpcId=vpc_id, cidrBlock=cidr, availabilityZone=zone)[0]
        for zone, cidr in (("us-west-2a", "10.0.10.0/24"), ("us-west-2b", "10.0.11.0/24"))
    ]
    group, _ = declare(mocks, "aws:rds/subnetGroup:SubnetGroup", "db-subnets", subnetIds=subnets)
    sg_id, _ = declare(mocks, "aws:ec2/securityGroup:SecurityGroup", "db-sg", description="database", vpcId=vpc_id)
    return group, sg_id


def _instance_inputs(group: str, sg_id: str, **overrides) -> dict:
    return {
        "identifier": "incidents-db",
        "engine": "postgres",
        "engineVersion": "17",
        "instanceClass": "db.t4g.micro",
        "allocatedStorage": 20.0,  # Pulumi numbers arrive as floats
        "maxAllocatedStorage": 100.0,
        "storageType": "gp3",
        "storageEncrypted": True,
        "dbName": "incidents",
        "username": "stepworks",
        "manageMasterUserPassword": True,
        "iamDatabaseAuthenticationEnabled": True,
        "publiclyAccessible": False,
        "dbSubnetGroupName": group,
        "vpcSecurityGroupIds": [sg_id],
        "backupRetentionPeriod": 7.0,
        "deletionProtection": False,
        "skipFinalSnapshot": True,
        "multiAz": False,
        "autoMinorVersionUpgrade": True,
        "copyTagsToSnapshot": True,
        "tags": {"pipeline": "incidents"},
        **overrides,
    }


def _connect_as_a_function_would(outputs: dict, ca_bundle: str, **kwargs) -> psycopg.Connection:
    """Credentials from the managed secret by its ARN, the endpoint from the outputs, TLS verified."""
    secret_arn = outputs["masterUserSecrets"][0]["secretArn"]
    credentials = json.loads(
        boto3.client("secretsmanager", region_name=REGION).get_secret_value(SecretId=secret_arn)["SecretString"]
    )
    return psycopg.connect(
        host=outputs["address"],
        port=outputs["port"],
        dbname=outputs["dbName"],
        user=credentials["username"],
        password=credentials["password"],
        sslmode="verify-full",
        sslrootcert=ca_bundle,
        connect_timeout=5,
        **kwargs,
    )


# --- network ----------------------------------------------------------------------------------


def test_a_vpc_with_public_and_private_subnets_routes_through_its_gateways(mocks):
    vpc_id, vpc = declare(
        mocks,
        "aws:ec2/vpc:Vpc",
        "vpc",
        cidrBlock="10.0.0.0/16",
        enableDnsHostnames=True,
        enableDnsSupport=True,
        tags={"Name": "stepworks"},
    )
    assert vpc_id.startswith("vpc-") and vpc["arn"].endswith(f":vpc/{vpc_id}")
    hostnames = ec2().describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
    assert hostnames["EnableDnsHostnames"]["Value"] is True
    default_sg = ec2().describe_security_groups(GroupIds=[vpc["defaultSecurityGroupId"]])["SecurityGroups"][0]
    assert (default_sg["GroupName"], default_sg["VpcId"]) == ("default", vpc_id)
    main = ec2().describe_route_tables(RouteTableIds=[vpc["mainRouteTableId"]])["RouteTables"][0]
    assert main["Associations"][0]["Main"] is True

    public_id, public = declare(
        mocks,
        "aws:ec2/subnet:Subnet",
        "public-a",
        vpcId=vpc_id,
        cidrBlock="10.0.0.0/24",
        availabilityZone="us-west-2a",
        mapPublicIpOnLaunch=True,
    )
    private_id, private = declare(
        mocks,
        "aws:ec2/subnet:Subnet",
        "private-b",
        vpcId=vpc_id,
        cidrBlock="10.0.1.0/24",
        availabilityZone="us-west-2b",
    )
    assert (public["availabilityZone"], private["availabilityZone"]) == ("us-west-2a", "us-west-2b")
    assert (public["vpcId"], private["cidrBlock"]) == (vpc_id, "10.0.1.0/24")
    described = {s["SubnetId"]: s for s in ec2().describe_subnets(SubnetIds=[public_id, private_id])["Subnets"]}
    assert described[public_id]["MapPublicIpOnLaunch"] is True
    assert described[private_id]["MapPublicIpOnLaunch"] is False

    igw_id, _ = declare(mocks, "aws:ec2/internetGateway:InternetGateway", "igw", vpcId=vpc_id)
    attachments = ec2().describe_internet_gateways(InternetGatewayIds=[igw_id])["InternetGateways"][0]["Attachments"]
    assert attachments[0]["VpcId"] == vpc_id

    eip_id, eip = declare(mocks, "aws:ec2/eip:Eip", "nat-ip", domain="vpc")
    assert eip_id == eip["allocationId"] and eip_id.startswith("eipalloc-") and eip["publicIp"]
    nat_id, _ = declare(mocks, "aws:ec2/natGateway:NatGateway", "nat", allocationId=eip_id, subnetId=public_id)
    nat = ec2().describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"][0]
    assert (nat["SubnetId"], nat["NatGatewayAddresses"][0]["AllocationId"]) == (public_id, eip_id)

    public_rtb, _ = declare(mocks, "aws:ec2/routeTable:RouteTable", "public", vpcId=vpc_id)
    private_rtb, _ = declare(mocks, "aws:ec2/routeTable:RouteTable", "private", vpcId=vpc_id)
    route_id, _ = declare(
        mocks,
        "aws:ec2/route:Route",
        "internet",
        routeTableId=public_rtb,
        destinationCidrBlock="0.0.0.0/0",
        gatewayId=igw_id,
    )
    assert route_id == f"r-{public_rtb}1080289494"  # Terraform's id for the default route
    declare(
        mocks,
        "aws:ec2/route:Route",
        "egress",
        routeTableId=private_rtb,
        destinationCidrBlock="0.0.0.0/0",
        natGatewayId=nat_id,
    )
    for subnet_id, table in ((public_id, public_rtb), (private_id, private_rtb)):
        association, _ = declare(
            mocks, "aws:ec2/routeTableAssociation:RouteTableAssociation", table, subnetId=subnet_id, routeTableId=table
        )
        assert association.startswith("rtbassoc-")

    tables = {
        t["RouteTableId"]: t
        for t in ec2().describe_route_tables(RouteTableIds=[public_rtb, private_rtb])["RouteTables"]
    }
    default_route = {
        table: next(r for r in tables[table]["Routes"] if r["DestinationCidrBlock"] == "0.0.0.0/0")
        for table in (public_rtb, private_rtb)
    }
    assert default_route[public_rtb]["GatewayId"] == igw_id
    assert default_route[private_rtb]["NatGatewayId"] == nat_id
    assert [a["SubnetId"] for a in tables[public_rtb]["Associations"]] == [public_id]
    assert [a["SubnetId"] for a in tables[private_rtb]["Associations"]] == [private_id]


def test_a_route_without_a_gateway_or_nat_gateway_is_an_error(mocks):
    vpc_id = _vpc(mocks)
    table, _ = declare(mocks, "aws:ec2/routeTable:RouteTable", "t", vpcId=vpc_id)
    with pytest.raises(ValueError, match="exactly one of gatewayId / natGatewayId"):
        declare(mocks, "aws:ec2/route:Route", "r", routeTableId=table, destinationCidrBlock="0.0.0.0/0")


def test_a_security_group_has_no_egress_until_an_egress_rule_is_declared(mocks):
    vpc_id = _vpc(mocks)
    sg_id, sg = declare(mocks, "aws:ec2/securityGroup:SecurityGroup", "lambda-sg", description="fn", vpcId=vpc_id)
    assert sg_id.startswith("sg-") and sg["vpcId"] == vpc_id
    assert sg["name"].startswith("lambda-sg-")  # auto-named like pulumi-aws: <logical>-<suffix>
    described = ec2().describe_security_groups(GroupIds=[sg_id])["SecurityGroups"][0]
    assert (described["GroupName"], described["IpPermissionsEgress"]) == (sg["name"], [])

    rule_id, rule = declare(
        mocks,
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "https-out",
        securityGroupId=sg_id,
        ipProtocol="tcp",
        fromPort=443.0,
        toPort=443.0,
        cidrIpv4="0.0.0.0/0",
        description="HTTPS to AWS APIs",
    )
    assert rule_id.startswith("sgr-") and rule["securityGroupRuleId"] == rule_id
    assert rule["arn"].endswith(f":security-group-rule/{rule_id}")
    egress = ec2().describe_security_groups(GroupIds=[sg_id])["SecurityGroups"][0]["IpPermissionsEgress"]
    assert [(p["IpProtocol"], p["FromPort"], p["ToPort"], p["IpRanges"][0]["CidrIp"]) for p in egress] == [
        ("tcp", 443, 443, "0.0.0.0/0")
    ]


def test_an_ingress_rule_from_another_security_group_lands_in_the_group_rules(mocks):
    vpc_id = _vpc(mocks)
    lambda_sg, _ = declare(mocks, "aws:ec2/securityGroup:SecurityGroup", "fn", name="fn", vpcId=vpc_id)
    db_sg, db = declare(mocks, "aws:ec2/securityGroup:SecurityGroup", "db", name="db", vpcId=vpc_id)
    assert db["name"] == "db"
    rule_id, _ = declare(
        mocks,
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "postgres-from-fn",
        securityGroupId=db_sg,
        ipProtocol="tcp",
        fromPort=5432.0,
        toPort=5432.0,
        referencedSecurityGroupId=lambda_sg,
        description="PostgreSQL from the functions",
    )
    rules = ec2().describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [db_sg]}])["SecurityGroupRules"]
    assert [
        (r["SecurityGroupRuleId"], r["IsEgress"], r["IpProtocol"], r["FromPort"], r["ToPort"])
        for r in rules
        if r["ReferencedGroupInfo"]["GroupId"] == lambda_sg
    ] == [(rule_id, False, "tcp", 5432, 5432)]
    assert not any(r["IsEgress"] for r in rules)  # the default allow-all egress is gone


def test_an_all_traffic_egress_rule_has_no_ports(mocks):
    sg_id, _ = declare(mocks, "aws:ec2/securityGroup:SecurityGroup", "any", vpcId=_vpc(mocks))
    declare(
        mocks,
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "all",
        securityGroupId=sg_id,
        ipProtocol="-1",
        cidrIpv4="0.0.0.0/0",
    )
    egress = ec2().describe_security_groups(GroupIds=[sg_id])["SecurityGroups"][0]["IpPermissionsEgress"]
    assert [(p["IpProtocol"], p["IpRanges"][0]["CidrIp"]) for p in egress] == [("-1", "0.0.0.0/0")]


def test_inline_security_group_rules_are_refused_rather_than_dropped(mocks):
    with pytest.raises(ValueError, match="inline ingress/egress rules are not emulated"):
        declare(mocks, "aws:ec2/securityGroup:SecurityGroup", "x", vpcId=_vpc(mocks), egress=[{"protocol": "-1"}])


def test_the_default_security_group_loses_every_rule_aws_gives_it(mocks):
    vpc_id, vpc = declare(mocks, "aws:ec2/vpc:Vpc", "vpc", cidrBlock="10.0.0.0/16")
    default_id = vpc["defaultSecurityGroupId"]
    # AWS's default group admits all traffic from itself and lets everything out; moto's only the latter.
    ec2().authorize_security_group_ingress(
        GroupId=default_id, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": default_id}]}]
    )
    group_id, group = declare(
        mocks,
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "vpc-default",
        vpcId=vpc_id,
        ingress=[],
        egress=[],
        tags={"Name": "vpc-default-unused"},
    )
    assert group_id == default_id and (group["name"], group["vpcId"]) == ("default", vpc_id)
    described = ec2().describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    assert (described["IpPermissions"], described["IpPermissionsEgress"]) == ([], [])
    assert {"Key": "Name", "Value": "vpc-default-unused"} in described["Tags"]
    rules = ec2().describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
    assert rules["SecurityGroupRules"] == []


def test_default_security_group_rules_are_refused_rather_than_dropped(mocks):
    with pytest.raises(ValueError, match="inline ingress/egress rules are not emulated"):
        declare(
            mocks,
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
            "d",
            vpcId=_vpc(mocks),
            ingress=[{"protocol": "-1", "self": True}],
        )


def _flow_log_role() -> str:
    trust = {"Version": "2012-10-17", "Statement": []}
    iam = boto3.client("iam", region_name=REGION)
    return iam.create_role(RoleName="flow-logs", Path="/sw-dev/net/", AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]


def test_a_flow_log_delivers_all_traffic_of_the_vpc_into_its_log_group(mocks):
    vpc_id = _vpc(mocks)
    group = "/aws/vpc/sw-dev-incidents/flow-logs"
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName=group)
    group_arn = f"arn:aws:logs:{REGION}:123456789012:log-group:{group}"
    role = _flow_log_role()
    flow_log_id, flow_log = declare(
        mocks,
        "aws:ec2/flowLog:FlowLog",
        "flow",
        vpcId=vpc_id,
        trafficType="ALL",
        logDestinationType="cloud-watch-logs",
        logDestination=group_arn,
        iamRoleArn=role,
        maxAggregationInterval=60.0,
        tags={"Name": "net"},
    )
    assert flow_log_id.startswith("fl-") and flow_log["arn"].endswith(f":vpc-flow-log/{flow_log_id}")
    (described,) = ec2().describe_flow_logs(FlowLogIds=[flow_log_id])["FlowLogs"]
    assert (described["ResourceId"], described["TrafficType"], described["MaxAggregationInterval"]) == (
        vpc_id,
        "ALL",
        60,
    )
    assert (described["LogDestination"], described["LogGroupName"]) == (group_arn, group)
    assert (described["DeliverLogsPermissionArn"], described["DeliverLogsStatus"]) == (role, "SUCCESS")
    assert described["Tags"] == [{"Key": "Name", "Value": "net"}]


def test_a_flow_log_with_a_role_that_does_not_exist_is_refused(mocks):
    with pytest.raises(Exception, match="NoSuchEntity"):
        declare(
            mocks,
            "aws:ec2/flowLog:FlowLog",
            "flow",
            vpcId=_vpc(mocks),
            trafficType="ALL",
            logDestination=f"arn:aws:logs:{REGION}:123456789012:log-group:x",
            iamRoleArn="arn:aws:iam::123456789012:role/nobody",
        )
    with pytest.raises(ValueError, match="needs iamRoleArn"):
        declare(mocks, "aws:ec2/flowLog:FlowLog", "f2", vpcId=_vpc(mocks), trafficType="ALL", logDestination="a")
    with pytest.raises(ValueError, match="exactly one of vpcId, subnetId, eniId"):
        declare(mocks, "aws:ec2/flowLog:FlowLog", "f3", trafficType="ALL", logDestination="a")


# --- RDS --------------------------------------------------------------------------------------------


def test_a_parameter_group_gets_its_parameters(mocks):
    parameters = [
        {"name": "rds.force_ssl", "value": "1", "applyMethod": "pending-reboot"},
        {"name": "log_min_duration_statement", "value": "1000"},
        *({"name": f"custom.p{i}", "value": str(i)} for i in range(25)),  # more than one batch of 20
    ]
    name, group = declare(
        mocks,
        "aws:rds/parameterGroup:ParameterGroup",
        "incidents-pg",
        name="incidents-pg17",
        family="postgres17",
        description="incidents",
        parameters=parameters,
    )
    assert name == "incidents-pg17" and group["arn"].endswith(":pg:incidents-pg17")
    rds = boto3.client("rds", region_name=REGION)
    described = {
        p["ParameterName"]: (p["ParameterValue"], p["ApplyMethod"])
        for p in rds.describe_db_parameters(DBParameterGroupName=name)["Parameters"]
    }
    assert described["rds.force_ssl"] == ("1", "pending-reboot")
    assert described["log_min_duration_statement"] == ("1000", "immediate")
    assert described["custom.p24"] == ("24", "immediate")
    family = rds.describe_db_parameter_groups(DBParameterGroupName=name)["DBParameterGroups"][0]
    assert family["DBParameterGroupFamily"] == "postgres17"


def test_a_subnet_group_is_named_and_spans_its_subnets(mocks):
    group, _ = _database_network(mocks)
    described = boto3.client("rds", region_name=REGION).describe_db_subnet_groups(DBSubnetGroupName=group)
    zones = {s["SubnetAvailabilityZone"]["Name"] for s in described["DBSubnetGroups"][0]["Subnets"]}
    assert group.startswith("db-subnets-") and zones == {"us-west-2a", "us-west-2b"}


def test_an_rds_instance_is_a_real_postgresql_reached_through_its_managed_secret(mocks, fleet):
    group, sg_id = _database_network(mocks)
    identifier, outputs = declare(mocks, INSTANCE, "incidents-db", **_instance_inputs(group, sg_id))

    assert identifier == outputs["id"] == "incidents-db"
    server = fleet[identifier]
    assert (outputs["address"], outputs["port"]) == ("127.0.0.1", server.port)
    assert outputs["endpoint"] == f"127.0.0.1:{server.port}"
    assert (outputs["dbName"], outputs["username"]) == ("incidents", "stepworks")
    assert outputs["arn"] == f"arn:aws:rds:{REGION}:123456789012:db:incidents-db"
    secret = outputs["masterUserSecrets"][0]
    assert secret["secretStatus"] == "active" and ":secret:rds!db-" in secret["secretArn"]

    with _connect_as_a_function_would(outputs, fleet.ca_bundle_path()) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("stepworks", "incidents")
        assert conn.pgconn.ssl_in_use

    # RDS keeps its record of the instance too, tied to the same secret.
    described = boto3.client("rds", region_name=REGION).describe_db_instances(DBInstanceIdentifier=identifier)
    instance = described["DBInstances"][0]
    assert instance["MasterUserSecret"]["SecretArn"] == secret["secretArn"]
    assert instance["VpcSecurityGroups"][0]["VpcSecurityGroupId"] == sg_id
    assert instance["IAMDatabaseAuthenticationEnabled"] is True

    # A test can take the database away mid-run and bring it back on the same endpoint.
    server.stop()
    with pytest.raises(psycopg.OperationalError):
        _connect_as_a_function_would(outputs, fleet.ca_bundle_path())
    server.start()
    with _connect_as_a_function_would(outputs, fleet.ca_bundle_path()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_the_ca_bundle_vouches_for_every_server_and_close_stops_them_all(mocks, fleet):
    group, sg_id = _database_network(mocks)
    outputs = [
        declare(
            mocks, INSTANCE, name, **_instance_inputs(group, sg_id, identifier=name, dbName=name.replace("-", "_"))
        )[1]
        for name in ("first-db", "second-db")
    ]
    assert sorted(fleet.servers()) == ["first-db", "second-db"]
    bundle = fleet.ca_bundle_path()
    assert Path(bundle).read_text().count("BEGIN CERTIFICATE") == 2
    for output in outputs:
        with _connect_as_a_function_would(output, bundle) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (output["dbName"],)

    fleet.close()
    assert fleet.servers() == {} and fleet.ca_bundle_path() is None
    for output in outputs:
        with pytest.raises(psycopg.OperationalError, match="Connection refused"):
            psycopg.connect(host=output["address"], port=output["port"], dbname="x", user="x", connect_timeout=2)


def test_without_a_managed_master_password_the_instance_is_refused(mocks):
    group, sg_id = _database_network(mocks)
    inputs = _instance_inputs(group, sg_id, manageMasterUserPassword=False, password="hunter2hunter2")
    with pytest.raises(ValueError, match="only emulates RDS-managed master passwords"):
        declare(mocks, INSTANCE, "incidents-db", **inputs)
    assert "only emulates RDS-managed master passwords" in mocks.errors[-1]


def test_an_instance_needs_a_database_fleet():
    with mock_aws():
        mocks = EmulatorMocks(TRANSLATORS, region=REGION)
        group, sg_id = _database_network(mocks)
        with pytest.raises(RuntimeError, match="no DatabaseFleet"):
            declare(mocks, INSTANCE, "incidents-db", **_instance_inputs(group, sg_id))


def test_an_unknown_security_group_is_refused_as_aws_would(mocks):
    group, _ = _database_network(mocks)
    with pytest.raises(Exception, match="InvalidGroup"):
        declare(mocks, INSTANCE, "incidents-db", **_instance_inputs(group, "sg-0123456789abcdef0"))


def test_with_an_external_server_the_instance_is_that_server_and_is_left_running(monkeypatch, mocks, fleet):
    with TemporaryPostgres(ssl=True, dbname="shared", user="owner") as external:
        monkeypatch.setenv(URL_ENV, external.url)
        group, sg_id = _database_network(mocks)
        _, outputs = declare(mocks, INSTANCE, "incidents-db", **_instance_inputs(group, sg_id))
        assert (outputs["dbName"], outputs["username"], outputs["port"]) == ("shared", "owner", external.port)
        with _connect_as_a_function_would(outputs, fleet.ca_bundle_path()) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("owner",)
        fleet.close()
        with external.connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


def _key() -> str:
    return boto3.client("kms", region_name=REGION).create_key(Description="pipeline")["KeyMetadata"]["Arn"]


def _monitoring_role() -> str:
    iam = boto3.client("iam", region_name=REGION)
    return iam.create_role(RoleName="monitoring", Path="/sw-dev/incidents/", AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]


def test_an_instance_reads_back_with_its_key_monitoring_and_performance_insights(mocks, fleet):
    group, sg_id = _database_network(mocks)
    key, role = _key(), _monitoring_role()
    inputs = _instance_inputs(
        group,
        sg_id,
        kmsKeyId=key,
        masterUserSecretKmsKeyId=key,
        monitoringInterval=60.0,
        monitoringRoleArn=role,
        performanceInsightsEnabled=True,
        performanceInsightsKmsKeyId=key,
        performanceInsightsRetentionPeriod=93.0,
    )
    identifier, outputs = declare(mocks, INSTANCE, "incidents-db", **inputs)
    instance = boto3.client("rds", region_name=REGION).describe_db_instances(DBInstanceIdentifier=identifier)
    described = instance["DBInstances"][0]
    assert (described["KmsKeyId"], described["MonitoringInterval"], described["MonitoringRoleArn"]) == (key, 60, role)
    assert (described["PerformanceInsightsEnabled"], described["PerformanceInsightsKMSKeyId"]) == (True, key)
    assert described["PerformanceInsightsRetentionPeriod"] == 93
    assert (outputs["kmsKeyId"], outputs["monitoringRoleArn"], outputs["performanceInsightsKmsKeyId"]) == (
        key,
        role,
        key,
    )

    # The credentials the sandbox writes land in a secret under the declared key, and still connect.
    secret_arn = outputs["masterUserSecrets"][0]["secretArn"]
    assert outputs["masterUserSecrets"][0]["kmsKeyId"] == key
    secrets = boto3.client("secretsmanager", region_name=REGION)
    assert secrets.describe_secret(SecretId=secret_arn)["KmsKeyId"] == key
    with _connect_as_a_function_would(outputs, fleet.ca_bundle_path()) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("stepworks",)


def test_without_performance_insights_an_instance_reads_back_with_it_off(mocks, fleet):
    group, sg_id = _database_network(mocks)
    identifier, outputs = declare(mocks, INSTANCE, "incidents-db", **_instance_inputs(group, sg_id))
    described = boto3.client("rds", region_name=REGION).describe_db_instances(DBInstanceIdentifier=identifier)
    assert described["DBInstances"][0].get("PerformanceInsightsEnabled") in (None, False)
    assert (outputs["performanceInsightsEnabled"], outputs["monitoringInterval"]) == (False, 0)


@pytest.mark.parametrize("key_input", ["kmsKeyId", "masterUserSecretKmsKeyId"])
def test_an_instance_under_a_key_that_does_not_exist_is_refused_as_rds_would(mocks, key_input):
    group, sg_id = _database_network(mocks)
    missing = f"arn:aws:kms:{REGION}:123456789012:key/00000000-0000-0000-0000-000000000000"
    with pytest.raises(ValueError, match=f"KMSKeyNotAccessibleFault: {key_input}"):
        declare(mocks, INSTANCE, "incidents-db", **_instance_inputs(group, sg_id, **{key_input: missing}))


def test_monitoring_needs_a_role_that_exists_and_an_interval_with_it(mocks):
    group, sg_id = _database_network(mocks)
    with pytest.raises(Exception, match="NoSuchEntity"):
        declare(
            mocks,
            INSTANCE,
            "a",
            **_instance_inputs(
                group, sg_id, monitoringInterval=60.0, monitoringRoleArn="arn:aws:iam::123456789012:role/nobody"
            ),
        )
    with pytest.raises(Exception, match="MonitoringRoleARN value is required"):
        declare(mocks, INSTANCE, "b", **_instance_inputs(group, sg_id, identifier="b", monitoringInterval=60.0))


def test_performance_insights_settings_without_performance_insights_are_refused(mocks):
    group, sg_id = _database_network(mocks)
    with pytest.raises(ValueError, match="need performanceInsightsEnabled"):
        declare(mocks, INSTANCE, "a", **_instance_inputs(group, sg_id, performanceInsightsRetentionPeriod=7.0))


def _run_inline(mocks, program) -> dict:
    """Run ``program`` under Pulumi's mock runtime (as ``run_program`` runs __main__.py); its exports."""
    pulumi_settings.reset_options(project="stepworks", stack="test")
    pulumi.runtime.set_all_config({"aws:region": REGION}, [])
    pulumi.runtime.set_mocks(mocks, project="stepworks", stack="test", preview=False)
    _sync_await(run_pulumi_func(program))
    return _sync_await(pulumi.Output.from_input(dict(pulumi_settings.get_root_resource().outputs)).future())


def _database_program():
    zones = aws.get_availability_zones_output(state="available")
    vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", enable_dns_hostnames=True, enable_dns_support=True)
    subnets = [
        aws.ec2.Subnet(f"db-{i}", vpc_id=vpc.id, cidr_block=f"10.0.{i}.0/24", availability_zone=zones.names[i])
        for i in range(2)
    ]
    db_sg = aws.ec2.SecurityGroup("db", vpc_id=vpc.id, description="database")
    fn_sg = aws.ec2.SecurityGroup("fn", vpc_id=vpc.id, description="functions")
    aws.vpc.SecurityGroupIngressRule(
        "postgres",
        security_group_id=db_sg.id,
        ip_protocol="tcp",
        from_port=5432,
        to_port=5432,
        referenced_security_group_id=fn_sg.id,
    )
    group = aws.rds.SubnetGroup("db", subnet_ids=[s.id for s in subnets])
    parameters = aws.rds.ParameterGroup(
        "db",
        family="postgres17",
        parameters=[{"name": "rds.force_ssl", "value": "1", "apply_method": "pending-reboot"}],
    )
    instance = aws.rds.Instance(
        "db",
        identifier="incidents-db",
        engine="postgres",
        engine_version="17",
        instance_class="db.t4g.micro",
        allocated_storage=20,
        storage_type="gp3",
        storage_encrypted=True,
        db_name="incidents",
        username="stepworks",
        manage_master_user_password=True,
        db_subnet_group_name=group.name,
        vpc_security_group_ids=[db_sg.id],
        parameter_group_name=parameters.name,
        skip_final_snapshot=True,
    )
    pulumi.export("secretArn", instance.master_user_secrets[0].secret_arn)
    pulumi.export("address", instance.address)
    pulumi.export("port", instance.port)
    pulumi.export("dbName", instance.db_name)
    pulumi.export("zones", zones.names)


def test_a_pulumi_declared_database_reads_the_same_under_recording_and_emulator_mocks(fleet):
    synthetic = _run_inline(RecordingMocks(), _database_program)
    assert re.fullmatch(r"incidents-db\.[a-z0-9]{12}\.us-west-2\.rds\.amazonaws\.com", synthetic["address"])
    assert (synthetic["port"], synthetic["dbName"]) == (5432, "incidents")
    assert ":secret:rds!db-" in synthetic["secretArn"]

    with mock_aws():
        emulated = _run_inline(EmulatorMocks(TRANSLATORS, region=REGION, databases=fleet), _database_program)
        outputs = {
            "address": emulated["address"],
            "port": emulated["port"],
            "dbName": emulated["dbName"],
            "masterUserSecrets": [{"secretArn": emulated["secretArn"]}],
        }
        assert (emulated["address"], emulated["port"]) == ("127.0.0.1", fleet["incidents-db"].port)
        assert emulated["zones"][:2] == ["us-west-2a", "us-west-2b"]
        with _connect_as_a_function_would(outputs, fleet.ca_bundle_path()) as conn:
            assert conn.execute("SELECT current_user, current_database()").fetchone() == ("stepworks", "incidents")


# --- invokes, synthetic outputs, runtime environment, sandbox cleanup ----------------------------------


def _zones_call(mocks) -> dict:
    args = pulumi.runtime.MockCallArgs(
        "aws:index/getAvailabilityZones:getAvailabilityZones", {"state": "available"}, ""
    )
    return mocks.call(args)


def test_recording_mocks_answer_get_availability_zones():
    zones = _zones_call(RecordingMocks())
    assert zones["names"] == ["us-west-2a", "us-west-2b", "us-west-2c"]
    assert zones["zoneIds"] == ["usw2-az1", "usw2-az2", "usw2-az3"]
    assert (zones["id"], zones["groupNames"]) == ("us-west-2", ["us-west-2"])


def test_emulator_mocks_answer_get_availability_zones_from_moto(mocks):
    zones = _zones_call(mocks)
    described = ec2().describe_availability_zones()["AvailabilityZones"]
    assert zones["names"] == [z["ZoneName"] for z in described]
    assert zones["zoneIds"] == [z["ZoneId"] for z in described]
    assert len(zones["names"]) >= 3


def test_synthetic_outputs_give_what_the_program_reads():
    _, vpc = synthetic_outputs("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"})
    assert vpc["id"].startswith("vpc-") and vpc["defaultSecurityGroupId"].startswith("sg-")
    subnet_id, subnet = synthetic_outputs("aws:ec2/subnet:Subnet", "a", {"availabilityZone": "us-west-2a"})
    assert subnet_id.startswith("subnet-") and subnet["availabilityZone"] == "us-west-2a"
    assert synthetic_outputs("aws:ec2/securityGroup:SecurityGroup", "sg", {})[0].startswith("sg-")
    assert synthetic_outputs("aws:ec2/natGateway:NatGateway", "nat", {})[0].startswith("nat-")
    flow_log_id, flow_log = synthetic_outputs("aws:ec2/flowLog:FlowLog", "flow", {"vpcId": vpc["id"]})
    assert flow_log_id.startswith("fl-") and flow_log["arn"].endswith(f":vpc-flow-log/{flow_log_id}")
    default_id, default = synthetic_outputs(
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "d", {"vpcId": vpc["id"]}
    )
    assert default_id.startswith("sg-") and (default["name"], default["vpcId"]) == ("default", vpc["id"])
    assert (default["ingress"], default["egress"]) == ([], [])

    inputs = {"identifier": "incidents-db", "dbName": "incidents", "username": "stepworks"}
    identifier, db = synthetic_outputs(INSTANCE, "db", inputs)
    assert identifier == "incidents-db"
    assert re.fullmatch(r"incidents-db\.[a-z0-9]{12}\.us-west-2\.rds\.amazonaws\.com", db["address"])
    assert (db["port"], db["endpoint"], db["dbName"]) == (5432, f"{db['address']}:5432", "incidents")
    secret = db["masterUserSecrets"][0]
    assert secret["secretArn"].startswith("arn:aws:secretsmanager:us-west-2:123456789012:secret:rds!db-")
    assert re.search(r"-[A-Za-z0-9]{6}$", secret["secretArn"]) and secret["secretStatus"] == "active"
    assert synthetic_outputs(INSTANCE, "db", inputs) == (identifier, db)  # deterministic
    key = "arn:aws:kms:us-west-2:123456789012:key/pipeline"
    _, keyed = synthetic_outputs(INSTANCE, "db", {**inputs, "kmsKeyId": key, "masterUserSecretKmsKeyId": key})
    assert (keyed["kmsKeyId"], keyed["masterUserSecrets"][0]["kmsKeyId"]) == (key, key)
    assert db["masterUserSecrets"][0]["kmsKeyId"] not in ("", key)  # without one, RDS's default key


class _Function:
    function_name = "f"
    memory_size = 128
    function_arn = "arn:aws:lambda:us-west-2:123456789012:function:f"
    timeout = 3
    region = REGION

    def __init__(self, env):
        self.handler = "os.getenv"
        self.environment_vars = env

    def save_logs(self, text):
        pass


def test_the_runtime_environment_sits_under_the_function_environment(monkeypatch):
    monkeypatch.setitem(lambda_runner.RUNTIME_ENVIRONMENT, "DB_SSLROOTCERT", "/sandbox/ca-bundle.pem")
    payload, _, _ = lambda_runner.invoke_in_process(_Function({}), '"DB_SSLROOTCERT"')
    assert json.loads(payload) == "/sandbox/ca-bundle.pem"
    payload, _, _ = lambda_runner.invoke_in_process(_Function({"DB_SSLROOTCERT": "/own.pem"}), '"DB_SSLROOTCERT"')
    assert json.loads(payload) == "/own.pem"


class _FailingServer:
    def stop(self):
        raise RuntimeError("http stop failed")


def test_sandbox_exit_closes_the_databases_even_when_another_cleanup_fails():
    sandbox = Sandbox()
    with pytest.raises(RuntimeError, match="http stop failed"), sandbox:
        sandbox.databases = DatabaseFleet()
        server = sandbox.databases.provision("incidents-db", dbname="incidents", user="stepworks")
        lambda_runner.RUNTIME_ENVIRONMENT["DB_SSLROOTCERT"] = sandbox.databases.ca_bundle_path()
        sandbox.http = _FailingServer()
    assert sandbox.databases.servers() == {} and "DB_SSLROOTCERT" not in lambda_runner.RUNTIME_ENVIRONMENT
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host=server.host, port=server.port, dbname="x", user="x", connect_timeout=2)
