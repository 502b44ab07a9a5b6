"""Metering the sandbox: what functions, integrations, triggers and APIs asked of AWS while a window is open.

One hook per boundary, installed by ``Meter.install()`` (undone by what it returns):

- **AWS requests.** Every request any boto3 client in this process makes goes through moto's botocore
  stubber (``BotocoreStubber``, the ``before-send`` handler ``mock_aws`` registers for every client,
  the interpreter's included). The meter wraps it and records a request signed by anyone but the
  sandbox's operator: by a role a service assumed — a function's execution role, a state machine's
  role for its direct integrations, a schedule's, an EventBridge target's or an API integration's
  role (``infra/sandbox/iam.py``). The operator's calls (the deploy, the sandbox's and the tests'
  reads, the upload a scenario makes as a user would) are never counted. ``StartExecution`` is
  recorded whoever calls it (as ``Started``): the executions a scenario causes are what Step
  Functions bills.
- **Lambda.** ``lambda_runner.INVOCATION_LISTENERS``: each invocation with its function's configured
  memory and the handler's in-process run time, a lower bound of what Lambda bills (no cold start, no
  network latency to AWS services).
- **API Gateway.** ``http_api.REQUEST_LISTENERS``: each request an HTTP API answered, with its sizes.

DynamoDB requests are sized as DynamoDB bills them, per item (``dynamodb_units``): the item written
(and the one it replaced, read from the emulator before the write), the items read, eventually
consistent reads at half. Nothing is recorded outside ``with meter.window() as recording:``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from infra.sandbox import http_api, lambda_runner

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_KB = 1024
SNS_CHUNK = 64 * _KB


@dataclass(frozen=True)
class Request:
    """One AWS request signed by an assumed role: the service (botocore's id), the operation, who signed
    it, the emulator's status (0: sent elsewhere, a loopback fake), what it names and what it consumed."""

    service: str
    operation: str
    role_arn: str
    status: int
    target: str = ""
    units: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Invocation:
    """One Lambda invocation: its function, configured memory and architecture, the handler's run time."""

    function_name: str
    role_arn: str
    memory_mb: int
    architecture: str
    duration_s: float
    errored: bool
    log_bytes: int


@dataclass(frozen=True)
class ApiRequest:
    """One request an HTTP API answered."""

    api_id: str
    method: str
    path: str
    request_bytes: int
    status: int
    response_bytes: int


@dataclass(frozen=True)
class Started:
    """An execution started (by anyone): its ARN, its state machine's, and the role that started it ("" if
    the operator did)."""

    execution_arn: str
    state_machine_arn: str
    role_arn: str


@dataclass
class Recording:
    """What one window recorded, in order."""

    requests: list[Request] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)
    api_requests: list[ApiRequest] = field(default_factory=list)
    started: list[Started] = field(default_factory=list)


# --- DynamoDB sizes ---------------------------------------------------------------------------------


