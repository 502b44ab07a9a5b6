"""Time windows: parsing, the six-month limit, and halving without gaps or overlaps."""

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipelines.incidents.window import TimeWindow, add_months, format_timestamp, parse_timestamp

UTC = UTC


def test_parse_timestamp_converts_offsets_to_utc_and_accepts_z():
    assert parse_timestamp("2026-03-01T02:00:00+02:00") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_timestamp("2026-03-01T00:00:00Z") == datetime(2026, 3, 1, tzinfo=UTC)


def test_parse_timestamp_refuses_a_naive_timestamp():
    with pytest.raises(ValueError, match="time zone"):
        parse_timestamp("2026-03-01T00:00:00")


def test_format_timestamp_is_utc_with_z():
    assert (
        format_timestamp(datetime(2026, 3, 1, 1, 2, 3, tzinfo=timezone(timedelta(hours=1)))) == "2026-03-01T00:02:03Z"
    )


def test_add_months_clamps_to_the_end_of_a_shorter_month():
    assert add_months(datetime(2025, 8, 31, tzinfo=UTC), 6) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 15, tzinfo=UTC), 6) == datetime(2027, 5, 15, tzinfo=UTC)


def test_six_calendar_months_is_allowed_and_one_second_more_is_not():
    since = datetime(2026, 1, 1, tzinfo=UTC)
    assert not TimeWindow(since, datetime(2026, 7, 1, tzinfo=UTC)).exceeds_months(6)
    assert TimeWindow(since, datetime(2026, 7, 1, 0, 0, 1, tzinfo=UTC)).exceeds_months(6)


def test_a_window_must_end_after_it_starts():
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        TimeWindow(moment, moment)


def test_split_gives_adjacent_halves_on_a_whole_second():
    window = TimeWindow(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC))
    first, second = window.split()
    assert first.since == window.since and second.until == window.until
    assert first.until == second.since == datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)


def test_repeated_splitting_covers_the_window_exactly():
    window = TimeWindow(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 8, 3, 7, 11, tzinfo=UTC))
    pieces = [window]
    for _ in range(5):
        pieces = [half for piece in pieces for half in piece.split()]
    assert len(pieces) == 32
    assert pieces[0].since == window.since and pieces[-1].until == window.until
    assert all(a.until == b.since for a, b in itertools.pairwise(pieces))


def test_a_two_second_window_splits_but_a_one_second_window_does_not():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert TimeWindow(start, start + timedelta(seconds=2)).can_split()
    narrow = TimeWindow(start, start + timedelta(seconds=1))
    assert not narrow.can_split()
    with pytest.raises(ValueError):
        narrow.split()


def test_as_params_uses_pagerduty_timestamps():
    window = TimeWindow(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    assert window.as_params() == {"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"}
