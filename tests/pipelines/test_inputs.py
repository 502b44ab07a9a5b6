"""The checks every execution input gets first (pipelines/common/inputs.py)."""

import json

import pytest

from pipelines.common.errors import MAX_MESSAGE_CHARS, InvalidInputError
from pipelines.common.inputs import MAX_DEPTH, RequestShape, checked_request, quote

SHAPE = RequestShape.of("since", "until", note=32)


def nested(depth: int):
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (["hi"], 'input: must be a JSON object, got array ["hi"]'),
        ("hi", 'input: must be a JSON object, got string "hi"'),
        (None, "input: must be a JSON object, got null"),
        (True, "input: must be a JSON object, got boolean true"),
        (4.5, "input: must be a JSON object, got number 4.5"),
        ({"sinse": "x"}, "sinse: is not a known field; did you mean since? allowed: since, until, note"),
        ({"UNTIL": "x"}, "UNTIL: is not a known field; did you mean until? allowed: since, until, note"),
        ({"colour": 1}, "colour: is not a known field; allowed: since, until, note"),
        ({"note": "x" * 31}, "note: is 33 bytes of JSON; at most 32 allowed"),
        ({"note": "é" * 16}, "note: is 34 bytes of JSON; at most 32 allowed"),  # UTF-8 bytes, as Step Functions counts
        ({"since": "\ud800"}, "since: contains a lone surrogate (e.g. \\ud800): text must be valid Unicode"),
        ({"since": {"\udfff": 1}}, 'since: has a key with a lone surrogate: "\\udfff"'),
        ({"since": nested(MAX_DEPTH)}, f"since{'[0]' * MAX_DEPTH}: is nested more than {MAX_DEPTH} levels deep"),
    ],
)
def test_each_malformed_input_is_one_error_naming_the_field(event, message):
    with pytest.raises(InvalidInputError) as raised:
        checked_request(event, SHAPE)
    assert str(raised.value) == message


def test_a_well_formed_input_comes_back_as_a_plain_dict():
    assert checked_request({"since": "a", "note": "☃ ok"}, SHAPE) == {"since": "a", "note": "☃ ok"}
    assert checked_request({"since": nested(MAX_DEPTH - 1)}, RequestShape.of("since", max_bytes=10_000))


def test_nesting_far_past_the_limit_is_refused_without_recursing_through_it():
    with pytest.raises(InvalidInputError, match="nested more than"):
        checked_request({"since": nested(50_000)}, SHAPE)


def test_a_huge_value_is_quoted_by_a_short_prefix_and_its_size():
    assert quote("x" * 10_000) == '"' + "x" * 40 + '"… (10,000 characters)'
    assert quote(list(range(1000))).endswith("… (4,890 characters of JSON)")
    assert quote("short") == '"short"'
    # A lone surrogate in a message could not be encoded (logs, JSON): it is shown escaped.
    assert quote("a\ud800b") == '"a\\ud800b"'
    json.dumps(quote("a\ud800b"), ensure_ascii=False).encode("utf-8")


def test_no_error_message_grows_with_what_was_sent():
    # An unknown key 100,000 characters long, quoted in the field name and the message.
    with pytest.raises(InvalidInputError) as raised:
        checked_request({"k" * 100_000: 1}, SHAPE)
    assert len(str(raised.value)) < 200
    long = InvalidInputError("field", "x" * 100_000)
    assert len(long.problem) == MAX_MESSAGE_CHARS and long.problem.endswith("…")
