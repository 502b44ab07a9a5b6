"""incidents under Pulumi mocks: network, RDS, security groups, function grants, the definition, config errors."""

import json

import pytest

from infra import asl
from infra.components.database import DatabaseSettings
from infra.components.network import NetworkSettings, subnet_blocks
from infra.config import ConfigError, Section
from infra.sandbox.mocks import RecordingMocks
from infra.sandbox.program import load_stack_file, run_program
from infra.workflows import incidents
from infra.workflows.incidents import IncidentsSettings

FUNCTIONS = ("fetch-initial", "fetch-complete", "validate", "handle-error")


def of_type(program, typ):
    return [r for r in program.resources if r.typ == typ]


def one(program, typ, name=None):
    found = [r for r in of_type(program, typ) if name is None or r.name == name]
    assert len(found) == 1, [r.name for r in of_type(program, typ)]
    return found[0]


def statements(program, function):
    policy = one(program, "aws:iam/rolePolicy:RolePolicy", f"incidents-{function}-policy")
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def program_with(**incidents_settings):
    config = {**load_stack_file("dev"), "stepworks:pipelines": ["incidents"], "stepworks:incidents": incidents_settings}
    return run_program(RecordingMocks(), config, stack="dev")


def test_the_database_is_private_encrypted_iam_auth_with_an_rds_managed_password(dev_program):
    db = one(dev_program, "aws:rds/instance:Instance").inputs
    assert db["engine"] == "postgres" and db["engineVersion"] == "17"
    assert db["instanceClass"] == "db.t4g.micro"
    assert (db["allocatedStorage"], db["maxAllocatedStorage"]) == (20, 30)
    assert db["storageEncrypted"] is True
    assert db["publiclyAccessible"] is False
    assert db["iamDatabaseAuthenticationEnabled"] is True
    assert db["manageMasterUserPassword"] is True
    assert "password" not in db
    assert db["backupRetentionPeriod"] == 7
    # Pulumi.dev.yaml turns deletion protection off for dev; the default keeps it on.
    assert db["deletionProtection"] is False
    assert DatabaseSettings().deletion_protection is True
    assert db["dbName"] == "incidents"


def test_the_parameter_group_forces_tls_for_the_instance_family(dev_program):
    group = one(dev_program, "aws:rds/parameterGroup:ParameterGroup").inputs
    assert group["family"] == "postgres17"
    assert {"name": "rds.force_ssl", "value": "1", "applyMethod": "immediate"} in group["parameters"]
    assert one(dev_program, "aws:rds/instance:Instance").inputs["parameterGroupName"] == group["name"]