def value_size(value: dict[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value in its JSON form (``{"S": "abc"}``)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1  # one byte per two significant digits, plus one
    if kind == "B":
        return len(base64.b64decode(data)) if isinstance(data, str) else len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(item.encode("utf-8")) for item in data)
    if kind == "NS":
        return sum(value_size({"N": item}) for item in data)
    if kind == "BS":
        return sum(value_size({"B": item}) for item in data)
    if kind == "L":
        return 3 + sum(1 + value_size(item) for item in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + value_size(item) for name, item in data.items())
    raise ValueError(f"not a DynamoDB attribute value: {kind!r}")


def item_size(item: dict[str, dict[str, Any]] | None) -> int:
    """Bytes DynamoDB counts for an item: each attribute name's UTF-8 length plus its value's size."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in (item or {}).items())


def _write_units(size: int, transactional: bool = False) -> float:
    return max(1, math.ceil(size / _KB)) * (2 if transactional else 1)


def _read_units(size: int, consistent: bool, transactional: bool = False) -> float:
    units = max(1, math.ceil(size / (4 * _KB)))
    if transactional:
        return 2.0 * units
    return float(units) if consistent else units / 2


def dynamodb_units(
    operation: str, request: dict[str, Any], response: dict[str, Any], stored_before: int = 0, stored_after: int = 0
) -> dict[str, float]:
    """Read and write request units of one DynamoDB request, per item size, as on-demand bills them.

    A write is one WRU per KB (rounded up) of the larger of the item before and after it (1 KB at
    least, even when its condition fails); a read one RRU per 4 KB read, half for an eventually
    consistent read; a transaction twice either. Query and Scan are sized by the items they returned,
    scaled up by ScannedCount/Count when a filter dropped some (DynamoDB bills what it read).
    ``stored_before``/``stored_after``: the size of the item the request names, in the table before and
    after it (PutItem, UpdateItem, DeleteItem).
    """
    consistent = bool(request.get("ConsistentRead"))
    if operation == "GetItem":
        return {"rru": _read_units(item_size(response.get("Item")), consistent)}
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        written = item_size(request.get("Item")) if operation == "PutItem" else stored_after
        return {"wru": _write_units(max(written, stored_before))}
    if operation in ("Query", "Scan"):
        items = response.get("Items") or []
        size = sum(item_size(item) for item in items)
        count, scanned = response.get("Count", len(items)), response.get("ScannedCount", len(items))
        if count and scanned > count:
            size = size * scanned / count
        return {"rru": _read_units(math.ceil(size), consistent)}
    if operation == "BatchGetItem":
        wanted = request.get("RequestItems", {})
        rru = 0.0
        for table, items in (response.get("Responses") or {}).items():
            table_consistent = bool(wanted.get(table, {}).get("ConsistentRead"))
            rru += sum(_read_units(item_size(item), table_consistent) for item in items)
        return {"rru": rru}
    if operation == "BatchWriteItem":
        unprocessed = sum(len(v) for v in (response.get("UnprocessedItems") or {}).values())
        writes = [w for ws in (request.get("RequestItems") or {}).values() for w in ws]
        units = sum(_write_units(item_size(w["PutRequest"]["Item"])) if "PutRequest" in w else 1 for w in writes)
        return {"wru": max(0, units - unprocessed)}
    if operation == "TransactWriteItems":
        units = 0.0
        for entry in request.get("TransactItems", []):
            put = entry.get("Put")
            units += _write_units(item_size(put["Item"]) if put else 0, transactional=True)
        return {"wru": units}
    if operation == "TransactGetItems":
        answers = response.get("Responses") or []
        return {"rru": sum(_read_units(item_size(a.get("Item")), True, transactional=True) for a in answers)}
    return {}


# --- the meter --------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _json(value: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(_text(value) or "{}")
    except (json.JSONDecodeError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def access_key_of(headers: Any, url: str) -> str:
    """The access key a request was signed with (Authorization header or presigned query), or ""."""
    match = _CREDENTIAL.search(_text(headers.get("Authorization") or headers.get("authorization")))
    if match:
        return match.group(1)
    credential = parse_qs(urlsplit(url).query).get("X-Amz-Credential", [""])[0]
    return credential.split("/", 1)[0]


class Meter:
    """Counts what the sandbox's services do while a window is open (see the module doc)."""

    def __init__(self, account: str, region: str, operator_key: str):
        self.account, self.region, self.operator_key = account, region, operator_key
        self._recording: Recording | None = None
        self._lock = threading.Lock()
        self._roles: dict[str, str] = {}

    @classmethod
    def for_sandbox(cls, sandbox) -> Meter:
        """A meter for a started sandbox (its account, region and operator)."""
        return cls(sandbox.iam.account, sandbox.region, sandbox.iam.operator.access_key)

    # -- lifecycle -----------------------------------------------------------------------------------

    def install(self) -> Callable[[], None]:
        """Wrap moto's stubber and add the Lambda and API listeners; returns the undo."""
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

        original = BotocoreStubber.__call__
        if getattr(original, "_metered", False):
            raise RuntimeError("a meter is already installed in this process")
        meter = self

        def metered(stubber, event_name: str, request, **kwargs):
            # moto's own __call__, with the request and the emulator's answer shown to the meter.
            if not stubber.enabled:
                return None
            seen = meter._before(event_name, request)
            response = stubber.process_request(request)
            if seen is not None:
                meter._after(seen, response)
            if response is None:
                return None
            status, headers, body = response
            return AWSResponse(request.url, status, headers, MockRawResponse(body))

        metered._metered = True
        BotocoreStubber.__call__ = metered
        lambda_runner.INVOCATION_LISTENERS.append(self._invoked)
        http_api.REQUEST_LISTENERS.append(self._api_request)

        def undo() -> None:
            BotocoreStubber.__call__ = original
            lambda_runner.INVOCATION_LISTENERS.remove(self._invoked)
            http_api.REQUEST_LISTENERS.remove(self._api_request)

        return undo

    @contextlib.contextmanager
    def window(self) -> Iterator[Recording]:
        """Record from now until the block ends."""
        recording = Recording()
        with self._lock:
            if self._recording is not None:
                raise RuntimeError("a metering window is already open")
            self._recording = recording
        try:
            yield recording
        finally:
            with self._lock:
                self._recording = None

    def _add(self, kind: str, record: Any) -> None:
        with self._lock:
            if self._recording is not None:
                getattr(self._recording, kind).append(record)

    # -- who signed ----------------------------------------------------------------------------------

    def role_of(self, access_key: str) -> str:
        """The role whose temporary credentials ``access_key`` is ("" if it is no assumed role's)."""
        if access_key in self._roles:
            return self._roles[access_key]
        from moto.sts.models import sts_backends
        from moto.utilities.utils import get_partition

        assumed = sts_backends[self.account][get_partition(self.region)].get_assumed_role_from_access_key(access_key)
        role = assumed.role_arn if assumed is not None else ""
        if role:
            self._roles[access_key] = role
        return role

    # -- AWS requests --------------------------------------------------------------------------------

    def _before(self, event_name: str, request) -> dict[str, Any] | None:
        if self._recording is None:
            return None
        _, service, operation = [*event_name.split(".", 2), "", ""][:3]
        key = access_key_of(request.headers, request.url)
        operator = key == self.operator_key
        if operator and operation != "StartExecution":
            return None
        seen = {"service": service, "operation": operation, "role": "" if operator else self.role_of(key)}
        seen["operator"] = operator
        seen["body"] = request.body
        seen["url"] = request.url
        if service == "dynamodb" and operation in ("PutItem", "UpdateItem", "DeleteItem"):
            seen["before"] = self._stored_size(_json(request.body), operation)
        return seen

    def _after(self, seen: dict[str, Any], response: tuple | None) -> None:
        status, _, body = response if response is not None else (0, {}, b"")
        service, operation = seen["service"], seen["operation"]
        if service == "sfn" and operation == "StartExecution" and status == 200:
            machine = _json(seen["body"]).get("stateMachineArn", "")
            execution = _json(body).get("executionArn", "")
            self._add("started", Started(execution, machine, seen["role"]))
        if seen["operator"]:
            return
        request = _json(seen["body"]) if service not in ("s3", "sns") else {}
        target, units = "", {}
        if service == "dynamodb":
            target = str(request.get("TableName", ""))
            after = self._stored_size(request, operation) if operation == "UpdateItem" else 0
            if status == 200:
                units = dynamodb_units(operation, request, _json(body), seen.get("before", 0), after)
            elif operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"):
                units = {"wru": 1.0}  # a refused condition still consumes the write
        elif service == "sns":
            form = parse_qs(_text(seen["body"]))
            target = form.get("TopicArn", [""])[0]
            messages = [v[0] for name, v in form.items() if name == "Message" or name.endswith(".Message")]
            units = {"chunks": float(sum(max(1, math.ceil(len(m.encode()) / SNS_CHUNK)) for m in messages))}
        elif service == "eventbridge" and operation == "PutEvents":
            units = {"events": float(len(request.get("Entries", [])))}
        elif service == "secrets-manager":
            target = str(request.get("SecretId", ""))
        elif service == "s3":
            parts = urlsplit(seen["url"])
            host = parts.netloc.split(".")[0]
            target = parts.path.lstrip("/").split("/")[0] if host == "s3" else host
        elif service == "bedrock-runtime":
            path = urlsplit(seen["url"]).path
            target = unquote(path.split("/")[2]) if path.startswith("/model/") else ""
        self._add("requests", Request(service, operation, seen["role"], status, target, units))

    def _stored_size(self, request: dict[str, Any], operation: str) -> int:
        """The size of the item a write names, as the emulator holds it now (0 if none)."""
        try:
            from moto.dynamodb.models import dynamodb_backends
            from moto.dynamodb.models.dynamo_type import DynamoType

            table = dynamodb_backends[self.account][self.region].get_table(str(request["TableName"]).rsplit("/", 1)[-1])
            key = request["Item"] if operation == "PutItem" else request["Key"]
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            item = table.get_item(DynamoType(key[table.hash_key_attr]), range_key)
            return item_size(json.loads(json.dumps(item.to_json()["Attributes"], default=str))) if item else 0
        except Exception:  # noqa: BLE001 - a size the emulator cannot tell counts as none (1 unit at least)
            return 0

    # -- Lambda and API Gateway ----------------------------------------------------------------------

    def _invoked(self, fn, duration_s: float, errored: bool, logs: str) -> None:
        if self._recording is None:
            return
        architecture = (getattr(fn, "architectures", None) or ["x86_64"])[0]
        self._add(
            "invocations",
            Invocation(
                fn.function_name, fn.role, int(fn.memory_size), architecture, duration_s, errored, len(logs.encode())
            ),
        )

    def _api_request(self, api_id: str, method: str, path: str, sent: int, status: int, answered: int) -> None:
        self._add("api_requests", ApiRequest(api_id, method, path.split("?", 1)[0], sent, status, answered))
