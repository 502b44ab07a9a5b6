"""The greeting handler accepts one non-empty string message of at most 1,000 characters."""

import json
from pathlib import Path

import pytest

from pipelines.common.errors import InvalidInputError, NonRetryableError
from pipelines.greeting.handlers import hello
from pipelines.greeting.message import MAX_MESSAGE_LENGTH, validate_message

EVENTS = Path(__file__).parents[2] / "events"


class Context:
    function_name = "greeting-hello"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:greeting-hello"
    aws_request_id = "req-1"


def test_hello_returns_the_message_and_its_greeting():
    event = json.loads((EVENTS / "greeting_hello.json").read_text())
    result = hello(event, Context())
    assert result == {"message": "Hello step function", "greeting": "Hello from stepworks: Hello step function"}


def test_a_message_of_exactly_the_limit_is_accepted():
    assert validate_message({"message": "x" * MAX_MESSAGE_LENGTH}) == "x" * MAX_MESSAGE_LENGTH


@pytest.mark.parametrize(
    ("event", "field", "problem"),
    [
        ({}, "message", "is required"),
        ({"message": None}, "message", "must be a string, got null"),
        ({"message": 42}, "message", "must be a string, got number 42"),
        ({"message": ["a"]}, "message", 'must be a string, got array ["a"]'),
        ({"message": ""}, "message", "must not be empty"),
        ({"message": "   "}, "message", "must not be empty"),
        ({"message": "x" * 1_001}, "message", "must be at most 1000 characters, got 1,001"),
        ({"message": "x" * 10_000}, "message", "is 10,002 bytes of JSON; at most 6,002 allowed"),
        ({"message": "hi \ud800"}, "message", "contains a lone surrogate (e.g. \\ud800): text must be valid Unicode"),
        ({"message": "hi", "mesage": "x"}, "mesage", "is not a known field; did you mean message? allowed: message"),
        ("just a string", "input", 'must be a JSON object, got string "just a string"'),
        (None, "input", "must be a JSON object, got null"),
        ([{"message": "hi"}], "input", 'must be a JSON object, got array [{"message": "hi"}]'),
    ],
)
def test_malformed_events_raise_a_non_retryable_error_naming_the_field(event, field, problem):
    with pytest.raises(InvalidInputError) as raised:
        hello(event, Context())
    assert raised.value.field == field
    assert str(raised.value) == f"{field}: {problem}"
    assert isinstance(raised.value, NonRetryableError)


def test_the_handler_logs_structured_json_without_the_message_text(capsys):
    hello({"message": "private words"}, Context())
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert lines, "the handler logged nothing"
    assert lines[-1]["service"] == "greeting"
    assert lines[-1]["message_length"] == len("private words")
    assert "private words" not in json.dumps(lines)
