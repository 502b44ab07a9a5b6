"""The Bedrock Runtime Converse fake, driven through a real boto3 client as the pipelines drive it."""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore
import jsonschema
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from moto import mock_aws

from infra.sandbox.fakes.bedrock import INVALID_MODEL, MALFORMED_TEXT, PLAIN_ANSWER, BedrockFake

MODEL = "us.amazon.nova-lite-v1:0"
SYSTEM = "You are a retail analyst. Answer with JSON only."
DATA = {
    "period": "2026-W47",
    "anomalies": [
        {"storeId": "S003", "metric": "revenue", "value": 512.3, "baseline": 100.2, "ratio": 5.1, "zScore": 9.2},
        {"storeId": "S007", "metric": "orders", "value": 12, "baseline": 40, "ratio": 0.3, "zScore": -4.1},
    ],
}
SCHEMA = {
    "type": "object",
    "required": ["summary", "highlights", "anomalies"],
    "additionalProperties": False,
    "properties": {
        "summary": {"type": "string", "maxLength": 300},
        "highlights": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
        "anomalies": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["storeId", "explanation", "severity", "zScore"],
                "additionalProperties": False,
                "properties": {
                    "storeId": {"type": "string"},
                    "explanation": {"type": "string"},
                    "severity": {"enum": ["low", "medium", "high"]},
                    "zScore": {"type": "number"},
                },
            },
        },
    },
}


def prompt(data=DATA, schema=SCHEMA, topic: str = "anomalies") -> str:
    """A prompt in the convention the fake relies on: data block first, schema block last."""
    return (
        f"Explain these {topic} to a store manager.\n```json\n{json.dumps(data)}\n```\n"
        f"Answer with JSON matching this schema:\n```json\n{json.dumps(schema)}\n```"
    )


def make_client(url: str, **config):
    return boto3.client(
        "bedrock-runtime",
        region_name="us-west-2",
        endpoint_url=url,
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(retries={"total_max_attempts": 1}, **config),
    )


def converse(client, text: str, model: str = MODEL, **kwargs) -> dict:
    return client.converse(modelId=model, messages=[{"role": "user", "content": [{"text": text}]}], **kwargs)


def text_of(response: dict) -> str:
    return response["output"]["message"]["content"][0]["text"]


def error_of(excinfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def fake():
    with BedrockFake() as bedrock:
        yield bedrock


@pytest.fixture(autouse=True)
def fresh(fake):
    fake.reset()


@pytest.fixture(scope="module")
def client(fake):
    return make_client(fake.url)


# -- answers ----------------------------------------------------------------------------------------
def test_success_has_the_converse_shape_and_usage(client, fake):
    text = prompt()
    response = converse(client, text, system=[{"text": SYSTEM}], inferenceConfig={"maxTokens": 2000})

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["output"]["message"]["role"] == "assistant"
    assert response["stopReason"] == "end_turn"
    usage = response["usage"]
    assert usage["inputTokens"] == math.ceil(len(SYSTEM + "\n" + text) / 4)
    assert usage["outputTokens"] == math.ceil(len(text_of(response)) / 4)
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert response["metrics"]["latencyMs"] > 0


def test_the_same_request_gets_the_same_answer_and_other_data_another(client):
    first, second = converse(client, prompt()), converse(client, prompt())
    other_data = {"anomalies": [{"storeId": "S042", "metric": "returns", "value": 77.5}]}
    other = converse(client, prompt(data=other_data))

    assert text_of(first) == text_of(second)
    assert first["usage"] == second["usage"]
    assert text_of(other) != text_of(first)
    assert "S042" in text_of(other)


def test_the_answer_validates_against_the_prompt_schema_and_cites_the_data(client):
    answer = json.loads(text_of(converse(client, prompt())))

    jsonschema.validate(answer, SCHEMA)
    assert "S003" in answer["summary"] and "512.30" in answer["summary"]
    assert [item["storeId"] for item in answer["anomalies"]] == ["S003", "S007"]
    assert answer["anomalies"][0]["zScore"] == 9.2
    assert "5.1x" in answer["anomalies"][0]["explanation"]
    assert "S007" in answer["highlights"][1] and "12" in answer["highlights"][1]


@pytest.mark.parametrize(
    ("items", "bounds", "expected"),
    [(5, {"maxItems": 3}, 3), (2, {"minItems": 4}, 4), (2, {}, 2)],
)
def test_string_arrays_have_one_sentence_per_data_item_within_bounds(client, items, bounds, expected):
    data = {"stores": [{"storeId": f"S{n:03d}", "value": n * 10} for n in range(1, items + 1)]}
    schema = {
        "type": "object",
        "required": ["points"],
        "properties": {"points": {"type": "array", "items": {"type": "string"}, **bounds}},
    }

    answer = json.loads(text_of(converse(client, prompt(data=data, schema=schema))))

    jsonschema.validate(answer, schema)
    assert len(answer["points"]) == expected
    assert "S001" in answer["points"][0] and "S002" in answer["points"][1]


SCHEMAS = [
    {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 5}}},
    {
        "type": "object",
        "required": ["ok", "level"],
        "properties": {"ok": {"type": "boolean"}, "level": {"enum": [1, 2]}},
    },
    {"type": "object", "required": ["note"], "properties": {"note": {"type": ["string", "null"], "maxLength": 12}}},
    {"type": "object", "required": ["kind", "undeclared"], "properties": {"kind": {"const": "weekly"}}},
    {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["metric", "value"]}},
    {"type": "object", "properties": {"period": {"type": "string", "pattern": "^2026-W47$"}}},
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: json.dumps(s)[:40])
def test_answers_validate_against_assorted_schemas(client, schema):
    answer = json.loads(text_of(converse(client, prompt(schema=schema))))

    jsonschema.validate(answer, schema)


