"""The sandbox's schedules fired on their real schedule, as EventBridge Scheduler fires them (``serve --schedules``).

``ScheduleRunner`` reads every schedule from the emulator (expression, time zone, state, start and
end dates), evaluates its expression (``schedule_expressions``) on wall-clock time, and when an
invocation is due calls ``Sandbox.fire_schedule`` with that invocation's time, so the target's
input carries the scheduled time (``<aws.scheduler.scheduled-time>``) as the scheduler substitutes
it, and the target's role is assumed as ``scheduler.amazonaws.com``.

A DISABLED schedule never fires; none fires before its StartDate or after its EndDate; a rate
schedule starts at its StartDate, or at once (as one just created does). An invocation missed
while the machine slept is fired once, late, with its own scheduled time; the ones before it are
not caught up.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.sandbox import schedule_expressions

if TYPE_CHECKING:
    from infra.sandbox.core import Sandbox

UTC = datetime.UTC
# The longest the runner sleeps before looking at the wall clock again (a suspended machine, a clock change).
MAX_NAP_S = 30.0


def stamp(moment: datetime.datetime) -> str:
    """``2026-03-01T06:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ScheduledTarget:
    """One schedule and its next invocation (None: no more, or it cannot be evaluated)."""

    name: str
    expression: str
    timezone: str
    state: str
    schedule: Any = None  # a schedule_expressions Cron, Rate or At
    start: datetime.datetime | None = None
    end: datetime.datetime | None = None
    due: datetime.datetime | None = None
    problem: str = ""

    def next_after(self, moment: datetime.datetime) -> datetime.datetime | None:
        if self.schedule is None or self.state != "ENABLED":
            return None
        if self.start is not None and moment < self.start:
            moment = self.start - datetime.timedelta(microseconds=1)
        upcoming = self.schedule.next_after(moment)
        if upcoming is not None and self.end is not None and upcoming > self.end:
            return None
        return upcoming

    def describe(self) -> str:
        """``name: expression (time zone), next at …`` for the terminal."""
        where = f"{self.expression} ({self.timezone})"
        if self.problem:
            return f"{self.name}: {where}: not evaluated ({self.problem})"
        if self.state != "ENABLED":
            return f"{self.name}: {where}: {self.state}, never fires"
        return f"{self.name}: {where}, next at {stamp(self.due) if self.due else 'never (no invocation left)'}"


def _aware(value: Any) -> datetime.datetime | None:
    if not isinstance(value, datetime.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def read_schedules(sandbox: Sandbox, now: datetime.datetime) -> list[ScheduledTarget]:
    """Every schedule in the emulator, evaluated from ``now``."""
    client = sandbox.client("scheduler")
    targets = []
    for listed in client.list_schedules()["Schedules"]:
        detail = client.get_schedule(Name=listed["Name"], GroupName=listed.get("GroupName") or "default")
        target = ScheduledTarget(
            name=detail["Name"],
            expression=detail["ScheduleExpression"],
            timezone=detail.get("ScheduleExpressionTimezone") or "UTC",
            state=detail.get("State") or "ENABLED",
            start=_aware(detail.get("StartDate")),
            end=_aware(detail.get("EndDate")),
        )
        try:
            anchor = target.start or now
            target.schedule = schedule_expressions.parse(target.expression, target.timezone, anchor=anchor)
        except schedule_expressions.ScheduleExpressionError as exc:
            target.problem = str(exc)
        # Due now counts: a rate schedule just created invokes at once.
        target.due = target.next_after(now - datetime.timedelta(microseconds=1))
        targets.append(target)
    return targets


class ScheduleRunner:
    """Fires each schedule when due on a thread of its own (see module doc)."""

    def __init__(
        self,
        sandbox: Sandbox,
        report: Callable[[str], None],
        now: Callable[[], datetime.datetime] | None = None,
    ):
        self.sandbox = sandbox
        self.report = report
        self.now = now or (lambda: datetime.datetime.now(UTC))
        self.targets: list[ScheduledTarget] = []
        self.fired: list[tuple[str, datetime.datetime, str | None]] = []  # (schedule, scheduled time, execution)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self) -> list[ScheduledTarget]:
        """Read the schedules and compute each one's next invocation."""
        self.targets = read_schedules(self.sandbox, self.now())
        return self.targets

    def run_due(self) -> float:
        """Fire every invocation due now; the seconds until the next one (at most MAX_NAP_S)."""
        now = self.now()
        for target in self.targets:
            if target.due is None or target.due > now:
                continue
            scheduled = target.due
            arn = None
            try:
                arn = self.sandbox.fire_schedule(target.name, scheduled_time=scheduled)
                self.report(f"schedule {target.name} fired for {stamp(scheduled)}")
            except Exception as exc:  # noqa: BLE001 - a refused invocation is reported; the schedule goes on
                self.report(f"schedule {target.name} could not start its target for {stamp(scheduled)}: {exc}")
            self.fired.append((target.name, scheduled, arn))
            target.due = target.next_after(max(scheduled, now))
        upcoming = [t.due for t in self.targets if t.due is not None]
        if not upcoming:
            return MAX_NAP_S
        return max(0.0, min(MAX_NAP_S, (min(upcoming) - self.now()).total_seconds()))

    def start(self) -> ScheduleRunner:
        if not self.targets:
            self.load()
        self._thread = threading.Thread(target=self._run, name="sandbox-scheduler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.run_due())

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
