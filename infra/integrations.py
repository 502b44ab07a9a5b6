"""One builder per direct service integration: the ASL Task state AND the exact grant it needs.

Builders run inside a definition renderer, on resolved references (plain strings and the ``…Ref``
records below), so the grant names the very ARN the state names. A resource encrypted with a
customer-managed key brings the KMS actions its use needs (``grants.table_write`` and friends).
Every builder takes ``timeout_s`` and ``catch_to``: no task can hang, no failure goes unrecorded.
Inside a Parallel branch or a Map processor, ``catch_to=None`` leaves the errors the state's own
``catches`` do not name to rise to the enclosing state's Catch: a branch can only go to its own
states, so a catch-all there naming a top-level state would be a definition AWS rejects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from infra import asl
from infra.components import grants as g

STATES = "arn:aws:states:::"
# What startExecution answers for a name already used (running or finished, within 90 days).
SFN_ALREADY_STARTED = "StepFunctions.ExecutionAlreadyExistsException"


@dataclass(frozen=True)
class TableRef:
    """A DynamoDB table as a definition sees it."""

    name: str
    arn: str
    key_arn: str | None = None


@dataclass(frozen=True)
class BucketRef:
    """An S3 bucket as a definition sees it."""

    name: str
    arn: str
    key_arn: str | None = None


@dataclass(frozen=True)
class TopicRef:
    """An SNS topic as a definition sees it."""

    arn: str
    key_arn: str | None = None


def table_ref(name: pulumi.Input[str], arn: pulumi.Input[str], key_arn: pulumi.Input[str] | None = None):
    """A reference to resolve for a renderer (``StepFunctionPipelineArgs.references``)."""
    return pulumi.Output.all(name, arn, key_arn).apply(lambda v: TableRef(*v))


def bucket_ref(name: pulumi.Input[str], arn: pulumi.Input[str], key_arn: pulumi.Input[str] | None = None):
    """A reference to resolve for a renderer."""
    return pulumi.Output.all(name, arn, key_arn).apply(lambda v: BucketRef(*v))


def topic_ref(arn: pulumi.Input[str], key_arn: pulumi.Input[str] | None = None):
    """A reference to resolve for a renderer."""
    return pulumi.Output.all(arn, key_arn).apply(lambda v: TopicRef(*v))


# Characters a States.Format literal cannot hold unescaped.
_FORMAT_UNSAFE = re.compile(r"['{}\\]")


@dataclass(frozen=True)
class ObjectKey:
    """An S3 key: fixed (``prefix`` alone), or ``prefix`` followed by the value at ``path``."""

    prefix: str
    path: str | None = None

    def __post_init__(self):
        if _FORMAT_UNSAFE.search(self.prefix):
            raise ValueError(f"S3 key prefix {self.prefix!r} may not contain ' {{ }} or \\")
        if self.path is None and not self.prefix:
            raise ValueError("a fixed S3 key cannot be empty")

    def parameter(self, name: str = "Key") -> dict[str, str]:
        """The ASL parameter naming the object."""
        if self.path is None:
            return {name: self.prefix}
        return {f"{name}.$": f"States.Format('{self.prefix}{{}}', {self.path})"}

    @property
    def pattern(self) -> str:
        """Every key this can name, for the grant (a dynamic key's grant covers its prefix)."""
        return self.prefix if self.path is None else f"{self.prefix}*"


def _task(
    resource: str,
    parameters: Mapping[str, Any],
    grants: Sequence[g.Grant],
    *,
    next_state: str | None,
    timeout_s: int,
    catch_to: str | None,
    retries: Sequence[Mapping[str, Any]],
    result_path: str | None = "$",
    result_selector: Mapping[str, Any] | None = None,
    output_path: str | None = None,
    heartbeat_s: int | None = None,
    comment: str | None = None,
    catch_path: str = "$.error",
    catches: Sequence[Mapping[str, Any]] = (),
) -> asl.Task:
    # ``catches`` handle named errors their own way; everything else goes to ``catch_to`` (None: to the
    # enclosing Parallel's or Map's Catch, for a state inside a branch, which must then name some errors).
    if catch_to is None and not catches:
        raise ValueError("a task without catch_to must name the errors it catches itself (catches)")
    enclosed = catch_to == asl.ENCLOSING_CATCH
    fallback = asl.catch_all(catch_to, catch_path) if catch_to is not None and not enclosed else []
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": resource,
        "Parameters": dict(parameters),
        "TimeoutSeconds": timeout_s,
        "Retry": [dict(r) for r in retries],
        **({"Catch": [*(dict(c) for c in catches), *fallback]} if catches or fallback else {}),
    }
    if heartbeat_s is not None:
        state["HeartbeatSeconds"] = heartbeat_s
    if result_selector is not None:
        state["ResultSelector"] = dict(result_selector)
    if result_path != "$":
        state["ResultPath"] = result_path
    if output_path is not None:
        state["OutputPath"] = output_path
    if comment:
        state["Comment"] = comment
    asl.chain(state, next_state)
    return asl.Task(state, tuple(g.resolved(grant) for grant in grants))


