"""Deterministic keys, staged → data document, and the run summary."""

from __future__ import annotations

import csv
import io
import json

import pytest

from pipelines.common.errors import InvalidInputError
from pipelines.radar.cloudflare import NOT_FOUND, OK, QueryResult
from pipelines.radar.errors import OrganizationsFailedError
from pipelines.radar.files import (
    data_document,
    org_status,
    output_keys,
    render_files,
    staged_document,
    staging_key,
)
from pipelines.radar.summary import summarize

from .conftest import load_event

TS = "2026-11-22T06:00:00Z"
ORG = {"orgId": "org-1", "connectorParams": {"domain": "example.com"}}
RANKING = {"success": True, "errors": [], "result": {"details_0": {"rank": None, "bucket": ">200000"}}}
MISSING = {"success": False, "errors": [{"code": 1002, "message": "Not Found"}], "result": {}}


def test_keys_depend_only_on_org_and_timestamp():
    assert staging_key("staging/", TS, "org-1") == "staging/2026-11-22T06:00:00Z/org-1/radar.json"
    assert staging_key("staging", TS, "org-1") == staging_key("staging/", TS, "org-1")
    assert output_keys("org-1", TS) == {
        "json": "org-1/2026-11-22T06:00:00Z/data.json",
        "csv": "org-1/2026-11-22T06:00:00Z/data.csv",
    }


def test_an_org_is_not_found_only_when_every_query_is():
    assert org_status({"a": QueryResult(NOT_FOUND, MISSING), "b": QueryResult(NOT_FOUND, MISSING)}) == NOT_FOUND
    assert org_status({"a": QueryResult(NOT_FOUND, MISSING), "b": QueryResult(OK, RANKING)}) == OK


def test_data_document_carries_org_params_and_every_response_by_query_name():
    staged = staged_document(ORG, TS, {"ranking": QueryResult(OK, RANKING), "asn": QueryResult(NOT_FOUND, MISSING)})
    document = data_document(json.loads(json.dumps(staged)), "org-1", TS)
    assert document == {
        "orgId": "org-1",
        "timestamp": TS,
        "connectorParams": {"domain": "example.com"},
        "radarData": {"ranking": RANKING, "asn": MISSING},
    }
    bodies = render_files(document)
    assert json.loads(bodies["json"]) == document
    header, row = csv.reader(io.StringIO(bodies["csv"].decode("utf-8"), newline=""))
    cells = dict(zip(header, row, strict=True))
    assert cells["radarData.ranking.result.details_0.rank"] == ""
    assert cells["radarData.asn.errors.0.message"] == "Not Found"
    assert cells["connectorParams.domain"] == "example.com"


@pytest.mark.parametrize(
    ("staged", "field"),
    [
        ("text", "staged"),
        ({"orgId": "org-2", "timestamp": TS, "queries": {}}, "staged.orgId"),
        ({"orgId": "org-1", "timestamp": "2026-11-21T06:00:00Z", "queries": {}}, "staged.timestamp"),
        ({"orgId": "org-1", "timestamp": TS, "queries": {"ranking": {"status": "ok"}}}, "staged.queries"),
    ],
)
def test_staged_data_of_another_org_or_run_is_refused(staged, field):
    with pytest.raises(InvalidInputError) as raised:
        data_document(staged, "org-1", TS)
    assert raised.value.field == field


def test_summary_counts_each_outcome_and_raises_naming_failed_orgs():
    event = load_event("summarize")
    with pytest.raises(OrganizationsFailedError) as raised:
        summarize(event["results"], event["rejected"])
    message = str(raised.value)
    assert message.startswith("1 of 3 organizations failed (1 written, 1 not found)")
    assert "org-telekom (UpstreamUnavailableError: " in message and "Internal server error" in message
    assert "org-cloudflare" not in message


def test_summary_without_failures_returns_counts_and_org_ids():
    result = summarize(
        [{"orgId": "a", "status": "written"}, {"orgId": "b", "status": "not_found"}],
        [{"index": 3, "orgId": None, "reason": "record: must be an object"}],
    )
    assert result == {
        "counts": {"written": 1, "notFound": 1, "failed": 0, "rejected": 1},
        "written": ["a"],
        "notFound": ["b"],
        "failed": [],
    }


def test_summary_reads_a_catch_result_nested_under_error_and_the_org_from_the_map_input():
    caught = {"org": {"orgId": "c"}, "timestamp": TS, "error": {"Error": "States.Timeout", "Cause": "slow"}}
    with pytest.raises(OrganizationsFailedError, match=r"c \(States.Timeout: slow\)"):
        summarize([caught])


def test_summary_lists_at_most_fifty_failures_in_full():
    failed = [{"orgId": f"org-{i}", "status": "failed", "error": "E", "cause": "x" * 1000} for i in range(60)]
    with pytest.raises(OrganizationsFailedError) as raised:
        summarize(failed)
    message = str(raised.value)
    assert "and 10 more: org-50, org-51" in message
    assert len(message) < 32_768


@pytest.mark.parametrize(
    ("results", "field"),
    [
        (None, "results"),
        ({"orgId": "a"}, "results"),
        (["a"], "results[0]"),
        ([{"orgId": "a"}], "results[0].status"),
    ],
)
def test_summary_refuses_malformed_results_naming_the_field(results, field):
    with pytest.raises(InvalidInputError) as raised:
        summarize(results)
    assert raised.value.field == field


def test_a_lone_surrogate_from_radar_still_renders_both_files_and_data_json_keeps_it():
    document = {"orgId": "org-1", "timestamp": "2026-11-22T06:00:00Z", "radarData": {"name": "x\udc80y"}}
    bodies = render_files(document)
    assert json.loads(bodies["json"])["radarData"]["name"] == "x\udc80y"
    assert "radarData.name" in bodies["csv"].decode("utf-8")
