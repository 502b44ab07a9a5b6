"""Run the rule pack over the resources a program declares."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from infra.hardening.index import Index
from infra.hardening.model import Exempted, Finding, Report, Rule, RuleResult
from infra.sandbox.mocks import DeclaredResource


def run_rule(rule: Rule, index: Index) -> RuleResult:
    """One rule over the index: its findings, with exempted resources set apart with their reasons."""
    result = RuleResult(rule, checked=len(index.of_type(*rule.types)) if rule.types else 0)
    try:
        problems = list(rule.check(index))
    except Exception as exc:  # noqa: BLE001 - one broken rule is reported, the others still run
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    for resource, message in problems:
        exemption = next((e for e in rule.exemptions if e.selector.matches(resource, index)), None)
        if exemption is None:
            result.findings.append(Finding(rule.id, resource, message))
        else:
            result.exempted.append(Exempted(rule.id, resource, message, exemption.reason))
    return result


def check(
    resources: Iterable[DeclaredResource], account_id: str, region: str, rules: Sequence[Rule] | None = None
) -> Report:
    """Every rule (the whole pack unless ``rules`` is given) over ``resources`` of ``account_id`` in ``region``."""
    if rules is None:
        from infra.hardening.rules import RULES

        rules = RULES
    index = Index(resources, account_id, region)
    return Report([run_rule(rule, index) for rule in rules])
