"""HTTP API routes with a Lambda proxy integration (payload 2.0) in the sandbox (infra/sandbox/lambda_proxy.py).

The function gets the documented 2.0 event and its answer becomes the response; API Gateway may
invoke it only where the function's resource policy says so (else 500, the reason in the access log).
"""

from __future__ import annotations

import base64
import json

import pulumi
import pytest
import requests

from infra.sandbox.http_api import HttpApiServer, PortTaken
from infra.sandbox.mocks import ACCOUNT_ID, DeclaredResource
from tests.infra.policy_documents import trust
from tests.infra.test_sandbox_iam import REGION, Declared, sandbox  # noqa: F401 - the module's sandbox fixture

HANDLERS = __name__


def echo(event, context):
    """Answers with what it was given, as a 2.0 response with a status of the caller's choosing."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("latin-1")
    status = int(event["headers"].get("x-status", "200"))
    return {"statusCode": status, "headers": {"x-echo": "yes"}, "body": json.dumps({"event": event, "body": body})}


def plain(event, context):
    """Returns a bare JSON value (API Gateway answers 200 with it as the body)."""
    return ["not", "a", "response"]


def broken(event, context):
    raise RuntimeError("boom")


@pytest.fixture
def api(sandbox):  # noqa: F811
    """An API with POST /hook → echo, GET /plain → plain, POST /broken → broken, POST /unpermitted → echo."""
    declared = Declared(sandbox)
    role = declared.role("fn", trust("lambda.amazonaws.com", StringEquals={"aws:SourceAccount": ACCOUNT_ID}))
    api = declared.declare("aws:apigatewayv2/api:Api", "api", protocolType="HTTP", name=declared.name("hooks"))
    api_id = api["apiEndpoint"].removeprefix("https://").split(".")[0]
    for key, handler, permitted in (
        ("POST /hook", "echo", True),
        ("GET /plain", "plain", True),
        ("POST /broken", "broken", True),
        ("POST /unpermitted", "echo", False),
    ):
        label = key.split("/")[1]
        name = declared.name(label)
        declared.declare("aws:cloudwatch/logGroup:LogGroup", f"{label}-logs", name=f"/aws/lambda/{name}")
        function = declared.declare(
            "aws:lambda/function:Function", label, name=name, runtime="python3.11", role=role,
            handler=f"{HANDLERS}.{handler}", code=pulumi.AssetArchive({}),
        )  # fmt: skip
        integration = declared.mocks.create(
            DeclaredResource(
                "aws:apigatewayv2/integration:Integration",
                declared.name(f"{label}-integration"),
                {
                    "apiId": api_id,
                    "integrationType": "AWS_PROXY",
                    "integrationUri": function["arn"],
                    "payloadFormatVersion": "2.0",
                },
            )
        )[0]
        declared.declare(
            "aws:apigatewayv2/route:Route",
            f"{label}-route",
            apiId=api_id,
            routeKey=key,
            target=f"integrations/{integration}",
            authorizationType="NONE",
        )
        if permitted:
            declared.declare(
                "aws:lambda/permission:Permission",
                f"{label}-permission",
                function=function["name"],
                action="lambda:InvokeFunction",
                principal="apigateway.amazonaws.com",
                sourceArn=f"{api['executionArn']}/*/*{key.split(' ')[1]}",
            )
    server = HttpApiServer(REGION, sandbox.iam.operator, sandbox.iam).start()
    try:
        yield server, api_id, declared.name("hooks")
    finally:
        server.stop()


def test_a_request_reaches_the_function_as_a_2_0_event_and_its_answer_is_the_response(api):
    server, api_id, _ = api
    answer = requests.post(
        server.url_for(api_id, "/hook?x=1"),
        data=b'{"issueKey": "PROJ-1"}',
        headers={"Content-Type": "application/json", "Authorization": "Bearer s3cret", "X-Status": "202"},
        timeout=10,
    )
    assert answer.status_code == 202
    assert answer.headers["x-echo"] == "yes"
    event = answer.json()["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /hook"
    assert (event["rawPath"], event["rawQueryString"]) == ("/hook", "x=1")
    assert event["headers"]["authorization"] == "Bearer s3cret"  # lowercased names, as API Gateway sends them
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["stage"] == "$default"
    assert (event["body"], event["isBase64Encoded"]) == ('{"issueKey": "PROJ-1"}', False)


def test_a_binary_body_arrives_base64_encoded(api):
    server, api_id, _ = api
    raw = bytes(range(256))
    answer = requests.post(
        server.url_for(api_id, "/hook"), data=raw, headers={"Content-Type": "application/octet-stream"}, timeout=10
    )
    assert answer.json()["event"]["isBase64Encoded"] is True
    assert answer.json()["body"].encode("latin-1") == raw


def test_a_bare_json_answer_is_a_200_body(api):
    server, api_id, _ = api
    answer = requests.get(server.url_for(api_id, "/plain"), timeout=10)
    assert (answer.status_code, answer.json()) == (200, ["not", "a", "response"])


def test_a_failing_function_or_a_missing_permission_answers_500_and_says_why_only_in_the_access_log(api):
    server, api_id, _ = api
    for path, reason in (("/broken", "the function failed"), ("/unpermitted", "may not invoke it")):
        answer = requests.post(server.url_for(api_id, path), data=b"{}", timeout=10)
        assert (answer.status_code, answer.json()) == (500, {"message": "Internal Server Error"})
        assert reason in server.integration_errors[-1][1]
        assert "boom" not in answer.text
    assert requests.post(server.url_for(api_id, "/nowhere"), data=b"{}", timeout=10).status_code == 404


def test_each_api_has_a_port_of_its_own_and_a_taken_port_is_named(api, sandbox):  # noqa: F811
    server, _, name = api
    port = int(server.base_urls()[name].rsplit(":", 1)[1])
    with pytest.raises(PortTaken, match=f"port {port} on 127.0.0.1 is taken"):
        HttpApiServer(REGION, sandbox.iam.operator, sandbox.iam, ports={name: port}).start()
