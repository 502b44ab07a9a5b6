"""The uploads pipeline as the program declares it (dev stack, under mocks): table, trigger, queue, grants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.config import ConfigError, Section
from infra.workflows.uploads import UploadsSettings
from pipelines.uploads.format import DEFAULT_MAX_FILE_MB


def one(program, typ, prefix):
    (found,) = [r for r in program.of_type(typ) if r.name.startswith(prefix)]
    return found


def actions(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def role_policy(program, role_prefix) -> list[dict]:
    role = one(program, "aws:iam/role:Role", role_prefix)
    (policy,) = [p for p in program.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]
    return json.loads(policy.inputs["policy"])["Statement"]


def test_the_summaries_table_has_the_date_index_the_pipelines_key_and_point_in_time_recovery(dev_program):
    table = one(dev_program, "aws:dynamodb/table:Table", "uploads-summaries")
    key = one(dev_program, "aws:kms/key:Key", "uploads-key")
    assert (table.inputs["hashKey"], table.inputs["rangeKey"]) == ("pk", "sk")
    (index,) = table.inputs["globalSecondaryIndexes"]
    assert index["name"] == "byDate" and index["projectionType"] == "ALL"
    assert [(k["attributeName"], k["keyType"]) for k in index["keySchemas"]] == [
        ("gsiDate", "HASH"),
        ("gsiStore", "RANGE"),
    ]
    assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key.outputs["arn"]}
    assert table.inputs["pointInTimeRecovery"]["enabled"] is True


def test_the_rule_matches_object_created_under_uploads_of_its_bucket_only(dev_program):
    bucket = one(dev_program, "aws:s3/bucket:Bucket", "uploads-data")
    rule = one(dev_program, "aws:cloudwatch/eventRule:EventRule", "uploads-objects")
    assert rule.inputs["name"] == "sw-dev-uploads-objects"
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket.outputs["bucket"]]}, "object": {"key": [{"prefix": "uploads/"}]}},
    }
    (notification,) = [
        n for n in dev_program.of_type("aws:s3/bucketNotification:BucketNotification") if n.name.startswith("uploads")
    ]
    assert notification.inputs["eventbridge"] is True


def test_undelivered_events_go_to_a_queue_only_that_rule_may_send_to_under_the_pipeline_key(dev_program):
    rule = one(dev_program, "aws:cloudwatch/eventRule:EventRule", "uploads-objects")
    target = one(dev_program, "aws:cloudwatch/eventTarget:EventTarget", "uploads-objects-target")
    queue = one(dev_program, "aws:sqs/queue:Queue", "uploads-undelivered")
    key = one(dev_program, "aws:kms/key:Key", "uploads-key")
    assert target.inputs["deadLetterConfig"]["arn"] == queue.outputs["arn"]
    assert target.inputs["retryPolicy"] == {"maximumRetryAttempts": 3, "maximumEventAgeInSeconds": 3600}
    assert queue.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    (policy,) = [p for p in dev_program.of_type("aws:sqs/queuePolicy:QueuePolicy") if p.name.startswith("uploads")]
    deny, allow = json.loads(policy.inputs["policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow["Principal"] == {"Service": "events.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == rule.outputs["arn"]
    # The key admits EventBridge for exactly that rule (named before the rule exists).
    (use,) = [s for s in json.loads(key.inputs["policy"])["Statement"] if s["Sid"] == "EventBridgeDeadLetters"]
    assert use["Principal"] == {"Service": "events.amazonaws.com"}
    assert use["Condition"]["ArnLike"]["aws:SourceArn"] == rule.outputs["arn"]
    assert sorted(use["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_process_upload_reads_uploads_by_version_and_writes_only_its_own_prefixes(dev_program):
    bucket = one(dev_program, "aws:s3/bucket:Bucket", "uploads-data").outputs["arn"]
    statements = role_policy(dev_program, "uploads-process-role")
    s3 = {}
    for statement in statements:
        for action in actions(statement):
            if action.startswith("s3:"):
                resources = statement["Resource"]
                s3.setdefault(action, set()).update([resources] if isinstance(resources, str) else resources)
    assert s3 == {
        "s3:GetObject": {f"{bucket}/uploads/*", f"{bucket}/contributions/*"},
        "s3:GetObjectVersion": {f"{bucket}/uploads/*"},
        "s3:ListBucket": {bucket},
        "s3:PutObject": {f"{bucket}/contributions/*", f"{bucket}/rejects/*", f"{bucket}/quarantine/*"},
        "s3:AbortMultipartUpload": {f"{bucket}/quarantine/*"},
        "s3:DeleteObject": {f"{bucket}/rejects/*"},
    }
    table = one(dev_program, "aws:dynamodb/table:Table", "uploads-summaries").outputs["arn"]
    on_table = [s for s in statements if any(a.startswith("dynamodb:") for a in actions(s))]
    assert {a for s in on_table for a in actions(s)} == {
        "dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"
    }  # fmt: skip
    assert all(s["Resource"] in (table, [table]) for s in on_table)  # the table itself, not its index


def test_the_intake_touches_nothing(dev_program):
    statements = role_policy(dev_program, "uploads-validate-role")
    used = {a for s in statements for a in actions(s)}
    assert not {a for a in used if a.split(":")[0] in ("s3", "dynamodb", "kms")}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, UploadsSettings()),
        ({"maxRejectRatio": "0.05", "maxFileMb": "200"}, UploadsSettings(max_reject_ratio=0.05, max_file_mb=200)),
        ({"maxRejectRatio": 0}, UploadsSettings(max_reject_ratio=0.0)),
    ],
)
def test_settings(values, expected):
    assert UploadsSettings.from_section(Section("stepworks:uploads", values)) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"maxRejectRatio": 1.5}, "stepworks:uploads.maxRejectRatio: 1.5 is out of range; allowed: 0–1"),
        ({"maxRejectRatio": "1%"}, 'stepworks:uploads.maxRejectRatio: "1%" is not a number; allowed: 0–1'),
        ({"maxRejectRatio": True}, "stepworks:uploads.maxRejectRatio: true is not a number"),
        ({"maxRejectRatio": "nan"}, "stepworks:uploads.maxRejectRatio: "),
        ({"maxFileMb": 0}, "stepworks:uploads.maxFileMb: 0 is out of range; allowed: 1–5120"),
        ({"maxRejectRatios": 0.1}, "did you mean"),
    ],
)
def test_bad_settings_name_the_key(values, message):
    with pytest.raises(ConfigError) as caught:
        UploadsSettings.from_section(Section("stepworks:uploads", values))
    assert message in str(caught.value)


def test_the_documented_size_limit_is_the_default_and_admits_a_200_mb_upload(dev_program):
    # The target: a 200 MB upload is processed (in a 1,769 MB Lambda), not quarantined.
    assert UploadsSettings().max_file_mb == DEFAULT_MAX_FILE_MB
    assert DEFAULT_MAX_FILE_MB * 1024 * 1024 >= 200 * 10**6
    process = one(dev_program, "aws:lambda/function:Function", "uploads-process")
    assert process.inputs["environment"]["variables"]["MAX_FILE_MB"] == str(DEFAULT_MAX_FILE_MB)  # Pulumi.dev.yaml
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"| `stepworks:uploads.maxFileMb` | `{DEFAULT_MAX_FILE_MB}` |" in readme
