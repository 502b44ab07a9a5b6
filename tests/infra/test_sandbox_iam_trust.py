"""Trust-policy evaluation for the service principals that assume stepworks' roles (infra/sandbox/trust.py)."""

from __future__ import annotations

import json
import re

import pytest

from infra.components.trust import UnknownServiceError, trust_document
from infra.sandbox.trust import UnsupportedPolicyError, evaluate, glob_match, request_context

ACCOUNT = "123456789012"
MACHINE = f"arn:aws:states:us-west-2:{ACCOUNT}:stateMachine:sw-dev-greeting"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(service: str | list[str], **condition) -> dict:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return statement


def decide(document: dict, service: str, source_arn: str | None = None):
    return evaluate(document, service, request_context(service, ACCOUNT, source_arn))


def test_api_gateway_is_denied_by_a_source_account_condition_it_never_satisfies():
    # In AWS, every request through such an integration answers 500.
    document = policy(allow("apigateway.amazonaws.com", StringEquals={"aws:SourceAccount": ACCOUNT}))
    decision = decide(document, "apigateway.amazonaws.com")
    assert not decision.allowed
    assert "StringEquals aws:SourceAccount: the key is absent from the request context" in decision.reason
    assert decide(policy(allow("apigateway.amazonaws.com")), "apigateway.amazonaws.com").allowed


@pytest.mark.parametrize(
    ("service", "source_arn"),
    [
        ("lambda.amazonaws.com", None),
        ("states.amazonaws.com", MACHINE),
        ("scheduler.amazonaws.com", f"arn:aws:scheduler:us-west-2:{ACCOUNT}:schedule-group/default"),
        ("events.amazonaws.com", f"arn:aws:events:us-west-2:{ACCOUNT}:rule/sw-dev-uploads"),
        ("monitoring.rds.amazonaws.com", f"arn:aws:rds:us-west-2:{ACCOUNT}:db:incidents"),
        ("apigateway.amazonaws.com", None),
    ],
)
def test_the_trust_documents_the_components_write_admit_their_own_service(service, source_arn):
    document = trust_document(service, ACCOUNT, source_arn)
    assert decide(document, service, source_arn).allowed
    other = "states.amazonaws.com" if service == "lambda.amazonaws.com" else "lambda.amazonaws.com"
    assert not decide(document, other, MACHINE).allowed


def test_a_source_arn_pattern_admits_its_resources_only():
    document = trust_document(
        "states.amazonaws.com", ACCOUNT, f"arn:aws:states:us-west-2:{ACCOUNT}:stateMachine:sw-dev-*"
    )
    assert decide(document, "states.amazonaws.com", MACHINE).allowed
    other = f"arn:aws:states:us-west-2:{ACCOUNT}:stateMachine:prod-greeting"
    refused = decide(document, "states.amazonaws.com", other)
    assert not refused.allowed and "ArnLike aws:SourceArn" in refused.reason
    assert not decide(document, "states.amazonaws.com", MACHINE.replace(ACCOUNT, "210987654321")).allowed


def test_the_source_account_must_be_this_account():
    document = policy(allow("lambda.amazonaws.com", StringEquals={"aws:SourceAccount": "210987654321"}))
    assert not decide(document, "lambda.amazonaws.com").allowed


def test_a_condition_on_a_key_lambda_does_not_set_denies_unless_it_is_if_exists():
    pattern = f"arn:aws:lambda:us-west-2:{ACCOUNT}:function:*"
    assert not decide(
        policy(allow("lambda.amazonaws.com", ArnLike={"aws:SourceArn": pattern})), "lambda.amazonaws.com"
    ).allowed
    if_exists = policy(allow("lambda.amazonaws.com", ArnLikeIfExists={"aws:SourceArn": pattern}))
    assert decide(if_exists, "lambda.amazonaws.com").allowed


def test_an_explicit_deny_wins_over_an_allow():
    document = policy(
        allow("states.amazonaws.com"),
        {
            "Sid": "NotProd",
            "Effect": "Deny",
            "Principal": {"Service": "states.amazonaws.com"},
            "Action": "sts:*",
            "Condition": {"StringLike": {"aws:SourceArn": "*:stateMachine:sw-dev-*"}},
        },
    )
    decision = decide(document, "states.amazonaws.com", MACHINE)
    assert not decision.allowed and decision.reason.startswith("NotProd explicitly denies")
    assert decide(document, "states.amazonaws.com", MACHINE.replace("sw-dev-", "sw-prod-")).allowed


