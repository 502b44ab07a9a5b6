"""Lambda entry points of the release-approval pipeline (thin: check the event, call pure logic, I/O via adapters).

validate_release_input  (ValidateInput): the intake, in pipelines/approvals/intake.py
callback                (POST /callbacks/jira): in pipelines/approvals/callback.py
reference_*             (the optional reference services): in pipelines/approvals/reference.py

load_request        (LoadRequest)
    event  {"inputKey", "versionId": str | null, "executionName"?}: the intake's answer
    return the checked request {"storyId", "packages", "environment", "requester", "description"?}
           plus "inputKey" and "versionId" (the version actually read)
    env    BUCKET_NAME, INPUT_PREFIX (inputs/), ENVIRONMENTS (dev,staging,prod)
    errors InvalidReleaseRequestError (no such object or version → names inputKey/versionId; a bad
           document names its field), InvalidInputError, ConfigurationError, StorageUnavailableError*

call_validation / call_deployment / call_notification   (one Parallel branch each)
    event  {"request": <load_request's answer>, "executionName", "executionArn"?}; the idempotency
           keys derive from executionArn when given (unique across state machines), else executionName
    return {"service": "validation", "valid": true, "checks": [{"package", "passed", "message"}]}
           {"service": "deployment", "deployments": [{"package", "deploymentId", "status", "idempotencyKey"}]}
           {"service": "notification", "notificationId"}
    env    SERVICE_URL (https), TOKEN_SECRET_ARN (that service's own token)
    errors ServiceAuthError, ServiceRejectedError, ServiceProtocolError, ValidationFailedError,
           InvalidInputError, ConfigurationError, ServiceUnavailableError*, ServiceRateLimitedError*

wait_for_callback   (WaitForJiraCallback, lambda:invoke.waitForTaskToken)
    event  {"taskToken", "storyId", "executionArn", "environment", "packages", "requester"}
    return {"registered": true, "expiresAt"} (Step Functions waits for the callback's token, not this)
    env    TOKEN_TABLE_NAME, WAIT_TIMEOUT_SECONDS (86400: the state's TimeoutSeconds); optional
           JIRA_BASE_URL + JIRA_TOKEN_SECRET_ARN: a comment on the issue (best effort, once per execution)
    errors StoryAlreadyWaitingError, TokenStoreError, InvalidInputError, ConfigurationError,
           TokenStoreUnavailableError*

record_outcome      (RecordOutcome, on every ending)
    event  {"executionArn", "executionName", "startedAt", "input", "state": <the state machine's
            state as it reached RecordOutcome>}; of the state, "request", "services", "decision",
            "waitEnded" and "error" are read, each only if the run got that far (see ``outcome``)
    return {"outcome": "approved"|"rejected"|"no-decision"|"failed", "resultKey", "logKey",
            "error"?, "cause"?} (error and cause for every outcome but approved)
    env    BUCKET_NAME, TOKEN_TABLE_NAME, WAIT_TIMEOUT_SECONDS (86400, for the no-decision cause)
    writes s3://BUCKET/outputs/<executionName>/result.json, s3://BUCKET/logs/<executionName>/execution.log
           (the same keys on a retry), then closes the story's token item if it is this execution's
    errors InvalidInputError, ConfigurationError, TokenStoreError, StorageUnavailableError*,
           HistoryUnavailableError*, TokenStoreUnavailableError*                    (* retryable)
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipelines.approvals import jira, outcome, services
from pipelines.approvals.errors import (
    HistoryUnavailableError,
    InvalidReleaseRequestError,
    StorageUnavailableError,
)
from pipelines.approvals.intake import DEFAULT_INPUT_PREFIX, checked_key
from pipelines.approvals.request import (
    DEFAULT_ENVIRONMENTS,
    MAX_DOCUMENT_BYTES,
    STORY_ID,
    check_release_request,
    parse_environments,
    parse_release_request,
)
from pipelines.approvals.tokens import TokenStore, iso_time
from pipelines.common import clock
from pipelines.common.aws import client
from pipelines.common.errors import ConfigurationError, InvalidInputError, bounded_message
from pipelines.common.http import require_secure_url
from pipelines.common.inputs import RequestShape, checked_request, described, quote
from pipelines.common.jsontext import utf8_json
from pipelines.common.logging import get_logger
from pipelines.common.secrets import read_secret
from pipelines.common.settings import int_env, optional_env, require_env

logger = get_logger("release-approval")

DEFAULT_WAIT_TIMEOUT_S = 86_400
MAX_WAIT_TIMEOUT_S = 365 * 86_400
MAX_TASK_TOKEN_CHARS = 2048
STATE_PAYLOAD_BYTES = 256 * 1024
# The Jira comment is a courtesy: a short timeout and no long Retry-After wait inside the wait task.
JIRA_TIMEOUT = (3.0, 5.0)
JIRA_MAX_RETRY_AFTER_S = 5.0
_EXECUTION_ARN = re.compile(r"arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:execution:[^:\s]{1,80}:[^:\s]{1,80}")
_S3_MISSING = {"NoSuchKey", "NoSuchVersion", "404"}
_S3_REFUSED = {"AccessDenied", "NoSuchBucket", "AllAccessDisabled", "KMS.DisabledException"}
_STATES_UNAVAILABLE = {"ThrottlingException", "ServiceUnavailable", "InternalFailure", "InternalServerError"}

LOAD_SHAPE = RequestShape.of("inputKey", "versionId", "executionName", max_bytes=8192)
SERVICE_SHAPE = RequestShape.of("executionName", "executionArn", max_bytes=2048, request=128 * 1024)
WAIT_SHAPE = RequestShape.of(
    "storyId", "executionArn", "environment", "requester", max_bytes=2048, taskToken=8192, packages=16_384
)
RECORD_SHAPE = RequestShape.of(
    "executionArn", "executionName", "startedAt", max_bytes=2048, input=STATE_PAYLOAD_BYTES, state=STATE_PAYLOAD_BYTES
)
# What RecordOutcome reads of the state (the state machine passes it whole: a field the run never
# reached is absent, and a JSONPath naming it would fail the task).
STATE_FIELDS = ("request", "services", "decision", "waitEnded", "error")


# -- adapters ------------------------------------------------------------------------------------


class MissingDocument(Exception):
    """The object (or that version of it) does not exist."""


class ReleaseBucket:
    """The pipeline's bucket: release requests in, results and logs out (over a boto3 S3 client)."""

    def __init__(self, name: str, s3):
        self.name = name
        self._s3 = s3

    @contextlib.contextmanager
    def _errors(self, operation: str, key: str) -> Iterator[None]:
        where = f"S3 {operation} s3://{self.name}/{quote(key, 120)}"
        try:
            yield
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _S3_MISSING:
                raise MissingDocument(code) from None
            if code in _S3_REFUSED:
                raise ConfigurationError(f"{where} refused ({code}): check the function's grants") from None
            if code == "InvalidArgument":
                raise InvalidReleaseRequestError("versionId", f"S3 refused it ({code})") from None
            raise StorageUnavailableError(f"{where} failed ({code})") from None
        except BotoCoreError as exc:
            raise StorageUnavailableError(f"{where} failed: {type(exc).__name__}") from None

    def read_document(self, key: str, version_id: str | None, max_bytes: int) -> tuple[bytes, str | None]:
        """``(bytes, version id read)`` of ``key``; InvalidReleaseRequestError if larger than ``max_bytes``."""
        selector = {"VersionId": version_id} if version_id else {}
        with self._errors("GetObject", key):
            answer = self._s3.get_object(Bucket=self.name, Key=key, **selector)
            body = answer["Body"]
            try:
                size = answer.get("ContentLength", 0)
                if size > max_bytes:
                    raise InvalidReleaseRequestError("document", f"is {size:,} bytes; at most {max_bytes:,} allowed")
                data = body.read(max_bytes + 1)
            finally:
                body.close()
        return data, answer.get("VersionId") or version_id

    def put(self, key: str, data: bytes, content_type: str) -> None:
        with self._errors("PutObject", key):
            self._s3.put_object(Bucket=self.name, Key=key, Body=data, ContentType=content_type)