def _payload(payload: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"Payload.$": "$"} if payload is None else {"Payload": dict(payload)}


def lambda_invoke(
    function_arn: str,
    *,
    retries: Sequence[Mapping[str, Any]],
    payload: Mapping[str, Any] | None = None,
    result_path: str | None = "$",
    result_selector: Mapping[str, Any] | None = None,
    **common,
) -> asl.Task:
    """Invoke a function and wait for its answer (``lambda:invoke``).

    The state's output is the function's return value by default; with another ``result_path``
    the input keeps its fields and gains ``{"value": <return value>}`` there (or what
    ``result_selector`` makes of the invoke response); ``None`` discards the result.
    """
    if result_path == "$" and result_selector is None:
        common["output_path"] = "$.Payload"
    elif result_path is not None and result_selector is None:
        result_selector = {"value.$": "$.Payload"}
    return _task(
        f"{STATES}lambda:invoke",
        {"FunctionName": function_arn, **_payload(payload)},
        [g.lambda_invoke([function_arn])],
        retries=retries,
        result_path=result_path,
        result_selector=result_selector,
        **common,
    )


@dataclass(frozen=True)
class LambdaSteps:
    """A workflow's Lambda tasks with what they share (retries, timeout, where unnamed errors go, the
    payload): ``steps(key, next_state, result_path)`` invokes ``refs[key]``; keywords override."""

    refs: Mapping[str, Any]
    retries: Sequence[Mapping[str, Any]]
    timeout_s: int
    catch_to: str | None
    payload: Mapping[str, Any] | None = None

    def __call__(self, key: str, next_state: str | None, result_path: str | None = "$", **overrides) -> asl.Task:
        options = {"payload": self.payload, "timeout_s": self.timeout_s, "catch_to": self.catch_to, **overrides}
        return lambda_invoke(
            self.refs[key], retries=self.retries, result_path=result_path, next_state=next_state, **options
        )


def validate_input(function_arn: str, *, retries: Sequence[Mapping[str, Any]], **common) -> asl.Task:
    """A workflow's first state: ``function_arn`` gets the execution input verbatim and returns it checked.

    Verbatim (``Payload.$: "$"``, nothing added): any input StartExecution accepted reaches the
    function within the 256 KiB payload limit, whatever its shape. The state's output is the
    function's answer, the checked request, so nothing the caller sent travels further unchecked.
    A failure (InvalidInputError naming the field, or Lambda's own) replaces the whole state
    (``ResultPath: "$"``): the Catch can always write it, even when the input was ``null`` or an
    array, and the oversized field that was refused does not ride along into the next state.
    """
    return lambda_invoke(function_arn, retries=retries, catch_path="$", **common)


def lambda_invoke_for_token(
    function_arn: str,
    *,
    payload: Mapping[str, Any],
    retries: Sequence[Mapping[str, Any]],
    timeout_s: int,
    heartbeat_s: int | None = None,
    **common,
) -> asl.Task:
    """Invoke a function with a task token and pause until someone reports it (``.waitForTaskToken``)."""
    if not asl.passes_task_token(payload):
        raise ValueError(f"the payload of a token task must pass {asl.TASK_TOKEN} (e.g. 'token.$')")
    return _task(
        f"{STATES}lambda:invoke.waitForTaskToken",
        {"FunctionName": function_arn, "Payload": dict(payload)},
        [g.lambda_invoke([function_arn])],
        retries=retries,
        timeout_s=timeout_s,
        heartbeat_s=heartbeat_s,
        **common,
    )


def _dynamodb(
    action: str,
    table: TableRef,
    parameters: Mapping[str, Any],
    grants: list[g.Grant],
    retries: Sequence[Mapping[str, Any]] | None,
    common: dict,
    resource: str | None = None,
) -> asl.Task:
    return _task(
        resource or f"{STATES}dynamodb:{action}",
        {"TableName": table.name, **{k: v for k, v in parameters.items() if v is not None}},
        grants,
        retries=retries if retries is not None else [asl.retry(asl.DYNAMODB_TRANSIENT_ERRORS)],
        **common,
    )


