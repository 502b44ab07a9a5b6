"""EventBridge rules delivering to Step Functions state machines in the sandbox, as AWS delivers them.

moto matches events against rules (S3 Object Created events of buckets with EventBridge
notifications on, and ``PutEvents``) but delivers only to log groups, SQS queues, event buses and
API destinations; a state machine target is never started. ``EventRouter.install()`` patches two
places of moto and routes those deliveries itself:

- **S3's EventBridge notification** (``moto.s3.notifications._send_event_bridge_message``): an
  ``Object Created`` event is built in AWS's format (``version``, ``id``, ``detail-type``,
  ``source: aws.s3``, ``account``, ISO ``time``, ``region``, ``resources: [bucket ARN]``, ``detail``
  with ``bucket.name``, ``object.key`` URL-encoded as S3 encodes keys in events (``quote_plus``
  keeping ``/``: a space is ``+``, a ``+`` is ``%2B``), ``size``, ``etag``, ``version-id`` (versioned
  buckets only), an increasing ``sequencer``, ``request-id``, ``requester``, ``source-ip-address``
  and ``reason`` (``PutObject``, ``CopyObject``, ``CompleteMultipartUpload``…)) and offered to the
  rules of the default bus. Other S3 event types keep moto's own message.
- **A rule's delivery** (``moto.events.models.Rule.send_to_targets``): an enabled rule whose
  pattern (moto's matcher) matches hands each state machine target to the router; its other
  targets go to moto as before.

The router delivers on its own thread, never inside the S3 or PutEvents call that produced the
event (as in AWS, delivery is asynchronous; moto's interpreter then runs the execution on its
threads). For each delivery it computes the target's input (``Input``, ``InputPath`` or
``InputTransformer``; otherwise the whole event), assumes the target's ``RoleArn`` as
``events.amazonaws.com`` with ``aws:SourceArn`` = the rule ARN and ``aws:SourceAccount`` (the
trust policy evaluated by ``SandboxIam``), and calls StartExecution with those credentials and a
generated name (an EventBridge target cannot name the execution), so IAM decides as in AWS.

Failures follow EventBridge's retry policy: a refused role or a denied StartExecution
(``NO_PERMISSIONS``) or a missing state machine (``RESOURCE_NOT_FOUND``) is not retried; throttling
and server errors are retried up to ``RetryPolicy.MaximumRetryAttempts`` within
``MaximumEventAgeInSeconds`` (with millisecond pauses, not AWS's exponential backoff). An
undelivered event goes to the target's ``DeadLetterConfig`` queue, if any, with the attributes
EventBridge sets (``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE``,
``RETRY_ATTEMPTS``, ``EXHAUSTED_RETRY_CONDITION`` after exhausted retries), provided the queue's
policy lets ``events.amazonaws.com`` send from that rule (evaluated as AWS would; moto does not).
Every delivery is recorded in ``EventRouter.deliveries``; ``wait_idle()`` waits until the router
has nothing left to deliver.

Not emulated: custom event buses receiving S3 events (S3 sends to the default bus only, as here),
archives and replays of state machine deliveries, cross-account targets, and the exact set of
characters S3 leaves unencoded in event keys beyond ``/`` and ``-_.~`` (``quote_plus``).
"""

from __future__ import annotations

import copy
import datetime
import itertools
import json
import queue
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

from botocore.config import Config
from botocore.exceptions import ClientError

from infra.sandbox import iam
from infra.sandbox import trust as trust_policy

