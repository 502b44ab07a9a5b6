"""What one scenario used, per pipeline: the meter's recording attributed and summed into billable quantities.

``Owners`` says, from the resources the program declared, which pipeline each role, function, state
machine and API belongs to (a resource's ``pipeline`` tag, else its name's pipeline prefix) and what
each role is for (a function's, a state machine's, a schedule's, an EventBridge target's, an API
integration's). ``measure`` runs one scenario in a metering window and returns the ``PipelineUsage``
of the pipeline it demonstrates; what other pipelines' roles did in the window (daily-analysis's
scenario first uploads a spike, which runs uploads) is kept apart in ``other_pipelines`` and priced
with neither.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from infra.sandbox.metering import Meter, Recording

# What Lambda writes to a function's log group around each invocation (platform.start and
# platform.report in the JSON log format): an estimate, added to the function's own output.
PLATFORM_LOG_BYTES = 600
API_INCREMENT = 512 * 1024  # HTTP API requests are metered in 512 KB increments
SCHEDULE_KIND, EVENTS_KIND, API_KIND, MACHINE_KIND, FUNCTION_KIND = "scheduler", "events", "api", "machine", "function"
_S3_FREE = ("Delete", "AbortMultipartUpload")
_S3_TIER1 = ("Put", "Copy", "Post", "List", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")
_SCHEDULED_EVENTS = ("LambdaFunctionScheduled", "TaskScheduled", "ActivityScheduled")


def owner_of(name: str, tags: Any, pipelines: Iterable[str]) -> str | None:
    """The pipeline a declared resource belongs to: its ``pipeline`` tag, else the longest pipeline name
    its logical name starts with (``daily-analysis-key`` → daily-analysis); None for the stack's own."""
    if isinstance(tags, dict) and tags.get("pipeline") in pipelines:
        return tags["pipeline"]
    matches = [p for p in pipelines if name == p or name.startswith(f"{p}-")]
    return max(matches, key=len) if matches else None


@dataclass
class Owners:
    """Which pipeline each declared role, function, state machine, API, secret and topic belongs to."""

    pipelines: list[str]
    roles: dict[str, tuple[str, str]] = field(default_factory=dict)  # role ARN → (pipeline, kind)
    machines: dict[str, tuple[str, str]] = field(default_factory=dict)  # ARN → (pipeline, STANDARD|EXPRESS)
    functions: dict[str, str] = field(default_factory=dict)  # function name → pipeline
    function_timeouts: dict[str, int] = field(default_factory=dict)  # function name → seconds
    apis: dict[str, str] = field(default_factory=dict)  # API id → pipeline
    reference_apis: set[str] = field(default_factory=set)  # APIs of dev-only reference services
    cmk_secrets: set[str] = field(default_factory=set)  # ARNs and names of secrets under a customer key
    cmk_topics: set[str] = field(default_factory=set)
    email_subscriptions: Counter = field(default_factory=Counter)  # topic ARN → e-mail subscriptions

    @classmethod
    def from_resources(cls, resources: Iterable[Any], pipelines: Iterable[str]) -> Owners:
        """Read the declared resources (``DeclaredResource``: typ, name, inputs, id, outputs)."""
        owners = cls(list(pipelines))
        kinds: dict[str, str] = {}
        for r in resources:
            pipeline = owner_of(r.name, r.inputs.get("tags"), owners.pipelines)
            arn = str(r.outputs.get("arn") or "")
            if r.typ == "aws:iam/role:Role" and pipeline and arn:
                owners.roles[arn] = (pipeline, "")
            elif r.typ == "aws:lambda/function:Function":
                name = str(r.outputs.get("name") or r.inputs.get("name") or r.id)
                if pipeline:
                    owners.functions[name] = pipeline
                owners.function_timeouts[name] = int(r.inputs.get("timeout") or 3)
                kinds[str(r.inputs.get("role", ""))] = FUNCTION_KIND
            elif r.typ == "aws:sfn/stateMachine:StateMachine":
                if pipeline and arn:
                    owners.machines[arn] = (pipeline, str(r.inputs.get("type") or "STANDARD"))
                kinds[str(r.inputs.get("roleArn", ""))] = MACHINE_KIND
            elif r.typ == "aws:scheduler/schedule:Schedule":
                kinds[str((r.inputs.get("target") or {}).get("roleArn", ""))] = SCHEDULE_KIND
            elif r.typ == "aws:cloudwatch/eventTarget:EventTarget":
                kinds[str(r.inputs.get("roleArn", ""))] = EVENTS_KIND
            elif r.typ == "aws:apigatewayv2/integration:Integration" and r.inputs.get("credentialsArn"):
                kinds[str(r.inputs["credentialsArn"])] = API_KIND
            elif r.typ == "aws:apigatewayv2/api:Api" and pipeline:
                owners.apis[str(r.id)] = pipeline
                if "-reference-" in f"{r.name}-":
                    owners.reference_apis.add(str(r.id))
            elif r.typ == "aws:secretsmanager/secret:Secret" and r.inputs.get("kmsKeyId"):
                owners.cmk_secrets.update({arn, str(r.outputs.get("name") or r.inputs.get("name") or "")} - {""})
            elif r.typ == "aws:sns/topic:Topic" and r.inputs.get("kmsMasterKeyId"):
                owners.cmk_topics.add(arn)
            elif r.typ == "aws:sns/topicSubscription:TopicSubscription" and r.inputs.get("protocol") in (
                "email",
                "email-json",
            ):
                owners.email_subscriptions[str(r.inputs.get("topic", ""))] += 1
        for role, (pipeline, _) in list(owners.roles.items()):
            owners.roles[role] = (pipeline, kinds.get(role, ""))
        return owners

    def role(self, arn: str) -> tuple[str | None, str]:
        """(pipeline, kind) of a role ARN; a role not declared is attributed by its path (``/sw-dev/radar/``)."""
        if arn in self.roles:
            return self.roles[arn]
        segments = arn.split(":", 5)[-1].split("/")[1:-1]
        found = [s for s in segments if s in self.pipelines]
        return (found[-1] if found else None), ""

    def function(self, name: str, role_arn: str) -> str | None:
        """The pipeline of a function, by name (else by its role)."""
        return self.functions.get(name) or self.role(role_arn)[0]


