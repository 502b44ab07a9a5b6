"""Stack config: every bad value stops the program with one line naming the key and what is allowed."""

import pytest

from infra.config import ConfigError, Section, aws_regions, load_stack_config, stepworks_settings
from infra.workflows import WORKFLOWS
from infra.workflows.greeting import GreetingSettings

KNOWN = ["greeting"]


def load(raw, **kwargs):
    return load_stack_config(raw, stack="dev", region="us-west-2", known_pipelines=KNOWN, **kwargs)


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
        (
            {"logRetentionDays": "thirty"},
            'stepworks:logRetentionDays: "thirty" is not a number; allowed: 1, 3, 5, 7, 14, 30',
        ),
        (
            {"lambdaRuntime": "python2.7"},
            'stepworks:lambdaRuntime: "python2.7" is not allowed; allowed: one of python3.11',
        ),
        ({"lambdaArchitecture": "sparc"}, "stepworks:lambdaArchitecture:"),
        ({"tags": {"team": 3}}, "stepworks:tags:"),
        (
            {"logRetention": 30},
            "stepworks:logRetention: unknown setting; did you mean stepworks:logRetentionDays? allowed:",
        ),
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
        (
            {"memroy": 256},
            "stepworks:greeting.memroy: unknown setting; did you mean stepworks:greeting.memory? allowed:",
        ),
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
    ("url", "problem"),
    [
        ("http://127.0.0.1.evil.example", "it uses plain http"),
        ("http://127.0.0.1.evil.example/orgs", "it uses plain http"),
        ("http://api.cloudflare.com/client/v4", "it uses plain http"),
        ("ftp://example.com", "its scheme is ftp, not https"),
        ("https://", "it has no host"),
        ("https://api.example.com/v4#x", "it has a fragment"),
        ("https://api.example.com:70000/", "it is not a well-formed URL"),
        ("https://api example.com/", "it contains spaces"),
    ],
)
def test_a_service_url_must_be_https_parsed_not_prefix_matched(url, problem):
    for loopback_http in (False, True):
        with pytest.raises(ConfigError) as raised:
            Section("stepworks:x", {"apiBaseUrl": url}, loopback_http=loopback_http).service_url("apiBaseUrl")
        assert str(raised.value).startswith(f'stepworks:x.apiBaseUrl: "{url[:40]}')
        assert f"is not allowed: {problem}" in str(raised.value)
        assert str(raised.value).endswith(
            "allowed: an https URL (https://host[:port][/path]) without user info or fragment"
        )


def test_credentials_in_a_url_are_refused_and_not_quoted():
    with pytest.raises(ConfigError) as raised:
        Section("stepworks:x", {"apiBaseUrl": "https://user:s3cret@example.com/v4"}).service_url("apiBaseUrl")
    assert str(raised.value).startswith(
        'stepworks:x.apiBaseUrl: "https://…@example.com/v4" is not allowed: it contains user info'
    )
    assert "s3cret" not in str(raised.value)


def test_a_bad_url_is_quoted_as_a_short_prefix():
    url = "http://" + "a" * 5000 + ".example"
    with pytest.raises(ConfigError) as raised:
        Section("stepworks:x", {"apiBaseUrl": url}).service_url("apiBaseUrl")
    assert len(str(raised.value)) < 250
    assert "(5015 characters)" in str(raised.value)


def test_plain_http_to_loopback_needs_the_sandbox_setting():
    urls = {"a": "http://127.0.0.1:8123/v4", "b": "http://localhost:1/", "c": "http://[::1]:2/x"}
    for key in urls:
        with pytest.raises(ConfigError, match=rf"^stepworks:x\.{key}: .* allowed only in the sandbox "):
            Section("stepworks:x", urls).service_url(key)
    section = Section("stepworks:x", {"https": "https://api.pagerduty.com", **urls}, loopback_http=True)
    assert section.service_url("https") == "https://api.pagerduty.com"
    assert [section.service_url(key) for key in urls] == list(urls.values())
    # Nested sections inherit the setting.
    assert (
        Section("stepworks:x", {"n": {"u": urls["a"]}}, loopback_http=True).section("n").service_url("u") == urls["a"]
    )


def test_the_jwt_issuer_is_parsed_like_every_url_and_never_loopback():
    for issuer in ("https://u:p@id.example.com/", "http://id.example.com/", "https://127.0.0.1.evil/#x"):
        with pytest.raises(ConfigError, match=r"^stepworks:greeting\.jwtIssuer: "):
            GreetingSettings.from_section(
                load({"greeting": {"jwtIssuer": issuer, "jwtAudience": ["a"]}}).pipeline("greeting")
            )
    config = load(
        {"sandboxLoopbackHttp": True, "greeting": {"jwtIssuer": "http://127.0.0.1:9/", "jwtAudience": ["a"]}},
        in_sandbox=True,
    )
    with pytest.raises(ConfigError, match="allowed only in the sandbox"):
        GreetingSettings.from_section(config.pipeline("greeting"))


