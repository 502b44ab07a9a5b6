"""Bedrock model access: what ``bedrock:InvokeModel`` must name for a model or inference-profile id.

A foundation-model id (``amazon.nova-lite-v1:0``) is invoked in the stack's region:
``arn:aws:bedrock:<region>::foundation-model/<id>``. A system-defined cross-region inference
profile (``us.amazon.nova-lite-v1:0``) is invoked in the stack's region and routes each request to
one of its destination regions, so the caller needs the profile and the foundation model in every
destination (Bedrock user guide, "Prerequisites for inference profiles").

AWS's profile ids carry a geography prefix: ``us.``, ``eu.``, ``apac.``, ``jp.``, ``au.``,
``us-gov.`` and ``global.`` (the ``CrossRegionInferenceProfileRegion`` values of AWS's CDK). The
destinations depend on the model; the table below has Nova Lite's (the default model), and
``modelRegions`` names them for another model or a ``jp.``/``au.`` profile. A prefix AWS does not
define, or ``modelRegions`` beside a foundation-model id, is a ``ModelSettingError`` naming the
setting: a wrong guess here would be an ARN that grants nothing, found only when Bedrock refuses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from infra.components import grants as g

# Nova Lite, through the profile of the stack's geography (a region outside the three: the
# foundation model in the region itself).
DEFAULT_MODEL = "amazon.nova-lite-v1:0"
_GEOGRAPHY = {"us": "us", "ca": "us", "eu": "eu", "ap": "apac"}
# Destinations of Nova Lite's geographic profiles (Bedrock user guide, "Supported Regions and models
# for inference profiles").
PROFILE_REGIONS = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-north-1", "eu-west-1", "eu-west-3"),
    "apac": ("ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2"),
}
# Prefixes whose destinations stepworks has no table for: ``modelRegions`` names them.
ROUTES_REQUIRED = ("jp", "au")
# Prefixes AWS defines that stepworks cannot grant correctly, and why.
UNSUPPORTED = {
    "global": "a global profile routes to any commercial region and needs region-less foundation-model ARNs, "
    "which stepworks does not grant; use a geographic profile",
    "us-gov": "AWS GovCloud (US) is another partition (arn:aws-us-gov:…), which stepworks does not support",
}
PROFILE_PREFIXES = (*PROFILE_REGIONS, *ROUTES_REQUIRED, *UNSUPPORTED)
MODEL_SETTING, ROUTES_SETTING = "modelId", "modelRegions"
_MODEL_ID = re.compile(r"[a-z0-9-]+(\.[A-Za-z0-9-]+)+(-v\d+)?(:[0-9a-z.]+)*")


class ModelSettingError(ValueError):
    """A model setting that would grant the wrong ARNs; ``setting`` is the key to correct."""

    def __init__(self, setting: str, message: str):
        super().__init__(message)
        self.setting = setting


def default_model(region: str) -> str:
    """``us.amazon.nova-lite-v1:0`` in us-west-2, ``eu.…`` in eu-central-1, ``apac.…`` in ap-south-1."""
    geography = _GEOGRAPHY.get(region.split("-")[0])
    return f"{geography}.{DEFAULT_MODEL}" if geography else DEFAULT_MODEL


@dataclass(frozen=True)
class ModelTarget:
    """A model as IAM sees it: a foundation model, or a profile (``geography``) and where it routes."""

    model_id: str
    geography: str | None = None
    routes: tuple[str, ...] = ()

    @property
    def foundation_model(self) -> str:
        """The foundation-model id (the profile id without its prefix)."""
        return self.model_id.partition(".")[2] if self.geography else self.model_id

    def arns(self, region: str, account_id: str) -> list[str]:
        """Every ARN ``bedrock:InvokeModel`` must name, invoked from ``region``."""
        if self.geography is None:
            return [f"arn:aws:bedrock:{region}::foundation-model/{self.model_id}"]
        return [
            f"arn:aws:bedrock:{region}:{account_id}:inference-profile/{self.model_id}",
            *(f"arn:aws:bedrock:{r}::foundation-model/{self.foundation_model}" for r in self.routes),
        ]


def target(model_id: str, routes: Sequence[str] = ()) -> ModelTarget:
    """``model_id`` (with ``routes``: the regions its profile routes to) checked; ModelSettingError if wrong."""
    if not _MODEL_ID.fullmatch(model_id):
        raise ModelSettingError(
            MODEL_SETTING,
            f"{model_id!r} is not a Bedrock model or inference profile id "
            "(e.g. amazon.nova-lite-v1:0 or us.amazon.nova-lite-v1:0)",
        )
    parts = model_id.partition(":")[0].split(".")
    if len(parts) == 2:
        if routes:
            raise ModelSettingError(
                ROUTES_SETTING,
                f"{model_id} is a foundation model, invoked in the stack's region only; modelRegions is for an "
                f"inference profile ({', '.join(f'{p}.' for p in PROFILE_PREFIXES)}…)",
            )
        return ModelTarget(model_id)
    prefix = parts[0]
    if prefix not in PROFILE_PREFIXES:
        raise ModelSettingError(
            MODEL_SETTING,
            f"{model_id}: {prefix!r} is not an inference-profile prefix AWS defines "
            f"(allowed: {', '.join(PROFILE_PREFIXES)}; a foundation-model id has no prefix)",
        )
    if prefix in UNSUPPORTED:
        raise ModelSettingError(MODEL_SETTING, f"{model_id}: {UNSUPPORTED[prefix]}")
    if not routes and prefix in ROUTES_REQUIRED:
        raise ModelSettingError(
            ROUTES_SETTING,
            f"{model_id}: the destinations of a {prefix}. profile depend on the model; list them in modelRegions "
            "(the model's page in the Bedrock user guide names them)",
        )
    return ModelTarget(model_id, prefix, tuple(routes) or PROFILE_REGIONS[prefix])


def invoke_grant(model: ModelTarget, region: str, account_id: pulumi.Input[str]) -> g.Grant:
    """``bedrock:InvokeModel`` (Converse's action) on exactly the ARNs of ``model``, invoked from ``region``."""
    count = len(model.arns(region, ""))
    account = pulumi.Output.from_input(account_id)
    resources = [account.apply(lambda a, n=n: model.arns(region, a)[n]) for n in range(count)]
    return g.Grant("BedrockInvokeModel", ("bedrock:InvokeModel",), resources)
