"""The reference services: contract D behind an HTTP API, and the pipeline's own clients talking to them."""

from __future__ import annotations

import io
import json

import pytest
import requests
import requests.adapters
from botocore.exceptions import ClientError

from pipelines.approvals import reference as r
from pipelines.approvals import services as svc
from pipelines.approvals.errors import ServiceAuthError, ServiceRejectedError, ValidationFailedError
from tests.pipelines.approvals.conftest import IDEMPOTENCY_TABLE, put_secret

TOKEN = "reference-service-token-0123456789"
VALIDATE = {"storyId": "PROJ-1", "packages": ["api", "web"], "environment": "dev"}
DEPLOY = {"storyId": "PROJ-1", "package": "api", "environment": "dev"}
NOTIFY = {"storyId": "PROJ-1", "environment": "dev", "packages": ["api"], "requester": "alice", "message": "hi"}


@pytest.fixture
def env(aws, monkeypatch, test_clock):
    monkeypatch.setenv("TOKEN_SECRET_ARN", put_secret(aws.secrets, "reference-token", TOKEN))
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", IDEMPOTENCY_TABLE)
    return aws


HANDLERS = {
    "validation": r.reference_validation,
    "deployment": r.reference_deployment,
    "notification": r.reference_notification,
}


def call(service, body, *, token=TOKEN, key=None, raw=None, context=None):
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if key is not None:
        headers["idempotency-key"] = key
    event = {
        "version": "2.0",
        "routeKey": f"POST /{service}",
        "rawPath": f"/{service}",
        "headers": headers,
        "body": raw if raw is not None else json.dumps(body),
        "isBase64Encoded": False,
    }
    answer = HANDLERS[service](event, context)
    return answer["statusCode"], json.loads(answer["body"])


def test_validation_fails_packages_marked_invalid(env, lambda_context):
    assert call("validation", VALIDATE, context=lambda_context) == (
        200,
        {
            "valid": True,
            "checks": [
                {"package": "api", "passed": True, "message": "ok"},
                {"package": "web", "passed": True, "message": "ok"},
            ],
        },
    )
    status, body = call("validation", {**VALIDATE, "packages": ["api", "Old-Invalid-1"]}, context=lambda_context)
    assert status == 200 and body["valid"] is False and body["checks"][1]["passed"] is False


def test_a_repeated_key_returns_the_first_answer(env, lambda_context):
    status, first = call("deployment", DEPLOY, key="k-1", context=lambda_context)
    assert status == 201 and first == {
        "deploymentId": r.derived_id("dep", "k-1"),
        "package": "api",
        "status": "deployed",
    }
    assert call("deployment", DEPLOY, key="k-1", context=lambda_context) == (200, first)
    assert call("deployment", {**DEPLOY, "package": "web"}, key="k-1", context=lambda_context)[0] == 422
    status, note = call("notification", NOTIFY, key="k-1", context=lambda_context)
    assert status == 202 and call("notification", NOTIFY, key="k-1", context=lambda_context) == (202, note)
    item = env.dynamodb.get_item(TableName=IDEMPOTENCY_TABLE, Key={"idempotencyKey": {"S": "deployment#k-1"}})["Item"]
    assert int(item["expiresAt"]["N"]) > 0


@pytest.mark.parametrize("service", ["validation", "deployment", "notification"])
@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", ""])
def test_a_missing_or_wrong_token_is_401(env, lambda_context, service, token):
    status, body = call(service, {}, token=token, key="k", context=lambda_context)
    assert status == 401 and TOKEN not in json.dumps(body)