@dataclass
class ExecutionUse:
    """One execution the scenario caused, as Step Functions bills it."""

    arn: str
    machine_arn: str
    machine_type: str  # STANDARD or EXPRESS
    status: str
    duration_s: float
    transitions: int  # states entered, retries included
    retries: int
    definition: dict
    max_payload_bytes: int
    log_bytes: int  # estimated: the execution's events as the state machine's log group gets them
    root: bool  # started by a trigger or a person, not by another state machine


@dataclass
class FunctionUse:
    """One function's invocations in the scenario."""

    name: str
    memory_mb: int
    architecture: str
    invocations: int = 0
    errors: int = 0
    billed_ms: int = 0  # each invocation rounded up to the millisecond, as Lambda bills
    log_bytes: int = 0  # measured output plus the platform lines (estimated)

    @property
    def gb_seconds(self) -> float:
        return self.memory_mb / 1024 * self.billed_ms / 1000


@dataclass
class PipelineUsage:
    """Everything one scenario of one pipeline used, in billable quantities."""

    pipeline: str
    executions: list[ExecutionUse] = field(default_factory=list)
    functions: dict[str, FunctionUse] = field(default_factory=dict)
    api_requests: int = 0
    api_units: int = 0  # in 512 KB increments
    reference_api_requests: int = 0  # of which to the dev stack's reference services
    s3: Counter = field(default_factory=Counter)  # tier1, tier2, free
    dynamodb_rru: float = 0.0
    dynamodb_wru: float = 0.0
    dynamodb_requests: int = 0
    sns_publishes: float = 0.0  # in 64 KB chunks
    sns_emails: int = 0
    secrets_calls: int = 0
    kms_calls: int = 0
    kms_on_behalf: int = 0  # Decrypts Secrets Manager and data keys SNS asks KMS for, under customer keys
    events_aws: int = 0
    events_custom: float = 0.0
    scheduler_invocations: int = 0
    bedrock: dict[str, list[int]] = field(default_factory=dict)  # model → [calls, input tokens, output tokens]
    unpriced: Counter = field(default_factory=Counter)  # "sts:AssumeRole" → count (free, or priced elsewhere)
    other_pipelines: Counter = field(default_factory=Counter)  # pipeline → requests + invocations, excluded
    unattributed: int = 0  # requests signed by keys that are no declared role's

    @property
    def standard_executions(self) -> list[ExecutionUse]:
        return [e for e in self.executions if e.machine_type == "STANDARD"]

    @property
    def transitions(self) -> int:
        return sum(e.transitions for e in self.standard_executions)

    @property
    def log_bytes(self) -> int:
        return sum(f.log_bytes for f in self.functions.values()) + sum(e.log_bytes for e in self.executions)


