"""The parts of `serve` that need no deploy: the schedule runner, the control endpoint, the execution
lines, the API ports and the database line, each against a stand-in for the sandbox."""

from __future__ import annotations

import datetime
import json
import types

import pytest
import requests

from infra.cli.serve import _databases, api_ports
from infra.sandbox import iam
from infra.sandbox.control import FIRE_PATH, ControlServer
from infra.sandbox.scheduler import ScheduleRunner
from infra.sandbox.watch import ExecutionWatcher

UTC = datetime.UTC
T0 = datetime.datetime(2026, 3, 1, 5, 58, 30, tzinfo=UTC)


class FakeScheduler:
    """``list_schedules`` / ``get_schedule`` of a few schedules."""

    def __init__(self, schedules: list[dict]):
        self.schedules = {s["Name"]: {"GroupName": "default", **s} for s in schedules}

    def list_schedules(self):
        return {"Schedules": [{"Name": n, "GroupName": s["GroupName"]} for n, s in self.schedules.items()]}

    def get_schedule(self, Name, GroupName="default"):
        return self.schedules[Name]


class FakeSandbox:
    """What the runner and the control endpoint use of a Sandbox: its schedules, fire_schedule, outputs."""

    def __init__(self, schedules: list[dict], refuse: Exception | None = None):
        self.scheduler = FakeScheduler(schedules)
        self.fired: list[tuple[str, datetime.datetime]] = []
        self.refuse = refuse
        self.program = types.SimpleNamespace(
            outputs={"radar": {"scheduleName": "radar-daily"}, "greeting": {"apiUrl": "https://x"}, "bucket": "b"}
        )

    def client(self, service):
        assert service == "scheduler"
        return self.scheduler

    def fire_schedule(self, name, scheduled_time=None):
        if self.refuse is not None:
            raise self.refuse
        self.fired.append((name, scheduled_time))
        return f"arn:aws:states:us-west-2:123456789012:execution:m:{name}-{len(self.fired)}"


class Clock:
    def __init__(self, now: datetime.datetime):
        self.now = now

    def __call__(self) -> datetime.datetime:
        return self.now


def schedule(name: str, expression: str, **extra) -> dict:
    return {
        "Name": name,
        "ScheduleExpression": expression,
        "ScheduleExpressionTimezone": "UTC",
        "State": "ENABLED",
    } | extra


def run_until(runner: ScheduleRunner, clock: Clock, until: datetime.datetime) -> None:
    """Drive the runner as its thread would, the clock jumping by each nap."""
    while clock.now < until:
        nap = runner.run_due()
        clock.now += datetime.timedelta(seconds=max(nap, 0.5))


def test_each_schedule_fires_when_due_with_its_scheduled_time():
    sandbox = FakeSandbox(
        [
            schedule("radar-daily", "cron(0 6 * * ? *)"),
            schedule("every-20", "rate(20 minutes)"),
            schedule("off", "rate(1 minute)", State="DISABLED"),
            schedule("later", "cron(30 6 * * ? *)", StartDate=datetime.datetime(2026, 3, 2, tzinfo=UTC)),
            schedule("ended", "rate(1 minute)", EndDate=datetime.datetime(2026, 3, 1, 5, 59, 45, tzinfo=UTC)),
        ]
    )
    clock = Clock(T0)
    reports: list[str] = []
    runner = ScheduleRunner(sandbox, reports.append, now=clock)
    runner.load()
    run_until(runner, clock, datetime.datetime(2026, 3, 1, 6, 45, tzinfo=UTC))
    fired = [(name, when.strftime("%H:%M:%S")) for name, when in sandbox.fired]
    assert fired == [
        ("every-20", "05:58:30"),  # a rate schedule invokes at once, then every 20 minutes from then
        ("ended", "05:58:30"),
        ("ended", "05:59:30"),  # the next, 06:00:30, is after its EndDate
        ("radar-daily", "06:00:00"),
        ("every-20", "06:18:30"),
        ("every-20", "06:38:30"),
    ]
    assert "schedule radar-daily fired for 2026-03-01T06:00:00Z" in reports
    descriptions = {t.name: t.describe() for t in runner.targets}
    assert descriptions["off"] == "off: rate(1 minute) (UTC): DISABLED, never fires"
    assert descriptions["later"] == "later: cron(30 6 * * ? *) (UTC), next at 2026-03-02T06:30:00Z"