def test_the_database_admits_only_the_functions_security_group_on_5432(dev_program):
    functions_sg = one(dev_program, "aws:ec2/securityGroup:SecurityGroup", "incidents-functions-sg")
    db_sg = one(dev_program, "aws:ec2/securityGroup:SecurityGroup", "incidents-db-sg")
    for group in (functions_sg, db_sg):
        assert not group.inputs.get("ingress") and not group.inputs.get("egress")
    ingress = of_type(dev_program, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert [(r.inputs["securityGroupId"], r.inputs["referencedSecurityGroupId"]) for r in ingress] == [
        (db_sg.id, functions_sg.id)
    ]
    assert (ingress[0].inputs["fromPort"], ingress[0].inputs["toPort"], ingress[0].inputs["ipProtocol"]) == (
        5432,
        5432,
        "tcp",
    )
    assert "cidrIpv4" not in ingress[0].inputs
    egress = {
        (
            r.inputs["securityGroupId"],
            r.inputs.get("referencedSecurityGroupId") or r.inputs.get("cidrIpv4"),
            r.inputs["toPort"],
        )
        for r in of_type(dev_program, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    }
    assert egress == {(functions_sg.id, db_sg.id, 5432), (functions_sg.id, "0.0.0.0/0", 443)}
    assert one(dev_program, "aws:rds/instance:Instance").inputs["vpcSecurityGroupIds"] == [db_sg.id]


def test_a_created_vpc_has_private_subnets_in_two_zones_behind_one_nat(dev_program):
    subnets = {r.name: r.inputs for r in of_type(dev_program, "aws:ec2/subnet:Subnet")}
    private = [subnets["incidents-network-private-0"], subnets["incidents-network-private-1"]]
    assert len({s["availabilityZone"] for s in private}) == 2
    assert [s["cidrBlock"] for s in private] == ["10.40.0.0/20", "10.40.16.0/20"]
    (nat,) = of_type(dev_program, "aws:ec2/natGateway:NatGateway")
    assert nat.inputs["subnetId"] == next(
        r.id for r in of_type(dev_program, "aws:ec2/subnet:Subnet") if r.name.endswith("public-0")
    )
    routes = {r.name: r.inputs for r in of_type(dev_program, "aws:ec2/route:Route")}
    assert routes["incidents-network-private-0-default"]["natGatewayId"] == nat.id
    assert routes["incidents-network-private-1-default"]["natGatewayId"] == nat.id
    assert "gatewayId" in routes["incidents-network-public-default"]
    subnet_group = one(dev_program, "aws:rds/subnetGroup:SubnetGroup").inputs
    private_ids = sorted(r.id for r in of_type(dev_program, "aws:ec2/subnet:Subnet") if "private" in r.name)
    assert sorted(subnet_group["subnetIds"]) == private_ids


def test_nat_per_zone_gives_each_private_subnet_its_own_nat():
    program = program_with(network={"natPerZone": True})
    nats = of_type(program, "aws:ec2/natGateway:NatGateway")
    assert len(nats) == 2
    routes = {r.name: r.inputs["natGatewayId"] for r in of_type(program, "aws:ec2/route:Route") if "private" in r.name}
    assert sorted(routes.values()) == sorted(n.id for n in nats)


def test_an_existing_vpc_is_used_as_given_and_nothing_network_is_created():
    subnets = ["subnet-0aaa", "subnet-0bbb"]
    program = program_with(network={"vpcId": "vpc-0123", "privateSubnetIds": subnets})
    for typ in ("aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip"):
        assert of_type(program, typ) == []
    assert one(program, "aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"] == subnets
    for sg in of_type(program, "aws:ec2/securityGroup:SecurityGroup"):
        assert sg.inputs["vpcId"] == "vpc-0123"
    for fn in of_type(program, "aws:lambda/function:Function"):
        if fn.name == "incidents-validate-request-function":
            assert "vpcConfig" not in fn.inputs  # pure validation: no database, no network placement
        else:
            assert fn.inputs["vpcConfig"]["subnetIds"] == subnets
    assert program.outputs["incidents"]["vpcId"] == "vpc-0123"


def test_every_function_runs_in_the_private_subnets_with_ten_minutes_and_database_settings(dev_program):
    functions_sg = one(dev_program, "aws:ec2/securityGroup:SecurityGroup", "incidents-functions-sg")
    db = one(dev_program, "aws:rds/instance:Instance")
    secret_arn = db.outputs["masterUserSecrets"][0]["secretArn"]
    for key in FUNCTIONS:
        fn = one(dev_program, "aws:lambda/function:Function", f"incidents-{key}-function").inputs
        assert fn["timeout"] == 600
        assert fn["vpcConfig"]["securityGroupIds"] == [functions_sg.id]
        assert len(fn["vpcConfig"]["subnetIds"]) == 2
        env = fn["environment"]["variables"]
        assert env["DB_SECRET_ARN"] == secret_arn
        assert (env["DB_HOST"], env["DB_PORT"], env["DB_NAME"]) == (db.outputs["address"], "5432", "incidents")
        assert env["DB_SSLMODE"] == "verify-full"
        assert not any("PASSWORD" in name or "TOKEN" == name.rsplit("_", 1)[-1] for name in env)
        assert ("PAGERDUTY_TOKEN_SECRET_ARN" in env) == key.startswith("fetch-")
    complete = one(dev_program, "aws:lambda/function:Function", "incidents-fetch-complete-function").inputs
    assert complete["environment"]["variables"]["LOAD_BATCH_SIZE"] == "5000"


def test_functions_read_only_their_secrets_and_manage_only_vpc_interfaces(dev_program):
    db_secret = dev_program.outputs["incidents"]["dbSecretArn"]
    token = dev_program.outputs["incidents"]["tokenSecretArn"]
    for key in FUNCTIONS:
        granted = statements(dev_program, key)
        readable = {
            arn for s in granted.values() if "secretsmanager:GetSecretValue" in s["Action"] for arn in s["Resource"]
        }
        assert readable == ({db_secret, token} if key.startswith("fetch-") else {db_secret})
        assert set(granted) == {"WriteOwnLogGroup", "XRayWrite", "SecretRead", "SecretReadKey", "VpcNetworking"}
        # Both secrets are under the pipeline's key, decrypted through Secrets Manager only.
        assert granted["SecretReadKey"]["Resource"] == [
            one(dev_program, "aws:kms/key:Key", "incidents-key").outputs["arn"]
        ]
        assert granted["SecretReadKey"]["Condition"] == {
            "StringEquals": {"kms:ViaService": "secretsmanager.us-west-2.amazonaws.com"}
        }
        assert not any(a.startswith(("rds:", "rds-db:")) for s in granted.values() for a in s["Action"])


def test_the_route_is_post_invoke_with_iam_auth_and_outputs_name_api_db_and_state_machine(dev_program):
    route = one(dev_program, "aws:apigatewayv2/route:Route", "incidents-start-route").inputs
    assert route["routeKey"] == "POST /invoke"
    assert route["authorizationType"] == "AWS_IAM"
    outputs = dev_program.outputs["incidents"]
    assert outputs["apiUrl"].endswith("/invoke")
    assert outputs["dbEndpoint"] == one(dev_program, "aws:rds/instance:Instance").outputs["endpoint"]
    assert outputs["stateMachineArn"].endswith(":stateMachine:sw-dev-incidents")


def test_a_jwt_issuer_and_audience_switch_invoke_to_a_jwt_authorizer():
    program = program_with(jwtIssuer="https://id.example.com/", jwtAudience=["incidents"])
    route = one(program, "aws:apigatewayv2/route:Route", "incidents-start-route").inputs
    assert route["authorizationType"] == "JWT"
    assert one(program, "aws:apigatewayv2/authorizer:Authorizer").inputs["jwtConfiguration"]["audiences"] == [
        "incidents"
    ]


def test_the_rendered_definition_passes_static_checks_and_times_out_after_45_minutes(dev_program):
    machine = one(dev_program, "aws:sfn/stateMachine:StateMachine", "incidents-sfn").inputs
    definition = json.loads(machine["definition"])
    assert asl.check_definition(definition) == []
    assert definition["TimeoutSeconds"] == 45 * 60
    for state in ("FetchInitial", "FetchComplete", "Validate", "HandleError"):
        assert definition["States"][state]["TimeoutSeconds"] == 630


def test_every_step_retries_transient_errors_three_times_with_full_jitter_and_never_bad_input():
    definition = incidents.definition(
        {key: f"arn:{key}" for key in (*FUNCTIONS, "validate-request")} | {"taskTimeout": "630"}
    ).document
    for state in ("FetchInitial", "FetchComplete", "Validate"):
        (rule,) = definition["States"][state]["Retry"]
        assert (rule["MaxAttempts"], rule["IntervalSeconds"], rule["BackoffRate"], rule["JitterStrategy"]) == (
            3,
            1,
            2.0,
            "FULL",
        )
        assert set(rule["ErrorEquals"]) == {
            *asl.LAMBDA_TRANSIENT_ERRORS,
            "DatabaseUnavailableError",
            "RateLimitedError",
            "UpstreamUnavailableError",
        }
        assert not {"InvalidInputError", "UpstreamAuthError", "ConfigurationError"} & set(rule["ErrorEquals"])
        assert definition["States"][state]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "HandleError"}
        ]