@pytest.mark.parametrize(
    "service, body, key, field",
    [
        ("validation", None, None, "body"),
        ("validation", [], None, "body"),
        ("validation", {**VALIDATE, "extra": 1}, None, "extra"),
        ("validation", {**VALIDATE, "storyid": "x"}, None, "storyid"),
        ("validation", {**VALIDATE, "packages": []}, None, "packages"),
        ("validation", {**VALIDATE, "packages": ["ok", {"deep": [[[]]]}]}, None, "packages[1]"),
        ("validation", {**VALIDATE, "storyId": "nope"}, None, "storyId"),
        ("validation", {**VALIDATE, "environment": "\ud800"}, None, "environment"),
        ("deployment", {**DEPLOY, "package": 7}, "k", "package"),
        ("deployment", DEPLOY, None, "Idempotency-Key"),
        ("deployment", DEPLOY, "has space", "Idempotency-Key"),
        ("notification", {**NOTIFY, "message": "x" * 5000}, "k", "message"),
        ("notification", {k: v for k, v in NOTIFY.items() if k != "requester"}, "k", "requester"),
    ],
)
def test_a_bad_request_is_400_naming_the_field(env, lambda_context, service, body, key, field):
    raw = "null" if body is None else None
    status, answer = call(service, body, key=key, raw=raw, context=lambda_context)
    assert status == 400 and answer["message"].startswith(f"{field}:"), answer


def test_a_huge_or_deeply_nested_body_is_400(env, lambda_context):
    assert call("validation", None, raw="[" * 10_000 + "]" * 10_000, context=lambda_context)[0] == 400
    assert call("validation", None, raw=json.dumps({"x": "y" * 70_000}), context=lambda_context)[0] == 400


def test_a_throttled_table_is_503_and_anything_else_a_bare_500(env, test_clock):
    def table_with(code):
        class Dynamo:
            def put_item(self, **kwargs):
                raise ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutItem")

        return lambda: r.IdempotencyTable(Dynamo(), IDEMPOTENCY_TABLE)

    event = {"headers": {"authorization": f"Bearer {TOKEN}", "idempotency-key": "k"}, "body": json.dumps(DEPLOY)}
    throttled = r.handle("deployment", event, lambda: [TOKEN], table_with("ThrottlingException"))
    assert throttled["statusCode"] == 503 and throttled["headers"]["retry-after"] == "2"
    broken = r.handle("deployment", event, lambda: [TOKEN], table_with("AccessDeniedException"))
    assert (broken["statusCode"], json.loads(broken["body"])) == (500, {"message": "internal error"})


ROUTES = {"validate": "validation", "deploy": "deployment", "notify": "notification"}


class LambdaAdapter(requests.adapters.BaseAdapter):
    """A requests transport that hands each request to a reference handler, as API Gateway would."""

    def __init__(self, context):
        super().__init__()
        self.context = context

    def send(self, request, **kwargs):
        service = ROUTES[request.path_url.rsplit("/", 1)[-1]]
        headers = {k.lower(): v for k, v in request.headers.items()}
        event = {"headers": headers, "body": request.body.decode(), "isBase64Encoded": False}
        answer = HANDLERS[service](event, self.context)
        response = requests.Response()
        response.status_code = answer["statusCode"]
        response.headers.update(answer["headers"])
        response.raw = io.BytesIO(answer["body"].encode())
        response.request = request
        return response

    def close(self):
        pass


def test_the_pipelines_clients_and_the_reference_services_agree(env, lambda_context):
    session = requests.Session()
    session.mount("https://", LambdaAdapter(lambda_context))
    request = {**VALIDATE, "requester": "alice", "packages": ["api", "web"]}
    client = svc.ReleaseService("validation", "https://reference.example", TOKEN, session)
    assert svc.validate(client, request)["valid"] is True
    with pytest.raises(ValidationFailedError):
        svc.validate(client, {**request, "packages": ["bad-invalid"]})
    deployer = svc.ReleaseService("deployment", "https://reference.example", TOKEN, session)
    first = svc.deploy(deployer, request, "run-1")
    assert svc.deploy(deployer, request, "run-1") == first
    notifier = svc.ReleaseService("notification", "https://reference.example", TOKEN, session)
    assert svc.notify(notifier, request, "run-1")["notificationId"].startswith("ntf-")
    with pytest.raises(ServiceAuthError):
        svc.validate(svc.ReleaseService("validation", "https://reference.example", "wrong", session), request)
    with pytest.raises(ServiceRejectedError, match="storyId"):
        svc.validate(client, {**request, "storyId": "PROJ-0"})
