"""The comment a waiting release leaves on its Jira issue (Jira REST v3, Atlassian Document Format).

``POST {base}/rest/api/3/issue/{key}/comment`` with ``{"body": <ADF doc>}`` → 201. The credential
is the secret's value: ``email:api_token`` is sent as Basic auth (Jira Cloud's API tokens),
anything else as ``Bearer`` (Data Center's personal access tokens). The comment is a courtesy:
the handler logs a failure and carries on waiting.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import requests

from pipelines.approvals.services import ReleaseService, service_session

MAX_LISTED_PACKAGES = 20


def authorization(secret: str) -> str:
    """The Authorization header value for a Jira credential (``email:token`` → Basic, else Bearer)."""
    secret = secret.strip()
    if ":" in secret:
        return "Basic " + base64.b64encode(secret.encode("utf-8")).decode("ascii")
    return f"Bearer {secret}"


def _text(text: str, strong: bool = False) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if strong:
        node["marks"] = [{"type": "strong"}]
    return node


def _paragraph(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(parts)}


def approval_comment(
    story: str, environment: str, packages: Sequence[str], requester: str, execution: str, wait_ends_at: str
) -> dict[str, Any]:
    """The ADF comment saying the release waits for a decision, and how to give it."""
    shown = list(packages[:MAX_LISTED_PACKAGES])
    items = [{"type": "listItem", "content": [_paragraph(_text(p))]} for p in shown]
    if len(packages) > len(shown):
        items.append({"type": "listItem", "content": [_paragraph(_text(f"and {len(packages) - len(shown)} more"))]})
    doc = {
        "type": "doc",
        "version": 1,
        "content": [
            _paragraph(
                _text("Release awaiting approval: ", strong=True),
                _text(f"{len(packages)} package(s) to {environment}, requested by {requester}."),
            ),
            {"type": "bulletList", "content": items},
            _paragraph(
                _text(
                    f"To decide, run this project's release-approval automation rule on {story} with the "
                    "decision approved or rejected (a comment is passed on with it). "
                    f"The wait ends at {wait_ends_at} without a decision; execution {execution}."
                )
            ),
        ],
    }
    return {"body": doc}


def post_comment(
    base_url: str, secret: str, story: str, comment: dict[str, Any], session: requests.Session | None = None
) -> str:
    """Add ``comment`` to issue ``story``; the new comment's id. Raises the services' typed errors."""
    jira = ReleaseService("Jira", base_url, "", session or service_session(), authorization=authorization(secret))
    answer = jira.post(f"/rest/api/3/issue/{story}/comment", comment, expected=(201,))
    comment_id = answer.get("id")
    return comment_id if isinstance(comment_id, str) else ""
