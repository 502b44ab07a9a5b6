"""A loopback fake of Jira's comment endpoint, and a client that sends callbacks as Jira Automation does.

``JiraFake`` serves ``POST /rest/api/3/issue/{issueKey}/comment`` (Jira Cloud REST v3): the body is
``{"body": <Atlassian Document Format doc>}``, the answer 201 with the comment. It accepts Basic
auth of ``email:api_token`` (Jira Cloud) or, when ``pat`` is set, ``Bearer <pat>`` (Data Center's
personal access tokens), and records every comment per issue.

``JiraAutomation`` is the other direction: the "Send web request" action of an Automation rule,
POSTing the rule's custom JSON body with the headers the rule configures (the shared secret as
``Authorization: Bearer …``). Automation does not sign requests and does not retry them.

    with JiraFake(issues={"PROJ-1"}) as jira:
        ...                                     # JIRA_BASE_URL=jira.url
        jira.comment_texts("PROJ-1")            # ["Release awaiting approval …"]
    JiraAutomation(callback_url, secret).send("PROJ-1", "approved", comment="ship it")
"""

from __future__ import annotations

import base64
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from infra.sandbox.fakes.base import FakeRequest, FakeResponse, LoopbackFake

DEFAULT_EMAIL = "automation@example.com"
DEFAULT_API_TOKEN = "fake-jira-api-token"
_COMMENT_PATH = re.compile(r"^/rest/api/3/issue/([A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,9})/comment$")
# What Automation for Jira's outgoing requests present themselves as.
AUTOMATION_USER_AGENT = "Atlassian Automation for Jira (https://www.atlassian.com/software/jira/automation)"


def _errors(status: int, *messages: str, **fields: str) -> FakeResponse:
    return FakeResponse(status, {"errorMessages": list(messages), "errors": fields})


def adf_text(node: Any) -> str:
    """The plain text of an Atlassian Document Format node (paragraphs and list items on their own lines)."""
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    parts = [adf_text(child) for child in node.get("content") or []]
    joiner = "\n" if node.get("type") in ("doc", "bulletList", "orderedList") else ""
    return joiner.join(part for part in parts if part)


class JiraFake(LoopbackFake):
    """Jira's comment endpoint; ``issues`` (if given) are the keys that exist, others answer 404."""

    def __init__(
        self,
        email: str = DEFAULT_EMAIL,
        api_token: str = DEFAULT_API_TOKEN,
        pat: str | None = None,
        issues: Iterable[str] | None = None,
    ):
        super().__init__()
        self.email, self.api_token, self.pat = email, api_token, pat
        self.issues = None if issues is None else set(issues)
        self.comments: dict[str, list[dict]] = {}
        self._queued: list[FakeResponse] = []
        self._state = threading.Lock()

    @property
    def basic_secret(self) -> str:
        """The secret value a pipeline stores for Basic auth: ``email:api_token``."""
        return f"{self.email}:{self.api_token}"

    def fail_next(self, status: int = 503, times: int = 1, retry_after: int | None = None) -> None:
        """Answer the next ``times`` authenticated requests with ``status`` (no comment added)."""
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        body = {"errorMessages": [f"injected failure {status}"], "errors": {}}
        with self._state:
            self._queued.extend(FakeResponse(status, body, dict(headers)) for _ in range(times))

    def comment_texts(self, issue: str) -> list[str]:
        """The plain text of each comment on ``issue``, oldest first."""
        with self._state:
            return [adf_text(c["body"]) for c in self.comments.get(issue, [])]

    def _authorized(self, header: str) -> bool:
        basic = base64.b64encode(self.basic_secret.encode()).decode()
        return header == f"Basic {basic}" or (self.pat is not None and header == f"Bearer {self.pat}")

    def handle(self, request: FakeRequest) -> FakeResponse:
        match = _COMMENT_PATH.match(request.path)
        if not self._authorized(request.headers.get("authorization", "")):
            # Jira answers an anonymous or bad-credential call with 401 and no detail.
            return _errors(401, "You are not authenticated. Authentication required to perform this operation.")
        with self._state:
            if self._queued:
                return self._queued.pop(0)
        if match is None or request.method != "POST":
            return _errors(404, "No route matches this request.")
        issue = match.group(1)
        if self.issues is not None and issue not in self.issues:
            return _errors(404, "Issue does not exist or you do not have permission to see it.")
        try:
            body = request.json()
        except ValueError:
            return _errors(400, "Unexpected character in the request body.")
        document = body.get("body") if isinstance(body, dict) else None
        if not isinstance(document, dict) or document.get("type") != "doc" or document.get("version") != 1:
            return _errors(400, comment="Comment body is not valid Atlassian Document Format.")
        if not adf_text(document).strip():
            return _errors(400, comment="Comment body can not be empty!")
        with self._state:
            comments = self.comments.setdefault(issue, [])
            comment_id = str(10000 + sum(len(c) for c in self.comments.values()))
            created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
            comment = {
                "id": comment_id,
                "self": f"{self.url}/rest/api/3/issue/{issue}/comment/{comment_id}",
                "author": {"accountId": "fake-automation", "displayName": "Automation for Jira"},
                "body": document,
                "created": created,
                "updated": created,
            }
            comments.append(comment)
        return FakeResponse(201, comment)


class JiraAutomation:
    """Jira Automation's "Send web request" action, configured to call the release-approval callback.

    The rule's custom body is ``{"issueKey": "{{issue.key}}", "decision": …, "comment":
    "{{issue.comments.last.body.jsonEncode}}", "decidedBy": "{{initiator.displayName}}"}``: smart
    values render as strings (an empty one as ``""``). Headers: ``Content-Type: application/json``
    and the secret header the rule holds (``Authorization: Bearer <secret>``, marked hidden).
    """

    def __init__(self, url: str, secret: str, *, header: str = "Authorization", timeout: float = 10.0):
        self.url = url
        self.secret = secret
        self.header = header
        self.timeout = timeout

    def headers(self) -> dict[str, str]:
        """The headers the rule sends."""
        return {
            "Content-Type": "application/json",
            "User-Agent": AUTOMATION_USER_AGENT,
            self.header: f"Bearer {self.secret}",
        }

    def send(self, issue_key: str, decision: str, comment: str = "", decided_by: str = "") -> tuple[int, Any]:
        """POST the rule's body for one decision; ``(status, parsed JSON body or text)``."""
        body = {"issueKey": issue_key, "decision": decision, "comment": comment, "decidedBy": decided_by}
        return self.send_raw(json.dumps(body).encode("utf-8"))

    def send_raw(self, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """POST ``body`` as it is, with the rule's headers (``headers`` replacing or adding some)."""
        merged = {**self.headers(), **(headers or {})}
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={k: v for k, v in merged.items() if v is not None}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, _decoded(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _decoded(error.read())


def _decoded(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