def execution_history(states, execution_arn: str) -> tuple[list[dict[str, Any]], str | None]:
    """Every history event of the execution, without its data (``includeExecutionData=False``).

    ``(events, None)``; or ``([], reason)`` when the history cannot be read for good (the log then
    says so). A throttle or an outage raises HistoryUnavailableError, so the task is retried.
    """
    events: list[dict[str, Any]] = []
    try:
        pages = states.get_paginator("get_execution_history").paginate(
            executionArn=execution_arn, includeExecutionData=False, PaginationConfig={"PageSize": 1000}
        )
        for page in pages:
            events.extend(page.get("events", []))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _STATES_UNAVAILABLE or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
            raise HistoryUnavailableError(f"GetExecutionHistory failed ({code})") from None
        return [], code or "ClientError"
    except BotoCoreError as exc:
        raise HistoryUnavailableError(f"GetExecutionHistory failed: {type(exc).__name__}") from None
    return events, None


# -- shared checks -------------------------------------------------------------------------------


def _environments() -> tuple[str, ...]:
    raw = optional_env("ENVIRONMENTS", ",".join(DEFAULT_ENVIRONMENTS))
    try:
        return parse_environments(raw)
    except ValueError as exc:
        raise ConfigurationError(f"environment variable ENVIRONMENTS {exc}") from None


