"""The Radar client against the loopback fake: success, 404, 429 + Retry-After, 401, 5xx, timeouts."""

from __future__ import annotations

import time

import pytest

from infra.sandbox.fakes.base import FakeResponse
from infra.sandbox.fakes.radar import RadarFake
from pipelines.common.errors import RateLimitedError, UpstreamAuthError, UpstreamUnavailableError
from pipelines.radar.cloudflare import NOT_FOUND, OK, RadarClient
from pipelines.radar.errors import RadarQueryError
from pipelines.radar.transport import api_session

from .conftest import RADAR_TOKEN

PARAMS = {"domain": "cloudflare.com", "location": "US", "asn": "13335"}


def client_for(radar, *, total=2, timeout=5.0, token=RADAR_TOKEN, max_retry_after=10.0):
    session = api_session(total=total, backoff_factor=0.01, timeout=timeout, max_retry_after=max_retry_after)
    return RadarClient(session, radar.base_url, token)


def test_each_query_returns_the_api_envelope_and_sends_the_bearer_token_and_parameters(radar):
    results = client_for(radar).run_all(("ranking", "device_type", "asn"), PARAMS)
    assert {name: r.status for name, r in results.items()} == {"ranking": OK, "device_type": OK, "asn": OK}
    ranking = results["ranking"].body["result"]
    assert ranking["details_0"]["rank"] == 6 and len(ranking["details_0"]["top_locations"]) == 5
    summary = results["device_type"].body["result"]
    assert isinstance(summary["summary_0"]["desktop"], str)  # values arrive as strings
    assert summary["meta"]["confidenceInfo"].keys() == {"level", "annotations"}
    assert results["asn"].body["result"]["asn"]["orgName"] == "Cloudflare, Inc."
    paths = [(r.path, r.query) for r in radar.requests]
    assert paths[0] == (
        "/client/v4/radar/ranking/domain/cloudflare.com",
        {"includeTopLocations": ["true"], "limit": ["5"], "format": ["json"]},
    )
    assert paths[1][1]["location"] == ["US"]
    assert paths[2][0] == "/client/v4/radar/entities/asns/13335"
    assert {r.headers["authorization"] for r in radar.requests} == {f"Bearer {RADAR_TOKEN}"}


def test_unranked_domains_answer_a_null_rank_with_a_bucket(radar):
    result = client_for(radar).run("ranking", {"domain": "tiny-site.example"})
    assert result.body["result"]["details_0"]["rank"] is None
    assert result.body["result"]["details_0"]["bucket"] == ">200000"


def test_404_is_a_not_found_result_carrying_the_error_envelope(radar):
    radar.not_found("64512")
    result = client_for(radar).run("asn", {"asn": "64512"})
    assert result.status == NOT_FOUND
    assert result.body["errors"][0]["message"] == "Not Found"


def test_429_once_then_success_waits_the_retry_after_and_returns_the_data(radar):
    radar.rate_limit("cloudflare.com", retry_after=1, times=1)
    started = time.monotonic()
    result = client_for(radar).run("ranking", PARAMS)
    assert result.status == OK
    assert time.monotonic() - started >= 0.9
    assert len(radar.requests) == 2


def test_429_past_the_retries_raises_rate_limited_with_the_servers_retry_after(radar):
    radar.rate_limit("cloudflare.com", retry_after=1, times=None)
    with pytest.raises(RateLimitedError) as raised:
        client_for(radar, total=1).run("ranking", PARAMS)
    assert raised.value.retry_after == 1.0
    assert len(radar.requests) == 2


def test_a_retry_after_too_long_to_wait_in_lambda_raises_at_once(radar):
    radar.rate_limit("cloudflare.com", retry_after=300, times=None)
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as raised:
        client_for(radar, max_retry_after=10).run("ranking", PARAMS)
    assert raised.value.retry_after == 300.0
    assert time.monotonic() - started < 1.0
    assert len(radar.requests) == 1


def test_a_wrong_token_is_an_auth_error_that_does_not_echo_the_token(radar):
    with pytest.raises(UpstreamAuthError, match="401") as raised:
        client_for(radar, token="wrong-token-value").run("asn", PARAMS)
    assert "wrong-token-value" not in str(raised.value)
    assert len(radar.requests) == 1  # never retried


def test_500_after_retries_is_upstream_unavailable_and_a_single_500_is_retried_away(radar):
    radar.server_error("13335", times=None)
    with pytest.raises(UpstreamUnavailableError, match="500"):
        client_for(radar, total=1).run("asn", PARAMS)
    radar.server_error("13335", times=1)
    assert client_for(radar, total=1).run("asn", PARAMS).status == OK


def test_a_slow_answer_times_out_as_upstream_unavailable(radar):
    radar.slow("/radar/http/summary/device_type", seconds=1.5)
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailableError, match="Radar device_type query failed"):
        client_for(radar, total=0, timeout=0.3).run("device_type", PARAMS)
    assert time.monotonic() - started < 1.2


def test_a_400_validation_error_is_a_non_retryable_query_error(radar):
    with pytest.raises(RadarQueryError, match=r"rejected \(400\): 10001: Invalid location: usa"):
        client_for(radar).run("device_type", {"location": "usa"})


class _BrokenEnvelopeFake(RadarFake):
    def handle(self, request):
        return FakeResponse(200, {"success": False, "errors": [{"code": 1, "message": "odd"}], "result": {}})


def test_a_200_without_a_successful_envelope_is_upstream_unavailable():
    with _BrokenEnvelopeFake(token=RADAR_TOKEN) as fake:
        with pytest.raises(UpstreamUnavailableError, match="without a successful envelope: 1: odd"):
            client_for(fake).run("asn", PARAMS)
