"""The hardening rule pack over the program itself (dev and variant stacks), the rule list, and ``infra check``."""

from __future__ import annotations

import json
import re

import pytest

from infra import cli
from infra.cli import check as check_command
from infra.hardening import RULES, check
from infra.sandbox.mocks import ACCOUNT_ID, REGION, RecordingMocks
from infra.sandbox.program import ProgramError, load_stack_file, run_program
from infra.workflows import REQUIRES


def _alone(pipeline: str) -> dict:
    # A variant changes one pipeline: the program deploys it (and what it reads) without the other five.
    config = load_stack_file("dev")
    return {**config, "stepworks:pipelines": [*REQUIRES.get(pipeline, ()), pipeline]}


def _with(section: str, **settings) -> dict:
    config = _alone(section)
    return {**config, f"stepworks:{section}": {**(config.get(f"stepworks:{section}") or {}), **settings}}


def _existing_vpc() -> dict:
    config = _alone("incidents")
    incidents = {k: v for k, v in config["stepworks:incidents"].items() if k != "network"}
    incidents["network"] = {"vpcId": "vpc-0123456789abcdef0", "privateSubnetIds": ["subnet-0aaa", "subnet-0bbb"]}
    return {**config, "stepworks:incidents": incidents}


QUICKSIGHT_PRINCIPAL = "arn:aws:quicksight:us-west-2:123456789012:user/default/analyst"
VARIANTS = {
    "radar reads its registry from a provider": lambda: _with("radar", providerUrl="https://registry.example.com/o"),
    "incidents in an existing VPC": _existing_vpc,
    "greeting behind a JWT authorizer": lambda: _with(
        "greeting", jwtIssuer="https://id.example.com/", jwtAudience=["stepworks"]
    ),
    "greeting with reserved concurrency": lambda: _with("greeting", reservedConcurrency=5),
    "daily-analysis with a QuickSight principal and e-mail subscriptions": lambda: _with(
        "daily-analysis",
        quicksightPrincipal=QUICKSIGHT_PRINCIPAL,
        alertEmails=["oncall@example.com"],
        reportEmails=["sales@example.com", "ceo@example.com"],
    ),
    "release-approval with its own services, Jira and operators": lambda: _with(
        "release-approval",
        referenceServices=False,
        validationUrl="https://validation.example.com",
        deploymentUrl="https://deploy.example.com",
        notificationUrl="https://notify.example.com",
        jiraBaseUrl="https://example.atlassian.net",
        operatorPrincipals=["arn:aws:iam::123456789012:role/release-managers"],
    ),
}
_runs: dict[str, object] = {}


def variant(name: str):
    """The program under one variant config (run once per test session)."""
    if name not in _runs:
        _runs[name] = run_program(RecordingMocks(), VARIANTS[name](), stack="dev")
    return _runs[name]


def findings_text(report) -> str:
    return "\n".join([*(str(f) for f in report.findings), *report.errors])


# -- the rule list ------------------------------------------------------------------------------


def test_every_rule_has_an_id_a_name_a_description_and_types_and_is_listed_once():
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    assert len({r.name for r in RULES}) == len(RULES)
    assert len({r.check for r in RULES}) == len(RULES), "two rules share a check function"
    for rule in RULES:
        assert re.fullmatch(r"SW-[A-Z0-9]{2,4}[0-9]", rule.id), rule.id
        assert rule.name.strip() and rule.description.strip().endswith("."), rule.id
        assert rule.types and all(t.startswith("aws:") for t in rule.types), rule.id
        for exemption in rule.exemptions:
            assert exemption.reason.strip() and exemption.selector.describe.strip(), rule.id
            assert exemption.selector.typ in rule.types, rule.id


def test_every_rule_runs_on_the_program_as_declared_today(dev_program):
    report = check(dev_program.resources, ACCOUNT_ID, REGION)
    assert report.errors == []
    assert [r.rule.id for r in report.results] == [r.id for r in RULES]


# -- the program passes every rule ----------------------------------------------------------------


def test_every_rule_passes_on_the_dev_program(dev_program):
    report = check(dev_program.resources, ACCOUNT_ID, REGION)
    assert report.ok, findings_text(report)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_rule_passes_on_a_variant_program(name):
    report = check(variant(name).resources, ACCOUNT_ID, REGION)
    assert report.ok, findings_text(report)


