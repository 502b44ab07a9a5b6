"""The incidents pipeline: POST /invoke → ValidateRequest → FetchInitial (schema, run, PagerDuty
total) → FetchComplete (paged PagerDuty fetch, bulk upsert into RDS PostgreSQL) → Validate (rules,
stored report).

A body ValidateRequest rejects ends in InputRejected before any run is recorded. After it, every
step returns ``success``; a false or missing ``success``, or any caught error, goes to
HandleError, which marks the recorded run failed, and the execution ends in a Fail state with the cause.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from cryptography import x509

from infra import asl
from infra import integrations as i
from infra.components import grants as g
from infra.components.database import CA_CERT_IDENTIFIER, DatabaseSettings, PostgresDatabase, PostgresDatabaseArgs
from infra.components.function import VpcPlacement
from infra.components.key import pipeline_key
from infra.components.network import (
    Network,
    NetworkArgs,
    NetworkSettings,
    SecurityGroupArgs,
    allow_https_egress,
    security_group,
)
from infra.components.pipeline import StepFunctionPipeline, StepFunctionPipelineArgs, function_spec
from infra.components.secret import ApiTokenSecret, ApiTokenSecretArgs
from infra.components.stack import PipelineOwner, StackContext
from infra.components.triggers import API_ACCESS_KEYS, ApiAccess, HttpApiStart, HttpApiStartArgs
from infra.config import FUNCTION_KEYS, ConfigError, FunctionSettings, Section, StackConfig
from pipelines.common.errors import RateLimitedError, UpstreamUnavailableError
from pipelines.incidents.config import BUNDLED_RDS_CA
from pipelines.incidents.errors import DatabaseUnavailableError

PIPELINE = "incidents"
ROUTE_KEY = "POST /invoke"
DEFAULT_API_BASE_URL = "https://api.pagerduty.com"
# The original design: the whole run may take 45 minutes, each function 10.
STATE_MACHINE_TIMEOUT_S = 45 * 60
DEFAULT_FUNCTION_TIMEOUT_S = 10 * 60
# PagerDuty outages and rate limits, and a database that is briefly unreachable.
RETRYABLE_ERRORS = asl.error_names(DatabaseUnavailableError, RateLimitedError, UpstreamUnavailableError)


@dataclass(frozen=True)
class IncidentsSettings:
    """``stepworks:incidents`` settings."""

    functions: FunctionSettings = field(default_factory=lambda: FunctionSettings(512, DEFAULT_FUNCTION_TIMEOUT_S))
    api_base_url: str = DEFAULT_API_BASE_URL
    load_batch_size: int = 5000
    access: ApiAccess = field(default_factory=ApiAccess)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)

    @classmethod
    def from_section(cls, section: Section) -> IncidentsSettings:
        """Validate the section (unknown keys are errors)."""
        section.reject_unknown(["apiBaseUrl", "loadBatchSize", "network", "database", *FUNCTION_KEYS, *API_ACCESS_KEYS])
        return cls(
            functions=FunctionSettings.from_section(section, 512, DEFAULT_FUNCTION_TIMEOUT_S),
            api_base_url=section.service_url("apiBaseUrl", DEFAULT_API_BASE_URL),
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


def definition(refs: Mapping[str, Any]) -> asl.Definition:
    """The incidents state machine, given its function ARNs and ``taskTimeout``."""
    timeout = int(refs["taskTimeout"])
    retries = asl.lambda_retries(RETRYABLE_ERRORS)

    def step(key: str, next_state: str, comment: str, catch_to: str = "HandleError") -> asl.Task:
        return i.lambda_invoke(
            refs[key], retries=retries, next_state=next_state, timeout_s=timeout, catch_to=catch_to, comment=comment
        )

    return asl.Definition.of(
        {
            "Comment": "Incidents: PagerDuty → RDS PostgreSQL → validation report; failures end in HandleError.",
            "StartAt": "ValidateRequest",
            "TimeoutSeconds": STATE_MACHINE_TIMEOUT_S,
            "States": {
                # The body, verbatim, checked and resolved (window defaults filled in) before anything
                # is recorded: a rejected request ends in InputRejected and leaves no row (README).
                "ValidateRequest": i.validate_input(
                    refs["validate-request"],
                    retries=retries,
                    # As before the intake existed: the execution id names the run (a retried
                    # FetchInitial reuses it) and lets HandleError find it.
                    result_selector={"request.$": "$.Payload", "execution_id.$": "$$.Execution.Id"},
                    next_state="FetchInitial",
                    timeout_s=timeout,
                    catch_to=asl.INPUT_REJECTED,
                    comment="Checks the body; its output is {request (resolved), execution_id}.",
                ),
                asl.INPUT_REJECTED: asl.input_rejected(),
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
                "HandleError": step(
                    "handle-error",
                    "Failed",
                    "Marks the run failed and returns {error, cause} for the Fail state.",
                    catch_to="HandlerFailed",
                ),
                "Failed": asl.fail_with_cause("Incidents run failed", error_path="$.error", cause_path="$.cause"),
                # The handler itself failed (e.g. Lambda unavailable): fail with its error instead.
                "HandlerFailed": asl.fail_with_cause("Incidents run failed; the error handler failed too"),
            },
        }
    )


@dataclass
class IncidentsPipelineArgs:
    """The stack the pipeline belongs to and its settings."""

    stack: StackContext
    settings: IncidentsSettings = field(default_factory=IncidentsSettings)


class IncidentsPipeline(pulumi.ComponentResource):
    """Key, network, RDS PostgreSQL, PagerDuty token, four functions, state machine, POST /invoke."""

    def __init__(self, name: str, args: IncidentsPipelineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:workflows:IncidentsPipeline", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stack, settings = args.stack, args.settings
        tags = stack.tags_for(PIPELINE)
        identifier = stack.owner(PIPELINE).lower()

        self.key = pipeline_key(stack, PIPELINE, "incidents: database, secrets, logs", parent=self)
        owner = PipelineOwner(stack, PIPELINE)
        self.network = Network(f"{name}-network", NetworkArgs(settings.network, owner, self.key.arn), opts=child)
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
                owner=owner,
                key_arn=self.key.arn,
            ),
            opts=child,
        )
        self.token = ApiTokenSecret(
            f"{name}-pagerduty-token",
            ApiTokenSecretArgs(
                "PagerDuty REST API token (read-only) for the incidents pipeline",
                self.key.arn,
                moved_from=self,
                tags=tags,
            ),
            child,
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
        read_db_secret = g.secret_read(self.database.master_secret_arn, self.key.arn)

        def spec(handler: str, grants: list[g.Grant], env: Mapping[str, pulumi.Input[str]]):
            return function_spec(
                settings.functions,
                f"pipelines.incidents.handlers.{handler}",
                environment={**database_env, **env},
                grants=grants,
                vpc=placement,
            )

        functions = {
            "fetch-initial": spec("fetch_initial", [*read_db_secret, *self.token.read()], pagerduty_env),
            "fetch-complete": spec(
                "fetch_complete",
                [*read_db_secret, *self.token.read()],
                {**pagerduty_env, "LOAD_BATCH_SIZE": str(settings.load_batch_size)},
            ),
            "validate": spec("validate", read_db_secret, {}),
            "handle-error": spec("handle_error", read_db_secret, {}),
            # Pure validation: outside the VPC, no database, no token.
            "validate-request": function_spec(settings.functions, "pipelines.incidents.intake.validate_request"),
        }
        self.pipeline = StepFunctionPipeline(
            name,
            StepFunctionPipelineArgs(
                pipeline=PIPELINE,
                stack=stack,
                key_arn=self.key.arn,
                functions=functions,
                render_definition=definition,
                references={"taskTimeout": str(asl.task_timeout_for(settings.functions.timeout_s))},
            ),
            opts=child,
        )
        self.api = HttpApiStart(
            f"{name}-start",
            HttpApiStartArgs(
                owner=owner,
                state_machine_arn=self.pipeline.arn,
                route_key=ROUTE_KEY,
                key_arn=self.key.arn,
                access=settings.access,
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


def build(stack_config: StackConfig, stack: StackContext, built: Mapping[str, Any]) -> pulumi.ComponentResource:
    """Create the incidents pipeline from stack config; its ``outputs`` are the stack outputs."""
    settings = IncidentsSettings.from_section(stack_config.pipeline(PIPELINE))
    require_bundled_root(stack_config.region)
    return IncidentsPipeline(PIPELINE, IncidentsPipelineArgs(stack, settings))