def s3_class(operation: str) -> str:
    """S3's request price class of an operation: tier1 (PUT, COPY, POST, LIST), free (DELETE), tier2 (the rest)."""
    if operation.startswith(_S3_FREE):
        return "free"
    return "tier1" if operation.startswith(_S3_TIER1) else "tier2"


def count_transitions(history: list[dict]) -> tuple[int, int]:
    """(billed state transitions, retries) of an execution history: every state entered, plus every task
    scheduled again after its state was entered (a retry), as Step Functions counts them."""
    entered = sum(1 for e in history if e["type"].endswith("StateEntered"))
    tasks_entered = sum(1 for e in history if e["type"] == "TaskStateEntered")
    scheduled = sum(1 for e in history if e["type"] in _SCHEDULED_EVENTS)
    retries = max(0, scheduled - tasks_entered)
    return entered + retries, retries


def _log_event_bytes(event: dict, execution_arn: str) -> int:
    # Logged with includeExecutionData false: the event without its input, output and parameters.
    slim = {}
    for key, value in event.items():
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in ("input", "output", "parameters", "inputDetails")}
        slim[key] = value
    return len(json.dumps(slim, default=str)) + len(execution_arn) + 40


def _payload_bytes(history: list[dict]) -> int:
    sizes = [
        len(str(details.get(part) or ""))
        for event in history
        for details in event.values()
        if isinstance(details, dict)
        for part in ("input", "output")
    ]
    return max(sizes, default=0)


def summarize(
    pipeline: str,
    recording: Recording,
    owners: Owners,
    executions: list[ExecutionUse],
    event_sources: list[str],
    bedrock_calls: Iterable[Any] = (),
) -> PipelineUsage:
    """The ``PipelineUsage`` of ``pipeline`` from a recording (pure: the executions already read).

    ``event_sources``: the source of each event EventBridge delivered to the pipeline in the window;
    ``bedrock_calls``: the Bedrock fake's calls in the window (``BedrockCall``: model_id, usage).
    """
    use = PipelineUsage(pipeline, executions=executions)
    for invocation in recording.invocations:
        owner = owners.function(invocation.function_name, invocation.role_arn)
        if owner != pipeline:
            use.other_pipelines[owner or "(none)"] += 1
            continue
        fn = use.functions.setdefault(
            invocation.function_name,
            FunctionUse(invocation.function_name, invocation.memory_mb, invocation.architecture),
        )
        fn.invocations += 1
        fn.errors += invocation.errored
        fn.billed_ms += max(1, math.ceil(invocation.duration_s * 1000))
        fn.log_bytes += invocation.log_bytes + PLATFORM_LOG_BYTES
    for request in recording.api_requests:
        owner = owners.apis.get(request.api_id)
        if owner != pipeline:
            use.other_pipelines[owner or "(none)"] += 1
            continue
        use.api_requests += 1
        use.api_units += max(1, math.ceil(max(request.request_bytes, request.response_bytes) / API_INCREMENT))
        use.reference_api_requests += request.api_id in owners.reference_apis
    for request in recording.requests:
        owner, kind = owners.role(request.role_arn)
        if not request.role_arn:
            use.unattributed += 1
            continue
        if owner != pipeline:
            use.other_pipelines[owner or "(none)"] += 1
            continue
        _add_request(use, request, kind, owners)
    use.events_aws = sum(1 for source in event_sources if source.startswith("aws."))
    use.events_custom += sum(1 for source in event_sources if not source.startswith("aws."))
    for call in bedrock_calls:
        if call.usage:
            tally = use.bedrock.setdefault(call.model_id, [0, 0, 0])
            tally[0] += 1
            tally[1] += int(call.usage.get("inputTokens", 0))
            tally[2] += int(call.usage.get("outputTokens", 0))
    return use


