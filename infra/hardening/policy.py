"""Reading IAM-style policy documents (role, key, bucket, topic and queue policies): pure helpers.

Matching follows AWS's semantics where the rules depend on them: actions are matched
case-insensitively with ``*``/``?`` wildcards; ``ArnLike`` compares the six colon-separated
components of an ARN separately, ``*`` matching any run of characters and ``?`` one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from infra.sandbox.mocks import unwrap_secret

# The cryptographic (usage) operations of a symmetric or asymmetric KMS key; everything else is
# administration or metadata.
KMS_USAGE_ACTIONS = (
    "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateDataKeyPair", "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:Sign", "kms:Verify", "kms:GenerateMac", "kms:VerifyMac", "kms:DeriveSharedSecret",
)  # fmt: skip

# Condition operators whose values are compared as ARNs, as globs, or exactly.
ARN_OPERATORS = ("arnlike", "arnequals")
GLOB_OPERATORS = ("stringlike",)
EXACT_OPERATORS = ("stringequals", "stringequalsignorecase")


def plain(value: Any) -> Any:
    """``value`` with every secret wrapper removed, recursively."""
    value = unwrap_secret(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def load(document: Any) -> dict[str, Any] | None:
    """A policy document from its JSON text or dict; ``None`` if there is none or it is not JSON."""
    document = plain(document)
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return None
    return document if isinstance(document, dict) else None


def as_list(value: Any) -> list[Any]:
    """A policy element that may be a single value or a list, as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def statements(document: Any) -> list[dict[str, Any]]:
    """The statements of a policy document (none if it has none or cannot be read)."""
    loaded = load(document)
    if loaded is None:
        return []
    return [s for s in as_list(loaded.get("Statement")) if isinstance(s, dict)]


def allows(statement: Mapping[str, Any]) -> bool:
    """True for an Allow statement."""
    return statement.get("Effect") == "Allow"


def actions(statement: Mapping[str, Any]) -> list[str]:
    """The statement's Action patterns."""
    return [str(a) for a in as_list(statement.get("Action"))]


def resources(statement: Mapping[str, Any]) -> list[str]:
    """The statement's Resource patterns."""
    return [str(r) for r in as_list(statement.get("Resource"))]


def principals(statement: Mapping[str, Any], kind: str) -> list[str]:
    """The statement's principals of one kind (``AWS``, ``Service``, ``Federated``); ``"*"`` counts as AWS."""
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"] if kind == "AWS" else []
    if not isinstance(principal, Mapping):
        return []
    return [str(p) for p in as_list(principal.get(kind))]


def principal_kinds(statement: Mapping[str, Any]) -> set[str]:
    """The kinds of principal the statement names."""
    principal = statement.get("Principal")
    if principal == "*":
        return {"AWS"}
    return set(principal) if isinstance(principal, Mapping) else set()


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def glob_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """``StringLike``: ``*`` any run of characters, ``?`` exactly one."""
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    """An Action pattern matches an action (IAM compares actions case-insensitively)."""
    return glob_match(pattern, action, ignore_case=True)


def covers(statement: Mapping[str, Any], action: str) -> bool:
    """The statement's Action names ``action`` (directly or by a wildcard)."""
    return any(action_matches(p, action) for p in actions(statement))


def arn_like(pattern: str, arn: str) -> bool:
    """``ArnLike``: each of the six colon-separated components is matched on its own."""
    if pattern == "*":
        return True
    wanted, given = pattern.split(":", 5), arn.split(":", 5)
    if len(wanted) != 6 or len(given) != 6:
        return glob_match(pattern, arn)
    return all(glob_match(p, a) for p, a in zip(wanted, given, strict=True))


def resource_matches(statement: Mapping[str, Any], arn: str) -> bool:
    """The statement's Resource names ``arn`` (``*`` or an ARN pattern)."""
    return any(arn_like(p, arn) for p in resources(statement))


def conditions(statement: Mapping[str, Any], key: str) -> list[tuple[str, list[str]]]:
    """``(operator, values)`` of every condition on ``key`` (keys compare case-insensitively).

    The operator is lower-cased, without an ``IfExists`` suffix or ``ForAnyValue:``/``ForAllValues:`` prefix.
    """
    found = []
    block = statement.get("Condition")
    if not isinstance(block, Mapping):
        return found
    for operator, entries in block.items():
        if not isinstance(entries, Mapping):
            continue
        op = str(operator).split(":")[-1].lower().removesuffix("ifexists")
        for name, values in entries.items():
            if str(name).lower() == key.lower():
                found.append((op, [str(v).lower() if isinstance(v, bool) else str(v) for v in as_list(values)]))
    return found


def condition_keys(statement: Mapping[str, Any]) -> set[str]:
    """Every condition key the statement uses, lower-cased."""
    block = statement.get("Condition")
    if not isinstance(block, Mapping):
        return set()
    return {str(k).lower() for entries in block.values() if isinstance(entries, Mapping) for k in entries}


def value_matches(operator: str, pattern: str, value: str) -> bool:
    """Whether a condition value admits ``value`` under ``operator``."""
    if operator in ARN_OPERATORS:
        return arn_like(pattern, value)
    if operator in GLOB_OPERATORS:
        return glob_match(pattern, value)
    if operator == "stringequalsignorecase":
        return pattern.lower() == value.lower()
    return pattern == value


def condition_admits(statement: Mapping[str, Any], key: str, value: str) -> bool | None:
    """``None`` if the statement has no condition on ``key``; else whether every condition on it admits ``value``."""
    found = conditions(statement, key)
    if not found:
        return None
    return all(any(value_matches(op, p, value) for p in values) for op, values in found)


def condition_values(statement: Mapping[str, Any], key: str) -> list[str]:
    """Every value any condition on ``key`` names."""
    return [v for _, values in conditions(statement, key) for v in values]


def denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    """A Deny for everyone whenever ``aws:SecureTransport`` is false."""
    if statement.get("Effect") != "Deny" or "*" not in principals(statement, "AWS"):
        return False
    return any(op == "bool" and "false" in values for op, values in conditions(statement, "aws:SecureTransport"))


def usage_patterns(statement: Mapping[str, Any]) -> list[str]:
    """The statement's Action patterns that name a KMS usage action (``kms:*``, ``kms:Decrypt`` …)."""
    return [a for a in actions(statement) if any(action_matches(a, u) for u in KMS_USAGE_ACTIONS)]


def any_covers(statements_: Iterable[Mapping[str, Any]], action: str) -> bool:
    """Some statement names ``action``."""
    return any(covers(s, action) for s in statements_)
