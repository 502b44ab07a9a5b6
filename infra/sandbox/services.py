"""Sandbox services of the pipelines that call third parties: fakes started, config pointed at them."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.config import NAMESPACE, SANDBOX_LOOPBACK_HTTP
from infra.sandbox.core import Sandbox
from infra.sandbox.fakes.bedrock import BedrockFake
from infra.sandbox.fakes.pagerduty import PagerDutyFake, generate_incidents
from infra.sandbox.fakes.radar import RadarFake

# The fakes serve plain http on loopback: the sandbox-only setting lets the stack's URL settings and
# its functions use them (the program refuses it outside Pulumi's mock runtime).
LOOPBACK_HTTP = {f"{NAMESPACE}:{SANDBOX_LOOPBACK_HTTP}": True}


def store_token(sandbox: Sandbox, pipeline: str, token: str) -> None:
    """What an operator does after `pulumi up`: put the API token into the pipeline's secret, by ARN."""
    sandbox.client("secretsmanager").put_secret_value(
        SecretId=sandbox.outputs(pipeline)["tokenSecretArn"], SecretString=token
    )


class RadarServices:
    """The Cloudflare Radar fake, with a token generated per run and stored in the pipeline's secret."""

    def __init__(self):
        self.fake = RadarFake(token=secrets.token_urlsafe(32))

    def start(self) -> Mapping[str, Any]:
        self.fake.start()
        return {**LOOPBACK_HTTP, "stepworks:radar": {"apiBaseUrl": self.fake.base_url}}

    def after_deploy(self, sandbox: Sandbox) -> None:
        store_token(sandbox, "radar", self.fake.token)

    def stop(self) -> None:
        self.fake.stop()


class IncidentsServices:
    """The PagerDuty fake, holding a day of incidents, with a generated token stored in the pipeline's secret.

    The database needs no service here: the RDS instance itself maps to a PostgreSQL server
    started for the run (``infra/sandbox/databases.py``).
    """

    SAMPLE_INCIDENTS = 240

    def __init__(self):
        self.fake = PagerDutyFake(token=secrets.token_urlsafe(32))

    def start(self) -> Mapping[str, Any]:
        # Spread over the last day, so the default window (the last 24 hours) finds them all.
        until = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        self.fake.add_incidents(generate_incidents(self.SAMPLE_INCIDENTS, until - timedelta(hours=23), until))
        self.fake.start()
        return {**LOOPBACK_HTTP, "stepworks:incidents": {"apiBaseUrl": self.fake.url}}

    def after_deploy(self, sandbox: Sandbox) -> None:
        store_token(sandbox, "incidents", self.fake.token)

    def stop(self) -> None:
        self.fake.stop()


class DailyAnalysisServices:
    """The Bedrock Runtime fake (Converse), answering for the configured model only; the functions'
    Bedrock client is pointed at it (``bedrockEndpointUrl``), everything else stays in the emulator."""

    def __init__(self, model_id: str):
        self.fake = BedrockFake(models={model_id})

    @classmethod
    def for_stack(cls, config: Mapping[str, Any]) -> DailyAnalysisServices:
        from infra.components.bedrock import default_model
        from infra.sandbox.mocks import REGION

        return cls((config.get("stepworks:daily-analysis") or {}).get("modelId") or default_model(REGION))

    def start(self) -> Mapping[str, Any]:
        self.fake.start()
        return {**LOOPBACK_HTTP, "stepworks:daily-analysis": {"bedrockEndpointUrl": self.fake.url}}

    def after_deploy(self, sandbox: Sandbox) -> None:
        pass

    def stop(self) -> None:
        self.fake.stop()


class ReleaseApprovalServices:
    """The three release services and Jira (fakes, each with its own generated token), the callback's
    shared secret stored as an operator would, and the stack pointed at the fakes instead of the
    reference services (``release-approval.referenceServices`` is for a real account)."""

    def __init__(self):
        from infra.sandbox.fakes.jira import JiraFake
        from infra.sandbox.fakes.release_services import SERVICES, ReleaseServicesFake

        self.services = ReleaseServicesFake(tokens={s: secrets.token_urlsafe(32) for s in SERVICES})
        self.jira = JiraFake(email="automation@example.com", api_token=secrets.token_urlsafe(24))
        # What Jira Automation's web request sends in its Authorization header (README, "release-approval").
        self.callback_secret = secrets.token_urlsafe(48)

    def start(self) -> Mapping[str, Any]:
        from infra.sandbox.fakes.release_services import SERVICES

        self.services.start()
        self.jira.start()
        urls = {f"{service}Url": self.services.url_of(service) for service in SERVICES}
        return {
            **LOOPBACK_HTTP,
            "stepworks:release-approval": {**urls, "referenceServices": False, "jiraBaseUrl": self.jira.url},
        }

    def after_deploy(self, sandbox: Sandbox) -> None:
        from infra.sandbox.fakes.release_services import SERVICES

        outputs = sandbox.outputs("release-approval")
        secretsmanager = sandbox.client("secretsmanager")
        for service in SERVICES:
            secretsmanager.put_secret_value(
                SecretId=outputs[f"{service}SecretArn"], SecretString=self.services.tokens[service]
            )
        secretsmanager.put_secret_value(SecretId=outputs["jiraSecretArn"], SecretString=self.jira.basic_secret)
        secretsmanager.put_secret_value(SecretId=outputs["callbackSecretArn"], SecretString=self.callback_secret)

    def stop(self) -> None:
        self.services.stop()
        self.jira.stop()
