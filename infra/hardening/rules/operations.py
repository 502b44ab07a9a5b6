"""Operations: every state machine, function and HTTP API is alarmed, and every alarm reaches people.

An alarm nobody receives is no alarm: the topic it notifies must let CloudWatch publish (a topic
policy admitting ``cloudwatch.amazonaws.com`` for the alarm; the key side is SW-KMS6's). Nothing in
the sandbox ever fires an alarm, so these rules are what says the stack would notice a failure.
"""

from __future__ import annotations

from collections.abc import Iterator

from infra.hardening import policy as p
from infra.hardening.index import METRIC_ALARM, TOPIC, Index, get
from infra.hardening.model import RuleSet
from infra.sandbox.mocks import DeclaredResource

RULES = RuleSet()

FUNCTION = "aws:lambda/function:Function"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
HTTP_API = "aws:apigatewayv2/api:Api"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
CLOUDWATCH = "cloudwatch.amazonaws.com"

# What each watched type must have an alarm on: (namespace, metrics, the dimension naming the resource).
REQUIRED = {
    STATE_MACHINE: ("AWS/States", ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionThrottled"), "StateMachineArn"),
    FUNCTION: ("AWS/Lambda", ("Errors", "Throttles"), "FunctionName"),
    HTTP_API: ("AWS/ApiGateway", ("5xx",), "ApiId"),
}

Problems = Iterator[tuple[DeclaredResource, str]]


def _identity(ix: Index, resource: DeclaredResource) -> str:
    """The value the resource's metrics carry in their dimension: machine ARN, function name, API id."""
    if resource.typ == STATE_MACHINE:
        return str(resource.outputs.get("arn") or resource.id)
    if resource.typ == FUNCTION:
        return str(get(resource, "name") or resource.outputs.get("name") or resource.id)
    return str(resource.outputs.get("id") or resource.id)


def _alarmed_metrics(ix: Index, namespace: str, dimension: str, value: str) -> set[str]:
    found = set()
    for alarm in ix.of_type(METRIC_ALARM):
        dimensions = get(alarm, "dimensions") or {}
        if get(alarm, "namespace") == namespace and isinstance(dimensions, dict) and dimensions.get(dimension) == value:
            found.add(str(get(alarm, "metricName")))
    return found


@RULES.rule(
    "SW-OPS1",
    "state machines, functions and HTTP APIs have their alarms",
    "Every state machine has alarms on AWS/States ExecutionsFailed, ExecutionsTimedOut and ExecutionThrottled "
    "(dimension StateMachineArn), every Lambda function on AWS/Lambda Errors and Throttles (FunctionName), every "
    "HTTP API on AWS/ApiGateway 5xx (ApiId): a failure in AWS is noticed without anyone watching a console.",
    (STATE_MACHINE, FUNCTION, HTTP_API),
)
def resources_alarmed(ix: Index) -> Problems:
    for typ, (namespace, metrics, dimension) in REQUIRED.items():
        for resource in ix.of_type(typ):
            if typ == HTTP_API and get(resource, "protocolType") not in (None, "HTTP"):
                continue  # a WebSocket API publishes other metrics
            value = _identity(ix, resource)
            missing = [m for m in metrics if m not in _alarmed_metrics(ix, namespace, dimension, value)]
            if missing:
                yield resource, f"no alarm on {namespace} {', '.join(missing)} for {dimension} {value}"


def topic_statements(ix: Index, topic: DeclaredResource) -> list[dict]:
    """The statements of the topic's policy: its own ``policy`` input and every TopicPolicy naming it."""
    documents = [topic.inputs.get("policy")]
    documents += [q.inputs.get("policy") for q in ix.of_type(TOPIC_POLICY) if ix.find(TOPIC, get(q, "arn")) is topic]
    return [s for document in documents for s in p.statements(document)]


def topic_admits_alarm(ix: Index, topic: DeclaredResource, alarm_arn: str) -> bool:
    """The topic's policy lets CloudWatch publish for this alarm (of this account)."""
    topic_arn = str(topic.outputs.get("arn") or topic.id)
    for statement in topic_statements(ix, topic):
        if not (p.allows(statement) and p.covers(statement, "sns:Publish")):
            continue
        if CLOUDWATCH not in p.principals(statement, "Service") or not p.resource_matches(statement, topic_arn):
            continue
        if p.condition_admits(statement, "aws:SourceAccount", ix.account_id) is False:
            continue
        if p.condition_admits(statement, "aws:SourceArn", alarm_arn) is False:
            continue
        return True
    return False


@RULES.rule(
    "SW-OPS2",
    "alarms notify a topic CloudWatch may publish to",
    "Every CloudWatch alarm has its actions enabled and notifies, on ALARM and on OK, declared SNS topics only, "
    "whose policies allow cloudwatch.amazonaws.com sns:Publish for that alarm (any aws:SourceAccount/aws:SourceArn "
    "condition admitting it): an alarm whose notification is refused fails silently.",
    (METRIC_ALARM,),
)
def alarms_notify(ix: Index) -> Problems:
    for alarm in ix.of_type(METRIC_ALARM):
        if get(alarm, "actionsEnabled") is False:
            yield alarm, "actionsEnabled is false: the alarm notifies nobody"
        alarm_arn = ix.alarm_arn(alarm)
        for field, state in (("alarmActions", "ALARM"), ("okActions", "OK")):
            actions = [a for a in p.as_list(get(alarm, field)) if isinstance(a, str)]
            if not actions:
                yield alarm, f"no {field}: nobody hears of the {state} state"
            for action in actions:
                topic = ix.find(TOPIC, action)
                if topic is None:
                    yield alarm, f"{field} {action} is not an SNS topic this program declares"
                elif not topic_admits_alarm(ix, topic, alarm_arn):
                    message = (
                        f"topic {topic.name}'s policy does not allow {CLOUDWATCH} sns:Publish for {alarm_arn}: "
                        "CloudWatch's notification would be refused"
                    )
                    yield alarm, message