# -- strictness: unknown keys name the closest known key --------------------------------------

ALL = ["greeting", "radar", "incidents"]


def load_all(raw, **kwargs):
    return load_stack_config(raw, stack="dev", region="us-west-2", known_pipelines=ALL, **kwargs)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"logRetentionDay": 31},
            "stepworks:logRetentionDay: unknown setting; did you mean stepworks:logRetentionDays? allowed: ",
        ),
        (
            {"lambdaruntime": "python3.12"},
            "stepworks:lambdaruntime: unknown setting; did you mean stepworks:lambdaRuntime? allowed: ",
        ),
        (
            {"greetings": {"memory": 128}},
            "stepworks:greetings: unknown setting; did you mean stepworks:greeting? allowed: ",
        ),
        (
            {"sandboxLoopback": True},
            "stepworks:sandboxLoopback: unknown setting; did you mean stepworks:sandboxLoopbackHttp? allowed: ",
        ),
        ({"zzz": 1}, "stepworks:zzz: unknown setting; allowed: "),
    ],
)
def test_unknown_top_level_keys_name_the_closest_known_key(raw, message):
    with pytest.raises(ConfigError) as raised:
        load_all(raw)
    assert str(raised.value).startswith(message)
    # "allowed" lists every top-level setting and every pipeline section.
    allowed = str(raised.value).split("allowed: ")[1].split(", ")
    assert {"logRetentionDays", "lambdaRuntime", "sandboxLoopbackHttp", *ALL} <= set(allowed)


def test_an_unknown_key_is_quoted_as_a_short_prefix():
    with pytest.raises(ConfigError) as raised:
        load_all({"x" * 10000: 1})
    assert len(str(raised.value)) < 400


def test_unknown_keys_in_nested_sections_name_the_closest_known_key():
    from infra.workflows.incidents import IncidentsSettings

    cases = {
        "network": (
            {"cidrblock": "10.0.0.0/16"},
            "stepworks:incidents.network.cidrblock: unknown setting; "
            "did you mean stepworks:incidents.network.cidrBlock?",
        ),
        "database": (
            {"multiAZ": True},
            "stepworks:incidents.database.multiAZ: unknown setting; did you mean stepworks:incidents.database.multiAz?",
        ),
    }
    for name, (values, message) in cases.items():
        with pytest.raises(ConfigError) as raised:
            IncidentsSettings.from_section(load_all({"incidents": {name: values}}).pipeline("incidents"))
        assert str(raised.value).startswith(message)


def test_a_section_read_without_checking_unknown_keys_stops_the_program():
    config = load_all({"incidents": {"network": {"cidrBlock": "10.0.0.0/16"}}})
    section = config.pipeline("incidents")
    section.reject_unknown(["network"])
    section.section("network").string("cidrBlock")  # a reader that forgot reject_unknown
    with pytest.raises(ConfigError, match=r"^stepworks:incidents\.network: read without checking for unknown keys"):
        config.require_all_checked()


def test_the_stepworks_settings_are_picked_out_of_the_whole_config_map():
    raw = stepworks_settings(
        {
            "aws:region": "us-west-2",
            "stepworks:logRetentionDays": "30",
            "stepworks:greeting": '{"memory": 128}',
            "stepworks:logLevel": "INFO",
            "stepworks:logRetentionDay": "31",
        }
    )
    assert raw == {"logRetentionDays": 30, "greeting": {"memory": 128}, "logLevel": "INFO", "logRetentionDay": 31}


@pytest.mark.parametrize(
    "key", ["stepwork:logLevel", "Stepworks:logLevel", "stepworkss:logLevel", "step-works:logLevel"]
)
def test_a_near_miss_of_the_namespace_is_an_error(key):
    with pytest.raises(ConfigError, match=rf"^{key}: unknown namespace .*; did you mean stepworks:logLevel\?"):
        stepworks_settings({key: "INFO"})


# -- messages that said the wrong thing -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("thirty", 'stepworks:greeting.memory: "thirty" is not a number; allowed: 128–10240'),
        (True, "stepworks:greeting.memory: true is not a number; allowed: 128–10240"),
        ([256], "stepworks:greeting.memory: [256] is not a number; allowed: 128–10240"),
        (256.5, "stepworks:greeting.memory: 256.5 is not a whole number; allowed: 128–10240"),
        ("99999", "stepworks:greeting.memory: 99999 is out of range; allowed: 128–10240"),
        (-5, "stepworks:greeting.memory: -5 is out of range; allowed: 128–10240"),
    ],
)
def test_a_number_setting_says_not_a_number_or_out_of_range(value, message):
    with pytest.raises(ConfigError) as raised:
        GreetingSettings.from_section(load({"greeting": {"memory": value}}).pipeline("greeting"))
    assert str(raised.value) == message


