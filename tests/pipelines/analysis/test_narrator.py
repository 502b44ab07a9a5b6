"""The Bedrock narrator: prompt rendering, answer checking, and Converse's failures as named pipeline errors.

Malformed input: ``parse_answer`` raises ``ValueError`` saying whether the text was not JSON or
which schema rule it broke; ``Narrator.ask`` turns Bedrock's failures into
``BedrockUnavailableError`` (retryable by Step Functions), ``BedrockRequestError`` (not
retryable) or, after one repeated question, ``NarrativeUnusableError`` (not retryable).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

import pipelines.analysis.narrator as narrator_module
from pipelines.analysis.answers import NARRATIVE, RECOMMENDATIONS
from pipelines.analysis.errors import (
    BEDROCK_ERRORS,
    BedrockRequestError,
    BedrockUnavailableError,
    NarrativeUnusableError,
)
from pipelines.analysis.handlers import PROMPT_VERSIONS
from pipelines.analysis.narrator import (
    BEDROCK_CLIENT_CONFIG,
    PROMPTS,
    SYSTEM,
    Narrator,
    parse_answer,
    render_prompt,
)
from pipelines.common.errors import NonRetryableError, RetryableError

PROMPT_FILES = sorted(path.stem for path in PROMPTS.glob("*.txt"))
JSON_BLOCK = re.compile(r"```json\n(.*?)\n```", re.S)
DATA = [{"kind": "store", "id": "S001", "currency": "EUR", "value": 540250, "median": 84009, "note": "{a: {b}}"}]
GOOD = {"summary": "Store S001 sold six times its usual revenue.", "highlights": ["S001: 5,402.50 EUR"]}


# --- prompt files -------------------------------------------------------------------------------------


def test_prompt_directory_holds_prompt_files():
    assert len(PROMPT_FILES) >= 3


@pytest.mark.parametrize("name", sorted(PROMPT_VERSIONS.values()))
def test_every_prompt_version_the_handlers_use_exists_as_a_file(name):
    assert (Path(narrator_module.__file__).parent / "prompts" / f"{name}.txt").is_file()


@pytest.mark.parametrize("section", sorted(PROMPT_VERSIONS))
def test_prompt_versions_are_named_after_their_section(section):
    assert PROMPT_VERSIONS[section].startswith(f"{section}.v")


@pytest.mark.parametrize("name", PROMPT_FILES)
def test_every_prompt_file_renders_with_date_data_and_schema(name):
    text = render_prompt(name, "2026-11-20", DATA, NARRATIVE)
    assert "2026-11-20" in text
    for placeholder in ("{date}", "{data}", "{schema}"):
        assert placeholder not in text


@pytest.mark.parametrize("name", PROMPT_FILES)
def test_every_prompt_has_exactly_two_json_blocks_data_first_schema_last(name):
    text = render_prompt(name, "2026-11-20", DATA, RECOMMENDATIONS)
    assert text.count("```json") == 2
    blocks = JSON_BLOCK.findall(text)
    assert len(blocks) == 2
    assert json.loads(blocks[0]) == DATA
    assert json.loads(blocks[1]) == RECOMMENDATIONS
    assert text.rstrip().endswith("```")


def test_rendered_data_json_keeps_its_braces_and_non_ascii_text():
    data = {"store": "Zürich {Bahnhof}", "nested": {"empty": {}, "list": [{"a": 1}]}}
    blocks = JSON_BLOCK.findall(render_prompt("trends.v1", "2026-11-20", data, NARRATIVE))
    assert json.loads(blocks[0]) == data
    assert "Zürich" in blocks[0]


def test_placeholders_inside_the_data_are_not_substituted():
    # The data is inserted verbatim: a value spelling a placeholder must not receive the schema or the date.
    data = {"note": "{schema} {data} {date}"}
    blocks = JSON_BLOCK.findall(render_prompt("anomalies.v1", "2026-11-20", data, NARRATIVE))
    assert len(blocks) == 2
    assert json.loads(blocks[0]) == data


def test_render_prompt_of_an_unknown_prompt_name_fails():
    with pytest.raises(FileNotFoundError):
        render_prompt("anomalies.v999", "2026-11-20", DATA, NARRATIVE)


# --- parse_answer -------------------------------------------------------------------------------------


def test_parse_answer_accepts_plain_json_of_the_schema():
    assert parse_answer(json.dumps(GOOD), NARRATIVE) == GOOD


@pytest.mark.parametrize(
    "text",
    [
        f"```json\n{json.dumps(GOOD)}\n```",
        f"```\n{json.dumps(GOOD)}\n```",
        f"  ```json {json.dumps(GOOD, indent=2)} ```  \n",
    ],
)
def test_parse_answer_accepts_json_in_a_code_fence(text):
    assert parse_answer(text, NARRATIVE) == GOOD


@pytest.mark.parametrize(
    "text",
    ["", "Here is the JSON you asked for:", f"Sure! {json.dumps(GOOD)}", '{"summary": "cut off', "```json\n{\n```"],
)
def test_parse_answer_refuses_text_that_is_not_json(text):
    with pytest.raises(ValueError, match="not JSON"):
        parse_answer(text, NARRATIVE)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"summary": "s"}, "highlights"),
        ({"summary": "", "highlights": []}, "summary"),
        ({"summary": "s", "highlights": [], "confidence": 0.9}, "confidence"),
        ({"summary": "s", "highlights": ["x"] * 9}, "highlights"),
        ([GOOD], "object"),
    ],
)
def test_parse_answer_refuses_json_that_breaks_the_schema_naming_the_problem(answer, problem):
    with pytest.raises(ValueError, match="does not match its schema") as caught:
        parse_answer(json.dumps(answer), NARRATIVE)
    assert problem in str(caught.value)


def test_parse_answer_refuses_an_empty_recommendation_list():
    with pytest.raises(ValueError, match="recommendations"):
        parse_answer('{"recommendations": []}', RECOMMENDATIONS)


# --- Narrator.ask against a scripted Converse ---------------------------------------------------------


def reply(document: Any = GOOD, *, stop: str = "end_turn", tokens: tuple[int, int] = (100, 20)) -> dict[str, Any]:
    text = document if isinstance(document, str) else json.dumps(document)
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": stop,
        "usage": {"inputTokens": tokens[0], "outputTokens": tokens[1], "totalTokens": sum(tokens)},
    }


def refusal(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "Converse")


class FakeBedrock:
    """Converse answering from a script: a response dict is returned, an exception raised."""

    def __init__(self, script: list[Any]):
        self.script = list(script)
        self.calls: list[dict[str, Any]] = []

    def converse(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step

    def prompt(self, call: int) -> str:
        return self.calls[call]["messages"][0]["content"][0]["text"]


@pytest.fixture
def bedrock(monkeypatch):
    """``bedrock(*script)`` installs a FakeBedrock as the narrator's client and returns it."""
    created: list[tuple[tuple, dict]] = []

    def install(*script: Any) -> FakeBedrock:
        fake = FakeBedrock(list(script))

        def client(*args: Any, **kwargs: Any) -> FakeBedrock:
            created.append((args, kwargs))
            return fake

        monkeypatch.setattr(narrator_module, "client", client)
        fake.created = created  # type: ignore[attr-defined]
        return fake

    return install