def test_the_dev_program_is_exempt_only_where_aws_leaves_no_choice(dev_program):
    report = check(dev_program.resources, ACCOUNT_ID, REGION)
    exempted = {(e.rule, e.resource.typ) for e in report.exempted}
    assert {rule for rule, _ in exempted} <= {
        "SW-BKT2", "SW-BKT6", "SW-LMB3", "SW-IAM2", "SW-IAM3", "SW-IAM8", "SW-API3",
    }  # fmt: skip
    # Only routes whose function authenticates each caller itself (a FunctionApi) are open.
    api_ids = {
        a.outputs["id"] if "id" in a.outputs else a.id: a for a in dev_program.of_type("aws:apigatewayv2/api:Api")
    }
    for open_route in report.result("SW-API3").exempted:
        api = api_ids[open_route.resource.inputs["apiId"]]
        assert api.inputs["tags"]["stepworks:authentication"], open_route.resource.name
    # The stack's log bucket, and nothing else, is exempt from SSE-KMS and from logging.
    for rule_id in ("SW-BKT2", "SW-BKT6"):
        (only,) = report.result(rule_id).exempted
        assert only.resource.typ == "aws:s3/bucket:Bucket"
        assert only.resource.name in {b.name for b in dev_program.of_type("aws:s3/bucket:Bucket")}
    # No stack setting reserves concurrency in dev, so every function is exempt, with the quota reason.
    functions = {f.name for f in dev_program.of_type("aws:lambda/function:Function")}
    assert {e.resource.name for e in report.result("SW-LMB3").exempted} == functions
    # API Gateway sets neither confused-deputy key: its start roles are exempt from both, with the table's reason.
    start_roles = {
        r.name
        for r in dev_program.of_type("aws:iam/role:Role")
        if "apigateway.amazonaws.com" in r.inputs["assumeRolePolicy"]
    }
    assert start_roles
    for rule_id in ("SW-IAM2", "SW-IAM3"):
        exempt = {e.resource.name: e.reason for e in report.result(rule_id).exempted}
        assert start_roles <= set(exempt)
        assert all("apigateway.amazonaws.com" in exempt[name] for name in start_roles)


def test_the_operator_role_is_exempt_only_from_service_trust_and_only_for_the_named_principals():
    program = variant("release-approval with its own services, Jira and operators")
    report = check(program.resources, ACCOUNT_ID, REGION)
    assert report.findings == [], findings_text(report)
    (operator,) = [r for r in program.of_type("aws:iam/role:Role") if r.name == "release-approval-operator-role"]
    exempt_from = {e.rule for e in report.exempted if e.resource is operator}
    assert exempt_from == {"SW-IAM1"}
    (statement,) = json.loads(operator.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"AWS": ["arn:aws:iam::123456789012:role/release-managers"]}


def test_a_pipeline_with_reserved_concurrency_is_held_to_it_not_exempted():
    program = variant("greeting with reserved concurrency")
    report = check(program.resources, ACCOUNT_ID, REGION)
    (hello,) = [f for f in program.of_type("aws:lambda/function:Function") if f.name == "greeting-hello-function"]
    assert hello.inputs["reservedConcurrentExecutions"] == 5
    result = report.result("SW-LMB3")
    assert result.findings == []
    assert "greeting-hello-function" not in {e.resource.name for e in result.exempted}
    assert {e.resource.name for e in result.exempted} == {
        f.name for f in program.of_type("aws:lambda/function:Function") if f.name != "greeting-hello-function"
    }


def test_the_quicksight_role_conditions_on_the_account_and_is_exempt_from_source_arn_with_the_tables_reason():
    program = variant("daily-analysis with a QuickSight principal and e-mail subscriptions")
    report = check(program.resources, ACCOUNT_ID, REGION)
    (role,) = [
        r.name
        for r in program.of_type("aws:iam/role:Role")
        if "quicksight.amazonaws.com" in r.inputs["assumeRolePolicy"]
    ]
    assert role not in {e.resource.name for e in report.result("SW-IAM2").exempted}
    exempt = {e.resource.name: e.reason for e in report.result("SW-IAM3").exempted}
    assert "SERVICES['quicksight.amazonaws.com']" in exempt[role] and "aws:SourceArn" in exempt[role]


# -- python -m infra check ------------------------------------------------------------------------


def test_check_prints_every_rule_and_exits_1_exactly_when_there_are_findings(dev_program, capsys):
    code = cli.main(["check", "--stack", "dev"])
    out = capsys.readouterr().out
    for rule in RULES:
        assert re.search(rf"^{rule.id}\s+{re.escape(rule.name)}\s+(pass|\d+ findings?|error)", out, re.M), rule.id
    report = check(dev_program.resources, ACCOUNT_ID, REGION)
    assert code == (0 if report.ok else 1)
    assert out.rstrip().endswith(
        f"{len(RULES)} rules: {len(report.findings)} finding{'s' if len(report.findings) != 1 else ''}, "
        f"{len(report.exempted)} exempted"
    )


def test_check_reports_a_program_error_on_one_line(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise ProgramError("stepworks:radar.memory: 5 is not allowed;\n  allowed: 128-10240")

    monkeypatch.setattr(check_command, "run_program", broken)
    assert cli.main(["check"]) == 1
    err = capsys.readouterr().err
    assert err == "error: stepworks:radar.memory: 5 is not allowed; allowed: 128-10240\n"


def test_check_names_a_stack_without_configuration(capsys):
    assert cli.main(["check", "--stack", "no-such-stack"]) == 2
    assert capsys.readouterr().err == (
        "error: Pulumi.no-such-stack.yaml does not exist (stack 'no-such-stack' has no configuration); stacks: dev\n"
    )


def test_a_stack_whose_pipelines_have_no_bucket_still_has_a_recognised_log_bucket_admitting_nobody():
    program = variant("greeting with reserved concurrency")  # greeting alone: no pipeline bucket logs
    report = check(program.resources, ACCOUNT_ID, REGION)
    assert report.findings == [], findings_text(report)
    (bucket,) = program.of_type("aws:s3/bucket:Bucket")
    assert bucket.inputs["tags"]["stepworks:access-logs"] == "s3-access/"
    (policy,) = program.of_type("aws:s3/bucketPolicy:BucketPolicy")
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["DenyInsecureTransport"]
