"""Cost per run, the pure parts: schedules, DynamoDB sizing, transitions, the Express verdict, the arithmetic.

Nothing here deploys: the usage is written by hand (or the program is recorded), and each expected
figure is worked out from the list prices in the test itself.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest

from infra.cli.cost import _runs_per_month, quantity, usd
from infra.cost import pricing
from infra.cost.prices import PRICE_TABLES, UnknownRegion, bedrock_model, prices_for
from infra.cost.schedule import ScheduleError, runs_per_month
from infra.cost.usage import (
    API_KIND,
    EVENTS_KIND,
    FUNCTION_KIND,
    MACHINE_KIND,
    SCHEDULE_KIND,
    ExecutionUse,
    FunctionUse,
    Owners,
    PipelineUsage,
    count_transitions,
    owner_of,
    s3_class,
)
from infra.sandbox.metering import dynamodb_units, item_size

PRICES = prices_for("us-west-2")


def definition_of(program, name: str) -> dict:
    import json

    (machine,) = [r for r in program.of_type("aws:sfn/stateMachine:StateMachine") if r.name == name]
    value = machine.inputs["definition"]
    return json.loads(value) if isinstance(value, str) else value


def execution(definition: dict, duration_s: float = 1.0, machine_type: str = "STANDARD", **kw) -> ExecutionUse:
    fields = dict(
        arn="arn:aws:states:us-west-2:123456789012:execution:m:e",
        machine_arn="arn:aws:states:us-west-2:123456789012:stateMachine:m",
        machine_type=machine_type,
        status="SUCCEEDED",
        duration_s=duration_s,
        transitions=3,
        retries=0,
        definition=definition,
        max_payload_bytes=100,
        log_bytes=0,
        root=True,
    )
    fields.update(kw)
    return ExecutionUse(**fields)


# -- schedules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "runs"),
    [
        ("cron(0 6 * * ? *)", 365.25 / 12),  # daily: 30.44 a month
        ("cron(30 5,17 * * ? *)", 2 * 365.25 / 12),
        ("rate(1 hour)", 24 * 365.25 / 12),
        ("rate(5 minutes)", 12 * 24 * 365.25 / 12),
        ("rate(2 days)", 365.25 / 12 / 2),
        ("cron(0 9 ? * MON-FRI *)", 1043 / 48),  # the weekdays of 2025–2028
        ("cron(0/15 * * * ? *)", 96 * 365.25 / 12),
        ("cron(0 0 L * ? *)", 1),
        ("cron(0 0 ? * 6#3 *)", 1),  # the third Friday
        ("cron(0 0 1 JAN ? *)", 1 / 12),
        ("cron(0 0 1 * ? 2026)", 12 / 48),
    ],
)
def test_runs_per_month_of_a_schedule_expression(expression, runs):
    assert runs_per_month(expression) == pytest.approx(runs)


def test_a_one_time_schedule_has_no_monthly_rate():
    assert runs_per_month("at(2026-12-24T18:00:00)") is None


@pytest.mark.parametrize(
    "expression",
    ["daily", "rate(0 hours)", "rate(1 fortnight)", "cron(0 6 * * *)", "cron(0 6 * * MON *)", "cron(0 25 * * ? *)"],
)
def test_an_unreadable_schedule_is_refused_naming_it(expression):
    with pytest.raises(ScheduleError, match=re.escape(repr(expression))):
        runs_per_month(expression)


def test_monthly_runs_come_from_the_pipeline_schedule_or_the_given_rate_or_1000(dev_program):
    assert _runs_per_month(dev_program, "radar", None) == (pytest.approx(30.4375), "cron(0 6 * * ? *)")
    assert _runs_per_month(dev_program, "daily-analysis", None)[1] == "cron(0 5 * * ? *)"
    assert _runs_per_month(dev_program, "greeting", None) == (1000.0, "assumed: no schedule")
    assert _runs_per_month(dev_program, "radar", 250.0) == (250.0, "--runs-per-month")


# -- prices ---------------------------------------------------------------------------------------


def test_the_price_table_is_refused_for_a_region_it_does_not_cover():
    assert set(PRICE_TABLES) == {"us-west-2", "us-east-1"}
    with pytest.raises(UnknownRegion, match="no price table for region 'eu-west-1'"):
        prices_for("eu-west-1")


def test_every_price_names_its_source_and_the_quoted_price_matches_the_unit_price():
    for key, price in PRICES.items():
        assert price.source.startswith("https://"), key
        assert price.usd >= 0 and price.quoted, key
    assert PRICES["states.transition"].usd * 1000 == pytest.approx(0.025)
    assert PRICES["lambda.request"].usd * 1_000_000 == pytest.approx(0.20)
    assert PRICES["secretsmanager.api"].usd * 10_000 == pytest.approx(0.05)
    assert PRICES["kms.request"].usd * 10_000 == pytest.approx(0.03)
    assert PRICES["bedrock.amazon.nova-lite-v1:0.input"].usd * 1000 == pytest.approx(0.00006)


def test_an_inference_profile_prices_as_its_foundation_model():
    assert bedrock_model("us.amazon.nova-lite-v1:0") == "amazon.nova-lite-v1:0"
    assert bedrock_model("amazon.nova-lite-v1:0") == "amazon.nova-lite-v1:0"


def test_money_is_shown_in_cents_or_three_significant_digits():
    assert usd(2.7189) == "$2.72"
    assert usd(0.0000845) == "$0.0000845"
    assert usd(0.000351) == "$0.000351"
    assert usd(0) == "$0"
    assert quantity(2609) == "2,609" and quantity(0.000375) == "0.0003750"


# -- DynamoDB sizes -------------------------------------------------------------------------------


def test_item_size_counts_names_and_values_as_dynamodb_does():
    assert item_size({"id": {"S": "abc"}}) == 2 + 3
    assert item_size({"n": {"N": "123.45"}}) == 1 + 4  # 5 significant digits: 3 bytes, plus 1
    assert item_size({"ok": {"BOOL": True}, "x": {"NULL": True}}) == 3 + 2
    assert item_size({"b": {"B": "AAEC"}}) == 1 + 3  # base64 of three bytes
    assert item_size({"l": {"L": [{"S": "ab"}, {"N": "7"}]}}) == 1 + 3 + (1 + 2) + (1 + 2)
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_size({"é": {"S": "é"}}) == 4  # UTF-8 bytes


def big(size: int) -> dict:
    return {"pk": {"S": "x" * (size - 2)}}


def test_a_write_is_one_unit_per_kilobyte_of_the_larger_item_before_or_after():
    assert dynamodb_units("PutItem", {"Item": big(100)}, {}) == {"wru": 1}
    assert dynamodb_units("PutItem", {"Item": big(1500)}, {}) == {"wru": 2}
    assert dynamodb_units("PutItem", {"Item": big(100)}, {}, stored_before=3000) == {"wru": 3}
    assert dynamodb_units("UpdateItem", {"Key": {}}, {}, stored_before=500, stored_after=2100) == {"wru": 3}
    assert dynamodb_units("DeleteItem", {"Key": {}}, {}, stored_before=0) == {"wru": 1}


def test_a_read_is_one_unit_per_4_kb_and_half_when_eventually_consistent():
    assert dynamodb_units("GetItem", {}, {"Item": big(5000)}) == {"rru": 1.0}
    assert dynamodb_units("GetItem", {"ConsistentRead": True}, {"Item": big(5000)}) == {"rru": 2.0}
    assert dynamodb_units("GetItem", {}, {}) == {"rru": 0.5}  # a miss still reads


def test_a_query_is_sized_by_what_it_read_including_what_a_filter_dropped():
    items = [big(1000)] * 3
    assert dynamodb_units("Query", {}, {"Items": items, "Count": 3, "ScannedCount": 3}) == {"rru": 0.5}
    assert dynamodb_units("Query", {"ConsistentRead": True}, {"Items": items, "Count": 3, "ScannedCount": 12}) == {
        "rru": 3.0
    }


def test_batches_count_per_item_and_transactions_twice():
    writes = {"RequestItems": {"t": [{"PutRequest": {"Item": big(2000)}}, {"DeleteRequest": {"Key": {}}}]}}
    assert dynamodb_units("BatchWriteItem", writes, {}) == {"wru": 3}
    assert dynamodb_units("BatchWriteItem", writes, {"UnprocessedItems": {"t": [{}]}}) == {"wru": 2}
    transaction = {"TransactItems": [{"Put": {"Item": big(100)}}, {"Update": {}}]}
    assert dynamodb_units("TransactWriteItems", transaction, {}) == {"wru": 4.0}
    answers = {"Responses": {"t": [big(100), big(100)]}}
    assert dynamodb_units("BatchGetItem", {"RequestItems": {"t": {"ConsistentRead": True}}}, answers) == {"rru": 2.0}


# -- Step Functions -------------------------------------------------------------------------------


def test_transitions_are_the_states_entered_plus_each_retry():
    history = [
        {"type": "ExecutionStarted"},
        {"type": "TaskStateEntered"},
        {"type": "LambdaFunctionScheduled"},
        {"type": "LambdaFunctionFailed"},
        {"type": "LambdaFunctionScheduled"},  # the retry
        {"type": "LambdaFunctionSucceeded"},
        {"type": "TaskStateExited"},
        {"type": "PassStateEntered"},
        {"type": "SucceedStateEntered"},
        {"type": "ExecutionSucceeded"},
    ]
    assert count_transitions(history) == (4, 1)


def test_express_is_refused_for_a_callback_wait_with_the_state_named(dev_program):
    verdict = pricing.express_verdict([execution(definition_of(dev_program, "release-approval-sfn"))], [60])
    assert not verdict.qualifies and verdict.short == "no"
    assert "WaitForJiraCallback waits for a task token (.waitForTaskToken)" in verdict.reason


def test_express_qualifies_a_short_run_bounded_by_its_own_timeout(dev_program):
    verdict = pricing.express_verdict([execution(definition_of(dev_program, "greeting-sfn"), 0.2)], [30])
    assert verdict.qualifies and verdict.caveats == () and verdict.short == "yes"


def test_express_qualifies_with_caveats_when_functions_could_outlast_five_minutes_or_a_router_names_runs(dev_program):
    incidents = execution(definition_of(dev_program, "incidents-sfn"), 1.5)
    verdict = pricing.express_verdict([incidents], [600, 600], started_by_name=True)
    assert verdict.short == "yes*"
    assert any("600 s" in caveat for caveat in verdict.caveats)
    assert any("idempotent for Standard only" in caveat for caveat in verdict.caveats)


@pytest.mark.parametrize(
    ("states", "reason"),
    [
        ({"W": {"Type": "Wait", "Seconds": 600, "End": True}}, "W waits 600 s"),
        ({"W": {"Type": "Wait", "TimestampPath": "$.t", "End": True}}, "W waits until a time read at run time"),
        (
            {"M": {"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "States": {}}}},
            "M is a Distributed Map",
        ),
        ({"J": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync", "End": True}}, ".sync"),
        (
            {
                "P": {
                    "Type": "Parallel",
                    "Branches": [
                        {"States": {"A": {"Type": "Task", "Resource": "arn:aws:states:us-west-2:1:activity:a"}}}
                    ],
                }
            },
            "A is an activity task",
        ),
    ],
)
def test_express_is_refused_for_what_it_cannot_run(states, reason):
    verdict = pricing.express_verdict([execution({"StartAt": next(iter(states)), "States": states})], [])
    assert not verdict.qualifies and reason in verdict.reason


def test_express_is_refused_when_a_measured_run_took_five_minutes():
    verdict = pricing.express_verdict([execution({"States": {}}, duration_s=301)], [])
    assert not verdict.qualifies and "301 s" in verdict.reason


# -- the arithmetic -------------------------------------------------------------------------------


def hand_usage() -> PipelineUsage:
    use = PipelineUsage("p")
    use.executions = [
        execution({"States": {}, "TimeoutSeconds": 60}, duration_s=0.12, transitions=10, retries=2),
        execution({"States": {}}, duration_s=0.05, machine_type="EXPRESS", root=False),
    ]
    use.functions = {
        "f": FunctionUse("f", 128, "x86_64", invocations=2, billed_ms=1000),
        "g": FunctionUse("g", 1024, "arm64", invocations=1, billed_ms=500),
    }
    use.api_requests = use.api_units = 1
    use.s3 = Counter(tier1=4, tier2=10)
    use.dynamodb_wru, use.dynamodb_rru = 3, 1.5
    use.secrets_calls, use.kms_calls, use.kms_on_behalf = 2, 1, 2
    use.scheduler_invocations = 1
    use.bedrock = {"us.amazon.nova-lite-v1:0": [1, 1000, 500]}
    return use


def test_a_standard_run_is_priced_line_by_line_at_list_prices():
    lines = {line.item: line for line in pricing.run_lines(hand_usage(), PRICES)}
    assert lines["Step Functions Standard transitions"].usd == pytest.approx(10 * 0.000025)
    assert "2 retries included" in lines["Step Functions Standard transitions"].note
    # The EXPRESS router: one request, 0.05 s rounded up to 0.1 s at 64 MB.
    assert lines["Step Functions Express requests (router)"].usd == pytest.approx(1e-6)
    assert lines["Step Functions Express duration (router)"].quantity == pytest.approx(0.1 * 0.0625)
    assert lines["Lambda requests"].quantity == 3
    assert lines["Lambda duration (x86_64)"].usd == pytest.approx(0.125 * 1.0 * 0.0000166667)
    assert lines["Lambda duration (arm64)"].usd == pytest.approx(1.0 * 0.5 * 0.0000133334)
    assert lines["S3 PUT, COPY, POST, LIST requests"].usd == pytest.approx(4 * 0.005 / 1000)
    assert lines["S3 GET and other requests"].usd == pytest.approx(10 * 0.0004 / 1000)
    assert lines["DynamoDB write request units"].usd == pytest.approx(3 * 0.625e-6)
    assert lines["KMS requests (by Secrets Manager and SNS)"].quantity == 2
    assert lines["Bedrock input tokens"].usd == pytest.approx(1000 * 0.00006 / 1000)
    assert lines["Bedrock output tokens"].usd == pytest.approx(500 * 0.00024 / 1000)
    assert lines["X-Ray traces recorded"].quantity == 1  # the router's run is part of the root's trace
    expected = (
        10 * 0.000025 + 1e-6 + 0.00625 * 0.00001667 + 3 * 0.2e-6 + 0.125 * 0.0000166667 + 0.5 * 0.0000133334
        + 1e-6 + 4 * 0.005e-3 + 10 * 0.0004e-3 + 3 * 0.625e-6 + 1.5 * 0.125e-6 + 2 * 0.05e-4 + 3 * 0.03e-4
        + 1e-6 + 1000 * 0.00006e-3 + 500 * 0.00024e-3 + 5e-6
    )  # fmt: skip
    assert pricing.total(lines.values()) == pytest.approx(expected)


def test_as_express_the_standard_transitions_become_requests_and_duration():
    standard = pricing.run_lines(hand_usage(), PRICES)
    express = {line.item: line for line in pricing.run_lines(hand_usage(), PRICES, as_express=True)}
    assert "Step Functions Standard transitions" not in express
    assert express["Step Functions Express requests (the pipeline)"].quantity == 1
    # 0.12 s → 0.2 s in 100 ms steps, one 64 MB chunk.
    assert express["Step Functions Express duration (the pipeline)"].quantity == pytest.approx(0.2 * 0.0625)
    saved = 10 * 0.000025 - (1e-6 + 0.2 * 0.0625 * 0.00001667)
    assert pricing.total(standard) - pricing.total(express.values()) == pytest.approx(saved)


def test_an_express_run_is_billed_for_more_memory_chunks_only_past_64_mb():
    assert pricing.express_memory_chunks(execution({"States": {}}, max_payload_bytes=256 * 1024)) == 1
    assert pricing.express_memory_chunks(execution({"States": {}}, max_payload_bytes=20 * 1024 * 1024)) == 2


def test_fixed_monthly_costs_are_the_declared_secrets_keys_database_and_network(dev_program):
    fixed = pricing.fixed_costs(dev_program.resources, dev_program.pipelines, PRICES)
    incidents = {f.item: f for f in fixed.of("incidents")}
    assert incidents["NAT gateway incidents-network-nat-0"].usd == pytest.approx(730 * 0.045)
    assert incidents["RDS postgres db.t4g.micro"].usd == pytest.approx(730 * 0.016)
    assert incidents["RDS gp3 storage, 20 GB"].usd == pytest.approx(20 * 0.115)
    assert incidents["secret the RDS-managed master password"].usd == pytest.approx(0.40)
    assert incidents["public IPv4 address incidents-network-nat-0"].usd == pytest.approx(730 * 0.005)
    release = [f.item for f in fixed.of("release-approval")]
    assert sum(item.startswith("secret ") for item in release) == 4 and "KMS key release-approval-key" in release
    # Its key, and an alarm on each of its machine's three metrics, its function's two and its API's 5xx.
    greeting = [f.item for f in fixed.of("greeting")]
    assert greeting[0] == "KMS key greeting-key" and len(greeting) == 7
    assert all(item.startswith("alarm greeting-") for item in greeting[1:])
    assert sum(f.usd for f in fixed.of("greeting")) == pytest.approx(1.00 + 6 * 0.10)
    # The stack's own: the operations topic's key and the dashboard, on no pipeline's bill.
    assert sorted(f.item for f in fixed.items if f.pipeline is None) == [
        "KMS key operations-key", "dashboard operations-dashboard",
    ]  # fmt: skip
    assert fixed.unpriced == []


# -- attribution ----------------------------------------------------------------------------------


def test_owners_say_which_pipeline_each_role_is_and_what_for(dev_program):
    owners = Owners.from_resources(dev_program.resources, dev_program.pipelines)
    kinds = {}
    for role, (pipeline, kind) in owners.roles.items():
        kinds.setdefault(pipeline, Counter())[kind] += 1
        assert f"/{pipeline}/" in role
    assert kinds["greeting"] == Counter({FUNCTION_KIND: 1, MACHINE_KIND: 1, API_KIND: 1})
    assert kinds["radar"][SCHEDULE_KIND] == 1 and kinds["uploads"][EVENTS_KIND] == 1
    assert {t for _, t in owners.machines.values()} == {"STANDARD", "EXPRESS"}
    assert owners.role("arn:aws:iam::123456789012:role/sw-dev/radar/undeclared-role")[0] == "radar"
    assert owner_of("daily-analysis-key", None, dev_program.pipelines) == "daily-analysis"
    assert owner_of("sw-dev-access-logs", None, dev_program.pipelines) is None


@pytest.mark.parametrize(
    ("operation", "kind"),
    [
        ("PutObject", "tier1"),
        ("CopyObject", "tier1"),
        ("ListObjectsV2", "tier1"),
        ("UploadPart", "tier1"),
        ("GetObject", "tier2"),
        ("HeadObject", "tier2"),
        ("DeleteObject", "free"),
        ("DeleteObjects", "free"),
    ],
)
def test_s3_requests_are_classed_as_s3_prices_them(operation, kind):
    assert s3_class(operation) == kind


def test_a_log_line_per_gigabyte_is_priced_from_the_bytes():
    use = PipelineUsage(
        "p", functions={"f": FunctionUse("f", 128, "x86_64", invocations=1, billed_ms=1, log_bytes=2**30)}
    )
    (logs,) = [line for line in pricing.run_lines(use, PRICES) if line.item == "CloudWatch Logs ingestion"]
    assert logs.usd == pytest.approx(0.50) and math.isclose(logs.quantity, 1.0)


def test_unused_services_add_no_line():
    lines = pricing.run_lines(PipelineUsage("p", executions=[execution({"States": {}})]), PRICES)
    assert [line.item for line in lines] == ["Step Functions Standard transitions", "X-Ray traces recorded"]
