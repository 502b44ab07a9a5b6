"""StepFunctionPipeline: a pipeline's functions, its state machine, its roles and log groups."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import grants as g
from infra.components.function import PipelineFunction, PipelineFunctionArgs, VpcPlacement
from infra.components.packaging import LayerCatalog

# Lambda function names are limited to 64 characters.
_MAX_FUNCTION_NAME = 64


@dataclass(frozen=True)
class FunctionRuntime:
    """What every function of the stack shares: runtime, code, layers, logging, tags, naming."""

    runtime: str
    architecture: str
    log_retention_days: int
    log_level: str
    code: pulumi.Archive
    layers: LayerCatalog  # one layer per distinct set of packages the handlers import
    name_prefix: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass
class FunctionSpec:
    """A function a workflow declares: handler, sizing, settings and what it touches."""

    handler: str
    memory_mb: int = 256
    timeout_s: int = 30
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    grants: Sequence[g.Grant] = ()
    vpc: VpcPlacement | None = None


# A pure function from resolved references (function ARNs by function key, plus the workflow's
# own references) to an ASL definition dict.
DefinitionRenderer = Callable[[Mapping[str, str]], dict[str, Any]]


@dataclass
class StepFunctionPipelineArgs:
    """A pipeline: its functions, its definition renderer and what its direct integrations touch."""

    pipeline: str
    runtime: FunctionRuntime
    functions: Mapping[str, FunctionSpec]
    render_definition: DefinitionRenderer
    references: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    integration_grants: Sequence[g.Grant] = ()


def function_name(prefix: str, pipeline: str, key: str) -> str:
    """The physical name of a pipeline's function, unique per stack and at most 64 characters."""
    return f"{prefix}-{pipeline}-{key}"[:_MAX_FUNCTION_NAME]


def render_definition_json(render: DefinitionRenderer, resolved: Mapping[str, str]) -> str:
    """The definition as JSON text (sorted keys, so a diff shows only real changes)."""
    return json.dumps(render(resolved), indent=2, sort_keys=True)


class StepFunctionPipeline(pulumi.ComponentResource):
    """A STANDARD state machine with logging (ALL, no execution data) and tracing, and its functions."""

    def __init__(self, name: str, args: StepFunctionPipelineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:StepFunctionPipeline", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        rt = args.runtime
        tags = {**rt.tags, "pipeline": args.pipeline}

        self.functions: dict[str, PipelineFunction] = {}
        for key, spec in args.functions.items():
            self.functions[key] = PipelineFunction(
                f"{name}-{key}",
                PipelineFunctionArgs(
                    function_name=function_name(rt.name_prefix, args.pipeline, key),
                    handler=spec.handler,
                    code=rt.code,
                    layers=rt.layers.layers_for(spec.handler),
                    runtime=rt.runtime,
                    architecture=rt.architecture,
                    memory_mb=spec.memory_mb,
                    timeout_s=spec.timeout_s,
                    log_retention_days=rt.log_retention_days,
                    environment={"POWERTOOLS_LOG_LEVEL": rt.log_level, **spec.environment},
                    grants=spec.grants,
                    vpc=spec.vpc,
                    tags=tags,
                ),
                opts=child,
            )

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-sfn-logs",
            name=f"/aws/vendedlogs/states/{rt.name_prefix}-{args.pipeline}",
            retention_in_days=rt.log_retention_days,
            tags=tags,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-sfn-role",
            assume_role_policy=g.assume_role_policy("states.amazonaws.com"),
            description=f"Execution role of the {args.pipeline} state machine",
            tags=tags,
            opts=child,
        )
        function_arns = [f.arn for f in self.functions.values()]
        self.grants: list[g.Grant] = [
            *([g.lambda_invoke(function_arns)] if function_arns else []),
            *args.integration_grants,
            g.state_machine_log_delivery(),
            g.xray_write(),
        ]
        self.policy = aws.iam.RolePolicy(
            f"{name}-sfn-policy", role=self.role.id, policy=g.policy_document(self.grants), opts=child
        )

        references = {**{key: f.arn for key, f in self.functions.items()}, **args.references}
        self.definition = pulumi.Output.all(**references).apply(
            lambda resolved: render_definition_json(args.render_definition, resolved)
        )
        self.state_machine = aws.sfn.StateMachine(
            f"{name}-sfn",
            name=f"{rt.name_prefix}-{args.pipeline}",
            type="STANDARD",
            role_arn=self.role.arn,
            definition=self.definition,
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                level="ALL",
                include_execution_data=False,
                log_destination=self.log_group.arn.apply(lambda arn: f"{arn}:*"),
            ),
            tracing_configuration=aws.sfn.StateMachineTracingConfigurationArgs(enabled=True),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.policy]),
        )
        self.arn = self.state_machine.arn
        self.register_outputs({"stateMachineArn": self.arn})