def test_a_prompt_without_blocks_gets_a_plain_sentence_and_data_alone_a_summary(client):
    plain = text_of(converse(client, "Say something nice about stores."))
    summary = text_of(converse(client, f"Summarise:\n```json\n{json.dumps(DATA)}\n```"))

    assert plain == PLAIN_ANSWER
    assert "S003" in summary and "9.2" in summary
    with pytest.raises(json.JSONDecodeError):
        json.loads(summary)


def test_a_small_max_tokens_cuts_the_answer(client):
    full = text_of(converse(client, prompt()))
    response = converse(client, prompt(), inferenceConfig={"maxTokens": 5})

    assert response["stopReason"] == "max_tokens"
    assert text_of(response) == full[:20]
    assert response["usage"]["outputTokens"] == 5


# -- injected failures ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("throttle", 429, "ThrottlingException"),
        ("not_ready", 429, "ModelNotReadyException"),
        ("unavailable", 503, "ServiceUnavailableException"),
        ("model_timeout", 408, "ModelTimeoutException"),
        ("validation", 400, "ValidationException"),
        ("access_denied", 403, "AccessDeniedException"),
    ],
)
def test_each_error_kind_surfaces_as_its_client_error_once(client, fake, kind, status, code):
    fake.fail_next(kind)

    with pytest.raises(ClientError) as excinfo:
        converse(client, prompt())

    assert error_of(excinfo) == (code, status)
    assert excinfo.value.response["Error"]["Message"]
    assert (fake.calls[-1].injected, fake.calls[-1].error_code) == (kind, code)
    assert converse(client, prompt())["stopReason"] == "end_turn"  # times=1: the next call is fine


def test_max_tokens_kind_cuts_the_json_in_the_middle(client, fake):
    full = text_of(converse(client, prompt()))
    fake.fail_next("max_tokens")

    response = converse(client, prompt())

    assert response["stopReason"] == "max_tokens"
    assert full.startswith(text_of(response)) and len(text_of(response)) < len(full)
    with pytest.raises(json.JSONDecodeError):
        json.loads(text_of(response))


def test_malformed_kind_answers_prose_with_end_turn(client, fake):
    fake.fail_next("malformed")

    response = converse(client, prompt())

    assert response["stopReason"] == "end_turn"
    assert text_of(response) == MALFORMED_TEXT
    with pytest.raises(json.JSONDecodeError):
        json.loads(text_of(response))


def test_slow_kind_answers_correctly_after_the_delay(client, fake):
    full = text_of(converse(client, prompt()))
    fake.fail_next("slow", delay=0.4)

    started = time.monotonic()
    response = converse(client, prompt())

    assert time.monotonic() - started >= 0.4
    assert text_of(response) == full
    assert response["metrics"]["latencyMs"] >= 400


def test_slow_kind_outlasts_a_short_read_timeout(fake):
    fake.fail_next("slow", delay=1.0)
    impatient = make_client(fake.url, read_timeout=0.2)

    with pytest.raises(ReadTimeoutError):
        converse(impatient, prompt())


def test_times_counts_failures_and_none_fails_until_cleared(client, fake):
    fake.fail_next("throttle", times=2)
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(converse(client, prompt())["stopReason"])
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
    assert outcomes == ["ThrottlingException", "ThrottlingException", "end_turn"]

    fake.fail_next("unavailable", times=None)
    for _ in range(4):
        with pytest.raises(ClientError):
            converse(client, prompt())
    fake.clear_failures()
    assert converse(client, prompt())["stopReason"] == "end_turn"


def test_queued_failures_apply_in_order(client, fake):
    fake.fail_next("throttle")
    fake.fail_next("model_timeout")
    codes = []
    for _ in range(2):
        with pytest.raises(ClientError) as excinfo:
            converse(client, prompt())
        codes.append(error_of(excinfo)[0])

    assert codes == ["ThrottlingException", "ModelTimeoutException"]


def outcome(client, text: str) -> str:
    try:
        return converse(client, text)["stopReason"]
    except ClientError as error:
        return error.response["Error"]["Code"]


