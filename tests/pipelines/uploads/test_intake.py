"""The uploads intake: an S3 Object Created event, checked and reduced to the object write ProcessUpload loads."""

from __future__ import annotations

import copy

import pytest

from pipelines.common.errors import InvalidInputError
from pipelines.common.s3_events import object_write

BUCKET = "sw-dev-uploads-data"
EVENT = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "123456789012",
    "time": "2026-11-23T12:00:00Z",
    "region": "us-west-2",
    "resources": [f"arn:aws:s3:::{BUCKET}"],
    "detail": {
        "version": "0",
        "bucket": {"name": BUCKET},
        "object": {
            "key": "uploads/store+1%2B2+100%25.json",
            "size": 1234,
            "etag": "b1946ac92492d2347c6235b4d2611184",
            "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            "sequencer": "00617F08299329D189",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "1.2.3.4",
        "reason": "PutObject",
    },
}


def event_with(**changes) -> dict:
    """EVENT with dotted paths replaced (``None`` removes the key)."""
    event = copy.deepcopy(EVENT)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = event
        for name in parents:
            node = node[name]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return event


def test_the_event_becomes_the_object_write_with_the_key_decoded_once():
    assert object_write(EVENT, BUCKET, "uploads/") == {
        "bucket": BUCKET,
        "key": "uploads/store 1+2 100%.json",
        "versionId": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
        "etag": "b1946ac92492d2347c6235b4d2611184",
        "size": 1234,
        "sequencer": "00617F08299329D189",
    }


def test_an_unversioned_write_has_no_version_and_an_archive_replay_is_accepted():
    event = event_with(**{"detail__object__version-id": None, "replay-name": "replay-1"})
    written = object_write(event, BUCKET, "uploads/")
    assert written["versionId"] is None and written["etag"] == "b1946ac92492d2347c6235b4d2611184"


def test_fields_s3_adds_to_the_detail_are_ignored():
    assert object_write(event_with(detail__newField={"x": 1}), BUCKET, "uploads/")["size"] == 1234


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"source": "aws.ec2"}, "source", "must be 'aws.s3'"),
        ({"source": 7}, "source", "must be a string, got number 7"),
        ({"detail-type": "Object Deleted"}, "detail-type", "must be 'Object Created'"),
        ({"detail-typ": "x"}, "detail-typ", "did you mean detail-type?"),
        ({"detail": []}, "detail", "must be an object, got array"),
        ({"detail__bucket": "b"}, "detail.bucket", "must be an object"),
        ({"detail__bucket__name": "other-bucket"}, "detail.bucket.name", "not this pipeline's bucket"),
        ({"detail__object__key": "elsewhere/x.json"}, "detail.object.key", "is not an object under uploads/"),
        ({"detail__object__key": "uploads/"}, "detail.object.key", "is not an object under uploads/"),
        ({"detail__object__key": "uploadsX%2Fx.json"}, "detail.object.key", "is not an object under uploads/"),
        ({"detail__object__key": "uploads/2026-11-20/"}, "detail.object.key", "is a folder marker"),
        ({"detail__object__key": None}, "detail.object.key", "must be a non-empty string, got"),
        ({"detail__object__key": "uploads/" + "%C3%A9" * 600}, "detail.object.key", "S3's key limit"),
        ({"detail__object__size": "12"}, "detail.object.size", "whole number of bytes"),
        ({"detail__object__size": -1}, "detail.object.size", "whole number of bytes"),
        ({"detail__object__size": True}, "detail.object.size", "whole number of bytes"),
        ({"detail__object__etag": ""}, "detail.object.etag", "must be a non-empty string"),
        ({"detail__object__version-id": 3}, "detail.object.version-id", "must be a non-empty string"),
        ({"detail__object__sequencer": ["x"]}, "detail.object.sequencer", "must be a non-empty string"),
        ({"detail__object__key": "uploads/a\ud800.json"}, "detail.object.key", "lone surrogate"),
    ],
)
def test_a_malformed_event_names_the_field(changes, field, fragment):
    with pytest.raises(InvalidInputError) as caught:
        object_write(event_with(**changes), BUCKET, "uploads/")
    assert caught.value.field == field
    assert fragment in str(caught.value)


@pytest.mark.parametrize("body", [None, [], "event", 1])
def test_a_body_that_is_not_an_object_is_refused(body):
    with pytest.raises(InvalidInputError) as caught:
        object_write(body, BUCKET, "uploads/")
    assert caught.value.field == "input"
