"""release-approval as the program declares it (under mocks): settings, definition, roles, callback API, variants."""

from __future__ import annotations

import json

import pytest

from infra.config import ConfigError, Section
from infra.sandbox.mocks import RecordingMocks
from infra.sandbox.program import load_stack_file, run_program
from infra.workflows.release_approval import ReleaseApprovalSettings, definition

URLS = {"validationUrl": "https://v.example.com", "deploymentUrl": "https://d.example.com",
        "notificationUrl": "https://n.example.com"}  # fmt: skip


def settings(**values) -> ReleaseApprovalSettings:
    return ReleaseApprovalSettings.from_section(Section("stepworks:release-approval", values))


def one(program, typ, prefix):
    (found,) = [r for r in program.of_type(typ) if r.name.startswith(prefix)]
    return found


def role_statements(program, role_prefix) -> list[dict]:
    role = one(program, "aws:iam/role:Role", role_prefix)
    (policy,) = [p for p in program.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]
    return json.loads(policy.inputs["policy"])["Statement"]


def listed(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def actions_of(statements) -> set[str]:
    found = set()
    for statement in statements:
        found |= set([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    return found


@pytest.fixture(scope="module")
def variant():
    """The dev stack with service URLs, a Jira site and operators instead of the reference services."""
    config = {
        **load_stack_file("dev"),
        "stepworks:pipelines": ["release-approval"],
        "stepworks:release-approval": {
            **URLS,
            "referenceServices": False,
            "jiraBaseUrl": "https://example.atlassian.net",
            "operatorPrincipals": ["arn:aws:iam::123456789012:role/release-managers"],
            "approvalTimeoutSeconds": 3600,
        },
    }
    return run_program(RecordingMocks(), config, stack="dev")


# --- settings -------------------------------------------------------------------------------------------


def test_the_defaults_wait_a_day_and_need_the_service_urls_or_the_reference_services():
    assert settings(**URLS).approval_timeout_s == 86_400
    assert settings(referenceServices=True).service_urls == {}
    with pytest.raises(ConfigError, match=r"release-approval\.validationUrl: required"):
        settings()
    with pytest.raises(ConfigError, match=r"referenceServices: true.*unset one or the other"):
        settings(referenceServices=True, validationUrl="https://v.example.com")


@pytest.mark.parametrize(
    "values, message",
    [
        ({**URLS, "approvalTimeoutSeconds": 30}, "approvalTimeoutSeconds"),
        ({**URLS, "approvalTimeoutSeconds": 400 * 86_400}, "approvalTimeoutSeconds"),
        ({**URLS, "validationUrl": "http://v.example.com"}, "validationUrl.*plain http"),
        ({**URLS, "environments": []}, "environments: list at least one"),
        ({**URLS, "operatorPrincipals": ["*"]}, "operatorPrincipals.*not an IAM"),
        ({**URLS, "operatorPrincipals": ["arn:aws:iam::123456789012:rootx"]}, "operatorPrincipals.*not an IAM"),
        ({**URLS, "operatorPrincipals": ["arn:aws:iam::12345:role/x"]}, "operatorPrincipals.*not an IAM"),
        ({**URLS, "operatorPrincipals": ["arn:aws:iam::123456789012:role/x"] * 2}, "lists a principal twice"),
        ({**URLS, "jiraBaseUrl": "https://user:pw@example.atlassian.net"}, "jiraBaseUrl.*user info"),
        ({**URLS, "approvalTimeout": 60}, "approvalTimeout.*approvalTimeoutSeconds"),
    ],
)
def test_a_bad_setting_is_named(values, message):
    with pytest.raises(ConfigError, match=message):
        settings(**values)


# --- the definition --------------------------------------------------------------------------------------

REFS = {name: f"arn:aws:lambda:us-west-2:123456789012:function:sw-dev-release-approval-{name}"
        for name in ("validate", "load", "validation", "deployment", "notification", "wait", "record")}  # fmt: skip


def test_the_happy_path_is_ten_states_and_every_failure_after_the_intake_is_recorded():
    document = definition({**REFS, "taskTimeout": "90", "approvalTimeout": "86400"}).document
    states = document["States"]
    path, name = [], document["StartAt"]
    while name:
        path.append(name)
        state = states[name]
        if state["Type"] == "Parallel":
            path += [branch["StartAt"] for branch in state["Branches"]]
        name = state.get("Next") or (state.get("Default") if state["Type"] == "Choice" else None)
        if state["Type"] == "Choice":
            name = state["Choices"][0]["Next"]
    assert path == [
        "ValidateInput", "LoadRequest", "CallServices", "CallValidation", "CallDeployment", "CallNotification",
        "WaitForJiraCallback", "RecordOutcome", "Decide", "Approved",
    ]  # fmt: skip
    for name in ("LoadRequest", "CallServices", "WaitForJiraCallback"):
        assert states[name]["Catch"][-1]["Next"] == "RecordOutcome", name
    wait = states["WaitForJiraCallback"]
    assert wait["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert wait["TimeoutSeconds"] == 86_400 and "HeartbeatSeconds" not in wait
    assert wait["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
    assert document["TimeoutSeconds"] > wait["TimeoutSeconds"]
    # A service's bad answer (4xx, a failed validation) is never retried.
    for branch in states["CallServices"]["Branches"]:
        (retry,) = branch["States"][branch["StartAt"]]["Retry"]
        assert not {"ServiceAuthError", "ServiceRejectedError", "ValidationFailedError"} & set(retry["ErrorEquals"])
        assert "ServiceUnavailableError" in retry["ErrorEquals"] and retry["JitterStrategy"] == "FULL"


def test_the_approval_timeout_comes_from_config(variant):
    (machine,) = [
        m for m in variant.of_type("aws:sfn/stateMachine:StateMachine") if m.inputs["name"] == "sw-dev-release-approval"
    ]
    document = json.loads(machine.inputs["definition"])
    assert document["States"]["WaitForJiraCallback"]["TimeoutSeconds"] == 3600


# --- resources and roles -----------------------------------------------------------------------------------


def test_the_token_table_is_keyed_by_story_with_a_ttl_the_pipeline_key_and_point_in_time_recovery(dev_program):
    table = one(dev_program, "aws:dynamodb/table:Table", "release-approval-tokens")
    key = one(dev_program, "aws:kms/key:Key", "release-approval-key")
    assert table.inputs["hashKey"] == "storyId" and "rangeKey" not in table.inputs
    assert table.inputs["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key.outputs["arn"]}
    assert table.inputs["pointInTimeRecovery"]["enabled"] is True


def test_the_callback_role_may_only_read_and_update_tokens_read_its_secret_and_report_tokens(dev_program):
    statements = role_statements(dev_program, "release-approval-callback-role")
    table = one(dev_program, "aws:dynamodb/table:Table", "release-approval-tokens").outputs["arn"]
    secret = one(dev_program, "aws:secretsmanager/secret:Secret", "release-approval-callback-token").outputs["arn"]
    by_action = {}
    for statement in statements:
        for action in [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]:
            by_action.setdefault(action, []).extend(
                [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
            )
    assert by_action["dynamodb:GetItem"] == [table] and by_action["dynamodb:UpdateItem"] == [table]
    assert by_action["secretsmanager:GetSecretValue"] == [secret]
    # IAM cannot scope callback tokens: the wildcard-only list says so (grants.TASK_CALLBACK_ACTIONS).
    assert by_action["states:SendTaskSuccess"] == ["*"] and by_action["states:SendTaskFailure"] == ["*"]
    assert {a for a in by_action if not a.startswith(("kms:", "logs:", "xray:"))} == {
        "dynamodb:GetItem", "dynamodb:UpdateItem", "secretsmanager:GetSecretValue",
        "states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat",
    }  # fmt: skip


def test_each_service_function_reads_only_its_own_token(dev_program):
    secrets = {
        s: one(dev_program, "aws:secretsmanager/secret:Secret", f"release-approval-{s}-token").outputs["arn"]
        for s in ("validation", "deployment", "notification")
    }
    for service, arn in secrets.items():
        statements = role_statements(dev_program, f"release-approval-{service}-role")
        read = [s for s in statements if s["Action"] == "secretsmanager:GetSecretValue" or
                "secretsmanager:GetSecretValue" in s["Action"]]  # fmt: skip
        assert [r for s in read for r in listed(s["Resource"])] == [arn], service


def test_the_callback_route_is_open_to_jira_and_only_api_gateway_may_invoke_its_function_for_it(dev_program):
    route = one(dev_program, "aws:apigatewayv2/route:Route", "release-approval-callbacks-callbacks-jira-route")
    api = one(dev_program, "aws:apigatewayv2/api:Api", "release-approval-callbacks-api")
    assert route.inputs["routeKey"] == "POST /callbacks/jira" and route.inputs["authorizationType"] == "NONE"
    assert "shared secret" in api.inputs["tags"]["stepworks:authentication"]
    permission = one(dev_program, "aws:lambda/permission:Permission", "release-approval-callbacks-callbacks-jira")
    assert permission.inputs["principal"] == "apigateway.amazonaws.com"
    assert permission.inputs["sourceArn"] == f"{api.outputs['executionArn']}/*/POST/callbacks/jira"
    stage = one(dev_program, "aws:apigatewayv2/stage:Stage", "release-approval-callbacks-stage")
    assert stage.inputs["accessLogSettings"]["destinationArn"]
    assert stage.inputs["defaultRouteSettings"]["throttlingRateLimit"] == 10


def test_the_record_function_reads_only_its_own_machines_history_and_writes_only_outputs_and_logs(dev_program):
    statements = role_statements(dev_program, "release-approval-record-role")
    (history,) = [s for s in statements if listed(s["Action"]) == ["states:GetExecutionHistory"]]
    (executions,) = listed(history["Resource"])
    assert executions.endswith(":execution:sw-dev-release-approval:*")
    bucket = one(dev_program, "aws:s3/bucket:Bucket", "release-approval-data").outputs["arn"]
    writes = [r for s in statements if "s3:PutObject" in listed(s["Action"]) for r in listed(s["Resource"])]
    assert sorted(writes) == [f"{bucket}/logs/*", f"{bucket}/outputs/*"]


def test_the_dev_stack_deploys_the_reference_services_behind_their_own_api(dev_program):
    names = {f.inputs["handler"] for f in dev_program.of_type("aws:lambda/function:Function")}
    for service in ("validation", "deployment", "notification"):
        assert f"pipelines.approvals.reference.reference_{service}" in names
    api = one(dev_program, "aws:apigatewayv2/api:Api", "release-approval-reference-api-api")
    (validation,) = [
        f for f in dev_program.of_type("aws:lambda/function:Function")
        if f.inputs["handler"] == "pipelines.approvals.handlers.call_validation"
    ]  # fmt: skip
    assert validation.inputs["environment"]["variables"]["SERVICE_URL"] == f"{api.outputs['apiEndpoint']}/validation"


def test_without_reference_services_the_functions_call_the_configured_urls_and_jira(variant):
    functions = {f.inputs["handler"].rsplit(".", 1)[1]: f for f in variant.of_type("aws:lambda/function:Function")}
    assert not [h for h in functions if h.startswith("reference_")]
    assert functions["call_deployment"].inputs["environment"]["variables"]["SERVICE_URL"] == "https://d.example.com"
    wait = functions["wait_for_callback"].inputs["environment"]["variables"]
    assert wait["JIRA_BASE_URL"] == "https://example.atlassian.net" and wait["WAIT_TIMEOUT_SECONDS"] == "3600"
    assert "JIRA_TOKEN_SECRET_ARN" in wait


def test_the_operator_role_is_assumable_by_the_named_principals_only_and_reads_outputs_and_logs(variant):
    role = one(variant, "aws:iam/role:Role", "release-approval-operator-role")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"AWS": ["arn:aws:iam::123456789012:role/release-managers"]}
    statements = role_statements(variant, "release-approval-operator-role")
    granted = actions_of(statements)
    assert {"states:StartExecution", "states:GetExecutionHistory", "states:DescribeExecution",
            "s3:GetObject", "logs:GetLogEvents"} <= granted  # fmt: skip
    bucket = one(variant, "aws:s3/bucket:Bucket", "release-approval-data").outputs["arn"]
    reads = sorted(r for s in statements if "s3:GetObject" in listed(s["Action"]) for r in listed(s["Resource"]))
    assert reads == [f"{bucket}/logs/*", f"{bucket}/outputs/*"]
    assert not any(a.startswith(("dynamodb:", "secretsmanager:")) for a in granted)


# Every variable the release-approval functions get: names and settings, never a token (only secret ARNs).
KNOWN_VARIABLES = {
    "BUCKET_NAME", "INPUT_PREFIX", "ENVIRONMENTS", "SERVICE_URL", "TOKEN_SECRET_ARN", "TOKEN_TABLE_NAME",
    "WAIT_TIMEOUT_SECONDS", "JIRA_BASE_URL", "JIRA_TOKEN_SECRET_ARN", "CALLBACK_SECRET_ARN", "IDEMPOTENCY_TABLE_NAME",
    "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_SERVICE_NAME",
}  # fmt: skip


def test_the_functions_get_secret_arns_never_secret_values(dev_program, variant):
    for program in (dev_program, variant):
        for function in program.of_type("aws:lambda/function:Function"):
            if ".approvals." not in function.inputs["handler"]:
                continue
            variables = function.inputs["environment"]["variables"]
            assert set(variables) <= KNOWN_VARIABLES, function.name
            for name, value in variables.items():
                if "SECRET" in name:
                    assert value.startswith("arn:aws:secretsmanager:us-west-2:123456789012:secret:"), name
