"""The daily-analysis execution input: which business date a run analyses, and every malformed input refused.

Malformed input: ``analysis_request`` raises ``InvalidInputError`` (never another exception) whose
``field`` names what was wrong: ``input`` for a body that is not an object, ``date`` or
``scheduledTime`` for a bad value, the key itself for an unknown key.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipelines.analysis.request import REQUEST, analysis_request
from pipelines.common.errors import InvalidInputError, NonRetryableError

# 2025-01-15 12:00 UTC: 2025-01-16 01:00 in Auckland (UTC+13), 2025-01-15 04:00 in Los Angeles (UTC-8).
NOON_UTC = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def refused(event, *, now: datetime = NOON_UTC, timezone: str = "UTC") -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        analysis_request(event, now=now, timezone=timezone)
    return caught.value


# --- {} : the previous business day in the pipeline's zone -------------------------------------------


def test_empty_event_is_the_day_before_today_in_utc():
    assert analysis_request({}, now=NOON_UTC, timezone="UTC") == {"date": "2025-01-14"}


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # 10:30 UTC is 23:30 on the 15th in Auckland: yesterday there is the 14th.
        (datetime(2025, 1, 15, 10, 30, tzinfo=UTC), "2025-01-14"),
        # 11:30 UTC is 00:30 on the 16th in Auckland: yesterday there is already the 15th.
        (datetime(2025, 1, 15, 11, 30, tzinfo=UTC), "2025-01-15"),
    ],
)
def test_empty_event_in_auckland_follows_auckland_midnight_not_utc(now, expected):
    assert analysis_request({}, now=now, timezone="Pacific/Auckland") == {"date": expected}


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # 07:00 UTC is 23:00 on the 14th in Los Angeles: yesterday there is the 13th.
        (datetime(2025, 1, 15, 7, 0, tzinfo=UTC), "2025-01-13"),
        # 09:00 UTC is 01:00 on the 15th in Los Angeles: yesterday there is the 14th.
        (datetime(2025, 1, 15, 9, 0, tzinfo=UTC), "2025-01-14"),
    ],
)
def test_empty_event_in_los_angeles_follows_los_angeles_midnight_not_utc(now, expected):
    assert analysis_request({}, now=now, timezone="America/Los_Angeles") == {"date": expected}


def test_now_given_with_another_offset_is_converted_to_the_zone_first():
    # 2025-01-16 00:30 at +13:00 is 2025-01-15 11:30 UTC: in UTC yesterday is the 14th.
    from datetime import timedelta, timezone

    now = datetime(2025, 1, 16, 0, 30, tzinfo=timezone(timedelta(hours=13)))
    assert analysis_request({}, now=now, timezone="UTC") == {"date": "2025-01-14"}


# --- {"scheduledTime": ...} : the day before the scheduled time's local date -------------------------


@pytest.mark.parametrize(
    ("scheduled", "timezone", "expected"),
    [
        ("2025-01-15T06:00:00Z", "UTC", "2025-01-14"),
        # 06:00 UTC is 22:00 on the 14th in Los Angeles.
        ("2025-01-15T06:00:00Z", "America/Los_Angeles", "2025-01-13"),
        # 12:00 UTC is 01:00 on the 16th in Auckland.
        ("2025-01-15T12:00:00Z", "Pacific/Auckland", "2025-01-15"),
        # 10:59:59 UTC is still the 15th in Auckland (23:59:59).
        ("2025-01-15T10:59:59Z", "Pacific/Auckland", "2025-01-14"),
        # The same instant written with its own offset.
        ("2025-01-16T01:00:00+13:00", "Pacific/Auckland", "2025-01-15"),
        # Fractions of a second, as EventBridge never sends but a person might.
        ("2025-01-15T06:00:00.123Z", "UTC", "2025-01-14"),
    ],
)
def test_scheduled_time_gives_the_day_before_its_local_date(scheduled, timezone, expected):
    assert analysis_request({"scheduledTime": scheduled}, now=NOON_UTC, timezone=timezone) == {"date": expected}


def test_scheduled_time_does_not_depend_on_now():
    # A late (retried) execution still analyses the day its schedule meant.
    late = datetime(2025, 1, 20, 12, 0, tzinfo=UTC)
    assert analysis_request({"scheduledTime": "2025-01-15T06:00:00Z"}, now=late, timezone="UTC") == {
        "date": "2025-01-14"
    }


def test_scheduled_time_without_a_zone_is_refused_naming_scheduled_time():
    error = refused({"scheduledTime": "2025-01-15T06:00:00"})
    assert error.field == "scheduledTime"
    assert "zone" in error.problem


@pytest.mark.parametrize("value", ["tomorrow", "2025-13-01T00:00:00Z", "", 1736920800, None, ["2025-01-15T06:00:00Z"]])
def test_scheduled_time_that_is_not_an_iso_date_time_string_is_refused_naming_it(value):
    assert refused({"scheduledTime": value}).field == "scheduledTime"


def test_scheduled_time_whose_day_before_is_in_the_future_is_refused_naming_scheduled_time():
    error = refused({"scheduledTime": "2025-01-17T06:00:00Z"})
    assert error.field == "scheduledTime"
    assert "future" in error.problem
    assert "2025-01-16" in error.problem


def test_scheduled_time_whose_day_before_is_before_2000_is_refused_naming_scheduled_time():
    error = refused({"scheduledTime": "2000-01-01T06:00:00Z"})
    assert error.field == "scheduledTime"
    assert "1999-12-31" in error.problem


# --- {"date": ...} : that date ------------------------------------------------------------------------


def test_date_is_analysed_as_given():
    assert analysis_request({"date": "2024-02-29"}, now=NOON_UTC, timezone="UTC") == {"date": "2024-02-29"}


def test_date_today_in_the_zone_is_allowed():
    assert analysis_request({"date": "2025-01-15"}, now=NOON_UTC, timezone="UTC") == {"date": "2025-01-15"}


def test_date_tomorrow_in_utc_is_today_in_auckland_and_allowed_there():
    assert analysis_request({"date": "2025-01-16"}, now=NOON_UTC, timezone="Pacific/Auckland") == {"date": "2025-01-16"}


@pytest.mark.parametrize(
    ("date", "timezone", "now"),
    [
        ("2025-01-16", "UTC", NOON_UTC),
        # 12:00 UTC is 01:00 on the 16th in Auckland: the 17th is tomorrow there.
        ("2025-01-17", "Pacific/Auckland", NOON_UTC),
        # 09:00 UTC is 23:00 on the 14th in Honolulu (UTC-10): UTC's today is tomorrow there.
        ("2025-01-15", "Pacific/Honolulu", datetime(2025, 1, 15, 9, 0, tzinfo=UTC)),
    ],
)
def test_date_tomorrow_in_the_zone_is_refused_as_future_naming_date(date, timezone, now):
    error = refused({"date": date}, now=now, timezone=timezone)
    assert error.field == "date"
    assert "future" in error.problem
    assert timezone in error.problem


def test_date_2000_01_01_is_the_earliest_allowed():
    assert analysis_request({"date": "2000-01-01"}, now=NOON_UTC, timezone="UTC") == {"date": "2000-01-01"}


@pytest.mark.parametrize("date", ["1999-12-31", "0001-01-01"])
def test_date_before_2000_is_refused_naming_date(date):
    error = refused({"date": date})
    assert error.field == "date"
    assert "before 2000-01-01" in error.problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2025-02-30", "not a calendar date"),
        ("2025-13-01", "not a calendar date"),
        ("15/01/2025", "YYYY-MM-DD"),
        ("2025-1-5", "YYYY-MM-DD"),
        ("20250115", "YYYY-MM-DD"),
        ("2025-01-15T00:00:00Z", "YYYY-MM-DD"),
        ("2025-01-15\n", "YYYY-MM-DD"),
        ("", "blank"),
        ("   ", "blank"),
        (20250115, "must be a string"),
        (None, "must be a string, got null"),
        (["2025-01-15"], "must be a string, got array"),
        ({"date": "2025-01-15"}, "must be a string, got object"),
        (True, "must be a string, got boolean"),
    ],
)
def test_date_that_is_not_an_iso_date_string_is_refused_naming_date(value, problem):
    error = refused({"date": value})
    assert error.field == "date"
    assert problem in error.problem


def test_date_error_quotes_what_was_sent():
    error = refused({"date": "15/01/2025"})
    assert error.problem == 'must be a date as YYYY-MM-DD, got "15/01/2025"'


def test_date_and_scheduled_time_together_are_refused():
    error = refused({"date": "2025-01-10", "scheduledTime": "2025-01-15T06:00:00Z"})
    assert error.field == "date"
    assert "not both" in error.problem


# --- the whole event ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "described"),
    [
        ([], "array"),
        ([{"date": "2025-01-14"}], "array"),
        (None, "null"),
        ("2025-01-14", "string"),
        ('{"date": "2025-01-14"}', "string"),
        (20250114, "number"),
        (True, "boolean"),
    ],
)
def test_event_that_is_not_an_object_is_refused_naming_input(event, described):
    error = refused(event)
    assert error.field == "input"
    assert f"must be a JSON object, got {described}" in error.problem


def test_unknown_key_is_refused_naming_it_and_listing_the_allowed_fields():
    error = refused({"day": "2025-01-14"})
    assert error.field == "day"
    assert "not a known field" in error.problem
    assert "allowed: date, scheduledTime" in error.problem


@pytest.mark.parametrize(("key", "guess"), [("Date", "date"), ("dates", "date"), ("scheduledtime", "scheduledTime")])
def test_misspelt_key_is_refused_with_the_closest_field_suggested(key, guess):
    error = refused({key: "2025-01-14"})
    assert error.field == key
    assert f"did you mean {guess}?" in error.problem


def test_unknown_key_beside_a_valid_date_is_still_refused():
    assert refused({"date": "2025-01-14", "force": True}).field == "force"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"date": "\ud800"}, "date"),
        ({"date": "2025-01-14\udc00"}, "date"),
        ({"scheduledTime": "\udfff"}, "scheduledTime"),
    ],
)
def test_lone_surrogate_in_a_value_is_refused_naming_the_field(event, field):
    error = refused(event)
    assert error.field == field
    assert "lone surrogate" in error.problem
    str(error).encode("utf-8")  # the message itself must be loggable


def test_lone_surrogate_in_a_key_is_refused_with_a_printable_field_name():
    error = refused({"da\ud800te": "2025-01-14"})
    assert error.field == "da\\ud800te"
    str(error).encode("utf-8")


@pytest.mark.parametrize(("name", "limit"), sorted(REQUEST.fields.items()))
def test_value_over_the_field_byte_limit_is_refused_before_it_is_parsed(name, limit):
    error = refused({name: "2025-01-14" + " " * limit})
    assert error.field == name
    assert f"at most {limit:,} allowed" in error.problem


def test_huge_value_is_refused_with_a_short_message():
    error = refused({"date": "9" * 1_000_000})
    assert error.field == "date"
    assert len(str(error)) < 200


def test_deeply_nested_value_is_refused_naming_the_field():
    value: object = "2025-01-14"
    for _ in range(30):
        value = [value]
    error = refused({"date": value})
    assert error.field.startswith("date[0]")
    assert "nested" in error.problem


def test_every_refusal_is_not_retryable():
    # Step Functions must not retry a bad input: the same input fails the same way.
    assert issubclass(InvalidInputError, NonRetryableError)
    assert isinstance(refused({"date": "x"}), NonRetryableError)