def test_a_whole_float_and_numeric_text_are_numbers():
    assert (
        GreetingSettings.from_section(load({"greeting": {"memory": 256.0}}).pipeline("greeting")).functions.memory_mb
        == 256
    )
    assert (
        GreetingSettings.from_section(load({"greeting": {"memory": " 512 "}}).pipeline("greeting")).functions.memory_mb
        == 512
    )


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ("mars-1", 'aws:region: "mars-1" is not an AWS region; allowed: af-south-1, '),
        ("us-west2", 'aws:region: "us-west2" is not an AWS region; did you mean us-west-2? allowed: '),
        ("", 'aws:region: "" is not an AWS region; allowed: '),
        ("cn-north-1", 'aws:region: "cn-north-1" is in partition aws-cn, which stepworks does not support'),
    ],
)
def test_a_region_botocore_does_not_know_is_not_an_aws_region(region, message):
    with pytest.raises(ConfigError) as raised:
        load_stack_config({}, stack="dev", region=region, known_pipelines=ALL)
    assert str(raised.value).startswith(message)
    if "allowed: " in message:
        assert "us-east-1" in str(raised.value).split("allowed: ")[1]


def test_the_region_is_checked_before_anything_else():
    with pytest.raises(ConfigError, match=r"^aws:region: "):
        load_stack_config({"logRetentionDay": 1}, stack="dev", region="mars-1", known_pipelines=ALL)


def test_known_regions_come_from_botocore():
    assert {"us-east-1", "us-west-2", "eu-central-1", "ap-southeast-2"} <= set(aws_regions())
    assert not [r for r in aws_regions() if r.endswith("-global") or r.startswith("cn-")]


def test_an_empty_pipeline_list_is_refused_with_what_to_do():
    with pytest.raises(ConfigError) as raised:
        load_all({"pipelines": []})
    assert str(raised.value) == (
        "stepworks:pipelines: the list is empty; list at least one of greeting, radar, incidents, "
        "or remove the key to deploy all"
    )


def test_a_misspelled_pipeline_names_the_closest():
    with pytest.raises(
        ConfigError, match=r'^stepworks:pipelines: unknown pipeline "incident"; did you mean incidents\?'
    ):
        load_all({"pipelines": ["incident"]})


# -- the sandbox-only setting -----------------------------------------------------------------


def test_sandbox_loopback_http_is_off_by_default_and_refused_outside_the_sandbox():
    assert load_all({}).sandbox_loopback_http is False
    assert load_all({"sandboxLoopbackHttp": False}).sandbox_loopback_http is False
    with pytest.raises(ConfigError) as raised:
        load_all({"sandboxLoopbackHttp": True})
    assert str(raised.value).startswith("stepworks:sandboxLoopbackHttp: a sandbox-only setting")
    config = load_all({"sandboxLoopbackHttp": True}, in_sandbox=True)
    assert config.sandbox_loopback_http is True
    assert config.pipeline("radar").loopback_http is True


# -- the program: every stepworks:* key it is given, known or not ----------------------------


def run_dev(**extra):
    """The program under recording mocks with Pulumi.dev.yaml plus ``extra`` (full keys)."""
    from infra.sandbox.mocks import RecordingMocks
    from infra.sandbox.program import load_stack_file, run_program

    mocks = RecordingMocks()
    return run_program(mocks, {**load_stack_file("dev"), **extra}, stack="dev"), mocks


