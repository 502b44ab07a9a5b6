"""The incidents pipeline: POST /invoke → FetchInitial (schema, run, PagerDuty total) → FetchComplete
(paged PagerDuty fetch, bulk upsert into RDS PostgreSQL) → Validate (rules, stored report).

Every step returns ``success``; a false or missing ``success``, or any caught error, goes to
HandleError, which marks the run failed, and the execution ends in a Fail state with the cause.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
from cryptography import x509

import pipelines.incidents.errors  # noqa: F401 - registers the pipeline's retryable errors for asl
from infra import asl
from infra.components import grants as g
from infra.components import logs, trust
from infra.components.database import CA_CERT_IDENTIFIER, DatabaseSettings, PostgresDatabase, PostgresDatabaseArgs
from infra.components.function import VpcPlacement
from infra.components.network import (
    Network,
    NetworkArgs,
    NetworkSettings,
    SecurityGroupArgs,
    allow_https_egress,
    security_group,
)
from infra.components.pipeline import FunctionRuntime, FunctionSpec, StepFunctionPipeline, StepFunctionPipelineArgs
from infra.components.triggers import API_ACCESS_KEYS, ApiAccess, HttpApiStart, HttpApiStartArgs
from infra.config import ConfigError, Section, StackConfig
from pipelines.incidents.config import BUNDLED_RDS_CA

PIPELINE = "incidents"
ROUTE_KEY = "POST /invoke"
DEFAULT_API_BASE_URL = "https://api.pagerduty.com"
# The original design: the whole run may take 45 minutes, each function 10.
STATE_MACHINE_TIMEOUT_S = 45 * 60
DEFAULT_FUNCTION_TIMEOUT_S = 10 * 60


@dataclass(frozen=True)
class IncidentsSettings:
    """``stepworks:incidents`` settings."""

    memory_mb: int = 512
    timeout_s: int = DEFAULT_FUNCTION_TIMEOUT_S
    api_base_url: str = DEFAULT_API_BASE_URL
    load_batch_size: int = 5000
    access: ApiAccess = field(default_factory=ApiAccess)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)

    @classmethod
    def from_section(cls, section: Section) -> IncidentsSettings:
        """Validate the section (unknown keys are errors)."""
        section.reject_unknown(
            ["memory", "timeout", "apiBaseUrl", "loadBatchSize", "network", "database", *API_ACCESS_KEYS]
        )
        api_base_url = section.string("apiBaseUrl", DEFAULT_API_BASE_URL)
        if not api_base_url.startswith(("https://", "http://127.0.0.1")):
            raise ConfigError(f"{section.key('apiBaseUrl')}: {api_base_url!r} is not allowed; allowed: an https URL")
        return cls(
            memory_mb=section.memory_mb(default=512),
            timeout_s=section.timeout_s(default=DEFAULT_FUNCTION_TIMEOUT_S),
            api_base_url=api_base_url,
            load_batch_size=section.integer("loadBatchSize", 5000, 100, 50000),
            access=ApiAccess.from_section(section),
            network=NetworkSettings.from_section(section.section("network")),
            database=DatabaseSettings.from_section(section.section("database")),
        )


def _succeeded(next_state: str) -> dict[str, Any]:
    # A step's output goes on only when it says ``"success": true``; false, missing or not a
    # boolean goes to the error handler. IsPresent/IsBoolean first: comparing a missing path fails.
    return {
        "Type": "Choice",
        "Choices": [
            {
                "And": [
                    {"Variable": "$.success", "IsPresent": True},
                    {"Variable": "$.success", "IsBoolean": True},
                    {"Variable": "$.success", "BooleanEquals": True},
                ],
                "Next": next_state,
            }
        ],
        "Default": "HandleError",
    }


def definition(refs: Mapping[str, str]) -> dict[str, Any]:
    """The incidents state machine, given its function ARNs and ``taskTimeout``."""
    timeout = int(refs["taskTimeout"])

    def step(key: str, next_state: str, comment: str) -> dict[str, Any]:
        return asl.lambda_task(
            refs[key], next_state=next_state, timeout_s=timeout, catch_to="HandleError", comment=comment
        )

    return {
        "Comment": "Incidents: PagerDuty incidents → RDS PostgreSQL → validation report; failures end in HandleError.",
        "StartAt": "WrapRequest",
        "TimeoutSeconds": STATE_MACHINE_TIMEOUT_S,
        "States": {
            # The request body becomes one field of an object, so a Catch can always add "error"
            # to the state (even for a body that is not an object) and the execution id names the run.
            "WrapRequest": {
                "Type": "Pass",
                "Parameters": {"request.$": "$", "execution_id.$": "$$.Execution.Id"},
                "Next": "FetchInitial",
            },
            "FetchInitial": step(
                "fetch-initial",
                "FetchInitialSucceeded",
                "Applies migrations, records the run, asks PagerDuty for the window's total.",
            ),
            "FetchInitialSucceeded": _succeeded("FetchComplete"),
            "FetchComplete": step(
                "fetch-complete", "FetchCompleteSucceeded", "Pages through PagerDuty and upserts the incidents."
            ),
            "FetchCompleteSucceeded": _succeeded("Validate"),
            "Validate": step("validate", "ValidateSucceeded", "Runs the validation rules and stores the report."),
            "ValidateSucceeded": _succeeded("Done"),
            "Done": {"Type": "Succeed"},
            "HandleError": asl.lambda_task(
                refs["handle-error"],
                next_state="Failed",
                timeout_s=timeout,
                catch_to="HandlerFailed",
                comment="Marks the run failed and returns {error, cause} for the Fail state.",
            ),
            "Failed": asl.fail_with_cause("Incidents run failed", error_path="$.error", cause_path="$.cause"),
            # The handler itself failed (e.g. Lambda unavailable): fail with its error instead.
            "HandlerFailed": asl.fail_with_cause("Incidents run failed; the error handler failed too"),
        },
    }


class IncidentsPipeline(pulumi.ComponentResource):
    """Network, RDS PostgreSQL, PagerDuty token secret, four functions, state machine, POST /invoke."""

    def __init__(
        self,
        name: str,
        runtime: FunctionRuntime,
        settings: IncidentsSettings,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("stepworks:workflows:IncidentsPipeline", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**runtime.tags, "pipeline": PIPELINE}
        identifier = f"{runtime.name_prefix}-{PIPELINE}".lower()

        # Stand-in until PipelineKey lands: a plain customer-managed key (its default policy does
        # not admit CloudWatch Logs yet, so encrypted log groups need PipelineKey to deploy to AWS).
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{identifier}: flow logs, RDS storage, master secret, server log, Performance Insights",
            enable_key_rotation=True,
            tags=tags,
            opts=child,
        )
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id
        region = aws.get_region_output(opts=pulumi.InvokeOptions(parent=self)).region
        role_path = trust.role_path(runtime.name_prefix, PIPELINE)
        self.network = Network(
            f"{name}-network",
            NetworkArgs(
                settings.network,
                key_arn=self.key.arn,
                flow_log_group_name=logs.flow_log_group_name(runtime.name_prefix, PIPELINE),
                log_retention_days=runtime.log_retention_days,
                role_path=role_path,
                account_id=account_id,
                region=region,
                tags=tags,
            ),
            opts=child,
        )
        self.functions_sg = security_group(
            f"{name}-functions-sg",
            SecurityGroupArgs(self.network.vpc_id, f"{identifier}: functions (HTTPS out, PostgreSQL to the db)", tags),
            self,
        )
        allow_https_egress(f"{name}-functions-https", self.functions_sg.id, self)
        self.database = PostgresDatabase(
            f"{name}-db",
            PostgresDatabaseArgs(
                identifier=identifier,
                settings=settings.database,
                vpc_id=self.network.vpc_id,
                subnet_ids=self.network.private_subnet_ids,
                client_security_group_id=self.functions_sg.id,
                key_arn=self.key.arn,
                role_path=role_path,
                account_id=account_id,
                region=region,
                log_retention_days=runtime.log_retention_days,
                tags=tags,
            ),
            opts=child,
        )
        self.token = aws.secretsmanager.Secret(
            f"{name}-pagerduty-token",
            description="PagerDuty REST API token (read-only) for the incidents pipeline; set its value after deploy",
            tags=tags,
            opts=child,
        )

        placement = VpcPlacement(subnet_ids=self.network.private_subnet_ids, security_group_ids=[self.functions_sg.id])
        database_env = {
            "DB_SECRET_ARN": self.database.master_secret_arn,
            "DB_HOST": self.database.address,
            "DB_PORT": self.database.port.apply(str),
            "DB_NAME": self.database.db_name,
            "DB_SSLMODE": "verify-full",
        }
        pagerduty_env = {"PAGERDUTY_TOKEN_SECRET_ARN": self.token.arn, "PAGERDUTY_API_BASE_URL": settings.api_base_url}
        # The master secret is encrypted with the pipeline key: reading it needs kms:Decrypt on it.
        read_db_secret = [
            g.secret_read(self.database.master_secret_arn),
            g.kms_use(self.key.arn, ["kms:Decrypt"], "DbSecretKey"),
        ]
        read_token = g.secret_read(self.token.arn)

        def spec(handler: str, grants: list[g.Grant], env: Mapping[str, pulumi.Input[str]]) -> FunctionSpec:
            return FunctionSpec(
                handler=f"pipelines.incidents.handlers.{handler}",
                memory_mb=settings.memory_mb,
                timeout_s=settings.timeout_s,
                environment={**database_env, **env},
                grants=grants,
                vpc=placement,
            )

        functions = {
            "fetch-initial": spec("fetch_initial", [*read_db_secret, read_token], pagerduty_env),
            "fetch-complete": spec(
                "fetch_complete",
                [*read_db_secret, read_token],
                {**pagerduty_env, "LOAD_BATCH_SIZE": str(settings.load_batch_size)},
            ),
            "validate": spec("validate", read_db_secret, {}),
            "handle-error": spec("handle_error", read_db_secret, {}),
        }
        self.pipeline = StepFunctionPipeline(
            name,
            StepFunctionPipelineArgs(
                pipeline=PIPELINE,
                runtime=runtime,
                functions=functions,
                render_definition=definition,
                references={"taskTimeout": str(asl.task_timeout_for(settings.timeout_s))},
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
            "dbEndpoint": self.database.endpoint,
            "dbSecretArn": self.database.master_secret_arn,
            "stateMachineArn": self.pipeline.arn,
            "tokenSecretArn": self.token.arn,
            "vpcId": self.network.vpc_id,
        }
        self.register_outputs(self.outputs)


def require_bundled_root(region: str, bundle: Path = BUNDLED_RDS_CA) -> None:
    """Fail the deploy, not the first run, when the shipped CA bundle cannot verify RDS in ``region``."""
    wanted = f"Amazon RDS {region} Root CA RSA2048 G1"  # the root of CA_CERT_IDENTIFIER in that region
    roots = x509.load_pem_x509_certificates(bundle.read_bytes())
    if not any(wanted == r.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value for r in roots):
        raise ConfigError(
            f"aws:region: {region} has no {CA_CERT_IDENTIFIER} root in {bundle.name}, so functions could not verify "
            "the database; replace it with https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
        )


def build(stack: StackConfig, runtime: FunctionRuntime) -> dict[str, pulumi.Output]:
    """Create the incidents pipeline from stack config; returns its stack outputs."""
    settings = IncidentsSettings.from_section(stack.pipeline(PIPELINE))
    require_bundled_root(stack.region)
    return IncidentsPipeline(PIPELINE, runtime, settings).outputs
