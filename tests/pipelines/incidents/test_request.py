"""The POST /invoke body: defaults, and InvalidInputError naming the field for each bad input."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.common.errors import InvalidInputError
from pipelines.incidents.request import parse_run_request, resolved_request

NOW = datetime(2026, 3, 10, 12, 30, 45, 123456, tzinfo=UTC)


def test_empty_body_means_the_last_24_hours_every_status_every_service():
    request = parse_run_request({}, now=NOW)
    assert request.window.until == NOW.replace(microsecond=0)
    assert request.window.since == NOW.replace(microsecond=0) - timedelta(hours=24)
    assert request.statuses == () and request.service_ids == ()


@pytest.mark.parametrize(("body", "got"), [(None, "null"), ("", 'string ""'), ("{}", 'string "{}"')])
def test_a_body_must_be_an_object_not_null_nor_a_string_of_json(body, got):
    # Step Functions hands the body over decoded: a string is a string, never parsed a second time.
    with pytest.raises(InvalidInputError, match=f"^input: must be a JSON object, got {got}$"):
        parse_run_request(body, now=NOW)


def test_since_alone_runs_until_now_and_until_alone_looks_back_24_hours():
    assert parse_run_request({"since": "2026-03-09T00:00:00Z"}, now=NOW).window.until == NOW.replace(microsecond=0)
    request = parse_run_request({"until": "2026-03-05T00:00:00Z"}, now=NOW)
    assert request.window.since == datetime(2026, 3, 4, tzinfo=UTC)


def test_filters_are_normalised():
    request = parse_run_request(
        {"statuses": ["resolved", "triggered", "resolved"], "service_ids": ["PSVC002", "PSVC001", "PSVC002"]},
        now=NOW,
    )
    assert request.statuses == ("triggered", "resolved")
    assert request.service_ids == ("PSVC001", "PSVC002")


def test_to_event_round_trips_through_resolved_request():
    request = parse_run_request(
        {
            "since": "2026-03-01T00:00:00+01:00",
            "until": "2026-03-02T00:00:00Z",
            "statuses": ["acknowledged"],
            "service_ids": ["PSVC001"],
        },
        now=NOW,
    )
    event = request.to_event()
    assert event == {
        "since": "2026-02-28T23:00:00Z",
        "until": "2026-03-02T00:00:00Z",
        "statuses": ["acknowledged"],
        "service_ids": ["PSVC001"],
    }
    assert resolved_request(json.loads(json.dumps(event))) == request


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"since": "yesterday"}, "since", "not an ISO-8601"),
        ({"since": "2026-03-01T00:00:00"}, "since", "time zone"),
        ({"until": 1700000000}, "until", "must be a string, got number 1700000000"),
        ({"until": None}, "until", "must be a string, got null (leave it out for the default)"),
        ({"since": "x" * 100_000}, "since", "is 100,002 bytes of JSON; at most 64 allowed"),
        ({"until": "2026-13-01T00:00:00Z"}, "until", "not an ISO-8601"),
        ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "until", "is not after since"),
        ({"since": "2026-03-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "until", "is not after since"),
        ({"since": "2025-09-01T00:00:00Z", "until": "2026-03-01T00:00:01Z"}, "until", "longer than"),
        ({"statuses": ["open"]}, "statuses", "unknown status 'open'"),
        ({"statuses": "resolved"}, "statuses", "list of strings"),
        ({"service_ids": ["PSVC001", "svc one"]}, "service_ids", '"svc one" is not a PagerDuty service id'),
        ({"service_ids": [1]}, "service_ids", "list of strings"),
        ({"service_id": ["PSVC001"]}, "service_id", "not a known field; did you mean service_ids?"),
        ([1, 2], "input", "must be a JSON object, got array [1, 2]"),
        ("{not json", "input", 'must be a JSON object, got string "{not json"'),
        (42, "input", "must be a JSON object, got number 42"),
    ],
)
def test_each_bad_input_names_its_field(body, field, fragment):
    with pytest.raises(InvalidInputError) as caught:
        parse_run_request(body, now=NOW)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert fragment in str(caught.value)


def test_exactly_six_months_is_accepted():
    request = parse_run_request({"since": "2025-09-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, now=NOW)
    assert request.window.since == datetime(2025, 9, 1, tzinfo=UTC)


def test_resolved_request_requires_the_window_fetch_initial_passed_on():
    with pytest.raises(InvalidInputError) as caught:
        resolved_request({"run_id": 1, "until": "2026-03-02T00:00:00Z"})
    assert caught.value.field == "since"