def test_each_step_goes_on_only_on_success_true_and_otherwise_to_the_error_handler():
    definition = incidents.definition(
        {key: f"arn:{key}" for key in (*FUNCTIONS, "validate-request")} | {"taskTimeout": "630"}
    ).document
    states = definition["States"]
    assert definition["StartAt"] == "ValidateRequest"
    assert states["ValidateRequest"]["Parameters"]["Payload.$"] == "$"  # the body verbatim, nothing added
    assert states["ValidateRequest"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$", "Next": "InputRejected"}
    ]
    assert (states["InputRejected"]["ErrorPath"], states["InputRejected"]["CausePath"]) == ("$.Error", "$.Cause")
    assert states["ValidateRequest"]["ResultSelector"] == {
        "request.$": "$.Payload",
        "execution_id.$": "$$.Execution.Id",
    }
    assert states["FetchInitial"]["Parameters"]["Payload.$"] == "$"
    for check, next_state in (
        ("FetchInitialSucceeded", "FetchComplete"),
        ("FetchCompleteSucceeded", "Validate"),
        ("ValidateSucceeded", "Done"),
    ):
        (choice,) = states[check]["Choices"]
        assert choice["Next"] == next_state
        assert {"Variable": "$.success", "BooleanEquals": True} in choice["And"]
        assert states[check]["Default"] == "HandleError"
    assert states["HandleError"]["Next"] == "Failed"
    assert (states["Failed"]["ErrorPath"], states["Failed"]["CausePath"]) == ("$.error", "$.cause")