def ask(narrator: Narrator, schema: dict[str, Any] = NARRATIVE) -> dict[str, Any]:
    return narrator.ask("anomalies.v1", "2026-11-20", DATA, schema)


def test_ask_returns_the_checked_answer_after_one_call(bedrock):
    fake = bedrock(reply())
    narrator = Narrator("model-a")
    assert ask(narrator) == GOOD
    assert len(fake.calls) == 1
    assert narrator.usage.to_dict() == {"calls": 1, "inputTokens": 100, "outputTokens": 20}


def test_ask_accepts_a_fenced_answer(bedrock):
    bedrock(reply(f"```json\n{json.dumps(GOOD)}\n```"))
    assert ask(Narrator("model-a")) == GOOD


def test_ask_joins_an_answer_split_over_several_content_parts(bedrock):
    text = json.dumps(GOOD)
    response = reply()
    response["output"]["message"]["content"] = [{"text": text[:10]}, {"text": text[10:]}]
    bedrock(response)
    assert ask(Narrator("model-a")) == GOOD


def test_request_carries_model_system_prompt_and_max_tokens(bedrock):
    fake = bedrock(reply())
    ask(Narrator("eu.anthropic.model-x", max_tokens=700))
    call = fake.calls[0]
    assert call["modelId"] == "eu.anthropic.model-x"
    assert call["system"] == [{"text": SYSTEM}]
    assert call["inferenceConfig"]["maxTokens"] == 700
    assert call["messages"][0]["role"] == "user"
    assert fake.prompt(0) == render_prompt("anomalies.v1", "2026-11-20", DATA, NARRATIVE)


