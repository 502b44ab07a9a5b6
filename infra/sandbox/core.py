"""The embedded sandbox: the program deployed into moto, its triggers emulated on loopback.

with Sandbox() as sandbox:
    sandbox.deploy()
    response = sandbox.call_route("greeting", {"message": "hi"})
    result = sandbox.wait(response.json()["executionArn"])

Each declared RDS instance is a real PostgreSQL server (``sandbox.databases[identifier]``, a
``TemporaryPostgres`` a test may ``stop()`` and ``start()``), all stopped on exit.

IAM is enforced for the sandbox's whole lifetime (``infra/sandbox/iam.py``): the sandbox, the
deploy and ``sandbox.client(...)`` act as an allow-all operator user; functions, the state
machines' direct integrations and the triggers act as their own roles, each assumed by its
service with the trust policy evaluated. ``Sandbox(enforce_iam=False)`` leaves moto's check off.

EventBridge rules deliver to state machine targets (``infra/sandbox/eventbridge.py``): an object
created in a bucket with EventBridge notifications on starts the execution its rule targets, by
itself, as the target's role; ``sandbox.events.wait_idle()`` returns every delivery and its outcome.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto import mock_aws

from infra.components.triggers import SCHEDULED_TIME_PLACEHOLDER
from infra.sandbox import (
    callbacks,
    clock,
    dynamodb_reads,
    dynamodb_transactions,
    eventbridge,
    iam,
    interpreter,
    lambda_runner,
    lazy_keys,
)
from infra.sandbox.databases import DatabaseFleet
from infra.sandbox.http_api import HttpApiServer
from infra.sandbox.mocks import REGION, EmulatorMocks
from infra.sandbox.program import ProgramError, ProgramRun, load_stack_file, run_program
from infra.sandbox.storage_translators import unfinished_logging
from infra.sandbox.translators import TRANSLATORS
from pipelines.common.aws import reset_clients
from pipelines.common.secrets import reset_secret_cache

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
SSLROOTCERT_ENV = "DB_SSLROOTCERT"


@dataclass
class ExecutionResult:
    """How one execution ended."""

    arn: str
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    duration_s: float = 0.0
    transitions: int = 0
    history: list[dict] = field(default_factory=list)

    def cause_text(self) -> str:
        """The failure cause, with a Lambda error's JSON envelope unwrapped to its message."""
        if not self.cause:
            return ""
        try:
            parsed = json.loads(self.cause)
        except json.JSONDecodeError:
            return self.cause
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            return f"{parsed.get('errorType')}: {parsed['errorMessage']}"
        return self.cause


