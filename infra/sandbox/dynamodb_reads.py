"""A fast path for moto's DynamoDB read answers (installed by ``Sandbox``).

moto 5.2 serializes every answer through botocore's shape model, value by value: a Query for one
day's store summaries (five stores, a few hundred products each, in maps) took 0.55 s of which
nearly all was that serializer, and daily-analysis reads 30 days. The answers of the read calls
are already DynamoDB's wire format once moto has turned its values into plain dicts
(``DynamoResult``), so they are written as JSON directly, binary values base64-encoded as the
service does. Nothing changes in what a client receives; the write calls keep moto's path.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from moto.dynamodb.responses import DynamoResult

READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})


def _binary(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} in a DynamoDB answer")


def install() -> Callable[[], None]:
    """Patch moto's DynamoDB answers; returns the undo."""
    original = DynamoResult.execute_result

    def execute_result(self, context):
        if context.operation_model.name not in READS:
            return original(self, context)
        body = json.dumps(self.result, default=_binary)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    DynamoResult.execute_result = execute_result

    def undo() -> None:
        DynamoResult.execute_result = original

    return undo
