"""The greeting pipeline: hello Lambda → format a record (Pass) → direct DynamoDB putItem."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from infra import asl
from infra import integrations as i
from infra.components.key import pipeline_key
from infra.components.pipeline import StepFunctionPipeline, StepFunctionPipelineArgs, function_spec
from infra.components.stack import PipelineOwner, StackContext
from infra.components.table import secure_table
from infra.components.triggers import API_ACCESS_KEYS, ApiAccess, HttpApiStart, HttpApiStartArgs
from infra.config import FUNCTION_KEYS, FunctionSettings, Section, StackConfig

PIPELINE = "greeting"
ROUTE_KEY = "POST /greetings"
# hello raises only InvalidInputError: nothing of its own is worth a second try.
RETRYABLE_ERRORS = asl.error_names()


@dataclass(frozen=True)
class GreetingSettings:
    """``stepworks:greeting`` settings."""

    functions: FunctionSettings = field(default_factory=lambda: FunctionSettings(128, 30))
    access: ApiAccess = field(default_factory=ApiAccess)

    @classmethod
    def from_section(cls, section: Section) -> GreetingSettings:
        """Validate the section (unknown keys are errors)."""
        section.reject_unknown([*FUNCTION_KEYS, *API_ACCESS_KEYS])
        return cls(FunctionSettings.from_section(section, 128, 30), ApiAccess.from_section(section))


def definition(refs: Mapping[str, Any]) -> asl.Definition:
    """The greeting state machine, given the hello function's ARN and the table (``TableRef``)."""
    return asl.Definition.of(
        {
            "Comment": "Greeting: validate a message, format a record, insert it into DynamoDB.",
            "StartAt": "InvokeLambda",
            "TimeoutSeconds": 300,
            "States": {
                "InvokeLambda": i.validate_input(
                    refs["hello"],
                    retries=asl.lambda_retries(RETRYABLE_ERRORS),
                    next_state="FormatDynamoDBRecord",
                    timeout_s=60,
                    catch_to=asl.INPUT_REJECTED,
                    comment="Validates the body {message}; its output is {message, greeting}.",
                ),
                "FormatDynamoDBRecord": {
                    "Type": "Pass",
                    "Parameters": {
                        "id.$": "States.UUID()",
                        "Timestamp.$": "$$.State.EnteredTime",
                        "Message.$": "$.message",
                    },
                    "Next": "InsertDynamoDBRecord",
                },
                "InsertDynamoDBRecord": i.dynamodb_put_item(
                    refs["table"],
                    {"id": {"S.$": "$.id"}, "Timestamp": {"S.$": "$.Timestamp"}, "Message": {"S.$": "$.Message"}},
                    # A retried put after a lost response must not overwrite or duplicate.
                    condition="attribute_not_exists(id)",
                    result_path=None,
                    next_state=None,
                    timeout_s=30,
                    catch_to="Failed",
                ),
                asl.INPUT_REJECTED: asl.input_rejected(),
                "Failed": asl.fail_with_cause("Greeting failed"),
            },
        }
    )


@dataclass
class GreetingPipelineArgs:
    """The stack the pipeline belongs to and its settings."""

    stack: StackContext
    settings: GreetingSettings = field(default_factory=GreetingSettings)


class GreetingPipeline(pulumi.ComponentResource):
    """Key, table, hello function, state machine and the ``POST /greetings`` trigger."""

    def __init__(self, name: str, args: GreetingPipelineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:workflows:GreetingPipeline", name, None, opts)
        stack, settings = args.stack, args.settings
        self.key = pipeline_key(stack, PIPELINE, "greeting: table and logs", parent=self)
        self.table = secure_table(
            f"{name}-table", hash_key="id", key_arn=self.key.arn, tags=stack.tags_for(PIPELINE),
            opts=pulumi.ResourceOptions(parent=self),
        )  # fmt: skip
        self.pipeline = StepFunctionPipeline(
            name,
            StepFunctionPipelineArgs(
                pipeline=PIPELINE,
                stack=stack,
                key_arn=self.key.arn,
                functions={"hello": function_spec(settings.functions, "pipelines.greeting.handlers.hello")},
                render_definition=definition,
                references={"table": i.table_ref(self.table.name, self.table.arn, self.key.arn)},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.api = HttpApiStart(
            f"{name}-start",
            HttpApiStartArgs(
                owner=PipelineOwner(stack, PIPELINE),
                state_machine_arn=self.pipeline.arn,
                route_key=ROUTE_KEY,
                key_arn=self.key.arn,
                access=settings.access,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.outputs = {
            "apiUrl": self.api.url,
            "stateMachineArn": self.pipeline.arn,
            "tableName": self.table.name,
        }
        self.register_outputs(self.outputs)


def build(stack_config: StackConfig, stack: StackContext, built: Mapping[str, Any]) -> pulumi.ComponentResource:
    """Create the greeting pipeline from stack config; its ``outputs`` are the stack outputs."""
    settings = GreetingSettings.from_section(stack_config.pipeline(PIPELINE))
    return GreetingPipeline(PIPELINE, GreetingPipelineArgs(stack, settings))