def test_subnet_blocks_split_the_vpc_into_private_and_public_twenties():
    assert subnet_blocks("10.40.0.0/16") == (["10.40.0.0/20", "10.40.16.0/20"], ["10.40.128.0/20", "10.40.144.0/20"])
    assert subnet_blocks("10.0.0.0/18") == (["10.0.0.0/20", "10.0.16.0/20"], ["10.0.32.0/20", "10.0.48.0/20"])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"memroy": 1}, "stepworks:incidents.memroy: unknown setting"),
        ({"timeout": 901}, "stepworks:incidents.timeout: 901 is out of range"),
        ({"apiBaseUrl": "http://api.pagerduty.com"}, "stepworks:incidents.apiBaseUrl:"),
        ({"loadBatchSize": 10}, "stepworks:incidents.loadBatchSize: 10 is out of range"),
        ({"jwtIssuer": "https://id.example.com/"}, "stepworks:incidents.jwtAudience: required with jwtIssuer"),
        ({"network": {"vpcId": "vpc-1"}}, "stepworks:incidents.network.privateSubnetIds: required with vpcId"),
        (
            {"network": {"vpcId": "vpc-1", "privateSubnetIds": ["subnet-1"]}},
            "stepworks:incidents.network.privateSubnetIds: required with vpcId; allowed: at least 2",
        ),
        ({"network": {"privateSubnetIds": ["subnet-1", "subnet-2"]}}, "stepworks:incidents.network.vpcId: required"),
        (
            {"network": {"vpcId": "vpc-1", "privateSubnetIds": ["subnet-1", "subnet-2"], "natPerZone": True}},
            "stepworks:incidents.network.natPerZone: only applies to a created VPC",
        ),
        (
            {"network": {"cidrBlock": "10.0.0.0/24"}},
            "stepworks:incidents.network.cidrBlock: 10.0.0.0/24 is not allowed",
        ),
        ({"network": {"cidrBlock": "nope"}}, 'stepworks:incidents.network.cidrBlock: "nope" is not allowed'),
        (
            {"network": {"availabilityZones": ["a"]}},
            "stepworks:incidents.network.availabilityZones: allowed: exactly 2",
        ),
        (
            {"database": {"maxAllocatedStorage": 10}},
            "stepworks:incidents.database.maxAllocatedStorage: 10 is out of range",
        ),
        (
            {"database": {"allocatedStorage": 40, "maxAllocatedStorage": 30}},
            "stepworks:incidents.database.maxAllocatedStorage: 30 is below allocatedStorage 40",
        ),
        ({"database": {"engineVersion": "9.6"}}, 'stepworks:incidents.database.engineVersion: "9.6" is not allowed'),
        ({"database": {"instanceClass": "t4g.micro"}}, "stepworks:incidents.database.instanceClass:"),
        (
            {"database": {"dbName": "Incidents-DB"}},
            'stepworks:incidents.database.dbName: "Incidents-DB" is not allowed',
        ),
        ({"database": {"masterUsername": "postgres"}}, "stepworks:incidents.database.masterUsername:"),
        (
            {"database": {"backupRetentionDays": 3}},
            "stepworks:incidents.database.backupRetentionDays: 3 is out of range; allowed: 7–35",
        ),
        ({"database": {"deletionProtection": "yes"}}, "stepworks:incidents.database.deletionProtection:"),
    ],
)
def test_bad_incidents_settings_name_the_key(values, message):
    with pytest.raises(ConfigError) as raised:
        IncidentsSettings.from_section(Section("stepworks:incidents", values))
    assert message in str(raised.value)


def test_defaults_match_the_original_design():
    settings = IncidentsSettings.from_section(Section("stepworks:incidents", None))
    assert settings.functions.timeout_s == 600
    assert settings.functions.reserved_concurrency is None
    assert settings.database == DatabaseSettings()
    assert settings.network == NetworkSettings()
    assert DatabaseSettings.from_section(Section("x", {"engineVersion": 17})).engine_version == "17"


def test_a_region_the_shipped_ca_bundle_cannot_verify_stops_the_deploy(tmp_path):
    incidents.require_bundled_root("us-west-2")  # the dev stack's region is covered
    only_one_root = tmp_path / "bundle.pem"
    pems = incidents.BUNDLED_RDS_CA.read_text().split("-----END CERTIFICATE-----")
    first = next(p for p in pems if "BEGIN" in p)
    only_one_root.write_text(first + "-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match=r"aws:region: us-west-2 has no rds-ca-rsa2048-g1 root in bundle\.pem"):
        incidents.require_bundled_root("us-west-2", only_one_root)
    with pytest.raises(ConfigError, match="aws:region: mars-north-1 has no rds-ca-rsa2048-g1 root"):
        incidents.require_bundled_root("mars-north-1")