def test_match_fails_only_the_matching_concurrent_callers(client, fake):
    fake.fail_next("throttle", times=None, match="trend")
    topics = ["trend", "seasonality", "trend", "stockouts", "trend", "seasonality"]

    with ThreadPoolExecutor(max_workers=len(topics)) as pool:
        results = list(pool.map(lambda topic: outcome(client, prompt(topic=topic)), topics))

    expected = ["ThrottlingException" if topic == "trend" else "end_turn" for topic in topics]
    assert results == expected


def test_times_is_exact_under_concurrency(client, fake):
    fake.fail_next("throttle", times=3)

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: outcome(client, prompt()), range(10)))

    assert results.count("ThrottlingException") == 3
    assert results.count("end_turn") == 7


def test_fail_next_rejects_unknown_kinds_and_counts(fake):
    with pytest.raises(ValueError, match="unknown failure kind"):
        fake.fail_next("explode")
    with pytest.raises(ValueError, match="times"):
        fake.fail_next("throttle", times=0)


def test_calls_record_what_was_asked_and_answered(client, fake):
    fake.fail_next("throttle", match="trend")
    converse(client, prompt(topic="seasonality"), system=[{"text": SYSTEM}])
    with pytest.raises(ClientError):
        converse(client, prompt(topic="trend"))

    ok, throttled = fake.calls
    assert (ok.model_id, ok.status, ok.stop_reason, ok.error_code) == (MODEL, 200, "end_turn", None)
    assert ok.prompt.startswith(SYSTEM) and "seasonality" in ok.prompt
    assert ok.usage["totalTokens"] > 0
    assert (throttled.status, throttled.stop_reason, throttled.error_code) == (429, None, "ThrottlingException")
    assert throttled.injected == "throttle" and throttled.usage is None
    assert len(fake.requests) == 2


# -- refusals ---------------------------------------------------------------------------------------
def test_an_unsigned_request_is_denied_without_using_a_queued_failure(fake):
    fake.fail_next("throttle")
    unsigned = make_client(fake.url, signature_version=botocore.UNSIGNED)

    with pytest.raises(ClientError) as excinfo:
        converse(unsigned, prompt())

    assert error_of(excinfo) == ("AccessDeniedException", 403)
    assert fake.calls[-1].injected is None
    with pytest.raises(ClientError) as excinfo:
        converse(make_client(fake.url), prompt())
    assert error_of(excinfo) == ("ThrottlingException", 429)


@pytest.mark.parametrize(
    ("messages", "extra", "field"),
    [
        ([], {}, "'messages'"),
        ([{"role": "system", "content": [{"text": "hi"}]}], {}, "'messages.0.role'"),
        (
            [{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": b"x"}}}]}],
            {},
            "'messages.0.content.0.text'",
        ),
        (
            [{"role": "user", "content": [{"text": "hi"}]}],
            {"inferenceConfig": {"maxTokens": 0}},
            "'inferenceConfig.maxTokens'",
        ),
        (
            [{"role": "user", "content": [{"text": "hi"}]}],
            {"inferenceConfig": {"temperature": 3}},
            "'inferenceConfig.temperature'",
        ),
        ([{"role": "assistant", "content": [{"text": "hi"}]}], {}, "start with a user message"),
    ],
)
def test_an_invalid_body_is_a_validation_error_naming_the_field(fake, messages, extra, field):
    # botocore would refuse most of these itself; switch that off to reach the fake's own checks.
    lax = make_client(fake.url, parameter_validation=False)

    with pytest.raises(ClientError) as excinfo:
        lax.converse(modelId=MODEL, messages=messages, **extra)

    assert error_of(excinfo) == ("ValidationException", 400)
    assert field in excinfo.value.response["Error"]["Message"]


def test_only_the_configured_models_answer_by_id_or_arn():
    arn = f"arn:aws:bedrock:us-west-2:123456789012:inference-profile/{MODEL}"
    with BedrockFake(models={MODEL}) as strict:
        client = make_client(strict.url)
        with pytest.raises(ClientError) as excinfo:
            converse(client, prompt(), model="amazon.titan-text-express-v1")

        assert error_of(excinfo) == ("ValidationException", 400)
        assert excinfo.value.response["Error"]["Message"] == INVALID_MODEL
        assert converse(client, prompt())["stopReason"] == "end_turn"
        assert converse(client, prompt(), model=arn)["stopReason"] == "end_turn"
        assert [call.model_id for call in strict.calls] == ["amazon.titan-text-express-v1", MODEL, arn]


# -- under moto -------------------------------------------------------------------------------------
def test_calls_reach_the_fake_while_moto_is_active(fake):
    with mock_aws():
        # moto is really on: STS answers with its made-up account...
        sts = boto3.client("sts", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="y")
        assert sts.get_caller_identity()["Account"] == "123456789012"
        # ...yet its stubber matches no mocked service for a loopback URL, so botocore sends it on.
        client = make_client(fake.url)
        response = converse(client, prompt())
        fake.fail_next("throttle")
        with pytest.raises(ClientError) as excinfo:
            converse(client, prompt())

    assert "S003" in text_of(response)
    assert error_of(excinfo) == ("ThrottlingException", 429)
    assert len(fake.calls) == 2