def dev_section(name, **settings):
    from infra.sandbox.program import load_stack_file

    return {f"stepworks:{name}": {**load_stack_file("dev")[f"stepworks:{name}"], **settings}}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"stepworks:logRetentionDay": 31},
            "stepworks:logRetentionDay: unknown setting; did you mean stepworks:logRetentionDays? allowed: ",
        ),
        (
            {"stepworks:lambdaruntime": "python3.12"},
            "stepworks:lambdaruntime: unknown setting; did you mean stepworks:lambdaRuntime? allowed: ",
        ),
        (
            {"stepworks:greetings": {"memory": 128}},
            "stepworks:greetings: unknown setting; did you mean stepworks:greeting? allowed: ",
        ),
        (
            {"stepwork:logLevel": "INFO"},
            'stepwork:logLevel: unknown namespace "stepwork"; did you mean stepworks:logLevel?',
        ),
        (
            {"stepworks:logRetentionDays": "thirty"},
            'stepworks:logRetentionDays: "thirty" is not a number; allowed: 1, 3',
        ),
        ({"aws:region": "mars-1"}, 'aws:region: "mars-1" is not an AWS region; allowed: af-south-1, '),
        ({"stepworks:pipelines": []}, "stepworks:pipelines: the list is empty; list at least one of greeting, radar"),
        (
            dev_section("incidents", apiBaseUrl="http://127.0.0.1.evil.example"),
            'stepworks:incidents.apiBaseUrl: "http://127.0.0.1.evil.example" is not allowed: it uses plain http',
        ),
        (
            dev_section("radar", providerUrl="http://127.0.0.1.evil.example/orgs"),
            'stepworks:radar.providerUrl: "http://127.0.0.1.evil.example/orgs" is not allowed: it uses plain http',
        ),
        (
            dev_section("radar", apiBaseUrl="http://api.cloudflare.com/client/v4"),
            'stepworks:radar.apiBaseUrl: "http://api.cloudflare.com/client/v4" is not allowed: it uses plain http',
        ),
        (
            dev_section("radar", apiBaseUrl="http://127.0.0.1:9/client/v4"),
            'stepworks:radar.apiBaseUrl: "http://127.0.0.1:9/client/v4" is not allowed: plain http to a loopback '
            "host is allowed only in the sandbox (stepworks:sandboxLoopbackHttp: true)",
        ),
    ],
)
def test_the_program_stops_on_a_bad_setting_before_declaring_anything(extra, message):
    from infra.sandbox.mocks import RecordingMocks
    from infra.sandbox.program import ProgramError, load_stack_file, run_program

    mocks = RecordingMocks()
    with pytest.raises(ProgramError) as raised:
        run_program(mocks, {**load_stack_file("dev"), **extra}, stack="dev")
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
    assert not [r for r in mocks.resources if r.custom]


@pytest.mark.parametrize("pipeline", list(WORKFLOWS))
def test_the_section_of_a_disabled_pipeline_is_validated_too(pipeline):
    # Every workflow, present and future: one added without a settings reader in __main__.py fails.
    from infra.sandbox.program import ProgramError

    other = next(name for name in WORKFLOWS if name != pipeline)
    with pytest.raises(ProgramError, match=rf"^stepworks:{pipeline}\.scheduel: unknown setting;"):
        run_dev(**{"stepworks:pipelines": [other], f"stepworks:{pipeline}": {"scheduel": "rate(1 day)"}})


def functions_environment(program):
    return {r.name: r.inputs["environment"]["variables"] for r in program.of_type("aws:lambda/function:Function")}


def test_no_function_may_call_loopback_http_by_default(dev_program):
    environments = functions_environment(dev_program)
    assert environments
    assert not [name for name, env in environments.items() if "STEPWORKS_ALLOW_LOOPBACK_HTTP" in env]


def test_the_sandbox_setting_lets_url_settings_and_every_function_use_loopback_http():
    program, _ = run_dev(
        **{"stepworks:sandboxLoopbackHttp": True},
        **dev_section("radar", apiBaseUrl="http://127.0.0.1:9/client/v4"),
        **dev_section("incidents", apiBaseUrl="http://localhost:8/"),
    )
    environments = functions_environment(program)
    # greeting 1, radar 7, incidents 5, uploads 2, daily-analysis 10, release-approval 8 + 3 reference services
    assert len(environments) == 36
    assert all(env["STEPWORKS_ALLOW_LOOPBACK_HTTP"] == "true" for env in environments.values())
    assert environments["radar-fetch-function"]["RADAR_API_BASE_URL"] == "http://127.0.0.1:9/client/v4"


def test_the_sandbox_services_turn_the_sandbox_setting_on():
    from infra.sandbox.services import IncidentsServices, RadarServices

    for services in (RadarServices(), IncidentsServices()):
        try:
            overrides = services.start()
        finally:
            services.stop()
        assert overrides["stepworks:sandboxLoopbackHttp"] is True


def test_a_parsed_setting_names_the_key_when_its_parser_refuses_the_value():
    section = Section("stepworks:daily-analysis", {"categories": {"fresh": "P00"}})
    with pytest.raises(ConfigError, match=r"^stepworks:daily-analysis\.categories: "):
        section.parsed("categories", {}, lambda raw: dict.fromkeys(raw["fresh"] + 1))
    assert Section("s", {}).parsed("categories", {"a": 1}, dict) == {"a": 1}


def test_a_matching_setting_is_checked_whole_against_its_pattern():
    import re

    pattern = re.compile(r"arn:[a-z]+")
    assert Section("s", {"p": "arn:x"}).matching("p", pattern, "an ARN") == "arn:x"
    assert Section("s", {}).matching("p", pattern, "an ARN") is None
    with pytest.raises(ConfigError, match=r"^s:p: 'arn:x1' is not an ARN$"):
        Section("s", {"p": "arn:x1"}).matching("p", pattern, "an ARN")
