"""StepFunctionPipeline: a pipeline's functions, its state machine, its roles and log groups.

The state machine's role is derived from its definition: the renderer returns an
``asl.Definition`` (the document and the grants of the Tasks in it), and the role gets exactly
those grants, plus log delivery and tracing. A function no state invokes gets no invoke grant.

Every rendered definition passes ``asl.check_definition`` or the program stops with an
``InvalidDefinitionError`` naming the machine and each problem: a definition AWS would reject (a
Parallel branch going to a top-level state, say) fails ``pulumi preview``, not the deployment.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import asl
from infra.components import grants as g
from infra.components import logs, trust
from infra.components.function import PipelineFunction, PipelineFunctionArgs, VpcPlacement
from infra.components.stack import StackContext
from infra.config import FunctionSettings

# Lambda function names are limited to 64 characters.
_MAX_FUNCTION_NAME = 64


@dataclass
class FunctionSpec:
    """A function a workflow declares: handler, sizing, settings and what it touches."""

    handler: str
    memory_mb: int = 256
    timeout_s: int = 30
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    grants: Sequence[g.Grant] = ()
    vpc: VpcPlacement | None = None
    reserved_concurrency: int | None = None


def function_spec(
    settings: FunctionSettings,
    handler: str,
    *,
    environment: Mapping[str, pulumi.Input[str]] | None = None,
    grants: Sequence[g.Grant] = (),
    vpc: VpcPlacement | None = None,
) -> FunctionSpec:
    """A function sized by its pipeline's ``FunctionSettings``."""
    return FunctionSpec(
        handler=handler,
        memory_mb=settings.memory_mb,
        timeout_s=settings.timeout_s,
        environment=dict(environment or {}),
        grants=list(grants),
        vpc=vpc,
        reserved_concurrency=settings.reserved_concurrency,
    )


# A pure function from resolved references (function ARNs by function key, plus the workflow's
# own references: names, ARNs, ``integrations.*Ref`` records) to the rendered definition.
DefinitionRenderer = Callable[[Mapping[str, Any]], asl.Definition]


@dataclass
class StepFunctionPipelineArgs:
    """A pipeline: its functions, its definition renderer and the references the renderer reads."""

    pipeline: str
    stack: StackContext
    key_arn: pulumi.Input[str]
    functions: Mapping[str, FunctionSpec]
    render_definition: DefinitionRenderer
    references: Mapping[str, pulumi.Input[Any]] = field(default_factory=dict)
    # A second state machine of the pipeline (e.g. a trigger's router) is named <owner>-<machine>.
    machine: str = ""
    # EXPRESS for short, high-rate machines such as a router; STANDARD otherwise.
    express: bool = False


def function_name(prefix: str, pipeline: str, key: str) -> str:
    """The physical name of a pipeline's function, unique per stack and at most 64 characters."""
    return f"{prefix}-{pipeline}-{key}"[:_MAX_FUNCTION_NAME]


def definition_json(definition: asl.Definition) -> str:
    """The definition as JSON text (sorted keys, so a diff shows only real changes)."""
    return json.dumps(definition.document, indent=2, sort_keys=True)


class InvalidDefinitionError(pulumi.RunError):
    """A rendered definition fails the static checks (``asl.check_definition``)."""


def checked(machine_name: str, definition: asl.Definition) -> asl.Definition:
    """``definition`` if it passes ``asl.check_definition``; else an error naming the machine and the problems."""
    problems = asl.check_definition(definition.document)
    if problems:
        listed = "".join(f"\n  - {problem}" for problem in problems)
        raise InvalidDefinitionError(
            f"state machine {machine_name}: the rendered definition fails the static checks "
            f"(AWS would reject it or an execution could never end):{listed}"
        )
    return definition


def state_machine_policy(definition: asl.Definition) -> str:
    """The state machine role's policy: what its states use, log delivery and tracing."""
    fixed = [g.resolved(g.state_machine_log_delivery()), g.resolved(g.xray_write())]
    return g.policy_json([*definition.grants, *fixed])


def declare_functions(
    name: str,
    stack: StackContext,
    pipeline: str,
    key_arn: pulumi.Input[str],
    specs: Mapping[str, FunctionSpec],
    parent: pulumi.Resource,
) -> dict[str, PipelineFunction]:
    """One ``PipelineFunction`` per spec (logical name ``<name>-<key>``), each with its own role and alarms."""
    rt = stack.functions
    watch = stack.watch(pipeline)
    functions = {}
    for key, spec in specs.items():
        functions[key] = PipelineFunction(
            f"{name}-{key}",
            PipelineFunctionArgs(
                function_name=function_name(stack.name_prefix, pipeline, key),
                handler=spec.handler,
                code=rt.code,
                layers=rt.layers.layers_for(spec.handler),
                runtime=rt.runtime,
                architecture=rt.architecture,
                memory_mb=spec.memory_mb,
                timeout_s=spec.timeout_s,
                log_retention_days=stack.log_retention_days,
                key_arn=key_arn,
                role_path=trust.role_path(stack.name_prefix, pipeline),
                account_id=stack.account_id,
                environment={**spec.environment, **rt.environment},
                grants=spec.grants,
                vpc=spec.vpc,
                reserved_concurrency=spec.reserved_concurrency,
                tags=stack.tags_for(pipeline),
                watch=watch,
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )
    return functions


class StepFunctionPipeline(pulumi.ComponentResource):
    """A state machine (STANDARD, or EXPRESS) with logging (ALL, no execution data), tracing and alarms
    (when the stack has an alarm target), and its functions."""

    def __init__(self, name: str, args: StepFunctionPipelineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:StepFunctionPipeline", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stack = args.stack
        tags = stack.tags_for(args.pipeline)
        role_path = trust.role_path(stack.name_prefix, args.pipeline)

        self.functions = declare_functions(name, stack, args.pipeline, args.key_arn, args.functions, self)

        machine_name = stack.owner(args.pipeline) + (f"-{args.machine}" if args.machine else "")
        self.log_group = logs.encrypted_log_group(
            f"{name}-sfn-logs",
            logs.LogGroupArgs(
                logs.state_machine_log_group_name(stack.name_prefix, args.pipeline, args.machine),
                stack.log_retention_days,
                args.key_arn,
                tags,
            ),
            self,
        )
        self.role = aws.iam.Role(
            f"{name}-sfn-role",
            path=role_path,
            # The machine's ARN is known before it exists: its name is.
            assume_role_policy=trust.trust_policy(
                "states.amazonaws.com", stack.account_id, stack.arn("states", f"stateMachine:{machine_name}")
            ),
            description=f"Execution role of the {args.pipeline} state machine",
            tags=tags,
            opts=child,
        )
        references = {**{key: f.arn for key, f in self.functions.items()}, **args.references}
        rendered = pulumi.Output.all(**references).apply(
            lambda resolved: checked(machine_name, args.render_definition(resolved))
        )
        self.policy = aws.iam.RolePolicy(
            f"{name}-sfn-policy", role=self.role.id, policy=rendered.apply(state_machine_policy), opts=child
        )
        self.state_machine = aws.sfn.StateMachine(
            f"{name}-sfn",
            name=machine_name,
            type="EXPRESS" if args.express else "STANDARD",
            role_arn=self.role.arn,
            definition=rendered.apply(definition_json),
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
        watch = stack.watch(args.pipeline)
        self.alarms = watch.state_machine(name, machine_name, self.arn, self) if watch else []
        self.register_outputs({"stateMachineArn": self.arn})
