"""Sandbox services of the pipelines that call third parties: fakes started, config pointed at them."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from infra.sandbox.core import Sandbox
from infra.sandbox.fakes.radar import RadarFake


class RadarServices:
    """The Cloudflare Radar fake, with a token generated per run and stored in the pipeline's secret."""

    def __init__(self):
        self.fake = RadarFake(token=secrets.token_urlsafe(32))

    def start(self) -> Mapping[str, Any]:
        self.fake.start()
        return {"stepworks:radar": {"apiBaseUrl": self.fake.base_url}}

    def after_deploy(self, sandbox: Sandbox) -> None:
        # What an operator does after `pulumi up`: put the token into the secret, by ARN.
        sandbox.client("secretsmanager").put_secret_value(
            SecretId=sandbox.outputs("radar")["tokenSecretArn"], SecretString=self.fake.token
        )

    def stop(self) -> None:
        self.fake.stop()