def test_an_invocation_missed_while_asleep_fires_once_late_with_its_own_time():
    sandbox = FakeSandbox([schedule("every-5", "rate(5 minutes)", StartDate=T0)])
    clock = Clock(T0)
    runner = ScheduleRunner(sandbox, lambda message: None, now=clock)
    runner.load()
    runner.run_due()
    clock.now = T0 + datetime.timedelta(minutes=23)  # the machine slept through four invocations
    runner.run_due()
    assert [when - T0 for _, when in sandbox.fired] == [datetime.timedelta(0), datetime.timedelta(minutes=5)]
    assert runner.targets[0].due == T0 + datetime.timedelta(minutes=25)


def test_a_refused_invocation_is_reported_and_the_schedule_goes_on():
    refusal = iam.AssumeRoleRefused("arn:aws:iam::123456789012:role/r", iam.SCHEDULER, "no statement admits it")
    sandbox = FakeSandbox([schedule("every-1", "rate(1 minute)")], refuse=refusal)
    clock = Clock(T0)
    reports: list[str] = []
    runner = ScheduleRunner(sandbox, reports.append, now=clock)
    runner.load()
    runner.run_due()
    assert reports == [
        "schedule every-1 could not start its target for 2026-03-01T05:58:30Z: scheduler.amazonaws.com cannot "
        "assume role arn:aws:iam::123456789012:role/r: no statement admits it"
    ]
    assert runner.targets[0].due == T0 + datetime.timedelta(minutes=1)


def test_a_schedule_it_cannot_evaluate_is_described_and_never_fired():
    sandbox = FakeSandbox([schedule("odd", "cron(0 6 * * * *)")])
    runner = ScheduleRunner(sandbox, lambda message: None, now=Clock(T0))
    runner.load()
    assert runner.run_due() > 0 and sandbox.fired == []
    assert runner.targets[0].describe().startswith("odd: cron(0 6 * * * *) (UTC): not evaluated (")


@pytest.fixture
def control():
    reports: list[str] = []
    server = ControlServer(FakeSandbox([]), report=reports.append).start()
    server.reports = reports
    yield server
    server.stop()


def post(control, body, token=None, path=FIRE_PATH):
    headers = {"Authorization": f"Bearer {control.token if token is None else token}"}
    return requests.post(control.url + path, data=json.dumps(body), headers=headers, timeout=10)


def test_the_control_endpoint_fires_a_served_pipelines_schedule_for_its_token_only(control):
    answer = post(control, {"pipeline": "radar", "scheduledTime": "2026-03-01T07:00:00+01:00"})
    assert answer.status_code == 200
    assert answer.json() == {
        "executionArn": "arn:aws:states:us-west-2:123456789012:execution:m:radar-daily-1",
        "scheduleName": "radar-daily",
        "scheduledTime": "2026-03-01T06:00:00Z",
    }
    assert control.sandbox.fired == [("radar-daily", datetime.datetime(2026, 3, 1, 6, tzinfo=UTC))]
    assert control.reports == ["fired the schedule of radar (radar-daily) for 2026-03-01T06:00:00Z, on request"]
    assert post(control, {"pipeline": "radar"}, token="guess").status_code == 401
    assert post(control, {"pipeline": "radar"}, path="/other").status_code == 404
    missing = post(control, {"pipeline": "greeting"})
    assert (missing.status_code, missing.json()["message"]) == (
        404,
        "pipeline 'greeting' has no schedule in this sandbox; scheduled: radar",
    )
    assert post(control, {"scheduledTime": "now"}).status_code == 400
    assert len(control.sandbox.fired) == 1


