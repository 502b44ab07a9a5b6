"""The Jira callback (``POST /callbacks/jira``): a decision on a story resumes its waiting execution.

callback(event, context)   API Gateway HTTP API Lambda proxy, payload format 2.0
    event  {"version": "2.0", "routeKey", "rawPath", "headers" (lower-case names), "body": str,
            "isBase64Encoded": bool, "requestContext": {…}}
           body (JSON, ≤ 64 KiB): {"issueKey": "PROJ-123", "decision": "approved" | "rejected",
                                   "comment"?: str ≤ 32,000 chars, "decidedBy"?: str ≤ 256}
    return {"statusCode", "headers": {"content-type": "application/json", "retry-after"?}, "body": JSON text}
    env    TOKEN_TABLE_NAME, CALLBACK_SECRET_ARN

In this order:

1. ``Authorization: Bearer <secret>`` against the secret's AWSCURRENT and AWSPREVIOUS values
   (``hmac.compare_digest``; a rotation needs no downtime) → 401 ``missing or invalid
   credentials``, with nothing read or written but the secret.
2. The body → 400 ``{"message": "<field>: <problem>"}``.
3. The decision is recorded once (``TokenStore.decide``) → 404 unknown story, 410 the wait has
   ended, 200 ``already decided`` with the first decision.
4. The execution resumes: approved → SendTaskSuccess(output = {"decision", "comment",
   "decidedBy", "decidedAt"}); rejected → SendTaskFailure(error "ReleaseRejected", cause = the same
   JSON) → 202 ``accepted``. Step Functions answering TaskTimedOut / TaskDoesNotExist /
   InvalidToken means the wait has ended → the item is marked TIMED_OUT → 410.

A duplicate delivery after a lost response finds the item DONE: if the resume was confirmed
(``resumedAt``) it answers 200 at once; if not, and the first delivery is not still resuming
(``resumingUntil``), it sends the same resume again — Step Functions takes a token once, so a
TaskTimedOut then means the first one went through — and answers 200 ``already decided``. There
is never a second resume. DynamoDB or Step Functions throttled or unavailable → 503 with
Retry-After (Jira Automation's rule can retry). Anything unexpected → 500 ``internal error``; no
traceback, secret, token or Authorization header ever reaches a response or a log line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipelines.approvals.errors import TokenStoreUnavailableError
from pipelines.approvals.httpapi import json_object_body, matches, presented_secret, response
from pipelines.approvals.request import STORY_ID
from pipelines.approvals.tokens import ALREADY_DECIDED, CLOSED, DECIDED, EXPIRED, UNKNOWN, TokenStore
from pipelines.common import clock
from pipelines.common.aws import client
from pipelines.common.errors import ConfigurationError, InvalidInputError
from pipelines.common.inputs import RequestShape, checked_request, described, quote
from pipelines.common.logging import get_logger
from pipelines.common.secrets import read_secret_stages
from pipelines.common.settings import require_env

logger = get_logger("release-approval")

MAX_BODY_BYTES = 64 * 1024
MAX_COMMENT_CHARS = 32_000
MAX_DECIDED_BY_CHARS = 256
MAX_CAUSE_CHARS = 32_768
DEFAULT_DECIDED_BY = "Jira Automation"
DECISIONS = ("approved", "rejected")
REJECTED_ERROR = "ReleaseRejected"
RETRY_AFTER_S = 5
# A shared secret shorter than this is a misconfiguration, never a credential.
MIN_SECRET_CHARS = 16
# A presented secret matching no cached value makes the values be re-read, at most this often
# (a rotation is seen within this long; a flood of wrong secrets costs one read per period).
SECRET_REFRESH_S = 30
SECRET_MAX_AGE_S = 300
TASK_ENDED = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
_UNAVAILABLE = frozenset({"ThrottlingException", "ServiceUnavailable", "InternalFailure", "InternalServerError"})
BODY_SHAPE = RequestShape.of(
    "issueKey", "decision", max_bytes=256, comment=MAX_BODY_BYTES, decidedBy=6 * MAX_DECIDED_BY_CHARS + 2
)
UNAUTHORIZED = {"message": "missing or invalid credentials"}


@dataclass(frozen=True)
class CallbackBody:
    """One checked decision."""

    issue_key: str
    decision: str
    comment: str
    decided_by: str


def _optional_text(body: Mapping[str, Any], name: str, limit: int) -> str:
    if name not in body:
        return ""
    value = body[name]
    if not isinstance(value, str):
        raise InvalidInputError(name, f"must be a string, got {described(value)} (leave it out for none)")
    if len(value) > limit:
        raise InvalidInputError(name, f"is {len(value):,} characters; at most {limit:,} allowed")
    return value


def parse_body(event: Mapping[str, Any]) -> CallbackBody:
    """The request body as a ``CallbackBody``; InvalidInputError naming the field otherwise."""
    document = json_object_body(event, MAX_BODY_BYTES)
    body = checked_request(document, BODY_SHAPE)
    for name in ("issueKey", "decision"):
        if name not in body:
            raise InvalidInputError(name, "is required")
        if not isinstance(body[name], str):
            raise InvalidInputError(name, f"must be a string, got {described(body[name])}")
    if not STORY_ID.fullmatch(body["issueKey"]):
        raise InvalidInputError("issueKey", f"must be a Jira issue key like PROJ-123, not {quote(body['issueKey'])}")
    if body["decision"] not in DECISIONS:
        raise InvalidInputError("decision", f'must be "approved" or "rejected", not {quote(body["decision"])}')
    comment = _optional_text(body, "comment", MAX_COMMENT_CHARS)
    decided_by = _optional_text(body, "decidedBy", MAX_DECIDED_BY_CHARS).strip() or DEFAULT_DECIDED_BY
    return CallbackBody(body["issueKey"], body["decision"], comment, decided_by)


class TaskEnded(Exception):
    """Step Functions no longer waits for this token (TaskTimedOut, TaskDoesNotExist, InvalidToken)."""


class ResumeUnavailable(Exception):
    """Step Functions was throttled or unavailable: the resume may be tried again."""


class StepFunctionsResumer:
    """SendTaskSuccess / SendTaskFailure over a boto3 Step Functions client, errors typed."""

    def __init__(self, states):
        self._states = states

    def _call(self, operation: str, **kwargs) -> None:
        try:
            getattr(self._states, operation)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in TASK_ENDED:
                raise TaskEnded(code) from None
            if code in _UNAVAILABLE or status >= 500:
                raise ResumeUnavailable(code) from None
            raise
        except BotoCoreError as exc:
            raise ResumeUnavailable(type(exc).__name__) from None

    def succeed(self, token: str, output: str) -> None:
        self._call("send_task_success", taskToken=token, output=output)

    def fail(self, token: str, error: str, cause: str) -> None:
        self._call("send_task_failure", taskToken=token, error=error, cause=cause)


def resume_payload(item: Mapping[str, Any]) -> dict[str, Any]:
    """What the execution receives: the first decision recorded, with who and when."""
    return {
        "decision": item.get("decision"),
        "comment": item.get("comment", ""),
        "decidedBy": item.get("decidedBy", DEFAULT_DECIDED_BY),
        "decidedAt": item.get("decidedAt"),
    }


def failure_cause(payload: Mapping[str, Any]) -> str:
    """The payload as SendTaskFailure's cause: JSON of at most 32,768 characters (the comment cut if need be)."""
    text = json.dumps(payload, ensure_ascii=False)
    comment = str(payload.get("comment") or "")
    while len(text) > MAX_CAUSE_CHARS and comment:
        comment = comment[: max(0, len(comment) - (len(text) - MAX_CAUSE_CHARS) - 1)] + "…"
        text = json.dumps({**payload, "comment": comment}, ensure_ascii=False)
        if len(comment) <= 1:
            break
    return text


