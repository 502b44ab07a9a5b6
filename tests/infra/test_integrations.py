"""Each integration builder returns its state and the exact grant it needs; token tasks are checked."""

import pytest

from infra import asl
from infra import integrations as i
from infra.components.grants import render_policy

KEY = "arn:aws:kms:us-west-2:123456789012:key/k-1"
TABLE = i.TableRef("orders", "arn:aws:dynamodb:us-west-2:123456789012:table/orders")
ENCRYPTED_TABLE = i.TableRef("orders", TABLE.arn, KEY)
BUCKET = i.BucketRef("data-bucket", "arn:aws:s3:::data-bucket", KEY)
TOPIC = i.TopicRef("arn:aws:sns:us-west-2:123456789012:reports", KEY)
FUNCTION = "arn:aws:lambda:us-west-2:123456789012:function:f"
COMMON = {"next_state": None, "timeout_s": 30, "catch_to": "Failed"}


def statements(task: asl.Task) -> list[dict]:
    return render_policy(task.grants)["Statement"]


def key_statement(actions, service):
    return {
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": [KEY],
        "Condition": {"StringEquals": {"kms:ViaService": f"{service}.us-west-2.amazonaws.com"}},
    }


def without_sid(statements_):
    return [{k: v for k, v in s.items() if k != "Sid"} for s in statements_]


def test_lambda_invoke_grants_that_function_and_its_versions_only():
    task = i.lambda_invoke(FUNCTION, retries=asl.lambda_retries(()), **COMMON)
    assert task.state["Resource"] == "arn:aws:states:::lambda:invoke"
    assert task.state["Parameters"] == {"FunctionName": FUNCTION, "Payload.$": "$"}
    assert task.state["OutputPath"] == "$.Payload"
    assert without_sid(statements(task)) == [
        {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [FUNCTION, f"{FUNCTION}:*"]}
    ]


def test_lambda_invoke_with_a_result_path_keeps_the_input_and_adds_the_value():
    task = i.lambda_invoke(FUNCTION, retries=[], result_path="$.out", **COMMON)
    assert (task.state["ResultPath"], task.state["ResultSelector"]) == ("$.out", {"value.$": "$.Payload"})
    assert "OutputPath" not in task.state


def test_a_task_in_a_branch_without_catch_to_catches_only_its_named_errors_and_the_rest_rises():
    named = asl.catch(["Custom.Error"], "Fallback")
    task = i.lambda_invoke(FUNCTION, retries=[], next_state=None, timeout_s=30, catch_to=None, catches=[named])
    assert task.state["Catch"] == [named]
    inner = {"StartAt": "Step", "States": {"Step": task, "Fallback": {"Type": "Pass", "End": True}}}
    parallel = {"Type": "Parallel", "Branches": [inner], "Catch": asl.catch_all("Failed"), "End": True}
    definition = asl.Definition.of({"StartAt": "Both", "States": {"Both": parallel, "Failed": {"Type": "Fail"}}})
    assert asl.check_definition(definition.document) == []
    # The same catch-all to a top-level state, inside the branch, is what AWS rejects.
    inner["States"]["Step"] = i.lambda_invoke(FUNCTION, retries=[], catches=[named], **COMMON)
    broken = asl.Definition.of({"StartAt": "Both", "States": {"Both": parallel, "Failed": {"Type": "Fail"}}})
    assert "Both.Branches[0]: Step goes to missing state 'Failed'" in asl.check_definition(broken.document)


def test_a_task_without_catch_to_must_name_the_errors_it_catches():
    with pytest.raises(ValueError, match="must name the errors it catches"):
        i.lambda_invoke(FUNCTION, retries=[], next_state=None, timeout_s=30, catch_to=None)


