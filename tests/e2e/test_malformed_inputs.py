"""One catalogue of malformed execution inputs, fed to every pipeline through its real trigger.

Each must end the execution at the pipeline's intake with an ``InvalidInputError`` naming the
field, a short cause, and nothing written. greeting and incidents are started by their HTTP API
(SigV4-signed ``POST``), radar, uploads, daily-analysis and release-approval as an operator starts a manual run
(``StartExecution``; for uploads, replaying an S3 event by hand: the upload itself cannot be
malformed JSON input; for release-approval, ``{"inputKey"}``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from infra.sandbox.scenarios import incidents_database

pytestmark = pytest.mark.slow

# A cause is the function's error envelope (message, type, a few stack frames): bounded, whatever was sent.
MAX_CAUSE_CHARS = 2_000


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@dataclass(frozen=True)
class Case:
    """A malformed body built around a pipeline's string field, and where the error must point."""

    body: Callable[[str], Any]
    field: Callable[[str], str]
    fragment: str


CATALOGUE: dict[str, Case] = {
    "array": Case(lambda f: ["hi"], lambda f: "input", 'must be a JSON object, got array ["hi"]'),
    "string": Case(lambda f: "hi", lambda f: "input", 'must be a JSON object, got string "hi"'),
    "null": Case(lambda f: None, lambda f: "input", "must be a JSON object, got null"),
    "number": Case(lambda f: 42, lambda f: "input", "must be a JSON object, got number 42"),
    "field of the wrong type": Case(lambda f: {f: 42}, lambda f: f, "must be a string, got number 42"),
    "field that is an object": Case(lambda f: {f: {"a": 1}}, lambda f: f, 'must be a string, got object {"a": 1}'),
    "field that is null": Case(lambda f: {f: None}, lambda f: f, "must be a string, got null"),
    "unknown key": Case(lambda f: {"extra": 1}, lambda f: "extra", "is not a known field"),
    "misspelt key": Case(lambda f: {f[:-1]: "x"}, lambda f: f[:-1], "is not a known field; did you mean"),
    "huge string": Case(lambda f: {f: "x" * 100_000}, lambda f: f, "is 100,002 bytes of JSON; at most"),
    # Within StartExecution's 256 KiB, but no state could carry it on with anything added.
    "string near the payload limit": Case(lambda f: {f: "x" * 250_000}, lambda f: f, "is 250,002 bytes of JSON"),
    # 262,139 bytes: the largest body StartExecution takes (256 KiB) less a few; a state that added
    # anything to it (a wrapper, an error next to it) would exceed the limit.
    "body at the 256 KiB limit": Case(lambda f: {f: "x" * (262_130 - len(f))}, lambda f: f, "bytes of JSON; at most"),
    "deep nesting": Case(lambda f: {f: nested(200)}, lambda f: f + "[0]" * 20, "is nested more than 20 levels deep"),
    "unicode key": Case(lambda f: {"clé ☃": 1}, lambda f: "clé ☃", "is not a known field"),
    "lone surrogate": Case(lambda f: {f: "a\ud800b"}, lambda f: f, "contains a lone surrogate"),
    "lone surrogate in a key": Case(lambda f: {"\udfff": 1}, lambda f: "\\udfff", "is not a known field"),
}


def runs_recorded(sandbox) -> int:
    with incidents_database(sandbox).connect() as conn:
        if conn.execute("SELECT to_regclass('runs')").fetchone()[0] is None:
            return 0
        return conn.execute("SELECT count(*) FROM runs").fetchone()[0]


def bucket_keys(sandbox) -> set[str]:
    listed = sandbox.client("s3").list_objects_v2(Bucket=sandbox.outputs("radar")["bucketName"])
    return {o["Key"] for o in listed.get("Contents", [])}


def table_items(sandbox) -> int:
    return sandbox.client("dynamodb").scan(TableName=sandbox.outputs("greeting")["tableName"])["Count"]


def through_the_api(pipeline: str):
    def start(sandbox, body) -> str:
        response = sandbox.call_route(pipeline, json.dumps(body))
        assert response.status_code == 200, response.text
        return response.json()["executionArn"]

    return start


def manual_run(pipeline: str):
    def start(sandbox, body) -> str:
        return sandbox.start(sandbox.outputs(pipeline)["stateMachineArn"], body)

    return start


def uploads_written(sandbox) -> tuple[int, set[str]]:
    outputs = sandbox.outputs("uploads")
    items = sandbox.client("dynamodb").scan(TableName=outputs["summaryTableName"])["Count"]
    listed = sandbox.client("s3").list_objects_v2(Bucket=outputs["bucketName"])
    return items, {o["Key"] for o in listed.get("Contents", [])}


def analysis_written(sandbox) -> tuple[set[str], int]:
    outputs = sandbox.outputs("daily-analysis")
    listed = sandbox.client("s3").list_objects_v2(Bucket=outputs["bucketName"])
    published = sum(len(sandbox.published(outputs[topic])) for topic in ("alertsTopicArn", "reportTopicArn"))
    return {o["Key"] for o in listed.get("Contents", [])}, published


def approvals_written(sandbox) -> tuple[set[str], int]:
    outputs = sandbox.outputs("release-approval")
    listed = sandbox.client("s3").list_objects_v2(Bucket=outputs["bucketName"])
    tokens = sandbox.client("dynamodb").scan(TableName=outputs["tokenTableName"])["Count"]
    return {o["Key"] for o in listed.get("Contents", [])}, tokens


@dataclass(frozen=True)
class Pipeline:
    field: str  # a string field of its input
    intake: str  # its first state
    start: Callable[[Any, Any], str]
    written: Callable[[Any], Any]  # a snapshot of what it writes


PIPELINES = {
    "greeting": Pipeline("message", "InvokeLambda", through_the_api("greeting"), table_items),
    "radar": Pipeline("scheduledTime", "ValidateInput", manual_run("radar"), bucket_keys),
    "incidents": Pipeline("since", "ValidateRequest", through_the_api("incidents"), runs_recorded),
    # Started by S3 events, which nobody can malform; a hand-started run (replaying an event) can be.
    "uploads": Pipeline("source", "ValidateInput", manual_run("uploads"), uploads_written),
    "daily-analysis": Pipeline("date", "ValidateInput", manual_run("daily-analysis"), analysis_written),
    # Started by an upload under inputs/ too; the manual start names the request's key.
    "release-approval": Pipeline("inputKey", "ValidateInput", manual_run("release-approval"), approvals_written),
}


@pytest.mark.parametrize("pipeline", PIPELINES)
@pytest.mark.parametrize("case", CATALOGUE)
def test_a_malformed_input_fails_at_the_intake_naming_the_field_and_writes_nothing(sandbox, pipeline, case):
    spec, malformed = PIPELINES[pipeline], CATALOGUE[case]
    before = spec.written(sandbox)

    result = sandbox.wait(spec.start(sandbox, malformed.body(spec.field)))

    assert (result.status, result.error) == ("FAILED", "InvalidInputError"), result.cause_text()
    message = result.cause_text().removeprefix("InvalidInputError: ")
    field, _, problem = message.partition(": ")
    assert field == malformed.field(spec.field)
    assert malformed.fragment in problem
    assert len(result.cause) < MAX_CAUSE_CHARS
    entered = [e["stateEnteredEventDetails"]["name"] for e in result.history if e["type"].endswith("StateEntered")]
    assert entered == [spec.intake, "InputRejected"]  # checked once, never retried
    assert spec.written(sandbox) == before