def _expressions(condition: str | None, names: Mapping[str, str] | None, values: Mapping[str, Any] | None) -> dict:
    return {
        "ConditionExpression": condition,
        "ExpressionAttributeNames": dict(names) if names else None,
        "ExpressionAttributeValues": dict(values) if values else None,
    }


def _dynamodb_write(api: str, table: TableRef, parameters: Mapping[str, Any], retries, common: dict) -> asl.Task:
    action = f"dynamodb:{api[0].upper()}{api[1:]}"
    return _dynamodb(api, table, parameters, g.table_write(table.arn, table.key_arn, (action,)), retries, common)


def dynamodb_put_item(
    table: TableRef,
    item: Mapping[str, Any],
    *,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    retries: Sequence[Mapping[str, Any]] | None = None,
    **common,
) -> asl.Task:
    """Put one item (``dynamodb:putItem``); ``condition`` makes a retried put safe."""
    parameters = {"Item": dict(item), **_expressions(condition, names, values)}
    return _dynamodb_write("putItem", table, parameters, retries, common)


def dynamodb_get_item(
    table: TableRef,
    key: Mapping[str, Any],
    *,
    consistent: bool = True,
    retries: Sequence[Mapping[str, Any]] | None = None,
    **common,
) -> asl.Task:
    """Read one item (``dynamodb:getItem``), strongly consistent unless told otherwise."""
    grants = g.table_read(table.arn, table.key_arn, ("dynamodb:GetItem",))
    parameters = {"Key": dict(key), "ConsistentRead": consistent}
    return _dynamodb("getItem", table, parameters, grants, retries, common)


def dynamodb_update_item(
    table: TableRef,
    key: Mapping[str, Any],
    update: str,
    *,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    retries: Sequence[Mapping[str, Any]] | None = None,
    **common,
) -> asl.Task:
    """Update one item (``dynamodb:updateItem``) with ``update`` (an UpdateExpression)."""
    parameters = {"Key": dict(key), "UpdateExpression": update, **_expressions(condition, names, values)}
    return _dynamodb_write("updateItem", table, parameters, retries, common)


def dynamodb_delete_item(
    table: TableRef,
    key: Mapping[str, Any],
    *,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    retries: Sequence[Mapping[str, Any]] | None = None,
    **common,
) -> asl.Task:
    """Delete one item (``dynamodb:deleteItem``)."""
    parameters = {"Key": dict(key), **_expressions(condition, names, values)}
    return _dynamodb_write("deleteItem", table, parameters, retries, common)


def dynamodb_query(
    table: TableRef,
    key_condition: str,
    *,
    values: Mapping[str, Any],
    names: Mapping[str, str] | None = None,
    index: str | None = None,
    limit: int | None = None,
    start_key_path: str | None = None,
    retries: Sequence[Mapping[str, Any]] | None = None,
    **common,
) -> asl.Task:
    """Query a table or one of its indexes (AWS SDK integration ``dynamodb:query``), one page.

    ``start_key_path`` names where the previous page's ``LastEvaluatedKey`` is, for a paging loop.
    """
    parameters: dict[str, Any] = {
        "KeyConditionExpression": key_condition,
        "ExpressionAttributeValues": dict(values),
        "ExpressionAttributeNames": dict(names) if names else None,
        "IndexName": index,
        "Limit": limit,
    }
    if start_key_path:
        parameters["ExclusiveStartKey.$"] = start_key_path
    resource = table.arn if index is None else f"{table.arn}/index/{index}"
    grants = g.table_read(resource, table.key_arn, ("dynamodb:Query",))
    return _dynamodb("query", table, parameters, grants, retries, common, resource=f"{STATES}aws-sdk:dynamodb:query")


def sns_publish(
    topic: TopicRef,
    *,
    message: Mapping[str, Any] | str | None = None,
    message_path: str | None = None,
    subject: str | None = None,
    subject_path: str | None = None,
    retries: Sequence[Mapping[str, Any]] | None = None,
    **common,
) -> asl.Task:
    """Publish to a topic (``sns:publish``): a fixed ``message`` or the text at ``message_path``."""
    if (message is None) == (message_path is None):
        raise ValueError("give exactly one of message and message_path")
    if subject is not None and not 0 < len(subject) <= 100:
        raise ValueError("an SNS subject has 1–100 characters")
    parameters: dict[str, Any] = {"TopicArn": topic.arn}
    parameters.update({"Message": message} if message is not None else {"Message.$": message_path})
    if subject is not None:
        parameters["Subject"] = subject
    if subject_path is not None:
        parameters["Subject.$"] = subject_path
    return _task(
        f"{STATES}sns:publish",
        parameters,
        g.topic_publish(topic.arn, topic.key_arn),
        retries=retries if retries is not None else [asl.retry(asl.SNS_TRANSIENT_ERRORS)],
        **common,
    )