class Sandbox:
    """moto (with its ASL interpreter) + in-process Lambda + loopback triggers, for one stack."""

    def __init__(self, stack: str = "dev", config_overrides: Mapping[str, Any] | None = None, enforce_iam: bool = True):
        self.stack = stack
        self.region = REGION
        self.config = {**load_stack_file(stack), "aws:region": REGION, **(config_overrides or {})}
        self.mocks: EmulatorMocks | None = None
        self.program: ProgramRun | None = None
        self.http: HttpApiServer | None = None
        self.databases: DatabaseFleet | None = None  # the servers behind the RDS instances, from deploy()
        self._mock = None
        self.iam = iam.SandboxIam(REGION, enforce=enforce_iam)
        self.services: dict = {}
        self.events = eventbridge.EventRouter(self.iam, REGION)  # rule → state machine deliveries
        # Virtual time: pauses pass at once, deadlines expire when a test advances it (clock.py).
        self.clock = clock.SandboxClock()
        self._undo_clock = None
        self._undo_callbacks = None
        self._undo_keys = None
        self._undo_events = None
        self._undo_interpreter = None
        self._undo_transactions = None
        self._undo_reads = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        try:
            self.iam.start()
        except BaseException:
            self._mock.stop()
            raise
        lambda_runner.install()
        self._undo_events = self.events.install()
        self._undo_interpreter = interpreter.install()
        self._undo_clock = clock.install(self.clock, on_pause=interpreter.RETRY_WAITS.append)
        self._undo_callbacks = callbacks.install()
        self._undo_keys = lazy_keys.install()
        self._undo_transactions = dynamodb_transactions.install()
        self._undo_reads = dynamodb_reads.install()
        reset_clients()
        reset_secret_cache()
        return self

    def __exit__(self, *exc) -> None:
        # Callbacks run last-in first-out, each one even when an earlier one raised.
        with contextlib.ExitStack() as cleanup:
            cleanup.callback(reset_secret_cache)
            cleanup.callback(reset_clients)
            cleanup.callback(self._mock.stop)
            cleanup.callback(self.iam.stop)
            cleanup.callback(lambda_runner.RUNTIME_ENVIRONMENT.pop, SSLROOTCERT_ENV, None)
            if self._undo_events is not None:
                cleanup.callback(self._undo_events)
            if self._undo_interpreter is not None:
                cleanup.callback(self._undo_interpreter)
            if self._undo_clock is not None:
                cleanup.callback(self._undo_clock)
            if self._undo_callbacks is not None:
                cleanup.callback(self._undo_callbacks)
            if self._undo_keys is not None:
                cleanup.callback(self._undo_keys)
            if self._undo_transactions is not None:
                cleanup.callback(self._undo_transactions)
            if self._undo_reads is not None:
                cleanup.callback(self._undo_reads)
            if self.databases is not None:
                cleanup.callback(self.databases.close)
            if self.http is not None:
                cleanup.callback(self.http.stop)

    def deploy(self) -> ProgramRun:
        """Run the program into the emulator and start serving its HTTP APIs."""
        if self.databases is None:
            self.databases = DatabaseFleet()
        self.mocks = EmulatorMocks(TRANSLATORS, region=self.region, databases=self.databases, clients=self.client)
        self.program = run_program(self.mocks, self.config, stack=self.stack)
        unfinished = unfinished_logging(self.mocks)
        if unfinished:
            raise ProgramError("; ".join(unfinished))
        ca_bundle = self.databases.ca_bundle_path()
        if ca_bundle:
            # Functions trust the sandbox's servers as deployed ones trust RDS (see lambda_runner).
            lambda_runner.RUNTIME_ENVIRONMENT[SSLROOTCERT_ENV] = ca_bundle
        self.http = HttpApiServer(self.region, self.iam.operator, self.iam).start()
        return self.program

    def client(self, service: str):
        """A boto3 client of the emulator, signed as the sandbox's operator."""
        return self.iam.client(service)

    def outputs(self, pipeline: str) -> dict[str, Any]:
        """The stack outputs one pipeline exported."""
        return self.program.outputs[pipeline]

    # -- triggers ----------------------------------------------------------------------------

    def route_url(self, pipeline_output_url: str) -> str:
        """The loopback URL of an exported API URL (``https://<api>.execute-api…/path``)."""
        host, _, path = pipeline_output_url.removeprefix("https://").partition("/")
        return self.http.url_for(host.split(".")[0], f"/{path}")

    def signed_post(self, url: str, body: bytes | str, sign: bool = True) -> requests.Response:
        """POST ``body`` to a loopback route, SigV4-signed with the sandbox's credentials."""
        data = body.encode() if isinstance(body, str) else body
        headers = {"Content-Type": "application/json"}
        if sign:
            request = AWSRequest(method="POST", url=url, data=data, headers=headers)
            operator = Credentials(self.iam.operator.access_key, self.iam.operator.secret_key)
            SigV4Auth(operator, "execute-api", self.region).add_auth(request)
            headers = dict(request.headers.items())
        return requests.post(url, data=data, headers=headers, timeout=30)

    def call_route(self, pipeline: str, body: Any, output_key: str = "apiUrl", sign: bool = True) -> requests.Response:
        """POST a JSON body (or raw text) to a pipeline's exported API route."""
        raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.signed_post(self.route_url(self.outputs(pipeline)[output_key]), raw, sign=sign)

    def fire_schedule(self, schedule_name: str, scheduled_time: datetime.datetime | None = None) -> str:
        """Start the schedule's target as EventBridge Scheduler would at ``scheduled_time``.

        As its target's role: assumed as ``scheduler.amazonaws.com`` (aws:SourceArn = the schedule
        group), so a role the scheduler cannot assume raises ``iam.AssumeRoleRefused`` and one
        without ``states:StartExecution`` on the target raises AccessDeniedException.
        """
        when = (scheduled_time or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
        schedule = self.client("scheduler").get_schedule(Name=schedule_name)
        target = schedule["Target"]
        group = schedule.get("GroupName") or "default"
        group_arn = f"arn:aws:scheduler:{self.region}:{self.iam.account}:schedule-group/{group}"
        credentials = self.iam.assume(target["RoleArn"], iam.SCHEDULER, source_arn=group_arn)
        payload = target.get("Input", "{}").replace(SCHEDULED_TIME_PLACEHOLDER, when.strftime("%Y-%m-%dT%H:%M:%SZ"))
        started = self.iam.client_for(credentials, "stepfunctions", self.region).start_execution(
            stateMachineArn=target["Arn"], name=f"schedule-{uuid.uuid4()}", input=payload
        )
        return started["executionArn"]

    def published(self, topic_arn: str) -> list[tuple[str | None, str]]:
        """``(subject, message)`` of every message published to the topic, oldest first (what its
        e-mail subscribers would receive)."""
        from moto.sns.models import sns_backends

        topic = sns_backends[self.iam.account][self.region].topics[topic_arn]
        return [(subject, message) for _id, message, subject, *_ in topic.sent_notifications]

    def schedules(self) -> list[str]:
        """Names of the declared schedules."""
        return [s["Name"] for s in self.client("scheduler").list_schedules()["Schedules"]]

    def start(self, state_machine_arn: str, payload: Any) -> str:
        """Start an execution directly (``python -m infra run``)."""
        return self.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=f"run-{uuid.uuid4()}", input=json.dumps(payload)
        )["executionArn"]

    # -- following executions -------------------------------------------------------------------

    def _stepfunctions_backend(self):
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        return stepfunctions_parser_backends[self.iam.account][self.region]

    def waits_for_callback(self, execution_arn: str) -> bool:
        """Whether one of the execution's tasks waits for its task token now, its timeout armed on the clock
        (so ``clock.advance`` past it times the wait out)."""
        return callbacks.waits_for_token(self._stepfunctions_backend(), execution_arn)

    def status_of(self, execution_arn: str) -> str | None:
        """The execution's status, read from the emulator's state (None if no such execution).

        For following an execution: DescribeExecution serializes the whole execution (input, output)
        on every call, and polled at 50 Hz it held the interpreter lock the execution itself needs.
        """
        for execution in self._stepfunctions_backend()._get_executions():
            if execution.execution_arn == execution_arn:
                status = execution.exec_status
                return getattr(status, "value", status)
        return None

    def wait(self, execution_arn: str, timeout_s: float = 120.0) -> ExecutionResult:
        """Follow an execution until it ends; its status, output, error, duration and transitions."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout_s
        pause = 0.002
        while (status := self.status_of(execution_arn)) not in TERMINAL:
            if status is None:  # not one of this sandbox's: ask the API (it names the error)
                sfn.describe_execution(executionArn=execution_arn)
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still {status} after {timeout_s}s")
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
        described = sfn.describe_execution(executionArn=execution_arn)
        history = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        stop = described.get("stopDate") or datetime.datetime.now(datetime.UTC)
        return ExecutionResult(
            arn=execution_arn,
            status=described["status"],
            output=json.loads(described["output"]) if described.get("output") else None,
            error=described.get("error"),
            cause=described.get("cause"),
            duration_s=(stop - described["startDate"]).total_seconds(),
            transitions=sum(1 for e in history if e["type"].endswith("StateEntered")),
            history=history,
        )
