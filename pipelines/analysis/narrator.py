"""Bedrock (Converse) writes the prose of findings the statistics already computed.

``Narrator.ask(prompt, date, data, schema)`` renders a versioned prompt file
(``prompts/<name>.v<N>.txt``) with the data and the answer's JSON Schema, calls Converse and
checks the answer against the schema. Failures are named so the state machine can act on them:

- ThrottlingException, ModelNotReadyException, ServiceUnavailableException, ModelTimeoutException,
  InternalServerException and connection failures → BedrockUnavailableError, which Step Functions
  retries with backoff and full jitter (the client itself makes one attempt, so retries are not
  multiplied);
- ValidationException, AccessDeniedException and any other refusal → BedrockRequestError, never
  retried;
- ``stopReason: max_tokens`` or an answer that is not JSON of the schema → asked once more (with
  twice the tokens, or told what was wrong), then NarrativeUnusableError.

Token usage of every call, the repeated one included, is added up in ``usage``.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastjsonschema
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.analysis.errors import BedrockRequestError, BedrockUnavailableError, NarrativeUnusableError
from pipelines.common.aws import client
from pipelines.common.errors import bounded_message

PROMPTS = Path(__file__).parent / "prompts"
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ModelNotReadyException",
        "ServiceUnavailableException",
        "ModelTimeoutException",
        "InternalServerException",
    }
)
# Step Functions owns the retries; a model may take a while to write a few hundred tokens.
BEDROCK_CLIENT_CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60)
SYSTEM = "You explain computed retail statistics. You answer with one JSON document and nothing else."
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)
_PLACEHOLDER = re.compile(r"\{(date|data|schema)\}")


@dataclass
class Usage:
    """Tokens and calls spent on one section."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, usage: dict[str, Any]) -> None:
        self.calls += 1
        self.input_tokens += int(usage.get("inputTokens", 0))
        self.output_tokens += int(usage.get("outputTokens", 0))

    def to_dict(self) -> dict[str, int]:
        return {"calls": self.calls, "inputTokens": self.input_tokens, "outputTokens": self.output_tokens}


def render_prompt(name: str, date: str, data: Any, schema: dict[str, Any]) -> str:
    """The prompt file ``name`` (e.g. ``anomalies.v1``) with the date, the data and the answer's schema."""
    template = (PROMPTS / f"{name}.txt").read_text(encoding="utf-8")
    # One pass over the template, not str.format (the data and schema are JSON, full of braces) nor
    # chained replace (a value in the data spelling "{schema}" would receive the schema).
    values = {
        "date": date,
        "data": json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True),
        "schema": json.dumps(schema, indent=1, sort_keys=True),
    }
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def parse_answer(text: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The answer as JSON of ``schema`` (a surrounding ```json fence is tolerated); ValueError saying why not."""
    fenced = _FENCE.match(text)
    try:
        answer = json.loads(fenced.group(1) if fenced else text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the answer is not JSON ({exc.msg} at character {exc.pos})") from None
    try:
        _validator(json.dumps(schema, sort_keys=True))(answer)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise ValueError(f"the answer does not match its schema: {exc.message}") from None
    return answer


@functools.cache
def _validator(schema_text: str):
    # Compiling a schema generates code: once per schema and container, not per answer.
    return fastjsonschema.compile(json.loads(schema_text))


@dataclass
class Narrator:
    """One model, called through Converse."""

    model_id: str
    max_tokens: int = 1024
    endpoint_url: str | None = None
    usage: Usage = field(default_factory=Usage)

    def _converse(self, prompt: str, max_tokens: int) -> dict[str, Any]:
        bedrock = client("bedrock-runtime", endpoint_url=self.endpoint_url, config=BEDROCK_CLIENT_CONFIG)
        try:
            response = bedrock.converse(
                modelId=self.model_id,
                system=[{"text": SYSTEM}],
                messages=[{"role": "user", "content": [{"text": prompt}]}],
                inferenceConfig={"maxTokens": max_tokens, "temperature": 0.2},
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "Unknown"), bounded_message(error.get("Message", ""), 200)
            if code in RETRYABLE_CODES:
                raise BedrockUnavailableError(f"Bedrock {code}: {message}") from None
            raise BedrockRequestError(f"Bedrock {code} for model {self.model_id}: {message}") from None
        except BotoCoreError as exc:
            raise BedrockUnavailableError(f"Bedrock unreachable: {type(exc).__name__}") from None
        self.usage.add(response.get("usage", {}))
        return response

    @staticmethod
    def _text(response: dict[str, Any]) -> str:
        content = response.get("output", {}).get("message", {}).get("content", [])
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))

    def ask(self, prompt_name: str, date: str, data: Any, schema: dict[str, Any]) -> dict[str, Any]:
        """The model's answer to the prompt, checked against ``schema``; one bounded retry on a bad answer."""
        prompt = render_prompt(prompt_name, date, data, schema)
        max_tokens, correction, problem = self.max_tokens, "", ""
        for _attempt in (1, 2):
            response = self._converse(f"{prompt}{correction}", max_tokens)
            if response.get("stopReason") == "max_tokens":
                problem = f"stopped at maxTokens={max_tokens} before the answer was complete"
                max_tokens *= 2  # the same question, with room to finish
                continue
            try:
                return parse_answer(self._text(response), schema)
            except ValueError as exc:
                problem = str(exc)
                correction = f"\n\nYour previous answer was unusable: {exc}. Answer with the JSON only."
        raise NarrativeUnusableError(f"{prompt_name}: {bounded_message(problem, 300)} (after one retry)")
