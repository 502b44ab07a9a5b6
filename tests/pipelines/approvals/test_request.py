"""The release request document: every malformed kind refused naming the field; the shipped schema agrees."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from pipelines.approvals.errors import InvalidReleaseRequestError
from pipelines.approvals.request import (
    MAX_DOCUMENT_BYTES,
    ReleaseRequest,
    check_release_request,
    parse_environments,
    parse_release_request,
    schema,
)
from pipelines.common.errors import InvalidInputError, NonRetryableError

GOOD = {
    "storyId": "PROJ-123",
    "packages": ["api@1.4.2", "web:2026.12.1", "org/lib+build.7", "worker_2-beta"],
    "environment": "staging",
    "requester": "alice@example.com",
    "description": "December release",
}


def changed(**fields) -> dict:
    """GOOD with fields replaced (``...`` removes one)."""
    document = copy.deepcopy(GOOD)
    for name, value in fields.items():
        if value is ...:
            document.pop(name)
        else:
            document[name] = value
    return document


def encoded(document) -> bytes:
    return json.dumps(document).encode()


def refused(raw: bytes, environments=("dev", "staging", "prod")) -> InvalidReleaseRequestError:
    with pytest.raises(InvalidReleaseRequestError) as caught:
        parse_release_request(raw, environments)
    return caught.value


def test_a_good_document_becomes_the_request():
    request = parse_release_request(encoded(GOOD))
    packages = tuple(GOOD["packages"])
    assert request == ReleaseRequest("PROJ-123", packages, "staging", "alice@example.com", GOOD["description"])
    assert request.to_dict() == GOOD
    bare = parse_release_request(encoded(changed(description=...)))
    assert "description" not in bare.to_dict()


def test_the_error_is_a_named_non_retryable_input_error():
    error = refused(b"[]")
    assert isinstance(error, InvalidInputError) and isinstance(error, NonRetryableError)
    assert type(error).__name__ == "InvalidReleaseRequestError"


# (document, field named, words in the problem); the document is JSON-encoded unless it is bytes.
CASES = [
    (changed(storyId="proj-1"), "storyId", "Jira issue key"),
    (changed(storyId="P-1"), "storyId", "Jira issue key"),
    (changed(storyId="PROJ-0"), "storyId", "Jira issue key"),
    (changed(storyId="PROJ-12345678901"), "storyId", "Jira issue key"),
    (changed(storyId="ABCDEFGHIJK-1"), "storyId", "Jira issue key"),
    (changed(storyId=123), "storyId", "must be a string"),
    (changed(storyId=None), "storyId", "must be a string"),
    (changed(storyId=...), "storyId", "is required"),
    (changed(packages=[]), "packages", "1 to 50"),
    (changed(packages=[f"p{i}" for i in range(51)]), "packages", "1 to 50"),
    (changed(packages="api"), "packages", "must be an array"),
    (changed(packages={"api": 1}), "packages", "must be an array"),
    (changed(packages=["api", "web", "api"]), "packages[2]", "repeats packages[0]"),
    (changed(packages=["api", 7]), "packages[1]", "must be a string"),
    (changed(packages=["api", ["nested"]]), "packages[1]", "must be a string"),
    (changed(packages=["-api"]), "packages[0]", "a letter or digit"),
    (changed(packages=["a b"]), "packages[0]", "a letter or digit"),
    (changed(packages=["a" * 129]), "packages[0]", "a letter or digit"),
    (changed(packages=[""]), "packages[0]", "a letter or digit"),
    (changed(packages=...), "packages", "is required"),
    (changed(environment="production"), "environment", "one of dev, staging, prod"),
    (changed(environment="PROD"), "environment", "one of"),
    (changed(environment=["prod"]), "environment", "must be a string"),
    (changed(environment=...), "environment", "is required"),
    (changed(requester=""), "requester", "must not be blank"),
    (changed(requester="   "), "requester", "must not be blank"),
    (changed(requester="x" * 129), "requester", "at most 128"),
    (changed(requester=False), "requester", "must be a string"),
    (changed(requester=...), "requester", "is required"),
    (changed(description="x" * 2001), "description", "at most 2,000"),
    (changed(description=None), "description", "must be a string"),
    (changed(description={"a": {"b": {"c": [1, 2, 3]}}}), "description", "must be a string"),
    (changed(storyid="PROJ-1"), "storyid", "did you mean storyId?"),
    (changed(extra=1), "extra", "not a known field"),
    ([GOOD], "document", "must be a JSON object"),
    (None, "document", "must be a JSON object"),
    ("PROJ-1", "document", "must be a JSON object"),
    (3, "document", "must be a JSON object"),
]


@pytest.mark.parametrize("document, field, words", CASES)
def test_each_malformed_kind_is_refused_naming_the_field(document, field, words):
    error = refused(encoded(document))
    assert error.field == field and words in error.problem, str(error)


@pytest.mark.parametrize(
    "raw, field, words",
    [
        (b"", "document", "not JSON"),
        (b"{", "document", "not JSON"),
        (b"{'storyId': 'PROJ-1'}", "document", "not JSON"),
        (b'{"storyId": "PROJ-1"} trailing', "document", "not JSON"),
        (b"\xff\xfe{}", "document", "not UTF-8"),
        ('{"requester": "é"}'.encode("latin-1"), "document", "not UTF-8"),
        (b'{"storyId": NaN}', "document", "not strict JSON"),
        (b'{"storyId": Infinity}', "document", "not strict JSON"),
        (b"[" * 60_000 + b"]" * 60_000, "document", "bytes; at most"),
        (b"[" * 30_000 + b"]" * 30_000, "document", "nested too deeply"),
        (b'{"storyId": "PROJ-1", "storyId": "PROJ-2"}', "storyId", "more than once"),
    ],
)
def test_bytes_that_are_not_a_strict_json_object_are_refused(raw, field, words):
    error = refused(raw)
    assert error.field == field and words in error.problem, str(error)


def test_lone_surrogates_are_refused_naming_the_field():
    raw = encoded(changed(requester="\ud800x")).replace(b"\\\\", b"\\")
    assert b"\\ud800" in raw
    error = refused(raw)
    assert error.field == "requester" and "lone surrogate" in error.problem
    error = refused(encoded(changed(description="ok \udfff")))
    assert error.field == "description"
    unknown = refused(b'{"\\ud800": 1}')
    assert "\\ud800" in unknown.field and "not a known field" in unknown.problem


def test_the_size_is_checked_before_parsing():
    padded = encoded(changed(description="x" * 10)).replace(b"}", b" " * MAX_DOCUMENT_BYTES + b"}")
    error = refused(padded)
    assert error.field == "document" and "65,536" in error.problem
    just_fits = encoded(GOOD).replace(b"}", b" " * (MAX_DOCUMENT_BYTES - len(encoded(GOOD))) + b"}")
    assert len(just_fits) == MAX_DOCUMENT_BYTES and parse_release_request(just_fits).story_id == "PROJ-123"


def test_a_byte_order_mark_is_tolerated():
    assert parse_release_request(b"\xef\xbb\xbf" + encoded(GOOD)).story_id == "PROJ-123"


def test_a_message_quotes_only_a_prefix_of_a_huge_value():
    error = refused(encoded(changed(storyId="P" * 60_000)))
    assert len(str(error)) < 200 and "60,000 characters" in str(error)


def test_the_environments_are_configurable():
    assert parse_release_request(encoded(changed(environment="qa")), ("qa", "prod")).environment == "qa"
    assert "one of qa, prod" in refused(encoded(GOOD), ("qa", "prod")).problem
    assert parse_environments(" dev, staging ,prod,") == ("dev", "staging", "prod")
    for bad in ("", " , ", "Prod", "dev,pr od"):
        with pytest.raises(ValueError):
            parse_environments(bad)
    assert check_release_request(GOOD, environments=("staging",)).environment == "staging"


# -- the shipped schema -------------------------------------------------------------------------


def test_the_json_schema_is_valid_and_agrees_on_good_and_bad_documents():
    jsonschema.Draft202012Validator.check_schema(schema())
    validator = jsonschema.Draft202012Validator(schema())
    goods = [
        GOOD,
        changed(description=...),
        changed(packages=[f"p{i}" for i in range(50)]),
        changed(requester="x" * 128, description="y" * 2000),
        changed(storyId="AB_9-9999999999"),
    ]
    for document in goods:
        check_release_request(document)
        assert not list(validator.iter_errors(document)), document
    for document, field, _ in CASES:
        assert list(validator.iter_errors(document)), (field, document)


def test_the_schema_takes_the_configured_environments():
    validator = jsonschema.Draft202012Validator(schema(("qa", "prod")))
    assert not list(validator.iter_errors(changed(environment="qa")))
    assert list(validator.iter_errors(GOOD))


def test_a_later_step_accepts_any_well_formed_environment():
    assert check_release_request(changed(environment="qa-2"), environments=None).environment == "qa-2"
    with pytest.raises(InvalidReleaseRequestError, match="environment name"):
        check_release_request(changed(environment="Prod env"), environments=None)
