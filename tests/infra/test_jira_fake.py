"""The Jira fake (comment endpoint, Basic or Bearer auth) and JiraAutomation (the callback as a rule sends it)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest

from infra.sandbox.fakes.base import FakeResponse, LoopbackFake
from infra.sandbox.fakes.jira import AUTOMATION_USER_AGENT, JiraAutomation, JiraFake, adf_text

ADF = {
    "type": "doc",
    "version": 1,
    "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Release awaiting approval"}]},
        {
            "type": "bulletList",
            "content": [
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "api"}]}]}
            ],
        },
    ],
}


def comment(jira, issue, body, authorization):
    request = urllib.request.Request(
        f"{jira.url}/rest/api/3/issue/{issue}/comment",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": authorization},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def basic(secret: str) -> str:
    return "Basic " + base64.b64encode(secret.encode()).decode()


def test_a_comment_with_basic_auth_is_recorded_per_issue():
    with JiraFake(issues={"PROJ-1"}) as jira:
        status, answer = comment(jira, "PROJ-1", {"body": ADF}, basic(jira.basic_secret))
        assert status == 201 and answer["body"] == ADF and answer["id"]
        assert jira.comment_texts("PROJ-1") == ["Release awaiting approval\napi"]
        assert comment(jira, "PROJ-2", {"body": ADF}, basic(jira.basic_secret))[0] == 404


def test_bearer_is_accepted_only_with_a_pat_configured():
    with JiraFake() as jira:
        assert comment(jira, "PROJ-1", {"body": ADF}, "Bearer pat-1")[0] == 401
        jira.pat = "pat-1"
        assert comment(jira, "PROJ-1", {"body": ADF}, "Bearer pat-1")[0] == 201
        assert comment(jira, "PROJ-1", {"body": ADF}, basic("automation@example.com:wrong"))[0] == 401


@pytest.mark.parametrize(
    "body",
    [{"body": "plain text"}, {"body": {"type": "doc", "version": 1, "content": []}}, {"text": "x"}, []],
)
def test_a_comment_that_is_not_adf_is_a_400(body):
    with JiraFake() as jira:
        status, answer = comment(jira, "PROJ-1", body, basic(jira.basic_secret))
        assert status == 400 and answer["errors"]["comment"]
        assert jira.comments == {}


def test_fail_next_answers_with_the_status_and_retry_after():
    with JiraFake() as jira:
        jira.fail_next(429, retry_after=3)
        request = urllib.request.Request(
            f"{jira.url}/rest/api/3/issue/PROJ-1/comment",
            data=json.dumps({"body": ADF}).encode(),
            headers={"Authorization": basic(jira.basic_secret)},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)
        assert caught.value.code == 429 and caught.value.headers["Retry-After"] == "3"
        assert comment(jira, "PROJ-1", {"body": ADF}, basic(jira.basic_secret))[0] == 201


def test_adf_text_flattens_paragraphs_and_lists():
    assert adf_text(ADF) == "Release awaiting approval\napi"
    assert adf_text("not a node") == ""


class Recorder(LoopbackFake):
    def handle(self, request):
        return FakeResponse(202, {"status": "accepted"})


def test_jira_automation_sends_the_rules_body_and_headers():
    with Recorder() as target:
        automation = JiraAutomation(f"{target.url}/callbacks/jira", "s3cret-s3cret-s3cret")
        status, body = automation.send("PROJ-1", "approved", comment="ship it", decided_by="Alice")
        assert (status, body) == (202, {"status": "accepted"})
        (request,) = target.requests
        assert request.method == "POST" and request.path == "/callbacks/jira"
        assert request.json() == {
            "issueKey": "PROJ-1",
            "decision": "approved",
            "comment": "ship it",
            "decidedBy": "Alice",
        }
        assert request.headers["authorization"] == "Bearer s3cret-s3cret-s3cret"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"] == AUTOMATION_USER_AGENT


def test_jira_automation_renders_empty_smart_values_as_empty_strings_and_can_send_anything():
    with Recorder() as target:
        automation = JiraAutomation(target.url, "s")
        automation.send("PROJ-1", "rejected")
        assert target.requests[0].json() == {
            "issueKey": "PROJ-1",
            "decision": "rejected",
            "comment": "",
            "decidedBy": "",
        }
        automation.send_raw(b"[1, 2]", headers={"Authorization": None})
        assert target.requests[1].body == b"[1, 2]" and "authorization" not in target.requests[1].headers


def test_jira_automation_returns_error_statuses_with_their_body():
    class Refuser(LoopbackFake):
        def handle(self, request):
            return FakeResponse(401, {"message": "missing or invalid credentials"})

    with Refuser() as target:
        assert JiraAutomation(target.url, "x").send("PROJ-1", "approved") == (
            401,
            {"message": "missing or invalid credentials"},
        )
