"""EventBridge Scheduler expressions: the next invocation, as `serve --schedules` fires them."""

from __future__ import annotations

import datetime

import pytest

from infra.sandbox.schedule_expressions import ScheduleExpressionError, parse

UTC = datetime.UTC


def at(text: str, zone: str = "UTC") -> datetime.datetime:
    """An instant written as wall time of ``zone``."""
    import zoneinfo

    return datetime.datetime.fromisoformat(text).replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(UTC)


def upcoming(expression: str, after: str, count: int = 3, zone: str = "UTC") -> list[str]:
    """The next ``count`` invocations after ``after`` (UTC), as ISO strings in UTC."""
    schedule = parse(expression, zone)
    moment, found = at(after), []
    for _ in range(count):
        moment = schedule.next_after(moment)
        if moment is None:
            break
        found.append(moment.strftime("%Y-%m-%dT%H:%M"))
    return found


def test_the_pipelines_daily_cron_fires_at_six_utc_each_day():
    assert upcoming("cron(0 6 * * ? *)", "2026-03-01T05:59:30") == [
        "2026-03-01T06:00",
        "2026-03-02T06:00",
        "2026-03-03T06:00",
    ]


def test_an_invocation_is_strictly_after_the_moment():
    assert upcoming("cron(0 6 * * ? *)", "2026-03-01T06:00:00", count=1) == ["2026-03-02T06:00"]


def test_steps_lists_ranges_and_names():
    assert upcoming("cron(0/20 9-10 ? * MON-FRI *)", "2026-03-06T10:30", count=4) == [
        "2026-03-06T10:40",  # Friday
        "2026-03-09T09:00",  # then Monday, the weekend skipped
        "2026-03-09T09:20",
        "2026-03-09T09:40",
    ]
    assert upcoming("cron(15 12 1,15 JAN,JUL ? 2027)", "2026-06-01T00:00") == [
        "2027-01-01T12:15",
        "2027-01-15T12:15",
        "2027-07-01T12:15",
    ]


def test_day_of_week_counts_sunday_as_one():
    assert upcoming("cron(0 8 ? * 1 *)", "2026-03-02T00:00", count=1) == ["2026-03-08T08:00"]  # a Sunday


def test_last_nearest_weekday_and_nth_weekday():
    assert upcoming("cron(0 0 L * ? *)", "2026-02-01T00:00", count=2) == ["2026-02-28T00:00", "2026-03-31T00:00"]
    # The 15th of August 2026 is a Saturday: the Friday before; of November 2026 a Sunday: the Monday after.
    assert upcoming("cron(0 0 15W 8,11 ? 2026)", "2026-08-01T00:00", count=2) == [
        "2026-08-14T00:00",
        "2026-11-16T00:00",
    ]
    # 1W on a Saturday stays in its month: Monday the 3rd (August 2026 starts on a Saturday).
    assert upcoming("cron(0 0 1W 8 ? 2026)", "2026-07-01T00:00", count=1) == ["2026-08-03T00:00"]
    assert upcoming("cron(0 0 ? * 3#2 *)", "2026-03-01T00:00", count=2) == ["2026-03-10T00:00", "2026-04-14T00:00"]
    assert upcoming("cron(0 0 ? * 5L *)", "2026-03-01T00:00", count=2) == ["2026-03-26T00:00", "2026-04-30T00:00"]


def test_the_years_running_out_means_no_more_invocations():
    assert upcoming("cron(0 0 1 1 ? 2026)", "2026-06-01T00:00") == []


def test_a_cron_is_wall_time_of_its_zone():
    # 06:00 in New York is 11:00 UTC in winter, 10:00 UTC in summer (DST began on 8 March 2026).
    assert upcoming("cron(0 6 * * ? *)", "2026-03-07T00:00", zone="America/New_York") == [
        "2026-03-07T11:00",
        "2026-03-08T10:00",
        "2026-03-09T10:00",
    ]


def test_a_wall_time_in_the_spring_gap_is_skipped():
    # 02:30 did not exist in New York on 8 March 2026.
    assert upcoming("cron(30 2 * * ? *)", "2026-03-07T00:00", count=2, zone="America/New_York") == [
        "2026-03-07T07:30",  # 7 March, 02:30 EST
        "2026-03-09T06:30",  # 9 March, 02:30 EDT: the 8th had none
    ]


def test_a_wall_time_in_the_autumn_overlap_runs_once():
    # 01:30 happened twice in New York on 1 November 2026: it runs at the first.
    assert upcoming("cron(30 1 * * ? *)", "2026-10-31T12:00", count=2, zone="America/New_York") == [
        "2026-11-01T05:30",  # 01:30 EDT
        "2026-11-02T06:30",  # the next day's 01:30 EST, not 01:30 EST on the 1st
    ]


def test_a_rate_starts_at_its_anchor_and_repeats():
    anchor = at("2026-03-01T10:00:00")
    schedule = parse("rate(15 minutes)", "UTC", anchor=anchor)
    assert schedule.next_after(anchor - datetime.timedelta(microseconds=1)) == anchor  # at once, when created
    assert schedule.next_after(anchor) == at("2026-03-01T10:15:00")
    assert schedule.next_after(at("2026-03-01T11:07:00")) == at("2026-03-01T11:15:00")
    day = parse("rate(1 day)", "America/New_York", anchor=at("2026-03-07T12:00:00"))
    assert day.next_after(at("2026-03-07T12:00:00")) == at("2026-03-08T12:00:00")  # 24 hours, DST or not


def test_at_is_once_in_its_zone():
    once = parse("at(2026-07-04T09:00:00)", "Europe/Paris")
    assert once.next_after(at("2026-01-01T00:00")) == at("2026-07-04T07:00")
    assert once.next_after(at("2026-07-04T07:00")) is None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 6 * * *)", "6 fields"),
        ("cron(0 6 * * * *)", "must be ?"),
        ("cron(0 6 ? * ? *)", "must be ?"),
        ("cron(60 6 * * ? *)", "outside 0-59"),
        ("cron(0 6 * FOO ? *)", "not a number"),
        ("cron(0 10-6 * * ? *)", "backwards"),
        ("cron(0/0 6 * * ? *)", "positive step"),
        ("cron(0 6 ? * 9#1 *)", "<1-7>#<1-5>"),
        ("rate(0 minutes)", "positive"),
        ("rate(5 weeks)", "not cron"),
        ("at(2026-02-30T00:00:00)", "day is out of range"),
    ],
)
def test_expressions_the_scheduler_refuses_are_refused_with_the_reason(expression, message):
    with pytest.raises(ScheduleExpressionError, match=message.replace("?", r"\?")):
        parse(expression)


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(ScheduleExpressionError, match="IANA"):
        parse("rate(1 day)", "Mars/Olympus")
