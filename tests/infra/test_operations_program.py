"""Operations under Pulumi mocks: an alarm for every state machine, function and HTTP API, the topic
they notify (encrypted, its key and policy admitting CloudWatch), its e-mail subscriptions, the dashboard,
and the ``stepworks:operations`` settings."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pulumi
import pytest

from infra.components.operations import (
    ALARM_KINDS,
    API_ALARMS,
    FUNCTION_ALARMS,
    RUNBOOK,
    STATE_MACHINE_ALARMS,
    AlarmTarget,
    Operations,
    OperationsArgs,
    PipelineView,
    dashboard_body,
)
from infra.components.pipeline import FunctionSpec, StepFunctionPipeline, StepFunctionPipelineArgs
from infra.components.stack import FunctionRuntime, StackContext
from infra.config import ConfigError, OperationsSettings, load_stack_config
from infra.hardening import policy as p
from infra.integrations import TableRef
from infra.sandbox.mocks import ACCOUNT_ID, REGION, RecordingMocks
from infra.sandbox.program import ProgramError, load_stack_file, run_program
from infra.workflows import greeting

ROOT = Path(__file__).resolve().parents[2]
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
MACHINE = "aws:sfn/stateMachine:StateMachine"
FUNCTION = "aws:lambda/function:Function"
API = "aws:apigatewayv2/api:Api"
STAGE = "aws:apigatewayv2/stage:Stage"
TOPIC = "aws:sns/topic:Topic"


def alarms(program) -> dict[str, dict]:
    """Alarm name → inputs."""
    found = {a.inputs["name"]: a.inputs for a in program.of_type(ALARM)}
    assert len(found) == len(program.of_type(ALARM)), "two alarms share a name"
    return found


def watching(program, namespace: str, dimension: str, value: str) -> dict[str, str]:
    """Metric → alarm name of the alarms on one resource."""
    return {
        a["metricName"]: name
        for name, a in alarms(program).items()
        if a["namespace"] == namespace and a["dimensions"].get(dimension) == value
    }


def operations_topic(program):
    (topic,) = [t for t in program.of_type(TOPIC) if t.inputs["name"] == "sw-dev-operations-alarms"]
    return topic


# -- the alarms of the dev stack --------------------------------------------------------------------


def test_every_state_machine_of_the_dev_stack_has_its_three_alarms_named_after_it(dev_program):
    machines = dev_program.of_type(MACHINE)
    assert len(machines) >= 8  # six pipelines, two of them with a once-per-object router
    for machine in machines:
        name = machine.inputs["name"]
        found = watching(dev_program, "AWS/States", "StateMachineArn", machine.outputs["arn"])
        assert found == {
            "ExecutionsFailed": f"{name}-executions-failed",
            "ExecutionsTimedOut": f"{name}-executions-timed-out",
            "ExecutionThrottled": f"{name}-executions-throttled",
        }


def test_every_function_of_the_dev_stack_has_an_errors_and_a_throttles_alarm(dev_program):
    functions = dev_program.of_type(FUNCTION)
    assert len(functions) > 30  # the reference services' functions too
    for function in functions:
        name = function.inputs["name"]
        found = watching(dev_program, "AWS/Lambda", "FunctionName", name)
        assert found == {"Errors": f"{name}-errors", "Throttles": f"{name}-throttles"}


def test_every_http_api_of_the_dev_stack_has_a_5xx_alarm_on_its_stage(dev_program):
    apis = dev_program.of_type(API)
    assert len(apis) == 4  # greeting and incidents start APIs, the Jira callback, the reference services
    stages = {s.inputs["apiId"]: s.inputs["name"] for s in dev_program.of_type(STAGE)}
    names = set()
    for api in apis:
        found = watching(dev_program, "AWS/ApiGateway", "ApiId", api.id)
        assert list(found) == ["5xx"]
        (name,) = found.values()
        assert (
            alarms(dev_program)[name]["dimensions"]
            == {"ApiId": api.id, "Stage": stages[api.id]}
            == {
                "ApiId": api.id,
                "Stage": "$default",
            }
        )
        names.add(name)
    assert names == {
        "sw-dev-greeting-start-5xx",
        "sw-dev-incidents-start-5xx",
        "sw-dev-release-approval-callbacks-5xx",
        "sw-dev-release-approval-reference-5xx",
    }


def test_there_is_no_alarm_beyond_those_and_the_counts_per_kind_follow_the_resources(dev_program):
    counts = Counter(a["metricName"] for a in alarms(dev_program).values())
    machines, functions = len(dev_program.of_type(MACHINE)), len(dev_program.of_type(FUNCTION))
    assert counts == {
        **{spec.metric: machines for spec in STATE_MACHINE_ALARMS},
        **{spec.metric: functions for spec in FUNCTION_ALARMS},
        **{spec.metric: len(dev_program.of_type(API)) for spec in API_ALARMS},
    }


def test_each_alarm_fires_on_one_event_in_five_minutes_and_treats_no_data_as_no_failure(dev_program):
    for name, alarm in alarms(dev_program).items():
        assert (alarm["statistic"], alarm["threshold"], alarm["comparisonOperator"]) == (
            "Sum",
            1,
            "GreaterThanOrEqualToThreshold",
        ), name
        assert (alarm["period"], alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (300, 1, 1), name
        assert alarm["treatMissingData"] == "notBreaching", name


def test_every_alarm_notifies_the_operations_topic_on_alarm_and_on_ok(dev_program):
    topic_arn = operations_topic(dev_program).outputs["arn"]
    assert dev_program.outputs["operations"]["alarmTopicArn"] == topic_arn
    for name, alarm in alarms(dev_program).items():
        assert alarm["actionsEnabled"] is True, name
        assert alarm["alarmActions"] == [topic_arn] and alarm["okActions"] == [topic_arn], name


def test_alarm_names_are_the_pipelines_and_descriptions_say_what_happened_and_where_the_runbook_is(dev_program):
    pipelines = dev_program.pipelines
    anchors = {spec.anchor for spec in ALARM_KINDS}
    for name, alarm in alarms(dev_program).items():
        pipeline = alarm["tags"]["pipeline"]
        assert pipeline in pipelines and name.startswith(f"sw-dev-{pipeline}-"), name
        description = alarm["alarmDescription"]
        assert alarm["metricName"] in description and ">= 1 in 5 minutes" in description, description
        (anchor,) = re.findall(rf"Runbook: {re.escape(RUNBOOK)}#([\w-]+)$", description)
        assert anchor in anchors
        assert len(description) <= 1024
    assert {a["tags"]["pipeline"] for a in alarms(dev_program).values()} == set(pipelines)


def test_every_runbook_section_an_alarm_points_to_exists():
    text = (ROOT / RUNBOOK).read_text()
    headings = {
        re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in re.findall(r"^#+ (.+)$", text, re.M)
    }
    assert {spec.anchor for spec in ALARM_KINDS} <= headings
    assert "(docs/operations.md)" in (ROOT / "README.md").read_text()


# -- the topic, its key and its policy ---------------------------------------------------------------


def test_the_operations_topic_is_encrypted_with_a_key_that_admits_cloudwatch_for_the_stacks_alarms(dev_program):
    topic = operations_topic(dev_program)
    (key,) = [k for k in dev_program.of_type("aws:kms/key:Key") if k.outputs["arn"] == topic.inputs["kmsMasterKeyId"]]
    assert key.inputs["enableKeyRotation"] is True
    statements = [s for s in p.statements(key.inputs["policy"]) if "cloudwatch.amazonaws.com" in str(s["Principal"])]
    (cloudwatch,) = statements
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:sw-dev-*"},
    }
    for alarm in dev_program.of_type(ALARM):
        assert p.condition_admits(cloudwatch, "aws:SourceArn", alarm.outputs["arn"]), alarm.name
    # Only CloudWatch and what every pipeline key admits: no other service uses this key.
    services = {s for st in p.statements(key.inputs["policy"]) for s in p.principals(st, "Service")}
    assert services == {"cloudwatch.amazonaws.com", f"logs.{REGION}.amazonaws.com"}


def test_the_topic_policy_lets_cloudwatch_publish_for_the_stacks_alarms_only_and_only_over_tls(dev_program):
    topic = operations_topic(dev_program)
    (policy,) = [
        q for q in dev_program.of_type("aws:sns/topicPolicy:TopicPolicy") if q.inputs["arn"] == topic.outputs["arn"]
    ]
    statements = {s["Sid"]: s for s in p.statements(policy.inputs["policy"])}
    publish = statements["CloudWatchAlarmsPublish"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Action"] == "sns:Publish" and publish["Resource"] == topic.outputs["arn"]
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}
    assert not p.condition_admits(publish, "aws:SourceArn", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:other")
    assert any(p.denies_insecure_transport(s) for s in statements.values())


def test_the_dev_stack_subscribes_nobody_until_alert_emails_are_set(dev_program):
    topic_arn = operations_topic(dev_program).outputs["arn"]
    subscriptions = dev_program.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert [s for s in subscriptions if s.inputs["topic"] == topic_arn] == []


class NoLayers:
    def layers_for(self, handler: str) -> list:
        return []


def _stack(alarms: AlarmTarget | None = None) -> StackContext:
    runtime = FunctionRuntime("python3.12", "x86_64", "INFO", None, NoLayers())
    return StackContext("sw-test", REGION, ACCOUNT_ID, 30, runtime, alarms=alarms)


def test_each_alert_email_becomes_an_email_subscription_of_the_operations_topic():
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="stepworks", stack="test", preview=False)
    settings = OperationsSettings(alert_emails=("oncall@example.com", "ops@example.org"), alarm_period_minutes=15)

    @pulumi.runtime.test
    def declare():
        return Operations("operations", OperationsArgs(_stack(), settings)).topic.arn

    declare()
    (topic,) = mocks.of_type(TOPIC)
    subscriptions = mocks.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert [(s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions] == [
        ("email", "oncall@example.com"),
        ("email", "ops@example.org"),
    ]
    assert {s.inputs["topic"] for s in subscriptions} == {topic.outputs["arn"]}


def test_a_pipeline_built_from_the_components_gets_its_alarms_without_declaring_any():
    # A new workflow writes no alarm: a function and a state machine are enough.
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="stepworks", stack="test", preview=False)
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:sw-test-operations-alarms"
    target = AlarmTarget("sw-test", topic, period_s=900)

    @pulumi.runtime.test
    def declare():
        machine = StepFunctionPipeline(
            "newcomer",
            StepFunctionPipelineArgs(
                pipeline="newcomer",
                stack=_stack(target),
                key_arn=f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/00000000-0000-4000-8000-000000000000",
                functions={"work": FunctionSpec("pipelines.greeting.handlers.hello")},
                # Any definition: greeting's, with its function under this pipeline's key.
                render_definition=lambda refs: greeting.definition({**refs, "hello": refs["work"]}),
                references={"table": TableRef("t", f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/t")},
            ),
        )
        return machine.arn

    declare()
    found = {a.inputs["name"]: a.inputs for a in mocks.of_type(ALARM)}
    assert set(found) == {
        "sw-test-newcomer-executions-failed",
        "sw-test-newcomer-executions-timed-out",
        "sw-test-newcomer-executions-throttled",
        "sw-test-newcomer-work-errors",
        "sw-test-newcomer-work-throttles",
    }
    assert {a["period"] for a in found.values()} == {900}
    assert all(">= 1 in 15 minutes" in a["alarmDescription"] for a in found.values())
    assert set(target.pipelines) == {"newcomer"}
    assert len(target.pipelines["newcomer"].alarms) == 5


def test_without_an_alarm_target_a_component_declares_no_alarm():
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="stepworks", stack="test", preview=False)
    assert _stack().watch("anything") is None


def test_an_alarm_name_is_claimed_once_and_carries_the_stack_prefix():
    target = AlarmTarget("sw-test", "arn:aws:sns:us-west-2:123456789012:t")
    assert target.claim("sw-test-radar-executions-failed") == "sw-test-radar-executions-failed"
    with pytest.raises(ValueError, match="declared twice"):
        target.claim("sw-test-radar-executions-failed")
    with pytest.raises(ValueError, match="<prefix>-"):
        target.claim("radar-executions-failed")


# -- the dashboard ---------------------------------------------------------------------------------


def dashboard(program) -> dict:
    (board,) = program.of_type("aws:cloudwatch/dashboard:Dashboard")
    assert board.inputs["dashboardName"] == program.outputs["operations"]["dashboardName"] == "sw-dev-pipelines"
    return json.loads(board.inputs["dashboardBody"])


def metric_rows(widgets: list[dict], title_end: str) -> list[list]:
    """Every metric row of the widgets whose title ends with ``title_end``."""
    chosen = [w for w in widgets if w["properties"].get("title", "").endswith(title_end)]
    return [row for w in chosen for row in w["properties"]["metrics"]]


def test_the_dashboard_shows_every_machine_function_and_api_of_every_pipeline(dev_program):
    widgets = dashboard(dev_program)["widgets"]
    headings = [w["properties"]["markdown"].split("\n")[0] for w in widgets if w["type"] == "text"][1:]
    assert headings == [f"## {name}" for name in dev_program.pipelines]
    arns = {m.outputs["arn"] for m in dev_program.of_type(MACHINE)}
    for title, metrics in (
        (": executions", {"ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed"}),
        (": failures", {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted", "ExecutionThrottled"}),
    ):
        rows = metric_rows(widgets, title)
        assert {(r[1], r[3]) for r in rows} == {(m, a) for m in metrics for a in arns}, title
    durations = metric_rows(widgets, ": execution duration (ms)")
    assert {(r[1], r[3], r[4]["stat"]) for r in durations} == {
        ("ExecutionTime", a, stat) for a in arns for stat in ("p50", "p90")
    }
    errors = metric_rows(widgets, ": Lambda errors")
    assert sorted(r[3] for r in errors) == sorted(f.inputs["name"] for f in dev_program.of_type(FUNCTION))
    assert all(r[:3] == ["AWS/Lambda", "Errors", "FunctionName"] for r in errors)
    fives = metric_rows(widgets, ": API 5xx")
    assert sorted(r[3] for r in fives) == sorted(a.id for a in dev_program.of_type(API))
    assert all(r[:3] == ["AWS/ApiGateway", "5xx", "ApiId"] and r[4:6] == ["Stage", "$default"] for r in fives)
    shown = [arn for w in widgets if w["type"] == "alarm" for arn in w["properties"]["alarms"]]
    assert sorted(shown) == sorted(a.outputs["arn"] for a in dev_program.of_type(ALARM))


def test_the_dashboards_widgets_fit_the_grid_without_overlapping(dev_program):
    cells = set()
    for widget in dashboard(dev_program)["widgets"]:
        assert widget["x"] >= 0 and widget["x"] + widget["width"] <= 24
        for x in range(widget["x"], widget["x"] + widget["width"]):
            for y in range(widget["y"], widget["y"] + widget["height"]):
                assert (x, y) not in cells, widget
                cells.add((x, y))
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == REGION


def test_dashboard_body_lays_out_a_heading_then_each_pipelines_panels_four_to_a_row():
    arn = "arn:aws:states:eu-west-1:111122223333:stateMachine:sw-t-a"
    views = [
        PipelineView("a", machines=[("sw-t-a", arn)], functions=["sw-t-a-f"],
                     apis=[("sw-t-a-start", "abc", "$default")],
                     alarms=["arn:aws:cloudwatch:eu-west-1:111122223333:alarm:sw-t-a-errors"]),
        PipelineView("b", machines=[("sw-t-b", arn.replace("-a", "-b"))]),
    ]  # fmt: skip
    body = dashboard_body("eu-west-1", "# title", views, period_s=60)
    layout = [(w["type"], w["x"], w["y"], w["width"], w["height"]) for w in body["widgets"]]
    assert layout == [
        ("text", 0, 0, 24, 2),
        ("text", 0, 2, 24, 1),
        ("metric", 0, 3, 6, 6), ("metric", 6, 3, 6, 6), ("metric", 12, 3, 6, 6), ("metric", 18, 3, 6, 6),
        ("metric", 0, 9, 6, 6), ("alarm", 6, 9, 6, 6),
        ("text", 0, 15, 24, 1),
        ("metric", 0, 16, 6, 6), ("metric", 6, 16, 6, 6), ("metric", 12, 16, 6, 6),
    ]  # fmt: skip
    titles = [w["properties"].get("title") for w in body["widgets"] if w["type"] != "text"]
    assert titles == [
        "a: executions", "a: execution duration (ms)", "a: failures", "a: Lambda errors", "a: API 5xx", "a: alarms",
        "b: executions", "b: execution duration (ms)", "b: failures",
    ]  # fmt: skip
    assert {w["properties"]["period"] for w in body["widgets"] if w["type"] == "metric"} == {60}
    assert body["widgets"][6]["properties"]["metrics"] == [
        ["AWS/ApiGateway", "5xx", "ApiId", "abc", "Stage", "$default", {"label": "sw-t-a-start"}]
    ]
    assert dashboard_body("eu-west-1", "# title", views, period_s=60) == body  # pure


# -- settings ------------------------------------------------------------------------------------


def load(raw):
    return load_stack_config(raw, stack="dev", region="us-west-2", known_pipelines=["greeting"])


def test_operations_settings_default_to_no_subscriptions_and_five_minutes():
    assert load({}).operations == OperationsSettings((), 5)
    settings = load({"operations": {"alertEmails": ["oncall@example.com"], "alarmPeriodMinutes": "15"}}).operations
    assert settings == OperationsSettings(("oncall@example.com",), 15) and settings.alarm_period_s == 900


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("oncall@example.com", 'stepworks:operations: must be an object, got "oncall@example.com"'),
        ({"alertEmail": []}, "stepworks:operations.alertEmail: unknown setting; did you mean "
                             "stepworks:operations.alertEmails? allowed: alarmPeriodMinutes, alertEmails"),
        ({"alertEmails": ["oncall"]}, 'stepworks:operations.alertEmails: "oncall" is not an e-mail address'),
        ({"alertEmails": ["a@example.com", "a@example.com"]},
         "stepworks:operations.alertEmails: lists an address twice"),
        ({"alertEmails": "a@example.com"}, "stepworks:operations.alertEmails: \"a@example.com\" is not allowed"),
        ({"alarmPeriodMinutes": 0}, "stepworks:operations.alarmPeriodMinutes: 0 is out of range; allowed: 1–1440"),
        ({"alarmPeriodMinutes": 1.5}, "stepworks:operations.alarmPeriodMinutes: 1.5 is not a whole number"),
    ],
)  # fmt: skip
def test_bad_operations_settings_name_the_key(section, message):
    with pytest.raises(ConfigError) as raised:
        load({"operations": section})
    assert str(raised.value).startswith(message), str(raised.value)


def test_the_program_stops_on_a_bad_operations_setting_naming_it():
    config = {**load_stack_file("dev"), "stepworks:operations": {"alertEmails": ["not-an-address"]}}
    with pytest.raises(ProgramError, match=r'^stepworks:operations.alertEmails: "not-an-address" is not an e-mail'):
        run_program(RecordingMocks(), config, stack="dev")
