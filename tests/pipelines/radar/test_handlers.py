"""The six radar handlers under moto (S3, KMS, Secrets Manager) and the loopback fakes.

Each test name says what the handler does with the event it is given.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from pipelines.common.errors import (
    ConfigurationError,
    DataIntegrityError,
    InvalidInputError,
    UpstreamAuthError,
)
from pipelines.radar import handlers
from pipelines.radar.errors import NoValidOrganizationsError, OrganizationsFailedError

from .conftest import BUCKET, load_event, s3_keys, s3_text

TS = "2026-11-22T06:00:00Z"


@pytest.fixture
def sealed(env, lambda_context):
    """The provider_endpoint result for the sample event (registry read from S3)."""
    return handlers.provider_endpoint(load_event("provider_endpoint"), lambda_context)


def invalid_field(call, *args) -> str:
    with pytest.raises(InvalidInputError) as raised:
        call(*args)
    return raised.value.field


# -- provider_endpoint -------------------------------------------------------------------------


def test_provider_endpoint_seals_the_s3_registry_so_no_registry_content_is_in_its_result(sealed):
    assert sealed["timestamp"] == TS and sealed["source"] == "s3"
    assert sealed["execution"] == load_event("provider_endpoint")["execution"]
    assert sealed["envelope"]["context"] == {"pipeline": "radar", "execution": sealed["execution"]}
    text = json.dumps(sealed)
    for secret in ("org-cloudflare", "cloudflare.com", "13335", "organizations"):
        assert secret not in text


def test_provider_endpoint_reads_the_https_provider_with_its_token_when_a_url_is_set(
    env, provider, lambda_context, monkeypatch
):
    monkeypatch.setenv("PROVIDER_URL", provider.registry_url)
    monkeypatch.setenv("PROVIDER_TOKEN_SECRET_ARN", env.aws.provider_secret)
    sealed = handlers.provider_endpoint(load_event("provider_endpoint"), lambda_context)
    assert sealed["source"] == "provider"
    assert provider.requests[0].headers["authorization"] == "Bearer provider-token-for-tests"
    opened = handlers.decrypt_registry(sealed, lambda_context)
    assert [r["orgId"] if r else None for r in opened["registry"]["organizations"]][:2] == [
        "org-cloudflare",
        "org-telekom",
    ]


def test_provider_endpoint_raises_auth_error_when_the_provider_refuses_the_token(
    env, provider, lambda_context, monkeypatch
):
    monkeypatch.setenv("PROVIDER_URL", provider.registry_url)
    monkeypatch.setenv("PROVIDER_TOKEN_SECRET_ARN", env.aws.radar_secret)  # the wrong token
    with pytest.raises(UpstreamAuthError):
        handlers.provider_endpoint(load_event("provider_endpoint"), lambda_context)


def test_provider_endpoint_refuses_a_plain_http_provider_url(env, lambda_context, monkeypatch):
    monkeypatch.setenv("PROVIDER_URL", "http://registry.example.com/orgs")
    monkeypatch.setenv("PROVIDER_TOKEN_SECRET_ARN", env.aws.provider_secret)
    with pytest.raises(ConfigurationError, match="PROVIDER_URL must be an https URL"):
        handlers.provider_endpoint(load_event("provider_endpoint"), lambda_context)


def test_provider_endpoint_without_url_or_registry_object_is_a_configuration_error(env, lambda_context):
    from pipelines.common.aws import client

    client("s3").delete_object(Bucket=BUCKET, Key="config/orgs.json")
    with pytest.raises(ConfigurationError, match=r"no registry at s3://radar-test-data/config/orgs\.json"):
        handlers.provider_endpoint(load_event("provider_endpoint"), lambda_context)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ([], "event"),
        ({"timestamp": TS}, "execution"),
        ({"execution": "", "timestamp": TS}, "execution"),
        ({"execution": "arn:x"}, "timestamp"),
        ({"execution": "arn:x", "timestamp": "2026-11-22 06:00"}, "timestamp"),
    ],
)
def test_provider_endpoint_rejects_a_malformed_event_naming_the_field(env, lambda_context, event, field):
    assert invalid_field(handlers.provider_endpoint, event, lambda_context) == field


# -- decrypt_registry --------------------------------------------------------------------------


def test_decrypt_registry_opens_the_envelope_and_keeps_only_org_schema_fields(env, lambda_context, monkeypatch):
    from pipelines.common.aws import client

    registry = {
        "organizations": [
            {
                "orgId": "org-1",
                "billingEmail": "cfo@example.com",
                "connectorParams": {"domain": "example.com", "apiKey": "k"},
            },
            "junk",
        ]
    }
    client("s3").put_object(Bucket=BUCKET, Key="config/orgs.json", Body=json.dumps(registry).encode())
    sealed = handlers.provider_endpoint(load_event("provider_endpoint"), lambda_context)
    opened = handlers.decrypt_registry(sealed, lambda_context)
    assert opened["registry"] == {
        "organizations": [{"orgId": "org-1", "connectorParams": {"domain": "example.com"}}, None]
    }
    assert opened["execution"] == sealed["execution"] and opened["timestamp"] == TS


def test_decrypt_registry_rejects_an_envelope_sealed_for_another_execution(sealed, lambda_context):
    replayed = {**sealed, "execution": sealed["execution"] + "-redriven-elsewhere"}
    with pytest.raises(DataIntegrityError, match="not for this execution"):
        handlers.decrypt_registry(replayed, lambda_context)


def test_decrypt_registry_rejects_a_rewritten_context_through_kms(sealed, lambda_context):
    other = sealed["execution"] + "-other"
    forged = {
        **sealed,
        "execution": other,
        "envelope": {**sealed["envelope"], "context": {**sealed["envelope"]["context"], "execution": other}},
    }
    with pytest.raises(DataIntegrityError, match="KMS refused the data key"):
        handlers.decrypt_registry(forged, lambda_context)


def test_decrypt_registry_rejects_another_pipelines_envelope(sealed, lambda_context, monkeypatch):
    monkeypatch.setenv("PIPELINE_NAME", "incidents")
    with pytest.raises(DataIntegrityError):
        handlers.decrypt_registry(sealed, lambda_context)


def test_decrypt_registry_rejects_a_tampered_ciphertext(sealed, lambda_context):
    envelope = dict(sealed["envelope"])
    envelope["ciphertext"] = envelope["ciphertext"][:-8] + (
        "A" * 8 if envelope["ciphertext"][-8:] != "A" * 8 else "B" * 8
    )
    with pytest.raises(DataIntegrityError):
        handlers.decrypt_registry({**sealed, "envelope": envelope}, lambda_context)


def test_decrypt_registry_rejects_a_registry_without_an_organizations_list(env, lambda_context):
    from pipelines.common.aws import client

    client("s3").put_object(Bucket=BUCKET, Key="config/orgs.json", Body=b'{"orgs": []}')
    sealed = handlers.provider_endpoint(load_event("provider_endpoint"), lambda_context)
    assert invalid_field(handlers.decrypt_registry, sealed, lambda_context) == "registry.organizations"


def test_decrypt_registry_rejects_a_registry_that_is_not_json(env, lambda_context):
    from pipelines.common.aws import client

    client("s3").put_object(Bucket=BUCKET, Key="config/orgs.json", Body=b"orgId,domain\norg-1,example.com\n")
    sealed = handlers.provider_endpoint(load_event("provider_endpoint"), lambda_context)
    assert invalid_field(handlers.decrypt_registry, sealed, lambda_context) == "registry"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"envelope": None}, "envelope"),
        ({"execution": None}, "execution"),
        ({"timestamp": "today"}, "timestamp"),
    ],
)
def test_decrypt_registry_rejects_a_malformed_event_naming_the_field(sealed, lambda_context, change, field):
    assert invalid_field(handlers.decrypt_registry, {**sealed, **change}, lambda_context) == field


def test_decrypt_registry_sample_event_documents_the_shape_and_is_refused_as_altered(env, lambda_context):
    with pytest.raises(DataIntegrityError, match="not valid base64"):
        handlers.decrypt_registry(load_event("decrypt_registry"), lambda_context)


# -- extract_orgs ------------------------------------------------------------------------------


def test_extract_orgs_keeps_active_valid_unique_orgs_and_reports_the_rest(env, lambda_context):
    result = handlers.extract_orgs(load_event("extract_orgs"), lambda_context)
    assert [o["orgId"] for o in result["orgs"]] == ["org-cloudflare", "org-telekom"]
    assert result["orgs"][1]["connectorParams"] == {"domain": "telekom.de", "location": "DE", "asn": "3320"}
    assert result["rejected"] == [
        {"index": 2, "orgId": "org-retired", "reason": "inactive"},
        {"index": 3, "orgId": "org-no-domain", "reason": "connectorParams.domain: is missing"},
        {"index": 4, "orgId": "org-cloudflare", "reason": "duplicate orgId (first kept at #0)"},
        {"index": 5, "orgId": None, "reason": "record: must be an object"},
    ]
    assert result["counts"] == {"received": 6, "accepted": 2, "rejected": 4}
    assert result["timestamp"] == TS


def test_extract_orgs_fails_the_run_with_the_report_when_no_org_is_valid(env, lambda_context):
    event = {
        "timestamp": TS,
        "registry": {"organizations": [{"orgId": "a", "active": False}, {"orgId": "b"}]},
    }
    with pytest.raises(
        NoValidOrganizationsError, match=r"among 2 records: #0 \(a\): inactive; #1 \(b\): connectorParams"
    ):
        handlers.extract_orgs(event, lambda_context)


def test_extract_orgs_fails_an_empty_registry_saying_it_is_empty(env, lambda_context):
    with pytest.raises(NoValidOrganizationsError, match="the list is empty"):
        handlers.extract_orgs({"timestamp": TS, "registry": {"organizations": []}}, lambda_context)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"timestamp": TS}, "registry"),
        ({"timestamp": TS, "registry": {"organizations": "all"}}, "registry.organizations"),
        ({"registry": {"organizations": []}}, "timestamp"),
    ],
)
def test_extract_orgs_rejects_a_malformed_event_naming_the_field(env, lambda_context, event, field):
    assert invalid_field(handlers.extract_orgs, event, lambda_context) == field


def test_extract_orgs_without_radar_queries_is_a_configuration_error(env, lambda_context, monkeypatch):
    monkeypatch.delenv("RADAR_QUERIES")
    with pytest.raises(ConfigurationError, match="RADAR_QUERIES"):
        handlers.extract_orgs(load_event("extract_orgs"), lambda_context)


# -- fetch_radar and prepare_files -------------------------------------------------------------


def test_fetch_radar_stages_every_query_and_returns_only_the_key_and_statuses(env, lambda_context):
    result = handlers.fetch_radar(load_event("fetch_radar"), lambda_context)
    assert result == {
        "orgId": "org-cloudflare",
        "timestamp": TS,
        "status": "ok",
        "stagingKey": "staging/2026-11-22T06:00:00Z/org-cloudflare/radar.json",
        "queries": {"ranking": "ok", "device_type": "ok", "asn": "ok"},
    }
    staged = json.loads(s3_text(result["stagingKey"]))
    assert staged["queries"]["asn"]["response"]["result"]["asn"]["name"] == "CLOUDFLARENET"
    assert {r.headers["authorization"] for r in env.radar.requests} == {"Bearer radar-token-for-tests"}


def test_fetch_radar_reports_not_found_when_every_query_answers_404(env, lambda_context, monkeypatch):
    monkeypatch.setenv("RADAR_QUERIES", '["asn"]')
    env.radar.not_found("13335")
    result = handlers.fetch_radar(load_event("fetch_radar"), lambda_context)
    assert result["status"] == "not_found" and result["queries"] == {"asn": "not_found"}


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (None, "plain http to a loopback host is allowed only in the sandbox"),  # the fake, outside the sandbox
        ("http://127.0.0.1.evil.example/client/v4", "it uses plain http"),
    ],
)
def test_fetch_radar_checks_its_url_before_the_token_goes_anywhere(env, lambda_context, monkeypatch, url, problem):
    monkeypatch.delenv("STEPWORKS_ALLOW_LOOPBACK_HTTP")
    if url:
        monkeypatch.setenv("RADAR_API_BASE_URL", url)
    requests_before = len(env.radar.requests)
    with pytest.raises(ConfigurationError, match=f"^RADAR_API_BASE_URL must be an https URL: {problem}"):
        handlers.fetch_radar(load_event("fetch_radar"), lambda_context)
    assert len(env.radar.requests) == requests_before
    assert s3_keys("staging/") == []


def test_fetch_radar_raises_auth_error_when_radar_refuses_the_token(env, lambda_context):
    env.radar.token = "rotated"
    try:
        with pytest.raises(UpstreamAuthError):
            handlers.fetch_radar(load_event("fetch_radar"), lambda_context)
    finally:
        env.radar.token = "radar-token-for-tests"
    assert s3_keys("staging/") == []


@pytest.mark.parametrize(
    ("org", "field"),
    [
        (None, "org"),
        ({"connectorParams": {}}, "org.orgId"),
        ({"orgId": "o", "connectorParams": {"location": "US", "asn": "1"}}, "org.connectorParams.domain"),
        (
            {"orgId": "o", "connectorParams": {"domain": "a.com", "location": "US", "asn": "x"}},
            "org.connectorParams.asn",
        ),
    ],
)
def test_fetch_radar_rejects_a_malformed_org_naming_the_field(env, lambda_context, org, field):
    assert invalid_field(handlers.fetch_radar, {"timestamp": TS, "org": org}, lambda_context) == field
    assert env.radar.requests == []


def test_prepare_files_writes_data_json_and_csv_at_deterministic_keys_and_a_rerun_overwrites(env, lambda_context):
    fetched = handlers.fetch_radar(load_event("fetch_radar"), lambda_context)
    event = {**load_event("prepare_files"), "fetched": fetched}
    result = handlers.prepare_files(event, lambda_context)
    assert result == {
        "orgId": "org-cloudflare",
        "timestamp": TS,
        "status": "written",
        "files": {
            "json": "org-cloudflare/2026-11-22T06:00:00Z/data.json",
            "csv": "org-cloudflare/2026-11-22T06:00:00Z/data.csv",
        },
    }
    document = json.loads(s3_text(result["files"]["json"]))
    assert list(document) == ["orgId", "timestamp", "connectorParams", "radarData"]
    assert list(document["radarData"]) == ["ranking", "device_type", "asn"]
    rows = list(csv.reader(io.StringIO(s3_text(result["files"]["csv"]), newline="")))
    assert len(rows) == 2
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert cells["orgId"] == "org-cloudflare"
    assert cells["radarData.device_type.result.meta.dateRange.0.startTime"] == "2026-11-15T06:00:00Z"
    assert (
        cells["radarData.device_type.result.summary_0.desktop"]
        == document["radarData"]["device_type"]["result"]["summary_0"]["desktop"]
    )
    assert cells["radarData.ranking.result.details_0.rank"] == "6"
    before = s3_keys("org-cloudflare/")
    assert handlers.prepare_files(event, lambda_context) == result
    assert s3_keys("org-cloudflare/") == before == sorted(result["files"].values())


def test_prepare_files_writes_nothing_for_an_org_radar_does_not_know(env, lambda_context, monkeypatch):
    monkeypatch.setenv("RADAR_QUERIES", '["asn"]')
    env.radar.not_found("13335")
    fetched = handlers.fetch_radar(load_event("fetch_radar"), lambda_context)
    result = handlers.prepare_files({**load_event("prepare_files"), "fetched": fetched}, lambda_context)
    assert result["status"] == "not_found" and result["files"] == {}
    assert s3_keys("org-cloudflare/") == []


def test_prepare_files_refuses_a_staging_key_of_another_org(env, lambda_context):
    handlers.fetch_radar(load_event("fetch_radar"), lambda_context)
    event = load_event("prepare_files")
    event["fetched"]["stagingKey"] = "staging/2026-11-22T06:00:00Z/org-other/radar.json"
    assert invalid_field(handlers.prepare_files, event, lambda_context) == "fetched.stagingKey"


def test_prepare_files_refuses_when_nothing_was_staged(env, lambda_context):
    with pytest.raises(InvalidInputError, match="nothing is staged at staging/2026-11-22T06:00:00Z/org-cloudflare"):
        handlers.prepare_files(load_event("prepare_files"), lambda_context)


@pytest.mark.parametrize(
    ("change", "field"),
    [({"org": None}, "org.orgId"), ({"fetched": "key"}, "fetched"), ({"timestamp": None}, "timestamp")],
)
def test_prepare_files_rejects_a_malformed_event_naming_the_field(env, lambda_context, change, field):
    assert invalid_field(handlers.prepare_files, {**load_event("prepare_files"), **change}, lambda_context) == field


# -- summarize and the whole chain -------------------------------------------------------------


def test_summarize_raises_naming_the_failed_org_from_the_sample_event(lambda_context):
    with pytest.raises(OrganizationsFailedError, match="org-telekom"):
        handlers.summarize(load_event("summarize"), lambda_context)


def test_summarize_rejects_results_that_are_not_a_list(lambda_context):
    assert invalid_field(handlers.summarize, {"timestamp": TS, "results": "all good"}, lambda_context) == "results"


def test_the_handlers_chain_from_registry_to_files_and_summary(env, lambda_context):
    """The workflow's happy path, state by state, as the state machine passes the payloads."""
    env.radar.not_found("telekom.de")
    env.radar.not_found("DE")
    env.radar.not_found("3320")
    start = load_event("provider_endpoint")
    sealed = handlers.provider_endpoint(start, lambda_context)
    opened = handlers.decrypt_registry(
        {"execution": start["execution"], "timestamp": sealed["timestamp"], "envelope": sealed["envelope"]},
        lambda_context,
    )
    orgs = handlers.extract_orgs({"registry": opened["registry"], "timestamp": opened["timestamp"]}, lambda_context)
    results = []
    for org in orgs["orgs"]:
        item = {"org": org, "timestamp": orgs["timestamp"]}
        fetched = handlers.fetch_radar(item, lambda_context)
        if fetched["status"] == "not_found":
            results.append({"orgId": org["orgId"], "status": "not_found"})
            continue
        results.append(handlers.prepare_files({**item, "fetched": fetched}, lambda_context))
    summary = handlers.summarize(
        {"results": results, "rejected": orgs["rejected"], "timestamp": orgs["timestamp"]}, lambda_context
    )
    assert summary["counts"] == {"written": 1, "notFound": 1, "failed": 0, "rejected": 4}
    assert s3_keys("org-") == [
        "org-cloudflare/2026-11-22T06:00:00Z/data.csv",
        "org-cloudflare/2026-11-22T06:00:00Z/data.json",
    ]