def _ended(item: Mapping[str, Any], story: str) -> dict[str, Any]:
    reason = "timed out"
    if item.get("status") == CLOSED:
        reason = f"the execution ended: {item.get('outcome', 'closed')}"
    return response(410, {"message": f"the approval wait for {story} has ended ({reason})"})


def _already(item: Mapping[str, Any]) -> dict[str, Any]:
    body = {"status": "already decided", "decision": item.get("decision"), "decidedAt": item.get("decidedAt")}
    return response(200, body)


def _unavailable() -> dict[str, Any]:
    return response(503, {"message": "the decision cannot be delivered right now; retry later"}, RETRY_AFTER_S)


class CallbackHandler:
    """The callback's logic over its adapters: the secret's values, the token table, Step Functions."""

    def __init__(self, secrets: Callable[[float], list[str]], store: TokenStore, states: StepFunctionsResumer):
        self._secrets = secrets
        self._store = store
        self._states = states

    def _authorized(self, event: Mapping[str, Any]) -> bool:
        presented = presented_secret(event)
        if presented is None:
            return False
        usable = self._usable(self._secrets(SECRET_MAX_AGE_S))
        if matches(presented, usable):
            return True
        return matches(presented, self._usable(self._secrets(SECRET_REFRESH_S)))

    @staticmethod
    def _usable(values: list[str]) -> list[str]:
        usable = [v for v in values if v and len(v) >= MIN_SECRET_CHARS]
        if not usable:
            raise ConfigurationError(f"the callback secret is unset or shorter than {MIN_SECRET_CHARS} characters")
        return usable

    def handle(self, event: Any) -> dict[str, Any]:
        """The HTTP answer to one callback delivery."""
        logger.remove_keys(["issueKey"])
        try:
            return self._handle(event if isinstance(event, Mapping) else {})
        except TokenStoreUnavailableError:
            logger.warning("token table unavailable; answered 503")
            return _unavailable()
        except Exception as exc:  # noqa: BLE001 - the caller gets a generic 500, never a traceback
            logger.error("callback failed", extra={"errorType": type(exc).__name__})
            return response(500, {"message": "internal error"})

    def _handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        if not self._authorized(event):
            logger.warning("callback refused: missing or invalid credentials")
            return response(401, UNAUTHORIZED)
        try:
            body = parse_body(event)
        except InvalidInputError as exc:
            logger.info("callback body refused", extra={"field": exc.field})
            return response(400, {"message": str(exc)})
        logger.append_keys(issueKey=body.issue_key)
        found = self._store.decide(body.issue_key, body.decision, body.comment or None, body.decided_by)
        if found.kind == UNKNOWN:
            return response(404, {"message": f"no release of {body.issue_key} is waiting for a decision"})
        if found.kind == EXPIRED:
            return _ended(found.item, body.issue_key)
        if found.kind == ALREADY_DECIDED:
            return self._duplicate(found.item, body.issue_key)
        if found.kind != DECIDED:
            raise ValueError(f"unexpected decision outcome {found.kind}")
        logger.info("decision recorded", extra={"decision": body.decision, "decidedBy": body.decided_by})
        return self._resume(found.item, body.issue_key, first=True)

    def _duplicate(self, item: dict[str, Any], story: str) -> dict[str, Any]:
        if item.get("resumedAt") or not item.get("taskToken"):
            return _already(item)
        if float(item.get("resumingUntil", 0)) > clock.now():
            logger.info("decision is still being delivered by the first callback")
            return _unavailable()
        logger.info("decision recorded but its resume unconfirmed: sending it again")
        return self._resume(item, story, first=False)

    def _resume(self, item: dict[str, Any], story: str, *, first: bool) -> dict[str, Any]:
        payload = resume_payload(item)
        arn = item["executionArn"]
        try:
            if payload["decision"] == "approved":
                self._states.succeed(item["taskToken"], json.dumps(payload, ensure_ascii=False))
            else:
                self._states.fail(item["taskToken"], REJECTED_ERROR, failure_cause(payload))
        except TaskEnded as ended:
            if first:
                self._store.mark_timed_out(story, arn)
                logger.info("the wait had ended", extra={"code": str(ended)})
                return _ended({"status": "TIMED_OUT"}, story)
            # The token was taken before: by the first delivery of this same decision.
            self._store.mark_resumed(story, arn)
            return _already(item)
        except ResumeUnavailable as exc:
            logger.warning("Step Functions unavailable; answered 503", extra={"code": str(exc)})
            self._store.release_resume(story, arn)
            return _unavailable()
        except Exception:
            self._store.release_resume(story, arn)
            raise
        try:
            self._store.mark_resumed(story, arn)
        except Exception as exc:  # noqa: BLE001 - the resume went through; a duplicate settles the mark
            logger.warning("resumed, but resumedAt not recorded", extra={"errorType": type(exc).__name__})
        logger.info("execution resumed", extra={"decision": payload["decision"]})
        if not first:
            return _already(item)
        return response(202, {"status": "accepted", "decision": payload["decision"]})


def _secret_values(arn: str) -> Callable[[float], list[str]]:
    def read(max_age: float) -> list[str]:
        return [value for value in read_secret_stages(arn, max_age=max_age).values() if value]

    return read


@logger.inject_lambda_context(clear_state=True)
def callback(event, context):
    """``POST /callbacks/jira``: authenticate, check, record the first decision, resume the execution."""
    try:
        handler = CallbackHandler(
            _secret_values(require_env("CALLBACK_SECRET_ARN")),
            TokenStore(client("dynamodb"), require_env("TOKEN_TABLE_NAME")),
            StepFunctionsResumer(client("stepfunctions")),
        )
    except Exception as exc:  # noqa: BLE001 - a misconfigured function still answers without a traceback
        logger.error("callback misconfigured", extra={"errorType": type(exc).__name__})
        return response(500, {"message": "internal error"})
    return handler.handle(event)
