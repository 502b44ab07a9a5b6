"""Reading the registry from the provider fake, and refusing to send tokens in clear."""

from __future__ import annotations

import json

import pytest

from pipelines.common.errors import ConfigurationError, UpstreamAuthError, UpstreamUnavailableError
from pipelines.radar.provider import fetch_registry
from pipelines.radar.transport import api_session, require_secure_url

from .conftest import PROVIDER_TOKEN, sample_registry


def session():
    return api_session(total=1, backoff_factor=0.01, timeout=2)


def test_the_registry_is_fetched_with_the_bearer_token(provider):
    raw = fetch_registry(session(), provider.registry_url, PROVIDER_TOKEN)
    assert json.loads(raw) == sample_registry()
    assert provider.requests[0].headers["authorization"] == f"Bearer {PROVIDER_TOKEN}"


def test_a_refused_token_is_an_auth_error(provider):
    with pytest.raises(UpstreamAuthError, match="401"):
        fetch_registry(session(), provider.registry_url, "nope")


def test_a_provider_outage_is_retried_then_upstream_unavailable(provider):
    provider.fail_next(503, times=1)
    assert json.loads(fetch_registry(session(), provider.registry_url, PROVIDER_TOKEN)) == sample_registry()
    provider.fail_next(503, times=5)
    with pytest.raises(UpstreamUnavailableError, match="503"):
        fetch_registry(session(), provider.registry_url, PROVIDER_TOKEN)


def test_a_wrong_path_is_a_configuration_error_and_bodies_are_not_quoted(provider):
    with pytest.raises(ConfigurationError, match="answered 404; check PROVIDER_URL") as raised:
        fetch_registry(session(), provider.url + "/elsewhere", PROVIDER_TOKEN)
    assert "not found" not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    ["http://registry.example.com/orgs", "ftp://127.0.0.1/orgs", "https:///orgs", "registry.example.com"],
)
def test_tokens_go_only_to_https_or_loopback_urls(url):
    with pytest.raises(ConfigurationError, match="PROVIDER_URL must be an https URL"):
        require_secure_url(url, "PROVIDER_URL")


def test_https_and_loopback_http_in_the_sandbox_are_accepted_without_a_trailing_slash(monkeypatch):
    monkeypatch.delenv("STEPWORKS_ALLOW_LOOPBACK_HTTP", raising=False)
    assert require_secure_url("https://api.example.com/v4/", "X") == "https://api.example.com/v4"
    with pytest.raises(ConfigurationError, match="allowed only in the sandbox"):
        require_secure_url("http://127.0.0.1:8080", "X")
    monkeypatch.setenv("STEPWORKS_ALLOW_LOOPBACK_HTTP", "true")
    assert require_secure_url("http://127.0.0.1:8080", "X") == "http://127.0.0.1:8080"
