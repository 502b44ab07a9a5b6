"""The program under Pulumi mocks: inventory, least-privilege policies, logging, tracing, definitions."""

import json

import pytest

from infra import asl
from infra.components.grants import WILDCARD_ONLY_ACTIONS
from infra.integrations import TableRef
from infra.workflows import greeting

TABLE = TableRef("t", "arn:aws:dynamodb:us-west-2:123456789012:table/t")

WRITE_VERBS = ("Put", "Create", "Update", "Delete", "Start", "Send", "Invoke", "Write", "Assign", "Unassign", "Publish")


def policies(program):
    return {p.name: json.loads(p.inputs["policy"]) for p in program.of_type("aws:iam/rolePolicy:RolePolicy")}


def by_name(program, typ, name):
    (found,) = [r for r in program.of_type(typ) if r.name == name]
    return found


def test_greeting_declares_its_table_function_state_machine_and_api(dev_program):
    names = {(r.typ, r.name) for r in dev_program.resources if r.custom}
    for expected in [
        ("aws:dynamodb/table:Table", "greeting-table"),
        ("aws:lambda/function:Function", "greeting-hello-function"),
        ("aws:iam/role:Role", "greeting-hello-role"),
        ("aws:cloudwatch/logGroup:LogGroup", "greeting-hello-logs"),
        ("aws:sfn/stateMachine:StateMachine", "greeting-sfn"),
        ("aws:apigatewayv2/api:Api", "greeting-start-api"),
        ("aws:apigatewayv2/route:Route", "greeting-start-route"),
        ("aws:apigatewayv2/integration:Integration", "greeting-start-integration"),
        ("aws:apigatewayv2/stage:Stage", "greeting-start-stage"),
    ]:
        assert expected in names
    assert set(dev_program.outputs["greeting"]) == {"apiUrl", "stateMachineArn", "tableName"}
    assert dev_program.outputs["greeting"]["apiUrl"].endswith("/greetings")


def test_no_write_action_has_a_wildcard_resource_except_those_aws_only_allows_on_star(dev_program):
    for name, document in policies(dev_program).items():
        for statement in document["Statement"]:
            if "*" in statement["Resource"]:
                writes = [a for a in statement["Action"] if a.split(":")[1].startswith(WRITE_VERBS)]
                assert set(writes) <= WILDCARD_ONLY_ACTIONS, f"{name} grants {writes} on *"
            assert all("*" not in a for a in statement["Action"]), f"{name} uses a wildcard action"


def test_the_state_machine_role_invokes_only_its_own_function_and_puts_only_into_its_table(dev_program):
    statements = policies(dev_program)["greeting-sfn-policy"]["Statement"]
    invoke = [s for s in statements if "lambda:InvokeFunction" in s["Action"]]
    fn_arn = by_name(dev_program, "aws:lambda/function:Function", "greeting-hello-function").outputs["arn"]
    assert len(invoke) == 1
    assert invoke[0]["Action"] == ["lambda:InvokeFunction"]
    assert invoke[0]["Resource"] == sorted([fn_arn, f"{fn_arn}:*"])
    table_arn = by_name(dev_program, "aws:dynamodb/table:Table", "greeting-table").outputs["arn"]
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert dynamo == [{"Sid": "TableWrite", "Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": [table_arn]}]
    # The table is encrypted with the pipeline's key: the put carries the key, used through DynamoDB only.
    key_arn = by_name(dev_program, "aws:kms/key:Key", "greeting-key").outputs["arn"]
    (key,) = [s for s in statements if s["Sid"] == "TableWriteKey"]
    assert key["Resource"] == [key_arn]
    assert set(key["Action"]) >= {"kms:Decrypt", "kms:GenerateDataKey"}
    assert key["Condition"] == {"StringEquals": {"kms:ViaService": "dynamodb.us-west-2.amazonaws.com"}}


def test_each_function_role_writes_only_its_own_log_group(dev_program):
    log_group_arn = by_name(dev_program, "aws:cloudwatch/logGroup:LogGroup", "greeting-hello-logs").outputs["arn"]
    statements = policies(dev_program)["greeting-hello-policy"]["Statement"]
    logs = [s for s in statements if s["Sid"] == "WriteOwnLogGroup"]
    assert logs == [
        {
            "Sid": "WriteOwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{log_group_arn}:*"],
        }
    ]
    assert {s["Sid"] for s in statements} == {"WriteOwnLogGroup", "XRayWrite"}