def test_a_branch_task_may_leave_its_failure_to_the_enclosing_parallels_catch_all_only():
    step = i.lambda_invoke(FUNCTION, retries=[], next_state=None, timeout_s=30, catch_to=asl.ENCLOSING_CATCH)
    assert "Catch" not in step.state
    branch = {"StartAt": "Step", "States": {"Step": step}}
    parallel = {"Type": "Parallel", "Branches": [branch], "End": True, "Catch": asl.catch_all("Failed")}
    caught = asl.Definition.of({"StartAt": "Both", "States": {"Both": parallel, "Failed": {"Type": "Fail"}}})
    assert asl.check_definition(caught.document) == []
    # Without a catch-all around it the branch task's failure would go unrecorded.
    del caught.document["States"]["Both"]["Catch"]
    assert "Both.Branches[0]: Task Step has no Catch" in asl.check_definition(caught.document)
    top = asl.Definition.of({"StartAt": "Step", "States": {"Step": step}})
    assert "top level: Task Step has no Catch" in asl.check_definition(top.document)


def test_a_token_task_must_pass_the_token_and_gets_a_timeout_and_heartbeat():
    payload = {"token.$": "$$.Task.Token", "story.$": "$.story"}
    task = i.lambda_invoke_for_token(FUNCTION, payload=payload, retries=[], timeout_s=86400, heartbeat_s=3600,
                                     next_state=None, catch_to="Failed")  # fmt: skip
    assert task.state["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert (task.state["TimeoutSeconds"], task.state["HeartbeatSeconds"]) == (86400, 3600)
    with pytest.raises(ValueError, match=r"must pass \$\$\.Task\.Token"):
        i.lambda_invoke_for_token(FUNCTION, payload={"story.$": "$.story"}, retries=[], **COMMON)


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda s: s["Parameters"]["Payload"].pop("token.$"), "does not pass $$.Task.Token"),
        (lambda s: s.pop("TimeoutSeconds"), "has no TimeoutSeconds"),
        (lambda s: s.update(HeartbeatSeconds=86400), "HeartbeatSeconds 86400 not below TimeoutSeconds 86400"),
    ],
)
def test_the_static_checks_refuse_a_broken_token_task(mutate, problem):
    task = i.lambda_invoke_for_token(FUNCTION, payload={"token.$": "$$.Task.Token"}, retries=[], timeout_s=86400,
                                     next_state=None, catch_to="Failed")  # fmt: skip
    definition = asl.Definition.of({"StartAt": "Wait", "States": {"Wait": task, "Failed": {"Type": "Fail"}}})
    assert asl.check_definition(definition.document) == []
    mutate(definition.document["States"]["Wait"])
    assert any(problem in p for p in asl.check_definition(definition.document)), asl.check_definition(
        definition.document
    )


def test_a_put_into_an_unencrypted_table_needs_only_put_item():
    task = i.dynamodb_put_item(TABLE, {"id": {"S.$": "$.id"}}, condition="attribute_not_exists(id)", **COMMON)
    assert task.state["Resource"] == "arn:aws:states:::dynamodb:putItem"
    assert task.state["Parameters"]["ConditionExpression"] == "attribute_not_exists(id)"
    assert without_sid(statements(task)) == [
        {"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": [TABLE.arn]}
    ]
    assert task.state["Retry"][0]["ErrorEquals"] == list(asl.DYNAMODB_TRANSIENT_ERRORS)


@pytest.mark.parametrize(
    ("build", "action", "kms"),
    [
        (lambda t: i.dynamodb_put_item(t, {"id": {"S": "1"}}, **COMMON), "dynamodb:PutItem", "write"),
        (
            lambda t: i.dynamodb_update_item(t, {"id": {"S": "1"}}, "SET n = :n", values={":n": {"N": "1"}}, **COMMON),
            "dynamodb:UpdateItem",
            "write",
        ),
        (lambda t: i.dynamodb_delete_item(t, {"id": {"S": "1"}}, **COMMON), "dynamodb:DeleteItem", "write"),
        (lambda t: i.dynamodb_get_item(t, {"id": {"S": "1"}}, **COMMON), "dynamodb:GetItem", "read"),
        (lambda t: i.dynamodb_query(t, "pk = :p", values={":p": {"S": "x"}}, **COMMON), "dynamodb:Query", "read"),
    ],
)
def test_every_dynamodb_builder_on_an_encrypted_table_carries_the_key(build, action, kms):
    task = build(ENCRYPTED_TABLE)
    expected_kms = (
        ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
        if kms == "write"
        else ["kms:Decrypt", "kms:DescribeKey"]
    )
    assert without_sid(statements(task)) == [
        {"Effect": "Allow", "Action": [action], "Resource": [TABLE.arn]},
        key_statement(expected_kms, "dynamodb"),
    ]
    assert task.state["Parameters"]["TableName"] == "orders"