EVENTS = "events.amazonaws.com"
DEFAULT_MAX_RETRIES = 185
DEFAULT_MAX_EVENT_AGE_S = 86400
NOT_RETRIED = {
    "AccessDenied": "NO_PERMISSIONS",
    "AccessDeniedException": "NO_PERMISSIONS",
    "StateMachineDoesNotExist": "RESOURCE_NOT_FOUND",
    "StateMachineDeleting": "RESOURCE_NOT_FOUND",
    "ResourceNotFoundException": "RESOURCE_NOT_FOUND",
}
RETRIED = {"ThrottlingException": "THROTTLING", "Throttling": "THROTTLING", "ServiceUnavailable": "SDK_CLIENT_ERROR"}
_REASONS = {
    "Put": "PutObject",
    "Post": "PostObject",
    "Copy": "CopyObject",
    "CompleteMultipartUpload": "CompleteMultipartUpload",
}
_STOP = object()
# One attempt per call: the router owns the retries, as EventBridge does.
_ONE_ATTEMPT = Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1})


def s3_event_key(key: str) -> str:
    """An object key as S3 writes it into events: form-URL-encoded, ``/`` kept (``a b+c`` → ``a+b%2Bc``)."""
    return quote_plus(key, safe="/")


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_sequencer = itertools.count(int(time.time() * 1000) << 16)


def object_created_event(account: str, bucket: Any, event_name: str, key: Any) -> dict[str, Any]:
    """The event S3 sends EventBridge for ``event_name`` (``s3:ObjectCreated:Put`` …) of ``key`` in ``bucket``."""
    obj: dict[str, Any] = {"key": s3_event_key(key.name), "size": key.size, "etag": key.etag.replace('"', "")}
    if getattr(bucket, "is_versioned", False) and key.version_id not in (None, "null"):
        obj["version-id"] = key.version_id
    obj["sequencer"] = f"{next(_sequencer):018X}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account,
        "time": _iso(datetime.datetime.now(datetime.UTC)),
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": obj,
            "request-id": secrets.token_hex(8).upper(),
            "requester": account,
            "source-ip-address": "127.0.0.1",
            "reason": _REASONS.get(event_name.split(":")[-1], event_name.split(":")[-1]),
        },
    }


def _normalized(event: dict[str, Any]) -> dict[str, Any]:
    """moto's PutEvents message as AWS delivers it: ISO time, no ingestion-time."""
    delivered = {k: v for k, v in event.items() if k != "ingestion-time"}
    if isinstance(delivered.get("time"), (int, float)):
        delivered["time"] = _iso(datetime.datetime.fromtimestamp(delivered["time"], datetime.UTC))
    return delivered


# --- the target's input --------------------------------------------------------------------------------


def _path_value(path: str, event: dict[str, Any]) -> Any:
    from jsonpath_ng.ext import parse

    matches = parse(path).find(event)
    return matches[0].value if matches else None


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def _transform(transformer: dict[str, Any], event: dict[str, Any], rule_arn: str) -> str:
    """An InputTransformer's output: ``<name>`` inside a JSON string inserts the text, elsewhere the JSON value."""
    values = {name: _path_value(path, event) for name, path in (transformer.get("InputPathsMap") or {}).items()}
    values.setdefault("aws.events.rule-arn", rule_arn)
    values.setdefault("aws.events.rule-name", rule_arn.rsplit("/", 1)[-1])
    values.setdefault("aws.events.event", event)
    values.setdefault("aws.events.event.json", event)
    template = transformer.get("InputTemplate", "")
    out: list[str] = []
    in_string = escaped = False
    index = 0
    while index < len(template):
        char = template[index]
        match = _PLACEHOLDER.match(template, index) if char == "<" else None
        if match and match.group(1) in values:
            value = values[match.group(1)]
            if in_string:
                out.append(json.dumps(value)[1:-1] if isinstance(value, str) else json.dumps(value).replace('"', '\\"'))
            else:
                out.append(json.dumps(value))
            index = match.end()
            continue
        if in_string and char == "\\" and not escaped:
            escaped = True
        else:
            if char == '"' and not escaped:
                in_string = not in_string
            escaped = False
        out.append(char)
        index += 1
    return "".join(out)