def test_the_start_role_may_only_start_this_state_machine(dev_program):
    machine_arn = dev_program.outputs["greeting"]["stateMachineArn"]
    assert policies(dev_program)["greeting-start-start-policy"]["Statement"] == [
        {"Sid": "StartExecution", "Effect": "Allow", "Action": ["states:StartExecution"], "Resource": [machine_arn]}
    ]
    trust = json.loads(
        by_name(dev_program, "aws:iam/role:Role", "greeting-start-start-role").inputs["assumeRolePolicy"]
    )
    assert trust["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}


def test_function_has_runtime_memory_timeout_tracing_and_a_retained_log_group(dev_program):
    fn = by_name(dev_program, "aws:lambda/function:Function", "greeting-hello-function").inputs
    assert fn["runtime"] == "python3.12"
    assert fn["handler"] == "pipelines.greeting.handlers.hello"
    assert (fn["memorySize"], fn["timeout"]) == (128, 30)
    assert fn["tracingConfig"] == {"mode": "Active"}
    assert fn["name"] == "sw-dev-greeting-hello"
    log_group = by_name(dev_program, "aws:cloudwatch/logGroup:LogGroup", "greeting-hello-logs").inputs
    assert log_group == {**log_group, "name": "/aws/lambda/sw-dev-greeting-hello", "retentionInDays": 30}
    assert fn["loggingConfig"]["logGroup"] == "/aws/lambda/sw-dev-greeting-hello"
    # No secret ever travels in an environment variable.
    assert not any(("TOKEN" in k or "SECRET" in k) and not k.endswith("_ARN") for k in fn["environment"]["variables"])


def test_the_state_machine_is_standard_with_full_logging_without_execution_data_and_tracing(dev_program):
    machine = by_name(dev_program, "aws:sfn/stateMachine:StateMachine", "greeting-sfn").inputs
    assert machine["type"] == "STANDARD"
    assert machine["loggingConfiguration"]["level"] == "ALL"
    assert machine["loggingConfiguration"]["includeExecutionData"] is False
    assert machine["loggingConfiguration"]["logDestination"].endswith(":*")
    assert machine["tracingConfiguration"] == {"enabled": True}


def test_the_table_is_on_demand_encrypted_with_point_in_time_recovery(dev_program):
    table = by_name(dev_program, "aws:dynamodb/table:Table", "greeting-table").inputs
    assert table["hashKey"] == "id"
    assert table["attributes"] == [{"name": "id", "type": "S"}]
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["serverSideEncryption"]["enabled"] is True
    assert table["pointInTimeRecovery"]["enabled"] is True


def test_the_route_uses_iam_auth_and_the_direct_start_execution_integration(dev_program):
    route = by_name(dev_program, "aws:apigatewayv2/route:Route", "greeting-start-route").inputs
    assert route["routeKey"] == "POST /greetings"
    assert route["authorizationType"] == "AWS_IAM"
    integration = by_name(dev_program, "aws:apigatewayv2/integration:Integration", "greeting-start-integration").inputs
    assert integration["integrationSubtype"] == "StepFunctions-StartExecution"
    assert integration["requestParameters"]["Input"] == "$request.body"
    stage = by_name(dev_program, "aws:apigatewayv2/stage:Stage", "greeting-start-stage").inputs
    assert stage["accessLogSettings"]["destinationArn"]
    assert stage["defaultRouteSettings"]["throttlingBurstLimit"] == 20


def test_the_rendered_greeting_definition_passes_static_checks(dev_program):
    machine = by_name(dev_program, "aws:sfn/stateMachine:StateMachine", "greeting-sfn").inputs
    definition = json.loads(machine["definition"])
    assert asl.check_definition(definition) == []
    fn_arn = by_name(dev_program, "aws:lambda/function:Function", "greeting-hello-function").outputs["arn"]
    assert definition["States"]["InvokeLambda"]["Parameters"]["FunctionName"] == fn_arn
    put = definition["States"]["InsertDynamoDBRecord"]
    assert put["Parameters"]["ConditionExpression"] == "attribute_not_exists(id)"
    assert put["Parameters"]["TableName"] == dev_program.outputs["greeting"]["tableName"]


def test_greeting_definition_formats_uuid_timestamp_and_message_and_retries_with_full_jitter():
    definition = greeting.definition({"hello": "arn:aws:lambda:us-west-2:1:function:f", "table": TABLE}).document
    assert definition["States"]["FormatDynamoDBRecord"]["Parameters"] == {
        "id.$": "States.UUID()",
        "Timestamp.$": "$$.State.EnteredTime",
        "Message.$": "$.message",
    }
    for state in ("InvokeLambda", "InsertDynamoDBRecord"):
        (retry,) = definition["States"][state]["Retry"]
        assert retry["JitterStrategy"] == "FULL" and retry["BackoffRate"] == 2.0
        assert "States.ALL" not in retry["ErrorEquals"]
        # The intake's failure replaces the state (which may be null or an array); a later one is added to it.
        assert definition["States"][state]["Catch"][0] == (
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$", "Next": "InputRejected"}
            if state == "InvokeLambda"
            else {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}
        )
    invoke_retry = definition["States"]["InvokeLambda"]["Retry"][0]["ErrorEquals"]
    # hello can raise no retryable error of its own: only Lambda's transient errors are retried.
    assert invoke_retry == list(asl.LAMBDA_TRANSIENT_ERRORS)
    assert definition["States"]["Failed"]["Type"] == "Fail"


def test_a_jwt_issuer_in_config_switches_the_route_to_a_jwt_authorizer():
    from infra.sandbox.mocks import RecordingMocks
    from infra.sandbox.program import load_stack_file, run_program

    config = {
        **load_stack_file("dev"),
        "stepworks:greeting": {"jwtIssuer": "https://id.example.com/", "jwtAudience": ["sw"]},
    }
    program = run_program(RecordingMocks(), config, stack="dev")
    route = by_name(program, "aws:apigatewayv2/route:Route", "greeting-start-route").inputs
    assert route["authorizationType"] == "JWT"
    (authorizer,) = program.of_type("aws:apigatewayv2/authorizer:Authorizer")
    assert authorizer.inputs["jwtConfiguration"] == {"issuer": "https://id.example.com/", "audiences": ["sw"]}


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda d: d["States"]["InvokeLambda"].update(Next="Nowhere"), "goes to missing state 'Nowhere'"),
        (lambda d: d["States"]["InvokeLambda"].pop("TimeoutSeconds"), "Task InvokeLambda has no TimeoutSeconds"),
        (lambda d: d["States"]["InvokeLambda"].pop("Retry"), "Task InvokeLambda has no Retry"),
        (lambda d: d["States"]["InsertDynamoDBRecord"].pop("Catch"), "Task InsertDynamoDBRecord has no Catch"),
        (lambda d: d["States"].update(Orphan={"Type": "Succeed"}), "Orphan is unreachable"),
        (lambda d: d.update(StartAt="Missing"), "StartAt 'Missing' is not a state"),
        (
            lambda d: d["States"]["InvokeLambda"]["Catch"][0]["ErrorEquals"].append("X"),
            "InvokeLambda uses States.ALL with other errors",
        ),
    ],
)
def test_static_checks_catch_broken_definitions(mutate, problem):
    definition = greeting.definition({"hello": "arn", "table": TABLE}).document
    mutate(definition)
    assert any(problem in p for p in asl.check_definition(definition)), asl.check_definition(definition)


def test_every_state_machine_the_program_renders_passes_the_static_checks(dev_program):
    machines = {
        m.inputs["name"]: json.loads(m.inputs["definition"])
        for m in dev_program.of_type("aws:sfn/stateMachine:StateMachine")
    }
    # Every pipeline's machine (and the S3 triggers' routers) is checked, not only some.
    assert set(machines) == {
        "sw-dev-greeting", "sw-dev-radar", "sw-dev-incidents", "sw-dev-uploads", "sw-dev-uploads-start",
        "sw-dev-daily-analysis", "sw-dev-release-approval", "sw-dev-release-approval-start",
    }  # fmt: skip
    for name, definition in machines.items():
        assert asl.check_definition(definition) == [], name


def test_a_definition_failing_the_static_checks_stops_the_program_naming_the_machine_and_problem(monkeypatch):
    from infra.sandbox.mocks import RecordingMocks
    from infra.sandbox.program import ProgramError, load_stack_file, run_program

    original = greeting.definition

    def broken(refs):
        rendered = original(refs)
        rendered.document["States"]["InvokeLambda"]["Catch"][0]["Next"] = "Nowhere"
        return rendered

    monkeypatch.setattr(greeting, "definition", broken)
    config = {**load_stack_file("dev"), "stepworks:pipelines": ["greeting"]}
    with pytest.raises(ProgramError) as raised:
        run_program(RecordingMocks(), config, stack="dev")
    message = str(raised.value)
    assert "state machine sw-dev-greeting" in message
    assert "top level: InvokeLambda goes to missing state 'Nowhere'" in message
