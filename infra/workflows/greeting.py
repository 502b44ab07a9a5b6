"""The greeting pipeline: hello Lambda → format a record (Pass) → direct DynamoDB putItem."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import asl
from infra.components import grants as g
from infra.components.pipeline import FunctionRuntime, FunctionSpec, StepFunctionPipeline, StepFunctionPipelineArgs
from infra.components.triggers import API_ACCESS_KEYS, ApiAccess, HttpApiStart, HttpApiStartArgs
from infra.config import Section, StackConfig

PIPELINE = "greeting"
ROUTE_KEY = "POST /greetings"


@dataclass(frozen=True)
class GreetingSettings:
    """``stepworks:greeting`` settings."""

    memory_mb: int = 128
    timeout_s: int = 30
    access: ApiAccess = field(default_factory=ApiAccess)

    @classmethod
    def from_section(cls, section: Section) -> GreetingSettings:
        """Validate the section (unknown keys are errors)."""
        section.reject_unknown(["memory", "timeout", *API_ACCESS_KEYS])
        return cls(
            memory_mb=section.memory_mb(default=128),
            timeout_s=section.timeout_s(default=30),
            access=ApiAccess.from_section(section),
        )


def definition(refs: Mapping[str, str]) -> dict[str, Any]:
    """The greeting state machine, given the hello function's ARN and the table name."""
    return {
        "Comment": "Greeting: validate a message, format a record, insert it into DynamoDB.",
        "StartAt": "InvokeLambda",
        "TimeoutSeconds": 300,
        "States": {
            "InvokeLambda": asl.lambda_task(
                refs["hello"],
                next_state="FormatDynamoDBRecord",
                timeout_s=60,
                catch_to="Failed",
                comment="Validates the message; its output is {message, greeting}.",
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
            "InsertDynamoDBRecord": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {
                    "TableName": refs["table"],
                    "Item": {
                        "id": {"S.$": "$.id"},
                        "Timestamp": {"S.$": "$.Timestamp"},
                        "Message": {"S.$": "$.Message"},
                    },
                    # A retried put after a lost response must not overwrite or duplicate.
                    "ConditionExpression": "attribute_not_exists(id)",
                },
                "ResultPath": None,
                "TimeoutSeconds": 30,
                "Retry": [asl.retry(asl.DYNAMODB_TRANSIENT_ERRORS)],
                "Catch": asl.catch_all("Failed"),
                "End": True,
            },
            "Failed": asl.fail_with_cause("Greeting failed"),
        },
    }


class GreetingPipeline(pulumi.ComponentResource):
    """Table, hello function, state machine and the ``POST /greetings`` trigger."""

    def __init__(
        self,
        name: str,
        runtime: FunctionRuntime,
        settings: GreetingSettings,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("stepworks:workflows:GreetingPipeline", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**runtime.tags, "pipeline": PIPELINE}
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            billing_mode="PAY_PER_REQUEST",
            hash_key="id",
            attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            tags=tags,
            opts=child,
        )
        self.pipeline = StepFunctionPipeline(
            name,
            StepFunctionPipelineArgs(
                pipeline=PIPELINE,
                runtime=runtime,
                functions={
                    "hello": FunctionSpec(
                        handler="pipelines.greeting.handlers.hello",
                        memory_mb=settings.memory_mb,
                        timeout_s=settings.timeout_s,
                    )
                },
                render_definition=definition,
                references={"table": self.table.name},
                integration_grants=[g.table_put_item(self.table.arn)],
            ),
            opts=child,
        )
        self.api = HttpApiStart(
            f"{name}-start",
            HttpApiStartArgs(
                state_machine_arn=self.pipeline.arn,
                route_key=ROUTE_KEY,
                access=settings.access,
                log_retention_days=runtime.log_retention_days,
                tags=tags,
            ),
            opts=child,
        )
        self.outputs = {
            "apiUrl": self.api.url,
            "stateMachineArn": self.pipeline.arn,
            "tableName": self.table.name,
        }
        self.register_outputs(self.outputs)


def build(stack: StackConfig, runtime: FunctionRuntime) -> dict[str, pulumi.Output]:
    """Create the greeting pipeline from stack config; returns its stack outputs."""
    settings = GreetingSettings.from_section(stack.pipeline(PIPELINE))
    return GreetingPipeline(PIPELINE, runtime, settings).outputs