def _add_request(use: PipelineUsage, request, kind: str, owners: Owners) -> None:
    service, operation = request.service, request.operation
    name = f"{service}:{operation}"
    if service == "s3":
        use.s3[s3_class(operation)] += 1
    elif service == "dynamodb":
        use.dynamodb_requests += 1
        use.dynamodb_rru += request.units.get("rru", 0.0)
        use.dynamodb_wru += request.units.get("wru", 0.0)
    elif service == "sns" and operation in ("Publish", "PublishBatch"):
        chunks = request.units.get("chunks", 1.0)
        use.sns_publishes += chunks
        use.sns_emails += int(chunks) * owners.email_subscriptions.get(request.target, 0)
        use.kms_on_behalf += request.target in owners.cmk_topics
    elif service == "secrets-manager":
        use.secrets_calls += 1
        if operation == "GetSecretValue" and (request.target in owners.cmk_secrets or "rds!" in request.target):
            use.kms_on_behalf += 1
    elif service == "kms":
        use.kms_calls += 1
    elif service == "eventbridge" and operation == "PutEvents":
        use.events_custom += request.units.get("events", 1.0)
    elif service == "sfn" and operation == "StartExecution" and kind == SCHEDULE_KIND:
        use.scheduler_invocations += 1
        use.unpriced[name] += 1
    elif service == "bedrock-runtime":
        pass  # priced by the tokens the model's answers report
    else:
        use.unpriced[name] += 1


# --- reading the sandbox ------------------------------------------------------------------------------


def _history(sfn, arn: str) -> list[dict]:
    events, token = [], None
    while True:
        page = sfn.get_execution_history(executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {}))
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def read_execution(sandbox, arn: str, machine_type: str, root: bool, timeout_s: float = 300.0) -> ExecutionUse:
    """One execution, once it has ended, as ``ExecutionUse`` (read as the operator: never metered)."""
    sfn = sandbox.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while sandbox.status_of(arn) == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.02)
    described = sfn.describe_execution(executionArn=arn)
    history = _history(sfn, arn)
    transitions, retries = count_transitions(history)
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=described["stateMachineArn"])["definition"])
    stop = described.get("stopDate") or described["startDate"]
    return ExecutionUse(
        arn=arn,
        machine_arn=described["stateMachineArn"],
        machine_type=machine_type,
        status=described["status"],
        duration_s=(stop - described["startDate"]).total_seconds(),
        transitions=transitions,
        retries=retries,
        definition=definition,
        max_payload_bytes=_payload_bytes(history),
        log_bytes=sum(_log_event_bytes(event, arn) for event in history),
        root=root,
    )


def _bedrock_fakes(sandbox) -> list[Any]:
    from infra.sandbox.fakes.bedrock import BedrockFake

    return [s.fake for s in (sandbox.services or {}).values() if isinstance(getattr(s, "fake", None), BedrockFake)]


def measure(sandbox, meter: Meter, owners: Owners, pipeline: str, scenario: Callable[[Any], Any]):
    """Run ``scenario`` in a metering window; (its result, the ``PipelineUsage`` of ``pipeline``).

    The window stays open until every execution started in it has ended and EventBridge has nothing
    left to deliver, so a run's last requests are in it.
    """
    fakes = _bedrock_fakes(sandbox)
    calls_before = [len(fake.calls) for fake in fakes]
    deliveries_before = len(sandbox.events.wait_idle())
    with meter.window() as recording:
        result = scenario(sandbox)
        sandbox.events.wait_idle()
        executions = []
        index = 0
        while index < len(recording.started):  # an execution may start others while it is followed
            started = recording.started[index]
            index += 1
            machine_owner, machine_type = owners.machines.get(started.state_machine_arn, (None, "STANDARD"))
            if machine_owner == pipeline and started.execution_arn:
                root = owners.role(started.role_arn)[1] != MACHINE_KIND
                executions.append(read_execution(sandbox, started.execution_arn, machine_type, root))
        sandbox.events.wait_idle()
    machines = {arn for arn, (owner, _) in owners.machines.items() if owner == pipeline}
    sources = [
        str(d.event.get("source", ""))
        for d in sandbox.events.wait_idle()[deliveries_before:]
        if d.target_arn in machines and d.status == "STARTED"
    ]
    calls = [call for fake, before in zip(fakes, calls_before, strict=True) for call in fake.calls[before:]]
    return result, summarize(pipeline, recording, owners, executions, sources, calls)
