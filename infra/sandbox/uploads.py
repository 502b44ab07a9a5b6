"""Starting a pipeline by uploading a file, as its users do: S3 → EventBridge rule → router → the run.

``upload_and_find_run`` puts the object under the pipeline's ``uploadPrefix`` output in its
``bucketName``, lets the sandbox's EventBridge deliver the event (``infra/sandbox/eventbridge.py``)
and follows the router execution it started to the pipeline run it named. Nothing here starts an
execution itself: if the rule does not match (or the router fails), there is no run to follow,
and the error says which link broke.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from infra.sandbox.core import Sandbox


class NoRunStarted(RuntimeError):
    """The upload did not start the pipeline (no matching rule, a refused delivery, a failed router)."""


@dataclass(frozen=True)
class TriggeredRun:
    """The object written and the pipeline execution its event started."""

    bucket: str
    key: str
    version_id: str | None
    execution_arn: str


def upload_key(sandbox: Sandbox, pipeline: str, name: str) -> str:
    """``name`` under the pipeline's upload prefix (``uploads/sales.json``)."""
    return f"{sandbox.outputs(pipeline)['uploadPrefix']}{name}"


def upload_and_find_run(sandbox: Sandbox, pipeline: str, name: str, body: bytes | BinaryIO) -> TriggeredRun:
    """Upload ``body`` as ``<uploadPrefix><name>``; the execution of ``pipeline`` the upload started."""
    outputs = sandbox.outputs(pipeline)
    bucket, key = outputs["bucketName"], upload_key(sandbox, pipeline, name)
    before = len(sandbox.events.wait_idle())
    written = sandbox.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    deliveries = sandbox.events.wait_idle()[before:]
    if not deliveries:
        raise NoRunStarted(f"no EventBridge rule matched the upload of s3://{bucket}/{key}")
    for delivery in deliveries:
        if delivery.status != "STARTED":
            raise NoRunStarted(f"the rule did not deliver the event: {delivery.error_code} {delivery.error_message}")
        router = sandbox.wait(delivery.execution_arn)
        if router.status != "SUCCEEDED":
            raise NoRunStarted(f"the router {router.status}: {router.cause_text() or router.error}")
        if router.output and "ExecutionArn" in router.output:
            return TriggeredRun(bucket, key, written.get("VersionId"), router.output["ExecutionArn"])
    raise NoRunStarted(f"the upload of s3://{bucket}/{key} found its run already started")