def target_input(target: dict[str, Any], event: dict[str, Any], rule_arn: str) -> str:
    """What EventBridge passes the target: Input, InputPath, InputTransformer, or the event itself."""
    if target.get("Input"):
        return target["Input"]
    if target.get("InputPath"):
        return json.dumps(_path_value(target["InputPath"], event))
    if target.get("InputTransformer"):
        return _transform(target["InputTransformer"], event, rule_arn)
    return json.dumps(event)


# --- deliveries ------------------------------------------------------------------------------------------


@dataclass
class Delivery:
    """One event offered to one state machine target, and what became of it."""

    rule_arn: str
    target_id: str
    target_arn: str
    event: dict[str, Any]
    input: str | None = None
    status: str = "PENDING"  # STARTED, FAILED (dropped) or DEAD_LETTERED
    execution_arn: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    attempts: int = 0
    dead_letter_error: str | None = None
    offered_at: float = field(default_factory=time.monotonic)
    history: list[str] = field(default_factory=list)


def _is_state_machine(arn: str) -> bool:
    return arn.split(":")[2:3] == ["states"] and ":stateMachine:" in arn


class EventRouter:
    """Delivers matched events to state machine targets on its own thread (see module doc)."""

    def __init__(self, sandbox_iam: iam.SandboxIam, region: str):
        self.iam = sandbox_iam
        self.region = region
        self.deliveries: list[Delivery] = []
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    def install(self) -> Callable[[], None]:
        """Patch moto's S3 → EventBridge notification and rule delivery, start the thread; returns the undo."""
        from moto.events.models import Rule
        from moto.s3 import notifications

        original_send = Rule.send_to_targets
        original_s3 = notifications._send_event_bridge_message
        router = self

        def send_to_targets(rule, event, transform_input=True):
            if getattr(rule, "state", "ENABLED") != "ENABLED" or not rule.event_pattern.matches_event(event):
                return None
            machines = [t for t in rule.targets if _is_state_machine(t.get("Arn", ""))]
            for target in machines:
                router.offer(rule.arn, copy.deepcopy(target), _normalized(copy.deepcopy(event)))
            others = [t for t in rule.targets if t not in machines]
            if others:
                clone = copy.copy(rule)
                clone.targets = others
                return original_send(clone, event, transform_input)
            return None

        def send_event_bridge_message(account_id, bucket, event_name, key):
            if "ObjectCreated" not in event_name:
                return original_s3(account_id, bucket, event_name, key)
            try:
                from moto.events.models import events_backends

                event = object_created_event(account_id, bucket, event_name, key)
                bus = events_backends[account_id][bucket.region_name].event_buses.get("default")
                for rule in list(bus.rules.values()) if bus else []:
                    rule.send_to_targets(event, transform_input=False)
            except Exception:  # noqa: BLE001 - asynchronous in AWS: never fails the PutObject (as moto)
                pass
            return None

        Rule.send_to_targets = send_to_targets
        notifications._send_event_bridge_message = send_event_bridge_message
        self._thread = threading.Thread(target=self._run, name="sandbox-eventbridge", daemon=True)
        self._thread.start()

        def undo() -> None:
            Rule.send_to_targets = original_send
            notifications._send_event_bridge_message = original_s3
            self._queue.put(_STOP)
            if self._thread is not None:
                self._thread.join(timeout=10)

        return undo

    def offer(self, rule_arn: str, target: dict[str, Any], event: dict[str, Any]) -> Delivery:
        """Queue ``event`` for ``target`` of ``rule_arn`` (returns its record, filled in later)."""
        delivery = Delivery(rule_arn, target.get("Id", ""), target["Arn"], event)
        with self._lock:
            self.deliveries.append(delivery)
        self._queue.put((delivery, target))
        return delivery

    def wait_idle(self, timeout_s: float = 30.0) -> list[Delivery]:
        """Wait until every offered event has been delivered or given up; all deliveries so far."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                raise TimeoutError(f"EventBridge deliveries still pending after {timeout_s}s")
            time.sleep(0.01)
        with self._lock:
            return list(self.deliveries)

    # -- delivering ------------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                delivery, target = item
                try:
                    self._deliver(delivery, target)
                except Exception as exc:  # noqa: BLE001 - a broken delivery is recorded, never kills the thread
                    delivery.status, delivery.error_code = "FAILED", "SDK_CLIENT_ERROR"
                    delivery.error_message = f"{type(exc).__name__}: {exc}"
            finally:
                self._queue.task_done()

    def _deliver(self, delivery: Delivery, target: dict[str, Any]) -> None:
        delivery.input = target_input(target, delivery.event, delivery.rule_arn)
        policy = target.get("RetryPolicy") or {}
        retries = int(policy.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES))
        max_age = int(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_S))
        try:
            credentials = self.iam.assume(
                target.get("RoleArn", ""), EVENTS, source_arn=delivery.rule_arn, session_name="events"
            )
        except iam.AssumeRoleRefused as refused:
            delivery.attempts = 1
            return self._undelivered(delivery, target, "NO_PERMISSIONS", str(refused), exhausted=None)
        sfn = self.iam.client_for(credentials, "stepfunctions", self.region, _ONE_ATTEMPT)
        while True:
            delivery.attempts += 1
            try:
                started = sfn.start_execution(
                    stateMachineArn=delivery.target_arn, name=str(uuid.uuid4()), input=delivery.input
                )
            except ClientError as exc:
                code = exc.response["Error"].get("Code", "")
                message = f"{code}: {exc.response['Error'].get('Message', '')}"
                delivery.history.append(message)
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
                if code in RETRIED or status >= 500:
                    if time.monotonic() - delivery.offered_at > max_age:
                        return self._undelivered(
                            delivery, target, RETRIED.get(code, "SDK_CLIENT_ERROR"), message, "MaximumEventAge"
                        )
                    if delivery.attempts <= retries:
                        time.sleep(min(0.01 * 2**delivery.attempts, 0.2))
                        continue
                    return self._undelivered(
                        delivery, target, RETRIED.get(code, "SDK_CLIENT_ERROR"), message, "MaximumRetryAttempts"
                    )
                return self._undelivered(delivery, target, NOT_RETRIED.get(code, "SDK_CLIENT_ERROR"), message, None)
            delivery.status, delivery.execution_arn = "STARTED", started["executionArn"]
            return None

    def _undelivered(self, delivery: Delivery, target: dict[str, Any], code: str, message: str, exhausted) -> None:
        delivery.status, delivery.error_code, delivery.error_message = "FAILED", code, message
        queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not queue_arn:
            return
        attributes = {
            "RULE_ARN": delivery.rule_arn,
            "TARGET_ARN": delivery.target_arn,
            "ERROR_CODE": code,
            "ERROR_MESSAGE": message[:1000],
            "RETRY_ATTEMPTS": str(delivery.attempts - 1),
        }
        if exhausted:
            attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
        try:
            self._send_dead_letter(queue_arn, delivery, attributes)
        except Exception as exc:  # noqa: BLE001 - the event is dropped, as AWS drops it
            delivery.dead_letter_error = f"{type(exc).__name__}: {exc}"
            return
        delivery.status = "DEAD_LETTERED"

    def _send_dead_letter(self, queue_arn: str, delivery: Delivery, attributes: dict[str, str]) -> None:
        """Send as EventBridge: only if the queue's policy lets events.amazonaws.com send from this rule."""
        account, name = queue_arn.split(":", 5)[4:]
        sqs = self.iam.client("sqs")
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {}).get("Policy")
        if not policy:
            raise PermissionError(f"queue {queue_arn} has no policy letting {EVENTS} send messages")
        context = trust_policy.request_context(EVENTS, self.iam.account, delivery.rule_arn)
        decision = trust_policy.evaluate(policy, EVENTS, context, action="sqs:SendMessage", resource=queue_arn)
        if not decision.allowed:
            self.iam.record_denial(EVENTS, "sqs:SendMessage", queue_arn, decision.reason)
            raise PermissionError(decision.reason)
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(delivery.event),
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )
