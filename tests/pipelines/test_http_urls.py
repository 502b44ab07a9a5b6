"""The URL rule every token-bearing request obeys (``pipelines.common.http.require_secure_url``).

https only; plain http to a loopback host only when the function's environment says so
(``STEPWORKS_ALLOW_LOOPBACK_HTTP=true``, which the program sets only with the sandbox-only
``stepworks:sandboxLoopbackHttp``). Hosts are parsed, never prefix-matched.
"""

from __future__ import annotations

import pytest

from pipelines.common import http
from pipelines.common.errors import ConfigurationError
from pipelines.common.http import ALLOW_LOOPBACK_HTTP_ENV, is_loopback_host, require_secure_url, url_problem

EVIL_OR_CLEAR = [
    "http://127.0.0.1.evil.example",
    "http://127.0.0.1.evil.example/orgs",
    "http://localhost.evil.example/x",
    "http://api.cloudflare.com/client/v4",
    "http://api.pagerduty.com",
    "http://10.0.0.1/",
    "ftp://127.0.0.1/orgs",
    "https:///orgs",
    "https://",
    "registry.example.com",
    "//registry.example.com/orgs",
    "https://user:pass@registry.example.com/orgs",
    "https://token@registry.example.com",
    "https://registry.example.com/orgs#frag",
    "https://registry.example.com/#",
    "https://registry.example.com:99999/",
    "https://[::1",
    "https://exa mple.com",
    "https://example.com\\@evil.example",
    "https://exa\nmple.com",
    "https://-bad-.example",
    "",
]


@pytest.fixture
def no_loopback(monkeypatch):
    monkeypatch.delenv(ALLOW_LOOPBACK_HTTP_ENV, raising=False)


@pytest.fixture
def sandbox_loopback(monkeypatch):
    monkeypatch.setenv(ALLOW_LOOPBACK_HTTP_ENV, "true")


@pytest.mark.parametrize("url", EVIL_OR_CLEAR)
def test_evil_hosts_plain_http_and_malformed_urls_are_refused_even_in_the_sandbox(url, sandbox_loopback):
    with pytest.raises(ConfigurationError, match=r"^PAGERDUTY_API_BASE_URL must be an https URL: ") as raised:
        require_secure_url(url, "PAGERDUTY_API_BASE_URL")
    # The URL itself is never quoted (a query string may hold something secret).
    if url:
        assert url not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    ["https://api.cloudflare.com/client/v4/", "https://api.pagerduty.com", "https://10.0.0.1:8443/x?y=1"],
)
def test_https_is_accepted_without_a_trailing_slash(url, no_loopback):
    assert require_secure_url(url, "X") == url.rstrip("/")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/v4", "http://127.9.9.9/", "http://localhost:1/", "http://[::1]:8123"]
)
def test_loopback_http_needs_the_sandbox_variable(url, no_loopback, monkeypatch):
    with pytest.raises(ConfigurationError, match="allowed only in the sandbox"):
        require_secure_url(url, "RADAR_API_BASE_URL")
    monkeypatch.setenv(ALLOW_LOOPBACK_HTTP_ENV, "yes")  # only "true" turns it on
    with pytest.raises(ConfigurationError, match="allowed only in the sandbox"):
        require_secure_url(url, "RADAR_API_BASE_URL")
    monkeypatch.setenv(ALLOW_LOOPBACK_HTTP_ENV, "true")
    assert require_secure_url(url, "RADAR_API_BASE_URL") == url.rstrip("/")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.255.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1.evil.example", False),
        ("localhost.evil.example", False),
        ("128.0.0.1", False),
        ("0.0.0.0", False),
        ("::ffff:8.8.8.8", False),
    ],
)
def test_loopback_is_parsed_not_prefix_matched(host, loopback):
    assert is_loopback_host(host) is loopback


def test_the_problem_says_why():
    assert url_problem("http://api.cloudflare.com", allow_loopback_http=True) == (
        "it uses plain http (tokens are never sent in clear)"
    )
    assert "user info" in url_problem("https://u:p@x.example", allow_loopback_http=False)
    assert "fragment" in url_problem("https://x.example/#a", allow_loopback_http=False)
    assert "no host" in url_problem("https://:443/", allow_loopback_http=False)
    assert url_problem(42, allow_loopback_http=False) == "it is not a URL"


def test_incidents_checks_its_url_before_reading_the_token(monkeypatch, no_loopback):
    from pipelines.incidents import config

    def read_secret(arn, **kwargs):
        raise AssertionError("the token was read before the URL was checked")

    monkeypatch.setattr(config, "read_secret", read_secret)
    monkeypatch.setenv("PAGERDUTY_TOKEN_SECRET_ARN", "arn:aws:secretsmanager:us-west-2:123456789012:secret:t-AbCdEf")
    for url in ("http://127.0.0.1.evil.example", "http://api.pagerduty.com", "http://127.0.0.1:9"):
        monkeypatch.setenv("PAGERDUTY_API_BASE_URL", url)
        with pytest.raises(ConfigurationError, match=r"^PAGERDUTY_API_BASE_URL must be an https URL"):
            config.pagerduty_token(config.pagerduty_settings())
    monkeypatch.setenv("PAGERDUTY_API_BASE_URL", "https://api.pagerduty.com/")
    assert config.pagerduty_settings().base_url == "https://api.pagerduty.com"


def test_radar_uses_the_shared_checker():
    from pipelines.radar import transport

    assert transport.require_secure_url is http.require_secure_url
