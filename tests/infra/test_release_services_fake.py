"""The release services fake, spoken to over plain HTTP as any client would: contract, tokens, failures."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from infra.sandbox.fakes.release_services import DEFAULT_TOKENS, ReleaseServicesFake, derived_id

VALIDATE = {"storyId": "PROJ-1", "packages": ["api", "web"], "environment": "dev"}
DEPLOY = {"storyId": "PROJ-1", "package": "api", "environment": "dev"}
NOTIFY = {"storyId": "PROJ-1", "environment": "dev", "packages": ["api"], "requester": "alice", "message": "hi"}
PATHS = {"validation": "/validate", "deployment": "/deploy", "notification": "/notify"}


@pytest.fixture(scope="module")
def server():
    with ReleaseServicesFake() as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    return server


def post(fake, service, body, token=None, key=None, raw=None, timeout=5.0):
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token or DEFAULT_TOKENS[service]}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(fake.url_of(service) + PATHS[service], data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"null"), dict(answer.headers)
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            body = json.loads(text)
        except ValueError:
            body = text
        return error.code, body, dict(error.headers)


def test_validation_passes_unless_a_package_is_marked_invalid(fake):
    assert post(fake, "validation", VALIDATE)[:2] == (
        200,
        {
            "valid": True,
            "checks": [
                {"package": "api", "passed": True, "message": "ok"},
                {"package": "web", "passed": True, "message": "ok"},
            ],
        },
    )
    status, body, _ = post(fake, "validation", {**VALIDATE, "packages": ["api", "old-INVALID"]})
    assert status == 200 and body["valid"] is False and [c["passed"] for c in body["checks"]] == [True, False]
    fake.answer_invalid(["web"], message="web is frozen")
    body = post(fake, "validation", VALIDATE)[1]
    assert body["valid"] is False
    assert body["checks"][1] == {"package": "web", "passed": False, "message": "web is frozen"}


def test_each_service_has_its_own_token(fake):
    assert post(fake, "validation", VALIDATE, token=DEFAULT_TOKENS["deployment"])[0] == 401
    assert post(fake, "deployment", DEPLOY, key="k")[0] == 201
    assert post(fake, "deployment", DEPLOY, key="k2", token="nope")[0] == 401
    custom = ReleaseServicesFake(tokens={"notification": "n-token"})
    assert custom.tokens["notification"] == "n-token" and custom.tokens["validation"] == DEFAULT_TOKENS["validation"]


def test_a_repeated_idempotency_key_gets_the_first_answer_and_deploys_once(fake):
    status, first, _ = post(fake, "deployment", DEPLOY, key="key-1")
    assert status == 201
    assert first == {"deploymentId": derived_id("dep", "key-1"), "package": "api", "status": "deployed"}
    assert post(fake, "deployment", DEPLOY, key="key-1")[:2] == (200, first)
    assert fake.performed("deployment") == [("key-1", "api")]
    assert post(fake, "deployment", {**DEPLOY, "package": "web"}, key="key-1")[0] == 422
    status, note, _ = post(fake, "notification", NOTIFY, key="n-1")
    assert status == 202 and post(fake, "notification", NOTIFY, key="n-1")[:2] == (202, note)
    assert fake.performed("notification") == [("n-1", "PROJ-1")]


@pytest.mark.parametrize(
    "service, body, key, field",
    [
        ("validation", [], None, "body"),
        ("validation", None, None, "body"),
        ("validation", {**VALIDATE, "extra": 1}, None, "extra"),
        ("validation", {**VALIDATE, "packages": []}, None, "packages"),
        ("validation", {**VALIDATE, "packages": "api"}, None, "packages"),
        ("deployment", {k: v for k, v in DEPLOY.items() if k != "package"}, "k", "package"),
        ("deployment", DEPLOY, None, "Idempotency-Key"),
        ("deployment", DEPLOY, "x" * 300, "Idempotency-Key"),
        ("notification", {**NOTIFY, "requester": " "}, "k", "requester"),
    ],
)
def test_a_bad_request_is_a_400_naming_the_field(fake, service, body, key, field):
    status, answer, _ = post(fake, service, body, key=key)
    assert status == 400 and answer["message"].startswith(f"{field}:")


def test_a_body_that_is_not_json_is_a_400(fake):
    assert post(fake, "validation", None, raw=b"{nope")[:2] == (400, {"message": "body: is not JSON"})


def test_fail_next_answers_the_injected_status_then_recovers(fake):
    fake.fail_next("deployment", 500, times=2)
    fake.fail_next("validation", 429, retry_after=2)
    assert post(fake, "deployment", DEPLOY, key="k")[0] == 500
    assert post(fake, "deployment", DEPLOY, key="k")[0] == 500
    assert post(fake, "deployment", DEPLOY, key="k")[0] == 201
    status, _, headers = post(fake, "validation", VALIDATE)
    assert status == 429 and headers["Retry-After"] == "2"
    assert fake.performed("deployment") == [("k", "api")]  # a failed call deployed nothing
    assert [c.headers["idempotency-key"] for c in fake.calls("deployment")] == ["k", "k", "k"]


def test_fail_next_can_send_a_raw_body(fake):
    request = urllib.request.Request(
        fake.url_of("validation") + "/validate",
        data=b"{}",
        headers={"Authorization": f"Bearer {DEFAULT_TOKENS['validation']}"},
        method="POST",
    )
    fake.fail_next("validation", 200, body=b"<html>")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.read() == b"<html>"


def test_slow_next_does_the_work_but_answers_late(fake):
    fake.slow_next("deployment", 0.3)
    started = time.monotonic()
    with pytest.raises(OSError):  # the client gives up first
        post(fake, "deployment", DEPLOY, key="slow", timeout=0.05)
    assert time.monotonic() - started < 0.3
    assert fake.performed("deployment") == [("slow", "api")]
    assert post(fake, "deployment", DEPLOY, key="slow")[0] == 200  # the retry: deduplicated


def test_unknown_paths_and_services_are_refused(fake):
    request = urllib.request.Request(fake.url + "/deployment/undeploy", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 404
    with pytest.raises(ValueError, match="unknown service"):
        fake.fail_next("billing", 500)


def test_reset_forgets_answers_and_failures(fake):
    post(fake, "deployment", DEPLOY, key="k")
    fake.fail_next("validation", 500)
    fake.reset()
    assert fake.performed("deployment") == [] and fake.requests == []
    assert post(fake, "validation", VALIDATE)[0] == 200
    assert post(fake, "deployment", DEPLOY, key="k")[0] == 201
