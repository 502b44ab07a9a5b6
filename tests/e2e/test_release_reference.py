"""The reference services (``referenceServices: true``, the dev stack's setting) deployed and called for real.

The module deploys release-approval as Pulumi.dev.yaml declares it — with the three reference
services, Lambda functions behind an HTTP API of their own — stores the three bearer tokens as an
operator would, and calls the services through that API the way the pipeline's functions call
them in an account (the contract of ``pipelines/approvals/services.py``). The pipeline's own
end-to-end tests use loopback fakes instead, which can fail on request.
"""

from __future__ import annotations

import json
import logging
import secrets

import pytest
import requests

from infra.sandbox.core import Sandbox
from infra.sandbox.program import load_stack_file

TOKENS = {service: secrets.token_urlsafe(24) for service in ("validation", "deployment", "notification")}


@pytest.fixture(scope="module")
def sandbox():
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    config = {**load_stack_file("dev"), "stepworks:pipelines": ["release-approval"]}
    assert config["stepworks:release-approval"]["referenceServices"] is True
    with Sandbox("dev", config) as running:
        running.deploy()
        outputs = running.outputs("release-approval")
        for service, token in TOKENS.items():
            running.client("secretsmanager").put_secret_value(
                SecretId=outputs[f"{service}SecretArn"], SecretString=token
            )
        yield running


def call(sandbox, service: str, path: str, body, token: str | None = None, key: str | None = None):
    base = sandbox.route_url(f"{sandbox.outputs('release-approval')['referenceServicesUrl']}/{service}")
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token or TOKENS[service]}"}
    if key:
        headers["Idempotency-Key"] = key
    answer = requests.post(f"{base}{path}", data=json.dumps(body), headers=headers, timeout=30)
    return answer.status_code, answer.json()


def test_the_pipeline_functions_are_pointed_at_the_reference_api(sandbox):
    outputs = sandbox.outputs("release-approval")
    function = sandbox.client("lambda").get_function(FunctionName="sw-dev-release-approval-validation")
    url = function["Configuration"]["Environment"]["Variables"]["SERVICE_URL"]
    assert url == f"{outputs['referenceServicesUrl']}/validation"


def test_validation_checks_the_token_and_the_body_and_fails_an_invalid_package(sandbox):
    request = {"storyId": "REF-1", "packages": ["api@1.0.0", "invalid-thing@2"], "environment": "staging"}
    status, answer = call(sandbox, "validation", "/validate", request)
    assert status == 200 and answer["valid"] is False
    assert [c["passed"] for c in answer["checks"]] == [True, False]
    assert call(sandbox, "validation", "/validate", {**request, "packages": ["api@1.0.0"]})[1]["valid"] is True
    assert call(sandbox, "validation", "/validate", request, token="wrong")[0] == 401
    # Each service checks its own token: another service's is refused.
    assert call(sandbox, "validation", "/validate", request, token=TOKENS["deployment"])[0] == 401
    status, answer = call(sandbox, "validation", "/validate", {"storyId": "REF-1"})
    assert status == 400 and "packages" in answer["message"]


def test_a_deployment_is_done_once_per_idempotency_key(sandbox):
    body = {"storyId": "REF-2", "package": "api@1.0.0", "environment": "staging"}
    first = call(sandbox, "deployment", "/deploy", body, key="k" * 32)
    again = call(sandbox, "deployment", "/deploy", body, key="k" * 32)
    other = call(sandbox, "deployment", "/deploy", body, key="j" * 32)
    assert first[0] in (200, 201) and again[0] == 200
    assert first[1]["deploymentId"] == again[1]["deploymentId"] != other[1]["deploymentId"]
    status, answer = call(sandbox, "deployment", "/deploy", body)
    assert status == 400 and "Idempotency-Key" in answer["message"]


def test_a_notification_is_accepted_once_per_key(sandbox):
    body = {"storyId": "REF-3", "environment": "staging", "packages": ["api@1.0.0"], "requester": "a", "message": "m"}
    first = call(sandbox, "notification", "/notify", body, key="n" * 32)
    again = call(sandbox, "notification", "/notify", body, key="n" * 32)
    assert first[0] == again[0] == 202 and first[1] == again[1]
