"""Which ARNs bedrock:InvokeModel names for a model or inference profile, and the settings that would get them wrong."""

from __future__ import annotations

import pytest

from infra.components import bedrock
from infra.config import ConfigError, Section
from infra.workflows.daily_analysis import DailyAnalysisSettings, model_target

ACCOUNT = "123456789012"


def arns(model_id: str, region: str = "us-west-2", routes: tuple[str, ...] = ()) -> list[str]:
    return bedrock.target(model_id, routes).arns(region, ACCOUNT)


def test_a_foundation_model_is_invoked_in_the_stacks_region_only():
    assert arns("amazon.nova-lite-v1:0", "eu-west-2") == [
        "arn:aws:bedrock:eu-west-2::foundation-model/amazon.nova-lite-v1:0"
    ]


@pytest.mark.parametrize(
    ("profile", "region", "routes"),
    [
        ("us.amazon.nova-lite-v1:0", "us-west-2", ("us-east-1", "us-east-2", "us-west-2")),
        ("eu.amazon.nova-lite-v1:0", "eu-central-1", ("eu-central-1", "eu-north-1", "eu-west-1", "eu-west-3")),
        (
            "apac.amazon.nova-lite-v1:0",
            "ap-south-1",
            ("ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2"),
        ),
    ],
)
def test_a_geographic_profile_names_itself_in_the_stacks_region_and_the_model_in_each_destination(
    profile, region, routes
):
    assert arns(profile, region) == [
        f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{profile}",
        *(f"arn:aws:bedrock:{r}::foundation-model/amazon.nova-lite-v1:0" for r in routes),
    ]


def test_model_regions_override_where_the_profile_routes():
    model = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    assert arns(model, "us-east-1", ("us-east-1", "us-west-2")) == [
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/{model}",
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0",
        "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0",
    ]


def test_a_japan_profile_needs_its_destinations_named_and_then_routes_to_them():
    with pytest.raises(bedrock.ModelSettingError, match="list them in modelRegions") as raised:
        bedrock.target("jp.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert raised.value.setting == "modelRegions"
    routed = arns(
        "jp.anthropic.claude-sonnet-4-5-20250929-v1:0", "ap-northeast-1", ("ap-northeast-1", "ap-northeast-3")
    )
    assert routed[1:] == [
        "arn:aws:bedrock:ap-northeast-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
        "arn:aws:bedrock:ap-northeast-3::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
    ]


@pytest.mark.parametrize(
    ("model", "setting", "problem"),
    [
        ("xx.amazon.nova-lite-v1:0", "modelId", "'xx' is not an inference-profile prefix AWS defines"),
        ("usa.amazon.nova-lite-v1:0", "modelId", "'usa' is not an inference-profile prefix"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "modelId", "region-less foundation-model ARNs"),
        ("us-gov.anthropic.claude-3-haiku-20240307-v1:0", "modelId", "another partition"),
        ("nova lite", "modelId", "is not a Bedrock model or inference profile id"),
    ],
)
def test_a_prefix_stepworks_cannot_grant_is_refused_naming_the_setting(model, setting, problem):
    with pytest.raises(bedrock.ModelSettingError, match=problem) as raised:
        bedrock.target(model, ("us-east-1",))
    assert raised.value.setting == setting


def test_model_regions_beside_a_foundation_model_are_refused():
    with pytest.raises(bedrock.ModelSettingError, match="is a foundation model") as raised:
        bedrock.target("amazon.nova-lite-v1:0", ("us-east-1",))
    assert raised.value.setting == "modelRegions"


def test_the_default_model_is_the_profile_of_the_regions_geography_or_the_model_itself():
    assert bedrock.default_model("us-west-2") == "us.amazon.nova-lite-v1:0"
    assert bedrock.default_model("ca-central-1") == "us.amazon.nova-lite-v1:0"
    assert bedrock.default_model("eu-central-1") == "eu.amazon.nova-lite-v1:0"
    assert bedrock.default_model("ap-south-1") == "apac.amazon.nova-lite-v1:0"
    assert bedrock.default_model("sa-east-1") == "amazon.nova-lite-v1:0"


# -- the settings: a ConfigError naming the key ---------------------------------------------------


def settings(**values) -> DailyAnalysisSettings:
    return DailyAnalysisSettings.from_section(Section("stepworks:daily-analysis", values))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"modelId": "xx.amazon.nova-lite-v1:0"}, "stepworks:daily-analysis.modelId: xx.amazon.nova-lite-v1:0: 'xx'"),
        (
            {"modelId": "amazon.nova-lite-v1:0", "modelRegions": ["us-east-1"]},
            "stepworks:daily-analysis.modelRegions: amazon.nova-lite-v1:0 is a foundation model",
        ),
        ({"modelId": "au.anthropic.claude-x-v1:0"}, "stepworks:daily-analysis.modelRegions: au.anthropic"),
        ({"modelRegions": ["us-east-9"]}, 'stepworks:daily-analysis.modelRegions: unknown value "us-east-9"'),
    ],
)
def test_a_model_setting_that_would_grant_the_wrong_arns_is_a_config_error_naming_the_key(values, message):
    with pytest.raises(ConfigError, match="^" + message.replace(".", r"\.")):
        settings(**values)


def test_model_regions_with_the_default_model_of_a_region_outside_the_geographies_is_a_config_error():
    configured = settings(modelRegions=["us-east-1"])  # the default model is not known before the region
    assert model_target(configured, "us-west-2").routes == ("us-east-1",)
    with pytest.raises(ConfigError, match=r"^stepworks:daily-analysis\.modelRegions: amazon\.nova-lite-v1:0 is a"):
        model_target(configured, "sa-east-1")
