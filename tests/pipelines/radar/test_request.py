"""The radar execution input: {} or {"scheduledTime"}; anything else is refused, naming the field."""

from datetime import UTC, datetime

import pytest

from pipelines.common.errors import InvalidInputError
from pipelines.radar.intake import validate_input
from pipelines.radar.request import run_request

NOW = datetime(2026, 11, 23, 6, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({}, {}),
        ({"scheduledTime": "2026-11-23T06:00:00Z"}, {"scheduledTime": "2026-11-23T06:00:00Z"}),
        ({"scheduledTime": "2026-11-23T07:00:00.250+01:00"}, {"scheduledTime": "2026-11-23T06:00:00Z"}),
        ({"scheduledTime": "2026-11-24T06:00:05Z"}, {"scheduledTime": "2026-11-24T06:00:05Z"}),  # exactly a day
        ({"scheduledTime": "2019-01-01T00:00:00Z"}, {"scheduledTime": "2019-01-01T00:00:00Z"}),  # a backfill
    ],
)
def test_a_run_is_now_or_at_its_scheduled_time(event, expected):
    assert run_request(event, NOW) == expected


@pytest.mark.parametrize(
    ("event", "field", "fragment"),
    [
        ([1, 2], "input", "must be a JSON object, got array [1, 2]"),
        (None, "input", "must be a JSON object, got null"),
        ({"scheduledTme": "2026-11-23T06:00:00Z"}, "scheduledTme", "did you mean scheduledTime?"),
        ({"scheduledTime": None}, "scheduledTime", "must be a string, got null"),
        ({"scheduledTime": 1700000000}, "scheduledTime", "must be a string, got number"),
        ({"scheduledTime": "tomorrow"}, "scheduledTime", 'not an ISO-8601 date-time: "tomorrow"'),
        ({"scheduledTime": "2026-11-23T06:00:00"}, "scheduledTime", "must carry a time zone"),
        ({"scheduledTime": "9999-12-31T23:59:59Z"}, "scheduledTime", "is more than a day in the future"),
        ({"scheduledTime": "2026-11-24T06:00:06Z"}, "scheduledTime", "is more than a day in the future"),
        ({"scheduledTime": "x" * 100_000}, "scheduledTime", "is 100,002 bytes of JSON; at most 64 allowed"),
    ],
)
def test_anything_else_is_refused_naming_the_field_the_user_sent(event, field, fragment):
    with pytest.raises(InvalidInputError) as raised:
        run_request(event, NOW)
    assert raised.value.field == field
    assert fragment in raised.value.problem


def test_the_handler_checks_against_the_current_time():
    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "validate", 128, "r"
        invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:validate"

    assert validate_input({}, Context()) == {}
    with pytest.raises(InvalidInputError, match="more than a day in the future"):
        validate_input({"scheduledTime": "2999-01-01T00:00:00Z"}, Context())
