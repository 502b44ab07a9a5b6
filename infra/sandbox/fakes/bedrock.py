"""Loopback fake of the Amazon Bedrock Runtime ``Converse`` API (``POST /model/{modelId}/converse``).

The pipelines ask a model for a JSON narrative of their numbers. Neither the sandbox nor the tests
can call Bedrock, and a real model would not answer the same twice, so this fake answers
deterministically from the prompt, following a convention the pipeline prompts keep:

    The LAST user message holds fenced ```json blocks: the FIRST is the data (any JSON), the
    LAST is the JSON Schema of the expected answer. The answer is JSON that validates against
    that schema, its strings citing names and numbers from the data ("S003 revenue 512.30, 5.1x
    usual, z 9.2"). One block only: a prose sentence about that data. None: a plain sentence.

Follows the documented contract otherwise: the ``output``/``stopReason``/``usage``/``metrics``
answer, ``stopReason: max_tokens`` with the text cut when ``inferenceConfig.maxTokens`` is too
small, and restJson errors (status + ``x-amzn-ErrorType`` + ``{"message"}``) that botocore turns
into ``ClientError`` with the right code: 403 for unsigned requests, 400 for an invalid body or an
unknown model, and on request the throttling, not-ready, unavailable and timeout answers.

moto's ``mock_aws`` lets calls to this fake through: its botocore stubber only answers URLs that
match a mocked service (``bedrock-runtime.<region>.amazonaws.com`` and the like) and returns
nothing for ``http://127.0.0.1:<port>``, so botocore sends those for real (tested). No passthrough
setting is needed; only listing the fake's address in ``MOTO_S3_CUSTOM_ENDPOINTS`` would make moto
take it for S3.

    with BedrockFake(models={"us.amazon.nova-lite-v1:0"}) as bedrock:
        bedrock.fail_next("throttle", times=2, match="trend")
        bedrock.fail_next("slow", delay=0.5)
        ... boto3.client("bedrock-runtime", endpoint_url=bedrock.url, ...).converse(...)
        assert [c.error_code for c in bedrock.calls] == [...]
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote

from infra.sandbox.fakes.base import FakeRequest, FakeResponse, LoopbackFake

# kind -> (status, error code, message); the messages are Bedrock's own where we know them.
ERRORS = {
    "throttle": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "not_ready": (429, "ModelNotReadyException", "Model is not ready to serve inference requests."),
    "unavailable": (503, "ServiceUnavailableException", "Service Unavailable. Please try your request again."),
    "model_timeout": (408, "ModelTimeoutException", "Model has timed out in processing the request."),
    "validation": (400, "ValidationException", "Input is too long for requested model."),
    "access_denied": (403, "AccessDeniedException", "You don't have access to the model with the specified model ID."),
}
# Kinds that still answer 200: cut JSON, chatty non-JSON, or a correct answer that takes long.
ANSWER_KINDS = ("max_tokens", "malformed", "slow")
KINDS = (*ERRORS, *ANSWER_KINDS)
MALFORMED_TEXT = "Sure! Here is the analysis: {oops"
PLAIN_ANSWER = "There is no data in the prompt to analyse, so there is nothing to report."
INVALID_MODEL = "The provided model identifier is invalid."
CHARS_PER_TOKEN = 4  # Bedrock's rule of thumb; good enough for usage figures and the max_tokens cut

_ROUTE = re.compile(r"^/model/([^/]+)/converse$")
_FENCED_JSON = re.compile(r"```json[ \t]*\r?\n(.*?)```", re.DOTALL)


@dataclass
class BedrockCall:
    """What one Converse call asked and how the fake answered (``stop_reason`` None on errors)."""

    model_id: str
    prompt: str  # system and message texts, newline-joined: what ``match`` is looked for in
    status: int
    stop_reason: str | None = None
    error_code: str | None = None
    usage: dict | None = None
    injected: str | None = None  # the fail_next kind applied, if any


@dataclass
class _Failure:
    kind: str
    match: str | None
    remaining: int | None  # None: every matching request until cleared
    delay: float


# -- the answer generator ----------------------------------------------------------------------
def fenced_json_blocks(text: str) -> list[str]:
    """The bodies of the ```json fenced blocks in ``text``, in order."""
    return [m.group(1) for m in _FENCED_JSON.finditer(text)]


def answer_for(user_text: str) -> str:
    """The model's answer to a prompt that follows the convention in the module docstring."""
    blocks = fenced_json_blocks(user_text)
    if not blocks:
        return PLAIN_ANSWER
    data = _loads(blocks[0])
    schema = _loads(blocks[-1]) if len(blocks) > 1 else None
    if not isinstance(schema, dict):
        return sentence(data) + "."
    return json.dumps(generate(schema, data))


def _loads(text: str):
    # A block that is not JSON is still data (a model reads it as text); as a schema it is ignored.
    try:
        return json.loads(text)
    except ValueError:
        return text.strip()


def generate(schema: dict, context, name: str = ""):
    """A value valid against ``schema``, taken from ``context`` (the data, or one item of it).

    ``name`` is the property being filled: a data key of that name is used when its type fits.
    """
    if "const" in schema:
        return schema["const"]
    found = _lookup(context, name)
    if "enum" in schema:
        return found if found in schema["enum"] else schema["enum"][0]
    kind = _type_of(schema)
    if kind in ("object", "array") and isinstance(found, dict | list):
        context = found  # {"anomalies": [...]} in the data feeds an "anomalies" property
    if kind == "object":
        properties = schema.get("properties", {})
        names = [*properties, *(key for key in schema.get("required", []) if key not in properties)]
        return {key: generate(properties.get(key, {}), context, key) for key in names}
    if kind == "array":
        return _array(schema, context)
    if kind in ("number", "integer"):
        value = found if _is_number(found) else next(_numbers(context), 0)
        value = round(value) if kind == "integer" else value
        return min(max(value, schema.get("minimum", value)), schema.get("maximum", value))
    if kind == "boolean":
        return found if isinstance(found, bool) else True
    if kind == "null":
        return None
    return _fit(found if isinstance(found, str) else sentence(context) + ".", schema.get("maxLength"))


def _fit(text: str, limit: int | None) -> str:
    # Cut to maxLength with an ellipsis, as a model asked for brevity would end mid-thought.
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…" if limit > 0 else ""


def _type_of(schema: dict) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):  # ["string", "null"]: answer the useful one
        kind = next((k for k in kind if k != "null"), "null")
    if kind:
        return kind
    return "object" if "properties" in schema else "array" if "items" in schema else "string"


def _array(schema: dict, context) -> list:
    # One item per element of the data's first list, within minItems..maxItems (cycling if short).
    source = first_list(context)
    pool = source or [context]
    count = len(source) if source is not None else 1
    count = max(count, schema.get("minItems", 0))
    count = min(count, schema.get("maxItems", count))
    item_schema = schema.get("items", {})
    return [generate(item_schema if isinstance(item_schema, dict) else {}, pool[i % len(pool)]) for i in range(count)]


def _lookup(context, name: str):
    # "storeId" finds storeId, StoreID or store_id: prompt writers and schemas rarely agree on case.
    if not name or not isinstance(context, dict):
        return None
    wanted = _norm(name)
    return next((value for key, value in context.items() if _norm(key) == wanted), None)


def _norm(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numbers(value) -> Iterator[float]:
    if _is_number(value):
        yield value
    elif isinstance(value, dict | list):
        for child in value.values() if isinstance(value, dict) else value:
            yield from _numbers(child)


def first_list(value) -> list | None:
    """The first list in ``value``: itself, a direct child, or else the first nested one."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for child in value.values():  # a list right here beats one nested deeper
            if isinstance(child, list):
                return child
        for child in value.values():
            if (found := first_list(child)) is not None:
                return found
    return None


# How a few common keys read in prose; any other number reads "<key> <value>".
_FIGURES = {
    "value": "{n}",
    "ratio": "{v:.1f}x usual",
    "zscore": "z {v:.1f}",
    "change": "change {v:+.2f}",
    "changepct": "{v:+.1f}%",
}


def fact(record: dict) -> str:
    """``record``'s short strings then its numbers: "S003 revenue 512.30, baseline 100.20, z 9.2"."""
    labels = [value for value in record.values() if isinstance(value, str) and len(value) <= 40][:3]
    figures = [_figure(key, value) for key, value in record.items() if _is_number(value)]
    return " ".join(filter(None, [" ".join(labels), ", ".join(figures)]))


def _figure(key: str, value) -> str:
    template = _FIGURES.get(_norm(key))
    return template.format(v=value, n=_number_text(value)) if template else f"{key} {_number_text(value)}"


def _number_text(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def sentence(value) -> str:
    """A prose summary of ``value``: its own figures, then its first list's first three items (or nested objects)."""
    if isinstance(value, dict):
        items = first_list(value)
        nested = [sentence(child) for child in value.values() if isinstance(child, dict)]
        listing = sentence(items) if items else "; ".join(nested)
        return "; ".join(filter(None, [fact(value), listing])) or "no figures"
    if isinstance(value, list):
        parts = [sentence(item) for item in value[:3]]
        return f"{len(value)} items: " + "; ".join(parts) if value else "no items"
    return _number_text(value) if _is_number(value) else str(value)


# -- the request ---------------------------------------------------------------------------------
def converse_problem(body) -> str | None:
    """Why ``body`` is not a valid Converse request (in Bedrock's wording), or None."""
    if not isinstance(body, dict):
        return "Malformed input request: the body must be a JSON object."
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _invalid("messages", messages, "Member must have length greater than or equal to 1")
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            return _invalid(f"messages.{i}.role", role, "Member must satisfy enum value set: [user, assistant]")
        problem = _text_blocks_problem(message.get("content"), f"messages.{i}.content")
        if problem:
            return problem
    if messages[0]["role"] != "user":
        return "A conversation must start with a user message."
    if "system" in body:
        problem = _text_blocks_problem(body["system"], "system")
        if problem:
            return problem
    config = body.get("inferenceConfig", {})
    if not isinstance(config, dict):
        return _invalid("inferenceConfig", config, "Member must be an object")
    max_tokens = config.get("maxTokens", 1)
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return _invalid("inferenceConfig.maxTokens", max_tokens, "Member must be an integer greater than or equal to 1")
    for key in ("temperature", "topP"):
        value = config.get(key, 0)
        if not _is_number(value) or not 0 <= value <= 1:
            return _invalid(f"inferenceConfig.{key}", value, "Member must be a number between 0 and 1")
    return None


def _text_blocks_problem(blocks, where: str) -> str | None:
    if not isinstance(blocks, list) or not blocks:
        return _invalid(where, blocks, "Member must have length greater than or equal to 1")
    for j, block in enumerate(blocks):
        # Bedrock also takes image, document and tool blocks; the pipelines send text only.
        if not isinstance(block, dict) or not isinstance(block.get("text"), str):
            return _invalid(f"{where}.{j}.text", None, "Member must not be null (this fake serves text blocks only)")
    return None


def _invalid(field: str, value, constraint: str) -> str:
    return f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"


def prompt_text(body: dict) -> str:
    """Every text the model reads (system first), newline-joined."""
    texts = [block["text"] for block in body.get("system", [])]
    texts += [block["text"] for message in body["messages"] for block in message["content"]]
    return "\n".join(texts)


def _last_user_text(body: dict) -> str:
    user = [message for message in body["messages"] if message["role"] == "user"][-1]
    return "\n".join(block["text"] for block in user["content"])


def _tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


# -- the fake --------------------------------------------------------------------------------------
class BedrockFake(LoopbackFake):
    """Bedrock Runtime ``Converse`` on loopback, for ``models`` (None: any model id)."""

    def __init__(self, models: set[str] | frozenset[str] | None = None):
        super().__init__()
        self.models = frozenset(models) if models is not None else None
        self.calls: list[BedrockCall] = []
        self._failures: list[_Failure] = []
        self._failures_lock = threading.Lock()

    # -- misbehaviour ---------------------------------------------------------------------------
    def fail_next(self, kind: str, times: int | None = 1, match: str | None = None, *, delay: float = 2.0) -> None:
        """Answer the next ``times`` valid requests whose prompt contains ``match`` with ``kind``.

        ``times=None``: every matching request until ``clear_failures``; ``match=None``: any
        request. ``delay`` is how long ``"slow"`` waits. Queued failures apply in order, each to
        requests that passed the signature, body and model checks.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; expected one of {', '.join(KINDS)}")
        if times is not None and times < 1:
            raise ValueError("times must be a positive count, or None for every request")
        with self._failures_lock:
            self._failures.append(_Failure(kind, match, times, delay))

    def clear_failures(self) -> None:
        """Forget every queued failure."""
        with self._failures_lock:
            self._failures.clear()

    def reset(self) -> None:
        """Forget failures, requests and calls (a fake shared between tests)."""
        self.clear_failures()
        with self._lock:
            self.requests.clear()
            self.calls.clear()

    def _take_failure(self, prompt: str) -> _Failure | None:
        # Under one lock, so concurrent callers (a Parallel state) never share a times=1 failure.
        with self._failures_lock:
            for failure in self._failures:
                if failure.match is not None and failure.match not in prompt:
                    continue
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining == 0:
                        self._failures.remove(failure)
                return failure
        return None

    # -- serving ------------------------------------------------------------------------------
    def handle(self, request: FakeRequest) -> FakeResponse:
        route = _ROUTE.match(request.path)
        model_id = unquote(route.group(1)) if route else ""
        call = BedrockCall(model_id=model_id, prompt="", status=0)
        if request.method != "POST" or route is None:
            return self._error(call, 404, "UnknownOperationException", "The requested operation is not recognized.")
        # botocore always signs; a missing SigV4 header means a hand-made or misconfigured caller.
        if not request.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "):
            return self._error(call, 403, "AccessDeniedException", "Missing Authentication Token")
        try:
            body = request.json()
        except ValueError:
            return self._error(call, 400, "ValidationException", "Malformed input request: the body is not JSON.")
        problem = converse_problem(body)
        if problem:
            return self._error(call, 400, "ValidationException", problem)
        call.prompt = prompt_text(body)
        if not self._knows(model_id):
            return self._error(call, 400, "ValidationException", INVALID_MODEL)
        failure = self._take_failure(call.prompt)
        call.injected = failure.kind if failure else None
        if failure is not None and failure.kind in ERRORS:
            return self._error(call, *ERRORS[failure.kind])
        return self._answer(call, body, failure)

    def _knows(self, model_id: str) -> bool:
        # An ARN names the model or inference profile after its last "/".
        return self.models is None or model_id in self.models or model_id.rsplit("/", 1)[-1] in self.models

    def _answer(self, call: BedrockCall, body: dict, failure: _Failure | None) -> FakeResponse:
        text = answer_for(_last_user_text(body))
        stop_reason = "end_turn"
        max_tokens = body.get("inferenceConfig", {}).get("maxTokens")
        if failure is not None and failure.kind == "malformed":
            text = MALFORMED_TEXT
        elif failure is not None and failure.kind == "max_tokens":
            text, stop_reason = text[: max(len(text) // 2, 1)], "max_tokens"
        elif max_tokens is not None and _tokens(text) > max_tokens:
            text, stop_reason = text[: max_tokens * CHARS_PER_TOKEN], "max_tokens"
        delay = failure.delay if failure is not None and failure.kind == "slow" else 0.0
        usage = {"inputTokens": _tokens(call.prompt), "outputTokens": _tokens(text)}
        usage["totalTokens"] = usage["inputTokens"] + usage["outputTokens"]
        call.status, call.stop_reason, call.usage = 200, stop_reason, usage
        self._record(call)
        answer = {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": stop_reason,
            "usage": usage,
            # Made up but stable: a fixed overhead plus a per-token cost, plus any injected wait.
            "metrics": {"latencyMs": 120 + 5 * usage["outputTokens"] + round(delay * 1000)},
        }
        return FakeResponse(200, answer, headers=self._request_id(body), delay=delay)

    def _error(self, call: BedrockCall, status: int, code: str, message: str) -> FakeResponse:
        call.status, call.error_code = status, code
        self._record(call)
        # restJson errors: botocore reads the code from x-amzn-ErrorType, the message from the body.
        return FakeResponse(status, {"message": message}, headers={"x-amzn-ErrorType": code})

    def _record(self, call: BedrockCall) -> None:
        with self._lock:
            self.calls.append(call)

    @staticmethod
    def _request_id(body: dict) -> dict:
        # Derived from the body, not random, so identical requests answer byte-identically.
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        return {"x-amzn-RequestId": f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"}
