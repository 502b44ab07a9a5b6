"""Stack config: every bad value stops the program with one line naming the key and what is allowed."""

import pytest

from infra.config import ConfigError, Section, load_stack_config
from infra.workflows.greeting import GreetingSettings

KNOWN = ["greeting"]


def load(raw):
    return load_stack_config(raw, stack="dev", region="us-west-2", known_pipelines=KNOWN)


def test_defaults_enable_every_known_pipeline_with_python312_and_30_day_logs():
    config = load({})
    assert config.enabled_pipelines == ("greeting",)
    assert config.functions.runtime == "python3.12"
    assert config.functions.log_retention_days == 30
    assert config.tags == {"project": "stepworks", "stack": "dev"}
    assert config.resource_prefix == "sw-dev"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"pipelines": ["greeting", "nope"]}, 'stepworks:pipelines: unknown pipeline "nope"; allowed: greeting'),
        ({"pipelines": "greeting"}, "stepworks:pipelines:"),
        (
            {"logRetentionDays": 31},
            "stepworks:logRetentionDays: 31 is not a retention CloudWatch accepts; allowed: 1, 3",
        ),
        ({"logRetentionDays": "thirty"}, "stepworks:logRetentionDays:"),
        (
            {"lambdaRuntime": "python2.7"},
            'stepworks:lambdaRuntime: "python2.7" is not allowed; allowed: one of python3.11',
        ),
        ({"lambdaArchitecture": "sparc"}, "stepworks:lambdaArchitecture:"),
        ({"tags": {"team": 3}}, "stepworks:tags:"),
        ({"logRetention": 30}, "stepworks:logRetention: unknown setting; allowed:"),
    ],
)
def test_bad_top_level_values_name_the_key(raw, message):
    with pytest.raises(ConfigError) as raised:
        load(raw)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"memory": 64}, "stepworks:greeting.memory: 64 is out of range; allowed: 128–10240"),
        ({"memory": 10241}, "stepworks:greeting.memory: 10241 is out of range; allowed: 128–10240"),
        ({"timeout": 901}, "stepworks:greeting.timeout: 901 is out of range; allowed: 1–900"),
        ({"memroy": 256}, "stepworks:greeting.memroy: unknown setting; allowed:"),
        ({"throttleBurst": 0}, "stepworks:greeting.throttleBurst: 0 is out of range"),
    ],
)
def test_bad_pipeline_values_name_the_key(section, message):
    config = load({"greeting": section})
    with pytest.raises(ConfigError) as raised:
        GreetingSettings.from_section(config.pipeline("greeting"))
    assert str(raised.value).startswith(message)


def test_memory_at_the_bounds_is_accepted():
    for memory in (128, 10240):
        settings = GreetingSettings.from_section(load({"greeting": {"memory": memory}}).pipeline("greeting"))
        assert settings.functions.memory_mb == memory


@pytest.mark.parametrize(
    "expression",
    ["rate(1 day)", "rate(5 minutes)", "cron(0 6 * * ? *)", "cron(15 10 ? * MON-FRI *)", "at(2026-12-01T06:00:00)"],
)
def test_valid_schedule_expressions_pass(expression):
    section = Section("stepworks:radar", {"schedule": expression})
    assert section.schedule() == expression


@pytest.mark.parametrize(
    "expression",
    ["daily", "rate(1 days)", "rate(5 minute)", "rate(0 minutes)", "cron(0 6 * * ?)", "cron(0 6 * * ? * *)", 6],
)
def test_malformed_schedule_expressions_name_the_key(expression):
    section = Section("stepworks:radar", {"schedule": expression})
    with pytest.raises(ConfigError) as raised:
        section.schedule()
    assert str(raised.value).startswith("stepworks:radar.schedule: ")
    assert "allowed: rate(" in str(raised.value)


def test_unknown_time_zone_names_the_key():
    section = Section("stepworks:radar", {"timezone": "Mars/Olympus"})
    with pytest.raises(ConfigError, match=r"^stepworks:radar.timezone: \"Mars/Olympus\" is not a time zone"):
        section.timezone()


def reserved(value):
    return GreetingSettings.from_section(load({"greeting": {"reservedConcurrency": value}}).pipeline("greeting"))


def test_reserved_concurrency_is_unset_by_default_and_takes_1_to_1000():
    assert GreetingSettings.from_section(load({}).pipeline("greeting")).functions.reserved_concurrency is None
    assert reserved(5).functions.reserved_concurrency == 5
    assert reserved("1000").functions.reserved_concurrency == 1000


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "stepworks:greeting.reservedConcurrency: 0 throttles every invocation"),
        (1001, "stepworks:greeting.reservedConcurrency: 1001 is out of range; allowed: 1–1000"),
        ("many", "stepworks:greeting.reservedConcurrency:"),
    ],
)
def test_bad_reserved_concurrency_names_the_key(value, message):
    with pytest.raises(ConfigError) as raised:
        reserved(value)
    assert str(raised.value).startswith(message)


def test_access_log_retention_defaults_to_a_year_and_is_checked():
    assert load({}).access_log_retention_days == 365
    assert load({"accessLogRetentionDays": 30}).access_log_retention_days == 30
    with pytest.raises(ConfigError, match="stepworks:accessLogRetentionDays: 0 is out of range"):
        load({"accessLogRetentionDays": 0})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1.evil.example/orgs",
        "http://api.cloudflare.com/client/v4",
        "ftp://example.com",
        "https://user:pass@example.com",
        "https://",
    ],
)
def test_a_service_url_must_be_https_or_loopback_parsed_not_prefix_matched(url):
    with pytest.raises(ConfigError, match=r"stepworks:x\.apiBaseUrl: .* is not allowed; allowed: an https URL"):
        Section("stepworks:x", {"apiBaseUrl": url}).service_url("apiBaseUrl")


def test_https_and_the_sandbox_loopback_are_accepted():
    section = Section("stepworks:x", {"a": "https://api.pagerduty.com", "b": "http://127.0.0.1:8123/v4"})
    assert section.service_url("a") == "https://api.pagerduty.com"
    assert section.service_url("b") == "http://127.0.0.1:8123/v4"