def test_negated_operators_hold_when_the_value_differs_or_the_key_is_absent():
    not_other = policy(allow("states.amazonaws.com", StringNotEquals={"aws:SourceAccount": "210987654321"}))
    assert decide(not_other, "states.amazonaws.com", MACHINE).allowed
    not_mine = policy(allow("states.amazonaws.com", StringNotEquals={"aws:SourceAccount": ACCOUNT}))
    assert not decide(not_mine, "states.amazonaws.com", MACHINE).allowed
    # API Gateway sets no aws:SourceArn: a negated condition on it holds, as in AWS.
    arn_not_like = policy(allow("apigateway.amazonaws.com", ArnNotLike={"aws:SourceArn": "arn:aws:*:*:999999999999:*"}))
    assert decide(arn_not_like, "apigateway.amazonaws.com").allowed


def test_values_are_alternatives_and_keys_and_operators_must_all_hold():
    both = allow(
        "states.amazonaws.com",
        StringEquals={"aws:SourceAccount": ["210987654321", ACCOUNT]},
        ArnEquals={"aws:SourceArn": MACHINE},
    )
    assert decide(policy(both), "states.amazonaws.com", MACHINE).allowed
    assert not decide(policy(both), "states.amazonaws.com", MACHINE + "-2").allowed


def test_principals_actions_and_bool_conditions():
    listed = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": ["scheduler.amazonaws.com", "lambda.amazonaws.com"]},
            "Action": ["sts:TagSession", "sts:assumerole"],  # actions compare case-insensitively
        }
    )
    assert decide(listed, "lambda.amazonaws.com").allowed
    assert not decide(listed, "states.amazonaws.com", MACHINE).allowed
    tag_only = policy({**allow("lambda.amazonaws.com"), "Action": "sts:TagSession"})
    assert not decide(tag_only, "lambda.amazonaws.com").allowed
    bool_condition = policy(allow("lambda.amazonaws.com", Bool={"aws:SecureTransport": "true"}))
    assert not decide(bool_condition, "lambda.amazonaws.com").allowed  # no service sets it
    assert evaluate(bool_condition, "lambda.amazonaws.com", {"aws:SecureTransport": "true"}).allowed
    assert evaluate(
        policy(allow("lambda.amazonaws.com", Bool={"aws:SecureTransport": True})),
        "lambda.amazonaws.com",
        {"aws:securetransport": "TRUE"},  # keys are case-insensitive, Bool values too
    ).allowed


def test_a_document_as_json_text_and_a_single_statement_object_are_read():
    document = json.dumps({"Version": "2012-10-17", "Statement": allow("lambda.amazonaws.com")})
    assert decide(json.loads(document), "lambda.amazonaws.com").allowed
    assert evaluate(document, "lambda.amazonaws.com", {}).allowed


@pytest.mark.parametrize(
    "condition",
    [
        {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}},
        {"Null": {"aws:SourceArn": "true"}},
    ],
)
def test_an_unsupported_operator_raises_naming_it_instead_of_allowing(condition):
    with pytest.raises(UnsupportedPolicyError, match=next(iter(condition))):
        decide(policy(allow("lambda.amazonaws.com", **condition)), "lambda.amazonaws.com")


def test_not_principal_raises_and_a_service_missing_from_the_table_is_named():
    with pytest.raises(UnsupportedPolicyError, match=re.escape("NotPrincipal")):
        decide(
            policy({"Effect": "Allow", "NotPrincipal": {"AWS": "x"}, "Action": "sts:AssumeRole"}),
            "lambda.amazonaws.com",
        )
    with pytest.raises(UnknownServiceError, match=re.escape("glue.amazonaws.com")):
        request_context("glue.amazonaws.com", ACCOUNT)


def test_wildcards_are_iam_wildcards_not_regular_expressions():
    assert glob_match("arn:aws:s3:::b/*/data.json", "arn:aws:s3:::b/org/2026/data.json")
    assert not glob_match("arn:aws:s3:::b/*/data.json", "arn:aws:s3:::b/org/dataXjson")
    assert glob_match("sw-dev-?", "sw-dev-1") and not glob_match("sw-dev-?", "sw-dev-12")
    assert glob_match("dynamodb:putitem", "dynamodb:PutItem", ignore_case=True)
    assert not glob_match("dynamodb:putitem", "dynamodb:PutItem")
