"""daily-analysis under Pulumi mocks and as a rendered definition: where each failure goes, the
QuickSight data sources, the topics' subscriptions, the Bedrock grants and the schedule's zone."""

from __future__ import annotations

import json

from infra import asl
from infra.integrations import TopicRef
from infra.workflows import daily_analysis

FUNCTIONS = ("validate", "summaries", "company", "products", "anomalies", "trends", "recommend", "combine", "report")
REFS = {
    **{key: f"arn:aws:lambda:us-west-2:123456789012:function:sw-dev-daily-analysis-{key}" for key in FUNCTIONS},
    "export": "arn:aws:lambda:us-west-2:123456789012:function:sw-dev-daily-analysis-export",
    "taskTimeout": "330",
    "alerts": TopicRef("arn:aws:sns:us-west-2:123456789012:sw-dev-daily-analysis-alerts"),
    "reports": TopicRef("arn:aws:sns:us-west-2:123456789012:sw-dev-daily-analysis-report"),
}


def rendered() -> dict:
    return daily_analysis.definition(REFS).document


def test_the_definition_passes_the_static_checks():
    assert asl.check_definition(rendered()) == []


def test_a_bedrock_branch_catches_only_what_makes_its_section_unavailable_and_the_rest_fails_the_parallel():
    parallel = rendered()["States"]["BedrockAnalysis"]
    for branch in parallel["Branches"]:
        (name,) = [n for n, s in branch["States"].items() if s["Type"] == "Task"]
        catchers = branch["States"][name]["Catch"]
        # Only the branch's own fallback is in reach: no catcher names a state outside the branch.
        assert [c["Next"] for c in catchers] == [f"{name}Unavailable"]
        assert catchers[0]["ErrorEquals"] == list(daily_analysis.UNAVAILABLE_ERRORS)
        assert "States.ALL" not in catchers[0]["ErrorEquals"]
    # Any other error of a branch fails the Parallel, whose catch-all alerts and fails the run.
    assert parallel["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"}]
    assert rendered()["States"]["NotifyFailure"]["Next"] == "Failed"
    assert rendered()["States"]["Failed"]["Type"] == "Fail"


def test_every_top_level_task_outside_the_intake_alerts_and_fails_on_an_unnamed_error():
    states = rendered()["States"]
    for name, state in states.items():
        if state["Type"] != "Task" or name in ("ValidateInput", "NotifyFailure"):
            continue
        assert state["Catch"][-1] == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"}
    assert json.dumps(states["ValidateInput"]["Catch"]) == json.dumps(
        [{"ErrorEquals": ["States.ALL"], "ResultPath": "$", "Next": "InputRejected"}]
    )
