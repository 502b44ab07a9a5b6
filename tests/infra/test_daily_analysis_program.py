"""daily-analysis under Pulumi mocks and as a rendered definition: where each failure goes, the
QuickSight data sources, the topics' subscriptions, the Bedrock grants and the schedule's zone."""

from __future__ import annotations

import json

from infra import asl
from infra.integrations import TopicRef
from infra.sandbox.mocks import RecordingMocks
from infra.sandbox.program import load_stack_file, run_program
from infra.workflows import daily_analysis
from pipelines.analysis.layout import DATASETS, manifest_key
from tests.infra.test_hardening import QUICKSIGHT_PRINCIPAL, variant

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


# -- with a QuickSight principal and e-mail subscriptions (the hardening pack's variant, run once) ---

QUICKSIGHT = "daily-analysis with a QuickSight principal and e-mail subscriptions"


def one(program, typ, name):
    (found,) = [r for r in program.of_type(typ) if r.name == name]
    return found


def test_a_quicksight_principal_gets_one_s3_data_source_per_dataset_over_its_manifest():
    program = variant(QUICKSIGHT)
    outputs = program.outputs["daily-analysis"]
    role = one(program, "aws:iam/role:Role", "daily-analysis-quicksight-role")
    sources = {s.inputs["dataSourceId"]: s.inputs for s in program.of_type("aws:quicksight/dataSource:DataSource")}
    assert set(sources) == {f"sw-dev-daily-analysis-{dataset}" for dataset in DATASETS}
    for dataset in DATASETS:
        source = sources[f"sw-dev-daily-analysis-{dataset}"]
        assert source["type"] == "S3"
        assert source["parameters"]["s3"] == {
            "manifestFileLocation": {"bucket": outputs["bucketName"], "key": manifest_key(dataset)},
            "roleArn": role.outputs["arn"],
        }
        (permission,) = source["permissions"]
        assert permission["principal"] == QUICKSIGHT_PRINCIPAL
    # The manifests the data sources read are deployed objects of the bucket.
    manifests = {o.inputs["key"] for o in program.of_type("aws:s3/bucketObjectv2:BucketObjectv2")}
    assert {manifest_key(d) for d in DATASETS} <= manifests


def test_the_quicksight_role_is_assumed_by_quicksight_of_this_account_and_reads_only_the_export():
    program = variant(QUICKSIGHT)
    bucket = program.outputs["daily-analysis"]["bucketName"]
    role = one(program, "aws:iam/role:Role", "daily-analysis-quicksight-role")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "quicksight.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    policy = json.loads(
        one(program, "aws:iam/rolePolicy:RolePolicy", "daily-analysis-quicksight-policy").inputs["policy"]
    )
    reads = sorted(r for s in policy["Statement"] if "s3:GetObject" in s["Action"] for r in s["Resource"])
    assert reads == [f"arn:aws:s3:::{bucket}/quicksight-manifests/*", f"arn:aws:s3:::{bucket}/quicksight/*"]
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions == {"s3:GetObject", "s3:ListBucket", "kms:Decrypt"}
    (listing,) = [s for s in policy["Statement"] if s["Action"] == ["s3:ListBucket"]]
    assert listing["Resource"] == [f"arn:aws:s3:::{bucket}"]


def test_the_e_mail_subscriptions_from_config_are_on_both_topics():
    program = variant(QUICKSIGHT)
    outputs = program.outputs["daily-analysis"]
    subscriptions = {}
    for subscription in program.of_type("aws:sns/topicSubscription:TopicSubscription"):
        assert subscription.inputs["protocol"] == "email"
        subscriptions.setdefault(subscription.inputs["topic"], set()).add(subscription.inputs["endpoint"])
    assert subscriptions == {
        outputs["alertsTopicArn"]: {"oncall@example.com"},
        outputs["reportTopicArn"]: {"sales@example.com", "ceo@example.com"},
    }


def test_without_a_quicksight_principal_there_is_no_data_source_and_no_quicksight_role(dev_program):
    assert dev_program.of_type("aws:quicksight/dataSource:DataSource") == []
    assert [r.name for r in dev_program.of_type("aws:iam/role:Role") if "quicksight" in r.name] == []


# -- the dev stack ---------------------------------------------------------------------------------


def test_only_the_functions_that_call_bedrock_may_invoke_the_model_and_only_its_arns(dev_program):
    expected = sorted(
        [
            "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.amazon.nova-lite-v1:0",
            *(
                f"arn:aws:bedrock:{r}::foundation-model/amazon.nova-lite-v1:0"
                for r in ("us-east-1", "us-east-2", "us-west-2")
            ),
        ]
    )
    invoking = {}
    for policy in dev_program.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            if any(action.startswith("bedrock:") for action in statement["Action"]):
                assert statement["Action"] == ["bedrock:InvokeModel"], policy.name
                invoking[policy.name] = statement["Resource"]
    assert invoking == {f"daily-analysis-{key}-policy": expected for key in ("anomalies", "trends", "recommend")}
    environment = {
        f.name: f.inputs["environment"]["variables"] for f in dev_program.of_type("aws:lambda/function:Function")
    }
    assert environment["daily-analysis-trends-function"]["MODEL_ID"] == "us.amazon.nova-lite-v1:0"


def test_the_schedules_time_zone_reaches_the_schedule_and_the_intake_that_decides_the_previous_day():
    config = load_stack_file("dev")
    section = {**config["stepworks:daily-analysis"], "timezone": "Pacific/Auckland", "schedule": "cron(30 6 * * ? *)"}
    config = {**config, "stepworks:pipelines": ["uploads", "daily-analysis"], "stepworks:daily-analysis": section}
    program = run_program(RecordingMocks(), config, stack="dev")
    (schedule,) = [s for s in program.of_type("aws:scheduler/schedule:Schedule") if s.name.startswith("daily-analysis")]
    assert schedule.inputs["scheduleExpression"] == "cron(30 6 * * ? *)"
    assert schedule.inputs["scheduleExpressionTimezone"] == "Pacific/Auckland"
    validate = one(program, "aws:lambda/function:Function", "daily-analysis-validate-function")
    assert validate.inputs["environment"]["variables"]["TIMEZONE"] == "Pacific/Auckland"
