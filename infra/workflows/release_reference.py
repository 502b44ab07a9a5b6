"""The reference validation, deployment and notification services of release-approval (off by default).

With ``stepworks:release-approval.referenceServices: true`` a stack deploys them, so the whole flow
can be tried in a real account before the real services exist: each is a function behind one
HTTP API (``/validation``, ``/deployment``, ``/notification``), checks the bearer token against
the same secret the pipeline sends from, and answers as the contract says
(``pipelines/approvals/reference.py``); deployment and notification deduplicate by idempotency key
in a table of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from infra.components import grants as g
from infra.components.function_api import FunctionApi, FunctionApiArgs
from infra.components.pipeline import FunctionSpec, declare_functions
from infra.components.secret import ApiTokenSecret
from infra.components.stack import PipelineOwner
from infra.components.table import secure_table
from infra.components.triggers import ApiAccess

# Each service's route on the reference API (its base URL is the API's endpoint plus the prefix).
ROUTES = {"validation": "POST /validation/validate", "deployment": "POST /deployment/deploy",
          "notification": "POST /notification/notify"}  # fmt: skip
DEDUPLICATED = ("deployment", "notification")


@dataclass
class ReferenceServicesArgs:
    """The pipeline, its key, the token secrets (by service) and the API's throttling."""

    owner: PipelineOwner
    key_arn: pulumi.Input[str]
    secrets: Mapping[str, ApiTokenSecret]
    access: ApiAccess


class ReferenceServices(pulumi.ComponentResource):
    """Three functions behind one HTTP API, and the idempotency table; ``urls`` by service."""

    def __init__(self, name: str, args: ReferenceServicesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:workflows:ReleaseReferenceServices", name, None, opts)
        owner, key_arn = args.owner, args.key_arn
        self.table = secure_table(
            f"{name}-idempotency", hash_key="idempotencyKey", ttl_attribute="expiresAt", key_arn=key_arn,
            tags=owner.tags, opts=pulumi.ResourceOptions(parent=self),
        )  # fmt: skip
        specs = {}
        for service in ROUTES:
            secret = args.secrets[service]
            environment: dict[str, pulumi.Input[str]] = {"TOKEN_SECRET_ARN": secret.arn}
            grants = list(secret.read())
            if service in DEDUPLICATED:
                environment["IDEMPOTENCY_TABLE_NAME"] = self.table.name
                grants += g.table_read(self.table.arn, key_arn, ("dynamodb:GetItem",))
                grants += g.table_write(self.table.arn, key_arn, ("dynamodb:PutItem",))
            specs[f"reference-{service}"] = FunctionSpec(
                f"pipelines.approvals.reference.reference_{service}", 256, 10, environment=environment, grants=grants
            )
        functions = declare_functions(name, owner.stack, owner.pipeline, key_arn, specs, self)
        self.api = FunctionApi(
            f"{name}-api",
            FunctionApiArgs(
                owner=owner,
                routes={
                    route: (functions[f"reference-{s}"].name, functions[f"reference-{s}"].arn)
                    for s, route in ROUTES.items()
                },
                key_arn=key_arn,
                authentication="the service's bearer token, compared in constant time",
                access=args.access,
                label="reference",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.urls = {service: self.api.url(f"/{service}") for service in ROUTES}
        self.register_outputs({"endpoint": self.api.endpoint})