def test_client_is_bedrock_runtime_with_one_attempt_and_the_endpoint(bedrock):
    fake = bedrock(reply())
    ask(Narrator("model-a", endpoint_url="http://127.0.0.1:4010"))
    (args, kwargs), *_ = fake.created
    assert args == ("bedrock-runtime",)
    assert kwargs["endpoint_url"] == "http://127.0.0.1:4010"
    assert kwargs["config"] is BEDROCK_CLIENT_CONFIG
    assert BEDROCK_CLIENT_CONFIG.retries == {"total_max_attempts": 1}  # Step Functions owns the retries


@pytest.mark.parametrize(
    "code",
    [
        "ThrottlingException",
        "ModelNotReadyException",
        "ServiceUnavailableException",
        "ModelTimeoutException",
        "InternalServerException",
    ],
)
def test_transient_bedrock_refusal_is_bedrock_unavailable_after_one_call(bedrock, code):
    fake = bedrock(refusal(code), reply())  # a second call would succeed: there must be none
    narrator = Narrator("model-a")
    with pytest.raises(BedrockUnavailableError, match=code):
        ask(narrator)
    assert len(fake.calls) == 1
    assert narrator.usage.to_dict() == {"calls": 0, "inputTokens": 0, "outputTokens": 0}


@pytest.mark.parametrize("code", ["ValidationException", "AccessDeniedException", "ResourceNotFoundException"])
def test_refused_request_is_bedrock_request_error_naming_code_and_model_after_one_call(bedrock, code):
    fake = bedrock(refusal(code), reply())
    with pytest.raises(BedrockRequestError) as caught:
        ask(Narrator("model-a"))
    assert code in str(caught.value)
    assert "model-a" in str(caught.value)
    assert len(fake.calls) == 1


def test_client_error_without_a_code_is_a_request_error(bedrock):
    bedrock(ClientError({"Error": {}}, "Converse"))
    with pytest.raises(BedrockRequestError, match="Unknown"):
        ask(Narrator("model-a"))


def test_long_bedrock_error_message_is_cut_in_the_raised_error(bedrock):
    bedrock(ClientError({"Error": {"Code": "ValidationException", "Message": "x" * 10_000}}, "Converse"))
    with pytest.raises(BedrockRequestError) as caught:
        ask(Narrator("model-a"))
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(
    "failure",
    [EndpointConnectionError(endpoint_url="x"), ReadTimeoutError(endpoint_url="x")],
    ids=["connection", "read-timeout"],
)
def test_connection_failure_is_bedrock_unavailable_after_one_call(bedrock, failure):
    fake = bedrock(failure, reply())
    with pytest.raises(BedrockUnavailableError, match=type(failure).__name__):
        ask(Narrator("model-a"))
    assert len(fake.calls) == 1