def test_the_control_endpoint_answers_403_when_the_scheduler_may_not_start_the_target(control):
    control.sandbox.refuse = iam.AssumeRoleRefused("arn:aws:iam::123456789012:role/r", iam.SCHEDULER, "no")
    answer = post(control, {"pipeline": "radar"})
    assert answer.status_code == 403 and "cannot assume role" in answer.json()["message"]


class FakeStepFunctions:
    def __init__(self):
        self.executions: dict[str, list[dict]] = {"router": [], "run": []}

    def list_state_machines(self):
        return {"stateMachines": [{"name": n, "stateMachineArn": n} for n in ("run", "router")]}

    def get_paginator(self, name):
        assert name == "list_executions"
        return types.SimpleNamespace(
            paginate=lambda stateMachineArn: [{"executions": self.executions[stateMachineArn]}]
        )

    def describe_execution(self, executionArn):
        return {"error": "MalformedUploadError"}


def test_executions_get_a_line_as_they_start_and_as_they_end_in_order():
    sfn = FakeStepFunctions()
    sandbox = types.SimpleNamespace(client=lambda service: sfn)
    lines = []
    watcher = ExecutionWatcher(sandbox, lines.append)
    start = datetime.datetime(2026, 3, 1, tzinfo=UTC)
    router = {"executionArn": "a:router:1", "name": "1", "status": "SUCCEEDED", "startDate": start}
    router["stopDate"] = start + datetime.timedelta(seconds=0.25)
    run = {
        "executionArn": "a:run:2",
        "name": "2",
        "status": "RUNNING",
        "startDate": start + datetime.timedelta(seconds=0.1),
    }
    sfn.executions = {"router": [router], "run": [run]}
    watcher.poll()
    watcher.poll()  # nothing new
    run.update(status="FAILED", stopDate=start + datetime.timedelta(seconds=2.1))
    watcher.poll()
    assert [(line.event, line.state_machine, line.name, line.duration_s, line.error) for line in lines] == [
        ("started", "router", "1", None, None),  # the router first: it started first
        ("started", "run", "2", None, None),
        ("SUCCEEDED", "router", "1", 0.25, None),
        ("FAILED", "run", "2", 2.0, "MalformedUploadError"),
    ]
    assert str(lines[3]).endswith("  FAILED     run  2  2.00s  MalformedUploadError")


def test_api_ports_follow_the_names_order_from_the_first_port():
    assert api_ports(["sw-dev-release", "greeting-api", "incidents-api"], 4600) == {
        "greeting-api": 4600,
        "incidents-api": 4601,
        "sw-dev-release": 4602,
    }
    assert set(api_ports(["b", "a"], 0).values()) == {0}


def test_the_database_line_names_the_server_and_the_secret_but_not_the_password():
    server = types.SimpleNamespace(
        user="incidents_admin", host="127.0.0.1", port=5544, dbname="incidents", sslmode="verify-full",
        ca_path="/tmp/pg/ca.pem", password="s3cret-Pa55",
    )  # fmt: skip
    rds = types.SimpleNamespace(
        describe_db_instances=lambda DBInstanceIdentifier: {
            "DBInstances": [{"MasterUserSecret": {"SecretArn": "arn:aws:secretsmanager:…:secret:rds!db-1"}}]
        }
    )
    sandbox = types.SimpleNamespace(
        databases=types.SimpleNamespace(servers=lambda: {"sw-dev-incidents": server}), client=lambda service: rds
    )
    assert _databases(sandbox) == [
        (
            "sw-dev-incidents",
            "postgresql://incidents_admin@127.0.0.1:5544/incidents?sslmode=verify-full&sslrootcert=/tmp/pg/ca.pem",
            "arn:aws:secretsmanager:…:secret:rds!db-1",
        )
    ]
