"""DynamoDB TransactWriteItems in the sandbox: all-or-nothing and isolated, as in AWS, at AWS's cost.

moto (5.2) runs a transaction by deep-copying the **whole table once per item** of the
transaction, writing item by item, and swapping the copies back in on a failure. Two things
differ from AWS:

- **Cost.** A 9-item transaction copies the table 9 times, so loading a file costs time that
  grows with everything already in the table (the uploads demo spent 10 of its 12 s there).
- **Isolation.** Writes land one by one; a concurrent reader can see half a transaction, and a
  concurrent writer's item is lost when the copy is swapped back.

``install()`` replaces it with what AWS documents: every condition is evaluated first (under one
lock, so transactions are serializable against each other); if any fails, nothing is written and
``TransactionCanceledException`` carries a reason per item, ``None`` for the items that passed;
otherwise every write is applied. Only the items the transaction touches are remembered, and
restored if a write is refused half-way (an item over 400 KB, say). The checks moto makes
beforehand stay: at most 100 items, one operation per item, no item twice.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend

MAX_ITEMS = 100
CONDITION_FAILED = "The conditional request failed"
_LOCK = threading.RLock()


def _key(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return op["Key"]
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _check(backend: DynamoDBBackend, op: dict[str, Any], key: dict[str, Any]) -> tuple[str | None, str | None, Any]:
    """(None, None, None) if the item's condition holds, else AWS's cancellation reason for it."""
    current = backend.get_item(op["TableName"], key)
    expression = op.get("ConditionExpression")
    if expression is None:
        return None, None, None
    condition = get_filter_expression(
        expression, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    )
    if condition.expr(current):
        return None, None, None
    old = None
    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
        old = current.to_json()["Attributes"]
    return "ConditionalCheckFailed", CONDITION_FAILED, old


def _apply(backend: DynamoDBBackend, op_type: str, op: dict[str, Any], key: dict[str, Any]) -> None:
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    if op_type == "Put":
        backend.put_item(op["TableName"], op["Item"])
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], key)
    elif op_type == "Update":
        backend.update_item(
            op["TableName"], key, update_expression=op["UpdateExpression"],
            expression_attribute_names=names, expression_attribute_values=values,
        )  # fmt: skip


def _restore(backend: DynamoDBBackend, saved: list[tuple[str, dict[str, Any], Any]]) -> None:
    for table_name, key, item in reversed(saved):
        if item is None:
            backend.delete_item(table_name, key)
        else:
            backend.put_item(table_name, item.to_json()["Attributes"])


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """Check every condition, then write every item, or write nothing (see the module docstring)."""
    if len(transact_items) > MAX_ITEMS:
        raise TooManyTransactionsException()
    with _LOCK:
        operations, seen, reasons = [], set(), []
        for item in transact_items:
            if len(item) > 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            key = _key(self, op_type, op)
            identity = (op["TableName"], str(dict(sorted(key.items()))))
            if identity in seen:
                raise MultipleTransactionsException()
            seen.add(identity)
            reasons.append(_check(self, op, key))
            operations.append((op_type, op, key))
        if any(code is not None for code, _, _ in reasons):
            raise TransactionCanceledException(reasons)
        saved: list[tuple[str, dict[str, Any], Any]] = []
        try:
            for op_type, op, key in operations:
                if op_type == "ConditionCheck":
                    continue
                saved.append((op["TableName"], key, copy.deepcopy(self.get_item(op["TableName"], key))))
                _apply(self, op_type, op, key)
        except Exception:
            _restore(self, saved)
            raise


def install() -> Callable[[], None]:
    """Patch moto's backend; returns the undo."""
    original = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = transact_write_items

    def undo() -> None:
        DynamoDBBackend.transact_write_items = original

    return undo