def test_error_classes_are_retryable_or_not_as_step_functions_needs():
    assert issubclass(BedrockUnavailableError, RetryableError)
    assert issubclass(BedrockRequestError, NonRetryableError)
    assert issubclass(NarrativeUnusableError, NonRetryableError)
    assert not issubclass(BedrockRequestError, RetryableError)
    assert not issubclass(NarrativeUnusableError, RetryableError)
    assert set(BEDROCK_ERRORS) == {BedrockUnavailableError, BedrockRequestError, NarrativeUnusableError}


def test_answer_cut_at_max_tokens_is_asked_again_with_twice_the_tokens(bedrock):
    fake = bedrock(reply('{"summary": "Store S0', stop="max_tokens", tokens=(100, 512)), reply(tokens=(100, 30)))
    narrator = Narrator("model-a", max_tokens=512)
    assert ask(narrator) == GOOD
    assert [c["inferenceConfig"]["maxTokens"] for c in fake.calls] == [512, 1024]
    assert fake.prompt(1) == fake.prompt(0)  # the same question, with room to finish


def test_answer_cut_at_max_tokens_twice_is_unusable(bedrock):
    fake = bedrock(reply(stop="max_tokens"), reply(stop="max_tokens"), reply())
    with pytest.raises(NarrativeUnusableError) as caught:
        ask(Narrator("model-a", max_tokens=256))
    assert len(fake.calls) == 2
    assert "anomalies.v1" in str(caught.value)
    assert "maxTokens=512" in str(caught.value)


def test_malformed_answer_is_asked_again_with_what_was_wrong(bedrock):
    fake = bedrock(reply("I think the stores did well."), reply())
    narrator = Narrator("model-a", max_tokens=512)
    assert ask(narrator) == GOOD
    assert len(fake.calls) == 2
    assert "Your previous answer was unusable" not in fake.prompt(0)
    assert "Your previous answer was unusable" in fake.prompt(1)
    assert "not JSON" in fake.prompt(1)
    assert fake.prompt(1).startswith(fake.prompt(0))
    assert [c["inferenceConfig"]["maxTokens"] for c in fake.calls] == [512, 512]


def test_answer_breaking_the_schema_is_asked_again_naming_the_rule(bedrock):
    fake = bedrock(reply({"summary": "s"}), reply())
    assert ask(Narrator("model-a")) == GOOD
    assert "does not match its schema" in fake.prompt(1)
    assert "highlights" in fake.prompt(1)


def test_malformed_answer_twice_is_unusable_naming_the_problem(bedrock):
    fake = bedrock(reply("no"), reply({"summary": "s"}), reply())
    with pytest.raises(NarrativeUnusableError) as caught:
        ask(Narrator("model-a"))
    assert len(fake.calls) == 2
    assert "does not match its schema" in str(caught.value)
    assert "after one retry" in str(caught.value)


def test_usage_is_summed_over_both_calls(bedrock):
    bedrock(reply("no", tokens=(1200, 40)), reply(tokens=(1300, 85)))
    narrator = Narrator("model-a")
    ask(narrator)
    assert narrator.usage.to_dict() == {"calls": 2, "inputTokens": 2500, "outputTokens": 125}


def test_usage_counts_the_calls_of_an_unusable_answer_too(bedrock):
    bedrock(reply(stop="max_tokens", tokens=(10, 1024)), reply(stop="max_tokens", tokens=(10, 2048)))
    narrator = Narrator("model-a")
    with pytest.raises(NarrativeUnusableError):
        ask(narrator)
    assert narrator.usage.to_dict() == {"calls": 2, "inputTokens": 20, "outputTokens": 3072}


def test_failure_on_the_repeated_call_is_raised_as_its_own_error(bedrock):
    bedrock(reply("no"), refusal("ThrottlingException"))
    narrator = Narrator("model-a")
    with pytest.raises(BedrockUnavailableError):
        ask(narrator)
    assert narrator.usage.calls == 1
