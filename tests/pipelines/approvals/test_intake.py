"""The release-approval intake: a manual {"inputKey"} or the S3 event, reduced to the document to load."""

from __future__ import annotations

import copy

import pytest

from pipelines.approvals.intake import release_input, validate_release_input
from pipelines.common.errors import InvalidInputError
from tests.pipelines.fake_aws import lambda_context

BUCKET = "sw-dev-release-approval-data"
EVENT = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "123456789012",
    "time": "2026-12-08T01:00:00Z",
    "region": "eu-west-2",
    "resources": [f"arn:aws:s3:::{BUCKET}"],
    "detail": {
        "version": "0",
        "bucket": {"name": BUCKET},
        "object": {
            "key": "inputs/release+PROJ-1%2B2.json",
            "size": 120,
            "etag": "b1946ac92492d2347c6235b4d2611184",
            "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            "sequencer": "00617F08299329D189",
        },
        "reason": "PutObject",
    },
}


def with_key(key: str) -> dict:
    event = copy.deepcopy(EVENT)
    event["detail"]["object"]["key"] = key
    return event


def problem(event) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        release_input(event, BUCKET)
    return caught.value


def test_a_manual_start_names_the_key_and_reads_the_latest_version():
    assert release_input({"inputKey": "inputs/rel-1.json"}, BUCKET) == {
        "inputKey": "inputs/rel-1.json",
        "versionId": None,
    }
    assert release_input({"inputKey": "inputs/team a/ü.json"}, BUCKET)["inputKey"] == "inputs/team a/ü.json"


def test_the_s3_event_gives_the_decoded_key_and_its_version():
    assert release_input(EVENT, BUCKET) == {
        "inputKey": "inputs/release PROJ-1+2.json",
        "versionId": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
    }
    unversioned = copy.deepcopy(EVENT)
    unversioned["detail"]["object"]["version-id"] = "null"
    assert release_input(unversioned, BUCKET)["versionId"] is None


def test_another_prefix_is_honoured():
    assert release_input({"inputKey": "releases/x.json"}, BUCKET, "releases/")["inputKey"] == "releases/x.json"
    assert problem({"inputKey": "releases/x.json"}).field == "inputKey"


@pytest.mark.parametrize(
    "key, words",
    [
        ("outputs/x.json", "not an object under inputs/"),
        ("inputs/", "not an object under"),
        ("inputs/x.txt", "not a .json document"),
        ("inputs/x.JSON", "not a .json document"),
        ("inputs/../secrets.json", "'..' path segment"),
        ("inputs/a/../../b.json", "'..' path segment"),
        ("inputs//x.json", "empty"),
        ("inputs/./x.json", "'.'"),
        ("inputs/a\nb.json", "control character"),
        ("inputs/a\x00.json", "control character"),
        ("inputs/a\x85.json", "control character"),
        ("inputs/" + "é" * 600 + ".json", "1024 UTF-8 bytes"),
        ("", "non-empty string"),
    ],
)
def test_a_bad_manual_key_is_named(key, words):
    error = problem({"inputKey": key})
    assert error.field == "inputKey" and words in error.problem


@pytest.mark.parametrize("key", ["inputs/%2E%2E/x.json", "inputs/x.txt", "inputs/a%0Ab.json", "other/x.json"])
def test_a_bad_key_in_the_event_is_named_by_its_path(key):
    assert problem(with_key(key)).field == "detail.object.key"


@pytest.mark.parametrize(
    "event, field",
    [
        (None, "input"),
        ([], "input"),
        ("inputs/x.json", "input"),
        (42, "input"),
        ({}, "inputKey"),
        ({"inputKey": None}, "inputKey"),
        ({"inputKey": ["inputs/x.json"]}, "inputKey"),
        ({"inputKey": {"deep": {"er": 1}}}, "inputKey"),
        ({"inputKey": "inputs/\ud800.json"}, "inputKey"),
        ({"inputKey": "inputs/" + "x" * 100_000 + ".json"}, "inputKey"),
    ],
)
def test_anything_but_an_object_with_a_good_key_is_refused(event, field):
    assert problem(event).field == field


def test_an_unknown_key_names_the_closest_known_one():
    error = problem({"inputkey": "inputs/x.json"})
    assert error.field == "inputkey" and "did you mean inputKey?" in error.problem
    assert "did you mean detail-type?" in problem({**EVENT, "detail_type": "x"}).problem
    assert "\\ud800" in problem({"\ud800": 1}).field


def test_an_event_key_beside_input_key_is_refused():
    assert problem({**EVENT, "inputKey": "inputs/x.json"}).field == "inputKey"
    assert problem({"inputKey": "inputs/x.json", "source": "aws.s3"}).field == "inputKey"


def test_an_event_for_another_bucket_or_source_is_refused():
    other = copy.deepcopy(EVENT)
    other["detail"]["bucket"]["name"] = "someone-else"
    assert problem(other).field == "detail.bucket.name"
    assert problem({**EVENT, "source": "aws.ec2"}).field == "source"


def test_a_message_quotes_only_a_prefix_of_a_huge_key():
    error = problem({"inputKey": "outputs/" + "x" * 5000 + ".json"})
    assert len(str(error)) < 300


def test_the_handler_reads_its_bucket_and_prefix_from_the_environment(monkeypatch):
    monkeypatch.setenv("BUCKET_NAME", BUCKET)
    monkeypatch.delenv("INPUT_PREFIX", raising=False)
    context = lambda_context("release-intake", 256)
    assert validate_release_input(EVENT, context)["inputKey"] == "inputs/release PROJ-1+2.json"
    monkeypatch.setenv("INPUT_PREFIX", "requests/")
    with pytest.raises(InvalidInputError, match="requests/"):
        validate_release_input({"inputKey": "inputs/x.json"}, context)
