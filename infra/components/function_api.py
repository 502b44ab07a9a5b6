"""FunctionApi: an HTTP API whose routes invoke functions (Lambda proxy, payload format 2.0).

For callers that can neither sign requests nor present a JWT (Jira Automation's "Send web
request" sends fixed headers): the function authenticates each request itself, and the API says
so in its ``stepworks:authentication`` tag, which the rule pack's route rule reads (SW-API3). API
Gateway may invoke each function for its own route only (a resource-policy statement per route).
Access logs and throttling as on every stepworks API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.components.stack import PipelineOwner
from infra.components.triggers import ApiAccess, api_stage

# The tag naming how a FunctionApi's functions authenticate callers (the rule pack requires one).
AUTHENTICATION_TAG = "stepworks:authentication"


@dataclass
class FunctionApiArgs:
    """Routes (``"POST /callbacks/jira"``) → the function (name and ARN) that answers them."""

    owner: PipelineOwner
    routes: Mapping[str, tuple[pulumi.Input[str], pulumi.Input[str]]]
    key_arn: pulumi.Input[str]
    # How the functions authenticate each request (e.g. "shared secret in the Authorization header").
    authentication: str
    access: ApiAccess = field(default_factory=ApiAccess)
    # Names the API among the pipeline's APIs (its access log group is named by it).
    label: str = "callbacks"


class FunctionApi(pulumi.ComponentResource):
    """An HTTP API, one Lambda proxy integration and route per function, a throttled, logged stage."""

    def __init__(self, name: str, args: FunctionApiArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:FunctionApi", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        owner = args.owner
        self.api = aws.apigatewayv2.Api(
            f"{name}-api",
            name=f"{owner.stack.owner(owner.pipeline)}-{args.label}",
            protocol_type="HTTP",
            description=f"{owner.pipeline} {args.label}; callers authenticated by the function: {args.authentication}",
            tags={**owner.tags, AUTHENTICATION_TAG: args.authentication},
            opts=child,
        )
        routes = []
        for route_key, (function_name, function_arn) in args.routes.items():
            method, path = route_key.split(" ", 1)
            label = path.strip("/").replace("/", "-") or "root"
            integration = aws.apigatewayv2.Integration(
                f"{name}-{label}-integration",
                api_id=self.api.id,
                integration_type="AWS_PROXY",
                integration_uri=function_arn,
                payload_format_version="2.0",
                timeout_milliseconds=29_000,
                opts=child,
            )
            routes.append(
                aws.apigatewayv2.Route(
                    f"{name}-{label}-route",
                    api_id=self.api.id,
                    route_key=route_key,
                    target=integration.id.apply(lambda i: f"integrations/{i}"),
                    authorization_type="NONE",
                    opts=child,
                )
            )
            aws.lambda_.Permission(
                f"{name}-{label}-invoke",
                function=function_name,
                action="lambda:InvokeFunction",
                principal="apigateway.amazonaws.com",
                # This route of this API, on any stage: nothing else may invoke the function through API Gateway.
                source_arn=self.api.execution_arn.apply(lambda arn, m=method, p=path: f"{arn}/*/{m}{p}"),
                opts=child,
            )
        self.access_logs, self.stage = api_stage(
            name, self.api, owner, args.key_arn, args.label, args.access, depends_on=routes, parent=self
        )
        self.endpoint = self.api.api_endpoint
        self.register_outputs({"endpoint": self.endpoint})

    def url(self, path: str) -> pulumi.Output[str]:
        """The public URL of ``path`` on this API."""
        return self.endpoint.apply(lambda endpoint: f"{endpoint}{path}")
