"""Trust policies evaluated as AWS does when a service principal assumes a role.

moto checks a trust policy only when an IAM user or role calls AssumeRole (``Principal.AWS``);
when Lambda, Step Functions, EventBridge Scheduler or API Gateway assume a role nothing is
checked. The sandbox assumes every role on behalf of the service that would, and decides here
whether that service may: with the request context the service sets (``infra/components/trust.py``
``SERVICES``: ``aws:SourceAccount``, ``aws:SourceArn``), so a condition on a key the service does
not set denies as it does in AWS.

Semantics (IAM policy evaluation, restricted to what a trust policy needs): an explicit Deny
wins; otherwise a statement must Allow the action for the principal with every condition true.
Within a condition block, every operator and every key must hold; a key's values are
alternatives. A key absent from the request context makes a positive operator false and a
negated one (``StringNotEquals`` …) true; an ``…IfExists`` operator is true when its key is absent.
An operator or element this module does not implement raises ``UnsupportedPolicyError`` naming
it: a trust policy is never allowed by default.

The same evaluation, given a ``resource``, decides what a resource policy lets a service principal
do (S3 server access logging writing into its target bucket).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from infra.components.trust import service as service_entry

ASSUME_ROLE = "sts:AssumeRole"


class UnsupportedPolicyError(ValueError):
    """The policy uses an operator or element the sandbox cannot evaluate (so it refuses to guess)."""


@dataclass(frozen=True)
class Decision:
    """Whether the principal may assume the role, and why (for error messages)."""

    allowed: bool
    reason: str


def request_context(principal: str, account_id: str, source_arn: str | None = None) -> dict[str, str]:
    """The condition keys ``principal`` puts in its AssumeRole request, per ``SERVICES``."""
    entry = service_entry(principal)
    context: dict[str, str] = {}
    if entry.sets_source_account:
        context["aws:SourceAccount"] = account_id
    if entry.sets_source_arn:
        if not source_arn:
            raise ValueError(f"{principal} sets aws:SourceArn: give the ARN of the resource it acts for")
        context["aws:SourceArn"] = source_arn
    return context


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # IAM wildcards: * any run of characters, ? exactly one; everything else literal.
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def glob_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM wildcard matching (``*``, ``?``)."""
    return _glob(pattern, ignore_case).match(value) is not None


def _arn_like(pattern: str, value: str) -> bool:
    # ArnLike/ArnEquals compare the six colon-separated parts; the resource part keeps its colons.
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(glob_match(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


def _as_bool(value: Any) -> str:
    return str(value).lower()


# operator → (value matches one expected value, negated)
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda expected, actual: expected == actual, False),
    "StringNotEquals": (lambda expected, actual: expected == actual, True),
    "StringEqualsIgnoreCase": (lambda expected, actual: expected.lower() == actual.lower(), False),
    "StringLike": (glob_match, False),
    "StringNotLike": (glob_match, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (lambda expected, actual: _as_bool(expected) == _as_bool(actual), False),
}


def _values(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    return [_as_bool(v) if isinstance(v, bool) else str(v) for v in items]


def _condition_failure(conditions: Mapping[str, Any], context: Mapping[str, str]) -> str | None:
    """Why the condition block is false in ``context``, or None if it holds."""
    lowered = {k.lower(): v for k, v in context.items()}
    for operator, keys in conditions.items():
        base = operator.removesuffix("IfExists")
        if ":" in operator or base not in _OPERATORS:
            raise UnsupportedPolicyError(f"condition operator {operator} is not supported by the sandbox")
        if_exists = base != operator
        matches, negated = _OPERATORS[base]
        for key, raw in keys.items():
            expected = _values(raw)
            actual = lowered.get(key.lower())
            if actual is None:
                if if_exists or negated:
                    continue
                return f"{operator} {key}: the key is absent from the request context"
            found = any(matches(e, actual) for e in expected)
            if found == negated:
                return f"{operator} {key}: {actual!r} against {expected}"
    return None


def _listed(element: Any) -> list[str]:
    return element if isinstance(element, list) else [element]


def _names_action(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(glob_match(a, action, ignore_case=True) for a in _listed(statement["NotAction"]))
    return any(glob_match(a, action, ignore_case=True) for a in _listed(statement.get("Action", [])))


def _names_service(statement: Mapping[str, Any], principal: str) -> bool:
    if "NotPrincipal" in statement:
        raise UnsupportedPolicyError("NotPrincipal is not supported by the sandbox")
    named = statement.get("Principal")
    if named == "*":
        return True
    if not isinstance(named, Mapping):
        return False
    if _listed(named.get("AWS", [])) == ["*"]:
        return True
    return principal in _listed(named.get("Service", []))


def _names_resource(statement: Mapping[str, Any], resource: str | None) -> bool:
    if resource is None:  # a trust policy: the role itself is the resource
        return True
    if "NotResource" in statement:
        return not any(glob_match(r, resource) for r in _listed(statement["NotResource"]))
    return any(glob_match(r, resource) for r in _listed(statement.get("Resource", [])))


def evaluate(
    document: Mapping[str, Any] | str,
    principal: str,
    context: Mapping[str, str],
    action: str = ASSUME_ROLE,
    resource: str | None = None,
) -> Decision:
    """May service ``principal`` perform ``action`` (on ``resource``) under this policy, in ``context``?"""
    policy = json.loads(document) if isinstance(document, str) else document
    statements = policy.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    allowed_by: str | None = None
    refusals: list[str] = []
    for index, statement in enumerate(statements):
        label = statement.get("Sid") or f"statement {index}"
        if not _names_action(statement, action) or not _names_resource(statement, resource):
            continue
        if not _names_service(statement, principal):
            continue
        failure = _condition_failure(statement.get("Condition") or {}, context)
        if statement.get("Effect") == "Deny":
            if failure is None:
                return Decision(False, f"{label} explicitly denies {principal} {action}")
            continue
        if failure is None:
            allowed_by = allowed_by or label
        else:
            refusals.append(f"{label}: {failure}")
    if allowed_by:
        return Decision(True, f"{allowed_by} allows {principal} {action}")
    if refusals:
        why = "; ".join(refusals)
        return Decision(False, f"no statement allows {principal} {action} in its request context ({why})")
    return Decision(False, f"no statement allows {principal} {action}")