def alert_and_fail(
    topic: TopicRef,
    alert: str,
    fail: str,
    fail_state: Mapping[str, Any],
    *,
    catch_to: str,
    message_path: str,
    subject: str | None = None,
    subject_path: str | None = None,
    timeout_s: int = 60,
) -> dict[str, Any]:
    """Two states: ``alert`` publishes to ``topic`` (the state passes through unchanged), then the Fail
    state ``fail`` ends the execution. A failed publish goes to ``catch_to`` (which may be ``fail``)."""
    if fail_state.get("Type") != "Fail":
        raise ValueError(f"{fail} must be a Fail state")
    publish = sns_publish(
        topic,
        message_path=message_path,
        subject=subject,
        subject_path=subject_path,
        result_path=None,
        next_state=fail,
        timeout_s=timeout_s,
        catch_to=catch_to,
    )
    return {alert: publish, fail: dict(fail_state)}


def s3_get_object(
    bucket: BucketRef, key: ObjectKey, *, retries: Sequence[Mapping[str, Any]] | None = None, **common
) -> asl.Task:
    """Read an object (AWS SDK integration ``s3:getObject``; its ``Body`` arrives as text)."""
    return _task(
        f"{STATES}aws-sdk:s3:getObject",
        {"Bucket": bucket.name, **key.parameter()},
        g.s3_read(bucket.arn, key.pattern, bucket.key_arn),
        retries=retries if retries is not None else [asl.retry(asl.S3_TRANSIENT_ERRORS)],
        **common,
    )


def s3_put_object(
    bucket: BucketRef,
    key: ObjectKey,
    *,
    body_path: str,
    content_type: str = "application/json",
    retries: Sequence[Mapping[str, Any]] | None = None,
    **common,
) -> asl.Task:
    """Write the value at ``body_path`` as an object (AWS SDK integration ``s3:putObject``)."""
    return _task(
        f"{STATES}aws-sdk:s3:putObject",
        {"Bucket": bucket.name, **key.parameter(), "Body.$": body_path, "ContentType": content_type},
        g.s3_write(bucket.arn, key.pattern, bucket.key_arn),
        retries=retries if retries is not None else [asl.retry(asl.S3_TRANSIENT_ERRORS)],
        **common,
    )


def s3_copy_object(
    source: BucketRef,
    source_key: ObjectKey,
    target: BucketRef,
    target_key: ObjectKey,
    *,
    retries: Sequence[Mapping[str, Any]] | None = None,
    **common,
) -> asl.Task:
    """Copy an object (AWS SDK integration ``s3:copyObject``): read the source, write the target."""
    copy_source = ObjectKey(f"{source.name}/{source_key.prefix}", source_key.path).parameter("CopySource")
    return _task(
        f"{STATES}aws-sdk:s3:copyObject",
        {"Bucket": target.name, **target_key.parameter(), **copy_source},
        [
            *g.s3_read(source.arn, source_key.pattern, source.key_arn, sid="S3CopyRead"),
            *g.s3_write(target.arn, target_key.pattern, target.key_arn, sid="S3CopyWrite"),
        ],
        retries=retries if retries is not None else [asl.retry(asl.S3_TRANSIENT_ERRORS)],
        **common,
    )


def start_execution(
    state_machine_arn: str,
    *,
    input_path: str = "$",
    name_path: str | None = None,
    retries: Sequence[Mapping[str, Any]] | None = None,
    already_started_to: str | None = None,
    **common,
) -> asl.Task:
    """Start another state machine without waiting for it (``states:startExecution``).

    ``name_path`` gives the execution a name from the state, which makes a retried start
    idempotent (Step Functions refuses a second execution of the same name); with
    ``already_started_to``, that refusal goes there instead of to ``catch_to``.
    """
    parameters: dict[str, Any] = {"StateMachineArn": state_machine_arn, "Input.$": input_path}
    if name_path:
        parameters["Name.$"] = name_path
    task = _task(
        f"{STATES}states:startExecution",
        parameters,
        [g.start_execution(state_machine_arn)],
        retries=retries if retries is not None else [asl.retry(asl.SFN_TRANSIENT_ERRORS)],
        **common,
    )
    if already_started_to:
        already = {"ErrorEquals": [SFN_ALREADY_STARTED], "ResultPath": "$.alreadyStarted", "Next": already_started_to}
        task.state["Catch"].insert(0, already)
    return task