def _wait_timeout() -> int:
    seconds = int_env("WAIT_TIMEOUT_SECONDS", DEFAULT_WAIT_TIMEOUT_S)
    if not 1 <= seconds <= MAX_WAIT_TIMEOUT_S:
        raise ConfigurationError(f"environment variable WAIT_TIMEOUT_SECONDS must be 1..{MAX_WAIT_TIMEOUT_S}")
    return seconds


def _required(body: Mapping[str, Any], *names: str) -> None:
    for name in names:
        if name not in body:
            raise InvalidInputError(name, "is required")


def _execution_arn(value: Any, field: str = "executionArn") -> str:
    if not isinstance(value, str) or not _EXECUTION_ARN.fullmatch(value):
        raise InvalidInputError(
            field, f"must be a Step Functions execution ARN ($$.Execution.Id), got {described(value)}"
        )
    return value


def _execution_id(body: Mapping[str, Any]) -> str:
    if "executionArn" in body:
        return _execution_arn(body["executionArn"])
    _required(body, "executionName")
    return outcome.execution_name(body)


# -- handlers ------------------------------------------------------------------------------------


@logger.inject_lambda_context(clear_state=True)
def load_request(event, context):
    """Read the release request document the intake named and check it."""
    body = checked_request(event, LOAD_SHAPE)
    _required(body, "inputKey")
    key = checked_key(body["inputKey"], optional_env("INPUT_PREFIX", DEFAULT_INPUT_PREFIX), "inputKey")
    version = body.get("versionId")
    if version is not None and (not isinstance(version, str) or not version.strip()):
        raise InvalidInputError("versionId", f"must be an S3 version id or null, got {described(version)}")
    environments = _environments()
    bucket = ReleaseBucket(require_env("BUCKET_NAME"), client("s3"))
    try:
        raw, read_version = bucket.read_document(key, version, MAX_DOCUMENT_BYTES)
    except MissingDocument:
        which = f" (version {quote(version)})" if version else ""
        raise InvalidReleaseRequestError(
            "inputKey", f"no object {quote(key)}{which} in the pipeline's bucket"
        ) from None
    request = parse_release_request(raw, environments)
    logger.info("release request loaded", extra={"storyId": request.story_id, "packages": len(request.packages)})
    return {**request.to_dict(), "inputKey": key, "versionId": read_version}


def _call_service(event: Any, name: str):
    body = checked_request(event, SERVICE_SHAPE)
    _required(body, "request")
    given = body["request"]
    if not isinstance(given, Mapping):
        raise InvalidInputError("request", f"must be the checked release request, got {described(given)}")
    # load_request's answer is passed whole: its inputKey and versionId are not the services' business.
    request = check_release_request({k: v for k, v in given.items() if k not in ("inputKey", "versionId")}, None)
    execution = _execution_id(body)
    url = require_secure_url(require_env("SERVICE_URL"), "SERVICE_URL")
    token = read_secret(require_env("TOKEN_SECRET_ARN")).strip()
    logger.append_keys(storyId=request.story_id, service=name)
    return services.ReleaseService(name, url, token), request.to_dict(), execution


@logger.inject_lambda_context(clear_state=True)
def call_validation(event, context):
    """Ask the validation service about the packages; ValidationFailedError if it says no."""
    service, request, _ = _call_service(event, services.VALIDATION)
    return services.validate(service, request)


@logger.inject_lambda_context(clear_state=True)
def call_deployment(event, context):
    """Deploy each package once (derived idempotency keys)."""
    service, request, execution = _call_service(event, services.DEPLOYMENT)
    return services.deploy(service, request, execution)