def test_a_query_on_an_index_is_granted_on_that_index_and_pages_from_a_path():
    task = i.dynamodb_query(TABLE, "d = :d", values={":d": {"S.$": "$.date"}}, index="byDate",
                            start_key_path="$.page.LastEvaluatedKey", **COMMON)  # fmt: skip
    assert task.state["Resource"] == "arn:aws:states:::aws-sdk:dynamodb:query"
    assert task.state["Parameters"]["ExclusiveStartKey.$"] == "$.page.LastEvaluatedKey"
    assert statements(task)[0]["Resource"] == [f"{TABLE.arn}/index/byDate"]


def test_sns_publish_to_an_encrypted_topic_generates_a_data_key_and_refuses_a_long_subject():
    task = i.sns_publish(TOPIC, message_path="$.report", subject="Daily report", **COMMON)
    assert task.state["Parameters"] == {"TopicArn": TOPIC.arn, "Message.$": "$.report", "Subject": "Daily report"}
    assert without_sid(statements(task)) == [
        {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": [TOPIC.arn]},
        key_statement(["kms:Decrypt", "kms:GenerateDataKey"], "sns"),
    ]
    with pytest.raises(ValueError, match="1–100 characters"):
        i.sns_publish(TOPIC, message="x", subject="s" * 101, **COMMON)
    with pytest.raises(ValueError, match="exactly one of"):
        i.sns_publish(TOPIC, **COMMON)


def test_s3_get_put_and_copy_are_granted_on_the_objects_they_can_name():
    get = i.s3_get_object(BUCKET, i.ObjectKey("snapshots/", "$.date"), **COMMON)
    assert get.state["Parameters"] == {"Bucket": "data-bucket", "Key.$": "States.Format('snapshots/{}', $.date)"}
    assert without_sid(statements(get)) == [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::data-bucket/snapshots/*"]},
        key_statement(["kms:Decrypt"], "s3"),
    ]
    put = i.s3_put_object(BUCKET, i.ObjectKey("manifest.json"), body_path="$.manifest", **COMMON)
    assert put.state["Parameters"]["Key"] == "manifest.json"
    assert statements(put)[0]["Resource"] == ["arn:aws:s3:::data-bucket/manifest.json"]
    other = i.BucketRef("archive", "arn:aws:s3:::archive")
    copy = i.s3_copy_object(BUCKET, i.ObjectKey("in/", "$.name"), other, i.ObjectKey("out/", "$.name"), **COMMON)
    assert copy.state["Parameters"]["CopySource.$"] == "States.Format('data-bucket/in/{}', $.name)"
    granted = {(s["Action"][0], s["Resource"][0]) for s in statements(copy)}
    assert granted == {
        ("s3:GetObject", "arn:aws:s3:::data-bucket/in/*"),
        ("kms:Decrypt", KEY),
        ("s3:PutObject", "arn:aws:s3:::archive/out/*"),
    }


def test_an_object_key_refuses_text_a_states_format_literal_cannot_hold():
    with pytest.raises(ValueError, match="may not contain"):
        i.ObjectKey("it's/", "$.x")
    with pytest.raises(ValueError, match="cannot be empty"):
        i.ObjectKey("")


def test_start_execution_is_granted_on_that_state_machine_and_can_be_named_for_idempotence():
    machine = "arn:aws:states:us-west-2:123456789012:stateMachine:other"
    task = i.start_execution(machine, name_path="$.runName", **COMMON)
    assert task.state["Parameters"] == {"StateMachineArn": machine, "Input.$": "$", "Name.$": "$.runName"}
    assert without_sid(statements(task)) == [
        {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": [machine]}
    ]


def test_a_definition_collects_the_grants_of_tasks_at_any_depth_once():
    invoke = i.lambda_invoke(FUNCTION, retries=[], **COMMON)
    definition = asl.Definition.of(
        {
            "StartAt": "P",
            "States": {
                "P": {"Type": "Parallel", "Branches": [{"StartAt": "A", "States": {"A": invoke}}], "Next": "M"},
                "M": {"Type": "Map", "ItemProcessor": {"StartAt": "B", "States": {"B": invoke}}, "End": True},
            },
        }
    )
    assert len(definition.grants) == 1
    inner = definition.document["States"]["M"]["ItemProcessor"]["States"]["B"]
    assert inner["Resource"] == "arn:aws:states:::lambda:invoke"


def test_a_send_to_an_encrypted_queue_carries_its_key_through_sqs():
    from infra.components import grants as g

    queue = "arn:aws:sqs:us-west-2:123456789012:dlq"
    assert without_sid(render_policy([g.resolved(x) for x in g.queue_send(queue, KEY)])["Statement"]) == [
        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [queue]},
        key_statement(["kms:Decrypt", "kms:GenerateDataKey"], "sqs"),
    ]


def test_task_callbacks_are_the_one_place_their_wildcard_is_allowed():
    from infra.components import grants as g

    callbacks = g.task_callbacks()
    assert callbacks.resources == ["*"]
    assert set(callbacks.actions) <= g.WILDCARD_ONLY_ACTIONS
    assert set(callbacks.actions) == {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}


def test_alert_and_fail_publishes_passing_the_state_through_then_fails():
    states = i.alert_and_fail(TOPIC, "Alert", "Stop", asl.fail_with_cause("stopped"), catch_to="Stop",
                              message_path="$.why", subject="it failed")  # fmt: skip
    assert list(states) == ["Alert", "Stop"]
    alert = states["Alert"]
    assert alert.state["Parameters"] == {"TopicArn": TOPIC.arn, "Message.$": "$.why", "Subject": "it failed"}
    assert (alert.state["ResultPath"], alert.state["Next"], alert.state["Catch"][-1]["Next"]) == (None, "Stop", "Stop")
    assert states["Stop"]["Type"] == "Fail"
    with pytest.raises(ValueError, match="must be a Fail state"):
        i.alert_and_fail(TOPIC, "Alert", "Stop", {"Type": "Pass"}, catch_to="Stop", message_path="$.why")


def test_lambda_steps_share_retries_timeout_catch_and_payload_and_a_keyword_overrides_one():
    retries = asl.lambda_retries(())
    steps = i.LambdaSteps({"f": FUNCTION}, retries, 90, "Failed", payload={"date.$": "$.date"})
    task = steps("f", "Next", "$.out")
    assert task.state["Parameters"] == {"FunctionName": FUNCTION, "Payload": {"date.$": "$.date"}}
    assert (task.state["TimeoutSeconds"], task.state["Retry"], task.state["Next"]) == (90, retries, "Next")
    assert task.state["Catch"] == asl.catch_all("Failed")
    assert steps("f", None, timeout_s=10).state["TimeoutSeconds"] == 10


def test_a_one_rule_choice_goes_to_then_or_otherwise():
    assert asl.choice("$.n", "NumericEquals", 0, "None", "Some") == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.n", "NumericEquals": 0, "Next": "None"}],
        "Default": "Some",
    }


def test_a_query_grant_of_an_index_names_the_index_and_the_table_with_the_key():
    from infra.components import grants as g

    grants = [g.resolved(grant) for grant in g.table_query(TABLE.arn, KEY, "byDate")]
    policy = render_policy(grants)["Statement"]
    (query,) = [s for s in policy if s["Action"] == ["dynamodb:Query"]]
    assert query["Resource"] == [TABLE.arn, f"{TABLE.arn}/index/byDate"]
    assert [s["Action"] for s in policy if s["Resource"] == [KEY]] == [["kms:Decrypt", "kms:DescribeKey"]]
    assert [r for grant in g.table_query(TABLE.arn) for r in grant.resources] == [TABLE.arn]
