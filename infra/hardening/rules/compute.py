"""Lambda functions, state machines and HTTP APIs: tracing, logs, concurrency, throttling, authorization."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

from infra import access
from infra.components.function_api import AUTHENTICATION_TAG
from infra.hardening.index import Index, get, number, strip_stream_suffix
from infra.hardening.model import Exemption, RuleSet, Selector
from infra.sandbox.mocks import DeclaredResource

RULES = RuleSet()

FUNCTION = "aws:lambda/function:Function"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
STAGE = "aws:apigatewayv2/stage:Stage"
ROUTE = "aws:apigatewayv2/route:Route"
HTTP_API = "aws:apigatewayv2/api:Api"

Problems = Iterator[tuple[DeclaredResource, str]]


def reserved_concurrency(function: DeclaredResource) -> float | str | None:
    """The function's reserved concurrency; ``None`` when unset (-1 is Pulumi's "unreserved")."""
    raw = get(function, "reservedConcurrentExecutions")
    value = number(raw)
    if value is None:
        return None if raw is None else str(raw)
    return None if value == -1 else value


@RULES.rule(
    "SW-LMB1",
    "Lambda tracing",
    "Every Lambda function has active X-Ray tracing.",
    (FUNCTION,),
)
def lambda_tracing(ix: Index) -> Problems:
    for function in ix.of_type(FUNCTION):
        if get(function, "tracingConfig", "mode") != "Active":
            yield function, f"tracing mode is {get(function, 'tracingConfig', 'mode') or 'unset'}, not Active"


@RULES.rule(
    "SW-LMB2",
    "Lambda logs to a declared log group",
    "Every Lambda function logs into a declared log group (loggingConfig.logGroup, or /aws/lambda/<name>), so "
    "Lambda never creates one unencrypted and without retention.",
    (FUNCTION,),
)
def lambda_log_group(ix: Index) -> Problems:
    for function in ix.of_type(FUNCTION):
        name = get(function, "name") or function.outputs.get("name") or function.id
        target = get(function, "loggingConfig", "logGroup") or f"/aws/lambda/{name}"
        if ix.log_group(target) is None:
            yield function, f"logs into {target}, which the program does not declare"


LAMBDA_CONCURRENCY_UNSET = Exemption(
    Selector(
        FUNCTION,
        "Lambda functions without reservedConcurrentExecutions",
        where=lambda function, ix: reserved_concurrency(function) is None,
    ),
    "reserved concurrency is unset by default (stepworks:<pipeline>.reservedConcurrency sets it): an account must "
    "keep 100 unreserved concurrent executions, so a new account (quota 10) cannot reserve any",
)


@RULES.rule(
    "SW-LMB3",
    "Lambda reserved concurrency",
    "Every Lambda function reserves concurrency (stepworks:<pipeline>.reservedConcurrency), bounding what one "
    "pipeline can take from the account; 0 is a finding, as it disables the function.",
    (FUNCTION,),
    exemptions=(LAMBDA_CONCURRENCY_UNSET,),
)
def lambda_reserved_concurrency(ix: Index) -> Problems:
    for function in ix.of_type(FUNCTION):
        value = reserved_concurrency(function)
        if value is None:
            yield function, "reservedConcurrentExecutions is not set"
        elif value == 0:
            yield function, "reservedConcurrentExecutions is 0: the function is throttled on every invocation"
        elif isinstance(value, str) or value < 0 or value != int(value):
            yield function, f"reservedConcurrentExecutions {value!r} is not a positive whole number"


@RULES.rule(
    "SW-LMB4",
    "Lambda function has its own role",
    "Every Lambda function runs as a declared role no other function uses, so each role holds exactly its "
    "function's grants.",
    (FUNCTION,),
)
def lambda_own_role(ix: Index) -> Problems:
    functions = ix.of_type(FUNCTION)
    roles = {f.name: ix.role(get(f, "role")) for f in functions}
    shared = Counter(r.name for r in roles.values() if r is not None)
    for function in functions:
        role = roles[function.name]
        if role is None:
            yield function, f"role {get(function, 'role')} is not a role this program declares"
        elif shared[role.name] > 1:
            yield function, f"shares role {role.name} with {shared[role.name] - 1} other function(s)"


@RULES.rule(
    "SW-SFN1",
    "state machine logging",
    "Every state machine logs at level ALL, without execution data (payloads may hold personal data), into a "
    "declared log group.",
    (STATE_MACHINE,),
)
def state_machine_logging(ix: Index) -> Problems:
    for machine in ix.of_type(STATE_MACHINE):
        level = get(machine, "loggingConfiguration", "level")
        if level != "ALL":
            yield machine, f"logging level is {level or 'unset'}, not ALL"
        if get(machine, "loggingConfiguration", "includeExecutionData") is not False:
            yield machine, "includeExecutionData is not false: inputs and outputs would be logged"
        destination = get(machine, "loggingConfiguration", "logDestination")
        if ix.log_group(destination) is None:
            yield machine, f"log destination {destination} is not a log group the program declares"


@RULES.rule(
    "SW-SFN2",
    "state machine tracing",
    "Every state machine has X-Ray tracing enabled.",
    (STATE_MACHINE,),
)
def state_machine_tracing(ix: Index) -> Problems:
    for machine in ix.of_type(STATE_MACHINE):
        if get(machine, "tracingConfiguration", "enabled") is not True:
            yield machine, "tracingConfiguration.enabled is not true"


@RULES.rule(
    "SW-SFN3",
    "state machine role matches its definition",
    "Every state machine's role grants exactly what its definition's Tasks use, read from the rendered ASL alone "
    "(infra/access.py): no state whose resource (or that resource's key) is not granted, no grant no state uses. "
    "Log delivery and X-Ray, which AWS only allows on '*', are the role's own.",
    (STATE_MACHINE,),
)
def state_machine_role_matches_definition(ix: Index) -> Problems:
    encrypted = access.encrypted_resources(ix.resources)
    for machine in ix.of_type(STATE_MACHINE):
        role = ix.role(get(machine, "roleArn"))
        if role is None:
            yield machine, f"role {get(machine, 'roleArn')} is not a role the program declares"
            continue
        try:
            definition = json.loads(get(machine, "definition"))
        except (TypeError, json.JSONDecodeError):
            yield machine, "its definition is not JSON"
            continue
        policy = {"Statement": ix.role_statements(role)}
        for problem in access.compare(definition, policy, ix.region, ix.account_id, encrypted):
            yield machine, problem


@RULES.rule(
    "SW-API1",
    "HTTP API access logs",
    "Every HTTP API stage writes access logs, in a given format, into a declared log group.",
    (STAGE,),
)
def api_access_logs(ix: Index) -> Problems:
    for stage in ix.of_type(STAGE):
        destination = get(stage, "accessLogSettings", "destinationArn")
        if not destination:
            yield stage, "no access logs (accessLogSettings.destinationArn)"
            continue
        if ix.log_group(strip_stream_suffix(str(destination))) is None:
            yield stage, f"access logs go to {destination}, not a log group the program declares"
        if not get(stage, "accessLogSettings", "format"):
            yield stage, "access logs have no format"


@RULES.rule(
    "SW-API2",
    "HTTP API throttling",
    "Every HTTP API stage throttles its routes (defaultRouteSettings burst and rate limits above 0).",
    (STAGE,),
)
def api_throttling(ix: Index) -> Problems:
    for stage in ix.of_type(STAGE):
        for setting in ("throttlingBurstLimit", "throttlingRateLimit"):
            value = number(get(stage, "defaultRouteSettings", setting))
            if value is None or value <= 0:
                shown = "unset" if value is None else f"{value:g}"
                yield stage, f"defaultRouteSettings.{setting} is {shown}, not a limit"


def _authenticated_by_function(route, ix: Index) -> bool:
    # A FunctionApi names, in its tag, how its functions authenticate each caller.
    api = ix.find(HTTP_API, get(route, "apiId"))
    return bool(api is not None and (get(api, "tags") or {}).get(AUTHENTICATION_TAG))


FUNCTION_AUTHENTICATES = Exemption(
    Selector(
        ROUTE, "routes of a FunctionApi, whose function authenticates each request", where=_authenticated_by_function
    ),
    "the caller can neither sign a request nor present a JWT (Jira Automation sends fixed headers): the function "
    "compares a shared secret from Secrets Manager in constant time and answers 401; a Lambda authorizer would "
    "answer 403 instead (the API's stepworks:authentication tag says how each one authenticates)",
)


@RULES.rule(
    "SW-API3",
    "HTTP API routes authorize callers",
    "Every HTTP API route requires authorization (AWS_IAM, JWT or a Lambda authorizer): a route starts "
    "executions, which cost money and write data.",
    (ROUTE,),
    exemptions=(FUNCTION_AUTHENTICATES,),
)
def api_route_authorization(ix: Index) -> Problems:
    for route in ix.of_type(ROUTE):
        kind = get(route, "authorizationType", default="NONE")
        if kind not in ("AWS_IAM", "JWT", "CUSTOM"):
            yield route, f"authorizationType is {kind}: anyone can call {get(route, 'routeKey')}"
        elif kind in ("JWT", "CUSTOM") and not get(route, "authorizerId"):
            yield route, f"authorizationType {kind} without an authorizerId"
