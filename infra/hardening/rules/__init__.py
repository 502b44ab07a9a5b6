"""The rule pack: every rule, in report order (keys, encryption at rest, storage, IAM, network and data, compute,
operations)."""

from __future__ import annotations

from infra.hardening.model import Rule
from infra.hardening.rules import at_rest, compute, encryption, iam, network, operations, storage

RULES: tuple[Rule, ...] = (
    *encryption.RULES,
    *at_rest.RULES,
    *storage.RULES,
    *iam.RULES,
    *network.RULES,
    *compute.RULES,
    *operations.RULES,
)


def rule(rule_id: str) -> Rule:
    """The rule with this id."""
    (found,) = [r for r in RULES if r.id == rule_id]
    return found
