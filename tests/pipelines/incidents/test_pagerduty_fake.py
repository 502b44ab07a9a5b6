"""The PagerDuty fake follows the documented contract the client relies on."""

from datetime import timedelta

import requests

from infra.sandbox.fakes.pagerduty import ACCEPT, generate_incidents

from .conftest import SINCE, UNTIL


def get(fake, token=None, accept=ACCEPT, **params):
    headers = {"Authorization": f"Token token={token or fake.token}", "Accept": accept}
    params.setdefault("since", "2026-03-01T00:00:00Z")
    params.setdefault("until", "2026-03-02T00:00:00Z")
    return requests.get(f"{fake.url}/incidents", params=params, headers=headers, timeout=5)


def test_wrong_token_and_wrong_accept_are_refused_with_pagerduty_error_bodies(pagerduty):
    response = get(pagerduty, token="nope")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 2006
    assert get(pagerduty, accept="application/json").status_code == 406


def test_limit_is_capped_at_100_and_total_is_null_unless_asked(pagerduty):
    pagerduty.add_incidents(generate_incidents(150, SINCE, UNTIL))
    body = get(pagerduty, limit=500).json()
    assert body["limit"] == 100 and len(body["incidents"]) == 100 and body["more"] is True
    assert body["total"] is None
    assert get(pagerduty, total="true").json()["total"] == 150
    last = get(pagerduty, limit=100, offset=100).json()
    assert len(last["incidents"]) == 50 and last["more"] is False


def test_offset_plus_limit_over_10000_is_error_2002(pagerduty):
    response = get(pagerduty, limit=100, offset=9_901)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "Arguments Caused Error",
        "code": 2002,
        "errors": ["Offset+limit exceeds maximum allowed value of 10000."],
    }
    assert get(pagerduty, limit=100, offset=9_900).status_code == 200


def test_window_filter_includes_since_and_excludes_until(pagerduty):
    pagerduty.add_incidents(generate_incidents(10, SINCE, UNTIL))
    pagerduty.add_incidents(generate_incidents(1, UNTIL, UNTIL + timedelta(hours=1), seed=3))
    assert get(pagerduty, total="true").json()["total"] == 10


def test_a_window_over_six_months_is_refused(pagerduty):
    assert get(pagerduty, since="2025-01-01T00:00:00Z", until="2026-01-01T00:00:00Z").status_code == 400


def test_rate_limit_once_with_ratelimit_headers(pagerduty):
    pagerduty.rate_limit_next(reset=3)
    limited = get(pagerduty)
    assert limited.status_code == 429
    assert limited.headers["ratelimit-reset"] == "3" and limited.headers["ratelimit-remaining"] == "0"
    assert "ratelimit-limit" in limited.headers
    assert get(pagerduty).status_code == 200


def test_incidents_are_shaped_like_pagerdutys(pagerduty):
    pagerduty.add_incidents(generate_incidents(8, SINCE, UNTIL))
    incidents = get(pagerduty).json()["incidents"]
    for incident in incidents:
        assert set(incident["service"]) >= {"id", "type", "summary", "html_url"}
        assert incident["escalation_policy"]["type"] == "escalation_policy_reference"
        assert isinstance(incident["teams"], list)
        for assignment in incident["assignments"]:
            assert set(assignment) == {"at", "assignee"} and set(assignment["assignee"]) >= {"id", "summary"}
        assert (incident["resolved_at"] is None) == (incident["status"] != "resolved")
    assert any(i["priority"] is None for i in incidents) and any(i["priority"] for i in incidents)


def test_injected_bad_incident_is_resolved_before_it_was_created(pagerduty):
    bad = pagerduty.inject_bad_incident(SINCE + timedelta(hours=2))
    assert bad["status"] == "resolved" and bad["resolved_at"] < bad["created_at"]
    assert bad in get(pagerduty).json()["incidents"]