@logger.inject_lambda_context(clear_state=True)
def call_notification(event, context):
    """Announce the release once (derived idempotency key)."""
    service, request, execution = _call_service(event, services.NOTIFICATION)
    return services.notify(service, request, execution)


def _post_jira_comment(base_url: str, story: str, request: Mapping[str, Any], execution_arn: str, ends: str) -> None:
    try:
        url = require_secure_url(base_url, "JIRA_BASE_URL")
        secret = read_secret(require_env("JIRA_TOKEN_SECRET_ARN"))
        comment = jira.approval_comment(
            story, request["environment"], request["packages"], request["requester"], execution_arn, ends
        )
        session = services.service_session(timeout=JIRA_TIMEOUT, max_retry_after=JIRA_MAX_RETRY_AFTER_S)
        jira.post_comment(url, secret, story, comment, session)
        logger.info("Jira comment posted")
    except Exception as exc:  # noqa: BLE001 - best effort: the wait goes on without the comment
        logger.warning(
            "Jira comment not posted", extra={"errorType": type(exc).__name__, "reason": bounded_message(str(exc), 200)}
        )


@logger.inject_lambda_context(clear_state=True)
def wait_for_callback(event, context):
    """Store the wait's task token under the story (one waiting execution per story); comment on Jira."""
    body = checked_request(event, WAIT_SHAPE)
    _required(body, "taskToken", "storyId", "executionArn", "environment", "packages", "requester")
    token = body["taskToken"]
    if not isinstance(token, str) or not 1 <= len(token) <= MAX_TASK_TOKEN_CHARS or not token.isprintable():
        raise InvalidInputError("taskToken", f"must be a task token ($$.Task.Token), got {described(token)}")
    arn = _execution_arn(body["executionArn"])
    fields = ("storyId", "packages", "environment", "requester")
    request = check_release_request({name: body[name] for name in fields}, None).to_dict()
    story = request["storyId"]
    timeout = _wait_timeout()
    store = TokenStore(client("dynamodb"), require_env("TOKEN_TABLE_NAME"))
    registered = store.register(story, token, arn, timeout)
    logger.append_keys(storyId=story)
    logger.info("waiting for a decision", extra={"expiresAt": registered["expiresAt"]})
    base_url = optional_env("JIRA_BASE_URL")
    if base_url and not registered["reregistered"]:
        _post_jira_comment(base_url, story, request, arn, iso_time(clock.now() + timeout))
    return {"registered": True, "expiresAt": registered["expiresAt"]}


@logger.inject_lambda_context(clear_state=True)
def record_outcome(event, context):
    """Write result.json and execution.log for any ending, then close the story's token item."""
    body = checked_request(event, RECORD_SHAPE)
    _required(body, "executionArn", "executionName", "state")
    state = body.pop("state")
    if not isinstance(state, Mapping):
        raise InvalidInputError("state", f"must be the execution's state (an object), got {described(state)}")
    body |= {name: state[name] for name in STATE_FIELDS if name in state}
    arn = _execution_arn(body["executionArn"])
    name = outcome.execution_name(body)
    ended = outcome.decide_outcome(body, _wait_timeout())
    bucket = ReleaseBucket(require_env("BUCKET_NAME"), client("s3"))
    table = require_env("TOKEN_TABLE_NAME")
    history, unavailable = execution_history(client("stepfunctions"), arn)
    finished = clock.utc_now()
    log = outcome.timeline(history, ended, started_at=body.get("startedAt"), finished_at=finished)
    if unavailable:
        log = f"(the execution history could not be read: {unavailable})\n{log}"
    document = outcome.result_document(body, ended, outcome.iso_millis(finished))
    bucket.put(outcome.result_key(name), utf8_json(document, indent=2) + b"\n", "application/json")
    bucket.put(outcome.log_key(name), log.encode("utf-8", "backslashreplace"), "text/plain; charset=utf-8")
    story = outcome.story_of(body)
    if story is not None and STORY_ID.fullmatch(story):
        TokenStore(client("dynamodb"), table).close(story, arn, ended.outcome)
    logger.info("outcome recorded", extra={"outcome": outcome.describe_outcome(ended)})
    answer = {"outcome": ended.outcome, "resultKey": outcome.result_key(name), "logKey": outcome.log_key(name)}
    if ended.error is not None:
        answer |= {"error": ended.error, "cause": ended.cause}
    return answer
