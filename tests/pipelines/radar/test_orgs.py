"""Registry structure, org validation, duplicates, field stripping and the rejection report."""

from __future__ import annotations

import pytest

from pipelines.common.errors import InvalidInputError
from pipelines.radar.orgs import project_record, registry_organizations, select_organizations

NEEDS = ("domain", "location", "asn")
PARAMS = {"domain": "example.com", "location": "US", "asn": "13335"}


def org(org_id="org-1", **overrides):
    return {"orgId": org_id, "connectorParams": dict(PARAMS), **overrides}


def reasons(records, needs=NEEDS):
    return [r["reason"] for r in select_organizations(records, needs).rejected]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (None, "record: must be an object"),
        ("org-1", "record: must be an object"),
        ({"connectorParams": PARAMS}, "orgId: must be 1-128 letters"),
        (org("../escape"), "orgId: must be 1-128 letters"),
        (org("a b"), "orgId: must be 1-128 letters"),
        (org("staging"), "orgId: 'staging' is reserved"),
        (org("config"), "orgId: 'config' is reserved"),
        ({"orgId": "org-1"}, "connectorParams: must be an object"),
        (org(connectorParams="example.com"), "connectorParams: must be an object"),
        (org(connectorParams={"location": "US", "asn": "1"}), "connectorParams.domain: is missing"),
        (
            org(connectorParams={**PARAMS, "domain": "not a domain"}),
            "connectorParams.domain: must be a domain",
        ),
        (
            org(connectorParams={**PARAMS, "location": "USA"}),
            "connectorParams.location: must be a two-letter",
        ),
        (org(connectorParams={**PARAMS, "asn": "AS-x"}), "connectorParams.asn: must be an autonomous system"),
        (org(connectorParams={**PARAMS, "asn": True}), "connectorParams.asn: must be an autonomous system"),
        (org(active="yes"), "active: must be true or false"),
        (org(active=False), "inactive"),
    ],
)
def test_each_invalid_record_is_rejected_with_its_reason(record, reason):
    selection = select_organizations([record, org("org-ok")], NEEDS)
    assert [o["orgId"] for o in selection.organizations] == ["org-ok"]
    assert len(selection.rejected) == 1
    assert selection.rejected[0]["index"] == 0
    assert selection.rejected[0]["reason"].startswith(reason)


def test_only_the_fields_the_configured_queries_need_are_required():
    record = org(connectorParams={"domain": "example.com"})
    assert reasons([record], needs=("domain",)) == []
    assert reasons([record], needs=("domain", "asn")) == ["connectorParams.asn: is missing"]


def test_duplicates_keep_the_first_valid_record_and_report_the_rest():
    selection = select_organizations(
        [org("org-1"), org("org-2"), org("org-1", name="again"), org("org-1", active=False)], NEEDS
    )
    assert [o["orgId"] for o in selection.organizations] == ["org-1", "org-2"]
    assert selection.rejected == [
        {"index": 2, "orgId": "org-1", "reason": "duplicate orgId (first kept at #0)"},
        {"index": 3, "orgId": "org-1", "reason": "inactive"},
    ]


def test_an_invalid_first_record_does_not_block_a_valid_later_one_with_the_same_id():
    selection = select_organizations([org("org-1", connectorParams={}), org("org-1")], NEEDS)
    assert [o["orgId"] for o in selection.organizations] == ["org-1"]
    assert [r["index"] for r in selection.rejected] == [0]


def test_fields_outside_the_schema_are_stripped_and_parameters_normalised():
    record = {
        "orgId": "org-1",
        "name": "Example",
        "active": True,
        "billingEmail": "cfo@example.com",
        "connectorParams": {"domain": "Example.COM", "location": "us", "asn": "AS13335", "apiKey": "s3cr3t"},
    }
    [kept] = select_organizations([record], NEEDS).organizations
    assert kept == {
        "orgId": "org-1",
        "name": "Example",
        "connectorParams": {"domain": "example.com", "location": "US", "asn": "13335"},
    }


def test_integer_asns_become_strings():
    [kept] = select_organizations([org(connectorParams={**PARAMS, "asn": 3320})], NEEDS).organizations
    assert kept["connectorParams"]["asn"] == "3320"


def test_zero_valid_records_give_an_empty_selection_whose_report_lists_every_reason():
    selection = select_organizations([org(active=False), {"orgId": "x"}], NEEDS)
    assert selection.organizations == []
    assert selection.report() == "#0 (org-1): inactive; #1 (x): connectorParams: must be an object"


def test_projection_drops_unknown_fields_and_never_carries_a_malformed_params_value_on():
    assert project_record({"orgId": "a", "secret": 1, "connectorParams": {"domain": "d", "token": "t"}}) == {
        "orgId": "a",
        "connectorParams": {"domain": "d"},
    }
    assert project_record({"orgId": "a", "connectorParams": "token=abc"}) == {
        "orgId": "a",
        "connectorParams": "str",
    }
    assert project_record(["not", "a", "record"]) is None


@pytest.mark.parametrize(
    ("registry", "field"),
    [
        ([], "registry"),
        ({}, "registry.organizations"),
        ({"organizations": {"orgId": "a"}}, "registry.organizations"),
    ],
)
def test_registry_structure_errors_name_the_field(registry, field):
    with pytest.raises(InvalidInputError) as raised:
        registry_organizations(registry)
    assert raised.value.field == field
